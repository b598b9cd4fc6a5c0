//! The connector's configuration, read once from the environment (names in docs/contract.md).

use crate::allowlist::{RefusedUrl, ServiceUrlAllowlist};
use crate::retry::RetryPolicy;
use crate::token::TokenSettings;
use secrecy::SecretString;
use std::time::Duration;
use url::{Host, Url};

/// The default outbound token scope.
pub const DEFAULT_SCOPE: &str = "https://api.botframework.com/.default";

/// Single- or multi-tenant app registration (`MICROSOFT_APP_TYPE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AppType {
    #[default]
    SingleTenant,
    MultiTenant,
}

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("MICROSOFT_APP_TYPE must be SingleTenant or MultiTenant, not {0:?}")]
    AppType(String),
    #[error("a single-tenant bot needs MICROSOFT_APP_TENANT_ID (or BOT_TOKEN_ENDPOINT)")]
    MissingTenant,
    #[error("MICROSOFT_APP_PASSWORD is required when MICROSOFT_APP_ID is set")]
    MissingPassword,
    /// `BOT_TOKEN_ENDPOINT` (which receives the client secret) is not a URL the secret may be sent to. Only the
    /// reason is shown, never the value.
    #[error("BOT_TOKEN_ENDPOINT refused: {0} (an absolute https:// URL; plain http:// only to a loopback host)")]
    TokenEndpoint(&'static str),
    #[error("BOT_ALLOWED_SERVICE_URLS: {0}")]
    AllowedServiceUrls(#[source] RefusedUrl),
    #[error("building the HTTP client")]
    Http(#[source] reqwest::Error),
}

/// Everything the Connector client needs. `Debug` never shows the secret.
#[derive(Clone, Debug)]
pub struct ConnectorConfig {
    /// `MICROSOFT_APP_ID`; empty = anonymous mode (no token is attached).
    pub app_id: String,
    /// `MICROSOFT_APP_PASSWORD`.
    pub app_password: SecretString,
    /// `MICROSOFT_APP_TENANT_ID`.
    pub tenant_id: Option<String>,
    /// `MICROSOFT_APP_TYPE`.
    pub app_type: AppType,
    /// `BOT_TOKEN_ENDPOINT`; when None, derived from the tenant (see [`ConnectorConfig::token_endpoint`]).
    pub token_endpoint: Option<String>,
    /// `BOT_OAUTH_SCOPE`.
    pub oauth_scope: String,
    /// `BOT_ALLOWED_SERVICE_URLS`: extra prefixes beyond the Teams hosts.
    pub allowed_service_urls: Vec<String>,
    /// Per-request timeout (connect + send + answer).
    pub request_timeout: Option<Duration>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Retries of 412/429/502/504.
    pub retry: RetryPolicy,
    /// Requests per second per tenant (Teams allows about 30-50).
    pub tenant_requests_per_second: Option<u32>,
}

impl Default for ConnectorConfig {
    fn default() -> Self {
        Self {
            app_id: String::new(),
            app_password: SecretString::from(String::new()),
            tenant_id: None,
            app_type: AppType::SingleTenant,
            token_endpoint: None,
            oauth_scope: DEFAULT_SCOPE.to_owned(),
            allowed_service_urls: Vec::new(),
            request_timeout: Some(Duration::from_secs(15)),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            tenant_requests_per_second: Some(30),
        }
    }
}

impl ConnectorConfig {
    /// Reads the configuration from the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] for an invalid app type, allowlist, or missing tenant/secret.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `get` (the environment, or a map in tests). Empty values count as unset.
    ///
    /// # Errors
    /// As [`ConnectorConfig::from_env`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let config = Self::from_lookup_secret_later(get)?;
        config.token_settings()?;
        Ok(config)
    }

    /// As [`ConnectorConfig::from_lookup`], except that an unset `MICROSOFT_APP_PASSWORD` is not an error: for a
    /// caller that fills [`ConnectorConfig::app_password`] from a secret store before it builds the client (which
    /// checks it then, through [`ConnectorConfig::token_settings`]). Everything else is checked here.
    ///
    /// # Errors
    /// An invalid app type or allowlist, or a single-tenant app without a tenant or explicit endpoint.
    pub fn from_lookup_secret_later(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let app_type = match get("MICROSOFT_APP_TYPE").as_deref() {
            None => AppType::SingleTenant,
            Some(t) if t.eq_ignore_ascii_case("SingleTenant") => AppType::SingleTenant,
            Some(t) if t.eq_ignore_ascii_case("MultiTenant") => AppType::MultiTenant,
            Some(other) => return Err(ConfigError::AppType(other.to_owned())),
        };
        let allowed_service_urls: Vec<String> = get("BOT_ALLOWED_SERVICE_URLS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        ServiceUrlAllowlist::new(&allowed_service_urls).map_err(ConfigError::AllowedServiceUrls)?;
        let config = Self {
            app_id: get("MICROSOFT_APP_ID").unwrap_or_default(),
            app_password: SecretString::from(get("MICROSOFT_APP_PASSWORD").unwrap_or_default()),
            tenant_id: get("MICROSOFT_APP_TENANT_ID"),
            app_type,
            token_endpoint: get("BOT_TOKEN_ENDPOINT"),
            oauth_scope: get("BOT_OAUTH_SCOPE").unwrap_or_else(|| DEFAULT_SCOPE.to_owned()),
            allowed_service_urls,
            ..Self::default()
        };
        if let Some(endpoint) = &config.token_endpoint {
            check_token_endpoint(endpoint)?;
        }
        if !config.is_anonymous() {
            config.token_endpoint()?;
        }
        Ok(config)
    }

    /// Anonymous mode: no app id, so no token is fetched or attached.
    #[must_use]
    pub fn is_anonymous(&self) -> bool {
        self.app_id.is_empty()
    }

    /// The token endpoint: `BOT_TOKEN_ENDPOINT` (checked: see [`ConfigError::TokenEndpoint`]), or
    /// `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token` with the app's tenant (single-tenant) or
    /// `botframework.com` (multi-tenant).
    ///
    /// # Errors
    /// [`ConfigError::MissingTenant`] for a single-tenant app without a tenant or explicit endpoint;
    /// [`ConfigError::TokenEndpoint`] for an explicit endpoint the secret may not be sent to.
    pub fn token_endpoint(&self) -> Result<String, ConfigError> {
        if let Some(e) = &self.token_endpoint {
            check_token_endpoint(e)?;
            return Ok(e.clone());
        }
        let tenant = match self.app_type {
            AppType::MultiTenant => "botframework.com",
            AppType::SingleTenant => self.tenant_id.as_deref().ok_or(ConfigError::MissingTenant)?,
        };
        Ok(format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"))
    }

    /// The token provider's settings; None in anonymous mode.
    ///
    /// # Errors
    /// As [`ConnectorConfig::token_endpoint`], or a missing secret.
    pub fn token_settings(&self) -> Result<Option<TokenSettings>, ConfigError> {
        use secrecy::ExposeSecret;
        if self.is_anonymous() {
            return Ok(None);
        }
        if self.app_password.expose_secret().is_empty() {
            return Err(ConfigError::MissingPassword);
        }
        Ok(Some(TokenSettings {
            endpoint: self.token_endpoint()?,
            client_id: self.app_id.clone(),
            client_secret: self.app_password.clone(),
            scope: self.oauth_scope.clone(),
        }))
    }
}

/// `BOT_TOKEN_ENDPOINT` receives the client secret (client-credentials grant): only an absolute `https://` URL
/// with a host, or plain `http://` to a loopback host (a local fake token endpoint in tests); no userinfo, no
/// fragment, nothing the URL parser would have to guess at (backslashes, whitespace, `https:/host`).
fn check_token_endpoint(raw: &str) -> Result<(), ConfigError> {
    let refuse = |reason| Err(ConfigError::TokenEndpoint(reason));
    if raw.chars().any(|c| c == '\\' || c.is_whitespace() || c.is_control()) {
        return refuse("a backslash, whitespace or control character");
    }
    let Ok(url) = Url::parse(raw) else {
        return refuse("not an absolute URL");
    };
    let host = url.host();
    match url.scheme() {
        "https" => {}
        "http" if host.as_ref().is_some_and(is_loopback) => {}
        "http" => return refuse("plain http is allowed only to a loopback host"),
        _ => return refuse("the scheme is not https"),
    }
    // As written: `scheme://` then the authority (the parser would also take `https:host` or `https:///host`).
    let written_authority = raw
        .get(url.scheme().len()..)
        .and_then(|rest| rest.strip_prefix("://"))
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if !written_authority || host.is_none() {
        return refuse("no host after the scheme's //");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("a user or password in the URL (userinfo)");
    }
    if url.fragment().is_some() {
        return refuse("a fragment");
    }
    Ok(())
}

/// `localhost` or a loopback IP.
fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<ConnectorConfig, ConfigError> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        ConnectorConfig::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn empty_environment_is_anonymous() {
        let c = cfg(&[]).unwrap();
        assert!(c.is_anonymous());
        assert!(c.token_settings().unwrap().is_none());
        assert_eq!(c.oauth_scope, DEFAULT_SCOPE);
    }

    #[test]
    fn single_tenant_is_the_default_and_needs_a_tenant() {
        let c = cfg(&[
            ("MICROSOFT_APP_ID", "app"),
            ("MICROSOFT_APP_PASSWORD", "pw"),
            ("MICROSOFT_APP_TENANT_ID", "t1"),
        ])
        .unwrap();
        assert_eq!(c.app_type, AppType::SingleTenant);
        assert_eq!(
            c.token_endpoint().unwrap(),
            "https://login.microsoftonline.com/t1/oauth2/v2.0/token"
        );
        assert!(matches!(
            cfg(&[("MICROSOFT_APP_ID", "app"), ("MICROSOFT_APP_PASSWORD", "pw")]),
            Err(ConfigError::MissingTenant)
        ));
        assert!(matches!(
            cfg(&[("MICROSOFT_APP_ID", "app"), ("MICROSOFT_APP_TENANT_ID", "t1")]),
            Err(ConfigError::MissingPassword)
        ));
    }

    #[test]
    fn secret_later_checks_everything_but_the_secret() {
        let m: HashMap<&str, &str> = [("MICROSOFT_APP_ID", "app"), ("MICROSOFT_APP_TENANT_ID", "t1")].into();
        let c = ConnectorConfig::from_lookup_secret_later(|k| m.get(k).map(|v| (*v).to_owned())).unwrap();
        assert!(!c.is_anonymous());
        assert!(matches!(c.token_settings(), Err(ConfigError::MissingPassword)));
        let m: HashMap<&str, &str> = [("MICROSOFT_APP_ID", "app")].into();
        assert!(matches!(
            ConnectorConfig::from_lookup_secret_later(|k| m.get(k).map(|v| (*v).to_owned())),
            Err(ConfigError::MissingTenant)
        ));
    }

    #[test]
    fn multi_tenant_uses_botframework_com_and_overrides_apply() {
        let c = cfg(&[
            ("MICROSOFT_APP_ID", "app"),
            ("MICROSOFT_APP_PASSWORD", "pw"),
            ("MICROSOFT_APP_TYPE", "MultiTenant"),
        ])
        .unwrap();
        assert_eq!(
            c.token_endpoint().unwrap(),
            "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
        );
        let c = cfg(&[
            ("MICROSOFT_APP_ID", "app"),
            ("MICROSOFT_APP_PASSWORD", "pw"),
            ("BOT_TOKEN_ENDPOINT", "http://127.0.0.1:1/t/oauth2/v2.0/token"),
            ("BOT_OAUTH_SCOPE", "s/.default"),
            ("BOT_ALLOWED_SERVICE_URLS", "http://127.0.0.1:1/a/, https://x.example/"),
        ])
        .unwrap();
        assert_eq!(c.token_endpoint().unwrap(), "http://127.0.0.1:1/t/oauth2/v2.0/token");
        assert_eq!(c.oauth_scope, "s/.default");
        assert_eq!(c.allowed_service_urls.len(), 2);
        assert!(matches!(
            cfg(&[("MICROSOFT_APP_TYPE", "Both")]),
            Err(ConfigError::AppType(_))
        ));
        assert!(matches!(
            cfg(&[("BOT_ALLOWED_SERVICE_URLS", "http://evil.example/")]),
            Err(ConfigError::AllowedServiceUrls(_))
        ));
    }

    /// A configuration with the app's credentials and `BOT_TOKEN_ENDPOINT` = `endpoint`.
    fn with_endpoint(endpoint: &str) -> Result<ConnectorConfig, ConfigError> {
        cfg(&[
            ("MICROSOFT_APP_ID", "app"),
            ("MICROSOFT_APP_PASSWORD", "hunter2-secret"),
            ("MICROSOFT_APP_TENANT_ID", "t"),
            ("BOT_TOKEN_ENDPOINT", endpoint),
        ])
    }

    #[test]
    fn the_token_endpoint_must_be_https_or_loopback_http_without_userinfo() {
        for bad in [
            "http://login.example.com/t/oauth2/v2.0/token",
            "http://10.0.0.1/token",
            "http://127.0.0.1.nip.io/token",
            "http://localhost.evil.example/token",
            "not a url",
            "login.microsoftonline.com/t/oauth2/v2.0/token",
            "//login.microsoftonline.com/t/oauth2/v2.0/token",
            "/t/oauth2/v2.0/token",
            "file:///etc/passwd",
            "ftp://login.microsoftonline.com/token",
            "ws://127.0.0.1:1/token",
            "data:text/plain,x",
            "https://user@login.microsoftonline.com/t/oauth2/v2.0/token",
            "https://user:pw@login.microsoftonline.com/t/oauth2/v2.0/token",
            "https://:pw@login.microsoftonline.com/token",
            "http://user:pw@127.0.0.1:1/token",
            "https://login.microsoftonline.com/t/oauth2/v2.0/token#frag",
            "https:///token",
            "https://login.microsoftonline.com\\@evil.example/token",
            "https://login.microsoftonline.com/ t/token",
        ] {
            let err = with_endpoint(bad).expect_err(bad);
            assert!(matches!(err, ConfigError::TokenEndpoint(_)), "{bad}: {err:?}");
            let shown = format!("{err} {err:?}");
            assert!(shown.contains("BOT_TOKEN_ENDPOINT"), "{bad}: {shown}");
            assert!(!shown.contains("hunter2") && !shown.contains("pw@"), "{bad}: {shown}");
        }
        for good in [
            "https://login.microsoftonline.com/t/oauth2/v2.0/token",
            "https://LOGIN.microsoftonline.com:443/t/oauth2/v2.0/token",
            "https://login.example.com:8443/token?tenant=t",
            "http://127.0.0.1:1/t/oauth2/v2.0/token",
            "http://127.8.0.1/token",
            "http://localhost:3979/token",
            "http://LOCALHOST/token",
            "http://[::1]:3979/token",
        ] {
            let config = with_endpoint(good).unwrap_or_else(|e| panic!("{good}: {e}"));
            assert_eq!(config.token_settings().unwrap().unwrap().endpoint, good);
        }
    }

    #[test]
    fn a_bad_token_endpoint_is_refused_even_when_set_in_code_or_anonymous() {
        // Set on the struct, past from_lookup: the client's token settings still refuse it.
        let config = ConnectorConfig {
            app_id: "app".to_owned(),
            app_password: SecretString::from("hunter2-secret".to_owned()),
            token_endpoint: Some("http://login.example.com/token".to_owned()),
            ..ConnectorConfig::default()
        };
        assert!(matches!(config.token_settings(), Err(ConfigError::TokenEndpoint(_))));
        assert!(matches!(config.token_endpoint(), Err(ConfigError::TokenEndpoint(_))));
        // A bad value is a configuration mistake even while anonymous (nothing would be sent yet).
        assert!(matches!(
            cfg(&[("BOT_TOKEN_ENDPOINT", "file:///etc/passwd")]),
            Err(ConfigError::TokenEndpoint(_))
        ));
        let m: HashMap<&str, &str> = [
            ("MICROSOFT_APP_ID", "app"),
            ("BOT_TOKEN_ENDPOINT", "http://login.example.com/token"),
        ]
        .into();
        assert!(matches!(
            ConnectorConfig::from_lookup_secret_later(|k| m.get(k).map(|v| (*v).to_owned())),
            Err(ConfigError::TokenEndpoint(_))
        ));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = cfg(&[
            ("MICROSOFT_APP_ID", "app"),
            ("MICROSOFT_APP_PASSWORD", "hunter2-secret"),
            ("MICROSOFT_APP_TENANT_ID", "t"),
        ])
        .unwrap();
        let dbg = format!("{c:?} {:?}", c.token_settings().unwrap());
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }
}

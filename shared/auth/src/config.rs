//! Inbound auth configuration, read once at cold start.

use models::TenantId;
use std::time::Duration;
use url::Url;

/// `BOT_OPENID_METADATA_URL`'s default (public cloud).
pub const DEFAULT_OPENID_METADATA_URL: &str = "https://login.botframework.com/v1/.well-known/openidconfiguration";
/// `BOT_TOKEN_ISSUER`'s default (public cloud).
pub const DEFAULT_TOKEN_ISSUER: &str = "https://api.botframework.com";
/// Clock skew allowed on `exp` and `nbf` (as the Bot Framework SDKs allow).
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
/// Keys older than this are refetched (at least daily, as the Bot Framework requires).
pub const DEFAULT_KEY_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// At most one refetch per this interval for an unknown `kid`, and the wait after a failed refresh of cached keys.
pub const DEFAULT_REFETCH_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// With no keys cached: the pause after the second failed fetch in a row (the first is retried at once); it
/// doubles after each further failure, up to [`DEFAULT_FETCH_BACKOFF_MAX`].
pub const DEFAULT_FETCH_BACKOFF: Duration = Duration::from_secs(1);
/// The longest pause between failed fetches while no keys are cached.
pub const DEFAULT_FETCH_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `BOT_OPENID_METADATA_URL` is not a URL.
    #[error("BOT_OPENID_METADATA_URL is not a valid URL")]
    InvalidMetadataUrl(#[source] url::ParseError),
    /// `BOT_OPENID_METADATA_URL` is plain `http://` to a host that is not loopback.
    #[error("BOT_OPENID_METADATA_URL must be https (plain http only for a loopback host), got {0}")]
    InsecureMetadataUrl(String),
}

/// What the verifier and the key source need, from the environment (names and defaults as in docs/contract.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    /// `MICROSOFT_APP_ID`: the required audience. Empty means anonymous mode (see [`crate::AuthMode`]).
    pub app_id: String,
    /// `BOT_TOKEN_ISSUER`: the required issuer.
    pub issuer: String,
    /// `BOT_OPENID_METADATA_URL`: where the signing keys are found.
    pub openid_metadata_url: Url,
    /// `BOT_ALLOWED_TENANTS` (comma-separated): if set, activities from other tenants are refused (403).
    /// `None` (unset or only blanks) allows any tenant.
    pub allowed_tenants: Option<Vec<TenantId>>,
    /// Allowed clock skew on `exp`/`nbf`: 5 minutes.
    pub clock_skew: Duration,
    /// Cached keys older than this are refetched: 24 hours.
    pub key_max_age: Duration,
    /// At most one refetch per interval on an unknown `kid`; also the pause after a failed fetch: 5 minutes.
    pub refetch_interval: Duration,
}

impl AuthConfig {
    /// Defaults for `app_id`: public-cloud issuer and metadata URL, any tenant.
    #[must_use]
    pub fn new(app_id: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            issuer: DEFAULT_TOKEN_ISSUER.to_owned(),
            openid_metadata_url: default_metadata_url(),
            allowed_tenants: None,
            clock_skew: DEFAULT_CLOCK_SKEW,
            key_max_age: DEFAULT_KEY_MAX_AGE,
            refetch_interval: DEFAULT_REFETCH_INTERVAL,
        }
    }

    /// Reads `MICROSOFT_APP_ID`, `BOT_TOKEN_ISSUER`, `BOT_OPENID_METADATA_URL` and `BOT_ALLOWED_TENANTS`.
    ///
    /// # Errors
    /// When the metadata URL is not a URL, or is plain http to a non-loopback host.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`Self::from_env`], reading variables through `var` (for tests).
    ///
    /// # Errors
    /// As [`Self::from_env`].
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let non_empty = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let mut config = Self::new(non_empty("MICROSOFT_APP_ID").unwrap_or_default());
        if let Some(issuer) = non_empty("BOT_TOKEN_ISSUER") {
            config.issuer = issuer;
        }
        if let Some(url) = non_empty("BOT_OPENID_METADATA_URL") {
            config.openid_metadata_url = parse_key_url(&url)?;
        }
        config.allowed_tenants = non_empty("BOT_ALLOWED_TENANTS")
            .map(|list| parse_tenants(&list))
            .filter(|t| !t.is_empty());
        Ok(config)
    }

    /// The configuration with an allowlist of tenants.
    #[must_use]
    pub fn with_allowed_tenants<I, T>(mut self, tenants: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<TenantId>,
    {
        self.allowed_tenants = Some(tenants.into_iter().map(Into::into).collect());
        self
    }
}

/// Parses a URL the key source may fetch: https, or plain http only to a loopback host (a local test server).
///
/// # Errors
/// When it is not a URL, or is insecure.
pub fn parse_key_url(raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(ConfigError::InvalidMetadataUrl)?;
    if is_allowed_key_url(&url) {
        Ok(url)
    } else {
        Err(ConfigError::InsecureMetadataUrl(url.to_string()))
    }
}

/// https anywhere; http only to `localhost` or a loopback IP.
pub(crate) fn is_allowed_key_url(url: &Url) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

fn parse_tenants(list: &str) -> Vec<TenantId> {
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(TenantId::from)
        .collect()
}

#[allow(clippy::expect_used, reason = "a literal URL that parses")]
fn default_metadata_url() -> Url {
    Url::parse(DEFAULT_OPENID_METADATA_URL).expect("the default metadata URL parses")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let config = AuthConfig::from_lookup(lookup(&[])).unwrap();
        assert_eq!(config.app_id, "");
        assert_eq!(config.issuer, "https://api.botframework.com");
        assert_eq!(config.openid_metadata_url.as_str(), DEFAULT_OPENID_METADATA_URL);
        assert_eq!(config.allowed_tenants, None);
        assert_eq!(config.clock_skew, Duration::from_secs(300));
        assert_eq!(config.key_max_age, Duration::from_secs(86_400));
    }

    #[test]
    fn reads_every_variable() {
        let config = AuthConfig::from_lookup(lookup(&[
            ("MICROSOFT_APP_ID", " app-1 "),
            ("BOT_TOKEN_ISSUER", "https://api.botframework.us"),
            (
                "BOT_OPENID_METADATA_URL",
                "http://127.0.0.1:9/v1/.well-known/openidconfiguration",
            ),
            ("BOT_ALLOWED_TENANTS", "t1, t2,,"),
        ]))
        .unwrap();
        assert_eq!(config.app_id, "app-1");
        assert_eq!(config.issuer, "https://api.botframework.us");
        assert_eq!(config.openid_metadata_url.port(), Some(9));
        assert_eq!(
            config.allowed_tenants,
            Some(vec![TenantId::from("t1"), TenantId::from("t2")])
        );
    }

    #[test]
    fn blank_tenant_list_allows_any_tenant() {
        let config = AuthConfig::from_lookup(lookup(&[("BOT_ALLOWED_TENANTS", " , ")])).unwrap();
        assert_eq!(config.allowed_tenants, None);
    }

    #[test]
    fn metadata_url_must_be_https_unless_loopback() {
        let err = AuthConfig::from_lookup(lookup(&[("BOT_OPENID_METADATA_URL", "http://evil.example/x")])).unwrap_err();
        assert!(matches!(err, ConfigError::InsecureMetadataUrl(_)), "{err}");
        let err = AuthConfig::from_lookup(lookup(&[("BOT_OPENID_METADATA_URL", "not a url")])).unwrap_err();
        assert!(matches!(err, ConfigError::InvalidMetadataUrl(_)), "{err}");
        assert!(parse_key_url("http://localhost:1/x").is_ok());
        assert!(parse_key_url("http://[::1]:1/x").is_ok());
        assert!(parse_key_url("file:///etc/passwd").is_err());
    }
}

//! The outbound token: OAuth 2.0 client credentials against Entra ID, cached and shared.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Refresh this long before the token expires.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// At most one re-read of the client secret per this long (a secret that is simply wrong must not turn every send
/// into a secret-store call).
pub const SECRET_REREAD_INTERVAL: Duration = Duration::from_secs(30);

/// Where the client secret can be read again: a secret store (Secrets Manager in Lambda). The provider asks it when
/// the token endpoint refuses the secret in use as `invalid_client`, which is what a process sees after the secret
/// was put or rotated in the store while it ran (it read the old one at start).
#[async_trait]
pub trait ClientSecretSource: Send + Sync + std::fmt::Debug {
    /// The secret as the store holds it now. The error is a readable reason (logged, never the secret).
    async fn read(&self) -> Result<SecretString, String>;
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token endpoint could not be reached (or timed out).
    #[error("token endpoint unreachable")]
    Http(#[source] reqwest::Error),
    /// The token endpoint answered an error; its body is kept (it never contains our secret).
    #[error("token endpoint answered {status}: {body}")]
    Status { status: u16, body: String },
    /// The answer was not a token.
    #[error("undecodable token answer")]
    Decode {
        #[source]
        source: serde_json::Error,
        body: String,
    },
}

/// Where and how to ask for tokens.
#[derive(Clone, Debug)]
pub struct TokenSettings {
    pub endpoint: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub scope: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Clone)]
struct Cached {
    token: SecretString,
    refresh_at: Instant,
}

/// A cached client-credentials token. Cloning shares the cache. With no settings (anonymous mode) there is no
/// token.
#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Option<TokenSettings>,
    http: reqwest::Client,
    /// Held across the fetch: concurrent callers wait for the one in-flight request and then share its token.
    /// Also holds the client secret in use (it may be re-read from `secret_source`).
    cache: Mutex<Cache>,
    secret_source: Option<Arc<dyn ClientSecretSource>>,
    fetches: std::sync::atomic::AtomicU64,
}

struct Cache {
    token: Option<Cached>,
    /// A secret re-read from the source, in use instead of the settings' one.
    reread: Option<SecretString>,
    /// When the secret was last re-read from the source.
    reread_at: Option<Instant>,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("endpoint", &self.inner.settings.as_ref().map(|s| &s.endpoint))
            .field("client_id", &self.inner.settings.as_ref().map(|s| &s.client_id))
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// A provider for `settings` (None: anonymous mode, no token), using `http` for the token endpoint.
    #[must_use]
    pub fn new(settings: Option<TokenSettings>, http: reqwest::Client) -> Self {
        Self::build(settings, http, None)
    }

    /// The same provider (a new cache) that re-reads the client secret from `source` when the token endpoint
    /// refuses the one in use as `invalid_client`, at most once per [`SECRET_REREAD_INTERVAL`], and retries once
    /// with it when it changed.
    #[must_use]
    pub fn with_secret_source(self, source: Arc<dyn ClientSecretSource>) -> Self {
        Self::build(self.inner.settings.clone(), self.inner.http.clone(), Some(source))
    }

    fn build(
        settings: Option<TokenSettings>,
        http: reqwest::Client,
        secret_source: Option<Arc<dyn ClientSecretSource>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                http,
                cache: Mutex::new(Cache {
                    token: None,
                    reread: None,
                    reread_at: None,
                }),
                secret_source,
                fetches: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// Whether this provider is anonymous (it never returns a token).
    #[must_use]
    pub fn is_anonymous(&self) -> bool {
        self.inner.settings.is_none()
    }

    /// How many times the token endpoint was asked.
    #[must_use]
    pub fn fetches(&self) -> u64 {
        self.inner.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The current token (fetched if absent or within [`REFRESH_MARGIN`] of expiry); `None` in anonymous mode.
    ///
    /// # Errors
    /// [`TokenError`] when the endpoint fails; nothing is cached then.
    pub async fn token(&self) -> Result<Option<SecretString>, TokenError> {
        let Some(settings) = &self.inner.settings else {
            return Ok(None);
        };
        let mut cache = self.inner.cache.lock().await;
        if let Some(c) = cache.token.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(Some(c.token.clone()));
        }
        let secret = cache.reread.clone().unwrap_or_else(|| settings.client_secret.clone());
        let fresh = match self.fetch(settings, &secret).await {
            Err(e) if e.is_invalid_client() => match self.reread_secret(&mut cache, &secret).await {
                Some(newer) => self.fetch(settings, &newer).await?,
                None => return Err(e),
            },
            other => other?,
        };
        let token = fresh.token.clone();
        cache.token = Some(fresh);
        Ok(Some(token))
    }

    /// After the endpoint refused `refused`: the source's secret when it differs (it is kept for later fetches),
    /// or None (no source, re-read too recently, the store failed, or it still holds the refused one).
    async fn reread_secret(&self, cache: &mut Cache, refused: &SecretString) -> Option<SecretString> {
        let source = self.inner.secret_source.as_ref()?;
        if cache.reread_at.is_some_and(|at| at.elapsed() < SECRET_REREAD_INTERVAL) {
            return None;
        }
        cache.reread_at = Some(Instant::now());
        match source.read().await {
            Ok(current) if current.expose_secret() != refused.expose_secret() => {
                tracing::info!(
                    "the token endpoint refused the client secret; using the one the secret store holds now"
                );
                cache.reread = Some(current.clone());
                Some(current)
            }
            Ok(_) => {
                tracing::warn!("the token endpoint refused the client secret, and the secret store holds the same one");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "the token endpoint refused the client secret; re-reading it failed");
                None
            }
        }
    }

    /// Forgets the cached token (after a 401), so the next call fetches a new one.
    pub async fn invalidate(&self) {
        self.inner.cache.lock().await.token = None;
    }

    async fn fetch(&self, s: &TokenSettings, secret: &SecretString) -> Result<Cached, TokenError> {
        self.inner.fetches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let started = Instant::now();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", s.client_id.as_str()),
            ("client_secret", secret.expose_secret()),
            ("scope", s.scope.as_str()),
        ];
        let resp = self
            .inner
            .http
            .post(&s.endpoint)
            .form(&form)
            .send()
            .await
            .map_err(TokenError::Http)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(TokenError::Http)?;
        if !(200..300).contains(&status) {
            return Err(TokenError::Status {
                status,
                body: lossy(&body),
            });
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|source| TokenError::Decode {
            source,
            body: "(token answer withheld)".to_owned(),
        })?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        // Refresh 5 minutes early; for short-lived tokens, halfway through.
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        tracing::debug!(lifetime_s = lifetime.as_secs(), "fetched outbound token");
        Ok(Cached {
            token: SecretString::from(answer.access_token),
            refresh_at: started + (lifetime - margin),
        })
    }
}

impl TokenError {
    /// The endpoint refused the client's credentials (OAuth `invalid_client`; Entra ID's AADSTS7000215 "Invalid
    /// client secret provided" comes as 401 with it).
    #[must_use]
    pub fn is_invalid_client(&self) -> bool {
        match self {
            Self::Status { status, body } => {
                matches!(status, 400 | 401)
                    && serde_json::from_str::<serde_json::Value>(body)
                        .is_ok_and(|v| v.get("error").and_then(serde_json::Value::as_str) == Some("invalid_client"))
            }
            _ => false,
        }
    }
}

/// A body as text, bounded, for errors.
pub(crate) fn lossy(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(4096).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_oauth_invalid_client_counts_as_a_refused_secret() {
        let status = |status: u16, body: &str| TokenError::Status {
            status,
            body: body.to_owned(),
        };
        let refused =
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#;
        assert!(status(401, refused).is_invalid_client());
        assert!(status(400, refused).is_invalid_client());
        assert!(!status(500, refused).is_invalid_client());
        assert!(!status(400, r#"{"error":"invalid_scope"}"#).is_invalid_client());
        assert!(!status(401, "invalid_client").is_invalid_client());
    }
}

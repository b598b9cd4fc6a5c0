//! The outbound token: OAuth 2.0 client credentials against Entra ID, cached and shared.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Refresh this long before the token expires.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    cache: Mutex<Option<Cached>>,
    fetches: std::sync::atomic::AtomicU64,
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
        Self {
            inner: Arc::new(Inner {
                settings,
                http,
                cache: Mutex::new(None),
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
        if let Some(c) = cache.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(Some(c.token.clone()));
        }
        let fresh = self.fetch(settings).await?;
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(Some(token))
    }

    /// Forgets the cached token (after a 401), so the next call fetches a new one.
    pub async fn invalidate(&self) {
        *self.inner.cache.lock().await = None;
    }

    async fn fetch(&self, s: &TokenSettings) -> Result<Cached, TokenError> {
        self.inner.fetches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let started = Instant::now();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", s.client_id.as_str()),
            ("client_secret", s.client_secret.expose_secret()),
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

/// A body as text, bounded, for errors.
pub(crate) fn lossy(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(4096).collect()
}

//! The key source: fetches the OpenID metadata and its JWKS, caches the keys, refreshes them at least every
//! 24 hours and on an unknown `kid` at most once per refetch interval, with one fetch in flight at a time.

use crate::config::{AuthConfig, is_allowed_key_url};
use crate::keys::{KeySet, KeySetError};
use reqwest::StatusCode;
use serde::Deserialize;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

/// Largest metadata or JWKS document accepted (Microsoft's JWKS is about 10 KiB).
pub const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// Why one fetch of the keys failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connection, timeout or body read failure.
    #[error("request to {stage} failed")]
    Http {
        stage: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// A non-2xx answer.
    #[error("{stage} answered {status}")]
    Status { stage: &'static str, status: StatusCode },
    /// A document larger than [`MAX_DOCUMENT_BYTES`].
    #[error("{stage} document is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge { stage: &'static str },
    /// The metadata is not JSON with a `jwks_uri`.
    #[error("OpenID metadata is not valid")]
    Metadata(#[source] serde_json::Error),
    /// `jwks_uri` is not a URL, or is plain http to a non-loopback host.
    #[error("OpenID metadata names an unusable jwks_uri")]
    BadJwksUri,
    /// The JWKS has no usable key.
    #[error("JWKS is not usable")]
    Keys(#[source] KeySetError),
}

/// Why the key source has no keys to give.
#[derive(Debug, thiserror::Error)]
pub enum KeySourceError {
    /// Nothing is cached and the fetch failed.
    #[error("no signing keys cached and the fetch failed")]
    Fetch(#[source] FetchError),
    /// Nothing is cached and another request's fetch just failed.
    #[error("no signing keys cached; the last fetch failed")]
    LastFetchFailed,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for the key source")]
    Client(#[source] reqwest::Error),
}

/// Fetches a fresh [`KeySet`]. [`HttpKeyFetcher`] is the real one; tests can count or script fetches.
pub trait FetchKeys: Send + Sync {
    /// One fetch of the current keys.
    fn fetch(&self) -> impl Future<Output = Result<KeySet, FetchError>> + Send;
}

/// Fetches `BOT_OPENID_METADATA_URL`, then its `jwks_uri`, over rustls with short timeouts.
#[derive(Clone, Debug)]
pub struct HttpKeyFetcher {
    client: reqwest::Client,
    metadata_url: Url,
}

impl HttpKeyFetcher {
    /// A fetcher for `metadata_url` with its own client (2 s connect, 5 s overall timeouts).
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(metadata_url: Url) -> Result<Self, KeySourceError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(KeySourceError::Client)?;
        Ok(Self::with_client(client, metadata_url))
    }

    /// A fetcher sharing an existing client.
    #[must_use]
    pub fn with_client(client: reqwest::Client, metadata_url: Url) -> Self {
        Self { client, metadata_url }
    }

    async fn get(&self, url: Url, stage: &'static str) -> Result<Vec<u8>, FetchError> {
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|source| FetchError::Http { stage, source })?;
        if !response.status().is_success() {
            return Err(FetchError::Status {
                stage,
                status: response.status(),
            });
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(FetchError::TooLarge { stage });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|source| FetchError::Http { stage, source })?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(FetchError::TooLarge { stage });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[derive(Deserialize)]
struct Metadata {
    jwks_uri: String,
}

impl FetchKeys for HttpKeyFetcher {
    async fn fetch(&self) -> Result<KeySet, FetchError> {
        let metadata = self.get(self.metadata_url.clone(), "OpenID metadata").await?;
        let metadata: Metadata = serde_json::from_slice(&metadata).map_err(FetchError::Metadata)?;
        let jwks_uri = Url::parse(&metadata.jwks_uri).map_err(|_| FetchError::BadJwksUri)?;
        if !is_allowed_key_url(&jwks_uri) {
            return Err(FetchError::BadJwksUri);
        }
        let jwks = self.get(jwks_uri, "JWKS").await?;
        KeySet::from_jwks_json(&jwks).map_err(FetchError::Keys)
    }
}

/// Cached signing keys with the refresh rules of the Bot Framework. Share one per process (it is `Sync`).
#[derive(Debug)]
pub struct KeySource<F = HttpKeyFetcher> {
    fetcher: F,
    max_age: Duration,
    refetch_interval: Duration,
    cache: RwLock<Cache>,
    in_flight: tokio::sync::Mutex<()>,
    attempts: AtomicU64,
}

#[derive(Debug, Default)]
struct Cache {
    keys: Option<Arc<KeySet>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    /// Bumped by every completed fetch, successful or not: a waiter that sees it move does not fetch again.
    generation: u64,
}

impl KeySource<HttpKeyFetcher> {
    /// A key source for `config`'s metadata URL and refresh intervals.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn from_config(config: &AuthConfig) -> Result<Self, KeySourceError> {
        Ok(Self::new(
            HttpKeyFetcher::new(config.openid_metadata_url.clone())?,
            config.key_max_age,
            config.refetch_interval,
        ))
    }
}

impl<F: FetchKeys> KeySource<F> {
    /// A key source over `fetcher`: keys older than `max_age` are refetched, and an unknown `kid` (or a failed
    /// fetch) causes at most one fetch per `refetch_interval`.
    pub fn new(fetcher: F, max_age: Duration, refetch_interval: Duration) -> Self {
        Self {
            fetcher,
            max_age,
            refetch_interval,
            cache: RwLock::new(Cache::default()),
            in_flight: tokio::sync::Mutex::new(()),
            attempts: AtomicU64::new(0),
        }
    }

    /// The fetcher.
    pub fn fetcher(&self) -> &F {
        &self.fetcher
    }

    /// How many fetches were started so far.
    pub fn fetch_attempts(&self) -> u64 {
        self.attempts.load(Ordering::Relaxed)
    }

    /// The cached keys, without fetching.
    pub fn cached(&self) -> Option<Arc<KeySet>> {
        self.read().keys.clone()
    }

    /// The current keys: the cache while it is younger than `max_age`; otherwise one (shared) fetch. When that
    /// fetch fails the cached keys are still served (and the next try waits `refetch_interval`).
    ///
    /// # Errors
    /// Only when nothing is cached and the fetch fails.
    pub async fn keys(&self) -> Result<Arc<KeySet>, KeySourceError> {
        let (keys, generation, due) = {
            let cache = self.read();
            let now = Instant::now();
            let stale = cache.fetched_at.is_none_or(|at| now.duration_since(at) >= self.max_age);
            let waited = cache
                .last_attempt
                .is_none_or(|at| now.duration_since(at) >= self.refetch_interval);
            (cache.keys.clone(), cache.generation, stale && waited)
        };
        match keys {
            Some(keys) if !due => Ok(keys),
            Some(keys) => match self.refresh(generation).await {
                Ok(fresh) => Ok(fresh),
                Err(error) => {
                    tracing::warn!(error = %error, "signing key refresh failed; verifying with cached keys");
                    Ok(keys)
                }
            },
            None => self.refresh(generation).await,
        }
    }

    /// After a token named `kid` that `keys` lacks: one (shared) fetch, unless `kid` arrived meanwhile or a
    /// fetch was tried less than `refetch_interval` ago; then the keys as they are.
    ///
    /// # Errors
    /// Only when nothing is cached and the fetch fails.
    pub async fn refresh_for_unknown_kid(&self, kid: &str) -> Result<Arc<KeySet>, KeySourceError> {
        let (keys, generation, allowed) = {
            let cache = self.read();
            let allowed = cache
                .last_attempt
                .is_none_or(|at| Instant::now().duration_since(at) >= self.refetch_interval);
            (cache.keys.clone(), cache.generation, allowed)
        };
        match keys {
            Some(keys) if keys.contains(kid) || !allowed => Ok(keys),
            Some(keys) => match self.refresh(generation).await {
                Ok(fresh) => Ok(fresh),
                Err(error) => {
                    tracing::warn!(error = %error, "signing key refetch for an unknown kid failed");
                    Ok(keys)
                }
            },
            None => self.refresh(generation).await,
        }
    }

    /// One fetch for everyone who saw `seen_generation`: the first caller fetches, the others wait for it and
    /// take its result.
    async fn refresh(&self, seen_generation: u64) -> Result<Arc<KeySet>, KeySourceError> {
        let _guard = self.in_flight.lock().await;
        {
            let cache = self.read();
            if cache.generation != seen_generation {
                return cache.keys.clone().ok_or(KeySourceError::LastFetchFailed);
            }
        }
        self.attempts.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let result = self.fetcher.fetch().await;
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        cache.generation += 1;
        cache.last_attempt = Some(started);
        match result {
            Ok(keys) => {
                tracing::info!(
                    keys = keys.len(),
                    skipped = keys.skipped(),
                    "fetched Bot Framework signing keys"
                );
                let keys = Arc::new(keys);
                cache.keys = Some(Arc::clone(&keys));
                cache.fetched_at = Some(started);
                Ok(keys)
            }
            Err(error) => Err(KeySourceError::Fetch(error)),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(PoisonError::into_inner)
    }
}

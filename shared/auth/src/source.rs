//! The key source: fetches the OpenID metadata and its JWKS, caches the keys, refreshes them at least every
//! 24 hours and on an unknown `kid` at most once per refetch interval, with one fetch in flight at a time. With
//! nothing cached (cold start, the metadata server down), failed fetches back off: one immediate retry, then a
//! pause that doubles from 1 s up to 30 s, during which requests are refused (503) without fetching.

use crate::config::{AuthConfig, DEFAULT_FETCH_BACKOFF, DEFAULT_FETCH_BACKOFF_MAX, is_allowed_key_url};
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
    /// Nothing is cached, the last fetches failed, and the next may start only after a pause.
    #[error("no signing keys cached; the last fetch failed, next try in {retry_in:?}")]
    BackingOff {
        /// How long until a request may fetch again.
        retry_in: Duration,
    },
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
    backoff_first: Duration,
    backoff_max: Duration,
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
    /// Fetches that failed in a row (0 after a success).
    failures: u32,
    /// When the last failed fetch ended.
    failed_at: Option<Instant>,
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
    /// refresh of cached keys) causes at most one fetch per `refetch_interval`. With nothing cached, failed
    /// fetches back off as [`KeySource::with_failure_backoff`] describes (1 s doubling to 30 s by default).
    pub fn new(fetcher: F, max_age: Duration, refetch_interval: Duration) -> Self {
        Self {
            fetcher,
            max_age,
            refetch_interval,
            backoff_first: DEFAULT_FETCH_BACKOFF,
            backoff_max: DEFAULT_FETCH_BACKOFF_MAX,
            cache: RwLock::new(Cache::default()),
            in_flight: tokio::sync::Mutex::new(()),
            attempts: AtomicU64::new(0),
        }
    }

    /// The pause after failed fetches while nothing is cached: the first failure may be retried at once (by
    /// the next request; concurrent ones share the fetch in flight); after the second failure in a row no
    /// fetch starts for `first`, then twice as long after each further failure, at most `max`. Requests
    /// meanwhile get [`KeySourceError::BackingOff`]. A success resets it. (With keys cached, a failed refresh
    /// instead keeps serving them and waits `refetch_interval`.)
    #[must_use]
    pub fn with_failure_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff_first = first;
        self.backoff_max = max.max(first);
        self
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
    /// fetch fails the cached keys are still served (and the next try waits `refetch_interval`). With nothing
    /// cached, a fetch is tried only outside the failure backoff ([`KeySource::with_failure_backoff`]).
    ///
    /// # Errors
    /// Only when nothing is cached and the fetch fails, or failed just before (the backoff).
    pub async fn keys(&self) -> Result<Arc<KeySet>, KeySourceError> {
        let (keys, generation, due) = {
            let cache = self.read();
            let now = Instant::now();
            let stale = cache.fetched_at.is_none_or(|at| now.duration_since(at) >= self.max_age);
            let waited = cache
                .last_attempt
                .is_none_or(|at| now.duration_since(at) >= self.refetch_interval);
            if cache.keys.is_none()
                && let Some(retry_in) = self.backing_off(&cache, now)
            {
                return Err(KeySourceError::BackingOff { retry_in });
            }
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
            let now = Instant::now();
            let allowed = cache
                .last_attempt
                .is_none_or(|at| now.duration_since(at) >= self.refetch_interval);
            if cache.keys.is_none()
                && let Some(retry_in) = self.backing_off(&cache, now)
            {
                return Err(KeySourceError::BackingOff { retry_in });
            }
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
                cache.failures = 0;
                cache.failed_at = None;
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
            Err(error) => {
                cache.failures = cache.failures.saturating_add(1);
                cache.failed_at = Some(Instant::now());
                if cache.keys.is_none() {
                    tracing::warn!(
                        error = %error,
                        failures = cache.failures,
                        next_try_in = ?self.failure_pause(cache.failures),
                        "no signing keys: the fetch failed; requests are answered 503 meanwhile"
                    );
                }
                Err(KeySourceError::Fetch(error))
            }
        }
    }

    /// How long until a fetch may start again, while failed fetches back off (`None`: it may start now).
    fn backing_off(&self, cache: &Cache, now: Instant) -> Option<Duration> {
        let failed_at = cache.failed_at?;
        let pause = self.failure_pause(cache.failures);
        let elapsed = now.duration_since(failed_at);
        (elapsed < pause).then(|| pause - elapsed)
    }

    /// The pause after `failures` failed fetches in a row: none after the first, then `backoff_first` doubling
    /// up to `backoff_max`.
    fn failure_pause(&self, failures: u32) -> Duration {
        if failures < 2 {
            return Duration::ZERO;
        }
        let doublings = (failures - 2).min(31);
        self.backoff_first
            .saturating_mul(1_u32 << doublings)
            .min(self.backoff_max)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(PoisonError::into_inner)
    }
}

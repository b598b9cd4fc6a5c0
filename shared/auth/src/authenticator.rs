//! The verifier and the key source together: what the webhook calls.

use crate::config::AuthConfig;
use crate::source::{FetchKeys, HttpKeyFetcher, KeySource, KeySourceError};
use crate::verifier::{AuthError, Claims, SignatureCache, VerifiedToken, Verifier};
use models::Activity;
use std::time::SystemTime;

/// Authenticates inbound requests: cached keys, one refetch on an unknown `kid` (rate-limited), the pure
/// verifier for everything else, in two steps (the token, then the activity). Build once per process and share
/// by reference.
#[derive(Debug)]
pub struct Authenticator<F = HttpKeyFetcher> {
    verifier: Verifier,
    source: KeySource<F>,
    signatures: SignatureCache,
}

impl Authenticator<HttpKeyFetcher> {
    /// An authenticator fetching keys from `config.openid_metadata_url`. Nothing is fetched until the first
    /// request (or [`Authenticator::prefetch`]).
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(config: &AuthConfig) -> Result<Self, KeySourceError> {
        Ok(Self::with_source(config, KeySource::from_config(config)?))
    }
}

impl<F: FetchKeys> Authenticator<F> {
    /// An authenticator over any key source (tests script the fetcher).
    pub fn with_source(config: &AuthConfig, source: KeySource<F>) -> Self {
        Self {
            verifier: Verifier::new(config),
            source,
            signatures: SignatureCache::default(),
        }
    }

    /// The pure verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The tokens whose signature was already verified.
    pub fn signatures(&self) -> &SignatureCache {
        &self.signatures
    }

    /// The key source.
    pub fn key_source(&self) -> &KeySource<F> {
        &self.source
    }

    /// Fetches the keys now (at cold start), so the first request does not wait.
    ///
    /// # Errors
    /// When the keys cannot be fetched; requests will try again.
    pub async fn prefetch(&self) -> Result<(), KeySourceError> {
        self.source.keys().await.map(|_| ())
    }

    /// Verifies everything about the request's `Authorization` header that depends on the token alone, at the
    /// current time: what a caller does before it parses the request body. Then
    /// [`VerifiedToken::check_activity`] with the parsed activity.
    ///
    /// A token that could never verify (not a JWT, a refused `alg`, no `kid`, a `crit` header, a signature no
    /// RSA key makes) is refused before any key is needed, so it never causes a fetch. A `kid` the cache lacks
    /// causes one refetch (shared, at most once per refetch interval) and one more try. With no keys cached and
    /// the metadata server failing, fetches back off (see [`KeySource::with_failure_backoff`]) and requests are
    /// answered [`AuthError::KeysUnavailable`] (503) meanwhile.
    ///
    /// # Errors
    /// The [`AuthError`] to answer with (its `status()` and `reason()`): a 401, or a 503 when no keys can be had.
    pub async fn authenticate_token(&self, authorization_header: Option<&str>) -> Result<VerifiedToken, AuthError> {
        self.verifier.read_header(authorization_header)?;
        let keys = self.source.keys().await.map_err(AuthError::KeysUnavailable)?;
        match self
            .verifier
            .verify_token_cached(authorization_header, &keys, SystemTime::now(), &self.signatures)
        {
            Err(AuthError::UnknownKey { kid }) => {
                let keys = self
                    .source
                    .refresh_for_unknown_kid(&kid)
                    .await
                    .map_err(AuthError::KeysUnavailable)?;
                self.verifier
                    .verify_token_cached(authorization_header, &keys, SystemTime::now(), &self.signatures)
            }
            result => result,
        }
    }

    /// Both steps at once: [`Authenticator::authenticate_token`], then [`VerifiedToken::check_activity`] for
    /// `activity`. For a caller that already has the activity; the webhook calls the two steps itself, so a bad
    /// token is refused before the body is parsed.
    ///
    /// # Errors
    /// The [`AuthError`] to answer with (its `status()` and `reason()`).
    pub async fn authenticate(
        &self,
        authorization_header: Option<&str>,
        activity: &Activity,
    ) -> Result<Claims, AuthError> {
        self.authenticate_token(authorization_header)
            .await?
            .check_activity(activity)
    }
}

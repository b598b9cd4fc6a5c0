//! Inbound authentication of Bot Framework requests.
//!
//! - [`Verifier`]: the pure verifier, in two steps: token, [`KeySet`] and time in, a [`VerifiedToken`] out (every
//!   401); then [`VerifiedToken::check_activity`] against the activity (every 403) gives the [`Claims`].
//! - [`KeySource`]: the cached OpenID metadata / JWKS keys (refreshed daily, refetched on an unknown `kid` at
//!   most once per interval, one fetch in flight, cached keys kept when the server is down, failed fetches
//!   backing off while nothing is cached).
//! - [`Authenticator`]: both together, what the webhook calls: [`Authenticator::authenticate_token`] before the
//!   body is parsed, [`VerifiedToken::check_activity`] after.
//! - [`AuthMode`]: anonymous mode only with an empty app id on a loopback address.
//! - [`AuthConfig`]: `MICROSOFT_APP_ID`, `BOT_TOKEN_ISSUER`, `BOT_OPENID_METADATA_URL`, `BOT_ALLOWED_TENANTS`.

mod authenticator;
mod config;
mod keys;
mod mode;
mod source;
mod verifier;

pub use authenticator::Authenticator;
pub use config::{
    AuthConfig, ConfigError, DEFAULT_CLOCK_SKEW, DEFAULT_FETCH_BACKOFF, DEFAULT_FETCH_BACKOFF_MAX, DEFAULT_KEY_MAX_AGE,
    DEFAULT_OPENID_METADATA_URL, DEFAULT_REFETCH_INTERVAL, DEFAULT_TOKEN_ISSUER, parse_key_url,
};
pub use jsonwebtoken::Algorithm;
pub use keys::{KeySet, KeySetError, SigningKey};
pub use mode::{AuthMode, StartupError};
pub use source::{FetchError, FetchKeys, HttpKeyFetcher, KeySource, KeySourceError, MAX_DOCUMENT_BYTES};
pub use verifier::{ALLOWED_ALGORITHMS, AuthError, Claims, SignatureCache, TokenHeader, VerifiedToken, Verifier};

/// Selects aws-lc-rs as jsonwebtoken's crypto provider for the process (idempotent), so a second jsonwebtoken
/// backend enabled elsewhere in the dependency graph cannot leave verification without a provider.
pub(crate) fn install_crypto_provider() {
    // An error means a provider is already installed, which is all we need.
    let _ = jsonwebtoken::crypto::CryptoProvider::install_default(&jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER);
}

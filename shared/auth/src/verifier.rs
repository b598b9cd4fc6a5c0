//! The pure verifier: a bearer token, the activity it came with and the current keys in; verified claims or the
//! reason for refusal out. No I/O, no clock of its own.
//!
//! Two steps, so a caller can refuse a bad token before it reads (parses) the request body:
//! [`Verifier::verify_token`] checks everything that depends only on the token (scheme, shape, `alg`, `kid`,
//! `crit`, signature, `iss`, `aud`, `exp`/`nbf`: every 401), and [`VerifiedToken::check_activity`] then checks it
//! against the activity it came with (endorsement, `serviceurl`, tenant: every 403).

use crate::config::AuthConfig;
use crate::keys::KeySet;
use crate::source::KeySourceError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use jsonwebtoken::{Algorithm, Validation};
use models::Activity;
use serde::Deserialize;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The algorithms the Bot Framework SDKs accept; anything else (`none`, HMAC, EC, PSS) is refused before any
/// key lookup.
pub const ALLOWED_ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512];

/// Why a request was refused. [`AuthError::status`] is the webhook's answer and [`AuthError::reason`] a short
/// text safe to send back; neither ever contains the token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header (or an empty one).
    #[error("missing authorization header")]
    MissingHeader,
    /// The scheme is not `Bearer`.
    #[error("authorization scheme is not Bearer")]
    WrongScheme,
    /// Not exactly one token after the scheme, or not a three-part JWT with a JSON header and a base64url
    /// payload.
    #[error("malformed bearer token ({0})")]
    Malformed(&'static str),
    /// The header has a `crit` parameter: it names extensions the token must not be accepted without
    /// understanding (RFC 7515 §4.1.11), and we understand none.
    #[error("token has critical header parameters")]
    CriticalHeader,
    /// `alg` is not RS256, RS384 or RS512.
    #[error("token algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The header has no `kid`.
    #[error("token has no key id")]
    MissingKeyId,
    /// No current key has the token's `kid` (kept, truncated, to drive one refetch; never shown to callers).
    #[error("unknown signing key")]
    UnknownKey {
        /// The token's `kid`, at most 128 characters.
        kid: String,
    },
    /// The signature does not verify with the key named by `kid` (or, before any key lookup, is not base64url
    /// or has a length no RSA key of 2048 to 8192 bits produces).
    #[error("invalid token signature")]
    BadSignature,
    /// The signature verified but the payload is not usable claims JSON (or another JWT-level failure).
    #[error("invalid token")]
    InvalidToken(#[source] jsonwebtoken::errors::Error),
    /// `iss` is missing or not the configured issuer.
    #[error("wrong token issuer")]
    WrongIssuer,
    /// `aud` is missing or not our app id.
    #[error("token audience is not this bot")]
    WrongAudience,
    /// No `exp` claim.
    #[error("token has no expiry")]
    MissingExpiry,
    /// `exp` is in the past by more than the allowed skew.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future by more than the allowed skew.
    #[error("token not yet valid")]
    NotYetValid,
    /// The signing key does not endorse the activity's `channelId` (or the activity has none).
    #[error("signing key not endorsed for this channel")]
    NotEndorsed,
    /// The token's `serviceurl` claim is missing or differs from the activity's `serviceUrl`.
    #[error("serviceUrl claim does not match the activity")]
    ServiceUrlMismatch,
    /// `BOT_ALLOWED_TENANTS` is set and the activity's tenant is not in it (or it has none).
    #[error("tenant not allowed")]
    TenantNotAllowed,
    /// No signing keys could be obtained (the metadata server is down and nothing is cached).
    #[error("signing keys unavailable")]
    KeysUnavailable(#[source] KeySourceError),
}

impl AuthError {
    /// The HTTP status per docs/contract.md: 401 for a missing or invalid token, 403 for a failed endorsement,
    /// serviceUrl mismatch or tenant not allowed, 503 when keys cannot be obtained (so the channel retries).
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotEndorsed | Self::ServiceUrlMismatch | Self::TenantNotAllowed => StatusCode::FORBIDDEN,
            Self::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// A short plain reason, safe to return to the caller.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingHeader => "missing authorization header",
            Self::WrongScheme => "authorization scheme must be Bearer",
            Self::Malformed(_) => "malformed bearer token",
            Self::AlgorithmNotAllowed => "token algorithm not allowed",
            Self::MissingKeyId => "token has no key id",
            Self::CriticalHeader => "token has critical header parameters",
            Self::UnknownKey { .. } => "unknown signing key",
            Self::BadSignature => "invalid token signature",
            Self::InvalidToken(_) => "invalid token",
            Self::WrongIssuer => "wrong token issuer",
            Self::WrongAudience => "token audience is not this bot",
            Self::MissingExpiry => "token has no expiry",
            Self::Expired => "token expired",
            Self::NotYetValid => "token not yet valid",
            Self::NotEndorsed => "signing key not endorsed for this channel",
            Self::ServiceUrlMismatch => "serviceUrl claim does not match the activity",
            Self::TenantNotAllowed => "tenant not allowed",
            Self::KeysUnavailable(_) => "signing keys unavailable, retry later",
        }
    }
}

/// What a verified token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// `iss`.
    pub issuer: String,
    /// The `aud` value that matched: our app id.
    pub audience: String,
    /// `serviceurl`, equal to the activity's `serviceUrl`.
    pub service_url: String,
    /// `exp`, seconds since the epoch.
    pub expires_at: i64,
    /// `nbf`, seconds since the epoch, when present.
    pub not_before: Option<i64>,
    /// The `kid` of the key that signed.
    pub key_id: String,
    /// The signing algorithm (RS256, RS384 or RS512).
    pub algorithm: Algorithm,
}

/// The parts of a JWT header the verifier reads before any key lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenHeader {
    /// `alg`, one of [`ALLOWED_ALGORITHMS`].
    pub algorithm: Algorithm,
    /// `kid`.
    pub key_id: String,
}

/// A token whose signature, issuer, audience and lifetime were verified ([`Verifier::verify_token`]), not yet
/// checked against the activity it came with. Everything a 401 can come from is behind it; what is left
/// ([`VerifiedToken::check_activity`]) can only answer 403. A caller may read the request body now, and must
/// check the activity before acting on it. Holds no part of the token itself.
#[derive(Clone, Debug)]
#[must_use = "a verified token must still be checked against its activity (VerifiedToken::check_activity)"]
pub struct VerifiedToken {
    issuer: String,
    audience: String,
    /// The `serviceurl` claim, if any (compared with the activity's `serviceUrl` later).
    service_url: Option<String>,
    expires_at: i64,
    not_before: Option<i64>,
    key_id: String,
    algorithm: Algorithm,
    /// The signing key's endorsements (the channel ids it may sign for).
    endorsements: Arc<[String]>,
    /// `BOT_ALLOWED_TENANTS`, lowercased; `None` allows any tenant.
    allowed_tenants: Option<Arc<HashSet<String>>>,
}

impl VerifiedToken {
    /// Checks the token against the activity it came with, in order: the signing key endorses the activity's
    /// `channelId`; the `serviceurl` claim equals the activity's `serviceUrl` exactly; the activity's tenant is
    /// allowed. Every refusal here is a 403.
    ///
    /// # Errors
    /// [`AuthError::NotEndorsed`], [`AuthError::ServiceUrlMismatch`], [`AuthError::TenantNotAllowed`].
    pub fn check_activity(&self, activity: &Activity) -> Result<Claims, AuthError> {
        let channel_id = activity.channel_id.as_deref().unwrap_or_default();
        if channel_id.is_empty() || !self.endorsements.iter().any(|e| e == channel_id) {
            return Err(AuthError::NotEndorsed);
        }
        let service_url = match (self.service_url.as_deref(), activity.service_url.as_deref()) {
            (Some(claim), Some(activity_url)) if claim == activity_url => claim.to_owned(),
            _ => return Err(AuthError::ServiceUrlMismatch),
        };
        if let Some(allowed) = &self.allowed_tenants {
            let tenant = activity.tenant_id().map(|t| t.as_str().to_ascii_lowercase());
            if !tenant.is_some_and(|t| allowed.contains(&t)) {
                return Err(AuthError::TenantNotAllowed);
            }
        }
        Ok(Claims {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            service_url,
            expires_at: self.expires_at,
            not_before: self.not_before,
            key_id: self.key_id.clone(),
            algorithm: self.algorithm,
        })
    }

    /// The `kid` of the key that signed.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The signing algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// `exp`, seconds since the epoch.
    #[must_use]
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// The `serviceurl` claim (not yet compared with any activity).
    #[must_use]
    pub fn service_url_claim(&self) -> Option<&str> {
        self.service_url.as_deref()
    }
}

/// Verifies Bot Framework channel tokens against a [`KeySet`]. Build once at cold start; cheap to share.
#[derive(Clone, Debug)]
pub struct Verifier {
    app_id: String,
    issuer: String,
    allowed_tenants: Option<Arc<HashSet<String>>>,
    skew: Duration,
}

impl Verifier {
    /// A verifier for `config`'s app id, issuer, tenant allowlist and clock skew. An empty app id matches no
    /// audience (anonymous mode never reaches the verifier; see [`crate::AuthMode`]).
    #[must_use]
    pub fn new(config: &AuthConfig) -> Self {
        crate::install_crypto_provider();
        Self {
            app_id: config.app_id.clone(),
            issuer: config.issuer.clone(),
            allowed_tenants: config
                .allowed_tenants
                .as_ref()
                .map(|tenants| Arc::new(tenants.iter().map(|t| t.as_str().to_ascii_lowercase()).collect())),
            skew: config.clock_skew,
        }
    }

    /// Checks everything about the bearer token that needs no key: scheme and one token; a three-part JWT; a
    /// JSON header with `alg` RS256/384/512, a `kid` and no `crit`; a base64url payload; a base64url signature
    /// as long as an RSA key of 2048 to 8192 bits makes. A token refused here could never verify, so it must
    /// not cause a key fetch.
    ///
    /// # Errors
    /// [`AuthError::MissingHeader`], [`AuthError::WrongScheme`], [`AuthError::Malformed`],
    /// [`AuthError::AlgorithmNotAllowed`], [`AuthError::MissingKeyId`], [`AuthError::CriticalHeader`],
    /// [`AuthError::BadSignature`].
    pub fn read_header(&self, authorization_header: Option<&str>) -> Result<TokenHeader, AuthError> {
        let token = bearer_token(authorization_header)?;
        parse_token(token)
    }

    /// Verifies everything about the token in `authorization_header` that depends on the token alone, with
    /// `keys`, at time `now`, in order: [`Verifier::read_header`]'s checks; a `kid` naming a key in `keys`; the
    /// signature; `iss`; `aud` = app id; `exp` present, `exp`/`nbf` within the skew. Every refusal is a 401.
    /// The activity is checked afterwards with [`VerifiedToken::check_activity`].
    ///
    /// # Errors
    /// The first check that fails, as an [`AuthError`].
    pub fn verify_token(
        &self,
        authorization_header: Option<&str>,
        keys: &KeySet,
        now: SystemTime,
    ) -> Result<VerifiedToken, AuthError> {
        self.verify_token_with(authorization_header, keys, now, None)
    }

    /// As [`Verifier::verify_token`], reusing `cache`'s record of tokens whose signature was already verified
    /// with the same key: a token Teams reuses (it keeps one for up to an hour) costs one RSA verification, not
    /// one per request. Every other check runs on every request.
    ///
    /// # Errors
    /// As [`Verifier::verify_token`].
    pub fn verify_token_cached(
        &self,
        authorization_header: Option<&str>,
        keys: &KeySet,
        now: SystemTime,
        cache: &SignatureCache,
    ) -> Result<VerifiedToken, AuthError> {
        self.verify_token_with(authorization_header, keys, now, Some(cache))
    }

    /// Both steps at once: [`Verifier::verify_token`], then [`VerifiedToken::check_activity`] for `activity`.
    /// Every 401 comes before any 403. A caller that still has to parse the activity should call the two
    /// steps itself, so a bad token is refused before the body is read.
    ///
    /// # Errors
    /// The first check that fails, as an [`AuthError`].
    pub fn verify(
        &self,
        authorization_header: Option<&str>,
        activity: &Activity,
        keys: &KeySet,
        now: SystemTime,
    ) -> Result<Claims, AuthError> {
        self.verify_token(authorization_header, keys, now)?
            .check_activity(activity)
    }

    /// As [`Verifier::verify`], through the signature cache (see [`Verifier::verify_token_cached`]).
    ///
    /// # Errors
    /// As [`Verifier::verify`].
    pub fn verify_cached(
        &self,
        authorization_header: Option<&str>,
        activity: &Activity,
        keys: &KeySet,
        now: SystemTime,
        cache: &SignatureCache,
    ) -> Result<Claims, AuthError> {
        self.verify_token_cached(authorization_header, keys, now, cache)?
            .check_activity(activity)
    }

    fn verify_token_with(
        &self,
        authorization_header: Option<&str>,
        keys: &KeySet,
        now: SystemTime,
        cache: Option<&SignatureCache>,
    ) -> Result<VerifiedToken, AuthError> {
        let token = bearer_token(authorization_header)?;
        let header = parse_token(token)?;
        let Some(key) = keys.get(&header.key_id) else {
            return Err(AuthError::UnknownKey { kid: header.key_id });
        };
        let claims = match cache.and_then(|c| c.get(token, &header, key.serial())) {
            Some(claims) => claims,
            None => {
                let claims = Self::signed_claims(token, &header, key)?;
                if let Some(cache) = cache {
                    cache.insert(token, &header, key.serial(), &claims);
                }
                claims
            }
        };
        self.check_claims(claims, header, key, now)
    }

    /// The payload of a token whose signature `key` verifies with the header's algorithm.
    fn signed_claims(token: &str, header: &TokenHeader, key: &crate::keys::SigningKey) -> Result<RawClaims, AuthError> {
        let mut validation = Validation::new(header.algorithm);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<RawClaims>(token, key.decoding_key(), &validation).map_err(|error| {
            match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => AuthError::AlgorithmNotAllowed,
                _ => AuthError::InvalidToken(error),
            }
        })?;
        Ok(data.claims)
    }

    /// The claims after the signature that depend on the token alone: issuer, audience, time.
    fn check_claims(
        &self,
        claims: RawClaims,
        header: TokenHeader,
        key: &crate::keys::SigningKey,
        now: SystemTime,
    ) -> Result<VerifiedToken, AuthError> {
        let issuer = claims
            .iss
            .filter(|iss| *iss == self.issuer)
            .ok_or(AuthError::WrongIssuer)?;
        if self.app_id.is_empty() || !claims.aud.as_ref().is_some_and(|aud| aud.contains(&self.app_id)) {
            return Err(AuthError::WrongAudience);
        }
        let expires_at = claims.exp.ok_or(AuthError::MissingExpiry)?;
        let now = unix_seconds(now);
        let skew = self.skew.as_secs_f64();
        if now > expires_at + skew {
            return Err(AuthError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| now + skew < nbf) {
            return Err(AuthError::NotYetValid);
        }
        Ok(VerifiedToken {
            issuer,
            audience: self.app_id.clone(),
            service_url: claims.serviceurl,
            expires_at: seconds_to_i64(expires_at),
            not_before: claims.nbf.map(seconds_to_i64),
            key_id: header.key_id,
            algorithm: header.algorithm,
            endorsements: key.shared_endorsements(),
            allowed_tenants: self.allowed_tenants.clone(),
        })
    }
}

/// Tokens whose signature was verified, with their payload and the key that verified them (see
/// [`Verifier::verify_cached`]). Keyed by the whole token, so any change to it misses; an entry is used only while
/// the same key (not merely the same `kid`) is in the key set and with the same algorithm. Only verified tokens
/// enter, so a caller without a valid token cannot fill it; at [`SignatureCache::CAPACITY`] it starts over.
#[derive(Default)]
pub struct SignatureCache {
    entries: std::sync::Mutex<std::collections::HashMap<Box<str>, CachedSignature>>,
}

struct CachedSignature {
    algorithm: Algorithm,
    key_serial: u64,
    claims: RawClaims,
}

impl std::fmt::Debug for SignatureCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens.
        f.debug_struct("SignatureCache").field("entries", &self.len()).finish()
    }
}

impl SignatureCache {
    /// The most tokens remembered (Teams uses a handful per hour per bot).
    pub const CAPACITY: usize = 1024;

    /// How many tokens are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<Box<str>, CachedSignature>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, token: &str, header: &TokenHeader, key_serial: u64) -> Option<RawClaims> {
        let entries = self.lock();
        let hit = entries.get(token)?;
        (hit.key_serial == key_serial && hit.algorithm == header.algorithm).then(|| hit.claims.clone())
    }

    fn insert(&self, token: &str, header: &TokenHeader, key_serial: u64, claims: &RawClaims) {
        let mut entries = self.lock();
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        entries.insert(
            token.into(),
            CachedSignature {
                algorithm: header.algorithm,
                key_serial,
                claims: claims.clone(),
            },
        );
    }
}

/// The token from `Bearer <token>`: the scheme word case-insensitively, then exactly one token.
fn bearer_token(authorization_header: Option<&str>) -> Result<&str, AuthError> {
    let value = authorization_header.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(AuthError::MissingHeader);
    }
    let (scheme, rest) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::WrongScheme);
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(AuthError::Malformed("no token after the scheme"));
    }
    if token.contains(|c: char| c.is_whitespace()) {
        return Err(AuthError::Malformed("more than one token"));
    }
    Ok(token)
}

/// Lengths (bytes) of an RSA PKCS#1 v1.5 signature: the key's modulus length. jsonwebtoken (aws-lc) verifies
/// RS256/384/512 only with keys of 2048 to 8192 bits, so no other length can ever verify.
const RSA_SIGNATURE_BYTES: std::ops::RangeInclusive<usize> = 256..=1024;

/// Everything about a token that needs no key ([`Verifier::read_header`]): its header, then a payload and a
/// signature that could be a signed JWT's.
fn parse_token(token: &str) -> Result<TokenHeader, AuthError> {
    let header = token_header(token)?;
    let mut parts = token.split('.').skip(1);
    let (Some(payload), Some(signature)) = (parts.next(), parts.next()) else {
        return Err(AuthError::Malformed("not three parts"));
    };
    if payload.is_empty() || payload.len() % 4 == 1 || !payload.bytes().all(is_base64url_byte) {
        return Err(AuthError::Malformed("payload is not base64url"));
    }
    // Checked on the encoded length first, so an oversized signature is never decoded.
    let encoded = |bytes: usize| (bytes * 4).div_ceil(3);
    if !(encoded(*RSA_SIGNATURE_BYTES.start())..=encoded(*RSA_SIGNATURE_BYTES.end())).contains(&signature.len()) {
        return Err(AuthError::BadSignature);
    }
    match URL_SAFE_NO_PAD.decode(signature) {
        Ok(bytes) if RSA_SIGNATURE_BYTES.contains(&bytes.len()) => Ok(header),
        _ => Err(AuthError::BadSignature),
    }
}

fn is_base64url_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

/// The header of a three-part JWT: `alg` allowed, `kid` present, no `crit`.
fn token_header(token: &str) -> Result<TokenHeader, AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed("not three parts"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::Malformed("header is not base64url"))?;
    let raw: RawHeader = serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed("header is not JSON"))?;
    let algorithm = match raw.alg.as_deref() {
        Some("RS256") => Algorithm::RS256,
        Some("RS384") => Algorithm::RS384,
        Some("RS512") => Algorithm::RS512,
        _ => return Err(AuthError::AlgorithmNotAllowed),
    };
    let key_id = match raw.kid {
        Some(kid) if !kid.is_empty() => kid.chars().take(128).collect(),
        _ => return Err(AuthError::MissingKeyId),
    };
    // RFC 7515 §4.1.11: a recipient must refuse a token whose `crit` lists an extension it does not understand.
    // We understand none, and an empty list or another shape is invalid anyway: any `crit` at all is refused.
    if raw.crit {
        return Err(AuthError::CriticalHeader);
    }
    Ok(TokenHeader { algorithm, key_id })
}

fn unix_seconds(now: SystemTime) -> f64 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

#[allow(clippy::cast_possible_truncation, reason = "NumericDate seconds, saturating")]
fn seconds_to_i64(seconds: f64) -> i64 {
    seconds.floor() as i64
}

#[derive(Deserialize)]
struct RawHeader {
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    /// Whether the header has a `crit` member, whatever its value (`null` included).
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

/// `true` for any value (serde calls this only when the member is present).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

#[derive(Clone, Deserialize)]
struct RawClaims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    exp: Option<f64>,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    serviceurl: Option<String>,
}

/// `aud`: one string, or an array of strings (RFC 7519); any other shape is a wrong audience.
#[derive(Clone, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
    /// Anything else (a number, an object): matches nothing.
    Other(serde::de::IgnoredAny),
}

impl Audience {
    fn contains(&self, app_id: &str) -> bool {
        match self {
            Self::One(aud) => aud == app_id,
            Self::Many(auds) => auds.iter().any(|aud| aud == app_id),
            Self::Other(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_is_case_insensitive_and_takes_exactly_one_token() {
        assert_eq!(bearer_token(Some("Bearer a.b.c")).unwrap(), "a.b.c");
        assert_eq!(bearer_token(Some("bearer   a.b.c ")).unwrap(), "a.b.c");
        assert_eq!(bearer_token(Some("BEARER\ta.b.c")).unwrap(), "a.b.c");
        assert!(matches!(bearer_token(None), Err(AuthError::MissingHeader)));
        assert!(matches!(bearer_token(Some("  ")), Err(AuthError::MissingHeader)));
        assert!(matches!(bearer_token(Some("Basic a.b.c")), Err(AuthError::WrongScheme)));
        assert!(matches!(bearer_token(Some("Bearer")), Err(AuthError::Malformed(_))));
        assert!(matches!(
            bearer_token(Some("Bearer a.b.c d.e.f")),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(bearer_token(Some("Bearera.b.c")), Err(AuthError::WrongScheme)));
    }

    #[test]
    fn header_refuses_other_algorithms_and_missing_kid() {
        let enc = |json: &str| format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(json));
        for alg in ["none", "HS256", "HS512", "ES256", "PS256", "rs256", ""] {
            let token = enc(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#));
            assert!(
                matches!(token_header(&token), Err(AuthError::AlgorithmNotAllowed)),
                "{alg}"
            );
        }
        assert!(matches!(
            token_header(&enc(r#"{"kid":"k"}"#)),
            Err(AuthError::AlgorithmNotAllowed)
        ));
        assert!(matches!(
            token_header(&enc(r#"{"alg":"RS256"}"#)),
            Err(AuthError::MissingKeyId)
        ));
        assert!(matches!(
            token_header(&enc(r#"{"alg":"RS256","kid":""}"#)),
            Err(AuthError::MissingKeyId)
        ));
        assert!(matches!(token_header("a.b"), Err(AuthError::Malformed(_))));
        assert!(matches!(token_header("a.b.c.d"), Err(AuthError::Malformed(_))));
        assert!(matches!(token_header("!!.b.c"), Err(AuthError::Malformed(_))));
        let ok = token_header(&enc(r#"{"alg":"RS384","kid":"k1","typ":"JWT"}"#)).unwrap();
        assert_eq!(
            ok,
            TokenHeader {
                algorithm: Algorithm::RS384,
                key_id: "k1".into()
            }
        );
    }

    #[test]
    fn any_crit_member_is_refused() {
        let enc = |json: &str| format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(json));
        for crit in [r#"["exp"]"#, r#"["b64"]"#, "[]", "null", r#""x""#, "{}", "0"] {
            let token = enc(&format!(r#"{{"alg":"RS256","kid":"k","crit":{crit}}}"#));
            assert!(matches!(token_header(&token), Err(AuthError::CriticalHeader)), "{crit}");
        }
        // A member merely named like it is not `crit`.
        assert!(token_header(&enc(r#"{"alg":"RS256","kid":"k","Crit":["x"]}"#)).is_ok());
    }

    #[test]
    fn payload_and_signature_must_be_able_to_verify() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k"}"#);
        let payload = URL_SAFE_NO_PAD.encode(r#"{"iss":"x"}"#);
        let sig = |bytes: usize| URL_SAFE_NO_PAD.encode(vec![7_u8; bytes]);
        for bytes in [256, 384, 512, 1024] {
            assert!(
                parse_token(&format!("{header}.{payload}.{}", sig(bytes))).is_ok(),
                "{bytes}"
            );
        }
        for bytes in [0, 1, 128, 255, 257 * 4, 1025, 4096] {
            assert!(
                matches!(
                    parse_token(&format!("{header}.{payload}.{}", sig(bytes))),
                    Err(AuthError::BadSignature)
                ),
                "{bytes}"
            );
        }
        // Not base64url (standard alphabet, padding, a stray character) at a plausible length.
        let good = sig(256);
        for bad in [
            good.replace('H', "+"),
            format!("{}==", &good[..340]),
            format!("{}!", &good[..341]),
        ] {
            assert!(matches!(
                parse_token(&format!("{header}.{payload}.{bad}")),
                Err(AuthError::BadSignature)
            ));
        }
        for bad_payload in ["", "e30=", "e3+0", "%%%%", "a"] {
            assert!(
                matches!(
                    parse_token(&format!("{header}.{bad_payload}.{good}")),
                    Err(AuthError::Malformed(_))
                ),
                "{bad_payload}"
            );
        }
        // The header is read first: its refusal wins.
        assert!(matches!(
            parse_token(&format!(
                "{}.{payload}.",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k"}"#)
            )),
            Err(AuthError::AlgorithmNotAllowed)
        ));
    }

    #[test]
    fn statuses_follow_the_contract() {
        assert_eq!(AuthError::MissingHeader.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(AuthError::Expired.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(AuthError::CriticalHeader.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(AuthError::BadSignature.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(AuthError::NotEndorsed.status(), StatusCode::FORBIDDEN);
        assert_eq!(AuthError::ServiceUrlMismatch.status(), StatusCode::FORBIDDEN);
        assert_eq!(AuthError::TenantNotAllowed.status(), StatusCode::FORBIDDEN);
    }
}

//! The signing keys: a JWKS parsed into ready-to-use RSA public keys with their endorsements.

use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Why a JWKS document gave no usable keys.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    /// Not JSON, or not `{"keys": [...]}`.
    #[error("the JWKS is not valid JSON of the expected shape")]
    Json(#[source] serde_json::Error),
    /// Parsed, but not one RSA key with a `kid`, `n` and `e` could be used.
    #[error("the JWKS holds no usable RSA signing key ({skipped} skipped)")]
    NoUsableKeys {
        /// Entries that were not RSA signing keys or were malformed.
        skipped: usize,
    },
}

/// One RSA public signing key from the JWKS.
#[derive(Clone)]
pub struct SigningKey {
    decoding: DecodingKey,
    /// Shared with every [`crate::VerifiedToken`] this key verified (checked against the activity later).
    endorsements: Arc<[String]>,
    /// Unique per key parsed in this process: a signature verified with it is trusted again only while this
    /// very key is still the one its `kid` names.
    serial: u64,
}

static SERIALS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("endorsements", &self.endorsements)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The channel ids this key may sign for (`msteams`, ...). Empty when the JWKS listed none.
    #[must_use]
    pub fn endorsements(&self) -> &[String] {
        &self.endorsements
    }

    /// Whether the key endorses `channel_id` (exact, case-sensitive, as the SDKs compare).
    #[must_use]
    pub fn endorses(&self, channel_id: &str) -> bool {
        self.endorsements.iter().any(|e| e == channel_id)
    }

    pub(crate) fn shared_endorsements(&self) -> Arc<[String]> {
        Arc::clone(&self.endorsements)
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    pub(crate) fn serial(&self) -> u64 {
        self.serial
    }
}

/// The current signing keys by key id: what the pure verifier checks signatures against.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: HashMap<String, SigningKey>,
    skipped: usize,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys": [...]}`), keeping every RSA key with a `kid`, `n` and `e`; other
    /// entries (EC keys, keys for encryption, malformed entries) are skipped and counted.
    ///
    /// # Errors
    /// When the document is not a JWKS, or holds no usable key.
    pub fn from_jwks_json(bytes: &[u8]) -> Result<Self, KeySetError> {
        let jwks: Jwks = serde_json::from_slice(bytes).map_err(KeySetError::Json)?;
        let mut set = Self::default();
        for entry in jwks.keys {
            match serde_json::from_value::<RsaJwk>(entry) {
                Ok(jwk) if jwk.is_rsa_signing_key() => match DecodingKey::from_rsa_components(&jwk.n, &jwk.e) {
                    Ok(decoding) => {
                        set.insert(jwk.kid, decoding, jwk.endorsements.unwrap_or_default());
                    }
                    Err(_) => set.skipped += 1,
                },
                _ => set.skipped += 1,
            }
        }
        if set.keys.is_empty() {
            return Err(KeySetError::NoUsableKeys { skipped: set.skipped });
        }
        Ok(set)
    }

    /// Adds (or replaces) one key from its base64url `n` and `e`.
    ///
    /// # Errors
    /// When `n` or `e` is not base64url.
    pub fn insert_rsa(
        &mut self,
        kid: impl Into<String>,
        n: &str,
        e: &str,
        endorsements: Vec<String>,
    ) -> Result<(), jsonwebtoken::errors::Error> {
        let decoding = DecodingKey::from_rsa_components(n, e)?;
        self.insert(kid.into(), decoding, endorsements);
        Ok(())
    }

    fn insert(&mut self, kid: String, decoding: DecodingKey, endorsements: Vec<String>) {
        let serial = SERIALS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.keys.insert(
            kid,
            SigningKey {
                decoding,
                endorsements: endorsements.into(),
                serial,
            },
        );
    }

    /// The key with id `kid`.
    #[must_use]
    pub fn get(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.get(kid)
    }

    /// Whether a key with id `kid` is present.
    #[must_use]
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// The number of usable keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there is no key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// JWKS entries that were skipped as unusable.
    #[must_use]
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The key ids, in no particular order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RsaJwk {
    kty: String,
    #[serde(rename = "use", default)]
    key_use: Option<String>,
    kid: String,
    n: String,
    e: String,
    #[serde(default)]
    endorsements: Option<Vec<String>>,
}

impl RsaJwk {
    fn is_rsa_signing_key(&self) -> bool {
        self.kty == "RSA" && self.key_use.as_deref().is_none_or(|u| u == "sig") && !self.kid.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_rsa_signing_keys_and_skips_the_rest() {
        let jwks = br#"{"keys":[
            {"kty":"RSA","use":"sig","kid":"a","n":"sXch","e":"AQAB","endorsements":["msteams","skype"]},
            {"kty":"RSA","kid":"b","n":"sXch","e":"AQAB"},
            {"kty":"EC","kid":"c","crv":"P-256","x":"AA","y":"AA"},
            {"kty":"RSA","use":"enc","kid":"d","n":"sXch","e":"AQAB"},
            {"kty":"RSA","use":"sig","kid":"e","x5c":["..."]},
            {"kty":"RSA","use":"sig","kid":"f","n":"!!","e":"AQAB"}
        ]}"#;
        let set = KeySet::from_jwks_json(jwks).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.skipped(), 4);
        assert!(set.get("a").unwrap().endorses("msteams"));
        assert!(!set.get("a").unwrap().endorses("MSTEAMS"));
        assert!(set.get("b").unwrap().endorsements().is_empty());
    }

    #[test]
    fn an_empty_or_broken_jwks_is_an_error() {
        assert!(matches!(
            KeySet::from_jwks_json(br#"{"keys":[]}"#),
            Err(KeySetError::NoUsableKeys { skipped: 0 })
        ));
        assert!(matches!(KeySet::from_jwks_json(b"<html>"), Err(KeySetError::Json(_))));
        assert!(matches!(
            KeySet::from_jwks_json(br#"{"keyz":[]}"#),
            Err(KeySetError::Json(_))
        ));
    }
}

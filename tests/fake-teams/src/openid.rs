//! OpenID metadata, JWKS (keys with endorsements) and a signer for inbound Bot Framework tokens.
//!
//! [`OpenIdServer`] plays login.botframework.com: it publishes RSA signing keys (each with a `kid` and the channel
//! ids it endorses) as a JWKS, serves the OpenID metadata that points at it, counts fetches, can be told to fail,
//! and mints tokens the way the Bot Framework does (plus the hostile variants a test needs: `alg: none`, HMAC
//! signed with the public key, a wrong or missing `kid`). Keys are fixed RSA-2048 test keys compiled into this
//! file, so nothing is generated at test time; [`OpenIdServer::rotate`] cycles through them under fresh key ids.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the OpenID metadata is served (as on login.botframework.com).
pub const METADATA_PATH: &str = "/v1/.well-known/openidconfiguration";
/// Where the JWKS is served (as on login.botframework.com).
pub const JWKS_PATH: &str = "/v1/.well-known/keys";
/// The channel id Teams sends, which Teams' signing keys endorse.
pub const TEAMS_CHANNEL: &str = "msteams";
/// The issuer of tokens sent to bots by the Bot Framework (public cloud).
pub const BOT_FRAMEWORK_ISSUER: &str = "https://api.botframework.com";

/// One published RSA signing key: its id, the channels it endorses, the private half (to sign) and the public
/// half (`n`, `e`, base64url) as the JWKS shows it.
#[derive(Clone)]
pub struct TestKey {
    kid: String,
    endorsements: Vec<String>,
    encoding: EncodingKey,
    n: &'static str,
    e: &'static str,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey")
            .field("kid", &self.kid)
            .field("endorsements", &self.endorsements)
            .finish_non_exhaustive()
    }
}

impl TestKey {
    /// The key id (`kid`).
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The channel ids this key endorses.
    #[must_use]
    pub fn endorsements(&self) -> &[String] {
        &self.endorsements
    }

    /// The public modulus, base64url without padding, as in the JWKS.
    #[must_use]
    pub fn modulus(&self) -> &str {
        self.n
    }

    /// This key as a JWKS entry, shaped like Microsoft's (`kty`, `use`, `kid`, `n`, `e`, `endorsements`).
    #[must_use]
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "n": self.n,
            "e": self.e,
            "endorsements": self.endorsements,
        })
    }

    /// Signs `claims` with this key: header `alg` as given and `kid` = this key's id.
    ///
    /// # Errors
    /// When `alg` is not an RSA algorithm.
    pub fn sign(&self, alg: Algorithm, claims: &impl Serialize) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(alg);
        header.kid = Some(self.kid.clone());
        self.sign_with_header(&header, claims)
    }

    /// Signs `claims` with this key under any header (a missing or foreign `kid`, another RSA `alg`).
    ///
    /// # Errors
    /// When the header's `alg` is not an RSA algorithm.
    pub fn sign_with_header(
        &self,
        header: &Header,
        claims: &impl Serialize,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(header, claims, &self.encoding)
    }
}

/// A fake of the Bot Framework's OpenID metadata and JWKS endpoints, with a token signer. Cheap to clone (one
/// shared state), so a test keeps a handle while the router serves.
#[derive(Clone, Debug)]
pub struct OpenIdServer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    keys: Mutex<Keys>,
    failing: AtomicBool,
    metadata_fetches: AtomicUsize,
    jwks_fetches: AtomicUsize,
}

#[derive(Debug)]
struct Keys {
    published: Vec<TestKey>,
    signing_kid: String,
    minted: usize,
}

impl Default for OpenIdServer {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenIdServer {
    /// One published key (`kid` `test-key-1`), endorsing `msteams`, which signs tokens.
    #[must_use]
    pub fn new() -> Self {
        let first = fixed_key(0, "test-key-1".to_owned(), vec![TEAMS_CHANNEL.to_owned()]);
        let signing_kid = first.kid.clone();
        Self {
            inner: Arc::new(Inner {
                keys: Mutex::new(Keys {
                    published: vec![first],
                    signing_kid,
                    minted: 1,
                }),
                failing: AtomicBool::new(false),
                metadata_fetches: AtomicUsize::new(0),
                jwks_fetches: AtomicUsize::new(0),
            }),
        }
    }

    fn keys(&self) -> MutexGuard<'_, Keys> {
        self.inner.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A key with a fresh id and the given endorsements, not yet published (for an unknown-`kid` token, or to
    /// publish later with [`Self::publish`]).
    #[must_use]
    pub fn new_key(&self, endorsements: &[&str]) -> TestKey {
        let mut keys = self.keys();
        let index = keys.minted;
        keys.minted += 1;
        fixed_key(
            index % FIXED_KEYS.len(),
            format!("test-key-{}", index + 1),
            endorsements.iter().map(|&e| e.to_owned()).collect(),
        )
    }

    /// Publishes `key` in the JWKS (next to the keys already there).
    pub fn publish(&self, key: TestKey) {
        let mut keys = self.keys();
        keys.published.retain(|k| k.kid != key.kid);
        keys.published.push(key);
    }

    /// Publishes a new key endorsing `endorsements` and returns it (it does not become the signing key).
    pub fn publish_new_key(&self, endorsements: &[&str]) -> TestKey {
        let key = self.new_key(endorsements);
        self.publish(key.clone());
        key
    }

    /// Key rotation: publishes a new `msteams` key and signs with it from now on; the old keys stay published.
    /// Returns the new key id.
    pub fn rotate(&self) -> String {
        let key = self.new_key(&[TEAMS_CHANNEL]);
        let kid = key.kid.clone();
        let mut keys = self.keys();
        keys.published.push(key);
        keys.signing_kid.clone_from(&kid);
        kid
    }

    /// Removes the key `kid` from the JWKS; true if it was published.
    pub fn retire(&self, kid: &str) -> bool {
        let mut keys = self.keys();
        let before = keys.published.len();
        keys.published.retain(|k| k.kid != kid);
        keys.published.len() != before
    }

    /// The key that signs [`Self::sign`]'s tokens.
    #[must_use]
    pub fn signing_key(&self) -> TestKey {
        let keys = self.keys();
        let kid = keys.signing_kid.clone();
        keys.published
            .iter()
            .find(|k| k.kid == kid)
            .cloned()
            .unwrap_or_else(|| fixed_key(0, kid, vec![TEAMS_CHANNEL.to_owned()]))
    }

    /// The signing key's id.
    #[must_use]
    pub fn signing_kid(&self) -> String {
        self.keys().signing_kid.clone()
    }

    /// A published key by id.
    #[must_use]
    pub fn key(&self, kid: &str) -> Option<TestKey> {
        self.keys().published.iter().find(|k| k.kid == kid).cloned()
    }

    /// Makes both endpoints answer 503 (`true`) or serve again (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.inner.failing.store(failing, Ordering::SeqCst);
    }

    /// How many times the metadata was requested (failed requests included).
    #[must_use]
    pub fn metadata_fetches(&self) -> usize {
        self.inner.metadata_fetches.load(Ordering::SeqCst)
    }

    /// How many times the JWKS was requested (failed requests included).
    #[must_use]
    pub fn jwks_fetches(&self) -> usize {
        self.inner.jwks_fetches.load(Ordering::SeqCst)
    }

    /// The JWKS document: `{"keys": [...]}` with every published key.
    #[must_use]
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self.keys().published.iter().map(TestKey::jwk).collect();
        json!({ "keys": keys })
    }

    /// The OpenID metadata document, pointing at `jwks_uri`, shaped like login.botframework.com's.
    #[must_use]
    pub fn metadata(jwks_uri: &str) -> Value {
        json!({
            "issuer": BOT_FRAMEWORK_ISSUER,
            "authorization_endpoint": "https://invalid.botframework.com",
            "jwks_uri": jwks_uri,
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        })
    }

    /// The metadata URL of a server at `addr` (what `BOT_OPENID_METADATA_URL` is set to).
    #[must_use]
    pub fn metadata_url(addr: SocketAddr) -> String {
        format!("http://{addr}{METADATA_PATH}")
    }

    /// `GET` [`METADATA_PATH`] and [`JWKS_PATH`]. The metadata's `jwks_uri` is built from the request's `Host`,
    /// so the router works wherever it is mounted (merge it into a bigger fake at the root).
    pub fn router(&self) -> Router {
        Router::new()
            .route(METADATA_PATH, get(serve_metadata))
            .route(JWKS_PATH, get(serve_jwks))
            .with_state(self.clone())
    }

    /// Serves [`Self::router`] on `127.0.0.1:0` in a background task and returns the address.
    ///
    /// # Errors
    /// When the listener cannot be bound.
    pub async fn serve(&self) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let router = self.router();
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::warn!(%error, "fake OpenID server stopped");
            }
        });
        Ok(addr)
    }

    /// A Bot Framework token for `claims`, RS256, signed by the signing key with its `kid`.
    ///
    /// # Errors
    /// Only if signing fails (it does not with the fixed keys).
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, jsonwebtoken::errors::Error> {
        self.signing_key().sign(Algorithm::RS256, claims)
    }

    /// A token signed by the signing key with another RSA `alg` (RS384, RS512).
    ///
    /// # Errors
    /// When `alg` is not an RSA algorithm.
    pub fn sign_alg(&self, alg: Algorithm, claims: &impl Serialize) -> Result<String, jsonwebtoken::errors::Error> {
        self.signing_key().sign(alg, claims)
    }

    /// A token signed by the signing key under `header` (for a missing or foreign `kid`).
    ///
    /// # Errors
    /// When the header's `alg` is not an RSA algorithm.
    pub fn sign_with_header(
        &self,
        header: &Header,
        claims: &impl Serialize,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.signing_key().sign_with_header(header, claims)
    }

    /// The algorithm-confusion attack: an HS256 token whose HMAC secret is the signing key's public modulus
    /// (the bytes of its JWKS `n`), with the signing key's `kid`.
    ///
    /// # Errors
    /// Only if encoding fails.
    pub fn sign_hs256_with_public_key(&self, claims: &impl Serialize) -> Result<String, jsonwebtoken::errors::Error> {
        let key = self.signing_key();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(key.n.as_bytes()))
    }
}

/// A token with any header JSON and an empty signature: `alg: none` and other shapes `jsonwebtoken` refuses to
/// produce.
#[must_use]
pub fn unsigned_token(header: &Value, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(header.to_string());
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{claims}.")
}

/// Replaces a token's payload with `claims`, keeping its header and signature (a tampered token).
#[must_use]
pub fn tamper_payload(token: &str, claims: &Value) -> String {
    let mut parts = token.splitn(3, '.');
    let header = parts.next().unwrap_or_default();
    let _payload = parts.next();
    let signature = parts.next().unwrap_or_default();
    format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

/// Seconds since the Unix epoch, now.
#[must_use]
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The claims of a Bot Framework channel token, with typical values: issuer `https://api.botframework.com`,
/// audience the app id, `serviceurl`, `nbf` five minutes ago and `exp` in an hour (Bot Framework tokens live
/// about an hour). Each setter changes one claim, so a test states exactly what is wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct BotClaims {
    pub issuer: Option<String>,
    pub audience: Option<Value>,
    pub service_url: Option<String>,
    pub not_before: Option<i64>,
    pub expires: Option<i64>,
    /// Other claims, written as given.
    pub extra: serde_json::Map<String, Value>,
}

impl BotClaims {
    /// Typical claims for `app_id` and an activity from `service_url`, relative to the current time.
    #[must_use]
    pub fn new(app_id: &str, service_url: &str) -> Self {
        Self::at(app_id, service_url, unix_now())
    }

    /// Typical claims relative to `now` (seconds since the epoch).
    #[must_use]
    pub fn at(app_id: &str, service_url: &str, now: i64) -> Self {
        Self {
            issuer: Some(BOT_FRAMEWORK_ISSUER.to_owned()),
            audience: Some(Value::String(app_id.to_owned())),
            service_url: Some(service_url.to_owned()),
            not_before: Some(now - 300),
            expires: Some(now + 3600),
            extra: serde_json::Map::new(),
        }
    }

    /// Sets (or with `None` removes) the issuer.
    #[must_use]
    pub fn issuer(mut self, issuer: Option<&str>) -> Self {
        self.issuer = issuer.map(str::to_owned);
        self
    }

    /// Sets the audience to one string (or with `None` removes it).
    #[must_use]
    pub fn audience(mut self, audience: Option<&str>) -> Self {
        self.audience = audience.map(|a| Value::String(a.to_owned()));
        self
    }

    /// Sets the audience to any JSON value (an array, a number).
    #[must_use]
    pub fn audience_json(mut self, audience: Value) -> Self {
        self.audience = Some(audience);
        self
    }

    /// Sets (or with `None` removes) the `serviceurl` claim.
    #[must_use]
    pub fn service_url(mut self, service_url: Option<&str>) -> Self {
        self.service_url = service_url.map(str::to_owned);
        self
    }

    /// Sets (or with `None` removes) `nbf`, seconds since the epoch.
    #[must_use]
    pub fn not_before(mut self, nbf: Option<i64>) -> Self {
        self.not_before = nbf;
        self
    }

    /// Sets (or with `None` removes) `exp`, seconds since the epoch.
    #[must_use]
    pub fn expires(mut self, exp: Option<i64>) -> Self {
        self.expires = exp;
        self
    }

    /// Adds any other claim.
    #[must_use]
    pub fn claim(mut self, name: &str, value: Value) -> Self {
        self.extra.insert(name.to_owned(), value);
        self
    }

    /// The claims as a JSON object (what gets signed).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut map = self.extra.clone();
        if let Some(iss) = &self.issuer {
            map.insert("iss".into(), Value::String(iss.clone()));
        }
        if let Some(aud) = &self.audience {
            map.insert("aud".into(), aud.clone());
        }
        if let Some(url) = &self.service_url {
            map.insert("serviceurl".into(), Value::String(url.clone()));
        }
        if let Some(nbf) = self.not_before {
            map.insert("nbf".into(), nbf.into());
        }
        if let Some(exp) = self.expires {
            map.insert("exp".into(), exp.into());
        }
        Value::Object(map)
    }
}

impl Serialize for BotClaims {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

async fn serve_metadata(State(server): State<OpenIdServer>, headers: HeaderMap) -> Response {
    server.inner.metadata_fetches.fetch_add(1, Ordering::SeqCst);
    if server.inner.failing.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "metadata unavailable (scripted)").into_response();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let jwks_uri = format!("http://{host}{JWKS_PATH}");
    axum::Json(OpenIdServer::metadata(&jwks_uri)).into_response()
}

async fn serve_jwks(State(server): State<OpenIdServer>) -> Response {
    server.inner.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if server.inner.failing.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "keys unavailable (scripted)").into_response();
    }
    axum::Json(server.jwks()).into_response()
}

/// One of the compiled-in test keys under the given id.
fn fixed_key(index: usize, kid: String, endorsements: Vec<String>) -> TestKey {
    let fixed = &FIXED_KEYS[index % FIXED_KEYS.len()];
    // The constants below are valid base64 (checked by this file's unit test); an empty key would only make
    // signing fail, which every test using it reports.
    let der = STANDARD.decode(fixed.private_der_b64).unwrap_or_default();
    TestKey {
        kid,
        endorsements,
        encoding: EncodingKey::from_rsa_der(&der),
        n: fixed.n,
        e: fixed.e,
    }
}

struct FixedKey {
    private_der_b64: &'static str,
    n: &'static str,
    e: &'static str,
}

const FIXED_KEYS: [FixedKey; 4] = [
    FixedKey {
        private_der_b64: concat!(
            "MIIEpAIBAAKCAQEAn09flkHlU458J3XyA+FehMCCJuMnBZHYbm7dZCBYG44/c2/bRbsxiHWfQgrm9rHRbW95uSECRapVCpD47P7U",
            "Hg6EWwaZOdfSk33BVcYU9Df/higv2mwj95Xza/6SMMpvkFXKP6BcV44wgOtcZ7NcctxdHSG8pxpp1Ybd+NW2ZIVZ4MF6VZrHIwfu",
            "qP7S/0PUuCTTeacTZkaHmIIsY3mhV/iX0CVnKL5htOVTsRTD+6x57kyXo7lSsXgP8Co2AKuKgrP8KXWa8r+b3rm9ro/s6zCBb2Sl",
            "amdJCORinZ7fBEG2JWTZQRrbmCe+p4IaNEpTN3nvwqWwaBzndujRA0HW9wIDAQABAoIBAAvL/+MLjCTM10rAxCQfazVfYAPrLDeQ",
            "XjuHQCOq9XtM5EvzC4S1YOye8SUd046PClgVOilIVXe9LkDzDUvXbvOu1YQ8D9qlrbU4SbnFSkXvY5+WmDyPZ3ZtBzKHDmJIi0xf",
            "3fMqN8xP/i19wED5mi3zPX3rwqGJJi8mpodHpBL7YwODvIoV1LXtEvlWvo60w1MOBSInqHkahUn8gQy9whGU59R0tZwhXdwzRrf1",
            "ip/8Vi4tHMpF96+Gwj6lD0jPTxsllDrE2xxT/khKfPgA1jwyvyZ6mDmPB5FsC3Tqha/fNqkra4tgFY9RF9JVbVjEZ2RCgUg1P3ed",
            "w5q3SQfGVukCgYEA1BoTQzUPuzcYh8+4W8FECb9n8lwdliyXzdMc5plUGHEGsDxBbDocoRUleU0AmES4netYPc3pYPVHpLPyRyJ7",
            "6ndl+ACrn/I0GAbjN9hWC1EJvLcom5zltadOt1HvXk1sQn3GqTlVijoDGhlCL3GfXRtF3Qcgeiq0lIeXlDXldDsCgYEAwEgydXzx",
            "cmBroqV9HwTaZBB1INRG7+sVhDPC50zElrR2tagDT42STAPCBSjTaiTVrVpLZEJwaiOptImkBfrMZ7wkbb+L5ifkQzVTG06PpEBD",
            "0Nco9UZK0Ejdaq2KH5Q8Bi0tymPktUG6jbEoWrAB1WwgXlbzAOp4j0Gq0maHqHUCgYEArnTYHTJ6wwF5UtP/DrFzlhTymb08tLXv",
            "EuOvZNj++6+T0cduBGfz/maXUSON9rCnrXTTOtqwOAjnqcg84lex1tPockmS4NdmE9EueVOeymYYfTml1AEETBrWOyDQox9JiZNM",
            "oQpAmpZG0OOvtbheXUW+fCONig6wQ28XtVdzaNsCgYEAqGWSa3rFKlpvab5tWiEx8rjHG71Ncwj7ixCZ/WAqO6JI5McEP0PJgHE6",
            "FrKulSM1T+DobiIRuaMKGWcCE4qWQbNwY/2BVExTiNjGs/+VpU/zFI+a+1RYaRmncKoTcZytBOvEUqAxyNyLuVQR93p14KgVoQmd",
            "QIwYkb39EM9it5ECgYB/z+ZrCFhY3GCyV1y3+iWd63cphspIJ+Pq9+sQL1r+ZE2u3yQK8ZAM+O30Amf0xIRoC7XCznhrOOZcueh/",
            "ZszB7Y12Bk6k+QytrIfUqq3ECmDGfCrcdu8IAyf4WEGMmrglx1OvtuR+wBwxdS8/rMGBFkW55zc8hyhue9Gy9qGPlg==",
        ),
        n: concat!(
            "n09flkHlU458J3XyA-FehMCCJuMnBZHYbm7dZCBYG44_c2_bRbsxiHWfQgrm9rHRbW95uSECRapVCpD47P7UHg6EWwaZOdfSk33B",
            "VcYU9Df_higv2mwj95Xza_6SMMpvkFXKP6BcV44wgOtcZ7NcctxdHSG8pxpp1Ybd-NW2ZIVZ4MF6VZrHIwfuqP7S_0PUuCTTeacT",
            "ZkaHmIIsY3mhV_iX0CVnKL5htOVTsRTD-6x57kyXo7lSsXgP8Co2AKuKgrP8KXWa8r-b3rm9ro_s6zCBb2SlamdJCORinZ7fBEG2",
            "JWTZQRrbmCe-p4IaNEpTN3nvwqWwaBzndujRA0HW9w",
        ),
        e: "AQAB",
    },
    FixedKey {
        private_der_b64: concat!(
            "MIIEogIBAAKCAQEAtUS1P5hzeZ4m1hODdKhx1IBOGTTUmIeshibBC24t12JJMbMBrnVmSl4vqL8I4KivffuXt0vF0wcKC4GMHtnf",
            "laEulUF6FG0oRXTqYiTiotPsXxLdutKq6/5BSEB6elZPSpv8SyG15sXxKlRtXYg0oemf6QnrbSEV5c2bfOeKwCKg5V9ISjJwO0D3",
            "Q5HgNszow6Xou18pP1LJUwkY5j2bfDJH+zYUfai/DacocvmMzLf7OiflSL3g6zRLeuj6mjfRXLeetNKguS6OAuY8jPspJ+Nag1pO",
            "UoUmXjH9WipQxatUXQjFntyr17OnzcOPfxCUqVXZRzF2EKgmiiReFRqOzwIDAQABAoIBADg2b+yiVsES0eFWWNA/AlnPVijL8NfC",
            "Tzak4v2r88xUvvUKGY3j+045qhbu8w5UUWPEt1ZQya65Apzx1iWlFAh/XQZNMVIPTctIR/0aiivLg4QyQg+TEA0yIkWJNVIl3N36",
            "xID6GcJQhQrG9sloGUZSwFPQzzDe7z7+BWd1GFqffMBUz8BK9EgDr6D9aWiVpYJEHBy0hiOhqVRdW4J4cylnqDdfhKSS/OH0PVCJ",
            "5+rV2dTRqz9vTZwi0c+Nwjo89vYS+LDcZb13Y1RKIM1QRaW4u1sPzvPVjQLhhIkJxL761wXTfUoHdHWIsWWgwnJbVRQS2mtn4wFD",
            "kMPLMmq+Xp0CgYEA4RolUu4iTLcub/UyqV52rIEvPBZ3thu0y2f/YVeNlizMITn5ZDtgJvb4pQahJ8ZGmvHZqZoY2qh2E4q6v+CO",
            "d/ZedqANSCbhdo3Y+pIp3OV/TButXQcK1xnAoiGYVZtsgb5iN390OKrfBLE4IYR15MJudl2JaIwt3iFVKBo5uwUCgYEAziZKTRDn",
            "p0eJAdJHhzwCpTzoOZEtOO4MPBsCKS2CCvFINwDtVPdlrezI9k3KUNLzyhHonkjNolxO2w4VTd2Dq9q51fZC+tG7+QW+2edn4vk+",
            "8/luWgF2TlRtVTfZMl8MPhBOdJvWSHlVAaerFt/VbJ0sKxbSoRfkCMs2O6SL0sMCgYB88f9PpeCiBnefK1Hgkw96NwaZ6rqt+XkE",
            "AojNZkSv29O+iah1S0PWvPVM3H4tTrA4JxAzRNaQ4DsSI8n+4U0TJ0xNug9FQleZb6jFhMX51+UtwJsc7ODGfoPfOpiMxAWZiqyH",
            "s5Y2MhoyR5ApgpXR0V5xEwBHaK+5AXV8Gfp7ZQKBgBYXVlkB2cE8UjtGvHGKhcINT9lzbEQwhlEel9Gv1cK0boeuasBzLos/151F",
            "Ysvcf1GFL8deh+LBP5YL4U6R0V1mOAnstOrJ9PnPms8hFCnnic59SU0N4Q6tz3WVYYobU2WHO9EVLhZgIjLmM9hkritQgH4xmOq4",
            "c7BZjns/u9gfAoGAPVTfhHzBGmQwGQA1p9dZ422r+iwDkUCT9gibdXEZcU8uTGAbwi4RZBnn6gKPNPrPFYADFe1OeZm1OO87Qm3q",
            "PSX8/VISc7OxtzV8nGlMrVYTI3yX84R3MXKyZKQUXAE63wFubtVvlRM/JyipjLErKH4IgNWDPBleKXOSOsN2R9I=",
        ),
        n: concat!(
            "tUS1P5hzeZ4m1hODdKhx1IBOGTTUmIeshibBC24t12JJMbMBrnVmSl4vqL8I4KivffuXt0vF0wcKC4GMHtnflaEulUF6FG0oRXTq",
            "YiTiotPsXxLdutKq6_5BSEB6elZPSpv8SyG15sXxKlRtXYg0oemf6QnrbSEV5c2bfOeKwCKg5V9ISjJwO0D3Q5HgNszow6Xou18p",
            "P1LJUwkY5j2bfDJH-zYUfai_DacocvmMzLf7OiflSL3g6zRLeuj6mjfRXLeetNKguS6OAuY8jPspJ-Nag1pOUoUmXjH9WipQxatU",
            "XQjFntyr17OnzcOPfxCUqVXZRzF2EKgmiiReFRqOzw",
        ),
        e: "AQAB",
    },
    FixedKey {
        private_der_b64: concat!(
            "MIIEogIBAAKCAQEArfT61j/oDq0WH94kvGNN87Uo4AsJHGSRywX2kHYgshWm19lbCkji3N+QWGCn59dTMY3xvFYlO35Rz+r2TdUb",
            "UtQw7U5S/NRxVgt8YsT61AEByh9214a5EzX/Y4QYBVIXkG/uRqdUEJVS2WuqH7+CmqIBEDKfnoji+5z0upGSaa/Y6hzxNZblHw+r",
            "eACo45S59v99ZWIH3GrSbWN3YMGNOWiDDgmF0z7x7LOeiKvACg/gtKkM6aOSfm3H5Fsg703DfNhfC4elzjFpdTtB5KA1TpgQOVGu",
            "LA8kHZU/0KbvvHXH1205A3Kt+7DvOKITOq10QHZJD+baTyXX/gwyMG3sUQIDAQABAoIBAAibLjH9dkdMGUQtOQVsNwwBpF6dsych",
            "Q1x/THcSDgzrcO48u9Ig4B7n7Vfu+72Wx8ATzv/npebJKYZjICmCe5wj4PILmgPVxY/piG9JQiTNEjPoDbjM2rEMbsizTT4tpRpt",
            "bDUZBAngPlmg98kjcBRjA5ET5RVafbrPpYSprSv+7RRpKJR/1GnQ6PzPJlFMcoPj941le6yY6tQor+TiWk8Z9s8KEDcbRZ0Ci3Co",
            "RvSSvytymFIGXdCS9R7R9L0RqvfVRqyOcx65FUS1Ti/wvcg6/Ps0GrUNjSnLvVdvtiz+oup0L4/5iD/SonvnukxKRExHOTNO55qe",
            "m1WGxEPE7uECgYEA2mrJjlubCTYS9zuRgO0O9PYY2rIjtkKLkjsqHZ/kfP+GL2k9ahdaBrSbR6NL+QuEtEMpQeSSBDdNoJqDPo4A",
            "gAScV6Sv6rwHItUuscwf8GO4gpuFh+3NyYrYI4OndFI9p0pVouA3k0MAUz5CC7oo95oXVDsrSD/9FWNxmrPi4SECgYEAy+O756Sc",
            "nEZd1JsDPOj+xkFEKdbVwXXmgDVrpXToeh1Ze70B5ZENPjgWaLHJ8cpXu/1fnfdH63XhbqhVMVREQ7srffPbsvvsSUbeDR4vxBBD",
            "InAwTV+KHAcGHT/IkHSIbC8ROChOYvFtzZgCQ0zGyINfOr53+zT6MI3u8CvFNTECgYBiqKfgoOpX79ADUyn3ZZ1C80LozlypQEfR",
            "Rt5QQWAxQi63jb8LA/9LVhtp8Y4osZZA4rFpLTjzpJNw/zpXcEczjGGeiSpZSpOinU8ZSs4GhNTcUimv66/v4MKe0CI8vcVRopcq",
            "GkOgRjyIXW/x4iYNKdJt3sg/O4AzQBcZvTW3YQKBgC2eE2Gdg+i3GbFCyXOsUax718tgpMy3G05eJWqMgKMpw+aagD0jugnMtL7R",
            "4HP3qK+H3gfS1sWIx1ph0UXLK8bXrsBseiBOmyw97dqTgW5lkQ+4eCYnlRf2Plj292HSoN9LnJeq9PbQO5f/RapXGDaupfTXvrJ2",
            "xO9uIiKcOHBRAoGAM7bDQv7VZZRKGIIC1V/dgFEmyrR6pxC9Na1hCJcHrGwy/0Yqbdqo4DbYusTLBv7oW6fUYJqs6hlBnTFw6taj",
            "S/GMXmni3z5z0gnNMTB1cvi7RrQODYo8uVoyJnPAWeyEHMgh5fDNN2Yipd3tYaw1oGPyFrtqlCfptOKWoq/SThw=",
        ),
        n: concat!(
            "rfT61j_oDq0WH94kvGNN87Uo4AsJHGSRywX2kHYgshWm19lbCkji3N-QWGCn59dTMY3xvFYlO35Rz-r2TdUbUtQw7U5S_NRxVgt8",
            "YsT61AEByh9214a5EzX_Y4QYBVIXkG_uRqdUEJVS2WuqH7-CmqIBEDKfnoji-5z0upGSaa_Y6hzxNZblHw-reACo45S59v99ZWIH",
            "3GrSbWN3YMGNOWiDDgmF0z7x7LOeiKvACg_gtKkM6aOSfm3H5Fsg703DfNhfC4elzjFpdTtB5KA1TpgQOVGuLA8kHZU_0KbvvHXH",
            "1205A3Kt-7DvOKITOq10QHZJD-baTyXX_gwyMG3sUQ",
        ),
        e: "AQAB",
    },
    FixedKey {
        private_der_b64: concat!(
            "MIIEowIBAAKCAQEApXidJqMW3yCTLvCCjtcZaP/M/KW3o82Nwuy4Mwfok/w3kvNDZjNqEmGJCGypvOSjmOtbuxczkySR7jv4zRvR",
            "T7RxzpsKaj1PwZqAZGMhUpdmva/n0nSJnJ7nx1D7e/rQmIYS9S6jKOwdU1rS389DCfjaR41wksXcPIevr1rqF6jXKxAmbXzlMWM9",
            "25QYdkkSMwur+CcSB1LAfZWowLfDCfXNKN0R6lEMdvP4YLVizoYlOCuLTgLjeVmzZsovamNud8kSHJrndiLqf9hoSljJgWVa/3VJ",
            "GWtlgQGNzENSL9FivHAWrsWkskdeVp7aRsuW2EH3ks6XNpnOcrF5y41jMwIDAQABAoIBAAk/jwT9G4bYBfHn+Y9GbWilcQCnIHbt",
            "9hNKPyQda1d0dgS0E1ti2nXxic+oBx3Q55kUTazmWviv4N1TiinbxdyYq/DnHUA0pUCfkOp+pRRxJ6OVcWidU9QM1TNNW7W66uEd",
            "D6Uwq850BLjHPD7/ET+ju+UNsWUhD7I5+szbURC5kd/CSzsrpQTYoBjxzls+ey0P4njNIDnFnyzweMC+cCh4ZA8LVP5K9qOdZUev",
            "UPKPYOMTsORGbsZ1CxH7482vKVh9EoeoOVqqu12lpA1NdNsRctE5EEWso3bFhSRAXO3Xx6esSe18cFXs5xPp0eX3D2KgTb3q9sKd",
            "zJbCt3ZOy/UCgYEA4cHehQEYKmlFOPce3u0QkKf/3HxqUc6sBkgnMsiH8nNtQ0yKgGe7gwjD2pMSkdO7RHGYHaiq9tTOifdfr3NX",
            "UAOlkYw688OPiGy3USzQ7OMxgoS3oPoqTkRlJ7f4FUqZIGu3AizAQnWsibaONntxQYqjoznEHRyE46Enwl28aU0CgYEAu6NJ5aVA",
            "K8Cklta5apTQFsh/A8ao1lsIqS+tHiM9WGlfv6qeD5jMVdidLhpciilr2GfusydhCNZKPTgbna1UcGOhIM4+oKs8/WSHl0wq7peK",
            "rY4WdZMzc9qwb267MGJ52A0IDkS62DTfTvzNWx3nH4C602uW3dKA07c3jWGmvn8CgYEA1Qr1CKLtwSgysP1T3p/s3/YKWHH4i1bz",
            "s8Hna98dm8kdtULH+UDrDU76NIxSG9epg3+HQ4XmQKS2fDA71gCMxu+KEX46K8vC6cVegXY/ey0zja3c9EbgIZgdtYvAy6boNlYw",
            "EBdXH+CYgCUMs5FuYaGJpwFedvJw3bc5JAz9PokCgYBPOLP8h3a+gkl7fhEu1MG+vMwTtg6W4jyX4g8/iDVgXK0WaVzuzN6I6DoE",
            "uxCTLMXhyo/XiCrJ5l/V1RijzAi4ovfmt+1tPJ81hPpSgNAniEf+2tzUq1+v7IdNpPzXgtxawbXDAHW6zyfxW38Al3F7tYgrt2Mt",
            "KLFHsjV8NdyG1QKBgA8vBoGSZog1lgwYG9mYYuyTbQICeCYh2m6TGQpV347NWdAW9+mgwuJTF5rzWgQoHa7u3duKFhULjFTDTbr3",
            "mR3gZzMda0/LppQq+a7w5nhLp9h/uhzsilPkvt41Nqye1OpWI8BqXtb3YbzHare9SB7qX4Wd4J1sTqE8vzZHcvKq",
        ),
        n: concat!(
            "pXidJqMW3yCTLvCCjtcZaP_M_KW3o82Nwuy4Mwfok_w3kvNDZjNqEmGJCGypvOSjmOtbuxczkySR7jv4zRvRT7RxzpsKaj1PwZqA",
            "ZGMhUpdmva_n0nSJnJ7nx1D7e_rQmIYS9S6jKOwdU1rS389DCfjaR41wksXcPIevr1rqF6jXKxAmbXzlMWM925QYdkkSMwur-CcS",
            "B1LAfZWowLfDCfXNKN0R6lEMdvP4YLVizoYlOCuLTgLjeVmzZsovamNud8kSHJrndiLqf9hoSljJgWVa_3VJGWtlgQGNzENSL9Fi",
            "vHAWrsWkskdeVp7aRsuW2EH3ks6XNpnOcrF5y41jMw",
        ),
        e: "AQAB",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_keys_decode_and_sign() {
        for (i, fixed) in FIXED_KEYS.iter().enumerate() {
            assert!(STANDARD.decode(fixed.private_der_b64).is_ok(), "key {i}");
            let key = fixed_key(i, format!("k{i}"), vec![]);
            assert!(key.sign(Algorithm::RS256, &json!({"a": 1})).is_ok(), "key {i}");
        }
    }

    #[test]
    fn rotation_publishes_a_new_signing_key_and_keeps_the_old() {
        let server = OpenIdServer::new();
        let old = server.signing_kid();
        let new = server.rotate();
        assert_ne!(old, new);
        assert_eq!(server.signing_kid(), new);
        let kids: Vec<String> = server.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(kids, vec![old.clone(), new]);
        assert!(server.retire(&old));
        assert_eq!(server.jwks()["keys"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn claims_builder_writes_bot_framework_claim_names() {
        let claims = BotClaims::at("app", "https://smba.trafficmanager.net/amer/", 1_000).to_json();
        assert_eq!(claims["iss"], BOT_FRAMEWORK_ISSUER);
        assert_eq!(claims["aud"], "app");
        assert_eq!(claims["serviceurl"], "https://smba.trafficmanager.net/amer/");
        assert_eq!(claims["nbf"], 700);
        assert_eq!(claims["exp"], 4_600);
        let without = BotClaims::at("app", "x", 0).service_url(None).expires(None).to_json();
        assert!(without.get("serviceurl").is_none() && without.get("exp").is_none());
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 16 (F3, F4) at the webhook: everything that depends only on the token is checked before the body is
//! parsed, so an unauthenticated caller costs no parse and learns nothing of the schema (401, never 400); the
//! activity-bound checks (endorsement, serviceUrl claim, tenant) run after parsing; and with the metadata server
//! down at cold start, requests do not each fetch the keys. No timing is measured: "not parsed" is shown by
//! bodies that would fail to parse, answered 401 instead of 400.

use auth::{AuthConfig, Authenticator};
use connector::RecordingConnector;
use fake_teams::openid::{BotClaims, OpenIdServer, tamper_payload};
use models::ConversationId;
use serde_json::{Value, json};
use service::api::BotIdentity;
use service::{App, Inbound};
use std::sync::Arc;
use store::{MemoryStore, Timestamp};

const APP_ID: &str = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CONVERSATION: &str = "a:1personal";
const MAX_BODY: usize = 256 * 1024;

struct Harness {
    app: App,
    connector: Arc<RecordingConnector>,
    store: Arc<MemoryStore>,
    openid: OpenIdServer,
}

async fn harness() -> Harness {
    let openid = OpenIdServer::new();
    let addr = openid.serve().await.unwrap();
    let mut config = AuthConfig::new(APP_ID);
    config.openid_metadata_url = url::Url::parse(&OpenIdServer::metadata_url(addr)).unwrap();
    let connector = Arc::new(RecordingConnector::new());
    let store = Arc::new(MemoryStore::new());
    let app = App {
        identity: BotIdentity::from_app_id(APP_ID, "Test Bot"),
        bot: Arc::new(minimal_bot::Minimal),
        connector: connector.clone(),
        store: store.clone(),
        service_urls: connector::ServiceUrlAllowlist::default(),
        inbound: Inbound::Verified(Arc::new(Authenticator::new(&config).unwrap())),
        welcome_roster: false,
    };
    Harness {
        app,
        connector,
        store,
        openid,
    }
}

fn activity(id: &str, text: &str) -> Value {
    json!({
        "type": "message", "id": id, "channelId": "msteams", "serviceUrl": SERVICE_URL,
        "from": {"id": "29:user", "name": "Megan", "aadObjectId": "7faf8ab2-3d56-4244-b585-20c8a42ed2b8"},
        "recipient": {"id": format!("28:{APP_ID}"), "name": "Test Bot"},
        "conversation": {"id": CONVERSATION, "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}},
        "text": text
    })
}

fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A body of exactly 256 KiB that is not JSON at all.
fn garbage_body() -> Vec<u8> {
    b"\x00not json {{{ ]] \xff"
        .iter()
        .copied()
        .cycle()
        .take(MAX_BODY)
        .collect()
}

/// About 26k keys in one object, just under 256 KiB, with a syntax error at its very end: a parser must read it
/// all before it can fail.
fn many_keys_body() -> Vec<u8> {
    let mut out = b"{\"type\":\"message\"".to_vec();
    let mut i = 0;
    while out.len() < MAX_BODY - 16 {
        out.extend_from_slice(format!(",\"k{i}\":0").as_bytes());
        i += 1;
    }
    assert!(i > 20_000, "{i} keys");
    out.extend_from_slice(b",}");
    assert!(out.len() <= MAX_BODY);
    out
}

impl Harness {
    fn good_token(&self) -> String {
        self.openid
            .sign(&BotClaims::new(APP_ID, SERVICE_URL).to_json())
            .unwrap()
    }

    async fn post(&self, authorization: Option<&str>, body: &[u8]) -> (u16, String) {
        let (status, _, body) = service::handle(&self.app, authorization, body).await.into_parts();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    async fn assert_untouched(&self) {
        let stored =
            store::Conversations::conversation(&*self.store, &ConversationId::from(CONVERSATION), Timestamp::now())
                .await
                .unwrap();
        assert!(stored.is_none(), "a rejected request stored the conversation");
        assert!(
            self.connector.calls().is_empty(),
            "a rejected request sent {:?}",
            self.connector.calls()
        );
    }

    /// Posts, asserts the status, that the reason says something and names no activity field, and that nothing
    /// was stored or sent.
    async fn refused(&self, authorization: Option<&str>, body: &[u8], status: u16) -> String {
        let (got, reason) = self.post(authorization, body).await;
        assert_eq!(got, status, "reason: {reason}");
        assert!(!reason.is_empty(), "a rejection must say why");
        if status != 400 {
            for leak in ["not an activity", "from", "line ", "column", "expected", "key must be"] {
                assert!(!reason.contains(leak), "the reason leaks parse detail: {reason}");
            }
        }
        self.assert_untouched().await;
        reason
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_with_a_bad_token_is_401_not_400() {
    let h = harness().await;
    let garbage = garbage_body();
    h.refused(Some("Bearer x"), &garbage, 401).await;
    h.refused(Some("Bearer not.a.jwt"), &garbage, 401).await;
    // A well-formed token whose signature does not verify (the keys are fetched for it, then it is refused).
    let tampered = tamper_payload(&h.good_token(), &BotClaims::new("another-app", SERVICE_URL).to_json());
    h.refused(Some(&bearer(&tampered)), &garbage, 401).await;
    // Expired: refused before parsing too.
    let expired = h
        .openid
        .sign(
            &BotClaims::new(APP_ID, SERVICE_URL)
                .expires(Some(fake_teams::openid::unix_now() - 3600))
                .to_json(),
        )
        .unwrap();
    h.refused(Some(&bearer(&expired)), &garbage, 401).await;
}

#[tokio::test]
async fn a_26k_key_body_with_a_bad_token_is_401_not_400() {
    let h = harness().await;
    let heavy = many_keys_body();
    assert!(serde_json::from_slice::<Value>(&heavy).is_err());
    h.refused(Some("Bearer x"), &heavy, 401).await;
    let tampered = tamper_payload(&h.good_token(), &BotClaims::new("another-app", SERVICE_URL).to_json());
    h.refused(Some(&bearer(&tampered)), &heavy, 401).await;
    // With a valid token the same body is parsed, and is a 400.
    h.refused(Some(&bearer(&h.good_token())), &heavy, 400).await;
}

#[tokio::test]
async fn parse_errors_are_not_shown_before_the_token_check_passed() {
    let h = harness().await;
    let mut malformed = activity("1", "hi");
    malformed["from"] = json!({"id": 42});
    let forged = tamper_payload(&h.good_token(), &BotClaims::new("another-app", SERVICE_URL).to_json());
    h.refused(Some(&bearer(&forged)), &body(&malformed), 401).await;
    h.refused(Some("Bearer x"), &body(&malformed), 401).await;
    h.refused(Some("Bearer x"), b"{\"text\": \"no type\"}", 401).await;
}

#[tokio::test]
async fn a_valid_token_with_a_malformed_body_is_still_400_naming_the_field() {
    let h = harness().await;
    let token = bearer(&h.good_token());
    let mut malformed = activity("1", "hi");
    malformed["from"] = json!({"id": 42});
    let reason = h.refused(Some(&token), &body(&malformed), 400).await;
    assert!(reason.contains("from"), "the reason names the field: {reason}");
    h.refused(Some(&token), &garbage_body(), 400).await;
}

#[tokio::test]
async fn a_token_with_crit_is_401() {
    let h = harness().await;
    // jsonwebtoken's `Header` (by inference: this crate does not depend on jsonwebtoken), signed validly.
    let header = serde_json::from_value(json!({
        "alg": "RS256", "typ": "JWT", "kid": h.openid.signing_kid(), "crit": ["exp"]
    }))
    .unwrap();
    let token = h
        .openid
        .sign_with_header(&header, &BotClaims::new(APP_ID, SERVICE_URL).to_json())
        .unwrap();
    h.refused(Some(&bearer(&token)), &body(&activity("1", "hi")), 401).await;
    // The same token without crit is accepted.
    let (status, reason) = h
        .post(Some(&bearer(&h.good_token())), &body(&activity("1", "hi")))
        .await;
    assert_eq!(status, 200, "{reason}");
}

#[tokio::test]
async fn activity_bound_checks_still_run_after_parsing() {
    let h = harness().await;
    let emea = h
        .openid
        .sign(&BotClaims::new(APP_ID, "https://smba.trafficmanager.net/emea/").to_json())
        .unwrap();
    h.refused(Some(&bearer(&emea)), &body(&activity("1", "hi")), 403).await;
    let mut webchat = activity("1", "hi");
    webchat["channelId"] = json!("webchat");
    h.refused(Some(&bearer(&h.good_token())), &body(&webchat), 403).await;
    // A token problem outranks an activity problem: expired and for another serviceUrl is 401.
    let both = h
        .openid
        .sign(
            &BotClaims::new(APP_ID, "https://smba.trafficmanager.net/emea/")
                .expires(Some(fake_teams::openid::unix_now() - 3600))
                .to_json(),
        )
        .unwrap();
    h.refused(Some(&bearer(&both)), &body(&activity("1", "hi")), 401).await;
}

#[tokio::test]
async fn with_the_keys_unavailable_a_bad_body_is_503_not_400() {
    // The token could be fine, so the answer is 503 (retry), and the body is not looked at.
    let h = harness().await;
    h.openid.set_failing(true);
    h.refused(Some(&bearer(&h.good_token())), &garbage_body(), 503).await;
}

#[tokio::test]
async fn metadata_down_at_cold_start_50_webhook_requests_cause_a_bounded_number_of_fetches() {
    let h = harness().await;
    h.openid.set_failing(true);
    let token = bearer(&h.good_token());
    let b = body(&activity("1", "hi"));
    for _ in 0..50 {
        h.refused(Some(&token), &b, 503).await;
    }
    let fetches = h.openid.metadata_fetches();
    eprintln!("webhook, metadata down, 50 requests: {fetches} metadata fetches");
    assert!((1..=3).contains(&fetches), "{fetches} fetches for 50 requests");
    // Unsigned junk never fetches.
    let before = h.openid.metadata_fetches();
    let unsigned = fake_teams::openid::unsigned_token(
        &json!({"alg": "RS256", "kid": h.openid.signing_kid()}),
        &BotClaims::new(APP_ID, SERVICE_URL).to_json(),
    );
    for _ in 0..50 {
        h.refused(Some(&bearer(&unsigned)), &b, 401).await;
    }
    assert_eq!(h.openid.metadata_fetches(), before);
}

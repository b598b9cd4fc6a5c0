//! The webhook against hostile and broken input, for the bot `super::bot()`: each case asserts the status and
//! that nothing was stored and nothing was sent. Keys come from the fake OpenID server over HTTP; the store and the Connector are the
//! in-memory adapters beside their ports.

use auth::{AuthConfig, Authenticator};
use connector::RecordingConnector;
use fake_teams::openid::{BotClaims, OpenIdServer, tamper_payload, unix_now, unsigned_token};
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

struct Harness {
    app: App,
    connector: Arc<RecordingConnector>,
    store: Arc<MemoryStore>,
    openid: OpenIdServer,
}

async fn harness(configure: impl FnOnce(AuthConfig) -> AuthConfig) -> Harness {
    let openid = OpenIdServer::new();
    let addr = openid.serve().await.unwrap();
    let mut config = AuthConfig::new(APP_ID);
    config.openid_metadata_url = url::Url::parse(&OpenIdServer::metadata_url(addr)).unwrap();
    let config = configure(config);
    let connector = Arc::new(RecordingConnector::new());
    let store = Arc::new(MemoryStore::new());
    let app = App {
        identity: BotIdentity::from_app_id(APP_ID, "Test Bot"),
        bot: super::bot(),
        connector: connector.clone(),
        store: store.clone(),
        service_urls: connector::ServiceUrlAllowlist::default(),
        inbound: Inbound::Verified(Arc::new(Authenticator::new(&config).unwrap())),
        welcome_roster: false,
        known: std::sync::Arc::default(),
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

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

impl Harness {
    fn token(&self, claims: &BotClaims) -> String {
        self.openid.sign(&claims.to_json()).unwrap()
    }

    fn good_token(&self) -> String {
        self.token(&BotClaims::new(APP_ID, SERVICE_URL))
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

    async fn rejected(&self, authorization: Option<&str>, body: &[u8], status: u16) {
        let (got, reason) = self.post(authorization, body).await;
        assert_eq!(got, status, "reason: {reason}");
        assert!(!reason.is_empty(), "a rejection must say why");
        self.assert_untouched().await;
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

fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

#[tokio::test]
async fn a_valid_token_is_accepted_answered_and_recorded() {
    let h = harness(|c| c).await;
    let (status, _) = h
        .post(Some(&bearer(&h.good_token())), &body(&activity("1", "hello")))
        .await;
    assert_eq!(status, 200);
    let sent = h.connector.sent_activities();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].text(), Some(super::HELLO_REPLY));
    let stored = store::Conversations::conversation(&*h.store, &ConversationId::from(CONVERSATION), Timestamp::now())
        .await
        .unwrap()
        .expect("conversation recorded");
    assert_eq!(stored.reference.service_url, SERVICE_URL);
}

#[tokio::test]
async fn a_replayed_activity_is_accepted_once_and_not_acted_on_twice() {
    let h = harness(|c| c).await;
    let token = bearer(&h.good_token());
    for _ in 0..3 {
        let (status, _) = h.post(Some(&token), &body(&activity("same-id", "hello"))).await;
        assert_eq!(status, 200);
    }
    assert_eq!(h.connector.sent_activities().len(), 1);
}

#[tokio::test]
async fn missing_wrong_scheme_and_garbage_headers_are_401() {
    let h = harness(|c| c).await;
    let b = body(&activity("1", "hi"));
    h.rejected(None, &b, 401).await;
    h.rejected(Some(""), &b, 401).await;
    h.rejected(Some(&format!("Basic {}", h.good_token())), &b, 401).await;
    h.rejected(Some("Bearer not.a.jwt"), &b, 401).await;
    h.rejected(Some("Bearer"), &b, 401).await;
}

#[tokio::test]
async fn forged_tokens_are_401() {
    let h = harness(|c| c).await;
    let b = body(&activity("1", "hi"));
    let claims = BotClaims::new(APP_ID, SERVICE_URL).to_json();
    let none = unsigned_token(&json!({"alg": "none", "typ": "JWT"}), &claims);
    h.rejected(Some(&bearer(&none)), &b, 401).await;
    let hmac = h.openid.sign_hs256_with_public_key(&claims).unwrap();
    h.rejected(Some(&bearer(&hmac)), &b, 401).await;
    let tampered = tamper_payload(&h.good_token(), &BotClaims::new("another-app", SERVICE_URL).to_json());
    h.rejected(Some(&bearer(&tampered)), &b, 401).await;
    let unpublished = h.openid.new_key(&["msteams"]);
    let unknown_key = unpublished.sign(auth::Algorithm::RS256, &claims).unwrap();
    h.rejected(Some(&bearer(&unknown_key)), &b, 401).await;
}

#[tokio::test]
async fn wrong_claims_are_401() {
    let h = harness(|c| c).await;
    let b = body(&activity("1", "hi"));
    let now = unix_now();
    for claims in [
        BotClaims::new("another-app", SERVICE_URL),
        BotClaims::new(APP_ID, SERVICE_URL).issuer(Some("https://sts.windows.net/evil/")),
        BotClaims::new(APP_ID, SERVICE_URL)
            .expires(Some(now - 301))
            .not_before(Some(now - 3600)),
        BotClaims::new(APP_ID, SERVICE_URL).not_before(Some(now + 400)),
        BotClaims::new(APP_ID, SERVICE_URL).expires(None),
    ] {
        h.rejected(Some(&bearer(&h.token(&claims))), &b, 401).await;
    }
}

#[tokio::test]
async fn just_inside_the_skew_is_accepted() {
    let h = harness(|c| c).await;
    let now = unix_now();
    let claims = BotClaims::new(APP_ID, SERVICE_URL)
        .expires(Some(now - 240))
        .not_before(Some(now - 3600));
    let (status, _) = h
        .post(Some(&bearer(&h.token(&claims))), &body(&activity("1", "hi")))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn service_url_claim_endorsement_and_tenant_failures_are_403() {
    let h = harness(|c| c.with_allowed_tenants(["11111111-2222-3333-4444-555555555555"])).await;
    let b = body(&activity("1", "hi"));
    // The tenant is not allowed (the token itself is fine).
    h.rejected(Some(&bearer(&h.good_token())), &b, 403).await;

    let h = harness(|c| c).await;
    let mismatch = BotClaims::new(APP_ID, "https://smba.trafficmanager.net/emea/");
    h.rejected(Some(&bearer(&h.token(&mismatch))), &b, 403).await;
    let missing = BotClaims::new(APP_ID, SERVICE_URL).service_url(None);
    h.rejected(Some(&bearer(&h.token(&missing))), &b, 403).await;
    // A key endorsed for another channel only (published before this harness fetches its keys).
    let h = harness(|c| c).await;
    let webchat_only = h.openid.publish_new_key(&["webchat"]);
    let token = webchat_only
        .sign(auth::Algorithm::RS256, &BotClaims::new(APP_ID, SERVICE_URL).to_json())
        .unwrap();
    h.rejected(Some(&bearer(&token)), &b, 403).await;
}

#[tokio::test]
async fn oversize_and_malformed_bodies_are_413_and_400() {
    let h = harness(|c| c).await;
    let token = bearer(&h.good_token());
    let mut big = activity("1", "hi");
    big["text"] = Value::String("x".repeat(300 * 1024));
    h.rejected(Some(&token), &body(&big), 413).await;
    h.rejected(Some(&token), b"{\"type\": \"message\", ", 400).await;
    h.rejected(Some(&token), b"[1, 2, 3]", 400).await;
    h.rejected(Some(&token), b"{\"text\": \"no type\"}", 400).await;
    let mut malformed = activity("1", "hi");
    malformed["from"] = json!({"id": 42});
    let (status, reason) = h.post(Some(&token), &body(&malformed)).await;
    assert_eq!(status, 400);
    assert!(reason.contains("from"), "the reason names the field: {reason}");
    h.assert_untouched().await;
}

#[tokio::test]
async fn a_service_url_our_token_may_not_go_to_is_403() {
    let mut h = harness(|c| c).await;
    h.app.inbound = Inbound::Anonymous;
    let mut foreign = activity("1", "hi");
    foreign["serviceUrl"] = json!("https://smba.trafficmanager.net.evil.com/amer/");
    h.rejected(None, &body(&foreign), 403).await;
    foreign["serviceUrl"] = json!("http://localhost:56150/_connector");
    h.rejected(None, &body(&foreign), 403).await;
}

#[tokio::test]
async fn anonymous_mode_needs_no_token() {
    let mut h = harness(|c| c).await;
    h.app.inbound = Inbound::Anonymous;
    let (status, _) = h.post(None, &body(&activity("1", "hello"))).await;
    assert_eq!(status, 200);
    assert_eq!(h.connector.sent_activities().len(), 1);
}

#[tokio::test]
async fn an_unreachable_state_store_is_503_and_nothing_is_sent() {
    // The real DynamoDB adapter pointed at a closed loopback port: the SDK's connection error must become 503
    // (so Teams retries), never a 500, and the bot must not act on an activity it could not record.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let sdk = aws_sdk_dynamodb::config::Builder::new()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("t", "t", None, None, "test"))
        .endpoint_url(endpoint)
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(1))
        .build();
    let store = store::DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(sdk), "unreachable");
    let mut h = harness(|c| c).await;
    h.app.store = Arc::new(store);
    h.app.inbound = Inbound::Anonymous;
    let (status, reason) = h.post(None, &body(&activity("1", "hello"))).await;
    assert_eq!(status, 503, "{reason}");
    assert!(h.connector.calls().is_empty());
}

#[tokio::test]
async fn only_the_webhook_warms_the_signing_keys_at_start() {
    let openid = OpenIdServer::new();
    let addr = openid.serve().await.unwrap();
    let dir = std::env::temp_dir().join(format!("service-prefetch-{}", std::process::id()));
    let vars: std::collections::HashMap<&str, String> = [
        ("MICROSOFT_APP_ID", APP_ID.to_owned()),
        ("MICROSOFT_APP_PASSWORD", "pw".to_owned()),
        ("MICROSOFT_APP_TENANT_ID", TENANT.to_owned()),
        ("BOT_OPENID_METADATA_URL", OpenIdServer::metadata_url(addr)),
        ("STATE_PATH", dir.join("state.redb").display().to_string()),
    ]
    .into();
    let config = service::Config::from_lookup(service::Runtime::Devserver, |k| vars.get(k).cloned()).unwrap();
    // What the stream functions do: build, never verify a token, so never fetch keys.
    let (app, _) = App::build_with(
        &config,
        service::TenantPacing::Shared,
        std::sync::Arc::new(service::api::NoBot),
    )
    .await
    .unwrap();
    assert_eq!((openid.metadata_fetches(), openid.jwks_fetches()), (0, 0));
    // What the webhook (messages function, devserver) does next.
    app.prefetch_inbound_keys().await;
    assert_eq!((openid.metadata_fetches(), openid.jwks_fetches()), (1, 1));
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- the token before the body (issue 16, F3/F4) ----
//
// Everything that depends only on the token is checked before the body is parsed, so an unauthenticated caller
// costs no parse and learns nothing of the schema (401, never 400); the activity-bound checks (endorsement,
// serviceUrl claim, tenant) run after parsing; with the metadata server down at cold start, requests do not each
// fetch the keys. No timing is measured: "not parsed" is shown by bodies that would fail to parse, answered 401
// instead of 400.

/// A body of exactly 256 KiB that is not JSON at all.
fn garbage_body() -> Vec<u8> {
    b"\x00not json {{{ ]] \xff"
        .iter()
        .copied()
        .cycle()
        .take(service::webhook::MAX_BODY_BYTES)
        .collect()
}

/// About 26k keys in one object, just under 256 KiB, with a syntax error at its very end: a parser must read it
/// all before it can fail.
fn many_keys_body() -> Vec<u8> {
    let mut out = b"{\"type\":\"message\"".to_vec();
    let mut i = 0;
    while out.len() < service::webhook::MAX_BODY_BYTES - 16 {
        out.extend_from_slice(format!(",\"k{i}\":0").as_bytes());
        i += 1;
    }
    assert!(i > 20_000, "{i} keys");
    out.extend_from_slice(b",}");
    assert!(out.len() <= service::webhook::MAX_BODY_BYTES);
    out
}

#[tokio::test]
async fn a_body_that_is_not_json_with_a_bad_token_is_401_not_400() {
    let h = harness(|c| c).await;
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
    let h = harness(|c| c).await;
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
    let h = harness(|c| c).await;
    let mut malformed = activity("1", "hi");
    malformed["from"] = json!({"id": 42});
    let forged = tamper_payload(&h.good_token(), &BotClaims::new("another-app", SERVICE_URL).to_json());
    h.refused(Some(&bearer(&forged)), &body(&malformed), 401).await;
    h.refused(Some("Bearer x"), &body(&malformed), 401).await;
    h.refused(Some("Bearer x"), b"{\"text\": \"no type\"}", 401).await;
}

#[tokio::test]
async fn a_valid_token_with_a_malformed_body_is_still_400_naming_the_field() {
    let h = harness(|c| c).await;
    let token = bearer(&h.good_token());
    let mut malformed = activity("1", "hi");
    malformed["from"] = json!({"id": 42});
    let reason = h.refused(Some(&token), &body(&malformed), 400).await;
    assert!(reason.contains("from"), "the reason names the field: {reason}");
    h.refused(Some(&token), &garbage_body(), 400).await;
}

#[tokio::test]
async fn a_token_with_crit_is_401() {
    let h = harness(|c| c).await;
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
    let h = harness(|c| c).await;
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
    let h = harness(|c| c).await;
    h.openid.set_failing(true);
    h.refused(Some(&bearer(&h.good_token())), &garbage_body(), 503).await;
}

#[tokio::test]
async fn metadata_down_at_cold_start_50_webhook_requests_cause_a_bounded_number_of_fetches() {
    let h = harness(|c| c).await;
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

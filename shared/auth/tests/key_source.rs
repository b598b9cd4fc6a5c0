//! Key rotation, refresh and outage behaviour: against the fake OpenID server over HTTP (real clock, no time
//! assertions), and with a scripted in-memory fetcher under tokio's paused clock for the intervals. Issue 16, F3:
//! with no signing keys cached (the metadata server down at cold start), requests must not each cause a metadata
//! and JWKS fetch: failed fetches back off (one in flight, then a growing pause), and a token that cannot
//! possibly verify never causes a fetch at all.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] fns"
)]

use auth::{AuthConfig, AuthError, Authenticator, FetchError, FetchKeys, KeySet, KeySource};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fake_teams::openid::{BotClaims, OpenIdServer, TEAMS_CHANNEL, unsigned_token};
use http::StatusCode;
use models::{Activity, TeamsChannelData, TenantId};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

const APP_ID: &str = "00000000-0000-0000-0000-00000000b07a";
const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";
const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);
const SECOND: Duration = Duration::from_secs(1);

fn activity() -> Activity {
    Activity {
        channel_id: Some(TEAMS_CHANNEL.to_owned()),
        service_url: Some(SERVICE_URL.to_owned()),
        channel_data: Some(TeamsChannelData::for_tenant(TenantId::from("tenant-1"))),
        ..Activity::default()
    }
}

fn bearer(server: &OpenIdServer) -> String {
    format!("Bearer {}", server.sign(&BotClaims::new(APP_ID, SERVICE_URL)).unwrap())
}

async fn served(config: impl FnOnce(&mut AuthConfig)) -> (OpenIdServer, Authenticator) {
    let server = OpenIdServer::new();
    let addr = server.serve().await.unwrap();
    let mut auth_config = AuthConfig::new(APP_ID);
    auth_config.openid_metadata_url = OpenIdServer::metadata_url(addr).parse().unwrap();
    config(&mut auth_config);
    let authenticator = Authenticator::new(&auth_config).unwrap();
    (server, authenticator)
}

/// Tokens no key can ever verify: not a JWT, a refused `alg`, no `kid`, and well-formed headers with a payload
/// or signature that cannot be a signed JWT (empty, too short for any RSA key of 2048 to 8192 bits, not base64url).
fn junk_tokens(kid: &str) -> Vec<String> {
    let claims = BotClaims::new(APP_ID, SERVICE_URL).to_json();
    let rs256 = |header: serde_json::Value| unsigned_token(&header, &claims);
    let plausible_signature = URL_SAFE_NO_PAD.encode([0_u8; 256]);
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": kid}).to_string());
    vec![
        "x".to_owned(),
        "a.b".to_owned(),
        "a.b.c".to_owned(),
        rs256(json!({"alg": "none", "kid": kid})),
        rs256(json!({"alg": "HS256", "kid": kid})) + "c2ln",
        rs256(json!({"alg": "RS256"})) + &plausible_signature,
        // Unsigned junk with a well-formed RS256 header and a known kid.
        rs256(json!({"alg": "RS256", "kid": kid})),
        rs256(json!({"alg": "RS256", "kid": kid})) + "c2ln",
        rs256(json!({"alg": "RS256", "kid": kid})) + &URL_SAFE_NO_PAD.encode([0_u8; 128]),
        rs256(json!({"alg": "RS256", "kid": kid})) + &URL_SAFE_NO_PAD.encode([0_u8; 1025]),
        rs256(json!({"alg": "RS256", "kid": kid})) + "!!!!",
        format!("{header}.%%%%.{plausible_signature}"),
    ]
}

// ---- against the fake OpenID server over HTTP ----

#[tokio::test]
async fn keys_are_fetched_once_and_reused() {
    let (server, auth) = served(|_| {}).await;
    for _ in 0..10 {
        auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    }
    assert_eq!(server.metadata_fetches(), 1);
    assert_eq!(server.jwks_fetches(), 1);
}

#[tokio::test]
async fn a_missing_header_is_refused_without_fetching_keys() {
    let (server, auth) = served(|_| {}).await;
    let error = auth.authenticate(None, &activity()).await.unwrap_err();
    assert!(matches!(error, AuthError::MissingHeader), "{error:?}");
    let error = auth.authenticate(Some("Bearer x.y"), &activity()).await.unwrap_err();
    assert!(matches!(error, AuthError::Malformed(_)), "{error:?}");
    assert_eq!(server.metadata_fetches(), 0);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_on_the_first_unknown_kid_without_restart() {
    // No wait between refetches here; the default interval is covered by the paused-clock test below.
    let (server, auth) = served(|c| c.refetch_interval = Duration::ZERO).await;
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    let new_kid = server.rotate();
    let claims = auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    assert_eq!(claims.key_id, new_kid);
    assert_eq!(server.jwks_fetches(), 2);
    // The new key is cached now: no more fetches.
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    assert_eq!(server.jwks_fetches(), 2);
}

#[tokio::test]
async fn unknown_kid_refetches_are_rate_limited() {
    let (server, auth) = served(|_| {}).await;
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    for _ in 0..5 {
        let stranger = server.new_key(&[TEAMS_CHANNEL]);
        let token = stranger
            .sign(auth::Algorithm::RS256, &BotClaims::new(APP_ID, SERVICE_URL))
            .unwrap();
        let error = auth
            .authenticate(Some(&format!("Bearer {token}")), &activity())
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::UnknownKey { .. }), "{error:?}");
        assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        server.metadata_fetches(),
        1,
        "random kids within the interval cause no fetch"
    );
}

#[tokio::test]
async fn a_metadata_server_that_is_down_does_not_stop_verification_with_cached_keys() {
    // Keys are stale at once and every request may try to refresh: each try fails, cached keys still verify.
    let (server, auth) = served(|c| {
        c.key_max_age = Duration::ZERO;
        c.refetch_interval = Duration::ZERO;
    })
    .await;
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    server.set_failing(true);
    for _ in 0..3 {
        auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    }
    assert_eq!(server.metadata_fetches(), 4, "a refresh was tried and failed each time");
    assert_eq!(auth.key_source().cached().unwrap().len(), 1);
}

#[tokio::test]
async fn no_cached_keys_and_the_server_down_is_503_then_recovers() {
    let (server, auth) = served(|_| {}).await;
    server.set_failing(true);
    let error = auth
        .authenticate(Some(&bearer(&server)), &activity())
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::KeysUnavailable(_)), "{error:?}");
    assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
    server.set_failing(false);
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_unknown_kid_requests_cause_one_fetch() {
    let (server, auth) = served(|c| c.refetch_interval = Duration::ZERO).await;
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    server.rotate();
    let auth = Arc::new(auth);
    let header = bearer(&server);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let auth = Arc::clone(&auth);
            let header = header.clone();
            tokio::spawn(async move { auth.authenticate(Some(&header), &activity()).await.map(|_| ()) })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(server.jwks_fetches(), 2, "the warm-up fetch and one shared refetch");
}

// ---- no keys cached and the metadata server failing (issue 16, F3), over HTTP ----

#[tokio::test]
async fn metadata_down_at_cold_start_50_requests_cause_a_bounded_number_of_fetches_then_recover() {
    let (server, auth) = served(|_| {}).await;
    server.set_failing(true);
    let header = bearer(&server);
    for _ in 0..50 {
        let error = auth.authenticate(Some(&header), &activity()).await.unwrap_err();
        assert!(matches!(error, AuthError::KeysUnavailable(_)), "{error:?}");
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let during_outage = server.metadata_fetches();
    eprintln!(
        "metadata down, 50 requests: {during_outage} metadata fetches, {} JWKS fetches",
        server.jwks_fetches()
    );
    assert!(
        (1..=3).contains(&during_outage),
        "50 requests while the metadata is down caused {during_outage} fetches"
    );

    // Back up: a valid token verifies once the backoff has passed (polled; no timing is asserted).
    server.set_failing(false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let claims = loop {
        match auth.authenticate(Some(&header), &activity()).await {
            Ok(claims) => break claims,
            Err(AuthError::KeysUnavailable(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("the server is back but the token is refused: {error:?}"),
        }
    };
    assert_eq!(claims.key_id, server.signing_kid());
    let recovered = server.metadata_fetches();
    eprintln!("recovered after {recovered} metadata fetches in all");
    assert_eq!(
        recovered,
        during_outage + 1,
        "one fetch after the backoff, which succeeded"
    );
    for _ in 0..10 {
        auth.authenticate(Some(&header), &activity()).await.unwrap();
    }
    assert_eq!(server.metadata_fetches(), recovered, "cached again: no more fetches");
}

#[tokio::test]
async fn tokens_that_cannot_verify_never_cause_a_fetch() {
    let (server, auth) = served(|_| {}).await;
    for _ in 0..5 {
        for token in junk_tokens(&server.signing_kid()) {
            let error = auth
                .authenticate(Some(&format!("Bearer {token}")), &activity())
                .await
                .unwrap_err();
            assert_eq!(error.status(), StatusCode::UNAUTHORIZED, "{token}: {error:?}");
        }
    }
    assert_eq!(
        (server.metadata_fetches(), server.jwks_fetches()),
        (0, 0),
        "junk tokens made the key source fetch"
    );
    // A real token still fetches (once) and verifies.
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    assert_eq!(server.metadata_fetches(), 1);
}

#[tokio::test]
async fn tokens_that_cannot_verify_are_401_even_with_the_metadata_down() {
    // Not 503: no fetch is tried, so the outage is not even noticed.
    let (server, auth) = served(|_| {}).await;
    server.set_failing(true);
    for token in junk_tokens(&server.signing_kid()) {
        let error = auth
            .authenticate(Some(&format!("Bearer {token}")), &activity())
            .await
            .unwrap_err();
        assert_eq!(error.status(), StatusCode::UNAUTHORIZED, "{token}: {error:?}");
    }
    assert_eq!(server.metadata_fetches(), 0);
}

// ---- scripted fetcher, paused clock ----

/// Serves the fake server's JWKS from memory after `delay`, counting fetches; can be told to fail.
struct Scripted {
    server: OpenIdServer,
    fetches: AtomicUsize,
    failing: AtomicBool,
    delay: Duration,
}

impl Scripted {
    fn new(server: &OpenIdServer, delay: Duration) -> Self {
        Self {
            server: server.clone(),
            fetches: AtomicUsize::new(0),
            failing: AtomicBool::new(false),
            delay,
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl FetchKeys for Scripted {
    async fn fetch(&self) -> Result<KeySet, FetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        if self.failing.load(Ordering::SeqCst) {
            return Err(FetchError::Status {
                stage: "JWKS",
                status: StatusCode::SERVICE_UNAVAILABLE,
            });
        }
        KeySet::from_jwks_json(self.server.jwks().to_string().as_bytes()).map_err(FetchError::Keys)
    }
}

fn scripted(delay: Duration) -> (OpenIdServer, Authenticator<Scripted>) {
    let server = OpenIdServer::new();
    let config = AuthConfig::new(APP_ID);
    let source = KeySource::new(
        Scripted::new(&server, delay),
        config.key_max_age,
        config.refetch_interval,
    );
    (server, Authenticator::with_source(&config, source))
}

fn fetches(auth: &Authenticator<Scripted>) -> usize {
    auth.key_source().fetcher().fetches()
}

#[tokio::test(start_paused = true)]
async fn keys_are_refreshed_after_24_hours() {
    let (server, auth) = scripted(Duration::ZERO);
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    tokio::time::advance(24 * HOUR - MINUTE).await;
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    assert_eq!(fetches(&auth), 1);
    tokio::time::advance(2 * MINUTE).await;
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    assert_eq!(fetches(&auth), 2);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_kid_refetch_waits_for_the_interval_then_picks_up_the_new_key() {
    let (server, auth) = scripted(Duration::ZERO);
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    let new_kid = server.rotate();
    tokio::time::advance(4 * MINUTE).await;
    let error = auth
        .authenticate(Some(&bearer(&server)), &activity())
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::UnknownKey { .. }), "{error:?}");
    assert_eq!(fetches(&auth), 1, "within 5 minutes of the last fetch");
    tokio::time::advance(MINUTE).await;
    let claims = auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    assert_eq!(claims.key_id, new_kid);
    assert_eq!(fetches(&auth), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_keeps_cached_keys_and_backs_off() {
    let (server, auth) = scripted(Duration::ZERO);
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    auth.key_source().fetcher().failing.store(true, Ordering::SeqCst);
    tokio::time::advance(25 * HOUR).await;
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    assert_eq!(fetches(&auth), 2, "the daily refresh was tried");
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    assert_eq!(fetches(&auth), 2, "no retry right after a failure");
    tokio::time::advance(5 * MINUTE).await;
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    assert_eq!(fetches(&auth), 3, "retried after the interval");
    auth.key_source().fetcher().failing.store(false, Ordering::SeqCst);
    tokio::time::advance(5 * MINUTE).await;
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    auth.authenticate(Some(&bearer(&server)), &activity()).await.unwrap();
    assert_eq!(fetches(&auth), 4, "fresh again: no more fetches");
}

#[tokio::test(start_paused = true)]
async fn concurrent_cold_start_requests_share_one_fetch() {
    let (server, auth) = scripted(Duration::from_millis(200));
    let header = bearer(&server);
    let activity = activity();
    let results = futures_join_all((0..16).map(|_| auth.authenticate(Some(&header), &activity))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(fetches(&auth), 1);
}

#[tokio::test(start_paused = true)]
async fn concurrent_cold_start_with_the_server_down_is_one_failed_fetch() {
    let (server, auth) = scripted(Duration::from_millis(200));
    auth.key_source().fetcher().failing.store(true, Ordering::SeqCst);
    let header = bearer(&server);
    let activity = activity();
    let results = futures_join_all((0..16).map(|_| auth.authenticate(Some(&header), &activity))).await;
    assert!(results.iter().all(|r| matches!(r, Err(AuthError::KeysUnavailable(_)))));
    assert_eq!(fetches(&auth), 1);
}

// ---- the cold-start backoff's schedule, scripted fetcher, paused clock ----

/// A scripted source whose fetches fail until told otherwise.
fn scripted_failing() -> (OpenIdServer, Authenticator<Scripted>) {
    let (server, auth) = scripted(Duration::from_millis(10));
    auth.key_source().fetcher().failing.store(true, Ordering::SeqCst);
    (server, auth)
}

/// `n` requests one after another; returns how many were refused with 503.
async fn burst(auth: &Authenticator<Scripted>, header: &str, n: usize) -> usize {
    let mut unavailable = 0;
    for _ in 0..n {
        if let Err(AuthError::KeysUnavailable(_)) = auth.authenticate(Some(header), &activity()).await {
            unavailable += 1;
        }
    }
    unavailable
}

#[tokio::test(start_paused = true)]
async fn failed_cold_fetches_back_off_with_a_growing_pause() {
    let (server, auth) = scripted_failing();
    let header = bearer(&server);
    // The first failure may be a blip: the next request retries once at once. Then the pause grows.
    assert_eq!(burst(&auth, &header, 50).await, 50);
    assert_eq!(fetches(&auth), 2, "one fetch and one immediate retry, then the backoff");
    let mut expected = 2;
    for pause in [1, 2, 4, 8, 16, 30, 30] {
        tokio::time::advance(pause * SECOND - Duration::from_millis(100)).await;
        assert_eq!(burst(&auth, &header, 20).await, 20);
        assert_eq!(fetches(&auth), expected, "still inside the {pause} s pause");
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(burst(&auth, &header, 20).await, 20);
        expected += 1;
        assert_eq!(fetches(&auth), expected, "one fetch after the {pause} s pause");
    }

    // Back up: the next fetch after the pause succeeds, and the keys are cached again.
    auth.key_source().fetcher().failing.store(false, Ordering::SeqCst);
    tokio::time::advance(30 * SECOND).await;
    assert_eq!(burst(&auth, &header, 20).await, 0);
    assert_eq!(fetches(&auth), expected + 1);

    // A later outage with keys cached is the usual refresh rule (unchanged): cached keys keep verifying.
    auth.key_source().fetcher().failing.store(true, Ordering::SeqCst);
    tokio::time::advance(25 * 3600 * SECOND).await;
    assert_eq!(burst(&auth, &header, 20).await, 0);
    assert_eq!(
        fetches(&auth),
        expected + 2,
        "one failed daily refresh, then the refetch interval"
    );
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_during_the_backoff_share_the_refusal() {
    let (server, auth) = scripted_failing();
    let header = bearer(&server);
    assert_eq!(burst(&auth, &header, 2).await, 2);
    assert_eq!(fetches(&auth), 2);
    let activity = activity();
    let results = futures_join_all((0..50).map(|_| auth.authenticate(Some(&header), &activity))).await;
    assert!(results.iter().all(|r| matches!(r, Err(AuthError::KeysUnavailable(_)))));
    assert_eq!(fetches(&auth), 2, "no fetch while backing off");
    tokio::time::advance(SECOND).await;
    let results = futures_join_all((0..50).map(|_| auth.authenticate(Some(&header), &activity))).await;
    assert!(results.iter().all(|r| matches!(r, Err(AuthError::KeysUnavailable(_)))));
    assert_eq!(
        fetches(&auth),
        3,
        "50 concurrent requests after the pause share one fetch"
    );
}

#[tokio::test(start_paused = true)]
async fn junk_tokens_cause_no_fetch_under_a_scripted_fetcher_either() {
    let (server, auth) = scripted_failing();
    for token in junk_tokens(&server.signing_kid()) {
        let error = auth
            .authenticate(Some(&format!("Bearer {token}")), &activity())
            .await
            .unwrap_err();
        assert_eq!(error.status(), StatusCode::UNAUTHORIZED, "{token}: {error:?}");
    }
    assert_eq!(fetches(&auth), 0);
}

/// Polls all futures concurrently on the current task (no extra dependency).
async fn futures_join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for future in futures {
        set.push(Box::pin(future));
    }
    let mut outputs: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in set.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

//! Issue 16, F3: with no signing keys cached (the metadata server down at cold start), requests must not each
//! cause a metadata + JWKS fetch. Failed fetches back off (one in flight, then a growing pause), and a token that
//! cannot possibly verify never causes a fetch at all. Fetches are counted at the fake OpenID server (HTTP, real
//! clock, no timing assertions) and with a scripted fetcher under tokio's paused clock (the exact schedule).

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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

const APP_ID: &str = "00000000-0000-0000-0000-00000000b07a";
const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";
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

async fn served() -> (OpenIdServer, Authenticator) {
    let server = OpenIdServer::new();
    let addr = server.serve().await.unwrap();
    let mut config = AuthConfig::new(APP_ID);
    config.openid_metadata_url = OpenIdServer::metadata_url(addr).parse().unwrap();
    let authenticator = Authenticator::new(&config).unwrap();
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
async fn metadata_down_at_cold_start_50_requests_cause_a_bounded_number_of_fetches_then_recover() {
    let (server, auth) = served().await;
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
    let (server, auth) = served().await;
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
    let (server, auth) = served().await;
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

// ---- scripted fetcher, paused clock: the schedule ----

/// Serves the fake server's JWKS from memory, counting fetches; can be told to fail.
struct Scripted {
    server: OpenIdServer,
    fetches: AtomicUsize,
    failing: AtomicBool,
}

impl FetchKeys for Scripted {
    async fn fetch(&self) -> Result<KeySet, FetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(10)).await;
        if self.failing.load(Ordering::SeqCst) {
            return Err(FetchError::Status {
                stage: "OpenID metadata",
                status: StatusCode::INTERNAL_SERVER_ERROR,
            });
        }
        KeySet::from_jwks_json(self.server.jwks().to_string().as_bytes()).map_err(FetchError::Keys)
    }
}

fn scripted() -> (OpenIdServer, Authenticator<Scripted>) {
    let server = OpenIdServer::new();
    let config = AuthConfig::new(APP_ID);
    let fetcher = Scripted {
        server: server.clone(),
        fetches: AtomicUsize::new(0),
        failing: AtomicBool::new(true),
    };
    let source = KeySource::new(fetcher, config.key_max_age, config.refetch_interval);
    (server, Authenticator::with_source(&config, source))
}

fn fetches(auth: &Authenticator<Scripted>) -> usize {
    auth.key_source().fetcher().fetches.load(Ordering::SeqCst)
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
    let (server, auth) = scripted();
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
    let (server, auth) = scripted();
    let header = bearer(&server);
    assert_eq!(burst(&auth, &header, 2).await, 2);
    assert_eq!(fetches(&auth), 2);
    let activity = activity();
    let results = join_all((0..50).map(|_| auth.authenticate(Some(&header), &activity))).await;
    assert!(results.iter().all(|r| matches!(r, Err(AuthError::KeysUnavailable(_)))));
    assert_eq!(fetches(&auth), 2, "no fetch while backing off");
    tokio::time::advance(SECOND).await;
    let results = join_all((0..50).map(|_| auth.authenticate(Some(&header), &activity))).await;
    assert!(results.iter().all(|r| matches!(r, Err(AuthError::KeysUnavailable(_)))));
    assert_eq!(
        fetches(&auth),
        3,
        "50 concurrent requests after the pause share one fetch"
    );
}

#[tokio::test(start_paused = true)]
async fn junk_tokens_cause_no_fetch_under_a_scripted_fetcher_either() {
    let (server, auth) = scripted();
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
async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set: Vec<_> = futures.map(Box::pin).collect();
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

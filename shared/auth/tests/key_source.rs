//! Key rotation, refresh and outage behaviour: against the fake OpenID server over HTTP (real clock, no time
//! assertions), and with a scripted in-memory fetcher under tokio's paused clock for the intervals.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] fns"
)]

use auth::{AuthConfig, AuthError, Authenticator, FetchError, FetchKeys, KeySet, KeySource};
use fake_teams::openid::{BotClaims, OpenIdServer, TEAMS_CHANNEL};
use http::StatusCode;
use models::{Activity, TeamsChannelData, TenantId};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

const APP_ID: &str = "00000000-0000-0000-0000-00000000b07a";
const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";
const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);

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

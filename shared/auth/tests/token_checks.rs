//! Issue 16, F4 at the verifier level: a token carrying a `crit` header is refused (RFC 7515 §4.1.11: we
//! understand no extension, so any `crit` makes the token invalid), whatever the rest of it says.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] fns"
)]

use auth::{Algorithm, AuthConfig, AuthError, Authenticator, KeySet, SignatureCache, Verifier};
use fake_teams::openid::{BotClaims, OpenIdServer, TEAMS_CHANNEL};
use http::StatusCode;
use jsonwebtoken::Header;
use models::{Activity, TeamsChannelData, TenantId};
use serde_json::json;
use std::time::{Duration, UNIX_EPOCH};

const APP_ID: &str = "00000000-0000-0000-0000-00000000b07a";
const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";
const NOW: u64 = 1_800_000_000;

fn activity() -> Activity {
    Activity {
        channel_id: Some(TEAMS_CHANNEL.to_owned()),
        service_url: Some(SERVICE_URL.to_owned()),
        channel_data: Some(TeamsChannelData::for_tenant(TenantId::from("tenant-1"))),
        ..Activity::default()
    }
}

fn claims() -> BotClaims {
    BotClaims::at(APP_ID, SERVICE_URL, i64::try_from(NOW).unwrap())
}

/// Validly signed tokens whose header carries `crit` in its various shapes.
fn crit_tokens(server: &OpenIdServer) -> Vec<String> {
    let with = |crit: Option<Vec<String>>, extra: Option<(&str, serde_json::Value)>| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(server.signing_kid());
        header.crit = crit;
        if let Some((name, value)) = extra {
            header.extras.insert(name, value);
        }
        server.sign_with_header(&header, &claims()).unwrap()
    };
    vec![
        // A registered claim name: we do "understand" exp, but not as a critical header extension.
        with(Some(vec!["exp".into()]), None),
        // An extension we do not know, present as RFC 7515 requires.
        with(
            Some(vec!["urn:example:must-understand".into()]),
            Some(("urn:example:must-understand", json!(true))),
        ),
        // RFC 7797 unencoded payload: changes what the signature covers.
        with(Some(vec!["b64".into()]), Some(("b64", json!(false)))),
        // The empty list (producers must not send it) and a null.
        with(Some(vec![]), None),
        with(None, Some(("crit", serde_json::Value::Null))),
    ]
}

fn keys(server: &OpenIdServer) -> KeySet {
    KeySet::from_jwks_json(server.jwks().to_string().as_bytes()).unwrap()
}

#[test]
fn a_signed_token_without_crit_is_accepted() {
    let server = OpenIdServer::new();
    let verifier = Verifier::new(&AuthConfig::new(APP_ID));
    let token = server.sign(&claims()).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    verifier
        .verify(Some(&format!("Bearer {token}")), &activity(), &keys(&server), now)
        .unwrap();
}

#[test]
fn a_token_with_crit_is_401_from_the_pure_verifier() {
    let server = OpenIdServer::new();
    let verifier = Verifier::new(&AuthConfig::new(APP_ID));
    let cache = SignatureCache::default();
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    for token in crit_tokens(&server) {
        let header = format!("Bearer {token}");
        for result in [
            verifier.verify(Some(&header), &activity(), &keys(&server), now),
            verifier.verify_cached(Some(&header), &activity(), &keys(&server), now, &cache),
        ] {
            let error = result.expect_err("a crit token must be refused");
            assert_eq!(error.status(), StatusCode::UNAUTHORIZED, "{error:?}");
        }
        let error = verifier.read_header(Some(&header)).unwrap_err();
        assert_eq!(error.status(), StatusCode::UNAUTHORIZED, "{error:?}");
    }
    assert!(cache.is_empty(), "a refused token is not remembered");
}

#[tokio::test]
async fn a_token_with_crit_is_401_without_fetching_keys() {
    let server = OpenIdServer::new();
    let addr = server.serve().await.unwrap();
    let mut config = AuthConfig::new(APP_ID);
    config.openid_metadata_url = OpenIdServer::metadata_url(addr).parse().unwrap();
    let auth = Authenticator::new(&config).unwrap();
    let live = |server: &OpenIdServer, crit: Vec<String>| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(server.signing_kid());
        header.crit = Some(crit);
        server
            .sign_with_header(&header, &BotClaims::new(APP_ID, SERVICE_URL))
            .unwrap()
    };
    let error = auth
        .authenticate(
            Some(&format!("Bearer {}", live(&server, vec!["exp".into()]))),
            &activity(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.status(), StatusCode::UNAUTHORIZED, "{error:?}");
    assert!(!matches!(error, AuthError::KeysUnavailable(_)));
    assert_eq!(server.metadata_fetches(), 0, "refused before any key is needed");
}

// ---- the two steps: the token alone (every 401), then the activity (every 403) ----

fn at(seconds: u64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

#[test]
fn verify_token_needs_no_activity_and_check_activity_gives_the_claims() {
    let server = OpenIdServer::new();
    let verifier = Verifier::new(&AuthConfig::new(APP_ID));
    let token = server.sign(&claims()).unwrap();
    let header = format!("Bearer {token}");
    let verified = verifier.verify_token(Some(&header), &keys(&server), at(NOW)).unwrap();
    assert_eq!(verified.key_id(), server.signing_kid());
    assert_eq!(verified.algorithm(), Algorithm::RS256);
    assert_eq!(verified.service_url_claim(), Some(SERVICE_URL));
    assert_eq!(verified.expires_at(), i64::try_from(NOW).unwrap() + 3600);
    assert!(
        !format!("{verified:?}").contains(&token[token.len() - 20..]),
        "Debug never shows the token"
    );
    let claims = verified.check_activity(&activity()).unwrap();
    assert_eq!(
        claims,
        verifier
            .verify(Some(&header), &activity(), &keys(&server), at(NOW))
            .unwrap()
    );
}

#[test]
fn every_token_refusal_comes_from_verify_token() {
    let server = OpenIdServer::new();
    let verifier = Verifier::new(&AuthConfig::new(APP_ID));
    let now = i64::try_from(NOW).unwrap();
    let stranger = server.new_key(&[TEAMS_CHANNEL]);
    let tokens = [
        "x".to_owned(),
        server.sign(&claims().issuer(Some("https://evil.example"))).unwrap(),
        server.sign(&claims().audience(Some("another-app"))).unwrap(),
        server.sign(&claims().expires(Some(now - 1000))).unwrap(),
        server.sign(&claims().not_before(Some(now + 1000))).unwrap(),
        server.sign(&claims().expires(None)).unwrap(),
        stranger.sign(Algorithm::RS256, &claims()).unwrap(),
        fake_teams::openid::tamper_payload(
            &server.sign(&claims()).unwrap(),
            &claims().audience(Some("x")).to_json(),
        ),
    ];
    for token in tokens {
        let error = verifier
            .verify_token(Some(&format!("Bearer {token}")), &keys(&server), at(NOW))
            .unwrap_err();
        assert_eq!(error.status(), StatusCode::UNAUTHORIZED, "{error:?}");
    }
}

#[test]
fn check_activity_gives_every_403_and_can_be_asked_for_several_activities() {
    let server = OpenIdServer::new();
    let verifier = Verifier::new(&AuthConfig::new(APP_ID).with_allowed_tenants(["tenant-1", "other-tenant"]));
    let webchat_only = server.publish_new_key(&["webchat"]);
    let keys = keys(&server);
    let token = server.sign(&claims()).unwrap();
    let verified = verifier
        .verify_token(Some(&format!("Bearer {token}")), &keys, at(NOW))
        .unwrap();
    verified.check_activity(&activity()).unwrap();

    let mut other_channel = activity();
    other_channel.channel_id = Some("webchat".into());
    let mut no_channel = activity();
    no_channel.channel_id = None;
    let mut moved = activity();
    moved.service_url = Some("https://smba.trafficmanager.net/emea/".into());
    let mut no_service_url = activity();
    no_service_url.service_url = None;
    let mut stranger_tenant = activity();
    stranger_tenant.channel_data = Some(TeamsChannelData::for_tenant(TenantId::from("tenant-9")));
    let mut no_tenant = activity();
    no_tenant.channel_data = None;
    for (activity, expected) in [
        (other_channel, "NotEndorsed"),
        (no_channel, "NotEndorsed"),
        (moved, "ServiceUrlMismatch"),
        (no_service_url, "ServiceUrlMismatch"),
        (stranger_tenant, "TenantNotAllowed"),
        (no_tenant, "TenantNotAllowed"),
    ] {
        let error = verified.check_activity(&activity).unwrap_err();
        assert!(format!("{error:?}").starts_with(expected), "{expected}: {error:?}");
        assert_eq!(error.status(), StatusCode::FORBIDDEN);
    }

    // A key endorsing another channel only: the token verifies, the Teams activity is refused.
    let webchat_token = webchat_only.sign(Algorithm::RS256, &claims()).unwrap();
    let verified = verifier
        .verify_token(Some(&format!("Bearer {webchat_token}")), &keys, at(NOW))
        .unwrap();
    assert!(matches!(
        verified.check_activity(&activity()),
        Err(AuthError::NotEndorsed)
    ));
}

#[test]
fn the_cached_first_step_remembers_signatures_and_still_checks_time() {
    let server = OpenIdServer::new();
    let verifier = Verifier::new(&AuthConfig::new(APP_ID));
    let cache = SignatureCache::default();
    let keys = keys(&server);
    let header = format!("Bearer {}", server.sign(&claims()).unwrap());
    for _ in 0..3 {
        verifier
            .verify_token_cached(Some(&header), &keys, at(NOW), &cache)
            .unwrap()
            .check_activity(&activity())
            .unwrap();
    }
    assert_eq!(cache.len(), 1);
    let error = verifier
        .verify_token_cached(Some(&header), &keys, at(NOW + 3600 + 301), &cache)
        .unwrap_err();
    assert!(matches!(error, AuthError::Expired), "{error:?}");
}

#[tokio::test]
async fn the_authenticator_splits_the_same_way() {
    let server = OpenIdServer::new();
    let addr = server.serve().await.unwrap();
    let mut config = AuthConfig::new(APP_ID);
    config.openid_metadata_url = OpenIdServer::metadata_url(addr).parse().unwrap();
    let auth = Authenticator::new(&config).unwrap();
    let header = format!("Bearer {}", server.sign(&BotClaims::new(APP_ID, SERVICE_URL)).unwrap());
    let verified = auth.authenticate_token(Some(&header)).await.unwrap();
    verified.check_activity(&activity()).unwrap();
    let mut moved = activity();
    moved.service_url = Some("https://smba.trafficmanager.net/emea/".into());
    assert!(matches!(
        verified.check_activity(&moved),
        Err(AuthError::ServiceUrlMismatch)
    ));
    assert!(matches!(
        auth.authenticate_token(Some("Bearer x")).await,
        Err(AuthError::Malformed(_))
    ));
    assert_eq!(server.metadata_fetches(), 1);
}

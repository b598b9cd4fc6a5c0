//! The hostile suite at the verifier level: each case asserts the exact refusal and its status. Keys come from
//! the fake OpenID server's JWKS (no network); time is fixed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] fns"
)]

use auth::{Algorithm, AuthConfig, AuthError, Claims, KeySet, SignatureCache, Verifier};
use fake_teams::openid::{BotClaims, OpenIdServer, TEAMS_CHANNEL, tamper_payload, unsigned_token};
use http::StatusCode;
use jsonwebtoken::Header;
use models::{Activity, ConversationAccount, TeamsChannelData, TenantId};
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const APP_ID: &str = "00000000-0000-0000-0000-00000000b07a";
const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const NOW: i64 = 1_800_000_000;

struct Case {
    server: OpenIdServer,
    verifier: Verifier,
    cache: SignatureCache,
}

impl Case {
    fn new() -> Self {
        Self::with_config(AuthConfig::new(APP_ID))
    }

    fn with_config(config: AuthConfig) -> Self {
        Self {
            server: OpenIdServer::new(),
            verifier: Verifier::new(&config),
            cache: SignatureCache::default(),
        }
    }

    fn keys(&self) -> KeySet {
        KeySet::from_jwks_json(self.server.jwks().to_string().as_bytes()).unwrap()
    }

    /// Every case runs three ways with one answer: the pure verifier, through the signature cache (filling it),
    /// and through the cache again (hitting it when the signature was good).
    fn verify_header(&self, header: Option<&str>, activity: &Activity) -> Result<Claims, AuthError> {
        let keys = self.keys();
        let pure = self.verifier.verify(header, activity, &keys, at(NOW));
        let fill = self
            .verifier
            .verify_cached(header, activity, &keys, at(NOW), &self.cache);
        let hit = self
            .verifier
            .verify_cached(header, activity, &keys, at(NOW), &self.cache);
        assert_eq!(format!("{pure:?}"), format!("{fill:?}"), "the cache changes no answer");
        assert_eq!(format!("{pure:?}"), format!("{hit:?}"), "the cache changes no answer");
        pure
    }

    /// `token` for the usual activity through the signature cache only, with `keys` at `seconds`.
    fn cached(&self, token: &str, keys: &KeySet, seconds: i64) -> Result<Claims, AuthError> {
        let header = format!("Bearer {token}");
        self.verifier
            .verify_cached(Some(&header), &activity(), keys, at(seconds), &self.cache)
    }

    fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        self.verify_header(Some(&format!("Bearer {token}")), &activity())
    }

    fn claims(&self) -> BotClaims {
        BotClaims::at(APP_ID, SERVICE_URL, NOW)
    }

    fn token(&self, claims: &BotClaims) -> String {
        self.server.sign(claims).unwrap()
    }
}

fn at(seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap())
}

fn activity() -> Activity {
    Activity {
        channel_id: Some(TEAMS_CHANNEL.to_owned()),
        service_url: Some(SERVICE_URL.to_owned()),
        channel_data: Some(TeamsChannelData::for_tenant(TenantId::from(TENANT))),
        conversation: Some(ConversationAccount {
            id: "a:1".into(),
            ..ConversationAccount::default()
        }),
        ..Activity::default()
    }
}

#[track_caller]
fn assert_refused(result: Result<Claims, AuthError>, expected: &str, status: StatusCode) {
    let error = result.expect_err("the token must be refused");
    let name = format!("{error:?}");
    assert!(name.starts_with(expected), "expected {expected}, got {name}");
    assert_eq!(error.status(), status, "{name}");
    assert!(!error.reason().is_empty());
}

#[test]
fn a_valid_teams_token_is_accepted_with_its_claims() {
    let case = Case::new();
    let claims = case.verify(&case.token(&case.claims())).unwrap();
    assert_eq!(
        claims,
        Claims {
            issuer: "https://api.botframework.com".into(),
            audience: APP_ID.into(),
            service_url: SERVICE_URL.into(),
            expires_at: NOW + 3600,
            not_before: Some(NOW - 300),
            key_id: case.server.signing_kid(),
            algorithm: Algorithm::RS256,
        }
    );
}

#[test]
fn missing_header_is_401() {
    let case = Case::new();
    assert_refused(
        case.verify_header(None, &activity()),
        "MissingHeader",
        StatusCode::UNAUTHORIZED,
    );
    assert_refused(
        case.verify_header(Some(""), &activity()),
        "MissingHeader",
        StatusCode::UNAUTHORIZED,
    );
}

#[test]
fn wrong_scheme_is_401() {
    let case = Case::new();
    let token = case.token(&case.claims());
    for header in [format!("Basic {token}"), format!("Bearer:{token}"), token.clone()] {
        assert_refused(
            case.verify_header(Some(&header), &activity()),
            "WrongScheme",
            StatusCode::UNAUTHORIZED,
        );
    }
}

#[test]
fn scheme_word_is_case_insensitive() {
    let case = Case::new();
    let token = case.token(&case.claims());
    assert!(
        case.verify_header(Some(&format!("bearer {token}")), &activity())
            .is_ok()
    );
}

#[test]
fn garbage_and_extra_tokens_are_401() {
    let case = Case::new();
    let token = case.token(&case.claims());
    for header in [
        "Bearer garbage".to_owned(),
        "Bearer a.b.c".to_owned(),
        "Bearer ".to_owned() + &"x".repeat(10_000),
        format!("Bearer {token} {token}"),
        format!("Bearer {token}.extra"),
    ] {
        assert_refused(
            case.verify_header(Some(&header), &activity()),
            "Malformed",
            StatusCode::UNAUTHORIZED,
        );
    }
}

#[test]
fn alg_none_is_401_before_any_key_lookup() {
    let case = Case::new();
    let kid = case.server.signing_kid();
    for alg in ["none", "None", "NONE"] {
        let token = unsigned_token(&json!({"alg": alg, "kid": kid}), &case.claims().to_json());
        assert_refused(case.verify(&token), "AlgorithmNotAllowed", StatusCode::UNAUTHORIZED);
    }
}

#[test]
fn hs256_signed_with_the_public_key_is_401() {
    let case = Case::new();
    let token = case.server.sign_hs256_with_public_key(&case.claims()).unwrap();
    assert_refused(case.verify(&token), "AlgorithmNotAllowed", StatusCode::UNAUTHORIZED);
}

#[test]
fn other_algorithm_families_are_401() {
    let case = Case::new();
    let kid = case.server.signing_kid();
    for alg in ["HS384", "HS512", "ES256", "PS256", "EdDSA"] {
        let token = unsigned_token(&json!({"alg": alg, "kid": kid}), &case.claims().to_json()) + "c2ln";
        assert_refused(case.verify(&token), "AlgorithmNotAllowed", StatusCode::UNAUTHORIZED);
    }
}

#[test]
fn rs384_and_rs512_are_accepted() {
    let case = Case::new();
    for alg in [Algorithm::RS384, Algorithm::RS512] {
        let token = case.server.sign_alg(alg, &case.claims()).unwrap();
        assert_eq!(case.verify(&token).unwrap().algorithm, alg);
    }
}

#[test]
fn unknown_key_id_is_401() {
    let case = Case::new();
    let stranger = case.server.new_key(&[TEAMS_CHANNEL]);
    let token = stranger.sign(Algorithm::RS256, &case.claims()).unwrap();
    assert_refused(case.verify(&token), "UnknownKey", StatusCode::UNAUTHORIZED);
}

#[test]
fn missing_key_id_is_401() {
    let case = Case::new();
    let token = case
        .server
        .sign_with_header(&Header::new(Algorithm::RS256), &case.claims())
        .unwrap();
    assert_refused(case.verify(&token), "MissingKeyId", StatusCode::UNAUTHORIZED);
}

#[test]
fn signature_by_another_key_under_a_known_kid_is_401() {
    let case = Case::new();
    let forger = case.server.new_key(&[TEAMS_CHANNEL]);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(case.server.signing_kid());
    let token = forger.sign_with_header(&header, &case.claims()).unwrap();
    assert_refused(case.verify(&token), "BadSignature", StatusCode::UNAUTHORIZED);
}

#[test]
fn tampered_payload_is_401() {
    let case = Case::new();
    let token = case.token(&case.claims());
    let tampered = tamper_payload(&token, &case.claims().audience(Some("attacker-app")).to_json());
    assert_refused(case.verify(&tampered), "BadSignature", StatusCode::UNAUTHORIZED);
}

#[test]
fn wrong_or_missing_issuer_is_401() {
    let case = Case::new();
    for claims in [
        case.claims().issuer(Some("https://sts.windows.net/evil/")),
        case.claims().issuer(Some("https://api.botframework.com/")),
        case.claims().issuer(None),
    ] {
        assert_refused(
            case.verify(&case.token(&claims)),
            "WrongIssuer",
            StatusCode::UNAUTHORIZED,
        );
    }
}

#[test]
fn configured_issuer_is_the_one_required() {
    let mut config = AuthConfig::new(APP_ID);
    config.issuer = "https://api.botframework.us".into();
    let case = Case::with_config(config);
    assert_refused(
        case.verify(&case.token(&case.claims())),
        "WrongIssuer",
        StatusCode::UNAUTHORIZED,
    );
    let gov = case.claims().issuer(Some("https://api.botframework.us"));
    assert!(case.verify(&case.token(&gov)).is_ok());
}

#[test]
fn wrong_or_missing_audience_is_401() {
    let case = Case::new();
    for claims in [
        case.claims().audience(Some("https://api.botframework.com")),
        case.claims().audience(None),
        case.claims().audience(Some("")),
        case.claims().audience_json(json!(42)),
        case.claims().audience_json(json!(["someone-else"])),
    ] {
        assert_refused(
            case.verify(&case.token(&claims)),
            "WrongAudience",
            StatusCode::UNAUTHORIZED,
        );
    }
}

#[test]
fn a_valid_token_for_another_app_is_401() {
    let case = Case::new();
    let other_bot = BotClaims::at("11111111-2222-3333-4444-555555555555", SERVICE_URL, NOW);
    assert_refused(
        case.verify(&case.token(&other_bot)),
        "WrongAudience",
        StatusCode::UNAUTHORIZED,
    );
}

#[test]
fn audience_array_with_our_app_id_is_accepted() {
    let case = Case::new();
    let claims = case.claims().audience_json(json!(["other", APP_ID]));
    assert!(case.verify(&case.token(&claims)).is_ok());
}

#[test]
fn expired_beyond_the_skew_is_401() {
    let case = Case::new();
    let claims = case.claims().not_before(Some(NOW - 4000)).expires(Some(NOW - 301));
    assert_refused(case.verify(&case.token(&claims)), "Expired", StatusCode::UNAUTHORIZED);
}

#[test]
fn expired_just_inside_the_skew_is_accepted() {
    let case = Case::new();
    for exp in [NOW - 299, NOW - 300] {
        let claims = case.claims().not_before(Some(NOW - 4000)).expires(Some(exp));
        assert_eq!(case.verify(&case.token(&claims)).unwrap().expires_at, exp);
    }
}

#[test]
fn not_yet_valid_beyond_the_skew_is_401() {
    let case = Case::new();
    let claims = case.claims().not_before(Some(NOW + 301));
    assert_refused(
        case.verify(&case.token(&claims)),
        "NotYetValid",
        StatusCode::UNAUTHORIZED,
    );
}

#[test]
fn not_yet_valid_just_inside_the_skew_is_accepted() {
    let case = Case::new();
    let claims = case.claims().not_before(Some(NOW + 299));
    assert_eq!(case.verify(&case.token(&claims)).unwrap().not_before, Some(NOW + 299));
}

#[test]
fn missing_or_malformed_expiry_is_401() {
    let case = Case::new();
    let no_exp = case.claims().expires(None);
    assert_refused(
        case.verify(&case.token(&no_exp)),
        "MissingExpiry",
        StatusCode::UNAUTHORIZED,
    );
    let text_exp = case.claims().expires(None).claim("exp", json!("tomorrow"));
    assert_refused(
        case.verify(&case.token(&text_exp)),
        "InvalidToken",
        StatusCode::UNAUTHORIZED,
    );
}

#[test]
fn missing_serviceurl_claim_is_403() {
    let case = Case::new();
    let claims = case.claims().service_url(None);
    assert_refused(
        case.verify(&case.token(&claims)),
        "ServiceUrlMismatch",
        StatusCode::FORBIDDEN,
    );
}

#[test]
fn mismatched_serviceurl_claim_is_403() {
    let case = Case::new();
    for url in [
        "https://evil.example/amer/",
        "https://smba.trafficmanager.net/emea/",
        "https://smba.trafficmanager.net/amer",
        "https://SMBA.trafficmanager.net/amer/",
    ] {
        let claims = case.claims().service_url(Some(url));
        assert_refused(
            case.verify(&case.token(&claims)),
            "ServiceUrlMismatch",
            StatusCode::FORBIDDEN,
        );
    }
}

#[test]
fn activity_without_service_url_is_403() {
    let case = Case::new();
    let token = case.token(&case.claims());
    let mut activity = activity();
    activity.service_url = None;
    assert_refused(
        case.verify_header(Some(&format!("Bearer {token}")), &activity),
        "ServiceUrlMismatch",
        StatusCode::FORBIDDEN,
    );
}

#[test]
fn key_not_endorsing_the_channel_is_403() {
    let case = Case::new();
    for endorsements in [&["webchat", "skype"][..], &[][..], &["MSTEAMS"][..]] {
        let key = case.server.publish_new_key(endorsements);
        let token = key.sign(Algorithm::RS256, &case.claims()).unwrap();
        assert_refused(case.verify(&token), "NotEndorsed", StatusCode::FORBIDDEN);
    }
}

#[test]
fn activity_without_channel_id_is_403() {
    let case = Case::new();
    let token = case.token(&case.claims());
    let mut activity = activity();
    activity.channel_id = None;
    assert_refused(
        case.verify_header(Some(&format!("Bearer {token}")), &activity),
        "NotEndorsed",
        StatusCode::FORBIDDEN,
    );
    activity.channel_id = Some("webchat".into());
    assert_refused(
        case.verify_header(Some(&format!("Bearer {token}")), &activity),
        "NotEndorsed",
        StatusCode::FORBIDDEN,
    );
}

#[test]
fn tenant_not_allowed_is_403() {
    let case = Case::with_config(AuthConfig::new(APP_ID).with_allowed_tenants(["contoso-tenant", "fabrikam"]));
    let token = case.token(&case.claims());
    assert_refused(case.verify(&token), "TenantNotAllowed", StatusCode::FORBIDDEN);
    let mut no_tenant = activity();
    no_tenant.channel_data = None;
    assert_refused(
        case.verify_header(Some(&format!("Bearer {token}")), &no_tenant),
        "TenantNotAllowed",
        StatusCode::FORBIDDEN,
    );
}

#[test]
fn allowed_tenant_is_accepted_case_insensitively() {
    let case = Case::with_config(AuthConfig::new(APP_ID).with_allowed_tenants([TENANT.to_uppercase()]));
    assert!(case.verify(&case.token(&case.claims())).is_ok());
}

#[test]
fn every_401_comes_before_any_403() {
    // Expired and from another service URL and another channel: the token problem is reported.
    let case = Case::new();
    let claims = case
        .claims()
        .expires(Some(NOW - 1000))
        .service_url(Some("https://evil.example/"));
    assert_refused(case.verify(&case.token(&claims)), "Expired", StatusCode::UNAUTHORIZED);
}

#[test]
fn empty_app_id_accepts_no_token() {
    let case = Case::with_config(AuthConfig::new(""));
    let claims = case.claims().audience(Some(""));
    assert_refused(
        case.verify(&case.token(&claims)),
        "WrongAudience",
        StatusCode::UNAUTHORIZED,
    );
}

#[test]
fn errors_never_echo_the_token() {
    let case = Case::new();
    let token = case.token(&case.claims().expires(Some(NOW - 1000)));
    let error = case.verify(&token).unwrap_err();
    for text in [error.to_string(), error.reason().to_owned(), format!("{error:?}")] {
        assert!(!text.contains(&token[..20]), "{text}");
    }
}

// ---- the signature cache: a verified token is not verified again, every other check still runs ----

#[test]
fn a_reused_token_is_verified_once_and_only_good_signatures_are_remembered() {
    let case = Case::new();
    let token = case.token(&case.claims());
    for _ in 0..5 {
        case.verify(&token).unwrap();
    }
    assert_eq!(case.cache.len(), 1, "one entry for one token");
    let tampered = tamper_payload(&token, &case.claims().audience(Some("attacker-app")).to_json());
    assert_refused(case.verify(&tampered), "BadSignature", StatusCode::UNAUTHORIZED);
    assert_eq!(case.cache.len(), 1, "a refused token is not remembered");
    assert!(
        !format!("{:?}", case.cache).contains(&token),
        "Debug never shows a token"
    );
}

#[test]
fn a_remembered_token_still_expires() {
    let case = Case::new();
    let token = case.token(&case.claims());
    let keys = case.keys();
    case.cached(&token, &keys, NOW).unwrap();
    assert_refused(
        case.cached(&token, &keys, NOW + 3600 + 301),
        "Expired",
        StatusCode::UNAUTHORIZED,
    );
}

#[test]
fn a_remembered_token_is_still_checked_against_each_activity() {
    let case = Case::new();
    let token = case.token(&case.claims());
    case.verify(&token).unwrap();
    let mut moved = activity();
    moved.service_url = Some("https://smba.trafficmanager.net/emea/".into());
    assert_refused(
        case.verify_header(Some(&format!("Bearer {token}")), &moved),
        "ServiceUrlMismatch",
        StatusCode::FORBIDDEN,
    );
    let mut other_channel = activity();
    other_channel.channel_id = Some("webchat".into());
    assert_refused(
        case.verify_header(Some(&format!("Bearer {token}")), &other_channel),
        "NotEndorsed",
        StatusCode::FORBIDDEN,
    );
}

#[test]
fn a_remembered_token_is_not_trusted_once_its_key_is_gone_or_replaced() {
    let case = Case::new();
    let token = case.token(&case.claims());
    case.cached(&token, &case.keys(), NOW).unwrap();
    // Retired: the kid is no longer published.
    let kid = case.server.signing_kid();
    case.server.rotate();
    assert!(case.server.retire(&kid));
    assert_refused(
        case.cached(&token, &case.keys(), NOW),
        "UnknownKey",
        StatusCode::UNAUTHORIZED,
    );
    // Replaced: the same kid now names another key; the remembered signature is checked again, and fails.
    let mut replaced = KeySet::default();
    let other = case.server.new_key(&[TEAMS_CHANNEL]);
    let jwk = other.jwk();
    replaced
        .insert_rsa(
            kid.as_str(),
            jwk["n"].as_str().unwrap(),
            jwk["e"].as_str().unwrap(),
            vec![TEAMS_CHANNEL.to_owned()],
        )
        .unwrap();
    assert_refused(
        case.cached(&token, &replaced, NOW),
        "BadSignature",
        StatusCode::UNAUTHORIZED,
    );
}

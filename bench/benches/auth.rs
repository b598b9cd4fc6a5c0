//! Inbound token verification cost with cached keys, and proof that a warm authenticator makes no network call
//! per request (the fake OpenID server counts fetches).

use auth::{AuthConfig, Authenticator, KeySet, Verifier};
use fake_teams::openid::{BotClaims, OpenIdServer, TEAMS_CHANNEL};
use models::{Activity, TeamsChannelData, TenantId};
use std::time::SystemTime;

const APP_ID: &str = "00000000-0000-0000-0000-00000000b07a";
const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";

fn main() {
    let server = OpenIdServer::new();
    let activity = Activity {
        channel_id: Some(TEAMS_CHANNEL.to_owned()),
        service_url: Some(SERVICE_URL.to_owned()),
        channel_data: Some(TeamsChannelData::for_tenant(TenantId::from("tenant-1"))),
        ..Activity::default()
    };
    let Ok(token) = server.sign(&BotClaims::new(APP_ID, SERVICE_URL)) else {
        eprintln!("cannot sign a token");
        return;
    };
    let header = format!("Bearer {token}");

    // The pure verifier over a parsed key set.
    let Ok(keys) = KeySet::from_jwks_json(server.jwks().to_string().as_bytes()) else {
        eprintln!("cannot parse the JWKS");
        return;
    };
    let config = AuthConfig::new(APP_ID).with_allowed_tenants(["tenant-1"]);
    let verifier = Verifier::new(&config);
    assert!(
        verifier
            .verify(Some(&header), &activity, &keys, SystemTime::now())
            .is_ok()
    );
    bench::measure("auth: verify RS256 token, cached keys (pure)", 30, 500, || {
        verifier.verify(Some(&header), &activity, &keys, SystemTime::now())
    });
    bench::measure("auth: refuse alg none (before key lookup)", 30, 5_000, || {
        verifier.verify(
            Some("Bearer eyJhbGciOiJub25lIn0.e30."),
            &activity,
            &keys,
            SystemTime::now(),
        )
    });

    // The authenticator against the fake server over HTTP: one fetch at warm-up, none per request.
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        eprintln!("cannot build a runtime");
        return;
    };
    runtime.block_on(async {
        let Ok(addr) = server.serve().await else {
            eprintln!("cannot serve the fake OpenID server");
            return;
        };
        let mut config = config.clone();
        let Ok(url) = OpenIdServer::metadata_url(addr).parse() else {
            return;
        };
        config.openid_metadata_url = url;
        let Ok(authenticator) = Authenticator::new(&config) else {
            eprintln!("cannot build the authenticator");
            return;
        };
        assert!(authenticator.authenticate(Some(&header), &activity).await.is_ok());
        let before = (server.metadata_fetches(), server.jwks_fetches());
        let mut accepted = 0_u64;
        let start = std::time::Instant::now();
        const REQUESTS: u32 = 10_000;
        for _ in 0..REQUESTS {
            if authenticator.authenticate(Some(&header), &activity).await.is_ok() {
                accepted += 1;
            }
        }
        let per_request = start.elapsed() / REQUESTS;
        let after = (server.metadata_fetches(), server.jwks_fetches());
        println!(
            "{:<48} mean {per_request:>10.3?}  ({accepted} of {REQUESTS} accepted)",
            "auth: authenticate, warm cache (async)"
        );
        println!(
            "auth: fetches during {REQUESTS} requests: metadata {}, jwks {} (warm-up: {}, {})",
            after.0 - before.0,
            after.1 - before.1,
            before.0,
            before.1
        );
        assert_eq!(before, after, "a warm authenticator must not fetch keys per request");
    });
}

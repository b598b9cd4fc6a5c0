//! The Connector client's per-send overhead: sequential sends to the fake Teams service on loopback through
//! `HttpConnector` versus the same request made with a bare `reqwest::Client`, and the client's own steps without
//! any network (allowlist check, pacing, cached token, serialization).

use connector::{
    Connector, ConnectorConfig, HttpConnector, InProcessRateLimiter, PaceClass, PaceKey, RateLimiter,
    ServiceUrlAllowlist, Unlimited,
};
use fake_teams::{DEFAULT_TENANT, FakeTeams};
use models::{Activity, ActivityKind, ConversationId, Message};
use std::collections::HashMap;
use std::sync::Arc;

fn main() {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        eprintln!("skipped: no tokio runtime");
        return;
    };
    let user = FakeTeams::member("29:bench-user", "Bench User", "aad-bench");
    let Ok(fake) = rt.block_on(
        FakeTeams::builder()
            .without_rate_limits()
            .user(DEFAULT_TENANT, user)
            .start(),
    ) else {
        eprintln!("skipped: fake Teams could not start");
        return;
    };
    let env: HashMap<String, String> = fake.env().into_iter().collect();
    let Ok(config) = ConnectorConfig::from_lookup(|k| env.get(k).cloned()) else {
        eprintln!("skipped: bad config");
        return;
    };
    let Ok(client) = HttpConnector::new(&config) else {
        eprintln!("skipped: client");
        return;
    };
    let client = client.with_rate_limiter(Arc::new(Unlimited));
    let url = fake.service_url();
    let conv = ConversationId::from(
        fake.personal_conversation(DEFAULT_TENANT, "29:bench-user")
            .unwrap_or_default(),
    );
    let activity = Activity {
        kind: ActivityKind::Message(Message {
            text: Some("You sent hello which was 5 characters".to_owned()),
            ..Message::default()
        }),
        ..Activity::default()
    };

    bench::measure("connector: send via HttpConnector (loopback)", 20, 200, || {
        rt.block_on(client.send_to_conversation(&url, &conv, &activity)).is_ok()
    });

    // The same request with a bare reqwest client and a token fetched once.
    let token = rt.block_on(client.tokens().token()).ok().flatten();
    let bare = reqwest::Client::new();
    let send_url = format!("{url}v3/conversations/{}/activities", conv.as_str().replace(':', "%3A"));
    let bearer = token
        .map(|t| format!("Bearer {}", secrecy::ExposeSecret::expose_secret(&t)))
        .unwrap_or_default();
    bench::measure("connector: send via bare reqwest (loopback)", 20, 200, || {
        rt.block_on(async {
            let body = serde_json::to_vec(&activity).unwrap_or_default();
            let resp = bare
                .post(&send_url)
                .header("authorization", &bearer)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            match resp {
                Ok(r) => r.bytes().await.is_ok(),
                Err(_) => false,
            }
        })
    });

    // The client's own steps, no network.
    let allowlist = ServiceUrlAllowlist::new(&[url.as_str()]).unwrap_or_default();
    bench::measure("connector: allowlist check", 20, 20_000, || {
        allowlist.check(&url).is_ok()
    });
    let limiter = InProcessRateLimiter::new(None);
    let mut n = 0u64;
    bench::measure("connector: pacing acquire (in-process, fresh keys)", 20, 2_000, || {
        n += 1;
        let key = PaceKey {
            class: PaceClass::Send,
            conversation: format!("c{n}"),
            tenant: Some("t".to_owned()),
            service_host: "localhost".to_owned(),
        };
        rt.block_on(limiter.acquire(&key));
    });
    bench::measure("connector: cached token", 20, 20_000, || {
        rt.block_on(client.tokens().token()).is_ok()
    });
    bench::measure("connector: serialize activity", 20, 20_000, || {
        serde_json::to_vec(&activity).map(|v| v.len())
    });
    drop(fake);
}

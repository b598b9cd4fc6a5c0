//! The state store: what the embedded store's claims and lookups cost, and how many DynamoDB requests the
//! webhook's hot path sends per inbound activity (against a local DynamoDB-compatible server when
//! `AWS_ENDPOINT_URL_DYNAMODB` is set; skipped otherwise). Run: `cargo bench -p bench --bench store`.

use bench::measure;
use models::{ChannelAccount, ConversationAccount, ConversationId, ConversationReference, ConversationType, TenantId};
use std::sync::atomic::{AtomicU64, Ordering};
use store::{
    ClaimOutcome, Conversations, DynamoStore, EmbeddedStore, RequestCounter, TeamInstall, Timestamp, WelcomeClaims,
};
use tokio::runtime::Runtime;

fn reference(conversation: &str, activity: &str, service_url: &str) -> ConversationReference {
    ConversationReference {
        activity_id: Some(activity.into()),
        user: Some(ChannelAccount::new("29:user", Some("Ada".into()))),
        bot: ChannelAccount::new("28:bot", Some("Bot".into())),
        conversation: ConversationAccount {
            id: ConversationId::from(conversation),
            conversation_type: Some(ConversationType::Personal),
            tenant_id: Some(TenantId::from("tenant")),
            ..ConversationAccount::default()
        },
        channel_id: "msteams".into(),
        service_url: service_url.into(),
        locale: None,
        tenant_id: Some(TenantId::from("tenant")),
        team_id: None,
        channel: None,
    }
}

fn install(team: String) -> TeamInstall {
    TeamInstall {
        team_id: team.clone(),
        team_name: None,
        tenant_id: TenantId::from("tenant"),
        service_url: "https://smba.trafficmanager.net/amer/".into(),
        conversation_id: ConversationId::from(team),
        bot: ChannelAccount::new("28:bot", None),
        installed_by: None,
        claimed_at: Timestamp::now(),
    }
}

fn embedded(rt: &Runtime) {
    let dir = std::env::temp_dir().join(format!("store-bench-{}", std::process::id()));
    let Ok(store) = rt.block_on(EmbeddedStore::open(dir.join("state.redb"))) else {
        println!("embedded store: could not open {}", dir.display());
        return;
    };
    let now = Timestamp::now();
    let n = AtomicU64::new(0);
    let url = "https://smba.trafficmanager.net/amer/";
    println!("embedded store (redb, durable commits, blocking pool):");
    measure("embedded: claim team install (won, 1 commit)", 10, 50, || {
        let team = format!("19:t{}", n.fetch_add(1, Ordering::Relaxed));
        rt.block_on(store.claim_team_install(&install(team), now))
    });
    let taken = install("19:t0".into());
    measure("embedded: claim team install (lost)", 10, 200, || {
        let outcome = rt.block_on(store.claim_team_install(&taken, now));
        assert!(matches!(outcome, Ok(ClaimOutcome::Lost)));
    });
    let _ = rt.block_on(store.record_inbound(&reference("a:bench", "first", url), now));
    measure("embedded: record_inbound (steady state)", 10, 50, || {
        let activity = format!("act-{}", n.fetch_add(1, Ordering::Relaxed));
        rt.block_on(store.record_inbound(&reference("a:bench", &activity, url), now))
    });
    let id = ConversationId::from("a:bench");
    measure("embedded: conversation lookup", 10, 2000, || {
        rt.block_on(store.conversation(&id, now))
    });
    measure("embedded: team install lookup", 10, 2000, || {
        rt.block_on(store.team_install("19:t0", now))
    });
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

fn dynamodb(rt: &Runtime) {
    let Some(endpoint) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        println!("dynamodb: skipped (AWS_ENDPOINT_URL_DYNAMODB is not set; scripts/test starts moto_server)");
        return;
    };
    let counter = RequestCounter::new();
    let store = rt.block_on(async {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(&endpoint)
            .interceptor(counter.clone())
            .build();
        DynamoStore::new(
            aws_sdk_dynamodb::Client::from_conf(config),
            format!("bench-{}", std::process::id()),
        )
    });
    if let Err(err) = rt.block_on(store.create_table()) {
        println!("dynamodb: could not create the table at {endpoint}: {err}");
        return;
    }
    let now = Timestamp::now();
    let (a, b) = (
        "https://smba.trafficmanager.net/amer/",
        "https://smba.trafficmanager.net/emea/",
    );
    let run = |label: &str, activities: &[(&str, &str, &str)]| {
        counter.reset();
        for (conversation, activity, url) in activities {
            let _ = rt.block_on(store.record_inbound(&reference(conversation, activity, url), now));
        }
        let per = counter.total() as f64 / activities.len() as f64;
        println!(
            "dynamodb requests per inbound activity, {label:<36} {per:>5.2}  {:?}",
            counter.by_operation()
        );
    };
    run("first activity of a conversation:", &[("a:c1", "x0", a)]);
    let steady: Vec<(&str, &str, &str)> = ["x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10"]
        .iter()
        .map(|id| ("a:c1", *id, a))
        .collect();
    run("steady state (same serviceUrl):", &steady);
    run("redelivered duplicate:", &[("a:c1", "x1", a)]);
    run("serviceUrl moved:", &[("a:c1", "y1", b)]);
    let mut mix = vec![("a:c2", "m0", a)];
    mix.extend(
        ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"]
            .iter()
            .map(|id| ("a:c2", *id, a)),
    );
    run("mix: 1 new conversation + 9 messages:", &mix);
    let n = AtomicU64::new(0);
    measure("dynamodb (moto, loopback): record_inbound steady", 5, 20, || {
        let activity = format!("t-{}", n.fetch_add(1, Ordering::Relaxed));
        rt.block_on(store.record_inbound(&reference("a:c1", &activity, a), now))
    });
    let _ = rt.block_on(store.delete_table());
}

fn main() {
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread().enable_all().build() else {
        println!("no tokio runtime");
        return;
    };
    embedded(&rt);
    dynamodb(&rt);
}

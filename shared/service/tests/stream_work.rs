#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The devserver's stream work (`service::background`) over the in-memory and embedded stores, with a recording
//! Connector: outbox items are sent as the `proactive` function sends them, and on the embedded store the claims
//! committed before a start (whose in-memory change events died with the process) are handled at the next start
//! — the recent ones, once; those older than the mappings' `MaximumRecordAgeInSeconds` are not.

use connector::{ConnectorCall, RecordingConnector};
use serde_json::json;
use service::api::BotIdentity;
use service::{App, Inbound};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{EmbeddedStore, MemoryStore, Outbox as _, Store, TeamInstall, Timestamp, WelcomeClaims as _};

const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const BOT: &str = "28:bot-app-id";

fn app(store: Arc<dyn Store>, connector: Arc<RecordingConnector>) -> App {
    App {
        identity: BotIdentity::new(BOT, "Test Bot"),
        bot: Arc::new(reference_bot::ReferenceBot),
        connector,
        store,
        service_urls: connector::ServiceUrlAllowlist::default(),
        inbound: Inbound::Anonymous,
        welcome_roster: false,
        known: Arc::default(),
    }
}

/// Messages the recording Connector sent whose text starts with `prefix`, by conversation.
fn sent_starting(connector: &RecordingConnector, prefix: &str) -> Vec<String> {
    connector
        .calls()
        .iter()
        .filter_map(|c| match c {
            ConnectorCall::Send {
                conversation, activity, ..
            } if activity.text().is_some_and(|t| t.starts_with(prefix)) => Some(conversation.to_string()),
            _ => None,
        })
        .collect()
}

/// Waits (at most 5 s) until `done` holds.
async fn eventually(done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

#[tokio::test]
async fn the_change_feed_sends_an_outbox_item_once_as_the_proactive_function_does() {
    let store = Arc::new(MemoryStore::new());
    let changes = store.subscribe_changes();
    let connector = Arc::new(RecordingConnector::new());
    let app = app(store.clone(), connector.clone());
    tokio::spawn(service::background::run_change_feed(app.clone(), changes));
    // A 1:1 conversation the bot knows.
    let hello = json!({
        "type": "message", "id": "m1", "channelId": "msteams", "serviceUrl": SERVICE_URL, "text": "hello",
        "from": {"id": "29:megan", "name": "Megan"}, "recipient": {"id": BOT, "name": "Test Bot"},
        "conversation": {"id": "a:megan", "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}}
    });
    let answer = service::handle(&app, None, &serde_json::to_vec(&hello).unwrap()).await;
    assert_eq!(answer.status, 200);

    let item = store::OutboxItem {
        id: "ob-feed".into(),
        topic: "notify".into(),
        payload: json!({"to": {"conversation": {"id": "a:megan"}}, "message": {"text": "from the outbox"}}),
        done: false,
        created_at: Timestamp::now(),
    };
    assert!(store.enqueue(&item, Timestamp::now()).await.unwrap().won());
    let done = eventually(|| !sent_starting(&connector, "from the outbox").is_empty()).await;
    assert!(done, "{:#?}", connector.calls());
    let start = Instant::now();
    while !store
        .outbox_item("ob-feed", Timestamp::now())
        .await
        .unwrap()
        .unwrap()
        .done
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the item is never marked done"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sent_starting(&connector, "from the outbox"), ["a:megan"]);
}

fn install(team: &str, claimed_at: Timestamp) -> TeamInstall {
    TeamInstall {
        team_id: team.to_owned(),
        team_name: Some("Contoso".into()),
        tenant_id: TENANT.into(),
        service_url: SERVICE_URL.to_owned(),
        conversation_id: team.into(),
        bot: models::ChannelAccount {
            id: BOT.to_owned(),
            name: Some("Test Bot".into()),
            ..models::ChannelAccount::default()
        },
        installed_by: None,
        claimed_at,
    }
}

/// The devserver's stream work started over `store`: its change feed, first with what it committed in the
/// mappings' record age (as `App::build` subscribes). Answers the recording Connector.
async fn start_on(store: &Arc<EmbeddedStore>) -> Arc<RecordingConnector> {
    let now = Timestamp::now();
    let since = Timestamp(now.0 - i64::try_from(service::background::MAX_RECORD_AGE_SECS).unwrap());
    let changes = store.subscribe_changes_since(since, now).await.unwrap();
    let connector = Arc::new(RecordingConnector::new());
    tokio::spawn(service::background::run_change_feed(
        app(store.clone(), connector.clone()),
        changes,
    ));
    connector
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_committed_before_a_start_are_welcomed_at_the_next_start_once() {
    let dir = std::env::temp_dir().join(format!("stream-work-{}-{}", std::process::id(), line!()));
    let file = dir.join("store.redb");
    let recent = "19:recent@thread.tacv2";
    let old = "19:old@thread.tacv2";
    {
        // What a crash right after the webhook's commits leaves: the claims in the file, no welcome work.
        let store = EmbeddedStore::open(&file).await.unwrap();
        let now = Timestamp::now();
        let seven_hours_ago = Timestamp(now.0 - 7 * 3600);
        assert!(
            store
                .claim_team_install(&install(recent, now), now)
                .await
                .unwrap()
                .won()
        );
        assert!(
            store
                .claim_team_install(&install(old, seven_hours_ago), now)
                .await
                .unwrap()
                .won()
        );
    }
    let store = Arc::new(EmbeddedStore::open(&file).await.unwrap());
    let connector = start_on(&store).await;
    assert!(eventually(|| !sent_starting(&connector, "Welcome").is_empty()).await);
    // A settle window in which a second welcome (or the old claim's) would show.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sent_starting(&connector, "Welcome"),
        [recent],
        "the recent claim welcomed once; the one older than the mappings' record age not"
    );

    // What the next start replays, handled again after the welcome was sent: recognised as done, nothing sent.
    let again = start_on(&store).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sent_starting(&again, "Welcome").is_empty(), "{:#?}", again.calls());
    assert_eq!(sent_starting(&connector, "Welcome").len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

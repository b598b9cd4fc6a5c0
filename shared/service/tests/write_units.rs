#![allow(clippy::unwrap_used, clippy::expect_used)]
//! DynamoDB cost per inbound activity, through the webhook on the real API (moto; required with
//! `REQUIRE_REAL_SERVICES=1`): a steady-state message in a conversation this process recorded is one conditional
//! `PutItem` of the dedupe item (1 write unit by DynamoDB's rules: one unit per KB written, a failed condition
//! included; a transaction would cost 2 per item, and its condition check counts as a write), no read. A moved
//! serviceUrl still takes the full path on the very message that carries it. Also on the in-memory store: the
//! steady path keeps dedupe and the reference right.

use connector::RecordingConnector;
use models::ConversationId;
use serde_json::{Value, json};
use service::api::BotIdentity;
use service::{App, Inbound};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use store::{Conversations, DynamoStore, Item, MemoryStore, RequestCounter, Store, Timestamp};

const URL_A: &str = "https://smba.trafficmanager.net/amer/";
const URL_B: &str = "https://smba.trafficmanager.net/emea/";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const BOT: &str = "28:bot-app-id";

static IDS: AtomicU64 = AtomicU64::new(1);

fn app(store: Arc<dyn Store>) -> App {
    App {
        identity: BotIdentity::new(BOT, "Quiet"),
        // No handler does anything: only the runtime's own store requests are counted.
        bot: Arc::new(Quiet),
        connector: Arc::new(RecordingConnector::new()),
        store,
        service_urls: connector::ServiceUrlAllowlist::default(),
        inbound: Inbound::Anonymous,
        welcome_roster: false,
        known: Arc::default(),
    }
}

struct Quiet;

impl service::api::Bot for Quiet {}

fn message(conversation: &str, service_url: &str, id: Option<String>) -> Value {
    let id = id.unwrap_or_else(|| format!("m-{}", IDS.fetch_add(1, Ordering::Relaxed)));
    json!({
        "type": "message", "id": id, "channelId": "msteams", "serviceUrl": service_url,
        "from": {"id": "29:ann", "name": "Ann"}, "recipient": {"id": BOT, "name": "Quiet"},
        "conversation": {"id": conversation, "conversationType": "personal", "tenantId": TENANT},
        "text": "hello", "channelData": {"tenant": {"id": TENANT}}
    })
}

async fn deliver(app: &App, activity: &Value) -> u16 {
    service::handle(app, None, &serde_json::to_vec(activity).unwrap())
        .await
        .status
}

#[tokio::test]
async fn a_steady_state_message_is_one_put_of_one_write_unit() {
    let Some(endpoint) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        assert!(
            std::env::var("REQUIRE_REAL_SERVICES").as_deref() != Ok("1"),
            "AWS_ENDPOINT_URL_DYNAMODB is not set but REQUIRE_REAL_SERVICES=1"
        );
        println!("skipped: AWS_ENDPOINT_URL_DYNAMODB is not set (start moto_server, see scripts/test)");
        return;
    };
    let counter = RequestCounter::new();
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .interceptor(counter.clone())
        .build();
    let table = format!(
        "write-units-{}-{}",
        std::process::id(),
        IDS.fetch_add(1, Ordering::Relaxed)
    );
    let dynamo = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), table));
    dynamo.create_table().await.unwrap();
    let app = app(dynamo.clone());

    // The first message of a conversation writes its reference (and the tenant's serviceUrl, the personal index).
    counter.reset();
    assert_eq!(deliver(&app, &message("a:ann", URL_A, None)).await, 200);
    let first = counter.by_operation();
    assert!(first.contains_key("TransactWriteItems"), "{first:?}");

    // Steady state: one conditional PutItem per message, nothing else.
    let n = 20;
    counter.reset();
    for _ in 0..n {
        assert_eq!(deliver(&app, &message("a:ann", URL_A, None)).await, 200);
    }
    let steady = counter.by_operation();
    assert_eq!(steady.get("PutItem"), Some(&n), "one PutItem per message: {steady:?}");
    assert_eq!(
        counter.total(),
        n,
        "and no other request (no read, no transaction): {steady:?}"
    );

    // The item that PutItem writes is well under 1 KB: 1 write unit.
    let seen = store::Table::query_prefix(&*dynamo, "SEEN#a:ann", "", Timestamp::now(), 100)
        .await
        .unwrap();
    assert_eq!(
        seen.len(),
        usize::try_from(n).unwrap() + 1,
        "every message claimed its id"
    );
    let largest = seen.iter().map(item_size).max().unwrap();
    assert!(largest < 1024, "the dedupe item is {largest} bytes");
    println!(
        "WRITE-UNITS steady-state message: 1 PutItem of {largest} bytes = 1 WCU, 0 RCU (first message of a conversation: {first:?})"
    );

    // A redelivery is still a duplicate on the steady path (one failed conditional put: 1 write unit).
    counter.reset();
    let dup = message("a:ann", URL_A, Some("m-dup".to_owned()));
    assert_eq!(deliver(&app, &dup).await, 200);
    assert_eq!(deliver(&app, &dup).await, 200);
    assert_eq!(
        counter.by_operation().get("PutItem"),
        Some(&2),
        "{:?}",
        counter.by_operation()
    );
    assert_eq!(
        store::Table::query_prefix(&*dynamo, "SEEN#a:ann", "m-dup", Timestamp::now(), 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // A moved serviceUrl takes the full path on the very message that carries it.
    counter.reset();
    assert_eq!(deliver(&app, &message("a:ann", URL_B, None)).await, 200);
    assert!(
        counter.by_operation().contains_key("TransactWriteItems"),
        "{:?}",
        counter.by_operation()
    );
    let record = dynamo
        .conversation(&ConversationId::from("a:ann"), Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.reference.service_url, URL_B);
    dynamo.delete_table().await.unwrap();
}

/// DynamoDB's item size: attribute names and values (strings by length, numbers by digits, roughly).
fn item_size(item: &Item) -> usize {
    item.to_json()
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    Value::String(s) => s.len(),
                    other => other.to_string().len(),
                }
        })
        .sum()
}

#[tokio::test]
async fn the_steady_path_keeps_dedupe_and_the_reference_right() {
    let store = Arc::new(MemoryStore::new());
    let app = app(store.clone());
    assert_eq!(deliver(&app, &message("a:bo", URL_A, None)).await, 200);
    assert!(app.known.is_known(&ConversationId::from("a:bo"), URL_A));
    let again = message("a:bo", URL_A, Some("m-bo".to_owned()));
    assert_eq!(deliver(&app, &again).await, 200);
    assert_eq!(deliver(&app, &again).await, 200);
    let seen = store::Table::query_prefix(&*store, "SEEN#a:bo", "m-bo", Timestamp::now(), 10)
        .await
        .unwrap();
    assert_eq!(seen.len(), 1);
    // Moved: recorded on that message.
    assert_eq!(deliver(&app, &message("a:bo", URL_B, None)).await, 200);
    let record = store
        .conversation(&ConversationId::from("a:bo"), Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.reference.service_url, URL_B);
    // Marked inactive here (a 403 on a send): forgotten, so the next message takes the full path.
    store
        .mark_inactive(
            &ConversationId::from("a:bo"),
            store::InactiveReason::Forbidden,
            Timestamp::now(),
        )
        .await
        .unwrap();
    app.known.forget(&ConversationId::from("a:bo"));
    assert_eq!(deliver(&app, &message("a:bo", URL_B, None)).await, 200);
    assert_eq!(
        store
            .is_active(&ConversationId::from("a:bo"), Timestamp::now())
            .await
            .unwrap(),
        Some(true),
        "the full path reactivates it"
    );
}

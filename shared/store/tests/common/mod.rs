//! Helpers shared by the store's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use models::{ChannelAccount, ConversationAccount, ConversationId, ConversationReference, ConversationType, TenantId};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use store::{DynamoStore, EmbeddedStore};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The local DynamoDB endpoint, or `None` after printing "skipped" — unless REQUIRE_REAL_SERVICES=1, which fails.
pub fn dynamo_endpoint(test: &str) -> Option<String> {
    match std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .ok()
        .filter(|e| !e.is_empty())
    {
        Some(endpoint) => Some(endpoint),
        None => {
            assert!(
                std::env::var("REQUIRE_REAL_SERVICES").as_deref() != Ok("1"),
                "{test}: AWS_ENDPOINT_URL_DYNAMODB is not set but REQUIRE_REAL_SERVICES=1"
            );
            println!("skipped: {test}: AWS_ENDPOINT_URL_DYNAMODB is not set (start moto_server, see scripts/test)");
            None
        }
    }
}

/// The SDK's standard configuration from the environment (endpoint from AWS_ENDPOINT_URL_DYNAMODB).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A fresh table on the local server.
pub async fn fresh_dynamo(client: aws_sdk_dynamodb::Client) -> DynamoStore {
    let store = DynamoStore::new(client, unique("store-test"));
    store.create_table().await.expect("create table");
    store
}

/// A fresh embedded store file.
pub async fn fresh_embedded() -> (EmbeddedStore, PathBuf) {
    let path = std::env::temp_dir().join(unique("store-test")).join("state.redb");
    let store = EmbeddedStore::open(&path).await.expect("open embedded store");
    (store, path)
}

pub fn tenant() -> TenantId {
    TenantId::from("tenant-1")
}

pub fn bot() -> ChannelAccount {
    ChannelAccount::new("28:bot-app-id", Some("Reference Bot".to_owned()))
}

/// A reference as an inbound activity in a personal chat would give it.
pub fn personal_reference(conversation: &str, user: &str, aad: &str, service_url: &str) -> ConversationReference {
    let mut from = ChannelAccount::new(user, Some("Ada".to_owned()));
    from.aad_object_id = Some(aad.to_owned());
    ConversationReference {
        activity_id: Some("act-1".into()),
        user: Some(from),
        bot: bot(),
        conversation: ConversationAccount {
            id: ConversationId::from(conversation),
            conversation_type: Some(ConversationType::Personal),
            tenant_id: Some(tenant()),
            ..ConversationAccount::default()
        },
        channel_id: "msteams".to_owned(),
        service_url: service_url.to_owned(),
        locale: Some("en-US".to_owned()),
        tenant_id: Some(tenant()),
        team_id: None,
        channel: None,
    }
}

/// A reference from a channel of a team.
pub fn channel_reference(conversation: &str, team: &str, service_url: &str) -> ConversationReference {
    let mut reference = personal_reference(conversation, "29:someone", "aad-someone", service_url);
    reference.conversation.conversation_type = Some(ConversationType::Channel);
    reference.conversation.is_group = Some(true);
    reference.team_id = Some(team.to_owned());
    reference.channel = Some(conversation.to_owned());
    reference
}

/// Writes a summary line where the test script's output shows it, and to `.tools/store-contract-<backend>.txt`.
///
/// `println!` inside a passing test is captured by the harness, so the lines go straight to the process's
/// stdout (`io::stdout()`, which the harness does not capture), each starting on a fresh line.
pub fn report(backend: &str, lines: &[String]) {
    use std::io::Write as _;
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("\n{text}").as_bytes());
    let _ = out.flush();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools");
    let _ = std::fs::create_dir_all(&dir);
    std::fs::write(dir.join(format!("store-contract-{backend}.txt")), text).expect("write contract summary");
}

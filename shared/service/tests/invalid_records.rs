#![allow(clippy::unwrap_used, clippy::expect_used)]
//! An activity the store refuses as invalid (an empty conversation id, an empty tenant id on an install) is the
//! caller's 400, not a 503 that tells Teams to retry what can never be stored. Found by the fuzz harness
//! (tests/fuzz, issue 16).

use serde_json::json;
use teams_bot::NoBot;
use teams_bot::testkit::{BOT_ID, SERVICE_URL, TestKit, USER_ID};

#[tokio::test]
async fn an_empty_conversation_id_is_a_400_and_nothing_is_sent() {
    let kit = TestKit::new(NoBot);
    // The fuzzer's smallest reproducer.
    let typing = json!({
        "type": "typing", "id": "5", "serviceUrl": SERVICE_URL, "recipient": {"id": "28:b"},
        "conversation": {"id": ""}
    });
    let (status, body) = kit.deliver_full(&typing).await;
    assert_eq!(status, 400, "{body}");
    let message = json!({
        "type": "message", "id": "6", "serviceUrl": SERVICE_URL, "text": "hi",
        "from": {"id": USER_ID}, "recipient": {"id": BOT_ID}, "conversation": {"id": ""}
    });
    assert_eq!(kit.deliver(&message).await, 400);
    assert!(kit.calls().is_empty());
}

#[tokio::test]
async fn a_personal_install_with_an_empty_tenant_id_is_a_400() {
    let kit = TestKit::new(NoBot);
    let install = json!({
        "type": "installationUpdate", "action": "add", "id": "7", "serviceUrl": SERVICE_URL,
        "from": {"id": USER_ID}, "recipient": {"id": BOT_ID},
        "conversation": {"id": "a:1", "conversationType": "personal"},
        "channelData": {"tenant": {"id": ""}}
    });
    assert_eq!(kit.deliver(&install).await, 400);
    assert!(kit.calls().is_empty());
}

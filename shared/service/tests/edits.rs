#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Edits and deletes reach the bot once each: Teams sends `messageUpdate` / `messageDelete` with the id of the
//! message they change, so dedupe by id alone dropped every edit of a message the bot had seen, every second
//! edit, and every delete (issue 15, item 1). An exact redelivery of any of them is still dropped.

use serde_json::{Value, json};
use teams_bot::testkit::{BOT_ID, PERSONAL_CONVERSATION, SERVICE_URL, TENANT, TestKit, USER_ID};
use teams_bot::{Bot, BotError, Context, IncomingMessage, MessageDeleted, MessageEdit};

struct Watcher;

#[teams_bot::async_trait]
impl Bot for Watcher {
    async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
        ctx.reply(format!("message: {}", message.text)).await.map(|_| ())
    }

    async fn on_message_edit(&self, ctx: &Context<'_>, edit: &MessageEdit<'_>) -> Result<(), BotError> {
        ctx.reply(format!("edit of {}: {}", edit.message_id, edit.text))
            .await
            .map(|_| ())
    }

    async fn on_message_delete(&self, ctx: &Context<'_>, deleted: &MessageDeleted<'_>) -> Result<(), BotError> {
        ctx.reply(format!("delete of {}", deleted.message_id)).await.map(|_| ())
    }
}

/// An activity about message `1` in the test kit's 1:1 chat, as Teams sends it (msteams-docs
/// "subscribe-to-conversation-events": the edit and the delete carry the message's own id).
fn about_message(kind: &str, event: Option<&str>, text: Option<&str>, timestamp: &str) -> Value {
    let mut activity = json!({
        "type": kind, "id": "1", "timestamp": timestamp, "channelId": "msteams", "serviceUrl": SERVICE_URL,
        "from": {"id": USER_ID, "name": "Test User"}, "recipient": {"id": BOT_ID, "name": "Test Bot"},
        "conversation": {"id": PERSONAL_CONVERSATION, "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}},
    });
    if let Some(event) = event {
        activity["channelData"]["eventType"] = json!(event);
    }
    if let Some(text) = text {
        activity["text"] = json!(text);
    }
    activity
}

fn replies(kit: &TestKit) -> Vec<String> {
    kit.sent_texts()
        .into_iter()
        .filter(|t| !t.starts_with("Welcome"))
        .collect()
}

#[tokio::test]
async fn every_edit_and_the_delete_of_a_seen_message_reach_the_bot_once() {
    let kit = TestKit::new(Watcher);
    let original = about_message("message", None, Some("hello"), "2026-11-30T10:00:00.000Z");
    let first_edit = about_message(
        "messageUpdate",
        Some("editMessage"),
        Some("hello!"),
        "2026-11-30T10:01:00.000Z",
    );
    let second_edit = about_message(
        "messageUpdate",
        Some("editMessage"),
        Some("hello?"),
        "2026-11-30T10:02:00.000Z",
    );
    let delete = about_message(
        "messageDelete",
        Some("softDeleteMessage"),
        None,
        "2026-11-30T10:03:00.000Z",
    );
    for activity in [
        &original,
        &first_edit,
        &first_edit,
        &second_edit,
        &second_edit,
        &delete,
        &delete,
    ] {
        assert_eq!(kit.deliver(activity).await, 200);
    }
    assert_eq!(
        replies(&kit),
        [
            "message: hello",
            "edit of 1: hello!",
            "edit of 1: hello?",
            "delete of 1"
        ]
    );
}

#[tokio::test]
async fn an_edit_back_to_earlier_text_at_a_later_time_is_a_new_edit() {
    let kit = TestKit::new(Watcher);
    let edit = |text, at| about_message("messageUpdate", Some("editMessage"), Some(text), at);
    for activity in [
        edit("a", "2026-11-30T10:01:00.000Z"),
        edit("b", "2026-11-30T10:02:00.000Z"),
        edit("a", "2026-11-30T10:03:00.000Z"),
    ] {
        assert_eq!(kit.deliver(&activity).await, 200);
    }
    assert_eq!(replies(&kit), ["edit of 1: a", "edit of 1: b", "edit of 1: a"]);
}

#[tokio::test]
async fn an_undelete_is_an_edit_and_a_redelivered_message_is_still_a_duplicate() {
    let kit = TestKit::new(Watcher);
    let original = about_message("message", None, Some("hi"), "2026-11-30T10:00:00.000Z");
    let undelete = about_message(
        "messageUpdate",
        Some("undeleteMessage"),
        Some("hi"),
        "2026-11-30T10:05:00.000Z",
    );
    for activity in [&original, &original, &undelete, &undelete] {
        assert_eq!(kit.deliver(activity).await, 200);
    }
    assert_eq!(replies(&kit), ["message: hi", "edit of 1: hi"]);
}

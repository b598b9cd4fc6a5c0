//! The Tally bot end to end through `teams_bot::testkit::TestKit`: the whole runtime in-process, written as a user
//! would in their own repository (only `teams_bot`'s public API).

use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use teams_bot::testkit::{self, TestKit};
use user_bot::{GET_INVOKE, HELP, REMINDER_TEXT, Tally, WELCOME_PREFIX};

/// A second user, in their own 1:1 chat with the bot.
const OTHER_USER: &str = "29:other-user";
const OTHER_NAME: &str = "Other User";
const OTHER_PERSONAL: &str = "a:other-personal-chat";

/// Unique ids for the activities these tests build (the kit numbers its own `kit-N`).
fn next_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("user-test-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// An activity as Teams delivers it (the shape of the test kit's own), from `user` in `conversation`.
fn envelope(
    kind: &str,
    id: &str,
    (user_id, user_name): (&str, &str),
    conversation: &str,
    conversation_type: &str,
) -> Value {
    let mut channel_data = json!({"tenant": {"id": testkit::TENANT}});
    if conversation_type == "channel" {
        channel_data["team"] = json!({"id": testkit::TEAM_ID, "name": "Test Team"});
        channel_data["channel"] = json!({"id": conversation, "name": "General"});
    }
    json!({
        "type": kind,
        "id": id,
        "timestamp": "2026-01-01T00:00:00.000Z",
        "channelId": "msteams",
        "serviceUrl": testkit::SERVICE_URL,
        "from": {"id": user_id, "name": user_name},
        "recipient": {"id": testkit::BOT_ID, "name": testkit::BOT_NAME},
        "conversation": {
            "id": conversation,
            "conversationType": conversation_type,
            "isGroup": conversation_type != "personal",
            "tenantId": testkit::TENANT,
        },
        "channelData": channel_data,
    })
}

/// A 1:1 message from the second user.
fn other_user_message(text: &str) -> Value {
    let mut activity = envelope(
        "message",
        &next_id(),
        (OTHER_USER, OTHER_NAME),
        OTHER_PERSONAL,
        "personal",
    );
    activity["text"] = json!(text);
    activity
}

/// A group chat message from the second user that @mentions the bot.
fn other_user_group_mention(text: &str) -> Value {
    let mut activity = envelope(
        "message",
        &next_id(),
        (OTHER_USER, OTHER_NAME),
        testkit::GROUP_CHAT,
        "groupChat",
    );
    let mention = format!("<at>{}</at>", testkit::BOT_NAME);
    activity["text"] = json!(format!("{mention} {text}"));
    activity["entities"] = json!([{
        "type": "mention",
        "mentioned": {"id": testkit::BOT_ID, "name": testkit::BOT_NAME},
        "text": mention,
    }]);
    activity
}

/// A 1:1 message from the kit's test user with an id of our choosing (to edit or redeliver it).
fn user_message(id: &str, text: &str) -> Value {
    let mut activity = envelope(
        "message",
        id,
        (testkit::USER_ID, testkit::USER_NAME),
        testkit::PERSONAL_CONVERSATION,
        "personal",
    );
    activity["text"] = json!(text);
    activity
}

/// The test user's edit of their 1:1 message `id` at `timestamp` (Teams keeps the message's id on the edit).
fn user_edit(id: &str, text: &str, timestamp: &str) -> Value {
    let mut activity = envelope(
        "messageUpdate",
        id,
        (testkit::USER_ID, testkit::USER_NAME),
        testkit::PERSONAL_CONVERSATION,
        "personal",
    );
    activity["text"] = json!(text);
    activity["timestamp"] = json!(timestamp);
    activity["channelData"]["eventType"] = json!("editMessage");
    activity
}

/// Everything the bot sent except the welcomes (a first 1:1 message also triggers the personal welcome, sent
/// from the runtime's change feed at its own pace).
fn replies(kit: &TestKit) -> Vec<String> {
    kit.sent_texts()
        .into_iter()
        .filter(|t| !t.starts_with(WELCOME_PREFIX))
        .collect()
}

fn welcomes(texts: &[String]) -> usize {
    texts.iter().filter(|t| t.starts_with(WELCOME_PREFIX)).count()
}

fn reminders(kit: &TestKit) -> usize {
    kit.sent_texts().iter().filter(|t| t.as_str() == REMINDER_TEXT).count()
}

/// The conversation each reminder was posted in.
fn reminder_conversations(kit: &TestKit) -> Vec<String> {
    kit.sent()
        .iter()
        .filter(|a| a.text() == Some(REMINDER_TEXT))
        .map(|a| a.conversation.as_ref().map(|c| c.id.to_string()).unwrap_or_default())
        .collect()
}

mod commands {
    use super::*;

    #[tokio::test]
    async fn count_answers_the_running_count() {
        let kit = TestKit::new(Tally);
        for _ in 0..3 {
            assert_eq!(kit.personal_message("count").await, 200);
        }
        assert_eq!(
            replies(&kit),
            [
                "You have counted 1 times",
                "You have counted 2 times",
                "You have counted 3 times"
            ]
        );
    }

    #[tokio::test]
    async fn commands_ignore_case_and_spacing() {
        let kit = TestKit::new(Tally);
        kit.personal_message("  COUNT ").await;
        kit.personal_message("Team  Total").await;
        assert_eq!(
            replies(&kit),
            ["You have counted 1 times", "This conversation has counted 1 times"]
        );
    }

    #[tokio::test]
    async fn anything_else_gets_the_help() {
        let kit = TestKit::new(Tally);
        kit.personal_message("hello there").await;
        kit.personal_message("remind every 0").await;
        kit.personal_message("remind me later").await;
        assert_eq!(
            replies(&kit),
            [
                HELP.to_owned(),
                "Say `remind every <minutes>`, with 1 to 1440 minutes".to_owned(),
                "Say `remind every <minutes>`, with 1 to 1440 minutes".to_owned(),
            ]
        );
    }

    #[tokio::test]
    async fn a_channel_message_that_mentions_the_bot_is_answered_without_the_mention() {
        let kit = TestKit::new(Tally);
        assert_eq!(kit.channel_message("count").await, 200);
        assert_eq!(kit.sent_texts(), ["You have counted 1 times"]);
    }

    #[tokio::test]
    async fn an_edit_is_noticed() {
        let kit = TestKit::new(Tally);
        let edit = user_edit(&next_id(), "count, edited", "2026-01-01T00:01:00.000Z");
        assert_eq!(kit.deliver(&edit).await, 200);
        assert_eq!(replies(&kit), ["You edited your message"]);
    }

    /// Teams delivers the edit of a message with that message's own id: the edit of a message the bot already
    /// handled must still reach `on_message_edit`, not be dropped as a redelivery of the message.
    #[tokio::test]
    async fn an_edit_of_a_message_the_bot_saw_is_noticed() {
        let kit = TestKit::new(Tally);
        let id = next_id();
        assert_eq!(kit.deliver(&user_message(&id, "count")).await, 200);
        let edit = user_edit(&id, "count twice", "2026-01-01T00:01:00.000Z");
        assert_eq!(kit.deliver(&edit).await, 200);
        assert_eq!(replies(&kit), ["You have counted 1 times", "You edited your message"]);
    }

    /// Each edit of one message carries that message's id: a second edit is news, not a redelivery of the first.
    #[tokio::test]
    async fn every_edit_of_a_message_is_noticed() {
        let kit = TestKit::new(Tally);
        let id = next_id();
        let first = user_edit(&id, "first edit", "2026-01-01T00:01:00.000Z");
        let second = user_edit(&id, "second edit", "2026-01-01T00:02:00.000Z");
        assert_eq!(kit.deliver(&first).await, 200);
        assert_eq!(kit.deliver(&second).await, 200);
        assert_eq!(replies(&kit), ["You edited your message", "You edited your message"]);
    }

    /// A redelivered edit (same id, same time) is still handled once.
    #[tokio::test]
    async fn a_redelivered_edit_is_noticed_once() {
        let kit = TestKit::new(Tally);
        let edit = user_edit(&next_id(), "edited", "2026-01-01T00:01:00.000Z");
        assert_eq!(kit.deliver(&edit).await, 200);
        assert_eq!(kit.deliver(&edit).await, 200);
        assert_eq!(replies(&kit), ["You edited your message"]);
    }
}

mod state {
    use super::*;

    #[tokio::test]
    async fn each_user_has_their_own_counter() {
        let kit = TestKit::new(Tally);
        // Both users count in the same group chat, and each in their own 1:1 chat.
        kit.group_message("count", true).await;
        kit.group_message("count", true).await;
        assert_eq!(kit.deliver(&other_user_group_mention("count")).await, 200);
        kit.personal_message("count").await;
        assert_eq!(kit.deliver(&other_user_message("count")).await, 200);
        assert_eq!(
            replies(&kit),
            [
                "You have counted 1 times",
                "You have counted 2 times",
                "You have counted 1 times",
                "You have counted 3 times",
                "You have counted 2 times",
            ]
        );
    }

    #[tokio::test]
    async fn a_users_counter_follows_them_across_conversations() {
        let kit = TestKit::new(Tally);
        kit.personal_message("count").await;
        kit.channel_message("count").await;
        kit.group_message("count", true).await;
        assert_eq!(
            replies(&kit),
            [
                "You have counted 1 times",
                "You have counted 2 times",
                "You have counted 3 times"
            ]
        );
    }

    #[tokio::test]
    async fn the_total_is_kept_per_conversation() {
        let kit = TestKit::new(Tally);
        // Two users count in the group chat, one in the channel, one in a 1:1 chat.
        kit.group_message("count", true).await;
        assert_eq!(kit.deliver(&other_user_group_mention("count")).await, 200);
        kit.channel_message("count").await;
        kit.personal_message("count").await;
        kit.clear();

        kit.group_message("team total", true).await;
        assert_eq!(kit.deliver(&other_user_group_mention("team total")).await, 200);
        kit.channel_message("team total").await;
        kit.personal_message("team total").await;
        assert_eq!(kit.deliver(&other_user_message("team total")).await, 200);
        assert_eq!(
            replies(&kit),
            [
                "This conversation has counted 2 times",
                "This conversation has counted 2 times",
                "This conversation has counted 1 times",
                "This conversation has counted 1 times",
                "This conversation has counted 0 times",
            ]
        );
    }
}

mod jobs {
    use super::*;

    #[tokio::test]
    async fn a_reminder_runs_once_per_slot() {
        let kit = TestKit::new(Tally);
        kit.personal_message("remind every 1").await;
        assert_eq!(replies(&kit), ["I will remind you every 1 minutes"]);

        let report = kit.tick().await;
        assert_eq!(report["sent"], 1, "{report}");
        assert_eq!(reminders(&kit), 1);
        assert_eq!(reminder_conversations(&kit), [testkit::PERSONAL_CONVERSATION]);

        // The next slot is a minute away: a second tick now runs nothing.
        let report = kit.tick().await;
        assert_eq!(report["sent"], 0, "{report}");
        assert_eq!(reminders(&kit), 1);
    }

    #[tokio::test]
    async fn a_reminder_is_posted_where_it_was_asked_for() {
        let kit = TestKit::new(Tally);
        kit.channel_message("remind every 5").await;
        kit.tick().await;
        assert_eq!(reminder_conversations(&kit), [testkit::TEAM_ID]);
    }

    #[tokio::test]
    async fn stop_cancels_a_due_reminder() {
        let kit = TestKit::new(Tally);
        kit.personal_message("remind every 1").await;
        kit.personal_message("stop").await;
        let report = kit.tick().await;
        assert_eq!(report["sent"], 0, "{report}");
        assert_eq!(reminders(&kit), 0);
        assert_eq!(replies(&kit), ["I will remind you every 1 minutes", "Reminder stopped"]);
    }

    #[tokio::test]
    async fn stop_after_a_run_ends_the_reminder() {
        let kit = TestKit::new(Tally);
        kit.personal_message("remind every 1").await;
        kit.tick().await;
        assert_eq!(reminders(&kit), 1);
        kit.personal_message("stop").await;
        kit.personal_message("stop").await;
        kit.tick().await;
        assert_eq!(reminders(&kit), 1);
        let replies = replies(&kit);
        assert_eq!(
            replies[replies.len() - 2..],
            ["Reminder stopped", "There is no reminder to stop"]
        );
    }

    #[tokio::test]
    async fn stop_in_one_conversation_leaves_the_others_reminder() {
        let kit = TestKit::new(Tally);
        kit.personal_message("remind every 1").await;
        kit.channel_message("remind every 1").await;
        kit.channel_message("stop").await;
        kit.tick().await;
        assert_eq!(reminder_conversations(&kit), [testkit::PERSONAL_CONVERSATION]);
    }
}

mod invokes {
    use super::*;

    #[tokio::test]
    async fn get_answers_the_senders_count() {
        let kit = TestKit::new(Tally);
        assert_eq!(kit.invoke(GET_INVOKE, json!({})).await, (200, json!({"count": 0})));
        kit.personal_message("count").await;
        kit.personal_message("count").await;
        // Another user's counting is not ours.
        kit.deliver(&other_user_message("count")).await;
        assert_eq!(kit.invoke(GET_INVOKE, json!({})).await, (200, json!({"count": 2})));
    }

    #[tokio::test]
    async fn an_unknown_invoke_is_a_404() {
        let kit = TestKit::new(Tally);
        let (status, body) = kit.invoke("tally/reset", json!({})).await;
        assert_eq!(status, 404);
        assert_eq!(body, json!({"error": "unknown invoke `tally/reset`"}));
        assert!(kit.sent_texts().is_empty());
    }
}

mod runtime {
    use super::*;

    #[tokio::test]
    async fn a_redelivered_activity_is_handled_once() {
        let kit = TestKit::new(Tally);
        let activity = user_message(&next_id(), "count");
        assert_eq!(kit.deliver(&activity).await, 200);
        assert_eq!(kit.deliver(&activity).await, 200);
        assert_eq!(replies(&kit), ["You have counted 1 times"]);
        // ... and counted once.
        assert_eq!(kit.invoke(GET_INVOKE, json!({})).await, (200, json!({"count": 1})));
    }

    #[tokio::test]
    async fn a_team_is_welcomed_exactly_once() {
        let kit = TestKit::new(Tally);
        assert_eq!(kit.install_in_team().await, 200);
        assert_eq!(kit.install_in_team().await, 200);
        assert!(
            kit.wait_for(|texts| welcomes(texts) >= 1).await,
            "{:?}",
            kit.sent_texts()
        );
        // Give a second welcome every chance to show up.
        assert!(
            !kit.wait_for(|texts| welcomes(texts) > 1).await,
            "{:?}",
            kit.sent_texts()
        );
        assert_eq!(
            kit.sent_texts(),
            ["Welcome to Tally, Test Team! Mention me with `count` to count."]
        );
    }

    #[tokio::test]
    async fn a_user_is_welcomed_exactly_once() {
        let kit = TestKit::new(Tally);
        assert_eq!(kit.install_personal().await, 200);
        kit.personal_message("count").await;
        assert_eq!(kit.install_personal().await, 200);
        assert!(
            kit.wait_for(|texts| welcomes(texts) >= 1).await,
            "{:?}",
            kit.sent_texts()
        );
        assert!(
            !kit.wait_for(|texts| welcomes(texts) > 1).await,
            "{:?}",
            kit.sent_texts()
        );
        let welcome = format!("{WELCOME_PREFIX}! {HELP}");
        assert_eq!(
            kit.sent_texts()
                .iter()
                .filter(|t| t.starts_with(WELCOME_PREFIX))
                .collect::<Vec<_>>(),
            [&welcome]
        );
    }

    #[tokio::test]
    async fn a_group_chat_message_without_a_mention_is_ignored() {
        let kit = TestKit::new(Tally);
        assert_eq!(kit.group_message("count", false).await, 200);
        assert!(kit.sent_texts().is_empty(), "{:?}", kit.sent_texts());
        // Not counted either; the same text with a mention is.
        assert_eq!(kit.group_message("count", true).await, 200);
        assert_eq!(kit.sent_texts(), ["You have counted 1 times"]);
    }
}

//! The echo follows the user's message (issue 15; docs/contract.md "Edits and deletes"): an edit of a message the
//! bot echoed updates the echo in place (PUT) to quote the new text, a delete deletes the echo, and an exact
//! redelivery of either does nothing more. In a 1:1 chat, a group chat and a channel thread, driven through the
//! whole runtime with the test kit (its dedupe included).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use connector::{ConnectorCall, ConnectorError};
use reference_bot::ReferenceBot;
use reference_bot::edits::echo_state_name;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use teams_bot::ActivityId;
use teams_bot::models::Activity;
use teams_bot::testkit::{BOT_ID, BOT_NAME, GROUP_CHAT, PERSONAL_CONVERSATION, TEAM_ID, TestKit};

/// Where the user writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Personal,
    GroupChat,
    /// A reply chain in the test team's General channel.
    Channel,
}

const PLACES: [Place; 3] = [Place::Personal, Place::GroupChat, Place::Channel];

impl Place {
    fn conversation(self) -> String {
        match self {
            Self::Personal => PERSONAL_CONVERSATION.to_owned(),
            Self::GroupChat => GROUP_CHAT.to_owned(),
            Self::Channel => format!("{TEAM_ID};messageid=1714557600000"),
        }
    }

    fn conversation_type(self) -> &'static str {
        match self {
            Self::Personal => "personal",
            Self::GroupChat => "groupChat",
            Self::Channel => "channel",
        }
    }

    /// Whether a message here must @mention the bot to reach it.
    fn needs_mention(self) -> bool {
        self != Self::Personal
    }
}

/// `<at>Test Bot</at>`: how a message @mentions the kit's bot.
fn bot_at() -> String {
    format!("<at>{BOT_NAME}</at>")
}

/// An activity of `kind` about message `id` in `place`, from the kit's user, as Teams addresses it.
fn activity(kit: &TestKit, place: Place, kind: &str, id: &str) -> Value {
    let mut v = kit.activity(kind, &place.conversation(), place.conversation_type());
    v["id"] = json!(id);
    if place == Place::Channel {
        v["channelData"]["channel"] = json!({"id": TEAM_ID, "name": "General"});
    }
    v
}

/// `text` as the user typed it in `place`: after an @mention of the bot where the bot needs one (with its
/// `mention` entity).
fn with_text(mut v: Value, place: Place, text: &str) -> Value {
    if place.needs_mention() {
        v["text"] = json!(format!("{} {text}", bot_at()));
        v["entities"] = json!([{"type": "mention", "mentioned": {"id": BOT_ID, "name": BOT_NAME}, "text": bot_at()}]);
    } else {
        v["text"] = json!(text);
    }
    v
}

/// The user's message `id` saying `text`.
fn message(kit: &TestKit, place: Place, id: &str, text: &str) -> Value {
    with_text(activity(kit, place, "message", id), place, text)
}

/// The user's edit of message `id` to `text` (`messageUpdate` with the message's own id, `editMessage`), at a time
/// later than every earlier edit.
fn edit(kit: &TestKit, place: Place, id: &str, text: &str) -> Value {
    static MINUTE: AtomicU64 = AtomicU64::new(0);
    let minute = MINUTE.fetch_add(1, Ordering::Relaxed);
    let mut v = with_text(activity(kit, place, "messageUpdate", id), place, text);
    v["channelData"]["eventType"] = json!("editMessage");
    v["timestamp"] = json!(format!("2026-11-30T{:02}:{:02}:00.000Z", 10 + minute / 60, minute % 60));
    v
}

/// The user's delete of message `id` (`messageDelete`, `softDeleteMessage`).
fn delete(kit: &TestKit, place: Place, id: &str) -> Value {
    let mut v = activity(kit, place, "messageDelete", id);
    v["channelData"]["eventType"] = json!("softDeleteMessage");
    v
}

async fn deliver(kit: &TestKit, activity: &Value) {
    assert_eq!(kit.deliver(activity).await, 200, "{activity}");
}

/// The one reply to message `id`: its conversation, its id (the recording Connector's ids are `1`, `2`, ... in
/// call order while no call fails) and its text.
fn echo_of(kit: &TestKit, id: &str) -> (String, String, String) {
    let calls = kit.calls();
    let replies: Vec<(usize, &ConnectorCall)> = calls
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c, ConnectorCall::Reply { reply_to, .. } if reply_to.as_str() == id))
        .collect();
    assert_eq!(replies.len(), 1, "replies to {id}: {calls:#?}");
    let (
        index,
        ConnectorCall::Reply {
            conversation, activity, ..
        },
    ) = replies[0]
    else {
        unreachable!()
    };
    (
        conversation.to_string(),
        (index + 1).to_string(),
        activity.text().unwrap().to_owned(),
    )
}

/// Every update (PUT) the bot made: conversation, activity id and the replacement.
fn updates(kit: &TestKit) -> Vec<(String, String, Activity)> {
    kit.calls()
        .into_iter()
        .filter_map(|c| match c {
            ConnectorCall::Update {
                conversation,
                activity_id,
                activity,
                ..
            } => Some((conversation.to_string(), activity_id.to_string(), activity)),
            _ => None,
        })
        .collect()
}

/// The texts of every update, in order.
fn updated_texts(kit: &TestKit) -> Vec<String> {
    updates(kit)
        .iter()
        .map(|(_, _, a)| a.text().unwrap().to_owned())
        .collect()
}

/// Every delete the bot made: conversation and activity id.
fn deletes(kit: &TestKit) -> Vec<(String, String)> {
    kit.calls()
        .into_iter()
        .filter_map(|c| match c {
            ConnectorCall::Delete {
                conversation,
                activity_id,
                ..
            } => Some((conversation.to_string(), activity_id.to_string())),
            _ => None,
        })
        .collect()
}

/// Every call that posts something (reply, send, new conversation or thread), welcomes left out.
fn posts(kit: &TestKit) -> Vec<ConnectorCall> {
    kit.calls()
        .into_iter()
        .filter(|c| match c {
            ConnectorCall::Reply { .. } | ConnectorCall::CreateConversation { .. } => true,
            ConnectorCall::Send { activity, .. } => !activity.text().is_some_and(|t| t.starts_with("Welcome")),
            _ => false,
        })
        .collect()
}

/// The echo id remembered for message `id` in `place`, if any.
async fn remembered(kit: &TestKit, place: Place, id: &str) -> Option<String> {
    kit.conversation_state(&place.conversation())
        .load::<String>(&echo_state_name(&ActivityId::from(id)))
        .await
        .unwrap()
}

/// Waits a little for any background work (the welcome flow), so that a call that should not come has had time
/// to.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn an_edit_updates_the_echo_in_place_with_the_new_text() {
    for place in PLACES {
        let kit = TestKit::new(ReferenceBot);
        deliver(&kit, &message(&kit, place, "m-1", "hello")).await;
        let (conversation, echo_id, text) = echo_of(&kit, "m-1");
        assert_eq!(text, "You sent hello which was 5 characters", "{place:?}");
        assert_eq!(conversation, place.conversation(), "{place:?}");

        deliver(&kit, &edit(&kit, place, "m-1", "hello, world 😀")).await;
        let updates = updates(&kit);
        assert_eq!(updates.len(), 1, "{place:?}: {updates:#?}");
        let (updated_conversation, updated_id, replacement) = &updates[0];
        assert_eq!(updated_conversation, &place.conversation(), "{place:?}");
        assert_eq!(updated_id, &echo_id, "{place:?}: the echo itself is updated");
        assert_eq!(
            replacement.text(),
            Some("You sent hello, world 😀 which was 14 characters"),
            "{place:?}: the bot's mention stripped, characters counted as the echo counts them"
        );
        let format = replacement.as_message().and_then(|m| m.text_format.as_ref());
        assert_eq!(
            format.map(|f| f.as_str()),
            Some("plain"),
            "{place:?}: quoted as the echo is"
        );
        assert_eq!(replacement.id.as_ref().map(ActivityId::as_str), Some(echo_id.as_str()));
        assert_eq!(
            replacement.reply_to_id.as_ref().map(ActivityId::as_str),
            Some("m-1"),
            "{place:?}: still the reply to the user's message"
        );
        settle().await;
        assert_eq!(posts(&kit).len(), 1, "{place:?}: nothing is posted for an edit");
        assert!(deletes(&kit).is_empty());
    }
}

#[tokio::test]
async fn every_later_edit_updates_the_echo_again_with_the_newest_text() {
    for place in PLACES {
        let kit = TestKit::new(ReferenceBot);
        deliver(&kit, &message(&kit, place, "m-1", "one")).await;
        let (_, echo_id, _) = echo_of(&kit, "m-1");
        for text in ["two", "three!", "one"] {
            deliver(&kit, &edit(&kit, place, "m-1", text)).await;
        }
        assert_eq!(
            updated_texts(&kit),
            [
                "You sent two which was 3 characters",
                "You sent three! which was 6 characters",
                "You sent one which was 3 characters",
            ],
            "{place:?}"
        );
        assert!(
            updates(&kit)
                .iter()
                .all(|(c, id, _)| *c == place.conversation() && *id == echo_id)
        );
    }
}

#[tokio::test]
async fn a_delete_deletes_the_echo_and_it_is_forgotten() {
    for place in PLACES {
        let kit = TestKit::new(ReferenceBot);
        deliver(&kit, &message(&kit, place, "m-1", "hello")).await;
        deliver(&kit, &message(&kit, place, "m-2", "stays")).await;
        let (_, echo_id, _) = echo_of(&kit, "m-1");
        assert_eq!(remembered(&kit, place, "m-1").await.as_deref(), Some(echo_id.as_str()));

        deliver(&kit, &delete(&kit, place, "m-1")).await;
        assert_eq!(deletes(&kit), [(place.conversation(), echo_id)], "{place:?}");
        assert_eq!(remembered(&kit, place, "m-1").await, None, "{place:?}: forgotten");
        assert!(
            remembered(&kit, place, "m-2").await.is_some(),
            "{place:?}: the other echo stays"
        );

        // Teams' undelete arrives as an edit: the echo stays deleted, nothing is updated.
        let mut undelete = edit(&kit, place, "m-1", "hello");
        undelete["channelData"]["eventType"] = json!("undeleteMessage");
        deliver(&kit, &undelete).await;
        settle().await;
        assert!(updates(&kit).is_empty(), "{place:?}");
        assert_eq!(deletes(&kit).len(), 1, "{place:?}");
        assert_eq!(posts(&kit).len(), 2, "{place:?}: only the two echoes were posted");
    }
}

#[tokio::test]
async fn an_exact_redelivery_of_an_edit_or_a_delete_does_nothing_more() {
    for place in PLACES {
        let kit = TestKit::new(ReferenceBot);
        deliver(&kit, &message(&kit, place, "m-1", "hello")).await;
        let first = edit(&kit, place, "m-1", "hello again");
        let second = edit(&kit, place, "m-1", "hello once more");
        for activity in [&first, &first, &second, &first, &second] {
            deliver(&kit, activity).await;
        }
        assert_eq!(
            updated_texts(&kit),
            [
                "You sent hello again which was 11 characters",
                "You sent hello once more which was 15 characters"
            ],
            "{place:?}"
        );
        let delete = delete(&kit, place, "m-1");
        deliver(&kit, &delete).await;
        deliver(&kit, &delete).await;
        settle().await;
        assert_eq!(deletes(&kit).len(), 1, "{place:?}");
        assert_eq!(updates(&kit).len(), 2, "{place:?}");
        assert_eq!(posts(&kit).len(), 1, "{place:?}: only the echo was posted");
    }
}

#[tokio::test]
async fn edits_and_deletes_of_messages_the_bot_did_not_echo_do_nothing() {
    for place in PLACES {
        let kit = TestKit::new(ReferenceBot);
        // A command is answered, not echoed.
        deliver(&kit, &message(&kit, place, "m-help", "help")).await;
        assert!(!echo_of(&kit, "m-help").2.starts_with("You sent"), "{place:?}");
        assert_eq!(
            remembered(&kit, place, "m-help").await,
            None,
            "{place:?}: no state for a command"
        );
        deliver(&kit, &edit(&kit, place, "m-help", "hello")).await;
        deliver(&kit, &delete(&kit, place, "m-help")).await;
        // A message the bot never saw.
        deliver(&kit, &edit(&kit, place, "m-unknown", "hello")).await;
        deliver(&kit, &delete(&kit, place, "m-unknown")).await;
        // An echo no longer remembered (as once its keep has run out).
        deliver(&kit, &message(&kit, place, "m-old", "old")).await;
        let removed = kit
            .conversation_state(&place.conversation())
            .delete(&echo_state_name(&ActivityId::from("m-old")))
            .await
            .unwrap();
        assert!(removed, "{place:?}: the echo was remembered");
        deliver(&kit, &edit(&kit, place, "m-old", "new")).await;
        deliver(&kit, &delete(&kit, place, "m-old")).await;
        settle().await;
        assert!(updates(&kit).is_empty(), "{place:?}: {:#?}", updates(&kit));
        assert!(deletes(&kit).is_empty(), "{place:?}: {:#?}", deletes(&kit));
        assert_eq!(posts(&kit).len(), 2, "{place:?}: help and the old echo only");
    }

    // In a group chat, a message without the bot's mention is not echoed: its edit does nothing either.
    let kit = TestKit::new(ReferenceBot);
    let mut unmentioned = activity(&kit, Place::GroupChat, "message", "m-1");
    unmentioned["text"] = json!("just chatting");
    deliver(&kit, &unmentioned).await;
    let mut edited = edit(&kit, Place::GroupChat, "m-1", "x");
    edited["text"] = json!("just chatting, edited");
    edited.as_object_mut().unwrap().remove("entities");
    deliver(&kit, &edited).await;
    settle().await;
    assert_eq!(kit.calls(), [], "group chat message without a mention");
}

#[tokio::test]
async fn an_edit_into_a_command_only_updates_the_echo() {
    for place in PLACES {
        let kit = TestKit::new(ReferenceBot);
        deliver(&kit, &message(&kit, place, "m-1", "hello")).await;
        deliver(&kit, &edit(&kit, place, "m-1", "help")).await;
        deliver(&kit, &edit(&kit, place, "m-1", "dm me")).await;
        assert_eq!(
            updated_texts(&kit),
            [
                "You sent help which was 4 characters",
                "You sent dm me which was 5 characters"
            ],
            "{place:?}"
        );
        settle().await;
        assert_eq!(posts(&kit).len(), 1, "{place:?}: no command is run by an edit");
    }
}

#[tokio::test]
async fn a_huge_edit_is_quoted_shortened_within_the_size_budget_with_the_full_count() {
    let kit = TestKit::new(ReferenceBot);
    deliver(&kit, &message(&kit, Place::Personal, "m-1", "short")).await;
    let huge = "😀\"".repeat(20_000);
    deliver(&kit, &edit(&kit, Place::Personal, "m-1", &huge)).await;
    let updates = updates(&kit);
    assert_eq!(updates.len(), 1);
    let replacement = &updates[0].2;
    assert!(teams_bot::models::fits_message_budget(replacement));
    let text = replacement.text().unwrap();
    assert!(text.starts_with("You sent 😀\""), "{text:.60}");
    assert!(text.ends_with("… which was 40000 characters"), "{text:.60}");
}

#[tokio::test]
async fn an_echo_already_gone_is_forgotten_without_a_word() {
    let not_found = || ConnectorError::NotFound {
        code: "NotFound".to_owned(),
        message: "The activity id is not a known activity id.".to_owned(),
    };
    for place in PLACES {
        // The update meets 404: the echo is forgotten, so the next edit does not try again.
        let kit = TestKit::new(ReferenceBot);
        deliver(&kit, &message(&kit, place, "m-1", "hello")).await;
        kit.connector()
            .fail_when(move |c| matches!(c, ConnectorCall::Update { .. }).then(not_found));
        deliver(&kit, &edit(&kit, place, "m-1", "edited")).await;
        assert_eq!(updates(&kit).len(), 1, "{place:?}");
        assert_eq!(remembered(&kit, place, "m-1").await, None, "{place:?}");
        deliver(&kit, &edit(&kit, place, "m-1", "edited again")).await;
        settle().await;
        assert_eq!(updates(&kit).len(), 1, "{place:?}: not tried again");
        assert_eq!(posts(&kit).len(), 1, "{place:?}: no apology for an echo that is gone");

        // The delete meets 404: the echo counts as deleted and is forgotten.
        let kit = TestKit::new(ReferenceBot);
        deliver(&kit, &message(&kit, place, "m-1", "hello")).await;
        kit.connector()
            .fail_when(move |c| matches!(c, ConnectorCall::Delete { .. }).then(not_found));
        deliver(&kit, &delete(&kit, place, "m-1")).await;
        assert_eq!(deletes(&kit).len(), 1, "{place:?}");
        assert_eq!(remembered(&kit, place, "m-1").await, None, "{place:?}");
    }
}

#[tokio::test]
async fn a_failed_delete_keeps_the_echo_remembered() {
    let kit = TestKit::new(ReferenceBot);
    deliver(&kit, &message(&kit, Place::Personal, "m-1", "hello")).await;
    let (_, echo_id, _) = echo_of(&kit, "m-1");
    kit.connector().fail_when(|c| {
        matches!(c, ConnectorCall::Delete { .. }).then(|| ConnectorError::Transient {
            status: Some(502),
            source: None,
        })
    });
    deliver(&kit, &delete(&kit, Place::Personal, "m-1")).await;
    assert_eq!(deletes(&kit).len(), 1);
    assert_eq!(remembered(&kit, Place::Personal, "m-1").await, Some(echo_id));
}

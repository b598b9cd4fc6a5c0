//! Reading what a user wrote: the bot's own mentions.

use crate::api::BotIdentity;
use models::{Activity, strip_mentions_of};

/// The message text with every mention of this bot removed and the rest trimmed.
///
/// A mention of the bot is a `mention` entity whose `mentioned.id` is the bot's (`recipient.id`, or the
/// configured id). Every occurrence of its `text` (`<at>BotName</at>`) is removed, however many times the bot
/// was mentioned; mentions of other users stay, even a user with the bot's display name (see
/// [`models::strip_mentions_of`]).
#[must_use]
pub fn strip_bot_mentions(activity: &Activity, bot: &BotIdentity) -> String {
    let entities = activity.entities.as_deref().unwrap_or_default();
    let text = activity.text().unwrap_or_default().trim().to_owned();
    bot.ids_for(activity.recipient.as_ref())
        .fold(text, |text, id| strip_mentions_of(&text, entities, id))
}

/// Whether the activity @mentions this bot (a `mention` entity naming the bot's id).
#[must_use]
pub fn is_bot_mentioned(activity: &Activity, bot: &BotIdentity) -> bool {
    let recipient = activity.recipient.as_ref();
    activity.mentions().any(|m| bot.is_me(&m.mentioned.id, recipient))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bot() -> BotIdentity {
        BotIdentity::from_app_id("bot-app", "Echo Bot")
    }

    fn message(text: &str, entities: serde_json::Value) -> Activity {
        Activity::from_value(json!({
            "type": "message", "id": "1", "text": text, "entities": entities,
            "from": {"id": "29:alice", "name": "Alice"},
            "recipient": {"id": "28:bot-app", "name": "Echo Bot"},
            "conversation": {"id": "19:c@thread.skype", "conversationType": "channel"},
        }))
        .unwrap()
    }

    fn bot_mention() -> serde_json::Value {
        json!({"type": "mention", "mentioned": {"id": "28:bot-app", "name": "Echo Bot"}, "text": "<at>Echo Bot</at>"})
    }

    #[test]
    fn strips_every_bot_mention_and_keeps_other_users() {
        let a = message(
            "<at>Echo Bot</at> hi <at>Bob</at> and <at>Echo Bot</at> again <at>Echo Bot</at>",
            json!([bot_mention(), {"type": "mention", "mentioned": {"id": "29:bob", "name": "Bob"}, "text": "<at>Bob</at>"}, bot_mention(), bot_mention()]),
        );
        assert_eq!(strip_bot_mentions(&a, &bot()), "hi <at>Bob</at> and  again");
        assert!(is_bot_mentioned(&a, &bot()));
    }

    #[test]
    fn strips_all_occurrences_even_with_a_single_entity() {
        let a = message("<at>Echo Bot</at> x <at>Echo Bot</at>", json!([bot_mention()]));
        assert_eq!(strip_bot_mentions(&a, &bot()), "x");
    }

    #[test]
    fn a_user_named_like_the_bot_keeps_their_mention() {
        let a = message(
            "<at>Echo Bot</at> ping <at>Echo Bot</at>",
            json!([bot_mention(), {"type": "mention", "mentioned": {"id": "29:namesake", "name": "Echo Bot"}, "text": "<at>Echo Bot</at>"}]),
        );
        assert_eq!(strip_bot_mentions(&a, &bot()), "ping <at>Echo Bot</at>");
    }

    #[test]
    fn matches_the_recipient_id_when_the_configured_id_differs() {
        let a = message("<at>Echo Bot</at> hello", json!([bot_mention()]));
        let anonymous = BotIdentity::new("", "Echo Bot");
        assert_eq!(strip_bot_mentions(&a, &anonymous), "hello");
    }

    #[test]
    fn no_mention_means_not_mentioned_and_text_only_trimmed() {
        let a = message("  hello there \n", json!([]));
        assert!(!is_bot_mentioned(&a, &bot()));
        assert_eq!(strip_bot_mentions(&a, &bot()), "hello there");
    }
}

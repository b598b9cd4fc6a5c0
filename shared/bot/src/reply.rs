//! Addressing a reply, and @mentioning someone in it.

use crate::text::html_escape;
use models::{Activity, ChannelAccount, Entity, Mention};

/// Addresses `outbound` as a reply to `inbound`: `from` and `recipient` swapped, the same conversation,
/// `serviceUrl`, `channelId` and locale, and `replyToId` = the inbound activity's id.
// TODO: switch to `models::Activity::reply` once models has it.
#[must_use]
pub fn reply_to(inbound: &Activity, mut outbound: Activity) -> Activity {
    outbound.from = inbound.recipient.clone();
    outbound.recipient = inbound.from.clone();
    outbound.conversation = inbound.conversation.clone();
    outbound.service_url = inbound.service_url.clone();
    outbound.channel_id = inbound.channel_id.clone();
    outbound.reply_to_id = inbound.id.clone();
    if outbound.locale.is_none() {
        outbound.locale = inbound.locale.clone();
    }
    outbound
}

/// A text message addressed as a reply to `inbound`.
#[must_use]
pub fn reply_text(inbound: &Activity, text: impl Into<String>) -> Activity {
    reply_to(inbound, Activity::message(text))
}

/// A message that @mentions `user`: `<before><at>Name</at><after>` in the text (the name HTML-escaped) and the
/// matching `mention` entity. A user without a name is mentioned by their id.
#[must_use]
pub fn mention_back(user: &ChannelAccount, before: &str, after: &str) -> Activity {
    let name = user.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| user.id.clone());
    let tag = format!("<at>{}</at>", html_escape(&name));
    let mut activity = Activity::message(format!("{before}{tag}{after}"));
    activity.entities = Some(vec![Entity::Mention(Mention {
        mentioned: ChannelAccount::new(user.id.clone(), Some(name)),
        text: Some(tag),
        extra: serde_json::Map::new(),
    })]);
    activity
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reply_swaps_from_and_recipient_and_keeps_the_conversation() {
        let inbound = Activity::from_value(json!({
            "type": "message", "id": "in-1", "serviceUrl": "https://smba.trafficmanager.net/amer/",
            "channelId": "msteams", "locale": "fr-FR",
            "from": {"id": "29:alice", "name": "Alice"}, "recipient": {"id": "28:bot", "name": "Bot"},
            "conversation": {"id": "a:1", "conversationType": "personal"}, "text": "hi"
        }))
        .unwrap();
        let out = reply_text(&inbound, "hello");
        let v = serde_json::to_value(&out).unwrap();
        assert_eq!(
            v,
            json!({
                "type": "message", "text": "hello", "replyToId": "in-1",
                "serviceUrl": "https://smba.trafficmanager.net/amer/", "channelId": "msteams", "locale": "fr-FR",
                "from": {"id": "28:bot", "name": "Bot"}, "recipient": {"id": "29:alice", "name": "Alice"},
                "conversation": {"id": "a:1", "conversationType": "personal"}
            })
        );
    }

    #[test]
    fn mention_back_escapes_the_name_in_text_and_entity_text() {
        let user = ChannelAccount::new("29:x", Some("Tom & <Jerry>".to_owned()));
        let a = mention_back(&user, "Hello ", "!");
        assert_eq!(a.text(), Some("Hello <at>Tom &amp; &lt;Jerry&gt;</at>!"));
        let m: Vec<_> = a.mentions().collect();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].mentioned.id, "29:x");
        assert_eq!(m[0].mentioned.name.as_deref(), Some("Tom & <Jerry>"));
        assert_eq!(m[0].text.as_deref(), Some("<at>Tom &amp; &lt;Jerry&gt;</at>"));
    }

    #[test]
    fn mention_back_without_a_name_uses_the_id() {
        let a = mention_back(&ChannelAccount::new("29:x", None), "", "");
        assert_eq!(a.text(), Some("<at>29:x</at>"));
    }
}

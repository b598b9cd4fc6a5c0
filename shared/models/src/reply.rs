//! Replies addressed from an inbound activity.

use crate::activity::Activity;

impl Activity {
    /// A `message` replying to this (inbound) activity with `text`: from = our recipient, recipient = its sender,
    /// the same conversation, `serviceUrl`, `channelId` and `locale`, and `replyToId` = its `id`.
    #[must_use]
    pub fn reply(&self, text: impl Into<String>) -> Self {
        self.reply_with(Self::message(text))
    }

    /// `activity` addressed as a reply to this (inbound) activity (see [`Activity::reply`]). The addressing fields
    /// (`from`, `recipient`, `conversation`, `serviceUrl`, `channelId`, `replyToId`) are always overwritten; its
    /// kind, content and entities are kept; `locale` is taken from this activity only if `activity` has none.
    #[must_use]
    pub fn reply_with(&self, mut activity: Self) -> Self {
        activity.from = self.recipient.clone();
        activity.recipient = self.from.clone();
        activity.conversation = self.conversation.clone();
        activity.service_url = self.service_url.clone();
        activity.channel_id = self.channel_id.clone();
        activity.reply_to_id = self.id.clone();
        if activity.locale.is_none() {
            activity.locale = self.locale.clone();
        }
        activity
    }
}

impl From<&str> for Activity {
    /// A message with this text ([`Activity::message`]).
    fn from(text: &str) -> Self {
        Self::message(text)
    }
}

impl From<String> for Activity {
    /// A message with this text ([`Activity::message`]).
    fn from(text: String) -> Self {
        Self::message(text)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Activity, ActivityKind, ChannelAccount, ConversationAccount};

    fn inbound() -> Activity {
        let mut a = Activity::message("ping");
        a.id = Some("1485983408511".into());
        a.from = Some(ChannelAccount::new("29:user", Some("Megan".to_owned())));
        a.recipient = Some(ChannelAccount::new("28:bot", Some("Bot".to_owned())));
        a.conversation = Some(ConversationAccount {
            id: "a:conv".into(),
            ..ConversationAccount::default()
        });
        a.service_url = Some("https://smba.trafficmanager.net/amer/".to_owned());
        a.channel_id = Some("msteams".to_owned());
        a.locale = Some("en-US".to_owned());
        a
    }

    #[test]
    fn reply_swaps_from_and_recipient() {
        let inbound = inbound();
        let reply = inbound.reply("pong");
        assert!(matches!(reply.kind, ActivityKind::Message(_)));
        assert_eq!(reply.text(), Some("pong"));
        assert_eq!(reply.from.as_ref().unwrap().id, "28:bot");
        assert_eq!(reply.recipient.as_ref().unwrap().id, "29:user");
        assert_eq!(reply.conversation.as_ref().unwrap().id, "a:conv");
        assert_eq!(
            reply.service_url.as_deref(),
            Some("https://smba.trafficmanager.net/amer/")
        );
        assert_eq!(reply.channel_id.as_deref(), Some("msteams"));
        assert_eq!(reply.locale.as_deref(), Some("en-US"));
        assert_eq!(reply.reply_to_id.as_ref().unwrap(), "1485983408511");
        assert_eq!(reply.id, None);
        assert_eq!(reply.channel_data, None);
    }

    #[test]
    fn reply_with_keeps_kind_and_own_locale() {
        let mut typing = Activity::from_slice(br#"{"type":"typing","locale":"fr-FR"}"#).unwrap();
        typing.entities = Some(Vec::new());
        let reply = inbound().reply_with(typing);
        assert_eq!(reply.type_name(), "typing");
        assert_eq!(reply.locale.as_deref(), Some("fr-FR"));
        assert_eq!(reply.entities, Some(Vec::new()));
        assert_eq!(reply.recipient.as_ref().unwrap().id, "29:user");
    }
}

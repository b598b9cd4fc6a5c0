//! Who the bot is: the identity the runtime recognises in mentions, `recipient` and `membersAdded`.

use models::ChannelAccount;

/// Who the bot is: its account id (`28:<appId>`) and display name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BotIdentity {
    /// The bot's account id as Teams writes it in `recipient.id` and mentions: `28:<appId>`.
    pub id: String,
    /// The bot's display name.
    pub name: String,
}

impl BotIdentity {
    /// An identity from an account id (`28:<appId>`) and a display name.
    #[must_use]
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
        }
    }

    /// The identity of the bot registered with `app_id`: account id `28:<app_id>`.
    #[must_use]
    pub fn from_app_id(app_id: &str, name: impl Into<String>) -> Self {
        Self::new(format!("28:{app_id}"), name)
    }

    /// The bot as a channel account (`from` of what it sends, `bot` of a create request).
    #[must_use]
    pub fn account(&self) -> ChannelAccount {
        ChannelAccount::new(self.id.clone(), Some(self.name.clone()))
    }

    /// Whether `id` names this bot: the configured id or the inbound activity's `recipient.id` (in anonymous
    /// local mode the recipient is the only id we know). Ids are compared exactly; an empty id names nobody.
    #[must_use]
    pub fn is_me(&self, id: &str, recipient: Option<&ChannelAccount>) -> bool {
        !id.is_empty() && (id == self.id || recipient.is_some_and(|r| r.id == id))
    }

    /// The ids this bot answers to for an activity: its `recipient.id`, then the configured id if different.
    pub fn ids_for<'a>(&'a self, recipient: Option<&'a ChannelAccount>) -> impl Iterator<Item = &'a str> {
        let recipient = recipient.map(|r| r.id.as_str()).filter(|r| !r.is_empty());
        let configured = Some(self.id.as_str()).filter(|c| !c.is_empty() && Some(*c) != recipient);
        recipient.into_iter().chain(configured)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_from_app_id_has_the_28_prefix() {
        let bot = BotIdentity::from_app_id("abc", "Bot");
        assert_eq!(bot.id, "28:abc");
        assert_eq!(bot.account().name.as_deref(), Some("Bot"));
    }

    #[test]
    fn is_me_matches_the_configured_id_or_the_recipient_exactly() {
        let bot = BotIdentity::from_app_id("abc", "Bot");
        assert!(bot.is_me("28:abc", None));
        assert!(!bot.is_me("abc", None));
        assert!(!bot.is_me("29:abc-user", None));
        assert!(!bot.is_me("", None));
        let recipient = ChannelAccount::new("28:other", None);
        assert!(bot.is_me("28:other", Some(&recipient)));
        let anonymous = BotIdentity::new("", "Bot");
        assert!(!anonymous.is_me("", Some(&ChannelAccount::new("", None))));
        let ids: Vec<_> = bot.ids_for(Some(&recipient)).collect();
        assert_eq!(ids, ["28:other", "28:abc"]);
        let same = ChannelAccount::new("28:abc", None);
        let ids: Vec<_> = bot.ids_for(Some(&same)).collect();
        assert_eq!(ids, ["28:abc"]);
        assert_eq!(anonymous.ids_for(None).count(), 0);
    }
}

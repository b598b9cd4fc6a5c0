//! The reference bot's behaviour, as pure decisions.
//!
//! Nothing here does I/O. An inbound [`models::Activity`] goes in; data describing what to do comes out:
//!
//! - [`decide`] answers a user's activity with a [`Decision`]: replies to post, or a plan of Connector calls
//!   (create a 1:1 chat, start a channel thread, read the roster, send-then-update, subscribe to a poll, ...)
//!   whose messages are already built. The executor (in the `service` crate) runs the plan against the
//!   connector and store ports and, where the outcome matters, calls back into a plan's method to build the
//!   final message (for example [`MembersPlan::finish`] with the roster pages it read).
//! - [`welcome_triggers`] says which install, first-contact and uninstall claims an activity carries; the store
//!   decides "first" with a conditional write and the welcome function sends [`welcome`] texts.
//! - [`poll`] holds the check-in poll: its card, its state, and [`poll::apply_vote`].
//!
//! The words the bot says are those of CONTRACT.md ("The reference bot's words").

mod cards;
mod decide;
pub mod image_check;
pub mod poll;
mod reply;
mod roster;
mod text;
pub mod welcome;

pub use decide::{
    DeleteDemoPlan, Decision, DmMePlan, Ignored, MembersPlan, NewThreadPlan, PollAnswer, SubscribePlan,
    UnsubscribePlan, UpdateDemoPlan, decide, HELP_TEXT, MEMBERS_PAGE_SIZE,
};
pub use reply::{mention_back, reply_text, reply_to};
pub use roster::roster_text;
pub use text::{char_count, command_of, echo_text, html_escape, is_bot_mentioned, strip_bot_mentions};
pub use welcome::{WelcomeTrigger, welcome_triggers};

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
    /// local mode the recipient is the only id we know). The `28:` prefix is optional on either side.
    #[must_use]
    pub fn is_me(&self, id: &str, recipient: Option<&ChannelAccount>) -> bool {
        let same = |a: &str, b: &str| {
            !a.is_empty() && !b.is_empty() && (a == b || a.strip_prefix("28:").unwrap_or(a) == b.strip_prefix("28:").unwrap_or(b))
        };
        same(id, &self.id) || recipient.is_some_and(|r| same(id, &r.id))
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
    fn is_me_matches_configured_id_or_recipient_with_or_without_prefix() {
        let bot = BotIdentity::from_app_id("abc", "Bot");
        assert!(bot.is_me("28:abc", None));
        assert!(bot.is_me("abc", None));
        assert!(!bot.is_me("29:abc-user", None));
        assert!(!bot.is_me("", None));
        let recipient = ChannelAccount::new("28:other", None);
        assert!(bot.is_me("28:other", Some(&recipient)));
        let anonymous = BotIdentity::new("", "Bot");
        assert!(!anonymous.is_me("", Some(&ChannelAccount::new("", None))));
    }
}

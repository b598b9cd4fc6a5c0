//! Group chats: users add a bot to one (bots cannot create them); the bot then sends there like anywhere else.

use super::{Conversation, Kind};
use crate::{FakeTeams, lock};

impl FakeTeams {
    /// A group chat `id` in `tenant` that the bot was added to, with `members` (user ids of the tenant).
    pub fn add_group_chat(&self, tenant: &str, id: &str, members: &[&str]) {
        lock(&self.shared).conversations.insert(
            id.to_owned(),
            Conversation {
                kind: Kind::GroupChat {
                    members: members.iter().map(|m| (*m).to_owned()).collect(),
                },
                tenant: tenant.to_owned(),
                bot_removed: false,
            },
        );
    }
}

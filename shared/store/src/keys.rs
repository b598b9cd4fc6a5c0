//! The single-table key design, shared by every adapter (see the crate docs for the table).
//!
//! Each key has a fixed prefix and at most one free-form id per key attribute (or a fixed-width number before
//! it), so ids containing `#` cannot make two entities collide.

use crate::model::{StateScope, Timestamp};
use models::{ActivityId, ConversationId, TenantId};

pub const KIND_CONVERSATION: &str = "conversation";
pub const KIND_TENANT: &str = "tenant";
pub const KIND_TEAM_CONVERSATION: &str = "team-conversation";
pub const KIND_PERSONAL: &str = "personal";
pub const KIND_TEAM_INSTALL: &str = "team-install";
pub const KIND_FIRST_CONTACT: &str = "first-contact";
pub const KIND_SEEN: &str = "seen";
pub const KIND_SENT: &str = "sent";
pub const KIND_IDEMPOTENCY: &str = "idempotency";
pub const KIND_SUBSCRIPTION: &str = "subscription";
pub const KIND_SLOT: &str = "slot";
pub const KIND_VOTE: &str = "vote";
pub const KIND_PACE: &str = "pace";
/// A bot's own state value (written by [`crate::BotState`]); never streamed.
pub const KIND_STATE: &str = "state";
/// The kinds whose inserts a function consumes (the template's stream filters pass exactly these): the
/// embedded and in-memory stores deliver change events for these only.
pub const STREAM_KINDS: [&str; 3] = [KIND_TEAM_INSTALL, KIND_FIRST_CONTACT, KIND_OUTBOX];
pub const KIND_OUTBOX: &str = "outbox";

/// The `gsi1pk` of every subscription: the due-time index is one bucket (queried with `gsi1sk <= now`).
/// A deployment with very many subscriptions would shard it (`DUE#0`..`DUE#n`) and query each shard.
pub const DUE_BUCKET: &str = "DUE";

/// A (pk, sk) pair.
pub type Key = (String, String);

pub fn conversation(id: &ConversationId) -> Key {
    (format!("CONV#{id}"), "REF".to_owned())
}

pub fn tenant(id: &TenantId) -> Key {
    (format!("TENANT#{id}"), "TENANT".to_owned())
}

/// A team's index entry for one of its conversations (channels and reply chains): pk `TEAM#<teamId>` (the
/// install item's partition), sk `CONV#<conversationId>`. Written with the reference when it is created or
/// moves, so team events (deleted, archived, restored) can reach every conversation of the team.
pub fn team_conversation(team_id: &str, conversation: &ConversationId) -> Key {
    (format!("TEAM#{team_id}"), format!("CONV#{conversation}"))
}

/// The prefix of [`team_conversation`] keys of a team.
pub fn team_conversations_prefix(team_id: &str) -> Key {
    (format!("TEAM#{team_id}"), "CONV#".to_owned())
}

pub fn personal_by_user(tenant: &TenantId, user_id: &str) -> Key {
    (format!("TENANT#{tenant}"), format!("USER#{user_id}"))
}

pub fn personal_by_aad(tenant: &TenantId, aad: &str) -> Key {
    (format!("TENANT#{tenant}"), format!("AAD#{aad}"))
}

pub fn team_install(team_id: &str) -> Key {
    (format!("TEAM#{team_id}"), "INSTALL".to_owned())
}

pub fn first_contact(tenant: &TenantId, user_id: &str) -> Key {
    (format!("TENANT#{tenant}"), format!("FIRST#{user_id}"))
}

pub fn seen(conversation: &ConversationId, activity: &ActivityId) -> Key {
    (format!("SEEN#{conversation}"), activity.to_string())
}

pub fn sent(key: &str) -> Key {
    (format!("SENT#{key}"), "SENT".to_owned())
}

pub fn idempotency(key: &str) -> Key {
    (format!("IDEM#{key}"), "IDEM".to_owned())
}

pub fn subscription(conversation: &ConversationId, name: &str) -> Key {
    (format!("CONV#{conversation}"), format!("SUB#{name}"))
}

pub fn subscriptions_prefix(conversation: &ConversationId) -> Key {
    (format!("CONV#{conversation}"), "SUB#".to_owned())
}

/// `gsi1sk` of a subscription: the zero-padded due time first, so `gsi1sk <= due_upper(now)` finds what is due.
pub fn due_sort_key(next_due: Timestamp, conversation: &ConversationId, name: &str) -> String {
    format!("{:020}#{conversation}#{name}", next_due.0.max(0))
}

/// The upper bound for "due at or before `now`" on `gsi1sk` (`~` sorts after `#`).
pub fn due_upper(now: Timestamp) -> String {
    format!("{:020}~", now.0.max(0))
}

pub fn slot(conversation: &ConversationId, name: &str, due: Timestamp) -> Key {
    (format!("SLOT#{conversation}"), format!("{:020}#{name}", due.0.max(0)))
}

/// One voter's answer to one poll slot. The conversation id (free text) comes last in the pk, after the parts
/// we format, so no two (name, slot, conversation) share a partition; `sk` is the voter id.
pub fn vote(conversation: &ConversationId, name: &str, slot: &str, voter: &str) -> Key {
    (format!("VOTES#{name}#{slot}#{conversation}"), voter.to_owned())
}

/// One time slot of a pacing lane (the slot number zero-padded, so a lane's slots sort by time).
pub fn pace(lane: &str, slot: u64) -> Key {
    (format!("PACE#{lane}"), format!("{slot:020}"))
}

/// A bot's state value `name` in `scope`: pk `STATE#C#<conversationId>`, `STATE#U#<tenantId>#<userId>` or
/// `STATE#T#<teamId>` (the free-form id last; see [`StateScope`]), sk the name alone.
pub fn state(scope: &StateScope, name: &str) -> Key {
    (format!("STATE#{}", scope.key_prefix()), name.to_owned())
}

pub fn outbox(id: &str) -> Key {
    (format!("OUTBOX#{id}"), "OUTBOX".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_keys_sort_by_time_and_bound_includes_now() {
        let c = ConversationId::from("a:1");
        let early = due_sort_key(Timestamp(99), &c, "x");
        let now = due_sort_key(Timestamp(100), &c, "~~~");
        let late = due_sort_key(Timestamp(101), &c, "");
        let upper = due_upper(Timestamp(100));
        assert!(early < now && now < late);
        assert!(now.as_str() <= upper.as_str());
        assert!(late.as_str() > upper.as_str());
    }

    #[test]
    fn state_keys_keep_scopes_and_ids_apart() {
        let user = |tenant: &str, user_id: &str| StateScope::User {
            tenant: TenantId::from(tenant),
            user_id: user_id.to_owned(),
        };
        assert_eq!(
            state(&StateScope::Conversation("a:1#x".into()), "prefs"),
            ("STATE#C#a:1#x".to_owned(), "prefs".to_owned())
        );
        assert_eq!(
            state(&user("72f988bf-86f1-41af-91ab-2d7cd011db47", "29:u#1"), "n").0,
            "STATE#U#72f988bf-86f1-41af-91ab-2d7cd011db47#29:u#1"
        );
        assert_eq!(
            state(&StateScope::Team("19:t@thread.skype".into()), "n").0,
            "STATE#T#19:t@thread.skype"
        );
        let pks = [
            state(&user("a", "b#c"), "n").0,
            state(&user("a#b", "c"), "n").0,
            state(&user("a%23b", "c"), "n").0,
            state(&user("a%", "23b#c"), "n").0,
        ];
        for (i, a) in pks.iter().enumerate() {
            for b in &pks[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert!(!STREAM_KINDS.contains(&KIND_STATE), "state is never streamed");
    }
}

//! The conversations this process recently recorded, with their serviceUrl: the webhook's way to one write per
//! steady-state activity.
//!
//! Recording an activity must also keep the conversation's reference right (serviceUrl, active). Checking the
//! reference in the same DynamoDB transaction as the dedupe claim costs 4 write units per message (a transaction
//! writes double, and the condition check counts as a write). When this process recorded the conversation with
//! the same serviceUrl in the last [`KNOWN_FOR`], the reference is known to be right and the dedupe claim alone is
//! written: one conditional `PutItem`, 1 write unit, no read. A message whose serviceUrl differs is not known and
//! takes the full path, so a moved serviceUrl is recorded on the very message that carries it.
//!
//! What it can miss: another process marking the conversation inactive within [`KNOWN_FOR`] (a removal this
//! process did not see). An inbound message is not what reactivates a conversation in Teams (a re-install
//! arrives as `conversationUpdate` / `installationUpdate`, which always takes the full path), so the staleness is
//! bounded and harmless; this process forgets a conversation itself whenever it marks one inactive.

use models::ConversationId;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a recorded reference counts as known.
pub const KNOWN_FOR: Duration = Duration::from_secs(300);
/// At most this many conversations are remembered (about 100 bytes each).
pub const MAX_KNOWN: usize = 20_000;

/// Conversation id -> (serviceUrl, when recorded). See the module docs.
#[derive(Debug, Default)]
pub struct KnownReferences {
    entries: Mutex<HashMap<ConversationId, (String, Instant)>>,
}

impl KnownReferences {
    /// Whether `conversation` was recorded with `service_url`, active, in the last [`KNOWN_FOR`].
    #[must_use]
    pub fn is_known(&self, conversation: &ConversationId, service_url: &str) -> bool {
        let Ok(entries) = self.entries.lock() else {
            return false;
        };
        entries
            .get(conversation)
            .is_some_and(|(url, at)| url == service_url && at.elapsed() < KNOWN_FOR)
    }

    /// Remembers that `conversation`'s stored reference is active at `service_url` now.
    pub fn remember(&self, conversation: &ConversationId, service_url: &str) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_KNOWN && !entries.contains_key(conversation) {
            entries.retain(|_, (_, at)| at.elapsed() < KNOWN_FOR);
            if entries.len() >= MAX_KNOWN {
                entries.clear();
            }
        }
        entries.insert(conversation.clone(), (service_url.to_owned(), Instant::now()));
    }

    /// Forgets `conversation` (it was marked inactive, or its reference changed here).
    pub fn forget(&self, conversation: &ConversationId) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(conversation);
        }
    }

    /// How many conversations are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_only_with_the_same_service_url_until_forgotten() {
        let known = KnownReferences::default();
        let c = ConversationId::from("a:1");
        assert!(!known.is_known(&c, "https://a/"));
        known.remember(&c, "https://a/");
        assert!(known.is_known(&c, "https://a/"));
        assert!(!known.is_known(&c, "https://b/"), "a moved serviceUrl is not known");
        assert!(!known.is_known(&ConversationId::from("a:2"), "https://a/"));
        known.forget(&c);
        assert!(!known.is_known(&c, "https://a/"));
    }

    #[test]
    fn stays_bounded() {
        let known = KnownReferences::default();
        for i in 0..(MAX_KNOWN + 10) {
            known.remember(&ConversationId::from(format!("a:{i}").as_str()), "https://a/");
        }
        assert!(known.len() <= MAX_KNOWN, "{}", known.len());
        assert!(known.is_known(
            &ConversationId::from(format!("a:{}", MAX_KNOWN + 9).as_str()),
            "https://a/"
        ));
    }
}

//! In-process change events: what the DynamoDB stream is in AWS, for the embedded and in-memory stores.

use crate::model::ChangeEvent;
use crate::table::Item;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// Fans committed inserts out to every subscriber (unbounded, so a slow consumer never loses an event; a
/// dropped receiver is forgotten at the next publish).
#[derive(Debug, Default)]
pub struct ChangeFeed {
    subscribers: Mutex<Vec<mpsc::UnboundedSender<ChangeEvent>>>,
}

impl ChangeFeed {
    /// A new receiver of every event published from now on.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<ChangeEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.push(tx);
        }
        rx
    }

    /// A new receiver, and a sender into it for events from elsewhere (a replay of what was committed before
    /// it subscribed): the receiver gets both, and every event published from now on.
    #[cfg(feature = "embedded")]
    pub(crate) fn subscribe_with_sender(
        &self,
    ) -> (mpsc::UnboundedSender<ChangeEvent>, mpsc::UnboundedReceiver<ChangeEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.push(tx.clone());
        }
        (tx, rx)
    }

    /// Delivers events (after their write committed).
    pub fn publish(&self, events: Vec<ChangeEvent>) {
        if events.is_empty() {
            return;
        }
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.retain(|tx| events.iter().all(|event| tx.send(event.clone()).is_ok()));
        }
    }
}

/// The event an insert of `item` makes: one for the kinds a function consumes ([`crate::keys::STREAM_KINDS`],
/// what the template's stream filters pass), none for the rest.
pub(crate) fn insert_event(item: &Item) -> Option<ChangeEvent> {
    crate::keys::STREAM_KINDS
        .contains(&item.kind.as_str())
        .then(|| ChangeEvent::Inserted {
            kind: item.kind.clone(),
            item: item.to_json(),
        })
}

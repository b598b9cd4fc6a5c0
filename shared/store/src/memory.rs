//! An in-memory store for other crates' unit tests: every port, the same semantics (it runs the same port code
//! over a map), change events included. Not durable.

use crate::error::StoreError;
use crate::feed::ChangeFeed;
use crate::model::{ChangeEvent, Timestamp};
use crate::table::{Item, Table, Write, WriteOutcome, validate_batch};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// The in-memory store.
type Items = BTreeMap<(String, String), Item>;

#[derive(Debug, Default)]
pub struct MemoryStore {
    items: Mutex<Items>,
    feed: ChangeFeed,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Receives a [`ChangeEvent::Inserted`] for every item of a [`crate::keys::STREAM_KINDS`] kind written where
    /// none existed.
    pub fn subscribe_changes(&self) -> mpsc::UnboundedReceiver<ChangeEvent> {
        self.feed.subscribe()
    }

    /// How many items are stored (expired ones included).
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.lock().map_or(0, |items| items.len())
    }

    /// Whether nothing is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Items>, StoreError> {
        self.items
            .lock()
            .map_err(|_| StoreError::Backend("memory store lock poisoned".into()))
    }
}

#[async_trait]
impl Table for MemoryStore {
    async fn get(&self, pk: &str, sk: &str, now: Timestamp) -> Result<Option<Item>, StoreError> {
        let items = self.lock()?;
        Ok(items
            .get(&(pk.to_owned(), sk.to_owned()))
            .filter(|item| item.alive(now))
            .cloned())
    }

    async fn query_prefix(
        &self,
        pk: &str,
        sk_prefix: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let items = self.lock()?;
        Ok(items
            .range((pk.to_owned(), sk_prefix.to_owned())..)
            .take_while(|((p, s), _)| p == pk && s.starts_with(sk_prefix))
            .map(|(_, item)| item)
            .filter(|item| item.alive(now))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn query_gsi1(
        &self,
        gsi1pk: &str,
        upper: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let items = self.lock()?;
        let mut found: Vec<&Item> = items
            .values()
            .filter(|item| {
                item.gsi1
                    .as_ref()
                    .is_some_and(|(p, s)| p == gsi1pk && s.as_str() <= upper)
                    && item.alive(now)
            })
            .collect();
        found.sort_by(|a, b| a.gsi1.cmp(&b.gsi1));
        Ok(found.into_iter().take(limit).cloned().collect())
    }

    async fn write(&self, writes: Vec<Write>, now: Timestamp) -> Result<WriteOutcome, StoreError> {
        validate_batch(&writes)?;
        let events = {
            let mut items = self.lock()?;
            let failed: Vec<usize> = writes
                .iter()
                .enumerate()
                .filter(|(_, w)| {
                    let (pk, sk) = w.key();
                    !w.cond().holds(items.get(&(pk.to_owned(), sk.to_owned())), now)
                })
                .map(|(i, _)| i)
                .collect();
            if !failed.is_empty() {
                return Ok(WriteOutcome::ConditionFailed(failed));
            }
            let mut events = Vec::new();
            for write in writes {
                match write {
                    Write::Put { item, .. } => {
                        let event = crate::feed::insert_event(&item);
                        if items.insert((item.pk.clone(), item.sk.clone()), item).is_none()
                            && let Some(event) = event
                        {
                            events.push(event);
                        }
                    }
                    Write::Delete { pk, sk, .. } => {
                        items.remove(&(pk, sk));
                    }
                    Write::Check { .. } => {}
                }
            }
            events
        };
        self.feed.publish(events);
        Ok(WriteOutcome::Applied)
    }
}

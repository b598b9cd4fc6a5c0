//! The embedded store: the local default, durable in one redb file at `STATE_PATH`.
//!
//! The same port code as the DynamoDB adapter runs over it (see [`crate::Table`]). redb write transactions are
//! serialized, so conditions are checked and writes applied under one lock: claims are first-writer-wins under
//! any concurrency. Reads run on tokio's blocking pool. Writes go to one writer thread that **group-commits**:
//! it takes every write batch queued so far, checks and applies them one after another inside one redb write
//! transaction (each batch still all-or-nothing, each later batch seeing the earlier ones), and commits once,
//! so concurrent requests share one durable commit instead of queueing for one each. When writes overlap (the
//! last group had more than one), it keeps the group open while batches keep coming (each within [`LINGER`] of
//! the last, [`MAX_LINGER`] at most): without that, on a busy core the writer woke for each batch and committed
//! groups of two or three. A lone writer (one request at a time) is committed at once. Committed inserts are
//! delivered as [`ChangeEvent`]s to [`EmbeddedStore::subscribe_changes`] receivers, as the DynamoDB stream would
//! deliver them. Those events live in memory only: a process that dies after a commit and before its event was
//! handled finds the item again at its next start through [`EmbeddedStore::subscribe_changes_since`], which
//! replays what a stream read from its trim horizon would hold.
//!
//! Expired items are purged as DynamoDB's TTL sweeper would: every group commit also deletes items whose
//! `expiresAt` is [`PURGE_GRACE_SECS`] or more before its writes' `now` (after applying them, so their conditions
//! and change events saw the store as it was), oldest first and a bounded number per commit (at least
//! [`PURGE_PER_COMMIT`], twice the writes of the group if more: the purge keeps ahead of what the writes add).
//! A TTL index (`expiry`: expires-at, pk, sk) finds them without reading every item; it and the due-time index
//! change with the items in the same transaction. A file from before the TTL index gets it built at open.

use crate::DEFAULT_STATE_PATH;
use crate::error::StoreError;
use crate::feed::ChangeFeed;
use crate::keys;
use crate::model::{ChangeEvent, StreamItem, Timestamp};
use crate::table::{Item, Table, Write, WriteOutcome, validate_batch};
use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::TryRecvError;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// redb's page cache (its default is 1 GiB, which a long-running devserver fills with pages of dedupe marks it
/// never reads again): the hot pages (B-tree interior, recent conversations) fit well inside this.
const CACHE_BYTES: usize = 4 * 1024 * 1024;

/// The most write batches one group commit takes.
const MAX_GROUP: usize = 256;

/// How long the writer waits for another batch before committing the group it has, while writes overlap (1 ms
/// left a busy core idle, waiting on the store, in the benchmark).
const LINGER: Duration = Duration::from_micros(300);
/// The longest a group stays open.
const MAX_LINGER: Duration = Duration::from_millis(2);

type Applied = Result<(WriteOutcome, Vec<ChangeEvent>), StoreError>;

/// One write batch for the writer thread, and where to answer.
struct Job {
    writes: Vec<Write>,
    now: Timestamp,
    answer: oneshot::Sender<Applied>,
}

/// (pk, sk) -> the item as JSON.
const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");
/// (gsi1pk, gsi1sk, pk, sk) -> () : the due-time index.
const GSI1: TableDefinition<(&str, &str, &str, &str), ()> = TableDefinition::new("gsi1");
/// (expiresAt, pk, sk) -> () : the TTL index, one entry per item with an `expiresAt`.
const EXPIRY: TableDefinition<(i64, &str, &str), ()> = TableDefinition::new("expiry");
/// Facts about the file: [`EXPIRY_INDEXED`] once [`EXPIRY`] covers every item.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// The [`META`] key set when the TTL index was built (a file written before it existed gets it at open).
const EXPIRY_INDEXED: &str = "expiry-indexed";

/// The fewest expired items a group commit purges when that many are due: bounded work on the write path, and
/// more than the writes add (a dedupe mark per inbound activity), so a backlog drains as traffic goes on.
const PURGE_PER_COMMIT: usize = 64;
/// How long past its `expiresAt` an item stays before a write purges it: concurrent requests read `now` a moment
/// apart, and one that read an earlier second must still find what it would have found (an item at its
/// `expiresAt` already counts as absent to every read).
const PURGE_GRACE_SECS: i64 = 60;
/// The most items one transaction of [`EmbeddedStore::purge_expired`] deletes (it commits and goes on), so the
/// writer is never held up for long.
const PURGE_CHUNK: usize = 1024;

/// The redb-backed store.
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Arc<Database>,
    path: PathBuf,
    feed: ChangeFeed,
    writer: Option<std::sync::mpsc::Sender<Job>>,
    writer_thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("writes", &self.writes.len())
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer thread; joining it releases the file before the store is gone, so
        // the same path can be opened again at once.
        drop(self.writer.take());
        if let Some(thread) = self.writer_thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread: group commits until the queue closes.
fn run_writer(db: &Database, jobs: &std::sync::mpsc::Receiver<Job>) {
    // Whether the last group had company: lingering pays only when others are writing too. A lone writer (one
    // request at a time, as a Lambda instance takes them) commits at once.
    let mut busy = false;
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        let started = Instant::now();
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => {
                    group.push(job);
                    continue;
                }
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {}
            }
            if !busy && group.len() == 1 {
                break;
            }
            let left = MAX_LINGER.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            match jobs.recv_timeout(LINGER.min(left)) {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        busy = group.len() > 1;
        match apply_group(db, &group) {
            Ok(results) => {
                for (job, result) in group.into_iter().zip(results) {
                    let _ = job.answer.send(Ok(result));
                }
            }
            // The shared transaction failed as a whole: fall back to one transaction per batch, so each caller
            // gets its own precise answer.
            Err(_) => {
                for job in group {
                    let result = apply(db, job.writes, job.now);
                    let _ = job.answer.send(result);
                }
            }
        }
    }
}

/// Checks and applies every job in one write transaction and commits once.
fn apply_group(db: &Database, group: &[Job]) -> Result<Vec<(WriteOutcome, Vec<ChangeEvent>)>, StoreError> {
    let txn = db.begin_write().map_err(backend)?;
    let mut results = Vec::with_capacity(group.len());
    {
        let mut tables = Tables::open(&txn)?;
        for job in group {
            results.push(apply_in(&mut tables, &job.writes, job.now)?);
        }
        // After the writes, so their conditions and change events saw the store as it was; by the earliest `now`
        // of the group, so no caller loses an item it would still see.
        if let Some(now) = group.iter().map(|job| job.now.0).min() {
            let written: usize = group.iter().map(|job| job.writes.len()).sum();
            let budget = PURGE_PER_COMMIT.max(written.saturating_mul(2));
            tables.purge(now.saturating_sub(PURGE_GRACE_SECS), budget)?;
        }
    }
    txn.commit().map_err(backend)?;
    Ok(results)
}

/// The tables one write transaction keeps in step: the items, the due-time index and the TTL index.
struct Tables<'txn> {
    items: redb::Table<'txn, (&'static str, &'static str), &'static [u8]>,
    gsi: redb::Table<'txn, (&'static str, &'static str, &'static str, &'static str), ()>,
    expiry: redb::Table<'txn, (i64, &'static str, &'static str), ()>,
}

impl<'txn> Tables<'txn> {
    fn open(txn: &'txn redb::WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            items: txn.open_table(ITEMS).map_err(backend)?,
            gsi: txn.open_table(GSI1).map_err(backend)?,
            expiry: txn.open_table(EXPIRY).map_err(backend)?,
        })
    }

    /// The item stored under `key`, expired or not.
    fn get(&self, key: (&str, &str)) -> Result<Option<Item>, StoreError> {
        match self.items.get(key).map_err(backend)? {
            Some(guard) => Ok(Some(decode(key, guard.value())?)),
            None => Ok(None),
        }
    }

    /// Stores `item` and its index entries (the entries of the item it replaces are removed first: [`Self::remove`]).
    fn put(&mut self, item: &Item) -> Result<(), StoreError> {
        let (pk, sk) = (item.pk.as_str(), item.sk.as_str());
        self.items.insert((pk, sk), encode(item)?.as_slice()).map_err(backend)?;
        if let Some((gp, gs)) = &item.gsi1 {
            self.gsi
                .insert((gp.as_str(), gs.as_str(), pk, sk), ())
                .map_err(backend)?;
        }
        if let Some(at) = item.expires_at {
            self.expiry.insert((at, pk, sk), ()).map_err(backend)?;
        }
        Ok(())
    }

    /// Removes `old`, stored under `key`, with its index entries.
    fn remove(&mut self, key: (&str, &str), old: &Item) -> Result<(), StoreError> {
        let (pk, sk) = key;
        if let Some((gp, gs)) = &old.gsi1 {
            self.gsi.remove((gp.as_str(), gs.as_str(), pk, sk)).map_err(backend)?;
        }
        if let Some(at) = old.expires_at {
            self.expiry.remove((at, pk, sk)).map_err(backend)?;
        }
        self.items.remove(key).map_err(backend)?;
        Ok(())
    }

    /// Deletes items whose `expiresAt` is at or before `cutoff`, oldest first, looking at `budget` TTL index
    /// entries at most. Returns (items deleted, entries looked at): fewer entries than `budget` means no more are
    /// due.
    fn purge(&mut self, cutoff: i64, budget: usize) -> Result<(usize, usize), StoreError> {
        let mut due = Vec::new();
        for entry in self.expiry.iter().map_err(backend)? {
            let (key, _) = entry.map_err(backend)?;
            let (at, pk, sk) = key.value();
            if at > cutoff || due.len() >= budget {
                break;
            }
            due.push((at, pk.to_owned(), sk.to_owned()));
        }
        let mut purged = 0;
        for (at, pk, sk) in &due {
            let key = (pk.as_str(), sk.as_str());
            let stored = self
                .items
                .get(key)
                .map_err(backend)?
                .map(|guard| decode(key, guard.value()));
            match stored {
                // The entry is this item's (always, as the writes keep it; checked all the same).
                Some(Ok(item)) if item.expires_at == Some(*at) => {
                    self.remove(key, &item)?;
                    purged += 1;
                    continue;
                }
                // An item that does not decode stays for its readers to report; its entry goes.
                Some(Err(error)) => tracing::warn!(%error, "expired item not purged: it does not decode"),
                Some(Ok(_)) | None => {}
            }
            self.expiry.remove((*at, key.0, key.1)).map_err(backend)?;
        }
        Ok((purged, due.len()))
    }
}

/// Builds the TTL index of a file written before it existed (once: [`EXPIRY_INDEXED`] marks it done). An item
/// that does not decode is left out (its readers report it).
fn index_expiry(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    let mut meta = txn.open_table(META).map_err(backend)?;
    if meta.get(EXPIRY_INDEXED).map_err(backend)?.is_some() {
        return Ok(());
    }
    let items = txn.open_table(ITEMS).map_err(backend)?;
    let mut expiry = txn.open_table(EXPIRY).map_err(backend)?;
    let mut indexed = 0usize;
    for entry in items.iter().map_err(backend)? {
        let (key, value) = entry.map_err(backend)?;
        let key = key.value();
        match decode(key, value.value()) {
            Ok(item) => {
                if let Some(at) = item.expires_at {
                    expiry.insert((at, key.0, key.1), ()).map_err(backend)?;
                    indexed += 1;
                }
            }
            Err(error) => tracing::warn!(%error, "item left out of the TTL index: it does not decode"),
        }
    }
    meta.insert(EXPIRY_INDEXED, 1).map_err(backend)?;
    if indexed > 0 {
        tracing::info!(items = indexed, "TTL index built for an existing store file");
    }
    Ok(())
}

/// The live items of the streamed kinds claimed or enqueued at or after `since` (outbox items not yet done), oldest
/// first, as the change events their inserts made. Only the key ranges those kinds live in are read (their pk
/// prefixes come from [`crate::keys`]: `TEAM#`, `TENANT#` (first contacts beside the tenant's other items),
/// `OUTBOX#`).
fn committed_stream_items(db: &Database, since: Timestamp, now: Timestamp) -> Result<Vec<ChangeEvent>, StoreError> {
    let prefixes = [
        keys::team_install("").0,
        keys::first_contact(&models::TenantId::from(""), "").0,
        keys::outbox("").0,
    ];
    let txn = db.begin_read().map_err(backend)?;
    let items = txn.open_table(ITEMS).map_err(backend)?;
    let mut found: Vec<(Timestamp, ChangeEvent)> = Vec::new();
    for prefix in &prefixes {
        for entry in items.range((prefix.as_str(), "")..).map_err(backend)? {
            let (key, value) = entry.map_err(backend)?;
            let key = key.value();
            if !key.0.starts_with(prefix.as_str()) {
                break;
            }
            let item = match decode(key, value.value()) {
                Ok(item) => item,
                Err(error) => {
                    tracing::warn!(%error, "item not replayed: it does not decode");
                    continue;
                }
            };
            if !item.alive(now) {
                continue;
            }
            let Some(event) = crate::feed::insert_event(&item) else {
                continue;
            };
            let created = match event.stream_item() {
                Ok(Some(StreamItem::TeamInstall(install))) => install.claimed_at,
                Ok(Some(StreamItem::FirstContact(contact))) => contact.claimed_at,
                Ok(Some(StreamItem::Outbox(outbox))) if !outbox.done => outbox.created_at,
                Ok(Some(StreamItem::Outbox(_)) | None) => continue,
                Err(error) => {
                    tracing::warn!(%error, key = %item.key_string(), "item not replayed: it does not decode");
                    continue;
                }
            };
            if created >= since {
                found.push((created, event));
            }
        }
    }
    found.sort_by_key(|(created, _)| *created);
    Ok(found.into_iter().map(|(_, event)| event).collect())
}

fn backend(err: impl Into<redb::Error>) -> StoreError {
    StoreError::Backend(Box::new(err.into()))
}

fn decode(key: (&str, &str), bytes: &[u8]) -> Result<Item, StoreError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| StoreError::corrupt(format!("{}|{}", key.0, key.1), e))?;
    Item::from_json(value)
}

fn encode(item: &Item) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(&item.to_json()).map_err(|_| StoreError::Invalid("item does not serialize"))
}

impl EmbeddedStore {
    /// Opens (or creates) the store file, creating its directory.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the file cannot be created or opened (e.g. another process holds it).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(path))
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?
    }

    /// Opens the store at `STATE_PATH`, or [`DEFAULT_STATE_PATH`] (relative to the working directory).
    ///
    /// # Errors
    /// As [`EmbeddedStore::open`].
    pub async fn from_env() -> Result<Self, StoreError> {
        let path = std::env::var_os("STATE_PATH")
            .filter(|p| !p.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_STATE_PATH), PathBuf::from);
        Self::open(path).await
    }

    fn open_blocking(path: PathBuf) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend(Box::new(e)))?;
        }
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(backend)?;
        let txn = db.begin_write().map_err(backend)?;
        {
            txn.open_table(ITEMS).map_err(backend)?;
            txn.open_table(GSI1).map_err(backend)?;
            txn.open_table(EXPIRY).map_err(backend)?;
            index_expiry(&txn)?;
        }
        txn.commit().map_err(backend)?;
        let db = Arc::new(db);
        let (writer, jobs) = std::sync::mpsc::channel::<Job>();
        let writer_db = Arc::clone(&db);
        let writer_thread = std::thread::Builder::new()
            .name("embedded-store-writer".into())
            .spawn(move || run_writer(&writer_db, &jobs))
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                path,
                feed: ChangeFeed::default(),
                writer: Some(writer),
                writer_thread: Some(writer_thread),
            }),
        })
    }

    /// The file the store lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Receives a [`ChangeEvent::Inserted`] for every item of a [`crate::keys::STREAM_KINDS`] kind committed
    /// where none existed (expired items count as existing until purged, as a DynamoDB overwrite of a
    /// not-yet-deleted item is a MODIFY). Other kinds make no event (the template's stream filters drop them).
    pub fn subscribe_changes(&self) -> mpsc::UnboundedReceiver<ChangeEvent> {
        self.inner.feed.subscribe()
    }

    /// [`Self::subscribe_changes`], first replaying what a DynamoDB stream read from its trim horizon would hold
    /// of work that may be unfinished: an event for every live item of a [`crate::keys::STREAM_KINDS`] kind
    /// claimed (or enqueued) at or after `since`, oldest first, outbox items already done left out. The consumer
    /// decides, as it does for a redelivered stream record, whether the work is done (a welcome's idempotency
    /// key). The receiver is registered before the file is read, so nothing committed meanwhile is missed (it
    /// may come twice; consumers of a stream are idempotent).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the file cannot be read. An item that does not decode is logged and left out.
    pub async fn subscribe_changes_since(
        &self,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<mpsc::UnboundedReceiver<ChangeEvent>, StoreError> {
        let (replay, changes) = self.inner.feed.subscribe_with_sender();
        let committed = self.blocking(move |db| committed_stream_items(db, since, now)).await?;
        if !committed.is_empty() {
            tracing::info!(
                items = committed.len(),
                since = since.0,
                "replaying committed team installs, first contacts and outbox items"
            );
        }
        for event in committed {
            // The receiver is in hand: it cannot have been dropped.
            let _ = replay.send(event);
        }
        Ok(changes)
    }

    /// Deletes every item whose TTL passed at `now` (no grace), with its index entries; returns how many. Writes
    /// purge as they go, a bounded number per commit and a minute past `expiresAt`; this clears a backlog at
    /// once, in transactions of at most 1,024 items so the writer is never held up for long.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    pub async fn purge_expired(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.blocking(move |db| {
            let mut purged = 0;
            loop {
                let txn = db.begin_write().map_err(backend)?;
                let (deleted, looked_at) = Tables::open(&txn)?.purge(now.0, PURGE_CHUNK)?;
                txn.commit().map_err(backend)?;
                purged += deleted;
                if looked_at < PURGE_CHUNK {
                    return Ok(purged);
                }
            }
        })
        .await
    }

    async fn blocking<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner.db))
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?
    }
}

/// One batch in its own transaction (the fallback when a group commit fails).
fn apply(db: &Database, writes: Vec<Write>, now: Timestamp) -> Applied {
    let txn = db.begin_write().map_err(backend)?;
    let result = apply_in(&mut Tables::open(&txn)?, &writes, now)?;
    if matches!(result.0, WriteOutcome::Applied) {
        txn.commit().map_err(backend)?;
    }
    Ok(result)
}

/// Checks every condition of one batch against what the transaction sees, then applies all of it or none.
fn apply_in(tables: &mut Tables<'_>, writes: &[Write], now: Timestamp) -> Applied {
    let mut events = Vec::new();
    let mut stored = Vec::with_capacity(writes.len());
    let mut failed = Vec::new();
    for (i, write) in writes.iter().enumerate() {
        let old = tables.get(write.key())?;
        if !write.cond().holds(old.as_ref(), now) {
            failed.push(i);
        }
        stored.push(old);
    }
    if !failed.is_empty() {
        // Nothing of the batch is written.
        return Ok((WriteOutcome::ConditionFailed(failed), Vec::new()));
    }
    for (write, old) in writes.iter().zip(stored) {
        match write {
            Write::Put { item, .. } => {
                if let Some(old) = &old {
                    tables.remove(write.key(), old)?;
                }
                tables.put(item)?;
                if old.is_none()
                    && let Some(event) = crate::feed::insert_event(item)
                {
                    events.push(event);
                }
            }
            Write::Delete { .. } => {
                if let Some(old) = &old {
                    tables.remove(write.key(), old)?;
                }
            }
            // A check writes nothing (nor drops the item's index entries).
            Write::Check { .. } => {}
        }
    }
    Ok((WriteOutcome::Applied, events))
}

#[async_trait]
impl Table for EmbeddedStore {
    async fn get(&self, pk: &str, sk: &str, now: Timestamp) -> Result<Option<Item>, StoreError> {
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let items = txn.open_table(ITEMS).map_err(backend)?;
            let Some(guard) = items.get((pk.as_str(), sk.as_str())).map_err(backend)? else {
                return Ok(None);
            };
            Ok(Some(decode((&pk, &sk), guard.value())?).filter(|item| item.alive(now)))
        })
        .await
    }

    async fn query_prefix(
        &self,
        pk: &str,
        sk_prefix: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let (pk, prefix) = (pk.to_owned(), sk_prefix.to_owned());
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let items = txn.open_table(ITEMS).map_err(backend)?;
            let mut found = Vec::new();
            for entry in items.range((pk.as_str(), prefix.as_str())..).map_err(backend)? {
                let (key, value) = entry.map_err(backend)?;
                let key = key.value();
                if key.0 != pk || !key.1.starts_with(prefix.as_str()) || found.len() >= limit {
                    break;
                }
                let item = decode(key, value.value())?;
                if item.alive(now) {
                    found.push(item);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn query_gsi1(
        &self,
        gsi1pk: &str,
        upper: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let (gsi1pk, upper) = (gsi1pk.to_owned(), upper.to_owned());
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let index = txn.open_table(GSI1).map_err(backend)?;
            let items = txn.open_table(ITEMS).map_err(backend)?;
            let mut found = Vec::new();
            for entry in index.range((gsi1pk.as_str(), "", "", "")..).map_err(backend)? {
                let (key, ()) = entry.map(|(k, _)| (k, ())).map_err(backend)?;
                let (gp, gs, pk, sk) = key.value();
                if gp != gsi1pk || gs > upper.as_str() || found.len() >= limit {
                    break;
                }
                let Some(guard) = items.get((pk, sk)).map_err(backend)? else {
                    continue;
                };
                let item = decode((pk, sk), guard.value())?;
                if item.alive(now) {
                    found.push(item);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn write(&self, writes: Vec<Write>, now: Timestamp) -> Result<WriteOutcome, StoreError> {
        validate_batch(&writes)?;
        let (answer, answered) = oneshot::channel();
        let closed = || {
            StoreError::Unavailable(Box::new(std::io::Error::other(
                "the embedded store's writer has stopped",
            )))
        };
        self.inner
            .writer
            .as_ref()
            .ok_or_else(closed)?
            .send(Job { writes, now, answer })
            .map_err(|_| closed())?;
        let (outcome, events) = answered.await.map_err(|_| closed())??;
        self.inner.feed.publish(events);
        Ok(outcome)
    }
}

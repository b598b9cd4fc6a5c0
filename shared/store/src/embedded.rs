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
//! deliver them.

use crate::error::StoreError;
use crate::feed::ChangeFeed;
use crate::model::{ChangeEvent, Timestamp};
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

/// Where the embedded store lives when `STATE_PATH` is not set.
pub const DEFAULT_STATE_PATH: &str = ".state/store.redb";

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
        let mut items = txn.open_table(ITEMS).map_err(backend)?;
        let mut gsi = txn.open_table(GSI1).map_err(backend)?;
        for job in group {
            results.push(apply_in(&mut items, &mut gsi, &job.writes, job.now)?);
        }
    }
    txn.commit().map_err(backend)?;
    Ok(results)
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

    /// Deletes items whose TTL passed (what DynamoDB's TTL sweeper does); returns how many. Housekeeping for the
    /// local server (at start and from time to time), never on a request path: it reads every item.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    pub async fn purge_expired(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            let mut purged = 0;
            {
                let mut items = txn.open_table(ITEMS).map_err(backend)?;
                let mut gsi = txn.open_table(GSI1).map_err(backend)?;
                let mut expired = Vec::new();
                for entry in items.iter().map_err(backend)? {
                    let (key, value) = entry.map_err(backend)?;
                    let item = decode(key.value(), value.value())?;
                    if !item.alive(now) {
                        expired.push(item);
                    }
                }
                for item in expired {
                    items.remove((item.pk.as_str(), item.sk.as_str())).map_err(backend)?;
                    if let Some((gp, gs)) = &item.gsi1 {
                        gsi.remove((gp.as_str(), gs.as_str(), item.pk.as_str(), item.sk.as_str()))
                            .map_err(backend)?;
                    }
                    purged += 1;
                }
            }
            txn.commit().map_err(backend)?;
            Ok(purged)
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
    let result = {
        let mut items = txn.open_table(ITEMS).map_err(backend)?;
        let mut gsi = txn.open_table(GSI1).map_err(backend)?;
        apply_in(&mut items, &mut gsi, &writes, now)?
    };
    if matches!(result.0, WriteOutcome::Applied) {
        txn.commit().map_err(backend)?;
    }
    Ok(result)
}

/// Checks every condition of one batch against what the transaction sees, then applies all of it or none.
fn apply_in(
    items: &mut redb::Table<'_, (&'static str, &'static str), &'static [u8]>,
    gsi: &mut redb::Table<'_, (&'static str, &'static str, &'static str, &'static str), ()>,
    writes: &[Write],
    now: Timestamp,
) -> Applied {
    let mut events = Vec::new();
    let mut stored = Vec::with_capacity(writes.len());
    let mut failed = Vec::new();
    for (i, write) in writes.iter().enumerate() {
        let key = write.key();
        let old = match items.get(key).map_err(backend)? {
            Some(guard) => Some(decode(key, guard.value())?),
            None => None,
        };
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
        if let Some((gp, gs)) = old.as_ref().and_then(|o| o.gsi1.as_ref()) {
            let (pk, sk) = write.key();
            gsi.remove((gp.as_str(), gs.as_str(), pk, sk)).map_err(backend)?;
        }
        match write {
            Write::Put { item, .. } => {
                items
                    .insert((item.pk.as_str(), item.sk.as_str()), encode(item)?.as_slice())
                    .map_err(backend)?;
                if let Some((gp, gs)) = &item.gsi1 {
                    gsi.insert((gp.as_str(), gs.as_str(), item.pk.as_str(), item.sk.as_str()), ())
                        .map_err(backend)?;
                }
                if old.is_none()
                    && let Some(event) = crate::feed::insert_event(item)
                {
                    events.push(event);
                }
            }
            Write::Delete { pk, sk, .. } => {
                items.remove((pk.as_str(), sk.as_str())).map_err(backend)?;
            }
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

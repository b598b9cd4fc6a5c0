//! The state table's DynamoDB stream, read as Lambda's event source mapping reads it: what the devserver on
//! DynamoDB runs in place of the `welcome` and `proactive` functions' mappings (docs/decisions
//! `2026-11-30-devserver-stream.md`).
//!
//! [`StreamReader`] finds the stream (`DescribeTable`: `LatestStreamArn`), lists its shards (`DescribeStream`,
//! paginated), reads each shard from the trim horizon (`GetShardIterator`, then `GetRecords` with
//! `NextShardIterator`), follows a closed shard's children once the parent is read to its end, and hands each
//! record the template's `FilterCriteria` pass (an `INSERT` of a [`store::keys::STREAM_KINDS`] kind) to its
//! consumer as a [`ChangeEvent`], one at a time, in shard order. The position in each shard (the last record
//! handed over) is kept in memory: every start reads from the trim horizon again (24 h of records), which is safe
//! because the consumers are idempotent, as a mapping's must be.
//!
//! The Streams API is behind [`StreamSource`] (our own types): [`SdkStreamSource`] is the AWS SDK adapter.

use async_trait::async_trait;
use aws_sdk_dynamodbstreams::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, ShardIteratorType};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use store::{BoxError, ChangeEvent, Timestamp};

/// How long the reader waits between polls of a shard with nothing new (Lambda polls a stream's shards four
/// times a second).
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// The first wait after a failed call; it doubles on each failure in a row, to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often the shard list is read again even when no shard ended (new shards appear when one closes).
const DESCRIBE_EVERY: Duration = Duration::from_secs(60);
/// Records per `GetRecords` (the API allows 1,000).
const PAGE_LIMIT: i32 = 100;

/// Why a Streams API call (or the table's description) failed. Each is retried with backoff by [`StreamReader`].
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The table could not be described (it may not exist yet).
    #[error("DescribeTable `{table}` failed")]
    DescribeTable {
        table: String,
        #[source]
        source: BoxError,
    },
    /// The table has no stream with new images, so nothing can be read.
    #[error(
        "table `{table}` has no stream with new images: create it as infra/template.yaml does \
         (StreamSpecification NEW_AND_OLD_IMAGES)"
    )]
    NoStream { table: String },
    /// The stream or the shard no longer exists (the table was re-created, or the shard was trimmed).
    #[error("{operation}: the stream or shard is gone")]
    Gone {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    /// The shard iterator expired (they last 15 minutes).
    #[error("{operation}: the shard iterator expired")]
    IteratorExpired {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    /// The position asked for is older than the stream keeps (24 h): the records in between are lost.
    #[error("{operation}: the position is past the stream's 24 h retention")]
    Trimmed {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    /// Any other failure (throttling, a 5xx, the connection).
    #[error("{operation} failed")]
    Api {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
}

/// One shard as `DescribeStream` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    pub id: String,
    /// The shard this one continues (read to its end first).
    pub parent: Option<String>,
    /// The shard has an ending sequence number: it receives no more records.
    pub closed: bool,
}

/// Where a new shard iterator starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// The oldest record the stream keeps.
    TrimHorizon,
    /// Right after this sequence number (the last record handled).
    After(String),
}

/// One stream record, in our terms.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub sequence: String,
    /// `eventName` is `INSERT`.
    pub insert: bool,
    /// `ApproximateCreationDateTime`.
    pub created: Option<Timestamp>,
    /// The NewImage as plain JSON (`Err` with the reason when an attribute has no JSON form).
    pub new_image: Result<Option<Value>, String>,
}

/// One `GetRecords` answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub records: Vec<Record>,
    /// `NextShardIterator`; `None` once a closed shard is read to its end.
    pub next: Option<String>,
}

/// The DynamoDB Streams API as the reader uses it.
#[async_trait]
pub trait StreamSource: Send + Sync {
    /// The table's current stream (`LatestStreamArn`).
    ///
    /// # Errors
    /// [`StreamError::DescribeTable`], [`StreamError::NoStream`].
    async fn stream_arn(&self) -> Result<String, StreamError>;

    /// Every shard of `stream` (all pages of `DescribeStream`).
    ///
    /// # Errors
    /// [`StreamError`].
    async fn shards(&self, stream: &str) -> Result<Vec<Shard>, StreamError>;

    /// A shard iterator at `start`.
    ///
    /// # Errors
    /// [`StreamError`].
    async fn iterator(&self, stream: &str, shard: &str, start: &Start) -> Result<String, StreamError>;

    /// The records at `iterator`.
    ///
    /// # Errors
    /// [`StreamError`].
    async fn records(&self, iterator: &str) -> Result<Page, StreamError>;
}

/// [`StreamSource`] over the AWS SDK: `DescribeTable` with the DynamoDB client, the rest with the DynamoDB
/// Streams client.
#[derive(Clone, Debug)]
pub struct SdkStreamSource {
    dynamodb: aws_sdk_dynamodb::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    table: String,
}

impl SdkStreamSource {
    /// The stream of `table`, with the SDK configuration `sdk`. Local DynamoDB-compatible servers serve the
    /// Streams API at the DynamoDB address: `streams_endpoint` (see [`streams_endpoint_from`]) sets it.
    #[must_use]
    pub fn new(sdk: &aws_config::SdkConfig, table: impl Into<String>, streams_endpoint: Option<String>) -> Self {
        let mut streams = aws_sdk_dynamodbstreams::config::Builder::from(sdk);
        if let Some(endpoint) = streams_endpoint {
            streams = streams.endpoint_url(endpoint);
        }
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            streams: aws_sdk_dynamodbstreams::Client::from_conf(streams.build()),
            table: table.into(),
        }
    }
}

/// Where the Streams API is, from the environment as `lookup` reads it: the SDK's own
/// `AWS_ENDPOINT_URL_DYNAMODB_STREAMS` when set (the SDK reads it itself: `None`), otherwise the DynamoDB
/// endpoint `AWS_ENDPOINT_URL_DYNAMODB` (a local server answers both APIs at one address), otherwise `None`
/// (the SDK's default: AWS).
#[must_use]
pub fn streams_endpoint_from(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    if set("AWS_ENDPOINT_URL_DYNAMODB_STREAMS").is_some() {
        return None;
    }
    set("AWS_ENDPOINT_URL_DYNAMODB")
}

fn api_error<E>(
    operation: &'static str,
    err: SdkError<E, aws_sdk_dynamodbstreams::config::http::HttpResponse>,
) -> StreamError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let source: BoxError = Box::new(err);
    match code.as_deref() {
        Some("ResourceNotFoundException") => StreamError::Gone { operation, source },
        Some("ExpiredIteratorException") => StreamError::IteratorExpired { operation, source },
        Some("TrimmedDataAccessException") => StreamError::Trimmed { operation, source },
        _ => StreamError::Api { operation, source },
    }
}

#[async_trait]
impl StreamSource for SdkStreamSource {
    async fn stream_arn(&self) -> Result<String, StreamError> {
        let described = self
            .dynamodb
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| StreamError::DescribeTable {
                table: self.table.clone(),
                source: Box::new(e),
            })?;
        let table = described.table();
        let spec = table.and_then(|t| t.stream_specification());
        let with_new_images = spec.is_some_and(|s| {
            s.stream_enabled()
                && matches!(
                    s.stream_view_type(),
                    Some(
                        aws_sdk_dynamodb::types::StreamViewType::NewImage
                            | aws_sdk_dynamodb::types::StreamViewType::NewAndOldImages
                    )
                )
        });
        match table.and_then(|t| t.latest_stream_arn()) {
            Some(arn) if with_new_images => Ok(arn.to_owned()),
            _ => Err(StreamError::NoStream {
                table: self.table.clone(),
            }),
        }
    }

    async fn shards(&self, stream: &str) -> Result<Vec<Shard>, StreamError> {
        let mut shards: Vec<Shard> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .streams
                .describe_stream()
                .stream_arn(stream)
                .set_exclusive_start_shard_id(after.take())
                .send()
                .await
                .map_err(|e| api_error("DescribeStream", e))?;
            let Some(description) = page.stream_description() else {
                return Ok(shards);
            };
            let before = shards.len();
            for shard in description.shards() {
                let Some(id) = shard.shard_id() else { continue };
                if shards.iter().any(|s| s.id == id) {
                    continue;
                }
                shards.push(Shard {
                    id: id.to_owned(),
                    parent: shard.parent_shard_id().map(str::to_owned),
                    closed: shard
                        .sequence_number_range()
                        .and_then(|r| r.ending_sequence_number())
                        .is_some(),
                });
            }
            // The next page starts after the last shard of this one; a page with nothing new ends the list (a
            // server that ignores `ExclusiveStartShardId` answers the same page again).
            match description.last_evaluated_shard_id() {
                Some(last) if shards.len() > before => after = Some(last.to_owned()),
                _ => return Ok(shards),
            }
        }
    }

    async fn iterator(&self, stream: &str, shard: &str, start: &Start) -> Result<String, StreamError> {
        let request = self.streams.get_shard_iterator().stream_arn(stream).shard_id(shard);
        let request = match start {
            Start::TrimHorizon => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            Start::After(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(sequence),
        };
        let answer = request.send().await.map_err(|e| api_error("GetShardIterator", e))?;
        answer
            .shard_iterator()
            .map(str::to_owned)
            .ok_or_else(|| StreamError::Api {
                operation: "GetShardIterator",
                source: "the answer has no ShardIterator".into(),
            })
    }

    async fn records(&self, iterator: &str) -> Result<Page, StreamError> {
        let answer = self
            .streams
            .get_records()
            .shard_iterator(iterator)
            .limit(PAGE_LIMIT)
            .send()
            .await
            .map_err(|e| api_error("GetRecords", e))?;
        let records = answer
            .records()
            .iter()
            .filter_map(|record| {
                let dynamodb = record.dynamodb()?;
                Some(Record {
                    sequence: dynamodb.sequence_number()?.to_owned(),
                    insert: record.event_name() == Some(&OperationType::Insert),
                    created: dynamodb.approximate_creation_date_time().map(|t| Timestamp(t.secs())),
                    new_image: dynamodb.new_image().map(image_json).transpose(),
                })
            })
            .collect();
        Ok(Page {
            records,
            next: answer.next_shard_iterator().map(str::to_owned),
        })
    }
}

/// A NewImage as one plain JSON object (numbers as JSON numbers), through the store's own converter
/// ([`store::item_to_json`]), so the devserver reads an image exactly as the `welcome` function does.
fn image_json(image: &HashMap<String, AttributeValue>) -> Result<Value, String> {
    // serde_dynamo's conversion of the Streams SDK's `Unknown` variant (a type newer than the SDK) panics, as the
    // DynamoDB SDK's does (store::attributes_to_json refuses it there): refuse it first.
    if let Some((name, _)) = image.iter().find(|(_, value)| !known_type(value)) {
        return Err(format!("attribute {name}: an attribute type this reader does not know"));
    }
    store::item_to_json(image.clone()).map_err(|e| e.to_string())
}

/// Whether every (nested) attribute has a type the Streams SDK knows.
fn known_type(value: &AttributeValue) -> bool {
    match value {
        AttributeValue::M(map) => map.values().all(known_type),
        AttributeValue::L(list) => list.iter().all(known_type),
        other => !other.is_unknown(),
    }
}

/// A record the template's `FilterCriteria` pass, for the consumer.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamEvent {
    pub shard: String,
    pub sequence: String,
    /// When the record was written (`ApproximateCreationDateTime`).
    pub created: Option<Timestamp>,
    /// The inserted item (a `NewImage` of a [`store::keys::STREAM_KINDS`] kind); `Err` with the reason when the
    /// image cannot be read.
    pub change: Result<ChangeEvent, String>,
}

/// The event the template's filters pass for `record`: an `INSERT` whose NewImage `kind` is one of
/// [`store::keys::STREAM_KINDS`] (`{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": [...]}}}}`).
fn filtered(record: &Record) -> Option<Result<ChangeEvent, String>> {
    if !record.insert {
        return None;
    }
    match &record.new_image {
        Ok(Some(image)) => {
            let kind = image.get("kind").and_then(Value::as_str)?;
            store::keys::STREAM_KINDS.contains(&kind).then(|| {
                Ok(ChangeEvent::Inserted {
                    kind: kind.to_owned(),
                    item: image.clone(),
                })
            })
        }
        Ok(None) => None,
        Err(reason) => Some(Err(reason.clone())),
    }
}

/// What the reader knows of one shard.
#[derive(Debug, Default)]
struct ShardState {
    parent: Option<String>,
    closed: bool,
    /// The last record handed over (or filtered out).
    checkpoint: Option<String>,
    /// Where to read next; `None`: a fresh iterator from the checkpoint.
    iterator: Option<String>,
    /// Closed and read to its end.
    finished: bool,
}

/// Reads a table's stream and hands each filtered record to a consumer. See the module docs.
#[derive(Debug)]
pub struct StreamReader<S> {
    source: S,
    poll: Duration,
    stream: Option<String>,
    shards: BTreeMap<String, ShardState>,
    described: Option<Instant>,
}

impl<S: StreamSource> StreamReader<S> {
    /// A reader of `source`'s stream from its trim horizon, polling every [`POLL_INTERVAL`] when idle.
    #[must_use]
    pub fn new(source: S) -> Self {
        Self {
            source,
            poll: POLL_INTERVAL,
            stream: None,
            shards: BTreeMap::new(),
            described: None,
        }
    }

    /// Polls every `poll` when idle instead.
    #[must_use]
    pub fn with_poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Reads until the task is dropped: each record the filters pass is handed to `consume`, which is awaited
    /// before the next record is read (a shard's records in order, as a mapping delivers them). A failed call is
    /// logged and retried after a backoff (0.5 s doubling to 30 s); a poll with nothing new waits the poll
    /// interval.
    pub async fn run<F, Fut>(mut self, mut consume: F)
    where
        F: FnMut(StreamEvent) -> Fut + Send,
        Fut: Future<Output = ()> + Send,
    {
        let mut backoff = FIRST_BACKOFF;
        let mut failures = 0u32;
        loop {
            match self.poll_once(&mut consume).await {
                Ok(progressed) => {
                    if failures > 0 {
                        tracing::info!(failures, stream = ?self.stream, "reading the table's stream again");
                    }
                    failures = 0;
                    backoff = FIRST_BACKOFF;
                    if !progressed {
                        tokio::time::sleep(self.poll).await;
                    }
                }
                Err(e) => {
                    failures += 1;
                    // The first failure in a row is a warning; a stream that stays unreadable is an error.
                    if failures >= 5 {
                        tracing::error!(
                            error = %e,
                            cause = ?std::error::Error::source(&e),
                            failures,
                            stream = ?self.stream,
                            "the table's stream cannot be read; no welcome or outbox work runs until it can"
                        );
                    } else {
                        tracing::warn!(
                            error = %e,
                            cause = ?std::error::Error::source(&e),
                            failures,
                            stream = ?self.stream,
                            retry_in_ms = backoff.as_millis(),
                            "reading the table's stream failed; retrying"
                        );
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// One round: finds the stream and its shards when needed, then reads one page of every shard that can be
    /// read (its parent finished), handing over the filtered records. Answers whether anything was read (a
    /// record, or the end of a closed shard).
    ///
    /// # Errors
    /// The first [`StreamError`] of the round (the shard's position is kept: it is read again next round).
    pub async fn poll_once<F, Fut>(&mut self, consume: &mut F) -> Result<bool, StreamError>
    where
        F: FnMut(StreamEvent) -> Fut + Send,
        Fut: Future<Output = ()> + Send,
    {
        let stream = match &self.stream {
            Some(stream) => stream.clone(),
            None => {
                let stream = self.source.stream_arn().await?;
                tracing::info!(stream = %stream, "reading the table's stream from its trim horizon");
                self.stream = Some(stream.clone());
                self.shards.clear();
                self.described = None;
                stream
            }
        };
        if self.described.is_none_or(|at| at.elapsed() >= DESCRIBE_EVERY) {
            let listed = match self.source.shards(&stream).await {
                Ok(listed) => listed,
                Err(e) => {
                    if matches!(e, StreamError::Gone { .. }) {
                        self.stream = None;
                    }
                    return Err(e);
                }
            };
            self.merge_shards(listed);
            self.described = Some(Instant::now());
        }
        let mut progressed = false;
        let readable: Vec<String> = self
            .shards
            .iter()
            .filter(|(_, s)| !s.finished)
            .filter(|(_, s)| {
                s.parent
                    .as_ref()
                    .and_then(|p| self.shards.get(p))
                    .is_none_or(|parent| parent.finished)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for shard in readable {
            match self.poll_shard(&stream, &shard, consume).await {
                Ok(read) => progressed |= read,
                Err(e) => {
                    self.recover(&shard, &e);
                    return Err(e);
                }
            }
        }
        Ok(progressed)
    }

    /// Adds new shards, updates the closed flag, and forgets shards the stream no longer lists.
    fn merge_shards(&mut self, listed: Vec<Shard>) {
        let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
        self.shards.retain(|id, state| {
            let keep = ids.contains(&id.as_str());
            if !keep && !state.finished {
                tracing::warn!(shard = %id, "shard no longer listed (trimmed) before it was read to its end");
            }
            keep
        });
        for shard in listed {
            let state = self.shards.entry(shard.id).or_default();
            state.parent = shard.parent;
            state.closed |= shard.closed;
        }
    }

    /// What an error means for the shard's position.
    fn recover(&mut self, shard: &str, error: &StreamError) {
        let Some(state) = self.shards.get_mut(shard) else {
            return;
        };
        // Any failure: the next read takes a fresh iterator from the checkpoint.
        state.iterator = None;
        match error {
            StreamError::Trimmed { .. } => {
                tracing::error!(
                    shard,
                    checkpoint = ?state.checkpoint,
                    "records past the stream's retention were lost; reading from the trim horizon"
                );
                state.checkpoint = None;
            }
            StreamError::Gone { .. } => {
                // The shard (or the stream) is gone: list the shards again, or find the table's new stream.
                self.described = None;
                self.stream = None;
            }
            StreamError::DescribeTable { .. }
            | StreamError::NoStream { .. }
            | StreamError::IteratorExpired { .. }
            | StreamError::Api { .. } => {}
        }
    }

    /// Reads one page of `shard` (then the following ones while they hold records) and hands its filtered records
    /// to `consume`. Answers whether anything was read.
    async fn poll_shard<F, Fut>(&mut self, stream: &str, shard: &str, consume: &mut F) -> Result<bool, StreamError>
    where
        F: FnMut(StreamEvent) -> Fut + Send,
        Fut: Future<Output = ()> + Send,
    {
        let Some(state) = self.shards.get_mut(shard) else {
            return Ok(false);
        };
        let mut iterator = match state.iterator.take() {
            Some(iterator) => iterator,
            None => {
                let start = state.checkpoint.clone().map_or(Start::TrimHorizon, Start::After);
                self.source.iterator(stream, shard, &start).await?
            }
        };
        let mut read = false;
        loop {
            let page = self.source.records(&iterator).await?;
            let Some(state) = self.shards.get_mut(shard) else {
                return Ok(read);
            };
            let got = !page.records.is_empty();
            for record in page.records {
                state.checkpoint = Some(record.sequence.clone());
                if let Some(change) = filtered(&record) {
                    consume(StreamEvent {
                        shard: shard.to_owned(),
                        sequence: record.sequence,
                        created: record.created,
                        change,
                    })
                    .await;
                }
            }
            let Some(state) = self.shards.get_mut(shard) else {
                return Ok(read);
            };
            match page.next {
                None => {
                    // A closed shard read to its end: its children can be read, and the list may have new ones.
                    tracing::info!(shard, "shard read to its end");
                    state.finished = true;
                    self.described = None;
                    return Ok(true);
                }
                Some(next) if got => {
                    read = true;
                    iterator = next;
                }
                Some(next) if state.closed => {
                    // A closed shard's empty page is a gap (trimmed or sparse records): follow it to the end.
                    state.iterator = Some(next);
                    return Ok(true);
                }
                Some(_) => {
                    // The open shard's tip. The next poll takes a fresh iterator from the checkpoint rather than
                    // this one: the same records on DynamoDB, never an iterator near its 15-minute expiry, and on
                    // moto (whose cancelled transactions replace the table's shard object) the live shard.
                    state.iterator = None;
                    return Ok(read);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

    use super::*;
    use serde_json::json;
    use std::sync::Mutex;

    /// Shards of records in memory; an iterator is `<shard>@<index>`.
    #[derive(Default)]
    struct Fake {
        shards: Mutex<Vec<(Shard, Vec<Record>)>>,
        /// Fail the next `records` call this many times.
        failures: Mutex<u32>,
        calls: Mutex<Vec<String>>,
    }

    fn record(sequence: u32, insert: bool, kind: &str) -> Record {
        Record {
            sequence: format!("{sequence:05}"),
            insert,
            created: Some(Timestamp(1_000)),
            new_image: Ok(Some(json!({"pk": format!("K#{sequence}"), "sk": "S", "kind": kind}))),
        }
    }

    impl Fake {
        fn shard(&self, id: &str, parent: Option<&str>, closed: bool, records: Vec<Record>) {
            let shard = Shard {
                id: id.into(),
                parent: parent.map(Into::into),
                closed,
            };
            self.shards.lock().unwrap().push((shard, records));
        }

        fn push(&self, id: &str, record: Record) {
            let mut shards = self.shards.lock().unwrap();
            shards.iter_mut().find(|(s, _)| s.id == id).unwrap().1.push(record);
        }
    }

    #[async_trait]
    impl StreamSource for Fake {
        async fn stream_arn(&self) -> Result<String, StreamError> {
            Ok("arn:stream".into())
        }

        async fn shards(&self, _stream: &str) -> Result<Vec<Shard>, StreamError> {
            self.calls.lock().unwrap().push("DescribeStream".into());
            Ok(self.shards.lock().unwrap().iter().map(|(s, _)| s.clone()).collect())
        }

        async fn iterator(&self, _stream: &str, shard: &str, start: &Start) -> Result<String, StreamError> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("GetShardIterator {shard} {start:?}"));
            let shards = self.shards.lock().unwrap();
            let records = &shards.iter().find(|(s, _)| s.id == shard).unwrap().1;
            let at = match start {
                Start::TrimHorizon => 0,
                Start::After(seq) => records.iter().position(|r| &r.sequence == seq).unwrap() + 1,
            };
            Ok(format!("{shard}@{at}"))
        }

        async fn records(&self, iterator: &str) -> Result<Page, StreamError> {
            {
                let mut failures = self.failures.lock().unwrap();
                if *failures > 0 {
                    *failures -= 1;
                    return Err(StreamError::Api {
                        operation: "GetRecords",
                        source: "injected".into(),
                    });
                }
            }
            let (shard, at) = iterator.split_once('@').unwrap();
            let at: usize = at.parse().unwrap();
            let shards = self.shards.lock().unwrap();
            let (info, records) = shards.iter().find(|(s, _)| s.id == shard).unwrap();
            let page: Vec<Record> = records.iter().skip(at).take(2).cloned().collect();
            let end = at + page.len();
            let next = (!(info.closed && end >= records.len())).then(|| format!("{shard}@{end}"));
            Ok(Page { records: page, next })
        }
    }

    async fn drain(reader: &mut StreamReader<&Fake>, rounds: usize) -> Vec<String> {
        let seen = Mutex::new(Vec::new());
        let mut consume = |event: StreamEvent| {
            seen.lock().unwrap().push(event.sequence);
            std::future::ready(())
        };
        for _ in 0..rounds {
            let _ = reader.poll_once(&mut consume).await;
        }
        seen.into_inner().unwrap()
    }

    #[async_trait]
    impl StreamSource for &Fake {
        async fn stream_arn(&self) -> Result<String, StreamError> {
            (*self).stream_arn().await
        }
        async fn shards(&self, stream: &str) -> Result<Vec<Shard>, StreamError> {
            (*self).shards(stream).await
        }
        async fn iterator(&self, stream: &str, shard: &str, start: &Start) -> Result<String, StreamError> {
            (*self).iterator(stream, shard, start).await
        }
        async fn records(&self, iterator: &str) -> Result<Page, StreamError> {
            (*self).records(iterator).await
        }
    }

    #[tokio::test]
    async fn only_inserts_of_the_streamed_kinds_pass_in_order() {
        let fake = Fake::default();
        fake.shard(
            "s1",
            None,
            false,
            vec![
                record(1, true, "team-install"),
                record(2, false, "team-install"),
                record(3, true, "seen"),
                record(4, true, "first-contact"),
                record(5, true, "outbox"),
            ],
        );
        let mut reader = StreamReader::new(&fake);
        assert_eq!(drain(&mut reader, 3).await, ["00001", "00004", "00005"]);
        // Nothing new: nothing handed over again; a new record: that one alone, from a fresh iterator after the
        // checkpoint.
        assert!(drain(&mut reader, 2).await.is_empty());
        fake.push("s1", record(6, true, "first-contact"));
        assert_eq!(drain(&mut reader, 1).await, ["00006"]);
        let calls = fake.calls.lock().unwrap().clone();
        assert!(
            calls.contains(&"GetShardIterator s1 TrimHorizon".to_owned()),
            "{calls:?}"
        );
        assert!(
            calls.contains(&"GetShardIterator s1 After(\"00005\")".to_owned()),
            "{calls:?}"
        );
    }

    #[tokio::test]
    async fn a_closed_parent_is_read_to_its_end_before_its_child() {
        let fake = Fake::default();
        fake.shard("child", Some("parent"), false, vec![record(10, true, "outbox")]);
        fake.shard(
            "parent",
            None,
            true,
            vec![
                record(1, true, "team-install"),
                record(2, true, "seen"),
                record(3, true, "team-install"),
            ],
        );
        let mut reader = StreamReader::new(&fake);
        assert_eq!(drain(&mut reader, 4).await, ["00001", "00003", "00010"]);
    }

    #[tokio::test]
    async fn a_failed_read_is_retried_from_the_checkpoint_without_losing_or_repeating_records() {
        let fake = Fake::default();
        fake.shard("s1", None, false, vec![record(1, true, "team-install")]);
        let mut reader = StreamReader::new(&fake);
        assert_eq!(drain(&mut reader, 1).await, ["00001"]);
        fake.push("s1", record(2, true, "first-contact"));
        *fake.failures.lock().unwrap() = 2;
        let seen = Mutex::new(Vec::new());
        let mut consume = |event: StreamEvent| {
            seen.lock().unwrap().push(event.sequence);
            std::future::ready(())
        };
        assert!(reader.poll_once(&mut consume).await.is_err());
        assert!(reader.poll_once(&mut consume).await.is_err());
        assert!(reader.poll_once(&mut consume).await.unwrap());
        assert_eq!(seen.into_inner().unwrap(), ["00002"]);
    }

    #[test]
    fn an_image_becomes_plain_json_and_binary_is_reported() {
        let image = HashMap::from([
            ("kind".to_owned(), AttributeValue::S("team-install".into())),
            ("claimedAt".to_owned(), AttributeValue::N("1700000000".into())),
            ("ratio".to_owned(), AttributeValue::N("1.5".into())),
            ("ok".to_owned(), AttributeValue::Bool(true)),
            (
                "bot".to_owned(),
                AttributeValue::M(HashMap::from([("id".to_owned(), AttributeValue::S("28:x".into()))])),
            ),
            ("list".to_owned(), AttributeValue::L(vec![AttributeValue::Null(true)])),
        ]);
        assert_eq!(
            image_json(&image).unwrap(),
            json!({"kind": "team-install", "claimedAt": 1_700_000_000, "ratio": 1.5, "ok": true,
                   "bot": {"id": "28:x"}, "list": [null]})
        );
        let binary = HashMap::from([("b".to_owned(), AttributeValue::B(vec![1].into()))]);
        assert!(image_json(&binary).is_err(), "binary has no JSON form");
    }

    #[test]
    fn the_streams_endpoint_defaults_to_the_dynamodb_one() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(
            streams_endpoint_from(env(&[("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")])),
            Some("http://127.0.0.1:8000".to_owned())
        );
        let both = &[
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
            ("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", "http://127.0.0.1:9000"),
        ];
        assert_eq!(streams_endpoint_from(env(both)), None, "the SDK reads its own variable");
        assert_eq!(streams_endpoint_from(env(&[])), None);
    }
}

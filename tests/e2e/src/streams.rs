//! The table's DynamoDB stream as the Lambda event source mapping sees it: records read from the local server's
//! DynamoDB Streams API (`DescribeStream`, `GetShardIterator`, `GetRecords`; moto implements them for tables
//! created with a stream), in the API's own attribute-value JSON — the shape Lambda puts in `Records` — and an
//! emulation of the mapping's delivery: filter, batches, partial batch failure retries, and an on-failure
//! destination.
//!
//! The Streams API is called as plain JSON over HTTP (`X-Amz-Target: DynamoDBStreams_20120810.*`): the local
//! server does not check signatures, and the records then need no conversion from SDK types.

use crate::E2eError;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::hash::BuildHasher as _;
use std::time::Duration;

fn err(what: impl Into<String>) -> E2eError {
    E2eError::Dynamo(what.into())
}

/// A reader of one table's stream, remembering its place in every shard.
#[derive(Debug)]
pub struct StreamReader {
    endpoint: String,
    stream_arn: String,
    http: reqwest::Client,
    /// Shard id -> the sequence number of the last record read (the checkpoint).
    positions: BTreeMap<String, String>,
}

impl StreamReader {
    /// A reader of the stream `stream_arn` (the table's `LatestStreamArn`) on `endpoint`, from the stream's start
    /// (`TRIM_HORIZON`, as the template's mappings start).
    #[must_use]
    pub fn new(endpoint: &str, stream_arn: &str) -> Self {
        Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            stream_arn: stream_arn.to_owned(),
            http: reqwest::Client::new(),
            positions: BTreeMap::new(),
        }
    }

    async fn call(&self, action: &str, body: &Value) -> Result<Value, E2eError> {
        let response = self
            .http
            .post(format!("{}/", self.endpoint))
            .header("x-amz-target", format!("DynamoDBStreams_20120810.{action}"))
            .header("content-type", "application/x-amz-json-1.0")
            // The local server reads the region from the credential scope; the signature is not checked.
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| err(format!("streams {action}: {e}")))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(err(format!("streams {action}: {status} {text}")));
        }
        serde_json::from_str(&text).map_err(|e| err(format!("streams {action}: {e}: {text}")))
    }

    /// Every record written since the last call (all shards, each in sequence order).
    ///
    /// # Errors
    /// [`E2eError::Dynamo`] when a Streams API call fails.
    pub async fn read_new(&mut self) -> Result<Vec<Value>, E2eError> {
        let described = self
            .call("DescribeStream", &json!({"StreamArn": self.stream_arn}))
            .await?;
        let shards: Vec<String> = described
            .pointer("/StreamDescription/Shards")
            .and_then(Value::as_array)
            .map(|s| {
                s.iter()
                    .filter_map(|s| s["ShardId"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut records = Vec::new();
        for shard in shards {
            // A fresh iterator after the last record read (the checkpoint), as the event source mapping
            // resumes: moto replaces a table's stream shard object when it rolls back a cancelled transaction, so
            // an iterator kept from an earlier read may point at a stale copy.
            let body = match self.positions.get(&shard) {
                Some(last) => json!({"StreamArn": self.stream_arn, "ShardId": shard,
                                     "ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last}),
                None => json!({"StreamArn": self.stream_arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
            };
            let answer = self.call("GetShardIterator", &body).await?;
            let mut iterator = answer["ShardIterator"]
                .as_str()
                .ok_or_else(|| err(format!("no shard iterator: {answer}")))?
                .to_owned();
            // Bounded: at most 1000 records per GetRecords, and a stream of one test is far smaller than this.
            for _ in 0..1000 {
                let page = self
                    .call("GetRecords", &json!({"ShardIterator": iterator, "Limit": 1000}))
                    .await?;
                let got = page["Records"].as_array().cloned().unwrap_or_default();
                if let Some(last) = got
                    .last()
                    .and_then(|r| r.pointer("/dynamodb/SequenceNumber"))
                    .and_then(Value::as_str)
                {
                    self.positions.insert(shard.clone(), last.to_owned());
                }
                match page["NextShardIterator"].as_str() {
                    Some(next) if !got.is_empty() => iterator = next.to_owned(),
                    _ => break,
                }
                records.extend(got);
            }
        }
        Ok(records)
    }
}

/// The `kind` a record's NewImage carries.
#[must_use]
pub fn record_kind(record: &Value) -> Option<&str> {
    record.pointer("/dynamodb/NewImage/kind/S").and_then(Value::as_str)
}

/// A string attribute of a record's NewImage.
#[must_use]
pub fn new_image_s<'a>(record: &'a Value, attribute: &str) -> Option<&'a str> {
    record
        .pointer(&format!("/dynamodb/NewImage/{attribute}/S"))
        .and_then(Value::as_str)
}

/// The records the mapping's filter passes: `INSERT`s whose NewImage has one of `kinds` (the template's
/// `FilterCriteria`).
#[must_use]
pub fn filter_inserts(records: &[Value], kinds: &[&str]) -> Vec<Value> {
    records
        .iter()
        .filter(|r| r["eventName"] == "INSERT" && record_kind(r).is_some_and(|k| kinds.contains(&k)))
        .cloned()
        .collect()
}

/// How the emulated event source mapping delivers (the template's values by default).
#[derive(Clone, Debug)]
pub struct Mapping {
    pub batch_size: usize,
    /// Retries of a failing record before it goes to the on-failure destination.
    pub max_retries: usize,
    /// Wait before a retry.
    pub retry_delay: Duration,
    /// Shards delivering at once, each in order: a table's stream has several, and Lambda runs one invocation
    /// per shard concurrently (records go to the shard of their partition key).
    pub shards: usize,
}

impl Default for Mapping {
    fn default() -> Self {
        Self {
            batch_size: 10,
            max_retries: 5,
            retry_delay: Duration::from_millis(200),
            shards: 1,
        }
    }
}

/// What a delivery did.
#[derive(Debug, Default)]
pub struct Delivery {
    /// Invocations made (first tries and retries).
    pub invocations: usize,
    /// Retries made.
    pub retries: usize,
    /// Records that still failed after every retry, as the on-failure destination would get them.
    pub dead_lettered: Vec<Value>,
}

/// Delivers `records` in order, `mapping.batch_size` at a time, to `invoke` (one function invocation with
/// `{"Records": [...]}`), as the event source mapping does with `ReportBatchItemFailures`: a batch whose answer
/// lists failures is retried from the first failed record; a record that fails `max_retries` retries goes to
/// the on-failure destination ([`Delivery::dead_lettered`]) and delivery goes on with the records after it (as
/// `BisectBatchOnFunctionError` ends up isolating it). An invocation error (the function crashed or timed out)
/// counts as the whole remaining batch failing.
///
/// # Errors
/// Never for a function's failure (that is retried and reported); only when `invoke` cannot reach the emulator
/// on a first try is that error returned.
///
/// With `mapping.shards` above one, records are split by a hash of their partition key and the shards are
/// delivered concurrently, each in order.
pub async fn deliver<F, Fut>(mapping: &Mapping, records: &[Value], invoke: F) -> Result<Delivery, E2eError>
where
    F: Fn(Value) -> Fut,
    Fut: Future<Output = Result<Value, E2eError>>,
{
    let shards = mapping.shards.max(1);
    let mut split: Vec<Vec<Value>> = vec![Vec::new(); shards];
    for record in records {
        let pk = record
            .pointer("/dynamodb/Keys/pk/S")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // A fixed hash (the same shard for the same key in every run), as DynamoDB keeps a key on one shard.
        let hash = std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default().hash_one(pk);
        let shard = usize::try_from(hash % u64::try_from(shards).unwrap_or(1)).unwrap_or(0);
        split[shard].push(record.clone());
    }
    let invoke = &invoke;
    let reports = futures_util::future::join_all(split.iter().map(|part| deliver_shard(mapping, part, invoke))).await;
    let mut report = Delivery::default();
    for shard in reports {
        let shard = shard?;
        report.invocations += shard.invocations;
        report.retries += shard.retries;
        report.dead_lettered.extend(shard.dead_lettered);
    }
    Ok(report)
}

/// One shard's records, in order.
async fn deliver_shard<F, Fut>(mapping: &Mapping, records: &[Value], invoke: &F) -> Result<Delivery, E2eError>
where
    F: Fn(Value) -> Fut,
    Fut: Future<Output = Result<Value, E2eError>>,
{
    let mut report = Delivery::default();
    let mut pending: Vec<Value> = records.to_vec();
    let mut attempts_of_head = 0usize;
    while !pending.is_empty() {
        let batch: Vec<Value> = pending.iter().take(mapping.batch_size.max(1)).cloned().collect();
        report.invocations += 1;
        let answer = invoke(json!({"Records": batch})).await;
        let first_failed = match answer {
            Ok(answer) => {
                let failed: Vec<&str> = answer["batchItemFailures"]
                    .as_array()
                    .map(|f| f.iter().filter_map(|x| x["itemIdentifier"].as_str()).collect())
                    .unwrap_or_default();
                batch.iter().position(|r| {
                    r.pointer("/dynamodb/SequenceNumber")
                        .and_then(Value::as_str)
                        .is_some_and(|s| failed.contains(&s))
                })
            }
            Err(e) if report.invocations == 1 => return Err(e),
            Err(_) => Some(0),
        };
        match first_failed {
            None => {
                pending.drain(..batch.len());
                attempts_of_head = 0;
            }
            Some(i) => {
                pending.drain(..i);
                if i > 0 {
                    attempts_of_head = 0;
                }
                if attempts_of_head >= mapping.max_retries {
                    report.dead_lettered.push(pending.remove(0));
                    attempts_of_head = 0;
                } else {
                    attempts_of_head += 1;
                    report.retries += 1;
                    tokio::time::sleep(mapping.retry_delay).await;
                }
            }
        }
    }
    Ok(report)
}

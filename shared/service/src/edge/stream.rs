//! The `welcome` and `proactive` Lambdas' events, typed with `aws_lambda_events`: DynamoDB stream batches
//! ([`DynamoDbEvent`], answered with the partial batch failure report [`DynamoDbEventResponse`]), the schedule
//! ([`TICK_INPUT`], or an EventBridge rule's `Scheduled Event`), and direct notify invokes. Each record's NewImage
//! is converted by the store's one DynamoDB-JSON converter ([`store::item_to_json`]) and decoded into the store's
//! own [`StreamItem`], so the functions act from the image alone.
//!
//! What must reach Lambda is an [`InvocationError`]: Lambda counts it in the function's `Errors` metric, retries it
//! (a stream batch, an asynchronous invoke) and hands it to a direct invoke's caller as `errorType` /
//! `errorMessage` ([`InvocationError::error_type`], [`InvocationError::body`]).

use crate::adapters::failed_records::FailedRecords;
use crate::app::App;
use crate::metrics::{self, Metric};
use crate::proactive::{NotifyError, TickError};
use crate::welcome::WelcomeError;
pub use aws_lambda_events::dynamodb::{Event as DynamoDbEvent, EventRecord};
use aws_lambda_events::eventbridge::EventBridgeEvent;
pub use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_json::{Value, json};
use store::{StoreError, StreamItem};
use tracing::Instrument as _;

/// Why an invocation of the `welcome` or `proactive` function failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// The event is not one the function takes (a malformed stream batch or EventBridge envelope).
    #[error("the event is not {expected}: {source}")]
    BadEvent {
        expected: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A stream record without a sequence number: it cannot be named in a batch item failure, so the whole batch
    /// fails (Lambda retries it, bisects it, and sends what keeps failing to the on-failure destination).
    #[error("stream record `{event_id}` has no sequence number; the whole batch fails")]
    NoSequenceNumber { event_id: String },
    /// The scheduled tick could not list its jobs, or a job failed for a reason that may pass.
    #[error(transparent)]
    Tick(#[from] TickError),
    /// A notify operation failed (its code and status are in [`NotifyError`]).
    #[error(transparent)]
    Notify(#[from] NotifyError),
}

impl InvocationError {
    /// Whether the same invocation may succeed later (Teams throttling or 5xx, the store, the token, an operation
    /// in progress); `false` when it cannot (the bot was removed, an unknown conversation, an invalid request).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::BadEvent { .. } | Self::NoSequenceNumber { .. } => false,
            Self::Tick(_) => true,
            Self::Notify(e) => e.is_retryable(),
        }
    }

    /// The error's code: a notify's (`BotRemoved`, `UnknownConversation`, `ConversationInactive`,
    /// `InvalidRequest`, `InProgress`, `ConnectorError`, `StoreUnavailable`, ...), a tick's (`StoreUnavailable`,
    /// `JobsFailed`), `InvalidEvent` or `NoSequenceNumber`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadEvent { .. } => "InvalidEvent",
            Self::NoSequenceNumber { .. } => "NoSequenceNumber",
            Self::Tick(e) => e.code(),
            Self::Notify(e) => e.code,
        }
    }

    /// The `errorType` Lambda reports: `Retryable.<code>` or `Permanent.<code>` (Lambda's own error types are
    /// dotted the same way, e.g. `Runtime.ExitError`).
    #[must_use]
    pub fn error_type(&self) -> String {
        let class = if self.is_retryable() { "Retryable" } else { "Permanent" };
        format!("{class}.{}", self.code())
    }

    /// The `errorMessage` as a JSON document: `{"error": {"code", "message"}, "retryable": bool}`, with the HTTP
    /// `status` of a notify (the one the devserver's `/api/notify` answers) or the `report` of a tick.
    #[must_use]
    pub fn body(&self) -> Value {
        let mut body = json!({
            "error": {"code": self.code(), "message": self.to_string()},
            "retryable": self.is_retryable(),
        });
        match self {
            Self::Notify(e) => {
                body["error"]["message"] = json!(e.message);
                body["status"] = json!(e.status);
            }
            Self::Tick(TickError::JobsFailed { report }) => body["report"] = json!(report),
            Self::Tick(TickError::Store(_)) | Self::BadEvent { .. } | Self::NoSequenceNumber { .. } => {}
        }
        body
    }
}

/// Why one stream record could not be handled: it is reported as a batch item failure, so the mapping retries it
/// (5 times in the template), then sends it to its on-failure destination.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The NewImage has no JSON form (binary), or does not decode as its `kind`.
    #[error("undecodable `{kind}` image")]
    Image {
        kind: String,
        #[source]
        source: ImageError,
    },
    /// The welcome could not be sent (or is being sent by another attempt).
    #[error(transparent)]
    Welcome(#[from] WelcomeError),
    /// The outbox item's current state could not be read.
    #[error("outbox `{id}`: reading its state failed")]
    OutboxState {
        id: String,
        #[source]
        source: StoreError,
    },
    /// The outbox item's notify failed in a way worth retrying.
    #[error("outbox `{id}`: {source}")]
    Outbox {
        id: String,
        #[source]
        source: NotifyError,
    },
    /// Deferred work failed (or ran past its deadline) in a way worth retrying.
    #[error(transparent)]
    Deferred(#[from] crate::flows::deferred::DeferredError),
}

/// How a NewImage failed to become a [`StreamItem`].
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// An attribute has no JSON form.
    #[error(transparent)]
    Convert(#[from] StoreError),
    /// The JSON does not decode as the item its `kind` names.
    #[error(transparent)]
    Decode(#[from] serde_json::Error),
}

/// The store item a stream record inserted, if it is one a function handles (an `INSERT` of a
/// [`store::keys::STREAM_KINDS`] kind).
///
/// # Errors
/// [`RecordError::Image`] when the record's image does not convert or decode (the record is reported as failed).
pub fn record_item(record: &EventRecord) -> Result<Option<StreamItem>, RecordError> {
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    let Some(kind) = string_attribute(&record.change.new_image, "kind") else {
        return Ok(None);
    };
    if !store::keys::STREAM_KINDS.contains(&kind) {
        return Ok(None);
    }
    let image = |source: ImageError| RecordError::Image {
        kind: kind.to_owned(),
        source,
    };
    let json = store::item_to_json(record.change.new_image.clone()).map_err(|e| image(e.into()))?;
    StreamItem::from_image(kind, &json).map_err(|e| image(e.into()))
}

fn string_attribute<'a>(item: &'a serde_dynamo::Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(serde_dynamo::AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

/// Handles a stream batch in order with `handle`, one span per record (sequence number, kind, key), and answers
/// the partial batch failure report: the first record that fails, by its sequence number. Records after it are
/// not handled (their order per key is kept): Lambda retries the batch from the failed record on, as it does from
/// the lowest sequence number reported.
///
/// # Errors
/// [`InvocationError::NoSequenceNumber`] when a record has none (checked before any record is handled).
pub async fn handle_records<F, Fut>(event: &DynamoDbEvent, handle: F) -> Result<DynamoDbEventResponse, InvocationError>
where
    F: Fn(StreamItem) -> Fut,
    Fut: Future<Output = Result<(), RecordError>>,
{
    let mut sequences = Vec::with_capacity(event.records.len());
    for record in &event.records {
        match record.change.sequence_number.as_deref().filter(|s| !s.is_empty()) {
            Some(sequence) => sequences.push(sequence),
            None => {
                return Err(InvocationError::NoSequenceNumber {
                    event_id: record.event_id.clone(),
                });
            }
        }
    }
    let mut response = DynamoDbEventResponse::default();
    for (index, (record, sequence)) in event.records.iter().zip(sequences).enumerate() {
        let span = tracing::error_span!(
            "stream_record",
            sequence,
            kind = string_attribute(&record.change.new_image, "kind").unwrap_or_default(),
            key = %record_key(record),
        );
        let result = async {
            match record_item(record)? {
                Some(item) => handle(item).await,
                None => Ok(()),
            }
        }
        .instrument(span.clone())
        .await;
        if let Err(error) = result {
            let later = event.records.len() - index - 1;
            span.in_scope(|| {
                tracing::warn!(error = %error_chain(&error), later, "stream record failed; reported as a batch item failure (Lambda retries from it)");
            });
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence.to_owned());
            response.batch_item_failures.push(failure);
            break;
        }
    }
    Ok(response)
}

/// The item's key (`pk/sk`) as the record's `Keys` carry it.
fn record_key(record: &EventRecord) -> String {
    let keys = &record.change.keys;
    format!(
        "{}/{}",
        string_attribute(keys, "pk").unwrap_or_default(),
        string_attribute(keys, "sk").unwrap_or_default()
    )
}

/// An error with its sources, `: `-separated (the log line shows why, not only what).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A stream batch as Lambda delivered it: typed ([`DynamoDbEvent`]) and, beside it, each record's JSON as it came
/// (what the copy of a failed record holds, for `infra/redrive`: docs/decisions/2026-11-30-redrive.md).
#[derive(Clone, Debug, Default)]
pub struct DeliveredBatch {
    pub event: DynamoDbEvent,
    /// `Records`, element for element with `event.records`.
    pub records: Vec<Value>,
}

impl DeliveredBatch {
    /// Types `payload` (`{"Records": [...]}`) and keeps its records' JSON.
    ///
    /// # Errors
    /// When `payload` is not a DynamoDB stream batch.
    pub fn from_value(mut payload: Value) -> Result<Self, serde_json::Error> {
        let event = <DynamoDbEvent as serde::Deserialize>::deserialize(&payload)?;
        let records = match payload.get_mut("Records").map(Value::take) {
            Some(Value::Array(records)) => records,
            _ => Vec::new(),
        };
        Ok(Self { event, records })
    }
}

impl<'de> serde::Deserialize<'de> for DeliveredBatch {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_value(<Value as serde::Deserialize>::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// Keeps a copy of each record `response` reports as failed in `kept`, before Lambda hears of the failure, so
/// `infra/redrive` can replay it after the stream has forgotten it. A copy that cannot be written is logged at
/// ERROR with the record's sequence number and event id and counted ([`Metric::FailedRecordsNotSaved`]); the
/// record is reported as failed all the same.
pub async fn keep_failed(batch: &DeliveredBatch, response: &DynamoDbEventResponse, kept: &dyn FailedRecords) {
    for failure in &response.batch_item_failures {
        let Some(sequence) = failure.item_identifier.as_deref() else {
            continue;
        };
        let found = batch
            .event
            .records
            .iter()
            .zip(&batch.records)
            .find(|(record, _)| record.change.sequence_number.as_deref() == Some(sequence));
        let Some((record, json)) = found else {
            continue;
        };
        let event_id = record.event_id.as_str();
        match kept.keep(sequence, json).await {
            Ok(()) => {
                tracing::info!(sequence, event_id, copy = %kept.location(sequence), "failed record kept for redrive")
            }
            Err(error) => {
                metrics::count(Metric::FailedRecordsNotSaved);
                tracing::error!(
                    sequence,
                    event_id,
                    copy = %kept.location(sequence),
                    error = %error_chain(&error),
                    "could not keep the failed record: once the stream forgets it (24 h) it cannot be redriven"
                );
            }
        }
    }
}

/// [`welcome_batch`] of a batch as delivered, keeping each failed record in `kept` when given ([`keep_failed`]):
/// the `welcome` function's handler.
///
/// # Errors
/// [`InvocationError::NoSequenceNumber`].
pub async fn welcome_delivered(
    app: &App,
    batch: &DeliveredBatch,
    kept: Option<&dyn FailedRecords>,
) -> Result<DynamoDbEventResponse, InvocationError> {
    let response = welcome_batch(app, &batch.event).await?;
    if let Some(kept) = kept {
        keep_failed(batch, &response, kept).await;
    }
    Ok(response)
}

/// The `welcome` function's batch: each team-install and first-contact record's welcome ([`welcome_record`]).
///
/// # Errors
/// [`InvocationError::NoSequenceNumber`].
pub async fn welcome_batch(app: &App, event: &DynamoDbEvent) -> Result<DynamoDbEventResponse, InvocationError> {
    handle_records(event, |item| async move { welcome_record(app, &item).await }).await
}

/// The welcome function's handling of one item, counted ([`Metric::WelcomesFailed`]; a sent welcome counts
/// [`Metric::WelcomesSent`]).
///
/// # Errors
/// [`RecordError::Welcome`] when the welcome could not be sent (retried, then dead-lettered).
pub async fn welcome_record(app: &App, item: &StreamItem) -> Result<(), RecordError> {
    let result = match item {
        StreamItem::TeamInstall(install) => crate::welcome::team(app, install).await.map(|_| ()),
        StreamItem::FirstContact(contact) => crate::welcome::first_contact(app, contact).await.map(|_| ()),
        // The template's filter sends outbox items to the proactive function only.
        StreamItem::Outbox(_) => Ok(()),
    };
    if let Err(error) = &result {
        metrics::count(Metric::WelcomesFailed);
        if matches!(error, WelcomeError::Store(_)) {
            metrics::count(Metric::StoreUnavailable);
        }
    }
    Ok(result?)
}

/// [`welcome_record`] with the error as text (the devserver's stream reader calls it).
///
/// # Errors
/// The [`RecordError`]'s text.
pub async fn welcome_item(app: App, item: StreamItem) -> Result<(), String> {
    welcome_record(&app, &item).await.map_err(|e| error_chain(&e))
}

/// The proactive function's handling of one outbox item: its payload is a notify operation. A notify Teams
/// refused for good is logged, counted and not retried (the item is marked done). An item of topic
/// [`crate::flows::deferred::TOPIC`] is deferred work instead: the bot's `on_deferred` ([`crate::flows::deferred`]).
///
/// # Errors
/// [`RecordError::OutboxState`], or [`RecordError::Outbox`] / [`RecordError::Deferred`] when the operation or the
/// deferred work failed in a way worth retrying.
pub async fn outbox_record(app: &App, item: &StreamItem) -> Result<(), RecordError> {
    let StreamItem::Outbox(outbox) = item else {
        return Ok(());
    };
    // The record is the item as inserted; a replay of the stream (a new event source mapping starts at the
    // trim horizon, 24 h back) would send it again. The item as stored now says whether it was already done.
    match app.store.outbox_item(&outbox.id, store::Timestamp::now()).await {
        Ok(Some(current)) if !current.done => {}
        Ok(_) => {
            tracing::info!(outbox = %outbox.id, "outbox item already done (or gone); not sent again");
            return Ok(());
        }
        Err(source) => {
            metrics::count(Metric::StoreUnavailable);
            return Err(RecordError::OutboxState {
                id: outbox.id.clone(),
                source,
            });
        }
    }
    // Deferred work (`Context::defer`): the bot's `on_deferred`, done unless worth retrying (flows::deferred).
    if outbox.topic == crate::flows::deferred::TOPIC {
        crate::flows::deferred::run(app, outbox).await?;
        if let Err(e) = app.store.mark_outbox_done(&outbox.id, store::Timestamp::now()).await {
            tracing::warn!(outbox = %outbox.id, error = %e, "could not mark the deferred work done; a replay would run it again");
        }
        return Ok(());
    }
    let body = serde_json::to_vec(&outbox.payload).unwrap_or_default();
    match crate::proactive::notify_value(app, &body).await {
        Ok(_) => {}
        Err(source) if source.is_retryable() => {
            return Err(RecordError::Outbox {
                id: outbox.id.clone(),
                source,
            });
        }
        // Refused for good (logged and counted by notify): retrying cannot help.
        Err(_) => {}
    }
    if let Err(e) = app.store.mark_outbox_done(&outbox.id, store::Timestamp::now()).await {
        tracing::warn!(outbox = %outbox.id, error = %e, "could not mark the outbox item done; a replay would find it pending");
    }
    Ok(())
}

/// [`outbox_record`] with the error as text (the devserver's stream reader calls it).
///
/// # Errors
/// The [`RecordError`]'s text.
pub async fn outbox_item(app: App, item: StreamItem) -> Result<(), String> {
    outbox_record(&app, &item).await.map_err(|e| error_chain(&e))
}

/// The schedule's payload, as `infra/template.yaml` sets it (`Poll` event `Input`). EventBridge Scheduler sends no
/// envelope of its own (without an `Input` a Lambda target gets an empty payload), so the template names the work.
pub const TICK_INPUT: &str = r#"{"tick": {}}"#;

/// What the `proactive` function was invoked with.
#[derive(Debug)]
pub enum ProactiveEvent {
    /// A batch of the outbox stream.
    Stream(DeliveredBatch),
    /// The schedule: [`TICK_INPUT`], or an EventBridge rule's `Scheduled Event` (`source` `aws.events`).
    Tick,
    /// A direct notify invoke (docs/contract.md "Proactive operations"), parsed by the notify itself.
    Notify(Value),
}

impl ProactiveEvent {
    /// Which event `payload` is: a `Records` batch, `{"tick": {...}}`, an EventBridge envelope (a `source` or
    /// `detail-type` member), else a notify operation.
    ///
    /// # Errors
    /// [`InvocationError::BadEvent`]: a batch or envelope that does not parse, an EventBridge event other than the
    /// schedule.
    pub fn parse(payload: Value) -> Result<Self, InvocationError> {
        if payload.get("Records").is_some() {
            return DeliveredBatch::from_value(payload)
                .map(Self::Stream)
                .map_err(|source| InvocationError::BadEvent {
                    expected: "a DynamoDB stream batch",
                    source,
                });
        }
        if payload.get("tick").is_some_and(Value::is_object) {
            return Ok(Self::Tick);
        }
        if payload.get("source").is_some() || payload.get("detail-type").is_some() {
            let envelope: EventBridgeEvent =
                serde_json::from_value(payload).map_err(|source| InvocationError::BadEvent {
                    expected: "an EventBridge event",
                    source,
                })?;
            if envelope.source == "aws.events" && envelope.detail_type == "Scheduled Event" {
                return Ok(Self::Tick);
            }
            return Err(InvocationError::BadEvent {
                expected: "the schedule's EventBridge event (`aws.events`, `Scheduled Event`)",
                source: serde::de::Error::custom(format!(
                    "source `{}`, detail-type `{}`",
                    envelope.source, envelope.detail_type
                )),
            });
        }
        Ok(Self::Notify(payload))
    }
}

/// The proactive function's event: an outbox stream batch (its batch item failure report), the schedule (the
/// tick's report `{"sent", "skipped", "failed"}`), or a direct notify invoke (the ids, or `{}`).
///
/// # Errors
/// [`InvocationError`]: the event does not parse, a record has no sequence number, the tick failed
/// ([`TickError`]), the notify failed ([`NotifyError`], refusals included).
pub async fn proactive_event(app: &App, payload: Value) -> Result<Value, InvocationError> {
    proactive_invocation(app, payload, None).await
}

/// [`proactive_event`], keeping each failed outbox record in `kept` when given ([`keep_failed`]): the `proactive`
/// function's handler.
///
/// # Errors
/// As [`proactive_event`].
pub async fn proactive_invocation(
    app: &App,
    payload: Value,
    kept: Option<&dyn FailedRecords>,
) -> Result<Value, InvocationError> {
    match ProactiveEvent::parse(payload)? {
        ProactiveEvent::Stream(batch) => {
            let response = handle_records(&batch.event, |item| async move { outbox_record(app, &item).await }).await?;
            if let Some(kept) = kept {
                keep_failed(&batch, &response, kept).await;
            }
            Ok(json!(response))
        }
        ProactiveEvent::Tick => Ok(json!(crate::proactive::run_tick(app).await?)),
        ProactiveEvent::Notify(operation) => {
            let body = serde_json::to_vec(&operation).unwrap_or_default();
            Ok(crate::proactive::notify_value(app, &body).await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sequence: Option<&str>, event_name: &str, image: Value) -> Value {
        let mut dynamodb = json!({
            "Keys": {"pk": {"S": "TEAM#19:t"}, "sk": {"S": "INSTALL"}},
            "NewImage": image, "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES"
        });
        if let Some(sequence) = sequence {
            dynamodb["SequenceNumber"] = json!(sequence);
        }
        json!({"eventID": "e1", "eventName": event_name, "awsRegion": "us-east-1", "dynamodb": dynamodb})
    }

    fn event_record(value: Value) -> EventRecord {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_schedule_is_recognised_and_nothing_else() {
        let tick = |v: Value| matches!(ProactiveEvent::parse(v), Ok(ProactiveEvent::Tick));
        assert!(tick(serde_json::from_str(TICK_INPUT).unwrap()));
        let rule = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
                          "time": "2026-11-30T12:00:00Z", "detail": {}});
        assert!(tick(rule));
        // Another EventBridge event, or an envelope without its required members, is an error, not a notify.
        let other = json!({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "detail": {}});
        assert!(matches!(
            ProactiveEvent::parse(other),
            Err(InvocationError::BadEvent { .. })
        ));
        assert!(matches!(
            ProactiveEvent::parse(json!({"source": "aws.events"})),
            Err(InvocationError::BadEvent { .. })
        ));
        // What Scheduler sends without an Input, and notify operations, are notifies (which refuse `{}`).
        assert!(matches!(
            ProactiveEvent::parse(json!({})),
            Ok(ProactiveEvent::Notify(_))
        ));
        assert!(matches!(
            ProactiveEvent::parse(json!({"tick": "now"})),
            Ok(ProactiveEvent::Notify(_))
        ));
        let send = json!({"to": {"conversation": {"id": "a:1"}}, "message": {"text": "hi"}});
        assert!(matches!(ProactiveEvent::parse(send), Ok(ProactiveEvent::Notify(_))));
        assert!(matches!(
            ProactiveEvent::parse(json!({"Records": [{"eventName": "INSERT"}]})),
            Err(InvocationError::BadEvent { .. })
        ));
    }

    #[test]
    fn only_inserts_of_known_kinds_are_items() {
        let install = json!({"kind": {"S": "team-install"}});
        let modify = event_record(record(Some("1"), "MODIFY", install.clone()));
        assert!(matches!(record_item(&modify), Ok(None)));
        let other = event_record(record(Some("1"), "INSERT", json!({"kind": {"S": "seen"}})));
        assert!(matches!(record_item(&other), Ok(None)));
        let broken = event_record(record(Some("1"), "INSERT", install));
        assert!(matches!(record_item(&broken), Err(RecordError::Image { .. })));
        // Binary has no JSON form: the record fails (it used to become `null` and decode by luck).
        let binary = event_record(record(
            Some("1"),
            "INSERT",
            json!({"kind": {"S": "team-install"}, "teamId": {"B": "AQI="}}),
        ));
        assert!(matches!(
            record_item(&binary),
            Err(RecordError::Image {
                source: ImageError::Convert(_),
                ..
            })
        ));
    }

    #[tokio::test]
    async fn a_record_without_a_sequence_number_fails_the_whole_batch() {
        let event: DynamoDbEvent = serde_json::from_value(json!({"Records": [
            record(Some("100"), "MODIFY", json!({})),
            record(None, "MODIFY", json!({})),
        ]}))
        .unwrap();
        let handled = std::sync::atomic::AtomicUsize::new(0);
        let answer = handle_records(&event, |_| {
            handled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Ok(()) }
        })
        .await;
        assert!(
            matches!(answer, Err(InvocationError::NoSequenceNumber { .. })),
            "{answer:?}"
        );
        let error = answer.unwrap_err();
        assert_eq!(error.error_type(), "Permanent.NoSequenceNumber");
        assert_eq!(
            handled.into_inner(),
            0,
            "nothing is handled before the batch is refused"
        );
    }

    #[tokio::test]
    async fn a_failed_record_is_kept_as_delivered_and_a_failed_copy_is_counted() {
        use crate::adapters::failed_records::MemoryFailedRecords;
        let delivered = json!({"Records": [
            record(Some("100"), "MODIFY", json!({})),
            record(Some("200"), "MODIFY", json!({"kind": {"S": "team-install"}, "extra": {"N": "1.50"}})),
        ]});
        let batch: DeliveredBatch = serde_json::from_value(delivered.clone()).unwrap();
        assert_eq!(batch.records.len(), batch.event.records.len());
        let mut response = DynamoDbEventResponse::default();
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some("200".to_owned());
        response.batch_item_failures.push(failure);

        let kept = MemoryFailedRecords::new("welcome/");
        let ((), counts) = metrics::measure(keep_failed(&batch, &response, &kept)).await;
        let records = kept.records();
        assert_eq!(records.keys().collect::<Vec<_>>(), ["welcome/200.json"]);
        assert_eq!(
            records["welcome/200.json"], delivered["Records"][1],
            "the record as delivered"
        );
        assert_eq!(counts.get(Metric::FailedRecordsNotSaved), 0);

        kept.set_failing(true);
        let ((), counts) = metrics::measure(keep_failed(&batch, &response, &kept)).await;
        assert_eq!(counts.get(Metric::FailedRecordsNotSaved), 1);
        assert!(
            DeliveredBatch::from_value(json!({"Records": [{"eventName": "INSERT"}]})).is_err(),
            "not a stream record"
        );
    }

    #[tokio::test]
    async fn the_first_failing_record_is_reported_by_its_sequence_number() {
        let install = |team: &str| {
            json!({"kind": {"S": "team-install"}, "teamId": {"S": team}, "tenantId": {"S": "t"},
                   "serviceUrl": {"S": "https://smba.trafficmanager.net/teams/"}, "conversationId": {"S": team},
                   "bot": {"M": {"id": {"S": "28:b"}}}, "claimedAt": {"N": "1"}})
        };
        let event: DynamoDbEvent = serde_json::from_value(json!({"Records": [
            record(Some("100"), "INSERT", install("19:a")),
            record(Some("200"), "INSERT", install("19:fails")),
            record(Some("300"), "INSERT", install("19:c")),
        ]}))
        .unwrap();
        let seen = std::sync::Mutex::new(Vec::new());
        let answer = handle_records(&event, |item| {
            let StreamItem::TeamInstall(install) = item else {
                panic!("not an install: {item:?}")
            };
            seen.lock().unwrap().push(install.team_id.clone());
            async move {
                if install.team_id == "19:fails" {
                    Err(RecordError::Welcome(WelcomeError::Pending("k".into())))
                } else {
                    Ok(())
                }
            }
        })
        .await
        .unwrap();
        let ids: Vec<_> = answer
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        assert_eq!(ids, [Some("200".to_owned())]);
        assert_eq!(
            *seen.lock().unwrap(),
            ["19:a", "19:fails"],
            "records after the failure wait"
        );
        assert_eq!(
            serde_json::to_value(&answer).unwrap(),
            json!({"batchItemFailures": [{"itemIdentifier": "200"}]})
        );
    }
}

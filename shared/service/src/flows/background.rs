//! The devserver's stand-in for the stream functions' event source mappings: the table's stream work (welcomes
//! from team-install and first-contact claims, notify operations from outbox items) run in-process by the same
//! handlers the `welcome` and `proactive` Lambdas run ([`crate::stream::welcome_item`],
//! [`crate::stream::outbox_item`]).
//!
//! - On the embedded store, its change events ([`run_change_feed`]): at start first the items committed before it
//!   (the last [`MAX_RECORD_AGE_SECS`], `store::EmbeddedStore::subscribe_changes_since`, as [`App::build`]
//!   subscribes), so a claim acknowledged just before a crash is not lost with the in-memory event, then each new
//!   insert.
//! - On DynamoDB, the table's stream read through the DynamoDB Streams API
//!   ([`crate::adapters::dynamo_stream::StreamReader`], [`run_table_stream`]) from its trim horizon.
//!
//! Either way a record is retried as the mapping retries it (5 times, with backoff), then given up with an error
//! line naming it (the mapping's on-failure destination). Redelivery is safe: each welcome is sent under an
//! idempotency key, and an outbox item is sent only while not done (docs/decisions `2026-11-21-exactly-once.md`).

#[cfg(feature = "local")]
use crate::adapters::dynamo_stream::{SdkStreamSource, StreamEvent, StreamReader, streams_endpoint_from};
use crate::app::App;
#[cfg(feature = "local")]
use crate::config::{Config, StateChoice};
use std::time::{Duration, Instant};
#[cfg(feature = "local")]
use store::Timestamp;
use store::{ChangeEvent, StreamItem};
use tokio::sync::mpsc::UnboundedReceiver;
#[cfg(feature = "local")]
use tokio::task::JoinHandle;

/// Retries of a failed record (the template's mappings: `MaximumRetryAttempts: 5`).
const RETRIES: u32 = 5;
/// The wait before the first retry; it doubles for each next one (1, 2, 4, 8, 16 s).
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// The oldest record the mappings act on (`MaximumRecordAgeInSeconds: 21600` in `infra/template.yaml`): older
/// stream records are skipped, and the embedded store replays claims this recent at start. Well inside the 7 days
/// a done idempotency key is kept, so a replayed claim whose welcome was sent is always recognised as done.
pub const MAX_RECORD_AGE_SECS: u64 = 21_600;

/// Starts the stream work for the store `config` names, in the background: `changes` (from [`App::build`]) on
/// the embedded store, the table's stream on DynamoDB. Answers the task (it runs until the process ends), or
/// `None` on an embedded store without `changes`.
#[cfg(feature = "local")]
pub async fn start(
    app: &App,
    config: &Config,
    changes: Option<UnboundedReceiver<ChangeEvent>>,
) -> Option<JoinHandle<()>> {
    match &config.state {
        StateChoice::DynamoDb { table } => {
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let endpoint = streams_endpoint_from(|name| std::env::var(name).ok());
            let reader = StreamReader::new(SdkStreamSource::new(&sdk, table.clone(), endpoint));
            Some(tokio::spawn(run_table_stream(app.clone(), reader)))
        }
        StateChoice::Embedded { .. } => changes.map(|changes| tokio::spawn(run_change_feed(app.clone(), changes))),
    }
}

/// Handles the store's change events until the store is dropped, each in its own task (retried with backoff).
pub async fn run_change_feed(app: App, mut changes: UnboundedReceiver<ChangeEvent>) {
    while let Some(event) = changes.recv().await {
        let item = match event.stream_item() {
            Ok(Some(item)) => item,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "undecodable change event");
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let record = item_id(&item);
            handle(&app, &item, &record).await;
        });
    }
}

/// Reads the table's stream with `reader` forever, handling each record (in shard order) as the `welcome` or
/// `proactive` function would.
#[cfg(feature = "local")]
pub async fn run_table_stream<S>(app: App, reader: StreamReader<S>)
where
    S: crate::adapters::dynamo_stream::StreamSource,
{
    reader.run(|event| handle_record(&app, event)).await;
}

/// One record of the table's stream: skipped when older than the mappings act on, or when its image cannot be
/// read (the mapping would fail it and send it to the on-failure destination); handled otherwise.
#[cfg(feature = "local")]
async fn handle_record(app: &App, event: StreamEvent) {
    let record = format!("{}/{}", event.shard, event.sequence);
    let item = match event.change.as_ref().map(ChangeEvent::stream_item) {
        Ok(Ok(Some(item))) => item,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            tracing::error!(record, error = %e, "stream record's image does not decode; skipped");
            return;
        }
        Err(e) => {
            tracing::error!(record, error = %e, "stream record's image cannot be read; skipped");
            return;
        }
    };
    let now = Timestamp::now();
    if let Some(created) = event.created
        && created.plus_secs(MAX_RECORD_AGE_SECS) < now
    {
        tracing::warn!(
            record,
            item = %item_id(&item),
            age_secs = now.0 - created.0,
            "stream record older than the mappings' MaximumRecordAgeInSeconds; skipped as they skip it"
        );
        return;
    }
    handle(app, &item, &record).await;
}

/// `item` handled by its function's handler, retried as its mapping retries it. Answers whether it succeeded.
async fn handle(app: &App, item: &StreamItem, record: &str) -> bool {
    let started = Instant::now();
    let mut delay = FIRST_RETRY;
    for attempt in 1..=RETRIES + 1 {
        let result = match item {
            StreamItem::TeamInstall(_) | StreamItem::FirstContact(_) => {
                crate::stream::welcome_item(app.clone(), item.clone()).await
            }
            StreamItem::Outbox(_) => crate::stream::outbox_item(app.clone(), item.clone()).await,
        };
        match result {
            Ok(()) => {
                tracing::info!(
                    record,
                    item = %item_id(item),
                    attempt,
                    elapsed_ms = started.elapsed().as_millis(),
                    "stream record handled"
                );
                return true;
            }
            Err(e) if attempt > RETRIES => {
                tracing::error!(
                    record,
                    item = %item_id(item),
                    error = %e,
                    attempts = attempt,
                    "stream record failed; given up (the mapping's on-failure destination)"
                );
            }
            Err(e) => {
                tracing::warn!(
                    record,
                    item = %item_id(item),
                    error = %e,
                    attempt,
                    retry_in_ms = delay.as_millis(),
                    "stream record failed; retrying"
                );
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
        }
    }
    false
}

/// The ids an operator searches a stream item by.
fn item_id(item: &StreamItem) -> String {
    match item {
        StreamItem::TeamInstall(install) => format!("team-install {}", install.team_id),
        StreamItem::FirstContact(contact) => format!("first-contact {} {}", contact.tenant_id, contact.user.id),
        StreamItem::Outbox(outbox) => format!("outbox {}", outbox.id),
    }
}

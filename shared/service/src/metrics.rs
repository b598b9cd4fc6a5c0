//! Counters for operators, printed as CloudWatch Embedded Metric Format (EMF) lines on stdout: CloudWatch Logs
//! turns each line into metric data points, with no API call and no extra permission (docs/decisions
//! `2026-11-30-operations.md`).
//!
//! The runtime counts with [`count`]. In Lambda each invocation runs inside [`measure`], which collects that
//! invocation's counts; the entry point prints them as one line when the invocation ends ([`Emitter::emit`]).
//! Counts made outside any invocation (cold start, the devserver's requests and background work) go to a
//! process-wide set that [`take_global`] drains: in Lambda with the next invocation's line, in the devserver
//! every minute when `BOT_METRICS=emf` ([`start_periodic`]).
//!
//! One line, with only the metrics that moved:
//! ```json
//! {"_aws":{"Timestamp":1764460800000,"CloudWatchMetrics":[{"Namespace":"TeamsBot","Dimensions":[["Function"]],
//!  "Metrics":[{"Name":"MessagesReceived","Unit":"Count"},{"Name":"RepliesSent","Unit":"Count"}]}]},
//!  "Function":"teams-bot-messages","MessagesReceived":1,"RepliesSent":1}
//! ```

use serde_json::{Map, Value, json};
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "TeamsBot";
/// The one dimension: which function (`AWS_LAMBDA_FUNCTION_NAME`) or `devserver` counted.
pub const DIMENSION: &str = "Function";
/// The `Function` dimension's value outside Lambda.
pub const DEVSERVER_FUNCTION: &str = "devserver";
/// How often the devserver prints its counts when `BOT_METRICS=emf` (CloudWatch's standard resolution).
pub const DEVSERVER_INTERVAL: Duration = Duration::from_secs(60);

/// What is counted. Each is a CloudWatch metric of unit `Count` named as [`Metric::name`] says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// An activity the webhook accepted and handed to the bot (authenticated, parsed, first seen).
    MessagesReceived,
    /// A message the bot sent, updated or deleted while handling an activity (a reply, a `send`, an update...).
    RepliesSent,
    /// Such a Connector call that failed (the webhook still answers 200: Teams must not redeliver).
    RepliesFailed,
    /// A welcome message sent (team or personal).
    WelcomesSent,
    /// A welcome that could not be sent (its stream record is reported as a batch item failure and retried).
    WelcomesFailed,
    /// A proactive message sent, updated or deleted: a notify operation's Connector call, or a scheduled job's.
    ProactiveSent,
    /// A proactive operation that did not complete and may later: Teams throttling or 5xx after the retries,
    /// no outbound token, the store, an unknown outcome (504), a key in progress (409), a job that failed so.
    ProactiveFailed,
    /// A proactive operation refused for good, not worth retrying: the bot was removed (403), the conversation is
    /// gone (404) or inactive (410), the request is invalid (400), another 4xx from Teams.
    ProactiveRefused,
    /// A Connector answer 429 (Too Many Requests), per attempt.
    ConnectorThrottled,
    /// A Connector retry (after a 412, 429, 502, 504 or a failure to connect).
    ConnectorRetries,
    /// No outbound token could be had (an expired or wrong client secret, the token endpoint down).
    OutboundTokenFailed,
    /// An inbound request refused for its Bot Framework token (401, 403) or for want of signing keys (503).
    InboundTokenRefused,
    /// The state store could not be read or written (a 503 to Teams, a failed tick, notify or welcome).
    StoreUnavailable,
    /// A stream record reported as failed whose copy could not be written to the failed-records bucket
    /// (`FAILED_RECORDS_BUCKET`): `infra/redrive` cannot replay it once the stream forgets it (24 h).
    FailedRecordsNotSaved,
}

impl Metric {
    /// Every metric, in the order lines list them.
    pub const ALL: [Self; 14] = [
        Self::MessagesReceived,
        Self::RepliesSent,
        Self::RepliesFailed,
        Self::WelcomesSent,
        Self::WelcomesFailed,
        Self::ProactiveSent,
        Self::ProactiveFailed,
        Self::ProactiveRefused,
        Self::ConnectorThrottled,
        Self::ConnectorRetries,
        Self::OutboundTokenFailed,
        Self::InboundTokenRefused,
        Self::StoreUnavailable,
        Self::FailedRecordsNotSaved,
    ];

    /// The CloudWatch metric name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::MessagesReceived => "MessagesReceived",
            Self::RepliesSent => "RepliesSent",
            Self::RepliesFailed => "RepliesFailed",
            Self::WelcomesSent => "WelcomesSent",
            Self::WelcomesFailed => "WelcomesFailed",
            Self::ProactiveSent => "ProactiveSent",
            Self::ProactiveFailed => "ProactiveFailed",
            Self::ProactiveRefused => "ProactiveRefused",
            Self::ConnectorThrottled => "ConnectorThrottled",
            Self::ConnectorRetries => "ConnectorRetries",
            Self::OutboundTokenFailed => "OutboundTokenFailed",
            Self::InboundTokenRefused => "InboundTokenRefused",
            Self::StoreUnavailable => "StoreUnavailable",
            Self::FailedRecordsNotSaved => "FailedRecordsNotSaved",
        }
    }

    /// Its slot in a [`Counters`]: the declaration order, which [`Self::ALL`] follows.
    const fn index(self) -> usize {
        self as usize
    }
}

/// A set of counters, safe to share between tasks.
#[derive(Debug, Default)]
pub struct Counters {
    counts: [AtomicU64; Metric::ALL.len()],
}

impl Counters {
    /// Adds `n` to `metric`.
    pub fn add(&self, metric: Metric, n: u64) {
        self.counts[metric.index()].fetch_add(n, Ordering::Relaxed);
    }

    /// The counts so far, each set back to zero.
    #[must_use]
    pub fn take(&self) -> Counts {
        let mut counts = Counts::default();
        for metric in Metric::ALL {
            counts.0[metric.index()] = self.counts[metric.index()].swap(0, Ordering::Relaxed);
        }
        counts
    }
}

/// Counts at one moment (what one invocation, or one minute, counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts([u64; Metric::ALL.len()]);

impl Counts {
    /// The count of `metric`.
    #[must_use]
    pub fn get(&self, metric: Metric) -> u64 {
        self.0[metric.index()]
    }

    /// Whether nothing was counted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|n| *n == 0)
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine = mine.saturating_add(theirs);
        }
    }

    /// The EMF document for these counts, dimension `Function` = `function`, at `timestamp_ms` (milliseconds since
    /// the epoch); `None` when nothing was counted (no line is printed then). Only the metrics that moved are
    /// declared, so a line stays short (about 270 bytes for a message and its reply, 1 020 with all 14).
    #[must_use]
    pub fn emf(&self, function: &str, timestamp_ms: u64) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let moved: Vec<Metric> = Metric::ALL.into_iter().filter(|m| self.get(*m) > 0).collect();
        let definitions: Vec<Value> = moved
            .iter()
            .map(|m| json!({"Name": m.name(), "Unit": "Count"}))
            .collect();
        let mut document = Map::new();
        document.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": definitions,
                }],
            }),
        );
        document.insert(DIMENSION.to_owned(), Value::from(function));
        for metric in moved {
            document.insert(metric.name().to_owned(), Value::from(self.get(metric)));
        }
        Some(Value::Object(document).to_string())
    }
}

tokio::task_local! {
    /// The counters of the invocation running in this task ([`measure`]).
    static SCOPE: Arc<Counters>;
}

/// Counts outside any [`measure`] scope.
static GLOBAL: Counters = Counters {
    counts: [const { AtomicU64::new(0) }; Metric::ALL.len()],
};

/// Adds one to `metric`: to the invocation running in this task, else to the process-wide counters.
pub fn count(metric: Metric) {
    add(metric, 1);
}

/// Adds `n` to `metric` (see [`count`]).
pub fn add(metric: Metric, n: u64) {
    if SCOPE.try_with(|counters| counters.add(metric, n)).is_err() {
        GLOBAL.add(metric, n);
    }
}

/// Runs `work` with its own counters (what it, and what it awaits in the same task, counts); answers its
/// output and what it counted. Work it spawns onto other tasks counts to the process-wide counters.
pub async fn measure<F: Future>(work: F) -> (F::Output, Counts) {
    let counters = Arc::new(Counters::default());
    let output = SCOPE.scope(Arc::clone(&counters), work).await;
    (output, counters.take())
}

/// The process-wide counts so far, set back to zero.
#[must_use]
pub fn take_global() -> Counts {
    GLOBAL.take()
}

/// Whether metrics are printed (`BOT_METRICS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricsMode {
    /// Nothing is printed (the devserver's default).
    Off,
    /// EMF lines on stdout (the Lambdas' default).
    Emf,
}

/// Where and how metrics are printed; part of [`crate::Config`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `BOT_METRICS`: `emf` or `off`.
    pub mode: MetricsMode,
    /// The `Function` dimension: `AWS_LAMBDA_FUNCTION_NAME`, else [`DEVSERVER_FUNCTION`].
    pub function: String,
    /// How often the process-wide counts are printed ([`start_periodic`]): the devserver's [`DEVSERVER_INTERVAL`];
    /// `None` in Lambda, where the entry points print per invocation.
    pub interval: Option<Duration>,
}

/// Prints counts as EMF lines, or nothing when metrics are off.
#[derive(Clone, Debug)]
pub struct Emitter {
    mode: MetricsMode,
    function: String,
}

impl Emitter {
    /// The emitter `config` describes.
    #[must_use]
    pub fn new(config: &MetricsConfig) -> Self {
        Self {
            mode: config.mode,
            function: config.function.clone(),
        }
    }

    /// The line [`Emitter::emit`] would print for `counts` now (`None`: off, or nothing counted).
    #[must_use]
    pub fn line(&self, counts: &Counts) -> Option<String> {
        match self.mode {
            MetricsMode::Off => None,
            MetricsMode::Emf => counts.emf(&self.function, now_ms()),
        }
    }

    /// Prints `counts` as one EMF line on stdout, in one write (so it never interleaves with a log line).
    pub fn emit(&self, counts: &Counts) {
        if let Some(mut line) = self.line(counts) {
            line.push('\n');
            // A closed stdout cannot be reported anywhere better.
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Starts printing the process-wide counts every `config.interval` (the devserver with `BOT_METRICS=emf`), once
/// per process; does nothing when metrics are off or have no interval. Counts of the last, partial interval are
/// lost when the process stops.
pub fn start_periodic(config: &MetricsConfig) {
    static STARTED: std::sync::Once = std::sync::Once::new();
    let Some(every) = config.interval.filter(|_| config.mode == MetricsMode::Emf) else {
        return;
    };
    let emitter = Emitter::new(config);
    STARTED.call_once(|| {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                emitter.emit(&take_global());
            }
        });
    });
}

/// The Connector client's reports ([`connector::CallObserver`]) as metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConnectorMetrics;

impl connector::CallObserver for ConnectorMetrics {
    fn throttled(&self) {
        count(Metric::ConnectorThrottled);
    }

    fn retrying(&self) {
        count(Metric::ConnectorRetries);
    }

    fn token_failed(&self) {
        count(Metric::OutboundTokenFailed);
    }
}

/// A proactive operation's failure as a metric: [`Metric::ProactiveFailed`] when retrying later may succeed (a
/// 409, 429 or 5xx status), [`Metric::ProactiveRefused`] otherwise.
#[must_use]
pub fn proactive_failure(status: u16) -> Metric {
    if status == 409 || status == 429 || status >= 500 {
        Metric::ProactiveFailed
    } else {
        Metric::ProactiveRefused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_invocation_counts_apart_from_the_process() {
        let ((), counts) = measure(async {
            count(Metric::MessagesReceived);
            add(Metric::RepliesSent, 2);
        })
        .await;
        assert_eq!(counts.get(Metric::MessagesReceived), 1);
        assert_eq!(counts.get(Metric::RepliesSent), 2);
        assert_eq!(counts.get(Metric::StoreUnavailable), 0);
        // Nothing of it reached the process-wide counters (other tests may count there at the same time).
        count(Metric::StoreUnavailable);
        assert!(take_global().get(Metric::StoreUnavailable) >= 1);
    }

    #[test]
    fn a_line_is_an_emf_document_with_the_moved_metrics_only() {
        let counters = Counters::default();
        counters.add(Metric::ProactiveRefused, 1);
        counters.add(Metric::ConnectorThrottled, 3);
        let counts = counters.take();
        assert!(counters.take().is_empty(), "taking resets");
        let line = counts.emf("teams-bot-proactive", 1_764_460_800_000).unwrap();
        let doc: Value = serde_json::from_str(&line).unwrap();
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(doc["_aws"]["Timestamp"], 1_764_460_800_000_u64);
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "ProactiveRefused", "Unit": "Count"}, {"Name": "ConnectorThrottled", "Unit": "Count"}])
        );
        assert_eq!(doc["Function"], "teams-bot-proactive");
        assert_eq!(doc["ProactiveRefused"], 1);
        assert_eq!(doc["ConnectorThrottled"], 3);
        assert_eq!(doc.as_object().unwrap().len(), 4, "{line}");
        assert!(!line.contains('\n'));
        assert_eq!(Counts::default().emf("f", 0), None, "nothing counted, no line");
    }

    #[test]
    fn every_metric_has_its_own_slot_and_name() {
        let counters = Counters::default();
        for (n, metric) in Metric::ALL.into_iter().enumerate() {
            counters.add(metric, n as u64 + 1);
        }
        let counts = counters.take();
        let names: std::collections::BTreeSet<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), Metric::ALL.len());
        for (n, metric) in Metric::ALL.into_iter().enumerate() {
            assert_eq!(counts.get(metric), n as u64 + 1, "{metric:?}");
        }
        let line = counts.emf("f", 0).unwrap();
        println!("all {} metrics: {} bytes", Metric::ALL.len(), line.len());
    }

    #[test]
    fn off_prints_nothing() {
        let config = MetricsConfig {
            mode: MetricsMode::Off,
            function: "f".into(),
            interval: None,
        };
        let counters = Counters::default();
        counters.add(Metric::RepliesSent, 1);
        assert_eq!(Emitter::new(&config).line(&counters.take()), None);
    }
}

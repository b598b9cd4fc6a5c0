#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! What operators see, in process (issue #17; the same under the real Lambda runtime API is
//! `tests/e2e/tests/lambda_operations.rs`): failures answered to Lambda as typed errors and batch item failures,
//! the metrics each unit of work counts and their EMF lines (the log lines: `operations_logs.rs`).

mod operations_support;
use operations_support::*;

use connector::{ConnectorCall, ConnectorError, RecordingConnector};
use serde_json::{Value, json};
use service::App;
use service::metrics::{self, Emitter, Metric, MetricsConfig, MetricsMode};
use service::stream::{DynamoDbEvent, InvocationError};

const BRAVO: &str = "19:team-bravo@thread.tacv2";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/lambda/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn sends_to(connector: &RecordingConnector, conversation: &str) -> usize {
    connector
        .calls()
        .iter()
        .filter(|c| matches!(c, ConnectorCall::Send { conversation: c, .. } if c.as_str() == conversation))
        .count()
}

#[tokio::test]
async fn a_stream_batch_with_one_failing_record_names_exactly_its_sequence_number() {
    let (app, connector) = harness();
    connector.fail_when(|call| match call {
        ConnectorCall::Send { conversation, .. } if conversation.as_str() == BRAVO => Some(transient()),
        _ => None,
    });
    let event: DynamoDbEvent = serde_json::from_value(fixture("welcome_batch_three_installs.json")).unwrap();
    let (answer, counts) = metrics::measure(service::stream::welcome_batch(&app, &event)).await;
    let answer = serde_json::to_value(answer.unwrap()).unwrap();
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "111100000000000000002"}]})
    );
    assert_eq!(sends_to(&connector, "19:team-alpha@thread.tacv2"), 1);
    assert_eq!(sends_to(&connector, BRAVO), 1, "tried once, refused");
    assert_eq!(
        sends_to(&connector, "19:team-charlie@thread.tacv2"),
        0,
        "after the failed record: left for Lambda's retry"
    );
    assert_eq!(counts.get(Metric::WelcomesSent), 1);
    assert_eq!(counts.get(Metric::WelcomesFailed), 1);

    // Lambda retries from the failed record on: each team is then welcomed once.
    connector.stop_failing();
    let mut retry = fixture("welcome_batch_three_installs.json");
    retry["Records"].as_array_mut().unwrap().remove(0);
    let retry: DynamoDbEvent = serde_json::from_value(retry).unwrap();
    let answer = service::stream::welcome_batch(&app, &retry).await.unwrap();
    assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    for team in ["19:team-alpha@thread.tacv2", "19:team-charlie@thread.tacv2"] {
        assert_eq!(sends_to(&connector, team), 1, "{team}");
    }
    assert_eq!(sends_to(&connector, BRAVO), 2, "the refused send, then the retry's");
}

#[tokio::test]
async fn a_record_without_a_sequence_number_fails_the_batch_before_anything_is_sent() {
    let (app, connector) = harness();
    let mut batch = fixture("welcome_batch_three_installs.json");
    batch["Records"][1]["dynamodb"]
        .as_object_mut()
        .unwrap()
        .remove("SequenceNumber");
    let event: DynamoDbEvent = serde_json::from_value(batch).unwrap();
    let error = service::stream::welcome_batch(&app, &event).await.unwrap_err();
    assert!(matches!(error, InvocationError::NoSequenceNumber { .. }), "{error:?}");
    assert_eq!(error.error_type(), "Permanent.NoSequenceNumber");
    assert!(connector.calls().is_empty(), "{:?}", connector.calls());
}

#[tokio::test]
async fn a_notify_to_a_removed_bot_is_a_counted_permanent_error_and_the_devserver_answer_is_unchanged() {
    let (app, connector) = harness();
    assert_eq!(deliver(&app, &message("m1", "hello")).await, 200);
    connector.fail_next(ConnectorError::NotInRoster {
        message: "The bot is not part of the conversation roster.".into(),
    });
    let send = json!({"to": {"conversation": {"id": MEGAN}}, "message": {"text": "maintenance at 6"}});

    // The proactive function's direct invoke: an error Lambda sees, typed and with the contract's body.
    let (answer, counts) = metrics::measure(service::stream::proactive_event(&app, send.clone())).await;
    let error = answer.unwrap_err();
    assert_eq!(error.error_type(), "Permanent.BotRemoved");
    assert!(!error.is_retryable());
    let body = error.body();
    assert_eq!(body["status"], 403, "{body}");
    assert_eq!(body["error"]["code"], "BotRemoved", "{body}");
    assert_eq!(body["retryable"], false, "{body}");
    assert_eq!(counts.get(Metric::ProactiveRefused), 1);
    assert_eq!(counts.get(Metric::ProactiveFailed), 0);
    assert_eq!(counts.get(Metric::ProactiveSent), 0);

    // The conversation is now inactive: the devserver's /api/notify answers 410 with exactly the contract's body.
    let (status, body) = service::proactive::notify_json(&app, &serde_json::to_vec(&send).unwrap()).await;
    assert_eq!(status, 410);
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["error"],
        "{body}"
    );
    assert_eq!(body["error"]["code"], "ConversationInactive");

    // A notify that may pass (Teams 502 after the retries) is retryable, and counted as failed, not refused.
    let (_, fresh) = {
        let (app, connector) = harness();
        assert_eq!(deliver(&app, &message("m2", "hello")).await, 200);
        connector.fail_next(transient());
        metrics::measure(async move { service::stream::proactive_event(&app, send).await.unwrap_err() }).await
    };
    assert_eq!(fresh.get(Metric::ProactiveFailed), 1);
    assert_eq!(fresh.get(Metric::ProactiveRefused), 0);
}

async fn subscribe(app: &App) {
    assert_eq!(deliver(app, &message("s1", "subscribe")).await, 200);
}

#[tokio::test]
async fn a_tick_whose_sends_fail_is_a_retryable_error() {
    let (app, connector) = harness();
    subscribe(&app).await;
    connector.fail_when(|call| match call {
        ConnectorCall::Send { activity, .. } if activity.as_message().is_some_and(|m| m.attachments.is_some()) => {
            Some(transient())
        }
        _ => None,
    });
    let tick: Value = serde_json::from_str(service::stream::TICK_INPUT).unwrap();
    let (answer, counts) = metrics::measure(service::stream::proactive_event(&app, tick.clone())).await;
    let error = answer.unwrap_err();
    assert_eq!(error.error_type(), "Retryable.JobsFailed");
    assert_eq!(error.body()["report"], json!({"sent": 0, "skipped": 0, "failed": 1}));
    assert_eq!(counts.get(Metric::ProactiveFailed), 1);

    // The slot was claimed (at most once per slot): the retried tick has nothing due and succeeds.
    connector.stop_failing();
    let again = service::stream::proactive_event(&app, tick).await.unwrap();
    assert_eq!(again, json!({"sent": 0, "skipped": 0, "failed": 0}));
}

#[tokio::test]
async fn a_job_the_bot_was_removed_from_fails_the_tick_not() {
    let (app, connector) = harness();
    subscribe(&app).await;
    connector.fail_next(ConnectorError::NotInRoster { message: "gone".into() });
    let (report, counts) = metrics::measure(service::proactive::run_tick(&app)).await;
    let report = report.unwrap();
    assert_eq!((report.sent, report.failed, report.retryable), (0, 1, 0));
    assert_eq!(counts.get(Metric::ProactiveRefused), 1);
}

#[tokio::test]
async fn a_turn_counts_the_message_and_its_reply_or_the_reply_failure() {
    let (app, connector) = harness();
    let (status, counts) = metrics::measure(deliver(&app, &message("m1", "hello"))).await;
    assert_eq!(status, 200);
    assert_eq!(counts.get(Metric::MessagesReceived), 1);
    assert_eq!(counts.get(Metric::RepliesSent), 1);
    assert_eq!(counts.get(Metric::RepliesFailed), 0);

    connector.fail_next(transient());
    let (status, counts) = metrics::measure(deliver(&app, &message("m2", "hello again"))).await;
    assert_eq!(status, 200, "Teams must not redeliver for our failed reply");
    assert_eq!(counts.get(Metric::RepliesFailed), 1);
    assert_eq!(counts.get(Metric::RepliesSent), 0);

    // A redelivery is no new message.
    let (_, counts) = metrics::measure(deliver(&app, &message("m2", "hello again"))).await;
    assert_eq!(counts.get(Metric::MessagesReceived), 0);

    // The invocation's counts as the one EMF line the messages function prints.
    let (_, counts) = metrics::measure(deliver(&app, &message("m3", "third"))).await;
    let emitter = Emitter::new(&MetricsConfig {
        mode: MetricsMode::Emf,
        function: "teams-bot-messages".into(),
        interval: None,
    });
    let line = emitter.line(&counts).unwrap();
    let doc: Value = serde_json::from_str(&line).unwrap();
    let names: Vec<&str> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["MessagesReceived", "RepliesSent"]);
    assert_eq!(doc["MessagesReceived"], 1);
    assert_eq!(doc["RepliesSent"], 1);
    assert_eq!(doc["Function"], "teams-bot-messages");
    println!("EMF line for a message and its reply: {} bytes", line.len());
}

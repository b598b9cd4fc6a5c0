//! Long work under the real Lambda runtime API (issue #18, "Long work"; docs/decisions/2026-11-30-long-work.md):
//! the `messages` and `proactive` binaries each under `cargo lambda watch`, state in a fresh moto DynamoDB table
//! (its stream read back through moto's Streams API), Microsoft's side the fake Teams service.
//!
//! - `slow 0` whose answer Teams refuses (502 until the client gives up): the record is reported as a batch item
//!   failure; the mapping's retry of it posts the answer once.
//! - `slow 1` to the `messages` function: 200, with the acknowledgement already posted as the reply; the deferred
//!   work is an `outbox` item (topic `deferred`) in the table.
//! - The `messages` function is then stopped (its container gone right after it answered); the item's stream
//!   record, delivered to the `proactive` function as the template's mapping delivers it, posts the answer in
//!   the same 1:1 chat. Delivering the same record again posts nothing more (the item is done).
//!
//! Needs `AWS_ENDPOINT_URL_DYNAMODB` (moto) and `cargo-lambda`; prints `skipped: ...` without them unless
//! `REQUIRE_REAL_SERVICES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use e2e::activity::{Scene, User, personal_message, post_signed};
use e2e::emulator::{Emulator, EmulatorSpec, build_function};
use e2e::streams::{self, StreamReader};
use e2e::{dynamo, env};
use fake_teams::openid::OpenIdServer;
use fake_teams::{DEFAULT_TENANT, FakeTeams, Fault, Route};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

const TEST: &str = "lambda_deferred";
const READY_LIMIT: Duration = Duration::from_secs(300);

fn megan() -> User {
    User {
        id: "29:1megan-slow".into(),
        name: "Megan Slow".into(),
        aad_object_id: "aad-megan-slow".into(),
    }
}

fn spec(root: &Path, dir: &Path, work: &Path, bin: &str, env: Vec<(String, String)>) -> EmulatorSpec {
    EmulatorSpec {
        workspace_root: root.to_path_buf(),
        cargo_lambda_dir: dir.to_path_buf(),
        package: bin.into(),
        bin: bin.into(),
        port: env::free_port().unwrap(),
        concurrency: 1,
        invoke_timeout_secs: 120,
        env,
        work_dir: work.to_path_buf(),
    }
}

/// The bot's messages in `conversation` whose text starts with `prefix`: (id, replied-to id, text).
fn posted(fake: &FakeTeams, conversation: &str, prefix: &str) -> Vec<(String, Option<String>, String)> {
    fake.activities(conversation)
        .into_iter()
        .filter_map(|a| {
            let text = a.activity["text"].as_str()?.to_owned();
            text.starts_with(prefix).then_some((a.id, a.reply_to, text))
        })
        .collect()
}

/// The deferred-work records among `records` (the proactive mapping's filter passes every `outbox` INSERT).
fn deferred_records(records: &[Value]) -> Vec<Value> {
    let outbox = streams::filter_inserts(records, &["outbox"]);
    assert!(
        outbox
            .iter()
            .all(|r| streams::new_image_s(r, "topic") == Some("deferred")),
        "{outbox:#?}"
    );
    outbox
}

fn sequence(record: &Value) -> String {
    record
        .pointer("/dynamodb/SequenceNumber")
        .and_then(Value::as_str)
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_is_answered_later_by_the_proactive_function_after_the_webhook_stopped() {
    let Some((endpoint, cargo_lambda_dir)) = env::lambda_prerequisites(TEST) else {
        return;
    };
    let openid = OpenIdServer::new();
    let m = megan();
    let fake = FakeTeams::builder()
        .with_router(openid.router())
        .user(DEFAULT_TENANT, FakeTeams::member(&m.id, &m.name, &m.aad_object_id))
        .start()
        .await
        .unwrap();
    let service_url = fake.service_url();
    let app_id = fake.app_id();

    let client = dynamo::client_from_env().await;
    let table = env::unique("e2e-deferred");
    let _store = dynamo::fresh_table(client.clone(), &table).await.unwrap();
    let stream_arn = dynamo::stream_arn(&client, &table).await.unwrap();
    let mut stream = StreamReader::new(&endpoint, &stream_arn);

    let mut base: Vec<(String, String)> = fake.env();
    base.push((
        "BOT_OPENID_METADATA_URL".into(),
        OpenIdServer::metadata_url(fake.addr()),
    ));
    base.extend(env::dynamo_function_env(&table, &endpoint));
    let root = env::workspace_root();
    for function in ["messages", "proactive"] {
        build_function(&root, function).unwrap();
    }
    let work = std::env::temp_dir().join(env::unique("e2e-deferred"));
    let mut messages = Emulator::start(&spec(&root, &cargo_lambda_dir, &work, "messages", base.clone())).unwrap();
    let mut proactive = Emulator::start(&spec(&root, &cargo_lambda_dir, &work, "proactive", base)).unwrap();
    messages.wait_webhook_ready(READY_LIMIT).await.unwrap();
    proactive.wait_stream_ready(READY_LIMIT).await.unwrap();

    let scene = Scene {
        bot_id: format!("28:{app_id}"),
        bot_name: "Teams Bot".into(),
        tenant: DEFAULT_TENANT.into(),
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .unwrap();
    let chat = fake.personal_conversation(DEFAULT_TENANT, &m.id).unwrap();
    let messages_url = messages.url("/api/messages");
    let deliver = async |activity: Value| {
        let response = post_signed(&http, &openid, &app_id, &service_url, &messages_url, &activity).await;
        response.expect("the emulator answers").status().as_u16()
    };

    // 1. `slow 0` whose answer Teams refuses (502 until the client gives up): the record fails, as a batch item
    //    failure naming it; the mapping's retry of it posts the answer once.
    let quick = personal_message(&scene, &chat, &m, "slow-e2e-0", &service_url, "slow 0").unwrap();
    assert_eq!(deliver(quick).await, 200);
    let records = deferred_records(&stream.read_new().await.unwrap());
    assert_eq!(records.len(), 1, "{records:#?}");
    let is_answer = |c: &fake_teams::RecordedCall| {
        c.body
            .as_ref()
            .and_then(|b| b["text"].as_str())
            .is_some_and(|t| t.starts_with("Done:"))
    };
    fake.inject(Fault::status(Route::SendToConversation, 502).when(is_answer));
    let batch = json!({"Records": records});
    let answer = proactive.invoke(&batch).await.unwrap();
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": sequence(&records[0])}]}),
        "the failed work's record, for Lambda to retry"
    );
    assert!(posted(&fake, &chat, "Done:").is_empty());
    fake.clear_faults();
    let answer = proactive.invoke(&batch).await.unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let done = posted(&fake, &chat, "Done:");
    assert_eq!(done.len(), 1, "{done:#?}");
    assert_eq!(done[0].2, "Done: here is the slow answer, after 0 s of work.");

    // 2. `slow 1`: 200 with the acknowledgement posted; the work is an item in the table.
    let slow = personal_message(&scene, &chat, &m, "slow-e2e-1", &service_url, "slow 1").unwrap();
    let started = Instant::now();
    assert_eq!(deliver(slow).await, 200);
    let webhook_ms = started.elapsed().as_millis();
    let acks = posted(&fake, &chat, "Working on it... I will answer here in 1 s.");
    assert_eq!(acks.len(), 1, "{acks:#?}");
    assert_eq!(
        acks[0].1.as_deref(),
        Some("slow-e2e-1"),
        "the acknowledgement replies to the message"
    );

    // 3. The webhook's container is gone; only the table holds the work.
    messages.stop();
    let records = deferred_records(&stream.read_new().await.unwrap());
    assert_eq!(records.len(), 1, "{records:#?}");
    let record = records[0].clone();
    let pk = record
        .pointer("/dynamodb/Keys/pk/S")
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    let item = dynamo::get_item(&client, &table, &pk, "OUTBOX").await.unwrap();
    assert!(item.is_some(), "the deferred work is in the table: {pk}");

    // 4. The stream record to the proactive function: the answer, in the same chat, not as a reply.
    let batch = json!({"Records": [record]});
    let started = Instant::now();
    let answer = proactive.invoke(&batch).await.unwrap();
    let proactive_ms = started.elapsed().as_millis();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let done = posted(&fake, &chat, "Done: here is the slow answer, after 1 s");
    assert_eq!(done.len(), 1, "{done:#?}");
    assert_eq!(done[0].1, None, "a new message in the chat");
    let item = dynamo::get_item(&client, &table, &pk, "OUTBOX").await.unwrap().unwrap();
    assert_eq!(item.get("done").and_then(|d| d.as_bool().ok()), Some(&true), "{item:?}");

    // 5. The same record again (a retried or replayed batch): nothing more is posted.
    let answer = proactive.invoke(&batch).await.unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    assert_eq!(posted(&fake, &chat, "Done:").len(), 2, "one answer per `slow`");
    println!(
        "measured: `slow 1` under cargo-lambda on moto: the webhook answered in {webhook_ms} ms; the proactive invoke that ran the work took {proactive_ms} ms"
    );
    drop(proactive);
    let _ = client.delete_table().table_name(&table).send().await;
}

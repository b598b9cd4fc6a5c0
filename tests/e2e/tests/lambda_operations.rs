//! Operating the functions (issue #17), under the real Lambda runtime API: the `messages`, `welcome` and
//! `proactive` binaries each run under `cargo lambda watch`, state is a fresh moto DynamoDB table (its stream read
//! back through moto's Streams API), Microsoft's side is the fake Teams service with scripted faults.
//!
//! One test walks the scenarios in order (the emulators start once):
//! - a message: one EMF line (`MessagesReceived`, `RepliesSent`) and one INFO line with the activity's ids;
//! - a stream batch of three team installs whose middle welcome Teams keeps refusing: the answer's
//!   `batchItemFailures` names exactly that record's sequence number; the welcome function, at
//!   `AWS_LAMBDA_LOG_LEVEL=WARN`, writes no INFO line but still its metrics;
//! - a tick whose poll Teams throttles, then refuses: the invoke answers a function error
//!   (`Retryable.JobsFailed`), the metrics count the 429, the retries and the failure;
//! - a notify to a conversation the bot was removed from: a function error `Permanent.BotRemoved` whose message is
//!   the contract's JSON with status 403, counted as `ProactiveRefused`; then `Permanent.ConversationInactive`;
//! - every EMF line of the three functions parses as CloudWatch reads it.
//!
//! Needs `AWS_ENDPOINT_URL_DYNAMODB` (moto) and `cargo-lambda`; prints `skipped: ...` without them unless
//! `REQUIRE_REAL_SERVICES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use e2e::activity::{Scene, User, personal_message, post_signed};
use e2e::emulator::{Emulator, EmulatorSpec, Invoked, build_function};
use e2e::streams::{self, StreamReader};
use e2e::{dynamo, env, secrets};
use fake_teams::openid::OpenIdServer;
use fake_teams::{DEFAULT_TENANT, FakeTeams, Fault, Route, SeedTeam};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

const TEST: &str = "lambda_operations";
const TEAMS: [(&str, &str); 3] = [
    ("19:ops-alpha@thread.skype", "Alpha"),
    ("19:ops-bravo@thread.skype", "Bravo"),
    ("19:ops-charlie@thread.skype", "Charlie"),
];
const READY_LIMIT: Duration = Duration::from_secs(300);
/// How long a function's stdout may take to reach the emulator's log after its answer.
const LOG_WAIT: Duration = Duration::from_secs(10);

fn megan() -> User {
    User {
        id: "29:1megan-ops".into(),
        name: "Megan Ops".into(),
        aad_object_id: "aad-megan-ops".into(),
    }
}

struct World {
    // Field order is drop order: stop the functions before the servers they talk to.
    messages: Emulator,
    welcome: Emulator,
    proactive: Emulator,
    fake: FakeTeams,
    openid: OpenIdServer,
    http: reqwest::Client,
    stream: StreamReader,
    scene: Scene,
    app_id: String,
    service_url: String,
}

impl World {
    async fn deliver(&self, activity: &Value) -> u16 {
        let url = self.messages.url("/api/messages");
        let response = post_signed(
            &self.http,
            &self.openid,
            &self.app_id,
            &self.service_url,
            &url,
            activity,
        )
        .await;
        response.expect("the emulator answers").status().as_u16()
    }

    fn install(&self, team: &str, name: &str, id: &str) -> Value {
        json!({
            "type": "conversationUpdate", "id": id, "channelId": "msteams", "serviceUrl": self.service_url,
            "from": {"id": "29:1installer", "name": "Ina Installer", "aadObjectId": "aad-installer"},
            "recipient": {"id": self.scene.bot_id, "name": self.scene.bot_name},
            "conversation": {"id": team, "conversationType": "channel", "isGroup": true, "tenantId": self.scene.tenant},
            "membersAdded": [{"id": self.scene.bot_id}],
            "channelData": {"eventType": "teamMemberAdded", "tenant": {"id": self.scene.tenant},
                            "team": {"id": team, "name": name}}
        })
    }

    fn personal(&self) -> String {
        self.fake
            .personal_conversation(&self.scene.tenant, &megan().id)
            .unwrap()
    }

    fn welcomes_in(&self, conversation: &str) -> usize {
        self.fake
            .activities(conversation)
            .iter()
            .filter(|a| a.activity["text"].as_str().is_some_and(|t| t.starts_with("Welcome")))
            .count()
    }
}

/// The log's length now, to read what a step adds.
fn mark(emulator: &Emulator) -> usize {
    emulator.log_text().len()
}

/// The function's JSON lines written since `from` (the emulator's own lines are not JSON objects).
fn json_lines_since(emulator: &Emulator, from: usize) -> Vec<Value> {
    let text = emulator.log_text();
    text.get(from..)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            line.find('{')
                .and_then(|i| serde_json::from_str::<Value>(&line[i..]).ok())
        })
        .filter(Value::is_object)
        .collect()
}

fn is_emf(line: &Value) -> bool {
    line.get("_aws").is_some()
}

/// Waits for the EMF line the invocation after `from` printed (the function writes it before it answers; the
/// emulator's log may lag a little behind) and answers it.
async fn emf_since(emulator: &Emulator, from: usize) -> Value {
    let started = Instant::now();
    loop {
        let lines: Vec<Value> = json_lines_since(emulator, from).into_iter().filter(is_emf).collect();
        match lines.len() {
            1 => return lines.into_iter().next().unwrap(),
            0 if started.elapsed() < LOG_WAIT => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => panic!(
                "expected one EMF line after the mark, got {}: {lines:#?}\n{}",
                lines.len(),
                emulator.log_tail(30)
            ),
        }
    }
}

/// Checks one EMF document as CloudWatch reads it: a `_aws` directive in our namespace with the `Function`
/// dimension, and for every declared metric a numeric value at the top level. Answers the metrics' values.
fn parse_emf(doc: &Value) -> serde_json::Map<String, Value> {
    let aws = &doc["_aws"];
    assert!(
        aws["Timestamp"].as_u64().is_some_and(|t| t > 1_700_000_000_000),
        "{doc}"
    );
    let directives = aws["CloudWatchMetrics"].as_array().expect("CloudWatchMetrics");
    assert_eq!(directives.len(), 1, "{doc}");
    let directive = &directives[0];
    assert_eq!(directive["Namespace"], "TeamsBot", "{doc}");
    assert_eq!(directive["Dimensions"], json!([["Function"]]), "{doc}");
    assert!(doc["Function"].as_str().is_some_and(|f| !f.is_empty()), "{doc}");
    let mut values = serde_json::Map::new();
    for metric in directive["Metrics"].as_array().expect("Metrics") {
        let name = metric["Name"].as_str().expect("a metric name");
        assert_eq!(metric["Unit"], "Count", "{doc}");
        let value = doc[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} has no value: {doc}"));
        assert!(value > 0, "only metrics that moved are declared: {doc}");
        values.insert(name.to_owned(), json!(value));
    }
    values
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_reach_lambda_and_metrics_parse_under_cargo_lambda() {
    let Some((endpoint, cargo_lambda_dir)) = env::lambda_prerequisites(TEST) else {
        return;
    };
    let openid = OpenIdServer::new();
    let m = megan();
    let mut fake = FakeTeams::builder()
        .with_router(openid.router())
        .user(DEFAULT_TENANT, FakeTeams::member(&m.id, &m.name, &m.aad_object_id));
    for (team, name) in TEAMS {
        fake = fake.team(SeedTeam::new(team, name));
    }
    let fake = fake.start().await.unwrap();
    let service_url = fake.service_url();
    let app_id = fake.app_id();

    let client = dynamo::client_from_env().await;
    let table = env::unique("e2e-ops");
    let _store = dynamo::fresh_table(client.clone(), &table).await.unwrap();
    let stream_arn = dynamo::stream_arn(&client, &table).await.unwrap();

    let mut base: Vec<(String, String)> = fake.env();
    base.push((
        "BOT_OPENID_METADATA_URL".into(),
        OpenIdServer::metadata_url(fake.addr()),
    ));
    base.extend(env::dynamo_function_env(&table, &endpoint));
    secrets::password_to_secrets_manager(&mut base, &endpoint, &table)
        .await
        .unwrap();
    // Lambda's logging settings, as a template's LoggingConfig sets them (RUST_LOG stays `info`).
    base.push(("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()));
    let mut welcome_env = base.clone();
    welcome_env.push(("AWS_LAMBDA_LOG_LEVEL".into(), "WARN".into()));

    let root = env::workspace_root();
    for function in ["messages", "welcome", "proactive"] {
        build_function(&root, function).unwrap();
    }
    let work = std::env::temp_dir().join(env::unique("e2e-ops"));
    let mut messages = Emulator::start(&spec(&root, &cargo_lambda_dir, &work, "messages", base.clone())).unwrap();
    let mut welcome = Emulator::start(&spec(&root, &cargo_lambda_dir, &work, "welcome", welcome_env)).unwrap();
    let mut proactive = Emulator::start(&spec(&root, &cargo_lambda_dir, &work, "proactive", base)).unwrap();
    messages
        .wait_ready(READY_LIMIT, |c, base| async move {
            c.get(format!("{base}/lambda-url/messages/api/messages"))
                .send()
                .await
                .is_ok_and(|r| r.status().as_u16() == 405)
        })
        .await
        .unwrap();
    welcome.wait_stream_ready(READY_LIMIT).await.unwrap();
    proactive.wait_stream_ready(READY_LIMIT).await.unwrap();

    let w = World {
        messages,
        welcome,
        proactive,
        fake,
        openid,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .unwrap(),
        stream: StreamReader::new(&endpoint, &stream_arn),
        scene: Scene {
            bot_id: format!("28:{app_id}"),
            bot_name: "Teams Bot".into(),
            tenant: DEFAULT_TENANT.into(),
        },
        app_id,
        service_url,
    };
    let mut w = w;

    a_message_is_one_info_line_and_one_emf_line(&w).await;
    a_batch_with_one_failing_record_names_exactly_it(&mut w).await;
    a_tick_whose_sends_fail_is_a_function_error(&w).await;
    a_notify_to_a_removed_bot_is_a_permanent_function_error(&w).await;
    every_emf_line_parses(&w);

    let _ = client.delete_table().table_name(&table).send().await;
}

/// A signed 1:1 message: its echo, one INFO line with the ids and duration, and one EMF line for the invocation.
async fn a_message_is_one_info_line_and_one_emf_line(w: &World) {
    let conversation = w.personal();
    // The chat's first message also claims first contact (one more INFO line); the measured one is the second.
    let first = personal_message(&w.scene, &conversation, &megan(), "ops-m0", &w.service_url, "hi").unwrap();
    assert_eq!(w.deliver(&first).await, 200);
    let _ = emf_since(&w.messages, 0).await;
    let from = mark(&w.messages);
    let second = personal_message(&w.scene, &conversation, &megan(), "ops-m1", &w.service_url, "hello").unwrap();
    assert_eq!(w.deliver(&second).await, 200);
    let emf = emf_since(&w.messages, from).await;
    let values = parse_emf(&emf);
    assert_eq!(values.get("MessagesReceived"), Some(&json!(1)), "{emf}");
    assert_eq!(values.get("RepliesSent"), Some(&json!(1)), "{emf}");
    assert_eq!(values.len(), 2, "{emf}");
    assert_eq!(
        emf["Function"], "messages",
        "AWS_LAMBDA_FUNCTION_NAME as the emulator sets it: {emf}"
    );

    let logs: Vec<Value> = json_lines_since(&w.messages, from)
        .into_iter()
        .filter(|l| !is_emf(l))
        .collect();
    let handled: Vec<&Value> = logs
        .iter()
        .filter(|l| l["fields"]["message"] == "activity handled")
        .collect();
    assert_eq!(handled.len(), 1, "{logs:#?}");
    let line = handled[0];
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(line["fields"]["status"], 200);
    assert_eq!(line["fields"]["route"], "on_message");
    let spans = line["spans"].as_array().unwrap();
    assert!(
        spans
            .iter()
            .any(|s| s["requestId"].as_str().is_some_and(|r| !r.is_empty())),
        "Lambda's request id: {line}"
    );
    let activity = spans
        .iter()
        .find(|s| s["name"] == "activity")
        .expect("the activity span");
    assert_eq!(activity["activity_id"], "ops-m1");
    assert_eq!(activity["conversation_id"], conversation.as_str());
    assert_eq!(activity["tenant_id"], DEFAULT_TENANT);
    let app_lines = logs.iter().filter(|l| l.get("level").is_some()).count();
    println!(
        "measured: a steady-state message writes {app_lines} log line(s) ({} bytes) and an EMF line of {} bytes",
        line.to_string().len(),
        emf.to_string().len()
    );
    assert_eq!(app_lines, 1, "{logs:#?}");
    println!("measured: the line: {line}\nmeasured: the EMF line: {emf}");
}

/// Three team installs through the messages function -> three stream INSERTs read back from moto -> one batch
/// to the welcome function, with Teams refusing every attempt of the middle team's welcome: the answer names
/// exactly that record; the first team is welcomed, the third waits for Lambda's retry from the failed record.
async fn a_batch_with_one_failing_record_names_exactly_it(w: &mut World) {
    for (n, (team, name)) in TEAMS.iter().enumerate() {
        assert_eq!(w.deliver(&w.install(team, name, &format!("ops-inst-{n}"))).await, 200);
    }
    let records = w.stream.read_new().await.unwrap();
    let installs = streams::filter_inserts(&records, &["team-install"]);
    assert_eq!(installs.len(), 3, "{installs:#?}");
    let sequence = |n: usize| {
        installs[n]
            .pointer("/dynamodb/SequenceNumber")
            .and_then(Value::as_str)
            .unwrap()
            .to_owned()
    };
    let bravo = TEAMS[1].0;
    w.fake.inject(
        Fault::status(Route::SendToConversation, 502).when(move |c| c.ids.first().is_some_and(|id| id == bravo)),
    );

    let from = mark(&w.welcome);
    let answer = w.welcome.invoke(&json!({"Records": installs})).await.unwrap();
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": sequence(1)}]}),
        "exactly the failing record's sequence number"
    );
    assert_eq!(w.welcomes_in(TEAMS[0].0), 1);
    assert_eq!(w.welcomes_in(bravo), 0);
    assert_eq!(
        w.welcomes_in(TEAMS[2].0),
        0,
        "after the failed record: Lambda retries from it"
    );
    let values = parse_emf(&emf_since(&w.welcome, from).await);
    assert_eq!(values.get("WelcomesSent"), Some(&json!(1)), "{values:?}");
    assert_eq!(values.get("WelcomesFailed"), Some(&json!(1)), "{values:?}");
    assert_eq!(
        values.get("ConnectorRetries"),
        Some(&json!(3)),
        "4 attempts: {values:?}"
    );
    // AWS_LAMBDA_LOG_LEVEL=WARN: the failure's WARN line, no INFO line (the EMF line is no log line).
    let logs: Vec<Value> = json_lines_since(&w.welcome, from)
        .into_iter()
        .filter(|l| !is_emf(l))
        .collect();
    assert!(logs.iter().all(|l| l["level"] != "INFO"), "{logs:#?}");
    let failed = logs
        .iter()
        .find(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("stream record failed"))
        })
        .unwrap_or_else(|| panic!("the record's failure is logged: {logs:#?}"));
    let record = failed["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "stream_record")
        .expect("the record's span");
    assert_eq!(record["sequence"], sequence(1).as_str());
    assert_eq!(record["kind"], "team-install");

    // The retry from the failed record, Teams answering again: the rest is welcomed, each team once.
    w.fake.clear_faults();
    let answer = w.welcome.invoke(&json!({"Records": installs[1..]})).await.unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    for (team, _) in TEAMS {
        assert_eq!(w.welcomes_in(team), 1, "{team}");
    }
}

/// The poll subscribed in the 1:1 chat is due; Teams throttles its send once, then answers 502 until the client
/// gives up: the tick is a function error Lambda sees (`Retryable.JobsFailed`), with its report.
async fn a_tick_whose_sends_fail_is_a_function_error(w: &World) {
    let conversation = w.personal();
    let subscribe = personal_message(
        &w.scene,
        &conversation,
        &megan(),
        "ops-sub",
        &w.service_url,
        "subscribe",
    )
    .unwrap();
    assert_eq!(w.deliver(&subscribe).await, 200);
    let is_poll = |c: &fake_teams::RecordedCall| {
        c.body
            .as_ref()
            .and_then(|b| b["attachments"].as_array())
            .is_some_and(|a| !a.is_empty())
    };
    w.fake
        .inject(Fault::throttle(Route::SendToConversation, 1).when(is_poll).times(1));
    w.fake
        .inject(Fault::status(Route::SendToConversation, 502).when(is_poll));

    let from = mark(&w.proactive);
    let tick: Value = serde_json::from_str(service::stream::TICK_INPUT).unwrap();
    let outcome = w.proactive.invoke_outcome(&tick).await.unwrap();
    println!("measured: the failed tick's invoke answered {outcome:?}");
    let Invoked::FunctionError {
        error_type,
        error_message,
        ..
    } = outcome
    else {
        panic!("the tick must fail: {outcome:?}")
    };
    assert_eq!(error_type, "Retryable.JobsFailed");
    let body: Value = serde_json::from_str(&error_message).unwrap();
    assert_eq!(body["report"], json!({"sent": 0, "skipped": 0, "failed": 1}), "{body}");
    assert_eq!(body["retryable"], true);
    let values = parse_emf(&emf_since(&w.proactive, from).await);
    assert_eq!(values.get("ProactiveFailed"), Some(&json!(1)), "{values:?}");
    assert_eq!(values.get("ConnectorThrottled"), Some(&json!(1)), "{values:?}");
    assert_eq!(values.get("ConnectorRetries"), Some(&json!(3)), "{values:?}");
    w.fake.clear_faults();
}

/// The bot is removed from the 1:1 chat at Teams: a notify there is a permanent function error whose message is
/// the contract's error JSON (403, `BotRemoved`), counted as refused; the next one finds the chat inactive (410).
async fn a_notify_to_a_removed_bot_is_a_permanent_function_error(w: &World) {
    let conversation = w.personal();
    w.fake.remove_bot(&conversation);
    let send = json!({"to": {"conversation": {"id": conversation}}, "message": {"text": "maintenance at 6"}});
    let from = mark(&w.proactive);
    let outcome = w.proactive.invoke_outcome(&send).await.unwrap();
    let Invoked::FunctionError {
        error_type,
        error_message,
        ..
    } = outcome
    else {
        panic!("a refused notify is a function error: {outcome:?}")
    };
    assert_eq!(error_type, "Permanent.BotRemoved");
    let body: Value = serde_json::from_str(&error_message).unwrap();
    assert_eq!(body["status"], 403, "{body}");
    assert_eq!(body["error"]["code"], "BotRemoved", "{body}");
    assert_eq!(body["retryable"], false, "{body}");
    let values = parse_emf(&emf_since(&w.proactive, from).await);
    assert_eq!(values.get("ProactiveRefused"), Some(&json!(1)), "{values:?}");
    assert_eq!(values.get("ProactiveFailed"), None, "{values:?}");

    let outcome = w.proactive.invoke_outcome(&send).await.unwrap();
    let Invoked::FunctionError { error_type, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(error_type, "Permanent.ConversationInactive");
}

/// Every EMF line the three functions printed parses as CloudWatch reads it.
fn every_emf_line_parses(w: &World) {
    let mut lines = 0;
    let mut largest = 0;
    for emulator in [&w.messages, &w.welcome, &w.proactive] {
        for doc in json_lines_since(emulator, 0).into_iter().filter(is_emf) {
            let _ = parse_emf(&doc);
            lines += 1;
            largest = largest.max(doc.to_string().len());
        }
    }
    assert!(lines >= 8, "{lines} EMF lines");
    println!("measured: {lines} EMF lines parsed, the largest {largest} bytes");
}

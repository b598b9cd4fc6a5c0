//! Replayable failures (issue #17): a welcome that failed is copied, as delivered, to the failed-records bucket,
//! and `infra/redrive` replays it through the function once and only once.
//!
//! Real parts: the `welcome` binary under `cargo lambda watch` with `FAILED_RECORDS_BUCKET` / `_PREFIX` set as the
//! template sets them, a fresh moto table whose stream is read back through moto's Streams API, a moto S3 bucket
//! (the function's hand-signed `PutObject`; the script's boto3), the fake Teams service with a fault, and
//! `infra/redrive` itself as a subprocess (the test venv's Python and boto3) against moto's S3 and the emulator's
//! Invoke API. One test, in order:
//! - a team install's stream record, delivered while Teams answers 502 to every send: the answer's
//!   `batchItemFailures` names its sequence number, nothing reached Teams, and `welcome/<SequenceNumber>.json`
//!   holds the record exactly as delivered;
//! - `infra/redrive` while Teams still fails: it exits 1, the record stays, nothing is sent; `--dry-run` after Teams
//!   heals invokes nothing;
//! - `infra/redrive` with Teams healed: exit 0, exactly one welcome in the team, the object is gone;
//! - the same record put back and redriven again: exit 0 and the object gone, still exactly one welcome (the
//!   welcome's idempotency key is done, so the replay sends nothing);
//! - a second team's welcome failing while the bucket is gone: the record is still reported failed, the function
//!   logs an ERROR line with its sequence number and event id, and its EMF line counts `FailedRecordsNotSaved`.
//!
//! Needs `AWS_ENDPOINT_URL_DYNAMODB` (moto, which also serves S3 unless `AWS_ENDPOINT_URL_S3` names another),
//! `cargo-lambda`, and a Python with boto3 (`.tools/venv`, which `scripts/test` installs); prints `skipped: ...`
//! without them unless `REQUIRE_REAL_SERVICES=1`, which fails the test instead.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use e2e::emulator::{Emulator, EmulatorSpec, build_function};
use e2e::streams::{self, StreamReader};
use e2e::{dynamo, env, secrets};
use fake_teams::{DEFAULT_TENANT, FakeTeams, Fault, Route, SeedTeam};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use store::WelcomeClaims as _;

const TEST: &str = "redrive";
const TEAM: &str = "19:redrive-team@thread.skype";
const SECOND_TEAM: &str = "19:redrive-second@thread.skype";
const PREFIX: &str = "welcome/";
const READY_LIMIT: Duration = Duration::from_secs(300);

/// moto's S3 over plain HTTP, path-style (moto routes by the credential scope and checks no signature, as the
/// Streams reader in `e2e::streams` relies on too).
struct MotoS3 {
    endpoint: String,
    http: reqwest::Client,
}

impl MotoS3 {
    const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, \
                                 SignedHeaders=host, Signature=0";

    fn new(endpoint: &str) -> Self {
        Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<String>) -> (u16, String) {
        let mut request = self
            .http
            .request(method, format!("{}/{path}", self.endpoint))
            .header("authorization", Self::AUTHORIZATION);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body);
        }
        let response = request.send().await.expect("moto answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    async fn create_bucket(&self, bucket: &str) {
        let (status, text) = self.call(reqwest::Method::PUT, bucket, None).await;
        assert_eq!(status, 200, "create bucket {bucket}: {text}");
    }

    /// The object's JSON, or `None` when there is no such key.
    async fn get(&self, bucket: &str, key: &str) -> Option<Value> {
        let (status, text) = self.call(reqwest::Method::GET, &format!("{bucket}/{key}"), None).await;
        match status {
            200 => Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{key} is not JSON ({e}): {text}"))),
            404 => None,
            _ => panic!("get {key}: {status} {text}"),
        }
    }

    async fn put(&self, bucket: &str, key: &str, value: &Value) {
        let (status, text) = self
            .call(
                reqwest::Method::PUT,
                &format!("{bucket}/{key}"),
                Some(value.to_string()),
            )
            .await;
        assert_eq!(status, 200, "put {key}: {text}");
    }

    async fn delete_bucket(&self, bucket: &str) {
        let (status, text) = self.call(reqwest::Method::DELETE, bucket, None).await;
        assert_eq!(status, 204, "delete bucket {bucket}: {text}");
    }

    async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let (status, text) = self
            .call(
                reqwest::Method::GET,
                &format!("{bucket}?list-type=2&prefix={prefix}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "list {bucket}: {text}");
        text.split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
            .collect()
    }
}

/// A Python that can import boto3: the test venv's (`scripts/test` installs moto, which brings boto3), else
/// `python3` on `PATH`. Prints the skip line (or fails, see [`env::skip`]) without one.
fn python_with_boto3() -> Option<PathBuf> {
    let venv = env::workspace_root().join(".tools/venv/bin/python");
    let found = [venv, PathBuf::from("python3")].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import boto3"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        env::skip(
            TEST,
            "no Python with boto3 for infra/redrive (.tools/venv, installed by scripts/test)",
        );
    }
    found
}

/// What one run of `infra/redrive` printed and answered.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

struct World {
    // Field order is drop order: stop the function before the servers it talks to.
    welcome: Emulator,
    fake: FakeTeams,
    s3: MotoS3,
    bucket: String,
    python: PathBuf,
    s3_endpoint: String,
}

impl World {
    fn welcomes(&self) -> usize {
        self.welcomes_in(TEAM)
    }

    fn welcomes_in(&self, team: &str) -> usize {
        self.fake
            .activities(team)
            .iter()
            .filter(|a| a.activity["text"].as_str().is_some_and(|t| t.starts_with("Welcome")))
            .count()
    }

    /// `infra/redrive --bucket <bucket> --prefix welcome/ --function welcome [extra]`, with only the standard AWS
    /// settings pointing it at moto's S3 and the emulator's Invoke API.
    async fn redrive(&self, extra: &[&str]) -> Run {
        let invoke_url = self.welcome.invoke_url();
        let lambda_endpoint = invoke_url
            .split("/2015-03-31/")
            .next()
            .expect("the Invoke API's base")
            .to_owned();
        let mut command = Command::new(&self.python);
        command
            .arg(env::workspace_root().join("infra/redrive"))
            .args(["--bucket", &self.bucket, "--prefix", PREFIX, "--function", "welcome"])
            .args(extra)
            .env("AWS_ENDPOINT_URL_S3", &self.s3_endpoint)
            .env("AWS_ENDPOINT_URL_LAMBDA", lambda_endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE");
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap()
            .expect("infra/redrive runs");
        let run = Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        println!(
            "infra/redrive {extra:?} -> {:?}\n{}{}",
            run.code, run.stdout, run.stderr
        );
        run
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_replays_a_failed_welcome_once_and_only_once() {
    let Some((endpoint, cargo_lambda_dir)) = env::lambda_prerequisites(TEST) else {
        return;
    };
    let Some(python) = python_with_boto3() else {
        return;
    };
    // The same moto serves S3 (scripts/test starts one for every service) unless another endpoint is named.
    let s3_endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| endpoint.clone());

    let fake = FakeTeams::builder()
        .team(SeedTeam::new(TEAM, "Redrive"))
        .team(SeedTeam::new(SECOND_TEAM, "Second"))
        .start()
        .await
        .unwrap();
    let client = dynamo::client_from_env().await;
    let table = env::unique("e2e-redrive");
    let store = dynamo::fresh_table(client.clone(), &table).await.unwrap();
    let stream_arn = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .table()
        .and_then(|t| t.latest_stream_arn())
        .expect("the table has a stream")
        .to_owned();
    let s3 = MotoS3::new(&s3_endpoint);
    let bucket = env::unique("e2e-redrive");
    s3.create_bucket(&bucket).await;

    let mut vars = fake.env();
    vars.extend(env::dynamo_function_env(&table, &endpoint));
    secrets::password_to_secrets_manager(&mut vars, &endpoint, &table)
        .await
        .unwrap();
    // As the template sets them (FAILED_RECORDS_BUCKET is the bucket's name), plus the local S3 endpoint.
    vars.push(("FAILED_RECORDS_BUCKET".into(), bucket.clone()));
    vars.push(("FAILED_RECORDS_PREFIX".into(), PREFIX.into()));
    vars.push(("AWS_ENDPOINT_URL_S3".into(), s3_endpoint.clone()));
    vars.push(("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()));

    let root = env::workspace_root();
    build_function(&root, "welcome").unwrap();
    let spec = EmulatorSpec {
        workspace_root: root.clone(),
        cargo_lambda_dir,
        package: "welcome".into(),
        bin: "welcome".into(),
        port: env::free_port().unwrap(),
        concurrency: 1,
        invoke_timeout_secs: 120,
        env: vars,
        work_dir: std::env::temp_dir().join(env::unique(TEST)),
    };
    let mut welcome = Emulator::start(&spec).unwrap();
    welcome.wait_stream_ready(READY_LIMIT).await.unwrap();
    let w = World {
        welcome,
        fake,
        s3,
        bucket,
        python,
        s3_endpoint,
    };

    // The install claim, as the messages function writes it: one INSERT on the stream.
    let mut stream = StreamReader::new(&endpoint, &stream_arn);
    let install = async |team: &str| {
        let claim = store::TeamInstall {
            team_id: team.to_owned(),
            team_name: Some("Redrive".into()),
            tenant_id: DEFAULT_TENANT.into(),
            service_url: w.fake.service_url(),
            conversation_id: team.into(),
            bot: models::ChannelAccount {
                id: format!("28:{}", w.fake.app_id()),
                name: Some("Teams Bot".into()),
                ..models::ChannelAccount::default()
            },
            installed_by: None,
            claimed_at: store::Timestamp::now(),
        };
        store.claim_team_install(&claim, store::Timestamp::now()).await.unwrap();
    };
    install(TEAM).await;
    let installs = streams::filter_inserts(&stream.read_new().await.unwrap(), &["team-install"]);
    assert_eq!(installs.len(), 1, "{installs:#?}");
    let record = installs[0].clone();
    let sequence = sequence_of(&record);
    let key = format!("{PREFIX}{sequence}.json");

    // 1. Teams refuses every send: the record is reported failed and kept, as delivered.
    w.fake.inject(Fault::status(Route::SendToConversation, 502));
    let answer = w.welcome.invoke(&json!({"Records": [record]})).await.unwrap();
    assert_eq!(answer, json!({"batchItemFailures": [{"itemIdentifier": sequence}]}));
    assert_eq!(w.welcomes(), 0);
    let kept = w.s3.get(&w.bucket, &key).await.unwrap_or_else(|| {
        panic!(
            "s3://{}/{key} holds the failed record; the function's log:\n{}",
            w.bucket,
            w.welcome.log_tail(30)
        )
    });
    assert_eq!(kept, record, "the full record, exactly as delivered");
    assert_eq!(w.s3.keys(&w.bucket, PREFIX).await, std::slice::from_ref(&key));

    // 2. A redrive while Teams still fails: the replay fails, the record stays, the command says so.
    let run = w.redrive(&[]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains(&format!("failed   {key}")), "{run:?}");
    assert!(run.stdout.contains("batch item failure"), "{run:?}");
    assert_eq!(w.welcomes(), 0);
    assert_eq!(
        w.s3.get(&w.bucket, &key).await.as_ref(),
        Some(&record),
        "kept for the next redrive"
    );

    // Teams heals. A dry run reads and checks, and invokes nothing.
    w.fake.clear_faults();
    let sends_before = w.fake.calls_to(Route::SendToConversation).len();
    let run = w.redrive(&["--dry-run"]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains(&format!("would-replay {key}")), "{run:?}");
    assert_eq!(
        w.fake.calls_to(Route::SendToConversation).len(),
        sends_before,
        "a dry run sends nothing"
    );
    assert!(w.s3.get(&w.bucket, &key).await.is_some());

    // 3. The redrive: one welcome, the object gone.
    let run = w.redrive(&[]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains(&format!("replayed {key}")), "{run:?}");
    assert!(run.stdout.contains("1 replayed and deleted"), "{run:?}");
    assert_eq!(w.welcomes(), 1, "exactly one welcome reached Teams");
    assert_eq!(w.s3.get(&w.bucket, &key).await, None, "a replayed record is deleted");

    // 4. The same record again (an operator's second run, a copy written by a retry that later succeeded): the
    // replay finds the welcome done and sends nothing.
    w.s3.put(&w.bucket, &key, &record).await;
    let sends_before = w.fake.calls_to(Route::SendToConversation).len();
    let run = w.redrive(&[]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains(&format!("replayed {key}")), "{run:?}");
    assert_eq!(w.welcomes(), 1, "still exactly one welcome");
    assert_eq!(
        w.fake.calls_to(Route::SendToConversation).len(),
        sends_before,
        "the replay of a done welcome calls Teams not at all"
    );
    assert_eq!(w.s3.get(&w.bucket, &key).await, None);
    assert!(w.s3.keys(&w.bucket, PREFIX).await.is_empty());

    // 5. A copy that cannot be written (the bucket is gone): logged at ERROR with the record's ids, counted, and
    // the record still reported as failed, so the mapping retries it as before.
    install(SECOND_TEAM).await;
    let installs = streams::filter_inserts(&stream.read_new().await.unwrap(), &["team-install"]);
    assert_eq!(installs.len(), 1, "{installs:#?}");
    let second = installs[0].clone();
    let second_sequence = sequence_of(&second);
    w.s3.delete_bucket(&w.bucket).await;
    w.fake.inject(Fault::status(Route::SendToConversation, 502));
    let from = w.welcome.log_text().len();
    let answer = w.welcome.invoke(&json!({"Records": [second]})).await.unwrap();
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": second_sequence}]})
    );
    assert_eq!(w.welcomes_in(SECOND_TEAM), 0);
    let lines = json_lines_since(&w.welcome, from).await;
    let error = lines
        .iter()
        .find(|l| l["level"] == "ERROR")
        .unwrap_or_else(|| panic!("an ERROR line: {lines:#?}"));
    assert_eq!(error["fields"]["sequence"], second_sequence.as_str(), "{error}");
    assert_eq!(error["fields"]["event_id"], second["eventID"], "{error}");
    assert!(
        error["fields"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("NoSuchBucket")),
        "{error}"
    );
    let emf = lines
        .iter()
        .find(|l| l.get("_aws").is_some())
        .unwrap_or_else(|| panic!("an EMF line: {lines:#?}"));
    assert_eq!(emf["FailedRecordsNotSaved"], 1, "{emf}");
    assert_eq!(emf["WelcomesFailed"], 1, "{emf}");
    println!("measured: the copy's ERROR line: {error}\nmeasured: the EMF line: {emf}");

    let _ = client.delete_table().table_name(&table).send().await;
}

fn sequence_of(record: &Value) -> String {
    record
        .pointer("/dynamodb/SequenceNumber")
        .and_then(Value::as_str)
        .expect("a sequence number")
        .to_owned()
}

/// The function's JSON lines written since `from`, once its EMF line (printed before the answer) is in the log.
async fn json_lines_since(emulator: &Emulator, from: usize) -> Vec<Value> {
    for _ in 0..100 {
        let lines: Vec<Value> = emulator
            .log_text()
            .get(from..)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                line.find('{')
                    .and_then(|i| serde_json::from_str::<Value>(&line[i..]).ok())
            })
            .filter(Value::is_object)
            .collect();
        if lines.iter().any(|l| l.get("_aws").is_some()) {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no EMF line after the invoke:\n{}", emulator.log_tail(30))
}

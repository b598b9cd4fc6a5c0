//! Behind the webhook under the real Lambda runtime API: the `messages`, `welcome` and `proactive` binaries each
//! run under `cargo lambda watch` (cargo-lambda's emulator), state is a fresh moto DynamoDB table, Microsoft's
//! side is the fake Teams service with Teams' rate limits on and a per-tenant limit.
//!
//! The welcome function is fed the table's REAL stream: records read back from moto's DynamoDB Streams API after
//! the `messages` Lambda stored the claims, filtered and batched as the template's event source mapping does
//! (INSERTs of `team-install` / `first-contact`, batches of 10, partial batch failures retried 5 times, then the
//! on-failure destination), see `e2e::streams`.
//!
//! One test walks the scenarios in order (the emulators start once): install -> one welcome; 50 concurrent
//! duplicate install deliveries -> one stream INSERT, one welcome, also when the batch is redelivered; roster
//! welcome to 200 members inside the limits (three welcome instances at once, one per emulated stream shard,
//! sharing the tenant's limit through the table); a scheduled event sends each due poll once; notify ids that update
//! and delete; a fault storm during a notify burst and a welcome burst. Needs `AWS_ENDPOINT_URL_DYNAMODB`
//! (moto) and `cargo-lambda`; prints `skipped: ...` without them unless `REQUIRE_REAL_SERVICES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use aws_sdk_dynamodb::Client;
use e2e::activity::{Scene, User, personal_message, post_signed};
use e2e::emulator::{Emulator, EmulatorSpec, Invoked, build_function};
use e2e::streams::{self, Delivery, Mapping, StreamReader};
use e2e::{dynamo, env, secrets};
use fake_teams::openid::OpenIdServer;
use fake_teams::{DEFAULT_TENANT, FakeTeams, Fault, RecordedCall, Route, SeedTeam};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::DynamoStore;

const TEST: &str = "lambda_behind";
const TEAM_A: &str = "19:team-alpha@thread.skype";
const CHANNEL_A: &str = "19:channel-alpha-ops@thread.skype";
const TEAM_B: &str = "19:team-bravo@thread.skype";
const TEAM_R: &str = "19:team-roster@thread.skype";
const TEAM_S: &str = "19:team-storm@thread.skype";
const ROSTER: usize = 200;
const STORM_MEMBERS: usize = 20;
/// Welcome instances running at once (one per stream shard in the roster welcome).
const WELCOME_INSTANCES: u32 = 3;
/// The fake's per-tenant limit (Teams allows about 30-50 requests per second per tenant).
const TENANT_LIMIT: usize = 50;
/// How long an emulator may take to answer through its function (it may wait for the shared build lock).
const READY_LIMIT: Duration = Duration::from_secs(300);
/// The welcome kinds the template's mapping passes to the welcome function.
const WELCOME_KINDS: [&str; 2] = ["team-install", "first-contact"];
/// The Connector client's request timeout (connector `ConnectorConfig::default`): a delay past it is a timeout.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

fn roster_member(team: &str, n: usize) -> User {
    User {
        id: format!("29:{team}-{n}"),
        name: format!("{team} member {n}"),
        aad_object_id: format!("aad-{team}-{n}"),
    }
}

fn poller() -> User {
    User {
        id: "29:1poller".into(),
        name: "Pat Poller".into(),
        aad_object_id: "aad-poller".into(),
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
    client: Client,
    table: String,
    _store: DynamoStore,
    stream: tokio::sync::Mutex<StreamReader>,
    scene: Scene,
    app_id: String,
    service_url: String,
    mapping: Mapping,
}

impl World {
    /// POSTs a correctly signed activity to the messages Lambda; answers the status.
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

    /// A notify through the proactive function (a direct invoke): its result, or, when the function answered an
    /// error (every failed notify does: `Retryable.<code>` / `Permanent.<code>`), the error's JSON document, which
    /// carries the notify's `status` and `{"error": {"code", "message"}}` (docs/decisions
    /// `2026-11-30-operations.md`).
    async fn notify(&self, body: &Value) -> Value {
        match self.proactive.invoke_outcome(body).await.unwrap() {
            Invoked::Result(answer) => answer,
            Invoked::FunctionError {
                error_type,
                error_message,
                ..
            } => {
                let answer: Value = serde_json::from_str(&error_message).unwrap();
                let code = answer["error"]["code"].as_str().unwrap_or_default();
                assert!(error_type.ends_with(&format!(".{code}")), "{error_type}: {answer}");
                answer
            }
        }
    }

    /// A team install as Teams sends it: `conversationUpdate` with the bot in `membersAdded`.
    fn install_update(&self, team: &str, name: &str, id: &str) -> Value {
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

    /// The same install as an `installationUpdate` add (which Teams also sends).
    fn installation_update(&self, team: &str, name: &str, id: &str) -> Value {
        json!({
            "type": "installationUpdate", "action": "add", "id": id, "channelId": "msteams",
            "serviceUrl": self.service_url,
            "from": {"id": "29:1installer", "name": "Ina Installer", "aadObjectId": "aad-installer"},
            "recipient": {"id": self.scene.bot_id, "name": self.scene.bot_name},
            "conversation": {"id": team, "conversationType": "channel", "isGroup": true, "tenantId": self.scene.tenant},
            "channelData": {"tenant": {"id": self.scene.tenant}, "team": {"id": team, "name": name},
                            "settings": {"selectedChannel": {"id": team}}}
        })
    }

    /// Reads what the stream gained since the last read and delivers its welcome records to the welcome
    /// function as the mapping would. Answers the records delivered and the delivery report.
    async fn pump_welcome(&self) -> (Vec<Value>, Delivery) {
        self.pump_welcome_over(&self.mapping).await
    }

    /// [`World::pump_welcome`] with another mapping (e.g. more shards).
    async fn pump_welcome_over(&self, mapping: &Mapping) -> (Vec<Value>, Delivery) {
        let records = self.stream.lock().await.read_new().await.unwrap();
        eprintln!(
            "stream read: {} records, last {:?}",
            records.len(),
            records.last().and_then(|r| r.pointer("/dynamodb/SequenceNumber"))
        );
        let records = streams::filter_inserts(&records, &WELCOME_KINDS);
        let delivery = self.deliver_over(mapping, &records).await;
        (records, delivery)
    }

    /// Delivers `records` to the welcome function (mapping semantics).
    async fn deliver_records(&self, records: &[Value]) -> Delivery {
        self.deliver_over(&self.mapping, records).await
    }

    async fn deliver_over(&self, mapping: &Mapping, records: &[Value]) -> Delivery {
        streams::deliver(
            mapping,
            records,
            |event| async move { self.welcome.invoke(&event).await },
        )
        .await
        .unwrap()
    }

    /// Pumps until the stream has no new welcome records (the roster welcome writes more claims), bounded.
    async fn pump_welcome_until_quiet(&self, mapping: &Mapping) -> (Vec<Value>, Delivery) {
        let mut all = Vec::new();
        let mut total = Delivery::default();
        for _ in 0..10 {
            let (records, delivery) = self.pump_welcome_over(mapping).await;
            total.invocations += delivery.invocations;
            total.retries += delivery.retries;
            total.dead_lettered.extend(delivery.dead_lettered);
            if records.is_empty() {
                return (all, total);
            }
            all.extend(records);
        }
        panic!("the welcome stream did not go quiet after 10 reads");
    }

    /// The bot's messages in `conversation` (a channel's reply chains included) whose text starts with `Welcome`.
    fn welcomes_in(&self, conversation: &str) -> usize {
        self.fake
            .activities(conversation)
            .iter()
            .filter(|a| a.activity["text"].as_str().is_some_and(|t| t.starts_with("Welcome")))
            .count()
    }

    /// The messages in `conversation` with exactly this text.
    fn texts_in(&self, conversation: &str, text: &str) -> usize {
        self.fake
            .activities(conversation)
            .iter()
            .filter(|a| a.activity["text"].as_str() == Some(text))
            .count()
    }

    fn personal(&self, user: &User) -> String {
        self.fake
            .personal_conversation(&self.scene.tenant, &user.id)
            .expect("a user of the tenant")
    }
}

/// Calls answered 429 in `calls`.
fn throttled(calls: &[RecordedCall]) -> Vec<&RecordedCall> {
    calls.iter().filter(|c| c.status == 429).collect()
}

fn spec(root: &Path, dir: &Path, work: &Path, bin: &str, concurrency: u32, env: Vec<(String, String)>) -> EmulatorSpec {
    EmulatorSpec {
        workspace_root: root.to_path_buf(),
        cargo_lambda_dir: dir.to_path_buf(),
        package: bin.into(),
        bin: bin.into(),
        port: env::free_port().unwrap(),
        concurrency,
        // Several instances that may sit idle for minutes (the emulator ends idle ones after --timeout).
        invoke_timeout_secs: e2e::emulator::IDLE_SAFE_TIMEOUT_SECS,
        env,
        work_dir: work.to_path_buf(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn welcome_and_proactive_lambdas_under_cargo_lambda() {
    let Some((endpoint, cargo_lambda_dir)) = env::lambda_prerequisites(TEST) else {
        return;
    };
    let t0 = Instant::now();

    // --- Microsoft's side: teams seeded, Teams' per-conversation limits on (default) and a per-tenant limit. ---
    let openid = OpenIdServer::new();
    let mut roster = SeedTeam::new(TEAM_R, "Roster");
    for n in 0..ROSTER {
        let m = roster_member("r", n);
        roster = roster.member(FakeTeams::member(&m.id, &m.name, &m.aad_object_id));
    }
    let mut storm = SeedTeam::new(TEAM_S, "Storm");
    for n in 0..STORM_MEMBERS {
        let m = roster_member("s", n);
        storm = storm.member(FakeTeams::member(&m.id, &m.name, &m.aad_object_id));
    }
    let p = poller();
    let fake = FakeTeams::builder()
        .with_router(openid.router())
        .tenant_limit(TENANT_LIMIT)
        .user(DEFAULT_TENANT, FakeTeams::member(&p.id, &p.name, &p.aad_object_id))
        .team(SeedTeam::new(TEAM_A, "Alpha").channel(CHANNEL_A, "Ops"))
        .team(SeedTeam::new(TEAM_B, "Bravo"))
        .team(roster)
        .team(storm)
        .start()
        .await
        .unwrap();
    let service_url = fake.service_url();
    let app_id = fake.app_id();

    // --- State: a fresh table (with its stream) in moto. ---
    let client = dynamo::client_from_env().await;
    let table = env::unique("e2e-behind");
    let store = dynamo::fresh_table(client.clone(), &table).await.unwrap();
    let stream_arn = dynamo::stream_arn(&client, &table).await.unwrap();

    // --- The functions' environment (docs/contract.md names); WELCOME_ROSTER on. ---
    let mut base: Vec<(String, String)> = fake.env();
    base.extend(
        [
            ("BOT_OPENID_METADATA_URL", OpenIdServer::metadata_url(fake.addr())),
            ("WELCOME_ROSTER", "true".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    base.extend(env::dynamo_function_env(&table, &endpoint));
    // The client secret as the template deploys it: only its Secrets Manager ARN (the fake token endpoint accepts
    // no other secret, so every authenticated send shows each function read it at cold start).
    secrets::password_to_secrets_manager(&mut base, &endpoint, &table)
        .await
        .unwrap();

    // --- Pre-build, then one `cargo lambda watch` per function. ---
    let root = env::workspace_root();
    let build = Instant::now();
    for function in ["messages", "welcome", "proactive"] {
        build_function(&root, function).unwrap();
    }
    let build_time = build.elapsed();
    let work = std::env::temp_dir().join(env::unique("e2e-behind"));
    // The messages function gets several instances so the 50 duplicates really race; the welcome function one
    // (a stream shard is processed in order by one invocation at a time); proactive a few (direct invokes).
    let specs = [
        spec(&root, &cargo_lambda_dir, &work, "messages", 6, base.clone()),
        spec(
            &root,
            &cargo_lambda_dir,
            &work,
            "welcome",
            WELCOME_INSTANCES,
            base.clone(),
        ),
        spec(&root, &cargo_lambda_dir, &work, "proactive", 4, base.clone()),
    ];
    for s in &specs {
        println!("cargo {}", s.args(&s.env_file()).join(" "));
    }
    let mut messages = Emulator::start(&specs[0]).unwrap();
    let mut welcome = Emulator::start(&specs[1]).unwrap();
    let mut proactive = Emulator::start(&specs[2]).unwrap();
    let ready_m = messages.wait_webhook_ready(READY_LIMIT).await.unwrap();
    let ready_w = welcome.wait_stream_ready(READY_LIMIT).await.unwrap();
    let ready_p = proactive.wait_stream_ready(READY_LIMIT).await.unwrap();
    println!(
        "timing: cargo build {:.1} s; ready messages {:.1} s, welcome {:.1} s, proactive {:.1} s",
        build_time.as_secs_f64(),
        ready_m.as_secs_f64(),
        ready_w.as_secs_f64(),
        ready_p.as_secs_f64()
    );

    let world = Arc::new(World {
        messages,
        welcome,
        proactive,
        fake,
        openid,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .unwrap(),
        client,
        table,
        _store: store,
        stream: tokio::sync::Mutex::new(StreamReader::new(&endpoint, &stream_arn)),
        scene: Scene {
            bot_id: format!("28:{app_id}"),
            bot_name: "Teams Bot".into(),
            tenant: DEFAULT_TENANT.into(),
        },
        app_id,
        service_url,
        mapping: Mapping::default(),
    });

    let mut step = Instant::now();
    let mut lap = |name: &str| {
        println!("timing: {name} {:.1} s", step.elapsed().as_secs_f64());
        step = Instant::now();
    };
    install_gets_one_welcome(&world).await;
    lap("install -> welcome");
    fifty_duplicate_installs_one_welcome(&world).await;
    lap("50 duplicate installs");
    roster_welcome_inside_the_limits(&world).await;
    lap("roster welcome to 200");
    scheduled_event_sends_each_due_poll_once(&world).await;
    lap("scheduled polls");
    notify_ids_update_and_delete(&world).await;
    lap("notify/update/delete");
    fault_storm_loses_and_duplicates_nothing(&world).await;
    lap("fault storm");

    println!(
        "timing: whole test {:.1} s; connector calls {}; token fetches {}",
        t0.elapsed().as_secs_f64(),
        world.fake.calls().len(),
        world.fake.token_fetches()
    );
    let _ = world.client.delete_table().table_name(&world.table).send().await;
}

/// A team install through the messages Lambda -> the stream's team-install INSERT -> the welcome Lambda -> one
/// welcome in the team's General channel (the team id), with our token.
async fn install_gets_one_welcome(w: &World) {
    assert_eq!(w.deliver(&w.install_update(TEAM_A, "Alpha", "inst-a-1")).await, 200);
    let (records, delivery) = w.pump_welcome().await;
    let installs: Vec<&Value> = records
        .iter()
        .filter(|r| streams::record_kind(r) == Some("team-install"))
        .collect();
    assert_eq!(installs.len(), 1, "one team-install INSERT: {records:#?}");
    assert_eq!(streams::new_image_s(installs[0], "teamId"), Some(TEAM_A));
    assert!(delivery.dead_lettered.is_empty(), "{delivery:?}");
    assert_eq!(delivery.retries, 0, "{delivery:?}");
    assert_eq!(w.welcomes_in(TEAM_A), 1, "{:#?}", w.fake.activities(TEAM_A));
    let sent = w.fake.calls_to(Route::SendToConversation);
    let welcome = sent.iter().find(|c| c.ids == [TEAM_A.to_owned()]).unwrap();
    assert!(welcome.auth_valid, "the welcome carries our token");
    let text = welcome.body.as_ref().unwrap()["text"].as_str().unwrap().to_owned();
    assert!(text.starts_with("Welcome, team Alpha!"), "{text}");
    // The team's install is known to notify (channel sends need it).
    let install = dynamo::get_item(&w.client, &w.table, &format!("TEAM#{TEAM_A}"), "INSTALL")
        .await
        .unwrap();
    assert!(install.is_some(), "the team-install claim is stored");
}

/// 50 concurrent deliveries of the same install (conversationUpdate and installationUpdate mixed, same and
/// different activity ids) -> one team-install INSERT in the stream -> one welcome; the same stream batch
/// delivered twice (redelivery) -> still one welcome.
async fn fifty_duplicate_installs_one_welcome(w: &Arc<World>) {
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..50 {
        let w = w.clone();
        tasks.spawn(async move {
            let activity = match n % 4 {
                0 => w.install_update(TEAM_B, "Bravo", "dup-a"),
                1 => w.installation_update(TEAM_B, "Bravo", "dup-b"),
                2 => w.install_update(TEAM_B, "Bravo", &format!("dup-c{n}")),
                _ => w.installation_update(TEAM_B, "Bravo", &format!("dup-u{n}")),
            };
            w.deliver(&activity).await
        });
    }
    let statuses: Vec<u16> = tasks.join_all().await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    let (records, delivery) = w.pump_welcome().await;
    let installs: Vec<Value> = records
        .iter()
        .filter(|r| streams::record_kind(r) == Some("team-install"))
        .cloned()
        .collect();
    assert_eq!(
        installs.len(),
        1,
        "the stream holds one team-install INSERT for 50 deliveries: {installs:#?}"
    );
    assert_eq!(streams::new_image_s(&installs[0], "teamId"), Some(TEAM_B));
    assert!(delivery.dead_lettered.is_empty(), "{delivery:?}");
    assert_eq!(w.welcomes_in(TEAM_B), 1, "{:#?}", w.fake.activities(TEAM_B));

    // Redelivery of the same batch (the mapping retries a batch whose answer was lost, or a shard is re-read).
    let again = w.deliver_records(&installs).await;
    assert!(again.dead_lettered.is_empty(), "{again:?}");
    assert_eq!(w.welcomes_in(TEAM_B), 1, "a redelivered record does not welcome again");
}

/// WELCOME_ROSTER: the install of a 200-member team -> one team welcome + 200 first-contact claims (one INSERT
/// each) -> 200 personal welcomes, each member exactly one, no 429 at the fake (per-conversation limits and 50
/// requests/s per tenant).
async fn roster_welcome_inside_the_limits(w: &World) {
    let before = w.fake.calls().len();
    assert_eq!(w.deliver(&w.install_update(TEAM_R, "Roster", "inst-r-1")).await, 200);
    // The first-contact claims spread over the stream's shards, each delivered to its own welcome instance at
    // once, as in AWS: the instances share the tenant's limit through the table (shared pacing).
    let sharded = Mapping {
        shards: WELCOME_INSTANCES as usize,
        ..Mapping::default()
    };
    let (records, delivery) = w.pump_welcome_until_quiet(&sharded).await;
    let contacts: BTreeSet<&str> = records
        .iter()
        .filter(|r| streams::record_kind(r) == Some("first-contact"))
        .filter_map(|r| r.pointer("/dynamodb/NewImage/user/M/id/S").and_then(Value::as_str))
        .collect();
    assert_eq!(
        contacts.len(),
        ROSTER,
        "one first-contact INSERT per member; first records: {:#?}",
        records.iter().take(3).collect::<Vec<_>>()
    );
    assert!(delivery.dead_lettered.is_empty(), "nothing dead-lettered: {delivery:?}");
    assert_eq!(w.welcomes_in(TEAM_R), 1);
    let mut missing = Vec::new();
    let mut doubled = Vec::new();
    for n in 0..ROSTER {
        let member = roster_member("r", n);
        match w.welcomes_in(&w.personal(&member)) {
            1 => {}
            0 => missing.push(member.id),
            _ => doubled.push(member.id),
        }
    }
    assert!(missing.is_empty(), "members without a welcome: {missing:?}");
    assert!(doubled.is_empty(), "members welcomed twice: {doubled:?}");
    let calls = w.fake.calls()[before..].to_vec();
    let refused = throttled(&calls);
    assert!(
        refused.is_empty(),
        "{} calls answered 429 during the roster welcome, e.g. {:#?}",
        refused.len(),
        refused.first()
    );
    println!(
        "roster: {} connector calls, {} welcome invocations ({} retries)",
        calls.len(),
        delivery.invocations,
        delivery.retries
    );
}

/// `subscribe` through the messages Lambda -> the template's schedule payload sends the due poll once; a second
/// schedule event in the same slot (an EventBridge rule's envelope this time) sends nothing.
async fn scheduled_event_sends_each_due_poll_once(w: &World) {
    let conversation = w.personal(&poller());
    let subscribe = personal_message(&w.scene, &conversation, &poller(), "sub-1", &w.service_url, "subscribe").unwrap();
    assert_eq!(w.deliver(&subscribe).await, 200);
    let replies = w.fake.calls_to(Route::ReplyToActivity);
    let reply = replies
        .iter()
        .find(|c| c.ids.get(1).map(String::as_str) == Some("sub-1"))
        .unwrap();
    let text = reply.body.as_ref().unwrap()["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("Subscribed"), "{text}");
    // The poller's first contact welcome goes through the stream too.
    let (_, delivery) = w.pump_welcome().await;
    assert!(delivery.dead_lettered.is_empty());
    assert_eq!(w.welcomes_in(&conversation), 1);

    let polls = |w: &World| {
        w.fake
            .activities(&conversation)
            .iter()
            .filter(|a| a.activity["attachments"].as_array().is_some_and(|a| !a.is_empty()))
            .count()
    };
    // What the template's EventBridge Scheduler sends (its `Poll` event's Input; infra/check holds the template to
    // it), then an EventBridge rule's envelope, which the function also takes as the schedule.
    let scheduled: Value = serde_json::from_str(service::stream::TICK_INPUT).unwrap();
    let first = w.proactive.invoke(&scheduled).await.unwrap();
    assert_eq!(first["sent"], 1, "{first}");
    assert_eq!(polls(w), 1);
    let rule = json!({
        "version": "0", "id": "5c9a2d5e-0000-4000-8000-000000000001", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-11-21T12:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/poll"], "detail": {}
    });
    let second = w.proactive.invoke(&rule).await.unwrap();
    assert_eq!(second["sent"], 0, "{second}");
    assert_eq!(polls(w), 1, "the second schedule event in the same slot sends nothing");
}

/// A notify (direct invoke) returns ids; update and delete by those ids work at the fake. For a user (by AAD
/// object id: create-or-get the 1:1) and a new channel thread.
async fn notify_ids_update_and_delete(w: &World) {
    let conversation = w.personal(&poller());
    let send = json!({"to": {"user": {"aadObjectId": poller().aad_object_id, "tenantId": DEFAULT_TENANT}},
                      "message": {"text": "notify to Pat"}});
    let ids = w.proactive.invoke(&send).await.unwrap();
    assert_eq!(ids["conversationId"], conversation.as_str(), "{ids}");
    let activity_id = ids["activityId"].as_str().unwrap().to_owned();
    let stored = w.fake.activity(&conversation, &activity_id).expect("sent there");
    assert_eq!(stored.activity["text"], "notify to Pat");

    let update = json!({"update": {"conversationId": conversation, "activityId": activity_id},
                        "message": {"text": "notify to Pat (edited)"}});
    assert_eq!(w.proactive.invoke(&update).await.unwrap(), json!({}));
    let stored = w.fake.activity(&conversation, &activity_id).unwrap();
    assert_eq!(stored.activity["text"], "notify to Pat (edited)");
    assert_eq!(stored.updates, 1);

    let delete = json!({"delete": {"conversationId": conversation, "activityId": activity_id}});
    assert_eq!(w.proactive.invoke(&delete).await.unwrap(), json!({}));
    assert!(
        w.fake.activity(&conversation, &activity_id).is_none(),
        "deleted at the fake"
    );

    // A new thread in a channel of an installed team, then update and delete it.
    let thread = json!({"to": {"channel": {"id": CHANNEL_A, "teamId": TEAM_A}}, "message": {"text": "ops thread"}});
    let ids = w.proactive.invoke(&thread).await.unwrap();
    let thread_conv = ids["conversationId"].as_str().expect("ids").to_owned();
    let thread_id = ids["activityId"].as_str().unwrap().to_owned();
    assert!(thread_conv.starts_with(CHANNEL_A), "{thread_conv}");
    assert_eq!(w.texts_in(CHANNEL_A, "ops thread"), 1);
    let update = json!({"update": {"conversationId": thread_conv, "activityId": thread_id},
                        "message": {"text": "ops thread (edited)"}});
    assert_eq!(w.proactive.invoke(&update).await.unwrap(), json!({}));
    assert_eq!(w.texts_in(CHANNEL_A, "ops thread (edited)"), 1);
    let delete = json!({"delete": {"conversationId": thread_conv, "activityId": thread_id}});
    assert_eq!(w.proactive.invoke(&delete).await.unwrap(), json!({}));
    assert_eq!(w.texts_in(CHANNEL_A, "ops thread (edited)"), 0);

    // Unknown conversation: a function error with the notify's status and code, nothing sent.
    let unknown = json!({"to": {"conversation": {"id": "a:nobody"}}, "message": {"text": "x"}});
    let answer = w.notify(&unknown).await;
    assert_eq!(answer["status"], 404, "{answer}");
    assert_eq!(answer["error"]["code"], "UnknownConversation");
}

/// A notify error the caller may act on by retrying later: Teams kept refusing (429/502/503/504 after the
/// client's retries) or the outcome is unknown (504: the send may have arrived).
fn retryable_or_unknown(answer: &Value) -> bool {
    matches!(answer["status"].as_u64(), Some(429 | 502 | 503 | 504))
}

/// Faults for the calls `matching` selects: each entry of `plan` is one fault for one call, in order.
fn inject_plan(
    fake: &FakeTeams,
    plan: &[Fault],
    matching: impl Fn(&RecordedCall) -> bool + Clone + Send + Sync + 'static,
) {
    for fault in plan {
        fake.inject(fault.clone().when(matching.clone()).times(1));
    }
}

/// The text of a recorded call's JSON body.
fn body_text(call: &RecordedCall) -> Option<&str> {
    call.body.as_ref().and_then(|b| b["text"].as_str())
}

/// A fault storm on the fake — 429 with Retry-After, 502, 504, and answers delayed past the client's 15 s
/// timeout (the fake delivers, then answers late) — during a notify burst (24 direct invokes on 4 instances)
/// and a welcome burst (a 20-member team installed, its welcomes through the stream). Each target gets its own
/// scripted faults, so the outcome is deterministic whatever the interleaving:
///
/// - faults the client's retries absorb (1-3 transient refusals, at most 4 attempts in all): delivered once;
/// - a send past the timeout: delivered once by Teams, reported as an unknown outcome (notify: 504; welcome:
///   the record fails, its key stays pending, the mapping's retries find it pending, the record ends in the
///   on-failure destination) and never re-sent;
/// - four refusals in a row (retries exhausted): not delivered, reported (notify: 502; welcome: dead-lettered).
///
/// Nothing is duplicated; nothing is lost silently.
async fn fault_storm_loses_and_duplicates_nothing(w: &Arc<World>) {
    let delayed = CLIENT_TIMEOUT + Duration::from_secs(2);
    let throttle = Fault::throttle(Route::SendToConversation, 1);
    let bad_gateway = Fault::status(Route::SendToConversation, 502);
    let gateway_timeout = Fault::status(Route::SendToConversation, 504);
    let late = Fault::delay(Route::SendToConversation, delayed);
    // Per target index: the faults its sends meet, in order.
    let plan: Vec<Vec<Fault>> = vec![
        vec![throttle.clone()],
        vec![bad_gateway.clone()],
        vec![gateway_timeout.clone()],
        vec![throttle.clone(), bad_gateway.clone(), gateway_timeout.clone()],
        vec![late.clone()],
        vec![late.clone()],
        vec![
            bad_gateway.clone(),
            bad_gateway.clone(),
            gateway_timeout.clone(),
            bad_gateway.clone(),
        ],
        vec![throttle.clone(), throttle.clone()],
    ];
    const UNKNOWN: [usize; 2] = [4, 5];
    const EXHAUSTED: usize = 6;

    // --- The notify burst, to roster members (their 1:1 chats are known from the roster welcome). ---
    let f = &w.fake;
    let targets: Vec<(User, String)> = (0..24)
        .map(|n| {
            let m = roster_member("r", n);
            let c = w.personal(&m);
            (m, c)
        })
        .collect();
    let storm_text = |n: usize| format!("storm notice {n}");
    for (n, faults) in plan.iter().enumerate() {
        let conversation = targets[n].1.clone();
        inject_plan(f, faults, move |c| c.ids.first() == Some(&conversation));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (n, (member, _)) in targets.iter().enumerate() {
        let w = w.clone();
        let body = json!({"to": {"user": {"id": member.id, "tenantId": DEFAULT_TENANT}},
                          "message": {"text": storm_text(n)}, "idempotencyKey": format!("storm-{n}")});
        tasks.spawn(async move {
            let answer = w.notify(&body).await;
            (n, body, answer)
        });
    }
    let answers: BTreeMap<usize, (Value, Value)> = tasks
        .join_all()
        .await
        .into_iter()
        .map(|(n, b, a)| (n, (b, a)))
        .collect();
    f.clear_faults();

    for (n, (_, answer)) in &answers {
        let conversation = &targets[*n].1;
        let copies = w.texts_in(conversation, &storm_text(*n));
        assert!(copies <= 1, "notify {n} delivered {copies} times");
        if UNKNOWN.contains(n) {
            assert_eq!(answer["status"], 504, "notify {n}: outcome unknown: {answer}");
            assert_eq!(copies, 1, "notify {n}: Teams delivered it before answering late");
        } else if *n == EXHAUSTED {
            assert!(retryable_or_unknown(answer), "notify {n}: {answer}");
            assert_eq!(copies, 0, "notify {n}: refused four times, not delivered");
        } else {
            let id = answer["activityId"]
                .as_str()
                .unwrap_or_else(|| panic!("notify {n}: {answer}"));
            assert_eq!(copies, 1, "notify {n}");
            assert!(
                w.fake.activity(conversation, id).is_some(),
                "notify {n}: the ids answered are real"
            );
        }
    }
    println!(
        "storm: notify answers {:?}",
        answers
            .iter()
            .map(|(n, (_, a))| (n, a.get("status").cloned().unwrap_or(json!(200))))
            .filter(|(_, s)| *s != 200)
            .collect::<Vec<_>>()
    );

    // The caller retries every notify with the same idempotencyKey: the same ids for the delivered ones, 409
    // (in progress: the key stays pending, the message may have been delivered) for the unknown outcomes, and a
    // send for the one Teams refused (nothing was delivered, so its key was given up): exactly one new send.
    let sends_before = f.calls_to(Route::SendToConversation).len();
    for (n, (body, answer)) in &answers {
        let again = w.notify(body).await;
        if answer.get("activityId").is_some() {
            assert_eq!(&again, answer, "notify {n} replayed answers the same ids");
        } else if *n == EXHAUSTED {
            assert!(
                again.get("activityId").is_some(),
                "notify {n}: the retry sends: {again}"
            );
            assert_eq!(
                w.texts_in(&targets[*n].1, &storm_text(*n)),
                1,
                "notify {n}: delivered once"
            );
        } else {
            assert_eq!(again["status"], 409, "notify {n}: {again}");
        }
    }
    assert_eq!(
        f.calls_to(Route::SendToConversation).len(),
        sends_before + 1,
        "a replay sends only what was known not to be delivered"
    );

    // --- The welcome burst: a 20-member team installed under the storm. ---
    let member_welcome = |n: usize| {
        let prefix = format!("Welcome, {}!", roster_member("s", n).name);
        move |c: &RecordedCall| body_text(c).is_some_and(|t| t.starts_with(&prefix))
    };
    for (n, faults) in plan.iter().enumerate().filter(|(n, _)| *n != 5) {
        inject_plan(f, faults, member_welcome(n));
    }
    // The team welcome meets one 502; two members' 1:1 chats are created through a 502 and a 429.
    inject_plan(f, std::slice::from_ref(&bad_gateway), |c| {
        c.ids.first().is_some_and(|id| id == TEAM_S)
    });
    for (n, fault) in [
        (8, Fault::status(Route::CreateConversation, 502)),
        (9, Fault::throttle(Route::CreateConversation, 1)),
    ] {
        let id = roster_member("s", n).id;
        inject_plan(f, &[fault], move |c| {
            c.body.as_ref().is_some_and(|b| b["members"][0]["id"] == id.as_str())
        });
    }
    let before = f.calls().len();
    assert_eq!(w.deliver(&w.install_update(TEAM_S, "Storm", "inst-s-1")).await, 200);
    let (records, delivery) = w.pump_welcome_until_quiet(&w.mapping).await;
    f.clear_faults();
    let dead: BTreeSet<String> = delivery
        .dead_lettered
        .iter()
        .map(|r| {
            r.pointer("/dynamodb/NewImage/user/M/id/S")
                .and_then(Value::as_str)
                .unwrap_or("team-install")
                .to_owned()
        })
        .collect();
    assert_eq!(
        records
            .iter()
            .filter(|r| streams::record_kind(r) == Some("first-contact"))
            .count(),
        STORM_MEMBERS
    );
    assert_eq!(w.welcomes_in(TEAM_S), 1, "the team welcome, once");
    let mut counts = BTreeMap::new();
    for n in 0..STORM_MEMBERS {
        counts.insert(n, w.welcomes_in(&w.personal(&roster_member("s", n))));
    }
    assert!(
        counts.values().all(|c| *c <= 1),
        "welcomed twice under the storm: {counts:?}"
    );
    let expected_dead: BTreeSet<String> = [4].iter().map(|n| roster_member("s", *n).id).collect();
    assert_eq!(
        dead, expected_dead,
        "only the unknown-outcome welcome ends in the on-failure destination"
    );
    assert_eq!(
        counts[&4], 1,
        "the welcome past the timeout was delivered once and not re-sent"
    );
    // Refused four times (Teams did nothing): the key is given up, and the mapping's retry welcomes the member.
    assert_eq!(counts[&EXHAUSTED], 1, "refused, then welcomed once by the retry");
    for n in (0..STORM_MEMBERS).filter(|n| *n != 4 && *n != EXHAUSTED) {
        assert_eq!(counts[&n], 1, "member {n}: welcomed once through its faults");
    }
    let storm_calls = f.calls()[before..].to_vec();
    println!(
        "storm: welcome burst {} invocations, {} retries, dead-lettered {dead:?}; {} calls, {} answered 429",
        delivery.invocations,
        delivery.retries,
        storm_calls.len(),
        throttled(&storm_calls).len()
    );
}

//! The runtime's guarantees hold for the minimal example bot (`examples/minimal`, `minimal_bot::Minimal`) as for
//! the reference bot: it answers every message with `Hello from minimal: <text>` and welcomes with `Welcome to
//! minimal` once per team install and once per user's first personal chat. Microsoft's side is the fake Teams
//! service throughout (its rate limits on).
//!
//! - In-process over the embedded store, its change feed driving `service::background::run_change_feed` as the
//!   devserver does (`embedded_store_welcomes_exactly_once`), and over a fresh moto DynamoDB table, the welcomes
//!   driven by the table's real stream fed to `service::stream::welcome_batch` as the `welcome` Lambda is
//!   (`dynamodb_stream_welcomes_exactly_once`): 50 concurrent duplicate team-install deliveries -> one team
//!   welcome in General; a personal install then the first personal message -> one personal welcome; a first
//!   personal message alone -> one; no welcome for a channel created, a channel renamed or another user added.
//! - Pacing and retries of the bot's sends (`sends_are_paced_and_retried_exactly_once`): replies meeting 429
//!   (with `Retry-After`) and 502 are retried and delivered once, a team welcome meeting a 429 too, and a burst
//!   in one 1:1 chat over Teams' per-conversation limit is paced, with no limit violation at the fake.
//! - The deployed shape (`minimal_lambdas_under_cargo_lambda`): `minimal-messages` and `minimal-welcome` (package
//!   `minimal-bot`) under `cargo lambda watch`, state in moto, the client secret by ARN in moto's Secrets
//!   Manager, tokens signed by the fake OpenID server; the welcome function fed the table's real stream.
//!
//! The DynamoDB tests need `AWS_ENDPOINT_URL_DYNAMODB` (moto), the Lambda test also `cargo-lambda` and
//! `AWS_ENDPOINT_URL_SECRETS_MANAGER`; they print `skipped: ...` without them unless `REQUIRE_REAL_SERVICES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use connector::{ConnectorConfig, HttpConnector, ServiceUrlAllowlist};
use e2e::activity::{self, Channel, Scene, Team, User, channel_message, personal_message, post_signed};
use e2e::emulator::{Emulator, EmulatorSpec, build_bin};
use e2e::streams::{self, Delivery, Mapping, StreamReader};
use e2e::{E2eError, dynamo, env, secrets};
use fake_teams::openid::OpenIdServer;
use fake_teams::{DEFAULT_TENANT, FakeTeams, Fault, RecordedCall, Route, SeedTeam};
use serde_json::Value;
use service::api::BotIdentity;
use service::{App, Inbound};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{EmbeddedStore, Store, StreamItem, Timestamp};

const TEST: &str = "minimal_bot";
/// The minimal bot's welcome, team and personal alike.
const WELCOME: &str = "Welcome to minimal";
/// The team the bot is installed in (its General channel has the team's id).
const TEAM: &str = "19:team-minimal@thread.skype";
const CHANNEL: &str = "19:channel-minimal-ops@thread.skype";
/// A team the bot is never installed in: only non-install events happen there.
const OTHER_TEAM: &str = "19:team-other@thread.skype";
/// Concurrent deliveries of one team install.
const DUPLICATES: usize = 50;
/// The welcome kinds the template's event source mapping passes to the welcome function.
const WELCOME_KINDS: [&str; 2] = ["team-install", "first-contact"];
/// Teams' per-conversation send limit in any one second (also the fake's).
const SENDS_PER_SECOND: usize = 7;
/// How long an emulator may take to answer through its function (it may wait for the shared build lock).
const READY_LIMIT: Duration = Duration::from_secs(300);

fn user(id: &str, name: &str) -> User {
    User {
        id: format!("29:1{id}"),
        name: name.to_owned(),
        aad_object_id: format!("aad-{id}"),
    }
}

fn alice() -> User {
    user("alice", "Alice Example")
}

fn bob() -> User {
    user("bob", "Bob Builder")
}

fn carol() -> User {
    user("carol", "Carol Newcomer")
}

fn installer() -> User {
    user("installer", "Ina Installer")
}

fn team() -> Team {
    Team {
        id: TEAM.into(),
        name: "Minimal".into(),
    }
}

fn other_team() -> Team {
    Team {
        id: OTHER_TEAM.into(),
        name: "Other".into(),
    }
}

fn scene(fake: &FakeTeams) -> Scene {
    Scene {
        bot_id: format!("28:{}", fake.app_id()),
        bot_name: "Bot".into(),
        tenant: DEFAULT_TENANT.into(),
    }
}

/// The fake Teams service with the users and teams every test uses (Teams' per-conversation limits on).
async fn fake_teams(openid: Option<&OpenIdServer>, tenant_limit: usize) -> FakeTeams {
    let member = |u: &User| FakeTeams::member(&u.id, &u.name, &u.aad_object_id);
    let mut builder = FakeTeams::builder()
        .tenant_limit(tenant_limit)
        .user(DEFAULT_TENANT, member(&carol()))
        .team(
            SeedTeam::new(TEAM, "Minimal")
                .channel(CHANNEL, "Ops")
                .member(member(&alice()))
                .member(member(&bob())),
        )
        .team(SeedTeam::new(OTHER_TEAM, "Other").channel(CHANNEL.replace("ops", "new"), "New"));
    if let Some(openid) = openid {
        builder = builder.with_router(openid.router());
    }
    builder.start().await.unwrap()
}

/// The one of `install` delivery `n` of the duplicates: both kinds of install event, with the same and with
/// different activity ids, mixed (as Teams' redeliveries and its two install events arrive).
fn duplicate_install(scene: &Scene, service_url: &str, n: usize) -> Value {
    let (team, from) = (team(), installer());
    match n % 4 {
        0 => activity::team_install(scene, &team, &from, "dup-a", service_url),
        1 => activity::team_installation_add(scene, &team, &from, "dup-b", service_url),
        2 => activity::team_install(scene, &team, &from, &format!("dup-c{n}"), service_url),
        _ => activity::team_installation_add(scene, &team, &from, &format!("dup-u{n}"), service_url),
    }
}

/// The bot's messages in `conversation` (a channel's reply chains included) with exactly `text`.
fn texts_in(fake: &FakeTeams, conversation: &str, text: &str) -> usize {
    fake.activities(conversation)
        .iter()
        .filter(|a| a.activity["text"].as_str() == Some(text))
        .count()
}

fn welcomes_in(fake: &FakeTeams, conversation: &str) -> usize {
    texts_in(fake, conversation, WELCOME)
}

/// Every welcome Teams accepted, wherever it went.
fn welcome_sends(fake: &FakeTeams) -> Vec<RecordedCall> {
    fake.calls_to(Route::SendToConversation)
        .into_iter()
        .filter(|c| (200..300).contains(&c.status) && body_text(c) == Some(WELCOME))
        .collect()
}

fn body_text(call: &RecordedCall) -> Option<&str> {
    call.body.as_ref().and_then(|b| b["text"].as_str())
}

/// The reply calls (accepted or not) to the inbound activity `activity_id`.
fn replies_to(fake: &FakeTeams, activity_id: &str) -> Vec<RecordedCall> {
    fake.calls_to(Route::ReplyToActivity)
        .into_iter()
        .filter(|c| c.ids.get(1).map(String::as_str) == Some(activity_id))
        .collect()
}

/// The one accepted reply to `activity_id`: in `conversation`, with our token, threaded under it; its text.
#[track_caller]
fn single_reply(fake: &FakeTeams, activity_id: &str, conversation: &str) -> String {
    let accepted: Vec<RecordedCall> = replies_to(fake, activity_id)
        .into_iter()
        .filter(|c| (200..300).contains(&c.status))
        .collect();
    assert_eq!(accepted.len(), 1, "accepted replies to {activity_id}: {accepted:#?}");
    let reply = &accepted[0];
    assert_eq!(reply.ids, [conversation.to_owned(), activity_id.to_owned()]);
    assert!(
        reply.auth_valid,
        "the reply carries a token from the fake token endpoint"
    );
    let body = reply.body.as_ref().expect("a JSON reply");
    assert_eq!(body["type"], "message");
    assert_eq!(body["replyToId"], activity_id);
    body["text"].as_str().unwrap_or_default().to_owned()
}

/// The statuses answered to `calls`, in order.
fn statuses(calls: &[RecordedCall]) -> Vec<u16> {
    calls.iter().map(|c| c.status).collect()
}

/// The most of `calls` that arrived within one second.
fn busiest_second(calls: &[RecordedCall]) -> usize {
    fake_teams::busiest_second(&calls.iter().map(|c| c.at).collect::<Vec<_>>())
}

/// The minimal bot with the runtime's ports: `store`, the Connector client over HTTP to the fake (its token
/// endpoint, Teams' per-conversation limits and 30 requests/s per tenant, retries), inbound anonymous (the
/// tokens are checked under cargo-lambda below).
fn minimal_app(fake: &FakeTeams, store: Arc<dyn Store>) -> App {
    let vars = fake.env();
    let config = ConnectorConfig::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        .expect("the fake's configuration");
    App {
        identity: BotIdentity::new(format!("28:{}", fake.app_id()), "Minimal"),
        bot: Arc::new(minimal_bot::Minimal),
        connector: Arc::new(HttpConnector::new(&config).unwrap()),
        store,
        inbound: Inbound::Anonymous,
        service_urls: ServiceUrlAllowlist::new(&[fake.service_url()]).unwrap(),
        welcome_roster: false,
        known: std::sync::Arc::default(),
    }
}

/// The embedded store in a fresh folder, with its change feed run as the devserver runs it.
async fn embedded_app(fake: &FakeTeams, dir: &Path) -> App {
    let store = Arc::new(EmbeddedStore::open(dir.join("state.redb")).await.unwrap());
    let changes = store.subscribe_changes();
    let app = minimal_app(fake, store);
    tokio::spawn(service::background::run_change_feed(app.clone(), changes));
    app
}

/// How the welcome claims reach the welcome code.
enum Welcomes {
    /// The embedded store's change feed, handled in-process (the devserver).
    ChangeFeed,
    /// The table's stream read back from moto, delivered to `service::stream::welcome_batch` as the event source mapping
    /// delivers to the `welcome` Lambda.
    Stream(tokio::sync::Mutex<StreamReader>),
}

/// The minimal bot in-process over one store.
struct InProcess {
    app: App,
    fake: FakeTeams,
    scene: Scene,
    service_url: String,
    welcomes: Welcomes,
}

impl InProcess {
    async fn deliver(&self, activity: &Value) -> u16 {
        service::handle(&self.app, None, &serde_json::to_vec(activity).unwrap())
            .await
            .status
    }

    /// Lets the welcome claims so far be handled: the stream's new welcome records are delivered (and answered),
    /// or the change feed is given time until `settled` holds (bounded), and a little more so that a duplicate
    /// would show. Answers the welcome records delivered (none for the change feed).
    async fn pump(&self, settled: impl Fn(&Self) -> bool) -> Vec<Value> {
        match &self.welcomes {
            Welcomes::ChangeFeed => {
                let deadline = Instant::now() + Duration::from_secs(3);
                while !settled(self) && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
                Vec::new()
            }
            Welcomes::Stream(reader) => {
                let records = reader.lock().await.read_new().await.unwrap();
                let records = streams::filter_inserts(&records, &WELCOME_KINDS);
                let delivery = self.deliver_records(&records).await;
                assert!(delivery.dead_lettered.is_empty(), "{delivery:?}");
                assert_eq!(delivery.retries, 0, "{delivery:?}");
                records
            }
        }
    }

    /// `records` to the welcome code, as the event source mapping delivers them to the `welcome` Lambda.
    async fn deliver_records(&self, records: &[Value]) -> Delivery {
        let app = &self.app;
        streams::deliver(&Mapping::default(), records, |event| async move {
            let event: service::stream::DynamoDbEvent = serde_json::from_value(event).expect("a stream batch");
            let answer = service::stream::welcome_batch(app, &event)
                .await
                .expect("every record is reportable");
            Ok::<Value, E2eError>(serde_json::to_value(answer).expect("a JSON answer"))
        })
        .await
        .unwrap()
    }

    fn personal(&self, user: &User) -> String {
        self.fake
            .personal_conversation(DEFAULT_TENANT, &user.id)
            .expect("a user of the tenant")
    }

    fn is_stream(&self) -> bool {
        matches!(self.welcomes, Welcomes::Stream(_))
    }
}

fn of_kind<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| streams::record_kind(r) == Some(kind))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_welcomes_exactly_once() {
    let fake = fake_teams(None, 50).await;
    let dir = std::env::temp_dir().join(env::unique("minimal-embedded"));
    let app = embedded_app(&fake, &dir).await;
    let world = Arc::new(InProcess {
        app,
        scene: scene(&fake),
        service_url: fake.service_url(),
        fake,
        welcomes: Welcomes::ChangeFeed,
    });
    let t0 = Instant::now();
    welcomes_exactly_once(&world).await;
    println!("timing: embedded store scenario {:.1} s", t0.elapsed().as_secs_f64());
    drop(world);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_stream_welcomes_exactly_once() {
    let Some(endpoint) = env::dynamo_endpoint() else {
        env::skip(
            TEST,
            "AWS_ENDPOINT_URL_DYNAMODB is not set (start moto_server, see scripts/test)",
        );
        return;
    };
    let fake = fake_teams(None, 50).await;
    let client = dynamo::client_from_env().await;
    let table = env::unique("e2e-minimal");
    let store = dynamo::fresh_table(client.clone(), &table).await.unwrap();
    let stream_arn = dynamo::stream_arn(&client, &table).await.unwrap();
    let world = Arc::new(InProcess {
        app: minimal_app(&fake, Arc::new(store)),
        scene: scene(&fake),
        service_url: fake.service_url(),
        fake,
        welcomes: Welcomes::Stream(tokio::sync::Mutex::new(StreamReader::new(&endpoint, &stream_arn))),
    });
    let t0 = Instant::now();
    welcomes_exactly_once(&world).await;
    println!("timing: DynamoDB stream scenario {:.1} s", t0.elapsed().as_secs_f64());
    let _ = client.delete_table().table_name(&table).send().await;
}

/// The welcome guarantees, over whichever store and welcome path `w` has.
async fn welcomes_exactly_once(w: &Arc<InProcess>) {
    no_welcome_for_events_that_are_not_installs(w).await;
    duplicate_team_installs_welcome_once(w).await;
    personal_install_then_first_message_welcomes_once(w).await;
    first_personal_message_welcomes_once(w).await;
    // Three welcomes in all: the team, Alice's and Bob's 1:1 chats.
    let sends = welcome_sends(&w.fake);
    assert_eq!(sends.len(), 3, "{sends:#?}");
    assert!(sends.iter().all(|c| c.auth_valid), "every welcome carries our token");
}

/// Channel created, channel renamed, another user added to a team: 200, and no welcome, no install claim.
async fn no_welcome_for_events_that_are_not_installs(w: &InProcess) {
    let (scene, url, other) = (&w.scene, w.service_url.as_str(), other_team());
    let new_channel = (CHANNEL.replace("ops", "new"), "New");
    let events = [
        activity::channel_event(
            scene,
            &other,
            (&new_channel.0, new_channel.1),
            "channelCreated",
            &alice(),
            "n-1",
            url,
        ),
        activity::channel_event(
            scene,
            &other,
            (&new_channel.0, "Renamed"),
            "channelRenamed",
            &alice(),
            "n-2",
            url,
        ),
        activity::members_added(scene, &other, &[carol()], &alice(), "n-3", url),
    ];
    for event in &events {
        assert_eq!(w.deliver(event).await, 200, "{event}");
    }
    let records = w.pump(|w| !welcome_sends(&w.fake).is_empty()).await;
    assert!(records.is_empty(), "no welcome claim in the stream: {records:#?}");
    assert!(welcome_sends(&w.fake).is_empty(), "{:#?}", welcome_sends(&w.fake));
    assert_eq!(
        w.fake.calls_to(Route::SendToConversation).len(),
        0,
        "nothing sent at all"
    );
    assert_eq!(
        w.fake.calls_to(Route::CreateConversation).len(),
        0,
        "no 1:1 chat created"
    );
    assert!(
        w.app
            .store
            .team_install(OTHER_TEAM, Timestamp::now())
            .await
            .unwrap()
            .is_none(),
        "no install claimed for a team the bot was not added to"
    );
}

/// 50 concurrent deliveries of one team install (conversationUpdate and installationUpdate, same and different
/// ids) -> one claim (one stream INSERT) -> one `Welcome to minimal` in the team's General channel; the claim
/// handled again (a redelivered record) -> still one.
async fn duplicate_team_installs_welcome_once(w: &Arc<InProcess>) {
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..DUPLICATES {
        let w = Arc::clone(w);
        tasks.spawn(async move { w.deliver(&duplicate_install(&w.scene, &w.service_url, n)).await });
    }
    let answers = tasks.join_all().await;
    assert!(answers.iter().all(|s| *s == 200), "{answers:?}");

    let records = w.pump(|w| welcomes_in(&w.fake, TEAM) >= 1).await;
    if w.is_stream() {
        let installs = of_kind(&records, "team-install");
        assert_eq!(
            installs.len(),
            1,
            "one team-install INSERT for {DUPLICATES} deliveries: {records:#?}"
        );
        assert_eq!(streams::new_image_s(installs[0], "teamId"), Some(TEAM));
    }
    assert_eq!(welcomes_in(&w.fake, TEAM), 1, "{:#?}", w.fake.activities(TEAM));
    let sends = welcome_sends(&w.fake);
    assert_eq!(sends.len(), 1, "{sends:#?}");
    assert_eq!(
        sends[0].ids,
        [TEAM.to_owned()],
        "the welcome is posted in General (the team's id)"
    );

    // The claim handled again: the stream's record redelivered, or (either store) the welcome code run again.
    if w.is_stream() {
        let again = w.deliver_records(&records).await;
        assert!(again.dead_lettered.is_empty(), "{again:?}");
    }
    let install = w
        .app
        .store
        .team_install(TEAM, Timestamp::now())
        .await
        .unwrap()
        .expect("the team install is claimed");
    service::stream::welcome_item(w.app.clone(), StreamItem::TeamInstall(install))
        .await
        .unwrap();
    assert_eq!(
        welcomes_in(&w.fake, TEAM),
        1,
        "a redelivered claim does not welcome again"
    );
}

/// A personal install -> one `Welcome to minimal` in the 1:1 chat; the user's first message there -> its answer,
/// and no second welcome (one per tenant + user).
async fn personal_install_then_first_message_welcomes_once(w: &InProcess) {
    let conversation = w.personal(&alice());
    let install = activity::personal_installation_add(&w.scene, &conversation, &alice(), "pi-1", &w.service_url);
    assert_eq!(w.deliver(&install).await, 200);
    let records = w.pump(|w| welcomes_in(&w.fake, &conversation) >= 1).await;
    if w.is_stream() {
        let contacts = of_kind(&records, "first-contact");
        assert_eq!(contacts.len(), 1, "{records:#?}");
    }
    assert_eq!(welcomes_in(&w.fake, &conversation), 1);

    let message = personal_message(&w.scene, &conversation, &alice(), "pm-1", &w.service_url, "hello").unwrap();
    assert_eq!(w.deliver(&message).await, 200);
    assert_eq!(
        single_reply(&w.fake, "pm-1", &conversation),
        "Hello from minimal: hello"
    );
    let records = w.pump(|w| welcomes_in(&w.fake, &conversation) >= 2).await;
    assert!(
        of_kind(&records, "first-contact").is_empty(),
        "the install's claim won: {records:#?}"
    );
    assert_eq!(
        welcomes_in(&w.fake, &conversation),
        1,
        "one personal welcome: {:#?}",
        w.fake.activities(&conversation)
    );
}

/// A user's first personal message (no install event before it) -> its answer and one welcome; a second message
/// -> its answer and no second welcome.
async fn first_personal_message_welcomes_once(w: &InProcess) {
    let conversation = w.personal(&bob());
    for (id, text) in [("bm-1", "hi there"), ("bm-2", "still here")] {
        let message = personal_message(&w.scene, &conversation, &bob(), id, &w.service_url, text).unwrap();
        assert_eq!(w.deliver(&message).await, 200);
        assert_eq!(
            single_reply(&w.fake, id, &conversation),
            format!("Hello from minimal: {text}")
        );
        let records = w.pump(|w| welcomes_in(&w.fake, &conversation) >= 1).await;
        if w.is_stream() {
            let expected = usize::from(id == "bm-1");
            assert_eq!(of_kind(&records, "first-contact").len(), expected, "{records:#?}");
        }
        assert_eq!(welcomes_in(&w.fake, &conversation), 1, "after {id}");
    }
}

/// The bot's sends under Teams' refusals and limits, in-process over the embedded store with its change feed: a
/// reply answered 429 twice (Retry-After: 1) and one answered 502 are retried and each delivered once, the
/// 429s waited out; a team welcome answered 429 is retried and delivered once; a burst of 16 messages in one 1:1
/// chat (17 sends with the first-contact welcome, over Teams' 7 per second per conversation) is paced: every
/// reply delivered once and the fake answers no 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_are_paced_and_retried_exactly_once() {
    const BURST: usize = 16;
    let fake = fake_teams(None, 50).await;
    let dir = std::env::temp_dir().join(env::unique("minimal-pacing"));
    let app = embedded_app(&fake, &dir).await;
    let w = Arc::new(InProcess {
        app,
        scene: scene(&fake),
        service_url: fake.service_url(),
        fake,
        welcomes: Welcomes::ChangeFeed,
    });
    let t0 = Instant::now();

    // --- Replies meeting 429 (twice, Retry-After: 1) and 502 (once). ---
    let alice_dm = w.personal(&alice());
    let reply_to = |id: &'static str| move |c: &RecordedCall| c.ids.get(1).map(String::as_str) == Some(id);
    w.fake.inject(
        Fault::throttle(Route::ReplyToActivity, 1)
            .when(reply_to("r-429"))
            .times(2),
    );
    w.fake.inject(
        Fault::status(Route::ReplyToActivity, 502)
            .when(reply_to("r-502"))
            .times(1),
    );
    for (id, text) in [("r-429", "throttled"), ("r-502", "bad gateway")] {
        let message = personal_message(&w.scene, &alice_dm, &alice(), id, &w.service_url, text).unwrap();
        assert_eq!(w.deliver(&message).await, 200);
        assert_eq!(
            single_reply(&w.fake, id, &alice_dm),
            format!("Hello from minimal: {text}")
        );
        assert_eq!(
            texts_in(&w.fake, &alice_dm, &format!("Hello from minimal: {text}")),
            1,
            "{id}: delivered once"
        );
    }
    let throttled = replies_to(&w.fake, "r-429");
    assert_eq!(statuses(&throttled), [429, 429, 200], "{throttled:#?}");
    for pair in throttled.windows(2) {
        let waited = pair[1].at - pair[0].at;
        assert!(
            waited >= Duration::from_secs(1),
            "Retry-After: 1 was not waited out: {waited:?}"
        );
    }
    assert_eq!(statuses(&replies_to(&w.fake, "r-502")), [502, 200]);

    // --- A team welcome meeting a 429. ---
    w.fake.inject(
        Fault::throttle(Route::SendToConversation, 1)
            .when(|c| c.ids.first().map(String::as_str) == Some(TEAM))
            .times(1),
    );
    assert_eq!(w.deliver(&duplicate_install(&w.scene, &w.service_url, 0)).await, 200);
    w.pump(|w| welcomes_in(&w.fake, TEAM) >= 1).await;
    assert_eq!(welcomes_in(&w.fake, TEAM), 1);
    let to_team: Vec<RecordedCall> = w
        .fake
        .calls_to(Route::SendToConversation)
        .into_iter()
        .filter(|c| c.ids.first().map(String::as_str) == Some(TEAM))
        .collect();
    assert_eq!(statuses(&to_team), [429, 200], "{to_team:#?}");
    let injected_429s = 3;

    // --- A burst in Bob's 1:1 chat, over Teams' per-conversation limit. ---
    let bob_dm = w.personal(&bob());
    let before = w.fake.calls().len();
    let burst = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..BURST {
        let (w, bob_dm) = (Arc::clone(&w), bob_dm.clone());
        tasks.spawn(async move {
            let id = format!("b-{n}");
            let message =
                personal_message(&w.scene, &bob_dm, &bob(), &id, &w.service_url, &format!("burst {n}")).unwrap();
            w.deliver(&message).await
        });
    }
    let answers = tasks.join_all().await;
    assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    w.pump(|w| welcomes_in(&w.fake, &bob_dm) >= 1).await;
    let burst_time = burst.elapsed();
    for n in 0..BURST {
        assert_eq!(
            single_reply(&w.fake, &format!("b-{n}"), &bob_dm),
            format!("Hello from minimal: burst {n}")
        );
        assert_eq!(texts_in(&w.fake, &bob_dm, &format!("Hello from minimal: burst {n}")), 1);
    }
    assert_eq!(welcomes_in(&w.fake, &bob_dm), 1, "Bob's first contact, welcomed once");
    let calls = w.fake.calls()[before..].to_vec();
    let refused: Vec<&RecordedCall> = calls.iter().filter(|c| c.status == 429).collect();
    assert!(
        refused.is_empty(),
        "the fake answered 429 (a limit violation): {refused:#?}"
    );
    let to_bob: Vec<RecordedCall> = calls
        .iter()
        .filter(|c| c.ids.first() == Some(&bob_dm) && c.route != Route::Token)
        .cloned()
        .collect();
    assert_eq!(
        to_bob.len(),
        BURST + 1,
        "each reply and the welcome sent once: {to_bob:#?}"
    );
    assert!(
        busiest_second(&to_bob) <= SENDS_PER_SECOND,
        "sends in one 1:1 chat within one second: {}",
        busiest_second(&to_bob)
    );
    let all_429s = w.fake.calls().iter().filter(|c| c.status == 429).count();
    assert_eq!(all_429s, injected_429s, "only the injected 429s");
    println!(
        "timing: pacing scenario {:.1} s (burst of {} sends {:.1} s, busiest second {})",
        t0.elapsed().as_secs_f64(),
        to_bob.len(),
        burst_time.as_secs_f64(),
        busiest_second(&to_bob)
    );
    drop(w);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------------------------
// Under cargo-lambda
// ---------------------------------------------------------------------------------------------------------------

const PACKAGE: &str = "minimal-bot";
const MESSAGES_BIN: &str = "minimal-messages";
const WELCOME_BIN: &str = "minimal-welcome";

struct Deployed {
    // Field order is drop order: stop the functions before the servers they talk to.
    messages: Emulator,
    welcome: Emulator,
    fake: FakeTeams,
    openid: OpenIdServer,
    http: reqwest::Client,
    stream: tokio::sync::Mutex<StreamReader>,
    scene: Scene,
    app_id: String,
    service_url: String,
}

impl Deployed {
    /// POSTs a correctly signed activity to the messages function; answers the status.
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

    /// The stream's new welcome records, delivered to the welcome function as the mapping would.
    async fn pump_welcome(&self) -> (Vec<Value>, Delivery) {
        let records = self.stream.lock().await.read_new().await.unwrap();
        let records = streams::filter_inserts(&records, &WELCOME_KINDS);
        let delivery = self.deliver_records(&records).await;
        (records, delivery)
    }

    async fn deliver_records(&self, records: &[Value]) -> Delivery {
        streams::deliver(&Mapping::default(), records, |event| async move {
            self.welcome.invoke(&event).await
        })
        .await
        .unwrap()
    }

    fn personal(&self, user: &User) -> String {
        self.fake
            .personal_conversation(DEFAULT_TENANT, &user.id)
            .expect("a user of the tenant")
    }
}

fn lambda_spec(
    root: &Path,
    tools: &Path,
    work: &Path,
    bin: &str,
    concurrency: u32,
    env: Vec<(String, String)>,
) -> EmulatorSpec {
    EmulatorSpec {
        workspace_root: root.to_path_buf(),
        cargo_lambda_dir: tools.to_path_buf(),
        package: PACKAGE.into(),
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
async fn minimal_lambdas_under_cargo_lambda() {
    let Some((endpoint, cargo_lambda_dir)) = env::lambda_prerequisites(TEST) else {
        return;
    };
    let Some(secrets_endpoint) = env::secrets_endpoint(TEST) else {
        return;
    };
    let t0 = Instant::now();

    // --- Microsoft's side, with the OpenID server whose key signs the inbound tokens. ---
    let openid = OpenIdServer::new();
    let fake = fake_teams(Some(&openid), 50).await;
    let service_url = fake.service_url();
    let app_id = fake.app_id();

    // --- State: a fresh table (with its stream) in moto. ---
    let client = dynamo::client_from_env().await;
    let table = env::unique("e2e-minimal-lambda");
    let _store = dynamo::fresh_table(client.clone(), &table).await.unwrap();
    let stream_arn = dynamo::stream_arn(&client, &table).await.unwrap();

    // --- The functions' environment (docs/contract.md names), the client secret only by its ARN. ---
    let mut vars: Vec<(String, String)> = fake.env();
    vars.extend(
        [
            ("BOT_OPENID_METADATA_URL", OpenIdServer::metadata_url(fake.addr())),
            ("BOT_NAME", "Minimal".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    vars.extend(env::dynamo_function_env(&table, &endpoint));
    secrets::password_to_secrets_manager(&mut vars, &secrets_endpoint, &table)
        .await
        .unwrap();
    assert!(!vars.iter().any(|(k, _)| k == "MICROSOFT_APP_PASSWORD"));

    // --- Pre-build, then one `cargo lambda watch` per function. ---
    let root = env::workspace_root();
    let build = Instant::now();
    for bin in [MESSAGES_BIN, WELCOME_BIN] {
        build_bin(&root, PACKAGE, bin).unwrap();
    }
    let build_time = build.elapsed();
    let work: PathBuf = std::env::temp_dir().join(env::unique("e2e-minimal"));
    // Several messages instances so the duplicate installs really race; one welcome instance (a stream shard is
    // processed in order, one invocation at a time).
    let specs = [
        lambda_spec(&root, &cargo_lambda_dir, &work, MESSAGES_BIN, 4, vars.clone()),
        lambda_spec(&root, &cargo_lambda_dir, &work, WELCOME_BIN, 1, vars),
    ];
    for s in &specs {
        println!("cargo {}", s.args(&s.env_file()).join(" "));
    }
    let mut messages = Emulator::start(&specs[0]).unwrap();
    let mut welcome = Emulator::start(&specs[1]).unwrap();
    let ready_m = messages.wait_webhook_ready(READY_LIMIT).await.unwrap();
    let ready_w = welcome.wait_stream_ready(READY_LIMIT).await.unwrap();
    println!(
        "timing: cargo build {:.1} s; ready {MESSAGES_BIN} {:.1} s, {WELCOME_BIN} {:.1} s",
        build_time.as_secs_f64(),
        ready_m.as_secs_f64(),
        ready_w.as_secs_f64()
    );

    let world = Arc::new(Deployed {
        messages,
        welcome,
        scene: scene(&fake),
        fake,
        openid,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .unwrap(),
        stream: tokio::sync::Mutex::new(StreamReader::new(&endpoint, &stream_arn)),
        app_id,
        service_url,
    });
    let scenario = Instant::now();
    lambda_messages_are_answered_once(&world).await;
    lambda_team_install_welcomes_once(&world).await;

    // Every call to the Connector carried a token the fake issued (got with the secret read from its ARN), and
    // the only 429 answered was the one injected.
    let calls: Vec<RecordedCall> = world
        .fake
        .calls()
        .into_iter()
        .filter(|c| !matches!(c.route, Route::Token | Route::Unknown))
        .collect();
    assert!(calls.iter().all(|c| c.auth_valid), "a Connector call without our token");
    assert_eq!(
        calls.iter().filter(|c| c.status == 429).count(),
        1,
        "only the injected 429"
    );
    println!(
        "timing: scenario {:.1} s; whole test {:.1} s; {} Connector calls; token fetches {}",
        scenario.elapsed().as_secs_f64(),
        t0.elapsed().as_secs_f64(),
        calls.len(),
        world.fake.token_fetches()
    );
    let _ = client.delete_table().table_name(&table).send().await;
}

/// A personal message -> `Hello from minimal: hello` and, through the stream, one `Welcome to minimal`; a
/// channel message `<at>Bot</at>  hi ` -> `Hello from minimal: hi`; redeliveries of both ids -> nothing more;
/// a reply answered 429 once -> retried, delivered once.
async fn lambda_messages_are_answered_once(w: &Deployed) {
    let alice_dm = w.personal(&alice());
    let hello = personal_message(&w.scene, &alice_dm, &alice(), "p-1", &w.service_url, "hello").unwrap();
    assert_eq!(w.deliver(&hello).await, 200);
    assert_eq!(single_reply(&w.fake, "p-1", &alice_dm), "Hello from minimal: hello");
    let (records, delivery) = w.pump_welcome().await;
    assert_eq!(of_kind(&records, "first-contact").len(), 1, "{records:#?}");
    assert!(delivery.dead_lettered.is_empty(), "{delivery:?}");
    assert_eq!(
        welcomes_in(&w.fake, &alice_dm),
        1,
        "{:#?}",
        w.fake.activities(&alice_dm)
    );

    let channel = Channel {
        team_id: TEAM.into(),
        team_name: "Minimal".into(),
        channel_id: CHANNEL.into(),
        channel_name: "Ops".into(),
        conversation_id: format!("{CHANNEL};messageid=1714557600000"),
    };
    let hi = channel_message(&w.scene, &channel, &alice(), "c-1", &w.service_url, " hi ").unwrap();
    assert_eq!(hi["text"], "<at>Bot</at>  hi ");
    assert_eq!(w.deliver(&hi).await, 200);
    assert_eq!(
        single_reply(&w.fake, "c-1", &channel.conversation_id),
        "Hello from minimal: hi"
    );

    // Teams redelivers both activities (same ids), twice each, at once: answered 200, acted on never again.
    let before = w.fake.calls().len();
    let answers =
        futures_util::future::join_all([&hello, &hello, &hi, &hi].map(|a| async move { w.deliver(a).await })).await;
    assert_eq!(answers, [200; 4]);
    assert_eq!(
        replies_to(&w.fake, "p-1").len(),
        1,
        "a redelivered message is answered once"
    );
    assert_eq!(
        replies_to(&w.fake, "c-1").len(),
        1,
        "a redelivered message is answered once"
    );
    let (records, _) = w.pump_welcome().await;
    assert!(records.is_empty(), "{records:#?}");
    assert_eq!(w.fake.calls().len(), before, "nothing is sent for a redelivery");
    assert_eq!(welcomes_in(&w.fake, &alice_dm), 1);

    // A reply Teams throttles once: retried after Retry-After, delivered once.
    w.fake.inject(
        Fault::throttle(Route::ReplyToActivity, 1)
            .when(|c| c.ids.get(1).map(String::as_str) == Some("p-2"))
            .times(1),
    );
    let again = personal_message(&w.scene, &alice_dm, &alice(), "p-2", &w.service_url, "again").unwrap();
    assert_eq!(w.deliver(&again).await, 200);
    assert_eq!(single_reply(&w.fake, "p-2", &alice_dm), "Hello from minimal: again");
    assert_eq!(statuses(&replies_to(&w.fake, "p-2")), [429, 200]);
    assert_eq!(texts_in(&w.fake, &alice_dm, "Hello from minimal: again"), 1);
}

/// 50 concurrent deliveries of one team install through the messages function -> one team-install INSERT in the
/// real stream -> one `Welcome to minimal` in General from the welcome function; the batch redelivered -> still
/// one.
async fn lambda_team_install_welcomes_once(w: &Arc<Deployed>) {
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..DUPLICATES {
        let w = Arc::clone(w);
        tasks.spawn(async move { w.deliver(&duplicate_install(&w.scene, &w.service_url, n)).await });
    }
    let answers = tasks.join_all().await;
    assert!(answers.iter().all(|s| *s == 200), "{answers:?}");

    let (records, delivery) = w.pump_welcome().await;
    let installs = of_kind(&records, "team-install");
    assert_eq!(
        installs.len(),
        1,
        "one team-install INSERT for {DUPLICATES} deliveries: {records:#?}"
    );
    assert_eq!(streams::new_image_s(installs[0], "teamId"), Some(TEAM));
    assert!(delivery.dead_lettered.is_empty(), "{delivery:?}");
    assert_eq!(welcomes_in(&w.fake, TEAM), 1, "{:#?}", w.fake.activities(TEAM));
    let to_general: Vec<RecordedCall> = welcome_sends(&w.fake)
        .into_iter()
        .filter(|c| c.ids == [TEAM.to_owned()])
        .collect();
    assert_eq!(to_general.len(), 1, "the team welcome is posted in General");

    let again = w.deliver_records(&records).await;
    assert!(again.dead_lettered.is_empty(), "{again:?}");
    assert_eq!(
        welcomes_in(&w.fake, TEAM),
        1,
        "a redelivered record does not welcome again"
    );
    // Two welcomes in all: Alice's first contact and the team.
    assert_eq!(welcome_sends(&w.fake).len(), 2);
}

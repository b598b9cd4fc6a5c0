//! The reference bot's echo follows the user's message end to end (issue 15; docs/contract.md "Edits and
//! deletes"): a signed message is echoed, a `messageUpdate` of it makes the bot PUT its echo
//! (`/v3/conversations/{id}/activities/{echoId}`) with `You sent <new text> which was <n> characters`, a
//! `messageDelete` makes it DELETE the echo, and exact redeliveries of either do nothing more. In a 1:1 chat and
//! in a channel thread, against the fake Teams service (token endpoint, v3 Connector, OpenID keys that sign the
//! inbound tokens):
//!
//! - through the devserver binary (`cargo run --package devserver`, embedded store): `devserver_echo_follows_edits`;
//! - through the `messages` Lambda under `cargo lambda watch`, state in a fresh moto DynamoDB table:
//!   `messages_lambda_echo_follows_edits`. It also counts the item writes per message on the table's stream: an
//!   echo is 2 (the dedupe claim and the echo's mapping, kept a week), a command 1.
//!
//! The Lambda test needs `AWS_ENDPOINT_URL_DYNAMODB` (moto) and `cargo-lambda`; it prints `skipped: ...` without
//! them unless `REQUIRE_REAL_SERVICES=1`. The devserver test needs only cargo.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use e2e::activity::{Channel, Scene, User, channel_message, personal_message, post_signed};
use e2e::emulator::{Emulator, EmulatorSpec, build_bin, build_function};
use e2e::streams::{self, StreamReader};
use e2e::{dynamo, env};
use fake_teams::openid::OpenIdServer;
use fake_teams::{DEFAULT_TENANT, FakeTeams, RecordedCall, Route, SeedTeam};
use serde_json::{Value, json};
use std::fs::File;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TEAM_ID: &str = "19:team-echo@thread.skype";
const CHANNEL_ID: &str = "19:channel-echo-general@thread.skype";
/// How long a server may take to answer through the bot (it may wait for the shared build lock).
const READY_LIMIT: Duration = Duration::from_secs(300);
/// How long the bot keeps an echo's mapping (`reference_bot::edits::ECHO_KEEP`).
const ECHO_KEEP_SECS: i64 = 7 * 24 * 60 * 60;

fn alice() -> User {
    User {
        id: "29:1alice".into(),
        name: "Alice Example".into(),
        aad_object_id: "aad-alice".into(),
    }
}

fn channel() -> Channel {
    Channel {
        team_id: TEAM_ID.into(),
        team_name: "Echo".into(),
        channel_id: CHANNEL_ID.into(),
        channel_name: "General".into(),
        conversation_id: format!("{CHANNEL_ID};messageid=1714557600000"),
    }
}

/// The fake Teams service with the OpenID server merged in, knowing Alice and the team.
async fn fake_teams(openid: &OpenIdServer) -> FakeTeams {
    let team = SeedTeam::new(TEAM_ID, "Echo")
        .channel(CHANNEL_ID, "General")
        .member(FakeTeams::member(&alice().id, &alice().name, &alice().aad_object_id));
    FakeTeams::builder()
        .with_router(openid.router())
        .team(team)
        .start()
        .await
        .unwrap()
}

/// The bot's environment for the fake: its app, token endpoint, serviceUrl allowlist and OpenID keys.
fn bot_env(fake: &FakeTeams) -> Vec<(String, String)> {
    let mut vars = fake.env();
    vars.push((
        "BOT_OPENID_METADATA_URL".to_owned(),
        OpenIdServer::metadata_url(fake.addr()),
    ));
    vars
}

/// A later timestamp at each call (each edit is a new edit for the runtime's dedupe).
fn next_timestamp() -> String {
    static MINUTE: AtomicU64 = AtomicU64::new(0);
    let minute = MINUTE.fetch_add(1, Ordering::Relaxed);
    format!("2026-11-30T{:02}:{:02}:00.000Z", 10 + minute / 60, minute % 60)
}

/// `message` (as sent) edited to `text`, as Teams sends it: `messageUpdate` with the message's own id,
/// `channelData.eventType: editMessage`, a later timestamp, the bot's mention kept where the message had one.
fn edited(message: &Value, scene: &Scene, text: &str) -> Value {
    let mut v = message.clone();
    v["type"] = json!("messageUpdate");
    v["channelData"]["eventType"] = json!("editMessage");
    v["timestamp"] = json!(next_timestamp());
    let mentioned = message["text"]
        .as_str()
        .is_some_and(|t| t.starts_with(&format!("<at>{}</at>", scene.bot_name)));
    v["text"] = json!(if mentioned {
        format!("<at>{}</at> {text}", scene.bot_name)
    } else {
        text.to_owned()
    });
    v
}

/// `message` deleted, as Teams sends it: `messageDelete` with the message's own id, no text.
fn deleted(message: &Value) -> Value {
    let mut v = message.clone();
    v["type"] = json!("messageDelete");
    v["channelData"]["eventType"] = json!("softDeleteMessage");
    v["timestamp"] = json!(next_timestamp());
    let object = v.as_object_mut().unwrap();
    for field in ["text", "textFormat", "entities"] {
        object.remove(field);
    }
    v
}

/// Where the bot under test listens, and how to post to it as the Bot Framework does.
struct Bot<'a> {
    fake: &'a FakeTeams,
    openid: &'a OpenIdServer,
    http: reqwest::Client,
    /// `POST` here: the devserver's `/api/messages`, or the Lambda's Function URL path.
    messages_url: String,
    scene: Scene,
}

impl Bot<'_> {
    /// POSTs `activity` with a correctly signed token; expects 200.
    async fn deliver(&self, activity: &Value) {
        let service_url = activity["serviceUrl"].as_str().unwrap();
        let app_id = self.fake.app_id();
        let response = post_signed(
            &self.http,
            self.openid,
            &app_id,
            service_url,
            &self.messages_url,
            activity,
        )
        .await
        .expect("the bot answers");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, 200, "activity {} refused: {body}", activity["id"]);
    }

    /// The echo of the user's message `message_id` in `conversation`: the reply the fake stored, with its id.
    fn echo_of(&self, conversation: &str, message_id: &str) -> (String, String) {
        let echoes: Vec<_> = self
            .fake
            .activities(conversation)
            .into_iter()
            .filter(|a| a.reply_to.as_deref() == Some(message_id))
            .collect();
        assert_eq!(echoes.len(), 1, "replies to {message_id}: {echoes:#?}");
        let text = echoes[0].activity["text"].as_str().unwrap_or_default().to_owned();
        (echoes[0].id.clone(), text)
    }

    /// The text the fake now holds for activity `id` in `conversation`, and how often it was updated; `None`
    /// once it was deleted.
    fn stored(&self, conversation: &str, id: &str) -> Option<(String, u32)> {
        self.fake
            .activity(conversation, id)
            .map(|a| (a.activity["text"].as_str().unwrap_or_default().to_owned(), a.updates))
    }

    /// Every call to `route` for activity `id` in `conversation`.
    fn calls(&self, route: Route, conversation: &str, id: &str) -> Vec<RecordedCall> {
        self.fake
            .calls_to(route)
            .into_iter()
            .filter(|c| c.ids == [conversation.to_owned(), id.to_owned()])
            .collect()
    }
}

/// Asserts `call` is an accepted `method` on `/v3/conversations/{conversation}/activities/{id}` with our token.
#[track_caller]
fn assert_call(call: &RecordedCall, method: &str, conversation: &str, id: &str) {
    assert_eq!(call.method, method, "{call:#?}");
    assert!(
        call.path.contains("/v3/conversations/") && call.path.ends_with(&format!("/activities/{id}")),
        "{}",
        call.path
    );
    assert_eq!(call.ids, [conversation.to_owned(), id.to_owned()]);
    assert!(call.auth_valid, "with a token from the fake token endpoint: {call:#?}");
    assert_eq!(call.status, 200, "{call:#?}");
}

/// The whole scenario in one conversation: echo, edit (PUT), its redelivery (nothing), a second edit (PUT), the
/// delete (DELETE), its redelivery (nothing), an edit after the delete (nothing).
async fn echo_follows_edits_in(bot: &Bot<'_>, conversation: &str, message: &Value) {
    let message_id = message["id"].as_str().unwrap();
    bot.deliver(message).await;
    let (echo_id, text) = bot.echo_of(conversation, message_id);
    assert_eq!(text, "You sent Hello there which was 11 characters");

    // An edit: the echo is updated in place, with the new text, quoted plain as the echo was.
    let edit = edited(message, &bot.scene, "Hello again 😀");
    bot.deliver(&edit).await;
    let puts = bot.calls(Route::UpdateActivity, conversation, &echo_id);
    assert_eq!(puts.len(), 1, "{puts:#?}");
    assert_call(&puts[0], "PUT", conversation, &echo_id);
    let body = puts[0].body.as_ref().unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["text"], "You sent Hello again 😀 which was 13 characters");
    assert_eq!(body["textFormat"], "plain");
    assert_eq!(body["id"], echo_id.as_str());
    assert_eq!(
        bot.stored(conversation, &echo_id),
        Some(("You sent Hello again 😀 which was 13 characters".to_owned(), 1))
    );

    // Teams redelivers the same edit: nothing more.
    bot.deliver(&edit).await;
    assert_eq!(bot.calls(Route::UpdateActivity, conversation, &echo_id).len(), 1);

    // A second edit: updated again, with the newest text.
    bot.deliver(&edited(message, &bot.scene, "Bye")).await;
    let puts = bot.calls(Route::UpdateActivity, conversation, &echo_id);
    assert_eq!(puts.len(), 2, "{puts:#?}");
    assert_call(&puts[1], "PUT", conversation, &echo_id);
    assert_eq!(
        bot.stored(conversation, &echo_id),
        Some(("You sent Bye which was 3 characters".to_owned(), 2))
    );

    // The delete: the echo is deleted.
    let delete = deleted(message);
    bot.deliver(&delete).await;
    let deletes = bot.calls(Route::DeleteActivity, conversation, &echo_id);
    assert_eq!(deletes.len(), 1, "{deletes:#?}");
    assert_call(&deletes[0], "DELETE", conversation, &echo_id);
    assert_eq!(bot.stored(conversation, &echo_id), None, "the echo is gone");

    // Its redelivery, and a late edit: nothing more.
    bot.deliver(&delete).await;
    bot.deliver(&edited(message, &bot.scene, "too late")).await;
    assert_eq!(bot.calls(Route::DeleteActivity, conversation, &echo_id).len(), 1);
    assert_eq!(bot.calls(Route::UpdateActivity, conversation, &echo_id).len(), 2);
    assert_eq!(
        bot.fake
            .activities(conversation)
            .iter()
            .filter(|a| a.reply_to.as_deref() == Some(message_id))
            .count(),
        0,
        "no new reply to the message"
    );
}

/// An edit and a delete of a command (answered, not echoed) touch nothing.
async fn commands_are_not_followed(bot: &Bot<'_>, conversation: &str, help: &Value) {
    let help_id = help["id"].as_str().unwrap();
    bot.deliver(help).await;
    let (answer_id, text) = bot.echo_of(conversation, help_id);
    assert!(text.starts_with("Here is what I can do"), "{text}");
    bot.deliver(&edited(help, &bot.scene, "hello")).await;
    bot.deliver(&deleted(help)).await;
    assert!(bot.calls(Route::UpdateActivity, conversation, &answer_id).is_empty());
    assert!(bot.calls(Route::DeleteActivity, conversation, &answer_id).is_empty());
    assert_eq!(bot.stored(conversation, &answer_id).map(|(_, n)| n), Some(0));
}

/// The scenario in Alice's 1:1 chat and in a channel thread (`prefix` keeps the ids apart).
async fn echo_follows_edits(bot: &Bot<'_>, prefix: &str) {
    let scene = &bot.scene;
    let service_url = bot.fake.service_url();
    let dm = bot.fake.personal_conversation(DEFAULT_TENANT, &alice().id).unwrap();
    let personal = |id: &str, text: &str| {
        personal_message(scene, &dm, &alice(), &format!("{prefix}{id}"), &service_url, text).unwrap()
    };
    echo_follows_edits_in(bot, &dm, &personal("p-1", "Hello there")).await;
    commands_are_not_followed(bot, &dm, &personal("p-2", "help")).await;

    let channel = channel();
    let in_channel = |id: &str, text: &str| {
        channel_message(scene, &channel, &alice(), &format!("{prefix}{id}"), &service_url, text).unwrap()
    };
    echo_follows_edits_in(bot, &channel.conversation_id, &in_channel("c-1", "Hello there")).await;
    commands_are_not_followed(bot, &channel.conversation_id, &in_channel("c-2", "help")).await;
}

/// The devserver binary as a child process in its own process group; dropping it stops the group.
struct Devserver {
    child: Child,
    log: PathBuf,
    dir: PathBuf,
}

impl Devserver {
    /// `cargo run --package devserver --bin devserver` with `vars` (already built, so it starts at once).
    fn start(vars: &[(String, String)], dir: PathBuf) -> Self {
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("devserver.log");
        let out = File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = Command::new("cargo")
            .args(["run", "--quiet", "--package", "devserver", "--bin", "devserver"])
            .current_dir(env::workspace_root())
            // Only what this test sets decides the bot's configuration.
            .env_remove("MICROSOFT_APP_PASSWORD_SECRET_ARN")
            .env_remove("BOT_ALLOWED_TENANTS")
            .env_remove("BOT_TOKEN_ISSUER")
            .env_remove("BOT_NAME")
            .env_remove("WELCOME_ROSTER")
            .env_remove("TABLE_NAME")
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap();
        Self { child, log, dir }
    }

    /// Waits until `GET url` answers 200.
    async fn wait_ready(&mut self, url: &str) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the devserver exited ({status}):\n{}", self.log_tail());
            }
            if http.get(url).send().await.is_ok_and(|r| r.status().as_u16() == 200) {
                return;
            }
            assert!(
                started.elapsed() < READY_LIMIT,
                "the devserver did not answer:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// `kill <sig> -- -<pgid>`: the group this guard started (cargo and the devserver it runs).
    fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Devserver {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("devserver log {}:\n{}", self.log.display(), self.log_tail());
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            self.signal("-TERM");
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            if matches!(self.child.try_wait(), Ok(None)) {
                self.signal("-KILL");
            }
        }
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devserver_echo_follows_edits() {
    let openid = OpenIdServer::new();
    let fake = fake_teams(&openid).await;
    let root = env::workspace_root();
    build_bin(&root, "devserver", "devserver").unwrap();

    let port = env::free_port().unwrap();
    let dir = std::env::temp_dir().join(env::unique("e2e-echo-devserver"));
    let mut vars = bot_env(&fake);
    vars.extend(
        [
            ("BIND_ADDR", format!("127.0.0.1:{port}")),
            ("STATE_STORE", "embedded".to_owned()),
            ("STATE_PATH", dir.join("store.redb").display().to_string()),
            ("BOT_ADMIN_TOKEN", "echo-edits-admin-token".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let mut devserver = Devserver::start(&vars, dir);
    let base = format!("http://127.0.0.1:{port}");
    devserver.wait_ready(&format!("{base}/healthz")).await;

    let bot = Bot {
        fake: &fake,
        openid: &openid,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        messages_url: format!("{base}/api/messages"),
        scene: Scene {
            bot_id: format!("28:{}", fake.app_id()),
            bot_name: "Teams Bot".into(),
            tenant: DEFAULT_TENANT.into(),
        },
    };
    echo_follows_edits(&bot, "d-").await;
    drop(devserver);
}

/// The item writes on the table's stream since the last read: (event, pk, kind, expiresAt).
async fn writes(reader: &mut StreamReader) -> Vec<(String, String, String, Option<i64>)> {
    reader
        .read_new()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let image = if r["eventName"] == "REMOVE" {
                "OldImage"
            } else {
                "NewImage"
            };
            let s = |name: &str| {
                r.pointer(&format!("/dynamodb/{image}/{name}/S"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let expires = r
                .pointer(&format!("/dynamodb/{image}/expiresAt/N"))
                .and_then(Value::as_str)
                .and_then(|n| n.parse().ok());
            (
                r["eventName"].as_str().unwrap_or_default().to_owned(),
                s("pk"),
                s("kind"),
                expires,
            )
        })
        .collect()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Item writes per message, counted on the table's stream (condition checks write nothing): a command is
/// answered with one (the dedupe claim), an echo with two (the claim and the echo's mapping, with a week's TTL);
/// the edit of an echo adds one (its claim), its delete two (its claim and the mapping's removal).
async fn writes_per_message(bot: &Bot<'_>, reader: &mut StreamReader, dm: &str) {
    let service_url = bot.fake.service_url();
    let personal = |id: &str, text: &str| personal_message(&bot.scene, dm, &alice(), id, &service_url, text).unwrap();
    // The first message records the conversation and claims the first contact: steady state after it.
    bot.deliver(&personal("w-0", "first")).await;
    writes(reader).await;

    bot.deliver(&personal("w-1", "help")).await;
    let command = writes(reader).await;
    let kinds: Vec<&str> = command.iter().map(|w| w.2.as_str()).collect();
    assert_eq!(kinds, ["seen"], "a command: {command:#?}");

    let echoed = personal("w-2", "count my writes");
    let before = unix_now();
    bot.deliver(&echoed).await;
    let echo = writes(reader).await;
    let mut kinds: Vec<&str> = echo.iter().map(|w| w.2.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["seen", "state"], "an echo: {echo:#?}");
    let mapping = echo.iter().find(|w| w.2 == "state").unwrap();
    assert_eq!(mapping.0, "INSERT");
    assert_eq!(mapping.1, format!("STATE#C#{dm}"));
    let expires = mapping.3.expect("the mapping expires");
    assert!(
        (before + ECHO_KEEP_SECS..=unix_now() + ECHO_KEEP_SECS).contains(&expires),
        "kept a week: expires at {expires}, now {before}"
    );
    // The welcome function's stream filter does not pass it.
    let records: Vec<Value> = echo
        .iter()
        .map(|w| json!({"eventName": w.0, "dynamodb": {"NewImage": {"kind": {"S": w.2}}}}))
        .collect();
    assert!(streams::filter_inserts(&records, &["team-install", "first-contact"]).is_empty());

    bot.deliver(&edited(&echoed, &bot.scene, "counted")).await;
    let edit = writes(reader).await;
    let kinds: Vec<&str> = edit.iter().map(|w| w.2.as_str()).collect();
    assert_eq!(kinds, ["seen"], "an edit: {edit:#?}");

    bot.deliver(&deleted(&echoed)).await;
    let delete = writes(reader).await;
    let mut events: Vec<(&str, &str)> = delete.iter().map(|w| (w.0.as_str(), w.2.as_str())).collect();
    events.sort_unstable();
    assert_eq!(
        events,
        [("INSERT", "seen"), ("REMOVE", "state")],
        "a delete: {delete:#?}"
    );
    println!(
        "item writes per message: command {}, echo {}, edit of an echo {}, delete of an echo {}",
        command.len(),
        echo.len(),
        edit.len(),
        delete.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_lambda_echo_follows_edits() {
    const TEST: &str = "messages_lambda_echo_follows_edits";
    let Some((endpoint, cargo_lambda_dir)) = env::lambda_prerequisites(TEST) else {
        return;
    };
    let openid = OpenIdServer::new();
    let fake = fake_teams(&openid).await;

    let client = dynamo::client_from_env().await;
    let table = env::unique("e2e-echo-edits");
    dynamo::fresh_table(client.clone(), &table).await.unwrap();
    let stream_arn = dynamo::stream_arn(&client, &table).await.unwrap();
    let mut reader = StreamReader::new(&endpoint, &stream_arn);

    let mut function_env = bot_env(&fake);
    function_env.extend(env::dynamo_function_env(&table, &endpoint));
    let root = env::workspace_root();
    build_function(&root, "messages").unwrap();
    let spec = EmulatorSpec::messages(cargo_lambda_dir, function_env, "e2e-echo-lambda").unwrap();
    let mut lambda = Emulator::start(&spec).unwrap();
    lambda.wait_webhook_ready(READY_LIMIT).await.unwrap();

    let bot = Bot {
        fake: &fake,
        openid: &openid,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        messages_url: lambda.url("/api/messages"),
        scene: Scene {
            bot_id: format!("28:{}", fake.app_id()),
            bot_name: "Teams Bot".into(),
            tenant: DEFAULT_TENANT.into(),
        },
    };
    let dm = fake.personal_conversation(DEFAULT_TENANT, &alice().id).unwrap();
    writes_per_message(&bot, &mut reader, &dm).await;
    echo_follows_edits(&bot, "l-").await;
    drop(lambda);
    let _ = client.delete_table().table_name(&table).send().await;
}

//! The real `devserver` binary (the reference bot) is the whole bot on either store, and work it acknowledged
//! survives its crash (issue #15 items 5 and 8). Microsoft's side is the fake Teams service, inbound tokens are
//! signed by the fake OpenID server, and each devserver is a child process of the test (so it can be killed with
//! SIGKILL and started again on the same state).
//!
//! - `dynamodb_devserver_welcomes_once_and_a_restart_sends_nothing_more`: `STATE_STORE=dynamodb` on a fresh moto
//!   table (its stream enabled as the template declares it): 50 concurrent duplicate deliveries of one team
//!   install and a first personal chat -> exactly one team welcome and one personal welcome, sent by the
//!   devserver reading the table's stream itself; killed and started again, it reads the stream from its trim
//!   horizon, hands both claims to the welcome code again, and sends nothing more; killed right after the 200 of
//!   a second team's install, the next start welcomes that team once.
//! - `embedded_devserver_welcomes_once`: the same scenario on the embedded store gives the same counts.
//! - `a_claim_committed_without_its_welcome_is_welcomed_at_the_next_start`: a team-install claim written to a store
//!   file with no devserver running (what a crash right after the claim's commit leaves) -> the devserver started
//!   on that file sends its welcome exactly once; started again after that, it sends nothing more.
//! - `killed_right_after_the_200_the_devserver_welcomes_after_restart`: rounds of install, 200, SIGKILL at once,
//!   start again on the same file. Where the kill left the welcome (its idempotency key in the file) decides what
//!   is due: not started or sent -> exactly one welcome after the restart; killed between the key's claim and the
//!   send's answer (outcome unknown, the one case docs/decisions `2026-11-21-exactly-once.md` leaves) -> never a
//!   second one.
//!
//! The DynamoDB test needs `AWS_ENDPOINT_URL_DYNAMODB` (moto, `scripts/test`); it prints `skipped: ...` without it
//! unless `REQUIRE_REAL_SERVICES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use e2e::activity::{self, Scene, Team, User, post_signed};
use e2e::devserver::Devserver;
use e2e::{dynamo, env};
use fake_teams::openid::OpenIdServer;
use fake_teams::{DEFAULT_TENANT, FakeTeams, Route, SeedTeam};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TEST: &str = "devserver_stream";
const TEAM: &str = "19:team-stream@thread.skype";
const SECOND_TEAM: &str = "19:team-second@thread.skype";
/// Concurrent deliveries of one team install.
const DUPLICATES: usize = 50;
/// The most a welcome may take to arrive (a bound on the poll, not a timing goal).
const WELCOME_LIMIT: Duration = Duration::from_secs(30);
/// After the expected welcomes arrived, how long the counts must stay put (a duplicate would show in it).
const SETTLE: Duration = Duration::from_secs(2);
const ADMIN_TOKEN: &str = "devserver-stream-admin-token";

fn user(id: &str, name: &str) -> User {
    User {
        id: format!("29:1{id}"),
        name: name.to_owned(),
        aad_object_id: format!("aad-{id}"),
    }
}

fn installer() -> User {
    user("installer", "Ina Installer")
}

fn bob() -> User {
    user("bob", "Bob Builder")
}

fn team(id: &str) -> Team {
    Team {
        id: id.into(),
        name: "Stream".into(),
    }
}

/// The fake Teams service (with the OpenID server's routes) and the OpenID server that signs inbound tokens.
async fn microsoft() -> (FakeTeams, OpenIdServer) {
    let openid = OpenIdServer::new();
    let member = |u: &User| FakeTeams::member(&u.id, &u.name, &u.aad_object_id);
    let fake = FakeTeams::builder()
        .tenant_limit(50)
        .user(DEFAULT_TENANT, member(&bob()))
        .team(SeedTeam::new(TEAM, "Stream").member(member(&installer())))
        .team(SeedTeam::new(SECOND_TEAM, "Second").member(member(&installer())))
        .with_router(openid.router())
        .start()
        .await
        .unwrap();
    (fake, openid)
}

/// The stream records (or change events) `server` handled so far.
fn handled(server: &Devserver) -> usize {
    server.log_text().matches("stream record handled").count()
}

/// Microsoft's side, and how to talk to a devserver as Teams does.
struct World {
    fake: FakeTeams,
    openid: OpenIdServer,
    scene: Scene,
    http: reqwest::Client,
    /// The devserver's environment (without its address): the fake's configuration and the store's.
    vars: Vec<(String, String)>,
}

impl World {
    async fn new(store_vars: Vec<(String, String)>) -> Arc<Self> {
        let (fake, openid) = microsoft().await;
        let mut vars = fake.env();
        vars.push((
            "BOT_OPENID_METADATA_URL".into(),
            OpenIdServer::metadata_url(fake.addr()),
        ));
        vars.push(("BOT_NAME".into(), "Stream Bot".into()));
        vars.push(("BOT_ADMIN_TOKEN".into(), ADMIN_TOKEN.into()));
        vars.push(("RUST_LOG".into(), "info".into()));
        vars.extend(store_vars);
        let scene = Scene {
            bot_id: format!("28:{}", fake.app_id()),
            bot_name: "Stream Bot".into(),
            tenant: DEFAULT_TENANT.into(),
        };
        Arc::new(Self {
            fake,
            openid,
            scene,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            vars,
        })
    }

    /// POSTs `activity` to the devserver with a correctly signed token; answers the status.
    async fn deliver(&self, server: &Devserver, activity: &Value) -> u16 {
        let (app_id, service_url) = (self.fake.app_id(), self.fake.service_url());
        let url = server.url("/api/messages");
        let response = post_signed(&self.http, &self.openid, &app_id, &service_url, &url, activity).await;
        response.expect("the devserver answers").status().as_u16()
    }

    /// Welcomes Teams accepted in `conversation` (texts starting with `Welcome`, docs/contract.md).
    fn welcomes_in(&self, conversation: &str) -> usize {
        self.fake
            .calls_to(Route::SendToConversation)
            .into_iter()
            .filter(|c| (200..300).contains(&c.status))
            .filter(|c| c.ids.first().map(String::as_str) == Some(conversation))
            .filter(|c| {
                c.body
                    .as_ref()
                    .and_then(|b| b["text"].as_str())
                    .is_some_and(|t| t.starts_with("Welcome"))
            })
            .count()
    }

    /// Every welcome Teams accepted, wherever it went.
    fn all_welcomes(&self) -> usize {
        self.fake
            .calls_to(Route::SendToConversation)
            .into_iter()
            .filter(|c| (200..300).contains(&c.status))
            .filter(|c| {
                c.body
                    .as_ref()
                    .and_then(|b| b["text"].as_str())
                    .is_some_and(|t| t.starts_with("Welcome"))
            })
            .count()
    }

    fn personal(&self, user: &User) -> String {
        self.fake
            .personal_conversation(DEFAULT_TENANT, &user.id)
            .expect("a user of the tenant")
    }

    /// Waits (bounded by [`WELCOME_LIMIT`]) until `done` holds; answers how long it took, or `None`.
    async fn wait_until(&self, done: impl Fn(&Self) -> bool) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < WELCOME_LIMIT {
            if done(self) {
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        done(self).then(|| start.elapsed())
    }

    /// For [`SETTLE`], the welcome count must not change (a duplicate would show here).
    async fn assert_settled(&self, expected: usize) {
        let start = Instant::now();
        while start.elapsed() < SETTLE {
            assert_eq!(self.all_welcomes(), expected, "a welcome sent twice");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The one of `install` delivery `n` of the duplicates: both kinds of install event, with the same and with
/// different activity ids, mixed (as Teams' redeliveries and its two install events arrive).
fn duplicate_install(w: &World, team_id: &str, n: usize) -> Value {
    let (team, from, url) = (team(team_id), installer(), w.fake.service_url());
    match n % 4 {
        0 => activity::team_install(&w.scene, &team, &from, "dup-a", &url),
        1 => activity::team_installation_add(&w.scene, &team, &from, "dup-b", &url),
        2 => activity::team_install(&w.scene, &team, &from, &format!("dup-c{n}"), &url),
        _ => activity::team_installation_add(&w.scene, &team, &from, &format!("dup-u{n}"), &url),
    }
}

/// 50 concurrent duplicate install deliveries and Bob's first personal message -> one team welcome in General and
/// one personal welcome in Bob's 1:1, and no more. Answers the time from sending Bob's first message until both
/// welcomes were there.
async fn welcomes_exactly_once(w: &Arc<World>, server: &Arc<Devserver>) -> Duration {
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..DUPLICATES {
        let (w, server) = (Arc::clone(w), Arc::clone(server));
        tasks.spawn(async move { w.deliver(&server, &duplicate_install(&w, TEAM, n)).await });
    }
    let answers = tasks.join_all().await;
    assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    let dm = w.personal(&bob());
    let message = activity::personal_message(&w.scene, &dm, &bob(), "bob-1", &w.fake.service_url(), "hi").unwrap();
    let delivered = Instant::now();
    assert_eq!(w.deliver(server, &message).await, 200);

    let waited = w
        .wait_until(|w| w.welcomes_in(TEAM) >= 1 && w.welcomes_in(&dm) >= 1)
        .await;
    assert!(
        waited.is_some(),
        "team welcomes {}, personal welcomes {} after {WELCOME_LIMIT:?}; devserver log:\n{}",
        w.welcomes_in(TEAM),
        w.welcomes_in(&dm),
        server.log_text()
    );
    let took = delivered.elapsed();
    w.assert_settled(2).await;
    assert_eq!(w.welcomes_in(TEAM), 1, "one team welcome for {DUPLICATES} deliveries");
    assert_eq!(
        w.welcomes_in(&dm),
        1,
        "one personal welcome for the first personal chat"
    );
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_devserver_welcomes_once_and_a_restart_sends_nothing_more() {
    if env::dynamo_endpoint().is_none() {
        env::skip(
            TEST,
            "AWS_ENDPOINT_URL_DYNAMODB is not set (start moto_server, see scripts/test)",
        );
        return;
    }
    let client = dynamo::client_from_env().await;
    let table = env::unique("e2e-devserver-stream");
    // The table as the template declares it: its stream on, NEW_AND_OLD_IMAGES.
    dynamo::fresh_table(client.clone(), &table).await.unwrap();
    let endpoint = env::dynamo_endpoint().unwrap_or_default();
    let vars: Vec<(String, String)> = env::dynamo_function_env(&table, &endpoint)
        .into_iter()
        .filter(|(k, _)| k != "RUST_LOG")
        .collect();
    let w = World::new(vars).await;
    let work = std::env::temp_dir().join(env::unique("devserver-dynamodb"));

    let server = Arc::new(Devserver::start(&w.vars, &work, "first.log").await.unwrap());
    let took = welcomes_exactly_once(&w, &server).await;
    println!(
        "timing: DynamoDB devserver, personal welcome {:.2} s after the first personal message was sent",
        took.as_secs_f64()
    );
    assert!(
        server
            .log_text()
            .contains("reading the table's stream from its trim horizon"),
        "the devserver read the table's stream:\n{}",
        server.log_text()
    );
    Arc::into_inner(server).unwrap().kill();

    // Started again: the stream from its trim horizon hands both claims over again; both are done.
    let again = Devserver::start(&w.vars, &work, "second.log").await.unwrap();
    let replayed = w.wait_until(|_| handled(&again) >= 2).await;
    assert!(
        replayed.is_some(),
        "both claims handed over again:\n{}",
        again.log_text()
    );
    w.assert_settled(2).await;

    // Killed right after the 200 of a second team's install: the next start welcomes it, once.
    let install = duplicate_install(&w, SECOND_TEAM, 0);
    assert_eq!(w.deliver(&again, &install).await, 200);
    again.kill();
    let at_kill = w.welcomes_in(SECOND_TEAM);
    let (pk, sk) = store::keys::idempotency(&format!("welcome:team:{SECOND_TEAM}"));
    let key = dynamo::get_item(&client, &table, &pk, &sk).await.unwrap();
    let pending = key
        .as_ref()
        .is_some_and(|k| k.get("state").and_then(|v| v.as_s().ok()).map(String::as_str) == Some("pending"));
    let third = Devserver::start(&w.vars, &work, "third.log").await.unwrap();
    if pending {
        // Killed between the welcome key's claim and the send's answer: the outcome is unknown, and it is never
        // sent again while the key is pending (docs/decisions 2026-11-21-exactly-once.md).
        println!("the kill left the second team's welcome pending (outcome unknown)");
        w.assert_settled(2 + at_kill).await;
    } else {
        let waited = w.wait_until(|w| w.welcomes_in(SECOND_TEAM) >= 1).await;
        assert!(waited.is_some(), "the second team welcomed:\n{}", third.log_text());
        w.assert_settled(3).await;
        assert_eq!(w.welcomes_in(SECOND_TEAM), 1);
    }
    assert_eq!(w.welcomes_in(TEAM), 1);
    drop(third);
    let _ = client.delete_table().table_name(&table).send().await;
    let _ = std::fs::remove_dir_all(&work);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_devserver_welcomes_once() {
    let work = std::env::temp_dir().join(env::unique("devserver-embedded"));
    let vars = vec![
        ("STATE_STORE".to_owned(), "embedded".to_owned()),
        ("STATE_PATH".to_owned(), work.join("store.redb").display().to_string()),
    ];
    let w = World::new(vars).await;
    let server = Arc::new(Devserver::start(&w.vars, &work, "devserver.log").await.unwrap());
    let took = welcomes_exactly_once(&w, &server).await;
    println!(
        "timing: embedded devserver, personal welcome {:.2} s after the first personal message was sent",
        took.as_secs_f64()
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&work);
}

/// The claim the webhook commits for a team install, for `team_id`.
fn install_claim(w: &World, team_id: &str) -> store::TeamInstall {
    store::TeamInstall {
        team_id: team_id.to_owned(),
        team_name: Some("Stream".into()),
        tenant_id: DEFAULT_TENANT.into(),
        service_url: w.fake.service_url(),
        conversation_id: team_id.into(),
        bot: models::ChannelAccount {
            id: w.scene.bot_id.clone(),
            name: Some(w.scene.bot_name.clone()),
            ..models::ChannelAccount::default()
        },
        installed_by: None,
        claimed_at: store::Timestamp::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_committed_without_its_welcome_is_welcomed_at_the_next_start() {
    let work = std::env::temp_dir().join(env::unique("devserver-recovery"));
    let file = work.join("store.redb");
    let vars = vec![
        ("STATE_STORE".to_owned(), "embedded".to_owned()),
        ("STATE_PATH".to_owned(), file.display().to_string()),
    ];
    let w = World::new(vars).await;
    {
        // What a crash right after the webhook's commit leaves: the claim in the file, its event gone.
        use store::WelcomeClaims as _;
        let store = store::EmbeddedStore::open(&file).await.unwrap();
        let claimed = store
            .claim_team_install(&install_claim(&w, TEAM), store::Timestamp::now())
            .await
            .unwrap();
        assert!(claimed.won());
    }
    let server = Devserver::start(&w.vars, &work, "first.log").await.unwrap();
    let waited = w.wait_until(|w| w.welcomes_in(TEAM) >= 1).await;
    assert!(
        waited.is_some(),
        "the committed claim was never welcomed:\n{}",
        server.log_text()
    );
    w.assert_settled(1).await;
    server.kill();

    // Started again after the welcome was sent: the claim is handed over again, and nothing more is sent.
    let again = Devserver::start(&w.vars, &work, "second.log").await.unwrap();
    let replayed = w.wait_until(|_| handled(&again) >= 1).await;
    assert!(replayed.is_some(), "the claim handed over again:\n{}", again.log_text());
    w.assert_settled(1).await;
    assert_eq!(w.welcomes_in(TEAM), 1);
    drop(again);
    let _ = std::fs::remove_dir_all(&work);
}

/// What a killed devserver left of a team's welcome in its store file: its idempotency key's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Left {
    /// No key: the welcome had not started (the change event was lost with the process).
    NotStarted,
    /// The key is pending: killed between the key's claim and the send's answer (the outcome is unknown).
    Pending,
    /// The key is done: the welcome was sent.
    Done,
}

async fn left_in(file: &Path, team_id: &str) -> Left {
    use store::Table as _;
    let store = store::EmbeddedStore::open(file).await.unwrap();
    let (pk, sk) = store::keys::idempotency(&format!("welcome:team:{team_id}"));
    match store.get(&pk, &sk, store::Timestamp::now()).await.unwrap() {
        None => Left::NotStarted,
        Some(item) if item.data.get("state").and_then(Value::as_str) == Some("done") => Left::Done,
        Some(_) => Left::Pending,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_right_after_the_200_the_devserver_welcomes_after_restart() {
    const ROUNDS: usize = 8;
    let mut seen: Vec<Left> = Vec::new();
    let mut pending_delivered = 0;
    for round in 0..ROUNDS {
        let work = std::env::temp_dir().join(env::unique("devserver-kill"));
        let file = work.join("store.redb");
        let vars = vec![
            ("STATE_STORE".to_owned(), "embedded".to_owned()),
            ("STATE_PATH".to_owned(), file.display().to_string()),
        ];
        let w = World::new(vars).await;
        let server = Devserver::start(&w.vars, &work, "killed.log").await.unwrap();
        let install = duplicate_install(&w, TEAM, 0);
        assert_eq!(w.deliver(&server, &install).await, 200);
        server.kill();
        let at_kill = w.welcomes_in(TEAM);
        let left = left_in(&file, TEAM).await;
        seen.push(left);

        let again = Devserver::start(&w.vars, &work, "restarted.log").await.unwrap();
        match left {
            // Acknowledged and not started: the restart must send it, once.
            Left::NotStarted | Left::Done => {
                let waited = w.wait_until(|w| w.welcomes_in(TEAM) >= 1).await;
                assert!(
                    waited.is_some(),
                    "round {round} ({left:?}): the acknowledged install was never welcomed:\n{}",
                    again.log_text()
                );
                w.assert_settled(1).await;
            }
            // Outcome unknown (docs/decisions 2026-11-21-exactly-once.md): never sent again while the key is
            // pending; Teams has it at most once.
            Left::Pending => {
                assert!(at_kill <= 1);
                pending_delivered += at_kill;
                w.assert_settled(at_kill).await;
            }
        }
        drop(again);
        let _ = std::fs::remove_dir_all(&work);
    }
    let count = |l: Left| seen.iter().filter(|s| **s == l).count();
    println!(
        "rounds: {ROUNDS}; left by the kill: not started {}, pending (outcome unknown; Teams had it in {}) {}, done {}",
        count(Left::NotStarted),
        pending_delivered,
        count(Left::Pending),
        count(Left::Done)
    );
}

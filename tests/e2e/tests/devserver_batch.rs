//! Batch sends end to end through the real `devserver` binary (the reference bot, embedded store): the notify
//! contract's batch forms on `POST /api/notify` (admin token), the runtime's Connector client and the fake Teams
//! service's batch endpoints (docs/contract.md "Batch sends").
//!
//! - `devserver_batch_to_users_and_team_reaches_each_once`: after a signed team install (the store learns the
//!   tenant's serviceUrl and the install), `{"to": {"users": [...], "tenantId"}}` answers an operation id (Teams'
//!   first answer a 429, retried); `{"batch": {...}}` reads `Completed`, the counts and the unreachable user as a
//!   failed entry; each reachable user has the message exactly once; `{"to": {"team": {"id"}}}` reaches the
//!   team's members; a batch for an unknown team answers 404.
//!
//! `cargo test -p e2e --test devserver_batch` (builds the devserver binary once).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use e2e::activity::{self, Scene, Team, User, post_signed};
use e2e::devserver::Devserver;
use fake_teams::openid::OpenIdServer;
use fake_teams::{DEFAULT_TENANT, FakeTeams, Fault, Route, SeedTeam};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

const TEAM: &str = "19:team-batch@thread.skype";
const ADMIN_TOKEN: &str = "devserver-batch-admin-token";

fn user(id: &str) -> User {
    User {
        id: format!("29:1{id}"),
        name: format!("User {id}"),
        aad_object_id: format!("aad-{id}"),
    }
}

async fn start_devserver(vars: &[(String, String)], work: &std::path::Path) -> Devserver {
    let mut vars = vars.to_vec();
    vars.push(("BOT_ADMIN_TOKEN".into(), ADMIN_TOKEN.into()));
    vars.push(("STATE_PATH".into(), work.join("state.redb").display().to_string()));
    vars.push(("RUST_LOG".into(), "info".into()));
    Devserver::start(&vars, work, "devserver.log").await.unwrap()
}

struct World {
    fake: FakeTeams,
    openid: OpenIdServer,
    server: Devserver,
    http: reqwest::Client,
    _work: PathBuf,
}

impl World {
    async fn notify(&self, operation: &Value) -> (u16, Value) {
        let resp = self
            .http
            .post(self.server.url("/api/notify"))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(operation.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn until_final(&self, operation_id: &str) -> Value {
        for _ in 0..300 {
            let (status, body) = self
                .notify(&json!({"batch": {"operationId": operation_id, "tenantId": DEFAULT_TENANT}}))
                .await;
            assert_eq!(status, 200, "{body}");
            if body["state"] == "Completed" || body["state"] == "Failed" {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the batch never completed");
    }

    fn texts_of(&self, user: &User) -> Vec<String> {
        let chat = self.fake.personal_conversation(DEFAULT_TENANT, &user.id).unwrap();
        self.fake
            .activities(&chat)
            .iter()
            .map(|a| a.activity["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

async fn world() -> World {
    let openid = OpenIdServer::new();
    let member = |u: &User| FakeTeams::member(&u.id, &u.name, &u.aad_object_id);
    let mut builder = FakeTeams::builder();
    for n in 0..4 {
        builder = builder.user(DEFAULT_TENANT, member(&user(&format!("u{n}"))));
    }
    let team = SeedTeam::new(TEAM, "Batch")
        .member(member(&user("alice")))
        .member(member(&user("bob")));
    let fake = builder.team(team).with_router(openid.router()).start().await.unwrap();
    fake.batch_settings(Duration::from_millis(100), 10);
    let mut vars = fake.env();
    vars.push((
        "BOT_OPENID_METADATA_URL".into(),
        OpenIdServer::metadata_url(fake.addr()),
    ));
    vars.push(("BOT_NAME".into(), "Batch Bot".into()));
    let work = std::env::temp_dir().join(format!("devserver-batch-{}-{}", std::process::id(), fastrand_u64()));
    let server = start_devserver(&vars, &work).await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    World {
        fake,
        openid,
        server,
        http,
        _work: work,
    }
}

fn fastrand_u64() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos() % u128::from(u64::MAX)).unwrap_or_default())
        .unwrap_or_default()
}

#[tokio::test]
async fn devserver_batch_to_users_and_team_reaches_each_once() {
    let w = world().await;
    let scene = Scene {
        bot_id: format!("28:{}", w.fake.app_id()),
        bot_name: "Batch Bot".into(),
        tenant: DEFAULT_TENANT.into(),
    };
    let team = Team {
        id: TEAM.into(),
        name: "Batch".into(),
    };
    let install = activity::team_install(&scene, &team, &user("alice"), "install-1", &w.fake.service_url());
    let (app_id, service_url) = (w.fake.app_id(), w.fake.service_url());
    let url = w.server.url("/api/messages");
    let response = post_signed(&w.http, &w.openid, &app_id, &service_url, &url, &install).await;
    let status = response.unwrap().status().as_u16();
    assert!((200..300).contains(&status), "{status}");

    w.fake.inject(Fault::throttle(Route::BatchUsers, 1).times(1));
    let mut people: Vec<Value> = (0..4).map(|n| json!({"id": user(&format!("u{n}")).id})).collect();
    people.push(json!({"id": "29:1stranger"}));
    let (status, body) = w
        .notify(&json!({"to": {"users": people, "tenantId": DEFAULT_TENANT}, "message": {"text": "Batch hello"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let operation_id = body["operationId"].as_str().unwrap().to_owned();
    let posts: Vec<u16> = w.fake.calls_to(Route::BatchUsers).iter().map(|c| c.status).collect();
    assert_eq!(posts, [429, 201]);

    let report = w.until_final(&operation_id).await;
    assert_eq!(report["state"], "Completed", "{report}");
    assert_eq!(report["statusMap"]["201"], 4, "{report}");
    assert_eq!(report["failedEntries"][0]["id"], "29:1stranger", "{report}");
    for n in 0..4 {
        assert_eq!(w.texts_of(&user(&format!("u{n}"))), ["Batch hello"], "u{n}");
    }

    let (status, body) = w
        .notify(&json!({"to": {"team": {"id": TEAM}}, "message": {"text": "Team hello"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let report = w.until_final(body["operationId"].as_str().unwrap()).await;
    assert_eq!(report["statusMap"]["201"], 2, "{report}");
    for name in ["alice", "bob"] {
        assert!(w.texts_of(&user(name)).contains(&"Team hello".to_owned()), "{name}");
    }

    let (status, body) = w
        .notify(&json!({"to": {"team": {"id": "19:nope@thread.skype"}}, "message": {"text": "x"}}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("UnknownTeam")),
        "{body}"
    );
}

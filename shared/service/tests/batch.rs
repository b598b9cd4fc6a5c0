#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Batch sends (issue 18) through the notify operations ([`service::proactive::notify_json`], the same parser the
//! `proactive` function's direct invoke and the devserver's `POST /api/notify` use), the real Connector client
//! ([`HttpConnector`]: token, allowlist, pacing, retries) and the fake Teams service's batch endpoints:
//!
//! - `a_batch_to_users_reaches_each_once_and_reports_the_unreachable`: `{"to": {"users": [...], "tenantId"}}`
//!   answers an operation id (after a 429 the client retried); each reachable user has the message once; the
//!   `{"batch": ...}` read answers `Completed`, the counts by status and the failed entries (read across pages).
//! - `the_same_idempotency_key_answers_the_same_operation_and_sends_nothing_more`.
//! - `a_team_batch_reaches_its_members_and_a_channel_batch_posts_in_each_channel`.
//! - `where_batch_is_not_allowed_each_user_gets_one_paced_send`: anonymous (an emulator's loopback Connector):
//!   one create-or-get and one send per user, the final report in the answer, no batch request.
//! - `a_tenant_wide_send_without_batch_is_refused`: 422, nothing sent.
//!
//! `cargo test -p service --test batch`

use auth::{AuthConfig, Authenticator};
use connector::{ConnectorConfig, HttpConnector, RetryPolicy, ServiceUrlAllowlist};
use fake_teams::{DEFAULT_TENANT, FakeTeams, Fault, Route, SeedTeam};
use models::{ChannelAccount, ConversationAccount, ConversationReference, ConversationType};
use serde_json::{Value, json};
use service::api::BotIdentity;
use service::{App, Inbound, Timestamp};
use std::sync::Arc;
use std::time::Duration;
use store::{MemoryStore, TeamInstall};

const TEAM: &str = "19:team-general@thread.skype";
const OPS: &str = "19:ops@thread.skype";

fn users(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("29:1user-{i}")).collect()
}

struct World {
    fake: FakeTeams,
    app: App,
}

async fn world(anonymous: bool) -> World {
    let mut builder = FakeTeams::builder();
    for (i, id) in users(5).iter().enumerate() {
        builder = builder.user(
            DEFAULT_TENANT,
            FakeTeams::member(id, &format!("User {i}"), &format!("aad-{i}")),
        );
    }
    let team = SeedTeam::new(TEAM, "Contoso")
        .channel(OPS, "Ops")
        .member(FakeTeams::member("29:1alice", "Alice", "aad-alice"))
        .member(FakeTeams::member("29:1bob", "Bob", "aad-bob"));
    let fake = builder.team(team).start().await.unwrap();
    fake.batch_settings(Duration::from_millis(50), 1);
    let vars = fake.env();
    let mut config =
        ConnectorConfig::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())).unwrap();
    config.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_secs(30),
        max_total: Duration::from_secs(60),
    };
    let inbound = if anonymous {
        Inbound::Anonymous
    } else {
        Inbound::Verified(Arc::new(Authenticator::new(&AuthConfig::new(fake.app_id())).unwrap()))
    };
    let bot = ChannelAccount::new(format!("28:{}", fake.app_id()), Some("Bot".to_owned()));
    let app = App {
        identity: BotIdentity::new(bot.id.clone(), "Bot"),
        bot: Arc::new(reference_bot::ReferenceBot),
        connector: Arc::new(HttpConnector::new(&config).unwrap()),
        store: Arc::new(MemoryStore::new()),
        inbound,
        service_urls: ServiceUrlAllowlist::new(&[fake.service_url()]).unwrap(),
        welcome_roster: false,
        known: Arc::default(),
    };
    // The bot heard from the tenant (its serviceUrl is the fake's) and is installed in the team.
    let now = Timestamp::now();
    let general = ConversationReference {
        activity_id: None,
        user: None,
        bot: bot.clone(),
        conversation: ConversationAccount {
            id: TEAM.into(),
            conversation_type: Some(ConversationType::Channel),
            is_group: Some(true),
            tenant_id: Some(DEFAULT_TENANT.into()),
            ..ConversationAccount::default()
        },
        channel_id: "msteams".to_owned(),
        service_url: fake.service_url(),
        locale: None,
        tenant_id: Some(DEFAULT_TENANT.into()),
        team_id: Some(TEAM.to_owned()),
        channel: Some(TEAM.to_owned()),
    };
    app.store.upsert_conversation(&general, now).await.unwrap();
    let install = TeamInstall {
        team_id: TEAM.to_owned(),
        team_name: Some("Contoso".to_owned()),
        tenant_id: DEFAULT_TENANT.into(),
        service_url: fake.service_url(),
        conversation_id: TEAM.into(),
        bot,
        installed_by: None,
        claimed_at: now,
    };
    app.store.claim_team_install(&install, now).await.unwrap();
    World { fake, app }
}

impl World {
    async fn notify(&self, operation: &Value) -> (u16, Value) {
        service::proactive::notify_json(&self.app, &serde_json::to_vec(operation).unwrap()).await
    }

    /// Reads the batch's state until it is over (a bounded number of polls).
    async fn until_final(&self, operation_id: &str) -> Value {
        for _ in 0..200 {
            let (status, body) = self
                .notify(&json!({"batch": {"operationId": operation_id, "tenantId": DEFAULT_TENANT}}))
                .await;
            assert_eq!(status, 200, "{body}");
            if body["state"] != "Ongoing" && body["state"] != "Provisioning" {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the batch never completed");
    }

    fn texts_of(&self, user: &str) -> Vec<String> {
        let Some(chat) = self.fake.personal_conversation(DEFAULT_TENANT, user) else {
            return Vec::new();
        };
        self.fake
            .activities(&chat)
            .iter()
            .map(|a| a.activity["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

#[tokio::test]
async fn a_batch_to_users_reaches_each_once_and_reports_the_unreachable() {
    let w = world(false).await;
    w.fake.inject(Fault::throttle(Route::BatchUsers, 1).times(1));
    let mut people: Vec<Value> = users(5).iter().map(|id| json!({"id": id})).collect();
    people.push(json!({"id": "29:1stranger"}));
    people.push(json!({"aadObjectId": "aad-nobody"}));
    let send =
        json!({"to": {"users": people, "tenantId": DEFAULT_TENANT}, "message": {"text": "Maintenance at 22:00"}});

    let (status, body) = w.notify(&send).await;

    assert_eq!(status, 200, "{body}");
    let operation_id = body["operationId"].as_str().unwrap().to_owned();
    assert!(operation_id.starts_with("fake-op-"), "{body}");
    let posts: Vec<u16> = w.fake.calls_to(Route::BatchUsers).iter().map(|c| c.status).collect();
    assert_eq!(posts, [429, 201], "throttled once, retried once");
    let report = w.until_final(&operation_id).await;
    assert_eq!(report["state"], "Completed", "{report}");
    assert_eq!(report["statusMap"]["201"], 5, "{report}");
    assert_eq!(report["totalEntriesCount"], 7, "{report}");
    let mut failed: Vec<&str> = report["failedEntries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    failed.sort_unstable();
    assert_eq!(failed, ["29:1stranger", "aad-nobody"], "{report}");
    assert_eq!(
        w.fake.calls_to(Route::BatchFailedEntries).len(),
        2,
        "one failure per page: two pages"
    );
    for id in users(5) {
        assert_eq!(w.texts_of(&id), ["Maintenance at 22:00"], "{id}");
    }
}

#[tokio::test]
async fn the_same_idempotency_key_answers_the_same_operation_and_sends_nothing_more() {
    let w = world(false).await;
    let send = json!({"to": {"users": [{"id": "29:1user-0"}], "tenantId": DEFAULT_TENANT},
        "message": {"text": "once"}, "idempotencyKey": "announce-1"});

    let (s1, first) = w.notify(&send).await;
    let (s2, again) = w.notify(&send).await;

    assert_eq!((s1, s2), (200, 200), "{first} {again}");
    assert_eq!(first["operationId"], again["operationId"]);
    assert_eq!(w.fake.calls_to(Route::BatchUsers).len(), 1);
    assert_eq!(w.texts_of("29:1user-0"), ["once"]);
}

#[tokio::test]
async fn a_team_batch_reaches_its_members_and_a_channel_batch_posts_in_each_channel() {
    let w = world(false).await;

    let (status, body) = w
        .notify(&json!({"to": {"team": {"id": TEAM}}, "message": {"text": "team news"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let report = w.until_final(body["operationId"].as_str().unwrap()).await;
    assert_eq!(report["statusMap"]["201"], 2, "{report}");
    assert_eq!(w.texts_of("29:1alice"), ["team news"]);
    assert_eq!(w.texts_of("29:1bob"), ["team news"]);
    let post = &w.fake.calls_to(Route::BatchTeam)[0];
    assert_eq!(
        post.body.as_ref().unwrap()["tenantId"],
        DEFAULT_TENANT,
        "the install's tenant"
    );

    let (status, body) = w
        .notify(
            &json!({"to": {"channels": [TEAM, {"id": OPS}], "teamId": TEAM}, "message": {"text": "hello channels"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    w.until_final(body["operationId"].as_str().unwrap()).await;
    assert_eq!(w.fake.activities(OPS).len(), 1);
    let general: Vec<_> = w
        .fake
        .activities(TEAM)
        .into_iter()
        .filter(|a| a.activity["text"] == "hello channels")
        .collect();
    assert_eq!(general.len(), 1);

    let (status, body) = w
        .notify(&json!({"to": {"team": {"id": "19:unknown@thread.skype"}}, "message": {"text": "x"}}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("UnknownTeam")),
        "{body}"
    );
}

#[tokio::test]
async fn where_batch_is_not_allowed_each_user_gets_one_paced_send() {
    let w = world(true).await;
    let mut people: Vec<Value> = users(3).iter().map(|id| json!({"id": id})).collect();
    people.push(json!({"id": "29:1stranger"}));
    let send = json!({"to": {"users": people, "tenantId": DEFAULT_TENANT}, "message": {"text": "one by one"}});

    let (status, body) = w.notify(&send).await;

    assert_eq!(status, 200, "{body}");
    assert!(body["operationId"].as_str().unwrap().starts_with("local-"), "{body}");
    assert_eq!(body["state"], "Completed", "{body}");
    assert_eq!(body["statusMap"]["201"], 3, "{body}");
    assert_eq!(body["failedEntries"][0]["id"], "29:1stranger", "{body}");
    assert!(w.fake.calls_to(Route::BatchUsers).is_empty());
    assert_eq!(w.fake.calls_to(Route::CreateConversation).len(), 4);
    for id in users(3) {
        assert_eq!(w.texts_of(&id), ["one by one"], "{id}");
    }
    // An explicit choice does the same with a Connector that has batch endpoints.
    let w = world(false).await;
    let send = json!({"to": {"users": [{"id": "29:1user-1"}], "tenantId": DEFAULT_TENANT},
        "message": {"text": "individually"}, "individual": true});
    let (status, body) = w.notify(&send).await;
    assert_eq!((status, body["statusMap"]["201"].as_u64()), (200, Some(1)), "{body}");
    assert!(w.fake.calls_to(Route::BatchUsers).is_empty());
    assert_eq!(w.texts_of("29:1user-1"), ["individually"]);
}

#[tokio::test]
async fn a_tenant_wide_send_without_batch_is_refused() {
    let w = world(true).await;
    let (status, body) = w
        .notify(&json!({"to": {"tenant": {"id": DEFAULT_TENANT}}, "message": {"text": "all"}}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("BatchUnavailable")),
        "{body}"
    );
    assert!(w.fake.calls().iter().all(|c| c.route == Route::Token), "nothing sent");

    // With batch: every user of the tenant who has the bot.
    let w = world(false).await;
    let (status, body) = w
        .notify(&json!({"to": {"tenant": {"id": DEFAULT_TENANT}}, "message": {"text": "all"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let report = w.until_final(body["operationId"].as_str().unwrap()).await;
    assert_eq!(
        report["statusMap"]["201"], 7,
        "5 users and the team's 2 members: {report}"
    );
}

/// What batch saves, measured: 100 users are one batch request, where individual sends are a create-or-get and a
/// send per user, paced by the tenant's limit. Counts are asserted; the times are printed (no timing assertion).
#[tokio::test]
async fn a_batch_of_100_users_is_one_request_where_individual_sends_are_200() {
    let w = world(false).await;
    let ids: Vec<String> = (0..100).map(|i| format!("29:1many-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        w.fake.add_user(
            DEFAULT_TENANT,
            FakeTeams::member(id, &format!("Many {i}"), &format!("aad-many-{i}")),
        );
    }
    let people: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
    let to = json!({"users": people, "tenantId": DEFAULT_TENANT});

    let started = std::time::Instant::now();
    let (status, body) = w.notify(&json!({"to": to, "message": {"text": "batched"}})).await;
    let batch_elapsed = started.elapsed();
    assert_eq!(status, 200, "{body}");
    let report = w.until_final(body["operationId"].as_str().unwrap()).await;
    assert_eq!(report["statusMap"]["201"], 100, "{report}");
    assert_eq!(w.fake.calls_to(Route::BatchUsers).len(), 1);

    let started = std::time::Instant::now();
    let (status, body) = w
        .notify(&json!({"to": to, "message": {"text": "one by one"}, "individual": true}))
        .await;
    let individual_elapsed = started.elapsed();
    assert_eq!((status, body["statusMap"]["201"].as_u64()), (200, Some(100)), "{body}");
    let creates = w.fake.calls_to(Route::CreateConversation).len();
    let sends = w.fake.calls_to(Route::SendToConversation).len();
    assert_eq!((creates, sends), (100, 100));
    for id in &ids {
        assert_eq!(w.texts_of(id), ["batched", "one by one"], "{id}");
    }
    println!(
        "batch of 100: 1 request, answered in {batch_elapsed:?}; individually: {} requests in {individual_elapsed:?}",
        creates + sends
    );
}

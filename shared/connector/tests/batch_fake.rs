//! Batch sends through the Connector client against the fake Teams service: request shapes, one message per
//! member, failed entries paged, 429 retried, a timed-out batch POST not re-sent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use connector::{BatchEndpoint, Connector, ConnectorConfig, ConnectorError, HttpConnector, RetryPolicy};
use fake_teams::{DEFAULT_TENANT, FakeTeams, FakeTeamsBuilder, Fault, Route, SeedTeam};
use models::Activity;
use models::batch::{BatchMember, BatchRequest, BatchState, OperationId};
use std::collections::HashMap;
use std::time::Duration;

const TEAM: &str = "19:team-general@thread.skype";
const CHANNEL: &str = "19:ops@thread.skype";

fn users(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("29:1user-{i}")).collect()
}

fn seeded(n: usize) -> FakeTeamsBuilder {
    let mut b = FakeTeams::builder();
    for (i, id) in users(n).iter().enumerate() {
        b = b.user(
            DEFAULT_TENANT,
            FakeTeams::member(id, &format!("User {i}"), &format!("aad-{i}")),
        );
    }
    let team = SeedTeam::new(TEAM, "Contoso")
        .channel(CHANNEL, "Ops")
        .member(FakeTeams::member("29:1alice", "Alice", "aad-alice"))
        .member(FakeTeams::member("29:1bob", "Bob", "aad-bob"));
    b.team(team)
}

fn client(fake: &FakeTeams) -> HttpConnector {
    let env: HashMap<String, String> = fake.env().into_iter().collect();
    let mut config = ConnectorConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    config.retry = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_secs(30),
        max_total: Duration::from_secs(120),
    };
    HttpConnector::new(&config).unwrap()
}

/// Asks for the state until it is final, honouring nothing but a bounded number of polls.
async fn until_final(c: &HttpConnector, url: &str, op: &OperationId) -> models::batch::BatchOperationState {
    for _ in 0..200 {
        let s = c.batch_state(url, op).await.unwrap();
        if s.state.is_final() {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the operation never completed");
}

#[tokio::test]
async fn a_batch_to_n_users_reaches_each_once_and_reports_the_unreachable() {
    let fake = seeded(5).start().await.unwrap();
    fake.batch_settings(Duration::from_millis(50), 2);
    // The bot was uninstalled from user 3's chat; "29:1stranger" is not in the tenant.
    let chat3 = fake.personal_conversation(DEFAULT_TENANT, "29:1user-3").unwrap();
    fake.remove_bot(&chat3);
    let c = client(&fake);
    let url = fake.service_url();
    let mut members: Vec<BatchMember> = users(5).into_iter().map(BatchMember::new).collect();
    members.push(BatchMember::new("29:1stranger"));
    members.push(BatchMember::new("aad-4-unknown"));
    let request = BatchRequest::to_users(
        Activity::message("Maintenance at 22:00"),
        DEFAULT_TENANT.into(),
        members,
    );

    let op = c.send_batch(&url, BatchEndpoint::Users, &request).await.unwrap();

    let post = &fake.calls_to(Route::BatchUsers)[0];
    assert_eq!(
        (post.method.as_str(), post.path.as_str()),
        ("POST", "/amer/v3/batch/conversation/users/")
    );
    assert_eq!(post.status, 201);
    assert!(post.auth_valid);
    let body = post.body.as_ref().unwrap();
    assert_eq!(body["tenantId"], DEFAULT_TENANT);
    assert_eq!(body["members"].as_array().unwrap().len(), 7);
    assert_eq!(body["activity"]["text"], "Maintenance at 22:00");

    let state = until_final(&c, &url, &op).await;
    assert_eq!(state.state, BatchState::Completed);
    assert_eq!(state.total_entries_count, 7);
    assert_eq!(state.status_map.get("201"), Some(&4));
    assert_eq!(state.failed_count(), 3);

    // Each reachable user has the message exactly once, in their own 1:1 chat.
    for (i, id) in users(5).iter().enumerate() {
        let chat = fake.personal_conversation(DEFAULT_TENANT, id).unwrap();
        let texts: Vec<_> = fake
            .activities(&chat)
            .iter()
            .map(|a| a.activity["text"].as_str().unwrap_or_default().to_owned())
            .collect();
        let expected: Vec<String> = if i == 3 {
            vec![]
        } else {
            vec!["Maintenance at 22:00".to_owned()]
        };
        assert_eq!(texts, expected, "{id}");
    }

    // The failures, two per page, followed by their continuation token.
    let mut failed = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = c.batch_failed_entries(&url, &op, token.as_deref()).await.unwrap();
        pages += 1;
        failed.extend(page.failed_entry_responses);
        token = page.continuation_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 2);
    let mut ids: Vec<_> = failed.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["29:1stranger", "29:1user-3", "aad-4-unknown"]);
    assert!(
        failed.iter().all(|e| e.error == "BotNotInConversationRoster"),
        "{failed:?}"
    );
    let paged = fake.calls_to(Route::BatchFailedEntries);
    assert!(paged[1].query.as_deref().unwrap().starts_with("continuationToken="));
}

#[tokio::test]
async fn a_throttled_batch_is_retried_after_retry_after_and_sent_once() {
    let fake = seeded(3).start().await.unwrap();
    fake.inject(Fault::throttle(Route::BatchUsers, 1).times(2));
    let c = client(&fake);
    let url = fake.service_url();
    let members = users(3).into_iter().map(BatchMember::new).collect();
    let request = BatchRequest::to_users(Activity::message("hi"), DEFAULT_TENANT.into(), members);

    let op = c.send_batch(&url, BatchEndpoint::Users, &request).await.unwrap();

    let statuses: Vec<u16> = fake.calls_to(Route::BatchUsers).iter().map(|c| c.status).collect();
    assert_eq!(statuses, [429, 429, 201]);
    let s = until_final(&c, &url, &op).await;
    assert_eq!(s.status_map.get("201"), Some(&3));
    for id in users(3) {
        let chat = fake.personal_conversation(DEFAULT_TENANT, &id).unwrap();
        assert_eq!(fake.activities(&chat).len(), 1, "{id}");
    }
}

#[tokio::test]
async fn a_batch_post_whose_answer_times_out_is_not_sent_again() {
    let fake = seeded(2).start().await.unwrap();
    let env: HashMap<String, String> = fake.env().into_iter().collect();
    let mut config = ConnectorConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    config.request_timeout = Some(Duration::from_millis(300));
    let c = HttpConnector::new(&config).unwrap();
    fake.inject(Fault::delay(Route::BatchTenant, Duration::from_secs(2)).times(1));

    let request = BatchRequest::to_tenant(Activity::message("all hands"), DEFAULT_TENANT.into());
    let e = c
        .send_batch(&fake.service_url(), BatchEndpoint::Tenant, &request)
        .await
        .unwrap_err();

    assert!(matches!(e, ConnectorError::OutcomeUnknown { .. }), "{e:?}");
    assert_eq!(fake.calls_to(Route::BatchTenant).len(), 1);
    // Delivered anyway (Teams accepted it): each user has it once.
    for id in users(2) {
        let chat = fake.personal_conversation(DEFAULT_TENANT, &id).unwrap();
        assert_eq!(fake.activities(&chat).len(), 1, "{id}");
    }
}

#[tokio::test]
async fn team_and_channel_batches_post_where_they_should() {
    let fake = seeded(0).start().await.unwrap();
    let c = client(&fake);
    let url = fake.service_url();

    let team = BatchRequest::to_team(Activity::message("team news"), DEFAULT_TENANT.into(), TEAM);
    let op = c.send_batch(&url, BatchEndpoint::Team, &team).await.unwrap();
    assert_eq!(until_final(&c, &url, &op).await.status_map.get("201"), Some(&2));
    let alice = fake.personal_conversation(DEFAULT_TENANT, "29:1alice").unwrap();
    assert_eq!(fake.activities(&alice)[0].activity["text"], "team news");
    assert_eq!(
        fake.calls_to(Route::BatchTeam)[0].body.as_ref().unwrap()["teamId"],
        TEAM
    );

    let channels = vec![
        BatchMember::new(TEAM),
        BatchMember::new(CHANNEL),
        BatchMember::new("19:gone@thread.skype"),
    ];
    let request = BatchRequest::to_channels(Activity::message("channel news"), DEFAULT_TENANT.into(), channels);
    let op = c.send_batch(&url, BatchEndpoint::Channels, &request).await.unwrap();
    let s = until_final(&c, &url, &op).await;
    assert_eq!((s.status_map.get("201"), s.status_map.get("404")), (Some(&2), Some(&1)));
    let posts = fake.activities(CHANNEL);
    assert_eq!(posts.len(), 1);
    assert!(posts[0].conversation.starts_with(&format!("{CHANNEL};messageid=")));

    // Unknown team: the whole batch is refused, typed.
    let missing = BatchRequest::to_team(Activity::message("x"), DEFAULT_TENANT.into(), "19:nope@thread.skype");
    let e = c.send_batch(&url, BatchEndpoint::Team, &missing).await.unwrap_err();
    assert!(
        matches!(&e, ConnectorError::NotFound { code, .. } if code == "TeamNotFound"),
        "{e:?}"
    );
    assert!(!connector::is_batch_unsupported(&e));

    // Cancel answers 200; an unknown operation id is a 404.
    c.cancel_batch(&url, &op).await.unwrap();
    let e = c.batch_state(&url, &"nope".into()).await.unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
}

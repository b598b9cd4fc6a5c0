//! Shared tenant pacing across processes: three bots built as the `welcome` and `proactive` Lambdas build
//! theirs (`TenantPacing::Shared`), one DynamoDB table on moto, the fake Teams service enforcing a per-tenant
//! limit. Three instances sending for one tenant at once stay within the tenant's limit together; three built
//! like the devserver (`TenantPacing::Process`) each take the whole limit and are answered 429. Needs
//! `AWS_ENDPOINT_URL_DYNAMODB` (moto); prints `skipped: ...` without it unless `REQUIRE_REAL_SERVICES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use e2e::{dynamo, env};
use fake_teams::{DEFAULT_TENANT, FakeTeams, RecordedCall, Route};
use models::{Activity, ConversationId, TenantId};
use service::{App, Config, Runtime, TenantPacing};

const TEST: &str = "shared_pacing";
/// Bot instances sending at once (Lambda runs one per stream shard).
const INSTANCES: usize = 3;
/// Messages each instance sends.
const EACH: usize = 30;
/// The fake's per-tenant limit: above one instance's own pace (30/s, the connector's default), below three's.
const TENANT_LIMIT: usize = 50;

/// Sends `EACH` messages from each of `INSTANCES` bots built with `pacing`, all at once, to distinct users of
/// one tenant; answers the sends the fake recorded.
async fn burst(fake: &FakeTeams, table: &str, pacing: TenantPacing) -> Vec<RecordedCall> {
    let mut vars = fake.env();
    vars.push(("TABLE_NAME".into(), table.into()));
    let config = Config::from_lookup(Runtime::Lambda, |name| {
        vars.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
    })
    .unwrap();
    let mut apps = Vec::new();
    for _ in 0..INSTANCES {
        apps.push(
            App::build_with(&config, pacing, std::sync::Arc::new(service::api::NoBot))
                .await
                .unwrap()
                .0,
        );
    }
    fake.clear_calls();
    let tenant = TenantId::from(DEFAULT_TENANT);
    let mut tasks = Vec::new();
    for (i, app) in apps.into_iter().enumerate() {
        for n in 0..EACH {
            let user = format!("29:pace-{i}-{n}");
            fake.add_user(DEFAULT_TENANT, FakeTeams::member(&user, &user, &format!("aad-{i}-{n}")));
            let conversation = ConversationId::from(fake.personal_conversation(DEFAULT_TENANT, &user).unwrap());
            let message = service::addressed(
                &Activity::message(format!("hello {i}-{n}")),
                &conversation,
                Some(&tenant),
            );
            let (app, service_url) = (app.clone(), fake.service_url());
            tasks.push(tokio::spawn(async move {
                app.connector
                    .send_to_conversation(&service_url, &conversation, &message)
                    .await
                    .map(|_| ())
            }));
        }
    }
    for task in tasks {
        task.await
            .unwrap()
            .expect("every message is delivered (a 429 is retried)");
    }
    fake.calls_to(Route::SendToConversation)
}

/// The most calls that arrived within one second.
fn busiest_second(calls: &[RecordedCall]) -> usize {
    fake_teams::busiest_second(&calls.iter().map(|c| c.at).collect::<Vec<_>>())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_share_the_tenant_limit_through_the_table() {
    if env::dynamo_endpoint().is_none() {
        env::skip(
            TEST,
            "AWS_ENDPOINT_URL_DYNAMODB is not set (start moto_server, see scripts/test)",
        );
        return;
    }
    let fake = FakeTeams::builder().tenant_limit(TENANT_LIMIT).start().await.unwrap();
    let table = format!("pacing-{}", std::process::id());
    dynamo::fresh_table(dynamo::client_from_env().await, &table)
        .await
        .unwrap();

    let shared = burst(&fake, &table, TenantPacing::Shared).await;
    let throttled = shared.iter().filter(|c| c.status == 429).count();
    let delivered = shared.iter().filter(|c| c.status == 201 || c.status == 200).count();
    println!(
        "shared: {} sends, {throttled} answered 429, busiest second {}",
        shared.len(),
        busiest_second(&shared)
    );
    assert_eq!(delivered, INSTANCES * EACH);
    assert_eq!(throttled, 0, "three instances together stay within the tenant's limit");
    assert!(
        busiest_second(&shared) <= 31,
        "about one instance's pace in all: {}",
        busiest_second(&shared)
    );

    // The same burst paced by each process alone: three times one instance's pace, over the tenant's limit.
    let alone = burst(&fake, &table, TenantPacing::Process).await;
    let throttled = alone.iter().filter(|c| c.status == 429).count();
    println!(
        "process only: {} sends, {throttled} answered 429, busiest second {}",
        alone.len(),
        busiest_second(&alone)
    );
    assert!(
        throttled > 0,
        "without sharing, the instances together exceed the limit"
    );
}

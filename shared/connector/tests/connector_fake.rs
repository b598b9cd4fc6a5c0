//! The Connector client against the fake Teams service: request shapes, error mappings, retries on a paused
//! clock, the allowlist, tokens.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use connector::{Connector, ConnectorConfig, ConnectorError, HttpConnector, RetryPolicy, Unlimited};
use fake_teams::{DEFAULT_TENANT, FakeTeams, FakeTeamsBuilder, Fault, Route, SeedTeam};
use models::{Activity, ActivityKind, ChannelAccount, ConversationId, Message};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const TEAM: &str = "19:team-general@thread.skype";
const CHANNEL: &str = "19:ops;x=y@thread.skype";
const ALICE: &str = "29:1alice-id";

fn seeded() -> FakeTeamsBuilder {
    let team = SeedTeam::new(TEAM, "Contoso")
        .channel(CHANNEL, "Ops")
        .member(FakeTeams::member(ALICE, "Alice Smith", "aad-alice"))
        .member(FakeTeams::member("29:1bob-id", "Bob Jones", "aad-bob"))
        .member(FakeTeams::member("29:1carol-id", "Carol King", "aad-carol"));
    FakeTeams::builder().team(team)
}

fn config(fake: &FakeTeams) -> ConnectorConfig {
    let env: HashMap<String, String> = fake.env().into_iter().collect();
    ConnectorConfig::from_lookup(|k| env.get(k).cloned()).unwrap()
}

fn client(fake: &FakeTeams) -> HttpConnector {
    HttpConnector::new(&config(fake)).unwrap()
}

fn text(t: &str) -> Activity {
    Activity {
        kind: ActivityKind::Message(Message {
            text: Some(t.to_owned()),
            ..Message::default()
        }),
        ..Activity::default()
    }
}

fn bot(fake: &FakeTeams) -> ChannelAccount {
    ChannelAccount::new(format!("28:{}", fake.app_id()), Some("Bot".to_owned()))
}

#[tokio::test]
async fn every_endpoint_has_the_right_request_shape() {
    let fake = seeded().start().await.unwrap();
    let c = client(&fake);
    let url = fake.service_url();

    // 1:1 create-or-get: the same id twice.
    let p1 = c
        .create_personal_conversation(&url, &bot(&fake), ALICE, &DEFAULT_TENANT.into())
        .await
        .unwrap();
    let p2 = c
        .create_personal_conversation(&url, &bot(&fake), "aad-alice", &DEFAULT_TENANT.into())
        .await
        .unwrap();
    assert!(p1.id.as_str().starts_with("a:"), "{:?}", p1.id);
    assert_eq!(p1.id, p2.id);
    let create = &fake.calls_to(Route::CreateConversation)[0];
    assert_eq!(create.method, "POST");
    assert_eq!(create.path, "/amer/v3/conversations");
    let body = create.body.as_ref().unwrap();
    assert_eq!(body["bot"]["id"], format!("28:{}", fake.app_id()));
    assert_eq!(body["members"], serde_json::json!([{"id": ALICE}]));
    assert_eq!(body["channelData"]["tenant"]["id"], DEFAULT_TENANT);
    assert!(create.auth_present && create.auth_valid);

    // A new reply chain in a channel.
    let thread = c
        .create_channel_thread(&url, CHANNEL, None, &text("first"))
        .await
        .unwrap();
    let first_id = thread.activity_id.clone().unwrap();
    assert_eq!(thread.id.as_str(), format!("{CHANNEL};messageid={first_id}"));
    let create = &fake.calls_to(Route::CreateConversation)[2];
    assert_eq!(create.body.as_ref().unwrap()["isGroup"], true);
    assert_eq!(create.body.as_ref().unwrap()["channelData"]["channel"]["id"], CHANNEL);
    assert_eq!(create.body.as_ref().unwrap()["activity"]["text"], "first");

    // Send, reply, update, delete, with every id percent-encoded in the path.
    let sent = c.send_to_conversation(&url, &thread.id, &text("hello")).await.unwrap();
    let send = fake.calls_to(Route::SendToConversation).pop().unwrap();
    assert_eq!(
        send.path,
        format!("/amer/v3/conversations/19%3Aops%3Bx%3Dy%40thread.skype%3Bmessageid%3D{first_id}/activities")
    );
    assert_eq!(send.ids[0], thread.id.as_str());
    assert_eq!(send.body.as_ref().unwrap()["type"], "message");
    assert_eq!(send.body.as_ref().unwrap()["text"], "hello");

    let reply = c.reply_to_activity(&url, &p1.id, &sent.id, &text("re")).await.unwrap();
    let rec = fake.calls_to(Route::ReplyToActivity).pop().unwrap();
    assert_eq!(rec.method, "POST");
    assert_eq!(rec.ids, vec![p1.id.to_string(), sent.id.to_string()]);
    assert!(!rec.path.contains(':'), "{}", rec.path);

    let updated = c
        .update_activity(&url, &p1.id, &reply.id, &text("edited"))
        .await
        .unwrap();
    assert_eq!(updated.id, reply.id);
    let rec = fake.calls_to(Route::UpdateActivity).pop().unwrap();
    assert_eq!(rec.method, "PUT");
    assert_eq!(
        fake.activity(p1.id.as_str(), reply.id.as_str()).unwrap().activity["text"],
        "edited"
    );

    c.delete_activity(&url, &p1.id, &reply.id).await.unwrap();
    assert_eq!(fake.calls_to(Route::DeleteActivity).pop().unwrap().method, "DELETE");
    assert!(fake.activity(p1.id.as_str(), reply.id.as_str()).is_none());

    // Rosters.
    let channel_id = ConversationId::from(CHANNEL);
    let members = c.get_members(&url, &channel_id).await.unwrap();
    assert_eq!(members.len(), 3);
    assert_eq!(members[0].aad_object_id.as_deref(), Some("aad-alice"));
    let page1 = c.get_paged_members(&url, &channel_id, Some(2), None).await.unwrap();
    assert_eq!(page1.members.len(), 2);
    let token = page1.continuation_token.clone().unwrap();
    let page2 = c
        .get_paged_members(&url, &channel_id, Some(2), Some(&token))
        .await
        .unwrap();
    assert_eq!((page2.members.len(), page2.continuation_token), (1, None));
    let rec = fake.calls_to(Route::GetPagedMembers).pop().unwrap();
    assert_eq!(
        rec.path,
        "/amer/v3/conversations/19%3Aops%3Bx%3Dy%40thread.skype/pagedmembers"
    );
    assert!(
        rec.query
            .as_deref()
            .unwrap()
            .starts_with("pageSize=2&continuationToken=")
    );
    let one = c.get_member(&url, &channel_id, "29:1bob-id").await.unwrap();
    assert_eq!(one.name.as_deref(), Some("Bob Jones"));
    assert_eq!(fake.calls_to(Route::GetMember).pop().unwrap().ids[1], "29:1bob-id");

    // Team.
    let details = c.team_details(&url, TEAM).await.unwrap();
    assert_eq!((details.id.as_str(), details.name.as_deref()), (TEAM, Some("Contoso")));
    let channels = c.team_channels(&url, TEAM).await.unwrap();
    let ids: Vec<&str> = channels.conversations.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, vec![TEAM, CHANNEL]);
    assert_eq!(
        fake.calls_to(Route::TeamChannels).pop().unwrap().path,
        "/amer/v3/teams/19%3Ateam-general%40thread.skype/conversations"
    );

    // Every call carried the token; one token for all of them.
    assert!(
        fake.calls()
            .iter()
            .filter(|c| c.route != Route::Token)
            .all(|c| c.auth_valid)
    );
    assert_eq!(fake.token_fetches(), 1);
    let token_call = &fake.calls_to(Route::Token)[0];
    let form = token_call.body.as_ref().unwrap();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], fake.app_id());
    assert_eq!(form["scope"], "https://api.botframework.com/.default");
    assert_eq!(token_call.path, format!("/{DEFAULT_TENANT}/oauth2/v2.0/token"));
}

#[tokio::test]
async fn errors_map_to_typed_variants() {
    let fake = seeded().start().await.unwrap();
    let c = client(&fake);
    let url = fake.service_url();
    let conv = ConversationId::from(fake.personal_conversation(DEFAULT_TENANT, ALICE).unwrap());

    // 404: unknown activity, unknown conversation.
    let e = c
        .update_activity(&url, &conv, &"123".into(), &text("x"))
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
    assert_eq!(e.http_status(), 404);
    let e = c
        .send_to_conversation(&url, &"a:nope".into(), &text("x"))
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");

    // 413 over 100 KB (UTF-16): a 60k-character text of 2-unit characters.
    let e = c
        .send_to_conversation(&url, &conv, &text(&"😀".repeat(60_000)))
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::TooLarge { .. }), "{e:?}");
    assert!(
        c.send_to_conversation(&url, &conv, &text(&"é".repeat(90_000)))
            .await
            .is_ok()
    );

    // 403: other code, then bot disabled, then removed.
    fake.inject(Fault::error(Route::SendToConversation, 403, "Forbidden", "no").times(1));
    let e = c.send_to_conversation(&url, &conv, &text("x")).await.unwrap_err();
    assert!(
        matches!(e, ConnectorError::Forbidden { .. }) && !e.is_bot_removed(),
        "{e:?}"
    );
    fake.remove_bot(conv.as_str());
    let e = c.send_to_conversation(&url, &conv, &text("x")).await.unwrap_err();
    assert!(
        matches!(e, ConnectorError::NotInRoster { .. }) && e.is_bot_removed(),
        "{e:?}"
    );
    assert_eq!(e.http_status(), 403);
    fake.disable_bot_in_tenant(DEFAULT_TENANT);
    let e = c.get_members(&url, &CHANNEL.into()).await.unwrap_err();
    assert!(
        matches!(e, ConnectorError::BotDisabled { .. }) && e.is_bot_removed(),
        "{e:?}"
    );

    // 1:1 with a user not in the tenant.
    let e = c
        .create_personal_conversation(&url, &bot(&fake), "29:stranger", &"other-tenant".into())
        .await
        .unwrap_err();
    assert!(e.is_bot_removed(), "{e:?}");

    // 500 and other 4xx: kept, never retried.
    fake.clear_calls();
    fake.inject(Fault::status(Route::TeamDetails, 500).times(1));
    match c.team_details(&url, TEAM).await.unwrap_err() {
        ConnectorError::Unexpected { status, body } => {
            assert_eq!(status, 500);
            assert!(body.contains("InternalServerError"), "{body}");
        }
        other => panic!("{other:?}"),
    }
    fake.inject(Fault::error(Route::TeamDetails, 400, "BadArgument", "bad").times(1));
    assert!(matches!(
        c.team_details(&url, TEAM).await,
        Err(ConnectorError::Unexpected { status: 400, .. })
    ));
    assert_eq!(fake.calls_to(Route::TeamDetails).len(), 2);
}

#[tokio::test(start_paused = true)]
async fn retries_honour_retry_after_on_a_paused_clock() {
    let fake = seeded().start().await.unwrap();
    let c = client(&fake);
    let url = fake.service_url();
    let conv = ConversationId::from(fake.personal_conversation(DEFAULT_TENANT, ALICE).unwrap());

    fake.inject(Fault::throttle(Route::SendToConversation, 7).times(2));
    let start = Instant::now();
    c.send_to_conversation(&url, &conv, &text("x")).await.unwrap();
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(14) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
    assert_eq!(fake.calls_to(Route::SendToConversation).len(), 3);
    assert_eq!(fake.activities(conv.as_str()).len(), 1);

    // An HTTP-date Retry-After in the past means "now" (plus backoff); 412, 502 and 504 are retried too.
    fake.clear_calls();
    fake.inject(
        Fault::status(Route::SendToConversation, 412)
            .retry_after("Wed, 21 Oct 2015 07:28:00 GMT")
            .times(1),
    );
    fake.inject(Fault::status(Route::SendToConversation, 502).times(1));
    fake.inject(Fault::status(Route::SendToConversation, 504).times(1));
    c.send_to_conversation(&url, &conv, &text("y")).await.unwrap();
    assert_eq!(fake.calls_to(Route::SendToConversation).len(), 4);

    // Exhausted: the last error, with its Retry-After.
    fake.clear_calls();
    fake.inject(Fault::throttle(Route::SendToConversation, 1));
    let e = c.send_to_conversation(&url, &conv, &text("z")).await.unwrap_err();
    assert!(
        matches!(e, ConnectorError::Throttled { status: 429, retry_after: Some(d) } if d == Duration::from_secs(1)),
        "{e:?}"
    );
    assert_eq!(
        fake.calls_to(Route::SendToConversation).len(),
        RetryPolicy::default().max_attempts as usize
    );

    // A Retry-After longer than the policy allows ends the retries at once.
    fake.clear_faults();
    fake.clear_calls();
    fake.inject(Fault::throttle(Route::SendToConversation, 3600));
    let start = Instant::now();
    assert!(matches!(
        c.send_to_conversation(&url, &conv, &text("z")).await,
        Err(ConnectorError::Throttled { .. })
    ));
    assert_eq!(fake.calls_to(Route::SendToConversation).len(), 1);
    assert!(start.elapsed() < Duration::from_secs(1));

    // 5xx after the retries: Transient with the status.
    fake.clear_faults();
    fake.inject(Fault::status(Route::GetMembers, 502));
    let e = c.get_members(&url, &conv).await.unwrap_err();
    assert!(
        matches!(e, ConnectorError::Transient { status: Some(502), .. }),
        "{e:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_fakes_own_rate_limit_answers_429_and_the_client_waits() {
    let fake = seeded().start().await.unwrap();
    let c = client(&fake).with_rate_limiter(Arc::new(Unlimited));
    let url = fake.service_url();
    let conv = ConversationId::from(fake.personal_conversation(DEFAULT_TENANT, ALICE).unwrap());
    let start = Instant::now();
    for i in 0..8 {
        c.send_to_conversation(&url, &conv, &text(&i.to_string()))
            .await
            .unwrap();
    }
    let statuses: Vec<u16> = fake
        .calls_to(Route::SendToConversation)
        .iter()
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 1, "{statuses:?}");
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(fake.activities(conv.as_str()).len(), 8);

    // With the client's own limiter, the fake never has to say 429.
    let fake2 = seeded().start().await.unwrap();
    let c2 = client(&fake2);
    let conv2 = ConversationId::from(fake2.personal_conversation(DEFAULT_TENANT, ALICE).unwrap());
    for i in 0..20 {
        c2.send_to_conversation(&fake2.service_url(), &conv2, &text(&i.to_string()))
            .await
            .unwrap();
    }
    assert!(fake2.calls().iter().all(|c| c.status == 200));
}

#[tokio::test]
async fn refused_service_urls_make_no_request_at_all() {
    let fake = seeded().start().await.unwrap();
    let c = client(&fake);
    let port = fake.addr().port();
    let conv = ConversationId::from("a:x");
    let refused = [
        "https://smba.trafficmanager.net.evil.com/".to_owned(),
        "http://smba.trafficmanager.net/".to_owned(),
        "https://user@smba.trafficmanager.net/".to_owned(),
        "https://smba.trafficmanager.net@evil.com/".to_owned(),
        "https://smba%2Etrafficmanager.net/".to_owned(),
        "https:\\\\smba.trafficmanager.net\\".to_owned(),
        format!("http://127.0.0.1:{port}/other/"),
        format!("http://user@127.0.0.1:{port}/amer/"),
        format!("http://127.0.0.1:{}/amer/", port.wrapping_add(1)),
        format!("https://127.0.0.1:{port}/amer/"),
        format!("http://127.0.0.1:{port}/amer/../other/"),
        format!("http://127.0.0.1:{port}/%61mer/x/"),
    ];
    for url in &refused {
        let e = c.send_to_conversation(url, &conv, &text("x")).await.unwrap_err();
        assert!(matches!(e, ConnectorError::Refused(_)), "{url}: {e:?}");
        assert!(
            matches!(c.get_members(url, &conv).await, Err(ConnectorError::Refused(_))),
            "{url}"
        );
    }
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    assert_eq!(fake.token_fetches(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_fetch_for_a_hundred_concurrent_sends() {
    let mut builder = seeded();
    for i in 0..20 {
        builder = builder.user(
            DEFAULT_TENANT,
            FakeTeams::member(&format!("29:u{i}"), &format!("User {i}"), &format!("aad-{i}")),
        );
    }
    let fake = builder.start().await.unwrap();
    let c = client(&fake);
    let url = fake.service_url();
    let convs: Vec<ConversationId> = (0..20)
        .map(|i| {
            fake.personal_conversation(DEFAULT_TENANT, &format!("29:u{i}"))
                .unwrap()
                .into()
        })
        .collect();
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (c, url, conv) = (c.clone(), url.clone(), convs[i % 20].clone());
        tasks.push(tokio::spawn(async move {
            c.send_to_conversation(&url, &conv, &text("hi")).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(fake.token_fetches(), 1);
    assert_eq!(c.tokens().fetches(), 1);
    assert_eq!(fake.calls_to(Route::SendToConversation).len(), 100);
}

#[tokio::test(start_paused = true)]
async fn the_token_is_refreshed_five_minutes_before_expiry() {
    let fake = seeded()
        .token_lifetime(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let c = client(&fake);
    let url = fake.service_url();
    c.team_details(&url, TEAM).await.unwrap();
    tokio::time::advance(Duration::from_secs(3600 - 300 - 10)).await;
    c.team_details(&url, TEAM).await.unwrap();
    assert_eq!(fake.token_fetches(), 1);
    tokio::time::advance(Duration::from_secs(20)).await;
    c.team_details(&url, TEAM).await.unwrap();
    assert_eq!(fake.token_fetches(), 2);
    assert!(
        fake.calls()
            .iter()
            .filter(|c| c.route == Route::TeamDetails)
            .all(|c| c.auth_valid)
    );
}

#[tokio::test(start_paused = true)]
async fn a_post_with_an_unknown_outcome_is_not_sent_again() {
    let fake = seeded().start().await.unwrap();
    let c = client(&fake);
    let url = fake.service_url();
    let conv = ConversationId::from(fake.personal_conversation(DEFAULT_TENANT, ALICE).unwrap());
    fake.inject(Fault::delay(Route::SendToConversation, Duration::from_secs(60)).times(1));
    let e = c.send_to_conversation(&url, &conv, &text("maybe")).await.unwrap_err();
    assert!(matches!(e, ConnectorError::OutcomeUnknown { .. }), "{e:?}");
    assert_eq!(e.http_status(), 504);
    assert_eq!(fake.calls_to(Route::SendToConversation).len(), 1);
    // It was in fact delivered: which is why it must not be re-sent blindly.
    assert_eq!(fake.activities(conv.as_str()).len(), 1);

    // Idempotent calls are retried after a timeout.
    fake.inject(Fault::delay(Route::GetMembers, Duration::from_secs(60)).times(1));
    let members = c.get_members(&url, &conv).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(fake.calls_to(Route::GetMembers).len(), 2);
}

#[tokio::test]
async fn anonymous_mode_attaches_no_token() {
    let fake = seeded().anonymous().start().await.unwrap();
    let config = ConnectorConfig {
        allowed_service_urls: vec![fake.service_url()],
        ..ConnectorConfig::default()
    };
    let c = HttpConnector::new(&config).unwrap();
    c.team_details(&fake.service_url(), TEAM).await.unwrap();
    assert_eq!(fake.token_fetches(), 0);
    assert!(!fake.calls()[0].auth_present);
}

#[tokio::test]
async fn wrong_credentials_and_rejected_tokens() {
    let fake = seeded().start().await.unwrap();
    let mut config = config(&fake);
    config.app_password = "wrong".to_owned().into();
    let c = HttpConnector::new(&config).unwrap();
    let e = c.team_details(&fake.service_url(), TEAM).await.unwrap_err();
    assert!(
        matches!(
            e,
            ConnectorError::Token(connector::TokenError::Status { status: 401, .. })
        ),
        "{e:?}"
    );
    assert!(fake.calls_to(Route::TeamDetails).is_empty());

    // The fake answers 401 without a token; the client refetches once, then reports it.
    fake.inject(
        Fault::error(
            Route::TeamDetails,
            401,
            "Unauthorized",
            "Authorization has been denied for this request.",
        )
        .times(2),
    );
    let c = client(&fake);
    let e = c.team_details(&fake.service_url(), TEAM).await.unwrap_err();
    assert!(matches!(e, ConnectorError::Unexpected { status: 401, .. }), "{e:?}");
    assert_eq!(fake.token_fetches(), 2);
    assert_eq!(fake.calls_to(Route::TeamDetails).len(), 2);
}

/// A secret store for the token provider: answers `secret` (or an error) and counts the reads.
#[derive(Debug)]
struct Store {
    secret: std::sync::Mutex<Result<String, String>>,
    reads: std::sync::atomic::AtomicUsize,
}

impl Store {
    fn holding(secret: Result<&str, &str>) -> Arc<Self> {
        Arc::new(Self {
            secret: std::sync::Mutex::new(secret.map(str::to_owned).map_err(str::to_owned)),
            reads: std::sync::atomic::AtomicUsize::new(0),
        })
    }
    fn reads(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl connector::ClientSecretSource for Store {
    async fn read(&self) -> Result<secrecy::SecretString, String> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.secret.lock().unwrap().clone().map(secrecy::SecretString::from)
    }
}

#[tokio::test]
async fn a_refused_secret_is_read_again_from_its_store() {
    let fake = seeded().start().await.unwrap();
    // The process started with a placeholder; the store now holds the real secret (put after the start).
    let mut config = config(&fake);
    config.app_password = "placeholder".to_owned().into();
    let store = Store::holding(Ok(&fake.app_password()));
    let c = HttpConnector::new(&config).unwrap().with_secret_source(store.clone());
    c.team_details(&fake.service_url(), TEAM).await.unwrap();
    assert_eq!(store.reads(), 1);
    assert_eq!(
        c.tokens().fetches(),
        2,
        "refused once, then accepted with the re-read secret"
    );
    assert_eq!(fake.token_fetches(), 1);
    // The re-read secret is kept: a later token fetch uses it without asking the store.
    c.tokens().invalidate().await;
    c.team_details(&fake.service_url(), TEAM).await.unwrap();
    assert_eq!((store.reads(), c.tokens().fetches(), fake.token_fetches()), (1, 3, 2));
    assert_eq!(fake.calls_to(Route::TeamDetails).len(), 2);
}

#[tokio::test]
async fn a_secret_that_stays_wrong_is_read_again_at_most_every_30_seconds() {
    let fake = seeded().start().await.unwrap();
    let mut config = config(&fake);
    config.app_password = "wrong".to_owned().into();
    // The store holds the same wrong secret, then fails: each send reports the endpoint's 401.
    let store = Store::holding(Ok("wrong"));
    let c = HttpConnector::new(&config).unwrap().with_secret_source(store.clone());
    for _ in 0..3 {
        let e = c.team_details(&fake.service_url(), TEAM).await.unwrap_err();
        assert!(matches!(&e, ConnectorError::Token(t) if t.is_invalid_client()), "{e:?}");
    }
    assert_eq!(
        store.reads(),
        1,
        "one re-read within {:?}",
        connector::SECRET_REREAD_INTERVAL
    );
    assert_eq!(c.tokens().fetches(), 3, "no second fetch with an unchanged secret");
    assert_eq!(fake.token_fetches(), 0);
    assert!(fake.calls_to(Route::TeamDetails).is_empty());

    let store = Store::holding(Err("AccessDeniedException"));
    let c = HttpConnector::new(&config).unwrap().with_secret_source(store.clone());
    let e = c.team_details(&fake.service_url(), TEAM).await.unwrap_err();
    assert!(matches!(&e, ConnectorError::Token(t) if t.is_invalid_client()), "{e:?}");
    assert_eq!(store.reads(), 1);
}

/// Counts what the client reports ([`connector::CallObserver`]).
#[derive(Debug, Default)]
struct Counted {
    throttled: std::sync::atomic::AtomicUsize,
    retrying: std::sync::atomic::AtomicUsize,
    token_failed: std::sync::atomic::AtomicUsize,
}

impl Counted {
    fn get(&self) -> (usize, usize, usize) {
        use std::sync::atomic::Ordering::SeqCst;
        (
            self.throttled.load(SeqCst),
            self.retrying.load(SeqCst),
            self.token_failed.load(SeqCst),
        )
    }
}

impl connector::CallObserver for Counted {
    fn throttled(&self) {
        self.throttled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    fn retrying(&self) {
        self.retrying.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    fn token_failed(&self) {
        self.token_failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The metrics' source: each 429 answer, each retry and each token failure is reported once (a 502 is a retry
/// but no 429; the last 429 of an exhausted series is counted but not retried).
#[tokio::test(start_paused = true)]
async fn throttles_retries_and_token_failures_are_reported() {
    let fake = seeded().start().await.unwrap();
    let counted = Arc::new(Counted::default());
    let c = client(&fake).with_observer(counted.clone());
    let url = fake.service_url();
    let conv = ConversationId::from(fake.personal_conversation(DEFAULT_TENANT, ALICE).unwrap());

    fake.inject(Fault::throttle(Route::SendToConversation, 1).times(2));
    fake.inject(Fault::status(Route::SendToConversation, 502).times(1));
    c.send_to_conversation(&url, &conv, &text("x")).await.unwrap();
    assert_eq!(counted.get(), (2, 3, 0));

    fake.clear_faults();
    fake.inject(Fault::throttle(Route::SendToConversation, 1));
    c.send_to_conversation(&url, &conv, &text("y")).await.unwrap_err();
    let attempts = RetryPolicy::default().max_attempts as usize;
    assert_eq!(counted.get(), (2 + attempts, 3 + attempts - 1, 0));

    let mut config = config(&fake);
    config.app_password = "wrong".to_owned().into();
    let refused = Arc::new(Counted::default());
    let c = HttpConnector::new(&config).unwrap().with_observer(refused.clone());
    c.team_details(&url, TEAM).await.unwrap_err();
    assert_eq!(refused.get(), (0, 0, 1));
}

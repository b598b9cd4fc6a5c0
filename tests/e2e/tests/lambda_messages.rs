//! The `messages` Lambda end to end under the real Lambda runtime API: `cargo lambda watch` (cargo-lambda's
//! emulator) runs the binary; requests arrive as Function URL events at `/lambda-url/messages/api/messages`;
//! state is in a fresh moto DynamoDB table; Microsoft's side is the fake Teams service (token endpoint, v3
//! Connector) with the fake OpenID server merged in, whose key signs the inbound tokens.
//!
//! One test walks the scenario in order (the emulator is started once): a signed message and its echo, the
//! reference in DynamoDB, a changed serviceUrl, a replay, hostile tokens, and a channel → 1:1 → channel round
//! trip. Needs `AWS_ENDPOINT_URL_DYNAMODB` (moto) and `cargo-lambda` (PATH or `.tools/venv/bin`); prints
//! `skipped: ...` without them unless `REQUIRE_REAL_SERVICES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use aws_sdk_dynamodb::Client;
use e2e::activity::{Channel, Scene, User, channel_message, personal_message};
use e2e::emulator::{Emulator, EmulatorSpec, build_function};
use e2e::{dynamo, env, secrets};
use fake_teams::openid::{BotClaims, OpenIdServer, TEAMS_CHANNEL, unix_now, unsigned_token};
use fake_teams::{DEFAULT_TENANT, FakeTeams, RecordedCall, Route, SeedTeam};
use jsonwebtoken::{Algorithm, Header};
use models::{ConversationId, TenantId};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use store::{Conversations, DynamoStore, PersonalConversations, Timestamp};

const TEST: &str = "lambda_messages";
const TEAM_ID: &str = "19:team-contoso@thread.skype";
const CHANNEL_ID: &str = "19:channel-project@thread.skype";
/// How long `cargo lambda watch` may take to answer through the function (it may wait for the shared build lock).
const READY_LIMIT: Duration = Duration::from_secs(300);

fn alice() -> User {
    User {
        id: "29:1alice".into(),
        name: "Alice Example".into(),
        aad_object_id: "aad-alice".into(),
    }
}

fn bob() -> User {
    User {
        id: "29:1bob".into(),
        name: "Bob Builder".into(),
        aad_object_id: "aad-bob".into(),
    }
}

struct World {
    // Field order is drop order: stop the function before the servers it talks to.
    lambda: Emulator,
    fake: FakeTeams,
    openid: OpenIdServer,
    http: reqwest::Client,
    store: DynamoStore,
    client: Client,
    table: String,
    scene: Scene,
    app_id: String,
    /// The fake Connector under two region prefixes, both allowlisted.
    amer: String,
    emea: String,
}

impl World {
    /// A token as the Bot Framework would sign it for an activity from `service_url`.
    fn token(&self, service_url: &str) -> String {
        self.openid.sign(&BotClaims::new(&self.app_id, service_url)).unwrap()
    }

    /// POSTs `activity` to the function with `Authorization: Bearer <token>` (none when `None`).
    async fn post(&self, activity: &Value, token: Option<&str>) -> (u16, String) {
        let mut request = self
            .http
            .post(self.lambda.url("/api/messages"))
            .header("content-type", "application/json")
            .body(activity.to_string());
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.expect("the emulator answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// POSTs a correctly signed activity and expects 200.
    async fn deliver(&self, activity: &Value) {
        let service_url = activity["serviceUrl"].as_str().unwrap();
        let (status, body) = self.post(activity, Some(&self.token(service_url))).await;
        assert_eq!(status, 200, "activity {} refused: {body}", activity["id"]);
    }

    /// Every Connector call so far (token endpoint and unknown paths excluded).
    fn connector_calls(&self) -> Vec<RecordedCall> {
        self.fake
            .calls()
            .into_iter()
            .filter(|c| !matches!(c.route, Route::Token | Route::Unknown))
            .collect()
    }

    /// The replies (POST v3/conversations/{id}/activities/{activityId}) to the inbound activity `activity_id`.
    fn replies_to(&self, activity_id: &str) -> Vec<RecordedCall> {
        self.fake
            .calls_to(Route::ReplyToActivity)
            .into_iter()
            .filter(|c| c.ids.get(1).map(String::as_str) == Some(activity_id))
            .collect()
    }

    fn tenant(&self) -> TenantId {
        TenantId::from(self.scene.tenant.as_str())
    }

    async fn stored_service_url(&self, conversation: &str) -> Option<String> {
        self.store
            .conversation(&ConversationId::from(conversation), Timestamp::now())
            .await
            .unwrap()
            .map(|r| r.reference.service_url)
    }

    async fn tenant_service_url(&self) -> Option<String> {
        self.store
            .tenant_service_url(&self.tenant(), Timestamp::now())
            .await
            .unwrap()
    }

    async fn personal_of(&self, user: &User) -> Option<String> {
        self.store
            .personal_by_user(&self.tenant(), &user.id, Timestamp::now())
            .await
            .unwrap()
            .map(|p| p.conversation_id.to_string())
    }
}

/// The one reply to `activity_id`: where it went, with our token, and its text.
#[track_caller]
fn single_reply(world: &World, activity_id: &str, conversation: &str, service_url: &str) -> String {
    let replies = world.replies_to(activity_id);
    assert_eq!(replies.len(), 1, "replies to {activity_id}: {replies:#?}");
    let reply = &replies[0];
    let prefix = service_url.trim_start_matches(&world.fake.base_url());
    assert!(
        reply.path.starts_with(&format!("{prefix}v3/conversations/")),
        "reply to {activity_id} went to {} instead of under {service_url}",
        reply.path
    );
    assert_eq!(reply.ids, vec![conversation.to_owned(), activity_id.to_owned()]);
    assert!(
        reply.auth_valid,
        "the reply must carry a token from the fake token endpoint"
    );
    assert_eq!(reply.status, 200);
    let body = reply.body.as_ref().expect("a JSON reply");
    assert_eq!(body["type"], "message");
    assert_eq!(body["replyToId"], activity_id);
    body["text"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_lambda_under_cargo_lambda() {
    let Some((endpoint, cargo_lambda_dir)) = env::lambda_prerequisites(TEST) else {
        return;
    };
    let t0 = Instant::now();

    // --- Microsoft's side: the fake Teams service with the OpenID server merged in. ---
    let openid = OpenIdServer::new();
    let team = SeedTeam::new(TEAM_ID, "Contoso")
        .channel(CHANNEL_ID, "Project")
        .member(FakeTeams::member(&alice().id, &alice().name, &alice().aad_object_id))
        .member(FakeTeams::member(&bob().id, &bob().name, &bob().aad_object_id));
    let fake = FakeTeams::builder()
        .with_router(openid.router())
        .team(team)
        .start()
        .await
        .unwrap();
    let amer = fake.service_url();
    let emea = format!("{}/emea/", fake.base_url());
    let app_id = fake.app_id();
    let metadata_url = OpenIdServer::metadata_url(fake.addr());

    // --- State: a fresh table in moto. ---
    let client = dynamo::client_from_env().await;
    let table = env::unique("e2e-messages");
    let store = dynamo::fresh_table(client.clone(), &table).await.unwrap();

    // --- The function's environment (docs/contract.md names). ---
    let mut function_env: Vec<(String, String)> = fake
        .env()
        .into_iter()
        .filter(|(k, _)| k != "BOT_ALLOWED_SERVICE_URLS")
        .collect();
    function_env.extend(
        [
            ("BOT_ALLOWED_SERVICE_URLS", format!("{amer},{emea}")),
            ("BOT_OPENID_METADATA_URL", metadata_url),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    function_env.extend(env::dynamo_function_env(&table, &endpoint));

    // The client secret as the template deploys it: only its Secrets Manager ARN in the environment. The fake
    // token endpoint accepts no other secret, so every authenticated reply below shows it was read at cold start.
    secrets::password_to_secrets_manager(&mut function_env, &endpoint, &table)
        .await
        .unwrap();
    assert!(!function_env.iter().any(|(k, _)| k == "MICROSOFT_APP_PASSWORD"));

    // --- Pre-build, then `cargo lambda watch` on a free loopback port. ---
    let root = env::workspace_root();
    let build = Instant::now();
    build_function(&root, "messages").unwrap();
    let build_time = build.elapsed();
    let spec = EmulatorSpec::messages(cargo_lambda_dir, function_env, "e2e-lambda").unwrap();
    println!("cargo {}", spec.args(&spec.env_file()).join(" "));
    let mut lambda = Emulator::start(&spec).unwrap();
    // The function itself answers a GET with 405 (POST only): the emulator is up and the binary runs.
    let ready = lambda.wait_webhook_ready(READY_LIMIT).await.unwrap();
    println!(
        "timing: cargo build {:.1} s; cargo lambda watch ready (function answering) {:.1} s",
        build_time.as_secs_f64(),
        ready.as_secs_f64()
    );

    let world = World {
        lambda,
        fake,
        openid,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        store,
        client,
        table,
        scene: Scene {
            bot_id: format!("28:{app_id}"),
            bot_name: "Teams Bot".into(),
            tenant: DEFAULT_TENANT.into(),
        },
        app_id,
        amer,
        emea,
    };
    let scenario = Instant::now();
    let alice_dm = world.fake.personal_conversation(DEFAULT_TENANT, &alice().id).unwrap();

    signed_message_is_echoed_and_recorded(&world, &alice_dm).await;
    changed_service_url_is_updated(&world, &alice_dm).await;
    replayed_activity_is_acted_on_once(&world, &alice_dm).await;
    hostile_tokens_are_refused_with_nothing_stored(&world).await;
    channel_to_personal_and_back(&world, &alice_dm).await;

    println!(
        "timing: scenario {:.1} s; whole test {:.1} s; token fetches {}",
        scenario.elapsed().as_secs_f64(),
        t0.elapsed().as_secs_f64(),
        world.fake.token_fetches()
    );
    // Every Connector call carried a token the fake token endpoint issued.
    for call in world.connector_calls() {
        assert!(call.auth_valid, "a Connector call without our token: {call:#?}");
    }
    let _ = world.client.delete_table().table_name(&world.table).send().await;
}

/// A signed personal message gets 200, its echo arrives at the fake Connector as a reply with our bearer token,
/// and the conversation reference, the tenant's serviceUrl, the 1:1 index and the dedupe mark are in DynamoDB.
async fn signed_message_is_echoed_and_recorded(world: &World, alice_dm: &str) {
    let activity = personal_message(&world.scene, alice_dm, &alice(), "p-1", &world.amer, "Hello there 😀").unwrap();
    world.deliver(&activity).await;

    let text = single_reply(world, "p-1", alice_dm, &world.amer);
    assert_eq!(text, "You sent Hello there 😀 which was 13 characters");
    assert_eq!(world.connector_calls().len(), 1, "only the echo is sent");
    let token_calls = world.fake.calls_to(Route::Token);
    assert!(!token_calls.is_empty(), "our token came from the fake token endpoint");
    assert_eq!(
        token_calls[0].body.as_ref().unwrap()["client_id"],
        world.app_id.as_str()
    );
    assert_eq!(token_calls[0].status, 200);

    let record = world
        .store
        .conversation(&ConversationId::from(alice_dm), Timestamp::now())
        .await
        .unwrap()
        .expect("the conversation reference is stored");
    assert_eq!(record.reference.service_url, world.amer);
    assert_eq!(record.reference.conversation.id.as_str(), alice_dm);
    assert_eq!(record.reference.bot.id, world.scene.bot_id);
    assert_eq!(record.reference.channel_id, TEAMS_CHANNEL);
    assert_eq!(
        record.reference.tenant_id.as_ref().map(TenantId::as_str),
        Some(DEFAULT_TENANT)
    );
    assert!(record.active);
    assert_eq!(world.tenant_service_url().await.as_deref(), Some(world.amer.as_str()));
    assert_eq!(world.personal_of(&alice()).await.as_deref(), Some(alice_dm));
    let seen = dynamo::get_item(&world.client, &world.table, &format!("SEEN#{alice_dm}"), "p-1")
        .await
        .unwrap();
    assert!(seen.is_some(), "the activity id is claimed (dedupe)");
}

/// The same conversation now arrives with another serviceUrl: the stored one follows, and the reply goes there.
async fn changed_service_url_is_updated(world: &World, alice_dm: &str) {
    let activity = personal_message(&world.scene, alice_dm, &alice(), "p-2", &world.emea, "moved to emea").unwrap();
    world.deliver(&activity).await;

    let text = single_reply(world, "p-2", alice_dm, &world.emea);
    assert_eq!(text, "You sent moved to emea which was 13 characters");
    assert_eq!(
        world.stored_service_url(alice_dm).await.as_deref(),
        Some(world.emea.as_str())
    );
    assert_eq!(world.tenant_service_url().await.as_deref(), Some(world.emea.as_str()));
}

/// The channel redelivers an activity (same id): 200 again, nothing sent again.
async fn replayed_activity_is_acted_on_once(world: &World, alice_dm: &str) {
    let before = world.connector_calls().len();
    let activity = personal_message(&world.scene, alice_dm, &alice(), "p-2", &world.emea, "moved to emea").unwrap();
    world.deliver(&activity).await;
    world.deliver(&activity).await;
    assert_eq!(world.replies_to("p-2").len(), 1, "a replayed activity is answered once");
    assert_eq!(world.connector_calls().len(), before, "nothing is sent for a replay");
}

/// Tokens that must not pass: 401 (403 for a serviceurl claim mismatch), and nothing stored, nothing sent.
async fn hostile_tokens_are_refused_with_nothing_stored(world: &World) {
    let keys_before = dynamo::all_keys(&world.client, &world.table).await.unwrap();
    let calls_before = world.connector_calls().len();
    let mallory = User {
        id: "29:1mallory".into(),
        name: "Mallory".into(),
        aad_object_id: "aad-mallory".into(),
    };
    let conversation = "a:1hostile-chat";
    let claims = BotClaims::new(&world.app_id, &world.amer);
    let unknown_key = world.openid.new_key(&[TEAMS_CHANNEL]);
    let mut forged_header = Header::new(Algorithm::RS256);
    forged_header.kid = Some(world.openid.signing_kid());

    let cases: Vec<(&str, Option<String>, u16)> = vec![
        ("no token", None, 401),
        (
            "wrong audience",
            Some(
                world
                    .openid
                    .sign(&claims.clone().audience(Some("another-bot")))
                    .unwrap(),
            ),
            401,
        ),
        (
            "expired",
            Some(
                world
                    .openid
                    .sign(&claims.clone().expires(Some(unix_now() - 3600)))
                    .unwrap(),
            ),
            401,
        ),
        (
            "wrong issuer",
            Some(
                world
                    .openid
                    .sign(&claims.clone().issuer(Some("https://evil.example")))
                    .unwrap(),
            ),
            401,
        ),
        (
            "signed by an unpublished key",
            Some(unknown_key.sign(Algorithm::RS256, &claims).unwrap()),
            401,
        ),
        (
            "published kid, another key's signature",
            Some(unknown_key.sign_with_header(&forged_header, &claims).unwrap()),
            401,
        ),
        (
            "alg none",
            Some(unsigned_token(
                &json!({"alg": "none", "typ": "JWT", "kid": world.openid.signing_kid()}),
                &claims.to_json(),
            )),
            401,
        ),
        (
            "HS256 with the public key",
            Some(world.openid.sign_hs256_with_public_key(&claims).unwrap()),
            401,
        ),
        (
            "serviceurl claim for another serviceUrl",
            Some(world.openid.sign(&BotClaims::new(&world.app_id, &world.emea)).unwrap()),
            403,
        ),
    ];
    for (i, (case, token, expected)) in cases.iter().enumerate() {
        let id = format!("h-{i}");
        let activity = personal_message(&world.scene, conversation, &mallory, &id, &world.amer, "let me in").unwrap();
        let (status, body) = world.post(&activity, token.as_deref()).await;
        assert_eq!(status, *expected, "{case}: answered {status} {body}");
        assert!(!body.is_empty(), "{case}: a short plain reason is given");
    }

    assert_eq!(
        dynamo::all_keys(&world.client, &world.table).await.unwrap(),
        keys_before,
        "nothing is stored for a refused request (no CONV, SEEN, TENANT or personal item)"
    );
    assert_eq!(world.stored_service_url(conversation).await, None);
    assert_eq!(
        world.connector_calls().len(),
        calls_before,
        "nothing is sent for a refused request"
    );
}

/// A user moves from a channel to a 1:1 chat and back: `dm me` in the channel creates (Bob, unknown to the bot)
/// or gets (Alice, known from her 1:1 messages) the 1:1 chat, sends there and reports back in the channel; the
/// 1:1 chat then works; a later channel message is still answered in the channel; the tenant's serviceUrl and
/// every conversation's state are intact.
async fn channel_to_personal_and_back(world: &World, alice_dm: &str) {
    let channel = Channel {
        team_id: TEAM_ID.into(),
        team_name: "Contoso".into(),
        channel_id: CHANNEL_ID.into(),
        channel_name: "Project".into(),
        conversation_id: format!("{CHANNEL_ID};messageid=1714557600000"),
    };
    let conv = channel.conversation_id.as_str();
    let emea = world.emea.as_str();
    let scene = &world.scene;

    // In the channel.
    world
        .deliver(&channel_message(scene, &channel, &alice(), "c-1", emea, "hello channel").unwrap())
        .await;
    assert_eq!(
        single_reply(world, "c-1", conv, emea),
        "You sent hello channel which was 13 characters"
    );
    assert_eq!(world.stored_service_url(conv).await.as_deref(), Some(emea));

    // Bob: `dm me` creates his 1:1 chat (POST v3/conversations), sends there, reports back in the channel.
    let creates_before = world.fake.calls_to(Route::CreateConversation).len();
    let sends_before = world.fake.calls_to(Route::SendToConversation).len();
    world
        .deliver(&channel_message(scene, &channel, &bob(), "c-2", emea, "dm me").unwrap())
        .await;
    let creates = world.fake.calls_to(Route::CreateConversation);
    assert_eq!(creates.len(), creates_before + 1, "Bob's 1:1 chat is created");
    let create = creates.last().unwrap();
    assert!(create.path.starts_with("/emea/v3/conversations"), "{}", create.path);
    assert_eq!(create.status, 200);
    let create_body = create.body.as_ref().unwrap();
    assert_eq!(create_body["members"][0]["id"], bob().id.as_str());
    assert_eq!(create_body["channelData"]["tenant"]["id"], DEFAULT_TENANT);
    let bob_dm = world.fake.personal_conversation(DEFAULT_TENANT, &bob().id).unwrap();
    let sends = world.fake.calls_to(Route::SendToConversation);
    assert_eq!(sends.len(), sends_before + 1);
    let sent = sends.last().unwrap();
    assert_eq!(sent.ids, vec![bob_dm.clone()]);
    assert_eq!(sent.status, 200);
    assert_eq!(
        sent.body.as_ref().unwrap()["text"],
        "Hi! You asked me to continue here, in our 1:1 chat."
    );
    let report = single_reply(world, "c-2", conv, emea);
    assert!(report.ends_with(", I sent you a message in our 1:1 chat."), "{report}");
    assert!(report.contains(&bob().name), "Bob is mentioned back: {report}");
    assert_eq!(world.personal_of(&bob()).await.as_deref(), Some(bob_dm.as_str()));

    // Alice: `dm me` gets the 1:1 chat the bot already knows (no create), sends there, reports back.
    world
        .deliver(&channel_message(scene, &channel, &alice(), "c-3", emea, "dm me").unwrap())
        .await;
    assert_eq!(
        world.fake.calls_to(Route::CreateConversation).len(),
        creates_before + 1,
        "Alice's known 1:1 chat is reused, not created again"
    );
    let sends = world.fake.calls_to(Route::SendToConversation);
    assert_eq!(sends.len(), sends_before + 2);
    assert_eq!(sends.last().unwrap().ids, vec![alice_dm.to_owned()]);
    assert!(single_reply(world, "c-3", conv, emea).ends_with(", I sent you a message in our 1:1 chat."));

    // Bob answers in his new 1:1 chat: the bot answers there.
    world
        .deliver(&personal_message(scene, &bob_dm, &bob(), "b-1", emea, "thanks").unwrap())
        .await;
    assert_eq!(
        single_reply(world, "b-1", &bob_dm, emea),
        "You sent thanks which was 6 characters"
    );
    assert_eq!(world.stored_service_url(&bob_dm).await.as_deref(), Some(emea));

    // Back in the channel: still answered in the channel.
    world
        .deliver(&channel_message(scene, &channel, &alice(), "c-4", emea, "back in the channel").unwrap())
        .await;
    assert_eq!(
        single_reply(world, "c-4", conv, emea),
        "You sent back in the channel which was 19 characters"
    );

    // Everything the bot knows is intact.
    assert_eq!(world.tenant_service_url().await.as_deref(), Some(emea));
    for id in [conv, alice_dm, bob_dm.as_str()] {
        let record = world
            .store
            .conversation(&ConversationId::from(id), Timestamp::now())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("conversation {id} is stored"));
        assert_eq!(record.reference.service_url, emea, "{id}");
        assert!(record.active, "{id} is active");
    }
    assert_eq!(world.personal_of(&alice()).await.as_deref(), Some(alice_dm));
    assert_eq!(world.personal_of(&bob()).await.as_deref(), Some(bob_dm.as_str()));
}

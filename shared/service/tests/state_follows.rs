#![allow(clippy::unwrap_used, clippy::expect_used)]
//! State that follows Teams (issue #15), through the webhook and the proactive flows, on the in-memory, embedded
//! and DynamoDB (moto, when `AWS_ENDPOINT_URL_DYNAMODB` is set; required with `REQUIRE_REAL_SERVICES=1`) stores:
//! ids handed out by notify can be used, proactive work follows the tenant's newest serviceUrl (the global one for
//! a tenant never heard from), team and channel events change what the bot may send to, a user's first-contact
//! claim commits with the message, a team install welcomes in the selected channel, and a conversation Teams
//! says is gone stops receiving.

use async_trait::async_trait;
use connector::{ConnectorCall, ConnectorError, RecordingConnector};
use models::{Activity, ChannelAccount, ConversationId, TenantId};
use serde_json::{Value, json};
use service::api::{Bot, BotError, BotIdentity, Context, IncomingMessage, JobRun, PersonalWelcome, TeamWelcome};
use service::flows::address::GLOBAL_SERVICE_URL;
use service::{App, Inbound};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use store::{
    ClaimOutcome, DynamoStore, EmbeddedStore, FirstContact, Item, MemoryStore, Store, StoreError, Subscription, Table,
    TeamInstall, Timestamp, Write, WriteOutcome,
};

const URL_A: &str = "https://smba.trafficmanager.net/amer/";
const URL_B: &str = "https://smba.trafficmanager.net/emea/";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const BOT: &str = "28:bot-app-id";
const TEAM: &str = "19:team-general@thread.tacv2";
const CHANNEL: &str = "19:ops-channel@thread.tacv2";
const THREAD: &str = "19:ops-channel@thread.tacv2;messageid=1700000000001";
const OTHER_CHANNEL: &str = "19:sales-channel@thread.tacv2";

/// A bot that schedules a job on `schedule`, posts `ping` on each run, and welcomes everyone.
struct Probe;

#[async_trait]
impl Bot for Probe {
    async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
        if message.text == "schedule" {
            ctx.jobs().schedule("ping", Duration::from_secs(60), json!({})).await?;
        }
        Ok(())
    }

    async fn on_job(&self, ctx: &Context<'_>, _job: &JobRun<'_>) -> Result<(), BotError> {
        ctx.send("ping").await.map(|_| ())
    }

    async fn team_welcome(&self, _team: &TeamWelcome<'_>) -> Option<Activity> {
        Some(Activity::message("Welcome, team"))
    }

    async fn personal_welcome(&self, _user: &PersonalWelcome<'_>) -> Option<Activity> {
        Some(Activity::message("Welcome, you"))
    }
}

struct Harness {
    app: App,
    connector: Arc<RecordingConnector>,
    store: Arc<dyn Store>,
}

fn harness(store: Arc<dyn Store>) -> Harness {
    let connector = Arc::new(RecordingConnector::new());
    let app = App {
        identity: BotIdentity::new(BOT, "Probe"),
        bot: Arc::new(Probe),
        connector: connector.clone(),
        store: store.clone(),
        service_urls: connector::ServiceUrlAllowlist::default(),
        inbound: Inbound::Anonymous,
        welcome_roster: false,
        known: std::sync::Arc::default(),
    };
    Harness { app, connector, store }
}

static IDS: AtomicU64 = AtomicU64::new(1);

fn next_id() -> String {
    format!("act-{}", IDS.fetch_add(1, Ordering::Relaxed))
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        IDS.fetch_add(1, Ordering::Relaxed)
    )
}

/// The stores every case runs on: memory, embedded, and DynamoDB when a local endpoint is configured.
async fn stores(test: &str) -> Vec<(&'static str, Arc<dyn Store>)> {
    let mut out: Vec<(&'static str, Arc<dyn Store>)> = vec![("memory", Arc::new(MemoryStore::new()))];
    let path = std::env::temp_dir().join(unique("state-follows")).join("state.redb");
    out.push(("embedded", Arc::new(EmbeddedStore::open(&path).await.unwrap())));
    match std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .ok()
        .filter(|e| !e.is_empty())
    {
        Some(_) => {
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), unique("state-follows"));
            store.create_table().await.unwrap();
            out.push(("dynamodb", Arc::new(store)));
        }
        None => {
            assert!(
                std::env::var("REQUIRE_REAL_SERVICES").as_deref() != Ok("1"),
                "{test}: AWS_ENDPOINT_URL_DYNAMODB is not set but REQUIRE_REAL_SERVICES=1"
            );
            println!("{test}: DynamoDB case skipped (AWS_ENDPOINT_URL_DYNAMODB is not set; see scripts/test)");
        }
    }
    out
}

fn channel_data(event: Option<&str>) -> Value {
    let mut data = json!({"tenant": {"id": TENANT}, "team": {"id": TEAM, "name": "Contoso"}});
    if let Some(event) = event {
        data["eventType"] = json!(event);
    }
    data
}

/// A user's message in a channel conversation (or reply chain) of the team.
fn channel_message(conversation: &str, text: &str, service_url: &str) -> Value {
    json!({
        "type": "message", "id": next_id(), "channelId": "msteams", "serviceUrl": service_url,
        "from": {"id": "29:alice", "name": "Alice"}, "recipient": {"id": BOT, "name": "Probe"},
        "conversation": {"id": conversation, "conversationType": "channel", "isGroup": true, "tenantId": TENANT},
        "text": format!("<at>Probe</at> {text}"),
        "entities": [{"type": "mention", "text": "<at>Probe</at>", "mentioned": {"id": BOT, "name": "Probe"}}],
        "channelData": channel_data(None)
    })
}

/// A user's message in their 1:1 chat with the bot.
fn personal_message(user: &str, conversation: &str, service_url: &str) -> Value {
    json!({
        "type": "message", "id": next_id(), "channelId": "msteams", "serviceUrl": service_url,
        "from": {"id": user, "name": "User"}, "recipient": {"id": BOT, "name": "Probe"},
        "conversation": {"id": conversation, "conversationType": "personal", "tenantId": TENANT},
        "text": "hi", "channelData": {"tenant": {"id": TENANT}}
    })
}

/// A team or channel event (in the General channel, as Teams sends them).
fn team_event(event: &str, channel: Option<&str>, team_name: Option<&str>) -> Value {
    let mut data = channel_data(Some(event));
    if let Some(channel) = channel {
        data["channel"] = json!({"id": channel, "name": "Ops"});
    }
    if let Some(name) = team_name {
        data["team"]["name"] = json!(name);
    }
    json!({
        "type": "conversationUpdate", "id": next_id(), "channelId": "msteams", "serviceUrl": URL_A,
        "from": {"id": "29:owner", "name": "Owner"}, "recipient": {"id": BOT, "name": "Probe"},
        "conversation": {"id": TEAM, "conversationType": "channel", "isGroup": true, "tenantId": TENANT},
        "channelData": data
    })
}

/// The bot added to the team, in `conversation`, naming `selected` as the installer's channel when given.
fn bot_added(conversation: &str, selected: Option<&str>) -> Value {
    let mut data = channel_data(Some("teamMemberAdded"));
    if let Some(selected) = selected {
        data["settings"] = json!({"selectedChannel": {"id": selected}});
    }
    json!({
        "type": "conversationUpdate", "id": next_id(), "channelId": "msteams", "serviceUrl": URL_A,
        "from": {"id": "29:owner", "name": "Owner"}, "recipient": {"id": BOT, "name": "Probe"},
        "conversation": {"id": conversation, "conversationType": "channel", "isGroup": true, "tenantId": TENANT},
        "membersAdded": [{"id": BOT}], "channelData": data
    })
}

fn team_installation_update() -> Value {
    json!({
        "type": "installationUpdate", "id": next_id(), "action": "add", "channelId": "msteams", "serviceUrl": URL_A,
        "from": {"id": "29:owner", "name": "Owner"}, "recipient": {"id": BOT, "name": "Probe"},
        "conversation": {"id": TEAM, "conversationType": "channel", "isGroup": true, "tenantId": TENANT},
        "channelData": channel_data(None)
    })
}

impl Harness {
    async fn deliver(&self, activity: &Value) -> u16 {
        service::handle(&self.app, None, &serde_json::to_vec(activity).unwrap())
            .await
            .status
    }

    async fn notify(&self, operation: &Value) -> (u16, Value) {
        service::proactive::notify_json(&self.app, &serde_json::to_vec(operation).unwrap()).await
    }

    async fn active(&self, conversation: &str) -> Option<bool> {
        self.store
            .is_active(&ConversationId::from(conversation), Timestamp::now())
            .await
            .unwrap()
    }

    /// The serviceUrl and conversation of every send, reply, update or create the bot made.
    fn sends(&self) -> Vec<(String, String)> {
        self.connector
            .calls()
            .into_iter()
            .filter_map(|call| match call {
                ConnectorCall::Send {
                    service_url,
                    conversation,
                    ..
                }
                | ConnectorCall::Update {
                    service_url,
                    conversation,
                    ..
                }
                | ConnectorCall::Delete {
                    service_url,
                    conversation,
                    ..
                } => Some((service_url, conversation.to_string())),
                ConnectorCall::CreateConversation { service_url, params } => {
                    let channel = params
                        .channel_data
                        .as_ref()
                        .and_then(|d| d.channel.as_ref())
                        .map_or_else(String::new, |c| c.id.clone());
                    Some((service_url, format!("create:{channel}")))
                }
                ConnectorCall::Reply { .. }
                | ConnectorCall::GetMembers { .. }
                | ConnectorCall::GetPagedMembers { .. }
                | ConnectorCall::GetMember { .. }
                | ConnectorCall::TeamDetails { .. }
                | ConnectorCall::TeamChannels { .. }
                | ConnectorCall::MeetingParticipant { .. }
                | ConnectorCall::MeetingInfo { .. } => None,
            })
            .collect()
    }

    /// Makes the conversation's job `ping` due now (as if its interval had passed).
    async fn make_due(&self, conversation: &str) {
        let id = ConversationId::from(conversation);
        let now = Timestamp::now();
        let sub = self
            .store
            .subscription(&id, "ping", now)
            .await
            .unwrap()
            .expect("job scheduled");
        // A slot of its own each time (a slot is claimed once, keyed by its due time): a fixed past time minus a
        // counter, never one used before whatever the clock did meanwhile.
        let back = i64::try_from(IDS.fetch_add(1, Ordering::Relaxed)).unwrap();
        let due = Subscription {
            next_due: Timestamp(1_000_000_000 - back),
            ..sub
        };
        self.store.subscribe(&due, now).await.unwrap();
    }

    async fn tick(&self) -> Value {
        service::proactive::tick(&self.app).await
    }
}

#[tokio::test]
async fn team_and_channel_events_change_what_the_bot_may_send_to() {
    for (backend, store) in stores("team_and_channel_events").await {
        let h = harness(store);
        assert_eq!(h.deliver(&bot_added(TEAM, None)).await, 200, "{backend}");
        assert_eq!(h.deliver(&channel_message(THREAD, "schedule", URL_A)).await, 200);
        assert_eq!(h.deliver(&channel_message(OTHER_CHANNEL, "hello", URL_A)).await, 200);
        h.make_due(CHANNEL).await;
        assert_eq!(
            h.tick().await["sent"],
            1,
            "{backend}: the job runs while the team is active"
        );

        // Archived: every conversation of the team stops; the job pauses (its slot skipped, not ended).
        assert_eq!(h.deliver(&team_event("teamArchived", None, None)).await, 200);
        for id in [TEAM, THREAD, OTHER_CHANNEL] {
            assert_eq!(h.active(id).await, Some(false), "{backend}: {id} after teamArchived");
        }
        let (status, body) = h
            .notify(&json!({"to": {"conversation": {"id": THREAD}}, "message": {"text": "x"}}))
            .await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (410, &json!("ConversationInactive")),
            "{backend}"
        );
        h.make_due(CHANNEL).await;
        let calls = h.connector.calls().len();
        assert_eq!(h.tick().await["sent"], 1, "{backend}: the slot is claimed and skipped");
        assert_eq!(
            h.connector.calls().len(),
            calls,
            "{backend}: nothing is sent while archived"
        );
        let job = h
            .store
            .subscription(&ConversationId::from(CHANNEL), "ping", Timestamp::now())
            .await
            .unwrap();
        assert!(job.is_some(), "{backend}: a paused job is kept");

        // Unarchived: active again, and the job runs.
        assert_eq!(h.deliver(&team_event("teamUnarchived", None, None)).await, 200);
        for id in [TEAM, THREAD, OTHER_CHANNEL] {
            assert_eq!(h.active(id).await, Some(true), "{backend}: {id} after teamUnarchived");
        }
        h.make_due(CHANNEL).await;
        h.connector.clear();
        let report = h.tick().await;
        assert_eq!(report["sent"], 1, "{backend}: {report}");
        assert_eq!(h.sends(), vec![(URL_A.to_owned(), CHANNEL.to_owned())], "{backend}");

        // A channel deleted stops that channel and its reply chains only; restored brings them back.
        assert_eq!(h.deliver(&team_event("channelDeleted", Some(CHANNEL), None)).await, 200);
        assert_eq!(h.active(THREAD).await, Some(false), "{backend}");
        assert_eq!(h.active(OTHER_CHANNEL).await, Some(true), "{backend}");
        assert_eq!(h.active(TEAM).await, Some(true), "{backend}");
        assert_eq!(
            h.deliver(&team_event("channelRestored", Some(CHANNEL), None)).await,
            200
        );
        assert_eq!(h.active(THREAD).await, Some(true), "{backend}");

        // Deleted and restored; a restore does not undo what another event did (the channel deleted meanwhile).
        assert_eq!(h.deliver(&team_event("channelDeleted", Some(CHANNEL), None)).await, 200);
        assert_eq!(h.deliver(&team_event("teamDeleted", None, None)).await, 200);
        assert_eq!(h.active(OTHER_CHANNEL).await, Some(false), "{backend}");
        assert_eq!(h.deliver(&team_event("teamRestored", None, None)).await, 200);
        assert_eq!(h.active(OTHER_CHANNEL).await, Some(true), "{backend}");
        assert_eq!(
            h.active(THREAD).await,
            Some(false),
            "{backend}: still deleted with its channel"
        );

        // Renamed: the install claim keeps the new name. A redelivery of an event repeats it harmlessly.
        let renamed = team_event("teamRenamed", None, Some("Contoso Ops"));
        assert_eq!(h.deliver(&renamed).await, 200);
        assert_eq!(h.deliver(&renamed).await, 200);
        let install = h.store.team_install(TEAM, Timestamp::now()).await.unwrap().unwrap();
        assert_eq!(install.team_name.as_deref(), Some("Contoso Ops"), "{backend}");
    }
}

#[tokio::test]
async fn proactive_work_follows_the_tenants_newest_service_url() {
    for (backend, store) in stores("newest_service_url").await {
        let h = harness(store.clone());
        // Learned a while ago, at URL A: the team install, a channel, a job there, a user's 1:1 chat.
        let earlier = Timestamp(Timestamp::now().0 - 3_600);
        let install = TeamInstall {
            team_id: TEAM.to_owned(),
            team_name: Some("Contoso".to_owned()),
            tenant_id: TenantId::from(TENANT),
            service_url: URL_A.to_owned(),
            conversation_id: ConversationId::from(TEAM),
            bot: ChannelAccount::new(BOT, Some("Probe".to_owned())),
            installed_by: None,
            claimed_at: earlier,
        };
        assert!(store.claim_team_install(&install, earlier).await.unwrap().won());
        let mut reference = models::ConversationReference::from_activity(
            &Activity::from_value(channel_message(CHANNEL, "x", URL_A)).unwrap(),
        )
        .unwrap();
        reference.activity_id = None;
        store.upsert_conversation(&reference, earlier).await.unwrap();
        let job = Subscription {
            conversation_id: ConversationId::from(CHANNEL),
            name: "ping".to_owned(),
            every_secs: 60,
            next_due: earlier,
            payload: json!({}),
            poll_activity_id: None,
            created_at: earlier,
        };
        store.subscribe(&job, earlier).await.unwrap();

        // Now Teams moves the tenant: a 1:1 message arrives from URL B.
        assert_eq!(h.deliver(&personal_message("29:bob", "a:bob-chat", URL_B)).await, 200);
        h.connector.clear();

        let (status, _) = h
            .notify(&json!({"to": {"channel": {"id": OTHER_CHANNEL, "teamId": TEAM}}, "message": {"text": "hi"}}))
            .await;
        assert_eq!(status, 200, "{backend}");
        let (status, _) = h
            .notify(&json!({"to": {"conversation": {"id": CHANNEL}}, "message": {"text": "hi"}}))
            .await;
        assert_eq!(status, 200, "{backend}");
        h.make_due(CHANNEL).await;
        assert_eq!(h.tick().await["sent"], 1, "{backend}");
        assert_eq!(
            h.sends(),
            vec![
                (URL_B.to_owned(), format!("create:{OTHER_CHANNEL}")),
                (URL_B.to_owned(), CHANNEL.to_owned()),
                (URL_B.to_owned(), CHANNEL.to_owned()),
            ],
            "{backend}: a channel post, a notify and a job, each at the tenant's newest serviceUrl"
        );

        // A welcome claimed before the move is sent at the newest serviceUrl too.
        h.connector.clear();
        service::welcome::team(&h.app, &install).await.unwrap();
        assert_eq!(h.sends(), vec![(URL_B.to_owned(), TEAM.to_owned())], "{backend}");
    }
}

#[tokio::test]
async fn a_tenant_never_heard_from_is_reached_at_the_global_service_url() {
    for (backend, store) in stores("global_service_url").await {
        let h = harness(store);
        let (status, body) = h
            .notify(&json!({"to": {"user": {"id": "29:carol", "tenantId": "tenant-never-seen"}}, "message": {"text": "hello"}}))
            .await;
        assert_eq!(status, 200, "{backend}: {body}");
        let sends = h.sends();
        assert_eq!(sends.len(), 2, "{backend}: {sends:?}");
        assert!(
            sends.iter().all(|(url, _)| url == GLOBAL_SERVICE_URL),
            "{backend}: create and send at {GLOBAL_SERVICE_URL}: {sends:?}"
        );
    }
}

#[tokio::test]
async fn ids_handed_out_for_chats_the_bot_created_can_be_used() {
    for (backend, store) in stores("notify_ids").await {
        let h = harness(store.clone());
        assert_eq!(h.deliver(&personal_message("29:bob", "a:bob-chat", URL_A)).await, 200);
        // Notify to a user with no 1:1 chat yet: created, and remembered in full.
        let (status, sent) = h
            .notify(
                &json!({"to": {"user": {"aadObjectId": "aad-dave", "tenantId": TENANT}}, "message": {"text": "one"}}),
            )
            .await;
        assert_eq!(status, 200, "{backend}: {sent}");
        let target = json!({"conversationId": sent["conversationId"], "activityId": sent["activityId"]});
        let (status, body) = h
            .notify(&json!({"update": target, "message": {"text": "one, edited"}}))
            .await;
        assert_eq!(status, 200, "{backend}: update with the ids notify answered: {body}");
        let (status, body) = h
            .notify(&json!({"to": {"conversation": {"id": sent["conversationId"]}}, "message": {"text": "two"}}))
            .await;
        assert_eq!(
            status, 200,
            "{backend}: send to the conversation notify answered: {body}"
        );
        let (status, body) = h.notify(&json!({"delete": target})).await;
        assert_eq!(status, 200, "{backend}: delete with the ids notify answered: {body}");
        // The same user by Teams id is not a second chat... and the chat counts as the user's first contact.
        let dave = FirstContact {
            tenant_id: TenantId::from(TENANT),
            user: ChannelAccount::new("aad-dave", None),
            conversation_id: ConversationId::default(),
            service_url: URL_A.to_owned(),
            bot: ChannelAccount::new(BOT, None),
            claimed_at: Timestamp::now(),
        };
        assert_eq!(
            store.claim_first_contact(&dave, Timestamp::now()).await.unwrap(),
            ClaimOutcome::Lost,
            "{backend}: the created chat claimed the user's first contact"
        );

        // The roster welcome creates the chat: its reference is stored in full as well.
        let erin = FirstContact {
            user: ChannelAccount::new("29:erin", Some("Erin".to_owned())),
            ..dave
        };
        service::welcome::first_contact(&h.app, &erin).await.unwrap();
        let created = store
            .personal_by_user(&TenantId::from(TENANT), "29:erin", Timestamp::now())
            .await
            .unwrap()
            .expect("indexed");
        let record = store
            .conversation(&created.conversation_id, Timestamp::now())
            .await
            .unwrap()
            .expect("a full reference");
        assert!(record.active, "{backend}");
        assert_eq!(
            record.reference.user.map(|u| u.id),
            Some("29:erin".to_owned()),
            "{backend}"
        );
    }
}

/// A table over the in-memory store whose first write carrying a first-contact claim fails (the store was
/// unavailable for that one request).
#[derive(Debug)]
struct FailFirstContactOnce {
    inner: MemoryStore,
    failed: AtomicBool,
}

#[async_trait]
impl Table for FailFirstContactOnce {
    async fn get(&self, pk: &str, sk: &str, now: Timestamp) -> Result<Option<Item>, StoreError> {
        self.inner.get(pk, sk, now).await
    }

    async fn query_prefix(
        &self,
        pk: &str,
        sk_prefix: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.inner.query_prefix(pk, sk_prefix, now, limit).await
    }

    async fn query_gsi1(
        &self,
        gsi1pk: &str,
        upper: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.inner.query_gsi1(gsi1pk, upper, now, limit).await
    }

    async fn write(&self, writes: Vec<Write>, now: Timestamp) -> Result<WriteOutcome, StoreError> {
        let claims_contact = writes
            .iter()
            .any(|w| matches!(w, Write::Put { item, .. } if item.kind == store::keys::KIND_FIRST_CONTACT));
        if claims_contact && !self.failed.swap(true, Ordering::SeqCst) {
            return Err(StoreError::Unavailable(
                "injected: the store failed this request".into(),
            ));
        }
        self.inner.write(writes, now).await
    }
}

#[tokio::test]
async fn a_first_contact_claim_is_never_lost_between_two_writes() {
    let table = Arc::new(FailFirstContactOnce {
        inner: MemoryStore::new(),
        failed: AtomicBool::new(false),
    });
    let h = harness(table.clone());
    let first = personal_message("29:frank", "a:frank-chat", URL_A);
    assert_eq!(
        h.deliver(&first).await,
        503,
        "the claim could not be written: nothing is, and Teams retries"
    );
    assert_eq!(h.active("a:frank-chat").await, None, "no half-written state");
    assert_eq!(h.deliver(&first).await, 200, "Teams' retry is not a duplicate");
    let frank = FirstContact {
        tenant_id: TenantId::from(TENANT),
        user: ChannelAccount::new("29:frank", None),
        conversation_id: ConversationId::from("a:frank-chat"),
        service_url: URL_A.to_owned(),
        bot: ChannelAccount::new(BOT, None),
        claimed_at: Timestamp::now(),
    };
    assert_eq!(
        h.store.claim_first_contact(&frank, Timestamp::now()).await.unwrap(),
        ClaimOutcome::Lost,
        "the retry claimed the first contact"
    );
    assert_eq!(h.deliver(&first).await, 200, "and a third delivery is a duplicate");
}

#[tokio::test]
async fn a_team_install_welcomes_in_the_channel_the_installer_selected() {
    for (backend, store) in stores("selected_channel").await {
        // Microsoft's documented shape: the bot-added conversationUpdate in the selected channel.
        let h = harness(store.clone());
        assert_eq!(h.deliver(&bot_added(CHANNEL, Some(CHANNEL))).await, 200, "{backend}");
        let install = store
            .team_install(TEAM, Timestamp::now())
            .await
            .unwrap()
            .expect("claimed");
        service::welcome::team(&h.app, &install).await.unwrap();
        assert_eq!(h.sends(), vec![(URL_A.to_owned(), CHANNEL.to_owned())], "{backend}");
    }
}

#[tokio::test]
async fn a_selection_in_a_later_delivery_of_the_install_moves_the_welcome() {
    for (backend, store) in stores("selected_channel_later").await {
        // The installationUpdate (no selection) claims first; the delivery naming the channel arrives before the
        // welcome is sent: the welcome goes to the selected channel, once.
        let h = harness(store.clone());
        assert_eq!(h.deliver(&team_installation_update()).await, 200);
        let first_image = store
            .team_install(TEAM, Timestamp::now())
            .await
            .unwrap()
            .expect("claimed");
        assert_eq!(first_image.conversation_id.as_str(), TEAM);
        assert_eq!(h.deliver(&bot_added(CHANNEL, Some(CHANNEL))).await, 200);
        assert_eq!(
            h.deliver(&bot_added(TEAM, Some(OTHER_CHANNEL))).await,
            200,
            "a later selection does not move it"
        );
        service::welcome::team(&h.app, &first_image).await.unwrap();
        service::welcome::team(&h.app, &first_image).await.unwrap();
        assert_eq!(h.sends(), vec![(URL_A.to_owned(), CHANNEL.to_owned())], "{backend}");
    }
}

#[tokio::test]
async fn a_conversation_teams_says_is_gone_stops_receiving() {
    for (backend, store) in stores("conversation_gone").await {
        let h = harness(store);
        assert_eq!(h.deliver(&personal_message("29:gina", "a:gina-chat", URL_A)).await, 200);
        h.connector.fail_next(ConnectorError::NotFound {
            code: "ConversationNotFound".to_owned(),
            message: "Conversation not found.".to_owned(),
        });
        let send = json!({"to": {"conversation": {"id": "a:gina-chat"}}, "message": {"text": "hi"}});
        let (status, _) = h.notify(&send).await;
        assert_eq!(status, 404, "{backend}");
        assert_eq!(h.active("a:gina-chat").await, Some(false), "{backend}");
        let (status, _) = h.notify(&send).await;
        assert_eq!(status, 410, "{backend}: not sent again");
        // An unknown activity id on an update is not a gone conversation.
        assert_eq!(h.deliver(&personal_message("29:hal", "a:hal-chat", URL_A)).await, 200);
        h.connector.fail_next(ConnectorError::NotFound {
            code: "NotFound".to_owned(),
            message: "The activity id is not a known activity id.".to_owned(),
        });
        let (status, _) = h
            .notify(&json!({"update": {"conversationId": "a:hal-chat", "activityId": "1"}, "message": {"text": "x"}}))
            .await;
        assert_eq!(status, 404, "{backend}");
        assert_eq!(h.active("a:hal-chat").await, Some(true), "{backend}");
    }
}

//! Unit-test a bot in-process: the whole runtime (webhook checks, dedupe, claims, welcome flow, jobs) over an
//! in-memory store and a recording Connector — no network, no DynamoDB, no Lambda.
//!
//! ```
//! use teams_bot::testkit::TestKit;
//! use teams_bot::{Bot, BotError, Context, IncomingMessage};
//!
//! struct Shout;
//!
//! #[teams_bot::async_trait]
//! impl Bot for Shout {
//!     async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
//!         ctx.reply(message.text.to_uppercase()).await?;
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let kit = TestKit::new(Shout);
//! assert_eq!(kit.personal_message("hello").await, 200);
//! assert_eq!(kit.sent_texts(), ["HELLO"]);
//! # }
//! ```

use crate::api::{Bot, BotIdentity, State};
use crate::app::{App, Inbound};
use connector::ServiceUrlAllowlist;
pub use connector::{ConnectorCall, ConnectorError, RecordingConnector};
use models::{Activity, TeamsChannelAccount};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use store::{MemoryStore, StateScope, Store};

/// The serviceUrl of the test kit's activities (a Teams host, so the allowlist accepts it).
pub const SERVICE_URL: &str = "https://smba.trafficmanager.net/teams/";
/// The tenant of the test kit's activities.
pub const TENANT: &str = "00000000-0000-0000-0000-00000000cafe";
/// The bot's account id in the test kit.
pub const BOT_ID: &str = "28:test-bot";
/// The bot's name in the test kit.
pub const BOT_NAME: &str = "Test Bot";
/// The user who writes in the test kit's activities.
pub const USER_ID: &str = "29:test-user";
/// The user's name.
pub const USER_NAME: &str = "Test User";
/// The test kit's 1:1 conversation.
pub const PERSONAL_CONVERSATION: &str = "a:test-personal-chat";
/// The test kit's team (and General channel) id.
pub const TEAM_ID: &str = "19:test-team@thread.tacv2";
/// The test kit's group chat.
pub const GROUP_CHAT: &str = "19:test-group-chat@thread.v2";
/// The meeting whose chat is [`GROUP_CHAT`] in [`TestKit::meeting_event`] and [`TestKit::meeting_message`]
/// (`channelData.meeting.id`); answer its lookups with [`RecordingConnector::set_meeting`].
pub const MEETING_ID: &str = "MCMxOTp0ZXN0LWdyb3VwLWNoYXRAdGhyZWFkLnYyIzA=";

/// A bot wired to the runtime over an in-memory store and a [`RecordingConnector`]; the store's change events
/// drive the welcome flow as the devserver's do.
#[derive(Debug)]
pub struct TestKit {
    app: App,
    connector: Arc<RecordingConnector>,
    store: Arc<MemoryStore>,
    next_id: AtomicU64,
}

impl TestKit {
    /// The runtime around `bot`. Needs a Tokio runtime (the welcome flow runs as a task).
    #[must_use]
    pub fn new(bot: impl Bot) -> Self {
        let store = Arc::new(MemoryStore::new());
        let changes = store.subscribe_changes();
        let connector = Arc::new(RecordingConnector::new());
        let app = App {
            identity: BotIdentity::new(BOT_ID, BOT_NAME),
            bot: Arc::new(bot),
            connector: connector.clone(),
            store: store.clone(),
            inbound: Inbound::Anonymous,
            service_urls: ServiceUrlAllowlist::default(),
            welcome_roster: false,
            known: std::sync::Arc::default(),
        };
        tokio::spawn(crate::background::run_change_feed(app.clone(), changes));
        Self {
            app,
            connector,
            store,
            next_id: AtomicU64::new(1),
        }
    }

    /// The runtime the kit drives (to call the runtime's entry points directly).
    #[must_use]
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The recording Connector: every call the bot made, and knobs to make the next calls fail.
    #[must_use]
    pub fn connector(&self) -> &RecordingConnector {
        &self.connector
    }

    /// The in-memory store.
    #[must_use]
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Delivers `activity` (JSON) to the webhook as Teams would; answers the HTTP status.
    pub async fn deliver(&self, activity: &Value) -> u16 {
        self.deliver_full(activity).await.0
    }

    /// Delivers `activity`; answers the HTTP status and body (the invoke response, for invokes).
    pub async fn deliver_full(&self, activity: &Value) -> (u16, Value) {
        let body = serde_json::to_vec(activity).unwrap_or_default();
        let (status, _, body) = crate::webhook::handle(&self.app, None, &body).await.into_parts();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// A 1:1 message from the test user.
    pub async fn personal_message(&self, text: &str) -> u16 {
        let activity = self.message(text, PERSONAL_CONVERSATION, "personal", false);
        self.deliver(&activity).await
    }

    /// A 1:1 message from another user (`user_id`, `name`), in that user's own 1:1 chat (`a:<user_id>`); its
    /// activity, to deliver with [`TestKit::deliver`] (again, to test a redelivery).
    #[must_use]
    pub fn personal_message_from(&self, user_id: &str, name: &str, text: &str) -> Value {
        let mut activity = self.message(text, &format!("a:{user_id}"), "personal", false);
        activity["from"] = json!({"id": user_id, "name": name});
        activity
    }

    /// An activity of type `kind` from the test user in `conversation` (of `conversation_type`: `personal`,
    /// `groupChat` or `channel`), with a fresh id, as Teams addresses it: add the fields of its kind and
    /// [`TestKit::deliver`] it.
    #[must_use]
    pub fn activity(&self, kind: &str, conversation: &str, conversation_type: &str) -> Value {
        self.envelope(kind, conversation, conversation_type)
    }

    /// A user's edit of the message `message_id` in the test kit's 1:1 chat, as Teams sends it (`messageUpdate`
    /// with the message's own id); each call is a new edit (a later timestamp).
    #[must_use]
    pub fn edit_of(&self, message_id: &str, new_text: &str) -> Value {
        let mut activity = self.envelope("messageUpdate", PERSONAL_CONVERSATION, "personal");
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        activity["id"] = json!(message_id);
        activity["text"] = json!(new_text);
        activity["timestamp"] = json!(format!("2026-01-01T00:{:02}:{:02}.000Z", (n / 60) % 60, n % 60));
        activity["channelData"]["eventType"] = json!("editMessage");
        activity
    }

    /// A channel message in the General channel of the test team that @mentions the bot.
    pub async fn channel_message(&self, text: &str) -> u16 {
        let activity = self.message(text, TEAM_ID, "channel", true);
        self.deliver(&activity).await
    }

    /// A group chat message; `mention_bot` says whether it @mentions the bot.
    pub async fn group_message(&self, text: &str, mention_bot: bool) -> u16 {
        let activity = self.message(text, GROUP_CHAT, "groupChat", mention_bot);
        self.deliver(&activity).await
    }

    /// An `event` named `name` (`application/vnd.microsoft.meetingStart`, ...) with `value`, from the meeting
    /// [`MEETING_ID`] in its chat ([`GROUP_CHAT`]), as Teams sends it: deliver it with [`TestKit::deliver`].
    #[must_use]
    pub fn meeting_event(&self, name: &str, value: Value) -> Value {
        let mut activity = self.envelope("event", GROUP_CHAT, "groupChat");
        activity["name"] = json!(name);
        activity["value"] = value;
        activity["channelData"]["meeting"] = json!({"id": MEETING_ID});
        activity
    }

    /// A message from the test user in the chat of the meeting [`MEETING_ID`] ([`GROUP_CHAT`]) that @mentions the
    /// bot: deliver it with [`TestKit::deliver`].
    #[must_use]
    pub fn meeting_message(&self, text: &str) -> Value {
        let mut activity = self.message(text, GROUP_CHAT, "groupChat", true);
        activity["channelData"]["meeting"] = json!({"id": MEETING_ID});
        activity
    }

    /// The bot installed in the test team (a `conversationUpdate` with the bot in `membersAdded`).
    pub async fn install_in_team(&self) -> u16 {
        let mut activity = self.envelope("conversationUpdate", TEAM_ID, "channel");
        activity["membersAdded"] = json!([{"id": BOT_ID}]);
        activity["channelData"]["eventType"] = json!("teamMemberAdded");
        self.deliver(&activity).await
    }

    /// The bot installed personally by the test user (`installationUpdate` `add`).
    pub async fn install_personal(&self) -> u16 {
        let mut activity = self.envelope("installationUpdate", PERSONAL_CONVERSATION, "personal");
        activity["action"] = json!("add");
        self.deliver(&activity).await
    }

    /// An invoke named `name` with `value` in the 1:1 chat; answers the status and the invoke response body.
    pub async fn invoke(&self, name: &str, value: Value) -> (u16, Value) {
        let mut activity = self.envelope("invoke", PERSONAL_CONVERSATION, "personal");
        activity["name"] = json!(name);
        activity["value"] = value;
        self.deliver_full(&activity).await
    }

    /// Runs the jobs that are due now, as the schedule would; answers the tick's report.
    pub async fn tick(&self) -> Value {
        crate::proactive::tick(&self.app).await
    }

    /// Sets the roster the Connector answers for `conversation`.
    pub fn set_members(&self, conversation: &str, members: Vec<TeamsChannelAccount>) {
        self.connector.set_members(conversation, members);
    }

    /// Every activity the bot sent, replied or updated, in order.
    #[must_use]
    pub fn sent(&self) -> Vec<Activity> {
        self.connector.sent_activities()
    }

    /// The texts of every message the bot sent (replies, sends, updates), in order.
    #[must_use]
    pub fn sent_texts(&self) -> Vec<String> {
        self.sent().iter().filter_map(|a| a.text().map(str::to_owned)).collect()
    }

    /// The texts of the bot's replies to inbound activities (not welcomes or other sends), in order.
    #[must_use]
    pub fn replies(&self) -> Vec<String> {
        self.calls()
            .iter()
            .filter_map(|call| match call {
                ConnectorCall::Reply { activity, .. } => activity.text().map(str::to_owned),
                _ => None,
            })
            .collect()
    }

    /// The bot's state for the conversation `conversation`, as its handlers see it.
    #[must_use]
    pub fn conversation_state(&self, conversation: &str) -> State<'_> {
        State::new(&self.app, StateScope::Conversation(conversation.into()))
    }

    /// The bot's state for user `user_id` of the test tenant, as its handlers see it.
    #[must_use]
    pub fn user_state(&self, user_id: &str) -> State<'_> {
        State::new(
            &self.app,
            StateScope::User {
                tenant: TENANT.into(),
                user_id: user_id.to_owned(),
            },
        )
    }

    /// Every Connector call, in order.
    #[must_use]
    pub fn calls(&self) -> Vec<ConnectorCall> {
        self.connector.calls()
    }

    /// Waits (at most 2 s) until `done` holds for the texts sent so far, giving the welcome flow time to run;
    /// answers whether it held.
    pub async fn wait_for(&self, done: impl Fn(&[String]) -> bool) -> bool {
        for _ in 0..200 {
            if done(&self.sent_texts()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// Forgets every call recorded so far.
    pub fn clear(&self) {
        self.connector.clear();
    }

    fn message(&self, text: &str, conversation: &str, conversation_type: &str, mention_bot: bool) -> Value {
        let mut activity = self.envelope("message", conversation, conversation_type);
        if mention_bot {
            activity["text"] = json!(format!("<at>{BOT_NAME}</at> {text}"));
            activity["entities"] = json!([{
                "type": "mention",
                "mentioned": {"id": BOT_ID, "name": BOT_NAME},
                "text": format!("<at>{BOT_NAME}</at>"),
            }]);
        } else {
            activity["text"] = json!(text);
        }
        activity
    }

    fn envelope(&self, kind: &str, conversation: &str, conversation_type: &str) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut channel_data = json!({"tenant": {"id": TENANT}});
        if conversation_type == "channel" {
            channel_data["team"] = json!({"id": TEAM_ID, "name": "Test Team"});
            channel_data["channel"] = json!({"id": conversation, "name": "General"});
        }
        json!({
            "type": kind,
            "id": format!("kit-{id}"),
            "timestamp": "2026-01-01T00:00:00.000Z",
            "channelId": "msteams",
            "serviceUrl": SERVICE_URL,
            "from": {"id": USER_ID, "name": USER_NAME, "aadObjectId": "00000000-0000-0000-0000-0000000000a1"},
            "recipient": {"id": BOT_ID, "name": BOT_NAME},
            "conversation": {
                "id": conversation,
                "conversationType": conversation_type,
                "isGroup": conversation_type != "personal",
                "tenantId": TENANT,
            },
            "channelData": channel_data,
        })
    }
}

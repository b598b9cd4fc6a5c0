#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Teams meetings (issue 18), end to end through the real webhook ([`service::handle`]) with a signed Bot
//! Framework token, the real Connector client ([`HttpConnector`]) and the fake Teams service, which knows a
//! meeting (its chat, organizer and participants) and answers the meeting APIs as msteams-docs
//! `apps-in-teams-meetings/meeting-apps-apis.md` documents them. The bot records each handler call and runs the
//! reference bot's behaviour:
//!
//! - `meeting_start_and_end_reach_their_handlers_once_and_are_announced_in_the_meeting_chat`: the start and end
//!   events (Microsoft's documented payloads) are answered 200 with no body and reach `on_meeting_started` /
//!   `on_meeting_ended` once each (exact redeliveries are deduped); the reference bot posts
//!   `Meeting started: <title>` (plain text: the title is not rendered as markdown) and `Meeting ended`.
//! - `participants_joining_and_leaving_are_typed`: join and leave events reach their handlers with each member's
//!   id, role and presence.
//! - `role_in_a_meeting_chat_answers_the_senders_role_from_teams`: the `role` command reads the participant API
//!   (`v1/meetings/{id}/participants/{aadObjectId}?tenantId=`, meeting id from `channelData.meeting.id`).
//! - `meeting_lookups_outside_a_meeting_are_a_typed_error`: in a 1:1 chat, `ctx.meeting_participant` and
//!   `ctx.meeting_info` fail with `NotAvailable` (`is_not_in_a_meeting`) and call nothing; `role` says so.
//! - `meeting_lookups_answer_teams_refusals`: a participant Teams does not find (404) and a meeting without the
//!   app (403) come back as the Connector's typed errors.
//! - `other_events_reach_on_event_and_malformed_meeting_events_reach_nothing`: an unknown event name reaches
//!   `on_event` with its name and value, answered 200; a start event whose value does not fit reaches no handler.
//!
//! `cargo test -p service --test meetings`

use auth::{AuthConfig, Authenticator};
use connector::{ConnectorConfig, ConnectorError, HttpConnector, RetryPolicy, ServiceUrlAllowlist};
use fake_teams::openid::{BotClaims, OpenIdServer};
use fake_teams::{DEFAULT_TENANT, FakeTeams, Route, SeedMeeting};
use reference_bot::ReferenceBot;
use reference_bot::meeting::{MEETING_ENDED, NOT_A_MEETING, NOT_IN_MEETING};
use serde_json::{Value, json};
use service::api::{
    Bot, BotError, BotIdentity, Context, IncomingMessage, MeetingEvent, MeetingParticipantsChanged, OtherEvent,
};
use service::{App, Inbound};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::MemoryStore;

const MEETING: &str = "MCMxOTptZWV0aW5nX05tWXpaRGsyWkdFdE1EazJZeTAw@thread.v2#MA==";
const CHAT: &str = "19:meeting_NmYzZDk2ZGEt@thread.v2";
const NO_APP_MEETING: &str = "MCMxOTptZWV0aW5nX25vYXBw";
const NO_APP_CHAT: &str = "19:meeting_noapp@thread.v2";
const ALICE: &str = "29:1alice-meeting";
const BOB: &str = "29:1bob-meeting";
const DANA: &str = "29:1dana-not-invited";
const BOT_NAME: &str = "Meeter";

/// Records each handler call as a line, then does what the reference bot does.
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Recorder {
    fn record(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }
}

#[teams_bot::async_trait]
impl Bot for Recorder {
    async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
        match message.text.as_str() {
            "probe" => {
                let participant = ctx.meeting_participant(&message.from.id).await;
                let info = ctx.meeting_info().await;
                let describe = |e: &BotError| {
                    if e.is_not_in_a_meeting() {
                        "not in a meeting".to_owned()
                    } else {
                        match e {
                            BotError::Connector(ConnectorError::NotFound { .. }) => "404".to_owned(),
                            BotError::Connector(ConnectorError::Forbidden { .. }) => "403".to_owned(),
                            other => format!("{other}"),
                        }
                    }
                };
                let p = participant.map_or_else(|e| describe(&e), |p| format!("{:?}", p.meeting.role));
                let i = info.map_or_else(|e| describe(&e), |i| i.details.title.unwrap_or_default());
                self.record(format!("probe participant={p} info={i}"));
                Ok(())
            }
            _ => ReferenceBot.on_message(ctx, message).await,
        }
    }

    async fn on_meeting_started(&self, ctx: &Context<'_>, meeting: &MeetingEvent<'_>) -> Result<(), BotError> {
        self.record(format!(
            "started meeting={} title={} at={}",
            meeting.meeting_id.unwrap_or_default(),
            meeting.title().unwrap_or_default(),
            meeting.details.start_time.as_deref().unwrap_or_default()
        ));
        ReferenceBot.on_meeting_started(ctx, meeting).await
    }

    async fn on_meeting_ended(&self, ctx: &Context<'_>, meeting: &MeetingEvent<'_>) -> Result<(), BotError> {
        self.record(format!(
            "ended meeting={} at={}",
            meeting.meeting_id.unwrap_or_default(),
            meeting.details.end_time.as_deref().unwrap_or_default()
        ));
        ReferenceBot.on_meeting_ended(ctx, meeting).await
    }

    async fn on_meeting_participants_joined(
        &self,
        _ctx: &Context<'_>,
        joined: &MeetingParticipantsChanged<'_>,
    ) -> Result<(), BotError> {
        for m in joined.members {
            let role = m.meeting.role.as_ref().map(|r| r.as_str().to_owned());
            self.record(format!("joined {} {role:?} {:?}", m.user.id, m.meeting.in_meeting));
        }
        Ok(())
    }

    async fn on_meeting_participants_left(
        &self,
        _ctx: &Context<'_>,
        left: &MeetingParticipantsChanged<'_>,
    ) -> Result<(), BotError> {
        for m in left.members {
            self.record(format!("left {} {:?}", m.user.id, m.meeting.in_meeting));
        }
        Ok(())
    }

    async fn on_event(&self, _ctx: &Context<'_>, event: &OtherEvent<'_>) -> Result<(), BotError> {
        self.record(format!(
            "event {} {}",
            event.name,
            event.value.cloned().unwrap_or_default()
        ));
        Ok(())
    }
}

struct World {
    fake: FakeTeams,
    openid: OpenIdServer,
    app: App,
    calls: Arc<Mutex<Vec<String>>>,
}

async fn world() -> World {
    let alice = FakeTeams::member(ALICE, "Alice", "aad-alice");
    let bob = FakeTeams::member(BOB, "Bob", "aad-bob");
    let fake = FakeTeams::builder()
        .user(DEFAULT_TENANT, FakeTeams::member(DANA, "Dana", "aad-dana"))
        .start()
        .await
        .unwrap();
    fake.add_meeting(
        SeedMeeting::new(MEETING, CHAT, "Weekly *sync*")
            .organizer(alice.clone())
            .participant(bob.clone(), "Presenter", true),
    );
    fake.add_meeting(
        SeedMeeting::new(NO_APP_MEETING, NO_APP_CHAT, "Private")
            .organizer(alice)
            .without_app(),
    );
    let vars = fake.env();
    let mut config =
        ConnectorConfig::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())).unwrap();
    config.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_secs(30),
        max_total: Duration::from_secs(60),
    };
    let openid = OpenIdServer::new();
    let addr = openid.serve().await.unwrap();
    let mut auth = AuthConfig::new(fake.app_id());
    auth.openid_metadata_url = url::Url::parse(&OpenIdServer::metadata_url(addr)).unwrap();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let app = App {
        identity: BotIdentity::new(format!("28:{}", fake.app_id()), BOT_NAME),
        bot: Arc::new(Recorder(calls.clone())),
        connector: Arc::new(HttpConnector::new(&config).unwrap()),
        store: Arc::new(MemoryStore::new()),
        inbound: Inbound::Verified(Arc::new(Authenticator::new(&auth).unwrap())),
        service_urls: ServiceUrlAllowlist::new(&[fake.service_url()]).unwrap(),
        welcome_roster: false,
        known: Arc::default(),
    };
    World {
        fake,
        openid,
        app,
        calls,
    }
}

fn next_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("f:meeting-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

impl World {
    /// Posts `activity` with a valid token, as Teams does; answers the status and body.
    async fn post(&self, activity: &Value) -> (u16, Vec<u8>) {
        let service_url = self.fake.service_url();
        let token = self
            .openid
            .sign(&BotClaims::new(&self.fake.app_id(), &service_url).to_json())
            .unwrap();
        let answer = service::handle(
            &self.app,
            Some(&format!("Bearer {token}")),
            &serde_json::to_vec(activity).unwrap(),
        )
        .await;
        let body = match answer.body {
            service::webhook::Body::Empty => Vec::new(),
            other => format!("{other:?}").into_bytes(),
        };
        (answer.status, body)
    }

    /// An `event` in the meeting chat of `meeting`, shaped as msteams-docs' meeting start/end example.
    fn event(&self, name: &str, value: Value) -> Value {
        json!({
            "name": name,
            "type": "event",
            "timestamp": "2026-11-30T10:00:00.1252256Z",
            "id": next_id(),
            "channelId": "msteams",
            "serviceUrl": self.fake.service_url(),
            "from": {"id": ALICE, "aadObjectId": "aad-alice"},
            "conversation": {"isGroup": true, "tenantId": DEFAULT_TENANT, "id": CHAT},
            "recipient": {"id": self.app.identity.id, "name": BOT_NAME},
            "entities": [{"locale": "en-US", "country": "US", "type": "clientInfo"}],
            "channelData": {"tenant": {"id": DEFAULT_TENANT}, "source": null, "meeting": {"id": MEETING}},
            "value": value,
            "locale": "en-US",
        })
    }

    /// `text` from `from` (a Teams id and AAD object id) to the bot: in `chat` as a group chat @mentioning it
    /// (with `meeting` as `channelData.meeting.id` when given), or, when `chat` is None, in their 1:1 chat.
    fn message(&self, from: (&str, &str), chat: Option<&str>, meeting: Option<&str>, text: &str) -> Value {
        let bot = json!({"id": self.app.identity.id, "name": BOT_NAME});
        let mut activity = json!({
            "type": "message",
            "id": next_id(),
            "timestamp": "2026-11-30T10:05:00.000Z",
            "channelId": "msteams",
            "serviceUrl": self.fake.service_url(),
            "from": {"id": from.0, "aadObjectId": from.1},
            "recipient": bot,
            "channelData": {"tenant": {"id": DEFAULT_TENANT}},
            "text": text,
        });
        match chat {
            Some(chat) => {
                let at = format!("<at>{BOT_NAME}</at>");
                activity["text"] = json!(format!("{at} {text}"));
                activity["entities"] = json!([{"type": "mention", "mentioned": bot, "text": at}]);
                activity["conversation"] = json!({"id": chat, "conversationType": "groupChat", "isGroup": true,
                    "tenantId": DEFAULT_TENANT});
            }
            None => {
                let personal = self.fake.personal_conversation(DEFAULT_TENANT, from.0).unwrap();
                activity["conversation"] = json!({"id": personal, "conversationType": "personal",
                    "tenantId": DEFAULT_TENANT});
            }
        }
        if let Some(meeting) = meeting {
            activity["channelData"]["meeting"] = json!({"id": meeting});
        }
        activity
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// The texts and text formats the bot posted in `chat`, in order.
    fn posted(&self, chat: &str) -> Vec<(String, Option<String>)> {
        self.fake
            .activities(chat)
            .iter()
            .filter(|a| a.activity["type"] == "message")
            .map(|a| {
                (
                    a.activity["text"].as_str().unwrap_or_default().to_owned(),
                    a.activity["textFormat"].as_str().map(str::to_owned),
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn meeting_start_and_end_reach_their_handlers_once_and_are_announced_in_the_meeting_chat() {
    let w = world().await;
    let start = w.event(
        "application/vnd.microsoft.meetingStart",
        json!({"MeetingType": "Scheduled", "Title": "Weekly *sync*", "Id": MEETING, "JoinUrl": "url",
            "StartTime": "2026-11-30T10:00:17.4388966Z"}),
    );
    assert_eq!(w.post(&start).await, (200, Vec::new()));
    // Teams redelivers it: answered 200, no handler runs again.
    assert_eq!(w.post(&start).await, (200, Vec::new()));
    let end = w.event(
        "application/vnd.microsoft.meetingEnd",
        json!({"MeetingType": "Scheduled", "Title": "Weekly *sync*", "Id": MEETING, "JoinUrl": "url",
            "EndTime": "2026-11-30T10:59:01.0000000Z"}),
    );
    assert_eq!(w.post(&end).await, (200, Vec::new()));
    assert_eq!(w.post(&end).await, (200, Vec::new()));

    assert_eq!(
        w.calls(),
        [
            format!("started meeting={MEETING} title=Weekly *sync* at=2026-11-30T10:00:17.4388966Z"),
            format!("ended meeting={MEETING} at=2026-11-30T10:59:01.0000000Z"),
        ]
    );
    assert_eq!(
        w.posted(CHAT),
        [
            ("Meeting started: Weekly *sync*".to_owned(), Some("plain".to_owned())),
            (MEETING_ENDED.to_owned(), None),
        ]
    );
}

#[tokio::test]
async fn participants_joining_and_leaving_are_typed() {
    let w = world().await;
    let member = |id: &str, aad: &str, in_meeting: bool| {
        json!({"user": {"id": id, "aadObjectId": aad, "name": "Someone", "tenantId": DEFAULT_TENANT,
            "userRole": "user"}, "meeting": {"inMeeting": in_meeting, "role": "Presenter"}})
    };
    let joined = w.event(
        "application/vnd.microsoft.meetingParticipantJoin",
        json!({"members": [member(BOB, "aad-bob", true), member(ALICE, "aad-alice", true)]}),
    );
    assert_eq!(w.post(&joined).await, (200, Vec::new()));
    assert_eq!(w.post(&joined).await, (200, Vec::new()));
    let left = w.event(
        "application/vnd.microsoft.meetingParticipantLeave",
        json!({"members": [member(BOB, "aad-bob", false)]}),
    );
    assert_eq!(w.post(&left).await, (200, Vec::new()));
    assert_eq!(
        w.calls(),
        [
            format!("joined {BOB} Some(\"Presenter\") Some(true)"),
            format!("joined {ALICE} Some(\"Presenter\") Some(true)"),
            format!("left {BOB} Some(false)"),
        ]
    );
    assert!(
        w.posted(CHAT).is_empty(),
        "the reference bot says nothing on joins and leaves"
    );
}

#[tokio::test]
async fn role_in_a_meeting_chat_answers_the_senders_role_from_teams() {
    let w = world().await;
    let (status, _) = w
        .post(&w.message((BOB, "aad-bob"), Some(CHAT), Some(MEETING), "role"))
        .await;
    assert_eq!(status, 200);
    let (status, _) = w
        .post(&w.message((ALICE, "aad-alice"), Some(CHAT), Some(MEETING), "role"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        w.posted(CHAT),
        [
            ("Your meeting role: Presenter".to_owned(), Some("plain".to_owned())),
            ("Your meeting role: Organizer".to_owned(), Some("plain".to_owned())),
        ]
    );
    let lookups = w.fake.calls_to(Route::MeetingParticipant);
    assert_eq!(lookups.len(), 2);
    assert_eq!(lookups[0].ids, [MEETING, "aad-bob"]);
    assert_eq!(
        lookups[0].query.as_deref(),
        Some(format!("tenantId={DEFAULT_TENANT}").as_str())
    );
    assert!(lookups.iter().all(|c| c.auth_valid && c.status == 200));
}

#[tokio::test]
async fn meeting_lookups_outside_a_meeting_are_a_typed_error() {
    let w = world().await;
    assert_eq!(w.post(&w.message((DANA, "aad-dana"), None, None, "probe")).await.0, 200);
    // A group chat that is no meeting's: no `channelData.meeting`.
    assert_eq!(
        w.post(&w.message((BOB, "aad-bob"), Some(CHAT), None, "probe")).await.0,
        200
    );
    assert_eq!(
        w.calls(),
        [
            "probe participant=not in a meeting info=not in a meeting",
            "probe participant=not in a meeting info=not in a meeting"
        ]
    );
    assert!(w.fake.calls_to(Route::MeetingParticipant).is_empty());
    assert!(w.fake.calls_to(Route::MeetingInfo).is_empty());

    assert_eq!(w.post(&w.message((DANA, "aad-dana"), None, None, "role")).await.0, 200);
    let personal = w.fake.personal_conversation(DEFAULT_TENANT, DANA).unwrap();
    let texts: Vec<String> = w.posted(&personal).into_iter().map(|(t, _)| t).collect();
    assert!(texts.iter().any(|t| t == NOT_A_MEETING), "{texts:?}");
}

#[tokio::test]
async fn meeting_lookups_answer_teams_refusals() {
    let w = world().await;
    // Dana is not invited: Teams does not find her in the meeting (404).
    assert_eq!(
        w.post(&w.message((DANA, "aad-dana"), Some(CHAT), Some(MEETING), "probe"))
            .await
            .0,
        200
    );
    // A meeting the app is not installed in: 403 for both lookups.
    let in_no_app = w.message((ALICE, "aad-alice"), Some(NO_APP_CHAT), Some(NO_APP_MEETING), "probe");
    assert_eq!(w.post(&in_no_app).await.0, 200);
    assert_eq!(
        w.calls(),
        [
            "probe participant=404 info=Weekly *sync*",
            "probe participant=403 info=403"
        ]
    );
    // The reference bot's `role` says it could not find the sender.
    assert_eq!(
        w.post(&w.message((DANA, "aad-dana"), Some(CHAT), Some(MEETING), "role"))
            .await
            .0,
        200
    );
    let texts: Vec<String> = w.posted(CHAT).into_iter().map(|(t, _)| t).collect();
    assert_eq!(texts, [NOT_IN_MEETING]);
}

#[tokio::test]
async fn other_events_reach_on_event_and_malformed_meeting_events_reach_nothing() {
    let w = world().await;
    let receipt = w.event(
        "application/vnd.microsoft.readReceipt",
        json!({"lastReadMessageId": "1700000000001"}),
    );
    assert_eq!(w.post(&receipt).await, (200, Vec::new()));
    assert_eq!(w.post(&receipt).await, (200, Vec::new()));
    let malformed = w.event("application/vnd.microsoft.meetingStart", json!({"Title": 42}));
    assert_eq!(w.post(&malformed).await, (200, Vec::new()));
    assert_eq!(
        w.calls(),
        [r#"event application/vnd.microsoft.readReceipt {"lastReadMessageId":"1700000000001"}"#]
    );
    assert!(w.posted(CHAT).is_empty());
}

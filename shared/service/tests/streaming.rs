#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Teams' streaming messages (issue 18), end to end through the real webhook ([`service::handle`]), the reference
//! bot's `stream` command, the real Connector client ([`HttpConnector`]: token, allowlist, pacing, retries) and
//! the fake Teams service, which answers streaming requests as msteams-docs `bots/streaming-ux.md` documents
//! (and refuses them as Teams does):
//!
//! - `stream_in_a_personal_chat_is_informative_then_growing_text_then_the_final_message`: one stream: an
//!   informative update (sequence 1, answered 201 with the stream's id), streaming updates whose sequence goes up
//!   by one and whose text grows (each the whole text so far), then a `message` with `streamType: final`, the
//!   stream's id, no sequence and the whole text; every update accepted (none faster than Teams' one a second,
//!   none out of order); the chat holds one message, the streamed one, ending as the final text.
//! - `stream_in_a_group_chat_is_one_final_message`: no streaming request; one ordinary message with the text.
//! - `stream_the_user_stops_ends_quietly`: the user presses Stop after two updates: Teams refuses the next one
//!   (403 `ContentStreamNotAllowed`, "cancelled by user"); nothing is sent after it (no retry, no final message,
//!   no apology), the webhook answers 200 and the chat keeps the text streamed before Stop.
//! - `stream_where_teams_refuses_streaming_is_one_message`: streaming not enabled for the bot: the first update is
//!   refused (403 "Content stream is not allowed") and the text arrives as one ordinary message.
//!
//! `cargo test -p service --test streaming` (each test takes the command's few seconds of writing).

use connector::{ConnectorConfig, HttpConnector, ServiceUrlAllowlist};
use fake_teams::{DEFAULT_TENANT, FakeTeams, Route, StreamRecord, StreamUpdate};
use reference_bot::ReferenceBot;
use reference_bot::stream::{STREAM_INFORM, STREAM_TEXT};
use serde_json::{Value, json};
use service::api::BotIdentity;
use service::{App, Inbound};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use store::MemoryStore;

const USER: &str = "29:1sam-stream";
const OTHER_USER: &str = "29:1kim-stream";
const GROUP_CHAT: &str = "19:group-stream@thread.v2";
const BOT_NAME: &str = "Streamer";

struct World {
    fake: FakeTeams,
    app: App,
    personal: String,
}

async fn world() -> World {
    let fake = FakeTeams::builder()
        .user(DEFAULT_TENANT, FakeTeams::member(USER, "Sam Stream", "aad-sam"))
        .user(DEFAULT_TENANT, FakeTeams::member(OTHER_USER, "Kim Stream", "aad-kim"))
        .start()
        .await
        .unwrap();
    let personal = fake.personal_conversation(DEFAULT_TENANT, USER).unwrap();
    fake.add_group_chat(DEFAULT_TENANT, GROUP_CHAT, &[USER, OTHER_USER]);
    let vars = fake.env();
    let config = ConnectorConfig::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        .expect("the fake's configuration");
    let app = App {
        identity: BotIdentity::new(format!("28:{}", fake.app_id()), BOT_NAME),
        bot: Arc::new(ReferenceBot),
        connector: Arc::new(HttpConnector::new(&config).unwrap()),
        store: Arc::new(MemoryStore::new()),
        inbound: Inbound::Anonymous,
        service_urls: ServiceUrlAllowlist::new(&[fake.service_url()]).unwrap(),
        welcome_roster: false,
        known: Arc::default(),
    };
    World { fake, app, personal }
}

impl World {
    /// `text` from the user in `conversation` (`personal` or `groupChat`, where it @mentions the bot), as Teams
    /// delivers it; answers the webhook's status.
    async fn say(&self, conversation: &str, conversation_type: &str, text: &str) -> u16 {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let bot = json!({"id": self.app.identity.id, "name": BOT_NAME});
        let mut activity = json!({
            "type": "message",
            "id": format!("1764500000{n:03}"),
            "timestamp": "2026-11-30T11:00:00.000Z",
            "channelId": "msteams",
            "serviceUrl": self.fake.service_url(),
            "from": {"id": USER, "name": "Sam Stream", "aadObjectId": "aad-sam"},
            "recipient": bot,
            "conversation": {
                "id": conversation,
                "conversationType": conversation_type,
                "isGroup": conversation_type != "personal",
                "tenantId": DEFAULT_TENANT,
            },
            "channelData": {"tenant": {"id": DEFAULT_TENANT}},
            "text": text,
        });
        if conversation_type != "personal" {
            let at = format!("<at>{BOT_NAME}</at>");
            activity["text"] = json!(format!("{at} {text}"));
            activity["entities"] = json!([{"type": "mention", "mentioned": bot, "text": at}]);
        }
        service::handle(&self.app, None, &serde_json::to_vec(&activity).unwrap())
            .await
            .status
    }

    /// The one stream in the 1:1 chat.
    fn only_stream(&self) -> StreamRecord {
        let streams = self.fake.streams(&self.personal);
        assert_eq!(streams.len(), 1, "{streams:#?}");
        streams.into_iter().next().unwrap()
    }

    /// The bodies the bot POSTed to `conversation` with a `streaminfo` entity.
    fn streaming_requests(&self, conversation: &str) -> Vec<(u16, Value)> {
        self.fake
            .calls()
            .into_iter()
            .filter(|c| matches!(c.route, Route::SendToConversation | Route::ReplyToActivity))
            .filter(|c| c.ids.first().map(String::as_str) == Some(conversation))
            .filter_map(|c| Some((c.status, c.body?)))
            .filter(|(_, b)| {
                b["entities"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|e| e["type"] == "streaminfo"))
            })
            .collect()
    }
}

fn describe(updates: &[StreamUpdate]) -> String {
    updates
        .iter()
        .map(|u| {
            format!(
                "{} {} {:?} {} {:?}: {}",
                u.activity_type, u.stream_type, u.sequence, u.status, u.error, u.text
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn stream_in_a_personal_chat_is_informative_then_growing_text_then_the_final_message() {
    let w = world().await;
    assert_eq!(w.say(&w.personal, "personal", "stream").await, 200);

    let stream = w.only_stream();
    let updates = &stream.updates;
    let all = describe(updates);
    eprintln!("the stream as Teams received it:\n{all}");
    assert!(
        updates.iter().all(StreamUpdate::accepted),
        "every update accepted:\n{all}"
    );
    assert!(stream.finished && !stream.stopped, "{all}");

    let first = &updates[0];
    assert_eq!(
        (
            first.activity_type.as_str(),
            first.stream_type.as_str(),
            first.sequence,
            first.status
        ),
        ("typing", "informative", Some(1), 201),
        "{all}"
    );
    assert_eq!(first.text, STREAM_INFORM);

    let (last, middle) = updates[1..].split_last().unwrap();
    assert!(!middle.is_empty(), "at least one streaming update:\n{all}");
    let mut shown = String::new();
    for (i, update) in middle.iter().enumerate() {
        assert_eq!(
            (update.activity_type.as_str(), update.stream_type.as_str()),
            ("typing", "streaming"),
            "{all}"
        );
        assert_eq!(
            update.sequence,
            Some(u64::try_from(i).unwrap() + 2),
            "one more than the last:\n{all}"
        );
        assert!(
            update.text.len() > shown.len() && update.text.starts_with(&shown),
            "the text grows:\n{all}"
        );
        assert!(STREAM_TEXT.starts_with(&update.text), "the whole text so far:\n{all}");
        shown.clone_from(&update.text);
    }
    assert_eq!(
        (last.activity_type.as_str(), last.stream_type.as_str()),
        ("message", "final"),
        "{all}"
    );
    assert_eq!(last.sequence, None, "the final message has no sequence:\n{all}");
    assert_eq!(last.text, STREAM_TEXT);

    // On the wire: every request after the first names the stream; the first does not.
    let requests = w.streaming_requests(&w.personal);
    assert_eq!(requests.len(), updates.len());
    let ids: Vec<Option<&str>> = requests
        .iter()
        .map(|(_, b)| b["entities"][0]["streamId"].as_str())
        .collect();
    assert_eq!(ids[0], None);
    assert!(ids[1..].iter().all(|id| *id == Some(stream.id.as_str())), "{ids:?}");

    // Measured, not asserted (no timing assertions): the gaps between the stream's requests at the fake.
    let at: Vec<_> = w
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.route == Route::SendToConversation && c.ids.first() == Some(&w.personal))
        .map(|c| c.at)
        .collect();
    let gaps: Vec<_> = at.windows(2).map(|p| p[1] - p[0]).collect();
    eprintln!("gaps between the stream's requests: {gaps:?}");

    // The chat holds one message: the streamed one, ending as the final message.
    let messages = w.fake.activities(&w.personal);
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0].id, stream.id);
    assert_eq!(messages[0].activity["type"], "message");
    assert_eq!(messages[0].activity["text"], STREAM_TEXT);
}

#[tokio::test]
async fn stream_in_a_group_chat_is_one_final_message() {
    let w = world().await;
    assert_eq!(w.say(GROUP_CHAT, "groupChat", "stream").await, 200);

    assert!(w.streaming_requests(GROUP_CHAT).is_empty(), "no streaming outside 1:1");
    assert!(w.fake.streams(GROUP_CHAT).is_empty());
    let messages = w.fake.activities(GROUP_CHAT);
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0].activity["type"], "message");
    assert_eq!(messages[0].activity["text"], STREAM_TEXT);
}

#[tokio::test]
async fn stream_the_user_stops_ends_quietly() {
    let w = world().await;
    w.fake.stop_stream_after(&w.personal, 2);
    assert_eq!(w.say(&w.personal, "personal", "stream").await, 200);

    let stream = w.only_stream();
    let all = describe(&stream.updates);
    assert!(stream.stopped && !stream.finished, "{all}");
    let (refused, before) = stream.updates.split_last().unwrap();
    assert_eq!(before.len(), 2, "{all}");
    assert!(before.iter().all(StreamUpdate::accepted), "{all}");
    assert_eq!(
        (refused.status, refused.error.as_deref()),
        (403, Some("ContentStreamNotAllowed")),
        "the update after Stop is refused, and nothing follows it:\n{all}"
    );
    assert_eq!(
        w.streaming_requests(&w.personal).len(),
        3,
        "no retry of a refused update"
    );

    // The chat keeps what was shown before Stop, and gets nothing else (no final message, no apology).
    let messages = w.fake.activities(&w.personal);
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0].id, stream.id);
    assert_eq!(messages[0].activity["text"], json!(before[1].text));
    assert_ne!(before[1].text, STREAM_TEXT);
}

#[tokio::test]
async fn stream_where_teams_refuses_streaming_is_one_message() {
    let w = world().await;
    w.fake.disable_streaming();
    assert_eq!(w.say(&w.personal, "personal", "stream").await, 200);

    let requests = w.streaming_requests(&w.personal);
    assert_eq!(requests.len(), 1, "streaming stops at the first refusal: {requests:#?}");
    assert_eq!(requests[0].0, 403);
    assert!(w.fake.streams(&w.personal).is_empty());
    let messages = w.fake.activities(&w.personal);
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0].activity["type"], "message");
    assert_eq!(messages[0].activity["text"], STREAM_TEXT);
    assert!(messages[0].activity.get("entities").is_none(), "an ordinary message");
}

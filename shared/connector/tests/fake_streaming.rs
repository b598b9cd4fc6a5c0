//! The fake Teams service answers streaming requests as msteams-docs `bots/streaming-ux.md` documents (issue 18),
//! checked through the real Connector client: the first update answered with the stream's id, later ones naming
//! it, out-of-order updates dropped, updates that drop streamed text refused, the final message closing the
//! stream and becoming the chat's message, streaming refused outside 1:1 and after the user pressed Stop, and an
//! update faster than one a second answered 429 (and retried by the client).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use connector::{Connector, ConnectorConfig, ConnectorError, HttpConnector};
use fake_teams::{DEFAULT_TENANT, FakeTeams, MIN_UPDATE_GAP, SeedTeam, StreamUpdate};
use models::{Activity, ConversationId};
use serde_json::{Value, json};
use std::collections::HashMap;

const USER: &str = "29:1streamer";
const TEAM: &str = "19:team-streaming@thread.skype";

struct Setup {
    fake: FakeTeams,
    client: HttpConnector,
    personal: ConversationId,
}

async fn setup() -> Setup {
    let fake = FakeTeams::builder()
        .user(DEFAULT_TENANT, FakeTeams::member(USER, "Stream User", "aad-streamer"))
        .team(SeedTeam::new(TEAM, "Streaming"))
        .start()
        .await
        .unwrap();
    let env: HashMap<String, String> = fake.env().into_iter().collect();
    let client = HttpConnector::new(&ConnectorConfig::from_lookup(|k| env.get(k).cloned()).unwrap()).unwrap();
    let personal = ConversationId::from(fake.personal_conversation(DEFAULT_TENANT, USER).unwrap());
    Setup { fake, client, personal }
}

/// A streaming request: `kind` (`typing` or `message`) with a `streaminfo` entity.
fn update(kind: &str, text: &str, stream_type: &str, stream_id: Option<&str>, sequence: Option<u64>) -> Activity {
    let mut info = json!({"type": "streaminfo", "streamType": stream_type});
    if let Some(id) = stream_id {
        info["streamId"] = json!(id);
    }
    if let Some(n) = sequence {
        info["streamSequence"] = json!(n);
    }
    serde_json::from_value(json!({"type": kind, "text": text, "entities": [info]})).unwrap()
}

impl Setup {
    async fn send(&self, conversation: &ConversationId, activity: &Activity) -> Result<String, ConnectorError> {
        self.client
            .send_to_conversation(&self.fake.service_url(), conversation, activity)
            .await
            .map(|r| r.id.as_str().to_owned())
    }

    fn updates(&self) -> Vec<StreamUpdate> {
        self.fake.streams(self.personal.as_str())[0].updates.clone()
    }
}

fn is_not_allowed(result: &Result<String, ConnectorError>, message: &str) -> bool {
    matches!(result, Err(ConnectorError::Forbidden { code, message: m }) if code == "ContentStreamNotAllowed" && m == message)
}

#[tokio::test]
async fn a_stream_runs_as_documented_and_ends_as_the_final_message() {
    let s = setup().await;
    let id = s
        .send(
            &s.personal,
            &update("typing", "Searching...", "informative", None, Some(1)),
        )
        .await
        .unwrap();
    assert!(!id.is_empty(), "the first update is answered with the stream's id");

    tokio::time::sleep(MIN_UPDATE_GAP).await;
    let second = s
        .send(
            &s.personal,
            &update("typing", "A brown", "streaming", Some(&id), Some(2)),
        )
        .await;
    assert_eq!(second.unwrap(), "", "later updates are answered {{}}");

    tokio::time::sleep(MIN_UPDATE_GAP).await;
    // Out of order: answered 202 with Teams' precondition code, and dropped.
    s.send(
        &s.personal,
        &update("typing", "A brown fox", "streaming", Some(&id), Some(2)),
    )
    .await
    .unwrap();

    tokio::time::sleep(MIN_UPDATE_GAP).await;
    let dropped_text = s
        .send(&s.personal, &update("typing", "Hello", "streaming", Some(&id), Some(3)))
        .await;
    assert!(
        is_not_allowed(
            &dropped_text,
            "Request streamed content should contain the previously streamed content"
        ),
        "{dropped_text:?}"
    );

    tokio::time::sleep(MIN_UPDATE_GAP).await;
    s.send(
        &s.personal,
        &update("message", "A brown fox jumped.", "final", Some(&id), None),
    )
    .await
    .unwrap();

    tokio::time::sleep(MIN_UPDATE_GAP).await;
    let after = s
        .send(
            &s.personal,
            &update("typing", "A brown fox jumped. Again", "streaming", Some(&id), Some(4)),
        )
        .await;
    assert!(
        is_not_allowed(
            &after,
            "Content stream is not allowed on an already completed streamed message"
        ),
        "{after:?}"
    );

    let updates = s.updates();
    let answers: Vec<(u16, Option<&str>)> = updates.iter().map(|u| (u.status, u.error.as_deref())).collect();
    assert_eq!(
        answers,
        [
            (201, None),
            (202, None),
            (202, Some("ContentStreamSequenceOrderPreConditionFailed")),
            (403, Some("ContentStreamNotAllowed")),
            (202, None),
            (403, Some("ContentStreamNotAllowed")),
        ]
    );
    let stream = &s.fake.streams(s.personal.as_str())[0];
    assert!(stream.finished);
    let messages = s.fake.activities(s.personal.as_str());
    assert_eq!(messages.len(), 1, "one message: the streamed one");
    assert_eq!(messages[0].id, id);
    assert_eq!(messages[0].activity["text"], "A brown fox jumped.");
    assert_eq!(messages[0].activity["type"], "message");
}

#[tokio::test]
async fn malformed_streams_are_refused_like_teams_refuses_them() {
    let s = setup().await;
    let no_text = s
        .send(&s.personal, &update("typing", "", "streaming", None, Some(1)))
        .await;
    assert!(
        matches!(&no_text, Err(ConnectorError::Unexpected { status: 400, body }) if body.contains("should include text")),
        "{no_text:?}"
    );
    let not_first = s
        .send(&s.personal, &update("typing", "x", "streaming", None, Some(2)))
        .await;
    assert!(
        matches!(not_first, Err(ConnectorError::Unexpected { status: 400, .. })),
        "{not_first:?}"
    );
    let unknown = s
        .send(
            &s.personal,
            &update("typing", "x", "streaming", Some("no-such-stream"), Some(2)),
        )
        .await;
    assert!(
        matches!(unknown, Err(ConnectorError::Unexpected { status: 400, .. })),
        "{unknown:?}"
    );
    let final_first = s.send(&s.personal, &update("message", "x", "final", None, None)).await;
    assert!(
        matches!(final_first, Err(ConnectorError::Unexpected { status: 400, .. })),
        "{final_first:?}"
    );

    // Only 1:1 chats stream.
    let channel = ConversationId::from(TEAM);
    let in_channel = s
        .send(&channel, &update("typing", "x", "streaming", None, Some(1)))
        .await;
    assert!(
        is_not_allowed(&in_channel, "Content stream is not allowed"),
        "{in_channel:?}"
    );
    assert!(s.fake.activities(TEAM).is_empty());
    assert!(s.fake.activities(s.personal.as_str()).is_empty());
}

#[tokio::test]
async fn after_stop_the_next_update_is_refused() {
    let s = setup().await;
    s.fake.stop_stream_after(s.personal.as_str(), 1);
    let id = s
        .send(&s.personal, &update("typing", "Thinking", "informative", None, Some(1)))
        .await
        .unwrap();
    tokio::time::sleep(MIN_UPDATE_GAP).await;
    let next = s
        .send(
            &s.personal,
            &update("typing", "Answer", "streaming", Some(&id), Some(2)),
        )
        .await;
    assert!(
        is_not_allowed(&next, "Content stream was cancelled by user."),
        "{next:?}"
    );
    assert!(s.fake.streams(s.personal.as_str())[0].stopped);
}

#[tokio::test]
async fn an_update_faster_than_one_a_second_is_throttled_and_retried() {
    let s = setup().await;
    let id = s
        .send(&s.personal, &update("typing", "one", "streaming", None, Some(1)))
        .await
        .unwrap();
    // At once: Teams' one request a second per stream is exceeded; the client honours Retry-After and retries.
    s.send(
        &s.personal,
        &update("typing", "one two", "streaming", Some(&id), Some(2)),
    )
    .await
    .unwrap();
    let statuses: Vec<u16> = s.updates().iter().map(|u| u.status).collect();
    assert_eq!(statuses, [201, 429, 202]);
    let last: &Value = &s.fake.activities(s.personal.as_str())[0].activity;
    assert_eq!(last["text"], "one two");
}

//! The `stream` command through the runtime with the test kit (in-process, recording Connector): in a 1:1 chat an
//! informative update, streaming updates and the final message, all naming the stream the first one started; in a
//! group chat one reply with the whole text; a Stop (Teams' 403 "cancelled by user") ends it with nothing more
//! sent. The same against the fake Teams service: `cargo test -p service --test streaming`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use connector::{ConnectorCall, ConnectorError};
use reference_bot::ReferenceBot;
use reference_bot::stream::{STREAM_INFORM, STREAM_TEXT};
use serde_json::Value;
use teams_bot::testkit::TestKit;

/// Each call the bot made (Send or Reply, the activity as JSON), but the personal welcome the first message
/// brings (sent by the welcome flow, beside the command).
fn sent(kit: &TestKit) -> Vec<(&'static str, Value)> {
    kit.calls()
        .iter()
        .filter_map(|call| match call {
            ConnectorCall::Send { activity, .. } => Some(("send", serde_json::to_value(activity).unwrap())),
            ConnectorCall::Reply { activity, .. } => Some(("reply", serde_json::to_value(activity).unwrap())),
            _ => None,
        })
        .filter(|(_, a)| !a["text"].as_str().is_some_and(|t| t.starts_with("Welcome")))
        .collect()
}

fn stream_info(activity: &Value) -> &Value {
    activity["entities"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["type"] == "streaminfo"))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn stream_in_a_personal_chat_streams_then_sends_the_final_message() {
    let kit = TestKit::new(ReferenceBot);
    assert_eq!(kit.personal_message("stream").await, 200);
    let calls = sent(&kit);
    assert!(calls.len() >= 3, "{calls:#?}");
    assert!(
        calls.iter().all(|(how, _)| *how == "send"),
        "POSTed to the chat's activities: {calls:#?}"
    );

    let first = &calls[0].1;
    assert_eq!(first["type"], "typing");
    assert_eq!(first["text"], STREAM_INFORM);
    assert_eq!(stream_info(first)["streamType"], "informative");
    assert_eq!(stream_info(first)["streamSequence"], 1);
    assert!(stream_info(first).get("streamId").is_none());

    let stream_id = stream_info(&calls[1].1)["streamId"].clone();
    assert!(stream_id.as_str().is_some_and(|id| !id.is_empty()), "{calls:#?}");
    let (last, middle) = calls[1..].split_last().unwrap();
    for (i, (_, update)) in middle.iter().enumerate() {
        let info = stream_info(update);
        assert_eq!(
            (update["type"].as_str(), info["streamType"].as_str()),
            (Some("typing"), Some("streaming"))
        );
        assert_eq!(info["streamSequence"], i + 2);
        assert_eq!(info["streamId"], stream_id);
        assert!(STREAM_TEXT.starts_with(update["text"].as_str().unwrap()));
    }
    let last = &last.1;
    assert_eq!(last["type"], "message");
    assert_eq!(last["text"], STREAM_TEXT);
    assert_eq!(stream_info(last)["streamType"], "final");
    assert_eq!(stream_info(last)["streamId"], stream_id);
    assert!(stream_info(last).get("streamSequence").is_none());
}

#[tokio::test]
async fn stream_in_a_group_chat_is_one_reply() {
    let kit = TestKit::new(ReferenceBot);
    assert_eq!(kit.group_message("stream", true).await, 200);
    let calls = sent(&kit);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].0, "reply");
    assert_eq!(calls[0].1["type"], "message");
    assert_eq!(calls[0].1["text"], STREAM_TEXT);
    assert_eq!(stream_info(&calls[0].1), &Value::Null);
}

#[tokio::test]
async fn a_stopped_stream_sends_nothing_more() {
    let kit = TestKit::new(ReferenceBot);
    // The user presses Stop after the first streaming update: Teams refuses the next one.
    kit.connector().fail_when(|call| match call {
        ConnectorCall::Send { activity, .. } => {
            let wire = serde_json::to_value(activity).unwrap();
            let info = stream_info(&wire);
            (info["streamSequence"].as_u64().is_some_and(|n| n >= 3) || info["streamType"] == "final").then(|| {
                ConnectorError::Forbidden {
                    code: "ContentStreamNotAllowed".to_owned(),
                    message: "Content stream was cancelled by user.".to_owned(),
                }
            })
        }
        _ => None,
    });
    assert_eq!(kit.personal_message("stream").await, 200);
    let calls = sent(&kit);
    let refused = calls
        .iter()
        .position(|(_, a)| {
            stream_info(a)["streamSequence"].as_u64().is_some_and(|n| n >= 3) || stream_info(a)["streamType"] == "final"
        })
        .expect("an update after Stop");
    assert_eq!(refused, calls.len() - 1, "nothing after the refused update: {calls:#?}");
    assert!(
        calls.iter().all(|(how, _)| *how == "send"),
        "no apology reply: {calls:#?}"
    );
}

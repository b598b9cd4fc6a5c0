#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]
//! The `slow` command through the whole runtime in-process (TestKit: in-memory store, recording Connector, the
//! store's change feed running deferred work as the `proactive` function does): the acknowledgement is the
//! webhook's reply, the answer a later send in the same conversation, once.

use reference_bot::ReferenceBot;
use reference_bot::slow::{MAX_SLOW_SECS, SLOW_ACK, SLOW_DONE};
use std::time::Duration;
use teams_bot::testkit::{ConnectorCall, PERSONAL_CONVERSATION, TestKit};

/// The proactive sends (not replies) whose text starts with `prefix`, by conversation.
fn sends_starting(kit: &TestKit, prefix: &str) -> Vec<String> {
    kit.calls()
        .iter()
        .filter_map(|c| match c {
            ConnectorCall::Send {
                conversation, activity, ..
            } if activity.text().is_some_and(|t| t.starts_with(prefix)) => Some(conversation.to_string()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn slow_acknowledges_in_the_reply_and_answers_later_once() {
    let kit = TestKit::new(ReferenceBot);
    assert_eq!(kit.personal_message("slow 0").await, 200);
    let replies = kit.replies();
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(replies[0].starts_with(SLOW_ACK), "{replies:?}");
    assert!(replies[0].contains("in 0 s"), "{replies:?}");

    assert!(
        kit.wait_for(|texts| texts.iter().any(|t| t.starts_with(SLOW_DONE)))
            .await,
        "{:#?}",
        kit.calls()
    );
    // A settle window in which a second answer would show.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sends_starting(&kit, SLOW_DONE), [PERSONAL_CONVERSATION]);
    assert_eq!(kit.replies().len(), 1, "the answer is no reply to the message");
}

#[tokio::test]
async fn slow_with_a_bad_delay_says_how_and_defers_nothing() {
    let kit = TestKit::new(ReferenceBot);
    assert_eq!(kit.personal_message("slow later").await, 200);
    assert_eq!(
        kit.replies(),
        [format!("Usage: slow [seconds], at most {MAX_SLOW_SECS}.")]
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sends_starting(&kit, SLOW_DONE).is_empty(), "{:#?}", kit.calls());
}

#[tokio::test]
async fn help_lists_slow() {
    let kit = TestKit::new(ReferenceBot);
    assert_eq!(kit.personal_message("help").await, 200);
    assert!(kit.replies()[0].contains("\n- slow [seconds]: "), "{:?}", kit.replies());
}

#[tokio::test]
async fn in_a_channel_the_answer_is_posted_in_the_thread_of_the_message() {
    let kit = TestKit::new(ReferenceBot);
    assert_eq!(kit.channel_message("slow 0").await, 200);
    let inbound = kit
        .calls()
        .iter()
        .find_map(|c| match c {
            ConnectorCall::Reply { conversation, .. } => Some(conversation.to_string()),
            _ => None,
        })
        .expect("the acknowledgement replies in the thread");
    assert!(
        kit.wait_for(|texts| texts.iter().any(|t| t.starts_with(SLOW_DONE)))
            .await,
        "{:#?}",
        kit.calls()
    );
    assert_eq!(sends_starting(&kit, SLOW_DONE), [inbound]);
}

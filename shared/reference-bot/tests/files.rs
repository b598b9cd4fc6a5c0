#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]
//! The reference bot's files in-process (TestKit: in-memory store, recording Connector): `file` offers its text
//! file through a consent card in a 1:1 chat only; a decline uploads nothing and sends nothing more; a file the
//! Connector cannot fetch gets an apology naming it, as plain text. The transfers themselves (download, upload,
//! where the token goes) run against the fake in `cargo test -p service --test files`.

use reference_bot::ReferenceBot;
use reference_bot::files::{OFFERED_DESCRIPTION, OFFERED_NAME, OFFERED_TEXT};
use serde_json::json;
use teams_bot::models::files::{FILE_CONSENT_CARD, FILE_DOWNLOAD_INFO};
use teams_bot::models::{Activity, TextFormat};
use teams_bot::testkit::{PERSONAL_CONVERSATION, TestKit};

fn consent_cards(kit: &TestKit) -> Vec<serde_json::Value> {
    kit.sent()
        .iter()
        .filter_map(Activity::as_message)
        .flat_map(|m| m.attachments.clone().unwrap_or_default())
        .filter(|a| a.content_type == FILE_CONSENT_CARD)
        .map(|a| serde_json::to_value(a).unwrap())
        .collect()
}

#[tokio::test]
async fn file_offers_the_text_file_in_a_personal_chat_and_a_decline_sends_nothing_more() {
    let kit = TestKit::new(ReferenceBot);
    assert_eq!(kit.personal_message("file").await, 200);
    let cards = consent_cards(&kit);
    assert_eq!(cards.len(), 1, "{:#?}", kit.sent());
    assert_eq!(cards[0]["name"], OFFERED_NAME);
    assert_eq!(cards[0]["content"]["description"], OFFERED_DESCRIPTION);
    assert_eq!(cards[0]["content"]["sizeInBytes"], OFFERED_TEXT.len());
    let sent_before = kit.sent().len();
    let (status, body) = kit
        .invoke(
            "fileConsent/invoke",
            json!({"type": "fileUpload", "action": "decline", "context": cards[0]["content"]["declineContext"]}),
        )
        .await;
    assert_eq!((status, body), (200, json!({})));
    assert_eq!(kit.sent().len(), sent_before, "a decline sends nothing");
}

#[tokio::test]
async fn file_outside_a_personal_chat_says_where_it_works() {
    let kit = TestKit::new(ReferenceBot);
    assert_eq!(kit.channel_message("file").await, 200);
    assert_eq!(
        kit.replies(),
        ["I can send you a file in our 1:1 chat only: message me there and send file."]
    );
    assert!(consent_cards(&kit).is_empty());
}

#[tokio::test]
async fn a_file_that_cannot_be_read_gets_an_apology_naming_it_as_plain_text() {
    let kit = TestKit::new(ReferenceBot);
    let mut activity = kit.activity("message", PERSONAL_CONVERSATION, "personal");
    activity["text"] = json!("");
    activity["attachments"] = json!([{"contentType": FILE_DOWNLOAD_INFO, "name": "<b>x</b>.txt",
        "content": {"downloadUrl": "https://contoso.sharepoint.com/d.aspx?tempauth=t", "uniqueId": "u", "fileType": "txt"}}]);
    assert_eq!(kit.deliver(&activity).await, 200);
    let sent = kit.sent();
    let apology = sent
        .iter()
        .find(|a| a.text() == Some("Sorry, I could not read the file <b>x</b>.txt."))
        .unwrap_or_else(|| panic!("{sent:#?}"));
    assert_eq!(apology.as_message().unwrap().text_format, Some(TextFormat::Plain));
}

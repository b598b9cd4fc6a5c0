//! A known `type` with a malformed field is an error that names the field, never a silent `Unknown` (the same
//! payload under an unknown `type` is kept as sent). Bad documents are errors too, never panics.

// Test helpers (outside #[test] fns) may unwrap: a panic is a test failure.
#![allow(clippy::unwrap_used)]

use models::{Activity, ActivityKind};

/// (payload, text the error must contain: the field's path).
const MALFORMED: &[(&str, &[&str])] = &[
    (r#"{"type":"message","text":42}"#, &["message", "`text`"]),
    (
        r#"{"type":"message","textFormat":["plain"]}"#,
        &["message", "`textFormat`"],
    ),
    (
        r#"{"type":"message","attachments":[{"contentType":5}]}"#,
        &["attachments[0].contentType"],
    ),
    (
        r#"{"type":"message","attachments":[{"name":"x"}]}"#,
        &["attachments[0]", "contentType"],
    ),
    (
        r#"{"type":"message","entities":[{"type":"mention","mentioned":{"id":5}}]}"#,
        &["entities[0]", "mentioned.id"],
    ),
    (
        r#"{"type":"message","entities":[{"type":"mention","mentioned":"28:bot"}]}"#,
        &["entities[0]", "mentioned"],
    ),
    (
        r#"{"type":"message","entities":[{"type":"mention","text":"<at>x</at>"}]}"#,
        &["entities[0]", "`mentioned`"],
    ),
    (
        r#"{"type":"message","entities":[{"type":"mention","mentioned":{"id":"a"},"text":1}]}"#,
        &["entities[0]", "`text`"],
    ),
    (
        r#"{"type":"message","entities":[{"type":7}]}"#,
        &["entities[0]", "`type`"],
    ),
    (
        r#"{"type":"message","entities":[{"type":"clientInfo","locale":1}]}"#,
        &["entities[0]", "`locale`"],
    ),
    (r#"{"type":"message","entities":{"type":"mention"}}"#, &["entities"]),
    (
        r#"{"type":"conversationUpdate","channelData":{"eventType":5}}"#,
        &["channelData.eventType"],
    ),
    (
        r#"{"type":"conversationUpdate","channelData":{"eventType":{"name":"teamRenamed"}}}"#,
        &["channelData.eventType"],
    ),
    (
        r#"{"type":"conversationUpdate","channelData":{"tenant":{"id":7}}}"#,
        &["channelData.tenant.id"],
    ),
    (
        r#"{"type":"conversationUpdate","channelData":{"team":"19:x"}}"#,
        &["channelData.team"],
    ),
    (
        r#"{"type":"conversationUpdate","channelData":{"notification":{"alert":"yes"}}}"#,
        &["channelData.notification.alert"],
    ),
    (
        r#"{"type":"conversationUpdate","membersAdded":{}}"#,
        &["conversationUpdate", "`membersAdded`"],
    ),
    (
        r#"{"type":"conversationUpdate","membersAdded":[{"id":"a"},{"id":null}]}"#,
        &["membersAdded[1].id"],
    ),
    (
        r#"{"type":"conversationUpdate","membersRemoved":[{"name":"x"}]}"#,
        &["membersRemoved[0]", "`id`"],
    ),
    (
        r#"{"type":"conversationUpdate","historyDisclosed":"false"}"#,
        &["`historyDisclosed`"],
    ),
    (
        r#"{"type":"installationUpdate","action":1}"#,
        &["installationUpdate", "`action`"],
    ),
    (
        r#"{"type":"messageReaction","reactionsAdded":[{"type":1}]}"#,
        &["reactionsAdded[0].type"],
    ),
    (
        r#"{"type":"messageReaction","reactionsRemoved":"like"}"#,
        &["`reactionsRemoved`"],
    ),
    (r#"{"type":"invoke","name":[]}"#, &["invoke", "`name`"]),
    (r#"{"type":"event","name":{}}"#, &["event", "`name`"]),
    (r#"{"type":"messageUpdate","text":false}"#, &["messageUpdate", "`text`"]),
    (r#"{"type":"typing","from":{"id":"a","name":5}}"#, &["from.name"]),
    (
        r#"{"type":"messageDelete","conversation":{"id":"c","conversationType":true}}"#,
        &["conversation.conversationType"],
    ),
    (
        r#"{"type":"message","conversation":{"name":"no id"}}"#,
        &["conversation", "`id`"],
    ),
    (r#"{"type":"message","recipient":[]}"#, &["recipient"]),
    (r#"{"type":"message","replyToId":5}"#, &["replyToId"]),
    (r#"{"type":"message","timestamp":1676553010}"#, &["timestamp"]),
    (r#"{"type":"message","serviceUrl":true}"#, &["serviceUrl"]),
];

#[test]
fn malformed_field_of_a_known_type_is_an_error_naming_it() {
    for (raw, needles) in MALFORMED {
        let err = match Activity::from_slice(raw.as_bytes()) {
            Ok(a) => panic!("{raw}: parsed as {:?}", a.kind),
            Err(e) => e.to_string(),
        };
        for needle in *needles {
            assert!(err.contains(needle), "{raw}: error {err:?} does not name {needle:?}");
        }
    }
}

#[test]
fn malformed_kind_fields_under_an_unknown_type_are_kept_not_rejected() {
    // Fields that belong to a known kind are only checked for that kind; the envelope is checked for all.
    for (raw, _) in MALFORMED {
        let mut value: serde_json::Value = serde_json::from_str(raw).unwrap();
        let envelope_fault = [
            "channelData",
            "from",
            "conversation",
            "recipient",
            "replyToId",
            "timestamp",
            "serviceUrl",
            "entities",
        ]
        .iter()
        .any(|k| value.get(k).is_some());
        value["type"] = "somethingNew".into();
        let parsed = Activity::from_value(value.clone());
        if envelope_fault {
            assert!(parsed.is_err(), "{raw}");
        } else {
            let a = parsed.unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert!(matches!(a.kind, ActivityKind::Unknown { .. }), "{raw}");
            assert_eq!(serde_json::to_value(&a).unwrap(), value);
        }
    }
}

#[test]
fn bad_documents_are_errors() {
    for raw in [
        "",
        "   ",
        "null",
        "[]",
        "\"message\"",
        "42",
        "{",
        r#"{"type":5}"#,
        r#"{"type":null}"#,
        r#"{"text":"no type"}"#,
        r#"{"type":"message"} trailing"#,
        r#"{"type":"message","text":"\ud800"}"#,
        "\u{feff}{\"type\":\"message\"}",
    ] {
        assert!(Activity::from_slice(raw.as_bytes()).is_err(), "{raw:?}");
    }
    let err = Activity::from_slice(br#"{"text":"no type"}"#).unwrap_err();
    assert!(err.to_string().contains("`type`"), "{err}");
}

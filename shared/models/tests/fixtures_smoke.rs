//! Smoke test of the seed inbound message (more fixtures live in `fixtures.rs`).

use models::{Activity, ActivityKind, ConversationType, Entity};

#[test]
fn seed_inbound_message_parses_and_round_trips() {
    let raw = include_str!("fixtures/message_personal.json");
    let activity = Activity::from_slice(raw.as_bytes()).unwrap();
    let ActivityKind::Message(message) = &activity.kind else {
        panic!("not a message: {:?}", activity.kind)
    };
    assert_eq!(message.text.as_deref(), Some("Hello Teams TestBot"));
    assert_eq!(
        activity.conversation.as_ref().unwrap().conversation_type,
        Some(ConversationType::Personal)
    );
    assert_eq!(activity.tenant_id().unwrap(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
    assert!(matches!(activity.entities.as_ref().unwrap()[0], Entity::ClientInfo(_)));
    let back = serde_json::to_value(&activity).unwrap();
    let original: serde_json::Value = serde_json::from_str(raw).unwrap();
    assert_eq!(back, original);
}

#[test]
fn malformed_known_field_names_the_field() {
    let err = Activity::from_slice(br#"{"type":"message","text":42}"#).unwrap_err();
    assert!(err.to_string().contains("text"), "{err}");
    let err = Activity::from_slice(br#"{"type":"message","from":{"id":7}}"#).unwrap_err();
    assert!(err.to_string().contains("from.id"), "{err}");
    let err = Activity::from_slice(br#"{"type":"conversationUpdate","membersAdded":{}}"#).unwrap_err();
    assert!(err.to_string().contains("membersAdded"), "{err}");
}

#[test]
fn unknown_type_and_fields_are_kept() {
    let raw = r#"{"type":"somethingNew","id":"1","novel":{"a":[1,2]},"text":"hi"}"#;
    let activity = Activity::from_slice(raw.as_bytes()).unwrap();
    assert_eq!(activity.type_name(), "somethingNew");
    let back = serde_json::to_value(&activity).unwrap();
    assert_eq!(back, serde_json::from_str::<serde_json::Value>(raw).unwrap());
}

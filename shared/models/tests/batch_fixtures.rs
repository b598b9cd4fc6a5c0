//! The batch endpoints' payloads (`tests/fixtures/batch/`): each parses to its type with the key fields, and
//! writing it back gives the original JSON.

#![allow(clippy::unwrap_used)]

use models::batch::{BatchFailedEntries, BatchOperationState, BatchRequest, BatchState, OperationId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixture(file: &str) -> String {
    let path = format!("{}/tests/fixtures/batch/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn round_trip<T: DeserializeOwned + Serialize>(file: &str) -> T {
    let raw = fixture(file);
    let value: T = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{file}: {e}"));
    let original: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(serde_json::to_value(&value).unwrap(), original, "{file}: round trip");
    value
}

#[test]
fn a_batch_to_users_names_each_member_and_the_tenant() {
    let r: BatchRequest = round_trip("users_request.json");
    let ids: Vec<_> = r.members.as_ref().unwrap().iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0].starts_with("29:"));
    assert_eq!(r.tenant_id, "72f988bf-86f1-41af-91ab-2d7cd011db47");
    assert_eq!(r.activity.text(), Some("Maintenance tonight at 22:00"));
    assert_eq!(r.team_id, None);
}

#[test]
fn a_batch_to_a_team_names_the_team_and_no_members() {
    let r: BatchRequest = round_trip("team_request.json");
    assert_eq!(r.team_id.as_deref(), Some("19:a1b2c3d4e5f6@thread.tacv2"));
    assert!(r.members.is_none());
}

#[test]
fn an_accepted_batch_answers_its_operation_id() {
    let raw = fixture("operation_response.json");
    let id: OperationId = serde_json::from_str(&raw).unwrap();
    assert_eq!(id.as_str(), "amer_9a1b7c4e-2f35-4b8e-bf0a-6d7e3c9a1f20");
}

#[test]
fn the_operation_state_counts_entries_by_status() {
    let s: BatchOperationState = round_trip("operation_state.json");
    assert_eq!(s.state, BatchState::Completed);
    assert!(s.state.is_final());
    assert_eq!(s.status_map.get("201"), Some(&2));
    assert_eq!(s.failed_count(), 1);
    assert_eq!(s.total_entries_count, 3);
    assert_eq!(s.retry_after.as_deref(), Some("2026-11-30T11:05:03.000Z"));
}

#[test]
fn failed_entries_come_with_a_continuation_token() {
    let p: BatchFailedEntries = round_trip("failed_entries.json");
    assert_eq!(p.continuation_token.as_deref(), Some("b2Zmc2V0OjE"));
    assert_eq!(p.failed_entry_responses.len(), 1);
    assert_eq!(p.failed_entry_responses[0].error, "BotNotInConversationRoster");
}

//! Embedded adapter specifics: durable across restarts, change events in-process as the stream would deliver.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use store::{
    ChangeEvent, ClaimOutcome, Conversations, EmbeddedStore, FirstContact, Outbox, OutboxItem, StreamItem, TeamInstall,
    Timestamp, WelcomeClaims,
};

const URL_A: &str = "https://smba.trafficmanager.net/amer/";
const NOW: Timestamp = Timestamp(1_800_000_000);

fn install() -> TeamInstall {
    TeamInstall {
        team_id: "19:team@thread.skype".into(),
        team_name: None,
        tenant_id: tenant(),
        service_url: URL_A.into(),
        conversation_id: "19:team@thread.skype".into(),
        bot: bot(),
        installed_by: None,
        claimed_at: NOW,
    }
}

#[tokio::test]
async fn state_survives_a_restart() {
    let (store, path) = fresh_embedded().await;
    let reference = personal_reference("a:durable", "29:u", "aad", URL_A);
    store.record_inbound(&reference, NOW).await.unwrap();
    assert!(store.claim_team_install(&install(), NOW).await.unwrap().won());
    drop(store);

    let reopened = EmbeddedStore::open(&path).await.unwrap();
    let record = reopened
        .conversation(&"a:durable".into(), NOW)
        .await
        .unwrap()
        .expect("still there");
    assert_eq!(record.reference.service_url, URL_A);
    assert_eq!(
        reopened.claim_team_install(&install(), NOW).await.unwrap(),
        ClaimOutcome::Lost
    );
    assert_eq!(
        reopened.record_inbound(&reference, NOW).await.unwrap(),
        store::InboundOutcome::Duplicate,
        "dedupe survives too"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn inserts_are_delivered_as_change_events() {
    let (store, path) = fresh_embedded().await;
    let mut events = store.subscribe_changes();

    // Kinds no function consumes (a conversation, a dedupe mark) make no event.
    let reference = personal_reference("a:events", "29:u", "aad", URL_A);
    store.record_inbound(&reference, NOW).await.unwrap();
    assert!(events.try_recv().is_err(), "no event for conversation or seen items");

    assert!(store.claim_team_install(&install(), NOW).await.unwrap().won());
    assert!(!store.claim_team_install(&install(), NOW).await.unwrap().won());
    let contact = FirstContact {
        tenant_id: tenant(),
        user: models::ChannelAccount::new("29:u", None),
        conversation_id: "a:p".into(),
        service_url: URL_A.into(),
        bot: bot(),
        claimed_at: NOW,
    };
    assert!(store.claim_first_contact(&contact, NOW).await.unwrap().won());
    let item = OutboxItem {
        id: "o1".into(),
        topic: "notify".into(),
        payload: json!({"text": "hi"}),
        done: false,
        created_at: NOW,
    };
    store.enqueue(&item, NOW).await.unwrap();
    store.mark_outbox_done("o1", NOW).await.unwrap();

    let mut consumed = Vec::new();
    while let Ok(event) = events.try_recv() {
        let ChangeEvent::Inserted { kind, item } = &event;
        assert!(store::keys::STREAM_KINDS.contains(&kind.as_str()), "{kind}");
        assert_eq!(
            item.get("kind").and_then(|k| k.as_str()),
            Some(kind.as_str()),
            "the image carries kind"
        );
        if let Some(decoded) = event.stream_item().unwrap() {
            consumed.push(decoded);
        }
    }
    assert_eq!(
        consumed,
        vec![
            StreamItem::TeamInstall(install()),
            StreamItem::FirstContact(contact),
            StreamItem::Outbox(item),
        ],
        "one event per insert: no event for the lost claim nor for marking done (a MODIFY)"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn purge_removes_only_expired_items() {
    let (store, path) = fresh_embedded().await;
    let reference = personal_reference("a:purge", "29:u", "aad", URL_A);
    store.record_inbound(&reference, NOW).await.unwrap(); // a seen item with a 24 h TTL, and lasting items
    assert_eq!(store.purge_expired(NOW).await.unwrap(), 0);
    assert_eq!(
        store
            .purge_expired(NOW.plus_secs(store::DEDUPE_TTL_SECS))
            .await
            .unwrap(),
        1
    );
    assert!(store.conversation(&"a:purge".into(), NOW).await.unwrap().is_some());
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn a_second_open_of_the_same_file_is_a_typed_error() {
    let (store, path) = fresh_embedded().await;
    let second = EmbeddedStore::open(&path).await;
    assert!(matches!(second, Err(store::StoreError::Backend(_))), "{second:?}");
    drop(store);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

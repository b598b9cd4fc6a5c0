//! The store contract: one suite, run against every adapter (embedded redb, DynamoDB on moto_server, and the
//! in-memory fake). Each backend's test runs every case on a fresh store and reports
//! `STORE-CONTRACT <backend> <case> ok` per case and `STORE-CONTRACT <backend>: N tests ran`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use models::{ActivityId, ConversationId};
use serde_json::Value;
use serde_json::json;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use store::{
    ClaimOutcome, Cond, FirstContact, IdempotencyClaim, InactiveReason, InboundOutcome, Item, MemoryStore, OutboxItem,
    PersonalConversation, Refresh, SentActivity, StateScope, Store, StoreError, Subscription, Table, TeamInstall,
    TenantSeen, Timestamp, Write, WriteOutcome,
};

const URL_A: &str = "https://smba.trafficmanager.net/amer/";
const URL_B: &str = "https://smba.trafficmanager.net/emea/";
const NOW: Timestamp = Timestamp(1_800_000_000);

/// One store under test, as the ports and as the item backend (the same object).
#[derive(Clone)]
struct Subject {
    store: Arc<dyn Store>,
    table: Arc<dyn Table>,
}

impl Subject {
    fn of<T: Table + 'static>(t: Arc<T>) -> Self {
        Self {
            store: t.clone(),
            table: t,
        }
    }
}

type CaseFn = fn(Subject) -> Pin<Box<dyn Future<Output = ()> + Send>>;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), (|s| Box::pin($name(s))) as CaseFn)),*]
    };
}

const CASES: &[(&str, CaseFn)] = cases![
    inbound_first_then_duplicate,
    inbound_steady_state_changes_nothing,
    inbound_service_url_refresh,
    inbound_without_activity_id_is_not_deduplicated,
    tenant_service_url_fallback,
    personal_index_from_inbound,
    record_personal_create_or_get,
    mark_inactive_and_reactivate,
    team_install_first_writer_wins,
    first_contact_first_writer_wins,
    hundred_concurrent_install_claims_one_winner,
    concurrent_duplicate_inbound_one_new,
    dedupe_expires,
    sent_log_record_and_lookup,
    idempotency_keys,
    subscriptions_due_query,
    slot_claimed_exactly_once,
    simultaneous_votes_all_land,
    pace_slot_claimed_once,
    outbox_enqueue_and_done,
    failed_multi_item_change_writes_nothing,
    expired_items_are_absent,
    corrupt_item_is_a_typed_error,
    invalid_input_is_rejected,
    state_round_trips_in_every_scope,
    state_scopes_are_separate,
    state_overwrite_replaces_and_delete_removes,
    state_expires_after_its_ttl,
    state_invalid_input_writes_nothing,
    state_ids_containing_hash_do_not_collide,
    inbound_claims_first_contact_with_a_new_chat,
    team_index_lists_channels_and_threads,
    reactivate_only_for_the_given_reasons,
    tenant_seen_follows_the_latest_service_url,
    welcome_channel_selected_once_and_team_renamed,
    insert_conversation_writes_once_or_upserts,
];

fn conv(id: &str) -> ConversationId {
    ConversationId::from(id)
}

async fn inbound_first_then_duplicate(s: Subject) {
    let reference = personal_reference("a:conv1", "29:u1", "aad-1", URL_A);
    let first = s.store.record_inbound(&reference, NOW).await.unwrap();
    assert_eq!(
        first,
        InboundOutcome::New(Refresh {
            created: true,
            service_url_changed: true,
            reactivated: false,
            first_contact: None
        })
    );
    assert_eq!(
        s.store.record_inbound(&reference, NOW).await.unwrap(),
        InboundOutcome::Duplicate
    );
    let record = s
        .store
        .conversation(&conv("a:conv1"), NOW)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(record.reference.service_url, URL_A);
    assert_eq!(
        record.reference.activity_id, None,
        "the activity id is not part of the stored reference"
    );
    assert_eq!(record.reference.user.as_ref().map(|u| u.id.as_str()), Some("29:u1"));
    assert_eq!(record.reference.bot, bot());
    assert!(record.active);
    assert_eq!(record.updated_at, NOW);
}

async fn inbound_steady_state_changes_nothing(s: Subject) {
    let mut reference = personal_reference("a:conv2", "29:u1", "aad-1", URL_A);
    s.store.record_inbound(&reference, NOW).await.unwrap();
    reference.activity_id = Some("act-2".into());
    let later = NOW.plus_secs(60);
    assert_eq!(
        s.store.record_inbound(&reference, later).await.unwrap(),
        InboundOutcome::New(Refresh::default())
    );
    let record = s.store.conversation(&conv("a:conv2"), later).await.unwrap().unwrap();
    assert_eq!(record.updated_at, NOW, "an unchanged reference is not rewritten");
}

async fn inbound_service_url_refresh(s: Subject) {
    let mut reference = channel_reference("19:chan@thread.skype", "19:team@thread.skype", URL_A);
    s.store.record_inbound(&reference, NOW).await.unwrap();
    reference.activity_id = Some("act-2".into());
    reference.service_url = URL_B.to_owned();
    let outcome = s.store.record_inbound(&reference, NOW.plus_secs(5)).await.unwrap();
    assert_eq!(
        outcome,
        InboundOutcome::New(Refresh {
            created: false,
            service_url_changed: true,
            reactivated: false,
            first_contact: None
        })
    );
    let record = s
        .store
        .conversation(&reference.conversation.id, NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.reference.service_url, URL_B);
    assert_eq!(record.reference.user, None, "no user is stored for a channel");
    assert_eq!(record.reference.team_id.as_deref(), Some("19:team@thread.skype"));
    assert_eq!(
        s.store.tenant_service_url(&tenant(), NOW).await.unwrap().as_deref(),
        Some(URL_B)
    );
}

async fn inbound_without_activity_id_is_not_deduplicated(s: Subject) {
    let mut reference = personal_reference("a:conv3", "29:u1", "aad-1", URL_A);
    reference.activity_id = None;
    assert!(matches!(s.store.record_inbound(&reference, NOW).await.unwrap(), InboundOutcome::New(r) if r.created));
    assert_eq!(
        s.store.record_inbound(&reference, NOW).await.unwrap(),
        InboundOutcome::New(Refresh::default())
    );
    let refreshed = s.store.upsert_conversation(&reference, NOW).await.unwrap();
    assert!(!refreshed.wrote());
}

async fn tenant_service_url_fallback(s: Subject) {
    assert_eq!(s.store.tenant_service_url(&tenant(), NOW).await.unwrap(), None);
    let reference = personal_reference("a:conv4", "29:u1", "aad-1", URL_A);
    s.store.upsert_conversation(&reference, NOW).await.unwrap();
    assert_eq!(
        s.store.tenant_service_url(&tenant(), NOW).await.unwrap().as_deref(),
        Some(URL_A)
    );
}

async fn personal_index_from_inbound(s: Subject) {
    let reference = personal_reference("a:conv5", "29:u5", "aad-5", URL_A);
    s.store.record_inbound(&reference, NOW).await.unwrap();
    let by_user = s
        .store
        .personal_by_user(&tenant(), "29:u5", NOW)
        .await
        .unwrap()
        .expect("by user");
    assert_eq!(by_user.conversation_id, conv("a:conv5"));
    assert_eq!(by_user.service_url, URL_A);
    let by_aad = s
        .store
        .personal_by_aad(&tenant(), "aad-5", NOW)
        .await
        .unwrap()
        .expect("by aad");
    assert_eq!(by_aad, by_user);
    // A channel conversation does not index its sender as a personal conversation.
    let channel = channel_reference("19:c@thread.skype", "19:t@thread.skype", URL_A);
    s.store.record_inbound(&channel, NOW).await.unwrap();
    assert_eq!(
        s.store.personal_by_user(&tenant(), "29:someone", NOW).await.unwrap(),
        None
    );
}

async fn record_personal_create_or_get(s: Subject) {
    assert_eq!(s.store.personal_by_aad(&tenant(), "aad-6", NOW).await.unwrap(), None);
    let personal = PersonalConversation {
        tenant_id: tenant(),
        user_id: "29:u6".into(),
        aad_object_id: Some("aad-6".into()),
        conversation_id: conv("a:created"),
        service_url: URL_A.into(),
        updated_at: NOW,
    };
    s.store.record_personal(&personal, NOW).await.unwrap();
    assert_eq!(
        s.store.personal_by_aad(&tenant(), "aad-6", NOW).await.unwrap(),
        Some(personal.clone())
    );
    assert_eq!(
        s.store.personal_by_user(&tenant(), "29:u6", NOW).await.unwrap(),
        Some(personal)
    );
    let other_tenant = models::TenantId::from("tenant-2");
    assert_eq!(
        s.store.personal_by_aad(&other_tenant, "aad-6", NOW).await.unwrap(),
        None
    );
}

async fn mark_inactive_and_reactivate(s: Subject) {
    let id = conv("a:conv7");
    assert!(
        !s.store
            .mark_inactive(&id, InactiveReason::Forbidden, NOW)
            .await
            .unwrap()
    );
    assert_eq!(s.store.is_active(&id, NOW).await.unwrap(), None);
    let mut reference = personal_reference("a:conv7", "29:u7", "aad-7", URL_A);
    s.store.record_inbound(&reference, NOW).await.unwrap();
    assert_eq!(s.store.is_active(&id, NOW).await.unwrap(), Some(true));
    assert!(
        s.store
            .mark_inactive(&id, InactiveReason::Forbidden, NOW)
            .await
            .unwrap()
    );
    assert!(
        !s.store
            .mark_inactive(&id, InactiveReason::Uninstalled, NOW)
            .await
            .unwrap()
    );
    let record = s.store.conversation(&id, NOW).await.unwrap().unwrap();
    assert!(!record.active);
    assert_eq!(record.inactive_reason, Some(InactiveReason::Forbidden));
    assert_eq!(
        record.reference.service_url, URL_A,
        "marking inactive keeps the reference"
    );
    reference.activity_id = Some("act-again".into());
    let outcome = s.store.record_inbound(&reference, NOW).await.unwrap();
    assert_eq!(
        outcome,
        InboundOutcome::New(Refresh {
            created: false,
            service_url_changed: false,
            reactivated: true,
            first_contact: None
        })
    );
    assert_eq!(s.store.is_active(&id, NOW).await.unwrap(), Some(true));
}

fn install(team: &str) -> TeamInstall {
    TeamInstall {
        team_id: team.into(),
        team_name: Some("Team".into()),
        tenant_id: tenant(),
        service_url: URL_A.into(),
        conversation_id: conv(team),
        bot: bot(),
        installed_by: None,
        claimed_at: NOW,
    }
}

async fn team_install_first_writer_wins(s: Subject) {
    let claim = install("19:team8@thread.skype");
    assert_eq!(
        s.store.claim_team_install(&claim, NOW).await.unwrap(),
        ClaimOutcome::Won
    );
    let mut second = claim.clone();
    second.service_url = URL_B.into();
    assert_eq!(
        s.store.claim_team_install(&second, NOW).await.unwrap(),
        ClaimOutcome::Lost
    );
    assert_eq!(
        s.store.team_install(&claim.team_id, NOW).await.unwrap(),
        Some(claim.clone()),
        "the first claim's payload is kept"
    );
    s.store.release_team_install(&claim.team_id, NOW).await.unwrap();
    assert_eq!(s.store.team_install(&claim.team_id, NOW).await.unwrap(), None);
    assert_eq!(
        s.store.claim_team_install(&second, NOW).await.unwrap(),
        ClaimOutcome::Won,
        "a reinstall claims again"
    );
}

async fn first_contact_first_writer_wins(s: Subject) {
    let claim = FirstContact {
        tenant_id: tenant(),
        user: models::ChannelAccount::new("29:u9", Some("Bo".into())),
        conversation_id: conv("a:conv9"),
        service_url: URL_A.into(),
        bot: bot(),
        claimed_at: NOW,
    };
    assert_eq!(
        s.store.claim_first_contact(&claim, NOW).await.unwrap(),
        ClaimOutcome::Won
    );
    assert_eq!(
        s.store.claim_first_contact(&claim, NOW).await.unwrap(),
        ClaimOutcome::Lost
    );
    let mut other_user = claim.clone();
    other_user.user.id = "29:u10".into();
    assert_eq!(
        s.store.claim_first_contact(&other_user, NOW).await.unwrap(),
        ClaimOutcome::Won
    );
}

/// How many of the concurrent claims won.
async fn winners(tasks: Vec<tokio::task::JoinHandle<Result<ClaimOutcome, StoreError>>>) -> usize {
    let mut won = 0;
    for task in tasks {
        if task.await.unwrap().unwrap().won() {
            won += 1;
        }
    }
    won
}

async fn hundred_concurrent_install_claims_one_winner(s: Subject) {
    let claim = Arc::new(install("19:team-race@thread.skype"));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (store, claim) = (Arc::clone(&s.store), Arc::clone(&claim));
            tokio::spawn(async move { store.claim_team_install(&claim, NOW).await })
        })
        .collect();
    let won = winners(tasks).await;
    assert_eq!(won, 1, "exactly one of 100 concurrent claims wins");
}

async fn concurrent_duplicate_inbound_one_new(s: Subject) {
    let reference = Arc::new(personal_reference("a:conv-race", "29:u11", "aad-11", URL_A));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (store, reference) = (Arc::clone(&s.store), Arc::clone(&reference));
            tokio::spawn(async move { store.record_inbound(&reference, NOW).await })
        })
        .collect();
    let mut new = 0;
    for task in tasks {
        if let InboundOutcome::New(_) = task.await.unwrap().unwrap() {
            new += 1;
        }
    }
    assert_eq!(new, 1, "one of 20 concurrent deliveries of one activity is new");
}

async fn dedupe_expires(s: Subject) {
    let (c, a) = (conv("a:conv12"), ActivityId::from("act-12"));
    assert_eq!(
        s.store.claim_activity(&c, &a, 600, NOW).await.unwrap(),
        ClaimOutcome::Won
    );
    assert_eq!(
        s.store.claim_activity(&c, &a, 600, NOW.plus_secs(599)).await.unwrap(),
        ClaimOutcome::Lost
    );
    assert_eq!(
        s.store.claim_activity(&conv("a:other"), &a, 600, NOW).await.unwrap(),
        ClaimOutcome::Won,
        "activity ids are scoped by conversation"
    );
    assert_eq!(
        s.store.claim_activity(&c, &a, 600, NOW.plus_secs(600)).await.unwrap(),
        ClaimOutcome::Won,
        "an expired claim counts as absent although TTL has not deleted it"
    );
}

async fn sent_log_record_and_lookup(s: Subject) {
    let sent = SentActivity {
        conversation_id: conv("a:conv13"),
        activity_id: "1:sent".into(),
        sent_at: NOW,
    };
    assert_eq!(s.store.sent("demo:update", NOW).await.unwrap(), None);
    s.store.record_sent("demo:update", &sent, None, NOW).await.unwrap();
    assert_eq!(s.store.sent("demo:update", NOW).await.unwrap(), Some(sent.clone()));
    s.store.record_sent("short", &sent, Some(10), NOW).await.unwrap();
    assert_eq!(s.store.sent("short", NOW.plus_secs(9)).await.unwrap(), Some(sent));
    assert_eq!(s.store.sent("short", NOW.plus_secs(10)).await.unwrap(), None);
}

async fn idempotency_keys(s: Subject) {
    assert_eq!(
        s.store.claim_idempotency("k1", NOW).await.unwrap(),
        IdempotencyClaim::Won
    );
    assert_eq!(
        s.store.claim_idempotency("k1", NOW).await.unwrap(),
        IdempotencyClaim::Pending
    );
    let sent = SentActivity {
        conversation_id: conv("a:conv14"),
        activity_id: "1:x".into(),
        sent_at: NOW,
    };
    s.store.complete_idempotency("k1", &sent, NOW).await.unwrap();
    assert_eq!(
        s.store.claim_idempotency("k1", NOW.plus_secs(3600)).await.unwrap(),
        IdempotencyClaim::Done(sent)
    );
    // A pending claim whose sender crashed lapses.
    assert_eq!(
        s.store.claim_idempotency("k2", NOW).await.unwrap(),
        IdempotencyClaim::Won
    );
    let lapsed = NOW.plus_secs(store::IDEMPOTENCY_PENDING_SECS);
    assert_eq!(
        s.store.claim_idempotency("k2", lapsed).await.unwrap(),
        IdempotencyClaim::Won
    );
    // A pending claim given up (the send is known not to have happened) can be won again at once...
    assert_eq!(
        s.store.claim_idempotency("k3", NOW).await.unwrap(),
        IdempotencyClaim::Won
    );
    s.store.release_idempotency("k3", NOW).await.unwrap();
    assert_eq!(
        s.store.claim_idempotency("k3", NOW).await.unwrap(),
        IdempotencyClaim::Won
    );
    // ...but releasing a completed key changes nothing.
    s.store.release_idempotency("k1", NOW).await.unwrap();
    assert!(matches!(
        s.store.claim_idempotency("k1", NOW).await.unwrap(),
        IdempotencyClaim::Done(_)
    ));
}

fn subscription(conversation: &str, name: &str, due: Timestamp) -> Subscription {
    Subscription {
        conversation_id: conv(conversation),
        name: name.into(),
        every_secs: 3600,
        next_due: due,
        payload: json!({"question": "How is it going?"}),
        poll_activity_id: None,
        created_at: NOW,
    }
}

async fn subscriptions_due_query(s: Subject) {
    let early = subscription("19:a@thread.v2", "standup", Timestamp(NOW.0 - 60));
    let exact = subscription("19:b@thread.v2", "poll", NOW);
    let later = subscription("19:a@thread.v2", "retro", NOW.plus_secs(60));
    for sub in [&later, &exact, &early] {
        s.store.subscribe(sub, NOW).await.unwrap();
    }
    let due = s.store.due_subscriptions(NOW, 10).await.unwrap();
    assert_eq!(due, vec![early.clone(), exact.clone()], "due ones, earliest first");
    assert_eq!(s.store.due_subscriptions(NOW, 1).await.unwrap(), vec![early.clone()]);
    let mut of_a = s.store.subscriptions_of(&conv("19:a@thread.v2"), NOW).await.unwrap();
    of_a.sort_by(|x, y| x.name.cmp(&y.name));
    assert_eq!(of_a, vec![later.clone(), early.clone()]);
    assert!(
        s.store
            .unsubscribe(&early.conversation_id, &early.name, NOW)
            .await
            .unwrap()
    );
    assert!(
        !s.store
            .unsubscribe(&early.conversation_id, &early.name, NOW)
            .await
            .unwrap()
    );
    assert_eq!(s.store.due_subscriptions(NOW, 10).await.unwrap(), vec![exact]);
    assert_eq!(
        s.store
            .subscription(&early.conversation_id, &early.name, NOW)
            .await
            .unwrap(),
        None
    );
}

/// Adds one to the payload's `count`.
const SIMULTANEOUS_VOTES: usize = 32;

async fn simultaneous_votes_all_land(s: Subject) {
    let c = conv("19:votes@thread.v2");
    let slot = NOW.0.to_string();
    // 32 at once (a poll in a meeting, everyone answering when asked): each is its own item, so all land.
    let tasks: Vec<_> = (0..SIMULTANEOUS_VOTES)
        .map(|i| {
            let (store, c, slot) = (Arc::clone(&s.store), c.clone(), slot.clone());
            tokio::spawn(async move {
                store
                    .record_vote(&c, "poll", &slot, &format!("29:voter-{i}"), i % 3, NOW)
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let votes = s.store.votes(&c, "poll", &slot, NOW).await.unwrap();
    assert_eq!(votes.len(), SIMULTANEOUS_VOTES, "every vote counted: {votes:?}");
    assert!((0..SIMULTANEOUS_VOTES).all(|i| votes.get(&format!("29:voter-{i}")) == Some(&(i % 3))));
    // Answering again replaces the voter's answer.
    s.store
        .record_vote(&c, "poll", &slot, "29:voter-0", 2, NOW)
        .await
        .unwrap();
    let again = s.store.votes(&c, "poll", &slot, NOW).await.unwrap();
    assert_eq!((again.len(), again.get("29:voter-0")), (SIMULTANEOUS_VOTES, Some(&2)));
    // Another slot, poll or conversation counts separately.
    assert!(s.store.votes(&c, "poll", "1", NOW).await.unwrap().is_empty());
    assert!(s.store.votes(&c, "other", &slot, NOW).await.unwrap().is_empty());
    assert!(
        s.store
            .votes(&conv("19:other@thread.v2"), "poll", &slot, NOW)
            .await
            .unwrap()
            .is_empty()
    );
    // Kept for VOTE_KEEP_SECS, then gone.
    let later = NOW.plus_secs(store::VOTE_KEEP_SECS - 1);
    assert_eq!(
        s.store.votes(&c, "poll", &slot, later).await.unwrap().len(),
        SIMULTANEOUS_VOTES
    );
    let expired = NOW.plus_secs(store::VOTE_KEEP_SECS);
    assert!(s.store.votes(&c, "poll", &slot, expired).await.unwrap().is_empty());
    // An empty slot or voter is refused, and nothing is written.
    for (slot_, voter) in [("", "29:v"), (slot.as_str(), "")] {
        let err = s.store.record_vote(&c, "poll", slot_, voter, 0, NOW).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    assert_eq!(
        s.store.votes(&c, "poll", &slot, NOW).await.unwrap().len(),
        SIMULTANEOUS_VOTES
    );
}

async fn pace_slot_claimed_once(s: Subject) {
    // Twenty processes reaching for the same slot of one tenant's lane: one wins it.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&s.store);
            tokio::spawn(async move { store.claim_pace_slot("tenant-1", 1_000, NOW).await })
        })
        .collect();
    let won = winners(tasks).await;
    assert_eq!(won, 1, "exactly one of 20 concurrent claims of one slot wins");
    // The next slot, and the same slot of another lane, are free.
    assert!(s.store.claim_pace_slot("tenant-1", 1_001, NOW).await.unwrap().won());
    assert!(s.store.claim_pace_slot("tenant-2", 1_000, NOW).await.unwrap().won());
    assert!(!s.store.claim_pace_slot("tenant-1", 1_000, NOW).await.unwrap().won());
    // Kept PACE_KEEP_SECS.
    let later = NOW.plus_secs(store::PACE_KEEP_SECS - 1);
    assert!(!s.store.claim_pace_slot("tenant-1", 1_000, later).await.unwrap().won());
    assert!(matches!(
        s.store.claim_pace_slot("", 1, NOW).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn slot_claimed_exactly_once(s: Subject) {
    let sub = subscription("19:c@thread.v2", "poll", NOW);
    s.store.subscribe(&sub, NOW).await.unwrap();
    let next = NOW.plus_secs(3600);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&s.store);
            let c = sub.conversation_id.clone();
            tokio::spawn(async move { store.claim_slot(&c, "poll", NOW, next, NOW).await })
        })
        .collect();
    let won = winners(tasks).await;
    assert_eq!(won, 1, "a slot is claimed once");
    let stored = s
        .store
        .subscription(&sub.conversation_id, "poll", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.next_due, next, "claiming advances the subscription");
    assert!(s.store.due_subscriptions(NOW, 10).await.unwrap().is_empty());
    assert_eq!(s.store.due_subscriptions(next, 10).await.unwrap().len(), 1);
    assert!(
        s.store
            .set_poll_activity(&sub.conversation_id, "poll", &"1:poll".into(), NOW)
            .await
            .unwrap()
    );
    let stored = s
        .store
        .subscription(&sub.conversation_id, "poll", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.poll_activity_id, Some(ActivityId::from("1:poll")));
    assert_eq!(stored.next_due, next);
    assert_eq!(
        s.store
            .claim_slot(&sub.conversation_id, "gone", NOW, next, NOW)
            .await
            .unwrap(),
        ClaimOutcome::Lost
    );
    assert!(
        !s.store
            .set_poll_activity(&sub.conversation_id, "gone", &"1:x".into(), NOW)
            .await
            .unwrap()
    );
}

fn outbox(id: &str) -> OutboxItem {
    OutboxItem {
        id: id.into(),
        topic: "welcome-dm".into(),
        payload: json!({"conversationId": "a:x", "serviceUrl": URL_A, "text": "Welcome"}),
        done: false,
        created_at: NOW,
    }
}

async fn outbox_enqueue_and_done(s: Subject) {
    assert_eq!(s.store.enqueue(&outbox("o1"), NOW).await.unwrap(), ClaimOutcome::Won);
    assert_eq!(s.store.enqueue(&outbox("o1"), NOW).await.unwrap(), ClaimOutcome::Lost);
    assert_eq!(s.store.outbox_item("o1", NOW).await.unwrap(), Some(outbox("o1")));
    assert!(s.store.mark_outbox_done("o1", NOW).await.unwrap());
    assert!(s.store.outbox_item("o1", NOW).await.unwrap().unwrap().done);
    assert_eq!(
        s.store
            .outbox_item("o1", NOW.plus_secs(store::KEEP_DONE_SECS))
            .await
            .unwrap(),
        None,
        "a done item expires"
    );
    assert!(!s.store.mark_outbox_done("nope", NOW).await.unwrap());
    let batch = [outbox("b1"), outbox("b2"), outbox("b3")];
    assert_eq!(s.store.enqueue_all(&batch, NOW).await.unwrap(), ClaimOutcome::Won);
    assert_eq!(s.store.outbox_item("b3", NOW).await.unwrap(), Some(outbox("b3")));
}

async fn failed_multi_item_change_writes_nothing(s: Subject) {
    s.store.enqueue(&outbox("taken"), NOW).await.unwrap();
    let batch = [outbox("new-1"), outbox("new-2"), outbox("taken")];
    assert_eq!(s.store.enqueue_all(&batch, NOW).await.unwrap(), ClaimOutcome::Lost);
    assert_eq!(
        s.store.outbox_item("new-1", NOW).await.unwrap(),
        None,
        "nothing half-written"
    );
    assert_eq!(
        s.store.outbox_item("new-2", NOW).await.unwrap(),
        None,
        "nothing half-written"
    );

    // At the item level: a put and a delete in a batch whose check fails are both not applied.
    let item = |pk: &str| Item {
        pk: pk.into(),
        sk: "X".into(),
        kind: "test".into(),
        gsi1: None,
        expires_at: None,
        data: json!({"v": 1}).as_object().cloned().unwrap(),
    };
    s.table
        .write(
            vec![Write::Put {
                item: item("keep"),
                cond: Cond::Always,
            }],
            NOW,
        )
        .await
        .unwrap();
    let outcome = s
        .table
        .write(
            vec![
                Write::Put {
                    item: item("fresh"),
                    cond: Cond::Absent,
                },
                Write::Delete {
                    pk: "keep".into(),
                    sk: "X".into(),
                    cond: Cond::Always,
                },
                Write::Check {
                    pk: "missing".into(),
                    sk: "X".into(),
                    cond: Cond::Present,
                },
            ],
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(outcome, WriteOutcome::ConditionFailed(vec![2]));
    assert_eq!(s.table.get("fresh", "X", NOW).await.unwrap(), None);
    assert_eq!(s.table.get("keep", "X", NOW).await.unwrap(), Some(item("keep")));
}

async fn expired_items_are_absent(s: Subject) {
    let mut it = Item {
        pk: "TTL".into(),
        sk: "a".into(),
        kind: "test".into(),
        gsi1: Some(("TESTDUE".into(), "0001".into())),
        expires_at: Some(NOW.0),
        data: serde_json::Map::new(),
    };
    s.table
        .write(
            vec![Write::Put {
                item: it.clone(),
                cond: Cond::Always,
            }],
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        s.table.get("TTL", "a", Timestamp(NOW.0 - 1)).await.unwrap(),
        Some(it.clone())
    );
    assert_eq!(s.table.get("TTL", "a", NOW).await.unwrap(), None);
    assert!(s.table.query_prefix("TTL", "", NOW, 10).await.unwrap().is_empty());
    assert!(s.table.query_gsi1("TESTDUE", "9", NOW, 10).await.unwrap().is_empty());
    assert_eq!(
        s.table
            .query_gsi1("TESTDUE", "9", Timestamp(NOW.0 - 1), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    it.expires_at = None;
    let replaced = s
        .table
        .write(
            vec![Write::Put {
                item: it.clone(),
                cond: Cond::Absent,
            }],
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        replaced,
        WriteOutcome::Applied,
        "an expired item does not block a claim"
    );
    assert_eq!(s.table.get("TTL", "a", NOW).await.unwrap(), Some(it));
}

async fn corrupt_item_is_a_typed_error(s: Subject) {
    let bad = Item {
        pk: "CONV#a:bad".into(),
        sk: "REF".into(),
        kind: "conversation".into(),
        gsi1: None,
        expires_at: None,
        data: json!({"serviceUrl": 42}).as_object().cloned().unwrap(),
    };
    s.table
        .write(
            vec![Write::Put {
                item: bad,
                cond: Cond::Always,
            }],
            NOW,
        )
        .await
        .unwrap();
    let err = s.store.conversation(&conv("a:bad"), NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(!err.is_retryable());
}

async fn invalid_input_is_rejected(s: Subject) {
    let err = s.store.conversation(&conv(""), NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let mut claim = install("");
    claim.team_id = String::new();
    assert!(matches!(
        s.store.claim_team_install(&claim, NOW).await,
        Err(StoreError::Invalid(_))
    ));
    let too_many: Vec<OutboxItem> = (0..101).map(|i| outbox(&format!("o{i}"))).collect();
    assert!(matches!(
        s.store.enqueue_all(&too_many, NOW).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(s.store.outbox_item("o0", NOW).await.unwrap(), None);
}

fn user_scope(tenant: &str, user_id: &str) -> StateScope {
    StateScope::User {
        tenant: tenant.into(),
        user_id: user_id.to_owned(),
    }
}

/// One scope of each kind.
fn state_scopes() -> [StateScope; 3] {
    [
        StateScope::Conversation(conv("a:state-1")),
        user_scope("72f988bf-86f1-41af-91ab-2d7cd011db47", "29:user-1"),
        StateScope::Team("19:team-1@thread.skype".into()),
    ]
}

async fn state_round_trips_in_every_scope(s: Subject) {
    let values = [
        (
            "object",
            json!({"count": 3, "ratio": 0.25, "tags": ["a", "b"], "nested": {"on": true, "none": null}}),
        ),
        ("array", json!([1, "two", {"three": 3}, [], {}])),
        ("string", json!("just text, with # and unicode: ünïcødé")),
        ("empty-string", json!("")),
        ("number", json!(-42)),
        ("float", json!(1.5)),
        ("bool", json!(false)),
        ("null", Value::Null),
    ];
    for scope in state_scopes() {
        for (name, value) in &values {
            assert_eq!(
                s.store.load_state(&scope, name, NOW).await.unwrap(),
                None,
                "{scope:?} {name}"
            );
            s.store.save_state(&scope, name, value, None, NOW).await.unwrap();
        }
        for (name, value) in &values {
            assert_eq!(
                s.store.load_state(&scope, name, NOW).await.unwrap().as_ref(),
                Some(value),
                "{scope:?} {name}"
            );
        }
    }
    // Without a TTL a value is kept (far later it is still there).
    let later = NOW.plus_secs(10 * 365 * 24 * 3600);
    let [first, ..] = state_scopes();
    assert_eq!(
        s.store.load_state(&first, "number", later).await.unwrap(),
        Some(json!(-42))
    );
}

async fn state_scopes_are_separate(s: Subject) {
    let same_id = "19:same@thread.skype";
    let scopes = [
        StateScope::Conversation(conv(same_id)),
        StateScope::Conversation(conv("a:other-conversation")),
        user_scope("tenant-1", same_id),
        user_scope("tenant-2", same_id),
        StateScope::Team(same_id.into()),
    ];
    for (i, scope) in scopes.iter().enumerate() {
        s.store
            .save_state(scope, "prefs", &json!({"i": i}), None, NOW)
            .await
            .unwrap();
    }
    for (i, scope) in scopes.iter().enumerate() {
        assert_eq!(
            s.store.load_state(scope, "prefs", NOW).await.unwrap(),
            Some(json!({"i": i})),
            "{scope:?}"
        );
    }
    assert_eq!(s.store.load_state(&scopes[0], "other-name", NOW).await.unwrap(), None);
    assert!(s.store.delete_state(&scopes[0], "prefs", NOW).await.unwrap());
    for (i, scope) in scopes.iter().enumerate().skip(1) {
        assert_eq!(
            s.store.load_state(scope, "prefs", NOW).await.unwrap(),
            Some(json!({"i": i})),
            "deleting in one scope leaves {scope:?}"
        );
    }
}

async fn state_overwrite_replaces_and_delete_removes(s: Subject) {
    for scope in state_scopes() {
        s.store
            .save_state(&scope, "draft", &json!({"a": 1, "b": 2}), None, NOW)
            .await
            .unwrap();
        s.store
            .save_state(&scope, "draft", &json!({"c": 3}), None, NOW)
            .await
            .unwrap();
        assert_eq!(
            s.store.load_state(&scope, "draft", NOW).await.unwrap(),
            Some(json!({"c": 3})),
            "the last write replaces the whole value, no merge"
        );
        s.store
            .save_state(&scope, "draft", &json!(["x"]), None, NOW)
            .await
            .unwrap();
        assert_eq!(
            s.store.load_state(&scope, "draft", NOW).await.unwrap(),
            Some(json!(["x"]))
        );

        assert!(
            s.store.delete_state(&scope, "draft", NOW).await.unwrap(),
            "it was there"
        );
        assert_eq!(s.store.load_state(&scope, "draft", NOW).await.unwrap(), None);
        assert!(
            !s.store.delete_state(&scope, "draft", NOW).await.unwrap(),
            "already gone"
        );
        assert!(!s.store.delete_state(&scope, "never-saved", NOW).await.unwrap());
    }
}

async fn state_expires_after_its_ttl(s: Subject) {
    for scope in state_scopes() {
        s.store
            .save_state(&scope, "session", &json!({"step": 2}), Some(60), NOW)
            .await
            .unwrap();
        assert_eq!(
            s.store.load_state(&scope, "session", NOW.plus_secs(59)).await.unwrap(),
            Some(json!({"step": 2}))
        );
        assert_eq!(
            s.store.load_state(&scope, "session", NOW.plus_secs(61)).await.unwrap(),
            None
        );
        assert!(
            !s.store
                .delete_state(&scope, "session", NOW.plus_secs(61))
                .await
                .unwrap(),
            "an expired value counts as absent"
        );

        // Saving again after expiry starts afresh; saving without a TTL keeps the value.
        let later = NOW.plus_secs(61);
        s.store
            .save_state(&scope, "session", &json!({"step": 1}), Some(60), later)
            .await
            .unwrap();
        assert_eq!(
            s.store
                .load_state(&scope, "session", later.plus_secs(59))
                .await
                .unwrap(),
            Some(json!({"step": 1}))
        );
        s.store
            .save_state(&scope, "session", &json!({"step": 3}), None, later)
            .await
            .unwrap();
        assert_eq!(
            s.store
                .load_state(&scope, "session", later.plus_secs(3600))
                .await
                .unwrap(),
            Some(json!({"step": 3})),
            "an overwrite without a TTL drops the old expiry"
        );
    }
}

async fn state_invalid_input_writes_nothing(s: Subject) {
    let invalid = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Invalid(_)));
    let v = json!({"x": 1});
    let empty_scopes = [
        StateScope::Conversation(conv("")),
        user_scope("", "29:u"),
        user_scope("tenant-1", ""),
        StateScope::Team(String::new()),
    ];
    for scope in &empty_scopes {
        assert!(
            invalid(s.store.save_state(scope, "n", &v, None, NOW).await),
            "{scope:?}"
        );
        assert!(matches!(
            s.store.load_state(scope, "n", NOW).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            s.store.delete_state(scope, "n", NOW).await,
            Err(StoreError::Invalid(_))
        ));
    }
    let scope = StateScope::Conversation(conv("a:invalid"));
    assert!(invalid(s.store.save_state(&scope, "", &v, None, NOW).await));
    assert!(matches!(
        s.store.load_state(&scope, "", NOW).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.store.delete_state(&scope, "", NOW).await,
        Err(StoreError::Invalid(_))
    ));

    // The size guard counts the value's JSON: a string's two quotes included.
    let at_limit = json!("x".repeat(store::MAX_STATE_BYTES - 2));
    let over = json!("x".repeat(store::MAX_STATE_BYTES - 1));
    s.store.save_state(&scope, "big", &at_limit, None, NOW).await.unwrap();
    assert_eq!(
        s.store.load_state(&scope, "big", NOW).await.unwrap(),
        Some(at_limit.clone()),
        "exactly 64 KiB is accepted"
    );
    let err = s.store.save_state(&scope, "big", &over, None, NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid("state value over 64 KiB")), "{err:?}");
    assert_eq!(
        s.store.load_state(&scope, "big", NOW).await.unwrap(),
        Some(at_limit),
        "a refused save leaves the old value"
    );
    let many: Vec<Value> = (0..20_000).map(|i| json!({"i": i})).collect();
    assert!(invalid(
        s.store.save_state(&scope, "fresh", &json!(many), None, NOW).await
    ));
    assert_eq!(
        s.store.load_state(&scope, "fresh", NOW).await.unwrap(),
        None,
        "nothing written"
    );
}

async fn state_ids_containing_hash_do_not_collide(s: Subject) {
    let scopes = [
        user_scope("a", "b#c"),
        user_scope("a#b", "c"),
        user_scope("a%23b", "c"),
        user_scope("a", "b"),
        StateScope::Conversation(conv("a#b")),
        StateScope::Conversation(conv("a")),
        StateScope::Team("a#b".into()),
        StateScope::Team("U#a".into()),
        StateScope::Conversation(conv("U#a#b")),
    ];
    for (i, scope) in scopes.iter().enumerate() {
        s.store.save_state(scope, "n#1", &json!(i), None, NOW).await.unwrap();
    }
    for (i, scope) in scopes.iter().enumerate() {
        assert_eq!(
            s.store.load_state(scope, "n#1", NOW).await.unwrap(),
            Some(json!(i)),
            "{scope:?}"
        );
        assert_eq!(s.store.load_state(scope, "n", NOW).await.unwrap(), None, "{scope:?}");
    }
}

/// Runs every case on a fresh subject from `make`, then reports.
async fn run_suite<F, Fut>(backend: &str, make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = (Subject, Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>>>)>,
{
    let mut lines = Vec::new();
    for (name, case) in CASES {
        let (subject, cleanup) = make().await;
        case(subject).await;
        cleanup().await;
        lines.push(format!("STORE-CONTRACT {backend} {name} ok"));
    }
    lines.push(format!("STORE-CONTRACT {backend}: {} tests ran", CASES.len()));
    report(backend, &lines);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contract_embedded() {
    run_suite("embedded", || async {
        let (store, path) = fresh_embedded().await;
        let cleanup: Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>>> = Box::new(move || {
            Box::pin(async move {
                if let Some(dir) = path.parent() {
                    let _ = std::fs::remove_dir_all(dir);
                }
            })
        });
        (Subject::of(Arc::new(store)), cleanup)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contract_memory() {
    run_suite("memory", || async {
        let cleanup: Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>>> = Box::new(|| Box::pin(async {}));
        (Subject::of(Arc::new(MemoryStore::new())), cleanup)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contract_dynamodb() {
    if dynamo_endpoint("contract_dynamodb").is_none() {
        return;
    }
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    run_suite("dynamodb", || {
        let client = client.clone();
        async move {
            let store = Arc::new(fresh_dynamo(client).await);
            let for_cleanup = Arc::clone(&store);
            let cleanup: Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>>> = Box::new(move || {
                Box::pin(async move {
                    let _ = for_cleanup.delete_table().await;
                })
            });
            (Subject::of(store), cleanup)
        }
    })
    .await;
}

fn contact(user: &str, conversation: &str) -> FirstContact {
    FirstContact {
        tenant_id: tenant(),
        user: models::ChannelAccount::new(user, Some("Ada".to_owned())),
        conversation_id: conv(conversation),
        service_url: URL_A.to_owned(),
        bot: bot(),
        claimed_at: NOW,
    }
}

async fn inbound_claims_first_contact_with_a_new_chat(s: Subject) {
    // A new chat: the claim commits with the dedupe claim and the reference.
    let reference = personal_reference("a:fc1", "29:fc1", "aad-fc1", URL_A);
    let outcome = s
        .store
        .record_inbound_claiming(&reference, &contact("29:fc1", "a:fc1"), NOW)
        .await
        .unwrap();
    let InboundOutcome::New(refresh) = outcome else {
        panic!("new activity expected, got {outcome:?}")
    };
    assert!(refresh.created);
    assert_eq!(refresh.first_contact, Some(ClaimOutcome::Won));
    assert_eq!(
        s.store
            .claim_first_contact(&contact("29:fc1", "a:fc1"), NOW)
            .await
            .unwrap(),
        ClaimOutcome::Lost,
        "the claim was written"
    );
    // Its redelivery is a duplicate, and claims nothing.
    assert_eq!(
        s.store
            .record_inbound_claiming(&reference, &contact("29:fc1", "a:fc1"), NOW)
            .await
            .unwrap(),
        InboundOutcome::Duplicate
    );
    // The next message in the known chat attempts no claim.
    let mut next = reference.clone();
    next.activity_id = Some("act-2".into());
    let InboundOutcome::New(refresh) = s
        .store
        .record_inbound_claiming(&next, &contact("29:fc1", "a:fc1"), NOW)
        .await
        .unwrap()
    else {
        panic!("new activity expected")
    };
    assert_eq!((refresh.created, refresh.first_contact), (false, None));
    // A user claimed before (a personal install): the activity and the chat are still recorded, the claim lost.
    assert!(
        s.store
            .claim_first_contact(&contact("29:fc2", "a:fc2"), NOW)
            .await
            .unwrap()
            .won()
    );
    let reference = personal_reference("a:fc2", "29:fc2", "aad-fc2", URL_A);
    let InboundOutcome::New(refresh) = s
        .store
        .record_inbound_claiming(&reference, &contact("29:fc2", "a:fc2"), NOW)
        .await
        .unwrap()
    else {
        panic!("new activity expected")
    };
    assert_eq!(
        (refresh.created, refresh.first_contact),
        (true, Some(ClaimOutcome::Lost))
    );
    assert!(s.store.conversation(&conv("a:fc2"), NOW).await.unwrap().is_some());
    assert_eq!(
        s.store.record_inbound(&reference, NOW).await.unwrap(),
        InboundOutcome::Duplicate,
        "the activity was marked seen"
    );
    // A claim the store refuses (no user id) writes nothing: no seen item, no reference.
    let reference = personal_reference("a:fc3", "29:fc3", "aad-fc3", URL_A);
    let err = s
        .store
        .record_inbound_claiming(&reference, &contact("", "a:fc3"), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(s.store.conversation(&conv("a:fc3"), NOW).await.unwrap().is_none());
}

async fn team_index_lists_channels_and_threads(s: Subject) {
    let team = "19:team-idx@thread.skype";
    let channel = "19:chan-idx@thread.tacv2";
    let thread = "19:chan-idx@thread.tacv2;messageid=1700000000000";
    assert_eq!(
        s.store.team_conversations(team, NOW).await.unwrap(),
        vec![conv(team)],
        "the General channel is the team itself"
    );
    for id in [team, channel, thread] {
        s.store
            .upsert_conversation(&channel_reference(id, team, URL_A), NOW)
            .await
            .unwrap();
    }
    s.store
        .upsert_conversation(
            &channel_reference("19:other@thread.skype", "19:other-team@thread.skype", URL_A),
            NOW,
        )
        .await
        .unwrap();
    let mut listed = s.store.team_conversations(team, NOW).await.unwrap();
    listed.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(listed, vec![conv(channel), conv(thread), conv(team)]);
}

async fn reactivate_only_for_the_given_reasons(s: Subject) {
    let id = conv("19:react@thread.skype");
    s.store
        .upsert_conversation(
            &channel_reference(id.as_str(), "19:react-team@thread.skype", URL_A),
            NOW,
        )
        .await
        .unwrap();
    assert!(
        !s.store
            .reactivate(&id, &[InactiveReason::TeamArchived], NOW)
            .await
            .unwrap(),
        "an active conversation does not change"
    );
    assert!(
        s.store
            .mark_inactive(&id, InactiveReason::TeamArchived, NOW)
            .await
            .unwrap()
    );
    assert!(
        !s.store
            .reactivate(&id, &[InactiveReason::TeamDeleted], NOW)
            .await
            .unwrap(),
        "another reason does not reactivate"
    );
    assert_eq!(s.store.is_active(&id, NOW).await.unwrap(), Some(false));
    assert!(
        s.store
            .reactivate(&id, &[InactiveReason::TeamArchived], NOW)
            .await
            .unwrap()
    );
    let record = s.store.conversation(&id, NOW).await.unwrap().unwrap();
    assert!(record.active);
    assert_eq!(record.inactive_reason, None);
    assert!(
        s.store
            .mark_inactive(&id, InactiveReason::Uninstalled, NOW)
            .await
            .unwrap()
    );
    assert!(
        !s.store
            .reactivate(&id, &[InactiveReason::TeamArchived, InactiveReason::TeamDeleted], NOW)
            .await
            .unwrap(),
        "an uninstall is not undone by a team event"
    );
    assert!(
        !s.store
            .reactivate(&conv("19:unknown@thread.skype"), &[InactiveReason::TeamArchived], NOW)
            .await
            .unwrap()
    );
}

async fn tenant_seen_follows_the_latest_service_url(s: Subject) {
    assert_eq!(s.store.tenant_seen(&tenant(), NOW).await.unwrap(), None);
    s.store
        .record_inbound(&personal_reference("a:ts1", "29:ts1", "aad-ts1", URL_A), NOW)
        .await
        .unwrap();
    assert_eq!(
        s.store.tenant_seen(&tenant(), NOW).await.unwrap(),
        Some(TenantSeen {
            service_url: URL_A.to_owned(),
            updated_at: NOW
        })
    );
    let later = Timestamp(NOW.0 + 60);
    let mut moved = personal_reference("a:ts2", "29:ts2", "aad-ts2", URL_B);
    moved.activity_id = Some("act-ts2".into());
    s.store.record_inbound(&moved, later).await.unwrap();
    assert_eq!(
        s.store.tenant_seen(&tenant(), later).await.unwrap(),
        Some(TenantSeen {
            service_url: URL_B.to_owned(),
            updated_at: later
        })
    );
}

async fn welcome_channel_selected_once_and_team_renamed(s: Subject) {
    let team = "19:sel-team@thread.skype";
    let selected = conv("19:selected@thread.tacv2");
    assert!(
        !s.store.select_welcome_channel(team, &selected, NOW).await.unwrap(),
        "no claim yet"
    );
    assert!(!s.store.rename_team(team, "New", NOW).await.unwrap());
    let install = TeamInstall {
        team_id: team.to_owned(),
        team_name: Some("Old".to_owned()),
        tenant_id: tenant(),
        service_url: URL_A.to_owned(),
        conversation_id: conv(team),
        bot: bot(),
        installed_by: None,
        claimed_at: NOW,
    };
    assert!(s.store.claim_team_install(&install, NOW).await.unwrap().won());
    assert!(!s.store.select_welcome_channel(team, &conv(team), NOW).await.unwrap());
    assert!(s.store.select_welcome_channel(team, &selected, NOW).await.unwrap());
    assert!(
        !s.store
            .select_welcome_channel(team, &conv("19:second@thread.tacv2"), NOW)
            .await
            .unwrap(),
        "the first selection wins"
    );
    assert!(s.store.rename_team(team, "New", NOW).await.unwrap());
    let stored = s.store.team_install(team, NOW).await.unwrap().unwrap();
    assert_eq!(stored.conversation_id, selected);
    assert_eq!(stored.team_name.as_deref(), Some("New"));
    assert_eq!(stored.service_url, URL_A, "the rest of the claim is kept");
}

async fn insert_conversation_writes_once_or_upserts(s: Subject) {
    let mut reference = personal_reference("a:ins1", "29:ins1", "aad-ins1", URL_A);
    reference.activity_id = None;
    let created = s.store.insert_conversation(&reference, NOW).await.unwrap();
    assert!(created.created && created.service_url_changed, "{created:?}");
    let record = s
        .store
        .conversation(&conv("a:ins1"), NOW)
        .await
        .unwrap()
        .expect("stored");
    assert!(record.active);
    assert_eq!(record.reference.user.map(|u| u.id), Some("29:ins1".to_owned()));
    let indexed = s
        .store
        .personal_by_aad(&tenant(), "aad-ins1", NOW)
        .await
        .unwrap()
        .expect("indexed by aad");
    assert_eq!(indexed.conversation_id, conv("a:ins1"));
    assert_eq!(
        s.store.tenant_service_url(&tenant(), NOW).await.unwrap().as_deref(),
        Some(URL_A)
    );
    // Already there: the same as an upsert (nothing to change, or the new serviceUrl).
    let again = s.store.insert_conversation(&reference, NOW).await.unwrap();
    assert!(!again.wrote(), "{again:?}");
    reference.service_url = URL_B.to_owned();
    let moved = s.store.insert_conversation(&reference, NOW).await.unwrap();
    assert!(!moved.created && moved.service_url_changed, "{moved:?}");
    let record = s.store.conversation(&conv("a:ins1"), NOW).await.unwrap().unwrap();
    assert_eq!(record.reference.service_url, URL_B);
}

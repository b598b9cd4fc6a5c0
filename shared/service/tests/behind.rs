#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Welcome and proactive work over the in-memory store and Connector, with the store's change events standing
//! in for the DynamoDB stream (as the devserver does): exactly one welcome per install under duplicate and
//! concurrent deliveries, roster welcomes, polling slots sent once, notify ids that update and delete, and what
//! a crash between a claim and its send leaves behind.

use connector::{ConnectorCall, ConnectorError, RecordingConnector};
use models::{ConversationId, TeamsChannelAccount};
use serde_json::{Value, json};
use service::api::BotIdentity;
use service::{App, Inbound};
use std::sync::Arc;
use std::time::Duration;
use store::{IdempotencyClaim, MemoryStore, Store, Subscriptions, Timestamp};

const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const BOT: &str = "28:bot-app-id";
const TEAM: &str = "19:team-general@thread.tacv2";

struct Harness {
    app: App,
    connector: Arc<RecordingConnector>,
    store: Arc<dyn Store>,
}

/// The app over the in-memory store, its change feed running as the devserver's does.
fn harness(welcome_roster: bool) -> Harness {
    let store = Arc::new(MemoryStore::new());
    let changes = store.subscribe_changes();
    let h = harness_on(store, welcome_roster);
    tokio::spawn(service::background::run_change_feed(h.app.clone(), changes));
    h
}

/// The app over `store`, with a recording Connector (no change feed).
fn harness_on(store: Arc<dyn Store>, welcome_roster: bool) -> Harness {
    let connector = Arc::new(RecordingConnector::new());
    let app = App {
        identity: BotIdentity::new(BOT, "Test Bot"),
        bot: Arc::new(reference_bot::ReferenceBot),
        connector: connector.clone(),
        store: store.clone(),
        service_urls: connector::ServiceUrlAllowlist::default(),
        inbound: Inbound::Anonymous,
        welcome_roster,
        known: std::sync::Arc::default(),
    };
    Harness { app, connector, store }
}

fn team_install_update(id: &str) -> Value {
    json!({
        "type": "conversationUpdate", "id": id, "channelId": "msteams", "serviceUrl": SERVICE_URL,
        "from": {"id": "29:installer", "name": "Installer"},
        "recipient": {"id": BOT, "name": "Test Bot"},
        "conversation": {"id": TEAM, "conversationType": "channel", "isGroup": true, "tenantId": TENANT},
        "membersAdded": [{"id": BOT}],
        "channelData": {"eventType": "teamMemberAdded", "tenant": {"id": TENANT}, "team": {"id": TEAM, "name": "Contoso"}}
    })
}

fn team_installation_update(id: &str) -> Value {
    json!({
        "type": "installationUpdate", "id": id, "channelId": "msteams", "serviceUrl": SERVICE_URL, "action": "add",
        "from": {"id": "29:installer", "name": "Installer"},
        "recipient": {"id": BOT, "name": "Test Bot"},
        "conversation": {"id": TEAM, "conversationType": "channel", "isGroup": true, "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}, "team": {"id": TEAM, "name": "Contoso"}, "settings": {"selectedChannel": {"id": TEAM}}}
    })
}

impl Harness {
    async fn deliver(&self, activity: &Value) -> u16 {
        service::handle(&self.app, None, &serde_json::to_vec(activity).unwrap())
            .await
            .status
    }

    fn welcomes_to(&self, conversation: &str) -> usize {
        self.connector
            .calls()
            .iter()
            .filter(|c| {
                matches!(c, ConnectorCall::Send { conversation: to, activity, .. }
                if to.as_str() == conversation && activity.text().is_some_and(|t| t.starts_with("Welcome")))
            })
            .count()
    }

    fn welcome_count(&self) -> usize {
        self.connector
            .sent_activities()
            .iter()
            .filter(|a| a.text().is_some_and(|t| t.starts_with("Welcome")))
            .count()
    }

    /// Waits (bounded) until `done` holds, giving the in-process change feed time to work.
    async fn settle(&self, done: impl Fn(&Self) -> bool) {
        for _ in 0..200 {
            if done(self) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // And a little longer, so a duplicate would have time to show.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_team_install_gets_one_welcome_in_general() {
    let h = harness(false);
    assert_eq!(h.deliver(&team_install_update("i1")).await, 200);
    h.settle(|h| h.welcome_count() >= 1).await;
    assert_eq!(h.welcomes_to(TEAM), 1);
    assert_eq!(h.welcome_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_duplicate_install_deliveries_welcome_once() {
    let h = Arc::new(harness(false));
    let mut tasks = Vec::new();
    for n in 0..50 {
        let h = h.clone();
        // Teams' duplicates: the same ids redelivered, and both kinds of install event, mixed.
        let activity = match n % 4 {
            0 => team_install_update("dup-a"),
            1 => team_installation_update("dup-b"),
            2 => team_install_update(&format!("c{n}")),
            _ => team_installation_update(&format!("u{n}")),
        };
        tasks.push(tokio::spawn(async move { h.deliver(&activity).await }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    h.settle(|h| h.welcome_count() >= 1).await;
    assert_eq!(h.welcome_count(), 1, "{:?}", h.connector.sent_activities());
}

#[tokio::test]
async fn no_welcome_for_a_channel_created_or_a_user_added() {
    let h = harness(false);
    let mut created = team_install_update("c1");
    created["membersAdded"] = json!([]);
    created["channelData"]["eventType"] = json!("channelCreated");
    assert_eq!(h.deliver(&created).await, 200);
    let mut user_added = team_install_update("c2");
    user_added["membersAdded"] = json!([{"id": "29:someone"}]);
    assert_eq!(h.deliver(&user_added).await, 200);
    h.settle(|_| false).await;
    assert_eq!(h.welcome_count(), 0);
}

#[tokio::test]
async fn a_users_first_personal_message_gets_one_welcome_and_an_echo() {
    let h = harness(false);
    let message = |id: &str| {
        json!({
            "type": "message", "id": id, "channelId": "msteams", "serviceUrl": SERVICE_URL, "text": "hi",
            "from": {"id": "29:megan", "name": "Megan"}, "recipient": {"id": BOT, "name": "Test Bot"},
            "conversation": {"id": "a:megan", "conversationType": "personal", "tenantId": TENANT},
            "channelData": {"tenant": {"id": TENANT}}
        })
    };
    assert_eq!(h.deliver(&message("m1")).await, 200);
    assert_eq!(h.deliver(&message("m2")).await, 200);
    h.settle(|h| h.welcome_count() >= 1).await;
    assert_eq!(h.welcomes_to("a:megan"), 1);
    let echoes = h
        .connector
        .sent_activities()
        .iter()
        .filter(|a| a.text() == Some("You sent hi which was 2 characters"))
        .count();
    assert_eq!(echoes, 2);
}

#[tokio::test]
async fn roster_welcome_reaches_every_member_once() {
    let h = harness(true);
    let members: Vec<TeamsChannelAccount> = (0..200)
        .map(|n| TeamsChannelAccount {
            id: format!("29:member-{n}"),
            name: Some(format!("Member {n}")),
            ..Default::default()
        })
        .collect();
    h.connector.set_members(TEAM, members);
    assert_eq!(h.deliver(&team_install_update("r1")).await, 200);
    assert_eq!(h.deliver(&team_installation_update("r2")).await, 200);
    h.settle(|h| h.welcome_count() >= 201).await;
    assert_eq!(h.welcomes_to(TEAM), 1);
    // One 1:1 welcome per member, each in its own conversation.
    let creates = h
        .connector
        .calls()
        .iter()
        .filter(|c| matches!(c, ConnectorCall::CreateConversation { .. }))
        .count();
    assert_eq!(creates, 200);
    assert_eq!(h.welcome_count(), 201);
}

/// The team-install claim the webhook records for [`team_install_update`].
fn team_install(claimed_at: Timestamp) -> store::TeamInstall {
    store::TeamInstall {
        team_id: TEAM.into(),
        team_name: None,
        tenant_id: TENANT.into(),
        service_url: SERVICE_URL.into(),
        conversation_id: TEAM.into(),
        bot: models::ChannelAccount::new(BOT, None),
        installed_by: None,
        claimed_at,
    }
}

#[tokio::test]
async fn a_welcome_teams_refused_is_sent_by_the_next_delivery_of_the_record() {
    // Teams refused the send (it did nothing), so the key is given up and the stream's retry sends it; after an
    // unknown outcome the key would stay pending instead (see the crash test below).
    let h = harness(false);
    h.connector.fail_next(ConnectorError::Transient {
        status: Some(502),
        source: None,
    });
    let install = team_install(Timestamp::now());
    assert!(service::welcome::team(&h.app, &install).await.is_err());
    let retry = service::welcome::team(&h.app, &install).await.unwrap();
    assert_eq!(retry, service::welcome::WelcomeOutcome::Sent);
    let again = service::welcome::team(&h.app, &install).await.unwrap();
    assert_eq!(again, service::welcome::WelcomeOutcome::AlreadyDone);
    // Two attempts recorded (the refused one and the delivered one), no third.
    assert_eq!(h.welcome_count(), 2);
}

#[tokio::test]
async fn a_welcome_whose_outcome_is_unknown_is_not_sent_again_while_pending() {
    let h = harness(false);
    h.connector.fail_next(ConnectorError::OutcomeUnknown {
        source: "timed out".into(),
    });
    let install = team_install(Timestamp::now());
    assert!(service::welcome::team(&h.app, &install).await.is_err());
    let retry = service::welcome::team(&h.app, &install).await;
    assert!(
        matches!(retry, Err(service::welcome::WelcomeError::Pending(_))),
        "{retry:?}"
    );
    assert_eq!(
        h.welcome_count(),
        1,
        "no second attempt while the first may have been delivered"
    );
}

#[tokio::test]
async fn a_crash_after_the_welcome_claim_and_before_the_send_sends_nothing_until_the_claim_lapses() {
    // Simulate the crash: the key is claimed (pending) and the process dies before sending.
    let h = harness(false);
    let now = Timestamp::now();
    assert_eq!(
        h.store
            .claim_idempotency(&format!("welcome:team:{TEAM}"), now)
            .await
            .unwrap(),
        IdempotencyClaim::Won
    );
    let install = team_install(now);
    assert!(service::welcome::team(&h.app, &install).await.is_err());
    assert_eq!(h.welcome_count(), 0, "at-most-once while the claim is pending");
    // After the pending claim lapses (10 minutes), the retried record sends: at-least-once overall.
    let later = now.plus_secs(store::IDEMPOTENCY_PENDING_SECS + 1);
    assert_eq!(
        h.store
            .claim_idempotency(&format!("welcome:team:{TEAM}"), later)
            .await
            .unwrap(),
        IdempotencyClaim::Won
    );
}

async fn subscribe_personal(h: &Harness) {
    let subscribe = json!({
        "type": "message", "id": "s1", "channelId": "msteams", "serviceUrl": SERVICE_URL, "text": "subscribe",
        "from": {"id": "29:megan", "name": "Megan"}, "recipient": {"id": BOT, "name": "Test Bot"},
        "conversation": {"id": "a:megan", "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}}
    });
    assert_eq!(h.deliver(&subscribe).await, 200);
}

/// A card submit replying to the last poll posted, choosing its first answer, from `voter`.
fn vote_on_last_poll(connector: &RecordingConnector, id: &str, voter: &str) -> Value {
    let attachments = connector.calls().iter().rev().find_map(|c| match c {
        ConnectorCall::Send { activity, .. } => activity.as_message().and_then(|m| m.attachments.clone()),
        _ => None,
    });
    let card = &attachments.expect("a poll was posted")[0];
    let data = card.content.as_ref().unwrap()["actions"][0]["data"].clone();
    json!({
        "type": "message", "id": id, "channelId": "msteams", "serviceUrl": SERVICE_URL, "value": data,
        "replyToId": "1", "from": {"id": voter, "name": voter}, "recipient": {"id": BOT, "name": "Test Bot"},
        "conversation": {"id": "a:megan", "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}}
    })
}

#[tokio::test]
async fn simultaneous_votes_all_count() {
    // The embedded store (the devserver's): its reads and writes really hop threads, so the votes interleave.
    const VOTES: usize = 32;
    let dir = std::env::temp_dir().join(format!("behind-votes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Arc::new(store::EmbeddedStore::open(dir.join("state.redb")).await.unwrap());
    let h = Arc::new(harness_on(store.clone(), false));
    subscribe_personal(&h).await;
    assert_eq!(service::proactive::tick(&h.app).await["sent"], 1);
    let tasks: Vec<_> = (0..VOTES)
        .map(|i| {
            let vote = vote_on_last_poll(&h.connector, &format!("v{i}"), &format!("29:voter-{i}"));
            let h = Arc::clone(&h);
            tokio::spawn(async move { h.deliver(&vote).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let conversation = ConversationId::from("a:megan");
    let stored = store
        .subscription(&conversation, "poll", Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    let slot = stored.payload["data"]["state"]["slot"].as_str().unwrap();
    let votes = store
        .votes(&conversation, "poll", slot, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(votes.len(), VOTES, "every vote counted: {votes:?}");
    assert!(votes.values().all(|&choice| choice == 0));
    // The poll message, as last updated, shows every vote.
    let calls = h.connector.calls();
    let last = calls
        .iter()
        .rev()
        .find_map(|c| match c {
            ConnectorCall::Update { activity, .. } => Some(activity),
            _ => None,
        })
        .expect("the poll message was updated");
    let card = serde_json::to_string(last).unwrap();
    assert!(card.contains(&format!("{VOTES} votes")), "{card}");
    drop(h);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

fn polls_sent(h: &Harness) -> usize {
    h.connector
        .calls()
        .iter()
        .filter(|c| matches!(c, ConnectorCall::Send { activity, .. } if activity.as_message().is_some_and(|m| m.attachments.is_some())))
        .count()
}

#[tokio::test]
async fn a_due_poll_is_sent_once_per_slot_and_a_vote_updates_it_in_place() {
    let h = harness(false);
    subscribe_personal(&h).await;
    let first = service::proactive::tick(&h.app).await;
    assert_eq!(first["sent"], 1, "{first}");
    let second = service::proactive::tick(&h.app).await;
    assert_eq!(second["sent"], 0, "{second}");
    assert_eq!(polls_sent(&h), 1);
    // Concurrent ticks for the same slot also send once.
    let h2 = harness(false);
    subscribe_personal(&h2).await;
    let (a, b) = tokio::join!(service::proactive::tick(&h2.app), service::proactive::tick(&h2.app));
    assert_eq!(a["sent"].as_u64().unwrap() + b["sent"].as_u64().unwrap(), 1);

    // A vote: a card submit replying to the poll message.
    let vote = vote_on_last_poll(&h.connector, "v1", "29:megan");
    assert_eq!(h.deliver(&vote).await, 200);
    let updates = h
        .connector
        .calls()
        .iter()
        .filter(|c| matches!(c, ConnectorCall::Update { .. }))
        .count();
    assert_eq!(updates, 1, "{:?}", h.connector.calls());
    assert_eq!(polls_sent(&h), 1, "a vote updates, it does not post again");
}

#[tokio::test]
async fn notify_answers_ids_that_update_and_delete_and_an_idempotency_key_sends_once() {
    let h = harness(false);
    subscribe_personal(&h).await; // records the conversation a:megan
    let send = json!({"to": {"conversation": {"id": "a:megan"}}, "message": {"text": "hello"}, "idempotencyKey": "k1"});
    let (status, ids) = service::proactive::notify_json(&h.app, &serde_json::to_vec(&send).unwrap()).await;
    assert_eq!(status, 200, "{ids}");
    let (status, again) = service::proactive::notify_json(&h.app, &serde_json::to_vec(&send).unwrap()).await;
    assert_eq!((status, &again), (200, &ids));
    let sends = h
        .connector
        .sent_activities()
        .iter()
        .filter(|a| a.text() == Some("hello"))
        .count();
    assert_eq!(sends, 1);

    let conversation = ids["conversationId"].as_str().unwrap();
    let activity = ids["activityId"].as_str().unwrap();
    let update =
        json!({"update": {"conversationId": conversation, "activityId": activity}, "message": {"text": "edited"}});
    assert_eq!(
        service::proactive::notify_json(&h.app, &serde_json::to_vec(&update).unwrap())
            .await
            .0,
        200
    );
    let delete = json!({"delete": {"conversationId": conversation, "activityId": activity}});
    assert_eq!(
        service::proactive::notify_json(&h.app, &serde_json::to_vec(&delete).unwrap())
            .await
            .0,
        200
    );
    let calls = h.connector.calls();
    assert!(
        calls
            .iter()
            .any(|c| matches!(c, ConnectorCall::Update { activity_id, .. } if activity_id.as_str() == activity))
    );
    assert!(
        calls
            .iter()
            .any(|c| matches!(c, ConnectorCall::Delete { activity_id, .. } if activity_id.as_str() == activity))
    );

    // Unknown conversation: 404; invalid request: 400.
    let unknown = json!({"to": {"conversation": {"id": "a:nobody"}}, "message": {"text": "x"}});
    assert_eq!(
        service::proactive::notify_json(&h.app, &serde_json::to_vec(&unknown).unwrap())
            .await
            .0,
        404
    );
    assert_eq!(service::proactive::notify_json(&h.app, b"{\"to\": 3}").await.0, 400);
}

#[tokio::test]
async fn an_uninstalled_conversation_is_skipped_with_410() {
    let h = harness(false);
    subscribe_personal(&h).await;
    let uninstall = json!({
        "type": "installationUpdate", "id": "x1", "channelId": "msteams", "serviceUrl": SERVICE_URL, "action": "remove",
        "from": {"id": "29:megan"}, "recipient": {"id": BOT},
        "conversation": {"id": "a:megan", "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}}
    });
    assert_eq!(h.deliver(&uninstall).await, 200);
    let send = json!({"to": {"conversation": {"id": "a:megan"}}, "message": {"text": "hello"}});
    let (status, body) = service::proactive::notify_json(&h.app, &serde_json::to_vec(&send).unwrap()).await;
    assert_eq!(status, 410, "{body}");
    assert!(h.connector.sent_activities().iter().all(|a| a.text() != Some("hello")));
    let _ = ConversationId::from("unused");
}

#[tokio::test]
async fn a_send_teams_refuses_as_bot_removed_leaves_the_conversation_inactive_when_it_answers() {
    // No change feed and a current-thread runtime: nothing else runs between the answer and the check, so the
    // mark must have been written before the notify answered.
    let h = harness_on(Arc::new(MemoryStore::new()), false);
    subscribe_personal(&h).await;
    h.connector.fail_next(ConnectorError::NotInRoster {
        message: "The bot is not part of the conversation roster.".into(),
    });
    let send = json!({"to": {"conversation": {"id": "a:megan"}}, "message": {"text": "hello"}});
    let (status, body) = service::proactive::notify_json(&h.app, &serde_json::to_vec(&send).unwrap()).await;
    assert_eq!(status, 403, "{body}");
    let conversation = h
        .store
        .conversation(&ConversationId::from("a:megan"), Timestamp::now())
        .await
        .unwrap()
        .expect("the conversation is known");
    assert!(!conversation.active, "{conversation:?}");
    let (status, body) = service::proactive::notify_json(&h.app, &serde_json::to_vec(&send).unwrap()).await;
    assert_eq!(status, 410, "{body}");
}

#[tokio::test]
async fn a_replayed_outbox_record_is_not_sent_again() {
    let h = harness_on(Arc::new(MemoryStore::new()), false);
    subscribe_personal(&h).await;
    let item = store::OutboxItem {
        id: "ob-1".into(),
        topic: "notify".into(),
        payload: json!({"to": {"conversation": {"id": "a:megan"}}, "message": {"text": "from the outbox"}}),
        done: false,
        created_at: Timestamp::now(),
    };
    assert!(h.store.enqueue(&item, Timestamp::now()).await.unwrap().won());
    let sent = |h: &Harness| {
        h.connector
            .sent_activities()
            .iter()
            .filter(|a| a.text() == Some("from the outbox"))
            .count()
    };
    // The stream record (the item as inserted), then the same record again, as a replay delivers it.
    let record = store::StreamItem::Outbox(item);
    service::stream::outbox_item(h.app.clone(), record.clone())
        .await
        .unwrap();
    assert_eq!(sent(&h), 1);
    assert!(
        h.store
            .outbox_item("ob-1", Timestamp::now())
            .await
            .unwrap()
            .unwrap()
            .done
    );
    service::stream::outbox_item(h.app.clone(), record).await.unwrap();
    assert_eq!(sent(&h), 1, "a done item is not sent again");
}

#[tokio::test]
async fn a_vote_on_a_poll_message_that_is_gone_posts_the_poll_again() {
    let h = harness(false);
    subscribe_personal(&h).await;
    assert_eq!(service::proactive::tick(&h.app).await["sent"], 1);
    let card = h
        .connector
        .calls()
        .iter()
        .rev()
        .find_map(|c| match c {
            ConnectorCall::Send { activity, .. } => activity.as_message().and_then(|m| m.attachments.clone()),
            _ => None,
        })
        .unwrap();
    let data = card[0].content.as_ref().unwrap()["actions"][0]["data"].clone();
    h.connector.fail_when(|call| {
        matches!(call, ConnectorCall::Update { .. }).then(|| ConnectorError::NotFound {
            code: "NotFound".into(),
            message: "not a known activity id".into(),
        })
    });
    let vote = json!({
        "type": "message", "id": "v2", "channelId": "msteams", "serviceUrl": SERVICE_URL, "value": data,
        "replyToId": "1", "from": {"id": "29:megan", "name": "Megan"}, "recipient": {"id": BOT, "name": "Test Bot"},
        "conversation": {"id": "a:megan", "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}}
    });
    assert_eq!(h.deliver(&vote).await, 200);
    assert_eq!(polls_sent(&h), 2, "the updated poll is posted again");
}

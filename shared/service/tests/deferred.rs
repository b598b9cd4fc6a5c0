#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]
//! Deferred work (`Context::defer` -> `Bot::on_deferred`) through the runtime, with a recording Connector:
//! - the reference bot's `slow 1` on the embedded store: the acknowledgement is the webhook's reply, the answer a
//!   later send in the same conversation, exactly once — live (the change feed running), and across a stop of the
//!   process right after the webhook answered (the work is in the store file; the next start runs it, once);
//! - what a retry does: sends an earlier run made are not made again, a failure that may pass fails the record
//!   (retried), the bot's own failure does not (done, not retried), a done item is not run again, a run past the
//!   deadline is cancelled and retried.

use connector::{ConnectorCall, ConnectorError, RecordingConnector};
use serde_json::{Value, json};
use service::api::{Bot, BotError, BotIdentity, Context, DeferredWork, IncomingMessage};
use service::stream::{RecordError, outbox_record};
use service::{App, Inbound};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use store::{BotState as _, Conversations as _, EmbeddedStore, MemoryStore, Outbox as _, Store, StreamItem, Timestamp};

const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const BOT: &str = "28:bot-app-id";
const CHAT: &str = "a:deferred-megan";

fn app(store: Arc<dyn Store>, connector: Arc<RecordingConnector>, bot: Arc<dyn Bot>) -> App {
    App {
        identity: BotIdentity::new(BOT, "Test Bot"),
        bot,
        connector,
        store,
        service_urls: connector::ServiceUrlAllowlist::default(),
        inbound: Inbound::Anonymous,
        welcome_roster: false,
        known: Arc::default(),
    }
}

fn message(id: &str, text: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "message", "id": id, "channelId": "msteams", "serviceUrl": SERVICE_URL, "text": text,
        "from": {"id": "29:megan", "name": "Megan"}, "recipient": {"id": BOT, "name": "Test Bot"},
        "conversation": {"id": CHAT, "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}}
    }))
    .unwrap()
}

/// The texts the Connector was asked to post in `CHAT` (`Send` calls, failed ones included) starting with `prefix`.
fn sends(connector: &RecordingConnector, prefix: &str) -> Vec<String> {
    connector
        .calls()
        .iter()
        .filter_map(|c| match c {
            ConnectorCall::Send {
                conversation, activity, ..
            } if conversation.as_str() == CHAT => activity.text().filter(|t| t.starts_with(prefix)).map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// The replies (to the inbound message) starting with `prefix`.
fn replies(connector: &RecordingConnector, prefix: &str) -> Vec<String> {
    connector
        .calls()
        .iter()
        .filter_map(|c| match c {
            ConnectorCall::Reply { activity, .. } => {
                activity.text().filter(|t| t.starts_with(prefix)).map(str::to_owned)
            }
            _ => None,
        })
        .collect()
}

/// Waits (at most 10 s) until `done` holds.
async fn eventually(done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

fn temp_store_file(test: &str) -> std::path::PathBuf {
    std::env::temp_dir()
        .join(format!("deferred-{test}-{}", std::process::id()))
        .join("store.redb")
}

/// The stream work of a (re)started process on `store`: what was committed in the mappings' record age first,
/// then each new insert (as `App::build` subscribes). Answers its recording Connector.
async fn start_on(store: &Arc<EmbeddedStore>) -> Arc<RecordingConnector> {
    let now = Timestamp::now();
    let since = Timestamp(now.0 - i64::try_from(service::background::MAX_RECORD_AGE_SECS).unwrap());
    let changes = store.subscribe_changes_since(since, now).await.unwrap();
    let connector = Arc::new(RecordingConnector::new());
    let bot = Arc::new(reference_bot::ReferenceBot);
    tokio::spawn(service::background::run_change_feed(
        app(store.clone(), connector.clone(), bot),
        changes,
    ));
    connector
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_on_the_embedded_store_acknowledges_at_once_and_answers_later_once() {
    let file = temp_store_file("live");
    let store = Arc::new(EmbeddedStore::open(&file).await.unwrap());
    let connector = start_on(&store).await;
    let app = app(store.clone(), connector.clone(), Arc::new(reference_bot::ReferenceBot));

    let started = Instant::now();
    let answer = service::handle(&app, None, &message("slow-1", "slow 1")).await;
    let webhook_ms = started.elapsed().as_millis();
    assert_eq!(answer.status, 200);
    assert_eq!(
        replies(&connector, "Working on it..."),
        ["Working on it... I will answer here in 1 s."],
        "the acknowledgement is the webhook's own reply"
    );

    assert!(
        eventually(|| !sends(&connector, "Done:").is_empty()).await,
        "{:#?}",
        connector.calls()
    );
    let answered_ms = started.elapsed().as_millis();
    // A settle window in which a second answer would show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sends(&connector, "Done:"),
        ["Done: here is the slow answer, after 1 s of work."],
        "one answer, posted in the same conversation"
    );
    println!(
        "measured: `slow 1` on the embedded store: webhook answered in {webhook_ms} ms, the answer {answered_ms} ms after the message"
    );
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_survives_a_stop_right_after_the_webhook_answered() {
    let file = temp_store_file("stopped");
    {
        // The webhook's process, stopped right after it answered: no stream work ever ran in it.
        let store = Arc::new(EmbeddedStore::open(&file).await.unwrap());
        let connector = Arc::new(RecordingConnector::new());
        let app = app(store, connector.clone(), Arc::new(reference_bot::ReferenceBot));
        let answer = service::handle(&app, None, &message("slow-stop", "slow 1")).await;
        assert_eq!(answer.status, 200);
        assert_eq!(replies(&connector, "Working on it...").len(), 1);
        assert!(sends(&connector, "Done:").is_empty());
    }
    // The next start: the deferred work is in the file and runs, once.
    let store = Arc::new(EmbeddedStore::open(&file).await.unwrap());
    let connector = start_on(&store).await;
    assert!(
        eventually(|| !sends(&connector, "Done:").is_empty()).await,
        "{:#?}",
        connector.calls()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sends(&connector, "Done:").len(), 1, "{:#?}", connector.calls());

    // A start after that replays what is committed: the work is done, nothing is run again.
    let again = start_on(&store).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(sends(&again, "Done:").is_empty(), "{:#?}", again.calls());
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}

/// A bot whose message handler defers `work` with `{"fail": <mode>}` and keeps its id in the conversation's
/// state; its deferred handler sends two parts, then fails as `fail` says.
#[derive(Default)]
struct TwoParts {
    runs: AtomicU32,
}

#[async_trait::async_trait]
impl Bot for TwoParts {
    async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
        let id = ctx.defer("two-parts", json!({"mode": message.text})).await?;
        ctx.conversation_state().save("work", &id, None).await
    }

    async fn on_deferred(&self, ctx: &Context<'_>, work: &DeferredWork<'_>) -> Result<(), BotError> {
        let run = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        assert_eq!(work.name, "two-parts");
        assert_eq!(work.requested_by.map(|u| u.id.as_str()), Some("29:megan"));
        match work.data["mode"].as_str() {
            Some("own failure") => return Err(BotError::other("the bot's own failure")),
            Some("too slow") => tokio::time::sleep(Duration::from_secs(3600)).await,
            _ => {}
        }
        ctx.send(format!("part one (run {run})")).await?;
        ctx.send(format!("part two (run {run})")).await?;
        Ok(())
    }
}

struct Harness {
    app: App,
    store: Arc<MemoryStore>,
    connector: Arc<RecordingConnector>,
    bot: Arc<TwoParts>,
}

impl Harness {
    fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let connector = Arc::new(RecordingConnector::new());
        let bot = Arc::new(TwoParts::default());
        let app = app(store.clone(), connector.clone(), bot.clone());
        Self {
            app,
            store,
            connector,
            bot,
        }
    }

    /// Delivers a message whose text is the deferred handler's mode; answers the deferred work's outbox item, as
    /// its stream record carries it (no change feed runs here: the test delivers the record itself).
    async fn defer(&self, id: &str, mode: &str) -> StreamItem {
        let answer = service::handle(&self.app, None, &message(id, mode)).await;
        assert_eq!(answer.status, 200);
        let state = store::StateScope::Conversation(CHAT.into());
        let work: Value = self
            .store
            .load_state(&state, "work", Timestamp::now())
            .await
            .unwrap()
            .expect("the bot kept the work's id");
        let item = self
            .store
            .outbox_item(work.as_str().unwrap(), Timestamp::now())
            .await
            .unwrap()
            .expect("the work is stored when the webhook answers");
        assert_eq!(item.topic, service::flows::deferred::TOPIC);
        assert!(!item.done);
        StreamItem::Outbox(item)
    }

    async fn done(&self, item: &StreamItem) -> bool {
        let StreamItem::Outbox(item) = item else { panic!() };
        self.store
            .outbox_item(&item.id, Timestamp::now())
            .await
            .unwrap()
            .unwrap()
            .done
    }
}

#[tokio::test]
async fn a_retried_run_does_not_send_again_what_an_earlier_run_sent() {
    let h = Harness::new();
    let item = h.defer("m-retry", "go").await;
    // Teams answers the first `part two` with 502 until the client gives up: the run fails, worth retrying.
    let failed_once = AtomicU32::new(0);
    h.connector.fail_when(move |call| {
        let second = call
            .activity()
            .and_then(|a| a.text())
            .is_some_and(|t| t.starts_with("part two"));
        (second && failed_once.fetch_add(1, Ordering::SeqCst) == 0).then(|| ConnectorError::Transient {
            status: Some(502),
            source: None,
        })
    });
    let first = outbox_record(&h.app, &item).await;
    assert!(matches!(first, Err(RecordError::Deferred(_))), "{first:?}");
    assert!(!h.done(&item).await, "not done: the record is retried");

    // The mapping's retry of the record: the handler runs again; part one is not posted again, part two is.
    outbox_record(&h.app, &item).await.unwrap();
    assert!(h.done(&item).await);
    assert_eq!(h.bot.runs.load(Ordering::SeqCst), 2);
    assert_eq!(sends(&h.connector, "part one"), ["part one (run 1)"]);
    assert_eq!(
        sends(&h.connector, "part two"),
        ["part two (run 1)", "part two (run 2)"],
        "the refused attempt, then the retry's"
    );

    // The same record delivered again (a replay): done, the handler is not run.
    outbox_record(&h.app, &item).await.unwrap();
    assert_eq!(h.bot.runs.load(Ordering::SeqCst), 2);
    assert_eq!(sends(&h.connector, "part").len(), 3);
}

#[tokio::test]
async fn a_send_whose_outcome_is_unknown_is_not_sent_by_the_retry_until_its_claim_lapses() {
    let h = Harness::new();
    let item = h.defer("m-unknown", "go").await;
    let once = AtomicU32::new(0);
    h.connector.fail_when(move |call| {
        let first = call
            .activity()
            .and_then(|a| a.text())
            .is_some_and(|t| t.starts_with("part one"));
        (first && once.fetch_add(1, Ordering::SeqCst) == 0).then(|| ConnectorError::OutcomeUnknown {
            source: "timed out after sending".into(),
        })
    });
    let first = outbox_record(&h.app, &item).await;
    assert!(matches!(first, Err(RecordError::Deferred(_))), "{first:?}");
    // The retry finds part one's send in progress: retried again later, nothing posted twice.
    let retry = outbox_record(&h.app, &item).await;
    let Err(RecordError::Deferred(error)) = retry else {
        panic!("{retry:?}")
    };
    assert!(
        service::stream::RecordError::Deferred(error)
            .to_string()
            .contains("to be retried")
    );
    assert_eq!(sends(&h.connector, "part").len(), 1, "{:#?}", h.connector.calls());
    assert!(!h.done(&item).await);
}

#[tokio::test]
async fn the_bots_own_failure_is_not_retried() {
    let h = Harness::new();
    let item = h.defer("m-own", "own failure").await;
    outbox_record(&h.app, &item).await.unwrap();
    assert!(h.done(&item).await, "logged, counted and done");
    outbox_record(&h.app, &item).await.unwrap();
    assert_eq!(h.bot.runs.load(Ordering::SeqCst), 1, "not run again");
}

#[tokio::test(start_paused = true)]
async fn a_run_past_the_deadline_is_cancelled_and_retried() {
    let h = Harness::new();
    let item = h.defer("m-slow", "too slow").await;
    let first = outbox_record(&h.app, &item).await;
    assert!(matches!(first, Err(RecordError::Deferred(_))), "{first:?}");
    assert!(first.unwrap_err().to_string().contains("deadline"));
    assert!(sends(&h.connector, "part").is_empty());
    assert!(!h.done(&item).await);
}

#[tokio::test]
async fn work_for_a_conversation_the_bot_was_removed_from_is_dropped() {
    let h = Harness::new();
    let item = h.defer("m-removed", "go").await;
    h.store
        .mark_inactive(&CHAT.into(), store::InactiveReason::Uninstalled, Timestamp::now())
        .await
        .unwrap();
    outbox_record(&h.app, &item).await.unwrap();
    assert!(h.done(&item).await);
    assert_eq!(h.bot.runs.load(Ordering::SeqCst), 0);
    assert!(sends(&h.connector, "part").is_empty());
}

//! The embedded store purges expired items (issue 16, F8): its file must not grow without bound with dedupe marks
//! and other items past their `expiresAt`, and the due-time index stays in step with the items.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use models::{ActivityId, ConversationId};
use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};
use serde_json::json;
use std::path::Path;
use store::{Cond, Dedupe, EmbeddedStore, Item, Table, Timestamp, Write, WriteOutcome};

const NOW: Timestamp = Timestamp(1_800_000_000);
/// Far past every grace the store may keep before purging: a day.
const LATER: Timestamp = Timestamp(NOW.0 + 10 + 86_400);

/// The embedded store's tables, as laid out in the file.
const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");
const GSI1: TableDefinition<(&str, &str, &str, &str), ()> = TableDefinition::new("gsi1");

fn item(pk: &str, sk: &str, expires_at: Option<i64>, gsi1: Option<(&str, &str)>) -> Item {
    Item {
        pk: pk.into(),
        sk: sk.into(),
        kind: "test".into(),
        gsi1: gsi1.map(|(p, s)| (p.into(), s.into())),
        expires_at,
        data: json!({"v": 1}).as_object().cloned().unwrap(),
    }
}

fn put(item: Item) -> Write {
    Write::Put {
        item,
        cond: Cond::Always,
    }
}

/// (items, due-index entries) in the file, read with redb itself once the store is closed.
fn counts(path: &Path) -> (u64, u64) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let items = txn.open_table(ITEMS).unwrap().len().unwrap();
    let gsi = txn.open_table(GSI1).unwrap().len().unwrap();
    (items, gsi)
}

/// 40 items expiring 10 s after NOW (20 of them in the due index), 5 without TTL, 5 expiring in a year.
async fn fill(store: &EmbeddedStore) {
    for chunk in 0..4 {
        let writes = (0..10)
            .map(|i| {
                let n = chunk * 10 + i;
                let due = (n % 2 == 0).then_some(("DUE", "00000000000000000001"));
                put(item(&format!("SHORT#{n}"), "S", Some(NOW.0 + 10), due))
            })
            .collect();
        assert_eq!(store.write(writes, NOW).await.unwrap(), WriteOutcome::Applied);
    }
    for n in 0..5 {
        let writes = vec![
            put(item(
                &format!("KEEP#{n}"),
                "S",
                None,
                Some(("DUE", "00000000000000000002")),
            )),
            put(item(&format!("YEAR#{n}"), "S", Some(NOW.0 + 365 * 86_400), None)),
        ];
        assert_eq!(store.write(writes, NOW).await.unwrap(), WriteOutcome::Applied);
    }
}

/// Writes one unrelated item at `now` up to `rounds` times, until the file holds `items` items.
async fn write_until(path: &Path, now: Timestamp, items: u64, rounds: usize) -> (u64, u64) {
    let mut last = (0, 0);
    for round in 0..rounds {
        let store = EmbeddedStore::open(path).await.unwrap();
        let writes = vec![put(item("OTHER", &format!("{round}"), None, None))];
        assert_eq!(store.write(writes, now).await.unwrap(), WriteOutcome::Applied);
        drop(store);
        last = counts(path);
        if last.0 <= items + round as u64 + 1 {
            return last;
        }
    }
    last
}

#[tokio::test]
async fn writes_purge_expired_items_and_keep_live_ones() {
    let (store, path) = fresh_embedded().await;
    fill(&store).await;
    drop(store);
    assert_eq!(counts(&path), (50, 25), "all written");

    // A write while nothing has expired purges nothing.
    let store = EmbeddedStore::open(&path).await.unwrap();
    let writes = vec![put(item("OTHER", "before", None, None))];
    assert_eq!(store.write(writes, NOW).await.unwrap(), WriteOutcome::Applied);
    drop(store);
    assert_eq!(counts(&path), (51, 25), "nothing expired yet");

    // Later writes purge the 40 expired items (and the 20 due-index entries of theirs): bounded loop.
    let (items, gsi) = write_until(&path, LATER, 11, 50).await;
    assert!(items <= 11 + 50, "expired items purged: {items} items left");
    assert_eq!(gsi, 5, "the purged items' due-index entries went with them");

    // Every live item is still there, through every read path.
    let store = EmbeddedStore::open(&path).await.unwrap();
    for n in 0..5 {
        assert!(store.get(&format!("KEEP#{n}"), "S", LATER).await.unwrap().is_some());
        assert!(store.get(&format!("YEAR#{n}"), "S", LATER).await.unwrap().is_some());
    }
    assert!(store.get("SHORT#0", "S", NOW).await.unwrap().is_none(), "purged");
    let due = store.query_gsi1("DUE", "~", LATER, 100).await.unwrap();
    assert_eq!(due.len(), 5);
    assert!(due.iter().all(|i| i.pk.starts_with("KEEP#")));
    drop(store);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn dedupe_marks_do_not_pile_up() {
    let (store, path) = fresh_embedded().await;
    // A day of traffic: 200 distinct activities, each leaving a dedupe mark with the 24 h TTL.
    let conversation = ConversationId::from("a:c");
    for n in 0..200 {
        let activity = ActivityId::from(format!("act-{n}"));
        let claim = store.claim_activity(&conversation, &activity, store::DEDUPE_TTL_SECS, NOW);
        assert!(claim.await.unwrap().won());
    }
    drop(store);
    let before = counts(&path).0;
    assert_eq!(before, 200);
    // The next day's traffic purges yesterday's marks as it writes its own.
    let next_day = NOW.plus_secs(store::DEDUPE_TTL_SECS + 3_600);
    let store = EmbeddedStore::open(&path).await.unwrap();
    for n in 0..200 {
        let activity = ActivityId::from(format!("next-{n}"));
        let claim = store.claim_activity(&conversation, &activity, store::DEDUPE_TTL_SECS, next_day);
        assert!(claim.await.unwrap().won());
    }
    drop(store);
    let after = counts(&path).0;
    assert_eq!(after, 200, "yesterday's 200 marks are gone, today's 200 stay");
    let store = EmbeddedStore::open(&path).await.unwrap();
    let again = ActivityId::from("next-7");
    let again = store.claim_activity(&conversation, &again, store::DEDUPE_TTL_SECS, next_day);
    assert!(!again.await.unwrap().won(), "today's marks still dedupe");
    drop(store);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn a_file_from_before_the_expiry_index_is_purged_too() {
    let path = std::env::temp_dir().join(unique("store-test")).join("state.redb");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    {
        // The layout as earlier versions wrote it: items and the due index only.
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut items = txn.open_table(ITEMS).unwrap();
            let mut gsi = txn.open_table(GSI1).unwrap();
            for n in 0..30 {
                let it = item(&format!("OLD#{n}"), "S", Some(NOW.0 + 10), Some(("DUE", "1")));
                let bytes = serde_json::to_vec(&it.to_json()).unwrap();
                items.insert((it.pk.as_str(), "S"), bytes.as_slice()).unwrap();
                gsi.insert(("DUE", "1", it.pk.as_str(), "S"), ()).unwrap();
            }
            let keep = item("KEEP", "S", None, None);
            let bytes = serde_json::to_vec(&keep.to_json()).unwrap();
            items.insert(("KEEP", "S"), bytes.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let (items, gsi) = write_until(&path, LATER, 1, 50).await;
    assert!(items <= 1 + 50, "{items} items left");
    assert_eq!(gsi, 0);
    let store = EmbeddedStore::open(&path).await.unwrap();
    assert!(store.get("KEEP", "S", LATER).await.unwrap().is_some());
    drop(store);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn purge_expired_clears_everything_expired_at_once() {
    let (store, path) = fresh_embedded().await;
    fill(&store).await;
    assert_eq!(store.purge_expired(NOW).await.unwrap(), 0);
    assert_eq!(store.purge_expired(Timestamp(NOW.0 + 10)).await.unwrap(), 40);
    assert_eq!(store.purge_expired(LATER).await.unwrap(), 0);
    drop(store);
    assert_eq!(counts(&path), (10, 5));
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn a_condition_check_leaves_the_due_index_alone() {
    let (store, path) = fresh_embedded().await;
    let sub = item("CONV#a", "SUB#x", None, Some(("DUE", "00000000000000000005")));
    assert_eq!(store.write(vec![put(sub)], NOW).await.unwrap(), WriteOutcome::Applied);
    let check = Write::Check {
        pk: "CONV#a".into(),
        sk: "SUB#x".into(),
        cond: Cond::Present,
    };
    assert_eq!(store.write(vec![check], NOW).await.unwrap(), WriteOutcome::Applied);
    let due = store.query_gsi1("DUE", "~", NOW, 10).await.unwrap();
    assert_eq!(due.len(), 1, "a Check writes nothing, the index entry included");
    drop(store);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

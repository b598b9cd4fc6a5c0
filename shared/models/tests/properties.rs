//! Property tests: no input makes the parser (or the image check) panic, and whatever parses round-trips to the
//! same value.

// Test helpers (outside #[test] fns) may unwrap: a panic is a test failure.
#![allow(clippy::unwrap_used)]

use models::{Activity, ImageFormat, check_image, strip_mentions_of, truncate_utf16, utf16_len};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Keys the schema knows (so generated documents reach the typed code), at every level.
const KEYS: &[&str] = &[
    "type",
    "id",
    "text",
    "textFormat",
    "from",
    "recipient",
    "conversation",
    "entities",
    "channelData",
    "attachments",
    "membersAdded",
    "membersRemoved",
    "mentioned",
    "name",
    "tenant",
    "team",
    "channel",
    "eventType",
    "action",
    "value",
    "reactionsAdded",
    "reactionsRemoved",
    "contentType",
    "conversationType",
    "tenantId",
    "replyToId",
    "serviceUrl",
    "timestamp",
    "locale",
    "notification",
    "alert",
    "settings",
    "selectedChannel",
    "historyDisclosed",
    "aadObjectId",
    "isGroup",
    "channelId",
    "content",
    "relatesTo",
    "summary",
];

/// Strings the schema gives meaning to.
const WORDS: &[&str] = &[
    "message",
    "conversationUpdate",
    "installationUpdate",
    "messageReaction",
    "invoke",
    "event",
    "typing",
    "messageUpdate",
    "messageDelete",
    "mention",
    "clientInfo",
    "teamMemberAdded",
    "channelCreated",
    "add",
    "remove",
    "personal",
    "groupChat",
    "channel",
    "plain",
    "<at>Bot</at>",
    "28:bot",
    "29:user",
    "",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => "[a-zA-Z@]{0,6}"]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        3 => prop::sample::select(WORDS).prop_map(Value::from),
        1 => "\\PC{0,8}".prop_map(Value::String),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn account() -> impl Strategy<Value = Value> {
    (prop::sample::select(WORDS), proptest::option::of("\\PC{0,6}")).prop_map(|(id, name)| {
        let mut m = Map::new();
        m.insert("id".into(), id.into());
        if let Some(name) = name {
            m.insert("name".into(), name.into());
        }
        Value::Object(m)
    })
}

fn entity() -> impl Strategy<Value = Value> {
    prop_oneof![
        (account(), prop::sample::select(WORDS))
            .prop_map(|(who, text)| serde_json::json!({"type": "mention", "mentioned": who, "text": text})),
        "\\PC{0,5}".prop_map(|l| serde_json::json!({"type": "clientInfo", "locale": l, "x": 1})),
        json().prop_map(|v| serde_json::json!({"type": "https://schema.org/Message", "v": v})),
        json(),
    ]
}

/// A value for `key` that is usually well formed (so parsing often succeeds and the round trip is exercised),
/// sometimes arbitrary.
fn field(key: &'static str) -> BoxedStrategy<Value> {
    let good: BoxedStrategy<Value> = match key {
        "from" | "recipient" => account().boxed(),
        "membersAdded" | "membersRemoved" => prop::collection::vec(account(), 0..3).prop_map(Value::Array).boxed(),
        "entities" => prop::collection::vec(entity(), 0..4).prop_map(Value::Array).boxed(),
        "conversation" => (prop::sample::select(WORDS), prop::sample::select(WORDS), json())
            .prop_map(|(id, t, x)| serde_json::json!({"id": id, "conversationType": t, "future": x}))
            .boxed(),
        "channelData" => (prop::sample::select(WORDS), prop::sample::select(WORDS), json())
            .prop_map(|(tenant, event, x)| {
                serde_json::json!({"tenant": {"id": tenant}, "eventType": event, "team": {"id": "19:t"}, "x": x})
            })
            .boxed(),
        "attachments" => prop::collection::vec(
            (prop::sample::select(WORDS), json()).prop_map(|(ct, c)| serde_json::json!({"contentType": ct, "content": c})),
            0..3,
        )
        .prop_map(Value::Array)
        .boxed(),
        "reactionsAdded" | "reactionsRemoved" => prop::collection::vec(
            prop::sample::select(WORDS).prop_map(|t| serde_json::json!({"type": t})),
            0..3,
        )
        .prop_map(Value::Array)
        .boxed(),
        "value" | "relatesTo" | "content" => json().boxed(),
        "historyDisclosed" | "isGroup" => any::<bool>().prop_map(Value::Bool).boxed(),
        _ => prop::sample::select(WORDS).prop_map(Value::from).boxed(),
    };
    prop_oneof![5 => good, 1 => json()].boxed()
}

/// An object with a known (or sometimes unknown) `type` and a handful of fields.
fn activity_json() -> impl Strategy<Value = Value> {
    let fields = prop::collection::vec(prop::sample::select(KEYS).prop_flat_map(|k| (Just(k), field(k))), 0..8);
    let unknown = prop::collection::vec(("[a-z]{1,6}", json()), 0..3);
    let kind = prop_oneof![6 => prop::sample::select(&WORDS[..9]).prop_map(str::to_owned), 1 => "[a-zA-Z]{0,8}"];
    (kind, fields, unknown).prop_map(|(kind, fields, unknown)| {
        let mut m = Map::new();
        for (k, v) in fields {
            m.insert(k.to_owned(), v);
        }
        for (k, v) in unknown {
            m.insert(k, v);
        }
        m.insert("type".into(), kind.into());
        Value::Object(m)
    })
}

/// Whatever parsed serializes to JSON that parses back to the same activity, and serializing again is stable.
fn assert_round_trip(activity: &Activity) -> Result<(), TestCaseError> {
    let value = serde_json::to_value(activity).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let again = Activity::from_value(value.clone()).map_err(|e| TestCaseError::fail(format!("{e}: {value}")))?;
    prop_assert_eq!(&again, activity);
    prop_assert_eq!(
        serde_json::to_value(&again).map_err(|e| TestCaseError::fail(e.to_string()))?,
        value
    );
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(activity) = Activity::from_slice(&bytes) {
            assert_round_trip(&activity)?;
        }
    }

    #[test]
    fn arbitrary_json_never_panics_and_round_trips(value in json()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        let from_bytes = Activity::from_slice(&bytes);
        let from_value = Activity::from_value(value);
        prop_assert_eq!(from_bytes.is_ok(), from_value.is_ok());
        if let Ok(activity) = from_value {
            assert_round_trip(&activity)?;
        }
    }

    #[test]
    fn activity_shaped_json_never_panics_and_round_trips(value in activity_json()) {
        match Activity::from_value(value.clone()) {
            Ok(activity) => {
                assert_round_trip(&activity)?;
                // Nothing is lost but explicit nulls of modelled fields.
                let back = serde_json::to_value(&activity).unwrap();
                prop_assert_eq!(strip_nulls(back), strip_nulls(value));
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn check_image_never_panics(
        magic in prop::sample::select(vec![&b""[..], b"\x89PNG\r\n\x1a\n", b"\xFF\xD8\xFF", b"GIF89a", b"GIF87a"]),
        tail in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = magic.to_vec();
        bytes.extend(tail);
        if let Ok(info) = check_image(&bytes) {
            prop_assert!(info.width >= 1 && info.width <= 1024 && info.height >= 1 && info.height <= 1024);
            prop_assert_eq!(Some(info.format), ImageFormat::sniff(&bytes));
            prop_assert_eq!(info.bytes, bytes.len());
        }
    }

    #[test]
    fn stripping_removes_every_occurrence_and_only_those(
        parts in prop::collection::vec("[a-z <>/]{0,6}", 1..6),
        other_at in 0usize..6,
    ) {
        let ours = "<at>Bot</at>";
        let theirs = "<at>Bot Smith</at>";
        let entities: Vec<models::Entity> = serde_json::from_value(serde_json::json!([
            {"type": "mention", "mentioned": {"id": "28:bot"}, "text": ours},
            {"type": "mention", "mentioned": {"id": "29:smith"}, "text": theirs},
        ])).unwrap();
        // Our mention between every part, theirs once.
        let mut text = parts.join(ours);
        let mut expected = parts.concat();
        if other_at < parts.len() && !parts.iter().any(|p| p.contains('<')) {
            text.push_str(theirs);
            expected.push_str(theirs);
        }
        if parts.iter().all(|p| !p.contains('<')) {
            prop_assert_eq!(strip_mentions_of(&text, &entities, "28:bot"), expected.trim());
        } else {
            let stripped = strip_mentions_of(&text, &entities, "28:bot");
            prop_assert_eq!(stripped.trim(), stripped.as_str());
        }
        prop_assert_eq!(strip_mentions_of(&text, &entities, "28:nobody"), text.trim());
    }

    #[test]
    fn truncate_utf16_is_the_longest_fitting_prefix(text in "\\PC{0,20}", max in 0usize..30) {
        let cut = truncate_utf16(&text, max);
        prop_assert!(text.starts_with(cut));
        prop_assert!(utf16_len(cut) <= max);
        if let Some(next) = text[cut.len()..].chars().next() {
            prop_assert!(utf16_len(cut) + next.len_utf16() > max);
        }
    }
}

/// Removes `null` members of objects, recursively (a `null` for a modelled field is read as absent).
fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

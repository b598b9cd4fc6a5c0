//! Webhook bodies. Most are one of the real activities in `shared/service/tests/fixtures/*.json` (read at run
//! time) with a fresh id and a few mutations: a field deleted, duplicated (an array element, or a JSON key written
//! twice), retyped, set to a value the schema or the bot gives meaning to, replaced by a unicode edge case, a huge
//! string, a deep nest, or raw JSON a `Value` cannot hold (a lone surrogate `"\ud800"`, `1e400`, nesting past the
//! parser's limit); then sometimes truncated, a byte flipped or bytes inserted. The rest are random bytes, random
//! JSON and random text.
//!
//! A [`Recipe`] is what proptest generates and shrinks; [`Bodies::build`] turns it into bytes.

use crate::words;
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where the fixtures are (read at run time).
#[must_use]
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/service/tests/fixtures")
}

/// The fixtures, by file name.
///
/// # Panics
/// When the directory cannot be read, a fixture is not JSON, or there is none.
#[must_use]
pub fn fixtures() -> Vec<(String, Value)> {
    let dir = fixtures_dir();
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let text = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            let value = serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, value)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!out.is_empty(), "no fixtures in {}", dir.display());
    out
}

/// One mutation of the activity's JSON. `usize`s pick a node (pre-order, modulo the node count) or an entry of a
/// list (modulo its length), so they stay meaningful while the document changes and shrink well.
#[derive(Clone, Debug)]
pub enum Op {
    /// Sets a known path (creating objects on the way) to a value the schema gives meaning to.
    Set { path: usize, word: usize },
    /// Removes the node from its parent.
    Delete { node: usize },
    /// An array gets a copy of an element; an object gets one of its keys written twice (the second time with
    /// `value`, or its own value when `same`).
    Duplicate {
        node: usize,
        key: usize,
        value: Value,
        same: bool,
    },
    /// Replaces the node with a value of another type.
    Retype { node: usize, value: Value },
    /// Replaces the node with a unicode edge case (or a random string).
    Text { node: usize, text: String },
    /// Replaces the node with raw JSON text from [`words::raw_values`].
    Raw { node: usize, raw: usize },
    /// Wraps the node in `depth` arrays or objects.
    Nest { node: usize, depth: usize, arrays: bool },
    /// Replaces the node with a string of about `bytes` bytes of `unit`.
    Huge { node: usize, bytes: usize, unit: usize },
}

/// A change to the serialized bytes.
#[derive(Clone, Debug)]
pub enum ByteOp {
    /// Keeps the first `at`/65536 of the body.
    Truncate { at: u16 },
    /// XORs one byte (at `at`/65536 of the body) with `mask` (never 0).
    Flip { at: u16, mask: u8 },
    /// Inserts `bytes` at `at`/65536 of the body.
    Insert { at: u16, bytes: Vec<u8> },
}

/// How one webhook body is made.
#[derive(Clone, Debug)]
pub enum Recipe {
    /// A fixture (index modulo their number); with a fresh id unless `keep_id`; then the mutations.
    Mutated {
        fixture: usize,
        keep_id: bool,
        ops: Vec<Op>,
        bytes: Vec<ByteOp>,
    },
    /// Random JSON.
    Json(Value),
    /// Random bytes.
    Bytes(Vec<u8>),
    /// Random text.
    Text(String),
}

/// Strings for huge values: one byte, two bytes, four bytes, one that JSON escapes, a zero-width character.
const HUGE_UNITS: &[&str] = &["x", "é", "😀", "\"", "\u{200B}", "<at>Echo Bot</at> "];
/// Sizes of huge values, around the webhook's 256 KiB limit.
const HUGE_BYTES: &[usize] = &[1_000, 16_000, 100_000, 250_000, 262_144, 300_000];
/// Nesting depths around `serde_json`'s limit of 128 (deeper ones are raw text: see [`words::raw_values`]).
const DEPTHS: &[usize] = &[2, 16, 120, 127, 128, 129, 160];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        prop::sample::select(words::UNICODE).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        Just(Value::Array(Vec::new())),
        Just(Value::Object(Map::new())),
        Just(serde_json::json!({"id": 1})),
    ]
}

/// Random JSON of modest size, with keys the schema knows.
pub fn json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        3 => prop::sample::select(vec!["type", "id", "text", "from", "recipient", "conversation", "serviceUrl",
            "channelData", "entities", "value", "membersAdded", "name", "tenant", "mentioned"])
            .prop_map(str::to_owned),
        1 => "[a-zA-Z]{0,6}",
    ];
    leaf().prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn op() -> impl Strategy<Value = Op> {
    let node = any::<usize>();
    prop_oneof![
        30 => (any::<usize>(), any::<usize>()).prop_map(|(path, word)| Op::Set { path, word }),
        14 => node.prop_map(|node| Op::Delete { node }),
        8 => (node, any::<usize>(), leaf(), any::<bool>())
            .prop_map(|(node, key, value, same)| Op::Duplicate { node, key, value, same }),
        12 => (node, leaf()).prop_map(|(node, value)| Op::Retype { node, value }),
        10 => (node, prop_oneof![prop::sample::select(words::UNICODE).prop_map(str::to_owned), "\\PC{0,24}"])
            .prop_map(|(node, text)| Op::Text { node, text }),
        7 => (node, any::<usize>()).prop_map(|(node, raw)| Op::Raw { node, raw }),
        4 => (node, prop::sample::select(DEPTHS), any::<bool>())
            .prop_map(|(node, depth, arrays)| Op::Nest { node, depth, arrays }),
        1 => (node, prop::sample::select(HUGE_BYTES), any::<usize>())
            .prop_map(|(node, bytes, unit)| Op::Huge { node, bytes, unit }),
    ]
}

fn byte_op() -> impl Strategy<Value = ByteOp> {
    prop_oneof![
        any::<u16>().prop_map(|at| ByteOp::Truncate { at }),
        (any::<u16>(), 1u8..=255).prop_map(|(at, mask)| ByteOp::Flip { at, mask }),
        (any::<u16>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(at, bytes)| ByteOp::Insert { at, bytes }),
    ]
}

/// The recipes: mostly mutated fixtures (a quarter of them with only `Set` mutations, so they usually reach the
/// bot), then random JSON, random bytes and random text.
pub fn recipe() -> impl Strategy<Value = Recipe> {
    let bytes = prop_oneof![6 => Just(Vec::new()), 1 => prop::collection::vec(byte_op(), 1..3)];
    let mutated = (
        any::<usize>(),
        prop::bool::weighted(0.1),
        prop::collection::vec(op(), 0..6),
        bytes,
    )
        .prop_map(|(fixture, keep_id, ops, bytes)| Recipe::Mutated {
            fixture,
            keep_id,
            ops,
            bytes,
        });
    let gentle = (
        any::<usize>(),
        prop::collection::vec(
            (any::<usize>(), any::<usize>()).prop_map(|(path, word)| Op::Set { path, word }),
            0..4,
        ),
    )
        .prop_map(|(fixture, ops)| Recipe::Mutated {
            fixture,
            keep_id: false,
            ops,
            bytes: Vec::new(),
        });
    prop_oneof![
        60 => mutated,
        20 => gentle,
        8 => json().prop_map(Recipe::Json),
        8 => prop::collection::vec(any::<u8>(), 0..512).prop_map(Recipe::Bytes),
        4 => "\\PC{0,64}".prop_map(Recipe::Text),
    ]
}

/// Builds bodies from recipes.
#[derive(Debug)]
pub struct Bodies {
    fixtures: Vec<(String, Value)>,
    raw: Vec<String>,
    vocabularies: Vec<Vec<Value>>,
    next_id: AtomicU64,
}

impl Default for Bodies {
    fn default() -> Self {
        Self::new()
    }
}

impl Bodies {
    /// Reads the fixtures.
    #[must_use]
    pub fn new() -> Self {
        Self {
            fixtures: fixtures(),
            raw: words::raw_values(),
            vocabularies: words::PATHS.iter().map(|p| words::vocabulary(p)).collect(),
            next_id: AtomicU64::new(1),
        }
    }

    /// The fixtures read.
    #[must_use]
    pub fn fixtures(&self) -> &[(String, Value)] {
        &self.fixtures
    }

    /// A fresh activity id (unique for the process, so the dedupe claim does not stop a mutated activity).
    pub fn fresh_id(&self) -> String {
        format!("fuzz-{}", self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// The body `recipe` describes, and the fixture it came from (if any).
    #[must_use]
    pub fn build(&self, recipe: &Recipe) -> (Vec<u8>, Option<&str>) {
        match recipe {
            Recipe::Json(value) => (serde_json::to_vec(value).unwrap_or_default(), None),
            Recipe::Bytes(bytes) => (bytes.clone(), None),
            Recipe::Text(text) => (text.clone().into_bytes(), None),
            Recipe::Mutated {
                fixture,
                keep_id,
                ops,
                bytes,
            } => {
                let (name, value) = &self.fixtures[fixture % self.fixtures.len()];
                let mut doc = value.clone();
                if !keep_id && let Value::Object(map) = &mut doc {
                    map.insert("id".into(), Value::String(self.fresh_id()));
                }
                let mut raws: Vec<String> = Vec::new();
                for op in ops {
                    self.apply(&mut doc, op, &mut raws);
                }
                let mut text = serde_json::to_string(&doc).unwrap_or_default();
                drop_deep(doc);
                // Later raw texts may contain earlier placeholders (a duplicated object): replace newest first.
                for (index, raw) in raws.iter().enumerate().rev() {
                    let placeholder = serde_json::to_string(&placeholder(index)).unwrap_or_default();
                    if text.contains(&placeholder) {
                        text = text.replace(&placeholder, raw);
                    }
                }
                let mut out = text.into_bytes();
                for op in bytes {
                    apply_bytes(&mut out, op);
                }
                (out, Some(name.as_str()))
            }
        }
    }

    fn apply(&self, doc: &mut Value, op: &Op, raws: &mut Vec<String>) {
        match op {
            Op::Set { path, word } => {
                let path_words = words::PATHS[path % words::PATHS.len()];
                let vocabulary = &self.vocabularies[path % words::PATHS.len()];
                let value = vocabulary[word % vocabulary.len()].clone();
                set_path(doc, path_words, value);
            }
            Op::Delete { node } => {
                let paths = node_paths(doc);
                let path = &paths[node % paths.len()];
                delete(doc, path);
            }
            Op::Duplicate { node, key, value, same } => {
                let paths = node_paths(doc);
                let path = &paths[node % paths.len()];
                let Some(target) = get_mut(doc, path) else { return };
                match target {
                    Value::Array(items) if !items.is_empty() => {
                        let copy = items[key % items.len()].clone();
                        items.push(copy);
                    }
                    Value::Object(map) => {
                        let (name, own) = map
                            .iter()
                            .nth(key % map.len().max(1))
                            .map_or(("type".to_owned(), Value::Null), |(k, v)| (k.clone(), v.clone()));
                        let second = if *same { own } else { value.clone() };
                        let mut object = serde_json::to_string(&Value::Object(map.clone())).unwrap_or_default();
                        object.pop(); // the closing brace
                        if object.len() > 1 {
                            object.push(',');
                        }
                        let name = serde_json::to_string(&name).unwrap_or_default();
                        let second = serde_json::to_string(&second).unwrap_or_default();
                        object.push_str(&format!("{name}:{second}}}"));
                        *target = placeholder(raws.len());
                        raws.push(object);
                    }
                    _ => {}
                }
            }
            Op::Retype { node, value } => replace(doc, *node, value.clone()),
            Op::Text { node, text } => replace(doc, *node, Value::String(text.clone())),
            Op::Raw { node, raw } => {
                let value = placeholder(raws.len());
                raws.push(self.raw[raw % self.raw.len()].clone());
                replace(doc, *node, value);
            }
            Op::Nest { node, depth, arrays } => {
                let paths = node_paths(doc);
                let path = &paths[node % paths.len()];
                if let Some(target) = get_mut(doc, path) {
                    let mut value = target.take();
                    for _ in 0..*depth {
                        value = if *arrays {
                            Value::Array(vec![value])
                        } else {
                            Value::Object(Map::from_iter([("a".to_owned(), value)]))
                        };
                    }
                    *target = value;
                }
            }
            Op::Huge { node, bytes, unit } => {
                let unit = HUGE_UNITS[unit % HUGE_UNITS.len()];
                replace(doc, *node, Value::String(words::repeat(unit, *bytes)));
            }
        }
    }
}

/// A string standing for raw text `index`, replaced after serialization.
fn placeholder(index: usize) -> Value {
    Value::String(format!("\u{E000}raw{index}\u{E001}"))
}

/// One step of a path into a document.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every node's path, pre-order (the root first), at most 4096 and at most 40 deep.
fn node_paths(doc: &Value) -> Vec<Vec<Step>> {
    fn walk(value: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        if out.len() >= 4096 || path.len() >= 40 {
            return;
        }
        out.push(path.clone());
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    path.push(Step::Key(key.clone()));
                    walk(child, path, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    path.push(Step::Index(index));
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, &mut Vec::new(), &mut out);
    out
}

fn get_mut<'a>(doc: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(doc, |value, step| match (step, value) {
        (Step::Key(key), Value::Object(map)) => map.get_mut(key),
        (Step::Index(index), Value::Array(items)) => items.get_mut(*index),
        _ => None,
    })
}

fn replace(doc: &mut Value, node: usize, value: Value) {
    let paths = node_paths(doc);
    let path = &paths[node % paths.len()];
    if let Some(target) = get_mut(doc, path) {
        drop_deep(std::mem::replace(target, value));
    }
}

fn delete(doc: &mut Value, path: &[Step]) {
    let Some((last, parent)) = path.split_last() else {
        *doc = Value::Null;
        return;
    };
    match (last, get_mut(doc, parent)) {
        (Step::Key(key), Some(Value::Object(map))) => {
            map.remove(key);
        }
        (Step::Index(index), Some(Value::Array(items))) if *index < items.len() => {
            items.remove(*index);
        }
        _ => {}
    }
}

fn set_path(doc: &mut Value, path: &[&str], value: Value) {
    let mut here = doc;
    for (i, key) in path.iter().enumerate() {
        if !here.is_object() {
            *here = Value::Object(Map::new());
        }
        let Value::Object(map) = here else { return };
        if i + 1 == path.len() {
            map.insert((*key).to_owned(), value);
            return;
        }
        here = map
            .entry((*key).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

fn apply_bytes(body: &mut Vec<u8>, op: &ByteOp) {
    let at = |fraction: u16, len: usize| len * usize::from(fraction) / 65_536;
    match op {
        ByteOp::Truncate { at: fraction } => body.truncate(at(*fraction, body.len())),
        ByteOp::Flip { at: fraction, mask } => {
            let index = at(*fraction, body.len());
            if let Some(byte) = body.get_mut(index) {
                *byte ^= mask;
            }
        }
        ByteOp::Insert { at: fraction, bytes } => {
            let index = at(*fraction, body.len());
            body.splice(index..index, bytes.iter().copied());
        }
    }
}

/// Drops a value without recursion (a deep nest would otherwise recurse once per level).
pub fn drop_deep(value: Value) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Fuzz target 3, mention-stripper: `models::strip_mentions_of(text, entities, bot_id)`.
//!
//! - Teams-shaped cases (fragments `<at>Name</at>` with the name HTML-escaped as Teams and `Mention::of` do, text
//!   between them without raw `<` or `>`, no other account's mention with the same text as one of the bot's):
//!   the output is exactly the text without the bot's mentions, trimmed; it never contains a fragment of the
//!   bot's; stripping again changes nothing; other accounts' mentions are kept.
//! - Adversarial cases (fragments and text from `<`, `at`, `>`, `</at>`, overlaps, shared texts, empty and
//!   missing texts, unicode): no panic; the output is trimmed, a subsequence of the text, never longer when
//!   stripped again; the text is only trimmed when no entity names the bot; with no other account's mention
//!   text, the output holds none of the bot's fragments and a second strip changes nothing (finding 2, fixed).
//!   With a namesake's entity, how often a second strip changes the output is counted and printed.
//! - The worst case for work: many mentions × a long text, inside the webhook's 256 KiB body: must finish; its
//!   time is printed (no timing assertion).

use fuzz::harness::{Harness, runtime};
use fuzz::run::Target;
use models::{Entity, escape_mention_name, strip_mentions_of};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::cell::Cell;
use std::time::Instant;

const DEFAULT_CASES: u32 = 3_000;
const BOT: &str = "28:bot";

fn entities(values: Vec<Value>) -> Vec<Entity> {
    serde_json::from_value(Value::Array(values)).unwrap()
}

fn mention(id: &str, text: Option<&str>) -> Value {
    match text {
        Some(text) => json!({"type": "mention", "mentioned": {"id": id, "name": "n"}, "text": text}),
        None => json!({"type": "mention", "mentioned": {"id": id, "name": "n"}}),
    }
}

fn fragment(name: &str) -> String {
    format!("<at>{}</at>", escape_mention_name(name))
}

// ---- Teams-shaped cases ------------------------------------------------------------------------------------

/// Display names: plain, escaped characters, RTL and zero-width characters, emoji, whitespace at the ends.
const NAMES: &[&str] = &[
    "Echo Bot",
    "Echo",
    "Bot",
    "Echo Bot ",
    " Echo Bot",
    "A&B <Bot>",
    "\u{202E}toB ohcE",
    "Echo\u{200B}Bot",
    "\u{0645}\u{0633}\u{0627}\u{0639}\u{062F}",
    "🤖 Bot",
    "e\u{301}cho",
    "",
    "at",
    "/at",
];

/// Text between mentions: never a raw `<` or `>` (Teams sends those HTML-escaped).
const PLAIN: &[&str] = &[
    "hello",
    "help",
    " ",
    "  ",
    "\n",
    "\t",
    "\u{A0}",
    "\u{3000}",
    "&nbsp;",
    "&lt;at&gt;Echo Bot&lt;/at&gt;",
    "\u{202E}",
    "\u{200B}",
    "\u{FEFF}",
    "\u{1F469}\u{200D}\u{1F469}\u{200D}\u{1F467}",
    "e\u{301}",
    "at",
    "/at",
    "Echo Bot",
    "Bot",
    "&amp;",
    "at>",
];

#[derive(Clone, Debug)]
enum Piece {
    Plain(String),
    /// One of the bot's names (index modulo their number).
    Ours(usize),
    /// Another account's name (index modulo their number; plain text when there is none).
    Theirs(usize),
}

#[derive(Clone, Debug)]
enum Extra {
    ClientInfo,
    /// A mention without `text`, of the bot or not.
    NoText(bool),
    /// A mention with empty `text`, of the bot or not.
    EmptyText(bool),
    /// A mention of the bot whose fragment is not in the text.
    Absent,
    Other,
}

#[derive(Clone, Debug)]
struct Shaped {
    ours: Vec<String>,
    /// Whether each of the bot's names has an entity.
    listed: Vec<bool>,
    theirs: Vec<String>,
    pieces: Vec<Piece>,
    extras: Vec<Extra>,
    /// Sort keys: the entities' order.
    order: Vec<u16>,
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(NAMES).prop_map(str::to_owned),
        1 => "[^<>]{0,10}",
    ]
}

fn shaped() -> impl Strategy<Value = Shaped> {
    let piece = prop_oneof![
        4 => prop_oneof![prop::sample::select(PLAIN).prop_map(str::to_owned), "[^<>]{0,10}"].prop_map(Piece::Plain),
        2 => any::<usize>().prop_map(Piece::Ours),
        2 => any::<usize>().prop_map(Piece::Theirs),
    ];
    let extra = prop_oneof![
        Just(Extra::ClientInfo),
        any::<bool>().prop_map(Extra::NoText),
        any::<bool>().prop_map(Extra::EmptyText),
        Just(Extra::Absent),
        Just(Extra::Other),
    ];
    (
        prop::collection::vec(name(), 1..4),
        prop::collection::vec(prop::bool::weighted(0.85), 3),
        prop::collection::vec(name(), 0..4),
        prop::collection::vec(piece, 0..40),
        prop::collection::vec(extra, 0..4),
        prop::collection::vec(any::<u16>(), 16),
    )
        .prop_map(|(ours, listed, theirs, pieces, extras, order)| Shaped {
            ours,
            listed,
            theirs,
            pieces,
            extras,
            order,
        })
}

/// The text, the entities and the expected output of a Teams-shaped case; and the bot's listed fragments.
fn build_shaped(case: &Shaped) -> (String, Vec<Entity>, String, Vec<String>) {
    let ours: Vec<String> = case.ours.iter().map(|n| fragment(n)).collect();
    // Another account's mention never has the same text as one of the bot's (that case is adversarial).
    let theirs: Vec<String> = case
        .theirs
        .iter()
        .map(|n| {
            let mut name = n.clone();
            while ours.contains(&fragment(&name)) {
                name.push_str(" (guest)");
            }
            fragment(&name)
        })
        .collect();
    let listed: Vec<String> = ours
        .iter()
        .zip(&case.listed)
        .filter(|(_, listed)| **listed)
        .map(|(f, _)| f.clone())
        .collect();
    let mut text = String::new();
    let mut expected = String::new();
    for piece in &case.pieces {
        let part = match piece {
            Piece::Plain(s) => s.clone(),
            Piece::Ours(i) => ours[i % ours.len()].clone(),
            Piece::Theirs(i) if theirs.is_empty() => format!("x{i}"),
            Piece::Theirs(i) => theirs[i % theirs.len()].clone(),
        };
        text.push_str(&part);
        if !listed.contains(&part) {
            expected.push_str(&part);
        }
    }
    let mut values: Vec<Value> = listed.iter().map(|f| mention(BOT, Some(f))).collect();
    values.extend(
        theirs
            .iter()
            .enumerate()
            .map(|(i, f)| mention(&format!("29:u{i}"), Some(f))),
    );
    for extra in &case.extras {
        values.push(match extra {
            Extra::ClientInfo => json!({"type": "clientInfo", "locale": "en-US"}),
            Extra::NoText(bot) => mention(if *bot { BOT } else { "29:x" }, None),
            Extra::EmptyText(bot) => mention(if *bot { BOT } else { "29:x" }, Some("")),
            Extra::Absent => mention(BOT, Some("<at>Ghost</at>")),
            Extra::Other => json!({"type": "https://schema.org/Message", "text": "<at>Echo Bot</at>"}),
        });
    }
    let mut keyed: Vec<(u16, Value)> = values
        .into_iter()
        .enumerate()
        .map(|(i, v)| (case.order[i % case.order.len()], v))
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    let entities = entities(keyed.into_iter().map(|(_, v)| v).collect());
    (text, entities, expected.trim().to_owned(), listed)
}

#[test]
fn mention_stripper_teams_shaped() {
    let target = Target::new("mention-stripper (Teams-shaped)", DEFAULT_CASES);
    let stripped_some = Cell::new(0u64);
    let report = target.run(shaped(), |case: Shaped| {
        let (text, entities, expected, listed) = build_shaped(&case);
        let out = strip_mentions_of(&text, &entities, BOT);
        let why = |what: &str| format!("{what}\n  text: {text:?}\n  entities: {entities:?}\n  output: {out:?}");
        if out != expected {
            return Err(why(&format!("expected {expected:?}")));
        }
        if let Some(f) = listed.iter().find(|f| out.contains(f.as_str())) {
            return Err(why(&format!("the output still holds the bot's fragment {f:?}")));
        }
        let again = strip_mentions_of(&out, &entities, BOT);
        if again != out {
            return Err(why(&format!("stripping again gave {again:?}")));
        }
        if strip_mentions_of(&text, &entities, "29:nobody") != text.trim() {
            return Err(why("stripping an account no entity names changed more than whitespace"));
        }
        if out.len() < text.trim().len() {
            stripped_some.set(stripped_some.get() + 1);
        }
        Ok(())
    });
    report.finish(&format!("cases where a mention was removed: {}", stripped_some.get()));
}

// ---- Adversarial cases -------------------------------------------------------------------------------------

/// Pieces that overlap, nest and split fragments.
const PIECES: &[&str] = &[
    "<",
    ">",
    "at",
    "<at>",
    "</at>",
    "a",
    "b",
    "ab",
    "ba",
    "Bot",
    " ",
    "é",
    "😀",
    "\u{200B}",
    "\u{202E}",
    "\u{301}",
    "\n",
    "<at>Bot</at>",
];

#[derive(Clone, Debug)]
struct Adversarial {
    text: Vec<usize>,
    /// (who: 0 the bot, 1 another account, 2 an empty id; the text's pieces, or no text)
    mentions: Vec<(u8, Option<Vec<usize>>)>,
    other_entity: bool,
}

fn adversarial() -> impl Strategy<Value = Adversarial> {
    let pieces = |max: usize| prop::collection::vec(0..PIECES.len(), 0..max);
    (
        pieces(40),
        prop::collection::vec((0u8..3, prop::option::weighted(0.9, pieces(5))), 0..8),
        any::<bool>(),
    )
        .prop_map(|(text, mentions, other_entity)| Adversarial {
            text,
            mentions,
            other_entity,
        })
}

fn join(pieces: &[usize]) -> String {
    pieces.iter().map(|&i| PIECES[i]).collect()
}

/// Whether `small` is a subsequence of `big`, by characters.
fn is_subsequence(small: &str, big: &str) -> bool {
    let mut big = big.chars();
    small.chars().all(|c| big.any(|b| b == c))
}

#[test]
fn mention_stripper_adversarial() {
    let target = Target::new("mention-stripper (adversarial)", DEFAULT_CASES);
    let not_idempotent = Cell::new(0u64);
    let report = target.run(adversarial(), |case: Adversarial| {
        let text = join(&case.text);
        let mut values: Vec<Value> = case
            .mentions
            .iter()
            .map(|(who, pieces)| {
                let id = match who {
                    0 => BOT,
                    1 => "29:other",
                    _ => "",
                };
                mention(id, pieces.as_deref().map(join).as_deref())
            })
            .collect();
        if case.other_entity {
            values.push(json!({"type": "clientInfo", "locale": "<at>"}));
        }
        let list = entities(values);
        let ours: Vec<&str> = list
            .iter()
            .filter_map(Entity::as_mention)
            .filter(|m| m.mentioned.id == BOT)
            .filter_map(|m| m.text.as_deref())
            .filter(|t| !t.is_empty())
            .collect();
        let out = strip_mentions_of(&text, &list, BOT);
        let why = |what: &str| format!("{what}\n  text: {text:?}\n  entities: {list:?}\n  output: {out:?}");
        if out != out.trim() {
            return Err(why("the output is not trimmed"));
        }
        if !is_subsequence(&out, &text) {
            return Err(why("the output has characters the text does not"));
        }
        if ours.is_empty() && out != text.trim() {
            return Err(why("no entity names the bot, yet more than whitespace changed"));
        }
        // Strip until nothing changes: never longer, and done within as many rounds as there are characters.
        let mut current = out.clone();
        let mut rounds = 0usize;
        loop {
            let next = strip_mentions_of(&current, &list, BOT);
            if next.len() > current.len() {
                return Err(why(&format!("stripping {current:?} again made it longer: {next:?}")));
            }
            if next == current {
                break;
            }
            rounds += 1;
            if rounds > text.len() + 1 {
                return Err(why("stripping again and again never settles"));
            }
            current = next;
        }
        let others = list
            .iter()
            .filter_map(Entity::as_mention)
            .any(|m| m.mentioned.id != BOT && m.text.as_deref().is_some_and(|t| !t.is_empty()));
        // Finding 2 (fixed): with no other account's mention, nothing of ours is left and a second strip is a
        // no-op. With a namesake's entity, a second strip may take the namesake's occurrences too (it counts
        // them against the entities again): counted, not wrong.
        if !others && ours.iter().any(|f| out.contains(f)) {
            return Err(why("the output still holds one of the bot's fragments (re-formed)"));
        }
        if !others && rounds > 0 {
            return Err(why("a second strip changed the output"));
        }
        if rounds > 0 {
            not_idempotent.set(not_idempotent.get() + 1);
        }
        Ok(())
    });
    report.finish(&format!(
        "with another account's mention text among the entities, a second strip changed the output in {} cases",
        not_idempotent.get(),
    ));
}

/// Finding 2's smallest reproducer: removing the bot's fragment joined the text around it into the fragment
/// again, so the output held the bot's mention and a second strip changed it.
#[test]
fn stripping_never_re_forms_the_bots_fragment() {
    let list = entities(vec![mention(BOT, Some("<at>Echo Bot</at>"))]);
    let text = "<at><at>Echo Bot</at>Echo Bot</at> help";
    let out = strip_mentions_of(text, &list, BOT);
    assert!(!out.contains("<at>Echo Bot</at>"), "{text:?} -> {out:?}");
    assert_eq!(strip_mentions_of(&out, &list, BOT), out);
}

// ---- The worst case for work -------------------------------------------------------------------------------

/// The most fragment comparisons one 256 KiB webhook body can ask for: `count` distinct mention texts of other
/// accounts sharing a `prefix`-byte prefix with a text that repeats it, so at every position every fragment is
/// compared over most of its length and none matches; the text fills what is left of the body. One mention of the
/// bot, at the start, makes the stripper run. Returns the activity (a personal message from the fixtures).
fn worst_case(count: usize, prefix: usize) -> Value {
    let mut activity = fuzz::body::fixtures()
        .into_iter()
        .find(|(name, _)| name == "message_personal.json")
        .map(|(_, v)| v)
        .unwrap();
    let shared = "a".repeat(prefix);
    let mut values = vec![mention(fuzz::words::BOT_ID, Some("<at>Echo Bot</at>"))];
    values.extend(
        (0..count).map(|i| json!({"type": "mention", "mentioned": {"id": "29:u"}, "text": format!("{shared}{i:05}")})),
    );
    activity["id"] = json!("worst-case");
    activity["entities"] = Value::Array(values);
    activity["text"] = json!("");
    let room = service::webhook::MAX_BODY_BYTES - serde_json::to_vec(&activity).unwrap().len();
    activity["text"] = json!(format!("<at>Echo Bot</at> {}", "a".repeat(room - 32)));
    activity
}

#[test]
fn mention_stripper_worst_case_finishes() {
    let (count, prefix) = (1_500, 16);
    let activity = worst_case(count, prefix);
    let text = activity["text"].as_str().unwrap().to_owned();
    let list: Vec<Entity> = serde_json::from_value(activity["entities"].clone()).unwrap();
    let started = Instant::now();
    let out = strip_mentions_of(&text, &list, fuzz::words::BOT_ID);
    let direct = started.elapsed();
    assert_eq!(
        out,
        text["<at>Echo Bot</at> ".len()..],
        "only the bot's mention (and the space after it) goes"
    );

    // The same through the webhook, as a personal message to the reference bot.
    let body = serde_json::to_vec(&activity).unwrap();
    assert!(body.len() <= service::webhook::MAX_BODY_BYTES, "{} bytes", body.len());
    let rt = runtime();
    let harness = Harness::anonymous();
    let started = Instant::now();
    let answer = rt.block_on(harness.post(None, &body));
    let webhook = started.elapsed();
    assert_eq!(answer.status, 200, "{}", answer.reason());
    println!(
        "FUZZ mention-stripper worst case: {count} mentions (texts sharing a {prefix}-byte prefix) × a {}-byte text \
         ({} bytes of body, {:.0} M fragment comparisons): {direct:.2?} in strip_mentions_of, {webhook:.2?} through \
         the webhook (status {})",
        text.len(),
        body.len(),
        (count as f64 + 1.0) * text.len() as f64 / 1e6,
        answer.status
    );
}

//! Edge-case strings, and the values the activity schema gives meaning to (so mutated activities keep reaching
//! the typed code and the bot instead of stopping at the parser).

use serde_json::{Value, json};

/// The bot's app id in the fixtures (`recipient.id` is `28:` + this).
pub const APP_ID: &str = "c9e8c047-2a74-40a2-b28a-b162d5f5327c";
/// The bot's account id in the fixtures.
pub const BOT_ID: &str = "28:c9e8c047-2a74-40a2-b28a-b162d5f5327c";
/// The serviceUrl of every fixture.
pub const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";
/// Another Teams serviceUrl (allowed, but not the one a token for [`SERVICE_URL`] names).
pub const OTHER_SERVICE_URL: &str = "https://smba.trafficmanager.net/emea/";
/// The fixtures' tenant.
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Unicode and text-shape edge cases: RTL overrides, zero-width characters, combining marks, ZWJ emoji,
/// noncharacters, NUL, the BOM, mention fragments and HTML-escaped ones, whitespace of every kind.
pub const UNICODE: &[&str] = &[
    "",
    " ",
    "\u{202E}evil\u{202C}",
    "\u{200F}\u{05E9}\u{05DC}\u{05D5}\u{05DD}\u{200E}",
    "\u{0645}\u{0631}\u{062D}\u{0628}\u{0627} hello",
    "\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}",
    "\u{200B}help",
    "help\u{200B}",
    "\u{0}",
    "a\u{0}b",
    "\u{FFFF}\u{FFFE}",
    "\u{10FFFF}",
    "\u{E000}",
    "e\u{301}\u{301}\u{301}",
    "\u{1F469}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}",
    "\u{1F600}",
    "\u{01C5}\u{0130}\u{0131}\u{00DF}",
    "\u{00A0}\u{2007}\u{202F}\u{3000}",
    "\r\n\t\u{B}\u{C}\u{85}\u{2028}\u{2029}",
    "<at>Echo Bot</at>",
    "<at>Echo Bot</at> help",
    "<at>Echo Bot</at><at>Echo Bot</at>",
    "<at><at>Echo Bot</at>Echo Bot</at>",
    "&lt;at&gt;Echo Bot&lt;/at&gt;",
    "<at>Echo Bot",
    "Echo Bot</at>",
    "<script>alert(1)</script>",
    "%00%2e%2e%2f",
    "../../../../etc/passwd",
    "${jndi:ldap://x}",
    "{{7*7}}",
    "'; DROP TABLE conversations; --",
    "\\u0000",
    "\u{1D54F}\u{1D550}\u{1D551}",
    "\u{0300}",
];

/// Activity types: Teams', others, and near misses.
pub const TYPES: &[&str] = &[
    "message",
    "conversationUpdate",
    "installationUpdate",
    "messageReaction",
    "invoke",
    "event",
    "typing",
    "messageUpdate",
    "messageDelete",
    "endOfConversation",
    "handoff",
    "trace",
    "Message",
    "MESSAGE",
    "message ",
    "",
];

/// Texts the reference bot acts on (its commands), and a few shapes around them.
pub const TEXTS: &[&str] = &[
    "hello",
    "help",
    "whoami",
    "card",
    "picture",
    "mention me",
    "dm me",
    "new thread",
    "members",
    "update",
    "delete",
    "subscribe",
    "subscribe 1",
    "subscribe 0",
    "subscribe -5",
    "subscribe 99999999999999999999999",
    "subscribe NaN",
    "unsubscribe",
    "<at>Echo Bot</at> help",
    "<at>Echo Bot</at> members",
    "<at>Echo Bot</at> dm me",
    "<at>Echo Bot</at>",
    "HELP",
    "  help  ",
    "",
];

/// serviceUrls: Teams', near misses, and not URLs at all.
pub const SERVICE_URLS: &[&str] = &[
    SERVICE_URL,
    OTHER_SERVICE_URL,
    "https://smba.trafficmanager.net/teams/",
    "https://smba.infra.gcc.teams.microsoft.com/",
    "https://smba.trafficmanager.net.evil.com/amer/",
    "https://evil.com/smba.trafficmanager.net/amer/",
    "http://smba.trafficmanager.net/amer/",
    "http://localhost:56150/_connector",
    "http://127.0.0.1:3978/",
    "https://smba.trafficmanager.net",
    "https://SMBA.TrafficManager.net/amer/",
    "https://smba.trafficmanager.net:443/amer/",
    "https://smba.trafficmanager.net:8443/amer/",
    "https://user:pw@smba.trafficmanager.net/amer/",
    "https://smba.trafficmanager.net/amer/../../x/",
    "https://smba.trafficmanager.net/amer/?q=1#f",
    "https://smba.trafficmanager.net./amer/",
    "https://smba.trafficmanager.net%2F@evil.com/",
    "https://smba\u{2024}trafficmanager.net/amer/",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "not a url",
    "",
];

/// Account and conversation ids.
pub const IDS: &[&str] = &[
    BOT_ID,
    "29:1alice",
    "29:1bob",
    "28:another-bot",
    "a:1personal",
    "19:2c3ba5c6f3b94b4b8e1d1a1f7e1d2a3b@thread.skype",
    "19:2c3ba5c6f3b94b4b8e1d1a1f7e1d2a3b@thread.skype;messageid=1714557600000",
    "19:efa9296d959346209fea44151c742e73@thread.skype",
    "",
    " ",
    "\u{0}",
    "28:",
    "c9e8c047-2a74-40a2-b28a-b162d5f5327c",
];

/// Teams event types (`channelData.eventType`).
pub const EVENT_TYPES: &[&str] = &[
    "teamMemberAdded",
    "teamMemberRemoved",
    "channelCreated",
    "channelRenamed",
    "channelDeleted",
    "channelRestored",
    "teamRenamed",
    "teamDeleted",
    "teamArchived",
    "teamUnarchived",
    "teamRestored",
    "editMessage",
    "softDeleteMessage",
    "undeleteMessage",
    "",
];

/// A large body of text in one string.
#[must_use]
pub fn repeat(unit: &str, bytes: usize) -> String {
    unit.repeat(bytes / unit.len().max(1) + 1)
}

/// Values for `path` that the schema (or the reference bot) gives meaning to.
#[must_use]
pub fn vocabulary(path: &[&str]) -> Vec<Value> {
    let strings = |list: &[&str]| list.iter().map(|s| Value::from(*s)).collect::<Vec<_>>();
    match path {
        ["type"] => strings(TYPES),
        ["text"] => strings(TEXTS),
        ["serviceUrl"] => strings(SERVICE_URLS),
        ["channelId"] => strings(&["msteams", "webchat", "MSTEAMS", "emulator", ""]),
        ["id" | "replyToId"] => strings(&["1485983408511", "", "1:abc", "\u{0}", "a#edit#0", "x#delete"]),
        ["from" | "recipient", "id"] | ["conversation" | "channelData", "id"] => strings(IDS),
        ["channelData", "team" | "channel", "id"] => strings(IDS),
        ["conversation", "conversationType"] => strings(&["personal", "groupChat", "channel", "Personal", ""]),
        ["conversation", "tenantId"] | ["channelData", "tenant", "id"] => {
            strings(&[TENANT, "", "72F988BF-86F1-41AF-91AB-2D7CD011DB47", "not-a-guid"])
        }
        ["conversation", "isGroup"] => vec![json!(true), json!(false), json!("true"), json!(1)],
        ["channelData", "eventType"] => strings(EVENT_TYPES),
        ["action"] => strings(&["add", "remove", "add-upgrade", "remove-upgrade", "ADD", ""]),
        ["name"] => strings(&[
            "adaptiveCard/action",
            "composeExtension/query",
            "task/fetch",
            "signin/verifyState",
            "",
        ]),
        ["textFormat"] => strings(&["plain", "xml", "markdown", ""]),
        ["timestamp" | "localTimestamp"] => strings(&[
            "2024-05-01T10:00:00.000Z",
            "2024-05-01T10:00:00+14:00",
            "9999-12-31T23:59:59.9999999Z",
            "0000-01-01T00:00:00Z",
            "not a time",
            "",
        ]),
        ["membersAdded" | "membersRemoved"] => vec![
            json!([{"id": BOT_ID}]),
            json!([{"id": "29:1alice", "name": "Alice"}, {"id": BOT_ID, "name": "Echo Bot"}]),
            json!([]),
            json!([{"id": ""}]),
            json!([{"name": "no id"}]),
            Value::Array((0..300).map(|i| json!({"id": format!("29:u{i}")})).collect()),
        ],
        ["entities"] => vec![
            json!([{"type": "mention", "mentioned": {"id": BOT_ID, "name": "Echo Bot"}, "text": "<at>Echo Bot</at>"}]),
            json!([{"type": "mention", "mentioned": {"id": BOT_ID}, "text": ""}]),
            json!([{"type": "mention", "mentioned": {"id": BOT_ID}}]),
            json!([{"type": "mention", "mentioned": {"id": "29:1bob"}, "text": "<at>Echo Bot</at>"}]),
            json!([{"type": "mention"}]),
            json!([{"type": "mention", "mentioned": "28:bot", "text": 5}]),
            json!([{"type": "clientInfo", "locale": 7}]),
            json!([{"type": "clientInfo", "locale": "ar-SA", "timezone": "Asia/Riyadh"}]),
            json!([null, 1, "x", []]),
            Value::Array(
                (0..200)
                    .map(|i| json!({"type": "mention", "mentioned": {"id": BOT_ID}, "text": format!("<at>B{i}</at>")}))
                    .collect(),
            ),
        ],
        ["value"] => vec![
            json!({"action": "vote", "choice": "good"}),
            json!({"action": {"type": "Action.Execute", "verb": "vote", "data": {"choice": "great"}}}),
            json!({"action": {"verb": null}}),
            json!({"pollId": "x", "choice": ["a"]}),
            json!("text value"),
            json!(null),
            json!([]),
        ],
        ["locale"] => strings(&["en-US", "ar-SA", "zz", ""]),
        _ => strings(UNICODE),
    }
}

/// The paths [`vocabulary`] knows, set by the `Set` mutation.
pub const PATHS: &[&[&str]] = &[
    &["type"],
    &["text"],
    &["serviceUrl"],
    &["channelId"],
    &["id"],
    &["replyToId"],
    &["from", "id"],
    &["recipient", "id"],
    &["conversation", "id"],
    &["conversation", "conversationType"],
    &["conversation", "tenantId"],
    &["conversation", "isGroup"],
    &["channelData", "tenant", "id"],
    &["channelData", "eventType"],
    &["channelData", "team", "id"],
    &["channelData", "channel", "id"],
    &["action"],
    &["name"],
    &["textFormat"],
    &["timestamp"],
    &["membersAdded"],
    &["membersRemoved"],
    &["entities"],
    &["value"],
    &["locale"],
    &["from", "name"],
    &["channelData", "team", "name"],
];

/// Raw JSON values a `serde_json::Value` cannot hold (lone surrogates, numbers out of every range, nesting past
/// the parser's limit, invalid escapes), spliced into the serialized body in place of a node.
#[must_use]
pub fn raw_values() -> Vec<String> {
    let mut raw: Vec<String> = [
        r#""\ud800""#,
        r#""\udfff""#,
        r#""a\ud800b""#,
        r#""\ud83d""#,
        r#""\udc00\ud800""#,
        r#""\ud83d\ude00""#,
        r#""\u0000""#,
        r#""\u12""#,
        r#""\x41""#,
        r#""\uD800\u0041""#,
        r#""<at>Echo Bot\ud800</at>""#,
        "1e400",
        "-1e400",
        "1e-400",
        "18446744073709551616",
        "-9223372036854775809",
        "123456789012345678901234567890123456789",
        "-0",
        "0.0000000000000000000000000000000000001",
        "1.7976931348623157e309",
        "NaN",
        "Infinity",
        "01",
        "1.",
        ".5",
        "+1",
        "0x10",
        "true false",
        "nul",
        "\"unterminated",
        "\u{0}",
        "[1,]",
        "{\"a\":1,}",
        "{}",
        "[]",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for depth in [64, 127, 128, 129, 1_000, 100_000] {
        raw.push(format!("{}{}", "[".repeat(depth), "]".repeat(depth)));
        raw.push(format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth)));
    }
    raw.push(format!("\"{}\"", "\\u00e9".repeat(50_000)));
    raw.push(format!("\"{}\"", "\\ud800".repeat(10_000)));
    raw.push(format!("[{}0]", "0,".repeat(100_000)));
    raw
}

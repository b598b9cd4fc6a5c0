//! The reference bot's behaviour and words, driven end to end through the runtime with the test kit: every
//! command, the mention rule per scope, card submits, invokes and no-ops. (Ported from the unit tests of the
//! former `decide` function; a plan the old function returned is checked here as the Connector calls the bot
//! made.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use connector::{ConnectorCall, ConnectorError};
use reference_bot::{HELP_TEXT, MEMBERS_PAGE_SIZE, ReferenceBot};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use store::Timestamp;
use teams_bot::models::{Activity, TeamsChannelAccount};
use teams_bot::testkit::{BOT_ID, BOT_NAME, SERVICE_URL, TestKit};

/// The bot's id and name in the fixture files (rewritten to the kit's before delivery).
const FIXTURE_BOT_ID: &str = "28:c9e8c047-2a74-40a2-b28a-b162d5f5327c";
const FIXTURE_BOT_NAME: &str = "Echo Bot";
/// The fixtures' inbound activity id.
const FIXTURE_ID: &str = "1485983408511";
const TEAM: &str = "19:efa9296d959346209fea44151c742e73@thread.skype";
const CHANNEL: &str = "19:2c3ba5c6f3b94b4b8e1d1a1f7e1d2a3b@thread.skype";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const PERSONAL_CHAT: &str = "a:1personal-chat-id";
const ALICE: &str = "29:1alice";
/// The `replyToId` of the fixtures' card actions: the message the poll card is in.
const CARD_MESSAGE_ID: &str = "1714557700000";

fn kit() -> TestKit {
    TestKit::new(ReferenceBot)
}

/// `<at>Test Bot</at>`: how a message @mentions the kit's bot.
fn bot_at() -> String {
    format!("<at>{BOT_NAME}</at>")
}

/// A `mention` entity of the kit's bot.
fn bot_mention() -> Value {
    json!({"type": "mention", "mentioned": {"id": BOT_ID, "name": BOT_NAME}, "text": bot_at()})
}

/// A fixture of shared/service/tests/fixtures, addressed to the kit's bot: its serviceUrl, recipient, bot
/// mentions (entities and text) and bot members are the kit's. Its `id` is the fixture's.
fn fixture(name: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../service/tests/fixtures/");
    let bytes = std::fs::read(format!("{path}{name}.json")).unwrap();
    let mut v: Value = serde_json::from_slice(&bytes).unwrap();
    v["serviceUrl"] = json!(SERVICE_URL);
    if v.get("recipient").is_some() {
        v["recipient"] = json!({"id": BOT_ID, "name": BOT_NAME});
    }
    if let Some(text) = v.get("text").and_then(Value::as_str) {
        v["text"] = json!(text.replace(&format!("<at>{FIXTURE_BOT_NAME}</at>"), &bot_at()));
    }
    for entity in v
        .get_mut("entities")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if entity["mentioned"]["id"] == FIXTURE_BOT_ID {
            *entity = bot_mention();
        }
    }
    for member in v
        .get_mut("membersAdded")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if member["id"] == FIXTURE_BOT_ID {
            member["id"] = json!(BOT_ID);
        }
    }
    assert!(
        !v.to_string().contains(FIXTURE_BOT_ID),
        "{name}: the fixture's bot id is left"
    );
    v
}

/// A fresh activity id: each delivery to one kit needs its own (the runtime drops redeliveries).
fn fresh_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("test-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// `fixture` with a fresh id.
fn fresh(name: &str) -> Value {
    let mut v = fixture(name);
    v["id"] = json!(fresh_id());
    v
}

/// Alice's 1:1 message with this text (fresh id).
fn personal(text: &str) -> Value {
    let mut v = fresh("message_personal");
    v["text"] = json!(text);
    v
}

/// Alice's channel message with this text, mentioning the bot at the start (fresh id).
fn channel(text: &str) -> Value {
    let mut v = fresh("message_channel_mention");
    v["text"] = json!(format!("{} {text}", bot_at()));
    v
}

async fn deliver(kit: &TestKit, activity: &Value) {
    assert_eq!(kit.deliver(activity).await, 200, "{activity}");
}

/// The replies the bot posted (replies to an inbound activity), in order. Other sends (a personal welcome, the
/// runtime's work) are left out.
fn replies(kit: &TestKit) -> Vec<Activity> {
    kit.calls()
        .into_iter()
        .filter_map(|c| match c {
            ConnectorCall::Reply { activity, .. } => Some(activity),
            _ => None,
        })
        .collect()
}

/// The text of the one reply the bot posted.
fn only_reply_text(kit: &TestKit) -> String {
    let r = replies(kit);
    assert_eq!(r.len(), 1, "{r:?}");
    r[0].text().unwrap().to_owned()
}

/// The text of the one reply to `activity`, delivered to a fresh kit.
async fn answer(activity: &Value) -> String {
    let kit = kit();
    deliver(&kit, activity).await;
    only_reply_text(&kit)
}

/// Waits a little for any background work (the welcome flow), then asserts the bot made no Connector call.
async fn assert_no_calls(kit: &TestKit, what: &str) {
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(kit.calls(), [], "{what}");
}

/// The id the recording Connector answered for the call at `index` (its ids are `1`, `2`, ... in call order,
/// while no call fails).
fn id_of_call(index: usize) -> String {
    (index + 1).to_string()
}

fn position(calls: &[ConnectorCall], what: impl Fn(&ConnectorCall) -> bool) -> usize {
    calls.iter().position(what).expect("no such call")
}

fn json_of(activity: &Activity) -> Value {
    serde_json::to_value(activity).unwrap()
}

#[tokio::test]
async fn personal_message_is_echoed_with_its_unicode_character_count_as_a_reply() {
    let kit = kit();
    let inbound = fixture("message_personal");
    deliver(&kit, &inbound).await;
    let calls = kit.calls();
    let replies: Vec<_> = calls
        .iter()
        .filter_map(|c| match c {
            ConnectorCall::Reply {
                service_url,
                conversation,
                reply_to,
                activity,
            } => Some((service_url, conversation, reply_to, activity)),
            _ => None,
        })
        .collect();
    assert_eq!(replies.len(), 1);
    let (service_url, conversation, reply_to, r) = replies[0];
    assert_eq!(r.text(), Some("You sent Hello there 😀 which was 13 characters"));
    assert_eq!(reply_to.as_str(), FIXTURE_ID);
    assert_eq!(r.reply_to_id.as_ref().unwrap().as_str(), FIXTURE_ID);
    assert_eq!(r.recipient.as_ref().unwrap().id, ALICE);
    assert_eq!(r.from.as_ref().unwrap().id, BOT_ID);
    assert_eq!(conversation.as_str(), PERSONAL_CHAT);
    assert_eq!(json_of(r)["conversation"], inbound["conversation"]);
    assert_eq!(service_url, SERVICE_URL);
    assert_eq!(r.service_url.as_deref(), Some(SERVICE_URL));
}

#[tokio::test]
async fn non_bmp_and_combined_characters_count_as_scalar_values() {
    assert_eq!(answer(&personal("𝄞👍🏽")).await, "You sent 𝄞👍🏽 which was 3 characters");
    assert_eq!(answer(&personal("  é  ")).await, "You sent é which was 1 characters");
}

#[tokio::test]
async fn channel_message_mentioning_the_bot_is_echoed_with_the_mention_stripped_and_others_kept() {
    assert_eq!(
        answer(&fixture("message_channel_mention")).await,
        "You sent Hello <at>Bob</at> which was 18 characters"
    );
}

#[tokio::test]
async fn several_bot_mentions_are_all_stripped() {
    let mut v = fixture("message_channel_mention");
    let at = bot_at();
    v["text"] = json!(format!("{at} a {at} b <at>Bob</at> {at}"));
    v["entities"] = json!([
        bot_mention(),
        bot_mention(),
        {"type": "mention", "mentioned": {"id": "29:1bob", "name": "Bob"}, "text": "<at>Bob</at>"},
        bot_mention()
    ]);
    assert_eq!(answer(&v).await, "You sent a  b <at>Bob</at> which was 17 characters");
}

#[tokio::test]
async fn channel_and_group_chat_messages_without_the_bot_mentioned_are_ignored() {
    let kit = kit();
    deliver(&kit, &fixture("message_groupchat_no_mention")).await;
    assert_no_calls(&kit, "group chat without a mention").await;

    let kit = self::kit();
    let mut v = fixture("message_channel_mention");
    v["text"] = json!("<at>Bob</at> hello");
    v["entities"] = json!([{"type": "mention", "mentioned": {"id": "29:1bob", "name": "Bob"}, "text": "<at>Bob</at>"}]);
    deliver(&kit, &v).await;
    assert_no_calls(&kit, "channel message mentioning someone else").await;

    // `isGroup` without a conversation type counts as a group too.
    let kit = self::kit();
    let mut v = fixture("message_personal");
    v["conversation"] = json!({"id": "19:x@thread.v2", "isGroup": true});
    deliver(&kit, &v).await;
    assert_no_calls(&kit, "isGroup conversation without a type").await;
}

#[tokio::test]
async fn personal_messages_need_no_mention() {
    let kit = kit();
    deliver(&kit, &personal("hi")).await;
    assert_eq!(replies(&kit).len(), 1);
}

#[tokio::test]
async fn group_chat_message_mentioning_the_bot_is_answered_case_insensitively() {
    let text = answer(&fixture("message_groupchat_mention")).await;
    assert!(text.contains("Scope: groupChat"), "{text}");
    assert!(text.contains("Conversation id: 19:meeting_abc@thread.v2"), "{text}");
}

#[tokio::test]
async fn help_lists_every_command_whatever_the_case_and_spacing() {
    let text = answer(&personal("  HeLp  ")).await;
    assert_eq!(text, HELP_TEXT);
    for cmd in [
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
        "unsubscribe",
        "stream",
        "slow",
        "file",
    ] {
        assert!(text.contains(&format!("- {cmd}")), "help misses {cmd}");
    }
    assert_eq!(answer(&channel("HELP")).await, HELP_TEXT);
}

#[tokio::test]
async fn a_bare_mention_gets_help() {
    let mut v = fixture("message_channel_mention");
    v["text"] = json!(bot_at());
    assert_eq!(answer(&v).await, HELP_TEXT);
}

#[tokio::test]
async fn unknown_commands_fall_back_to_echo() {
    assert_eq!(
        answer(&personal("help me")).await,
        "You sent help me which was 7 characters"
    );
    assert_eq!(
        answer(&personal("subscribers")).await,
        "You sent subscribers which was 11 characters"
    );
}

#[tokio::test]
async fn whoami_shows_ids_tenant_conversation_and_scope() {
    assert_eq!(
        answer(&personal("whoami")).await,
        format!(
            "User id: 29:1alice\nName: Alice Example\nAAD object id: 7faf8ab2-3d56-4244-b585-20c8a42ed2b8\n\
             Tenant: {TENANT}\nConversation id: a:1personal-chat-id\nScope: personal"
        )
    );
    let mut v = personal("whoami");
    v["from"] = json!({"id": "29:anon"});
    v["conversation"] = json!({"id": "a:1"});
    v.as_object_mut().unwrap().remove("channelData");
    let text = answer(&v).await;
    assert!(
        text.contains("Name: (none)\nAAD object id: (none)\nTenant: (none)"),
        "{text}"
    );
    assert!(text.ends_with("Scope: (unknown)"), "{text}");
}

#[tokio::test]
async fn card_sends_a_hero_card_and_an_adaptive_card() {
    let kit = kit();
    let inbound = personal("Card");
    deliver(&kit, &inbound).await;
    let r = replies(&kit);
    let types: Vec<_> = r
        .iter()
        .map(|a| {
            a.as_message().unwrap().attachments.as_ref().unwrap()[0]
                .content_type
                .clone()
        })
        .collect();
    assert_eq!(
        types,
        [
            "application/vnd.microsoft.card.hero",
            "application/vnd.microsoft.card.adaptive"
        ]
    );
    assert!(r.iter().all(|a| {
        a.reply_to_id
            .as_ref()
            .is_some_and(|id| *id == inbound["id"].as_str().unwrap())
    }));
}

#[tokio::test]
async fn picture_sends_the_checked_png_inline() {
    let kit = kit();
    deliver(&kit, &channel("picture")).await;
    let r = replies(&kit);
    let attachment = &r[0].as_message().unwrap().attachments.as_ref().unwrap()[0];
    assert_eq!(attachment.content_type, "image/png");
    assert!(
        attachment
            .content_url
            .as_deref()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
}

#[tokio::test]
async fn mention_me_mentions_the_sender_back() {
    let kit = kit();
    deliver(&kit, &channel("mention me")).await;
    let r = replies(&kit);
    assert_eq!(r[0].text(), Some("Hello <at>Alice Example</at>!"));
    let m: Vec<_> = r[0].mentions().collect();
    assert_eq!(m[0].mentioned.id, ALICE);
    assert_eq!(m[0].text.as_deref(), Some("<at>Alice Example</at>"));
}

/// The text format a reply was sent with.
fn format_of(activity: &Activity) -> Option<String> {
    activity
        .as_message()
        .and_then(|m| m.text_format.as_ref())
        .map(|f| f.as_str().to_owned())
}

#[tokio::test]
async fn text_quoting_a_user_is_never_rendered_as_markdown_or_html() {
    // Issue 16, F7: a channel member could make the bot post a formatted phishing link under its name.
    let phishing = "[Reset your password](https://evil.example) **now** <a href=\"https://evil.example\">here</a>";
    let kit = kit();
    deliver(&kit, &personal(phishing)).await;
    let r = replies(&kit);
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0].text(),
        Some(format!("You sent {phishing} which was {} characters", phishing.chars().count()).as_str()),
        "quoted exactly"
    );
    assert_eq!(format_of(&r[0]).as_deref(), Some("plain"));

    let kit = self::kit();
    let mut v = personal("whoami");
    v["from"]["name"] = json!("**Eve** [click](https://evil.example)");
    deliver(&kit, &v).await;
    let r = replies(&kit);
    assert!(
        r[0].text()
            .unwrap()
            .contains("Name: **Eve** [click](https://evil.example)")
    );
    assert_eq!(format_of(&r[0]).as_deref(), Some("plain"));

    // A mention carries the user's name: HTML-escaped, and sent as xml so no markdown in it is read.
    let kit = self::kit();
    let mut v = channel("mention me");
    v["from"]["name"] = json!("<b>Eve</b> *x*");
    deliver(&kit, &v).await;
    let r = replies(&kit);
    assert_eq!(r[0].text(), Some("Hello <at>&lt;b&gt;Eve&lt;/b&gt; *x*</at>!"));
    assert_eq!(format_of(&r[0]).as_deref(), Some("xml"));
}

#[tokio::test]
async fn dm_me_in_a_channel_opens_a_1to1_chat_and_reports_back() {
    let kit = kit();
    let inbound = channel("dm me");
    deliver(&kit, &inbound).await;
    let calls = kit.calls();

    // The 1:1 chat is created (or got) for the sender, in the sender's tenant.
    let creates: Vec<Value> = calls
        .iter()
        .filter_map(|c| match c {
            ConnectorCall::CreateConversation { params, .. } => Some(serde_json::to_value(params).unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(creates.len(), 1, "{creates:?}");
    let create = &creates[0];
    assert_eq!(create["bot"]["id"], BOT_ID);
    assert_eq!(create["members"], json!([{"id": ALICE}]));
    assert_eq!(create["channelData"]["tenant"]["id"], TENANT);

    // The message goes to the created chat, not to the channel.
    let chat = format!("a:{ALICE}");
    let in_chat: Vec<&Activity> = calls
        .iter()
        .filter_map(|c| match c {
            ConnectorCall::Send {
                conversation, activity, ..
            } if conversation.as_str() == chat => Some(activity),
            _ => None,
        })
        .collect();
    assert!(
        in_chat.iter().any(|a| a.text().is_some_and(|t| t.contains("1:1"))),
        "{in_chat:?}"
    );

    // Then the report back in the channel, @mentioning the sender, threaded under the inbound message.
    let r = replies(&kit);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        r[0].text(),
        Some("<at>Alice Example</at>, I sent you a message in our 1:1 chat.")
    );
    assert_eq!(r[0].mentions().next().unwrap().mentioned.id, ALICE);
    assert_eq!(
        r[0].reply_to_id.as_ref().unwrap().as_str(),
        inbound["id"].as_str().unwrap()
    );

    // When the chat cannot be opened, the reply says sorry.
    let kit = self::kit();
    kit.connector().fail_when(|c| {
        matches!(c, ConnectorCall::CreateConversation { .. }).then(|| ConnectorError::Forbidden {
            code: "Forbidden".to_owned(),
            message: "no".to_owned(),
        })
    });
    deliver(&kit, &channel("dm me")).await;
    assert!(only_reply_text(&kit).starts_with("Sorry"));
}

#[tokio::test]
async fn dm_me_in_a_personal_chat_or_without_a_tenant_just_replies() {
    assert_eq!(answer(&personal("dm me")).await, "We are already in our 1:1 chat.");
    let mut v = fixture("message_groupchat_mention");
    v["text"] = json!(format!("{} dm me", bot_at()));
    v.as_object_mut().unwrap().remove("channelData");
    v["conversation"].as_object_mut().unwrap().remove("tenantId");
    let kit = kit();
    deliver(&kit, &v).await;
    assert!(only_reply_text(&kit).contains("tenant"));
    assert!(
        !kit.calls()
            .iter()
            .any(|c| matches!(c, ConnectorCall::CreateConversation { .. }))
    );
}

#[tokio::test]
async fn dm_me_in_a_group_chat_opens_the_1to1_chat_too() {
    let mut v = fixture("message_groupchat_mention");
    v["text"] = json!(format!("{} DM me", bot_at()));
    let kit = kit();
    deliver(&kit, &v).await;
    assert!(
        kit.calls()
            .iter()
            .any(|c| matches!(c, ConnectorCall::CreateConversation { .. }))
    );
    assert_eq!(
        only_reply_text(&kit),
        "<at>Alice Example</at>, I sent you a message in our 1:1 chat."
    );
}

/// The `new thread` create call: its index among the calls and its body.
fn thread_create(calls: &[ConnectorCall]) -> (usize, Value) {
    let index = position(calls, |c| matches!(c, ConnectorCall::CreateConversation { .. }));
    let ConnectorCall::CreateConversation { params, .. } = &calls[index] else {
        unreachable!()
    };
    (index, serde_json::to_value(params).unwrap())
}

#[tokio::test]
async fn new_thread_in_a_channel_creates_a_thread_in_the_channel() {
    let kit = kit();
    deliver(&kit, &channel("new thread")).await;
    let calls = kit.calls();
    let (index, create) = thread_create(&calls);
    assert_eq!(create["isGroup"], true);
    assert_eq!(create["channelData"]["channel"]["id"], CHANNEL);
    assert_eq!(
        create["activity"]["text"],
        "<at>Alice Example</at> asked me to start this new thread."
    );
    assert_eq!(create["activity"]["entities"][0]["mentioned"]["id"], ALICE);
    assert_eq!(only_reply_text(&kit), "I started a new thread in this channel.");
    // The new thread is remembered in the channel's team.
    let thread = format!("{CHANNEL};messageid={}", id_of_call(index));
    let record = kit
        .store()
        .conversation(&thread.as_str().into(), Timestamp::now())
        .await
        .unwrap()
        .expect("the thread is remembered");
    assert_eq!(record.reference.team_id.as_deref(), Some(TEAM));
    assert_eq!(record.reference.channel.as_deref(), Some(CHANNEL));
}

#[tokio::test]
async fn new_thread_falls_back_to_the_channel_conversation_id() {
    let mut v = fresh("message_channel_mention");
    v["text"] = json!(format!("{} new thread", bot_at()));
    v["channelData"] = json!({"tenant": {"id": TENANT}});
    let kit = kit();
    deliver(&kit, &v).await;
    let calls = kit.calls();
    let (index, create) = thread_create(&calls);
    assert_eq!(create["channelData"]["channel"]["id"], CHANNEL);
    let thread = format!("{CHANNEL};messageid={}", id_of_call(index));
    let record = kit
        .store()
        .conversation(&thread.as_str().into(), Timestamp::now())
        .await
        .unwrap()
        .expect("the thread is remembered");
    assert_eq!(record.reference.team_id, None);
}

#[tokio::test]
async fn new_thread_outside_a_channel_just_replies() {
    let kit = kit();
    deliver(&kit, &personal("new thread")).await;
    assert!(only_reply_text(&kit).contains("only in a team's channel"));
    assert!(
        !kit.calls()
            .iter()
            .any(|c| matches!(c, ConnectorCall::CreateConversation { .. }))
    );
}

/// The conversations whose roster was read, with the page size asked.
fn roster_reads(kit: &TestKit) -> Vec<(String, Option<u32>)> {
    kit.calls()
        .into_iter()
        .filter_map(|c| match c {
            ConnectorCall::GetPagedMembers {
                conversation,
                page_size,
                ..
            } => Some((conversation.as_str().to_owned(), page_size)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn members_reads_the_team_roster_in_a_channel_and_the_chat_roster_elsewhere() {
    let kit = kit();
    kit.set_members(
        TEAM,
        vec![TeamsChannelAccount {
            id: ALICE.into(),
            name: Some("Alice".into()),
            ..Default::default()
        }],
    );
    let inbound = channel("members");
    deliver(&kit, &inbound).await;
    assert_eq!(roster_reads(&kit), [(TEAM.to_owned(), Some(MEMBERS_PAGE_SIZE))]);
    let r = replies(&kit);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].text(), Some("I found 1 member (1 page read): Alice."));
    assert_eq!(
        r[0].reply_to_id.as_ref().unwrap().as_str(),
        inbound["id"].as_str().unwrap()
    );

    let kit = self::kit();
    deliver(&kit, &personal("members")).await;
    assert_eq!(
        roster_reads(&kit),
        [(PERSONAL_CHAT.to_owned(), Some(MEMBERS_PAGE_SIZE))]
    );
}

#[tokio::test]
async fn update_and_delete_demos_describe_their_messages() {
    let kit = kit();
    deliver(&kit, &personal("update")).await;
    let calls = kit.calls();
    let first = position(&calls, |c| matches!(c, ConnectorCall::Reply { .. }));
    let ConnectorCall::Reply {
        conversation: first_conversation,
        activity: first_message,
        ..
    } = &calls[first]
    else {
        unreachable!()
    };
    assert_eq!(first_message.text(), Some("This message will be edited in a moment."));
    let updates: Vec<_> = calls
        .iter()
        .filter_map(|c| match c {
            ConnectorCall::Update {
                conversation,
                activity_id,
                activity,
                ..
            } => Some((conversation, activity_id, activity)),
            _ => None,
        })
        .collect();
    assert_eq!(updates.len(), 1);
    let (conversation, activity_id, replacement) = updates[0];
    assert_eq!(replacement.text(), Some("This message was edited."));
    assert_eq!(activity_id.as_str(), id_of_call(first));
    assert_eq!(conversation, first_conversation);
    assert_eq!(replies(&kit).len(), 1, "the edit is the only other message");

    let kit = self::kit();
    deliver(&kit, &channel("Delete")).await;
    let calls = kit.calls();
    let first = position(&calls, |c| matches!(c, ConnectorCall::Reply { .. }));
    let deleted: Vec<_> = calls
        .iter()
        .filter_map(|c| match c {
            ConnectorCall::Delete { activity_id, .. } => Some(activity_id.as_str().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(deleted, [id_of_call(first)]);
    let texts: Vec<_> = replies(&kit).iter().map(|a| a.text().unwrap().to_owned()).collect();
    assert_eq!(
        texts,
        [
            "This message will be deleted in a moment.",
            "I deleted my previous message."
        ]
    );
}

/// The check-in poll subscription of `conversation`, if any.
async fn poll_subscription(kit: &TestKit, conversation: &str) -> Option<store::Subscription> {
    kit.store()
        .subscription(&conversation.into(), "poll", Timestamp::now())
        .await
        .unwrap()
}

/// The poll cards the bot posted (sent, not replied), with the conversation each went to.
fn posted_polls(kit: &TestKit) -> Vec<(String, Value)> {
    kit.calls()
        .into_iter()
        .filter_map(|c| match c {
            ConnectorCall::Send {
                conversation, activity, ..
            } => {
                let card = activity.as_message()?.attachments.as_ref()?.first()?.content.clone()?;
                (card["body"][0]["text"] == "Check-in: how is it going?")
                    .then(|| (conversation.as_str().to_owned(), card))
            }
            _ => None,
        })
        .collect()
}

/// The poll cards the bot updated in place: the message id and the card.
fn updated_polls(kit: &TestKit) -> Vec<(String, Value)> {
    kit.calls()
        .into_iter()
        .filter_map(|c| match c {
            ConnectorCall::Update {
                activity_id, activity, ..
            } => {
                let card = activity.as_message()?.attachments.as_ref()?.first()?.content.clone()?;
                Some((activity_id.as_str().to_owned(), card))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn subscribe_takes_an_optional_interval_in_minutes() {
    let kit = kit();
    deliver(&kit, &channel("subscribe")).await;
    assert!(only_reply_text(&kit).contains("every day"));
    // A channel subscribes without the ;messageid= suffix.
    let subscription = poll_subscription(&kit, CHANNEL)
        .await
        .expect("the channel is subscribed");
    assert_eq!(
        subscription.every_secs,
        u64::from(reference_bot::poll::DEFAULT_INTERVAL_MINUTES) * 60
    );
    // The poll, due at once, goes to the channel with its three choices.
    kit.tick().await;
    let polls = posted_polls(&kit);
    assert_eq!(polls.len(), 1, "{polls:?}");
    assert_eq!(polls[0].0, CHANNEL);
    assert_eq!(polls[0].1["actions"].as_array().unwrap().len(), 3);

    let kit = self::kit();
    deliver(&kit, &personal("Subscribe 30")).await;
    assert!(only_reply_text(&kit).contains("every 30 minutes"));
    let subscription = poll_subscription(&kit, PERSONAL_CHAT)
        .await
        .expect("the chat is subscribed");
    assert_eq!(subscription.every_secs, 30 * 60);

    for bad in ["subscribe 0", "subscribe 10081", "subscribe soon", "subscribe -5"] {
        let kit = self::kit();
        deliver(&kit, &personal(bad)).await;
        assert!(only_reply_text(&kit).starts_with("Usage: subscribe"), "{bad}");
        assert!(poll_subscription(&kit, PERSONAL_CHAT).await.is_none(), "{bad}");
    }
}

#[tokio::test]
async fn unsubscribe_names_the_conversation_and_both_outcomes() {
    let kit = kit();
    deliver(&kit, &channel("unsubscribe")).await;
    assert_eq!(only_reply_text(&kit), "There was no check-in poll subscription here.");

    let kit = self::kit();
    deliver(&kit, &channel("subscribe")).await;
    assert!(poll_subscription(&kit, CHANNEL).await.is_some());
    kit.clear();
    // From another thread of the same channel: the subscription is the channel's.
    let mut v = channel("unsubscribe");
    v["conversation"]["id"] = json!(format!("{CHANNEL};messageid=1714557999999"));
    deliver(&kit, &v).await;
    assert_eq!(only_reply_text(&kit), "Unsubscribed: no more check-in polls here.");
    assert!(poll_subscription(&kit, CHANNEL).await.is_none());
}

/// Subscribes the conversation of `subscribe` to the poll and runs the due poll; answers the posted card.
async fn posted_poll(kit: &TestKit, subscribe: &Value, conversation: &str) -> Value {
    deliver(kit, subscribe).await;
    kit.tick().await;
    let polls: Vec<Value> = posted_polls(kit)
        .into_iter()
        .filter(|(c, _)| c == conversation)
        .map(|(_, card)| card)
        .collect();
    assert_eq!(polls.len(), 1, "{polls:?}");
    polls[0].clone()
}

/// The `data` of the poll card's button for `choice`.
fn button(card: &Value, choice: usize) -> Value {
    card["actions"][choice]["data"].clone()
}

/// The votes stored for the poll run the button `data` names, in `conversation`.
async fn stored_votes(kit: &TestKit, conversation: &str, data: &Value) -> Vec<(String, usize)> {
    kit.store()
        .votes(
            &conversation.into(),
            "poll",
            data["slot"].as_str().unwrap(),
            Timestamp::now(),
        )
        .await
        .unwrap()
        .into_iter()
        .collect()
}

#[tokio::test]
async fn a_card_submit_vote_is_a_poll_answer_even_without_a_mention() {
    let kit = kit();
    let card = posted_poll(&kit, &channel("subscribe"), CHANNEL).await;
    kit.clear();
    // Alice presses "Not so good" (choice 2) on the card: a message with `value`, no text, no mention.
    let mut vote = fresh("card_submit_vote");
    vote["value"] = button(&card, 2);
    let (status, _) = kit.deliver_full(&vote).await;
    assert_eq!(status, 200);
    assert_eq!(
        stored_votes(&kit, CHANNEL, &vote["value"]).await,
        [(ALICE.to_owned(), 2)]
    );
    // The card the submit came from (its replyToId) shows the tally; nothing else is said.
    let updated = updated_polls(&kit);
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert_eq!(updated[0].0, CARD_MESSAGE_ID);
    assert_eq!(
        updated[0].1["body"][1]["facts"][2],
        json!({"title": "Not so good", "value": "1 vote"})
    );
    assert_eq!(updated[0].1["body"][2]["text"], "1 answer so far");
    assert_eq!(replies(&kit), []);
}

#[tokio::test]
async fn an_adaptive_card_action_invoke_vote_is_a_poll_answer() {
    let kit = kit();
    let card = posted_poll(&kit, &personal("subscribe"), PERSONAL_CHAT).await;
    kit.clear();
    let mut vote = fresh("invoke_adaptive_card_action");
    vote["value"]["action"]["data"] = button(&card, 0);
    let (status, body) = kit.deliver_full(&vote).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": "Thanks, your answer is in."})
    );
    assert_eq!(
        stored_votes(&kit, PERSONAL_CHAT, &vote["value"]["action"]["data"]).await,
        [(ALICE.to_owned(), 0)]
    );
    let updated = updated_polls(&kit);
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert_eq!(updated[0].0, CARD_MESSAGE_ID);
    assert_eq!(
        updated[0].1["body"][1]["facts"][0],
        json!({"title": "Great", "value": "1 vote"})
    );
}

#[tokio::test]
async fn a_vote_naming_another_conversations_poll_stores_nothing_and_updates_no_card() {
    let kit = kit();
    // Conversation A: the channel; conversation B: the group chat. Both have a posted poll.
    let card_a = posted_poll(&kit, &channel("subscribe"), CHANNEL).await;
    let mut subscribe_b = fresh("message_groupchat_mention");
    subscribe_b["text"] = json!(format!("{} subscribe", bot_at()));
    let group_chat = "19:meeting_abc@thread.v2";
    let card_b = posted_poll(&kit, &subscribe_b, group_chat).await;
    assert_ne!(button(&card_a, 0)["pollId"], button(&card_b, 0)["pollId"]);
    kit.clear();

    // A submit in A carrying B's poll.
    let mut vote = fresh("card_submit_vote");
    vote["value"] = button(&card_b, 1);
    assert_eq!(kit.deliver(&vote).await, 200);
    // The same as an Action.Execute invoke in A.
    let mut invoke = fresh("invoke_adaptive_card_action");
    invoke["conversation"] = fixture("card_submit_vote")["conversation"].clone();
    invoke["channelData"] = fixture("card_submit_vote")["channelData"].clone();
    invoke["value"]["action"]["data"] = button(&card_b, 1);
    let (status, _) = kit.deliver_full(&invoke).await;
    assert_eq!(status, 200);

    assert_eq!(stored_votes(&kit, CHANNEL, &button(&card_b, 1)).await, []);
    assert_eq!(stored_votes(&kit, group_chat, &button(&card_b, 1)).await, []);
    assert_eq!(stored_votes(&kit, CHANNEL, &button(&card_a, 1)).await, []);
    assert_no_calls(&kit, "a vote for another conversation's poll").await;

    // The same submit carrying A's own poll is recorded and shown.
    let mut vote = fresh("card_submit_vote");
    vote["value"] = button(&card_a, 1);
    assert_eq!(kit.deliver(&vote).await, 200);
    assert_eq!(
        stored_votes(&kit, CHANNEL, &vote["value"]).await,
        [(ALICE.to_owned(), 1)]
    );
    assert_eq!(updated_polls(&kit).len(), 1);
}

#[tokio::test]
async fn a_refused_invoke_vote_is_told_the_poll_is_not_open_here() {
    let kit = kit();
    let card_a = posted_poll(&kit, &channel("subscribe"), CHANNEL).await;
    let mut subscribe_b = fresh("message_groupchat_mention");
    subscribe_b["text"] = json!(format!("{} subscribe", bot_at()));
    let card_b = posted_poll(&kit, &subscribe_b, "19:meeting_abc@thread.v2").await;
    kit.clear();
    let mut invoke = fresh("invoke_adaptive_card_action");
    invoke["conversation"] = fixture("card_submit_vote")["conversation"].clone();
    invoke["channelData"] = fixture("card_submit_vote")["channelData"].clone();
    invoke["value"]["action"]["data"] = button(&card_b, 0);
    let (status, body) = kit.deliver_full(&invoke).await;
    assert_eq!(status, 200);
    assert_eq!(body["value"], "Sorry, this poll is no longer open here.", "{body}");
    assert_eq!(stored_votes(&kit, CHANNEL, &button(&card_a, 0)).await, []);
}

#[tokio::test]
async fn a_submit_vote_that_also_carries_text_is_still_a_vote() {
    let kit = kit();
    let card = posted_poll(&kit, &personal("subscribe"), PERSONAL_CHAT).await;
    kit.clear();
    let mut vote = personal("Great");
    vote["value"] = button(&card, 0);
    assert_eq!(kit.deliver(&vote).await, 200);
    assert_eq!(
        stored_votes(&kit, PERSONAL_CHAT, &vote["value"]).await,
        [(ALICE.to_owned(), 0)]
    );
    assert_eq!(replies(&kit), [], "a vote is not echoed");
}

#[tokio::test]
async fn other_submits_and_invokes_are_ignored() {
    let kit = kit();
    let mut v = fresh("card_submit_vote");
    v["value"] = json!({"somethingElse": true});
    assert_eq!(kit.deliver(&v).await, 200);
    assert_no_calls(&kit, "unknown submit").await;

    // A dialog asked for by a button that is not the `task` card's: no dialog here, and nothing sent.
    let mut v = fresh("invoke_adaptive_card_action");
    v["name"] = json!("task/fetch");
    assert_eq!(
        kit.deliver_full(&v).await,
        (200, json!({"task": {"type": "message", "value": teams_bot::NO_DIALOG}}))
    );
    assert_no_calls(&kit, "a dialog that is not ours").await;

    let mut v = fresh("invoke_adaptive_card_action");
    v["name"] = json!("signin/verifyState");
    assert_eq!(kit.deliver_full(&v).await, (200, json!({})));
    assert_no_calls(&kit, "unknown invoke").await;

    let mut v = fresh("invoke_adaptive_card_action");
    v["value"] = json!({"action": {"verb": "other"}});
    assert_eq!(kit.deliver_full(&v).await, (200, json!({})));
    assert_no_calls(&kit, "adaptiveCard/action with another verb").await;
}

#[tokio::test]
async fn a_message_with_text_and_an_unknown_value_is_still_a_command() {
    let mut v = personal("help");
    v["value"] = json!({"x": 1});
    assert_eq!(answer(&v).await, HELP_TEXT);
}

#[tokio::test]
async fn non_messages_own_messages_and_senderless_activities_are_ignored() {
    // Installs get no answer; the runtime's welcome flow sends the bot's welcome (and nothing else).
    for (name, welcome) in [
        (
            "conversation_update_team_install",
            format!(
                "Welcome, team Contoso! I am {BOT_NAME}, just added to this team. @mention me with help to see what I can do."
            ),
        ),
        (
            "installation_update_personal_add",
            format!("Welcome, Alice Example! I am {BOT_NAME}. Send help to see what I can do."),
        ),
    ] {
        let kit = kit();
        deliver(&kit, &fixture(name)).await;
        assert!(kit.wait_for(|texts| !texts.is_empty()).await, "{name}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(replies(&kit), [], "{name}");
        assert_eq!(kit.sent_texts(), [welcome], "{name}");
        assert!(
            kit.calls().iter().all(|c| matches!(c, ConnectorCall::Send { .. })),
            "{name}: {:?}",
            kit.calls()
        );
    }

    let kit = kit();
    deliver(&kit, &fixture("message_reaction")).await;
    assert_no_calls(&kit, "message_reaction").await;

    let kit = self::kit();
    let mut v = fixture("message_personal");
    v["from"] = json!({"id": BOT_ID, "name": BOT_NAME});
    deliver(&kit, &v).await;
    assert_no_calls(&kit, "a message from the bot itself").await;

    let kit = self::kit();
    let mut v = fixture("message_personal");
    v.as_object_mut().unwrap().remove("from");
    deliver(&kit, &v).await;
    assert_no_calls(&kit, "a message without a sender").await;
}

#[tokio::test]
async fn a_huge_message_is_echoed_shortened_within_the_size_budget_with_the_full_count() {
    for text in ["a".repeat(50_000), "😀\"".repeat(20_000)] {
        let n = text.chars().count();
        let kit = kit();
        deliver(&kit, &personal(&text)).await;
        let r = replies(&kit);
        assert_eq!(r.len(), 1);
        assert!(teams_bot::models::fits_message_budget(&r[0]));
        let echoed = r[0].text().unwrap();
        assert!(echoed.starts_with("You sent "));
        assert!(echoed.ends_with(&format!("… which was {n} characters")), "{echoed:.60}");
    }
    let ordinary = "x".repeat(10_000);
    assert_eq!(
        answer(&personal(&ordinary)).await,
        format!("You sent {ordinary} which was 10000 characters")
    );
}

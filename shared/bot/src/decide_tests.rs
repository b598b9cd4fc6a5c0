//! Tests of [`super::decide`]: every command, the mention rule per scope, submits, invokes and no-ops.

use super::*;
use crate::poll::{DEFAULT_INTERVAL_MINUTES, PollVote};
use models::TeamsChannelAccount;
use serde_json::{Value, json};

const BOT_ID: &str = "28:c9e8c047-2a74-40a2-b28a-b162d5f5327c";
const TEAM: &str = "19:efa9296d959346209fea44151c742e73@thread.skype";
const CHANNEL: &str = "19:2c3ba5c6f3b94b4b8e1d1a1f7e1d2a3b@thread.skype";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

fn bot() -> BotIdentity {
    BotIdentity::new(BOT_ID, "Echo Bot")
}

fn fixture_json(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn fixture(name: &str) -> Activity {
    Activity::from_value(fixture_json(name)).unwrap()
}

/// A personal message with this text.
fn personal(text: &str) -> Activity {
    let mut v = fixture_json("message_personal");
    v["text"] = json!(text);
    Activity::from_value(v).unwrap()
}

/// A channel message with this text, mentioning the bot at the start.
fn channel(text: &str) -> Activity {
    let mut v = fixture_json("message_channel_mention");
    v["text"] = json!(format!("<at>Echo Bot</at> {text}"));
    Activity::from_value(v).unwrap()
}

fn replies(d: Decision) -> Vec<Activity> {
    match d {
        Decision::Reply(r) => r,
        other => panic!("expected a reply, got {other:?}"),
    }
}

fn only_text(d: Decision) -> String {
    let r = replies(d);
    assert_eq!(r.len(), 1);
    r[0].text().unwrap().to_owned()
}

#[test]
fn personal_message_is_echoed_with_its_unicode_character_count_as_a_reply() {
    let inbound = fixture("message_personal");
    let r = replies(decide(&inbound, &bot()));
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].text(), Some("You sent Hello there 😀 which was 13 characters"));
    assert_eq!(r[0].reply_to_id.as_ref().unwrap(), "1485983408511");
    assert_eq!(r[0].recipient.as_ref().unwrap().id, "29:1alice");
    assert_eq!(r[0].from.as_ref().unwrap().id, BOT_ID);
    assert_eq!(r[0].conversation, inbound.conversation);
    assert_eq!(
        r[0].service_url.as_deref(),
        Some("https://smba.trafficmanager.net/amer/")
    );
}

#[test]
fn non_bmp_and_combined_characters_count_as_scalar_values() {
    assert_eq!(
        only_text(decide(&personal("𝄞👍🏽"), &bot())),
        "You sent 𝄞👍🏽 which was 3 characters"
    );
    assert_eq!(
        only_text(decide(&personal("  é  "), &bot())),
        "You sent é which was 1 characters"
    );
}

#[test]
fn channel_message_mentioning_the_bot_is_echoed_with_the_mention_stripped_and_others_kept() {
    let text = only_text(decide(&fixture("message_channel_mention"), &bot()));
    assert_eq!(text, "You sent Hello <at>Bob</at> which was 18 characters");
}

#[test]
fn several_bot_mentions_are_all_stripped() {
    let mut v = fixture_json("message_channel_mention");
    v["text"] = json!("<at>Echo Bot</at> a <at>Echo Bot</at> b <at>Bob</at> <at>Echo Bot</at>");
    v["entities"] = json!([
        {"type": "mention", "mentioned": {"id": BOT_ID, "name": "Echo Bot"}, "text": "<at>Echo Bot</at>"},
        {"type": "mention", "mentioned": {"id": BOT_ID, "name": "Echo Bot"}, "text": "<at>Echo Bot</at>"},
        {"type": "mention", "mentioned": {"id": "29:1bob", "name": "Bob"}, "text": "<at>Bob</at>"},
        {"type": "mention", "mentioned": {"id": BOT_ID, "name": "Echo Bot"}, "text": "<at>Echo Bot</at>"}
    ]);
    let text = only_text(decide(&Activity::from_value(v).unwrap(), &bot()));
    assert_eq!(text, "You sent a  b <at>Bob</at> which was 17 characters");
}

#[test]
fn channel_and_group_chat_messages_without_the_bot_mentioned_are_ignored() {
    let group = fixture("message_groupchat_no_mention");
    assert_eq!(decide(&group, &bot()), Decision::Ignore(Ignored::NotMentioned));
    let mut v = fixture_json("message_channel_mention");
    v["text"] = json!("<at>Bob</at> hello");
    v["entities"] = json!([{"type": "mention", "mentioned": {"id": "29:1bob", "name": "Bob"}, "text": "<at>Bob</at>"}]);
    assert_eq!(
        decide(&Activity::from_value(v).unwrap(), &bot()),
        Decision::Ignore(Ignored::NotMentioned)
    );
    // `isGroup` without a conversation type counts as a group too.
    let mut v = fixture_json("message_personal");
    v["conversation"] = json!({"id": "19:x@thread.v2", "isGroup": true});
    assert_eq!(
        decide(&Activity::from_value(v).unwrap(), &bot()),
        Decision::Ignore(Ignored::NotMentioned)
    );
}

#[test]
fn personal_messages_need_no_mention() {
    assert!(matches!(decide(&personal("hi"), &bot()), Decision::Reply(_)));
}

#[test]
fn group_chat_message_mentioning_the_bot_is_answered_case_insensitively() {
    let text = only_text(decide(&fixture("message_groupchat_mention"), &bot()));
    assert!(text.contains("Scope: groupChat"), "{text}");
    assert!(text.contains("Conversation id: 19:meeting_abc@thread.v2"), "{text}");
}

#[test]
fn help_lists_every_command_whatever_the_case_and_spacing() {
    let text = only_text(decide(&personal("  HeLp  "), &bot()));
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
    ] {
        assert!(text.contains(&format!("- {cmd}")), "help misses {cmd}");
    }
    assert_eq!(only_text(decide(&channel("HELP"), &bot())), HELP_TEXT);
}

#[test]
fn a_bare_mention_gets_help() {
    let mut v = fixture_json("message_channel_mention");
    v["text"] = json!("<at>Echo Bot</at>");
    assert_eq!(only_text(decide(&Activity::from_value(v).unwrap(), &bot())), HELP_TEXT);
}

#[test]
fn unknown_commands_fall_back_to_echo() {
    assert_eq!(
        only_text(decide(&personal("help me"), &bot())),
        "You sent help me which was 7 characters"
    );
    assert_eq!(
        only_text(decide(&personal("subscribers"), &bot())),
        "You sent subscribers which was 11 characters"
    );
}

#[test]
fn whoami_shows_ids_tenant_conversation_and_scope() {
    let text = only_text(decide(&personal("whoami"), &bot()));
    assert_eq!(
        text,
        format!(
            "User id: 29:1alice\nName: Alice Example\nAAD object id: 7faf8ab2-3d56-4244-b585-20c8a42ed2b8\n\
             Tenant: {TENANT}\nConversation id: a:1personal-chat-id\nScope: personal"
        )
    );
    let mut v = fixture_json("message_personal");
    v["text"] = json!("whoami");
    v["from"] = json!({"id": "29:anon"});
    v["conversation"] = json!({"id": "a:1"});
    v.as_object_mut().unwrap().remove("channelData");
    let text = only_text(decide(&Activity::from_value(v).unwrap(), &bot()));
    assert!(
        text.contains("Name: (none)\nAAD object id: (none)\nTenant: (none)"),
        "{text}"
    );
    assert!(text.ends_with("Scope: (unknown)"), "{text}");
}

#[test]
fn card_sends_a_hero_card_and_an_adaptive_card() {
    let r = replies(decide(&personal("Card"), &bot()));
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
    assert!(
        r.iter()
            .all(|a| a.reply_to_id.as_ref().is_some_and(|id| id == "1485983408511"))
    );
}

#[test]
fn picture_sends_the_checked_png_inline() {
    let r = replies(decide(&channel("picture"), &bot()));
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

#[test]
fn mention_me_mentions_the_sender_back() {
    let r = replies(decide(&channel("mention me"), &bot()));
    assert_eq!(r[0].text(), Some("Hello <at>Alice Example</at>!"));
    let m: Vec<_> = r[0].mentions().collect();
    assert_eq!(m[0].mentioned.id, "29:1alice");
    assert_eq!(m[0].text.as_deref(), Some("<at>Alice Example</at>"));
}

#[test]
fn dm_me_in_a_channel_plans_a_1to1_chat_and_a_report_back() {
    let Decision::DmMe(plan) = decide(&channel("dm me"), &bot()) else {
        panic!("expected DmMe")
    };
    assert_eq!(plan.user.id, "29:1alice");
    assert_eq!(plan.tenant, TENANT);
    let create = serde_json::to_value(&plan.create).unwrap();
    assert_eq!(create["bot"]["id"], BOT_ID);
    assert_eq!(create["members"], json!([{"id": "29:1alice"}]));
    assert_eq!(create["channelData"]["tenant"]["id"], TENANT);
    assert!(plan.message.conversation.is_none());
    assert!(plan.message.text().unwrap().contains("1:1"));
    assert_eq!(
        plan.report_back.text(),
        Some("<at>Alice Example</at>, I sent you a message in our 1:1 chat.")
    );
    assert_eq!(plan.report_back.reply_to_id.as_ref().unwrap(), "1485983408511");
    assert!(plan.on_failure.text().unwrap().starts_with("Sorry"));
}

#[test]
fn dm_me_in_a_personal_chat_or_without_a_tenant_just_replies() {
    assert_eq!(
        only_text(decide(&personal("dm me"), &bot())),
        "We are already in our 1:1 chat."
    );
    let mut v = fixture_json("message_groupchat_mention");
    v["text"] = json!("<at>Echo Bot</at> dm me");
    v.as_object_mut().unwrap().remove("channelData");
    v["conversation"].as_object_mut().unwrap().remove("tenantId");
    assert!(only_text(decide(&Activity::from_value(v).unwrap(), &bot())).contains("tenant"));
}

#[test]
fn dm_me_in_a_group_chat_is_planned_too() {
    let mut v = fixture_json("message_groupchat_mention");
    v["text"] = json!("<at>Echo Bot</at> DM me");
    assert!(matches!(
        decide(&Activity::from_value(v).unwrap(), &bot()),
        Decision::DmMe(_)
    ));
}

#[test]
fn new_thread_in_a_channel_plans_a_create_with_the_channel_id() {
    let Decision::NewThread(plan) = decide(&channel("new thread"), &bot()) else {
        panic!("expected NewThread")
    };
    assert_eq!(plan.channel_id, CHANNEL);
    assert_eq!(plan.team_id.as_deref(), Some(TEAM));
    let create = serde_json::to_value(&plan.create).unwrap();
    assert_eq!(create["isGroup"], true);
    assert_eq!(create["channelData"]["channel"]["id"], CHANNEL);
    assert_eq!(
        create["activity"]["text"],
        "<at>Alice Example</at> asked me to start this new thread."
    );
    assert_eq!(create["activity"]["entities"][0]["mentioned"]["id"], "29:1alice");
    assert_eq!(plan.report_back.text(), Some("I started a new thread in this channel."));
}

#[test]
fn new_thread_falls_back_to_the_channel_conversation_id() {
    let mut v = fixture_json("message_channel_mention");
    v["text"] = json!("<at>Echo Bot</at> new thread");
    v["channelData"] = json!({"tenant": {"id": TENANT}});
    let Decision::NewThread(plan) = decide(&Activity::from_value(v).unwrap(), &bot()) else {
        panic!()
    };
    assert_eq!(plan.channel_id, CHANNEL);
    assert_eq!(plan.team_id, None);
}

#[test]
fn new_thread_outside_a_channel_just_replies() {
    assert!(only_text(decide(&personal("new thread"), &bot())).contains("only in a team's channel"));
}

#[test]
fn members_reads_the_team_roster_in_a_channel_and_the_chat_roster_elsewhere() {
    let Decision::Members(plan) = decide(&channel("members"), &bot()) else {
        panic!("expected Members")
    };
    assert_eq!(plan.roster_of, TEAM);
    assert_eq!(plan.page_size, MEMBERS_PAGE_SIZE);
    let page = PagedMembersResult {
        members: vec![TeamsChannelAccount {
            id: "29:1alice".into(),
            name: Some("Alice".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let reply = plan.finish(&[page]);
    assert_eq!(reply.text(), Some("I found 1 member (1 page read): Alice."));
    assert_eq!(reply.reply_to_id.as_ref().unwrap(), "1485983408511");
    let Decision::Members(plan) = decide(&personal("members"), &bot()) else {
        panic!("expected Members")
    };
    assert_eq!(plan.roster_of, "a:1personal-chat-id");
}

#[test]
fn update_and_delete_demos_describe_their_messages() {
    let Decision::UpdateDemo(plan) = decide(&personal("update"), &bot()) else {
        panic!("expected UpdateDemo")
    };
    assert_eq!(plan.first.text(), Some("This message will be edited in a moment."));
    assert_eq!(plan.replacement.text(), Some("This message was edited."));
    assert_eq!(plan.replacement.conversation, plan.first.conversation);
    let Decision::DeleteDemo(plan) = decide(&channel("Delete"), &bot()) else {
        panic!("expected DeleteDemo")
    };
    assert_eq!(plan.first.text(), Some("This message will be deleted in a moment."));
    assert_eq!(plan.after.text(), Some("I deleted my previous message."));
}

#[test]
fn subscribe_takes_an_optional_interval_in_minutes() {
    let Decision::Subscribe(plan) = decide(&channel("subscribe"), &bot()) else {
        panic!("expected Subscribe")
    };
    assert_eq!(plan.interval_minutes, DEFAULT_INTERVAL_MINUTES);
    assert_eq!(
        plan.conversation, CHANNEL,
        "a channel subscribes without the ;messageid= suffix"
    );
    assert_eq!(plan.poll.choices.len(), 3);
    assert!(plan.confirmation.text().unwrap().contains("every day"));
    let Decision::Subscribe(plan) = decide(&personal("Subscribe 30"), &bot()) else {
        panic!("expected Subscribe")
    };
    assert_eq!(plan.interval_minutes, 30);
    assert_eq!(plan.conversation, "a:1personal-chat-id");
    assert!(plan.confirmation.text().unwrap().contains("every 30 minutes"));
    for bad in ["subscribe 0", "subscribe 10081", "subscribe soon", "subscribe -5"] {
        assert!(
            only_text(decide(&personal(bad), &bot())).starts_with("Usage: subscribe"),
            "{bad}"
        );
    }
}

#[test]
fn unsubscribe_names_the_conversation_and_both_outcomes() {
    let Decision::Unsubscribe(plan) = decide(&channel("unsubscribe"), &bot()) else {
        panic!("expected Unsubscribe")
    };
    assert_eq!(plan.conversation, CHANNEL);
    assert_eq!(plan.done.text(), Some("Unsubscribed: no more check-in polls here."));
    assert_eq!(
        plan.not_subscribed.text(),
        Some("There was no check-in poll subscription here.")
    );
}

#[test]
fn a_card_submit_vote_is_a_poll_answer_even_without_a_mention() {
    let Decision::PollAnswer(answer) = decide(&fixture("card_submit_vote"), &bot()) else {
        panic!("expected PollAnswer")
    };
    assert_eq!(
        answer.vote,
        PollVote {
            poll_id: "poll-1".into(),
            slot: "1714557600".into(),
            choice: 2,
            voter: fixture("card_submit_vote").from.unwrap()
        }
    );
    assert_eq!(answer.message_id.as_ref().unwrap(), "1714557700000");
    assert!(!answer.via_invoke);
}

#[test]
fn an_adaptive_card_action_invoke_vote_is_a_poll_answer() {
    let Decision::PollAnswer(answer) = decide(&fixture("invoke_adaptive_card_action"), &bot()) else {
        panic!("expected PollAnswer")
    };
    assert_eq!((answer.vote.choice, answer.via_invoke), (0, true));
    assert_eq!(answer.vote.voter.id, "29:1alice");
}

#[test]
fn other_submits_and_invokes_are_ignored() {
    let mut v = fixture_json("card_submit_vote");
    v["value"] = json!({"somethingElse": true});
    assert_eq!(
        decide(&Activity::from_value(v).unwrap(), &bot()),
        Decision::Ignore(Ignored::UnknownSubmit)
    );
    let mut v = fixture_json("invoke_adaptive_card_action");
    v["name"] = json!("task/fetch");
    assert_eq!(
        decide(&Activity::from_value(v).unwrap(), &bot()),
        Decision::Ignore(Ignored::UnknownInvoke)
    );
    let mut v = fixture_json("invoke_adaptive_card_action");
    v["value"] = json!({"action": {"verb": "other"}});
    assert_eq!(
        decide(&Activity::from_value(v).unwrap(), &bot()),
        Decision::Ignore(Ignored::UnknownInvoke)
    );
}

#[test]
fn a_message_with_text_and_an_unknown_value_is_still_a_command() {
    let mut v = fixture_json("message_personal");
    v["text"] = json!("help");
    v["value"] = json!({"x": 1});
    assert_eq!(only_text(decide(&Activity::from_value(v).unwrap(), &bot())), HELP_TEXT);
}

#[test]
fn non_messages_own_messages_and_senderless_activities_are_ignored() {
    for name in [
        "conversation_update_team_install",
        "installation_update_personal_add",
        "message_reaction",
    ] {
        assert_eq!(
            decide(&fixture(name), &bot()),
            Decision::Ignore(Ignored::NotAMessage),
            "{name}"
        );
    }
    let mut v = fixture_json("message_personal");
    v["from"] = json!({"id": BOT_ID, "name": "Echo Bot"});
    assert_eq!(
        decide(&Activity::from_value(v).unwrap(), &bot()),
        Decision::Ignore(Ignored::FromBot)
    );
    let mut v = fixture_json("message_personal");
    v.as_object_mut().unwrap().remove("from");
    assert_eq!(
        decide(&Activity::from_value(v).unwrap(), &bot()),
        Decision::Ignore(Ignored::NoSender)
    );
    assert_eq!(
        Ignored::NotMentioned.reason(),
        "channel or group chat message without a mention of the bot"
    );
}

#[test]
fn a_huge_message_is_echoed_shortened_within_the_size_budget_with_the_full_count() {
    for text in ["a".repeat(50_000), "😀\"".repeat(20_000)] {
        let n = text.chars().count();
        let r = replies(decide(&personal(&text), &bot()));
        assert!(models::fits_message_budget(&r[0]));
        let echoed = r[0].text().unwrap();
        assert!(echoed.starts_with("You sent "));
        assert!(echoed.ends_with(&format!("… which was {n} characters")), "{echoed:.60}");
    }
    let ordinary = "x".repeat(10_000);
    assert_eq!(
        only_text(decide(&personal(&ordinary), &bot())),
        format!("You sent {ordinary} which was 10000 characters")
    );
}

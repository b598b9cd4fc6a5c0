//! Every payload in `tests/fixtures/`: it parses to the exact kind with the key fields, and serializing it back
//! gives the original JSON (compared as `serde_json::Value`, so key order and whitespace do not matter).
//!
//! Explicit `null`s: a `null` for a field we model is read as absent and is not written back, so fixtures contain
//! no such nulls (see `explicit_nulls_of_known_fields_are_dropped_unknown_kept`). A `null` in an unknown field is
//! kept as sent.

// Test helpers (outside #[test] fns) may unwrap: a panic is a test failure.
#![allow(clippy::unwrap_used)]

use models::connector::{
    ConversationList, ConversationParameters, ConversationResourceResponse, ErrorResponse, PagedMembersResult,
    ResourceResponse, TeamDetails,
};
use models::{
    Activity, ActivityKind, ConversationType, ConversationUpdate, Entity, InstallationAction, TeamsEventType,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeSet;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const BOT: &str = "28:c9e8c047-2a74-40a2-b28a-b162d5f5327c";
const MEGAN: &str = "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85gQtHieVkKilBZ9XHoq9j7Zaqt7CZ-NJWi7me2kHTL3Bw";
const ADELE: &str = "29:1pBNhfMFxnRp0IqmGyz43ikfm4ohSLV0bH4dGV1Fxn8LxuqGzWlYOJ0tbK1K2Gw4H7Kc9vBh9BqMFzEuMumz8FQ";
const TEAM: &str = "19:693ecdb923ac4458a5c23661b505fc84@thread.skype";
const NEW_CHANNEL: &str = "19:5f9a0e8c1b2d4c3e8f7a6b5c4d3e2f1a@thread.tacv2";

fn fixture(file: &str) -> String {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Parses `file` as an activity, checks the round trip, and returns it.
fn activity(file: &str) -> Activity {
    let raw = fixture(file);
    let activity = Activity::from_slice(raw.as_bytes()).unwrap_or_else(|e| panic!("{file}: {e}"));
    let original: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(serde_json::to_value(&activity).unwrap(), original, "{file}: round trip");
    activity
}

/// Parses `file` as `T`, checks the round trip, and returns it.
fn body<T: DeserializeOwned + Serialize>(file: &str) -> T {
    let raw = fixture(file);
    let value: T = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{file}: {e}"));
    let original: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(serde_json::to_value(&value).unwrap(), original, "{file}: round trip");
    value
}

fn conversation_update(a: &Activity) -> &ConversationUpdate {
    match &a.kind {
        ActivityKind::ConversationUpdate(c) => c,
        other => panic!("not a conversationUpdate: {other:?}"),
    }
}

fn event_type(a: &Activity) -> Option<&TeamsEventType> {
    a.channel_data.as_ref().and_then(|d| d.event_type.as_ref())
}

fn scope(a: &Activity) -> Option<&ConversationType> {
    a.conversation.as_ref().and_then(|c| c.conversation_type.as_ref())
}

fn ids(accounts: Option<&Vec<models::ChannelAccount>>) -> Vec<&str> {
    accounts.into_iter().flatten().map(|m| m.id.as_str()).collect()
}

fn channel_id(a: &Activity) -> Option<&str> {
    a.channel_data.as_ref()?.channel.as_ref().map(|c| c.id.as_str())
}

fn team_name(a: &Activity) -> Option<&str> {
    a.channel_data.as_ref()?.team.as_ref()?.name.as_deref()
}

/// A team or channel event: exact kind, eventType, team id, tenant, nobody added or removed.
fn team_event(file: &str, expected: TeamsEventType) -> Activity {
    let a = activity(file);
    let update = conversation_update(&a);
    assert_eq!(event_type(&a), Some(&expected), "{file}");
    assert_eq!(
        a.channel_data.as_ref().unwrap().team.as_ref().unwrap().id,
        TEAM,
        "{file}"
    );
    assert_eq!(a.tenant_id().unwrap(), TENANT, "{file}");
    assert_eq!(scope(&a), Some(&ConversationType::Channel), "{file}");
    assert!(
        update.members_added.is_none() && update.members_removed.is_none(),
        "{file}"
    );
    a
}

type Check = fn(&str);

/// Every fixture file and its checks.
const CASES: &[(&str, Check)] = &[
    ("message_personal.json", |f| {
        let a = activity(f);
        assert!(matches!(a.kind, ActivityKind::Message(_)));
        assert_eq!(a.id.as_ref().unwrap(), "1485983408511");
        assert_eq!(scope(&a), Some(&ConversationType::Personal));
        assert_eq!(a.from.as_ref().unwrap().id, MEGAN);
        assert_eq!(a.recipient.as_ref().unwrap().id, BOT);
        assert_eq!(a.tenant_id().unwrap(), TENANT);
        assert_eq!(
            a.text_without_recipient_mentions().as_deref(),
            Some("Hello Teams TestBot")
        );
    }),
    ("message_group_chat.json", |f| {
        let a = activity(f);
        assert!(matches!(a.kind, ActivityKind::Message(_)));
        assert_eq!(scope(&a), Some(&ConversationType::GroupChat));
        assert_eq!(a.conversation.as_ref().unwrap().is_group, Some(true));
        assert_eq!(a.tenant_id().unwrap(), TENANT);
        assert!(a.mentions_account(BOT));
        assert_eq!(a.text_without_recipient_mentions().as_deref(), Some("help"));
        assert_eq!(a.as_message().unwrap().attachments.as_deref(), Some(&[][..]));
    }),
    ("message_channel_mentions.json", |f| {
        let a = activity(f);
        assert!(matches!(a.kind, ActivityKind::Message(_)));
        assert_eq!(scope(&a), Some(&ConversationType::Channel));
        assert_eq!(
            a.conversation.as_ref().unwrap().id,
            "19:693ecdb923ac4458a5c23661b505fc84@thread.skype;messageid=1676552981471"
        );
        let data = a.channel_data.as_ref().unwrap();
        assert_eq!(data.team.as_ref().unwrap().id, TEAM);
        assert_eq!(data.teams_team_id.as_deref(), Some(TEAM));
        assert_eq!(data.teams_channel_id.as_deref(), Some(TEAM));
        let mentioned: Vec<&str> = a.mentions().map(|m| m.mentioned.id.as_str()).collect();
        assert_eq!(mentioned, [BOT, ADELE, BOT]);
        assert_eq!(
            a.text_without_mentions_of(BOT).as_deref(),
            Some("please ask <at>Adele Vance</at> about the report")
        );
        assert!(matches!(a.entities.as_ref().unwrap()[3], Entity::ClientInfo(_)));
    }),
    ("message_card_submit.json", |f| {
        let a = activity(f);
        let ActivityKind::Message(m) = &a.kind else {
            panic!("{f}")
        };
        assert_eq!(m.text, None);
        assert_eq!(m.value.as_ref().unwrap()["action"], "approve");
        assert_eq!(a.reply_to_id.as_ref().unwrap(), "1676553090000");
        assert_eq!(a.text_without_recipient_mentions(), None);
        assert!(a.channel_data.as_ref().unwrap().extra.contains_key("source"));
    }),
    ("message_outgoing_mention.json", |f| {
        let a = activity(f);
        assert!(matches!(a.kind, ActivityKind::Message(_)));
        let m = a.mentions().next().unwrap();
        assert_eq!(m.mentioned.name.as_deref(), Some("Larry Jin"));
        assert_eq!(m.text.as_deref(), Some("<at>Larry Jin</at>"));
        assert!(a.text().unwrap().contains(m.text.as_deref().unwrap()));
        let image = &a.as_message().unwrap().attachments.as_ref().unwrap()[0];
        assert_eq!(image.content_type, "image/png");
        assert_eq!(a.reply_to_id.as_ref().unwrap(), "3UP4UTkzUk1zzeyW");
        assert_eq!(a.from.as_ref().unwrap().id, "28:9e52142b-5e5e-4d7b-bb3e-e82dcf620000");
    }),
    ("message_update_body.json", |f| {
        let a = activity(f);
        assert!(matches!(a.kind, ActivityKind::Message(_)));
        assert_eq!(a.text(), Some("This message has been updated"));
        assert_eq!(a, Activity::message("This message has been updated"));
    }),
    ("message_unknown_fields.json", |f| {
        let a = activity(f);
        assert!(matches!(a.kind, ActivityKind::Message(_)));
        assert!(a.extra().contains_key("futureTopLevel"));
        let entities = a.entities.as_ref().unwrap();
        assert!(matches!(&entities[0], Entity::Other(e) if e["@type"] == "Message"));
        assert!(matches!(&entities[1], Entity::Mention(m) if m.extra.contains_key("futureMentionField")));
        assert!(matches!(&entities[2], Entity::ClientInfo(c) if c.platform.as_deref() == Some("Mac")));
        assert!(matches!(&entities[3], Entity::Other(_)));
        assert_eq!(entities[3].kind(), "");
        let data = a.channel_data.as_ref().unwrap();
        assert!(data.extra.contains_key("futureChannelData"));
        assert_eq!(data.notification.as_ref().unwrap().alert, Some(true));
        assert!(
            a.conversation
                .as_ref()
                .unwrap()
                .extra
                .contains_key("futureConversationFlag")
        );
    }),
    ("conversation_update_team_member_added_bot.json", |f| {
        let a = activity(f);
        let update = conversation_update(&a);
        assert_eq!(event_type(&a), Some(&TeamsEventType::TeamMemberAdded));
        assert_eq!(ids(update.members_added.as_ref()), [BOT]);
        let data = a.channel_data.as_ref().unwrap();
        assert_eq!(
            data.settings.as_ref().unwrap().selected_channel.as_ref().unwrap().id,
            TEAM
        );
        assert_eq!(team_name(&a), Some("Contoso Sales"));
        assert_eq!(a.tenant_id().unwrap(), TENANT);
        assert_eq!(scope(&a), Some(&ConversationType::Channel));
    }),
    ("conversation_update_team_member_added_user.json", |f| {
        let a = activity(f);
        let update = conversation_update(&a);
        assert_eq!(event_type(&a), Some(&TeamsEventType::TeamMemberAdded));
        assert_eq!(ids(update.members_added.as_ref()), [ADELE]);
        assert!(!ids(update.members_added.as_ref()).contains(&BOT));
    }),
    ("conversation_update_team_member_removed.json", |f| {
        let a = activity(f);
        let update = conversation_update(&a);
        assert_eq!(event_type(&a), Some(&TeamsEventType::TeamMemberRemoved));
        assert_eq!(ids(update.members_removed.as_ref()), [ADELE]);
        assert!(update.members_added.is_none());
    }),
    ("conversation_update_channel_created.json", |f| {
        let a = activity(f);
        let update = conversation_update(&a);
        assert_eq!(update.members_added.as_deref(), Some(&[][..]));
        assert_eq!(event_type(&a), Some(&TeamsEventType::ChannelCreated));
        let data = a.channel_data.as_ref().unwrap();
        assert_eq!(data.channel.as_ref().unwrap().name.as_deref(), Some("My New Channel"));
        assert_eq!(data.team.as_ref().unwrap().id, TEAM);
        assert_eq!(a.tenant_id().unwrap(), TENANT);
        assert_eq!(a.id.as_ref().unwrap(), "f:dd6ec311");
    }),
    ("conversation_update_channel_renamed.json", |f| {
        let a = team_event(f, TeamsEventType::ChannelRenamed);
        assert_eq!(channel_id(&a), Some(NEW_CHANNEL));
        assert_eq!(
            a.channel_data.unwrap().channel.unwrap().name.as_deref(),
            Some("Planning 2023")
        );
    }),
    ("conversation_update_channel_deleted.json", |f| {
        let a = team_event(f, TeamsEventType::ChannelDeleted);
        assert_eq!(channel_id(&a), Some(NEW_CHANNEL));
    }),
    ("conversation_update_channel_restored.json", |f| {
        let a = team_event(f, TeamsEventType::ChannelRestored);
        assert_eq!(channel_id(&a), Some(NEW_CHANNEL));
    }),
    ("conversation_update_team_renamed.json", |f| {
        let a = team_event(f, TeamsEventType::TeamRenamed);
        assert_eq!(team_name(&a), Some("Contoso Sales EMEA"));
        assert_eq!(channel_id(&a), None);
    }),
    ("conversation_update_team_deleted.json", |f| {
        team_event(f, TeamsEventType::TeamDeleted);
    }),
    ("conversation_update_team_archived.json", |f| {
        team_event(f, TeamsEventType::TeamArchived);
    }),
    ("conversation_update_team_unarchived.json", |f| {
        team_event(f, TeamsEventType::TeamUnarchived);
    }),
    ("conversation_update_team_restored.json", |f| {
        team_event(f, TeamsEventType::TeamRestored);
    }),
    ("conversation_update_team_hard_deleted.json", |f| {
        let a = team_event(f, TeamsEventType::TeamHardDeleted);
        assert_eq!(event_type(&a).unwrap().as_str(), "teamHardDeleted");
    }),
    ("conversation_update_personal_bot_added.json", |f| {
        let a = activity(f);
        let update = conversation_update(&a);
        assert_eq!(event_type(&a), None);
        assert_eq!(scope(&a), Some(&ConversationType::Personal));
        assert_eq!(ids(update.members_added.as_ref()), [MEGAN, BOT]);
        assert_eq!(a.tenant_id().unwrap(), TENANT);
    }),
    ("installation_update_add.json", |f| {
        let a = activity(f);
        let ActivityKind::InstallationUpdate(i) = &a.kind else {
            panic!("{f}")
        };
        assert_eq!(i.action, Some(InstallationAction::Add));
        assert_eq!(scope(&a), Some(&ConversationType::Personal));
        assert_eq!(a.from.as_ref().unwrap().id, MEGAN);
        assert_eq!(a.tenant_id().unwrap(), TENANT);
    }),
    ("installation_update_add_team.json", |f| {
        let a = activity(f);
        let ActivityKind::InstallationUpdate(i) = &a.kind else {
            panic!("{f}")
        };
        assert_eq!(i.action, Some(InstallationAction::Add));
        assert_eq!(scope(&a), Some(&ConversationType::Channel));
        assert_eq!(a.channel_data.as_ref().unwrap().team.as_ref().unwrap().id, TEAM);
    }),
    ("installation_update_remove.json", |f| {
        let a = activity(f);
        let ActivityKind::InstallationUpdate(i) = &a.kind else {
            panic!("{f}")
        };
        assert_eq!(i.action, Some(InstallationAction::Remove));
        assert_eq!(a.id.as_ref().unwrap(), "f:9a8b7c6d-remove");
    }),
    ("message_reaction_added.json", |f| {
        let a = activity(f);
        let ActivityKind::MessageReaction(r) = &a.kind else {
            panic!("{f}")
        };
        let added: Vec<&str> = r
            .reactions_added
            .iter()
            .flatten()
            .map(|r| r.reaction_type.as_str())
            .collect();
        assert_eq!(added, ["like", "heart"]);
        assert!(r.reactions_removed.is_none());
        assert_eq!(a.reply_to_id.as_ref().unwrap(), "1676553010123");
    }),
    ("message_reaction_removed.json", |f| {
        let a = activity(f);
        let ActivityKind::MessageReaction(r) = &a.kind else {
            panic!("{f}")
        };
        assert_eq!(r.reactions_removed.as_ref().unwrap()[0].reaction_type, "laugh");
        assert_eq!(scope(&a), Some(&ConversationType::Channel));
    }),
    ("invoke_adaptive_card_action.json", |f| {
        let a = activity(f);
        let ActivityKind::Invoke(i) = &a.kind else {
            panic!("{f}")
        };
        assert_eq!(i.name.as_deref(), Some("adaptiveCard/action"));
        let value = i.value.as_ref().unwrap();
        assert_eq!(value["action"]["verb"], "approve");
        assert_eq!(value["action"]["type"], "Action.Execute");
    }),
    ("event_meeting_start.json", |f| {
        let a = activity(f);
        let ActivityKind::Event(e) = &a.kind else { panic!("{f}") };
        assert_eq!(e.name.as_deref(), Some("application/vnd.microsoft.meetingStart"));
        assert_eq!(e.value.as_ref().unwrap()["Title"], "Weekly sync");
        assert!(a.channel_data.as_ref().unwrap().extra.contains_key("meeting"));
    }),
    ("typing.json", |f| {
        let a = activity(f);
        assert!(matches!(a.kind, ActivityKind::Typing(_)));
        assert_eq!(a.text(), None);
        assert!(a.extra().is_empty());
    }),
    ("message_update.json", |f| {
        let a = activity(f);
        assert!(matches!(a.kind, ActivityKind::MessageUpdate(_)));
        assert_eq!(a.text(), Some("<at>Teams TestBot</at> help me please"));
        assert_eq!(event_type(&a), Some(&TeamsEventType::Other("editMessage".to_owned())));
        assert!(a.as_message().is_none());
    }),
    ("message_delete.json", |f| {
        let a = activity(f);
        assert!(matches!(a.kind, ActivityKind::MessageDelete(_)));
        assert_eq!(a.id.as_ref().unwrap(), "1676553010123");
        assert_eq!(event_type(&a).unwrap().as_str(), "softDeleteMessage");
    }),
    ("unknown_type_handoff.json", |f| {
        let a = activity(f);
        let ActivityKind::Unknown { activity_type, fields } = &a.kind else {
            panic!("{f}")
        };
        assert_eq!(activity_type, "handoff");
        assert_eq!(fields["text"], "transfer");
        assert_eq!(fields["value"]["skill"], "billing");
        assert_eq!(a.text(), None);
        assert_eq!(a.tenant_id().unwrap(), TENANT);
    }),
    ("connector_create_conversation_request_personal.json", |f| {
        let p: ConversationParameters = body(f);
        assert_eq!(
            p.bot.as_ref().unwrap().id,
            "28:10j12ou0d812-2o1098-c1mjojzldxcj-1098028n "
        );
        assert_eq!(p.members.as_ref().unwrap()[0].id, "29:012d20j1cjo20211");
        assert_eq!(
            p.channel_data.unwrap().tenant_id().unwrap(),
            "197231joe-1209j01821-012kdjoj"
        );
        assert_eq!(p.is_group, None);
    }),
    ("connector_create_conversation_response_personal.json", |f| {
        let r: ConversationResourceResponse = body(f);
        assert!(r.id.as_str().starts_with("a:1qhNLqpUtmuI6U35"));
        assert_eq!(r.activity_id, None);
    }),
    ("connector_create_conversation_request_channel.json", |f| {
        let p: ConversationParameters = body(f);
        assert_eq!(p.is_group, Some(true));
        assert_eq!(p.topic_name.as_deref(), Some("Test Conversation"));
        assert_eq!(p.channel_data.unwrap().channel.unwrap().id, NEW_CHANNEL);
        assert_eq!(p.activity.unwrap().text(), Some("Hello, on a new thread"));
    }),
    ("connector_create_conversation_response_channel.json", |f| {
        let r: ConversationResourceResponse = body(f);
        assert_eq!(r.activity_id.unwrap(), "1676553600777");
        assert!(r.id.as_str().ends_with(";messageid=1676553600777"));
    }),
    ("connector_resource_response.json", |f| {
        let r: ResourceResponse = body(f);
        assert_eq!(r.id, "1:1Xf6cZ0Q5m8rJqkYyW2Vv3tN9h");
    }),
    ("connector_paged_members.json", |f| {
        let p: PagedMembersResult = body(f);
        assert_eq!(
            p.continuation_token.as_deref(),
            Some("a0d1f2e3-VGhpcyBpcyBhIGNvbnRpbnVhdGlvbiB0b2tlbg==")
        );
        let names: Vec<_> = p.members.iter().map(|m| m.name.as_deref().unwrap()).collect();
        assert_eq!(names, ["Megan Bowen", "Adele Vance"]);
        assert_eq!(p.members[0].user_principal_name.as_deref(), Some("meganb@contoso.com"));
        assert_eq!(p.members[1].tenant_id.as_ref().unwrap(), TENANT);
        assert!(p.members[0].extra.contains_key("objectId"));
        assert_eq!(p.members[0].to_channel_account().id, MEGAN);
    }),
    ("connector_team_details.json", |f| {
        let t: TeamDetails = body(f);
        assert_eq!(t.id, TEAM);
        assert_eq!((t.channel_count, t.member_count), (Some(3), Some(42)));
        assert_eq!(t.team_type.as_deref(), Some("standard"));
    }),
    ("connector_channel_list.json", |f| {
        let l: ConversationList = body(f);
        let ids: Vec<_> = l.conversations.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids[0], TEAM);
        assert_eq!(l.conversations[0].name, None);
        assert_eq!(l.conversations[1].name.as_deref(), Some("Planning"));
        assert_eq!(ids.len(), 3);
    }),
    ("connector_error_bot_not_in_roster.json", |f| {
        let e: ErrorResponse = body(f);
        assert_eq!(e.error.code, "BotNotInConversationRoster");
        assert!(e.error.message.contains("roster"));
    }),
];

#[test]
fn every_fixture_has_its_exact_kind_key_fields_and_a_lossless_round_trip() {
    for (file, check) in CASES {
        check(file);
    }
}

#[test]
fn every_fixture_file_is_checked_and_there_are_enough() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    let checked: BTreeSet<String> = CASES.iter().map(|(f, _)| (*f).to_owned()).collect();
    assert_eq!(checked.len(), CASES.len(), "a fixture is listed twice");
    assert_eq!(on_disk, checked);
    assert!(on_disk.len() >= 25, "{}", on_disk.len());
}

#[test]
fn all_twelve_event_types_have_a_fixture() {
    let mut seen = BTreeSet::new();
    for (file, _) in CASES.iter().filter(|(f, _)| f.starts_with("conversation_update_")) {
        let a = Activity::from_slice(fixture(file).as_bytes()).unwrap();
        if let Some(t) = event_type(&a) {
            assert!(!matches!(t, TeamsEventType::Other(_)), "{file}: {t}");
            seen.insert(t.as_str().to_owned());
        }
    }
    assert_eq!(seen.len(), 12, "{seen:?}");
}

#[test]
fn explicit_nulls_of_known_fields_are_dropped_unknown_kept() {
    let raw = r#"{"type":"message","id":null,"text":null,"channelData":{"tenant":null,"future":null},"novel":null}"#;
    let a = Activity::from_slice(raw.as_bytes()).unwrap();
    assert_eq!(a.id, None);
    assert_eq!(a.text(), None);
    let back = serde_json::to_value(&a).unwrap();
    assert_eq!(
        back,
        serde_json::json!({"type": "message", "channelData": {"future": null}, "novel": null})
    );
}

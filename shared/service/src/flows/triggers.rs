//! Install, first-contact and uninstall triggers, and the welcome texts.
//!
//! [`welcome_triggers`] only says what an activity claims; the store decides "first" with a first-writer-wins
//! write (one claim per team, one per tenant + user), so Teams' 2-4 duplicate deliveries of an install, and an
//! `installationUpdate` arriving beside a `conversationUpdate`, still give one welcome.
//!
//! | activity | scope | trigger |
//! | --- | --- | --- |
//! | `conversationUpdate`, the bot in `membersAdded` (any `eventType`) | team: its General channel | [`WelcomeTrigger::TeamInstall`] |
//! | `conversationUpdate`, the bot in `membersAdded`, `channelData.settings.selectedChannel` set | team, the channel the installer selected | [`WelcomeTrigger::TeamInstall`], welcoming in that channel |
//! | `conversationUpdate`, the bot in `membersAdded` | team, another channel than General, none selected | none (the bot is installed per team; only the team install welcomes) |
//! | `installationUpdate` `add` | team | [`WelcomeTrigger::TeamInstall`] (in the selected channel when it names one) |
//! | `conversationUpdate` with the bot in `membersAdded`, or `installationUpdate` `add` | personal | [`WelcomeTrigger::FirstPersonalContact`] |
//! | `message` from a user | personal | [`WelcomeTrigger::FirstPersonalContact`] |
//! | the bot added, or `installationUpdate` `add` | group chat | none: docs/contract.md welcomes teams and personal chats only |
//! | `installationUpdate` `add-upgrade` | any | none: an app upgrade, not an install |
//! | channel created, renamed, deleted, restored; team renamed...; a user (not the bot) added or removed | any | none |
//! | `installationUpdate` `remove` or `remove-upgrade` (an upgrade to a version without the bot), or the bot in `membersRemoved` | any | [`WelcomeTrigger::Uninstalled`] |
//!
//! A team is recognised by `channelData.team` (or the deprecated `teamsTeamId`) or a `channel` conversation; a
//! personal chat by `conversationType: personal` (or, without a type, no team and `isGroup` not true).
//! Install and first-contact triggers need the activity's `serviceUrl` (where the welcome goes); without one
//! there is none.

use crate::api::{BotIdentity, Scope};
use models::{Activity, ActivityKind, ChannelAccount, ConversationId, ConversationType, InstallationAction, TenantId};

/// What an activity says about installs and first contacts.
#[derive(Clone, Debug, PartialEq)]
pub enum WelcomeTrigger {
    /// The bot was installed in a team: one welcome in the channel the installer selected, else its General
    /// channel (and, with `WELCOME_ROSTER=true`, a 1:1 welcome to each member). Claim once per `team_id`; a
    /// later delivery that names the selected channel points the claim at it.
    TeamInstall {
        team_id: String,
        /// Where the team welcome goes: the selected channel, else the General channel (the team's id).
        welcome_channel: ConversationId,
        /// Whether `welcome_channel` was selected by the installer (`channelData.settings.selectedChannel`).
        selected: bool,
        team_name: Option<String>,
        tenant: Option<TenantId>,
        service_url: String,
        /// The bot as the activity names it (`recipient`).
        bot: ChannelAccount,
    },
    /// A user installed the bot personally or wrote to it in a 1:1 chat: one personal welcome per tenant + user,
    /// the first time only.
    FirstPersonalContact {
        tenant: Option<TenantId>,
        user: ChannelAccount,
        /// The 1:1 chat the welcome goes to.
        conversation: ConversationId,
        service_url: String,
        bot: ChannelAccount,
    },
    /// The bot was removed from this conversation (for a team: from the whole team): mark it inactive and stop
    /// sending there.
    Uninstalled {
        conversation: ConversationId,
        team_id: Option<String>,
        tenant: Option<TenantId>,
    },
}

/// The install, first-contact and uninstall triggers `activity` carries (usually none or one). The bot is
/// recognised by its id in `recipient.id` or [`BotIdentity::id`], whatever `channelData.eventType` says.
#[must_use]
pub fn welcome_triggers(activity: &Activity, bot: &BotIdentity) -> Vec<WelcomeTrigger> {
    let recipient = activity.recipient.as_ref();
    let is_me = |a: &ChannelAccount| bot.is_me(&a.id, recipient);
    let mut out = Vec::new();
    match &activity.kind {
        ActivityKind::ConversationUpdate(update) => {
            if update.members_removed.iter().flatten().any(is_me) {
                out.extend(uninstalled(activity));
            }
            if update.members_added.iter().flatten().any(is_me) {
                match Scope::of(activity) {
                    Scope::Team if in_general_channel(activity) || selected_channel(activity).is_some() => {
                        out.extend(team_install(activity, bot));
                    }
                    Scope::Personal => out.extend(personal_contact(activity, bot)),
                    Scope::Team | Scope::GroupChat => {}
                }
            }
        }
        ActivityKind::InstallationUpdate(update) => match update.action {
            Some(InstallationAction::Add) => match Scope::of(activity) {
                Scope::Team => out.extend(team_install(activity, bot)),
                Scope::Personal => out.extend(personal_contact(activity, bot)),
                Scope::GroupChat => {}
            },
            // `remove-upgrade`: the app was upgraded to a version without the bot, which removes it.
            Some(InstallationAction::Remove | InstallationAction::RemoveUpgrade) => out.extend(uninstalled(activity)),
            // An upgrade that keeps the bot is not an install; an unknown or missing action says nothing.
            Some(InstallationAction::AddUpgrade | InstallationAction::Other(_)) | None => {}
        },
        ActivityKind::Message(_) => {
            if Scope::of(activity) == Scope::Personal {
                out.extend(personal_contact(activity, bot));
            }
        }
        ActivityKind::MessageUpdate(_)
        | ActivityKind::MessageDelete(_)
        | ActivityKind::MessageReaction(_)
        | ActivityKind::Invoke(_)
        | ActivityKind::Event(_)
        | ActivityKind::Typing(_)
        | ActivityKind::Unknown { .. } => {}
    }
    out
}

/// Whether a team-scoped conversationUpdate is about the team itself (its General channel, whose id is the
/// team's) rather than another channel.
fn in_general_channel(activity: &Activity) -> bool {
    let (Some(team), Some(conversation)) = (team_id(activity), activity.conversation.as_ref()) else {
        return true;
    };
    base_conversation_id(conversation.id.as_str()) == team
}

fn team_install(activity: &Activity, bot: &BotIdentity) -> Option<WelcomeTrigger> {
    let conversation = activity.conversation.as_ref();
    let team_id = team_id(activity).or_else(|| conversation.map(|c| base_conversation_id(c.id.as_str()).to_owned()))?;
    let team_name = activity
        .channel_data
        .as_ref()
        .and_then(|d| d.team.as_ref())
        .and_then(|t| t.name.clone());
    let selected = selected_channel(activity);
    Some(WelcomeTrigger::TeamInstall {
        welcome_channel: selected
            .clone()
            .unwrap_or_else(|| ConversationId::from(team_id.as_str())),
        selected: selected.is_some(),
        team_id,
        team_name,
        tenant: activity.tenant_id().cloned(),
        service_url: activity.service_url.clone().filter(|s| !s.is_empty())?,
        bot: recipient_or(activity, bot),
    })
}

/// `channelData.settings.selectedChannel.id`: the channel the installer picked for the bot.
fn selected_channel(activity: &Activity) -> Option<ConversationId> {
    let data = activity.channel_data.as_ref()?;
    let id = &data.settings.as_ref()?.selected_channel.as_ref()?.id;
    (!id.is_empty()).then(|| ConversationId::from(id.as_str()))
}

fn personal_contact(activity: &Activity, bot: &BotIdentity) -> Option<WelcomeTrigger> {
    let user = activity.from.clone()?;
    if user.id.is_empty() || bot.is_me(&user.id, activity.recipient.as_ref()) {
        return None;
    }
    Some(WelcomeTrigger::FirstPersonalContact {
        tenant: activity.tenant_id().cloned(),
        user,
        conversation: activity.conversation.as_ref()?.id.clone(),
        service_url: activity.service_url.clone().filter(|s| !s.is_empty())?,
        bot: recipient_or(activity, bot),
    })
}

fn uninstalled(activity: &Activity) -> Option<WelcomeTrigger> {
    Some(WelcomeTrigger::Uninstalled {
        conversation: activity.conversation.as_ref()?.id.clone(),
        team_id: team_id(activity),
        tenant: activity.tenant_id().cloned(),
    })
}

fn recipient_or(activity: &Activity, bot: &BotIdentity) -> ChannelAccount {
    activity.recipient.clone().unwrap_or_else(|| bot.account())
}

/// The team id of a channel context: `channelData.team.id`, else the deprecated `teamsTeamId`.
#[must_use]
pub fn team_id(activity: &Activity) -> Option<String> {
    let data = activity.channel_data.as_ref()?;
    data.team
        .as_ref()
        .map(|t| t.id.clone())
        .or_else(|| data.teams_team_id.clone())
        .filter(|t| !t.is_empty())
}

/// The conversation id without a channel reply chain's `;messageid=...` suffix.
#[must_use]
pub fn base_conversation_id(id: &str) -> &str {
    id.split_once(";messageid=").map_or(id, |(base, _)| base)
}

/// Whether the activity comes from a channel or a group chat (where the bot hears only what @mentions it).
#[must_use]
pub fn is_group(activity: &Activity) -> bool {
    let Some(c) = activity.conversation.as_ref() else {
        return false;
    };
    match &c.conversation_type {
        Some(ConversationType::Channel | ConversationType::GroupChat) => true,
        Some(ConversationType::Personal) => false,
        _ => c.is_group == Some(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const BOT_ID: &str = "28:c9e8c047-2a74-40a2-b28a-b162d5f5327c";
    const TEAM: &str = "19:efa9296d959346209fea44151c742e73@thread.skype";
    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";

    fn bot() -> BotIdentity {
        BotIdentity::new(BOT_ID, "Echo Bot")
    }

    fn fixture_json(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }

    fn triggers_of(v: Value) -> Vec<WelcomeTrigger> {
        welcome_triggers(&Activity::from_value(v).unwrap(), &bot())
    }

    fn triggers(name: &str) -> Vec<WelcomeTrigger> {
        triggers_of(fixture_json(name))
    }

    fn team_install() -> WelcomeTrigger {
        WelcomeTrigger::TeamInstall {
            team_id: TEAM.to_owned(),
            welcome_channel: ConversationId::from(TEAM),
            selected: false,
            team_name: Some("Contoso".to_owned()),
            tenant: Some(TenantId::from(TENANT)),
            service_url: SERVICE_URL.to_owned(),
            bot: ChannelAccount::new(BOT_ID, Some("Echo Bot".to_owned())),
        }
    }

    fn personal_contact() -> WelcomeTrigger {
        WelcomeTrigger::FirstPersonalContact {
            tenant: Some(TenantId::from(TENANT)),
            user: ChannelAccount {
                aad_object_id: Some("7faf8ab2-3d56-4244-b585-20c8a42ed2b8".to_owned()),
                ..ChannelAccount::new("29:1alice", Some("Alice Example".to_owned()))
            },
            conversation: ConversationId::from("a:1personal-chat-id"),
            service_url: SERVICE_URL.to_owned(),
            bot: ChannelAccount::new(BOT_ID, Some("Echo Bot".to_owned())),
        }
    }

    #[test]
    fn bot_added_to_a_team_is_a_team_install_in_the_general_channel() {
        assert_eq!(triggers("conversation_update_team_install"), vec![team_install()]);
    }

    #[test]
    fn the_event_type_does_not_matter_for_the_install() {
        for event_type in [
            json!("teamsAddMembers"),
            json!("channelCreated"),
            json!("somethingNew"),
            Value::Null,
        ] {
            let mut v = fixture_json("conversation_update_team_install");
            v["channelData"]["eventType"] = event_type.clone();
            assert_eq!(triggers_of(v), vec![team_install()], "eventType {event_type}");
        }
    }

    #[test]
    fn installation_update_add_in_a_team_is_a_team_install_in_the_selected_channel() {
        let mut selected = team_install();
        if let WelcomeTrigger::TeamInstall {
            welcome_channel,
            selected: picked,
            ..
        } = &mut selected
        {
            *welcome_channel = ConversationId::from("19:2c3ba5c6f3b94b4b8e1d1a1f7e1d2a3b@thread.skype");
            *picked = true;
        }
        assert_eq!(triggers("installation_update_team_add"), vec![selected.clone()]);
        let mut v = fixture_json("installation_update_team_add");
        v["conversation"]["id"] = json!("19:other@thread.skype");
        assert_eq!(triggers_of(v), vec![selected]);
        let mut v = fixture_json("installation_update_team_add");
        v["channelData"].as_object_mut().unwrap().remove("settings");
        assert_eq!(triggers_of(v), vec![team_install()], "none selected: General");
    }

    #[test]
    fn a_team_without_channel_data_team_is_known_by_its_channel_conversation() {
        let mut v = fixture_json("conversation_update_team_install");
        v["channelData"] = json!({"tenant": {"id": TENANT}});
        let [
            WelcomeTrigger::TeamInstall {
                team_id,
                welcome_channel,
                team_name,
                ..
            },
        ] = &triggers_of(v)[..]
        else {
            panic!("expected one team install");
        };
        assert_eq!(
            (team_id.as_str(), welcome_channel.as_str(), team_name),
            (TEAM, TEAM, &None)
        );
    }

    #[test]
    fn the_bot_is_recognised_by_the_recipient_id_too() {
        let anonymous = BotIdentity::new("", "Echo Bot");
        let a = Activity::from_value(fixture_json("conversation_update_team_install")).unwrap();
        assert_eq!(welcome_triggers(&a, &anonymous), vec![team_install()]);
    }

    #[test]
    fn personal_install_conversation_update_and_first_message_are_the_same_personal_claim() {
        for name in [
            "installation_update_personal_add",
            "conversation_update_personal_bot_added",
            "message_personal",
        ] {
            assert_eq!(triggers(name), vec![personal_contact()], "{name}");
        }
    }

    #[test]
    fn no_welcome_for_channel_events_users_added_group_chats_other_channels_or_upgrades() {
        for name in [
            "conversation_update_channel_created",
            "conversation_update_channel_renamed",
            "conversation_update_user_added",
            "conversation_update_groupchat_bot_added",
            "conversation_update_private_channel_bot_added",
            "installation_update_groupchat_add",
            "installation_update_team_upgrade",
            "message_channel_mention",
            "message_groupchat_mention",
            "card_submit_vote",
            "invoke_adaptive_card_action",
            "message_reaction",
        ] {
            assert_eq!(triggers(name), vec![], "{name}");
        }
    }

    #[test]
    fn a_user_added_to_a_personal_chat_or_a_message_from_the_bot_is_no_contact() {
        let mut v = fixture_json("conversation_update_personal_bot_added");
        v["membersAdded"] = json!([{"id": "29:1alice"}]);
        assert_eq!(triggers_of(v), vec![]);
        let mut v = fixture_json("message_personal");
        v["from"] = json!({"id": BOT_ID});
        assert_eq!(triggers_of(v), vec![]);
    }

    #[test]
    fn no_service_url_means_no_welcome() {
        let mut v = fixture_json("conversation_update_team_install");
        v.as_object_mut().unwrap().remove("serviceUrl");
        assert_eq!(triggers_of(v), vec![]);
        let mut v = fixture_json("message_personal");
        v["serviceUrl"] = json!("");
        assert_eq!(triggers_of(v), vec![]);
    }

    #[test]
    fn removal_of_the_bot_is_an_uninstall() {
        assert_eq!(
            triggers("conversation_update_bot_removed_team"),
            vec![WelcomeTrigger::Uninstalled {
                conversation: ConversationId::from(TEAM),
                team_id: Some(TEAM.to_owned()),
                tenant: Some(TenantId::from(TENANT)),
            }]
        );
        assert_eq!(
            triggers("installation_update_personal_remove"),
            vec![WelcomeTrigger::Uninstalled {
                conversation: ConversationId::from("a:1personal-chat-id"),
                team_id: None,
                tenant: Some(TenantId::from(TENANT)),
            }]
        );
        let mut v = fixture_json("conversation_update_user_added");
        v["membersRemoved"] = v["membersAdded"].take();
        assert_eq!(triggers_of(v), vec![], "a user removed is no uninstall");
    }

    #[test]
    fn an_install_with_a_selected_channel_welcomes_there() {
        const SELECTED: &str = "19:ops-channel@thread.skype";
        let selected = |v: &mut Value| {
            v["channelData"]["settings"] = json!({"selectedChannel": {"id": SELECTED}});
        };
        let expected = || WelcomeTrigger::TeamInstall {
            team_id: TEAM.to_owned(),
            welcome_channel: ConversationId::from(SELECTED),
            selected: true,
            team_name: Some("Contoso".to_owned()),
            tenant: Some(TenantId::from(TENANT)),
            service_url: SERVICE_URL.to_owned(),
            bot: ChannelAccount::new(BOT_ID, Some("Echo Bot".to_owned())),
        };
        // Microsoft's documented shape: the bot-added conversationUpdate in the selected channel.
        let mut v = fixture_json("conversation_update_team_install");
        v["conversation"]["id"] = json!(SELECTED);
        selected(&mut v);
        assert_eq!(triggers_of(v), vec![expected()]);
        // The same in General, and an installationUpdate naming it.
        let mut v = fixture_json("conversation_update_team_install");
        selected(&mut v);
        assert_eq!(triggers_of(v), vec![expected()]);
        let mut v = fixture_json("installation_update_team_add");
        selected(&mut v);
        assert_eq!(triggers_of(v), vec![expected()]);
        // Another channel without a selection is still no install.
        let mut v = fixture_json("conversation_update_team_install");
        v["conversation"]["id"] = json!(SELECTED);
        assert_eq!(triggers_of(v), vec![]);
    }
}

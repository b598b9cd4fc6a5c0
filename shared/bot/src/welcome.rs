//! Install, first-contact and uninstall triggers, and the welcome texts.
//!
//! [`welcome_triggers`] only says what an activity claims; the store decides "first" with a first-writer-wins
//! write (one claim per team, one per tenant + user), so Teams' 2-4 duplicate deliveries of an install, and an
//! `installationUpdate` arriving beside a `conversationUpdate`, still give one welcome.
//!
//! | activity | scope | trigger |
//! | --- | --- | --- |
//! | `conversationUpdate`, the bot in `membersAdded` (any `eventType`) | team: its General channel | [`WelcomeTrigger::TeamInstall`] |
//! | `conversationUpdate`, the bot in `membersAdded` | team, another channel than General | none (the bot is installed per team; only the team install welcomes) |
//! | `installationUpdate` `add` | team | [`WelcomeTrigger::TeamInstall`] |
//! | `conversationUpdate` with the bot in `membersAdded`, or `installationUpdate` `add` | personal | [`WelcomeTrigger::FirstPersonalContact`] |
//! | `message` from a user | personal | [`WelcomeTrigger::FirstPersonalContact`] |
//! | the bot added, or `installationUpdate` `add` | group chat | none: CONTRACT.md welcomes teams and personal chats only |
//! | `installationUpdate` `add-upgrade` / `remove-upgrade` | any | none: an app upgrade, not an install |
//! | channel created, renamed, deleted, restored; team renamed...; a user (not the bot) added or removed | any | none |
//! | `installationUpdate` `remove`, or the bot in `membersRemoved` | any | [`WelcomeTrigger::Uninstalled`] |
//!
//! A team is recognised by `channelData.team` (or the deprecated `teamsTeamId`) or a `channel` conversation; a
//! personal chat by `conversationType: personal` (or, without a type, no team and `isGroup` not true).
//! Install and first-contact triggers need the activity's `serviceUrl` (where the welcome goes); without one
//! there is none.

use crate::BotIdentity;
use crate::decide::{base_conversation_id, team_id};
use models::{Activity, ActivityKind, ChannelAccount, ConversationId, ConversationType, InstallationAction, TenantId};

/// What an activity says about installs and first contacts.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum WelcomeTrigger {
    /// The bot was installed in a team: one welcome in its General channel (and, with `WELCOME_ROSTER=true`, a
    /// 1:1 welcome to each member). Claim once per `team_id`.
    TeamInstall {
        team_id: String,
        /// Where the team welcome goes: the General channel, whose id is the team's.
        general_channel_id: ConversationId,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    Team,
    Personal,
    GroupChat,
}

fn scope(activity: &Activity) -> Scope {
    let conversation = activity.conversation.as_ref();
    if team_id(activity).is_some() {
        return Scope::Team;
    }
    match conversation.and_then(|c| c.conversation_type.as_ref()) {
        Some(ConversationType::Channel) => Scope::Team,
        Some(ConversationType::Personal) => Scope::Personal,
        Some(ConversationType::GroupChat) => Scope::GroupChat,
        _ if conversation.and_then(|c| c.is_group) == Some(true) => Scope::GroupChat,
        _ => Scope::Personal,
    }
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
                match scope(activity) {
                    Scope::Team if in_general_channel(activity) => out.extend(team_install(activity, bot)),
                    Scope::Personal => out.extend(personal_contact(activity, bot)),
                    Scope::Team | Scope::GroupChat => {}
                }
            }
        }
        ActivityKind::InstallationUpdate(update) => match update.action {
            Some(InstallationAction::Add) => match scope(activity) {
                Scope::Team => out.extend(team_install(activity, bot)),
                Scope::Personal => out.extend(personal_contact(activity, bot)),
                Scope::GroupChat => {}
            },
            Some(InstallationAction::Remove) => out.extend(uninstalled(activity)),
            _ => {}
        },
        ActivityKind::Message(_) if scope(activity) == Scope::Personal => {
            out.extend(personal_contact(activity, bot));
        }
        _ => {}
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
    let team_name = activity.channel_data.as_ref().and_then(|d| d.team.as_ref()).and_then(|t| t.name.clone());
    Some(WelcomeTrigger::TeamInstall {
        general_channel_id: ConversationId::from(team_id.as_str()),
        team_id,
        team_name,
        tenant: activity.tenant_id().cloned(),
        service_url: activity.service_url.clone().filter(|s| !s.is_empty())?,
        bot: recipient_or(activity, bot),
    })
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

/// The welcome posted in a team's General channel when the bot is installed.
#[must_use]
pub fn team_welcome(team_name: Option<&str>, bot_name: &str) -> Activity {
    let team = team_name.filter(|n| !n.trim().is_empty()).map_or_else(String::new, |n| format!(" {n}"));
    Activity::message(format!(
        "Welcome, team{team}! I am {bot_name}, just added to this team. @mention me with help to see what I can do."
    ))
}

/// The welcome of a user's first personal chat.
#[must_use]
pub fn personal_welcome(user_name: Option<&str>, bot_name: &str) -> Activity {
    let name = user_name.filter(|n| !n.trim().is_empty()).map_or_else(String::new, |n| format!(", {n}"));
    Activity::message(format!("Welcome{name}! I am {bot_name}. Send help to see what I can do."))
}

/// The 1:1 welcome to each member of a team the bot was added to (when `WELCOME_ROSTER=true`).
#[must_use]
pub fn roster_welcome(user_name: Option<&str>, team_name: Option<&str>, bot_name: &str) -> Activity {
    let name = user_name.filter(|n| !n.trim().is_empty()).map_or_else(String::new, |n| format!(", {n}"));
    let team = team_name.filter(|n| !n.trim().is_empty()).unwrap_or("your team");
    Activity::message(format!(
        "Welcome{name}! I am {bot_name}, just added to {team}. Send help here to see what I can do."
    ))
}

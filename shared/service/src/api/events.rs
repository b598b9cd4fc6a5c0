//! What Teams delivers, as the handlers of a [`crate::api::Bot`] see it: one small type per event, each keeping
//! the whole inbound [`Activity`] at hand for anything not lifted out.

use crate::api::invokes::{
    ActionInvoke, CardActionResponse, DialogInvoke, DialogResponse, InvokeError, SearchInvoke, SearchResponse, to_json,
};
use models::{Activity, ActivityId, ChannelAccount, ConversationType, Message, TeamsEventType, TenantId};
use serde_json::{Value, json};
use store::Timestamp;

/// Where a conversation lives: Teams' three bot scopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A 1:1 chat between one user and the bot.
    Personal,
    /// A group chat.
    GroupChat,
    /// A channel of a team.
    Team,
}

impl Scope {
    /// The scope of an inbound activity: a team when it names one (or is in a `channel` conversation), else the
    /// conversation's type (a conversation without a type is a group chat when `isGroup`, else personal).
    #[must_use]
    pub fn of(activity: &Activity) -> Self {
        if crate::flows::triggers::team_id(activity).is_some() {
            return Self::Team;
        }
        let conversation = activity.conversation.as_ref();
        match conversation.and_then(|c| c.conversation_type.as_ref()) {
            Some(ConversationType::Channel) => Self::Team,
            Some(ConversationType::Personal) => Self::Personal,
            Some(ConversationType::GroupChat) => Self::GroupChat,
            Some(ConversationType::Other(_)) | None => {
                if conversation.and_then(|c| c.is_group) == Some(true) {
                    Self::GroupChat
                } else {
                    Self::Personal
                }
            }
        }
    }
}

/// A message a user sent to the bot.
///
/// In channels and group chats, only messages that @mention the bot reach [`crate::api::Bot::on_message`] (Teams
/// delivers only those in channels); the bot's own mentions are already removed from [`Self::text`].
#[derive(Clone, Debug)]
pub struct IncomingMessage<'a> {
    /// The text with every mention of the bot removed, trimmed. Other users' mentions stay as `<at>Name</at>`.
    pub text: String,
    /// Who wrote it.
    pub from: &'a ChannelAccount,
    /// Where it was written.
    pub scope: Scope,
    /// The tenant (`channelData.tenant.id`), when Teams named one.
    pub tenant: Option<&'a TenantId>,
    /// The message's own fields (attachments, entities, `textFormat`, ...).
    pub message: &'a Message,
    /// The whole inbound activity.
    pub activity: &'a Activity,
}

/// A user edited a message (`messageUpdate`, `channelData.eventType: editMessage`; an undelete is an edit too).
#[derive(Clone, Debug)]
pub struct MessageEdit<'a> {
    /// The id of the edited message: the same as the original message's.
    pub message_id: &'a ActivityId,
    /// The new text, the bot's mentions removed, trimmed.
    pub text: String,
    /// Who edited it.
    pub from: Option<&'a ChannelAccount>,
    /// The whole inbound activity.
    pub activity: &'a Activity,
}

/// A user deleted a message (`messageDelete`).
#[derive(Clone, Debug)]
pub struct MessageDeleted<'a> {
    /// The id of the deleted message.
    pub message_id: &'a ActivityId,
    /// Who deleted it.
    pub from: Option<&'a ChannelAccount>,
    /// The whole inbound activity.
    pub activity: &'a Activity,
}

/// Reactions added to or removed from a message (`messageReaction`).
#[derive(Clone, Debug)]
pub struct ReactionsChanged<'a> {
    /// The message reacted to (`replyToId`).
    pub message_id: Option<&'a ActivityId>,
    /// Reaction types added (`like`, `heart`, ...).
    pub added: Vec<&'a str>,
    /// Reaction types removed.
    pub removed: Vec<&'a str>,
    /// Who reacted.
    pub from: Option<&'a ChannelAccount>,
    /// The whole inbound activity.
    pub activity: &'a Activity,
}

/// The bot was added to, or removed from, a conversation (`installationUpdate`, or the bot in `membersAdded` /
/// `membersRemoved`). Delivered once per delivery Teams makes (Teams sends 2-4 per install): for a welcome sent
/// exactly once, use [`crate::api::Bot::team_welcome`] and [`crate::api::Bot::personal_welcome`].
#[derive(Clone, Debug)]
pub struct Installation<'a> {
    /// What happened.
    pub action: InstallAction,
    /// Where.
    pub scope: Scope,
    /// The whole inbound activity.
    pub activity: &'a Activity,
}

/// What an [`Installation`] says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstallAction {
    /// The app was installed, or the bot added to the conversation.
    Added,
    /// The app was uninstalled (`remove`, or `remove-upgrade`: upgraded to a version without the bot), or the bot
    /// removed; the runtime has already marked the conversation inactive.
    Removed,
    /// The app was upgraded to a new version (`add-upgrade`).
    Upgraded,
}

/// Users (not the bot) joined or left a conversation.
#[derive(Clone, Debug)]
pub struct MembersChanged<'a> {
    /// Who joined or left.
    pub members: Vec<&'a ChannelAccount>,
    /// The whole inbound activity.
    pub activity: &'a Activity,
}

/// A team or channel event Teams sends as a `conversationUpdate` (`channelData.eventType`).
#[derive(Clone, Debug)]
pub struct ConversationEvent<'a> {
    /// The event (`teamRenamed`, `channelCreated`, ...; new ones arrive as [`TeamsEventType::Other`]).
    pub event: &'a TeamsEventType,
    /// The team (`channelData.team.id`).
    pub team_id: Option<String>,
    /// The team's name as Teams gives it now.
    pub team_name: Option<&'a str>,
    /// The channel the event is about (`channelData.channel.id`), for channel events.
    pub channel_id: Option<&'a str>,
    /// The channel's name, for channel events.
    pub channel_name: Option<&'a str>,
    /// The whole inbound activity.
    pub activity: &'a Activity,
}

/// An Adaptive Card button was pressed: an `Action.Submit` (a `message` carrying `value`) or an `Action.Execute`
/// (an `adaptiveCard/action` invoke, which Teams waits for an answer to).
#[derive(Clone, Debug)]
pub struct CardAction<'a> {
    /// The `verb` of an `Action.Execute`; `None` for an `Action.Submit`.
    pub verb: Option<&'a str>,
    /// The action's `data` (an `Action.Submit`'s whole `value`).
    pub data: &'a Value,
    /// Who pressed it.
    pub from: &'a ChannelAccount,
    /// Whether Teams waits for an [`InvokeResponse`] (an `Action.Execute`).
    pub is_invoke: bool,
    /// The typed `value` of an `Action.Execute` (the action's `id`, the `trigger`: a user's click or Teams'
    /// automatic refresh, fields not named kept); `None` for an `Action.Submit`.
    pub invoke: Option<&'a ActionInvoke>,
    /// The message the card is in (`replyToId`), when Teams names it.
    pub message_id: Option<&'a ActivityId>,
    /// The whole inbound activity.
    pub activity: &'a Activity,
}

/// A user asked for a dialog (`task/fetch`: a card button whose action is `task/fetch`) or submitted one
/// (`task/submit`: an `Action.Submit` of the dialog's card, or a web page's `submitTask`).
#[derive(Clone, Debug)]
pub struct DialogRequest<'a> {
    /// `task/fetch`: the data of the button that asked for the dialog; `task/submit`: the dialog card's input
    /// values with its submit button's data. `null` when Teams sent none.
    pub data: &'a Value,
    /// Who asked or submitted.
    pub from: &'a ChannelAccount,
    /// The whole `value`, typed (`context.theme`, fields not named kept).
    pub invoke: &'a DialogInvoke,
    /// The whole inbound activity.
    pub activity: &'a Activity,
}

/// A user searches with the bot's message extension (`composeExtension/query`, sent as they type).
#[derive(Clone, Debug)]
pub struct SearchQuery<'a> {
    /// The search command's `id` in the app manifest.
    pub command_id: &'a str,
    /// What the user typed (the first parameter), trimmed; empty on Teams' default query.
    pub text: &'a str,
    /// Whether this is Teams' default query, sent as the extension opens (the manifest's `initialRun`).
    pub initial_run: bool,
    /// How many results to skip (`queryOptions.skip`, 0 when absent).
    pub skip: usize,
    /// How many results Teams asks for (`queryOptions.count`), when it says.
    pub count: Option<usize>,
    /// Who searches.
    pub from: &'a ChannelAccount,
    /// The whole `value`, typed (every parameter, `state`, fields not named kept).
    pub invoke: &'a SearchInvoke,
    /// The whole inbound activity.
    pub activity: &'a Activity,
}

/// A user picked one of the search results (`composeExtension/selectItem`): the `value` of its preview's `invoke`
/// tap.
#[derive(Clone, Debug)]
pub struct SearchSelection<'a> {
    /// The preview's tap `value`, as the bot put it there.
    pub item: &'a Value,
    /// Who picked it.
    pub from: &'a ChannelAccount,
    /// The whole inbound activity.
    pub activity: &'a Activity,
}

/// Any other invoke (`composeExtension/fetchTask`, `signin/verifyState`, ...), answered with
/// the handler's [`InvokeResponse`].
#[derive(Clone, Debug)]
pub struct InvokeRequest<'a> {
    /// The invoke's `name`.
    pub name: &'a str,
    /// Its `value`.
    pub value: Option<&'a Value>,
    /// Who sent it.
    pub from: Option<&'a ChannelAccount>,
    /// The whole inbound activity.
    pub activity: &'a Activity,
}

/// The HTTP answer to an invoke: Teams reads the status and the JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct InvokeResponse {
    /// The HTTP status (200 unless the handler says otherwise).
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl InvokeResponse {
    /// 200 with an empty JSON object: "done, nothing to show".
    #[must_use]
    pub fn ok() -> Self {
        Self::json(json!({}))
    }

    /// 200 with this body.
    #[must_use]
    pub fn json(body: Value) -> Self {
        Self { status: 200, body }
    }

    /// The answer to an `adaptiveCard/action` that shows the user a short message.
    #[must_use]
    pub fn message(text: impl Into<String>) -> Self {
        CardActionResponse::Message(text.into()).into()
    }

    /// The answer to an `adaptiveCard/action` that shows this Adaptive Card (its JSON) in place of the card the
    /// action came from.
    #[must_use]
    pub fn card(card: Value) -> Self {
        CardActionResponse::Card(card).into()
    }

    /// The same body with another HTTP status.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
}

impl Default for InvokeResponse {
    fn default() -> Self {
        Self::ok()
    }
}

impl From<CardActionResponse> for InvokeResponse {
    /// HTTP 200 with the Universal Action answer (an error's status is its `statusCode`, as the model requires).
    fn from(response: CardActionResponse) -> Self {
        Self::json(to_json(&response))
    }
}

impl From<InvokeError> for InvokeResponse {
    /// HTTP 200 with the error answer: `{"statusCode": 4xx, "type": "application/vnd.microsoft.error", ...}`.
    fn from(error: InvokeError) -> Self {
        CardActionResponse::Error(error).into()
    }
}

impl From<DialogResponse> for InvokeResponse {
    fn from(response: DialogResponse) -> Self {
        Self::json(to_json(&response))
    }
}

impl From<SearchResponse> for InvokeResponse {
    fn from(response: SearchResponse) -> Self {
        Self::json(to_json(&response))
    }
}

/// The bot was installed in a team: what [`crate::api::Bot::team_welcome`] is asked about, once per team.
#[derive(Clone, Debug)]
pub struct TeamWelcome<'a> {
    /// The team's id (also its General channel's id).
    pub team_id: &'a str,
    /// The team's name, when Teams gave it.
    pub team_name: Option<&'a str>,
    /// The tenant.
    pub tenant: &'a TenantId,
    /// Who installed the bot, when Teams said.
    pub installed_by: Option<&'a ChannelAccount>,
    /// Who the bot is (its id and configured name).
    pub bot: &'a crate::api::BotIdentity,
}

/// A user's first personal contact with the bot: what [`crate::api::Bot::personal_welcome`] is asked about, once
/// per tenant and user.
#[derive(Clone, Debug)]
pub struct PersonalWelcome<'a> {
    /// The user (their `name` may be absent).
    pub user: &'a ChannelAccount,
    /// The tenant.
    pub tenant: &'a TenantId,
    /// Who the bot is (its id and configured name).
    pub bot: &'a crate::api::BotIdentity,
}

/// One run of a scheduled job (see [`crate::api::Jobs::schedule`]): claimed exactly once per time slot, however
/// many schedulers fire.
#[derive(Clone, Debug)]
pub struct JobRun<'a> {
    /// The job's name, as scheduled.
    pub name: &'a str,
    /// The time slot this run is for (the due time); the same run is never claimed twice.
    pub slot: Timestamp,
    /// The data the job was scheduled with (as last saved).
    pub data: &'a Value,
}

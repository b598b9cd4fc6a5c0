//! What the bot does with a user's activity.

use crate::BotIdentity;
use crate::cards::{adaptive_card, hero_card, picture_message};
use crate::poll::{ADAPTIVE_CARD_ACTION, DEFAULT_INTERVAL_MINUTES, MAX_INTERVAL_MINUTES, PollDefinition, PollVote};
use crate::reply::mention_back;
use crate::roster::roster_text;
use crate::text::{command_of, echo_text, is_bot_mentioned, strip_bot_mentions};
use models::connector::{ConversationParameters, PagedMembersResult};
use models::{Activity, ActivityId, ActivityKind, ChannelAccount, ConversationId, ConversationType, TenantId};
use models::{char_count, fits_message_budget, truncate_utf16, utf16_len};

/// Page size the `members` command asks the roster for.
pub const MEMBERS_PAGE_SIZE: u32 = 100;

/// The `help` answer.
pub const HELP_TEXT: &str = "Here is what I can do:\n\
- help: this list\n\
- whoami: your user id, name, AAD object id, tenant, this conversation's id and scope\n\
- card: a hero card and an Adaptive Card\n\
- picture: a small picture\n\
- mention me: I @mention you back\n\
- dm me: I message you in our 1:1 chat and tell you here when done\n\
- new thread: I start a new thread in this channel\n\
- members: the members of this conversation\n\
- update: I send a message, then edit it\n\
- delete: I send a message, then delete it\n\
- subscribe [minutes]: a check-in poll here every day, or every given number of minutes\n\
- unsubscribe: stop the check-in poll\n\
Anything else I echo back with its character count. In channels and group chats, @mention me.";

/// What to do about an inbound activity. Messages inside are complete: replies are addressed to the inbound
/// activity (see [`Activity::reply_with`]); messages for another conversation carry only their content.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
#[allow(
    clippy::large_enum_variant,
    reason = "one short-lived value per request; boxing buys nothing"
)]
pub enum Decision {
    /// Post these messages, in order, as replies in the inbound conversation.
    Reply(Vec<Activity>),
    /// Create or get the 1:1 chat with the sender, send a message there, then report back here.
    DmMe(DmMePlan),
    /// Start a new reply chain in the channel.
    NewThread(NewThreadPlan),
    /// Read the roster page by page, then reply with [`MembersPlan::finish`].
    Members(MembersPlan),
    /// Send a message, then replace it (PUT).
    UpdateDemo(UpdateDemoPlan),
    /// Send a message, then delete it.
    DeleteDemo(DeleteDemoPlan),
    /// Subscribe this conversation to the check-in poll.
    Subscribe(SubscribePlan),
    /// End this conversation's poll subscription.
    Unsubscribe(UnsubscribePlan),
    /// Record a vote and update the poll message in place.
    PollAnswer(PollAnswer),
    /// Do nothing (the webhook still answers 200).
    Ignore(Ignored),
}

/// Why an activity gets no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ignored {
    /// Not a `message` nor an invoke we handle (conversationUpdate, installationUpdate, reactions, typing...):
    /// installs and first contacts are [`crate::welcome_triggers`]' business.
    NotAMessage,
    /// A channel or group chat message that does not @mention the bot.
    NotMentioned,
    /// Sent by the bot itself.
    FromBot,
    /// No `from`: nobody to answer.
    NoSender,
    /// A card submit (`value`, no text) that is not one of ours.
    UnknownSubmit,
    /// An invoke that is not one of ours (the webhook answers it with an empty 200).
    UnknownInvoke,
}

impl Ignored {
    /// A short reason for logs.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotAMessage => "not a message",
            Self::NotMentioned => "channel or group chat message without a mention of the bot",
            Self::FromBot => "sent by the bot itself",
            Self::NoSender => "no sender",
            Self::UnknownSubmit => "card submit that is not ours",
            Self::UnknownInvoke => "invoke that is not ours",
        }
    }
}

/// `dm me`: create-or-get the sender's 1:1 chat (look it up by `tenant` + `user.id` first; else POST
/// `conversations` with `create`), send `message` there, then post `report_back` (or `on_failure`) as a reply.
#[derive(Clone, Debug, PartialEq)]
pub struct DmMePlan {
    pub user: ChannelAccount,
    pub tenant: TenantId,
    /// The body of `POST /v3/conversations` creating the 1:1 chat.
    pub create: ConversationParameters,
    /// The message for the 1:1 chat (content only; address it to the created conversation).
    pub message: Activity,
    /// The reply here once `message` was sent: it @mentions the user.
    pub report_back: Activity,
    /// The reply here if the chat could not be created or the message not sent.
    pub on_failure: Activity,
}

/// `new thread`: POST `conversations` with `create` (its `activity` is the thread's first message), then post
/// `report_back` (or `on_failure`) as a reply here.
#[derive(Clone, Debug, PartialEq)]
pub struct NewThreadPlan {
    /// The channel's id (`channelData.channel.id`; the General channel's id is the team's).
    pub channel_id: String,
    pub team_id: Option<String>,
    pub tenant: Option<TenantId>,
    /// The body of `POST /v3/conversations` creating the reply chain, first message included.
    pub create: ConversationParameters,
    pub report_back: Activity,
    pub on_failure: Activity,
}

/// `members`: read `GET conversations/{roster_of}/pagedmembers?pageSize={page_size}` following the continuation
/// token to the end, then reply with [`MembersPlan::finish`] (or `on_failure`).
#[derive(Clone, Debug, PartialEq)]
pub struct MembersPlan {
    /// Whose roster: the team id in a channel, else the conversation id.
    pub roster_of: ConversationId,
    pub page_size: u32,
    /// The reply, addressed, without its text yet.
    pub reply: Activity,
    pub on_failure: Activity,
}

impl MembersPlan {
    /// The reply listing the members read.
    #[must_use]
    pub fn finish(&self, pages: &[PagedMembersResult]) -> Activity {
        let mut reply = self.reply.clone();
        if let Some(m) = reply.message_mut() {
            m.text = Some(roster_text(pages));
        }
        reply
    }
}

/// `update`: send `first` as a reply, then PUT `replacement` over it (set its `id` to the sent id).
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateDemoPlan {
    pub first: Activity,
    pub replacement: Activity,
    pub on_failure: Activity,
}

/// `delete`: send `first` as a reply, DELETE it, then send `after`.
#[derive(Clone, Debug, PartialEq)]
pub struct DeleteDemoPlan {
    pub first: Activity,
    pub after: Activity,
    pub on_failure: Activity,
}

/// `subscribe [minutes]`: store a poll subscription for `conversation` (first due now, then every
/// `interval_minutes`), then reply `confirmation` (or `on_failure`).
#[derive(Clone, Debug, PartialEq)]
pub struct SubscribePlan {
    /// Where the polls go: the inbound conversation, for a channel its base id (no `;messageid=`), so each poll
    /// is a new post in the channel.
    pub conversation: ConversationId,
    pub poll: PollDefinition,
    pub interval_minutes: u32,
    pub confirmation: Activity,
    pub on_failure: Activity,
}

/// `unsubscribe`: end the subscription of `conversation`, then reply `done`, or `not_subscribed` if there was
/// none (or `on_failure`).
#[derive(Clone, Debug, PartialEq)]
pub struct UnsubscribePlan {
    pub conversation: ConversationId,
    pub done: Activity,
    pub not_subscribed: Activity,
    pub on_failure: Activity,
}

/// A vote on a posted poll: load the poll's state by `(vote.poll_id, vote.slot)`, check the vote with
/// [`crate::poll::apply_vote`], store the vote, PUT [`crate::poll::poll_message`] with the stored tally over the
/// stored message id (the submit's `replyToId`, `message_id`, names the same message). When `via_invoke`, answer the HTTP request with
/// [`crate::poll::vote_invoke_response`].
#[derive(Clone, Debug, PartialEq)]
pub struct PollAnswer {
    pub vote: PollVote,
    pub message_id: Option<ActivityId>,
    pub via_invoke: bool,
}

/// Decides what the bot does with an inbound activity.
///
/// Messages: in `channel` and `groupChat` conversations only those that @mention the bot are answered (Teams
/// delivers only those in channels; group chats with chat-wide permissions may deliver others); the bot's
/// mentions are stripped and the text trimmed; the command is matched case-insensitively; unknown text is
/// echoed. Card submits and `adaptiveCard/action` invokes carrying a poll vote become [`Decision::PollAnswer`]
/// wherever they come from (a submit carries no mention). Everything else is [`Decision::Ignore`].
#[must_use]
pub fn decide(activity: &Activity, bot: &BotIdentity) -> Decision {
    let Some(from) = activity.from.as_ref() else {
        return Decision::Ignore(Ignored::NoSender);
    };
    if bot.is_me(&from.id, activity.recipient.as_ref()) {
        return Decision::Ignore(Ignored::FromBot);
    }
    let message = match &activity.kind {
        ActivityKind::Message(m) => m,
        ActivityKind::Invoke(invoke) => {
            if invoke.name.as_deref() != Some(ADAPTIVE_CARD_ACTION) {
                return Decision::Ignore(Ignored::UnknownInvoke);
            }
            return match invoke.value.as_ref().and_then(|v| PollVote::from_invoke(v, from)) {
                Some(vote) => Decision::PollAnswer(PollAnswer {
                    vote,
                    message_id: activity.reply_to_id.clone(),
                    via_invoke: true,
                }),
                None => Decision::Ignore(Ignored::UnknownInvoke),
            };
        }
        _ => return Decision::Ignore(Ignored::NotAMessage),
    };
    if let Some(value) = &message.value {
        if let Some(vote) = PollVote::from_submit(value, from) {
            return Decision::PollAnswer(PollAnswer {
                vote,
                message_id: activity.reply_to_id.clone(),
                via_invoke: false,
            });
        }
        if message.text.as_deref().is_none_or(|t| t.trim().is_empty()) {
            return Decision::Ignore(Ignored::UnknownSubmit);
        }
    }
    if is_group(activity) && !is_bot_mentioned(activity, bot) {
        return Decision::Ignore(Ignored::NotMentioned);
    }
    let text = strip_bot_mentions(activity, bot);
    command(activity, from, bot, &text)
}

fn command(activity: &Activity, from: &ChannelAccount, bot: &BotIdentity, text: &str) -> Decision {
    let reply = |t: &str| activity.reply(t);
    let cmd = command_of(text);
    match cmd.as_str() {
        "" | "help" => Decision::Reply(vec![reply(HELP_TEXT)]),
        "whoami" => Decision::Reply(vec![reply(&whoami(activity, from))]),
        "card" => Decision::Reply(vec![
            activity.reply_with(crate::cards::with_attachment(None, hero_card())),
            activity.reply_with(crate::cards::with_attachment(None, adaptive_card())),
        ]),
        "picture" => Decision::Reply(vec![match picture_message() {
            Ok(picture) => activity.reply_with(picture),
            Err(e) => reply(&format!("Sorry, I cannot send my picture: {e}.")),
        }]),
        "mention me" => Decision::Reply(vec![activity.reply_with(mention_back(from, "Hello ", "!"))]),
        "dm me" => dm_me(activity, from, bot),
        "new thread" => new_thread(activity, from),
        "members" => Decision::Members(MembersPlan {
            roster_of: team_id(activity).map_or_else(|| conversation_id(activity), ConversationId::from),
            page_size: MEMBERS_PAGE_SIZE,
            reply: reply(""),
            on_failure: reply("Sorry, I could not read the members of this conversation."),
        }),
        "update" => Decision::UpdateDemo(UpdateDemoPlan {
            first: reply("This message will be edited in a moment."),
            replacement: reply("This message was edited."),
            on_failure: reply("Sorry, I could not edit my message."),
        }),
        "delete" => Decision::DeleteDemo(DeleteDemoPlan {
            first: reply("This message will be deleted in a moment."),
            after: reply("I deleted my previous message."),
            on_failure: reply("Sorry, I could not delete my message."),
        }),
        "unsubscribe" => Decision::Unsubscribe(UnsubscribePlan {
            conversation: poll_conversation(activity),
            done: reply("Unsubscribed: no more check-in polls here."),
            not_subscribed: reply("There was no check-in poll subscription here."),
            on_failure: reply("Sorry, I could not unsubscribe this conversation. Please try again."),
        }),
        _ => match cmd.strip_prefix("subscribe") {
            Some(rest) if rest.is_empty() || rest.starts_with(' ') => subscribe(activity, rest.trim()),
            _ => Decision::Reply(vec![echo(activity, text)]),
        },
    }
}

/// The echo reply. A text so long that the reply would break the message size budget is quoted shortened
/// (cut on a character boundary, ending with `…`); `n` still counts the whole text.
fn echo(activity: &Activity, text: &str) -> Activity {
    let count = char_count(text);
    let mut reply = activity.reply(echo_text(text));
    let mut units = utf16_len(text);
    while !fits_message_budget(&reply) && units > 0 {
        units = units * 9 / 10;
        let quoted = format!("{}…", truncate_utf16(text, units));
        reply = activity.reply(format!("You sent {quoted} which was {count} characters"));
    }
    reply
}

fn subscribe(activity: &Activity, minutes: &str) -> Decision {
    let interval = if minutes.is_empty() {
        Some(DEFAULT_INTERVAL_MINUTES)
    } else {
        minutes
            .parse::<u32>()
            .ok()
            .filter(|m| (1..=MAX_INTERVAL_MINUTES).contains(m))
    };
    let Some(interval_minutes) = interval else {
        return Decision::Reply(vec![activity.reply(format!(
            "Usage: subscribe [minutes], with minutes from 1 to {MAX_INTERVAL_MINUTES}."
        ))]);
    };
    let every = match interval_minutes {
        DEFAULT_INTERVAL_MINUTES => "every day".to_owned(),
        1 => "every minute".to_owned(),
        n => format!("every {n} minutes"),
    };
    Decision::Subscribe(SubscribePlan {
        conversation: poll_conversation(activity),
        poll: PollDefinition::default(),
        interval_minutes,
        confirmation: activity.reply(format!(
            "Subscribed: I will post a check-in poll here {every}, starting now. Send unsubscribe to stop."
        )),
        on_failure: activity.reply("Sorry, I could not subscribe this conversation. Please try again."),
    })
}

fn dm_me(activity: &Activity, from: &ChannelAccount, bot: &BotIdentity) -> Decision {
    if !is_group(activity) {
        return Decision::Reply(vec![activity.reply("We are already in our 1:1 chat.")]);
    }
    let Some(tenant) = activity.tenant_id().cloned() else {
        return Decision::Reply(vec![
            activity.reply("Sorry, I cannot tell which tenant you are in, so I cannot open a 1:1 chat."),
        ]);
    };
    let bot_account = activity.recipient.clone().unwrap_or_else(|| bot.account());
    Decision::DmMe(DmMePlan {
        user: from.clone(),
        tenant: tenant.clone(),
        create: ConversationParameters::personal(bot_account, from.clone(), tenant),
        message: Activity::message("Hi! You asked me to continue here, in our 1:1 chat."),
        report_back: activity.reply_with(mention_back(from, "", ", I sent you a message in our 1:1 chat.")),
        on_failure: activity.reply(
            "Sorry, I could not message you in a 1:1 chat. If you have not yet, add me as a personal app, then try again.",
        ),
    })
}

fn new_thread(activity: &Activity, from: &ChannelAccount) -> Decision {
    let Some(channel_id) = channel_id(activity) else {
        return Decision::Reply(vec![
            activity.reply("I can start a new thread only in a team's channel."),
        ]);
    };
    let tenant = activity.tenant_id().cloned();
    let first = mention_back(from, "", " asked me to start this new thread.");
    Decision::NewThread(NewThreadPlan {
        create: ConversationParameters::channel_thread(channel_id.clone(), tenant.clone(), first),
        channel_id,
        team_id: team_id(activity),
        tenant,
        report_back: activity.reply("I started a new thread in this channel."),
        on_failure: activity.reply("Sorry, I could not start a new thread."),
    })
}

fn whoami(activity: &Activity, from: &ChannelAccount) -> String {
    let or_none = |v: Option<&str>| v.filter(|s| !s.is_empty()).unwrap_or("(none)").to_owned();
    let conversation = activity.conversation.as_ref();
    let scope = conversation
        .and_then(|c| c.conversation_type.as_ref())
        .map_or_else(|| "(unknown)".to_owned(), |t| t.as_str().to_owned());
    format!(
        "User id: {}\nName: {}\nAAD object id: {}\nTenant: {}\nConversation id: {}\nScope: {}",
        from.id,
        or_none(from.name.as_deref()),
        or_none(from.aad_object_id.as_deref()),
        or_none(activity.tenant_id().map(TenantId::as_str)),
        or_none(conversation.map(|c| c.id.as_str())),
        scope,
    )
}

/// Whether the activity comes from a channel or a group chat (where the bot answers only when mentioned).
pub(crate) fn is_group(activity: &Activity) -> bool {
    let Some(c) = activity.conversation.as_ref() else {
        return false;
    };
    match &c.conversation_type {
        Some(ConversationType::Channel | ConversationType::GroupChat) => true,
        Some(ConversationType::Personal) => false,
        _ => c.is_group == Some(true),
    }
}

/// The team id of a channel context: `channelData.team.id`, else the deprecated `teamsTeamId`.
pub(crate) fn team_id(activity: &Activity) -> Option<String> {
    let data = activity.channel_data.as_ref()?;
    data.team
        .as_ref()
        .map(|t| t.id.clone())
        .or_else(|| data.teams_team_id.clone())
        .filter(|t| !t.is_empty())
}

/// The conversation id without a channel reply chain's `;messageid=...` suffix.
pub(crate) fn base_conversation_id(id: &str) -> &str {
    id.split_once(";messageid=").map_or(id, |(base, _)| base)
}

fn conversation_id(activity: &Activity) -> ConversationId {
    activity.conversation.as_ref().map(|c| c.id.clone()).unwrap_or_default()
}

fn poll_conversation(activity: &Activity) -> ConversationId {
    ConversationId::from(base_conversation_id(conversation_id(activity).as_str()))
}

/// The channel of a channel context: `channelData.channel.id`, else the deprecated `teamsChannelId`, else the
/// base of a `channel` conversation's id.
fn channel_id(activity: &Activity) -> Option<String> {
    let conversation = activity.conversation.as_ref()?;
    let data = activity.channel_data.as_ref();
    let from_data = data.and_then(|d| {
        d.channel
            .as_ref()
            .map(|c| c.id.clone())
            .or_else(|| d.teams_channel_id.clone())
    });
    match (from_data.filter(|c| !c.is_empty()), &conversation.conversation_type) {
        (Some(id), _) => Some(id),
        (None, Some(ConversationType::Channel)) => Some(base_conversation_id(conversation.id.as_str()).to_owned()),
        (None, _) => None,
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;

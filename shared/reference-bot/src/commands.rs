//! What the bot does with a user's message: one command each, else the echo.

use crate::cards::{adaptive_card, hero_card, picture_message, with_attachment};
use crate::dialog::task_card;
use crate::poll::{DEFAULT_INTERVAL_MINUTES, MAX_INTERVAL_MINUTES, POLL_JOB, PollDefinition};
use crate::reply::mention_back;
use crate::roster::roster_text;
use crate::search::HelpEntry;
use crate::text::{command_of, echo_text};
use serde_json::json;
use std::time::Duration;
use teams_bot::models::TextFormat;
use teams_bot::models::{
    Activity, ChannelAccount, TenantId, char_count, fits_message_budget, truncate_utf16, utf16_len,
};
use teams_bot::{BotError, Context, IncomingMessage, Message, Scope};

/// Page size the `members` command asks the roster for.
pub const MEMBERS_PAGE_SIZE: u32 = 100;

/// The `help` answer: every entry of [`HELP_ENTRIES`], one per line.
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
- task: a dialog to type something in; I tell you what you entered\n\
- subscribe [minutes]: a check-in poll here every day, or every given number of minutes\n\
- unsubscribe: stop the check-in poll\n\
- stream: I write a short answer that you see growing as I write it\n\
- slow [seconds]: I answer at once that I am on it, and again when done, 20 s later or after the given seconds\n\
- role: in a meeting chat, your role in the meeting\n\
- file: in our 1:1 chat, I offer you a small text file to save to your OneDrive; send me a file or a picture and I \
tell you what I received\n\
Anything else I echo back with its character count; edit or delete your message and my echo follows. In channels \
and group chats, @mention me. My search message extension finds these commands from the compose box.";

/// What the bot can do, as [`HELP_TEXT`] lists it (and the `search` message extension finds it).
pub const HELP_ENTRIES: &[HelpEntry] = &[
    entry("help", "this list"),
    entry(
        "whoami",
        "your user id, name, AAD object id, tenant, this conversation's id and scope",
    ),
    entry("card", "a hero card and an Adaptive Card"),
    entry("picture", "a small picture"),
    entry("mention me", "I @mention you back"),
    entry("dm me", "I message you in our 1:1 chat and tell you here when done"),
    entry("new thread", "I start a new thread in this channel"),
    entry("members", "the members of this conversation"),
    entry("update", "I send a message, then edit it"),
    entry("delete", "I send a message, then delete it"),
    entry("task", "a dialog to type something in; I tell you what you entered"),
    entry(
        "subscribe [minutes]",
        "a check-in poll here every day, or every given number of minutes",
    ),
    entry("unsubscribe", "stop the check-in poll"),
    entry("stream", "I write a short answer that you see growing as I write it"),
    entry(
        "slow [seconds]",
        "I answer at once that I am on it, and again when done, 20 s later or after the given seconds",
    ),
    entry("role", "in a meeting chat, your role in the meeting"),
    entry(
        "file",
        "in our 1:1 chat, I offer you a small text file to save to your OneDrive; send me a file or a picture and I \
         tell you what I received",
    ),
];

const fn entry(command: &'static str, description: &'static str) -> HelpEntry {
    HelpEntry { command, description }
}

/// Answers one message (the bot's mentions already stripped by the runtime).
pub(crate) async fn on_message(ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
    if crate::poll::vote_in_message(ctx, message).await? {
        return Ok(());
    }
    if crate::files::received(ctx, message).await? {
        return Ok(());
    }
    let text = message.text.as_str();
    let from = message.from;
    let cmd = command_of(text);
    match cmd.as_str() {
        "" | "help" => reply(ctx, HELP_TEXT).await,
        "whoami" => reply(ctx, quoting(whoami(message))).await,
        "card" => {
            ctx.reply(with_attachment(None, hero_card())).await?;
            ctx.reply(with_attachment(None, adaptive_card())).await?;
            Ok(())
        }
        "picture" => match picture_message() {
            Ok(picture) => reply(ctx, picture).await,
            Err(e) => reply(ctx, format!("Sorry, I cannot send my picture: {e}.")).await,
        },
        "mention me" => reply(ctx, mention_back(from, "Hello ", "!")).await,
        "dm me" => dm_me(ctx, message).await,
        "new thread" => new_thread(ctx, message).await,
        "members" => members(ctx).await,
        "update" => update_demo(ctx).await,
        "delete" => delete_demo(ctx).await,
        "task" => reply(ctx, with_attachment(None, task_card())).await,
        "stream" => crate::stream::stream(ctx).await.map(|_| ()),
        "role" => crate::meeting::role(ctx, message).await,
        "file" => crate::files::offer(ctx, message).await,
        "unsubscribe" => unsubscribe(ctx).await,
        _ => match cmd.strip_prefix("subscribe") {
            Some(rest) if rest.is_empty() || rest.starts_with(' ') => subscribe(ctx, rest.trim()).await,
            _ => match cmd.strip_prefix("slow") {
                Some(rest) if rest.is_empty() || rest.starts_with(' ') => crate::slow::slow(ctx, rest.trim()).await,
                _ => echo_reply(ctx, message).await,
            },
        },
    }
}

/// Posts one reply; the error is the handler's.
async fn reply(ctx: &Context<'_>, message: impl Into<Activity>) -> Result<(), BotError> {
    ctx.reply(message).await.map(|_| ())
}

/// Posts `apology` after a failure, then hands the failure back (so the runtime logs and counts it).
async fn apologise(ctx: &Context<'_>, error: BotError, apology: &str) -> Result<(), BotError> {
    if !error.is_bot_removed() {
        let _ = ctx.reply(apology).await;
    }
    Err(error)
}

/// The echo: replies, then remembers which reply echoes which message, so that the user's later edits and
/// delete of it follow ([`crate::edits`]).
async fn echo_reply(ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
    let echo_id = ctx.reply(echo(message.activity, &message.text)).await?;
    match &message.activity.id {
        Some(message_id) => crate::edits::remember_echo(ctx, message_id, &echo_id).await,
        None => Ok(()),
    }
}

/// The echo reply. A text so long that the reply would break the message size budget is quoted shortened
/// (cut on a character boundary, ending with `…`); `n` still counts the whole text.
pub(crate) fn echo(inbound: &Activity, text: &str) -> Activity {
    let count = char_count(text);
    // Measured as sent: addressed as the reply to `inbound` (the context addresses it the same way again).
    let mut reply = inbound.reply_with(quoting(echo_text(text)));
    let mut units = utf16_len(text);
    while !fits_message_budget(&reply) && units > 0 {
        units = units * 9 / 10;
        let quoted = format!("{}…", truncate_utf16(text, units));
        reply = inbound.reply_with(quoting(format!("You sent {quoted} which was {count} characters")));
    }
    reply
}

/// A message that quotes what a user wrote: sent as `textFormat: plain`, so Teams shows the user's characters
/// exactly and renders none of them as markdown or HTML (docs/decisions/2026-11-30-quoting-user-text.md).
fn quoting(text: String) -> Activity {
    Message::new().text(text).format(TextFormat::Plain).into_activity()
}

async fn subscribe(ctx: &Context<'_>, minutes: &str) -> Result<(), BotError> {
    let interval = if minutes.is_empty() {
        Some(DEFAULT_INTERVAL_MINUTES)
    } else {
        minutes
            .parse::<u32>()
            .ok()
            .filter(|m| (1..=MAX_INTERVAL_MINUTES).contains(m))
    };
    let Some(interval_minutes) = interval else {
        return reply(
            ctx,
            format!("Usage: subscribe [minutes], with minutes from 1 to {MAX_INTERVAL_MINUTES}."),
        )
        .await;
    };
    let every = match interval_minutes {
        DEFAULT_INTERVAL_MINUTES => "every day".to_owned(),
        1 => "every minute".to_owned(),
        n => format!("every {n} minutes"),
    };
    let data = json!({"poll": PollDefinition::default()});
    let period = Duration::from_secs(u64::from(interval_minutes) * 60);
    match ctx.jobs().schedule(POLL_JOB, period, data).await {
        Ok(()) => {
            reply(
                ctx,
                format!(
                    "Subscribed: I will post a check-in poll here {every}, starting now. Send unsubscribe to stop."
                ),
            )
            .await
        }
        Err(e) => {
            apologise(
                ctx,
                e,
                "Sorry, I could not subscribe this conversation. Please try again.",
            )
            .await
        }
    }
}

async fn unsubscribe(ctx: &Context<'_>) -> Result<(), BotError> {
    match ctx.jobs().cancel(POLL_JOB).await {
        Ok(true) => reply(ctx, "Unsubscribed: no more check-in polls here.").await,
        Ok(false) => reply(ctx, "There was no check-in poll subscription here.").await,
        Err(e) => {
            apologise(
                ctx,
                e,
                "Sorry, I could not unsubscribe this conversation. Please try again.",
            )
            .await
        }
    }
}

/// `dm me`: create-or-get the sender's 1:1 chat, write there, then report back here with an @mention.
async fn dm_me(ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
    if message.scope == Scope::Personal {
        return reply(ctx, "We are already in our 1:1 chat.").await;
    }
    if message.tenant.is_none() {
        return reply(
            ctx,
            "Sorry, I cannot tell which tenant you are in, so I cannot open a 1:1 chat.",
        )
        .await;
    }
    const FAILED: &str =
        "Sorry, I could not message you in a 1:1 chat. If you have not yet, add me as a personal app, then try again.";
    let chat = match ctx.personal_chat(message.from).await {
        Ok(chat) => chat,
        Err(e) => return apologise(ctx, e, FAILED).await,
    };
    match ctx
        .send_to(&chat, "Hi! You asked me to continue here, in our 1:1 chat.")
        .await
    {
        Ok(_) => {
            reply(
                ctx,
                mention_back(message.from, "", ", I sent you a message in our 1:1 chat."),
            )
            .await
        }
        Err(e) => apologise(ctx, e, FAILED).await,
    }
}

/// `new thread`: a new reply chain in this channel, then a note here.
async fn new_thread(ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
    let Some(channel_id) = channel_id(ctx, message) else {
        return reply(ctx, "I can start a new thread only in a team's channel.").await;
    };
    let first = mention_back(message.from, "", " asked me to start this new thread.");
    match ctx.start_thread(&channel_id, first).await {
        Ok(_) => reply(ctx, "I started a new thread in this channel.").await,
        Err(e) => apologise(ctx, e, "Sorry, I could not start a new thread.").await,
    }
}

/// `members`: the roster, page by page.
async fn members(ctx: &Context<'_>) -> Result<(), BotError> {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..teams_bot::MAX_ROSTER_PAGES {
        match ctx.members_page(MEMBERS_PAGE_SIZE, token.as_deref()).await {
            Ok(page) => {
                token = page.continuation_token.clone().filter(|t| !t.is_empty());
                pages.push(page);
                if token.is_none() {
                    break;
                }
            }
            Err(e) => return apologise(ctx, e, "Sorry, I could not read the members of this conversation.").await,
        }
    }
    reply(ctx, roster_text(&pages)).await
}

/// `update`: send a message, then replace it.
async fn update_demo(ctx: &Context<'_>) -> Result<(), BotError> {
    let id = ctx.reply("This message will be edited in a moment.").await?;
    match ctx.update(&id, Activity::message("This message was edited.")).await {
        Ok(()) => Ok(()),
        Err(e) => apologise(ctx, e, "Sorry, I could not edit my message.").await,
    }
}

/// `delete`: send a message, delete it, then say so.
async fn delete_demo(ctx: &Context<'_>) -> Result<(), BotError> {
    let id = ctx.reply("This message will be deleted in a moment.").await?;
    match ctx.delete(&id).await {
        Ok(()) => reply(ctx, "I deleted my previous message.").await,
        Err(e) => apologise(ctx, e, "Sorry, I could not delete my message.").await,
    }
}

fn whoami(message: &IncomingMessage<'_>) -> String {
    let (activity, from): (&Activity, &ChannelAccount) = (message.activity, message.from);
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

/// The channel of a channel context: `channelData.channel.id`, else the deprecated `teamsChannelId`, else the
/// base of a channel conversation's id.
fn channel_id(ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Option<String> {
    if message.scope != Scope::Team {
        return None;
    }
    let data = message.activity.channel_data.as_ref();
    let from_data = data.and_then(|d| {
        d.channel
            .as_ref()
            .map(|c| c.id.clone())
            .or_else(|| d.teams_channel_id.clone())
    });
    from_data.filter(|c| !c.is_empty()).or_else(|| {
        let id = ctx.conversation_id().as_str();
        Some(id.split_once(";messageid=").map_or(id, |(base, _)| base).to_owned())
    })
}

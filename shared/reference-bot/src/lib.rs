//! The reference bot: every command the README lists, written as one implementation of the public bot API
//! ([`teams_bot::Bot`]) and nothing else. Its words are those of docs/contract.md ("The reference bot's words").
//!
//! - [`ReferenceBot::on_message`](teams_bot::Bot::on_message): `help`, `whoami`, `card`, `picture`, `mention me`,
//!   `dm me`, `new thread`, `members`, `update`, `delete`, `task`, `subscribe [minutes]`, `unsubscribe`, else the
//!   echo.
//! - The echo follows its message ([`edits`]): the user's edit updates it in place, the user's delete deletes it.
//! - Welcomes: one in a team's General channel per install, one per user's first personal chat.
//! - The check-in poll: a scheduled job ([`poll::POLL_JOB`]) posting an Adaptive Card; answers (card actions)
//!   update that same card in place with the stored tally; its Universal Actions `refresh` answers the card with
//!   the tally as it stands.
//! - The `task` command's dialog ([`dialog`]): a form with one text input, answered `You entered <text>`.
//! - The `search` message extension ([`search`]): finds the commands by text; a picked one inserts its card.
//! - The `stream` command ([`stream`]): a short text streamed as Teams streams bot messages in a 1:1 chat.
//! - The `slow [seconds]` command ([`slow`]): acknowledged at once, answered later by deferred work.
//! - Meetings ([`meeting`]): `Meeting started: <title>` and `Meeting ended` in the meeting chat; the `role`
//!   command answers the sender's meeting role.

mod cards;
mod commands;
pub mod dialog;
pub mod edits;
pub mod files;
pub mod meeting;
pub mod poll;
mod reply;
mod roster;
pub mod search;
pub mod slow;
pub mod stream;
mod text;
pub mod welcome;

pub use commands::{HELP_ENTRIES, HELP_TEXT, MEMBERS_PAGE_SIZE};
pub use reply::mention_back;
pub use roster::{MAX_NAMES_LISTED, roster_text};
pub use text::{command_of, echo_text};

use teams_bot::{
    Activity, Bot, BotError, CardAction, Context, DeferredWork, DialogRequest, DialogResponse, IncomingMessage,
    InvokeResponse, JobRun, MessageDeleted, MessageEdit, PersonalWelcome, SearchQuery, SearchResponse, SearchSelection,
    TeamWelcome,
};

/// The reference bot. It keeps no state in memory: its name is the runtime's `BOT_NAME`, its polls are scheduled
/// jobs in the bot's store, and which reply echoes which message is in the conversation's state.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReferenceBot;

#[teams_bot::async_trait]
impl Bot for ReferenceBot {
    async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
        commands::on_message(ctx, message).await
    }

    async fn on_message_edit(&self, ctx: &Context<'_>, edit: &MessageEdit<'_>) -> Result<(), BotError> {
        edits::on_message_edit(ctx, edit).await
    }

    async fn on_message_delete(&self, ctx: &Context<'_>, deleted: &MessageDeleted<'_>) -> Result<(), BotError> {
        edits::on_message_delete(ctx, deleted).await
    }

    async fn on_card_action(&self, ctx: &Context<'_>, action: &CardAction<'_>) -> Result<InvokeResponse, BotError> {
        poll::on_card_action(ctx, action).await
    }

    async fn on_dialog_open(
        &self,
        _ctx: &Context<'_>,
        request: &DialogRequest<'_>,
    ) -> Result<DialogResponse, BotError> {
        Ok(dialog::on_dialog_open(request))
    }

    async fn on_dialog_submit(
        &self,
        _ctx: &Context<'_>,
        submit: &DialogRequest<'_>,
    ) -> Result<DialogResponse, BotError> {
        Ok(dialog::on_dialog_submit(submit))
    }

    async fn on_search(&self, _ctx: &Context<'_>, query: &SearchQuery<'_>) -> Result<SearchResponse, BotError> {
        Ok(search::on_search(query))
    }

    async fn on_search_select(
        &self,
        _ctx: &Context<'_>,
        selection: &SearchSelection<'_>,
    ) -> Result<SearchResponse, BotError> {
        Ok(search::on_search_select(selection))
    }

    async fn on_file_consent(&self, ctx: &Context<'_>, consent: &teams_bot::FileConsent<'_>) -> Result<(), BotError> {
        files::on_file_consent(ctx, consent).await
    }

    async fn team_welcome(&self, team: &TeamWelcome<'_>) -> Option<Activity> {
        Some(welcome::team_welcome(team.team_name, &team.bot.name))
    }

    async fn personal_welcome(&self, user: &PersonalWelcome<'_>) -> Option<Activity> {
        Some(welcome::personal_welcome(user.user.name.as_deref(), &user.bot.name))
    }

    async fn on_meeting_started(
        &self,
        ctx: &Context<'_>,
        meeting: &teams_bot::MeetingEvent<'_>,
    ) -> Result<(), BotError> {
        meeting::on_meeting_started(ctx, meeting).await
    }

    async fn on_meeting_ended(
        &self,
        ctx: &Context<'_>,
        _meeting: &teams_bot::MeetingEvent<'_>,
    ) -> Result<(), BotError> {
        meeting::on_meeting_ended(ctx).await
    }

    async fn on_job(&self, ctx: &Context<'_>, job: &JobRun<'_>) -> Result<(), BotError> {
        poll::on_job(ctx, job).await
    }

    async fn on_deferred(&self, ctx: &Context<'_>, work: &DeferredWork<'_>) -> Result<(), BotError> {
        slow::on_deferred(ctx, work).await
    }
}

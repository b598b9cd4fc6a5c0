//! Tally: a small Teams bot written the way a new user would, against the public `teams_bot` API only.
//!
//! - `count`: adds one to your own counter (kept per user, across every chat) and to this conversation's total;
//!   answers `You have counted N times`.
//! - `team total`: answers this conversation's total, `This conversation has counted N times`.
//! - `remind every <minutes>`: posts `Reminder: time to count!` here every so many minutes; `stop` ends it.
//! - the invoke `tally/get` answers `{"count": N}`, your own counter;
//! - an edited message is answered `You edited your message`;
//! - a team and each user are welcomed once.
//!
//! ```
//! use teams_bot::testkit::TestKit;
//! use user_bot::Tally;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let kit = TestKit::new(Tally);
//! assert_eq!(kit.personal_message("count").await, 200);
//! assert_eq!(kit.personal_message("count").await, 200);
//! let replies: Vec<String> = kit.sent_texts().into_iter().filter(|t| !t.starts_with("Welcome")).collect();
//! assert_eq!(replies, ["You have counted 1 times", "You have counted 2 times"]);
//!
//! let (status, body) = kit.invoke(user_bot::GET_INVOKE, serde_json::json!({})).await;
//! assert_eq!((status, body), (200, serde_json::json!({"count": 2})));
//! # }
//! ```

use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;
use teams_bot::{
    Activity, Bot, BotError, Context, IncomingMessage, InvokeRequest, InvokeResponse, JobRun, MessageEdit,
    PersonalWelcome, State, TeamWelcome,
};

/// The name of the reminder job (one per conversation).
pub const REMINDER_JOB: &str = "remind";
/// The invoke that answers the sender's own count.
pub const GET_INVOKE: &str = "tally/get";
/// The longest reminder period accepted, in minutes (a day).
pub const MAX_REMINDER_MINUTES: u64 = 24 * 60;
/// The welcome's first words, in a team and in a personal chat.
pub const WELCOME_PREFIX: &str = "Welcome to Tally";
/// What a reminder says.
pub const REMINDER_TEXT: &str = "Reminder: time to count!";
/// The answer to anything the bot does not understand.
pub const HELP: &str = "Say `count`, `team total`, `remind every <minutes>` or `stop`.";

/// The user-state key of a user's own counter.
const USER_COUNT: &str = "count";
/// The conversation-state key of a conversation's total.
const CONVERSATION_TOTAL: &str = "total";

/// The Tally bot. Holds no state of its own: everything lives in the runtime's store.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally;

/// What a message asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `count`.
    Count,
    /// `team total`.
    TeamTotal,
    /// `remind every <minutes>`, with a period in `1..=MAX_REMINDER_MINUTES`.
    Remind { minutes: u64 },
    /// `remind ...` that could not be read.
    BadRemind,
    /// `stop`.
    Stop,
    /// Anything else.
    Help,
}

impl Command {
    /// Reads a message's text (the bot's mentions already removed): case and extra spaces do not matter.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        match words.as_slice() {
            ["count"] => Self::Count,
            ["team", "total"] => Self::TeamTotal,
            ["stop"] => Self::Stop,
            ["remind", "every", n] | ["remind", "every", n, "min" | "mins" | "minute" | "minutes"] => {
                match n.parse::<u64>() {
                    Ok(minutes) if (1..=MAX_REMINDER_MINUTES).contains(&minutes) => Self::Remind { minutes },
                    _ => Self::BadRemind,
                }
            }
            ["remind", ..] => Self::BadRemind,
            _ => Self::Help,
        }
    }
}

/// What each reminder run is handed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct ReminderData {
    minutes: u64,
    text: String,
}

/// Adds one to the counter `name` in `state`; answers the new value.
async fn increment(state: &State<'_>, name: &str) -> Result<u64, BotError> {
    let next = state.load::<u64>(name).await?.unwrap_or(0) + 1;
    state.save(name, &next, None).await?;
    Ok(next)
}

/// The sender's own counter, in `ctx`.
fn user_state<'c>(ctx: &'c Context<'_>) -> Result<State<'c>, BotError> {
    ctx.user_state()
        .ok_or(BotError::NotAvailable("a user and tenant (the activity names none)"))
}

#[teams_bot::async_trait]
impl Bot for Tally {
    async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
        let answer = match Command::parse(&message.text) {
            Command::Count => {
                let mine = increment(&user_state(ctx)?, USER_COUNT).await?;
                increment(&ctx.conversation_state(), CONVERSATION_TOTAL).await?;
                format!("You have counted {mine} times")
            }
            Command::TeamTotal => {
                let total = ctx
                    .conversation_state()
                    .load::<u64>(CONVERSATION_TOTAL)
                    .await?
                    .unwrap_or(0);
                format!("This conversation has counted {total} times")
            }
            Command::Remind { minutes } => {
                let data = ReminderData {
                    minutes,
                    text: REMINDER_TEXT.to_owned(),
                };
                let data = serde_json::to_value(&data).map_err(BotError::other)?;
                ctx.jobs()
                    .schedule(REMINDER_JOB, Duration::from_secs(minutes * 60), data)
                    .await?;
                format!("I will remind you every {minutes} minutes")
            }
            Command::BadRemind => {
                format!("Say `remind every <minutes>`, with 1 to {MAX_REMINDER_MINUTES} minutes")
            }
            Command::Stop => {
                if ctx.jobs().cancel(REMINDER_JOB).await? {
                    "Reminder stopped".to_owned()
                } else {
                    "There is no reminder to stop".to_owned()
                }
            }
            Command::Help => HELP.to_owned(),
        };
        ctx.reply(answer).await?;
        Ok(())
    }

    async fn on_message_edit(&self, ctx: &Context<'_>, _edit: &MessageEdit<'_>) -> Result<(), BotError> {
        ctx.reply("You edited your message").await?;
        Ok(())
    }

    async fn on_invoke(&self, ctx: &Context<'_>, invoke: &InvokeRequest<'_>) -> Result<InvokeResponse, BotError> {
        if invoke.name != GET_INVOKE {
            return Ok(
                InvokeResponse::json(json!({"error": format!("unknown invoke `{}`", invoke.name)})).with_status(404),
            );
        }
        let Some(state) = ctx.user_state() else {
            return Ok(InvokeResponse::json(json!({"error": "no user"})).with_status(400));
        };
        let count = state.load::<u64>(USER_COUNT).await?.unwrap_or(0);
        Ok(InvokeResponse::json(json!({ "count": count })))
    }

    async fn on_job(&self, ctx: &Context<'_>, job: &JobRun<'_>) -> Result<(), BotError> {
        if job.name != REMINDER_JOB {
            return Ok(());
        }
        let text = serde_json::from_value::<ReminderData>(job.data.clone())
            .map_or_else(|_| REMINDER_TEXT.to_owned(), |data| data.text);
        ctx.reply(text).await?;
        Ok(())
    }

    async fn team_welcome(&self, team: &TeamWelcome<'_>) -> Option<Activity> {
        let name = team.team_name.unwrap_or("your team");
        Some(Activity::message(format!(
            "{WELCOME_PREFIX}, {name}! Mention me with `count` to count."
        )))
    }

    async fn personal_welcome(&self, _user: &PersonalWelcome<'_>) -> Option<Activity> {
        Some(Activity::message(format!("{WELCOME_PREFIX}! {HELP}")))
    }
}

#[cfg(test)]
mod tests {
    use super::Command;

    #[test]
    fn commands_parse() {
        assert_eq!(Command::parse("count"), Command::Count);
        assert_eq!(Command::parse("  Count "), Command::Count);
        assert_eq!(Command::parse("team   total"), Command::TeamTotal);
        assert_eq!(Command::parse("remind every 5"), Command::Remind { minutes: 5 });
        assert_eq!(Command::parse("remind every 5 minutes"), Command::Remind { minutes: 5 });
        assert_eq!(Command::parse("remind every 0"), Command::BadRemind);
        assert_eq!(Command::parse("remind every 1441"), Command::BadRemind);
        assert_eq!(Command::parse("remind me"), Command::BadRemind);
        assert_eq!(Command::parse("stop"), Command::Stop);
        assert_eq!(Command::parse("counting"), Command::Help);
    }
}

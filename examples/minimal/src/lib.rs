//! The minimal bot: answers every message and welcomes each team and each user once.
use teams_bot::{Activity, Bot, BotError, Context, IncomingMessage, PersonalWelcome, TeamWelcome};

/// Says hello back.
#[derive(Clone, Copy, Debug, Default)]
pub struct Minimal;

#[teams_bot::async_trait]
impl Bot for Minimal {
    async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
        ctx.reply(format!("Hello from minimal: {}", message.text)).await?;
        Ok(())
    }

    async fn team_welcome(&self, _team: &TeamWelcome<'_>) -> Option<Activity> {
        Some(Activity::message("Welcome to minimal"))
    }

    async fn personal_welcome(&self, _user: &PersonalWelcome<'_>) -> Option<Activity> {
        Some(Activity::message("Welcome to minimal"))
    }
}

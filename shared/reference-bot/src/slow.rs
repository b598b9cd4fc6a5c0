//! The `slow` command: work longer than Teams' webhook deadline. The bot acknowledges at once ([`SLOW_ACK`]) and
//! defers the work ([`teams_bot::Context::defer`]); the runtime runs it after the webhook answered (the
//! `proactive` function in AWS), and the answer arrives later in the same conversation.
//!
//! `slow` takes [`DEFAULT_SLOW_SECS`]; `slow <seconds>` takes that long, at most [`MAX_SLOW_SECS`] (well inside a
//! deferred run's 60 s deadline), so tests need not wait.

use serde_json::json;
use std::time::Duration;
use teams_bot::{BotError, Context, DeferredWork};

/// The name of the `slow` command's deferred work.
pub const SLOW_WORK: &str = "slow";
/// How long `slow` works without an argument.
pub const DEFAULT_SLOW_SECS: u64 = 20;
/// The longest `slow <seconds>` works.
pub const MAX_SLOW_SECS: u64 = 30;
/// How the acknowledgement starts.
pub const SLOW_ACK: &str = "Working on it...";
/// How the deferred answer starts.
pub const SLOW_DONE: &str = "Done:";

/// The delay `slow <argument>` asks for: the default without one, capped at [`MAX_SLOW_SECS`]; `None` when the
/// argument is not a number of seconds.
#[must_use]
pub fn slow_secs(argument: &str) -> Option<u64> {
    if argument.is_empty() {
        return Some(DEFAULT_SLOW_SECS);
    }
    argument.parse::<u64>().ok().map(|secs| secs.min(MAX_SLOW_SECS))
}

/// `slow [seconds]`: the work deferred, the acknowledgement now.
pub(crate) async fn slow(ctx: &Context<'_>, argument: &str) -> Result<(), BotError> {
    let Some(secs) = slow_secs(argument) else {
        ctx.reply(format!("Usage: slow [seconds], at most {MAX_SLOW_SECS}."))
            .await?;
        return Ok(());
    };
    // The work first: once stored it runs even if the acknowledgement is slow to reach Teams and the webhook's
    // deadline cancels this handler.
    if let Err(e) = ctx.defer(SLOW_WORK, json!({"secs": secs})).await {
        let _ = ctx.reply("Sorry, I could not start that work. Please try again.").await;
        return Err(e);
    }
    ctx.reply(format!("{SLOW_ACK} I will answer here in {secs} s.")).await?;
    Ok(())
}

/// The deferred part: waits the seconds asked, then answers.
pub(crate) async fn on_deferred(ctx: &Context<'_>, work: &DeferredWork<'_>) -> Result<(), BotError> {
    if work.name != SLOW_WORK {
        tracing::warn!(
            name = work.name,
            "deferred work the reference bot does not know; ignored"
        );
        return Ok(());
    }
    let secs = work.data["secs"]
        .as_u64()
        .unwrap_or(DEFAULT_SLOW_SECS)
        .min(MAX_SLOW_SECS);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    ctx.reply(format!("{SLOW_DONE} here is the slow answer, after {secs} s of work."))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_defaults_caps_and_refuses_what_is_not_a_number() {
        assert_eq!(slow_secs(""), Some(DEFAULT_SLOW_SECS));
        assert_eq!(slow_secs("2"), Some(2));
        assert_eq!(slow_secs("0"), Some(0));
        assert_eq!(slow_secs("600"), Some(MAX_SLOW_SECS));
        assert_eq!(slow_secs("soon"), None);
        assert_eq!(slow_secs("-1"), None);
    }
}

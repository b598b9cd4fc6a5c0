//! The echo follows the message it answers: when the user edits the message, the echo is updated in place to
//! quote the new text; when the user deletes it, the echo is deleted. Which echo answers which message is kept in
//! the conversation's state for [`ECHO_KEEP`] (docs/decisions/2026-11-30-echo-follows-edits.md).
//!
//! Exactly once comes from the runtime: an edit reaches the bot once per distinct content, a delete once, so a
//! redelivery by Teams does nothing more. Edits and deletes of messages the bot did not echo (a command, a message
//! it never saw, or one echoed longer ago than [`ECHO_KEEP`]) do nothing.

use crate::commands::echo;
use std::time::Duration;
use teams_bot::{ActivityId, BotError, Context, MessageDeleted, MessageEdit};

/// How long the bot remembers which reply echoes which message, and so follows the message's edits and delete.
pub const ECHO_KEEP: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The conversation state name under which the id of the echo of message `message_id` is kept.
#[must_use]
pub fn echo_state_name(message_id: &ActivityId) -> String {
    format!("echo:{message_id}")
}

/// Remembers that `echo_id` echoes `message_id` (one state write per echo).
///
/// # Errors
/// [`BotError::Store`] when the state cannot be written; the echo is sent, but will not follow edits.
pub(crate) async fn remember_echo(
    ctx: &Context<'_>,
    message_id: &ActivityId,
    echo_id: &ActivityId,
) -> Result<(), BotError> {
    ctx.conversation_state()
        .save(&echo_state_name(message_id), echo_id, Some(ECHO_KEEP))
        .await
}

/// A user edited a message: if the bot echoed it, the echo now quotes the new text (the bot's mentions removed, as
/// the first echo had them). An edit that turns the message into a command still only updates the echo: the
/// reply is the echo of that message, and a command's effects are not run by an edit.
///
/// # Errors
/// [`BotError::Store`] when the state cannot be read; [`BotError::Connector`] when Teams refused the update (except
/// 404: the echo is gone, so it is forgotten).
pub(crate) async fn on_message_edit(ctx: &Context<'_>, edit: &MessageEdit<'_>) -> Result<(), BotError> {
    let name = echo_state_name(edit.message_id);
    let state = ctx.conversation_state();
    let Some(echo_id) = state.load::<ActivityId>(&name).await? else {
        return Ok(());
    };
    match ctx.update(&echo_id, echo(edit.activity, &edit.text)).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => {
            tracing::info!(message = %edit.message_id, echo = %echo_id, "the echo of an edited message is gone");
            state.delete(&name).await.map(|_| ())
        }
        Err(e) => Err(e),
    }
}

/// A user deleted a message: if the bot echoed it, the echo is deleted too (an echo already gone counts as
/// deleted), and forgotten.
///
/// # Errors
/// [`BotError::Store`] when the state cannot be read or written; [`BotError::Connector`] when Teams refused the
/// delete (the echo is then still remembered until its keep runs out).
pub(crate) async fn on_message_delete(ctx: &Context<'_>, deleted: &MessageDeleted<'_>) -> Result<(), BotError> {
    let name = echo_state_name(deleted.message_id);
    let state = ctx.conversation_state();
    let Some(echo_id) = state.load::<ActivityId>(&name).await? else {
        return Ok(());
    };
    match ctx.delete(&echo_id).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e),
    }
    state.delete(&name).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_name_is_per_message() {
        assert_eq!(
            echo_state_name(&ActivityId::from("1714557600000")),
            "echo:1714557600000"
        );
        assert_ne!(
            echo_state_name(&ActivityId::from("1")),
            echo_state_name(&ActivityId::from("2"))
        );
    }
}

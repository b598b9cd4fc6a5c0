//! The `stream` command: a short text written word by word, as a bot that generates text answers. In a 1:1 chat
//! Teams shows it growing (an informative update, then the text in a few updates, then the final message); in a
//! channel or group chat it arrives as one message when done.

use std::time::Duration;
use teams_bot::{BotError, Context, StreamOutcome};

/// The informative update shown before the text starts.
pub const STREAM_INFORM: &str = "Thinking about streaming...";

/// The text the command streams.
pub const STREAM_TEXT: &str =
    "Streaming works like this: Teams shows my answer while I write it, then the whole text as the final message.";

/// The time the command takes per word (standing in for a model generating text).
pub const WORD_DELAY: Duration = Duration::from_millis(200);

/// Streams [`STREAM_TEXT`]; answers how the stream ended.
///
/// # Errors
/// [`BotError::Connector`] when Teams failed an update or the final message for another reason than refusing to
/// stream (a user's Stop is no error).
pub async fn stream(ctx: &Context<'_>) -> Result<StreamOutcome, BotError> {
    let mut stream = ctx.stream();
    stream.inform(STREAM_INFORM).await?;
    tokio::time::sleep(WORD_DELAY).await;
    for (i, word) in STREAM_TEXT.split(' ').enumerate() {
        if stream.is_stopped() {
            break;
        }
        let chunk = if i == 0 { word.to_owned() } else { format!(" {word}") };
        stream.push(chunk).await?;
        tokio::time::sleep(WORD_DELAY).await;
    }
    let outcome = stream.finish().await?;
    if outcome == StreamOutcome::StoppedByUser {
        tracing::info!(conversation = %ctx.conversation_id(), "the user stopped the streamed answer");
    }
    Ok(outcome)
}

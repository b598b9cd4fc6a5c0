//! Teams meetings: the bot announces a meeting's start (with its title) and end in the meeting's chat, and the
//! `role` command answers the sender's role in the meeting the chat belongs to (the meeting participant API).

use teams_bot::models::TextFormat;
use teams_bot::{BotError, Context, IncomingMessage, MeetingEvent, Message};

/// What the bot posts in the meeting chat when the meeting starts, before the meeting's title.
pub const MEETING_STARTED: &str = "Meeting started: ";
/// What the bot posts in the meeting chat when the meeting ends.
pub const MEETING_ENDED: &str = "Meeting ended";
/// The title shown for a meeting without one.
pub const UNTITLED: &str = "(untitled)";
/// The `role` command's answer, before the role (`Organizer`, `Presenter`, `Attendee`).
pub const YOUR_ROLE: &str = "Your meeting role: ";
/// The `role` command's answer outside a meeting chat.
pub const NOT_A_MEETING: &str = "The role command works in a meeting chat.";
/// The `role` command's answer when Teams does not find the sender in the meeting (404).
pub const NOT_IN_MEETING: &str = "Sorry, I could not find you in this meeting.";
/// The `role` command's answer when the lookup failed otherwise.
pub const ROLE_FAILED: &str = "Sorry, I could not read your meeting role.";

/// `Meeting started: <title>`, as plain text: the title is the organizer's words, never rendered as markdown.
#[must_use]
pub fn started_text(title: Option<&str>) -> String {
    let title = title.map(str::trim).filter(|t| !t.is_empty()).unwrap_or(UNTITLED);
    format!("{MEETING_STARTED}{title}")
}

pub(crate) async fn on_meeting_started(ctx: &Context<'_>, meeting: &MeetingEvent<'_>) -> Result<(), BotError> {
    let text = started_text(meeting.title());
    ctx.send(Message::new().text(text).format(TextFormat::Plain)).await?;
    Ok(())
}

pub(crate) async fn on_meeting_ended(ctx: &Context<'_>) -> Result<(), BotError> {
    ctx.send(MEETING_ENDED).await?;
    Ok(())
}

/// The `role` command: the sender's role in this chat's meeting, read from Teams each time (the organizer can
/// change roles at any time).
pub(crate) async fn role(ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
    if ctx.meeting_id().is_none() {
        ctx.reply(NOT_A_MEETING).await?;
        return Ok(());
    }
    let from = message.from;
    let participant = from
        .aad_object_id
        .as_deref()
        .filter(|a| !a.is_empty())
        .unwrap_or(&from.id);
    match ctx.meeting_participant(participant).await {
        Ok(found) => {
            let role = found.meeting.role.as_ref().map_or("unknown", |r| r.as_str());
            ctx.reply(
                Message::new()
                    .text(format!("{YOUR_ROLE}{role}"))
                    .format(TextFormat::Plain),
            )
            .await?;
            Ok(())
        }
        Err(e) => {
            let apology = if e.is_not_found() { NOT_IN_MEETING } else { ROLE_FAILED };
            if !e.is_bot_removed() {
                let _ = ctx.reply(apology).await;
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_text_names_the_title_or_says_untitled() {
        assert_eq!(started_text(Some("Weekly *sync*")), "Meeting started: Weekly *sync*");
        assert_eq!(started_text(Some("  ")), "Meeting started: (untitled)");
        assert_eq!(started_text(None), "Meeting started: (untitled)");
    }
}

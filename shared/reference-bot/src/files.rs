//! Files in a 1:1 chat: the bot says what it received (a file's name and size, a picture's size), and the `file`
//! command offers a small text file through Teams' file consent card (the runtime uploads it on accept).

use teams_bot::files::AttachedFile;
use teams_bot::models::TextFormat;
use teams_bot::{BotError, Context, FileConsent, IncomingMessage, Message, Scope};

/// The file the `file` command offers.
pub const OFFERED_NAME: &str = "hello.txt";
/// Its description on the consent card.
pub const OFFERED_DESCRIPTION: &str = "A small text file from the reference bot";
/// Its content.
pub const OFFERED_TEXT: &str = "Hello from the reference bot.\nThis file was uploaded after you accepted it.\n";

/// In a 1:1 chat, answers each file or picture the message carries with what was received
/// (`You sent a file <name> (<n> bytes)`, `You sent a picture (<n> bytes)`), read through the runtime (the bot's
/// token only to the conversation's own Connector host). `false` when the message carries none (or is not in a
/// 1:1 chat): the caller goes on with the text.
pub(crate) async fn received(ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<bool, BotError> {
    if message.scope != Scope::Personal {
        return Ok(false);
    }
    let files = message.files();
    if files.is_empty() {
        return Ok(false);
    }
    for file in &files {
        let answer = match ctx.download(file).await {
            Ok(bytes) => describe(file, bytes.len()),
            Err(e) => {
                tracing::info!(error = %e, "could not read a file a user sent");
                match file.name() {
                    Some(name) => format!("Sorry, I could not read the file {name}."),
                    None => "Sorry, I could not read that file.".to_owned(),
                }
            }
        };
        // The name is the user's: quoted as plain text, never rendered as markdown or HTML.
        ctx.reply(Message::new().text(answer).format(TextFormat::Plain).into_activity())
            .await?;
    }
    Ok(true)
}

/// What the bot says it received.
pub(crate) fn describe(file: &AttachedFile<'_>, size: usize) -> String {
    match (file, file.name()) {
        (AttachedFile::InlineImage { .. }, _) => format!("You sent a picture ({size} bytes)"),
        (_, Some(name)) => format!("You sent a file {name} ({size} bytes)"),
        (_, None) => format!("You sent a file ({size} bytes)"),
    }
}

/// The `file` command: in a 1:1 chat, offers [`OFFERED_NAME`] through a file consent card; elsewhere says where
/// it works.
pub(crate) async fn offer(ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
    if message.scope != Scope::Personal {
        ctx.reply("I can send you a file in our 1:1 chat only: message me there and send file.")
            .await?;
        return Ok(());
    }
    ctx.offer_file(OFFERED_NAME, OFFERED_DESCRIPTION, OFFERED_TEXT.as_bytes().to_vec())
        .await?;
    Ok(())
}

/// How the offer ended: only a failed upload gets a word (an upload already shows the file's card, a decline
/// needs none).
pub(crate) async fn on_file_consent(ctx: &Context<'_>, consent: &FileConsent<'_>) -> Result<(), BotError> {
    match consent {
        FileConsent::Failed { upload, .. } => {
            let text = format!(
                "Sorry, I could not upload {} to your OneDrive. Accept again to retry.",
                upload.name
            );
            ctx.reply(Message::new().text(text).format(TextFormat::Plain).into_activity())
                .await?;
        }
        FileConsent::Uploaded { .. } | FileConsent::Declined { .. } | FileConsent::Unavailable { .. } => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use teams_bot::models::Attachment;

    #[test]
    fn what_was_received_is_named() {
        let picture = Attachment::image_url(
            "https://smba.trafficmanager.net/amer/v3/attachments/x",
            "image/png",
            None,
        );
        assert_eq!(
            describe(&AttachedFile::of(&picture), 12),
            "You sent a picture (12 bytes)"
        );
        let mut file = Attachment {
            content_type: teams_bot::models::files::FILE_DOWNLOAD_INFO.to_owned(),
            content: Some(serde_json::json!({"downloadUrl": "https://contoso.sharepoint.com/d"})),
            name: Some("**bold**.txt".to_owned()),
            ..Attachment::default()
        };
        assert_eq!(
            describe(&AttachedFile::of(&file), 3),
            "You sent a file **bold**.txt (3 bytes)"
        );
        file.name = None;
        assert_eq!(describe(&AttachedFile::of(&file), 0), "You sent a file (0 bytes)");
    }
}

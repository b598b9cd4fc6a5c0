//! Files: reading what a user attached ([`IncomingMessage::files`], [`Context::download`]) and sending a file in a
//! personal chat through Teams' file consent card ([`Context::offer_file`], answered by the runtime on
//! `fileConsent/invoke`, reported to [`crate::api::Bot::on_file_consent`]).
//!
//! Where the bot's token may go when downloading is decided by the Connector client (`connector::files`): only to
//! a URL on the conversation's own allowlisted serviceUrl host; pre-authenticated download URLs and upload URLs
//! never get it. Design and limits: docs/decisions/2026-11-30-files.md.

use crate::api::{BotError, Context, IncomingMessage, InvokeResponse};
use bytes::Bytes;
use connector::{FileError, FileSource};
use models::files::{FileConsentCard, FileConsentResponse, FileInfoCard, FileUploadInfo, from_base64, to_base64};
use models::{Activity, ActivityId, ChannelAccount, ConversationType};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

pub use models::files::{AttachedFile, FileDownloadInfo};

/// The most bytes [`Context::download`] reads (25 MiB): a larger file is refused with [`FileError::TooLarge`]
/// as soon as its size is known, never read past.
pub const MAX_DOWNLOAD_BYTES: u64 = 25 * 1024 * 1024;

/// The largest file [`Context::offer_file`] takes (45 KiB): the bytes wait in the bot's state (base64, in one
/// state value of at most 64 KiB) until the user accepts.
pub const MAX_OFFERED_FILE_BYTES: usize = 45 * 1024;

/// How long an offered file waits for the user's answer.
pub const OFFER_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// The state name prefix of an offer (conversation state).
const OFFER_PREFIX: &str = "file-offer:";

/// The key of the offer id in the card's accept and decline contexts.
const OFFER_KEY: &str = "offerId";

/// An offered file, as kept until the user answers.
#[derive(Debug, Serialize, Deserialize)]
struct Offer {
    name: String,
    /// The bytes, base64.
    data: String,
}

/// How a file offer ended, for [`crate::api::Bot::on_file_consent`].
///
/// ```
/// use teams_bot::{Bot, BotError, Context, FileConsent};
///
/// struct Reports;
///
/// #[teams_bot::async_trait]
/// impl Bot for Reports {
///     async fn on_file_consent(&self, ctx: &Context<'_>, consent: &FileConsent<'_>) -> Result<(), BotError> {
///         match consent {
///             FileConsent::Uploaded { .. } => {} // the runtime already sent the file's card
///             FileConsent::Failed { upload, .. } => {
///                 ctx.reply(format!("Sorry, I could not upload {}; accept again to retry.", upload.name)).await?;
///             }
///             FileConsent::Declined { .. } => {
///                 ctx.reply("No problem, ask me again any time.").await?;
///             }
///             FileConsent::Unavailable { .. } => {
///                 ctx.reply("That file is no longer available; ask me again.").await?;
///             }
///         }
///         Ok(())
///     }
/// }
/// ```
#[derive(Clone, Debug)]
pub enum FileConsent<'a> {
    /// The user accepted: the file was uploaded to their OneDrive and a file card was sent to the chat.
    Uploaded {
        /// Where it went (name, `contentUrl`, `uniqueId`, `fileType`).
        upload: &'a FileUploadInfo,
        /// Who accepted.
        from: &'a ChannelAccount,
    },
    /// The user accepted but the upload failed (the upload URL refused or unreachable): the offer is kept, so
    /// accepting the same card again tries again. Teams' invoke is still answered 200.
    Failed {
        /// Where it was to go.
        upload: &'a FileUploadInfo,
        /// Why it failed.
        error: &'a FileError,
        /// Who accepted.
        from: &'a ChannelAccount,
    },
    /// The user declined: nothing was uploaded and the offer is forgotten.
    Declined {
        /// Who declined.
        from: &'a ChannelAccount,
    },
    /// The answer names an offer that is no longer kept (already delivered, expired, or never made here):
    /// nothing was uploaded.
    Unavailable {
        /// Whether the user pressed accept.
        accepted: bool,
        /// Who answered.
        from: &'a ChannelAccount,
    },
}

impl IncomingMessage<'_> {
    /// The files attached to this message: OneDrive/SharePoint files and inline pictures, in order (cards and
    /// other attachments left out). Read one with [`Context::download`].
    ///
    /// ```
    /// use teams_bot::{Bot, BotError, Context, IncomingMessage};
    ///
    /// struct Sizes;
    ///
    /// #[teams_bot::async_trait]
    /// impl Bot for Sizes {
    ///     async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
    ///         for file in message.files() {
    ///             let bytes = ctx.download(&file).await?;
    ///             ctx.reply(format!("{} bytes", bytes.len())).await?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    #[must_use]
    pub fn files(&self) -> Vec<AttachedFile<'_>> {
        AttachedFile::all(self.message.attachments.as_deref().unwrap_or_default())
    }
}

impl Context<'_> {
    /// The content of `file`, at most [`MAX_DOWNLOAD_BYTES`]. A OneDrive/SharePoint file is fetched from its
    /// pre-authenticated URL without any token; an inline picture with the bot's token only when its URL is on
    /// this conversation's own (allowlisted) Connector host, else without.
    ///
    /// # Errors
    /// [`BotError::File`]: [`FileError::TooLarge`], [`FileError::Refused`] (not https, ...), the host's error
    /// status; [`BotError::NotAvailable`] for an attachment that is not a file.
    pub async fn download(&self, file: &AttachedFile<'_>) -> Result<Bytes, BotError> {
        self.download_at_most(file, MAX_DOWNLOAD_BYTES).await
    }

    /// [`Context::download`] with another cap, in bytes.
    ///
    /// # Errors
    /// As [`Context::download`].
    pub async fn download_at_most(&self, file: &AttachedFile<'_>, limit: u64) -> Result<Bytes, BotError> {
        let (url, source) = match file {
            AttachedFile::Download { info, .. } => (info.download_url.as_str(), FileSource::PreAuthenticated),
            AttachedFile::InlineImage { content_url, .. } => (*content_url, FileSource::Connector),
            AttachedFile::Other(_) => return Err(BotError::NotAvailable("a file (this attachment is not one)")),
        };
        let service_url = &self.conversation().service_url;
        self.app()
            .connector
            .download(service_url, url, source, limit)
            .await
            .map_err(|e| {
                tracing::info!(error = %e, "file download failed");
                BotError::File(e)
            })
    }

    /// Offers the user a file in this personal chat: sends a file consent card (`name`, `description`, size) and
    /// keeps the bytes until the user answers. On accept the runtime uploads them to the user's OneDrive and
    /// sends a file card; either way [`crate::api::Bot::on_file_consent`] hears how it ended. Answers the card's
    /// activity id.
    ///
    /// ```
    /// use teams_bot::{Bot, BotError, Context, IncomingMessage};
    ///
    /// struct Reports;
    ///
    /// #[teams_bot::async_trait]
    /// impl Bot for Reports {
    ///     async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
    ///         if message.text == "report" {
    ///             ctx.offer_file("report.txt", "Today's report", b"all good\n".to_vec()).await?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// [`BotError::NotAvailable`] outside a personal chat (Teams offers files only there);
    /// [`BotError::File`] with [`FileError::TooLarge`] over [`MAX_OFFERED_FILE_BYTES`]; the store's or Teams'
    /// errors.
    pub async fn offer_file(
        &self,
        name: &str,
        description: &str,
        bytes: impl Into<Bytes>,
    ) -> Result<ActivityId, BotError> {
        let bytes: Bytes = bytes.into();
        if self.conversation().conversation.conversation_type != Some(ConversationType::Personal) {
            return Err(BotError::NotAvailable("a personal chat (files are offered only there)"));
        }
        if bytes.len() > MAX_OFFERED_FILE_BYTES {
            return Err(BotError::File(FileError::TooLarge {
                limit: MAX_OFFERED_FILE_BYTES as u64,
            }));
        }
        let id = offer_id();
        let offer = Offer {
            name: name.to_owned(),
            data: to_base64(&bytes),
        };
        self.conversation_state()
            .save(&format!("{OFFER_PREFIX}{id}"), &offer, Some(OFFER_KEEP))
            .await?;
        let card = FileConsentCard {
            description: Some(description.to_owned()),
            size_in_bytes: Some(bytes.len() as u64),
            accept_context: Some(json!({ OFFER_KEY: id })),
            decline_context: Some(json!({ OFFER_KEY: id })),
        };
        self.reply(attachment_message(card.into_attachment(name))).await
    }
}

/// The runtime's answer to a `fileConsent/invoke`: uploads an accepted offer and sends its file card, forgets a
/// declined one, tells the bot, and answers Teams 200.
pub(crate) async fn answer_file_consent(
    bot: &dyn crate::api::Bot,
    ctx: &Context<'_>,
    consent: &FileConsentResponse,
    from: &ChannelAccount,
) -> Result<InvokeResponse, BotError> {
    let accepted = consent.is_accepted();
    let state = ctx.conversation_state();
    let offer_name = consent
        .context
        .get(OFFER_KEY)
        .and_then(serde_json::Value::as_str)
        .filter(|id| is_offer_id(id))
        .map(|id| format!("{OFFER_PREFIX}{id}"));
    let offer = match &offer_name {
        Some(name) => state.load::<Offer>(name).await?,
        None => None,
    };
    let (Some(name), Some(offer)) = (offer_name, offer) else {
        bot.on_file_consent(ctx, &FileConsent::Unavailable { accepted, from })
            .await?;
        return Ok(InvokeResponse::ok());
    };
    if !accepted {
        state.delete(&name).await?;
        bot.on_file_consent(ctx, &FileConsent::Declined { from }).await?;
        return Ok(InvokeResponse::ok());
    }
    let Some(upload) = consent.upload_info.as_ref().filter(|u| !u.upload_url.is_empty()) else {
        return Ok(crate::api::InvokeError::bad_request("fileConsent/invoke accepted without uploadInfo").into());
    };
    let Some(bytes) = from_base64(&offer.data) else {
        state.delete(&name).await?;
        return Err(BotError::NotAvailable(
            "the offered file (its stored bytes are damaged)",
        ));
    };
    tracing::debug!(file = %offer.name, size = bytes.len(), "uploading an accepted file");
    let uploaded = ctx
        .app()
        .connector
        .upload(&ctx.conversation().service_url, &upload.upload_url, Bytes::from(bytes))
        .await;
    if let Err(error) = uploaded {
        tracing::warn!(error = %error, "file upload failed; the offer is kept");
        bot.on_file_consent(
            ctx,
            &FileConsent::Failed {
                upload,
                error: &error,
                from,
            },
        )
        .await?;
        return Ok(InvokeResponse::ok());
    }
    ctx.reply(attachment_message(FileInfoCard::for_upload(upload))).await?;
    state.delete(&name).await?;
    bot.on_file_consent(ctx, &FileConsent::Uploaded { upload, from })
        .await?;
    Ok(InvokeResponse::ok())
}

/// A message with `attachment` and no text.
fn attachment_message(attachment: models::Attachment) -> Activity {
    let mut message = Activity::message("");
    if let Some(m) = message.message_mut() {
        m.text = None;
        m.attachments = Some(vec![attachment]);
    }
    message
}

/// A new offer id: 16 random bytes, hex.
fn offer_id() -> String {
    crate::api::deferred::random_id(0)
}

/// Whether `id` is one [`offer_id`] could have made (so a forged context cannot name another state value).
fn is_offer_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_ids_are_random_hex_and_checked() {
        let (a, b) = (offer_id(), offer_id());
        assert_ne!(a, b);
        assert!(is_offer_id(&a) && is_offer_id(&b));
        for bad in ["", "../x", "A".repeat(32).as_str(), &format!("{a}0"), "zz"] {
            assert!(!is_offer_id(bad), "{bad}");
        }
    }
}

//! Files in Teams: what a user attached to a message (a file from OneDrive/SharePoint as
//! `application/vnd.microsoft.teams.file.download.info`, or an inline picture whose `contentUrl` is on the
//! Connector), and the file consent flow a bot uses to send a file in a personal chat (a
//! `application/vnd.microsoft.teams.card.file.consent` card, the `fileConsent/invoke` answer, then a
//! `application/vnd.microsoft.teams.card.file.info` card). Source: msteams-docs `bots/how-to/bots-filesv4.md`;
//! botbuilder-js `FileConsentCard`, `FileConsentCardResponse`, `FileUploadInfo`, `FileInfoCard`,
//! `FileDownloadInfo`.

use crate::attachment::Attachment;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `contentType` of a file a user attached (its `content` is a [`FileDownloadInfo`]).
pub const FILE_DOWNLOAD_INFO: &str = "application/vnd.microsoft.teams.file.download.info";
/// `contentType` of the card asking the user's consent to upload a file to their OneDrive.
pub const FILE_CONSENT_CARD: &str = "application/vnd.microsoft.teams.card.file.consent";
/// `contentType` of the card that shows a file uploaded to the user's OneDrive.
pub const FILE_INFO_CARD: &str = "application/vnd.microsoft.teams.card.file.info";
/// The name of the invoke Teams sends when the user accepts or declines a file consent card.
pub const FILE_CONSENT_INVOKE: &str = "fileConsent/invoke";

/// The `content` of a [`FILE_DOWNLOAD_INFO`] attachment: a pre-authenticated, short-lived download URL.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileDownloadInfo {
    /// Pre-authenticated URL of the file's content: fetched without any token of ours.
    pub download_url: String,
    /// The file's id in OneDrive/SharePoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<String>,
    /// The file's extension (`txt`, `pdf`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_type: Option<String>,
    /// Everything else, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One attachment of an incoming message, read as what a bot can do with it.
#[derive(Clone, Debug, PartialEq)]
pub enum AttachedFile<'a> {
    /// A file from OneDrive/SharePoint, with its pre-authenticated download URL.
    Download {
        /// The file name (the attachment's `name`), when Teams gave one.
        name: Option<&'a str>,
        /// The download information.
        info: FileDownloadInfo,
    },
    /// A picture pasted into the message: an `image/*` attachment whose `contentUrl` is fetched with the bot's
    /// token (when it is on the conversation's own Connector host).
    InlineImage {
        /// The MIME type (`image/png`, ...).
        content_type: &'a str,
        /// Where the picture is.
        content_url: &'a str,
        /// The file name, when Teams gave one.
        name: Option<&'a str>,
    },
    /// Anything else (cards, `text/html` bodies, a download info whose content is malformed), as sent.
    Other(&'a Attachment),
}

impl<'a> AttachedFile<'a> {
    /// Reads `attachment`.
    #[must_use]
    pub fn of(attachment: &'a Attachment) -> Self {
        let kind = attachment.content_type.as_str();
        if kind.eq_ignore_ascii_case(FILE_DOWNLOAD_INFO) {
            let info = attachment
                .content
                .clone()
                .and_then(|c| serde_json::from_value::<FileDownloadInfo>(c).ok())
                .filter(|i| !i.download_url.is_empty());
            return match info {
                Some(info) => Self::Download {
                    name: attachment.name.as_deref(),
                    info,
                },
                None => Self::Other(attachment),
            };
        }
        let is_image = kind.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("image/"));
        match attachment.content_url.as_deref() {
            Some(url) if is_image && !url.is_empty() && !url.starts_with("data:") => Self::InlineImage {
                content_type: kind,
                content_url: url,
                name: attachment.name.as_deref(),
            },
            _ => Self::Other(attachment),
        }
    }

    /// The files of a message's attachments: downloads and inline pictures, in order (other attachments left out).
    #[must_use]
    pub fn all(attachments: &'a [Attachment]) -> Vec<Self> {
        attachments
            .iter()
            .map(Self::of)
            .filter(|f| !matches!(f, Self::Other(_)))
            .collect()
    }

    /// The file's name, when known.
    #[must_use]
    pub fn name(&self) -> Option<&'a str> {
        match self {
            Self::Download { name, .. } | Self::InlineImage { name, .. } => *name,
            Self::Other(a) => a.name.as_deref(),
        }
    }
}

/// The `content` of a [`FILE_CONSENT_CARD`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileConsentCard {
    /// What the file is, shown to the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The file's size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_in_bytes: Option<u64>,
    /// Sent back in the invoke's `value.context` when the user accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_context: Option<Value>,
    /// Sent back in the invoke's `value.context` when the user declines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_context: Option<Value>,
}

impl FileConsentCard {
    /// The card as an attachment named `name` (the file name the user will see).
    #[must_use]
    pub fn into_attachment(self, name: impl Into<String>) -> Attachment {
        Attachment {
            content_type: FILE_CONSENT_CARD.to_owned(),
            content: serde_json::to_value(self).ok(),
            name: Some(name.into()),
            ..Attachment::default()
        }
    }
}

/// Where Teams lets the bot upload an accepted file (`value.uploadInfo` of the invoke).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileUploadInfo {
    /// The file's name.
    #[serde(default)]
    pub name: String,
    /// The upload session URL: the bytes are PUT there, without any token of ours.
    #[serde(default)]
    pub upload_url: String,
    /// Where the file will be (for the file info card).
    #[serde(default)]
    pub content_url: String,
    /// The file's id in OneDrive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<String>,
    /// The file's extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_type: Option<String>,
    /// Everything else, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `value` of a `fileConsent/invoke`: `{"type": "fileUpload", "action": "accept" | "decline", "context",
/// "uploadInfo"}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileConsentResponse {
    /// `accept` or `decline`.
    #[serde(default)]
    pub action: String,
    /// The card's `acceptContext` or `declineContext`.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    /// Present when the user accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_info: Option<FileUploadInfo>,
    /// Everything else (`type: fileUpload`, ...), as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl FileConsentResponse {
    /// Whether the user accepted the file.
    #[must_use]
    pub fn is_accepted(&self) -> bool {
        self.action.eq_ignore_ascii_case("accept")
    }
}

/// The `content` of a [`FILE_INFO_CARD`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileInfoCard {
    /// The file's id in OneDrive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<String>,
    /// The file's extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_type: Option<String>,
}

impl FileInfoCard {
    /// The card for an uploaded file, as an attachment (`contentUrl` and `name` from `upload`).
    #[must_use]
    pub fn for_upload(upload: &FileUploadInfo) -> Attachment {
        let card = Self {
            unique_id: upload.unique_id.clone(),
            file_type: upload.file_type.clone(),
        };
        Attachment {
            content_type: FILE_INFO_CARD.to_owned(),
            content_url: Some(upload.content_url.clone()),
            content: serde_json::to_value(card).ok(),
            name: Some(upload.name.clone()),
            ..Attachment::default()
        }
    }
}

/// The `Content-Range` header for uploading all of `len` bytes in one PUT: `bytes 0-{len-1}/{len}`.
#[must_use]
pub fn whole_content_range(len: u64) -> String {
    format!("bytes 0-{}/{len}", len.saturating_sub(1))
}

/// `bytes` as standard base64 (how a bot keeps a small offered file in its JSON state).
#[must_use]
pub fn to_base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The bytes of standard base64 `text`; `None` when it is not base64.
#[must_use]
pub fn from_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attachment(v: Value) -> Attachment {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_download_info_attachment_reads_as_a_download() {
        let a = attachment(json!({
            "contentType": FILE_DOWNLOAD_INFO,
            "contentUrl": "https://contoso.sharepoint.com/personal/a/Documents/report.txt",
            "name": "report.txt",
            "content": {"downloadUrl": "https://contoso.sharepoint.com/download.aspx?tempauth=x", "uniqueId": "u1", "fileType": "txt", "etag": "e"}
        }));
        match AttachedFile::of(&a) {
            AttachedFile::Download { name, info } => {
                assert_eq!(name, Some("report.txt"));
                assert_eq!(
                    info.download_url,
                    "https://contoso.sharepoint.com/download.aspx?tempauth=x"
                );
                assert_eq!(info.unique_id.as_deref(), Some("u1"));
                assert_eq!(info.file_type.as_deref(), Some("txt"));
                assert_eq!(info.extra["etag"], "e");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_malformed_download_info_is_left_as_is() {
        for content in [
            json!(null),
            json!({"uniqueId": "u"}),
            json!({"downloadUrl": 3}),
            json!({"downloadUrl": ""}),
        ] {
            let a = attachment(json!({"contentType": FILE_DOWNLOAD_INFO, "content": content}));
            assert!(matches!(AttachedFile::of(&a), AttachedFile::Other(_)), "{content}");
        }
    }

    #[test]
    fn inline_images_need_a_content_url() {
        let a = attachment(
            json!({"contentType": "image/png", "contentUrl": "https://smba.trafficmanager.net/amer/v3/attachments/0-x/views/original"}),
        );
        assert_eq!(
            AttachedFile::of(&a),
            AttachedFile::InlineImage {
                content_type: "image/png",
                content_url: "https://smba.trafficmanager.net/amer/v3/attachments/0-x/views/original",
                name: None
            }
        );
        let data = attachment(json!({"contentType": "image/png", "contentUrl": "data:image/png;base64,AAAA"}));
        assert!(matches!(AttachedFile::of(&data), AttachedFile::Other(_)));
        let html = attachment(json!({"contentType": "text/html", "content": "<p>hi</p>"}));
        assert!(matches!(AttachedFile::of(&html), AttachedFile::Other(_)));
        assert!(AttachedFile::all(&[html, data, a]).len() == 1);
    }

    #[test]
    fn the_consent_card_and_info_card_have_teams_field_names() {
        let card = FileConsentCard {
            description: Some("A note".into()),
            size_in_bytes: Some(12),
            accept_context: Some(json!({"offer": "o1"})),
            decline_context: Some(json!({"offer": "o1"})),
        }
        .into_attachment("note.txt");
        assert_eq!(
            serde_json::to_value(&card).unwrap(),
            json!({"contentType": FILE_CONSENT_CARD, "name": "note.txt", "content": {
                "description": "A note", "sizeInBytes": 12, "acceptContext": {"offer": "o1"}, "declineContext": {"offer": "o1"}
            }})
        );
        let upload = FileUploadInfo {
            name: "note.txt".into(),
            upload_url: "https://upload".into(),
            content_url: "https://contoso/note.txt".into(),
            unique_id: Some("u".into()),
            file_type: Some("txt".into()),
            extra: Map::new(),
        };
        assert_eq!(
            serde_json::to_value(FileInfoCard::for_upload(&upload)).unwrap(),
            json!({"contentType": FILE_INFO_CARD, "contentUrl": "https://contoso/note.txt", "name": "note.txt",
                   "content": {"uniqueId": "u", "fileType": "txt"}})
        );
        assert_eq!(whole_content_range(12), "bytes 0-11/12");
        assert_eq!(from_base64(&to_base64(b"hi\x00")).unwrap(), b"hi\x00");
        assert!(from_base64("not base64!").is_none());
    }

    #[test]
    fn a_consent_answer_reads_accept_and_decline() {
        let v: FileConsentResponse = serde_json::from_value(json!({
            "type": "fileUpload", "action": "accept", "context": {"offer": "o"},
            "uploadInfo": {"name": "a.txt", "uploadUrl": "https://u", "contentUrl": "https://c", "uniqueId": "1", "fileType": "txt"}
        }))
        .unwrap();
        assert!(v.is_accepted());
        assert_eq!(v.upload_info.unwrap().upload_url, "https://u");
        let d: FileConsentResponse = serde_json::from_value(json!({"action": "decline", "context": {}})).unwrap();
        assert!(!d.is_accepted());
        assert!(d.upload_info.is_none());
    }
}

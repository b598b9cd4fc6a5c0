//! Attachments: cards (hero, thumbnail, Adaptive) and pictures (by URL or inline).

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `contentType` of a hero card.
pub const HERO_CARD: &str = "application/vnd.microsoft.card.hero";
/// `contentType` of a thumbnail card.
pub const THUMBNAIL_CARD: &str = "application/vnd.microsoft.card.thumbnail";
/// `contentType` of an Adaptive Card.
pub const ADAPTIVE_CARD: &str = "application/vnd.microsoft.card.adaptive";

/// An attachment of a message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Attachment {
    /// A hero card attachment.
    #[must_use]
    pub fn hero(card: &HeroCard) -> Self {
        Self::card(HERO_CARD, card)
    }

    /// A thumbnail card attachment (same fields as a hero card, laid out with a small image).
    #[must_use]
    pub fn thumbnail(card: &HeroCard) -> Self {
        Self::card(THUMBNAIL_CARD, card)
    }

    /// An Adaptive Card attachment; `card` is the card's JSON (`{"type": "AdaptiveCard", ...}`).
    #[must_use]
    pub fn adaptive(card: Value) -> Self {
        Self {
            content_type: ADAPTIVE_CARD.to_owned(),
            content: Some(card),
            ..Self::default()
        }
    }

    /// A picture by URL, with its MIME type (`image/png`, `image/jpeg`, `image/gif`).
    #[must_use]
    pub fn image_url(url: impl Into<String>, content_type: impl Into<String>, name: Option<String>) -> Self {
        Self {
            content_type: content_type.into(),
            content_url: Some(url.into()),
            name,
            ..Self::default()
        }
    }

    /// A picture sent inline as a `data:` URL. Check it first with [`crate::image::check_image`].
    #[must_use]
    pub fn inline_image(bytes: &[u8], content_type: &str, name: Option<String>) -> Self {
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        Self::image_url(format!("data:{content_type};base64,{data}"), content_type, name)
    }

    fn card<T: Serialize>(content_type: &str, card: &T) -> Self {
        Self {
            content_type: content_type.to_owned(),
            content: serde_json::to_value(card).ok(),
            ..Self::default()
        }
    }

    /// The hero or thumbnail card inside, if this is one and it is well formed.
    #[must_use]
    pub fn as_hero_card(&self) -> Option<HeroCard> {
        if self.content_type != HERO_CARD && self.content_type != THUMBNAIL_CARD {
            return None;
        }
        self.content.clone().and_then(|c| serde_json::from_value(c).ok())
    }
}

/// A hero (or thumbnail) card.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HeroCard {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<CardImage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<CardAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tap: Option<CardAction>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An image on a card.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CardImage {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A button or tap action on a card (`imBack`, `messageBack`, `openUrl`, `invoke`, ...).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardAction {
    #[serde(rename = "type")]
    pub action_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_text: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

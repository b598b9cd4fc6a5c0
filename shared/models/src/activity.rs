//! The Activity: a common envelope (who, where, when) plus a kind with its own fields.

use crate::account::{ChannelAccount, ConversationAccount};
use crate::attachment::Attachment;
use crate::channel_data::TeamsChannelData;
use crate::entity::{Entity, Mention};
use crate::ids::{ActivityId, TenantId};
use crate::open_enum::open_enum;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

/// One Bot Framework activity.
///
/// The envelope fields are typed here; the fields of each kind live in [`ActivityKind`]. Fields nobody models
/// are kept in the kind's `extra` map and written back unchanged. A JSON `null` for a known optional field is
/// read as absent and not written back.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ActivityId>,
    /// UTC time the activity was sent (RFC 3339), kept exactly as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The sender's local time (RFC 3339 with offset), kept exactly as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_timezone: Option<String>,
    /// Where to send replies; it can change, so it is refreshed on every inbound activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_url: Option<String>,
    /// Always `msteams` from Teams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ChannelAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<ChannelAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to_id: Option<ActivityId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<Entity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_data: Option<TeamsChannelData>,
    /// The `type` and the fields that belong to it (and any unknown fields).
    #[serde(flatten)]
    pub kind: ActivityKind,
}

/// The kinds of activity, by `type`.
#[derive(Clone, Debug, PartialEq)]
pub enum ActivityKind {
    /// `message`: text, attachments, or a card's submitted `value`.
    Message(Message),
    /// `messageUpdate`: a user edited (or undeleted) a message; carries the new content.
    MessageUpdate(Message),
    /// `messageDelete`: a user deleted a message (`id` names it).
    MessageDelete(Extra),
    /// `conversationUpdate`: members added or removed, team and channel events (see `channelData.eventType`).
    ConversationUpdate(ConversationUpdate),
    /// `installationUpdate`: the app was installed (`add`) or uninstalled (`remove`) in a scope.
    InstallationUpdate(InstallationUpdate),
    /// `messageReaction`: reactions added or removed on a message (`replyToId` names it).
    MessageReaction(MessageReaction),
    /// `invoke`: a request that expects an answer in the HTTP response (card actions, task modules...).
    Invoke(Invoke),
    /// `event`: a named event (meeting start/end, ...).
    Event(NamedEvent),
    /// `typing`.
    Typing(Extra),
    /// Any other `type`, kept with all its fields.
    Unknown {
        /// The `type` as sent.
        activity_type: String,
        /// All fields but the envelope's, as sent.
        fields: Map<String, Value>,
    },
}

impl Default for ActivityKind {
    fn default() -> Self {
        Self::Message(Message::default())
    }
}

/// Only unknown fields (kinds with nothing of their own).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Extra {
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_enum! {
    /// `textFormat` of a message.
    pub enum TextFormat {
        Plain => "plain",
        Markdown => "markdown",
        Xml => "xml",
    }
}

/// The fields of a `message` (and `messageUpdate`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_format: Option<TextFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Attachment>>,
    /// `list` or `carousel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_layout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_actions: Option<Value>,
    /// What a card's `Action.Submit` sent: such a message may have no text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The fields of a `conversationUpdate`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members_added: Option<Vec<ChannelAccount>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members_removed: Option<Vec<ChannelAccount>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_disclosed: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_enum! {
    /// `action` of an installationUpdate.
    pub enum InstallationAction {
        Add => "add",
        Remove => "remove",
        AddUpgrade => "add-upgrade",
        RemoveUpgrade => "remove-upgrade",
    }
}

/// The fields of an `installationUpdate`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstallationUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<InstallationAction>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One reaction (`like`, `heart`, `laugh`, ...).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    #[serde(rename = "type")]
    pub reaction_type: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The fields of a `messageReaction`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageReaction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactions_added: Option<Vec<Reaction>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactions_removed: Option<Vec<Reaction>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The fields of an `invoke`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invoke {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relates_to: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The fields of an `event`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relates_to: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ActivityKind {
    /// The `type` as it appears on the wire.
    #[must_use]
    pub fn type_name(&self) -> &str {
        match self {
            Self::Message(_) => "message",
            Self::MessageUpdate(_) => "messageUpdate",
            Self::MessageDelete(_) => "messageDelete",
            Self::ConversationUpdate(_) => "conversationUpdate",
            Self::InstallationUpdate(_) => "installationUpdate",
            Self::MessageReaction(_) => "messageReaction",
            Self::Invoke(_) => "invoke",
            Self::Event(_) => "event",
            Self::Typing(_) => "typing",
            Self::Unknown { activity_type, .. } => activity_type,
        }
    }
}

impl Serialize for ActivityKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Tagged<'a, T> {
            #[serde(rename = "type")]
            activity_type: &'a str,
            #[serde(flatten)]
            body: &'a T,
        }
        let activity_type = self.type_name();
        match self {
            Self::Message(b) | Self::MessageUpdate(b) => Tagged { activity_type, body: b }.serialize(serializer),
            Self::MessageDelete(b) | Self::Typing(b) => Tagged { activity_type, body: b }.serialize(serializer),
            Self::ConversationUpdate(b) => Tagged { activity_type, body: b }.serialize(serializer),
            Self::InstallationUpdate(b) => Tagged { activity_type, body: b }.serialize(serializer),
            Self::MessageReaction(b) => Tagged { activity_type, body: b }.serialize(serializer),
            Self::Invoke(b) => Tagged { activity_type, body: b }.serialize(serializer),
            Self::Event(b) => Tagged { activity_type, body: b }.serialize(serializer),
            Self::Unknown { fields, .. } => Tagged {
                activity_type,
                body: fields,
            }
            .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ActivityKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut fields = Map::<String, Value>::deserialize(deserializer)?;
        let activity_type = match fields.remove("type") {
            Some(Value::String(t)) => t,
            Some(_) => return Err(D::Error::custom("field `type`: expected a string")),
            None => return Err(D::Error::custom("missing field `type`")),
        };
        let kind = |e: ParseError| D::Error::custom(format!("{activity_type} {e}"));
        Ok(match activity_type.as_str() {
            "message" => Self::Message(from_map(fields).map_err(kind)?),
            "messageUpdate" => Self::MessageUpdate(from_map(fields).map_err(kind)?),
            "messageDelete" => Self::MessageDelete(Extra { extra: fields }),
            "conversationUpdate" => Self::ConversationUpdate(from_map(fields).map_err(kind)?),
            "installationUpdate" => Self::InstallationUpdate(from_map(fields).map_err(kind)?),
            "messageReaction" => Self::MessageReaction(from_map(fields).map_err(kind)?),
            "invoke" => Self::Invoke(from_map(fields).map_err(kind)?),
            "event" => Self::Event(from_map(fields).map_err(kind)?),
            "typing" => Self::Typing(Extra { extra: fields }),
            _ => Self::Unknown { activity_type, fields },
        })
    }
}

/// Deserializes `T` from a JSON object, naming the field that was malformed.
pub(crate) fn from_map<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T, ParseError> {
    serde_path_to_error::deserialize(Value::Object(map)).map_err(ParseError::from_path)
}

/// Why bytes or JSON are not a valid activity. `path` names the malformed field (`from.id`, `channelData.tenant`)
/// where serde can tell; `message` says what was wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// Dotted path of the offending field; empty when the problem is the document itself.
    pub path: String,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "field `{}`: {}", self.path, self.message)
        }
    }
}

impl ParseError {
    fn from_path<E: fmt::Display>(error: serde_path_to_error::Error<E>) -> Self {
        let path = error.path().to_string();
        let path = if path == "." || path == "?" {
            String::new()
        } else {
            path
        };
        Self {
            path,
            message: error.into_inner().to_string(),
        }
    }
}

impl Activity {
    /// Parses an activity from JSON bytes.
    ///
    /// # Errors
    /// [`ParseError`] when the bytes are not JSON, not an object, have no string `type`, or a known field is
    /// malformed (the error names it).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ParseError> {
        // Well-formed activities (nearly all) parse directly; only a failure is parsed again, tracking the path,
        // so that the error can name the malformed field.
        if let Ok(activity) = serde_json::from_slice(bytes) {
            return Ok(activity);
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let activity = serde_path_to_error::deserialize(&mut de).map_err(ParseError::from_path)?;
        de.end().map_err(|e| ParseError {
            path: String::new(),
            message: e.to_string(),
        })?;
        Ok(activity)
    }

    /// Parses an activity from a JSON value.
    ///
    /// # Errors
    /// As [`Activity::from_slice`].
    pub fn from_value(value: Value) -> Result<Self, ParseError> {
        serde_path_to_error::deserialize(value).map_err(ParseError::from_path)
    }

    /// An outbound message activity with this text (plain text format).
    #[must_use]
    pub fn message(text: impl Into<String>) -> Self {
        Self {
            kind: ActivityKind::Message(Message {
                text: Some(text.into()),
                ..Message::default()
            }),
            ..Self::default()
        }
    }

    /// The `type` as it appears on the wire.
    #[must_use]
    pub fn type_name(&self) -> &str {
        self.kind.type_name()
    }

    /// The message fields, for `message` activities.
    #[must_use]
    pub fn as_message(&self) -> Option<&Message> {
        match &self.kind {
            ActivityKind::Message(m) => Some(m),
            _ => None,
        }
    }

    /// The message fields, mutable, for `message` and `messageUpdate` activities.
    pub fn message_mut(&mut self) -> Option<&mut Message> {
        match &mut self.kind {
            ActivityKind::Message(m) | ActivityKind::MessageUpdate(m) => Some(m),
            _ => None,
        }
    }

    /// The text of a message, if any.
    #[must_use]
    pub fn text(&self) -> Option<&str> {
        match &self.kind {
            ActivityKind::Message(m) | ActivityKind::MessageUpdate(m) => m.text.as_deref(),
            _ => None,
        }
    }

    /// The tenant: `channelData.tenant.id`, else `conversation.tenantId`.
    #[must_use]
    pub fn tenant_id(&self) -> Option<&TenantId> {
        self.channel_data
            .as_ref()
            .and_then(TeamsChannelData::tenant_id)
            .or_else(|| self.conversation.as_ref().and_then(|c| c.tenant_id.as_ref()))
    }

    /// The mention entities, in order.
    pub fn mentions(&self) -> impl Iterator<Item = &Mention> {
        self.entities.iter().flatten().filter_map(Entity::as_mention)
    }

    /// Unknown fields of this activity (those not modelled by the envelope or the kind).
    #[must_use]
    pub fn extra(&self) -> &Map<String, Value> {
        match &self.kind {
            ActivityKind::Message(m) | ActivityKind::MessageUpdate(m) => &m.extra,
            ActivityKind::MessageDelete(e) | ActivityKind::Typing(e) => &e.extra,
            ActivityKind::ConversationUpdate(c) => &c.extra,
            ActivityKind::InstallationUpdate(i) => &i.extra,
            ActivityKind::MessageReaction(r) => &r.extra,
            ActivityKind::Invoke(i) => &i.extra,
            ActivityKind::Event(e) => &e.extra,
            ActivityKind::Unknown { fields, .. } => fields,
        }
    }
}

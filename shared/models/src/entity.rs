//! Activity entities: mentions, client info, and anything else kept as sent.

use crate::account::ChannelAccount;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// One entry of `entities`. Known kinds are typed; a known kind with a malformed field is an error, never
/// silently [`Entity::Other`].
#[derive(Clone, Debug, PartialEq)]
pub enum Entity {
    /// `type: "mention"`.
    Mention(Mention),
    /// `type: "clientInfo"`.
    ClientInfo(ClientInfo),
    /// Any other entity (including schema.org ones such as `https://schema.org/Message`), kept as sent.
    Other(Map<String, Value>),
}

/// A mention: `text` (e.g. `<at>Name</at>`) appears in the activity's text and `mentioned` names who.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    pub mentioned: ChannelAccount,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The sender's client: locale, country, platform, timezone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Entity {
    /// The entity's `type`.
    #[must_use]
    pub fn kind(&self) -> &str {
        match self {
            Self::Mention(_) => "mention",
            Self::ClientInfo(_) => "clientInfo",
            Self::Other(map) => map.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// The mention, if this is one.
    #[must_use]
    pub fn as_mention(&self) -> Option<&Mention> {
        match self {
            Self::Mention(m) => Some(m),
            _ => None,
        }
    }
}

impl Serialize for Entity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Tagged<'a, T> {
            #[serde(rename = "type")]
            kind: &'static str,
            #[serde(flatten)]
            body: &'a T,
        }
        match self {
            Self::Mention(m) => Tagged {
                kind: "mention",
                body: m,
            }
            .serialize(serializer),
            Self::ClientInfo(c) => Tagged {
                kind: "clientInfo",
                body: c,
            }
            .serialize(serializer),
            Self::Other(map) => map.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Entity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(deserializer)?;
        let kind = match map.get("type") {
            Some(Value::String(kind)) => kind.clone(),
            Some(_) => return Err(D::Error::custom("entity field `type`: expected a string")),
            None => return Ok(Self::Other(map)),
        };
        match kind.as_str() {
            "mention" => {
                map.remove("type");
                crate::activity::from_map(map)
                    .map(Self::Mention)
                    .map_err(|e| D::Error::custom(format!("mention {e}")))
            }
            "clientInfo" => {
                map.remove("type");
                crate::activity::from_map(map)
                    .map(Self::ClientInfo)
                    .map_err(|e| D::Error::custom(format!("clientInfo {e}")))
            }
            _ => Ok(Self::Other(map)),
        }
    }
}

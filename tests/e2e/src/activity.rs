//! Inbound Teams message activities, from the golden fixtures in `fixtures/` with the parts a test varies.

use crate::E2eError;
use serde_json::{Value, json};

const PERSONAL: &str = include_str!("../fixtures/message_personal.json");
const CHANNEL: &str = include_str!("../fixtures/message_channel_mention.json");

/// A Teams user as activities carry them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// `29:...`
    pub id: String,
    pub name: String,
    pub aad_object_id: String,
}

impl User {
    /// The `from` account JSON.
    #[must_use]
    pub fn account(&self) -> Value {
        json!({"id": self.id, "name": self.name, "aadObjectId": self.aad_object_id})
    }
}

/// What every activity of a test shares: the bot (`28:<app id>` and its display name) and the tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scene {
    pub bot_id: String,
    pub bot_name: String,
    pub tenant: String,
}

/// Where a channel message was posted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    pub team_id: String,
    pub team_name: String,
    pub channel_id: String,
    pub channel_name: String,
    /// The conversation id of the reply chain (`<channel id>;messageid=<root>`).
    pub conversation_id: String,
}

fn fixture(name: &'static str, text: &str) -> Result<Value, E2eError> {
    serde_json::from_str(text).map_err(|source| E2eError::Fixture { name, source })
}

fn common(v: &mut Value, scene: &Scene, from: &User, id: &str, service_url: &str) {
    v["id"] = json!(id);
    v["serviceUrl"] = json!(service_url);
    v["from"] = from.account();
    v["recipient"] = json!({"id": scene.bot_id, "name": scene.bot_name});
    v["conversation"]["tenantId"] = json!(scene.tenant);
    v["channelData"]["tenant"]["id"] = json!(scene.tenant);
}

/// A message in the 1:1 chat `conversation_id` from `from`, with this `text`.
///
/// # Errors
/// Only if the fixture does not parse.
pub fn personal_message(
    scene: &Scene,
    conversation_id: &str,
    from: &User,
    id: &str,
    service_url: &str,
    text: &str,
) -> Result<Value, E2eError> {
    let mut v = fixture("message_personal.json", PERSONAL)?;
    common(&mut v, scene, from, id, service_url);
    v["conversation"]["id"] = json!(conversation_id);
    v["text"] = json!(text);
    Ok(v)
}

/// A channel message that @mentions the bot first, then says `text`.
///
/// # Errors
/// Only if the fixture does not parse.
pub fn channel_message(
    scene: &Scene,
    channel: &Channel,
    from: &User,
    id: &str,
    service_url: &str,
    text: &str,
) -> Result<Value, E2eError> {
    let mut v = fixture("message_channel_mention.json", CHANNEL)?;
    common(&mut v, scene, from, id, service_url);
    v["conversation"]["id"] = json!(channel.conversation_id);
    v["conversation"]["name"] = json!(channel.channel_name);
    v["channelData"]["team"] = json!({"id": channel.team_id, "name": channel.team_name});
    v["channelData"]["channel"] = json!({"id": channel.channel_id, "name": channel.channel_name});
    let at = format!("<at>{}</at>", scene.bot_name);
    v["text"] = json!(format!("{at} {text}"));
    v["entities"] = json!([
        {"type": "mention", "mentioned": {"id": scene.bot_id, "name": scene.bot_name}, "text": at},
        {"type": "clientInfo", "locale": "en-US"}
    ]);
    Ok(v)
}

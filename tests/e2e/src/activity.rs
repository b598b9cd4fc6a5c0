//! Inbound Teams activities: messages from the golden fixtures in `fixtures/` with the parts a test varies, and
//! install and team events (built in the shape Teams sends them).

use crate::E2eError;
use fake_teams::openid::{BotClaims, OpenIdServer};
use serde_json::{Value, json};

const PERSONAL: &str = include_str!("../fixtures/message_personal.json");
const CHANNEL: &str = include_str!("../fixtures/message_channel_mention.json");

/// POSTs `activity` to the messaging endpoint `url` as Teams does: JSON, with a bearer token `openid` signs for the
/// bot `app_id` and the serviceUrl claim `service_url`. Answers the response, whatever its status.
///
/// # Errors
/// [`E2eError::Sign`] when the token cannot be signed, [`E2eError::Http`] when no answer came.
pub async fn post_signed(
    http: &reqwest::Client,
    openid: &OpenIdServer,
    app_id: &str,
    service_url: &str,
    url: &str,
    activity: &Value,
) -> Result<reqwest::Response, E2eError> {
    let token = openid.sign(&BotClaims::new(app_id, service_url))?;
    Ok(http
        .post(url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(activity.to_string())
        .send()
        .await?)
}

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

/// A team, as install and team events name it (its General channel has the team's id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Team {
    /// `19:...@thread.skype`
    pub id: String,
    pub name: String,
}

/// An event in the team's General channel from `from` (the `channelData` carries the team).
fn team_event(scene: &Scene, team: &Team, kind: &str, from: &User, id: &str, service_url: &str) -> Value {
    json!({
        "type": kind, "id": id, "channelId": "msteams", "serviceUrl": service_url,
        "from": from.account(),
        "recipient": {"id": scene.bot_id, "name": scene.bot_name},
        "conversation": {"id": team.id, "conversationType": "channel", "isGroup": true, "tenantId": scene.tenant},
        "channelData": {"tenant": {"id": scene.tenant}, "team": {"id": team.id, "name": team.name}}
    })
}

/// The bot installed in `team` by `from`, as Teams announces it: `conversationUpdate` in the General channel
/// with the bot in `membersAdded`.
#[must_use]
pub fn team_install(scene: &Scene, team: &Team, from: &User, id: &str, service_url: &str) -> Value {
    let mut v = team_event(scene, team, "conversationUpdate", from, id, service_url);
    v["membersAdded"] = json!([{"id": scene.bot_id}]);
    v["channelData"]["eventType"] = json!("teamMemberAdded");
    v
}

/// The same install as the `installationUpdate` `add` Teams also sends.
#[must_use]
pub fn team_installation_add(scene: &Scene, team: &Team, from: &User, id: &str, service_url: &str) -> Value {
    let mut v = team_event(scene, team, "installationUpdate", from, id, service_url);
    v["action"] = json!("add");
    v["channelData"]["settings"] = json!({"selectedChannel": {"id": team.id}});
    v
}

/// A team event that is not an install: `event_type` (`channelCreated`, `channelRenamed`, ...) about `channel`
/// (its id and name), in the General channel's conversation as Teams sends it.
#[must_use]
pub fn channel_event(
    scene: &Scene,
    team: &Team,
    channel: (&str, &str),
    event_type: &str,
    from: &User,
    id: &str,
    service_url: &str,
) -> Value {
    let mut v = team_event(scene, team, "conversationUpdate", from, id, service_url);
    v["channelData"]["channel"] = json!({"id": channel.0, "name": channel.1});
    v["channelData"]["eventType"] = json!(event_type);
    v
}

/// Users (not the bot) added to `team`: `conversationUpdate` `teamMemberAdded` with them in `membersAdded`.
#[must_use]
pub fn members_added(scene: &Scene, team: &Team, added: &[User], from: &User, id: &str, service_url: &str) -> Value {
    let mut v = team_event(scene, team, "conversationUpdate", from, id, service_url);
    v["membersAdded"] = json!(added.iter().map(User::account).collect::<Vec<_>>());
    v["channelData"]["eventType"] = json!("teamMemberAdded");
    v
}

/// A personal install: `installationUpdate` `add` in `from`'s 1:1 chat `conversation_id`.
#[must_use]
pub fn personal_installation_add(
    scene: &Scene,
    conversation_id: &str,
    from: &User,
    id: &str,
    service_url: &str,
) -> Value {
    json!({
        "type": "installationUpdate", "action": "add", "id": id, "channelId": "msteams", "serviceUrl": service_url,
        "from": from.account(),
        "recipient": {"id": scene.bot_id, "name": scene.bot_name},
        "conversation": {"id": conversation_id, "conversationType": "personal", "tenantId": scene.tenant},
        "channelData": {"tenant": {"id": scene.tenant}}
    })
}

//! Request and response bodies of the Bot Connector REST API (v3), as Teams implements it.

use crate::account::{ChannelAccount, TeamsChannelAccount};
use crate::activity::Activity;
use crate::channel_data::{ChannelInfo, TeamsChannelData};
use crate::ids::{ActivityId, ConversationId, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Body of `POST /v3/conversations`.
///
/// A 1:1 chat: `bot`, `members: [{id}]`, `channelData.tenant.id` (see [`ConversationParameters::personal`]).
/// A new reply chain in a channel: `isGroup: true`, `channelData.channel.id`, and the first `activity`
/// (see [`ConversationParameters::channel_thread`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_group: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<ChannelAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<ChannelAccount>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<TenantId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<Activity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_data: Option<TeamsChannelData>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ConversationParameters {
    /// Create (or get) the 1:1 chat between `bot` and `member` in `tenant`.
    #[must_use]
    pub fn personal(bot: ChannelAccount, member: ChannelAccount, tenant: TenantId) -> Self {
        Self {
            bot: Some(bot),
            members: Some(vec![ChannelAccount {
                id: member.id,
                ..ChannelAccount::default()
            }]),
            tenant_id: Some(tenant.clone()),
            channel_data: Some(TeamsChannelData::for_tenant(tenant)),
            ..Self::default()
        }
    }

    /// Start a new reply chain in `channel_id` whose first message is `activity`.
    #[must_use]
    pub fn channel_thread(channel_id: impl Into<String>, tenant: Option<TenantId>, activity: Activity) -> Self {
        let mut channel_data = tenant.map(TeamsChannelData::for_tenant).unwrap_or_default();
        channel_data.channel = Some(ChannelInfo {
            id: channel_id.into(),
            ..ChannelInfo::default()
        });
        Self {
            is_group: Some(true),
            channel_data: Some(channel_data),
            activity: Some(activity),
            ..Self::default()
        }
    }
}

/// Answer of `POST /v3/conversations`: `{id}` for a 1:1, `{id, activityId}` for a channel thread.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationResourceResponse {
    pub id: ConversationId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<ActivityId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_url: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Answer of send, reply and update: the activity's id.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceResponse {
    #[serde(default)]
    pub id: ActivityId,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Answer of `GET conversations/{id}/pagedmembers`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PagedMembersResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
    #[serde(default)]
    pub members: Vec<TeamsChannelAccount>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Answer of `GET teams/{teamId}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamDetails {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_count: Option<u32>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub team_type: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Answer of `GET teams/{teamId}/conversations`: the team's channels.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationList {
    #[serde(default)]
    pub conversations: Vec<ChannelInfo>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The Connector's error body: `{"error": {"code": "BotNotInConversationRoster", "message": "..."}}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

/// The inner error of [`ErrorResponse`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

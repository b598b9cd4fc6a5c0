//! Teams `channelData`: tenant, team, channel, event type, notification and settings.

use crate::ids::TenantId;
use crate::open_enum::open_enum;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Teams' `channelData` on an activity. `tenant.id` is present in every context; `team` and `channel` in
/// channel contexts; `eventType` only on conversationUpdate events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsChannelData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<ChannelInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<TeamsEventType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<NotificationInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<TeamsSettings>,
    /// Deprecated by Teams, kept for backwards compatibility: prefer `team.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams_team_id: Option<String>,
    /// Deprecated by Teams, kept for backwards compatibility: prefer `channel.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams_channel_id: Option<String>,
    /// Fields this version does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TeamsChannelData {
    /// channelData carrying only a tenant, as a 1:1 create request needs.
    #[must_use]
    pub fn for_tenant(tenant_id: TenantId) -> Self {
        Self {
            tenant: Some(TenantInfo {
                id: tenant_id,
                extra: Map::new(),
            }),
            ..Self::default()
        }
    }

    /// The tenant id, if present.
    #[must_use]
    pub fn tenant_id(&self) -> Option<&TenantId> {
        self.tenant.as_ref().map(|t| &t.id)
    }
}

/// `channelData.tenant`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TenantInfo {
    pub id: TenantId,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `channelData.team`. The team's General channel has the same id as the team.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamInfo {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_group_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `channelData.channel`, also an entry of the channel list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelInfo {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `channelData.notification`: `alert: true` makes the message show in the user's activity feed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_in_meeting: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `channelData.settings`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_channel: Option<ChannelInfo>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_enum! {
    /// `channelData.eventType` of a conversationUpdate. Teams sends `teamMemberAdded` (older docs say
    /// `teamsAddMembers`); the welcome decision must not depend on it.
    pub enum TeamsEventType {
        TeamMemberAdded => "teamMemberAdded",
        TeamMemberRemoved => "teamMemberRemoved",
        ChannelCreated => "channelCreated",
        ChannelRenamed => "channelRenamed",
        ChannelDeleted => "channelDeleted",
        ChannelRestored => "channelRestored",
        TeamRenamed => "teamRenamed",
        TeamDeleted => "teamDeleted",
        TeamArchived => "teamArchived",
        TeamUnarchived => "teamUnarchived",
        TeamRestored => "teamRestored",
        TeamHardDeleted => "teamHardDeleted",
    }
}

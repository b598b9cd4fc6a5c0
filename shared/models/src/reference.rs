//! A conversation reference: everything needed to message a conversation later (proactively).

use crate::account::{ChannelAccount, ConversationAccount};
use crate::activity::Activity;
use crate::ids::{ActivityId, TenantId};
use serde::{Deserialize, Serialize};

/// Where and to whom to send later: the conversation, the serviceUrl last seen for it, the bot and the user.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationReference {
    /// The activity this reference was taken from (to reply to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<ActivityId>,
    /// The user who sent it (absent for references made by the bot itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<ChannelAccount>,
    pub bot: ChannelAccount,
    pub conversation: ConversationAccount,
    pub channel_id: String,
    pub service_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// `channelData.tenant.id` (or `conversation.tenantId`) of the activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<TenantId>,
    /// `channelData.team.id` in channel contexts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// `channelData.channel.id` in channel contexts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// An inbound activity lacks what a reference needs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("activity has no `{0}`, so no conversation reference can be made")]
pub struct MissingField(pub &'static str);

impl ConversationReference {
    /// The reference for answering an inbound activity: user = `from`, bot = `recipient`.
    ///
    /// # Errors
    /// [`MissingField`] when `serviceUrl`, `conversation` or `recipient` is absent.
    pub fn from_activity(activity: &Activity) -> Result<Self, MissingField> {
        let data = activity.channel_data.as_ref();
        Ok(Self {
            activity_id: activity.id.clone(),
            user: activity.from.clone(),
            bot: activity.recipient.clone().ok_or(MissingField("recipient"))?,
            conversation: activity.conversation.clone().ok_or(MissingField("conversation"))?,
            channel_id: activity.channel_id.clone().unwrap_or_else(|| "msteams".to_owned()),
            service_url: activity.service_url.clone().ok_or(MissingField("serviceUrl"))?,
            locale: activity.locale.clone(),
            tenant_id: activity.tenant_id().cloned(),
            team_id: data.and_then(|d| d.team.as_ref()).map(|t| t.id.clone()),
            channel: data.and_then(|d| d.channel.as_ref()).map(|c| c.id.clone()),
        })
    }
}

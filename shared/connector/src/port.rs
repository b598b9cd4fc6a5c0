//! The `Connector` port: every Bot Connector v3 operation, in our own types.

use crate::error::ConnectorError;
use async_trait::async_trait;
use models::connector::{
    ConversationList, ConversationParameters, ConversationResourceResponse, PagedMembersResult, ResourceResponse,
    TeamDetails,
};
use models::{Activity, ActivityId, ChannelAccount, ConversationId, TeamsChannelAccount, TenantId};

/// The Bot Connector, as the bot's behaviour sees it. Every call names the serviceUrl to use (the one last seen
/// for that conversation); implementations refuse serviceUrls that are not allowlisted.
#[async_trait]
pub trait Connector: Send + Sync + std::fmt::Debug {
    /// `POST v3/conversations`: create (or get) a conversation.
    async fn create_conversation(
        &self,
        service_url: &str,
        params: &ConversationParameters,
    ) -> Result<ConversationResourceResponse, ConnectorError>;

    /// `POST v3/conversations/{id}/activities`: send to a conversation.
    async fn send_to_conversation(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        activity: &Activity,
    ) -> Result<ResourceResponse, ConnectorError>;

    /// `POST v3/conversations/{id}/activities/{activityId}`: reply to an activity.
    async fn reply_to_activity(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        reply_to: &ActivityId,
        activity: &Activity,
    ) -> Result<ResourceResponse, ConnectorError>;

    /// `PUT v3/conversations/{id}/activities/{activityId}`: replace a message the bot sent.
    async fn update_activity(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        activity_id: &ActivityId,
        activity: &Activity,
    ) -> Result<ResourceResponse, ConnectorError>;

    /// `DELETE v3/conversations/{id}/activities/{activityId}`.
    async fn delete_activity(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        activity_id: &ActivityId,
    ) -> Result<(), ConnectorError>;

    /// `GET v3/conversations/{id}/members`.
    async fn get_members(
        &self,
        service_url: &str,
        conversation: &ConversationId,
    ) -> Result<Vec<TeamsChannelAccount>, ConnectorError>;

    /// `GET v3/conversations/{id}/pagedmembers?pageSize=&continuationToken=`.
    async fn get_paged_members(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        page_size: Option<u32>,
        continuation_token: Option<&str>,
    ) -> Result<PagedMembersResult, ConnectorError>;

    /// `GET v3/conversations/{id}/members/{userId}`.
    async fn get_member(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        user_id: &str,
    ) -> Result<TeamsChannelAccount, ConnectorError>;

    /// `GET v3/teams/{teamId}`.
    async fn team_details(&self, service_url: &str, team_id: &str) -> Result<TeamDetails, ConnectorError>;

    /// `GET v3/teams/{teamId}/conversations`: the team's channels.
    async fn team_channels(&self, service_url: &str, team_id: &str) -> Result<ConversationList, ConnectorError>;

    /// `POST v3/batch/conversation/{users|tenant|team|channels}/`: one message to many recipients, answered with
    /// the operation id Teams tracks it by. The default answers [`crate::batch::batch_unsupported`] (a
    /// Connector without batch endpoints); callers then fall back to individual sends.
    async fn send_batch(
        &self,
        _service_url: &str,
        _endpoint: crate::batch::BatchEndpoint,
        _request: &models::batch::BatchRequest,
    ) -> Result<models::batch::OperationId, ConnectorError> {
        Err(crate::batch::batch_unsupported())
    }

    /// `GET v3/batch/conversation/{operationId}`: where a batch is.
    async fn batch_state(
        &self,
        _service_url: &str,
        _operation: &models::batch::OperationId,
    ) -> Result<models::batch::BatchOperationState, ConnectorError> {
        Err(crate::batch::batch_unsupported())
    }

    /// `GET v3/batch/conversation/failedentries/{operationId}?continuationToken=`: one page of a batch's failures.
    async fn batch_failed_entries(
        &self,
        _service_url: &str,
        _operation: &models::batch::OperationId,
        _continuation_token: Option<&str>,
    ) -> Result<models::batch::BatchFailedEntries, ConnectorError> {
        Err(crate::batch::batch_unsupported())
    }

    /// `DELETE v3/batch/conversation/{operationId}`: cancel what a batch has not sent yet.
    async fn cancel_batch(
        &self,
        _service_url: &str,
        _operation: &models::batch::OperationId,
    ) -> Result<(), ConnectorError> {
        Err(crate::batch::batch_unsupported())
    }

    /// `GET v1/meetings/{meetingId}/participants/{participantId}?tenantId=`: one participant of a meeting (their
    /// role, whether they are in it). The default answers [`crate::meetings::meetings_unsupported`].
    async fn meeting_participant(
        &self,
        _service_url: &str,
        _meeting_id: &str,
        _participant_id: &str,
        _tenant: &TenantId,
    ) -> Result<models::meeting::MeetingParticipant, ConnectorError> {
        Err(crate::meetings::meetings_unsupported())
    }

    /// `GET v1/meetings/{meetingId}`: a meeting's details, chat and organizer. The default answers
    /// [`crate::meetings::meetings_unsupported`].
    async fn meeting_info(
        &self,
        _service_url: &str,
        _meeting_id: &str,
    ) -> Result<models::meeting::MeetingInfo, ConnectorError> {
        Err(crate::meetings::meetings_unsupported())
    }

    /// Downloads a file a user attached: `url` of kind `source`, for the conversation at `service_url`, at most
    /// `limit` bytes (see [`crate::files`] for where the bot's token may go). The default answers
    /// [`crate::files::FileError::Unsupported`].
    async fn download(
        &self,
        _service_url: &str,
        _url: &str,
        _source: crate::files::FileSource,
        _limit: u64,
    ) -> Result<bytes::Bytes, crate::files::FileError> {
        Err(crate::files::FileError::Unsupported)
    }

    /// PUTs `bytes` to a file consent's `uploadUrl` (no token). The default answers
    /// [`crate::files::FileError::Unsupported`].
    async fn upload(
        &self,
        _service_url: &str,
        _upload_url: &str,
        _bytes: bytes::Bytes,
    ) -> Result<(), crate::files::FileError> {
        Err(crate::files::FileError::Unsupported)
    }

    /// Create (or get) the 1:1 chat between `bot` and `user` in `tenant`; answers its conversation id.
    async fn create_personal_conversation(
        &self,
        service_url: &str,
        bot: &ChannelAccount,
        user_id: &str,
        tenant: &TenantId,
    ) -> Result<ConversationResourceResponse, ConnectorError> {
        let params = ConversationParameters::personal(bot.clone(), ChannelAccount::new(user_id, None), tenant.clone());
        self.create_conversation(service_url, &params).await
    }

    /// Start a new reply chain in `channel_id` with `activity` as its first message; answers
    /// `{id: "<channel>;messageid=<id>", activityId}`.
    async fn create_channel_thread(
        &self,
        service_url: &str,
        channel_id: &str,
        tenant: Option<&TenantId>,
        activity: &Activity,
    ) -> Result<ConversationResourceResponse, ConnectorError> {
        let params = ConversationParameters::channel_thread(channel_id, tenant.cloned(), activity.clone());
        self.create_conversation(service_url, &params).await
    }
}

//! The Connector's batch (bulk) sends, over the same path as single sends: allowlist, token, tenant pacing,
//! retries on 412/429/502/504 honouring `Retry-After`, and no blind re-POST of a batch whose outcome is unknown
//! (a timed-out batch POST may have been accepted: sending it again could message every member twice).
//!
//! Paths (botbuilder-js `teams/operations/teams.ts`; the .NET SDKs add the trailing slash, which we send):
//! `POST v3/batch/conversation/{users|tenant|team|channels}/`, `GET v3/batch/conversation/{operationId}`,
//! `GET v3/batch/conversation/failedentries/{operationId}?continuationToken=`,
//! `DELETE v3/batch/conversation/{operationId}`.

use crate::client::{Call, HttpConnector};
use crate::error::ConnectorError;
use crate::ratelimit::PaceClass;
use models::batch::{BatchFailedEntries, BatchOperationState, BatchRequest, OperationId};
use reqwest::Method;

/// Which batch endpoint a [`BatchRequest`] goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BatchEndpoint {
    /// `v3/batch/conversation/users/`: each member of `members` (a `29:` id or an AAD object id).
    Users,
    /// `v3/batch/conversation/tenant/`: every user of `tenantId` who has the bot.
    Tenant,
    /// `v3/batch/conversation/team/`: every member of `teamId`.
    Team,
    /// `v3/batch/conversation/channels/`: each channel of `members` (a new post in each).
    Channels,
}

impl BatchEndpoint {
    /// The last path segment.
    #[must_use]
    pub fn segment(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Tenant => "tenant",
            Self::Team => "team",
            Self::Channels => "channels",
        }
    }
}

/// The pace key's "conversation" for batch calls: they count against the tenant's limit only (the per-conversation
/// limits apply to each member's chat inside Teams, not to our one request).
const PACE: &str = "batch";

/// What [`crate::Connector`]'s default batch methods answer: this Connector has no batch endpoints.
#[must_use]
pub fn batch_unsupported() -> ConnectorError {
    ConnectorError::Unexpected {
        status: 501,
        body: "batch sends are not supported by this Connector".to_owned(),
    }
}

/// Whether `error` says the Connector at that serviceUrl has no batch endpoints (501, 405, or a bare 404 for the
/// path: a local emulator, a sovereign cloud without them), so that the caller may fall back to individual sends.
/// A 404 with Teams' own code for a missing team or conversation is not this.
#[must_use]
pub fn is_batch_unsupported(error: &ConnectorError) -> bool {
    match error {
        ConnectorError::Unexpected { status, .. } => *status == 501 || *status == 405,
        ConnectorError::NotFound { code, .. } => code.is_empty() || code == "NotFound",
        ConnectorError::Refused(_)
        | ConnectorError::Token(_)
        | ConnectorError::NotInRoster { .. }
        | ConnectorError::BotDisabled { .. }
        | ConnectorError::Forbidden { .. }
        | ConnectorError::TooLarge { .. }
        | ConnectorError::Throttled { .. }
        | ConnectorError::Transient { .. }
        | ConnectorError::OutcomeUnknown { .. }
        | ConnectorError::Decode { .. } => false,
    }
}

impl HttpConnector {
    pub(crate) async fn batch_send(
        &self,
        service_url: &str,
        endpoint: BatchEndpoint,
        request: &BatchRequest,
    ) -> Result<OperationId, ConnectorError> {
        self.json(Call {
            method: Method::POST,
            service_url,
            segments: vec!["batch", "conversation", endpoint.segment(), ""],
            query: Vec::new(),
            body: Some(crate::client::to_json(request)?),
            class: PaceClass::Other,
            pace_conversation: PACE.to_owned(),
            tenant: Some(request.tenant_id.as_str().to_owned()),
        })
        .await
    }

    pub(crate) async fn batch_state_of(
        &self,
        service_url: &str,
        operation: &OperationId,
    ) -> Result<BatchOperationState, ConnectorError> {
        self.json(Call {
            method: Method::GET,
            service_url,
            segments: vec!["batch", "conversation", operation.as_str()],
            query: Vec::new(),
            body: None,
            class: PaceClass::Other,
            pace_conversation: PACE.to_owned(),
            tenant: None,
        })
        .await
    }

    pub(crate) async fn batch_failed_entries_of(
        &self,
        service_url: &str,
        operation: &OperationId,
        continuation_token: Option<&str>,
    ) -> Result<BatchFailedEntries, ConnectorError> {
        let query = continuation_token
            .map(|t| vec![("continuationToken", t.to_owned())])
            .unwrap_or_default();
        self.json(Call {
            method: Method::GET,
            service_url,
            segments: vec!["batch", "conversation", "failedentries", operation.as_str()],
            query,
            body: None,
            class: PaceClass::Other,
            pace_conversation: PACE.to_owned(),
            tenant: None,
        })
        .await
    }

    pub(crate) async fn batch_cancel(&self, service_url: &str, operation: &OperationId) -> Result<(), ConnectorError> {
        self.execute(Call {
            method: Method::DELETE,
            service_url,
            segments: vec!["batch", "conversation", operation.as_str()],
            query: Vec::new(),
            body: None,
            class: PaceClass::Other,
            pace_conversation: PACE.to_owned(),
            tenant: None,
        })
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_missing_endpoint_counts_as_unsupported() {
        assert!(is_batch_unsupported(&batch_unsupported()));
        let not_found = |code: &str| ConnectorError::NotFound {
            code: code.to_owned(),
            message: String::new(),
        };
        assert!(is_batch_unsupported(&not_found("NotFound")));
        assert!(!is_batch_unsupported(&not_found("TeamNotFound")));
        assert!(!is_batch_unsupported(&ConnectorError::Throttled {
            status: 429,
            retry_after: None
        }));
        assert!(!is_batch_unsupported(&ConnectorError::Unexpected {
            status: 500,
            body: String::new()
        }));
    }

    #[test]
    fn endpoints_name_their_path() {
        let all = [
            BatchEndpoint::Users,
            BatchEndpoint::Tenant,
            BatchEndpoint::Team,
            BatchEndpoint::Channels,
        ];
        let names: Vec<_> = all.iter().map(|e| e.segment()).collect();
        assert_eq!(names, ["users", "tenant", "team", "channels"]);
    }
}

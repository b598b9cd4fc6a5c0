//! Bodies of the Connector's batch (bulk) send endpoints, as Teams implements them.
//!
//! `POST v3/batch/conversation/users/` (`members` + `tenantId` + `activity`), `.../tenant/` (`tenantId` +
//! `activity`), `.../team/` (`teamId` + `tenantId` + `activity`), `.../channels/` (`members` holding channel ids +
//! `tenantId` + `activity`) each answer 201 with an [`OperationId`]; `GET v3/batch/conversation/{operationId}`
//! answers a [`BatchOperationState`]; `GET v3/batch/conversation/failedentries/{operationId}?continuationToken=`
//! answers a page of [`BatchFailedEntries`]; `DELETE v3/batch/conversation/{operationId}` cancels. Sources:
//! botbuilder-js `botframework-connector/src/teams/operations/teams.ts` and `teams/models/mappers.ts`,
//! botbuilder-dotnet `Microsoft.Bot.Schema.Teams.BatchOperationState`, Microsoft-Teams-Samples
//! `bot-batch-operations` (see docs/decisions/2026-11-30-batch-sends.md).

use crate::activity::Activity;
use crate::ids::TenantId;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// One recipient of a batch: a user (`29:...` id or AAD object id) or, for the channels endpoint, a channel id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchMember {
    pub id: String,
}

impl BatchMember {
    /// A recipient by id.
    #[must_use]
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into() }
    }
}

/// The body of every batch send: the activity, the tenant, and the members or team the endpoint needs.
///
/// ```
/// use models::batch::{BatchMember, BatchRequest};
/// use models::Activity;
///
/// let body = BatchRequest::to_users(Activity::message("Hello"), "tenant-1".into(), vec![BatchMember::new("29:a")]);
/// let json = serde_json::to_value(&body).unwrap();
/// assert_eq!(json["members"][0]["id"], "29:a");
/// assert_eq!(json["tenantId"], "tenant-1");
/// assert!(json.get("teamId").is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRequest {
    pub activity: Activity,
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<BatchMember>>,
}

impl BatchRequest {
    /// The body of `POST v3/batch/conversation/users/`.
    #[must_use]
    pub fn to_users(activity: Activity, tenant_id: TenantId, members: Vec<BatchMember>) -> Self {
        Self {
            activity,
            tenant_id,
            team_id: None,
            members: Some(members),
        }
    }

    /// The body of `POST v3/batch/conversation/tenant/`.
    #[must_use]
    pub fn to_tenant(activity: Activity, tenant_id: TenantId) -> Self {
        Self {
            activity,
            tenant_id,
            team_id: None,
            members: None,
        }
    }

    /// The body of `POST v3/batch/conversation/team/`.
    #[must_use]
    pub fn to_team(activity: Activity, tenant_id: TenantId, team_id: impl Into<String>) -> Self {
        Self {
            activity,
            tenant_id,
            team_id: Some(team_id.into()),
            members: None,
        }
    }

    /// The body of `POST v3/batch/conversation/channels/` (each member is a channel id).
    #[must_use]
    pub fn to_channels(activity: Activity, tenant_id: TenantId, channels: Vec<BatchMember>) -> Self {
        Self {
            activity,
            tenant_id,
            team_id: None,
            members: Some(channels),
        }
    }
}

/// The id Teams gives an accepted batch. Teams answers `{"operationId": "..."}`; the .NET SDKs read the body as a
/// bare JSON string, so that form is accepted too.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct OperationId(pub String);

impl OperationId {
    /// The id as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OperationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for OperationId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl<'de> Deserialize<'de> for OperationId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Object {
                #[serde(rename = "operationId")]
                operation_id: String,
            },
            Bare(String),
        }
        match Wire::deserialize(d)? {
            Wire::Object { operation_id } | Wire::Bare(operation_id) => Ok(Self(operation_id)),
        }
    }
}

/// Where a batch operation is. Teams spells these `Provisioning`, `Ongoing`, `Completed`, `Failed` (compared
/// without case, as Microsoft's sample does); anything else is kept as [`BatchState::Other`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchState {
    Provisioning,
    Ongoing,
    Completed,
    Failed,
    Cancelled,
    Other(String),
}

impl BatchState {
    /// Teams' spelling.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Provisioning => "Provisioning",
            Self::Ongoing => "Ongoing",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
            Self::Cancelled => "Cancelled",
            Self::Other(s) => s,
        }
    }

    /// Whether the operation is over (completed, failed or cancelled): its state no longer changes.
    #[must_use]
    pub fn is_final(&self) -> bool {
        match self {
            Self::Completed | Self::Failed | Self::Cancelled => true,
            Self::Provisioning | Self::Ongoing | Self::Other(_) => false,
        }
    }
}

impl Serialize for BatchState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for BatchState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.to_ascii_lowercase().as_str() {
            "provisioning" => Self::Provisioning,
            "ongoing" => Self::Ongoing,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            "cancelled" | "canceled" => Self::Cancelled,
            _ => Self::Other(s),
        })
    }
}

/// `GET v3/batch/conversation/{operationId}`: the state, how many entries ended with each HTTP status
/// (`{"201": 3, "403": 1}`), when to ask again, and the number of entries.
///
/// ```
/// use models::batch::{BatchOperationState, BatchState};
///
/// let s: BatchOperationState = serde_json::from_str(
///     r#"{"state":"Completed","statusMap":{"201":2,"403":1},"totalEntriesCount":3}"#,
/// ).unwrap();
/// assert_eq!(s.state, BatchState::Completed);
/// assert_eq!(s.failed_count(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchOperationState {
    pub state: BatchState,
    /// HTTP status (as a string key) -> number of entries. botbuilder-js' mapper names it `stateMap`; its schema,
    /// the .NET SDK and Microsoft's sample say `statusMap`: both are read.
    #[serde(default, alias = "stateMap")]
    pub status_map: BTreeMap<String, u64>,
    /// When to ask again (an ISO 8601 date-time), while the operation is not over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    #[serde(default)]
    pub total_entries_count: u64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl BatchOperationState {
    /// Entries that did not end in a 2xx status.
    #[must_use]
    pub fn failed_count(&self) -> u64 {
        self.status_map
            .iter()
            .filter(|(status, _)| !status.starts_with('2'))
            .map(|(_, n)| *n)
            .sum()
    }
}

/// One entry of a batch that failed: the member (or channel) id and Teams' reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchFailedEntry {
    /// botbuilder-js' mapper reads `Id`; the schema and the other SDKs write `id`: both are read.
    #[serde(alias = "Id", alias = "entryId")]
    pub id: String,
    #[serde(default)]
    pub error: String,
}

/// A page of `GET v3/batch/conversation/failedentries/{operationId}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchFailedEntries {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
    #[serde(default)]
    pub failed_entry_responses: Vec<BatchFailedEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operation_id_is_read_from_an_object_or_a_bare_string() {
        let a: OperationId = serde_json::from_str(r#"{"operationId":"op-1"}"#).unwrap();
        let b: OperationId = serde_json::from_str(r#""op-2""#).unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("op-1", "op-2"));
        assert!(serde_json::from_str::<OperationId>("{}").is_err());
    }

    #[test]
    fn states_are_compared_without_case_and_unknown_ones_kept() {
        let s: BatchState = serde_json::from_str(r#""ongoing""#).unwrap();
        assert_eq!(s, BatchState::Ongoing);
        assert!(!s.is_final());
        let s: BatchState = serde_json::from_str(r#""Paused""#).unwrap();
        assert_eq!(s, BatchState::Other("Paused".to_owned()));
        assert_eq!(serde_json::to_string(&BatchState::Completed).unwrap(), r#""Completed""#);
    }

    #[test]
    fn the_js_mapper_spellings_are_read() {
        let s: BatchOperationState =
            serde_json::from_str(r#"{"state":"Failed","stateMap":{"403":2},"totalEntriesCount":2}"#).unwrap();
        assert_eq!(s.failed_count(), 2);
        let e: BatchFailedEntry = serde_json::from_str(r#"{"Id":"29:x","error":"Forbidden"}"#).unwrap();
        assert_eq!(e.id, "29:x");
    }

    #[test]
    fn a_tenant_body_has_neither_members_nor_team() {
        let v = serde_json::to_value(BatchRequest::to_tenant(Activity::message("hi"), "t".into())).unwrap();
        assert_eq!(v["tenantId"], "t");
        assert!(v.get("members").is_none() && v.get("teamId").is_none());
        assert_eq!(v["activity"]["type"], "message");
    }
}

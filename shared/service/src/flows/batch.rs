//! Batch sends: one message to many recipients (a list of users, a whole tenant, a team's members, a list of
//! channels) through Teams' batch endpoints, answered with the operation id Teams tracks it by; or, where batch
//! is not allowed, one paced send per recipient. Shared by the bot API ([`crate::api::Batch`]) and the notify
//! operations (docs/contract.md "Batch sends").
//!
//! **Batch or individual.** Teams' batch endpoints exist only on the Teams Connector. The runtime sends
//! individually (each user's 1:1 chat opened with the create-or-get path and sent to, each channel given a new
//! post, all through the same pacing and retries as any send) when:
//! - the bot runs anonymous (the devserver on loopback with an emulator or the Agents Playground, which have no
//!   batch endpoints);
//! - the Connector answers that it has no batch endpoint there (501, 405, or a bare 404 for the path:
//!   [`connector::is_batch_unsupported`]);
//! - the caller asks for it ([`BatchMode::Individual`]).
//!
//! A whole-tenant send has no individual form (the runtime cannot list a tenant's users without Microsoft
//! Graph): there it is refused ([`BatchError::NotAvailable`]). An individual send is over when it answers: its
//! report is final and carries its failed entries; its operation id starts with `local-`.
//!
//! **Delivery.** A batch POST is retried only when Teams said it did nothing (412/429/502/504, `Retry-After`
//! honoured); one whose answer never came is not re-sent ([`connector::ConnectorError::OutcomeUnknown`]):
//! re-sending could message every member twice. Teams then delivers each entry at most once.

use crate::app::{App, Inbound};
use crate::flows::address::{freshest, freshest_for_install, stop_if_gone};
use crate::flows::personal::{self, ChatError, ChatRequest};
use connector::{BatchEndpoint, ConnectorError, is_batch_unsupported};
use models::batch::{BatchFailedEntry, BatchMember, BatchOperationState, BatchRequest, BatchState, OperationId};
use models::{Activity, ChannelAccount, ConversationId, TenantId};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use store::{StoreError, Timestamp};

/// At most this many pages of failed entries are read for one report.
pub const MAX_FAILED_PAGES: usize = 20;

/// Whom a batch goes to.
#[derive(Clone, Debug, PartialEq)]
pub enum Audience {
    /// These users of the tenant: each by Teams id (`29:...`) or, with an empty id, by `aadObjectId`.
    Users(Vec<ChannelAccount>),
    /// Every user of the tenant who has the bot (batch only).
    Tenant,
    /// Every member of a team the bot is installed in (the tenant is the install's).
    Team(String),
    /// A new post in each of these channels of a team the bot is installed in.
    Channels { team_id: String, channels: Vec<String> },
}

/// Through Teams' batch endpoint when it can, or one send per recipient.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BatchMode {
    /// The batch endpoint, falling back to individual sends where batch is not allowed (see the module docs).
    #[default]
    Auto,
    /// Individual sends only.
    Individual,
}

/// Where a batch is: Teams' operation state, or the final report of individual sends.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchReport {
    /// Teams' operation id, or `local-...` for individual sends.
    pub operation_id: String,
    pub state: BatchState,
    /// HTTP status (as a string) -> number of entries (`"201"` for delivered ones, as Teams counts them).
    pub status_map: BTreeMap<String, u64>,
    pub total_entries_count: u64,
    /// When to ask again, while the operation is not over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// The entries that failed, with Teams' reason.
    pub failed_entries: Vec<BatchFailedEntry>,
}

/// An accepted batch.
#[derive(Clone, Debug, PartialEq)]
pub enum BatchSent {
    /// Teams accepted it: ask [`state`] with this id for its progress and failures.
    Accepted { operation_id: OperationId },
    /// Sent one by one (batch not allowed here): the report is final.
    Individual(BatchReport),
}

impl BatchSent {
    /// The operation id: Teams', or `local-...` for individual sends.
    #[must_use]
    pub fn operation_id(&self) -> &str {
        match self {
            Self::Accepted { operation_id } => operation_id.as_str(),
            Self::Individual(report) => &report.operation_id,
        }
    }
}

/// Why a batch could not be sent or read.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    #[error("connector: {0}")]
    Connector(#[from] ConnectorError),
    /// The bot is not installed in that team.
    #[error("the bot is not installed in team `{0}`")]
    UnknownTeam(String),
    /// What the batch needs is not available here (a tenant-wide send without Teams' batch endpoint).
    #[error("not available: {0}")]
    NotAvailable(&'static str),
    /// The request is invalid (no recipients, an empty id).
    #[error("invalid batch: {0}")]
    Invalid(String),
}

/// Sends `activity` to `audience` in `tenant` (for a team or its channels, the install's tenant is used).
///
/// # Errors
/// [`BatchError`]: the team is unknown, a tenant-wide send cannot be done individually, the store failed, or
/// Teams refused the batch as a whole.
pub async fn send(
    app: &App,
    tenant: &TenantId,
    audience: &Audience,
    activity: &Activity,
    mode: BatchMode,
) -> Result<BatchSent, BatchError> {
    let now = Timestamp::now();
    let (tenant, service_url) = match audience {
        Audience::Users(users) => {
            if users.is_empty() {
                return Err(BatchError::Invalid("no users".to_owned()));
            }
            (tenant.clone(), freshest(app, None, Some(tenant), now).await?)
        }
        Audience::Tenant => (tenant.clone(), freshest(app, None, Some(tenant), now).await?),
        Audience::Team(team_id) | Audience::Channels { team_id, .. } => {
            if let Audience::Channels { channels, .. } = audience
                && channels.is_empty()
            {
                return Err(BatchError::Invalid("no channels".to_owned()));
            }
            let install = app
                .store
                .team_install(team_id, now)
                .await?
                .ok_or_else(|| BatchError::UnknownTeam(team_id.clone()))?;
            let url = freshest_for_install(app, &install, now).await?;
            (install.tenant_id, url)
        }
    };
    if tenant.as_str().is_empty() {
        return Err(BatchError::Invalid("no tenant".to_owned()));
    }
    let anonymous = matches!(app.inbound, Inbound::Anonymous);
    if mode == BatchMode::Auto && !anonymous {
        let (endpoint, request) = request(audience, &tenant, activity)?;
        match app.connector.send_batch(&service_url, endpoint, &request).await {
            Ok(operation_id) => {
                tracing::info!(operation_id = %operation_id, endpoint = endpoint.segment(), tenant = %tenant, "batch accepted");
                return Ok(BatchSent::Accepted { operation_id });
            }
            Err(e) if is_batch_unsupported(&e) => {
                tracing::info!(error = %e, "batch not supported here: sending individually");
            }
            Err(e) => return Err(e.into()),
        }
    }
    individually(app, &tenant, &service_url, audience, activity)
        .await
        .map(BatchSent::Individual)
}

/// The batch endpoint and body for `audience`.
fn request(
    audience: &Audience,
    tenant: &TenantId,
    activity: &Activity,
) -> Result<(BatchEndpoint, BatchRequest), BatchError> {
    let activity = activity.clone();
    Ok(match audience {
        Audience::Users(users) => {
            let members = users
                .iter()
                .map(|u| {
                    let id = if u.id.is_empty() {
                        u.aad_object_id.clone().unwrap_or_default()
                    } else {
                        u.id.clone()
                    };
                    if id.is_empty() {
                        return Err(BatchError::Invalid("a user has neither id nor aadObjectId".to_owned()));
                    }
                    Ok(BatchMember::new(id))
                })
                .collect::<Result<Vec<_>, _>>()?;
            (
                BatchEndpoint::Users,
                BatchRequest::to_users(activity, tenant.clone(), members),
            )
        }
        Audience::Tenant => (BatchEndpoint::Tenant, BatchRequest::to_tenant(activity, tenant.clone())),
        Audience::Team(team_id) => (
            BatchEndpoint::Team,
            BatchRequest::to_team(activity, tenant.clone(), team_id.clone()),
        ),
        Audience::Channels { channels, .. } => (
            BatchEndpoint::Channels,
            BatchRequest::to_channels(
                activity,
                tenant.clone(),
                channels.iter().map(BatchMember::new).collect(),
            ),
        ),
    })
}

/// A fresh id for individual sends.
fn local_operation_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("local-{}-{n}", Timestamp::now().0)
}

/// The status and reason a failed entry is reported with.
fn entry_failure(error: &ConnectorError) -> (u16, String) {
    let status = error.connector_status().unwrap_or_else(|| error.http_status());
    (status, error.to_string())
}

/// Tallies the entries of individual sends.
#[derive(Default)]
struct Tally {
    status_map: BTreeMap<String, u64>,
    failed: Vec<BatchFailedEntry>,
}

impl Tally {
    fn sent(&mut self) {
        *self.status_map.entry("201".to_owned()).or_default() += 1;
    }

    fn failed(&mut self, id: &str, status: u16, error: String) {
        *self.status_map.entry(status.to_string()).or_default() += 1;
        self.failed.push(BatchFailedEntry {
            id: id.to_owned(),
            error,
        });
    }

    fn report(self) -> BatchReport {
        BatchReport {
            operation_id: local_operation_id(),
            state: BatchState::Completed,
            total_entries_count: self.status_map.values().sum(),
            status_map: self.status_map,
            retry_after: None,
            failed_entries: self.failed,
        }
    }
}

/// One paced send per recipient; each failure becomes a failed entry.
async fn individually(
    app: &App,
    tenant: &TenantId,
    service_url: &str,
    audience: &Audience,
    activity: &Activity,
) -> Result<BatchReport, BatchError> {
    let mut tally = Tally::default();
    match audience {
        Audience::Tenant => {
            return Err(BatchError::NotAvailable(
                "a tenant-wide send needs Teams' batch endpoint (the runtime cannot list a tenant's users)",
            ));
        }
        Audience::Users(users) => {
            for user in users {
                to_user(app, tenant, service_url, user, activity, &mut tally).await;
            }
        }
        Audience::Team(team_id) => {
            let team = ConversationId::from(team_id.as_str());
            let mut token: Option<String> = None;
            for _ in 0..crate::api::MAX_ROSTER_PAGES {
                let page = app
                    .connector
                    .get_paged_members(service_url, &team, Some(500), token.as_deref())
                    .await?;
                for member in &page.members {
                    to_user(
                        app,
                        tenant,
                        service_url,
                        &member.to_channel_account(),
                        activity,
                        &mut tally,
                    )
                    .await;
                }
                token = page.continuation_token.filter(|t| !t.is_empty());
                if token.is_none() {
                    break;
                }
            }
        }
        Audience::Channels { channels, .. } => {
            for channel in channels {
                match app
                    .connector
                    .create_channel_thread(service_url, channel, Some(tenant), activity)
                    .await
                {
                    Ok(_) => tally.sent(),
                    Err(e) => {
                        stop_if_gone(app, &ConversationId::from(channel.as_str()), &e).await;
                        let (status, error) = entry_failure(&e);
                        tally.failed(channel, status, error);
                    }
                }
            }
        }
    }
    let report = tally.report();
    tracing::info!(operation_id = %report.operation_id, total = report.total_entries_count, failed = report.failed_entries.len(), "batch sent individually");
    Ok(report)
}

/// Opens (create-or-get) the user's 1:1 chat and sends there; a failure is tallied, not returned.
async fn to_user(
    app: &App,
    tenant: &TenantId,
    service_url: &str,
    user: &ChannelAccount,
    activity: &Activity,
    tally: &mut Tally,
) {
    let id = if user.id.is_empty() {
        user.aad_object_id.clone().unwrap_or_default()
    } else {
        user.id.clone()
    };
    let bot = app.identity.account();
    let request = ChatRequest {
        user,
        tenant,
        service_url,
        bot: &bot,
        locale: None,
        claims_first_contact: true,
    };
    let (conversation, url) = match personal::open(app, request).await {
        Ok(opened) => opened,
        Err(ChatError::Connector(e)) => {
            let (status, error) = entry_failure(&e);
            tally.failed(&id, status, error);
            return;
        }
        Err(ChatError::Store(e)) => {
            tally.failed(&id, 503, format!("state store: {e}"));
            return;
        }
        Err(ChatError::NoUserId) => {
            tally.failed(&id, 400, "the user has neither id nor aadObjectId".to_owned());
            return;
        }
    };
    let addressed = crate::addressed(activity, &conversation, Some(tenant));
    match app
        .connector
        .send_to_conversation(&url, &conversation, &addressed)
        .await
    {
        Ok(_) => tally.sent(),
        Err(e) => {
            stop_if_gone(app, &conversation, &e).await;
            let (status, error) = entry_failure(&e);
            tally.failed(&id, status, error);
        }
    }
}

/// Teams' state of batch `operation_id` sent in `tenant`, with its failed entries once it is over (every page,
/// up to [`MAX_FAILED_PAGES`]).
///
/// # Errors
/// [`BatchError::Connector`] (404 for an unknown operation), [`BatchError::Store`].
pub async fn state(app: &App, tenant: &TenantId, operation_id: &OperationId) -> Result<BatchReport, BatchError> {
    let service_url = freshest(app, None, Some(tenant), Timestamp::now()).await?;
    let BatchOperationState {
        state,
        status_map,
        retry_after,
        total_entries_count,
        ..
    } = app.connector.batch_state(&service_url, operation_id).await?;
    let mut failed_entries = Vec::new();
    let mut token: Option<String> = None;
    // Failures are read once the operation is over, and only when it has some.
    let failures = status_map.iter().any(|(status, n)| !status.starts_with('2') && *n > 0);
    let pages = if state.is_final() && failures {
        MAX_FAILED_PAGES
    } else {
        0
    };
    for _ in 0..pages {
        let page = app
            .connector
            .batch_failed_entries(&service_url, operation_id, token.as_deref())
            .await?;
        failed_entries.extend(page.failed_entry_responses);
        token = page.continuation_token.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    Ok(BatchReport {
        operation_id: operation_id.to_string(),
        state,
        status_map,
        total_entries_count,
        retry_after,
        failed_entries,
    })
}

/// Cancels what batch `operation_id` (sent in `tenant`) has not sent yet.
///
/// # Errors
/// [`BatchError::Connector`], [`BatchError::Store`].
pub async fn cancel(app: &App, tenant: &TenantId, operation_id: &OperationId) -> Result<(), BatchError> {
    let service_url = freshest(app, None, Some(tenant), Timestamp::now()).await?;
    app.connector.cancel_batch(&service_url, operation_id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_named_by_id_or_aad_object_id() {
        let users = vec![
            ChannelAccount::new("29:a", None),
            ChannelAccount {
                aad_object_id: Some("aad-b".to_owned()),
                ..ChannelAccount::default()
            },
        ];
        let (endpoint, body) = request(&Audience::Users(users), &"t".into(), &Activity::message("hi")).unwrap();
        assert_eq!(endpoint, BatchEndpoint::Users);
        let ids: Vec<_> = body.members.unwrap().into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["29:a", "aad-b"]);
        let nobody = request(
            &Audience::Users(vec![ChannelAccount::default()]),
            &"t".into(),
            &Activity::message("hi"),
        );
        assert!(matches!(nobody, Err(BatchError::Invalid(_))));
    }

    #[test]
    fn channels_go_as_members_and_a_team_by_id() {
        let audience = Audience::Channels {
            team_id: "19:t".to_owned(),
            channels: vec!["19:a".to_owned()],
        };
        let (endpoint, body) = request(&audience, &"t".into(), &Activity::message("x")).unwrap();
        assert_eq!(
            (endpoint, body.members.unwrap()[0].id.as_str()),
            (BatchEndpoint::Channels, "19:a")
        );
        let (endpoint, body) =
            request(&Audience::Team("19:t".to_owned()), &"t".into(), &Activity::message("x")).unwrap();
        assert_eq!((endpoint, body.team_id.as_deref()), (BatchEndpoint::Team, Some("19:t")));
    }

    #[test]
    fn individual_reports_count_like_teams() {
        let mut t = Tally::default();
        t.sent();
        t.sent();
        t.failed("29:x", 403, "gone".to_owned());
        let r = t.report();
        assert!(r.operation_id.starts_with("local-"));
        assert_eq!(r.total_entries_count, 3);
        assert_eq!(r.status_map.get("201"), Some(&2));
        assert_eq!(r.failed_entries[0].id, "29:x");
        assert_eq!(r.state, BatchState::Completed);
    }
}

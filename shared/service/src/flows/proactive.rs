//! Proactive work: notify operations (docs/contract.md "Proactive operations") and the tick that runs the bot's
//! due jobs.

use crate::api::{Context, JobRun, job_data};
use crate::app::App;
use crate::flows::address::{freshest, freshest_for_install, stop_if_gone};
use crate::flows::personal::{self, ChatError, ChatRequest};
use crate::metrics::{self, Metric};
use connector::ConnectorError;
use models::{Activity, ActivityId, ChannelAccount, ConversationId, Message, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::{IdempotencyClaim, SentActivity, StoreError, Timestamp};
use tracing::Instrument as _;

/// One notify operation.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Operation {
    Update {
        update: Target2,
        message: Message,
    },
    Delete {
        delete: Target2,
    },
    Send {
        to: To,
        message: Message,
        #[serde(default, rename = "idempotencyKey")]
        idempotency_key: Option<String>,
    },
}

/// A sent activity: conversation + activity ids.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target2 {
    pub conversation_id: ConversationId,
    pub activity_id: ActivityId,
}

/// Whom to send to.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum To {
    User {
        #[serde(default, rename = "aadObjectId")]
        aad_object_id: Option<String>,
        #[serde(default)]
        id: Option<String>,
        #[serde(rename = "tenantId")]
        tenant_id: TenantId,
    },
    Channel {
        id: String,
        #[serde(rename = "teamId")]
        team_id: String,
    },
    Conversation {
        id: ConversationId,
    },
}

/// A notify failure: an HTTP status and a `{"error": {code, message}}` body.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct NotifyError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl NotifyError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// The JSON body.
    #[must_use]
    pub fn body(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }

    /// Whether the same operation may succeed later: 409 (in progress), 429 and 5xx (Teams throttling or failing
    /// after the client's retries, the store, the token, an unknown outcome). Every other status is a refusal for
    /// good (the bot was removed, the conversation is gone or inactive, the request is invalid).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        metrics::proactive_failure(self.status) == Metric::ProactiveFailed
    }
}

impl From<StoreError> for NotifyError {
    fn from(e: StoreError) -> Self {
        Self::new(503, "StoreUnavailable", e.to_string())
    }
}

impl From<ChatError> for NotifyError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::Store(e) => e.into(),
            ChatError::Connector(e) => e.into(),
            ChatError::NoUserId => Self::new(400, "InvalidRequest", "user needs id or aadObjectId"),
        }
    }
}

impl From<ConnectorError> for NotifyError {
    fn from(e: ConnectorError) -> Self {
        let code = if e.is_bot_removed() {
            "BotRemoved"
        } else {
            "ConnectorError"
        };
        Self::new(e.http_status(), code, e.to_string())
    }
}

/// Parses and runs one operation from JSON bytes; answers the status and the JSON body (the devserver's
/// `/api/notify` answer, docs/contract.md "Proactive operations").
pub async fn notify_json(app: &App, body: &[u8]) -> (u16, Value) {
    match notify_value(app, body).await {
        Ok(value) => (200, value),
        Err(e) => (e.status, e.body()),
    }
}

/// Parses and runs one operation from JSON bytes, in a `notify` span (operation, conversation or target, key),
/// with one INFO line for its outcome and duration; a failure is counted ([`Metric::ProactiveFailed`] when it may
/// pass, [`Metric::ProactiveRefused`] when it cannot) and logged (WARN, INFO for a refusal).
///
/// # Errors
/// [`NotifyError`], as [`notify`] says; 400 for JSON that is not an operation.
pub async fn notify_value(app: &App, body: &[u8]) -> Result<Value, NotifyError> {
    let span = tracing::error_span!(
        "notify",
        operation = tracing::field::Empty,
        target = tracing::field::Empty,
        idempotency_key = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    let result = async {
        if let Some(batch) = crate::flows::batch_notify::parse(body)? {
            tracing::Span::current().record("operation", "batch");
            return crate::flows::batch_notify::run(app, batch).await;
        }
        let operation: Operation =
            serde_json::from_slice(body).map_err(|e| NotifyError::new(400, "InvalidRequest", e.to_string()))?;
        record_operation(&tracing::Span::current(), &operation);
        notify(app, operation).await
    }
    .instrument(span.clone())
    .await;
    let _entered = span.enter();
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match &result {
        Ok(_) => tracing::info!(status = 200, elapsed_ms, "notify done"),
        Err(e) => {
            metrics::count(metrics::proactive_failure(e.status));
            if e.code == "StoreUnavailable" {
                metrics::count(Metric::StoreUnavailable);
            }
            if e.is_retryable() {
                tracing::warn!(status = e.status, code = e.code, error = %e.message, elapsed_ms, "notify failed");
            } else {
                tracing::info!(status = e.status, code = e.code, error = %e.message, elapsed_ms, "notify refused");
            }
        }
    }
    result
}

/// The ids an operator searches a notify by, on its span.
fn record_operation(span: &tracing::Span, operation: &Operation) {
    let (name, target) = match operation {
        Operation::Update { update, .. } => ("update", format!("{}/{}", update.conversation_id, update.activity_id)),
        Operation::Delete { delete } => ("delete", format!("{}/{}", delete.conversation_id, delete.activity_id)),
        Operation::Send {
            to, idempotency_key, ..
        } => {
            if let Some(key) = idempotency_key {
                span.record("idempotency_key", key.as_str());
            }
            let target = match to {
                To::User {
                    aad_object_id,
                    id,
                    tenant_id,
                } => format!(
                    "user {} in {tenant_id}",
                    id.as_deref().or(aad_object_id.as_deref()).unwrap_or_default()
                ),
                To::Channel { id, team_id } => format!("channel {id} of {team_id}"),
                To::Conversation { id } => format!("conversation {id}"),
            };
            ("send", target)
        }
    };
    span.record("operation", name);
    span.record("target", target);
}

/// Runs one operation; answers `{conversationId, activityId}` for a send and `{}` for update and delete.
///
/// # Errors
/// [`NotifyError`]: unknown target (404), inactive conversation (410), refused by Teams, invalid request (400).
pub async fn notify(app: &App, operation: Operation) -> Result<Value, NotifyError> {
    let now = Timestamp::now();
    match operation {
        Operation::Send {
            to,
            message,
            idempotency_key,
        } => {
            let activity = message_activity(message);
            let Some(key) = idempotency_key.filter(|k| !k.is_empty()) else {
                let sent = send(app, &to, &activity).await?;
                return Ok(ids(&sent));
            };
            let key = format!("notify:{key}");
            match app.store.claim_idempotency(&key, now).await? {
                IdempotencyClaim::Done(sent) => Ok(ids(&sent)),
                IdempotencyClaim::Pending => Err(NotifyError::new(
                    409,
                    "InProgress",
                    "a send with this idempotencyKey is in progress",
                )),
                IdempotencyClaim::Won => {
                    let sent = match send(app, &to, &activity).await {
                        Ok(sent) => sent,
                        Err(e) => {
                            // Unless the outcome is unknown (504), nothing was delivered: let a retry send.
                            if e.status != 504 {
                                let _ = app.store.release_idempotency(&key, Timestamp::now()).await;
                            }
                            return Err(e);
                        }
                    };
                    app.store.complete_idempotency(&key, &sent, Timestamp::now()).await?;
                    Ok(ids(&sent))
                }
            }
        }
        Operation::Update { update, message } => {
            let service_url = active_service_url(app, &update.conversation_id, now).await?;
            let mut activity = message_activity(message);
            activity.id = Some(update.activity_id.clone());
            let result = app
                .connector
                .update_activity(&service_url, &update.conversation_id, &update.activity_id, &activity)
                .await;
            inactive_if_removed(app, &update.conversation_id, result).await?;
            Ok(json!({}))
        }
        Operation::Delete { delete } => {
            let service_url = active_service_url(app, &delete.conversation_id, now).await?;
            let result = app
                .connector
                .delete_activity(&service_url, &delete.conversation_id, &delete.activity_id)
                .await;
            inactive_if_removed(app, &delete.conversation_id, result).await?;
            Ok(json!({}))
        }
    }
}

fn ids(sent: &SentActivity) -> Value {
    json!({"conversationId": sent.conversation_id, "activityId": sent.activity_id})
}

fn message_activity(message: Message) -> Activity {
    Activity {
        kind: models::ActivityKind::Message(message),
        ..Activity::default()
    }
}

/// A Connector call's result; when Teams says the bot was removed or the conversation is gone, the
/// conversation is marked inactive first ([`stop_if_gone`]).
async fn inactive_if_removed<T>(
    app: &App,
    conversation: &ConversationId,
    result: Result<T, ConnectorError>,
) -> Result<T, NotifyError> {
    match result {
        Ok(value) => {
            metrics::count(Metric::ProactiveSent);
            Ok(value)
        }
        Err(error) => {
            stop_if_gone(app, conversation, &error).await;
            Err(error.into())
        }
    }
}

async fn active_service_url(app: &App, conversation: &ConversationId, now: Timestamp) -> Result<String, NotifyError> {
    active_reference(app, conversation, now)
        .await
        .map(|(service_url, _)| service_url)
}

/// The freshest serviceUrl ([`freshest`]) and the tenant of an active conversation.
async fn active_reference(
    app: &App,
    conversation: &ConversationId,
    now: Timestamp,
) -> Result<(String, Option<TenantId>), NotifyError> {
    let record = app
        .store
        .conversation(conversation, now)
        .await?
        .ok_or_else(|| NotifyError::new(404, "UnknownConversation", format!("no conversation `{conversation}`")))?;
    if !record.active {
        return Err(NotifyError::new(
            410,
            "ConversationInactive",
            "the bot was removed from this conversation",
        ));
    }
    let tenant = record.reference.tenant_id.clone();
    let known = (record.reference.service_url.as_str(), record.updated_at);
    let service_url = freshest(app, Some(known), tenant.as_ref(), now).await?;
    Ok((service_url, tenant))
}

async fn send(app: &App, to: &To, activity: &Activity) -> Result<SentActivity, NotifyError> {
    let now = Timestamp::now();
    match to {
        To::Conversation { id } => {
            let (service_url, tenant) = active_reference(app, id, now).await?;
            let activity = crate::addressed(activity, id, tenant.as_ref());
            let result = app.connector.send_to_conversation(&service_url, id, &activity).await;
            let sent = inactive_if_removed(app, id, result).await?;
            Ok(SentActivity {
                conversation_id: id.clone(),
                activity_id: sent.id,
                sent_at: now,
            })
        }
        To::Channel { id, team_id } => {
            let install = app.store.team_install(team_id, now).await?.ok_or_else(|| {
                NotifyError::new(
                    404,
                    "UnknownTeam",
                    format!("the bot is not installed in team `{team_id}`"),
                )
            })?;
            let service_url = freshest_for_install(app, &install, now).await?;
            let result = app
                .connector
                .create_channel_thread(&service_url, id, Some(&install.tenant_id), activity)
                .await;
            let created = inactive_if_removed(app, &ConversationId::from(id.as_str()), result).await?;
            let activity_id = created
                .activity_id
                .ok_or_else(|| NotifyError::new(502, "ConnectorError", "Teams answered no activityId"))?;
            // Remember the new reply chain, so the ids answered here can update or delete it later.
            let reference = models::ConversationReference {
                activity_id: None,
                user: None,
                bot: install.bot.clone(),
                conversation: models::ConversationAccount {
                    id: created.id.clone(),
                    conversation_type: Some(models::ConversationType::Channel),
                    is_group: Some(true),
                    tenant_id: Some(install.tenant_id.clone()),
                    ..models::ConversationAccount::default()
                },
                channel_id: "msteams".to_owned(),
                service_url,
                locale: None,
                tenant_id: Some(install.tenant_id.clone()),
                team_id: Some(team_id.clone()),
                channel: Some(id.clone()),
            };
            app.store.insert_conversation(&reference, now).await?;
            Ok(SentActivity {
                conversation_id: created.id,
                activity_id,
                sent_at: now,
            })
        }
        To::User {
            aad_object_id,
            id,
            tenant_id,
        } => {
            if id.as_deref().is_none_or(str::is_empty) && aad_object_id.as_deref().is_none_or(str::is_empty) {
                return Err(NotifyError::new(400, "InvalidRequest", "user needs id or aadObjectId"));
            }
            let user = ChannelAccount {
                id: id.clone().unwrap_or_default(),
                aad_object_id: aad_object_id.clone(),
                ..ChannelAccount::default()
            };
            // Where to create the chat if it is new: the tenant's last serviceUrl, else the global one.
            let service_url = freshest(app, None, Some(tenant_id), now).await?;
            let bot = app.identity.account();
            let request = ChatRequest {
                user: &user,
                tenant: tenant_id,
                service_url: &service_url,
                bot: &bot,
                locale: None,
                claims_first_contact: true,
            };
            let (conversation, known_url) = personal::open(app, request).await?;
            let service_url = if known_url == service_url {
                service_url
            } else {
                let record = app.store.conversation(&conversation, now).await?;
                let at = record.as_ref().map_or(Timestamp(0), |r| r.updated_at);
                freshest(app, Some((&known_url, at)), Some(tenant_id), now).await?
            };
            let activity = crate::addressed(activity, &conversation, Some(tenant_id));
            let result = app
                .connector
                .send_to_conversation(&service_url, &conversation, &activity)
                .await;
            let sent = inactive_if_removed(app, &conversation, result).await?;
            Ok(SentActivity {
                conversation_id: conversation,
                activity_id: sent.id,
                sent_at: now,
            })
        }
    }
}

/// What a tick did: jobs run (`sent`), slots another tick had claimed (`skipped`), jobs that failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    /// Jobs whose run succeeded.
    pub sent: u32,
    /// Due slots another tick had already claimed.
    pub skipped: u32,
    /// Jobs (or slot claims) that failed.
    pub failed: u32,
    /// Of `failed`, those whose cause may pass (Teams throttling or 5xx, an unknown outcome, the token, the store).
    #[serde(skip)]
    pub retryable: u32,
}

/// Why a tick failed as a whole (the `proactive` function then answers Lambda an error, so its `Errors` metric and
/// alarm see it; a slot is claimed once, so a retried tick runs only what is still due).
#[derive(Debug, thiserror::Error)]
pub enum TickError {
    /// The due jobs could not be listed.
    #[error("listing the due jobs failed: {0}")]
    Store(#[source] StoreError),
    /// Jobs failed for a reason that may pass (the report counts them).
    #[error("{} of {} due jobs failed ({} for a reason that may pass)", report.failed, report.sent + report.failed, report.retryable)]
    JobsFailed { report: TickReport },
}

impl TickError {
    /// `StoreUnavailable` or `JobsFailed`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Store(_) => "StoreUnavailable",
            Self::JobsFailed { .. } => "JobsFailed",
        }
    }
}

/// Runs the jobs that are due now: each due job's slot is claimed (exactly one run per slot), then the bot's
/// [`crate::api::Bot::on_job`] runs for it. Answers a small report (`sent` counts the runs that succeeded), or
/// `{"error": ...}` when the due jobs could not be listed (the devserver's `/api/tick` answer).
pub async fn tick(app: &App) -> Value {
    match run_tick(app).await {
        Ok(report) | Err(TickError::JobsFailed { report }) => json!(report),
        Err(e @ TickError::Store(_)) => json!({"error": e.to_string()}),
    }
}

/// [`tick`], typed, in a `tick` span with one INFO line for its outcome and duration.
///
/// # Errors
/// [`TickError::Store`] when the due jobs cannot be listed; [`TickError::JobsFailed`] when a job failed for a
/// reason that may pass (a job the bot itself failed, or whose bot was removed, is counted in the report only).
pub async fn run_tick(app: &App) -> Result<TickReport, TickError> {
    let span = tracing::error_span!("tick");
    let started = std::time::Instant::now();
    let result = tick_jobs(app).instrument(span.clone()).await;
    let _entered = span.enter();
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match &result {
        Ok(report) => tracing::info!(
            sent = report.sent,
            skipped = report.skipped,
            failed = report.failed,
            elapsed_ms,
            "tick done"
        ),
        Err(e) => tracing::warn!(error = %e, elapsed_ms, "tick failed"),
    }
    result
}

async fn tick_jobs(app: &App) -> Result<TickReport, TickError> {
    let now = Timestamp::now();
    let due = app.store.due_subscriptions(now, 100).await.map_err(|e| {
        metrics::count(Metric::StoreUnavailable);
        TickError::Store(e)
    })?;
    let mut report = TickReport::default();
    for sub in due {
        let next = Timestamp(
            sub.next_due
                .0
                .saturating_add(i64::try_from(sub.every_secs.max(60)).unwrap_or(i64::MAX)),
        );
        let next = if next <= now {
            now.plus_secs(sub.every_secs.max(60))
        } else {
            next
        };
        match app
            .store
            .claim_slot(&sub.conversation_id, &sub.name, sub.next_due, next, now)
            .await
        {
            Ok(outcome) if outcome.won() => {}
            Ok(_) => {
                report.skipped += 1;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, conversation = %sub.conversation_id, job = %sub.name, "slot claim failed");
                metrics::count(Metric::StoreUnavailable);
                report.failed += 1;
                report.retryable += 1;
                continue;
            }
        }
        match run_job(app, &sub)
            .instrument(tracing::error_span!("job", conversation_id = %sub.conversation_id, job = %sub.name))
            .await
        {
            Ok(()) => report.sent += 1,
            Err(e) => {
                let retryable = job_failure_may_pass(&e);
                tracing::warn!(error = %e, conversation = %sub.conversation_id, job = %sub.name, retryable, "job failed");
                if matches!(e, crate::api::BotError::Store(_)) {
                    metrics::count(Metric::StoreUnavailable);
                }
                report.failed += 1;
                report.retryable += u32::from(retryable);
            }
        }
    }
    if report.retryable > 0 {
        return Err(TickError::JobsFailed { report });
    }
    Ok(report)
}

/// Whether a job's failure comes from something outside the bot that may pass, classified as a notify's status
/// is ([`NotifyError::is_retryable`]): Teams throttling (429), 5xx or a timeout (an unknown outcome, 504), the
/// outbound token or the allowlist (502), the store.
fn job_failure_may_pass(error: &crate::api::BotError) -> bool {
    use crate::api::BotError;
    match error {
        BotError::Connector(e) => metrics::proactive_failure(e.http_status()) == Metric::ProactiveFailed,
        BotError::Store(_) => true,
        BotError::UnknownConversation(_)
        | BotError::ConversationInactive(_)
        | BotError::NotAvailable(_)
        | BotError::File(_)
        | BotError::State { .. }
        | BotError::Other(_) => false,
    }
}

/// Runs one claimed job slot: the bot's [`crate::api::Bot::on_job`] with a context addressed to the job's
/// conversation, at the serviceUrl last seen there (else the one stored with the job).
async fn run_job(app: &App, subscription: &store::Subscription) -> Result<(), crate::api::BotError> {
    let now = Timestamp::now();
    let conversation = &subscription.conversation_id;
    let stored = app.store.conversation(conversation, now).await?;
    let reference = match stored {
        Some(record) if !record.active => {
            let reason = record.inactive_reason;
            if reason.is_some_and(store::InactiveReason::reversible) {
                // The team or channel may come back (restored, unarchived): the job waits, its slot skipped.
                tracing::info!(conversation = %conversation, job = %subscription.name, ?reason, "job paused: its conversation is inactive until Teams restores it");
                return Ok(());
            }
            app.store.unsubscribe(conversation, &subscription.name, now).await?;
            tracing::info!(conversation = %conversation, job = %subscription.name, ?reason, "job ended: the bot was removed from its conversation");
            return Ok(());
        }
        Some(record) => {
            let mut reference = record.reference;
            let known = (reference.service_url.as_str(), record.updated_at);
            reference.service_url = freshest(app, Some(known), reference.tenant_id.as_ref(), now).await?;
            reference
        }
        None => job_reference(conversation, &subscription.payload)?,
    };

    let ctx = Context::proactive(app, reference);
    let run = JobRun {
        name: &subscription.name,
        slot: subscription.next_due,
        data: job_data(&subscription.payload),
    };
    match app.bot.on_job(&ctx, &run).await {
        Err(e) if e.is_bot_removed() => {
            app.store
                .unsubscribe(conversation, &subscription.name, Timestamp::now())
                .await?;
            tracing::info!(conversation = %conversation, job = %subscription.name, "job ended: the bot was removed from its conversation");
            Err(e)
        }
        other => other,
    }
}

/// The address a job was scheduled with, for a conversation the store has no reference of.
fn job_reference(
    conversation: &ConversationId,
    payload: &Value,
) -> Result<models::ConversationReference, crate::api::BotError> {
    let service_url = payload
        .get("serviceUrl")
        .and_then(Value::as_str)
        .ok_or(crate::api::BotError::NotAvailable(
            "the job's conversation (no serviceUrl stored)",
        ))?;
    let tenant: Option<TenantId> = payload
        .get("tenantId")
        .and_then(|t| serde_json::from_value(t.clone()).ok());
    let bot: ChannelAccount = payload
        .get("bot")
        .and_then(|b| serde_json::from_value(b.clone()).ok())
        .unwrap_or_default();
    Ok(models::ConversationReference {
        activity_id: None,
        user: None,
        bot,
        conversation: models::ConversationAccount {
            id: conversation.clone(),
            tenant_id: tenant.clone(),
            ..models::ConversationAccount::default()
        },
        channel_id: "msteams".to_owned(),
        service_url: service_url.to_owned(),
        locale: None,
        tenant_id: tenant,
        team_id: None,
        channel: None,
    })
}

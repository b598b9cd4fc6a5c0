//! Running deferred work ([`crate::api::Context::defer`]): the outbox item of topic [`TOPIC`], picked from the
//! table's stream by the `proactive` function (the devserver: its change feed), runs the bot's
//! [`crate::api::Bot::on_deferred`] with a context addressed to the conversation it was deferred from.
//!
//! Outcomes (docs/decisions/2026-11-30-long-work.md):
//! - the handler succeeded, or failed for good (the bot's own error, the bot removed, the conversation gone or
//!   inactive, a refusal by Teams): the item is done; a failure is logged and counted (`ProactiveRefused`);
//! - it failed for a reason that may pass (Teams throttling or 5xx after the client's retries, an unknown
//!   outcome, the token, the store, a send of an earlier run still in progress) or ran past [`DEADLINE`]:
//!   [`DeferredError`], the stream record fails and the mapping retries it (then its on-failure destination).
//!   A retry re-runs the handler; its sends already made are not made again (keyed `deferred:<id>:<n>`).

use crate::api::{BotError, Context, DeferError, DeferredWork};
use crate::app::App;
use crate::flows::address::freshest;
use crate::metrics::{self, Metric};
use models::ConversationReference;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use store::{OutboxItem, Timestamp};

/// The outbox topic of deferred work.
pub const TOPIC: &str = "deferred";

/// The longest one run of a deferred work's handler may take; past it the run is cancelled and retried. The
/// `proactive` function handles a stream batch (at most 10 records) in order, so its timeout (900 s in
/// `infra/template.yaml`) holds ten runs this long and their bookkeeping.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The outbox item's payload.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    name: String,
    #[serde(default)]
    data: Value,
    /// Where it was deferred from (its user, its thread).
    conversation: ConversationReference,
}

/// The outbox item of a deferral.
pub(crate) fn outbox_item(
    id: &str,
    name: &str,
    data: Value,
    conversation: &ConversationReference,
    now: Timestamp,
) -> OutboxItem {
    let payload = Payload {
        name: name.to_owned(),
        data,
        conversation: conversation.clone(),
    };
    OutboxItem {
        id: id.to_owned(),
        topic: TOPIC.to_owned(),
        payload: serde_json::to_value(&payload).unwrap_or_default(),
        done: false,
        created_at: now,
    }
}

/// Why a run of deferred work is to be retried (the stream record fails).
#[derive(Debug, thiserror::Error)]
pub enum DeferredError {
    /// The handler failed for a reason that may pass.
    #[error("deferred work `{id}` ({name}) failed, to be retried")]
    Failed {
        id: String,
        name: String,
        #[source]
        source: BotError,
    },
    /// The handler ran past [`DEADLINE`] and was cancelled.
    #[error("deferred work `{id}` ({name}) ran past its {} s deadline, to be retried", DEADLINE.as_secs())]
    Deadline { id: String, name: String },
}

/// Runs the deferred work `item` once. `Ok` when it is done with (succeeded, or failed for good: logged and
/// counted); the caller then marks the item done.
///
/// # Errors
/// [`DeferredError`] when the run is worth retrying.
pub async fn run(app: &App, item: &OutboxItem) -> Result<(), DeferredError> {
    let span = tracing::error_span!(
        "deferred",
        id = %item.id,
        conversation_id = tracing::field::Empty,
        tenant_id = tracing::field::Empty
    );
    tracing::Instrument::instrument(run_in_span(app, item), span).await
}

async fn run_in_span(app: &App, item: &OutboxItem) -> Result<(), DeferredError> {
    let payload: Payload = match serde_json::from_value(item.payload.clone()) {
        Ok(payload) => payload,
        Err(e) => {
            metrics::count(Metric::ProactiveRefused);
            tracing::error!(error = %e, "deferred work's payload does not decode; dropped");
            return Ok(());
        }
    };
    let span = tracing::Span::current();
    span.record("conversation_id", payload.conversation.conversation.id.as_str());
    if let Some(tenant) = &payload.conversation.tenant_id {
        span.record("tenant_id", tenant.as_str());
    }
    let name = payload.name.as_str();
    let started = std::time::Instant::now();
    let handler = async {
        let Some(reference) = current_reference(app, &payload.conversation).await? else {
            return Ok(false);
        };
        let ctx = Context::deferred(app, reference, &item.id);
        let work = DeferredWork {
            id: &item.id,
            name,
            data: &payload.data,
            requested_by: payload.conversation.user.as_ref(),
            requested_at: item.created_at,
        };
        app.bot.on_deferred(&ctx, &work).await.map(|()| true)
    };
    let outcome = tokio::time::timeout(DEADLINE, handler).await;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let error = match outcome {
        Ok(Ok(true)) => {
            tracing::info!(name, elapsed_ms, "deferred work done");
            return Ok(());
        }
        Ok(Ok(false)) => {
            metrics::count(Metric::ProactiveRefused);
            tracing::info!(name, "deferred work dropped: the bot was removed from its conversation");
            return Ok(());
        }
        Ok(Err(error)) => error,
        Err(_) => {
            metrics::count(Metric::ProactiveFailed);
            tracing::warn!(
                name,
                elapsed_ms,
                "deferred work ran past its deadline; cancelled, to be retried"
            );
            return Err(DeferredError::Deadline {
                id: item.id.clone(),
                name: name.to_owned(),
            });
        }
    };
    let retryable = may_pass(&error);
    // A failed Connector call was counted by the context; count the rest.
    if !matches!(error, BotError::Connector(_)) {
        metrics::count(if retryable {
            Metric::ProactiveFailed
        } else {
            Metric::ProactiveRefused
        });
    }
    if matches!(error, BotError::Store(_)) {
        metrics::count(Metric::StoreUnavailable);
    }
    let chain = crate::stream::error_chain(&error);
    if retryable {
        tracing::warn!(name, elapsed_ms, error = %chain, "deferred work failed; to be retried");
        return Err(DeferredError::Failed {
            id: item.id.clone(),
            name: name.to_owned(),
            source: error,
        });
    }
    tracing::warn!(name, elapsed_ms, error = %chain, "deferred work failed for good; not retried");
    Ok(())
}

/// The conversation to run in: the stored one at its freshest serviceUrl (the deferral's user and thread kept),
/// the deferral's own when the store has none; `None` when the bot was removed from it.
async fn current_reference(
    app: &App,
    deferred_from: &ConversationReference,
) -> Result<Option<ConversationReference>, BotError> {
    let now = Timestamp::now();
    let mut reference = deferred_from.clone();
    match app.store.conversation(&reference.conversation.id, now).await? {
        Some(record) if !record.active => Ok(None),
        Some(record) => {
            let known = (record.reference.service_url.as_str(), record.updated_at);
            reference.service_url = freshest(app, Some(known), reference.tenant_id.as_ref(), now).await?;
            Ok(Some(reference))
        }
        None => Ok(Some(reference)),
    }
}

/// Whether a handler's failure may pass on a retry, as a job's or a notify's is judged: Teams throttling (429),
/// 5xx or an unknown outcome (504), the token or the allowlist (502), the store, a send still in progress.
fn may_pass(error: &BotError) -> bool {
    match error {
        BotError::Connector(e) => metrics::proactive_failure(e.http_status()) == Metric::ProactiveFailed,
        BotError::Store(_) => true,
        BotError::Other(e) => matches!(e.downcast_ref::<DeferError>(), Some(DeferError::SendInProgress { .. })),
        BotError::UnknownConversation(_)
        | BotError::ConversationInactive(_)
        | BotError::NotAvailable(_)
        | BotError::File(_)
        | BotError::State { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector::ConnectorError;

    #[test]
    fn failures_that_may_pass_are_retried_and_the_rest_are_not() {
        let throttled = ConnectorError::Throttled {
            status: 429,
            retry_after: None,
        };
        assert!(may_pass(&BotError::Connector(throttled)));
        let removed = ConnectorError::NotInRoster { message: "gone".into() };
        assert!(!may_pass(&BotError::Connector(removed)));
        let pending = DeferError::SendInProgress {
            key: "deferred:x:0".into(),
        };
        assert!(may_pass(&BotError::other(pending)));
        assert!(!may_pass(&BotError::other(DeferError::BadName(0))));
        assert!(!may_pass(&BotError::other("the bot's own failure")));
        assert!(!may_pass(&BotError::NotAvailable("a team")));
    }

    #[test]
    fn the_payload_round_trips_through_the_outbox_item() {
        let reference = ConversationReference {
            conversation: models::ConversationAccount {
                id: "a:1".into(),
                ..models::ConversationAccount::default()
            },
            service_url: "https://smba.trafficmanager.net/teams/".into(),
            ..ConversationReference::default()
        };
        let item = outbox_item("dw-1", "slow", serde_json::json!({"secs": 2}), &reference, Timestamp(7));
        assert_eq!(item.topic, TOPIC);
        let payload: Payload = serde_json::from_value(item.payload).unwrap();
        assert_eq!(payload.name, "slow");
        assert_eq!(payload.data["secs"], 2);
        assert_eq!(payload.conversation, reference);
    }
}

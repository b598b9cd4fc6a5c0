//! Where proactive work is sent, and what a refusal from Teams means for the conversation.
//!
//! A conversation's serviceUrl can move (Teams tells us on every inbound activity, and the store keeps the last
//! one per conversation and per tenant). Proactive work (notify, jobs, welcomes, channel posts) is sent to the
//! freshest serviceUrl known: the conversation's, unless the tenant's last one was recorded later; for a tenant
//! never heard from, the global Teams URL ([`GLOBAL_SERVICE_URL`]), as the Teams SDK and Microsoft's proactive
//! samples do.

use crate::app::App;
use connector::ConnectorError;
use models::{ConversationId, TenantId};
use store::{InactiveReason, StoreError, TeamInstall, Timestamp};

/// The serviceUrl for a tenant the bot has never heard from (Teams routes it to the tenant's region).
pub const GLOBAL_SERVICE_URL: &str = "https://smba.trafficmanager.net/teams/";

/// The freshest serviceUrl for a send in `tenant`: `known` (a serviceUrl and when it was recorded), or the
/// tenant's last one when that was recorded later, or when nothing is known, [`GLOBAL_SERVICE_URL`].
///
/// # Errors
/// [`StoreError`] from reading the tenant's item.
pub async fn freshest(
    app: &App,
    known: Option<(&str, Timestamp)>,
    tenant: Option<&TenantId>,
    now: Timestamp,
) -> Result<String, StoreError> {
    let seen = match tenant.filter(|t| !t.as_str().is_empty()) {
        Some(tenant) => app.store.tenant_seen(tenant, now).await?,
        None => None,
    };
    Ok(match (known, seen) {
        (Some((url, at)), Some(seen)) if seen.updated_at > at && seen.service_url != url => {
            tracing::info!(from = url, to = %seen.service_url, "sending at the tenant's newer serviceUrl");
            seen.service_url
        }
        (Some((url, _)), _) => url.to_owned(),
        (None, Some(seen)) => seen.service_url,
        (None, None) => GLOBAL_SERVICE_URL.to_owned(),
    })
}

/// [`freshest`] for work a team install claimed (the team welcome, a notify to one of its channels).
///
/// # Errors
/// [`StoreError`].
pub async fn freshest_for_install(app: &App, install: &TeamInstall, now: Timestamp) -> Result<String, StoreError> {
    let known = (install.service_url.as_str(), install.claimed_at);
    freshest(app, Some(known), Some(&install.tenant_id), now).await
}

/// When Teams says the bot was removed (403) or the conversation no longer exists (404
/// `ConversationNotFound`), marks the conversation inactive so nothing more is sent there. Awaited by every
/// caller: a Lambda instance is frozen once its handler returns, so a background write could be lost. A
/// failure to mark is logged and counted by the caller's error; the Connector error is what the caller reports.
pub async fn stop_if_gone(app: &App, conversation: &ConversationId, error: &ConnectorError) {
    if !(error.is_bot_removed() || error.is_conversation_gone()) {
        return;
    }
    app.known.forget(conversation);
    match app
        .store
        .mark_inactive(conversation, InactiveReason::Forbidden, Timestamp::now())
        .await
    {
        Ok(changed) => {
            tracing::info!(conversation = %conversation, error = %error, changed, "conversation marked inactive: Teams refused it for good");
        }
        Err(e) => {
            tracing::error!(conversation = %conversation, error = %e, "could not mark the conversation inactive");
        }
    }
}

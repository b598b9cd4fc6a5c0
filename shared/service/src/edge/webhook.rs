//! `POST /api/messages`: the Bot Framework messaging endpoint, independent of how the request arrived
//! (API Gateway / Function URL event in Lambda, axum in the devserver).
//!
//! Order of work, so that a rejected request stores nothing and sends nothing:
//! 1. size (413, before parsing); 2. a token must be present unless anonymous (401); 3. everything that depends
//!    only on the token, before the body is parsed: header shape, JWT structure, `alg`, `kid`, `crit`, signature,
//!    issuer, audience, expiry (401; 503 when no signing keys can be had), so an unauthenticated caller costs no
//!    parse and never sees a parse error; 4. parse (400, naming the field); 5. the token against the activity:
//!    endorsement of its `channelId`, `serviceurl` claim, tenant (403); 6. the fields a reply needs (400) and a
//!    serviceUrl our token may be sent to (403: the bot could never answer it);
//! 7. welcome and uninstall claims for install events (idempotent first-writer-wins writes, done before the
//!    dedupe claim so a failure here can be retried by the channel); 8. the dedupe claim and the conversation
//!    reference in one store request, with a user's first-contact claim when a 1:1 chat is new to the store
//!    (503 when the store is down; a duplicate stops here with 200, after re-applying uninstalls and team
//!    events, [`crate::flows::lifecycle`], which are idempotent);
//! 9. the bot's handler for the activity ([`crate::api::Bot`]), bounded by a deadline well inside Teams' 15 s (invokes: 5 s).

use crate::app::{App, Inbound};
use crate::flows::dispatch::dispatch;
use crate::flows::lifecycle::{self, TeamChange};
use crate::flows::triggers::{WelcomeTrigger, welcome_triggers};
use crate::metrics::{self, Metric};
use models::{Activity, ActivityKind, ConversationReference};
use serde_json::Value;
use std::borrow::Cow;
use std::time::Duration;
use store::{ClaimOutcome, FirstContact, InactiveReason, InboundOutcome, StoreError, TeamInstall, Timestamp};
use tracing::Instrument as _;

/// Bodies over this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// How long the bot's work may take before the webhook answers anyway (Teams waits 15 s).
pub const MESSAGE_DEADLINE: Duration = Duration::from_secs(10);
/// The same for invokes (Teams waits 5 s).
pub const INVOKE_DEADLINE: Duration = Duration::from_millis(4_000);

/// The webhook's answer: a status and a short plain reason, or a JSON body for invokes.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookResponse {
    pub status: u16,
    pub body: Body,
}

/// The body of a [`WebhookResponse`].
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Empty,
    /// A short plain-text reason (4xx/5xx).
    Reason(&'static str),
    /// A reason with detail safe to show (e.g. the malformed field's name).
    Detail(String),
    /// An invoke response.
    Json(Value),
}

impl WebhookResponse {
    fn ok() -> Self {
        Self {
            status: 200,
            body: Body::Empty,
        }
    }

    fn reject(status: u16, reason: &'static str) -> Self {
        Self {
            status,
            body: Body::Reason(reason),
        }
    }

    /// The body as bytes and its content type.
    #[must_use]
    pub fn into_parts(self) -> (u16, &'static str, Vec<u8>) {
        match self.body {
            Body::Empty => (self.status, "text/plain; charset=utf-8", Vec::new()),
            Body::Reason(r) => (self.status, "text/plain; charset=utf-8", r.as_bytes().to_vec()),
            Body::Detail(d) => (self.status, "text/plain; charset=utf-8", d.into_bytes()),
            Body::Json(v) => (
                self.status,
                "application/json",
                serde_json::to_vec(&v).unwrap_or_default(),
            ),
        }
    }
}

/// Handles one delivery of the messaging endpoint, in an `activity` span (activity id and type, conversation,
/// tenant and Teams channel ids, recorded once the body parses), with one INFO line for its outcome (status,
/// route) and duration.
pub async fn handle(app: &App, authorization: Option<&str>, body: &[u8]) -> WebhookResponse {
    let span = tracing::error_span!(
        "activity",
        activity_id = tracing::field::Empty,
        activity_type = tracing::field::Empty,
        conversation_id = tracing::field::Empty,
        tenant_id = tracing::field::Empty,
        channel_id = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    let mut route = "refused";
    let response = handle_delivery(app, authorization, body, &mut route)
        .instrument(span.clone())
        .await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status,
            route,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "activity handled"
        );
    });
    response
}

/// The ids an operator searches an activity by, on its span.
fn record_ids(span: &tracing::Span, activity: &Activity) {
    if let Some(id) = &activity.id {
        span.record("activity_id", id.as_str());
    }
    span.record("activity_type", activity.type_name());
    if let Some(conversation) = &activity.conversation {
        span.record("conversation_id", conversation.id.as_str());
    }
    if let Some(tenant) = activity.tenant_id() {
        span.record("tenant_id", tenant.as_str());
    }
    if let Some(channel) = activity.channel_data.as_ref().and_then(|d| d.channel.as_ref()) {
        span.record("channel_id", channel.id.as_str());
    }
}

/// [`handle`]'s work; `route` says what became of an accepted activity (the bot's route, `duplicate`, `failed`,
/// `deadline`).
async fn handle_delivery(
    app: &App,
    authorization: Option<&str>,
    body: &[u8],
    route: &mut &'static str,
) -> WebhookResponse {
    if body.len() > MAX_BODY_BYTES {
        return WebhookResponse::reject(413, "body over 256 KiB");
    }
    // The token first: nothing of the body is read for a caller who cannot authenticate.
    let token = match &app.inbound {
        Inbound::Anonymous => None,
        Inbound::Verified(_) if authorization.is_none_or(|h| h.trim().is_empty()) => {
            metrics::count(Metric::InboundTokenRefused);
            return WebhookResponse::reject(401, "missing Authorization header");
        }
        Inbound::Verified(authenticator) => match authenticator.authenticate_token(authorization).await {
            Ok(token) => Some(token),
            Err(e) => return refused(&e),
        },
    };
    let activity = match Activity::from_slice(body) {
        Ok(activity) => activity,
        Err(e) => {
            return WebhookResponse {
                status: 400,
                body: Body::Detail(format!("not an activity: {e}")),
            };
        }
    };
    record_ids(&tracing::Span::current(), &activity);
    if let Some(token) = &token
        && let Err(e) = token.check_activity(&activity)
    {
        return refused(&e);
    }
    let reference = match ConversationReference::from_activity(&activity) {
        Ok(reference) => reference,
        Err(_) => return WebhookResponse::reject(400, "activity lacks serviceUrl, conversation or recipient"),
    };
    if let Err(e) = app.service_urls.check(&reference.service_url) {
        tracing::warn!(reason = %e, "activity refused: its serviceUrl is not allowed (BOT_ALLOWED_SERVICE_URLS)");
        return WebhookResponse::reject(
            403,
            "serviceUrl not allowed: add its prefix to BOT_ALLOWED_SERVICE_URLS",
        );
    }
    let Some(activity_id) = activity.id.clone() else {
        return WebhookResponse::reject(400, "activity has no id");
    };
    let now = Timestamp::now();
    let triggers = welcome_triggers(&activity, &app.identity);
    let is_message = matches!(activity.kind, ActivityKind::Message(_));
    // Install and uninstall events: claims first (idempotent), so a store failure can be retried by Teams.
    if !is_message && let Err(e) = apply_triggers(app, &triggers, &activity, Phase::Claims, now).await {
        return unavailable(&e);
    }
    // A user's message in a 1:1 chat: the first-contact claim commits with the activity and the reference
    // when the chat is new to the store (one claim per tenant + user, so a personal install that came first
    // wins and this one loses), never one without the other.
    let contact = if is_message {
        triggers.iter().find_map(|t| first_contact(t, now))
    } else {
        None
    };
    let record = deduped(&reference, &activity);
    let team_change = lifecycle::team_change(&activity);
    // A personal message's first-contact claim is only written with a chat new to the store, which a known
    // conversation is not; any other trigger or team event takes the full path.
    let steady_path = steady(&activity.kind)
        && team_change.is_none()
        && triggers
            .iter()
            .all(|t| matches!(t, WelcomeTrigger::FirstPersonalContact { .. }));
    let outcome = if steady_path && app.known.is_known(&record.conversation.id, &record.service_url) {
        claim_only(app, &record, now).await
    } else {
        match &contact {
            Some(contact) => app.store.record_inbound_claiming(&record, contact, now).await,
            None => app.store.record_inbound(&record, now).await,
        }
    };
    if let Ok(InboundOutcome::New(_)) = &outcome {
        app.known.remember(&record.conversation.id, &record.service_url);
    }
    // Uninstalls and team events after the reference is recorded (which would mark it active again), and again
    // on a duplicate delivery, so a failure between the two is repaired by the channel's retry.
    if outcome.is_ok() {
        let applied = match apply_triggers(app, &triggers, &activity, Phase::Uninstall, now).await {
            Ok(()) => apply_team_change(app, team_change.as_ref(), now).await,
            Err(e) => Err(e),
        };
        if let Err(e) = applied {
            return unavailable(&e);
        }
    }
    let refresh = match outcome {
        Ok(InboundOutcome::Duplicate) => {
            *route = "duplicate";
            // An invoke is still answered with JSON (its first answer is not kept: an empty object).
            return match activity.kind {
                ActivityKind::Invoke(_) => WebhookResponse {
                    status: 200,
                    body: Body::Json(Value::Object(serde_json::Map::new())),
                },
                ActivityKind::Message(_)
                | ActivityKind::MessageUpdate(_)
                | ActivityKind::MessageDelete(_)
                | ActivityKind::ConversationUpdate(_)
                | ActivityKind::InstallationUpdate(_)
                | ActivityKind::MessageReaction(_)
                | ActivityKind::Event(_)
                | ActivityKind::Typing(_)
                | ActivityKind::Unknown { .. } => WebhookResponse::ok(),
            };
        }
        Ok(InboundOutcome::New(refresh)) => refresh,
        Err(e) => return unavailable(&e),
    };
    if refresh.service_url_changed && !refresh.created {
        tracing::info!(conversation = %reference.conversation.id, "serviceUrl changed; reference updated");
    }
    if let Some(claim) = refresh.first_contact {
        tracing::info!(conversation = %reference.conversation.id, won = claim.won(), "first personal contact claim");
    }
    let is_invoke = matches!(activity.kind, ActivityKind::Invoke(_));
    let deadline = if is_invoke { INVOKE_DEADLINE } else { MESSAGE_DEADLINE };
    metrics::count(Metric::MessagesReceived);
    let handled = tokio::time::timeout(deadline, dispatch(app, &activity, reference)).await;
    let invoke = match handled {
        Ok(Ok(handled)) => {
            *route = handled.route;
            handled.invoke
        }
        Ok(Err(e)) => {
            *route = "failed";
            tracing::warn!(activity = %activity_id, kind = activity.type_name(), error = %e, "the bot's handler failed");
            None
        }
        Err(_) => {
            *route = "deadline";
            tracing::warn!(activity = %activity_id, "the bot's work passed the deadline; answering anyway");
            None
        }
    };
    match invoke {
        Some(response) => WebhookResponse {
            status: response.status,
            body: Body::Json(response.body),
        },
        None if is_invoke => WebhookResponse {
            status: 200,
            body: Body::Json(Value::Object(serde_json::Map::new())),
        },
        None => WebhookResponse::ok(),
    }
}

/// `reference` (borrowed unless the key differs) with the id the dedupe claim is keyed by (the store keys its `seen` item by the reference's
/// `activityId`, and never stores that id with the reference). For most activities it is the activity's id. An edit
/// (`messageUpdate`) and a delete (`messageDelete`) carry the id of the message they change, so every edit of a
/// message, and its delete, would repeat it: an edit is keyed by its id, `#edit#` and a digest of its timestamp,
/// event type and text (a second edit differs; Teams' redelivery of the same edit does not), a delete by its id
/// and `#delete`.
fn deduped<'r>(reference: &'r ConversationReference, activity: &Activity) -> Cow<'r, ConversationReference> {
    let Some(id) = activity.id.as_ref() else {
        return Cow::Borrowed(reference);
    };
    let key = match &activity.kind {
        ActivityKind::MessageUpdate(message) => {
            let event = activity
                .channel_data
                .as_ref()
                .and_then(|d| d.event_type.as_ref())
                .map_or("", models::TeamsEventType::as_str);
            let digest = fnv1a(&[
                activity.timestamp.as_deref().unwrap_or_default().as_bytes(),
                event.as_bytes(),
                message.text.as_deref().unwrap_or_default().as_bytes(),
            ]);
            format!("{id}#edit#{digest:016x}")
        }
        ActivityKind::MessageDelete(_) => format!("{id}#delete"),
        ActivityKind::Message(_)
        | ActivityKind::ConversationUpdate(_)
        | ActivityKind::InstallationUpdate(_)
        | ActivityKind::MessageReaction(_)
        | ActivityKind::Invoke(_)
        | ActivityKind::Event(_)
        | ActivityKind::Typing(_)
        | ActivityKind::Unknown { .. } => return Cow::Borrowed(reference),
    };
    Cow::Owned(ConversationReference {
        activity_id: Some(key.as_str().into()),
        ..reference.clone()
    })
}

/// FNV-1a (64 bit) over `parts`, each followed by a separator byte: a stable digest (the same on every build and
/// machine, unlike `std`'s hasher) for dedupe keys.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().copied().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// A request whose token was refused (401/403), or that could not be checked (503).
fn refused(error: &auth::AuthError) -> WebhookResponse {
    metrics::count(Metric::InboundTokenRefused);
    tracing::info!(reason = error.reason(), "inbound token refused");
    WebhookResponse::reject(error.status().as_u16(), error.reason())
}

/// The answer to a store failure: 503 so the channel retries, except for a record the store refuses as invalid
/// (an empty conversation or tenant id: retrying the same activity cannot succeed), which is the caller's 400.
fn unavailable(error: &StoreError) -> WebhookResponse {
    if let StoreError::Invalid(reason) = error {
        tracing::info!(reason, "activity refused: the store cannot record it");
        return WebhookResponse {
            status: 400,
            body: Body::Detail(format!("activity cannot be recorded: {reason}")),
        };
    }
    metrics::count(Metric::StoreUnavailable);
    tracing::error!(error = %error, "state store unavailable");
    WebhookResponse::reject(503, "state store unavailable, retry later")
}

/// Which triggers to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Team-install and first-contact claims.
    Claims,
    /// Marking conversations inactive.
    Uninstall,
}

/// Records the welcome claims or the uninstalls an activity implies.
async fn apply_triggers(
    app: &App,
    triggers: &[WelcomeTrigger],
    activity: &Activity,
    phase: Phase,
    now: Timestamp,
) -> Result<(), StoreError> {
    for trigger in triggers {
        match trigger {
            WelcomeTrigger::TeamInstall { .. } | WelcomeTrigger::FirstPersonalContact { .. }
                if phase != Phase::Claims => {}
            WelcomeTrigger::Uninstalled { .. } if phase != Phase::Uninstall => {}
            WelcomeTrigger::TeamInstall {
                team_id,
                welcome_channel,
                selected,
                team_name,
                tenant,
                service_url,
                bot,
            } => {
                let Some(tenant) = tenant.clone() else { continue };
                let claim = TeamInstall {
                    team_id: team_id.clone(),
                    team_name: team_name.clone(),
                    tenant_id: tenant,
                    service_url: service_url.clone(),
                    conversation_id: welcome_channel.clone(),
                    bot: bot.clone(),
                    installed_by: activity.from.clone(),
                    claimed_at: now,
                };
                let outcome = app.store.claim_team_install(&claim, now).await?;
                // Another delivery of this install claimed first: the one naming the selected channel points
                // the claim there (the welcome reads the claim again before it sends).
                let moved = *selected
                    && !outcome.won()
                    && app.store.select_welcome_channel(team_id, welcome_channel, now).await?;
                tracing::info!(team = %team_id, won = outcome.won(), moved, "team install claim");
            }
            WelcomeTrigger::FirstPersonalContact { .. } => {
                let Some(claim) = first_contact(trigger, now) else {
                    continue;
                };
                let outcome = app.store.claim_first_contact(&claim, now).await?;
                tracing::info!(won = outcome.won(), "first personal contact claim");
            }
            WelcomeTrigger::Uninstalled {
                conversation, team_id, ..
            } => {
                app.known.forget(conversation);
                app.store
                    .mark_inactive(conversation, InactiveReason::Uninstalled, now)
                    .await?;
                if let Some(team_id) = team_id {
                    app.store.release_team_install(team_id, now).await?;
                }
                tracing::info!(conversation = %conversation, "uninstalled: conversation marked inactive");
            }
        }
    }
    Ok(())
}

/// The first-contact claim a trigger makes (none without a tenant).
fn first_contact(trigger: &WelcomeTrigger, now: Timestamp) -> Option<FirstContact> {
    let WelcomeTrigger::FirstPersonalContact {
        tenant,
        user,
        conversation,
        service_url,
        bot,
    } = trigger
    else {
        return None;
    };
    Some(FirstContact {
        tenant_id: tenant.clone()?,
        user: user.clone(),
        conversation_id: conversation.clone(),
        service_url: service_url.clone(),
        bot: bot.clone(),
        claimed_at: now,
    })
}

/// Applies a team or channel event to the store ([`crate::flows::lifecycle`]).
async fn apply_team_change(app: &App, change: Option<&TeamChange>, now: Timestamp) -> Result<(), StoreError> {
    match change {
        Some(change) => lifecycle::apply(app, change, now).await,
        None => Ok(()),
    }
}

/// Activities that say nothing about installs, uninstalls or the team: recorded with the dedupe claim alone when
/// the conversation's reference is known to be right ([`crate::adapters::known`]).
fn steady(kind: &ActivityKind) -> bool {
    match kind {
        ActivityKind::Message(_)
        | ActivityKind::MessageUpdate(_)
        | ActivityKind::MessageDelete(_)
        | ActivityKind::MessageReaction(_)
        | ActivityKind::Invoke(_)
        | ActivityKind::Event(_)
        | ActivityKind::Typing(_) => true,
        ActivityKind::ConversationUpdate(_) | ActivityKind::InstallationUpdate(_) | ActivityKind::Unknown { .. } => {
            false
        }
    }
}

/// The dedupe claim alone (one conditional put: 1 write unit, no read), for a conversation this process recorded
/// at the same serviceUrl moments ago ([`crate::adapters::known`]); an activity without an id is recorded in full.
async fn claim_only(app: &App, record: &ConversationReference, now: Timestamp) -> Result<InboundOutcome, StoreError> {
    let id = &record.conversation.id;
    match record.activity_id.as_ref().filter(|a| !a.as_str().is_empty()) {
        Some(activity) => match app
            .store
            .claim_activity(id, activity, store::DEDUPE_TTL_SECS, now)
            .await?
        {
            ClaimOutcome::Won => Ok(InboundOutcome::New(store::Refresh::default())),
            ClaimOutcome::Lost => Ok(InboundOutcome::Duplicate),
        },
        None => app.store.record_inbound(record, now).await,
    }
}

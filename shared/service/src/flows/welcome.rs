//! Welcome messages, from the install and first-contact claims (the DynamoDB stream in AWS, the embedded store's
//! change events locally). Each welcome is sent under an idempotency key, so a redelivered stream record does
//! not welcome twice; a crash between the key's claim and the send leaves the key pending, and the send is
//! retried only after the pending claim lapses (see docs/decisions).

use crate::api::{PersonalWelcome, TeamWelcome};
use crate::app::App;
use crate::flows::address::{freshest, freshest_for_install};
use crate::flows::personal::{self, ChatError, ChatRequest};
use connector::ConnectorError;
use models::{Activity, ConversationId};
use store::{FirstContact, IdempotencyClaim, SentActivity, StoreError, TeamInstall, Timestamp};

/// Why a welcome could not be sent (the stream record is retried, then dead-lettered).
#[derive(Debug, thiserror::Error)]
pub enum WelcomeError {
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    #[error("connector: {0}")]
    Connector(#[from] ConnectorError),
    /// Another attempt holds the key (or crashed holding it): retry after the pending claim lapses.
    #[error("welcome `{0}` is being sent by another attempt")]
    Pending(String),
    /// The claim names a user without an id or aadObjectId: no chat can be had (not retryable).
    #[error("the first-contact claim names no user id")]
    NoUser,
}

impl From<ChatError> for WelcomeError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::Store(e) => Self::Store(e),
            ChatError::Connector(e) => Self::Connector(e),
            ChatError::NoUserId => Self::NoUser,
        }
    }
}

/// What happened to one welcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WelcomeOutcome {
    Sent,
    /// Already sent (or being sent) for this key.
    AlreadyDone,
    /// The bot has no welcome for this ([`crate::api::Bot::team_welcome`] or
    /// [`crate::api::Bot::personal_welcome`] answered `None`).
    NothingToSend,
}

/// One welcome in the channel the installer selected, else the team's General channel; with `WELCOME_ROSTER`, a
/// first-contact claim for every member (each then gets its own 1:1 welcome through the stream, exactly once
/// per tenant + user). The claim is read again first: a later delivery of the install may have pointed it at
/// the selected channel since the stream record was written.
///
/// # Errors
/// [`WelcomeError`] when the store or the Connector fails (retryable by the caller).
pub async fn team(app: &App, install: &TeamInstall) -> Result<WelcomeOutcome, WelcomeError> {
    let now = Timestamp::now();
    let current = app.store.team_install(&install.team_id, now).await?;
    let install = current.as_ref().unwrap_or(install);
    let team = TeamWelcome {
        team_id: &install.team_id,
        team_name: install.team_name.as_deref(),
        tenant: &install.tenant_id,
        installed_by: install.installed_by.as_ref(),
        bot: &app.identity,
    };
    let outcome = match app.bot.team_welcome(&team).await {
        Some(message) => {
            let key = format!("welcome:team:{}", install.team_id);
            let channel = if install.conversation_id.as_str().is_empty() {
                ConversationId::from(install.team_id.as_str())
            } else {
                install.conversation_id.clone()
            };
            let service_url = freshest_for_install(app, install, now).await?;
            let message = crate::addressed(&message, &channel, Some(&install.tenant_id));
            send_once(app, &key, &service_url, &channel, &message).await?
        }
        None => WelcomeOutcome::NothingToSend,
    };
    match outcome {
        WelcomeOutcome::Sent | WelcomeOutcome::NothingToSend if app.welcome_roster => {
            claim_roster(app, install).await?;
        }
        WelcomeOutcome::Sent | WelcomeOutcome::NothingToSend | WelcomeOutcome::AlreadyDone => {}
    }
    Ok(outcome)
}

/// Claims first contact for every member of the team's roster (paged).
async fn claim_roster(app: &App, install: &TeamInstall) -> Result<(), WelcomeError> {
    let team = ConversationId::from(install.team_id.as_str());
    let mut token: Option<String> = None;
    loop {
        let page = app
            .connector
            .get_paged_members(&install.service_url, &team, Some(500), token.as_deref())
            .await?;
        let now = Timestamp::now();
        for member in &page.members {
            let claim = FirstContact {
                tenant_id: install.tenant_id.clone(),
                user: member.to_channel_account(),
                // Unknown until the 1:1 is created (create-or-get) by whoever sends the welcome.
                conversation_id: ConversationId::default(),
                service_url: install.service_url.clone(),
                bot: install.bot.clone(),
                claimed_at: now,
            };
            app.store.claim_first_contact(&claim, now).await?;
        }
        token = page.continuation_token.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(());
        }
    }
}

/// The personal welcome for a user's first contact (create-or-get the 1:1 when the claim names none).
///
/// # Errors
/// [`WelcomeError`] when the store or the Connector fails.
pub async fn first_contact(app: &App, contact: &FirstContact) -> Result<WelcomeOutcome, WelcomeError> {
    let welcome = PersonalWelcome {
        user: &contact.user,
        tenant: &contact.tenant_id,
        bot: &app.identity,
    };
    let Some(message) = app.bot.personal_welcome(&welcome).await else {
        return Ok(WelcomeOutcome::NothingToSend);
    };
    let now = Timestamp::now();
    let service_url = freshest(
        app,
        Some((&contact.service_url, contact.claimed_at)),
        Some(&contact.tenant_id),
        now,
    )
    .await?;
    let conversation = if contact.conversation_id.as_str().is_empty() {
        let request = ChatRequest {
            user: &contact.user,
            tenant: &contact.tenant_id,
            service_url: &service_url,
            bot: &contact.bot,
            locale: None,
            claims_first_contact: false,
        };
        personal::open(app, request).await?.0
    } else {
        contact.conversation_id.clone()
    };
    let key = format!("welcome:user:{}:{}", contact.tenant_id, contact.user.id);
    let message = crate::addressed(&message, &conversation, Some(&contact.tenant_id));
    send_once(app, &key, &service_url, &conversation, &message).await
}

/// Sends `message` once per `key`.
async fn send_once(
    app: &App,
    key: &str,
    service_url: &str,
    conversation: &ConversationId,
    message: &Activity,
) -> Result<WelcomeOutcome, WelcomeError> {
    let now = Timestamp::now();
    match app.store.claim_idempotency(key, now).await? {
        IdempotencyClaim::Done(_) => return Ok(WelcomeOutcome::AlreadyDone),
        IdempotencyClaim::Pending => return Err(WelcomeError::Pending(key.to_owned())),
        IdempotencyClaim::Won => {}
    }
    let sent = match app
        .connector
        .send_to_conversation(service_url, conversation, message)
        .await
    {
        Ok(sent) => sent,
        Err(e) => {
            release_unless_unknown(app, key, &e).await;
            return Err(e.into());
        }
    };
    let record = SentActivity {
        conversation_id: conversation.clone(),
        activity_id: sent.id,
        sent_at: now,
    };
    crate::metrics::count(crate::metrics::Metric::WelcomesSent);
    app.store.complete_idempotency(key, &record, Timestamp::now()).await?;
    tracing::info!(key, conversation = %conversation, "welcome sent");
    Ok(WelcomeOutcome::Sent)
}

/// Gives an idempotency key up after a send that is known not to have been delivered (Teams refused it, or it
/// never left), so the next attempt sends at once. After an unknown outcome the key stays pending: the message
/// may have been delivered, and a duplicate is worse than a late retry.
pub(crate) async fn release_unless_unknown(app: &App, key: &str, error: &ConnectorError) {
    if matches!(error, ConnectorError::OutcomeUnknown { .. }) {
        return;
    }
    if let Err(e) = app.store.release_idempotency(key, Timestamp::now()).await {
        tracing::warn!(key, error = %e, "could not release the idempotency key");
    }
}

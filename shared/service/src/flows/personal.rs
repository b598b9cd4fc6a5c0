//! The 1:1 chat between the bot and a user: found in the store, or created with the Connector and remembered
//! in full, whoever asks (a bot's [`crate::api::Context::personal_chat`], a notify to a user, the roster
//! welcome). Every chat the bot creates is stored as a complete conversation reference (so the ids handed out
//! can be updated, deleted and sent to), indexed by the user's Teams id and AAD object id, and counts as the
//! user's first personal contact (one personal welcome per tenant + user; a claim made earlier wins).

use crate::app::App;
use connector::ConnectorError;
use models::{ChannelAccount, ConversationAccount, ConversationId, ConversationReference, ConversationType, TenantId};
use store::{FirstContact, StoreError, Timestamp};

/// Why a 1:1 chat could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    #[error("connector: {0}")]
    Connector(#[from] ConnectorError),
    /// Neither a Teams id nor an AAD object id to find or create the chat with.
    #[error("the user has neither an id nor an aadObjectId")]
    NoUserId,
}

/// Whom and where: the user (Teams id `29:...`, or an empty id and `aadObjectId`), the tenant, the serviceUrl to
/// create the chat at, and the bot's account as Teams knows it.
#[derive(Clone, Copy, Debug)]
pub struct ChatRequest<'a> {
    pub user: &'a ChannelAccount,
    pub tenant: &'a TenantId,
    pub service_url: &'a str,
    pub bot: &'a ChannelAccount,
    pub locale: Option<&'a str>,
    /// Whether a chat created here claims the user's first contact (`false` for the welcome of a claim that
    /// exists already: the roster's).
    pub claims_first_contact: bool,
}

/// The stored 1:1 chat with the user, or a new one (created, then remembered in full). Answers its id and the
/// serviceUrl it is reached at.
///
/// # Errors
/// [`ChatError`].
pub async fn open(app: &App, request: ChatRequest<'_>) -> Result<(ConversationId, String), ChatError> {
    let ChatRequest {
        user,
        tenant,
        service_url,
        bot,
        locale,
        claims_first_contact,
    } = request;
    let now = Timestamp::now();
    let store = &app.store;
    let aad = user.aad_object_id.as_deref().filter(|a| !a.is_empty());
    let known = match (user.id.is_empty(), aad) {
        (false, _) => store.personal_by_user(tenant, &user.id, now).await?,
        (true, Some(aad)) => store.personal_by_aad(tenant, aad, now).await?,
        (true, None) => return Err(ChatError::NoUserId),
    };
    if let Some(known) = known {
        return Ok((known.conversation_id, known.service_url));
    }
    let member_id = if user.id.is_empty() {
        aad.unwrap_or_default().to_owned()
    } else {
        user.id.clone()
    };
    let created = app
        .connector
        .create_personal_conversation(service_url, bot, &member_id, tenant)
        .await?;
    let user = ChannelAccount {
        id: member_id,
        ..user.clone()
    };
    remember(app, &user, tenant, &created.id, service_url, bot, locale, now).await?;
    if claims_first_contact {
        let claim = FirstContact {
            tenant_id: tenant.clone(),
            user: user.clone(),
            conversation_id: created.id.clone(),
            service_url: service_url.to_owned(),
            bot: bot.clone(),
            claimed_at: now,
        };
        app.store.claim_first_contact(&claim, now).await?;
    }
    tracing::info!(conversation = %created.id, tenant = %tenant, "1:1 chat created and remembered");
    Ok((created.id, service_url.to_owned()))
}

/// A 1:1 chat the bot just created: its full reference (with the personal index), in one transaction.
#[allow(clippy::too_many_arguments)]
async fn remember(
    app: &App,
    user: &ChannelAccount,
    tenant: &TenantId,
    conversation: &ConversationId,
    service_url: &str,
    bot: &ChannelAccount,
    locale: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    // Inserting a new personal reference also writes the personal index (by Teams id and AAD object id) and the
    // tenant's serviceUrl, in one transaction.
    let reference = ConversationReference {
        activity_id: None,
        user: Some(user.clone()),
        bot: bot.clone(),
        conversation: ConversationAccount {
            id: conversation.clone(),
            conversation_type: Some(ConversationType::Personal),
            tenant_id: Some(tenant.clone()),
            ..ConversationAccount::default()
        },
        channel_id: "msteams".to_owned(),
        service_url: service_url.to_owned(),
        locale: locale.map(str::to_owned),
        tenant_id: Some(tenant.clone()),
        team_id: None,
        channel: None,
    };
    app.store.insert_conversation(&reference, now).await?;
    Ok(())
}

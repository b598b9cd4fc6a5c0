//! The runtime behind the public bot API ([`api`]): the typed [`Config`], the [`App`] (the user's bot with the
//! runtime's ports), the messaging webhook ([`webhook::handle`]) that routes each checked, first-seen activity to
//! the bot's handlers, the welcome flow, scheduled jobs and notify operations.

pub mod adapters;
pub mod api;
pub mod app;
pub mod config;
pub mod edge;
pub mod flows;
pub mod metrics;
pub mod telemetry;

pub use adapters::pacing;
pub use edge::{stream, webhook};
pub use flows::{background, proactive, triggers, welcome};

pub use app::{App, Inbound, StartupError, TenantPacing};
pub use config::{Config, ConfigError, Runtime, StateChoice};
pub use flows::dispatch::ADAPTIVE_CARD_ACTION;
pub use flows::mentions::{is_bot_mentioned, strip_bot_mentions};
pub use store::Timestamp;
pub use webhook::{WebhookResponse, handle};

/// `activity` addressed to `conversation` in `tenant`: Teams ignores a body's conversation on send, but naming
/// the tenant there lets the Connector client pace the send under the tenant's budget (Teams limits requests
/// per app per tenant), the same key as the creates.
#[must_use]
pub fn addressed(
    activity: &models::Activity,
    conversation: &models::ConversationId,
    tenant: Option<&models::TenantId>,
) -> models::Activity {
    let mut addressed = activity.clone();
    let account = addressed
        .conversation
        .get_or_insert_with(|| models::ConversationAccount {
            id: conversation.clone(),
            ..models::ConversationAccount::default()
        });
    if account.tenant_id.is_none() {
        account.tenant_id = tenant.cloned();
    }
    addressed
}

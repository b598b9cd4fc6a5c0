//! Edge glue shared by the Lambdas and the devserver: the typed [`Config`], the [`App`] with its ports, the
//! messaging webhook ([`webhook::handle`]) and the executor of the bot's decisions.

pub mod app;
pub mod config;
pub mod executor;
pub mod pacing;
pub mod telemetry;
pub mod webhook;

pub use app::{App, Inbound, StartupError, TenantPacing};
pub use config::{Config, ConfigError, Runtime, StateChoice};
pub use webhook::{WebhookResponse, handle};
pub mod background;
pub mod proactive;
pub mod stream;
pub mod welcome;

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

//! The running bot: its identity and the adapters behind each port, built once at cold start.

use crate::adapters::known::KnownReferences;
use crate::adapters::pacing::StorePace;
use crate::adapters::secrets::SecretsManagerSecret;
use crate::api::{Bot, BotIdentity};
use crate::config::{Config, StateChoice};
use auth::{AuthMode, Authenticator};
use connector::{Connector, HttpConnector, InProcessRateLimiter, ServiceUrlAllowlist};
use std::sync::Arc;
use store::{ChangeEvent, DynamoStore, Store};
use tokio::sync::mpsc::UnboundedReceiver;

/// How inbound requests are authenticated.
#[derive(Clone, Debug)]
pub enum Inbound {
    /// Local development on loopback: no token is checked.
    Anonymous,
    /// Every request needs a valid Bot Framework token.
    Verified(Arc<Authenticator>),
}

/// The user's bot with the runtime's ports. Cheap to clone (everything is shared).
#[derive(Clone)]
pub struct App {
    /// Who the bot is (its account id and name).
    pub identity: BotIdentity,
    /// The user's handlers.
    pub bot: Arc<dyn Bot>,
    pub connector: Arc<dyn Connector>,
    pub store: Arc<dyn Store>,
    pub inbound: Inbound,
    /// Where our token may be sent: an activity whose serviceUrl is outside it is refused (403) before anything
    /// is stored, since the bot could never answer it.
    pub service_urls: ServiceUrlAllowlist,
    /// Also welcome each team member 1:1 when the bot is added to a team.
    pub welcome_roster: bool,
    /// The conversations this process recently recorded (one write per steady-state activity).
    pub known: Arc<KnownReferences>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("identity", &self.identity)
            .field("connector", &self.connector)
            .field("store", &self.store)
            .field("inbound", &self.inbound)
            .field("service_urls", &self.service_urls)
            .field("welcome_roster", &self.welcome_roster)
            .finish_non_exhaustive()
    }
}

/// Why the bot cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Mode(#[from] auth::StartupError),
    #[error("inbound key source: {0}")]
    Keys(#[from] auth::KeySourceError),
    #[error("connector: {0}")]
    Connector(#[from] connector::ConfigError),
    #[error("state store: {0}")]
    Store(#[from] store::StoreError),
    #[error("reading the app secret from Secrets Manager ({arn}): {message}")]
    Secret { arn: String, message: String },
    /// `STATE_STORE=embedded` in a binary built without the embedded store (the Lambda functions: it is the
    /// devserver's; enable `teams-bot`'s `local-store` feature to have it).
    #[error("STATE_STORE=embedded: this binary is built without the embedded store (a Lambda uses `dynamodb`)")]
    EmbeddedStoreNotBuilt,
}

/// Who keeps a tenant's requests within its limit (the connector's `tenant_requests_per_second`, 30 by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantPacing {
    /// This process alone: the devserver, and the `messages` function, whose replies follow people typing.
    Process,
    /// Every process sending for the bot, through the state table ([`crate::adapters::pacing::StorePace`]): the
    /// `welcome` and `proactive` functions, whose stream batches run on several instances at once.
    Shared,
}

impl App {
    /// Warms the inbound signing-key cache (the webhook's cold start: the `messages` function and the devserver;
    /// the stream functions never verify a token). A failure is logged and retried on the first request.
    pub async fn prefetch_inbound_keys(&self) {
        if let Inbound::Verified(authenticator) = &self.inbound
            && let Err(e) = authenticator.prefetch().await
        {
            tracing::warn!(error = %e, "could not prefetch the inbound signing keys");
        }
    }

    /// [`App::build_with`] with [`TenantPacing::Process`].
    ///
    /// # Errors
    /// [`StartupError`].
    pub async fn build(
        config: &Config,
        bot: Arc<dyn Bot>,
    ) -> Result<(Self, Option<UnboundedReceiver<ChangeEvent>>), StartupError> {
        Self::build_with(config, TenantPacing::Process, bot).await
    }

    /// Builds the adapters `config` names. For the embedded store it also answers the store's change events,
    /// which the devserver uses in place of the DynamoDB stream: first the streamed items committed in the last
    /// [`crate::background::MAX_RECORD_AGE_SECS`] (work a stopped process may have left undone), then each new one.
    ///
    /// # Errors
    /// [`StartupError`]: anonymous mode off loopback, a bad allowlist or key URL, a store that cannot open.
    pub async fn build_with(
        config: &Config,
        pacing: TenantPacing,
        bot: Arc<dyn Bot>,
    ) -> Result<(Self, Option<UnboundedReceiver<ChangeEvent>>), StartupError> {
        let mode = AuthMode::resolve(&config.auth.app_id, config.bind_addr)?;
        let inbound = match mode {
            AuthMode::Anonymous => Inbound::Anonymous,
            AuthMode::Verified => Inbound::Verified(Arc::new(Authenticator::new(&config.auth)?)),
        };
        // The AWS SDK's configuration (region, credentials, endpoints): loaded once, by the first part that uses AWS.
        let sdk = tokio::sync::OnceCell::new();
        let load_sdk = || aws_config::load_defaults(aws_config::BehaviorVersion::latest());
        let mut connector_config = config.connector.clone();
        let secret_source = match &config.app_secret_arn {
            Some(arn) => {
                let source = SecretsManagerSecret::new(sdk.get_or_init(load_sdk).await, arn);
                connector_config.app_password = source.get().await?;
                Some(Arc::new(source))
            }
            None => None,
        };
        let mut service_urls = ServiceUrlAllowlist::new(&config.connector.allowed_service_urls)
            .map_err(|e| StartupError::Connector(connector::ConfigError::AllowedServiceUrls(e)))?;
        if mode == AuthMode::Anonymous {
            // Anonymous mode sends no token anywhere, so a local emulator's loopback Connector (the Agents
            // Playground's `http://localhost:56150/_connector`) is answered without BOT_ALLOWED_SERVICE_URLS.
            service_urls = service_urls.allowing_loopback();
        }
        let (store, changes): (Arc<dyn Store>, _) = match &config.state {
            StateChoice::Embedded { path } => {
                let (store, changes) = open_embedded(path.as_deref()).await?;
                (store, Some(changes))
            }
            StateChoice::DynamoDb { table } => {
                let client = aws_sdk_dynamodb::Client::new(sdk.get_or_init(load_sdk).await);
                (Arc::new(DynamoStore::new(client, table.clone())), None)
            }
        };
        let mut connector =
            HttpConnector::new(&connector_config)?.with_observer(Arc::new(crate::metrics::ConnectorMetrics));
        if let Some(source) = secret_source {
            connector = connector.with_secret_source(source);
        }
        if pacing == TenantPacing::Shared {
            let limiter = InProcessRateLimiter::new(connector_config.tenant_requests_per_second)
                .with_shared_pace(Arc::new(StorePace::new(Arc::clone(&store))));
            connector = connector.with_rate_limiter(Arc::new(limiter));
        }
        let connector: Arc<dyn Connector> = Arc::new(connector);
        // The devserver with BOT_METRICS=emf prints its counts every minute (Lambda prints per invocation).
        crate::metrics::start_periodic(&config.metrics);
        let identity = if config.auth.app_id.is_empty() {
            BotIdentity::new(String::new(), config.bot_name.clone())
        } else {
            BotIdentity::from_app_id(&config.auth.app_id, config.bot_name.clone())
        };
        Ok((
            Self {
                identity,
                bot,
                connector,
                store,
                inbound,
                service_urls,
                welcome_roster: config.welcome_roster,
                known: Arc::default(),
            },
            changes,
        ))
    }
}

/// The embedded store at `path` (or [`store::DEFAULT_STATE_PATH`]) and its change events: first the claims
/// committed in the last [`crate::background::MAX_RECORD_AGE_SECS`] whose event was lost with the process that
/// wrote them, as a stream read from its trim horizon would hold them (crate::background), then each new one.
#[cfg(feature = "local")]
async fn open_embedded(
    path: Option<&std::path::Path>,
) -> Result<(Arc<dyn Store>, UnboundedReceiver<ChangeEvent>), StartupError> {
    let store =
        store::EmbeddedStore::open(path.unwrap_or_else(|| std::path::Path::new(store::DEFAULT_STATE_PATH))).await?;
    let now = store::Timestamp::now();
    let since = store::Timestamp(now.0.saturating_sub_unsigned(crate::background::MAX_RECORD_AGE_SECS));
    let changes = store.subscribe_changes_since(since, now).await?;
    Ok((Arc::new(store), changes))
}

/// Without the `local` feature (the Lambda functions) there is no embedded store to open.
#[cfg(not(feature = "local"))]
async fn open_embedded(
    _path: Option<&std::path::Path>,
) -> Result<(Arc<dyn Store>, UnboundedReceiver<ChangeEvent>), StartupError> {
    Err(StartupError::EmbeddedStoreNotBuilt)
}

//! The running bot: its identity and the adapters behind each port, built once at cold start.

use crate::config::{Config, Runtime, StateChoice};
use crate::pacing::StorePace;
use auth::{AuthMode, Authenticator};
use bot::BotIdentity;
use connector::{Connector, HttpConnector, InProcessRateLimiter, ServiceUrlAllowlist};
use std::sync::Arc;
use store::{ChangeEvent, DynamoStore, EmbeddedStore, Store};
use tokio::sync::mpsc::UnboundedReceiver;

/// How inbound requests are authenticated.
#[derive(Clone, Debug)]
pub enum Inbound {
    /// Local development on loopback: no token is checked.
    Anonymous,
    /// Every request needs a valid Bot Framework token.
    Verified(Arc<Authenticator>),
}

/// The bot with its ports. Cheap to clone (everything is shared).
#[derive(Clone, Debug)]
pub struct App {
    pub bot: BotIdentity,
    pub connector: Arc<dyn Connector>,
    pub store: Arc<dyn Store>,
    pub inbound: Inbound,
    /// Where our token may be sent: an activity whose serviceUrl is outside it is refused (403) before anything
    /// is stored, since the bot could never answer it.
    pub service_urls: ServiceUrlAllowlist,
    /// Also welcome each team member 1:1 when the bot is added to a team.
    pub welcome_roster: bool,
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
}

/// The client secret in Secrets Manager, at the ARN [`crate::config::SECRET_ARN_VAR`] names (the secret's whole
/// `SecretString`): read at start, and again when the token endpoint refuses the one in use (the secret was put or
/// rotated after this instance started).
#[derive(Debug)]
struct SecretsManagerSecret {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
}

impl SecretsManagerSecret {
    fn new(sdk: &aws_config::SdkConfig, arn: &str) -> Self {
        Self {
            client: aws_sdk_secretsmanager::Client::new(sdk),
            arn: arn.to_owned(),
        }
    }

    async fn get(&self) -> Result<secrecy::SecretString, StartupError> {
        let secret_error = |message: String| StartupError::Secret {
            arn: self.arn.clone(),
            message,
        };
        let answer = self
            .client
            .get_secret_value()
            .secret_id(&self.arn)
            .send()
            .await
            .map_err(|e| secret_error(aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string()))?;
        let secret = answer
            .secret_string()
            .ok_or_else(|| secret_error("the secret has no SecretString".to_owned()))?;
        Ok(secrecy::SecretString::from(secret.to_owned()))
    }
}

#[async_trait::async_trait]
impl connector::ClientSecretSource for SecretsManagerSecret {
    async fn read(&self) -> Result<secrecy::SecretString, String> {
        self.get().await.map_err(|e| e.to_string())
    }
}

/// Who keeps a tenant's requests within its limit (the connector's `tenant_requests_per_second`, 30 by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantPacing {
    /// This process alone: the devserver, and the `messages` function, whose replies follow people typing.
    Process,
    /// Every process sending for the bot, through the state table ([`crate::pacing::StorePace`]): the
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

    /// How each Lambda function starts: [`Config::from_env`] then [`App::build_with`]. A failure is also logged
    /// with its readable reason, since Lambda reports a failed init only by the process's exit.
    ///
    /// # Errors
    /// [`StartupError`].
    pub async fn from_env(runtime: Runtime, pacing: TenantPacing) -> Result<Self, StartupError> {
        let built = match Config::from_env(runtime) {
            Ok(config) => Self::build_with(&config, pacing).await.map(|(app, _)| app),
            Err(e) => Err(e.into()),
        };
        built.inspect_err(|e| tracing::error!(error = %e, "cannot start"))
    }

    /// [`App::build_with`] with [`TenantPacing::Process`].
    ///
    /// # Errors
    /// [`StartupError`].
    pub async fn build(config: &Config) -> Result<(Self, Option<UnboundedReceiver<ChangeEvent>>), StartupError> {
        Self::build_with(config, TenantPacing::Process).await
    }

    /// Builds the adapters `config` names. For the embedded store it also answers the store's change events,
    /// which the devserver uses in place of the DynamoDB stream.
    ///
    /// # Errors
    /// [`StartupError`]: anonymous mode off loopback, a bad allowlist or key URL, a store that cannot open.
    pub async fn build_with(
        config: &Config,
        pacing: TenantPacing,
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
        let service_urls = ServiceUrlAllowlist::new(&config.connector.allowed_service_urls)
            .map_err(|e| StartupError::Connector(connector::ConfigError::AllowedServiceUrls(e)))?;
        let (store, changes): (Arc<dyn Store>, _) = match &config.state {
            StateChoice::Embedded { path } => {
                let store = match path {
                    Some(path) => EmbeddedStore::open(path).await?,
                    None => EmbeddedStore::open(store::DEFAULT_STATE_PATH).await?,
                };
                let changes = store.subscribe_changes();
                (Arc::new(store), Some(changes))
            }
            StateChoice::DynamoDb { table } => {
                let client = aws_sdk_dynamodb::Client::new(sdk.get_or_init(load_sdk).await);
                (Arc::new(DynamoStore::new(client, table.clone())), None)
            }
        };
        let mut connector = HttpConnector::new(&connector_config)?;
        if let Some(source) = secret_source {
            connector = connector.with_secret_source(source);
        }
        if pacing == TenantPacing::Shared {
            let limiter = InProcessRateLimiter::new(connector_config.tenant_requests_per_second)
                .with_shared_pace(Arc::new(StorePace::new(Arc::clone(&store))));
            connector = connector.with_rate_limiter(Arc::new(limiter));
        }
        let connector: Arc<dyn Connector> = Arc::new(connector);
        let bot = if config.auth.app_id.is_empty() {
            BotIdentity::new(String::new(), config.bot_name.clone())
        } else {
            BotIdentity::from_app_id(&config.auth.app_id, config.bot_name.clone())
        };
        Ok((
            Self {
                bot,
                connector,
                store,
                inbound,
                service_urls,
                welcome_roster: config.welcome_roster,
            },
            changes,
        ))
    }
}

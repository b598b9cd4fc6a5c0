//! One typed configuration, read once at cold start (docs/contract.md "Configuration").

use crate::metrics::{DEVSERVER_FUNCTION, DEVSERVER_INTERVAL, MetricsConfig, MetricsMode};
use auth::AuthConfig;
use connector::ConnectorConfig;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Which state store to use (`STATE_STORE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateChoice {
    /// The embedded redb store at `STATE_PATH` (the devserver's default).
    Embedded { path: Option<PathBuf> },
    /// DynamoDB table `TABLE_NAME` (the Lambdas' default).
    DynamoDb { table: String },
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("auth configuration: {0}")]
    Auth(#[from] auth::ConfigError),
    #[error("connector configuration: {0}")]
    Connector(#[from] connector::ConfigError),
    #[error("STATE_STORE must be `embedded` or `dynamodb`, not `{0}`")]
    StateStore(String),
    #[error("TABLE_NAME is required with STATE_STORE=dynamodb")]
    TableName,
    #[error("BIND_ADDR `{0}` is not an address such as 127.0.0.1:3978")]
    BindAddr(String),
    #[error("WELCOME_ROSTER must be `true` or `false`, not `{0}`")]
    WelcomeRoster(String),
    #[error("BOT_METRICS must be `emf` or `off`, not `{0}`")]
    Metrics(String),
    #[error(
        "MICROSOFT_APP_ID is set, so the bot needs its client secret: MICROSOFT_APP_PASSWORD, or the ARN of a \
         Secrets Manager secret holding it in MICROSOFT_APP_PASSWORD_SECRET_ARN (as infra/template.yaml deploys)"
    )]
    MissingAppSecret,
    #[error("set one of MICROSOFT_APP_PASSWORD and MICROSOFT_APP_PASSWORD_SECRET_ARN, not both")]
    AppSecretTwice,
}

/// `MICROSOFT_APP_PASSWORD_SECRET_ARN`: where the deployed functions find the client secret (Secrets Manager; the
/// secret's whole `SecretString` is the password), read at cold start and again when the token endpoint refuses
/// the one in use. Never the secret itself.
pub const SECRET_ARN_VAR: &str = "MICROSOFT_APP_PASSWORD_SECRET_ARN";

/// Everything a function or the devserver needs, typed.
#[derive(Clone, Debug)]
pub struct Config {
    pub auth: AuthConfig,
    pub connector: ConnectorConfig,
    pub state: StateChoice,
    /// `WELCOME_ROSTER`: also welcome each team member 1:1 when added to a team.
    pub welcome_roster: bool,
    /// `BOT_NAME`: the display name the bot uses for itself (mentions, welcome texts).
    pub bot_name: String,
    /// `BIND_ADDR` (devserver only).
    pub bind_addr: Option<SocketAddr>,
    /// [`SECRET_ARN_VAR`]: the client secret is to be read from Secrets Manager into
    /// `connector.app_password` before the connector is built ([`crate::App::build`] does).
    pub app_secret_arn: Option<String>,
    /// `BOT_ADMIN_TOKEN` (devserver only): the bearer token of the local admin routes; without it the devserver
    /// makes a random one at start.
    pub admin_token: Option<secrecy::SecretString>,
    /// `BOT_METRICS` (`emf` by default in Lambda, `off` in the devserver) and the `Function` dimension
    /// (`AWS_LAMBDA_FUNCTION_NAME`, else `devserver`): see [`crate::metrics`].
    pub metrics: MetricsConfig,
}

/// Where the config is read: the devserver (embedded store by default, a bind address) or a Lambda
/// (DynamoDB by default, no bind address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Devserver,
    Lambda,
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    /// A variable that is set but malformed, or a required one missing.
    pub fn from_env(runtime: Runtime) -> Result<Self, ConfigError> {
        Self::from_lookup(runtime, |name| std::env::var(name).ok())
    }

    /// Reads configuration through `var` (tests pass a map).
    ///
    /// # Errors
    /// As [`Config::from_env`].
    pub fn from_lookup(runtime: Runtime, var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let default_store = match runtime {
            Runtime::Devserver => "embedded",
            Runtime::Lambda => "dynamodb",
        };
        let state = match set("STATE_STORE").as_deref().unwrap_or(default_store) {
            "embedded" => StateChoice::Embedded {
                path: set("STATE_PATH").map(PathBuf::from),
            },
            "dynamodb" => StateChoice::DynamoDb {
                table: set("TABLE_NAME").ok_or(ConfigError::TableName)?,
            },
            other => return Err(ConfigError::StateStore(other.to_owned())),
        };
        let welcome_roster = match set("WELCOME_ROSTER").as_deref() {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(other) => return Err(ConfigError::WelcomeRoster(other.to_owned())),
        };
        let bind_addr = match runtime {
            Runtime::Lambda => None,
            Runtime::Devserver => {
                let raw = set("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:3978".to_owned());
                Some(raw.parse().map_err(|_| ConfigError::BindAddr(raw))?)
            }
        };
        let metrics = MetricsConfig {
            mode: match (set("BOT_METRICS").as_deref(), runtime) {
                (None, Runtime::Lambda) | (Some("emf"), _) => MetricsMode::Emf,
                (None, Runtime::Devserver) | (Some("off"), _) => MetricsMode::Off,
                (Some(other), _) => return Err(ConfigError::Metrics(other.to_owned())),
            },
            function: set("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| DEVSERVER_FUNCTION.to_owned()),
            interval: match runtime {
                Runtime::Devserver => Some(DEVSERVER_INTERVAL),
                Runtime::Lambda => None,
            },
        };
        let connector = ConnectorConfig::from_lookup_secret_later(&var)?;
        // The password as the connector read it (`MICROSOFT_APP_PASSWORD`, empty when unset).
        let has_password = !secrecy::ExposeSecret::expose_secret(&connector.app_password).is_empty();
        let app_secret_arn = match (connector.is_anonymous(), has_password, set(SECRET_ARN_VAR)) {
            // Anonymous mode sends no token, so it needs no secret (and `AuthMode` keeps it to loopback).
            (true, _, _) => None,
            (false, true, Some(_)) => return Err(ConfigError::AppSecretTwice),
            (false, false, None) => return Err(ConfigError::MissingAppSecret),
            (false, true, None) => None,
            (false, false, Some(arn)) => Some(arn),
        };
        Ok(Self {
            auth: AuthConfig::from_lookup(&var)?,
            connector,
            state,
            welcome_roster,
            bot_name: set("BOT_NAME").unwrap_or_else(|| "Teams Bot".to_owned()),
            bind_addr,
            app_secret_arn,
            admin_token: match runtime {
                Runtime::Devserver => set("BOT_ADMIN_TOKEN").map(secrecy::SecretString::from),
                Runtime::Lambda => None,
            },
            metrics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn devserver_defaults_to_the_embedded_store_on_loopback() {
        let config = Config::from_lookup(Runtime::Devserver, lookup(&[])).unwrap();
        assert_eq!(config.state, StateChoice::Embedded { path: None });
        assert_eq!(config.bind_addr, Some("127.0.0.1:3978".parse().unwrap()));
        assert!(!config.welcome_roster);
    }

    #[test]
    fn lambda_defaults_to_dynamodb_and_needs_a_table() {
        assert!(matches!(
            Config::from_lookup(Runtime::Lambda, lookup(&[])),
            Err(ConfigError::TableName)
        ));
        let config = Config::from_lookup(Runtime::Lambda, lookup(&[("TABLE_NAME", "t")])).unwrap();
        assert_eq!(config.state, StateChoice::DynamoDb { table: "t".into() });
        assert_eq!(config.bind_addr, None);
    }

    #[test]
    fn the_client_secret_comes_from_the_environment_or_secrets_manager() {
        let app = [
            ("MICROSOFT_APP_ID", "app"),
            ("MICROSOFT_APP_TENANT_ID", "t1"),
            ("TABLE_NAME", "t"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let pairs: Vec<(&str, &str)> = app.iter().chain(extra).copied().collect();
            Config::from_lookup(Runtime::Lambda, lookup(&pairs))
        };
        // As infra/template.yaml deploys the functions: only the ARN.
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bot-AbCdEf";
        let config = with(&[(SECRET_ARN_VAR, arn)]).unwrap();
        assert_eq!(config.app_secret_arn.as_deref(), Some(arn));
        let config = with(&[("MICROSOFT_APP_PASSWORD", "pw")]).unwrap();
        assert_eq!(config.app_secret_arn, None);
        assert!(config.connector.token_settings().unwrap().is_some());
        assert!(matches!(with(&[]), Err(ConfigError::MissingAppSecret)));
        assert!(matches!(
            with(&[("MICROSOFT_APP_PASSWORD", "pw"), (SECRET_ARN_VAR, arn)]),
            Err(ConfigError::AppSecretTwice)
        ));
        // Anonymous mode needs no secret; an ARN there is not read.
        let config = Config::from_lookup(Runtime::Devserver, lookup(&[(SECRET_ARN_VAR, arn)])).unwrap();
        assert_eq!(config.app_secret_arn, None);
    }

    #[test]
    fn the_admin_token_is_the_devservers_and_never_shown() {
        let config = Config::from_lookup(Runtime::Devserver, lookup(&[("BOT_ADMIN_TOKEN", "s3cret-admin")])).unwrap();
        let token = config.admin_token.as_ref().unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(token), "s3cret-admin");
        assert!(!format!("{config:?}").contains("s3cret-admin"));
        let lambda = Config::from_lookup(
            Runtime::Lambda,
            lookup(&[("BOT_ADMIN_TOKEN", "s3cret-admin"), ("TABLE_NAME", "t")]),
        )
        .unwrap();
        assert!(lambda.admin_token.is_none());
    }

    #[test]
    fn metrics_are_emf_lines_in_lambda_and_off_locally_unless_asked() {
        let lambda = Config::from_lookup(
            Runtime::Lambda,
            lookup(&[("TABLE_NAME", "t"), ("AWS_LAMBDA_FUNCTION_NAME", "bot-Messages-1")]),
        )
        .unwrap();
        assert_eq!(lambda.metrics.mode, MetricsMode::Emf);
        assert_eq!(lambda.metrics.function, "bot-Messages-1");
        assert_eq!(lambda.metrics.interval, None, "per invocation");
        let local = Config::from_lookup(Runtime::Devserver, lookup(&[])).unwrap();
        assert_eq!(local.metrics.mode, MetricsMode::Off);
        assert_eq!(local.metrics.function, "devserver");
        let asked = Config::from_lookup(Runtime::Devserver, lookup(&[("BOT_METRICS", "emf")])).unwrap();
        assert_eq!(asked.metrics.mode, MetricsMode::Emf);
        assert_eq!(asked.metrics.interval, Some(DEVSERVER_INTERVAL));
        assert!(matches!(
            Config::from_lookup(Runtime::Devserver, lookup(&[("BOT_METRICS", "statsd")])),
            Err(ConfigError::Metrics(_))
        ));
    }

    #[test]
    fn malformed_values_are_errors() {
        assert!(Config::from_lookup(Runtime::Devserver, lookup(&[("STATE_STORE", "redis")])).is_err());
        assert!(Config::from_lookup(Runtime::Devserver, lookup(&[("WELCOME_ROSTER", "yes")])).is_err());
        assert!(Config::from_lookup(Runtime::Devserver, lookup(&[("BIND_ADDR", "nowhere")])).is_err());
    }
}

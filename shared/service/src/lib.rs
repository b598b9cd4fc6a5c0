//! Edge glue shared by the Lambdas and the devserver: the typed [`Config`], the [`App`] with its ports, the
//! messaging webhook ([`webhook::handle`]) and the executor of the bot's decisions.

pub mod app;
pub mod config;
pub mod executor;
pub mod telemetry;
pub mod webhook;

pub use app::{App, Inbound, StartupError};
pub use config::{Config, ConfigError, Runtime, StateChoice};
pub use webhook::{WebhookResponse, handle};
pub mod background;
pub mod proactive;
pub mod stream;
pub mod welcome;

//! Outbound: the Bot Connector REST client ([`HttpConnector`], behind the [`Connector`] port), its OAuth token
//! provider, the serviceUrl allowlist, retries and pacing; plus an in-memory [`RecordingConnector`] for tests.

pub mod allowlist;
pub mod batch;
pub mod client;
pub mod config;
pub mod error;
pub mod files;
pub mod meetings;
pub mod memory;
pub mod port;
pub mod ratelimit;
pub mod retry;
pub mod token;

pub use allowlist::{RefusedUrl, ServiceUrlAllowlist, TEAMS_HOSTS};
pub use batch::{BatchEndpoint, batch_unsupported, is_batch_unsupported};
pub use client::{CallObserver, HttpConnector};
pub use config::{AppType, ConfigError, ConnectorConfig};
pub use error::ConnectorError;
pub use files::{FileError, FileSource};
pub use meetings::meetings_unsupported;
pub use memory::{ConnectorCall, RecordingConnector};
pub use port::Connector;
pub use ratelimit::{InProcessRateLimiter, PaceClass, PaceKey, RateLimiter, SharedPace, Unlimited};
pub use retry::RetryPolicy;
pub use token::{ClientSecretSource, SECRET_REREAD_INTERVAL, TokenError, TokenProvider, TokenSettings};

//! Helpers for the end-to-end tests in `tests/`: which real local services are present ([`env`]), `cargo lambda
//! watch` as a child process that is always stopped ([`emulator`]), the devserver as a child process
//! ([`devserver`]), fresh DynamoDB tables and raw reads ([`dynamo`]), the client secret in Secrets Manager as
//! deployed ([`secrets`]), emulated stream shards ([`streams`]), process trees from `/proc` ([`procs`]), and inbound
//! Teams activities built from golden fixtures ([`activity`]).

pub mod activity;
pub mod devserver;
pub mod dynamo;
pub mod emulator;
pub mod env;
pub mod procs;
pub mod secrets;
pub mod streams;

/// Why a helper failed.
#[derive(Debug, thiserror::Error)]
pub enum E2eError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("environment value for {0} cannot be written to an env file (newline, `#`, quote or outer spaces)")]
    EnvValue(String),
    #[error("`cargo lambda watch` exited early ({status}); log tail:\n{log}")]
    WatchExited { status: String, log: String },
    #[error("the function's process exited while `cargo lambda watch` started it; log tail:\n{log}")]
    FunctionExited { log: String },
    #[error("`cargo lambda watch` was not ready after {secs} s; log tail:\n{log}")]
    WatchNotReady { secs: u64, log: String },
    #[error("the devserver did not answer /healthz in time; its log:\n{log}")]
    DevserverNotReady { log: String },
    #[error("signing a Bot Framework token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("DynamoDB: {0}")]
    Dynamo(String),
    #[error("Secrets Manager: {0}")]
    Secrets(String),
    #[error("state store: {0}")]
    Store(#[from] store::StoreError),
    #[error("fixture {name}: {source}")]
    Fixture {
        name: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl E2eError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

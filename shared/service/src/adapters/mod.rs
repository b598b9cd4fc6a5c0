//! Adapters the runtime adds to the shared crates' ports: tenant pacing through the state table, the client
//! secret from Secrets Manager, the conversations this process recently recorded.

pub mod known;
pub mod pacing;
pub(crate) mod secrets;

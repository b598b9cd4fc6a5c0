//! Adapters the runtime adds to the shared crates' ports: tenant pacing through the state table, the client
//! secret from Secrets Manager.

pub mod pacing;
pub(crate) mod secrets;

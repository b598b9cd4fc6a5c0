//! Adapters the runtime adds to the shared crates' ports: tenant pacing through the state table, the client
//! secret from Secrets Manager, the state table's DynamoDB stream (the devserver on DynamoDB), the conversations
//! this process recently recorded.

#[cfg(feature = "local")]
pub mod dynamo_stream;
pub mod failed_records;
pub mod known;
pub mod pacing;
pub(crate) mod secrets;

//! How work arrives: the messaging webhook (HTTP, from the `messages` Lambda or the devserver) and the Lambda
//! events of the `welcome` and `proactive` functions (stream batches, the schedule, notify invokes).

pub mod stream;
pub mod webhook;

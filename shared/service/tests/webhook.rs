#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The webhook's hostile suite (`hostile/suite.rs`) with the reference bot behind it.

fn bot() -> std::sync::Arc<dyn service::api::Bot> {
    std::sync::Arc::new(reference_bot::ReferenceBot)
}

/// What the bot answers to `hello`.
const HELLO_REPLY: &str = "You sent hello which was 5 characters";

#[path = "hostile/suite.rs"]
mod suite;

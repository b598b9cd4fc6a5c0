#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The webhook's hostile suite (`hostile/suite.rs`) with the minimal example bot behind it: every check holds for a
//! user's bot as for the reference bot.

fn bot() -> std::sync::Arc<dyn service::api::Bot> {
    std::sync::Arc::new(minimal_bot::Minimal)
}

/// What the bot answers to `hello`.
const HELLO_REPLY: &str = "Hello from minimal: hello";

#[path = "hostile/suite.rs"]
mod suite;

//! The minimal bot's `messages` Lambda.
#[tokio::main]
async fn main() -> Result<(), teams_bot::Error> {
    teams_bot::lambda::messages(minimal_bot::Minimal).await
}

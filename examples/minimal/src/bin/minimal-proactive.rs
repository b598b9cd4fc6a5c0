//! The minimal bot's `proactive` Lambda.
#[tokio::main]
async fn main() -> Result<(), teams_bot::Error> {
    teams_bot::lambda::proactive(minimal_bot::Minimal).await
}

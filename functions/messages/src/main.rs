//! The messaging webhook Lambda (API Gateway HTTP API or function URL), running the reference bot.

#[tokio::main]
async fn main() -> Result<(), teams_bot::Error> {
    teams_bot::lambda::messages(reference_bot::ReferenceBot).await
}

//! The welcome Lambda (DynamoDB stream of install and first-contact claims), running the reference bot.

#[tokio::main]
async fn main() -> Result<(), teams_bot::Error> {
    teams_bot::lambda::welcome(reference_bot::ReferenceBot).await
}

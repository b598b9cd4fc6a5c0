//! The minimal bot's `welcome` Lambda.
#[tokio::main]
async fn main() -> Result<(), teams_bot::Error> {
    teams_bot::lambda::welcome(minimal_bot::Minimal).await
}

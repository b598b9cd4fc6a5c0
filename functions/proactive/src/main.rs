//! The proactive Lambda (the schedule, outbox stream items, direct notify invokes), running the reference bot.

#[tokio::main]
async fn main() -> Result<(), teams_bot::Error> {
    teams_bot::lambda::proactive(reference_bot::ReferenceBot).await
}

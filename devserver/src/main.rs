//! The whole reference bot on one machine: `cargo run --release --bin devserver`. See README.md.

#[tokio::main]
async fn main() -> Result<(), teams_bot::Error> {
    teams_bot::devserver::serve(reference_bot::ReferenceBot).await
}

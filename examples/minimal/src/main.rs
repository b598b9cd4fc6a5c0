//! `cargo run --release --bin minimal-bot`: the minimal bot as a local devserver.
#[tokio::main]
async fn main() -> Result<(), teams_bot::Error> {
    teams_bot::devserver::serve(minimal_bot::Minimal).await
}

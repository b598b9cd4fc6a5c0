//! The whole bot on one machine. See README.md.

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use std::net::SocketAddr;

const MAX_BODY: usize = 256 * 1024;

async fn messages(body: Bytes) -> (StatusCode, String) {
    if body.len() > MAX_BODY {
        return (StatusCode::PAYLOAD_TOO_LARGE, "body over 256 KiB".to_owned());
    }
    match models::Activity::from_slice(&body) {
        Ok(activity) => {
            tracing::info!(
                kind = activity.type_name(),
                text = activity.text().unwrap_or(""),
                "activity received"
            );
            (StatusCode::OK, String::new())
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("not an activity: {e}")),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let addr: SocketAddr = std::env::var("BIND_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3978".into())
        .parse()?;
    let app_id = std::env::var("MICROSOFT_APP_ID").unwrap_or_default();
    if app_id.is_empty() && !addr.ip().is_loopback() {
        anyhow::bail!(
            "MICROSOFT_APP_ID is empty (anonymous mode), which is only allowed on a loopback BIND_ADDR, not {addr}"
        );
    }
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/messages", post(messages))
        .layer(DefaultBodyLimit::max(MAX_BODY + 1));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "devserver listening");
    axum::serve(listener, app).await?;
    Ok(())
}

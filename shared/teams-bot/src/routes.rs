//! HTTP routes: the messaging endpoint and health (any client), notify and tick (loopback clients only).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use service::App;
use service::webhook::MAX_BODY_BYTES;
use std::net::SocketAddr;

/// The devserver's routes over `app`.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/messages", post(messages))
        .route("/api/notify", post(notify))
        .route("/api/tick", post(tick))
        // One byte over the limit reaches the handler, which answers 413 with a reason.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES + 1))
        .with_state(app)
}

async fn messages(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let (status, content_type, body) = service::handle(&app, authorization, &body).await.into_parts();
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn is_loopback(peer: SocketAddr) -> bool {
    peer.ip().to_canonical().is_loopback()
}

fn not_loopback() -> Response {
    (StatusCode::FORBIDDEN, "only loopback clients may call this").into_response()
}

async fn notify(State(app): State<App>, ConnectInfo(peer): ConnectInfo<SocketAddr>, body: Bytes) -> Response {
    if !is_loopback(peer) {
        return not_loopback();
    }
    let (status, value) = service::proactive::notify_json(&app, &body).await;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(value)).into_response()
}

async fn tick(State(app): State<App>, ConnectInfo(peer): ConnectInfo<SocketAddr>) -> Response {
    if !is_loopback(peer) {
        return not_loopback();
    }
    let report = service::proactive::tick(&app).await;
    (StatusCode::OK, axum::Json(report)).into_response()
}

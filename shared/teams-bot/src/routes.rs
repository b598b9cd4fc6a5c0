//! HTTP routes: the messaging endpoint and health (any client), and the local admin routes `/api/notify` and
//! `/api/tick`, which act as the bot without a Bot Framework token and so are guarded (docs/contract.md "Local
//! admin routes"): a loopback client, no browser or proxy in between, and the admin bearer token.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secrecy::{ExposeSecret, SecretString};
use service::App;
use service::webhook::MAX_BODY_BYTES;
use std::net::SocketAddr;
use std::sync::Arc;

/// What the routes share: the bot and the admin routes' token.
#[derive(Clone)]
pub(crate) struct Routes {
    pub app: App,
    pub admin_token: Arc<SecretString>,
}

/// The devserver's routes.
pub(crate) fn router(routes: Routes) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/messages", post(messages))
        .route("/api/notify", post(notify))
        .route("/api/tick", post(tick))
        // One byte over the limit reaches the handler, which answers 413 with a reason.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES + 1))
        .with_state(routes)
}

async fn messages(State(routes): State<Routes>, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let (status, content_type, body) = service::handle(&routes.app, authorization, &body).await.into_parts();
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn notify(
    State(routes): State<Routes>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = admin_guard(&routes, peer, &headers, Body::Json) {
        return refused.into_response();
    }
    let (status, value) = service::proactive::notify_json(&routes.app, &body).await;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(value)).into_response()
}

async fn tick(
    State(routes): State<Routes>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = admin_guard(&routes, peer, &headers, Body::Any) {
        return refused.into_response();
    }
    let report = service::proactive::tick(&routes.app).await;
    (StatusCode::OK, axum::Json(report)).into_response()
}

/// What an admin route's body must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    /// `Content-Type: application/json` (a browser cannot send it cross-site without a preflight).
    Json,
    /// Anything (the route reads no body).
    Any,
}

/// The admin routes' rules, in order: a loopback client (403); nothing a browser or a proxy adds — `Origin`,
/// `Sec-Fetch-Site: cross-site|same-site`, a `Host` other than a loopback name, forwarding headers (403, even with
/// the right token: a cross-site page, a DNS-rebinding page and a dev tunnel all reach a loopback server); a JSON
/// body where one is read (403); then the bearer token (401).
fn admin_guard(
    routes: &Routes,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<(), (StatusCode, &'static str)> {
    let forbidden = |reason: &'static str| {
        tracing::warn!(%peer, reason, "admin route refused");
        Err((StatusCode::FORBIDDEN, reason))
    };
    if !peer.ip().to_canonical().is_loopback() {
        return forbidden("only loopback clients may call this");
    }
    if headers.contains_key(header::ORIGIN) {
        return forbidden("requests from a web page (Origin) are refused");
    }
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if fetch_site.is_some_and(|s| s.eq_ignore_ascii_case("cross-site") || s.eq_ignore_ascii_case("same-site")) {
        return forbidden("requests from another site (Sec-Fetch-Site) are refused");
    }
    if !headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_loopback_host)
    {
        return forbidden("Host must be localhost, 127.0.0.1 or [::1]");
    }
    if ["forwarded", "x-forwarded-for", "x-forwarded-host"]
        .iter()
        .any(|h| headers.contains_key(*h))
    {
        return forbidden("forwarded requests (a proxy or tunnel) are refused");
    }
    if body == Body::Json && !is_json(headers) {
        return forbidden("Content-Type must be application/json");
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if same_token(token, routes.admin_token.expose_secret()) => Ok(()),
        Some(_) | None => {
            tracing::warn!(%peer, "admin route refused: missing or wrong admin token");
            Err((
                StatusCode::UNAUTHORIZED,
                "missing or wrong admin token (Authorization: Bearer <BOT_ADMIN_TOKEN or the admin-token file>)",
            ))
        }
    }
}

/// `localhost`, `127.0.0.1` or `[::1]`, with any port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map(|(addr, _)| addr),
        None => Some(host.rsplit_once(':').map_or(host, |(name, _)| name)),
    };
    name.is_some_and(|n| n.eq_ignore_ascii_case("localhost") || n == "127.0.0.1" || n == "::1")
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// Compares in time independent of where the tokens differ.
fn same_token(presented: &str, expected: &str) -> bool {
    let (a, b) = (presented.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_with_any_port_and_nothing_else() {
        for host in [
            "localhost",
            "localhost:3978",
            "LOCALHOST:1",
            "127.0.0.1",
            "127.0.0.1:3978",
            "[::1]",
            "[::1]:3978",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "example.com",
            "127.0.0.1.nip.io:3978",
            "localhost.evil.com",
            "[::2]:1",
            "10.0.0.1:3978",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abd", "abc"));
        assert!(!same_token("ab", "abc"));
        assert!(!same_token("", "abc"));
    }
}

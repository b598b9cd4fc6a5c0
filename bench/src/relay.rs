//! A Lambda Runtime API relay: the function under test talks to it (`AWS_LAMBDA_RUNTIME_API`), it forwards every
//! request to the emulator unchanged and notes two things Lambda itself reports:
//! - the **init duration**: the function process's spawn to its first `GET .../runtime/invocation/next` (Lambda's
//!   `Init Duration`: everything the function does before it asks for work — configuration, the AWS SDK's set-up,
//!   the signing-key prefetch);
//! - each invoke's **duration** (what Lambda bills): the event handed over (the `next` answer) to the function's
//!   `.../invocation/<id>/response` (or `/error`) arriving.
//!
//! It serves on its own one-thread runtime (thread name `rt-relay`), so its CPU is read apart from the rest.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// What the relay saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// When the function first asked for an invoke.
    pub first_next: Option<Instant>,
    /// Invokes handed over and not answered yet: request id -> when.
    pending: HashMap<String, Instant>,
    /// Answered invokes: (when the answer arrived, duration).
    pub durations: Vec<(Instant, Duration)>,
}

/// A running relay (stopped when its runtime is dropped).
#[derive(Clone, Debug)]
pub struct Relay {
    /// `http://127.0.0.1:<port>/.rt`: the value for `AWS_LAMBDA_RUNTIME_API` (cargo-lambda's emulator serves the
    /// bare runtime API under `/.rt`).
    pub runtime_api: String,
    seen: Arc<Mutex<Seen>>,
}

#[derive(Clone)]
struct Shared {
    upstream: String,
    client: reqwest::Client,
    seen: Arc<Mutex<Seen>>,
}

impl Relay {
    /// Starts a relay to the emulator at `emulator` (`127.0.0.1:<port>`) on `runtime`.
    ///
    /// # Errors
    /// When the listener cannot be bound or the client cannot be built.
    pub fn start(runtime: &tokio::runtime::Runtime, emulator: SocketAddr) -> anyhow::Result<Self> {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = Shared {
            upstream: format!("http://{emulator}"),
            // No timeout: `next` is a long poll that waits for the next invoke.
            client: reqwest::Client::builder().tcp_nodelay(true).build()?,
            seen: seen.clone(),
        };
        let listener = runtime.block_on(tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)))?;
        let addr = listener.local_addr()?;
        let app = Router::new().fallback(forward).with_state(shared);
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            runtime_api: format!("http://{addr}/.rt"),
            seen,
        })
    }

    /// When the function first asked for work.
    #[must_use]
    pub fn first_next(&self) -> Option<Instant> {
        self.lock().first_next
    }

    /// Durations of the invokes answered between `from` and `to`.
    #[must_use]
    pub fn durations_between(&self, from: Instant, to: Instant) -> Vec<Duration> {
        self.lock()
            .durations
            .iter()
            .filter(|(at, _)| *at >= from && *at <= to)
            .map(|(_, d)| *d)
            .collect()
    }

    /// The first invoke's duration.
    #[must_use]
    pub fn first_duration(&self) -> Option<Duration> {
        self.lock().durations.first().map(|(_, d)| *d)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Headers that describe one connection, not the message: never forwarded.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
];

/// `.../runtime/invocation/<id>/response` or `/error` -> the id.
fn answered_id(path: &str) -> Option<&str> {
    let rest = path.split("/runtime/invocation/").nth(1)?;
    let (id, tail) = rest.split_once('/')?;
    (tail == "response" || tail == "error").then_some(id)
}

async fn forward(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let path = uri.path().to_owned();
    let is_next = method == Method::GET && path.ends_with("/runtime/invocation/next");
    let now = Instant::now();
    {
        let mut seen = shared.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if is_next && seen.first_next.is_none() {
            seen.first_next = Some(now);
        }
        if method == Method::POST
            && let Some(id) = answered_id(&path)
            && let Some(start) = seen.pending.remove(id)
        {
            seen.durations.push((now, now.duration_since(start)));
        }
    }
    let url = format!(
        "{}{}",
        shared.upstream,
        uri.path_and_query().map_or(path.as_str(), |p| p.as_str())
    );
    let mut request = shared.client.request(method, url).body(body);
    for (name, value) in &headers {
        if !HOP_BY_HOP.contains(&name.as_str()) && name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(e) => {
            return Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Body::from(format!("relay: {e}")))
                .unwrap_or_default();
        }
    };
    let status = answer.status();
    let answer_headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    if is_next
        && status.is_success()
        && let Some(id) = answer_headers
            .get("lambda-runtime-aws-request-id")
            .and_then(|v| v.to_str().ok())
    {
        let mut seen = shared.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.pending.insert(id.to_owned(), Instant::now());
    }
    let mut response = Response::builder().status(status);
    for (name, value) in &answer_headers {
        if !HOP_BY_HOP.contains(&name.as_str()) && name != "content-length" {
            response = response.header(name, value);
        }
    }
    response.body(Body::from(bytes)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_answered_invoke() {
        assert_eq!(
            answered_id("/.rt/2018-06-01/runtime/invocation/abc-1/response"),
            Some("abc-1")
        );
        assert_eq!(
            answered_id("/.rt/2018-06-01/runtime/invocation/abc-1/error"),
            Some("abc-1")
        );
        assert_eq!(answered_id("/.rt/2018-06-01/runtime/invocation/next"), None);
        assert_eq!(answered_id("/.rt/2018-06-01/runtime/init/error"), None);
    }
}

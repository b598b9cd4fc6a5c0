//! Files, as Teams and OneDrive/SharePoint serve them to a bot:
//!
//! - pre-authenticated download URLs (a `file.download.info`'s `downloadUrl`): `GET /files/download/{key}`, no
//!   token needed; `GET /files/redirect/{key}` answers 302 to it;
//! - Connector attachment views (an inline picture's `contentUrl`): `GET {service path}v3/attachments/{id}/views/
//!   {view}`, 401 without a bot token the fake Teams issued (once [`FakeFiles::link`]ed to it);
//! - OneDrive upload sessions (a file consent's `uploadUrl`): `PUT /files/upload/{session}`, which requires
//!   `Content-Range: bytes 0-(n-1)/n` matching the body and refuses an `Authorization` header (OneDrive's upload
//!   URLs are pre-authenticated and reject one), answering 201 with the created item.
//!
//! Every request is recorded with its `Authorization` header, so a test can assert where a token went.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use fake_teams::{FakeTeams, files::FakeFiles};
//! let files = FakeFiles::new();
//! files.put_download("report", b"hello".to_vec());
//! let fake = FakeTeams::builder().with_router(files.router()).start().await?;
//! files.link(&fake);
//! let url = format!("{}/files/download/report", fake.base_url());
//! # let _ = url; Ok(()) }
//! ```

use crate::{FakeTeams, lock};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// One request the file endpoints received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRequest {
    pub method: String,
    pub path: String,
    /// The `Authorization` header as sent, if any.
    pub authorization: Option<String>,
    /// The `Content-Range` header, if any.
    pub content_range: Option<String>,
    /// The body's length.
    pub body_len: usize,
    /// What the fake answered.
    pub status: u16,
}

/// A file PUT to an upload session and accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    pub session: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Default)]
struct Files {
    downloads: HashMap<String, Vec<u8>>,
    attachments: HashMap<String, Vec<u8>>,
    requests: Vec<FileRequest>,
    uploads: Vec<Upload>,
    teams: Option<Arc<Mutex<crate::state::State>>>,
}

/// The file endpoints (cheap to clone: clones share the files and the record).
#[derive(Clone, Debug, Default)]
pub struct FakeFiles {
    shared: Arc<Mutex<Files>>,
}

type Shared = Arc<Mutex<Files>>;

fn files(shared: &Mutex<Files>) -> MutexGuard<'_, Files> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeFiles {
    /// No files yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The routes, to merge into a [`FakeTeams`] ([`crate::FakeTeamsBuilder::with_router`]) or serve alone.
    pub fn router(&self) -> Router {
        let attachments = format!("{}v3/attachments/{{id}}/views/{{view}}", crate::SERVICE_PATH);
        Router::new()
            .route("/files/download/{key}", get(download))
            .route("/files/redirect/{key}", get(redirect))
            .route("/files/upload/{session}", put(upload))
            .route(&attachments, get(attachment))
            .with_state(self.shared.clone())
    }

    /// Checks Connector attachment tokens against `fake`'s issued tokens (until linked, any bearer token passes).
    pub fn link(&self, fake: &FakeTeams) {
        files(&self.shared).teams = Some(fake.shared.clone());
    }

    /// Serves the routes alone on another loopback port (a host other than the fake Teams'); answers its
    /// address. Stops when the runtime does.
    ///
    /// # Errors
    /// When the listener cannot be bound.
    pub async fn start_alone(&self) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let router = self.router();
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::warn!(%error, "fake files stopped");
            }
        });
        Ok(addr)
    }

    /// Serves `bytes` at `/files/download/{key}` (and `/files/redirect/{key}`).
    pub fn put_download(&self, key: &str, bytes: Vec<u8>) {
        files(&self.shared).downloads.insert(key.to_owned(), bytes);
    }

    /// Serves `bytes` as the Connector attachment `id` (any view).
    pub fn put_attachment(&self, id: &str, bytes: Vec<u8>) {
        files(&self.shared).attachments.insert(id.to_owned(), bytes);
    }

    /// Every request so far, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<FileRequest> {
        files(&self.shared).requests.clone()
    }

    /// Every accepted upload so far, in order.
    #[must_use]
    pub fn uploads(&self) -> Vec<Upload> {
        files(&self.shared).uploads.clone()
    }
}

fn record(shared: &Shared, method: Method, path: String, headers: &HeaderMap, body_len: usize, status: StatusCode) {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    files(shared).requests.push(FileRequest {
        method: method.to_string(),
        path,
        authorization: text(header::AUTHORIZATION),
        content_range: text(header::CONTENT_RANGE),
        body_len,
        status: status.as_u16(),
    });
}

fn bytes_answer(bytes: Vec<u8>, content_type: &'static str) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], bytes).into_response()
}

async fn download(AxState(shared): AxState<Shared>, Path(key): Path<String>, headers: HeaderMap) -> Response {
    let found = files(&shared).downloads.get(&key).cloned();
    let status = if found.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    record(
        &shared,
        Method::GET,
        format!("/files/download/{key}"),
        &headers,
        0,
        status,
    );
    match found {
        Some(bytes) => bytes_answer(bytes, "application/octet-stream"),
        None => status.into_response(),
    }
}

async fn redirect(AxState(shared): AxState<Shared>, Path(key): Path<String>, headers: HeaderMap) -> Response {
    record(
        &shared,
        Method::GET,
        format!("/files/redirect/{key}"),
        &headers,
        0,
        StatusCode::FOUND,
    );
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("/files/download/{key}"))],
    )
        .into_response()
}

async fn attachment(
    AxState(shared): AxState<Shared>,
    Path((id, view)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let path = format!("{}v3/attachments/{id}/views/{view}", crate::SERVICE_PATH);
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let (authorized, found) = {
        let f = files(&shared);
        let authorized = match (&f.teams, authorization) {
            (_, None) => false,
            (Some(teams), Some(auth)) => lock(teams).token_valid(Some(auth)),
            (None, Some(auth)) => auth.starts_with("Bearer "),
        };
        (authorized, f.attachments.get(&id).cloned())
    };
    let status = match (&found, authorized) {
        (_, false) => StatusCode::UNAUTHORIZED,
        (None, true) => StatusCode::NOT_FOUND,
        (Some(_), true) => StatusCode::OK,
    };
    record(&shared, Method::GET, path, &headers, 0, status);
    match found {
        Some(bytes) if authorized => bytes_answer(bytes, "image/png"),
        _ if !authorized => (
            status,
            axum::Json(json!({"message": "Authorization has been denied for this request."})),
        )
            .into_response(),
        _ => status.into_response(),
    }
}

async fn upload(
    AxState(shared): AxState<Shared>,
    Path(session): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let range = headers.get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok());
    let n = body.len();
    let expected = format!("bytes 0-{}/{n}", n.saturating_sub(1));
    let status = if headers.contains_key(header::AUTHORIZATION) {
        StatusCode::UNAUTHORIZED
    } else if n == 0 || range != Some(expected.as_str()) {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::CREATED
    };
    record(
        &shared,
        Method::PUT,
        format!("/files/upload/{session}"),
        &headers,
        n,
        status,
    );
    if status != StatusCode::CREATED {
        let message = match status {
            StatusCode::UNAUTHORIZED => "An Authorization header is not accepted on an upload URL.",
            _ => "Content-Range must be bytes 0-(n-1)/n for the whole body.",
        };
        return (
            status,
            axum::Json(json!({"error": {"code": "invalidRequest", "message": message}})),
        )
            .into_response();
    }
    files(&shared).uploads.push(Upload {
        session: session.clone(),
        bytes: body.to_vec(),
    });
    (StatusCode::CREATED, axum::Json(json!({"id": session, "size": n}))).into_response()
}

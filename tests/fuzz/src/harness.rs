//! The webhook as `shared/service/tests/hostile/suite.rs` builds it: the reference bot, the recording Connector,
//! the memory store, the default serviceUrl allowlist; anonymous, or verified by a real [`auth::Authenticator`]
//! whose keys come over HTTP from [`OpenIdServer`]. Driven only through [`service::handle`].

use crate::words::{APP_ID, SERVICE_URL};
use auth::{AuthConfig, Authenticator};
use connector::{RecordingConnector, ServiceUrlAllowlist};
use fake_teams::openid::{BotClaims, OpenIdServer};
use service::api::BotIdentity;
use service::{App, Inbound};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use store::MemoryStore;

/// The statuses the webhook may answer.
pub const STATUSES: &[u16] = &[200, 400, 401, 403, 413, 503];

/// One webhook answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Whether the Connector recorded any call while answering.
    pub connector_called: bool,
}

impl Answer {
    /// The body, lossily as text.
    #[must_use]
    pub fn reason(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// What every answer must satisfy: a known status; a 4xx says why and sent nothing.
    ///
    /// # Errors
    /// What is wrong with the answer.
    pub fn check(&self) -> Result<(), String> {
        if !STATUSES.contains(&self.status) {
            return Err(format!(
                "status {} is none of {STATUSES:?} ({})",
                self.status,
                self.reason()
            ));
        }
        if (400..500).contains(&self.status) {
            if self.body.is_empty() {
                return Err(format!("a {} with an empty reason", self.status));
            }
            if self.connector_called {
                return Err(format!(
                    "a rejected request ({} {}) called the Connector",
                    self.status,
                    self.reason()
                ));
            }
        }
        Ok(())
    }
}

/// The webhook under test.
#[derive(Debug)]
pub struct Harness {
    pub app: App,
    pub connector: Arc<RecordingConnector>,
    /// The fake OpenID server (verified mode).
    pub openid: Option<OpenIdServer>,
    tokens: Mutex<HashMap<String, String>>,
}

/// A runtime for the cases: `block_on` runs each one on the test's thread (a panic comes back to the caller), and
/// one worker serves the fake OpenID server.
///
/// # Panics
/// When the runtime cannot be built.
#[must_use]
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
}

impl Harness {
    fn with(inbound: Inbound, openid: Option<OpenIdServer>, welcome_roster: bool) -> Self {
        let connector = Arc::new(RecordingConnector::new());
        let app = App {
            identity: BotIdentity::from_app_id(APP_ID, "Echo Bot"),
            bot: Arc::new(reference_bot::ReferenceBot),
            connector: connector.clone(),
            store: Arc::new(MemoryStore::new()),
            service_urls: ServiceUrlAllowlist::default(),
            inbound,
            welcome_roster,
            known: std::sync::Arc::default(),
        };
        Self {
            app,
            connector,
            openid,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// No token is checked (local development). Also welcomes each team member 1:1 (`welcome_roster`).
    #[must_use]
    pub fn anonymous() -> Self {
        Self::with(Inbound::Anonymous, None, true)
    }

    /// Every request needs a token the fake OpenID server signed. Must run inside a runtime.
    ///
    /// # Panics
    /// When the fake server cannot listen or the authenticator cannot be built.
    pub async fn verified() -> Self {
        let openid = OpenIdServer::new();
        let addr = openid
            .serve()
            .await
            .unwrap_or_else(|e| panic!("fake OpenID server: {e}"));
        let mut config = AuthConfig::new(APP_ID);
        config.openid_metadata_url =
            url::Url::parse(&OpenIdServer::metadata_url(addr)).unwrap_or_else(|e| panic!("metadata url: {e}"));
        let authenticator = Authenticator::new(&config).unwrap_or_else(|e| panic!("authenticator: {e}"));
        Self::with(Inbound::Verified(Arc::new(authenticator)), Some(openid), false)
    }

    /// A valid `Bearer` header for an activity from `service_url` (cached per serviceUrl).
    ///
    /// # Panics
    /// In anonymous mode, or when signing fails.
    pub fn bearer_for(&self, service_url: &str) -> String {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if tokens.len() > 256 {
            tokens.clear();
        }
        tokens
            .entry(service_url.to_owned())
            .or_insert_with(|| {
                let openid = self.openid.as_ref().unwrap_or_else(|| panic!("no OpenID server"));
                let token = openid
                    .sign(&BotClaims::new(APP_ID, service_url).to_json())
                    .unwrap_or_else(|e| panic!("signing: {e}"));
                format!("Bearer {token}")
            })
            .clone()
    }

    /// The header a verified request for `body` carries: a token for its serviceUrl (when it has a short string
    /// one), else for the fixtures' serviceUrl.
    pub fn bearer_for_body(&self, body: &[u8]) -> String {
        let service_url = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| {
            let url = v.get("serviceUrl")?.as_str()?.to_owned();
            crate::body::drop_deep(v);
            Some(url)
        });
        match service_url {
            Some(url) if url.len() <= 2048 => self.bearer_for(&url),
            _ => self.bearer_for(SERVICE_URL),
        }
    }

    /// Posts `body` with `authorization` through [`service::handle`], and notes whether the Connector was called.
    pub async fn post(&self, authorization: Option<&str>, body: &[u8]) -> Answer {
        self.connector.clear();
        let (status, content_type, body) = service::handle(&self.app, authorization, body).await.into_parts();
        let connector_called = !self.connector.calls().is_empty();
        self.connector.clear();
        Answer {
            status,
            content_type,
            body,
            connector_called,
        }
    }
}

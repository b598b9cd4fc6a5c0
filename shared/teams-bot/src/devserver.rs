//! The whole bot in one local process: the messaging endpoint, the welcome and outbox work fed by the store's
//! changes (the embedded store's events, or the DynamoDB table's stream), and the local admin routes
//! (`/api/notify`, `/api/tick`), on the embedded store (default) or DynamoDB.
//!
//! ```no_run
//! # struct MyBot;
//! # impl teams_bot::Bot for MyBot {}
//! #[tokio::main]
//! async fn main() -> Result<(), teams_bot::Error> {
//!     teams_bot::devserver::serve(MyBot).await
//! }
//! ```

use crate::{Bot, Error};
use secrecy::{ExposeSecret, SecretString};
use service::{App, StateChoice};
pub use service::{Config, Runtime};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[path = "routes.rs"]
mod routes;

/// The name of the admin token's file, beside the embedded store's file (`STATE_PATH`'s folder).
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// Serves `bot` on `BIND_ADDR` (default `127.0.0.1:3978`) until Ctrl-C, configured from the environment
/// (README "Configuration").
///
/// # Errors
/// A start that fails (configuration, store, key source, the address in use), or the server's failure.
pub async fn serve(bot: impl Bot) -> Result<(), Error> {
    service::telemetry::init();
    let config = Config::from_env(Runtime::Devserver).inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let server = Devserver::start(config, bot)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    server
        .run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

/// A devserver bound to its address, not yet serving: [`Devserver::start`] then [`Devserver::run_until`].
#[derive(Debug)]
pub struct Devserver {
    listener: tokio::net::TcpListener,
    app: App,
    admin_token: Arc<SecretString>,
    admin_token_file: Option<PathBuf>,
    addr: SocketAddr,
    limits: Limits,
}

/// The devserver's HTTP limits ([`Devserver::with_limits`]; [`Limits::default`] otherwise): how long a client may
/// take over each part of a request, and how many connections are served at once. A connection past a time limit
/// is closed without an answer (its request never arrived whole). HTTP/1.1 only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A connection waiting for a request (just opened, or kept alive after an answer) that receives no byte for
    /// this long is closed. Default 30 s: a slot held by a silent client is freed soon, and a client's pool reopens
    /// a connection at once when it needs one again.
    pub idle: Duration,
    /// From the first byte of a request, its head (request line and headers) must be complete within this, however
    /// steadily the bytes trickle in. Default 10 s: a head is a few hundred bytes, one packet even over a dev
    /// tunnel.
    pub header_read: Duration,
    /// From its head, a request's body must be complete within this. Default 30 s: a body is at most 256 KiB
    /// (`service::webhook::MAX_BODY_BYTES`), which even a slow link sends in seconds. The routes' own work once the
    /// request is whole is not limited here.
    pub body_read: Duration,
    /// The most connections served at once (0 counts as 1). At the limit, a new connection closes the one idle
    /// the longest (no request under way, nothing received for a second or more since it opened or was last
    /// answered); when none is, it waits, accepted but not read, until one closes or goes idle (and those after
    /// it wait in the listen queue). Default 512: far more than a local bot sees (Teams, a dev tunnel or an
    /// emulator use a few), and half the usual limit of 1,024 open files per process, so the store, the outbound
    /// connections and new clients always find a file descriptor.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30),
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(30),
            max_connections: 512,
        }
    }
}

impl Devserver {
    /// Builds `bot`'s runtime from `config`, starts the stream work (welcomes, outbox items) on the embedded
    /// store's changes or the DynamoDB table's stream (`service::background::start`), makes the
    /// admin token (`BOT_ADMIN_TOKEN`, or a random one written to [`ADMIN_TOKEN_FILE`] beside the store file,
    /// readable by its owner only) and binds `config.bind_addr` (port 0 picks a free one).
    ///
    /// # Errors
    /// The store, key source or allowlist cannot start; the token file cannot be written; the address is taken.
    pub async fn start(config: Config, bot: impl Bot) -> Result<Self, Error> {
        let addr = config
            .bind_addr
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3978)));
        let (admin_token, admin_token_file) = match &config.admin_token {
            Some(token) => (token.clone(), None),
            None => {
                let token = random_token()?;
                let file = state_folder(&config).join(ADMIN_TOKEN_FILE);
                write_private(&file, token.expose_secret())?;
                tracing::info!(path = %file.display(), "admin token for /api/notify and /api/tick written (BOT_ADMIN_TOKEN sets one instead)");
                (token, Some(file))
            }
        };
        let (app, changes) = App::build(&config, Arc::new(bot)).await?;
        app.prefetch_inbound_keys().await;
        // The stream work: the embedded store's change events (and what it committed before this start), or the
        // DynamoDB table's stream read from its trim horizon.
        service::background::start(&app, &config, changes).await;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            app,
            admin_token: Arc::new(admin_token),
            admin_token_file,
            addr,
            limits: Limits::default(),
        })
    }

    /// Serves with these limits instead of [`Limits::default`].
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The address it listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the admin token was written, when the devserver made one (no `BOT_ADMIN_TOKEN`).
    #[must_use]
    pub fn admin_token_file(&self) -> Option<&Path> {
        self.admin_token_file.as_deref()
    }

    /// The limits it serves with.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Serves until `shutdown` completes, then stops accepting, lets each connection finish the request it is on
    /// (closing idle ones at once) and returns when all are closed.
    ///
    /// # Errors
    /// None so far: a failed accept is logged and retried, a failed connection is logged and closed.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
        tracing::info!(addr = %self.addr, anonymous = matches!(self.app.inbound, service::Inbound::Anonymous), "devserver listening");
        let routes = routes::Routes {
            app: self.app,
            admin_token: self.admin_token,
        };
        http::serve(self.listener, routes::router(routes), self.limits, shutdown).await;
        Ok(())
    }
}

#[path = "http.rs"]
mod http;

/// The embedded store's folder (`STATE_PATH`'s), where the admin token's file goes; the default store's folder
/// when the devserver runs on DynamoDB.
fn state_folder(config: &Config) -> PathBuf {
    let store_file = match &config.state {
        StateChoice::Embedded { path: Some(path) } => path.clone(),
        StateChoice::Embedded { path: None } | StateChoice::DynamoDb { .. } => PathBuf::from(store::DEFAULT_STATE_PATH),
    };
    store_file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// 32 random bytes from the operating system, hex-encoded. On Unix straight from `/dev/urandom`: initialising
/// AWS-LC's generator for this one call cost the devserver's cold start about 35 ms (bench/run, 3 rounds).
fn random_token() -> Result<SecretString, Error> {
    let mut bytes = [0u8; 32];
    #[cfg(unix)]
    {
        use std::io::Read as _;
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    }
    #[cfg(not(unix))]
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| "the system random source failed")?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(SecretString::from(hex))
}

/// Writes `contents` to `path` (its folder created), readable and writable by the owner only.
fn write_private(path: &Path, contents: &str) -> Result<(), Error> {
    use std::io::Write as _;
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        options.mode(0o600);
        let mut file = options.open(path)?;
        // An existing file keeps its mode on open: set it.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(contents.as_bytes())?;
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(path)?;
        file.write_all(contents.as_bytes())?;
    }
    Ok(())
}

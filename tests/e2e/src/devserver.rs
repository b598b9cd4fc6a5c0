//! The `devserver` binary as a child process: built once per test run (as `cargo lambda watch` builds the
//! functions, [`crate::emulator::build_bin`]), started on a free loopback port with exactly the environment a test
//! gives it, ready once `/healthz` answers 200, and always killed (SIGKILL) when dropped.

use crate::{E2eError, env};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The most a devserver may take to answer `/healthz` (a bound on the poll, not a timing goal).
pub const READY_LIMIT: Duration = Duration::from_secs(60);

/// The `devserver` binary of this workspace (`cargo build -p devserver`, once per test process).
///
/// # Errors
/// [`E2eError::Io`] when the build fails.
pub fn binary() -> Result<PathBuf, E2eError> {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    if let Some(path) = BUILT.get() {
        return Ok(path.clone());
    }
    let root = env::workspace_root();
    crate::emulator::build_bin(&root, "devserver", "devserver")?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    Ok(BUILT.get_or_init(|| target.join("debug").join("devserver")).clone())
}

/// One devserver process.
#[derive(Debug)]
pub struct Devserver {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Devserver {
    /// Starts the devserver in `work` with only `vars` (plus `BIND_ADDR` on a free port), its output in
    /// `work/<log_name>`; answers once `/healthz` is 200.
    ///
    /// # Errors
    /// [`E2eError::Io`] when it cannot be built or spawned, [`E2eError::DevserverNotReady`] (with its log) when it
    /// does not answer within [`READY_LIMIT`].
    pub async fn start(vars: &[(String, String)], work: &Path, log_name: &str) -> Result<Self, E2eError> {
        let binary = binary()?;
        let addr = format!("127.0.0.1:{}", env::free_port().map_err(E2eError::io("free port"))?);
        std::fs::create_dir_all(work).map_err(E2eError::io("create the devserver's folder"))?;
        let log = work.join(log_name);
        let out = std::fs::File::create(&log).map_err(E2eError::io("create the devserver's log"))?;
        let err = out.try_clone().map_err(E2eError::io("clone the log handle"))?;
        let child = Command::new(binary)
            .env_clear()
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("BIND_ADDR", &addr)
            .current_dir(work)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(E2eError::io("spawn the devserver"))?;
        let server = Self { child, addr, log };
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| E2eError::Io {
                what: "HTTP client".into(),
                source: std::io::Error::other(e),
            })?;
        let deadline = Instant::now() + READY_LIMIT;
        loop {
            let ready = http
                .get(server.url("/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().as_u16() == 200);
            if ready {
                return Ok(server);
            }
            if Instant::now() >= deadline {
                return Err(E2eError::DevserverNotReady { log: server.log_text() });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `http://<addr><path>`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Everything it logged so far.
    #[must_use]
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, then wait for the process to be gone.
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Devserver {
    fn drop(&mut self) {
        self.stop();
    }
}

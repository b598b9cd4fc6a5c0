//! `cargo lambda watch` (cargo-lambda's Lambda runtime API emulator) running one function of the workspace as a
//! child process on a loopback port, stopped with its whole process tree when dropped (also on panic).

use crate::E2eError;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to run and how.
#[derive(Clone, Debug)]
pub struct WatchSpec {
    /// The workspace root (the emulator runs `cargo run` there).
    pub workspace_root: PathBuf,
    /// The folder holding `cargo-lambda`, put first on `PATH` so `cargo lambda` finds it.
    pub cargo_lambda_dir: PathBuf,
    /// The package and binary (the function's name in `/lambda-url/<function>/...`).
    pub package: String,
    pub bin: String,
    /// The loopback port for invokes and the runtime API.
    pub port: u16,
    /// The function's environment, written to an env file (`--env-file`): values may hold commas.
    pub env: Vec<(String, String)>,
    /// Where the env file and the log go.
    pub work_dir: PathBuf,
}

/// The running emulator. Dropping it stops the emulator and the function (SIGTERM to the process group, then
/// SIGKILL to whatever is left of the tree).
#[derive(Debug)]
pub struct LambdaWatch {
    child: Child,
    port: u16,
    function: String,
    log: PathBuf,
    started: Instant,
}

/// The exact arguments after `cargo` (logged by the test, quoted in the docs).
#[must_use]
pub fn watch_args(spec: &WatchSpec, env_file: &Path) -> Vec<String> {
    vec![
        "lambda".into(),
        "watch".into(),
        "--ignore-changes".into(),
        "--invoke-address".into(),
        "127.0.0.1".into(),
        "--invoke-port".into(),
        spec.port.to_string(),
        "--package".into(),
        spec.package.clone(),
        "--bin".into(),
        spec.bin.clone(),
        "--env-file".into(),
        env_file.display().to_string(),
    ]
}

/// Writes `KEY=VALUE` lines; refuses values the env-file format would change (no quoting is relied on).
fn write_env_file(path: &Path, env: &[(String, String)]) -> Result<(), E2eError> {
    let mut text = String::new();
    for (key, value) in env {
        let bad = value.contains(['\n', '\r', '#', '"', '\'']) || value.trim() != value;
        if bad || key.contains(['=', '\n']) {
            return Err(E2eError::EnvValue(key.clone()));
        }
        text.push_str(&format!("{key}={value}\n"));
    }
    let mut file = File::create(path).map_err(E2eError::io(format!("create {}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(E2eError::io(format!("write {}", path.display())))
}

impl LambdaWatch {
    /// Starts `cargo lambda watch` for `spec` (it builds, or reuses the build, and starts the function on the
    /// first invoke). Call [`Self::wait_ready`] before sending requests.
    ///
    /// # Errors
    /// When the env file or log cannot be written or the process cannot be spawned.
    pub fn start(spec: &WatchSpec) -> Result<Self, E2eError> {
        std::fs::create_dir_all(&spec.work_dir).map_err(E2eError::io("create the work dir"))?;
        let env_file = spec.work_dir.join("function.env");
        write_env_file(&env_file, &spec.env)?;
        let log = spec.work_dir.join("cargo-lambda-watch.log");
        let out = File::create(&log).map_err(E2eError::io("create the watch log"))?;
        let err = out.try_clone().map_err(E2eError::io("clone the watch log"))?;
        let path = std::env::var_os("PATH").unwrap_or_default();
        let path =
            std::env::join_paths(std::iter::once(spec.cargo_lambda_dir.clone()).chain(std::env::split_paths(&path)))
                .map_err(|e| E2eError::Io {
                    what: "PATH".into(),
                    source: std::io::Error::other(e),
                })?;
        let child = Command::new("cargo")
            .args(watch_args(spec, &env_file))
            .current_dir(&spec.workspace_root)
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(E2eError::io("spawn `cargo lambda watch`"))?;
        Ok(Self {
            child,
            port: spec.port,
            function: spec.bin.clone(),
            log,
            started: Instant::now(),
        })
    }

    /// `http://127.0.0.1:<port>/lambda-url/<function><path>` (a Function URL event with `rawPath` = `path`).
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/lambda-url/{}{path}", self.port, self.function)
    }

    /// Waits until the function itself answers `GET <probe_path>` with `expect_status` (the emulator is up, the
    /// function was built and started). Bounded by `limit`. Answers how long it took since [`Self::start`].
    ///
    /// # Errors
    /// The emulator exited, or the limit passed; both carry the log's tail.
    pub async fn wait_ready(
        &mut self,
        probe_path: &str,
        expect_status: u16,
        limit: Duration,
    ) -> Result<Duration, E2eError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| E2eError::Io {
                what: "http client".into(),
                source: std::io::Error::other(e),
            })?;
        let url = self.url(probe_path);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(E2eError::WatchExited {
                    status: status.to_string(),
                    log: self.log_tail(40),
                });
            }
            if let Ok(response) = client.get(&url).send().await
                && response.status().as_u16() == expect_status
            {
                return Ok(self.started.elapsed());
            }
            if self.started.elapsed() > limit {
                return Err(E2eError::WatchNotReady {
                    secs: limit.as_secs(),
                    log: self.log_tail(40),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The last `lines` lines of the emulator's and the function's output.
    #[must_use]
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The log file (emulator and function output).
    #[must_use]
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Stops the emulator and the function: SIGTERM to the emulator's process group (cargo-lambda then stops
    /// the function instances it started in their own groups), up to 10 s to exit, then SIGKILL to anything of
    /// the tree still alive.
    pub fn stop(&mut self) {
        let pid = self.child.id();
        let tree = descendants(pid);
        if matches!(self.child.try_wait(), Ok(None)) {
            signal("-TERM", &format!("-{pid}"));
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            if matches!(self.child.try_wait(), Ok(None)) {
                signal("-KILL", &format!("-{pid}"));
            }
        }
        for p in tree {
            if Path::new(&format!("/proc/{p}")).exists() {
                signal("-KILL", &p.to_string());
            }
        }
        let _ = self.child.wait();
    }
}

impl Drop for LambdaWatch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "cargo lambda watch log ({}), last lines:\n{}",
                self.log.display(),
                self.log_tail(60)
            );
        }
        self.stop();
    }
}

/// Sends `sig` to `target` (a pid, or `-pgid` for a group) with kill(1); only ids this helper started.
fn signal(sig: &str, target: &str) {
    let _ = Command::new("kill")
        .args([sig, "--", target])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Every live descendant of `root`, from `/proc/<pid>/stat` (field 4 is the parent).
fn descendants(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // The command name is in parentheses and may hold spaces: read after the last ')'.
            let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            if let Some(ppid) = after.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    found.retain(|p| *p != root);
    found
}

//! `cargo lambda watch` for one function of the workspace with several instances (`--concurrency`) and a bounded
//! invoke wait (`--timeout`), plus direct invokes of non-HTTP functions through the emulator's Lambda Invoke API
//! (`POST /2015-03-31/functions/<bin>/invocations`, the path `cargo lambda invoke` and the AWS SDKs use).
//!
//! The request URL of an HTTP function is `/lambda-url/<function>/<path>` (cargo-lambda strips the prefix and
//! sends a Function URL event). `--env-file` carries the environment, since `--env-var` splits values on commas.
//! Dropping the guard stops the emulator and its functions (SIGTERM to the emulator's group, then SIGKILL to what
//! is left of its process tree), also on panic.

use crate::E2eError;
use serde_json::Value;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to run: one package's binary (the binary's name is the function name).
/// A `--timeout` long enough that no instance of a test's emulator is ended for sitting idle (see
/// [`EmulatorSpec::invoke_timeout_secs`]); the test's own HTTP client still gives up on an invoke after
/// [`MAX_INVOKE_WAIT_SECS`].
pub const IDLE_SAFE_TIMEOUT_SECS: u64 = 900;
/// The longest a test waits for one invoke's answer.
pub const MAX_INVOKE_WAIT_SECS: u64 = 300;

#[derive(Clone, Debug)]
pub struct EmulatorSpec {
    pub workspace_root: PathBuf,
    /// The folder holding `cargo-lambda`, put first on `PATH`.
    pub cargo_lambda_dir: PathBuf,
    pub package: String,
    pub bin: String,
    pub port: u16,
    /// Instances the emulator may run at once (`--concurrency`).
    pub concurrency: u32,
    /// How long the emulator waits for an invoke's answer (`--timeout`, seconds). With `concurrency` above 1,
    /// cargo-lambda also ends an idle instance's wait for its next event after this long, answering without a
    /// request id, and `lambda_runtime` then panics (the instance is gone, and the emulator does not start another):
    /// specs with several instances that may sit idle use [`IDLE_SAFE_TIMEOUT_SECS`].
    pub invoke_timeout_secs: u64,
    /// The function's environment (written to `--env-file`; values may hold commas).
    pub env: Vec<(String, String)>,
    /// Where the env file and the log go.
    pub work_dir: PathBuf,
}

/// Builds one function exactly as `cargo lambda watch` will run it (`cargo run --package <f> --bin <f>`), so the
/// watch starts without rebuilding: a build of several packages together unifies features differently, and a
/// rebuild on start leaves instances already started idle past the emulator's timeout.
///
/// # Errors
/// When cargo cannot run or the build fails.
pub fn build_function(workspace_root: &Path, function: &str) -> Result<(), E2eError> {
    build_bin(workspace_root, function, function)
}

/// [`build_function`] for a function whose binary is not named after its package (`cargo run --package
/// <package> --bin <bin>`), e.g. the example bots' `minimal-messages` in package `minimal-bot`.
///
/// # Errors
/// When cargo cannot run or the build fails.
pub fn build_bin(workspace_root: &Path, package: &str, bin: &str) -> Result<(), E2eError> {
    let built = std::process::Command::new("cargo")
        .args(["build", "--package", package, "--bin", bin])
        .current_dir(workspace_root)
        .status()
        .map_err(|e| io_other("cargo build", e))?;
    if built.success() {
        Ok(())
    } else {
        Err(io_other(
            "cargo build",
            format!("-p {package} --bin {bin} failed: {built}"),
        ))
    }
}

impl EmulatorSpec {
    /// The arguments after `cargo`.
    #[must_use]
    pub fn args(&self, env_file: &Path) -> Vec<String> {
        [
            "lambda",
            "watch",
            "--ignore-changes",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &self.port.to_string(),
            "--package",
            &self.package,
            "--bin",
            &self.bin,
            "--concurrency",
            &self.concurrency.to_string(),
            "--timeout",
            &self.invoke_timeout_secs.to_string(),
            "--env-file",
            &env_file.display().to_string(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }

    /// The `messages` function as the single-instance e2e tests run it: a free loopback port, 60 s per invoke,
    /// its env file and log in a fresh folder named after `test`.
    ///
    /// # Errors
    /// When no free port can be had.
    pub fn messages(cargo_lambda_dir: PathBuf, env: Vec<(String, String)>, test: &str) -> std::io::Result<Self> {
        Ok(Self {
            workspace_root: crate::env::workspace_root(),
            cargo_lambda_dir,
            package: "messages".into(),
            bin: "messages".into(),
            port: crate::env::free_port()?,
            concurrency: 1,
            invoke_timeout_secs: 60,
            env,
            work_dir: std::env::temp_dir().join(crate::env::unique(test)),
        })
    }

    /// The env file's path.
    #[must_use]
    pub fn env_file(&self) -> PathBuf {
        self.work_dir.join(format!("{}.env", self.bin))
    }
}

/// What an invoke came to ([`Emulator::invoke_outcome`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Invoked {
    /// The function's result.
    Result(Value),
    /// The function answered an error (the runtime API's `/invocation/{id}/error`).
    FunctionError {
        /// The Invoke API's HTTP status.
        status: u16,
        /// `X-Amz-Function-Error`, when the emulator sets it (Lambda sets `Unhandled`).
        header: Option<String>,
        error_type: String,
        error_message: String,
    },
}

/// The running emulator; dropping it stops it and its function instances (and, unless the thread is panicking,
/// removes its env file and log).
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    port: u16,
    bin: String,
    log: PathBuf,
    env_file: PathBuf,
    started: Instant,
    http: reqwest::Client,
}

fn io_other(what: &str, e: impl std::fmt::Display) -> E2eError {
    E2eError::Io {
        what: what.to_owned(),
        source: std::io::Error::other(e.to_string()),
    }
}

fn write_env_file(path: &Path, env: &[(String, String)]) -> Result<(), E2eError> {
    let mut text = String::new();
    for (key, value) in env {
        if value.contains(['\n', '\r', '#', '"', '\'']) || value.trim() != value || key.contains(['=', '\n']) {
            return Err(E2eError::EnvValue(key.clone()));
        }
        text.push_str(&format!("{key}={value}\n"));
    }
    let mut file = File::create(path).map_err(E2eError::io(format!("create {}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(E2eError::io(format!("write {}", path.display())))
}

impl Emulator {
    /// Starts `cargo lambda watch` for `spec`; call [`Self::wait_ready`] before invoking.
    ///
    /// # Errors
    /// When the env file or log cannot be written or the process cannot be spawned.
    pub fn start(spec: &EmulatorSpec) -> Result<Self, E2eError> {
        std::fs::create_dir_all(&spec.work_dir).map_err(E2eError::io("create the work dir"))?;
        let env_file = spec.env_file();
        write_env_file(&env_file, &spec.env)?;
        let log = spec.work_dir.join(format!("{}-watch.log", spec.bin));
        let out = File::create(&log).map_err(E2eError::io("create the watch log"))?;
        let err = out.try_clone().map_err(E2eError::io("clone the watch log"))?;
        let path = std::env::var_os("PATH").unwrap_or_default();
        let path =
            std::env::join_paths(std::iter::once(spec.cargo_lambda_dir.clone()).chain(std::env::split_paths(&path)))
                .map_err(|e| io_other("PATH", e))?;
        let child = Command::new("cargo")
            .args(spec.args(&env_file))
            .current_dir(&spec.workspace_root)
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(E2eError::io("spawn `cargo lambda watch`"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(
                (spec.invoke_timeout_secs + 30).min(MAX_INVOKE_WAIT_SECS),
            ))
            .build()
            .map_err(|e| io_other("http client", e))?;
        Ok(Self {
            child,
            port: spec.port,
            bin: spec.bin.clone(),
            log,
            env_file,
            started: Instant::now(),
            http,
        })
    }

    /// `http://127.0.0.1:<port>/lambda-url/<function><path>` (a Function URL event, for HTTP functions).
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/lambda-url/{}{path}", self.port, self.bin)
    }

    /// The Invoke API address of the function.
    #[must_use]
    pub fn invoke_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{}/invocations",
            self.port, self.bin
        )
    }

    /// Invokes the function with `event` (RequestResponse) and answers its JSON result.
    ///
    /// # Errors
    /// [`E2eError::Io`] (what = `invoke`) when the emulator is unreachable, answers a non-200 status (function error, timeout)
    /// or a body that is not JSON.
    pub async fn invoke(&self, event: &Value) -> Result<Value, E2eError> {
        let response = self
            .http
            .post(self.invoke_url())
            .header("content-type", "application/json")
            .body(event.to_string())
            .send()
            .await
            .map_err(|e| io_other("invoke", format!("{}: {e}", self.bin)))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        if status != 200 {
            return Err(io_other("invoke", format!("{} answered {status}: {text}", self.bin)));
        }
        serde_json::from_str(&text).map_err(|e| io_other("invoke", format!("{}: not JSON ({e}): {text}", self.bin)))
    }

    /// Invokes the function with `event` (RequestResponse) and answers what the Invoke API answered: the result,
    /// or the function's error as the runtime API received it (`errorType`, `errorMessage`), which the emulator
    /// passes on to the caller as Lambda's Invoke API does.
    ///
    /// # Errors
    /// [`E2eError::Io`] (what = `invoke`) when the emulator is unreachable or answers neither a JSON result nor a
    /// function error.
    pub async fn invoke_outcome(&self, event: &Value) -> Result<Invoked, E2eError> {
        let response = self
            .http
            .post(self.invoke_url())
            .header("content-type", "application/json")
            .body(event.to_string())
            .send()
            .await
            .map_err(|e| io_other("invoke", format!("{}: {e}", self.bin)))?;
        let status = response.status().as_u16();
        let function_error = response
            .headers()
            .get("x-amz-function-error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        let body: Option<Value> = serde_json::from_str(&text).ok();
        let error_type = body
            .as_ref()
            .and_then(|b| b.get("errorType"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        match (status, function_error, error_type, body) {
            (_, header, Some(error_type), Some(body)) if status != 200 || header.is_some() => {
                Ok(Invoked::FunctionError {
                    status,
                    header,
                    error_type,
                    error_message: body["errorMessage"].as_str().unwrap_or_default().to_owned(),
                })
            }
            (200, None, _, Some(body)) => Ok(Invoked::Result(body)),
            _ => Err(io_other("invoke", format!("{} answered {status}: {text}", self.bin))),
        }
    }

    /// Waits until `probe` holds (it sends one request to the function and says whether the answer is the
    /// expected one), bounded by `limit`. Answers the time since [`Self::start`].
    ///
    /// # Errors
    /// The emulator or the function's process exited, or the limit passed (each with the log's tail).
    pub async fn wait_ready<F, Fut>(&mut self, limit: Duration, probe: F) -> Result<Duration, E2eError>
    where
        F: Fn(reqwest::Client, String) -> Fut,
        Fut: Future<Output = bool>,
    {
        let short = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| io_other("http client", e))?;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(E2eError::WatchExited {
                    status: status.to_string(),
                    log: self.log_tail(40),
                });
            }
            // cargo-lambda's line when the function's own process ends (a failed init, such as a configuration
            // error): it would only start it again on the next request, so waiting longer cannot help.
            if self.log_text().contains("command exited code=") {
                return Err(E2eError::FunctionExited { log: self.log_tail(40) });
            }
            if probe(short.clone(), format!("http://127.0.0.1:{}", self.port)).await {
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

    /// [`Self::wait_ready`] for a webhook function: ready once it answers a GET on
    /// `/lambda-url/<bin>/api/messages` with 405 (POST only), which shows the emulator is up and the binary runs.
    ///
    /// # Errors
    /// As [`Self::wait_ready`].
    pub async fn wait_webhook_ready(&mut self, limit: Duration) -> Result<Duration, E2eError> {
        let path = format!("/lambda-url/{}/api/messages", self.bin);
        self.wait_ready(limit, |c, base| {
            let url = format!("{base}{path}");
            async move { c.get(url).send().await.is_ok_and(|r| r.status().as_u16() == 405) }
        })
        .await
    }

    /// [`Self::wait_ready`] for a stream function (`welcome`, `proactive`): ready once an empty batch
    /// (`{"Records": []}`) is answered 200 with a `batchItemFailures` list.
    ///
    /// # Errors
    /// As [`Self::wait_ready`].
    pub async fn wait_stream_ready(&mut self, limit: Duration) -> Result<Duration, E2eError> {
        let path = format!("/2015-03-31/functions/{}/invocations", self.bin);
        self.wait_ready(limit, |c, base| {
            let url = format!("{base}{path}");
            async move {
                match c.post(url).body(r#"{"Records": []}"#).send().await {
                    Ok(r) if r.status().as_u16() == 200 => r
                        .json::<serde_json::Value>()
                        .await
                        .is_ok_and(|v| v.get("batchItemFailures").is_some()),
                    _ => false,
                }
            }
        })
        .await
    }

    /// The last `lines` lines of the emulator's and the function's output.
    #[must_use]
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The whole log (emulator and function JSON lines).
    #[must_use]
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the emulator and its instances: SIGTERM to its group, up to 10 s, then SIGKILL to the tree.
    pub fn stop(&mut self) {
        let pid = self.child.id();
        // Its descendants (the instances it started), to stop any it leaves behind.
        let tree: Vec<u32> = crate::procs::tree(pid).into_iter().filter(|p| *p != pid).collect();
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

impl Drop for Emulator {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "cargo lambda watch ({}) log {}, last lines:\n{}",
                self.bin,
                self.log.display(),
                self.log_tail(40)
            );
        }
        self.stop();
        if !std::thread::panicking() {
            // A passing test leaves nothing behind: its two files, then the work dir once the last emulator
            // sharing it is gone (`remove_dir` only removes an empty folder). A failing one keeps them to read.
            let _ = std::fs::remove_file(&self.log);
            let _ = std::fs::remove_file(&self.env_file);
            if let Some(dir) = self.log.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

/// Sends `sig` to `target` (a pid, or `-pgid`) with kill(1); only ids this guard started.
fn signal(sig: &str, target: &str) {
    let _ = Command::new("kill")
        .args([sig, "--", target])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

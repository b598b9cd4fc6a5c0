//! The webhook benchmark, side by side: the same stream of signed Teams message activities (unique ids, a real
//! token from the fake OpenID signer) to our devserver, to our `messages` function under cargo-lambda's Lambda
//! runtime API emulator, and to the botbuilder-js peer (`bench/peer`), in alternating rounds in one session.
//!
//! Per run: a fresh fake Teams service (OpenID metadata + JWKS, token endpoint, v3 Connector, per-conversation
//! limits off) on its own one-thread tokio runtime; a fresh target process; cold start (spawn to the first
//! message answered 200); priming (each of the 8,000 users sends one message, so the measured ones come from
//! known users); a warm-up; then a closed-loop load at fixed concurrency bounded by time and count.
//! Reported: throughput, p50/p99 latency, peak RSS (`VmHWM`), the target's CPU, and the CPU of the fake service
//! and of the load generator (threads of this process, by name) to show they are not the bottleneck. Every
//! answered message is checked against the echo the fake Connector received.
//!
//! Configured by environment (bench/run sets the defaults): BENCH_TARGETS (devserver,lambda,peer),
//! BENCH_ROUNDS (3), BENCH_SECONDS (10), BENCH_CONCURRENCY (32), BENCH_MAX_REQUESTS (200000), BENCH_PIN (1: the
//! target on CPU 1, this process on CPU 0 — bench/run starts it under `taskset -c 0`), BENCH_ROOT (the
//! workspace), BENCH_JSON (a file to append one JSON line per run to), BENCH_STATE_DIR (where our embedded
//! store's file goes; default: the run's log folder on disk), BENCH_DEVSERVER_BIN (another devserver build), BENCH_DEBUG_COLD (print each cold-start attempt). Prints numbers;
//! asserts nothing on time.

use anyhow::{Context as _, bail};
use bench::procfs;
use fake_teams::openid::{BotClaims, OpenIdServer};
use fake_teams::{FakeTeams, Route};
use serde_json::{Value, json};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Tenants the messages come from, round robin: our Connector client paces each tenant to 30 requests/s by
/// default (Teams' per-tenant limit), so one tenant would cap our throughput at 30 replies/s by design. 1,000
/// tenants (a multi-tenant bot's real load) keep every tenant under it up to 30,000 messages/s.
const TENANTS: usize = 1_000;
/// Users (and their 1:1 chats) per tenant: enough that no conversation nears Teams' per-conversation send
/// limits either (60 per 30 s is the binding one: 8,000 chats allow 16,000 messages/s).
const USERS_PER_TENANT: usize = 8;
/// Longest the priming pass (every user's first message) may take.
const PRIME_LIMIT: Duration = Duration::from_secs(300);
/// The longest a target may take to answer its first message.
const COLD_LIMIT: Duration = Duration::from_secs(60);
/// Warm-up before each measured window.
const WARMUP: Duration = Duration::from_secs(2);
/// Per-request timeout of the load generator.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Devserver,
    Lambda,
    Peer,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Self::Devserver => "devserver",
            Self::Lambda => "lambda",
            Self::Peer => "peer",
        }
    }

    fn parse(s: &str) -> anyhow::Result<Self> {
        Ok(match s.trim() {
            "devserver" => Self::Devserver,
            "lambda" => Self::Lambda,
            "peer" => Self::Peer,
            other => bail!("unknown target `{other}` (devserver, lambda, peer)"),
        })
    }
}

#[derive(Clone, Debug)]
struct Opts {
    targets: Vec<Target>,
    rounds: u32,
    seconds: u64,
    concurrency: usize,
    max_requests: u64,
    pin: bool,
    root: PathBuf,
    json: Option<PathBuf>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn num<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}: `{v}` is not a number")),
    }
}

impl Opts {
    fn from_env() -> anyhow::Result<Self> {
        let targets = var("BENCH_TARGETS")
            .unwrap_or_else(|| "devserver,lambda,peer".to_owned())
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Target::parse)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let root = var("BENCH_ROOT").map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."), PathBuf::from);
        Ok(Self {
            targets,
            rounds: num("BENCH_ROUNDS", 3)?,
            seconds: num("BENCH_SECONDS", 10)?,
            concurrency: num("BENCH_CONCURRENCY", 32)?,
            max_requests: num("BENCH_MAX_REQUESTS", 200_000)?,
            pin: var("BENCH_PIN").as_deref() != Some("0"),
            root: root.canonicalize().unwrap_or(root),
            json: var("BENCH_JSON").map(PathBuf::from),
        })
    }
}

/// One measured run of one target.
#[derive(Clone, Debug, Default)]
struct RunResult {
    target: &'static str,
    round: u32,
    cold_start_ms: f64,
    requests: u64,
    ok: u64,
    errors: u64,
    seconds: f64,
    throughput: f64,
    p50_ms: f64,
    p99_ms: f64,
    peak_rss_mib: f64,
    /// The emulator's own peak RSS (Lambda only).
    emulator_rss_mib: f64,
    target_cpu: f64,
    emulator_cpu: f64,
    fake_cpu: f64,
    loadgen_cpu: f64,
    echoes_ok: bool,
    /// A message with a forged token was refused (401/403): authentication is on.
    auth_enforced: bool,
    /// The status the forged token got.
    forged_status: u16,
    /// Echoes the fake Connector received over the target's whole life (cold start and warm-up included).
    echoes_total: usize,
}

impl RunResult {
    fn json(&self) -> Value {
        json!({
            "target": self.target, "round": self.round, "cold_start_ms": self.cold_start_ms,
            "requests": self.requests, "ok": self.ok, "errors": self.errors, "seconds": self.seconds,
            "throughput": self.throughput, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms,
            "peak_rss_mib": self.peak_rss_mib, "emulator_rss_mib": self.emulator_rss_mib,
            "target_cpu": self.target_cpu, "emulator_cpu": self.emulator_cpu, "fake_cpu": self.fake_cpu,
            "loadgen_cpu": self.loadgen_cpu, "echoes_ok": self.echoes_ok, "auth_enforced": self.auth_enforced, "forged_status": self.forged_status, "echoes_total": self.echoes_total,
        })
    }
}

/// The fake Teams service for one run, with what a message needs.
struct World {
    fake: FakeTeams,
    openid: OpenIdServer,
    /// (tenant, user id, name, aad id, 1:1 conversation id)
    users: Vec<(String, String, String, String, String)>,
}

async fn world() -> anyhow::Result<World> {
    let openid = OpenIdServer::new();
    let mut builder = FakeTeams::builder().with_router(openid.router()).without_rate_limits();
    let mut users = Vec::new();
    // Ordered so that consecutive messages come from different tenants.
    for u in 0..USERS_PER_TENANT {
        for t in 0..TENANTS {
            let tenant = format!("00000000-0000-0000-0000-{t:012}");
            let i = u * TENANTS + t;
            let (id, name, aad) = (
                format!("29:1bench-user-{i}"),
                format!("Bench User {i}"),
                format!("aad-bench-{i}"),
            );
            builder = builder.user(tenant.as_str(), FakeTeams::member(&id, &name, &aad));
            users.push((tenant, id, name, aad));
        }
    }
    let fake = builder.start().await.context("start the fake Teams service")?;
    let users = users
        .into_iter()
        .map(|(tenant, id, name, aad)| {
            let conv = fake.personal_conversation(&tenant, &id).unwrap_or_default();
            (tenant, id, name, aad, conv)
        })
        .collect();
    Ok(World { fake, openid, users })
}

/// A Teams personal message as Teams sends it (shape of tests/e2e/fixtures/message_personal.json).
fn message(world: &World, n: u64, id: &str) -> String {
    let (tenant, user, name, aad, conv) = &world.users[(n as usize) % world.users.len()];
    let app_id = world.fake.app_id();
    json!({
        "type": "message",
        "id": id,
        "timestamp": "2026-11-21T10:00:00.000Z",
        "localTimestamp": "2026-11-21T11:00:00.000+01:00",
        "serviceUrl": world.fake.service_url(),
        "channelId": "msteams",
        "from": {"id": user, "name": name, "aadObjectId": aad},
        "conversation": {"conversationType": "personal", "tenantId": tenant, "id": conv},
        "recipient": {"id": format!("28:{app_id}"), "name": "Teams Bot"},
        "textFormat": "plain",
        "locale": "en-US",
        "text": format!("Hello there number {n} 😀"),
        "entities": [{"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web", "timezone": "Europe/Berlin"}],
        "channelData": {"tenant": {"id": tenant}}
    })
    .to_string()
}

fn expected_echo(n: u64) -> String {
    let text = format!("Hello there number {n} 😀");
    format!("You sent {text} which was {} characters", text.chars().count())
}

/// A running target: the process to measure (and, for the Lambda, the emulator), stopped on drop.
struct Running {
    main: Child,
    emulator: Option<Child>,
    url: String,
    _state_dir: TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        stop(&mut self.main);
        if let Some(e) = self.emulator.as_mut() {
            stop(e);
        }
    }
}

/// SIGTERM to the child's process group (it was started in its own), then SIGKILL after 5 s.
fn stop(child: &mut Child) {
    let pid = child.id();
    if matches!(child.try_wait(), Ok(None)) {
        let _ = Command::new("kill").args(["-TERM", "--", &format!("-{pid}")]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if matches!(child.try_wait(), Ok(None)) {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
        }
    }
    let _ = child.wait();
}

/// A run's folder under `bench/out/logs/` (logs are kept; the state file is removed on drop).
struct TempDir(PathBuf);

impl TempDir {
    fn new(root: &Path, name: &str) -> anyhow::Result<Self> {
        let dir = root.join("bench/out/logs").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0.join("state.redb"));
    }
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

/// `taskset -c 1 <program>` when pinning, else the program.
fn command(opts: &Opts, program: &Path) -> Command {
    let mut cmd = if opts.pin {
        let mut c = Command::new("taskset");
        c.arg("-c").arg("1").arg(program);
        c
    } else {
        Command::new(program)
    };
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.stdin(Stdio::null());
    cmd
}

fn log_file(dir: &Path, name: &str) -> anyhow::Result<(Stdio, Stdio)> {
    let f = std::fs::File::create(dir.join(name))?;
    Ok((Stdio::from(f.try_clone()?), Stdio::from(f)))
}

/// The bot's environment (docs/contract.md names) for this world.
fn bot_env(world: &World) -> Vec<(String, String)> {
    let mut env = world.fake.env();
    env.push((
        "BOT_OPENID_METADATA_URL".into(),
        OpenIdServer::metadata_url(world.fake.addr()),
    ));
    env
}

/// Starts a target; answers when the spawn happened (the cold start clock starts just before).
fn start(opts: &Opts, target: Target, round: u32, world: &World) -> anyhow::Result<(Running, Instant)> {
    let state = TempDir::new(&opts.root, &format!("{}-r{round}", target.name()))?;
    let env = bot_env(world);
    let port = free_port()?;
    let release = opts.root.join("target/release");
    match target {
        Target::Devserver => {
            let (out, err) = log_file(&state.0, "devserver.log")?;
            // BENCH_DEVSERVER_BIN: another build of the devserver (e.g. one with symbols, to profile).
            let bin = var("BENCH_DEVSERVER_BIN").map_or_else(|| release.join("devserver"), PathBuf::from);
            let mut cmd = command(opts, &bin);
            cmd.envs(env)
                .env("BIND_ADDR", format!("127.0.0.1:{port}"))
                .env("STATE_PATH", state_path(&state, target, round))
                .env("RUST_LOG", "warn")
                .stdout(out)
                .stderr(err);
            let t0 = Instant::now();
            let main = cmd
                .spawn()
                .context("spawn the devserver (cargo build --release -p devserver)")?;
            Ok((
                Running {
                    main,
                    emulator: None,
                    url: format!("http://127.0.0.1:{port}/api/messages"),
                    _state_dir: state,
                },
                t0,
            ))
        }
        Target::Peer => {
            let (out, err) = log_file(&state.0, "peer.log")?;
            let node = var("BENCH_NODE").unwrap_or_else(|| "node".to_owned());
            let mut cmd = command(opts, Path::new(&node));
            cmd.arg(opts.root.join("bench/peer/bot.js"))
                .envs(env)
                .env("PORT", port.to_string())
                .env("NODE_ENV", "production")
                .stdout(out)
                .stderr(err);
            let t0 = Instant::now();
            let main = cmd.spawn().context("spawn node bench/peer/bot.js")?;
            Ok((
                Running {
                    main,
                    emulator: None,
                    url: format!("http://127.0.0.1:{port}/api/messages"),
                    _state_dir: state,
                },
                t0,
            ))
        }
        Target::Lambda => {
            // The emulator serves the runtime API and Function URL invokes; the function binary is started by us
            // (--only-lambda-apis), so its cold start is measured from its own spawn.
            let cargo_lambda = opts.root.join(".tools/venv/bin/cargo-lambda");
            let (out, err) = log_file(&state.0, "emulator.log")?;
            let mut emu = command(opts, &cargo_lambda);
            emu.current_dir(&opts.root)
                .args(["lambda", "watch", "--only-lambda-apis", "--ignore-changes"])
                .args(["--invoke-address", "127.0.0.1", "--invoke-port", &port.to_string()])
                .stdout(out)
                .stderr(err);
            let mut emulator = emu
                .spawn()
                .context("spawn cargo lambda watch (.tools/venv/bin/cargo-lambda)")?;
            let deadline = Instant::now() + Duration::from_secs(60);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if Instant::now() > deadline || !matches!(emulator.try_wait(), Ok(None)) {
                    stop(&mut emulator);
                    bail!("cargo lambda watch did not listen on {port}; see {}", state.0.display());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let (out, err) = log_file(&state.0, "function.log")?;
            let mut cmd = command(opts, &release.join("messages"));
            cmd.envs(env)
                .env("STATE_STORE", "embedded")
                .env("STATE_PATH", state_path(&state, target, round))
                .env("RUST_LOG", "warn")
                .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{port}/.rt"))
                .env("AWS_LAMBDA_FUNCTION_NAME", "messages")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
                .stdout(out)
                .stderr(err);
            let t0 = Instant::now();
            let main = cmd
                .spawn()
                .context("spawn the messages function (cargo build --release -p messages)")?;
            Ok((
                Running {
                    main,
                    emulator: Some(emulator),
                    // A function started against the bare runtime API (`/.rt`) is the emulator's default function `_`.
                    url: format!("http://127.0.0.1:{port}/lambda-url/_/api/messages"),
                    _state_dir: state,
                },
                t0,
            ))
        }
    }
}

/// Where the embedded store's file goes: the run's folder, or `BENCH_STATE_DIR` (e.g. `/dev/shm`, where fsync
/// costs nothing, to see how much of our cost is the store's durable commit).
fn state_path(run: &TempDir, target: Target, round: u32) -> PathBuf {
    outside_state(target, round).unwrap_or_else(|| run.0.join("state.redb"))
}

fn outside_state(target: Target, round: u32) -> Option<PathBuf> {
    var("BENCH_STATE_DIR")
        .map(|dir| Path::new(&dir).join(format!("bench-{}-{}-r{round}.redb", std::process::id(), target.name())))
}

/// The CPU time of a process tree.
fn tree_cpu(pid: u32) -> Duration {
    procfs::tree(pid).into_iter().filter_map(procfs::process_cpu).sum()
}

/// The largest VmHWM in a process tree (the measured program under `taskset` is the same pid after exec).
fn tree_peak_rss(pid: u32) -> u64 {
    procfs::tree(pid)
        .into_iter()
        .filter_map(procfs::peak_rss)
        .max()
        .unwrap_or(0)
}

struct Load {
    url: String,
    token: String,
    bodies: Arc<World>,
}

/// POSTs message `n`; answers the status (0 on a transport error).
async fn post(client: &reqwest::Client, load: &Load, n: u64, id: &str) -> u16 {
    let body = message(&load.bodies, n, id);
    match client
        .post(&load.url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", load.token))
        .body(body)
        .send()
        .await
    {
        Ok(r) => {
            let status = r.status().as_u16();
            let _ = r.bytes().await;
            status
        }
        Err(_) => 0,
    }
}

struct Window {
    ok: u64,
    errors: u64,
    latencies_us: Vec<u64>,
    elapsed: Duration,
}

/// A closed loop of `concurrency` workers for at most `duration` and `max` requests; ids `<prefix>-<n>`.
async fn run_load(
    client: &reqwest::Client,
    load: Arc<Load>,
    concurrency: usize,
    duration: Duration,
    max: u64,
    prefix: &str,
    next: Arc<AtomicU64>,
) -> Window {
    let start = Instant::now();
    let end = start + duration;
    let stop_at = next.load(Ordering::Relaxed) + max;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, load, next, prefix) = (client.clone(), load.clone(), next.clone(), prefix.to_owned());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::with_capacity(4096));
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= stop_at || Instant::now() >= end {
                    break;
                }
                let t = Instant::now();
                let status = post(&client, &load, n, &format!("{prefix}-{n}")).await;
                let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                if status == 200 {
                    ok += 1;
                    lat.push(us);
                } else {
                    errors += 1;
                }
            }
            (ok, errors, lat)
        }));
    }
    let mut w = Window {
        ok: 0,
        errors: 0,
        latencies_us: Vec::new(),
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        if let Ok((ok, errors, lat)) = t.await {
            w.ok += ok;
            w.errors += errors;
            w.latencies_us.extend(lat);
        }
    }
    w.elapsed = start.elapsed();
    w.latencies_us.sort_unstable();
    w
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn share(cpu: Duration, wall: Duration) -> f64 {
    cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9)
}

/// Fetches the fake's OpenID metadata and the keys it points at, as a target's start does.
async fn warm_fake(client: &reqwest::Client, world: &World) -> anyhow::Result<()> {
    let metadata: serde_json::Value = client
        .get(OpenIdServer::metadata_url(world.fake.addr()))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let jwks = metadata["jwks_uri"]
        .as_str()
        .context("the fake's metadata names no jwks_uri")?;
    client.get(jwks).send().await?.error_for_status()?.bytes().await?;
    Ok(())
}

/// A fresh pair of one-thread runtimes (fake service, load generator) per run: dropping a runtime drops every
/// task still on it, so nothing of a previous run (its fake's connections and their record of ~100,000 calls)
/// is torn down while the next target starts.
fn runtimes() -> anyhow::Result<(tokio::runtime::Runtime, tokio::runtime::Runtime)> {
    let one_thread = |name: &str| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(name)
            .enable_all()
            .build()
    };
    Ok((one_thread("fake-teams")?, one_thread("loadgen")?))
}

fn run_one(
    opts: &Opts,
    target: Target,
    round: u32,
    fake_rt: &tokio::runtime::Runtime,
    load_rt: &tokio::runtime::Runtime,
) -> anyhow::Result<RunResult> {
    let world = Arc::new(fake_rt.block_on(world())?);
    let token = world
        .openid
        .sign(&BotClaims::new(&world.fake.app_id(), &world.fake.service_url()).to_json())
        .context("sign the inbound token")?;
    // Built before the target starts: a client's set-up (root certificates) is CPU work on the fake's CPU.
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(opts.concurrency)
        .tcp_nodelay(true)
        .build()?;
    // The fake answers its OpenID documents once before the target starts. Without this, the second run's
    // cold start measured 100-170 ms more than the others: `perf` showed the fake's thread in glibc's
    // `malloc_consolidate` on its first request, merging the chunks the previous run's fake freed (a record of
    // ~100,000 calls) — the harness's allocator, not the target.
    load_rt.block_on(warm_fake(&client, &world))?;
    let (running, t0) = start(opts, target, round, &world)?;
    let load = Arc::new(Load {
        url: running.url.clone(),
        token,
        bodies: world.clone(),
    });
    let prefix = format!("{}-r{round}", target.name());

    // Cold start: spawn to the first message answered 200 (connection refused is retried at once-ish).
    let cold = load_rt.block_on(async {
        let mut attempt = 0u64;
        loop {
            let status = post(&client, &load, 0, &format!("{prefix}-cold-{attempt}")).await;
            if std::env::var_os("BENCH_DEBUG_COLD").is_some() {
                eprintln!("cold attempt {attempt} status {status} at {:?}", t0.elapsed());
            }
            if status == 200 {
                return Ok(t0.elapsed());
            }
            if t0.elapsed() > COLD_LIMIT {
                bail!(
                    "{} did not answer 200 within {COLD_LIMIT:?} (last status {status})",
                    target.name()
                );
            }
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })?;

    // Authentication is on: the same token with its payload changed (signature no longer matches) is refused.
    let forged = Load {
        url: load.url.clone(),
        token: fake_teams::openid::tamper_payload(
            &load.token,
            &BotClaims::new(&world.fake.app_id(), &world.fake.service_url())
                .claim("bench", json!("forged"))
                .to_json(),
        ),
        bodies: world.clone(),
    };
    let forged_status = load_rt.block_on(post(&client, &forged, 0, &format!("{prefix}-forged")));
    // Refused = anything but 2xx (botbuilder-js answers a bad signature with 500, we with 401).
    let auth_enforced = !(200..300).contains(&forged_status) && forged_status != 0;

    let next = Arc::new(AtomicU64::new(1));
    // Priming: every user says hello once before anything is measured, so the measured messages are the steady
    // state of a running bot (known users: no first-contact welcome, which our bot sends and the peer doesn't).
    let _prime = load_rt.block_on(run_load(
        &client,
        load.clone(),
        opts.concurrency,
        PRIME_LIMIT,
        world.users.len() as u64,
        &format!("{prefix}-prime"),
        next.clone(),
    ));
    let _warm = load_rt.block_on(run_load(
        &client,
        load.clone(),
        opts.concurrency,
        WARMUP,
        opts.max_requests,
        &format!("{prefix}-warm"),
        next.clone(),
    ));
    let pid = running.main.id();
    let emulator_pid = running.emulator.as_ref().map(Child::id);
    let (cpu0, emu0) = (tree_cpu(pid), emulator_pid.map(tree_cpu).unwrap_or_default());
    let (fake0, load0) = (
        procfs::own_threads_cpu("fake-teams"),
        procfs::own_threads_cpu("loadgen"),
    );
    let first_measured = next.load(Ordering::Relaxed);
    let window = load_rt.block_on(run_load(
        &client,
        load.clone(),
        opts.concurrency,
        Duration::from_secs(opts.seconds),
        opts.max_requests,
        &prefix,
        next.clone(),
    ));
    let cpu = tree_cpu(pid).saturating_sub(cpu0);
    let emu = emulator_pid.map(tree_cpu).unwrap_or_default().saturating_sub(emu0);
    let fake_cpu = procfs::own_threads_cpu("fake-teams").saturating_sub(fake0);
    let load_cpu = procfs::own_threads_cpu("loadgen").saturating_sub(load0);
    let peak = tree_peak_rss(pid);
    let emulator_peak = emulator_pid.map(tree_peak_rss).unwrap_or(0);

    // Every answered message was echoed to the fake Connector with the right words (sample the measured ones).
    let replies = world.fake.calls_to(Route::ReplyToActivity);
    let echoes_ok = {
        let by_id: std::collections::HashMap<&str, &str> = replies
            .iter()
            .filter(|c| c.status == 200 || c.status == 201)
            .filter_map(|c| {
                let id = c.ids.get(1)?.as_str();
                let text = c.body.as_ref()?.get("text")?.as_str()?;
                Some((id, text))
            })
            .collect();
        let last = next.load(Ordering::Relaxed);
        let sample: Vec<u64> = (first_measured..last).step_by(97).take(200).collect();
        !sample.is_empty()
            && sample.iter().all(|n| {
                let id = format!("{prefix}-{n}");
                by_id.get(id.as_str()).is_none_or(|t| *t == expected_echo(*n))
            })
            && by_id.len() as u64 >= window.ok
    };
    drop(running);
    if let Some(path) = outside_state(target, round) {
        let _ = std::fs::remove_file(path);
    }
    let wall = window.elapsed;
    Ok(RunResult {
        target: target.name(),
        round,
        cold_start_ms: cold.as_secs_f64() * 1000.0,
        requests: window.ok + window.errors,
        ok: window.ok,
        errors: window.errors,
        seconds: wall.as_secs_f64(),
        throughput: window.ok as f64 / wall.as_secs_f64().max(1e-9),
        p50_ms: percentile(&window.latencies_us, 0.50),
        p99_ms: percentile(&window.latencies_us, 0.99),
        peak_rss_mib: mib(peak),
        emulator_rss_mib: mib(emulator_peak),
        target_cpu: share(cpu, wall),
        emulator_cpu: share(emu, wall),
        fake_cpu: share(fake_cpu, wall),
        loadgen_cpu: share(load_cpu, wall),
        echoes_ok,
        auth_enforced,
        forged_status,
        echoes_total: replies.len(),
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn print_run(r: &RunResult) {
    println!(
        "{:<9} round {} | cold {:>8.1} ms | {:>7} ok {:>4} err in {:>5.1} s | {:>8.0} msg/s | p50 {:>7.2} ms p99 {:>8.2} ms | peak RSS {:>6.1} MiB{} | CPU target {:>4.0}%{} fake {:>3.0}% loadgen {:>3.0}% | echoes {} | forged token {} {}",
        r.target,
        r.round,
        r.cold_start_ms,
        r.ok,
        r.errors,
        r.seconds,
        r.throughput,
        r.p50_ms,
        r.p99_ms,
        r.peak_rss_mib,
        if r.emulator_rss_mib > 0.0 {
            format!(" (emulator {:.1} MiB)", r.emulator_rss_mib)
        } else {
            String::new()
        },
        r.target_cpu * 100.0,
        if r.emulator_cpu > 0.0 {
            format!(" emulator {:>3.0}%", r.emulator_cpu * 100.0)
        } else {
            String::new()
        },
        r.fake_cpu * 100.0,
        r.loadgen_cpu * 100.0,
        if r.echoes_ok { "ok" } else { "MISMATCH" },
        if r.auth_enforced { "refused" } else { "ACCEPTED" },
        r.forged_status
    );
}

fn main() -> anyhow::Result<()> {
    let opts = Opts::from_env()?;
    println!(
        "webhook benchmark: targets {:?}, {} rounds, {} s per run (+{} s warm-up), concurrency {}, at most {} requests per run, {}",
        opts.targets.iter().map(|t| t.name()).collect::<Vec<_>>(),
        opts.rounds,
        opts.seconds,
        WARMUP.as_secs(),
        opts.concurrency,
        opts.max_requests,
        if opts.pin {
            "target pinned to CPU 1, fake service + load generator on CPU 0"
        } else {
            "no CPU pinning"
        }
    );
    let mut results: Vec<RunResult> = Vec::new();
    for round in 1..=opts.rounds {
        for &target in &opts.targets {
            match runtimes().and_then(|(fake_rt, load_rt)| run_one(&opts, target, round, &fake_rt, &load_rt)) {
                Ok(r) => {
                    print_run(&r);
                    if let Some(path) = &opts.json {
                        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
                        writeln!(f, "{}", r.json())?;
                    }
                    results.push(r);
                }
                Err(e) => println!("{:<9} round {round} | FAILED: {e:#}", target.name()),
            }
        }
    }

    // Medians over rounds, and ours / peer.
    let med = |t: &str, f: fn(&RunResult) -> f64| median(results.iter().filter(|r| r.target == t).map(f).collect());
    type Metric = (&'static str, fn(&RunResult) -> f64);
    let metrics: [Metric; 9] = [
        ("throughput (msg/s)", |r| r.throughput),
        ("p50 latency (ms)", |r| r.p50_ms),
        ("p99 latency (ms)", |r| r.p99_ms),
        ("peak RSS (MiB)", |r| r.peak_rss_mib),
        ("cold start (ms)", |r| r.cold_start_ms),
        ("target CPU (cores)", |r| r.target_cpu),
        ("emulator CPU (cores)", |r| r.emulator_cpu),
        ("fake Teams CPU (cores)", |r| r.fake_cpu),
        ("load generator CPU (cores)", |r| r.loadgen_cpu),
    ];
    println!();
    println!("Medians of {} rounds (ours / peer in parentheses):", opts.rounds);
    println!();
    println!("| metric | devserver | messages Lambda (emulator) | botbuilder-js 4.23 peer |");
    println!("| --- | --- | --- | --- |");
    for (name, f) in metrics {
        let peer = med("peer", f);
        let cell = |t: &str| {
            let v = med(t, f);
            if !v.is_finite() {
                return "—".to_owned();
            }
            if t != "peer" && peer.is_finite() && peer != 0.0 {
                format!("{} ({:.2}x)", fmt_num(v), v / peer)
            } else {
                fmt_num(v)
            }
        };
        println!(
            "| {name} | {} | {} | {} |",
            cell("devserver"),
            cell("lambda"),
            cell("peer")
        );
    }
    let bad = results
        .iter()
        .filter(|r| !r.echoes_ok || !r.auth_enforced || r.errors > 0)
        .count();
    println!();
    println!(
        "runs with errors, wrong echoes or a forged token accepted: {bad} of {} (errors = non-200 answers or transport errors)",
        results.len()
    );
    Ok(())
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

//! The webhook benchmark, side by side: the same stream of signed Teams message activities (unique ids, a real
//! token from the fake OpenID signer) to our devserver, to our `messages` function (on DynamoDB through moto, under
//! cargo-lambda's Lambda runtime API emulator), and to three Microsoft SDK bots doing the same echo with
//! authentication on — the Microsoft 365 Agents SDK (`bench/peer-agents`), the Teams SDK v2 (`bench/peer-teams`)
//! and the archived botbuilder-js (`bench/peer-botbuilder`) — in alternating rounds in one session.
//!
//! Per run: a fresh fake Teams service (OpenID metadata + JWKS, token endpoint, v3 Connector, per-conversation
//! limits off) on its own one-thread tokio runtime; a fresh target process; cold start (spawn to the first
//! message answered 200; for the Lambda also Lambda's own init duration and first invoke, through a runtime API
//! relay); a tampered token; priming (every user sends one message, so the measured ones come from known users:
//! 8,000 1:1 conversations in 1,000 tenants by default); a warm-up; a closed-loop load at fixed concurrency bounded
//! by time and count; then a few hundred messages one at a time (a Lambda instance's view: one message's CPU and
//! duration). Reported: throughput, p50/p99 latency, peak RSS (`VmHWM`), the CPU of every side (target, emulator,
//! moto, relay, fake service, load generator: threads of this process by name), Connector calls and DynamoDB
//! requests per message, and a cost per million messages. Every answered message is checked against the echoes
//! the fake Connector received.
//!
//! Configured by environment (bench/run sets the defaults): BENCH_TARGETS (devserver,lambda,agents,teams,botbuilder;
//! also lambda-embedded), BENCH_ROUNDS (3), BENCH_SECONDS (10), BENCH_CONCURRENCY (32), BENCH_MAX_REQUESTS
//! (200000), BENCH_TENANTS (1000), BENCH_USERS_PER_TENANT (8), BENCH_SERIAL (300 one-at-a-time messages),
//! BENCH_PIN (1: the target on CPU 1, this process and moto on CPU 0 — bench/run starts it under `taskset -c 0`),
//! BENCH_ROOT (the workspace), BENCH_JSON (a file to append one JSON line per run to), BENCH_MD (a file to write
//! the summary tables to), BENCH_NODE (the node binary for the peers; default bench/node's Node 22),
//! BENCH_STATE_DIR (where our embedded store's file goes; default: the run's log folder on disk),
//! BENCH_DEVSERVER_BIN (another devserver build), BENCH_FUNCTION_BIN (another messages build, or a wrapper
//! that execs it), BENCH_COST_WAIT_MS (100: the extra wait per message of the second
//! cost table), BENCH_DEBUG_COLD (print each cold-start attempt). Prints numbers; asserts nothing on time.

use anyhow::{Context as _, bail};
use bench::cost::{self, PerMessage};
use bench::procfs;
use bench::relay::Relay;
use fake_teams::openid::{BotClaims, OpenIdServer};
use fake_teams::{DEFAULT_TENANT, FakeTeams, Route};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
    /// The `messages` function on DynamoDB (moto), as deployed.
    Lambda,
    /// The `messages` function on the embedded store (what the earlier passes measured).
    LambdaEmbedded,
    Agents,
    Teams,
    Botbuilder,
}

impl Target {
    const ALL: [Self; 6] = [
        Self::Devserver,
        Self::Lambda,
        Self::LambdaEmbedded,
        Self::Agents,
        Self::Teams,
        Self::Botbuilder,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Devserver => "devserver",
            Self::Lambda => "lambda",
            Self::LambdaEmbedded => "lambda-embedded",
            Self::Agents => "agents",
            Self::Teams => "teams",
            Self::Botbuilder => "botbuilder",
        }
    }

    /// The column heading.
    fn label(self) -> &'static str {
        match self {
            Self::Devserver => "devserver (embedded store)",
            Self::Lambda => "`messages` Lambda on DynamoDB (moto, emulator)",
            Self::LambdaEmbedded => "`messages` Lambda, embedded store (emulator)",
            Self::Agents => "Agents SDK 1.8 (agents-hosting)",
            Self::Teams => "Teams SDK 2.1 (teams.apps)",
            Self::Botbuilder => "botbuilder-js 4.23 (archived)",
        }
    }

    fn is_peer(self) -> bool {
        matches!(self, Self::Agents | Self::Teams | Self::Botbuilder)
    }

    fn is_lambda(self) -> bool {
        matches!(self, Self::Lambda | Self::LambdaEmbedded)
    }

    /// The peer's folder under `bench/`.
    fn peer_dir(self) -> Option<&'static str> {
        match self {
            Self::Agents => Some("peer-agents"),
            Self::Teams => Some("peer-teams"),
            Self::Botbuilder => Some("peer-botbuilder"),
            _ => None,
        }
    }

    fn parse(s: &str) -> anyhow::Result<Self> {
        let s = s.trim();
        if s == "peer" {
            return Ok(Self::Botbuilder);
        }
        Self::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .with_context(|| format!("unknown target `{s}` ({})", Self::ALL.map(Self::name).join(", ")))
    }
}

#[derive(Clone, Debug)]
struct Opts {
    targets: Vec<Target>,
    rounds: u32,
    seconds: u64,
    concurrency: usize,
    max_requests: u64,
    tenants: usize,
    users_per_tenant: usize,
    serial: u64,
    pin: bool,
    root: PathBuf,
    json: Option<PathBuf>,
    md: Option<PathBuf>,
    cost_wait_ms: f64,
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
            .unwrap_or_else(|| "devserver,lambda,agents,teams,botbuilder".to_owned())
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
            tenants: num("BENCH_TENANTS", 1_000)?,
            users_per_tenant: num("BENCH_USERS_PER_TENANT", 8)?,
            serial: num("BENCH_SERIAL", 300)?,
            pin: var("BENCH_PIN").as_deref() != Some("0"),
            root: root.canonicalize().unwrap_or(root),
            json: var("BENCH_JSON").map(PathBuf::from),
            md: var("BENCH_MD").map(PathBuf::from),
            cost_wait_ms: num("BENCH_COST_WAIT_MS", 100.0)?,
        })
    }
}

/// One measured run of one target.
#[derive(Clone, Debug, Default)]
struct RunResult {
    target: &'static str,
    round: u32,
    cold_start_ms: f64,
    /// Lambda only: spawn to the first `next` (Lambda's Init Duration), and the first invoke's duration.
    init_ms: f64,
    first_invoke_ms: f64,
    /// Lambda only: a new instance on the state the run left (a known user's message): spawn to first answer,
    /// init, first invoke.
    restart_cold_ms: f64,
    restart_init_ms: f64,
    restart_first_invoke_ms: f64,
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
    moto_cpu: f64,
    relay_cpu: f64,
    fake_cpu: f64,
    loadgen_cpu: f64,
    /// The target's CPU per message in the measured window, µs.
    cpu_us_per_msg: f64,
    /// Lambda only: invoke durations in the measured window (what Lambda bills, before rounding up), ms.
    invoke_p50_ms: f64,
    invoke_p99_ms: f64,
    /// One message at a time: latency p50 and the target's CPU per message (and, for the Lambda, the invoke's
    /// duration p50).
    serial_p50_ms: f64,
    serial_cpu_ms: f64,
    serial_invoke_ms: f64,
    /// Connector requests per measured message (token requests excluded).
    connector_per_msg: f64,
    /// DynamoDB requests per measured message, by operation, and the units they cost (documented rules).
    dynamo_per_msg: BTreeMap<String, f64>,
    write_units_per_msg: f64,
    read_units_per_msg: f64,
    /// The largest DynamoDB request body moto saw (an item over 1 KB costs more write units than counted).
    dynamo_largest_bytes: f64,
    echoes_ok: bool,
    /// A message with a tampered token was refused (not 2xx): authentication is on.
    auth_enforced: bool,
    /// The status the tampered token got.
    forged_status: u16,
    /// Echoes the fake Connector received over the target's whole life (cold start and warm-up included).
    echoes_total: usize,
}

impl RunResult {
    fn json(&self) -> Value {
        json!({
            "target": self.target, "round": self.round, "cold_start_ms": self.cold_start_ms,
            "init_ms": self.init_ms, "first_invoke_ms": self.first_invoke_ms,
            "restart_cold_ms": self.restart_cold_ms, "restart_init_ms": self.restart_init_ms,
            "restart_first_invoke_ms": self.restart_first_invoke_ms,
            "requests": self.requests, "ok": self.ok, "errors": self.errors, "seconds": self.seconds,
            "throughput": self.throughput, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms,
            "peak_rss_mib": self.peak_rss_mib, "emulator_rss_mib": self.emulator_rss_mib,
            "target_cpu": self.target_cpu, "emulator_cpu": self.emulator_cpu, "moto_cpu": self.moto_cpu,
            "relay_cpu": self.relay_cpu, "fake_cpu": self.fake_cpu, "loadgen_cpu": self.loadgen_cpu,
            "cpu_us_per_msg": self.cpu_us_per_msg, "invoke_p50_ms": self.invoke_p50_ms,
            "invoke_p99_ms": self.invoke_p99_ms, "serial_p50_ms": self.serial_p50_ms,
            "serial_cpu_ms": self.serial_cpu_ms, "serial_invoke_ms": self.serial_invoke_ms,
            "connector_per_msg": self.connector_per_msg, "dynamo_per_msg": self.dynamo_per_msg,
            "write_units_per_msg": self.write_units_per_msg, "read_units_per_msg": self.read_units_per_msg,
            "dynamo_largest_bytes": self.dynamo_largest_bytes,
            "echoes_ok": self.echoes_ok, "auth_enforced": self.auth_enforced,
            "forged_status": self.forged_status, "echoes_total": self.echoes_total,
        })
    }
}

/// One user and their 1:1 chat with the bot.
struct User {
    tenant: String,
    id: String,
    name: String,
    aad: String,
    conversation: String,
}

/// The fake Teams service for one run, with what a message needs.
struct World {
    fake: FakeTeams,
    openid: OpenIdServer,
    users: Vec<User>,
}

impl World {
    /// The Entra-shaped issuer the Agents SDK peer is configured for (`<authority>/<tenant>/v2.0`).
    fn entra_issuer(&self) -> String {
        format!("{}/{DEFAULT_TENANT}/v2.0", self.fake.base_url())
    }

    /// The inbound token for `target`: Bot Framework claims, or for the Agents SDK the same claims under the
    /// Entra-shaped issuer (its keys URL for the Bot Framework issuer cannot be pointed anywhere but
    /// login.botframework.com).
    fn claims(&self, target: Target) -> BotClaims {
        let claims = BotClaims::new(&self.fake.app_id(), &self.fake.service_url());
        match target {
            Target::Agents => claims
                .issuer(Some(&self.entra_issuer()))
                .claim("tid", json!(DEFAULT_TENANT))
                .claim("ver", json!("2.0")),
            _ => claims,
        }
    }
}

async fn world(opts: &Opts) -> anyhow::Result<World> {
    let openid = OpenIdServer::new();
    // The Agents SDK fetches keys for an Entra-shaped issuer at `<authority>/<tenant>/discovery/v2.0/keys`.
    let entra_keys = {
        let openid = openid.clone();
        axum::Router::new().route(
            "/{tenant}/discovery/v2.0/keys",
            axum::routing::get(move || {
                let openid = openid.clone();
                async move { axum::Json(openid.jwks()) }
            }),
        )
    };
    let mut builder = FakeTeams::builder()
        .with_router(openid.router())
        .with_router(entra_keys)
        .without_rate_limits();
    let mut users = Vec::new();
    // Ordered so that consecutive messages come from different tenants.
    for u in 0..opts.users_per_tenant {
        for t in 0..opts.tenants {
            let tenant = format!("00000000-0000-0000-0000-{t:012}");
            let i = u * opts.tenants + t;
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
            let conversation = fake.personal_conversation(&tenant, &id).unwrap_or_default();
            User {
                tenant,
                id,
                name,
                aad,
                conversation,
            }
        })
        .collect();
    Ok(World { fake, openid, users })
}

/// A Teams personal message as Teams sends it (shape of tests/e2e/fixtures/message_personal.json).
fn message(world: &World, n: u64, id: &str) -> String {
    let user = &world.users[(n as usize) % world.users.len()];
    let app_id = world.fake.app_id();
    json!({
        "type": "message",
        "id": id,
        "timestamp": "2026-11-21T10:00:00.000Z",
        "localTimestamp": "2026-11-21T11:00:00.000+01:00",
        "serviceUrl": world.fake.service_url(),
        "channelId": "msteams",
        "from": {"id": user.id, "name": user.name, "aadObjectId": user.aad},
        "conversation": {"conversationType": "personal", "tenantId": user.tenant, "id": user.conversation},
        "recipient": {"id": format!("28:{app_id}"), "name": "Teams Bot"},
        "textFormat": "plain",
        "locale": "en-US",
        "text": format!("Hello there number {n} 😀"),
        "entities": [{"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web", "timezone": "Europe/Berlin"}],
        "channelData": {"tenant": {"id": user.tenant}}
    })
    .to_string()
}

fn expected_echo(n: u64) -> String {
    let text = format!("Hello there number {n} 😀");
    format!("You sent {text} which was {} characters", text.chars().count())
}

/// moto_server for one Lambda run (bench/moto_counting.py: one request at a time, counting requests).
struct Moto {
    child: Child,
    endpoint: String,
    /// The client secret's ARN in its Secrets Manager, once [`Moto::set_up`] put it there.
    secret_arn: String,
}

impl Moto {
    /// Starts it on CPU 0 (the AWS side, with the fake and the load generator) and waits until it answers.
    fn start(opts: &Opts, dir: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        let python = opts.root.join(".tools/venv/bin/python");
        let (out, err) = log_file(dir, "moto.log")?;
        let mut cmd = command_on(opts, "0", &python);
        cmd.arg(opts.root.join("bench/moto_counting.py"))
            .args(["127.0.0.1", &port.to_string()])
            .stdout(out)
            .stderr(err);
        let child = cmd
            .spawn()
            .context("spawn moto (bench/run installs it into .tools/venv)")?;
        let mut moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            secret_arn: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while moto.counts().is_err() {
            if Instant::now() > deadline || !matches!(moto.child.try_wait(), Ok(None)) {
                stop(&mut moto.child);
                bail!("moto did not answer on {port}; see {}", dir.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(moto)
    }

    /// Its request counts so far (`GET /bench/counts`), with a plain blocking HTTP/1.0 request.
    fn counts(&self) -> anyhow::Result<Value> {
        use std::io::Read as _;
        let addr = self.endpoint.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(stream, "GET /bench/counts HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).context("no body")?;
        Ok(serde_json::from_str(body)?)
    }

    /// The table as the template declares it, and the client secret in Secrets Manager as the template deploys
    /// it (the function gets only its ARN and reads it at init, as in AWS).
    async fn set_up(&mut self, table: &str, password: &str) -> anyhow::Result<()> {
        use aws_sdk_dynamodb::config::{Credentials, Region};
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version_latest()
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"))
            .build();
        store::DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), table)
            .create_table()
            .await
            .context("create the table on moto")?;
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version_latest()
            .endpoint_url(&self.endpoint)
            .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "testing", "testing", None, None, "bench",
            ))
            .build();
        let created = aws_sdk_secretsmanager::Client::from_conf(config)
            .create_secret()
            .name("bench-app-password")
            .secret_string(password)
            .send()
            .await
            .context("create the secret on moto")?;
        self.secret_arn = created.arn().map(str::to_owned).context("no ARN for the secret")?;
        Ok(())
    }
}

/// Requests per message by operation, and (write units, read units) per message, between two count snapshots.
fn dynamo_per_message(before: &Value, after: &Value, messages: u64) -> (BTreeMap<String, f64>, f64, f64) {
    let delta =
        |path: &str, key: &str| after[path][key].as_f64().unwrap_or(0.0) - before[path][key].as_f64().unwrap_or(0.0);
    let n = messages.max(1) as f64;
    let mut per = BTreeMap::new();
    if let Some(ops) = after["requests"].as_object() {
        for op in ops.keys() {
            let d = delta("requests", op);
            if d > 0.0 {
                per.insert(op.clone(), d / n);
            }
        }
    }
    // Items of TransactWriteItems (Put, Update, Delete, ConditionCheck) and of TransactGetItems (Get).
    let transact_writes: f64 = ["Put", "Update", "Delete", "ConditionCheck"]
        .iter()
        .map(|k| delta("transact_items", k))
        .sum();
    let transact_gets = delta("transact_items", "Get");
    let consistent =
        after["consistent_reads"].as_f64().unwrap_or(0.0) - before["consistent_reads"].as_f64().unwrap_or(0.0);
    let requests: Vec<(&str, f64)> = per.iter().map(|(k, v)| (k.as_str(), v * n)).collect();
    let (w, r) = cost::units(&requests, transact_writes, transact_gets, consistent);
    (per, w / n, r / n)
}

/// A running target: the process to measure, and for the Lambda the emulator, moto and the relay; stopped on drop.
struct Running {
    main: Child,
    emulator: Option<Child>,
    moto: Option<Moto>,
    relay: Option<Relay>,
    relay_rt: Option<tokio::runtime::Runtime>,
    url: String,
    _state_dir: TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        stop(&mut self.main);
        if let Some(e) = self.emulator.as_mut() {
            stop(e);
        }
        if let Some(m) = self.moto.as_mut() {
            stop(&mut m.child);
        }
        if let Some(rt) = self.relay_rt.take() {
            rt.shutdown_background();
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

/// `taskset -c <cpu> <program>` when pinning, else the program; in its own process group.
fn command_on(opts: &Opts, cpu: &str, program: &Path) -> Command {
    let mut cmd = if opts.pin {
        let mut c = Command::new("taskset");
        c.arg("-c").arg(cpu).arg(program);
        c
    } else {
        Command::new(program)
    };
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.stdin(Stdio::null());
    cmd
}

/// The target's side: CPU 1.
fn command(opts: &Opts, program: &Path) -> Command {
    command_on(opts, "1", program)
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

/// The node binary the peers run on: BENCH_NODE, else the Node 22 bench/run installs into bench/node.
fn node_binary(opts: &Opts) -> PathBuf {
    var("BENCH_NODE").map_or_else(|| opts.root.join("bench/node/node_modules/.bin/node"), PathBuf::from)
}

/// Starts a target; answers when the spawn happened (the cold start clock starts just before).
fn start(
    opts: &Opts,
    target: Target,
    round: u32,
    world: &World,
    load_rt: &tokio::runtime::Runtime,
) -> anyhow::Result<(Running, Instant)> {
    let state = TempDir::new(&opts.root, &format!("{}-r{round}", target.name()))?;
    let env = bot_env(world);
    let port = free_port()?;
    let release = opts.root.join("target/release");
    let running = |main, url| Running {
        main,
        emulator: None,
        moto: None,
        relay: None,
        relay_rt: None,
        url,
        _state_dir: TempDir(PathBuf::new()),
    };
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
            let mut r = running(main, format!("http://127.0.0.1:{port}/api/messages"));
            r._state_dir = state;
            Ok((r, t0))
        }
        Target::Agents | Target::Teams | Target::Botbuilder => {
            let dir = target.peer_dir().unwrap_or_default();
            let (out, err) = log_file(&state.0, "peer.log")?;
            let mut cmd = command(opts, &node_binary(opts));
            cmd.arg(opts.root.join("bench").join(dir).join("bot.js"))
                .envs(env)
                .env("PORT", port.to_string())
                .env("NODE_ENV", "production")
                .env("BENCH_AUTHORITY", world.fake.base_url())
                .stdout(out)
                .stderr(err);
            let t0 = Instant::now();
            let main = cmd.spawn().with_context(|| format!("spawn node bench/{dir}/bot.js"))?;
            let mut r = running(main, format!("http://127.0.0.1:{port}/api/messages"));
            r._state_dir = state;
            Ok((r, t0))
        }
        Target::Lambda | Target::LambdaEmbedded => {
            // DynamoDB first (moto, a fresh table and the secret), then the function (emulator, relay, binary).
            let moto = if target == Target::Lambda {
                let mut moto = Moto::start(opts, &state.0)?;
                if let Err(e) = load_rt.block_on(moto.set_up("bench-state", &world.fake.app_password())) {
                    stop(&mut moto.child);
                    return Err(e);
                }
                Some(moto)
            } else {
                None
            };
            let store_file = state_path(&state, target, round);
            let function = match start_function(opts, world, &state.0, moto.as_ref(), &store_file, "") {
                Ok(function) => function,
                Err(e) => {
                    if let Some(mut moto) = moto {
                        stop(&mut moto.child);
                    }
                    return Err(e);
                }
            };
            Ok((
                Running {
                    main: function.main,
                    emulator: Some(function.emulator),
                    moto,
                    relay: Some(function.relay),
                    relay_rt: Some(function.relay_rt),
                    url: function.url,
                    _state_dir: state,
                },
                function.t0,
            ))
        }
    }
}

/// A `messages` function running: the emulator, the relay in front of it, the function binary.
struct Function {
    emulator: Child,
    relay: Relay,
    relay_rt: tokio::runtime::Runtime,
    main: Child,
    url: String,
    t0: Instant,
}

/// Starts cargo-lambda's emulator (runtime API and function URL invokes), the relay in front of it, then the
/// function binary itself (--only-lambda-apis), so its cold start is measured from its own spawn. On DynamoDB when
/// `moto` is given, else on the embedded store at `store_file`.
fn start_function(
    opts: &Opts,
    world: &World,
    dir: &Path,
    moto: Option<&Moto>,
    store_file: &Path,
    suffix: &str,
) -> anyhow::Result<Function> {
    let port = free_port()?;
    let cargo_lambda = opts.root.join(".tools/venv/bin/cargo-lambda");
    let (out, err) = log_file(dir, &format!("emulator{suffix}.log"))?;
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
            bail!("cargo lambda watch did not listen on {port}; see {}", dir.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let relay_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("rt-relay")
        .enable_all()
        .build()?;
    let relay = Relay::start(&relay_rt, std::net::SocketAddr::from(([127, 0, 0, 1], port)))?;
    let (out, err) = log_file(dir, &format!("function{suffix}.log"))?;
    // BENCH_FUNCTION_BIN: another build of the function, or a wrapper (strace, perf) that execs it.
    let bin = var("BENCH_FUNCTION_BIN").map_or_else(|| opts.root.join("target/release/messages"), PathBuf::from);
    let mut cmd = command(opts, &bin);
    let env = bot_env(world);
    match moto {
        // As the template deploys it: the table's name, and the client secret's ARN instead of the secret.
        Some(moto) => cmd
            .envs(env.into_iter().filter(|(k, _)| k != "MICROSOFT_APP_PASSWORD"))
            .envs(e2e::env::dynamo_function_env("bench-state", &moto.endpoint))
            .env("MICROSOFT_APP_PASSWORD_SECRET_ARN", &moto.secret_arn)
            .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &moto.endpoint),
        None => cmd
            .envs(env)
            .env("STATE_STORE", "embedded")
            .env("STATE_PATH", store_file),
    };
    cmd.env("RUST_LOG", "warn")
        .env("AWS_LAMBDA_RUNTIME_API", &relay.runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "messages")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", cost::TEMPLATE_MEMORY_MB.to_string())
        .stdout(out)
        .stderr(err);
    let t0 = Instant::now();
    let main = match cmd.spawn() {
        Ok(main) => main,
        Err(e) => {
            stop(&mut emulator);
            return Err(e).context("spawn the messages function (cargo build --release -p messages)");
        }
    };
    Ok(Function {
        emulator,
        relay,
        relay_rt,
        main,
        // A function started against the bare runtime API (`/.rt`) is the emulator's default function `_`.
        url: format!("http://127.0.0.1:{port}/lambda-url/_/api/messages"),
        t0,
    })
}

/// A new container of the same function on the same state (a cold start in production is mostly this: a known
/// conversation's message reaching a fresh instance): stops the function and its emulator, starts new ones on the
/// same table (or store file), and answers (spawn to first answer, init, first invoke) in ms for message `n` (from
/// a user who has written before) with id `id`.
#[allow(clippy::too_many_arguments)]
fn restart_cold(
    opts: &Opts,
    world: &Arc<World>,
    running: &mut Running,
    store_file: &Path,
    client: &reqwest::Client,
    token: &str,
    load_rt: &tokio::runtime::Runtime,
    n: u64,
    id: &str,
) -> anyhow::Result<(f64, f64, f64)> {
    stop(&mut running.main);
    if let Some(e) = running.emulator.as_mut() {
        stop(e);
    }
    if let Some(rt) = running.relay_rt.take() {
        rt.shutdown_background();
    }
    let dir = running._state_dir.0.clone();
    let function = start_function(opts, world, &dir, running.moto.as_ref(), store_file, "-restart")?;
    running.main = function.main;
    running.emulator = Some(function.emulator);
    running.relay = Some(function.relay.clone());
    running.relay_rt = Some(function.relay_rt);
    running.url.clone_from(&function.url);
    let load = Load {
        url: function.url,
        token: token.to_owned(),
        bodies: world.clone(),
    };
    let t0 = function.t0;
    let cold = load_rt.block_on(async {
        loop {
            let status = post(client, &load, n, id).await;
            if status == 200 {
                return Ok(t0.elapsed());
            }
            if t0.elapsed() > COLD_LIMIT {
                bail!("the restarted function did not answer 200 within {COLD_LIMIT:?} (last status {status})");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })?;
    let relay = &function.relay;
    Ok((
        cold.as_secs_f64() * 1000.0,
        relay
            .first_next()
            .map_or(f64::NAN, |at| at.duration_since(t0).as_secs_f64() * 1000.0),
        relay.first_duration().map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
    ))
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

fn durations_us(durations: &[Duration]) -> Vec<u64> {
    let mut v: Vec<u64> = durations
        .iter()
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .collect();
    v.sort_unstable();
    v
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

/// CPU of every side at one moment.
#[derive(Clone, Copy, Default)]
struct Cpu {
    target: Duration,
    emulator: Duration,
    moto: Duration,
    relay: Duration,
    fake: Duration,
    loadgen: Duration,
}

impl Cpu {
    fn now(running: &Running) -> Self {
        Self {
            target: tree_cpu(running.main.id()),
            emulator: running.emulator.as_ref().map(|e| tree_cpu(e.id())).unwrap_or_default(),
            moto: running
                .moto
                .as_ref()
                .map(|m| tree_cpu(m.child.id()))
                .unwrap_or_default(),
            relay: procfs::own_threads_cpu("rt-relay"),
            fake: procfs::own_threads_cpu("fake-teams"),
            loadgen: procfs::own_threads_cpu("loadgen"),
        }
    }

    fn since(self, before: Self) -> Self {
        Self {
            target: self.target.saturating_sub(before.target),
            emulator: self.emulator.saturating_sub(before.emulator),
            moto: self.moto.saturating_sub(before.moto),
            relay: self.relay.saturating_sub(before.relay),
            fake: self.fake.saturating_sub(before.fake),
            loadgen: self.loadgen.saturating_sub(before.loadgen),
        }
    }
}

#[allow(clippy::too_many_lines)]
fn run_one(
    opts: &Opts,
    target: Target,
    round: u32,
    fake_rt: &tokio::runtime::Runtime,
    load_rt: &tokio::runtime::Runtime,
) -> anyhow::Result<RunResult> {
    let world = Arc::new(fake_rt.block_on(world(opts))?);
    let claims = world.claims(target);
    let token = world.openid.sign(&claims.to_json()).context("sign the inbound token")?;
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
    let (mut running, t0) = start(opts, target, round, &world, load_rt)?;
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
                    "{} did not answer 200 within {COLD_LIMIT:?} (last status {status}); see bench/out/logs/{prefix}",
                    target.name()
                );
            }
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })?;
    let (init_ms, first_invoke_ms) = running.relay.as_ref().map_or((f64::NAN, f64::NAN), |relay| {
        (
            relay
                .first_next()
                .map_or(f64::NAN, |at| at.duration_since(t0).as_secs_f64() * 1000.0),
            relay.first_duration().map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
        )
    });

    // Authentication is on: the same token with its payload changed (signature no longer matches) is refused.
    let forged = Load {
        url: load.url.clone(),
        token: fake_teams::openid::tamper_payload(
            &load.token,
            &claims.clone().claim("bench", json!("forged")).to_json(),
        ),
        bodies: world.clone(),
    };
    let forged_status = load_rt.block_on(post(&client, &forged, 0, &format!("{prefix}-forged")));
    let auth_enforced = !(200..300).contains(&forged_status) && forged_status != 0;

    let next = Arc::new(AtomicU64::new(1));
    // Priming: every user says hello once before anything is measured, so the measured messages are the steady
    // state of a running bot (known users: no first-contact welcome, which our bot sends and the peers don't).
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

    let cpu0 = Cpu::now(&running);
    let counts0 = running.moto.as_ref().map(Moto::counts).transpose()?;
    let calls0 = world.fake.calls().len();
    let first_measured = next.load(Ordering::Relaxed);
    let window_start = Instant::now();
    let window = load_rt.block_on(run_load(
        &client,
        load.clone(),
        opts.concurrency,
        Duration::from_secs(opts.seconds),
        opts.max_requests,
        &prefix,
        next.clone(),
    ));
    let window_end = Instant::now();
    let cpu = Cpu::now(&running).since(cpu0);
    let counts1 = running.moto.as_ref().map(Moto::counts).transpose()?;
    let last_measured = next.load(Ordering::Relaxed);
    let invokes = running.relay.as_ref().map_or_else(Vec::new, |r| {
        durations_us(&r.durations_between(window_start, window_end))
    });
    let calls = world.fake.calls();
    let connector_calls = calls[calls0.min(calls.len())..]
        .iter()
        .filter(|c| c.route != Route::Token && c.at >= window_start && c.at <= window_end)
        .count();
    let (dynamo_per_msg, write_units_per_msg, read_units_per_msg) = match (&counts0, &counts1) {
        (Some(a), Some(b)) => dynamo_per_message(a, b, window.ok),
        _ => (BTreeMap::new(), f64::NAN, f64::NAN),
    };

    // One message at a time: what one Lambda instance (or one request on an idle server) sees.
    let serial_cpu0 = tree_cpu(running.main.id());
    let serial_start = Instant::now();
    let serial = load_rt.block_on(run_load(
        &client,
        load.clone(),
        1,
        Duration::from_secs(30),
        opts.serial,
        &format!("{prefix}-serial"),
        next.clone(),
    ));
    let serial_end = Instant::now();
    let serial_cpu = tree_cpu(running.main.id()).saturating_sub(serial_cpu0);
    let serial_invokes = running.relay.as_ref().map_or_else(Vec::new, |r| {
        durations_us(&r.durations_between(serial_start, serial_end))
    });

    let peak = tree_peak_rss(running.main.id());
    let emulator_peak = running.emulator.as_ref().map_or(0, |e| tree_peak_rss(e.id()));

    // The Lambda again from cold, on the state this run left: a known user's message to a new instance.
    let (restart_cold_ms, restart_init_ms, restart_first_invoke_ms) = if target.is_lambda() {
        let store_file = state_path(&running._state_dir, target, round);
        restart_cold(
            opts,
            &world,
            &mut running,
            &store_file,
            &client,
            &load.token,
            load_rt,
            1,
            &format!("{prefix}-restart"),
        )
        .unwrap_or_else(|e| {
            println!("{:<15} round {round} | restart from cold FAILED: {e:#}", target.name());
            (f64::NAN, f64::NAN, f64::NAN)
        })
    } else if target.is_peer() {
        // The peers keep no state: a known user's message to a new instance is their cold start.
        (cold.as_secs_f64() * 1000.0, f64::NAN, f64::NAN)
    } else {
        (f64::NAN, f64::NAN, f64::NAN)
    };

    // Every answered message was echoed to the fake Connector with the right words (a sample of the measured
    // ones, by text: the Teams SDK sends its answer as a new activity rather than a reply).
    let replies: Vec<_> = calls
        .iter()
        .filter(|c| matches!(c.route, Route::ReplyToActivity | Route::SendToConversation))
        .filter(|c| c.status == 200 || c.status == 201)
        .collect();
    let texts: HashSet<&str> = replies
        .iter()
        .filter_map(|c| c.body.as_ref()?.get("text")?.as_str())
        .collect();
    let sample: Vec<u64> = (first_measured..last_measured).step_by(97).take(200).collect();
    let answered_in_window = calls[calls0.min(calls.len())..]
        .iter()
        .filter(|c| matches!(c.route, Route::ReplyToActivity | Route::SendToConversation))
        .count() as u64;
    // A sampled message may have been cut off by the window's end (not answered): allow a handful.
    let missing = sample
        .iter()
        .filter(|n| !texts.contains(expected_echo(**n).as_str()))
        .count() as u64;
    let echoes_ok = !sample.is_empty() && missing <= window.errors + 1 && answered_in_window >= window.ok;
    let echoes_total = replies.len();
    drop(running);
    if let Some(path) = outside_state(target, round) {
        let _ = std::fs::remove_file(path);
    }
    let wall = window.elapsed;
    let serial_n = serial.ok.max(1) as f64;
    Ok(RunResult {
        target: target.name(),
        round,
        cold_start_ms: cold.as_secs_f64() * 1000.0,
        init_ms,
        first_invoke_ms,
        restart_cold_ms,
        restart_init_ms,
        restart_first_invoke_ms,
        requests: window.ok + window.errors,
        ok: window.ok,
        errors: window.errors,
        seconds: wall.as_secs_f64(),
        throughput: window.ok as f64 / wall.as_secs_f64().max(1e-9),
        p50_ms: percentile(&window.latencies_us, 0.50),
        p99_ms: percentile(&window.latencies_us, 0.99),
        peak_rss_mib: mib(peak),
        emulator_rss_mib: mib(emulator_peak),
        target_cpu: share(cpu.target, wall),
        emulator_cpu: share(cpu.emulator, wall),
        moto_cpu: share(cpu.moto, wall),
        relay_cpu: share(cpu.relay, wall),
        fake_cpu: share(cpu.fake, wall),
        loadgen_cpu: share(cpu.loadgen, wall),
        cpu_us_per_msg: cpu.target.as_secs_f64() * 1e6 / window.ok.max(1) as f64,
        invoke_p50_ms: percentile(&invokes, 0.50),
        invoke_p99_ms: percentile(&invokes, 0.99),
        serial_p50_ms: percentile(&serial.latencies_us, 0.50),
        serial_cpu_ms: serial_cpu.as_secs_f64() * 1000.0 / serial_n,
        serial_invoke_ms: percentile(&serial_invokes, 0.50),
        connector_per_msg: connector_calls as f64 / window.ok.max(1) as f64,
        dynamo_per_msg,
        write_units_per_msg,
        read_units_per_msg,
        dynamo_largest_bytes: counts1
            .as_ref()
            .and_then(|c| c["largest_request_bytes"].as_f64())
            .unwrap_or(f64::NAN),
        echoes_ok,
        auth_enforced,
        forged_status,
        echoes_total,
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
    let lambda = if r.init_ms.is_finite() {
        format!(
            " (init {:.1} ms, first invoke {:.1} ms; known user on a new instance {:.1} = {:.1} + {:.1} ms) | invoke p50 {:.2} ms p99 {:.2} ms",
            r.init_ms,
            r.first_invoke_ms,
            r.restart_cold_ms,
            r.restart_init_ms,
            r.restart_first_invoke_ms,
            r.invoke_p50_ms,
            r.invoke_p99_ms
        )
    } else {
        String::new()
    };
    let dynamo = if r.dynamo_per_msg.is_empty() {
        String::new()
    } else {
        format!(
            " | DynamoDB/msg {} = {:.2} WRU {:.2} RRU (largest request {:.0} bytes)",
            r.dynamo_per_msg
                .iter()
                .map(|(k, v)| format!("{k} {v:.2}"))
                .collect::<Vec<_>>()
                .join(", "),
            r.write_units_per_msg,
            r.read_units_per_msg,
            r.dynamo_largest_bytes
        )
    };
    println!(
        "{:<15} round {} | cold {:>7.1} ms{lambda} | {:>7} ok {:>4} err in {:>5.1} s | {:>6.0} msg/s | p50 {:>6.2} ms p99 {:>7.2} ms | peak RSS {:>6.1} MiB{} | CPU target {:>3.0}% ({:.0} µs/msg){}{}{} fake {:>3.0}% loadgen {:>3.0}% | one at a time p50 {:.2} ms, {:.3} ms CPU | Connector {:.2}/msg{dynamo} | echoes {} | tampered token {} {}",
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
        r.cpu_us_per_msg,
        if r.emulator_cpu > 0.0 {
            format!(" emulator {:>3.0}%", r.emulator_cpu * 100.0)
        } else {
            String::new()
        },
        if r.moto_cpu > 0.0 {
            format!(" moto {:>3.0}%", r.moto_cpu * 100.0)
        } else {
            String::new()
        },
        if r.relay_cpu > 0.0 {
            format!(" relay {:>3.0}%", r.relay_cpu * 100.0)
        } else {
            String::new()
        },
        r.fake_cpu * 100.0,
        r.loadgen_cpu * 100.0,
        r.serial_p50_ms,
        r.serial_cpu_ms,
        r.connector_per_msg,
        if r.echoes_ok { "ok" } else { "MISMATCH" },
        if r.auth_enforced { "refused" } else { "ACCEPTED" },
        r.forged_status
    );
}

fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        "—".to_owned()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Which way is better for a figure compared with the best peer.
#[derive(Clone, Copy, PartialEq)]
enum Better {
    Higher,
    Lower,
    /// Not compared.
    None,
}

type Metric = (&'static str, Better, fn(&RunResult) -> f64);

const METRICS: [Metric; 21] = [
    ("throughput (msg/s)", Better::Higher, |r| r.throughput),
    ("p50 latency (ms)", Better::Lower, |r| r.p50_ms),
    ("p99 latency (ms)", Better::Lower, |r| r.p99_ms),
    ("peak RSS (MiB)", Better::Lower, |r| r.peak_rss_mib),
    ("cold start, spawn to first answer (ms)", Better::Lower, |r| {
        r.cold_start_ms
    }),
    ("Lambda init duration (ms)", Better::None, |r| r.init_ms),
    ("Lambda first invoke (ms)", Better::None, |r| r.first_invoke_ms),
    (
        "cold start, a known user's message to a new instance (ms)",
        Better::Lower,
        |r| r.restart_cold_ms,
    ),
    ("— of which init (ms)", Better::None, |r| r.restart_init_ms),
    ("— of which first invoke (ms)", Better::None, |r| {
        r.restart_first_invoke_ms
    }),
    ("Lambda invoke p50 / p99 in the window (ms)", Better::None, |r| {
        r.invoke_p50_ms
    }),
    ("one at a time: latency p50 (ms)", Better::Lower, |r| r.serial_p50_ms),
    ("one at a time: CPU per message (ms)", Better::Lower, |r| {
        r.serial_cpu_ms
    }),
    ("target CPU (cores)", Better::None, |r| r.target_cpu),
    ("target CPU per message under load (µs)", Better::Lower, |r| {
        r.cpu_us_per_msg
    }),
    ("emulator CPU (cores)", Better::None, |r| r.emulator_cpu),
    ("moto (DynamoDB) CPU (cores)", Better::None, |r| r.moto_cpu),
    ("runtime API relay CPU (cores)", Better::None, |r| r.relay_cpu),
    ("fake Teams CPU (cores)", Better::None, |r| r.fake_cpu),
    ("load generator CPU (cores)", Better::None, |r| r.loadgen_cpu),
    ("Connector requests per message", Better::None, |r| r.connector_per_msg),
];

fn summary(opts: &Opts, results: &[RunResult]) -> String {
    let ran: Vec<Target> = opts
        .targets
        .iter()
        .copied()
        .filter(|t| results.iter().any(|r| r.target == t.name()))
        .collect();
    let med =
        |t: Target, f: fn(&RunResult) -> f64| median(results.iter().filter(|r| r.target == t.name()).map(f).collect());
    let peers: Vec<Target> = ran.iter().copied().filter(|t| t.is_peer()).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Medians of {} rounds; ours / the best peer on that figure in parentheses. Load: {} 1:1 conversations in {} tenants (every user primed once), unique activity ids, {} s measured after a {} s warm-up, concurrency {}; then {} messages one at a time.",
        opts.rounds,
        opts.tenants * opts.users_per_tenant,
        opts.tenants,
        opts.seconds,
        WARMUP.as_secs(),
        opts.concurrency,
        opts.serial
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| metric | {} |",
        ran.iter().map(|t| t.label()).collect::<Vec<_>>().join(" | ")
    );
    let _ = writeln!(out, "| --- |{}", " --- |".repeat(ran.len()));
    for (name, better, f) in METRICS {
        let best = peers
            .iter()
            .map(|&p| med(p, f))
            .filter(|v| v.is_finite() && *v > 0.0)
            .reduce(|a, b| match better {
                Better::Higher => a.max(b),
                _ => a.min(b),
            });
        let cells: Vec<String> = ran
            .iter()
            .map(|&t| {
                let v = med(t, f);
                let mut cell = fmt_num(v);
                if name.starts_with("Lambda invoke") && v.is_finite() {
                    cell = format!("{cell} / {}", fmt_num(med(t, |r| r.invoke_p99_ms)));
                }
                if let (false, Some(best), true) = (t.is_peer(), best, better != Better::None && v.is_finite()) {
                    cell = format!("{cell} ({:.2}x)", v / best);
                }
                cell
            })
            .collect();
        if cells.iter().all(|c| c == "—") {
            continue;
        }
        let _ = writeln!(out, "| {name} | {} |", cells.join(" | "));
    }
    let dynamo: Vec<String> = ran
        .iter()
        .map(|&t| {
            let Some(r) = results
                .iter()
                .rfind(|r| r.target == t.name() && !r.dynamo_per_msg.is_empty())
            else {
                return "—".to_owned();
            };
            format!(
                "{} = {:.2} WRU + {:.2} RRU (largest request {:.0} bytes)",
                r.dynamo_per_msg
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.2}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                med(t, |r| r.write_units_per_msg),
                med(t, |r| r.read_units_per_msg),
                med(t, |r| r.dynamo_largest_bytes)
            )
        })
        .collect();
    if dynamo.iter().any(|c| c != "—") {
        let _ = writeln!(
            out,
            "| DynamoDB requests per message (units by the documented rules, items ≤ 1 KB) | {} |",
            dynamo.join(" | ")
        );
    }
    let tampered: Vec<String> = ran
        .iter()
        .map(|&t| {
            let statuses: Vec<String> = results
                .iter()
                .filter(|r| r.target == t.name())
                .map(|r| r.forged_status.to_string())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            statuses.join(", ")
        })
        .collect();
    let _ = writeln!(out, "| answer to a tampered token | {} |", tampered.join(" | "));
    let _ = writeln!(out);
    let rounds: Vec<String> = ran
        .iter()
        .map(|&t| {
            let v: Vec<String> = results
                .iter()
                .filter(|r| r.target == t.name())
                .map(|r| format!("{:.0}", r.throughput))
                .collect();
            format!("{} {}", t.name(), v.join(" / "))
        })
        .collect();
    let _ = writeln!(out, "Rounds (msg/s): {}.", rounds.join("; "));
    let bad = results
        .iter()
        .filter(|r| !r.echoes_ok || !r.auth_enforced || r.errors > 0)
        .count();
    let _ = writeln!(
        out,
        "Runs with errors, wrong echoes or a tampered token accepted: {bad} of {} (errors = non-200 answers or transport errors).",
        results.len()
    );
    let _ = writeln!(out);
    out.push_str(&cost_tables(opts, &ran, results));
    out
}

/// Cost per million messages on Lambda for each target, from its one-at-a-time figures.
fn cost_tables(opts: &Opts, ran: &[Target], results: &[RunResult]) -> String {
    let med =
        |t: Target, f: fn(&RunResult) -> f64| median(results.iter().filter(|r| r.target == t.name()).map(f).collect());
    let mut out = String::new();
    let rows: Vec<(Target, PerMessage, u32)> = ran
        .iter()
        .filter(|t| **t != Target::Devserver && **t != Target::LambdaEmbedded)
        .map(|&t| {
            // A Lambda invoke's own duration where the relay saw it; for the Node peers, the latency of one
            // message at a time on an idle server (HTTP parsing included, which Lambda's runtime replaces).
            let duration = if t.is_lambda() {
                med(t, |r| r.serial_invoke_ms)
            } else {
                med(t, |r| r.serial_p50_ms)
            };
            let (writes, reads) = if t.is_lambda() {
                (med(t, |r| r.write_units_per_msg), med(t, |r| r.read_units_per_msg))
            } else {
                (0.0, 0.0)
            };
            let work = PerMessage {
                cpu_ms: med(t, |r| r.serial_cpu_ms),
                duration_ms: duration,
                write_units: if writes.is_finite() { writes } else { 0.0 },
                read_units: if reads.is_finite() { reads } else { 0.0 },
            };
            // Ours at the template's memory; a Node peer at the smallest setting with room for 1.5x its peak RSS.
            let memory = if t.is_lambda() {
                cost::TEMPLATE_MEMORY_MB
            } else {
                cost::memory_for(med(t, |r| r.peak_rss_mib))
            };
            (t, work, memory)
        })
        .collect();
    if rows.is_empty() {
        return out;
    }
    for (title, wait) in [
        ("as measured (loopback Connector, moto)", 0.0),
        (
            &*format!(
                "with {} ms more waiting per message (the Connector reply over the internet)",
                opts.cost_wait_ms
            ),
            opts.cost_wait_ms,
        ),
    ] {
        let _ = writeln!(
            out,
            "Cost per million messages on Lambda (arm64, us-east-1 list prices, bench/src/cost.rs), {title}:"
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| | memory | CPU / duration per message (ms) | billed ms | compute | Lambda requests | DynamoDB | total with HTTP API | total with function URL |"
        );
        let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for (t, work, memory) in &rows {
            let m = cost::per_million(*work, *memory, wait);
            let _ = writeln!(
                out,
                "| {} | {} MB | {:.2} / {:.2} | {:.0} | ${:.3} | ${:.2} | ${:.3} | ${:.2} | ${:.2} |",
                t.label(),
                memory,
                work.cpu_ms,
                work.duration_ms,
                m.billed_ms,
                m.compute,
                m.requests,
                m.dynamodb,
                m.with_http_api(),
                m.with_function_url()
            );
        }
        let _ = writeln!(out);
    }
    out
}

fn main() -> anyhow::Result<()> {
    let opts = Opts::from_env()?;
    println!(
        "webhook benchmark: targets {:?}, {} rounds, {} s per run (+{} s warm-up), concurrency {}, {} conversations in {} tenants, at most {} requests per run, {}",
        opts.targets.iter().map(|t| t.name()).collect::<Vec<_>>(),
        opts.rounds,
        opts.seconds,
        WARMUP.as_secs(),
        opts.concurrency,
        opts.tenants * opts.users_per_tenant,
        opts.tenants,
        opts.max_requests,
        if opts.pin {
            "target pinned to CPU 1, fake service + load generator + moto on CPU 0"
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
                Err(e) => println!("{:<15} round {round} | FAILED: {e:#}", target.name()),
            }
        }
    }
    let table = summary(&opts, &results);
    println!();
    print!("{table}");
    if let Some(path) = &opts.md {
        std::fs::write(path, &table).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

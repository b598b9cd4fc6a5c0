//! Which real local services the tests can use, and the skip-or-fail rule: a missing service prints
//! `skipped: ...` and the test returns, unless `REQUIRE_REAL_SERVICES=1` (set by `scripts/test`), which fails it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Whether missing services must fail the test (`REQUIRE_REAL_SERVICES=1`).
#[must_use]
pub fn real_services_required() -> bool {
    std::env::var("REQUIRE_REAL_SERVICES").as_deref() == Ok("1")
}

/// Reports a missing service: panics when [`real_services_required`], else prints `skipped: <test>: <why>`.
///
/// # Panics
/// When `REQUIRE_REAL_SERVICES=1`.
pub fn skip(test: &str, why: &str) {
    assert!(!real_services_required(), "{test}: {why}, but REQUIRE_REAL_SERVICES=1");
    println!("skipped: {test}: {why}");
}

/// The repository root (the workspace holding this crate).
#[must_use]
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .map_or_else(|| manifest.to_path_buf(), Path::to_path_buf)
}

/// The local DynamoDB endpoint (`AWS_ENDPOINT_URL_DYNAMODB`), if set.
#[must_use]
pub fn dynamo_endpoint() -> Option<String> {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .ok()
        .filter(|e| !e.trim().is_empty())
}

/// The local Secrets Manager endpoint (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, moto in `scripts/test`). When it is
/// not set it prints the skip line (or fails, see [`skip`]) and answers `None`.
#[must_use]
pub fn secrets_endpoint(test: &str) -> Option<String> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_SECRETS_MANAGER")
        .ok()
        .filter(|e| !e.trim().is_empty());
    if endpoint.is_none() {
        skip(
            test,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER is not set (scripts/test points it at moto_server)",
        );
    }
    endpoint
}

/// The folder holding the `cargo-lambda` executable: the first on `PATH`, else the project's venv
/// (`.tools/venv/bin`, installed by `scripts/test`).
#[must_use]
pub fn cargo_lambda_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(std::iter::once(workspace_root().join(".tools/venv/bin")))
        .find(|dir| dir.join("cargo-lambda").is_file())
}

/// What a test under cargo-lambda's emulator needs: moto's endpoint and the folder holding `cargo-lambda`.
/// When either is missing it prints the skip line (or fails, see [`skip`]) and answers `None`.
#[must_use]
pub fn lambda_prerequisites(test: &str) -> Option<(String, PathBuf)> {
    let Some(endpoint) = dynamo_endpoint() else {
        skip(
            test,
            "AWS_ENDPOINT_URL_DYNAMODB is not set (start moto_server, see scripts/test)",
        );
        return None;
    };
    let Some(cargo_lambda_dir) = cargo_lambda_dir() else {
        skip(
            test,
            "cargo-lambda is neither on PATH nor in .tools/venv/bin (scripts/test installs it)",
        );
        return None;
    };
    Some((endpoint, cargo_lambda_dir))
}

/// A loopback port that was free a moment ago.
///
/// # Errors
/// When no port can be bound.
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other test (or earlier run) uses: `<prefix>-<pid>-<nanos>-<n>`.
#[must_use]
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A function's environment for state in the DynamoDB table `table` at `endpoint` (moto), as the template
/// deploys it (`STATE_STORE=dynamodb`, `TABLE_NAME`), with the local AWS SDK settings (region and test
/// credentials from this process's environment when set, no instance metadata lookups) and `RUST_LOG=info`.
#[must_use]
pub fn dynamo_function_env(table: &str, endpoint: &str) -> Vec<(String, String)> {
    let var_or = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    [
        ("STATE_STORE", "dynamodb".to_owned()),
        ("TABLE_NAME", table.to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.to_owned()),
        ("AWS_REGION", var_or("AWS_REGION", "us-east-1")),
        ("AWS_ACCESS_KEY_ID", var_or("AWS_ACCESS_KEY_ID", "testing")),
        ("AWS_SECRET_ACCESS_KEY", var_or("AWS_SECRET_ACCESS_KEY", "testing")),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into()
}

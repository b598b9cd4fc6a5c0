//! What only the devserver needs (the embedded store, `redb`) is not in the Lambda functions' dependency trees, as
//! `cargo lambda build` and `sam build` resolve them (each function on its own, without the devserver's features),
//! while the devserver still has it (so this test can fail). Runs `cargo tree` (no build, offline, locked).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use std::path::Path;
use std::process::Command;

/// `cargo tree -p <package> -e normal -i redb`: the packages through which `package` depends on redb, or `None`
/// when redb is not in its tree.
fn redb_dependents(package: &str) -> Option<String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO"))
        .current_dir(&workspace)
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-i",
            "redb",
            "-p",
            package,
        ])
        .output()
        .expect("run cargo tree");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        assert!(
            stderr.contains("did not match any packages"),
            "cargo tree failed for another reason than redb's absence: {stderr}"
        );
        None
    }
}

#[test]
fn the_lambda_functions_do_not_link_the_embedded_store() {
    for function in ["messages", "welcome", "proactive"] {
        assert_eq!(redb_dependents(function), None, "{function} depends on redb");
    }
}

#[test]
fn the_devserver_has_the_embedded_store() {
    let dependents = redb_dependents("devserver").expect("the devserver depends on redb");
    assert!(
        dependents.contains("store v"),
        "redb reaches the devserver through the store crate: {dependents}"
    );
}

//! A fuzz harness on stable Rust for the three places hostile input reaches first: the webhook body, the
//! `Authorization` header and the mention stripper. Each target in `tests/` runs a bounded number of generated
//! cases inside `cargo test` and many more with `FUZZ_CASES` (see README.md).
//!
//! - [`run`]: the runner: `FUZZ_CASES` / `FUZZ_SEED`, proptest's runner with a fixed seed (so a failure replays
//!   and shrinks), panics caught and counted, one summary line per target.
//! - [`harness`]: the webhook's [`service::App`] in anonymous and verified mode, driven only through
//!   [`service::handle`], and the checks every answer must pass.
//! - [`body`]: webhook bodies: the real activities of `shared/service/tests/fixtures` mutated (fields deleted,
//!   duplicated, retyped, nested deep, huge strings, unicode edge cases, lone surrogates, out-of-range numbers,
//!   truncation), plus random bytes and random JSON.
//! - [`words`]: the edge-case strings and the values the schema gives meaning to.

pub mod body;
pub mod harness;
pub mod run;
pub mod words;

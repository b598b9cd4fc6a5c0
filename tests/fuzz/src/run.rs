//! The runner: how many cases (`FUZZ_CASES`), which seed (`FUZZ_SEED`, printed so a failure replays), proptest's
//! [`TestRunner`] with that seed and no persistence file, panics caught and counted as crashes, and one summary
//! line per target: `FUZZ <target>: <n> cases, <c> crashes, <w> wrong answers (FUZZ_SEED=<seed>)`.
//!
//! A run stops at the first failing case, as libFuzzer does; proptest then shrinks it to a minimal input, which the
//! summary prints with the failure.

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How a failing case failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The code under test (or the harness) panicked.
    Crash,
    /// An assertion about the answer failed.
    WrongAnswer,
}

/// One fuzz target's settings.
#[derive(Clone, Debug)]
pub struct Target {
    name: &'static str,
    cases: u32,
    seed: u64,
}

/// What a run found.
#[derive(Debug)]
pub struct Report {
    name: &'static str,
    seed: u64,
    /// Cases run up to and including the first failure (shrinking steps are not counted).
    pub cases: u64,
    pub crashes: u64,
    pub wrong_answers: u64,
    pub elapsed: Duration,
    /// The first failure, then the minimal input proptest shrank it to.
    pub failure: Option<String>,
}

/// The seed of CI runs (see [`Target::new`]).
pub const CI_SEED: u64 = 20_261_130;

impl Target {
    /// A target running `FUZZ_CASES` cases (else `default_cases`) from `FUZZ_SEED`; without it, [`CI_SEED`] when
    /// `CI` is set (a landing's run is reproducible and cannot fail by the luck of its seed), else one taken from
    /// the clock (each local run explores new inputs).
    #[must_use]
    pub fn new(name: &'static str, default_cases: u32) -> Self {
        let cases = env_u64("FUZZ_CASES").map_or(default_cases, |n| u32::try_from(n).unwrap_or(u32::MAX));
        let seed = env_u64("FUZZ_SEED").unwrap_or_else(|| {
            if std::env::var_os("CI").is_some() {
                return CI_SEED;
            }
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() ^ u64::from(d.subsec_nanos()))
        });
        Self { name, cases, seed }
    }

    /// The number of cases this run generates.
    #[must_use]
    pub fn cases(&self) -> u32 {
        self.cases
    }

    /// The seed (`FUZZ_SEED`).
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Runs `check` on `cases` values of `strategy`. `check` answers `Err(why)` for a wrong answer; a panic in it
    /// is a crash. Stops at the first failure and shrinks it.
    pub fn run<S: Strategy>(&self, strategy: S, check: impl Fn(S::Value) -> Result<(), String>) -> Report {
        let cases = Cell::new(0u64);
        let first: RefCell<Option<(Kind, String)>> = RefCell::new(None);
        let config = Config {
            cases: self.cases,
            rng_seed: RngSeed::Fixed(self.seed),
            failure_persistence: None,
            max_shrink_iters: 1024,
            max_shrink_time: 120_000,
            max_global_rejects: u32::MAX,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        quiet_panics_while_shrinking();
        let started = Instant::now();
        let result = runner.run(&strategy, |value| {
            let outcome = match catch_unwind(AssertUnwindSafe(|| check(value))) {
                Ok(Ok(())) => None,
                Ok(Err(why)) => Some((Kind::WrongAnswer, why)),
                Err(payload) => Some((Kind::Crash, panic_message(payload.as_ref()))),
            };
            let mut first = first.borrow_mut();
            if first.is_none() {
                cases.set(cases.get() + 1);
            }
            match outcome {
                None => Ok(()),
                Some((kind, why)) => {
                    let message = format!("{kind:?}: {why}");
                    if first.is_none() {
                        *first = Some((kind, why));
                        // The first panic was printed; the shrinking steps' ones would only repeat it.
                        SHRINKING.with(|s| s.set(true));
                    }
                    Err(TestCaseError::fail(message))
                }
            }
        });
        let elapsed = started.elapsed();
        SHRINKING.with(|s| s.set(false));
        let first = first.into_inner();
        let (crashes, wrong_answers) = match first.as_ref().map(|(kind, _)| *kind) {
            Some(Kind::Crash) => (1, 0),
            Some(Kind::WrongAnswer) => (0, 1),
            None => (0, 0),
        };
        let failure = match result {
            Ok(()) => None,
            Err(TestError::Fail(reason, minimal)) => {
                let mut text = String::new();
                if let Some((kind, why)) = &first {
                    let _ = writeln!(text, "first failure ({kind:?}): {}", clip(why, 4000));
                }
                let _ = writeln!(text, "shrunk to: {reason}");
                let _ = write!(text, "minimal input: {}", clip(&format!("{minimal:?}"), 4000));
                Some(text)
            }
            Err(TestError::Abort(reason)) => Some(format!("aborted: {reason}")),
        };
        Report {
            name: self.name,
            seed: self.seed,
            cases: cases.get(),
            crashes,
            wrong_answers,
            elapsed,
            failure,
        }
    }
}

impl Report {
    /// Prints the summary line (with `notes` after it) and fails the test if a case failed.
    ///
    /// # Panics
    /// When a case crashed or answered wrongly: the message has the failure, the minimal input and the seed.
    pub fn finish(self, notes: &str) {
        println!(
            "FUZZ {}: {} cases, {} crashes, {} wrong answers in {:.1?} (FUZZ_SEED={})",
            self.name, self.cases, self.crashes, self.wrong_answers, self.elapsed, self.seed
        );
        if !notes.is_empty() {
            println!("  {}", notes.replace('\n', "\n  "));
        }
        if let Some(failure) = self.failure {
            panic!(
                "FUZZ {} failed; replay with FUZZ_SEED={} FUZZ_CASES={}\n{failure}",
                self.name, self.seed, self.cases
            );
        }
    }
}

thread_local! {
    /// Whether this thread is shrinking a failure (its panics are not printed again).
    static SHRINKING: Cell<bool> = const { Cell::new(false) };
}

/// Installs (once) a panic hook that stays quiet on a thread that is shrinking a failure, and otherwise prints as
/// before: every other test's panics keep their message.
fn quiet_panics_while_shrinking() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !SHRINKING.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// The text of a panic payload.
#[must_use]
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

/// At most `max` characters of `text`, with how much was left off.
#[must_use]
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}… ({} more bytes)", &text[..cut], text.len() - cut),
        None => text.to_owned(),
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    let value = value.trim().replace('_', "");
    match value.parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name} must be a whole number, got {value:?}"),
    }
}

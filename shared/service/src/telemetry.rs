//! Logging, as Lambda's logging settings say (docs/decisions `2026-11-30-operations.md`):
//! - format: `AWS_LAMBDA_LOG_FORMAT` (the function's `LoggingConfig.LogFormat`): `JSON` -> one JSON object per line
//!   (with a `level` field, which Lambda's log-level filtering reads), `Text` -> readable text; unset: JSON in
//!   Lambda (`AWS_LAMBDA_FUNCTION_NAME` set), text locally;
//! - level: `RUST_LOG` (default `info`), capped by `AWS_LAMBDA_LOG_LEVEL` (`LoggingConfig.ApplicationLogLevel`:
//!   `TRACE` ... `FATAL`) when set, which is also the default level when `RUST_LOG` is unset. Lambda drops lines
//!   below its level anyway; the cap spares writing them.
//!
//! JSON lines carry the spans they were written in (`spans`: Lambda's invocation with its `requestId`, then the
//! runtime's `activity`, `stream_record`, `notify`, `tick` or `job` span with the ids an operator searches by).
//! The runtime's spans are created at ERROR level so that no level filter drops them: a WARN line keeps its ids at
//! `AWS_LAMBDA_LOG_LEVEL=WARN` (`lambda_runtime`'s invocation span is INFO, so its `requestId` is then absent).
//! Metrics are not logs: they are printed by [`crate::metrics`], whatever the level.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Readable text.
    Text,
}

/// The logging settings read from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// JSON or text lines.
    pub format: LogFormat,
    /// The `RUST_LOG`-style filter.
    pub filter: String,
    /// `AWS_LAMBDA_LOG_LEVEL` as a cap (`FATAL` is `ERROR`; an unknown value is ignored).
    pub cap: Option<LevelFilter>,
}

impl LogSettings {
    /// Reads the settings through `var` (the process environment in [`init`]).
    #[must_use]
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let format = match set("AWS_LAMBDA_LOG_FORMAT") {
            Some(f) if f.eq_ignore_ascii_case("json") => LogFormat::Json,
            Some(f) if f.eq_ignore_ascii_case("text") => LogFormat::Text,
            _ if set("AWS_LAMBDA_FUNCTION_NAME").is_some() => LogFormat::Json,
            _ => LogFormat::Text,
        };
        let cap = set("AWS_LAMBDA_LOG_LEVEL").and_then(|level| match level.to_ascii_uppercase().as_str() {
            "TRACE" => Some(LevelFilter::TRACE),
            "DEBUG" => Some(LevelFilter::DEBUG),
            "INFO" => Some(LevelFilter::INFO),
            "WARN" => Some(LevelFilter::WARN),
            "ERROR" | "FATAL" => Some(LevelFilter::ERROR),
            _ => None,
        });
        let filter = set("RUST_LOG").unwrap_or_else(|| match cap {
            Some(level) => level.to_string(),
            None => "info".to_owned(),
        });
        Self { format, filter, cap }
    }
}

/// Installs the global subscriber once, as [`LogSettings`] read from the environment say. Safe to call more than
/// once (later calls do nothing).
pub fn init() {
    let settings = LogSettings::from_lookup(|name| std::env::var(name).ok());
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let cap = settings.cap.unwrap_or(LevelFilter::TRACE);
    let registry = tracing_subscriber::registry().with(cap).with(filter);
    let result = match settings.format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(false)
                    .with_span_list(true)
                    .with_ansi(false)
                    .without_time(),
            )
            .try_init(),
        LogFormat::Text => registry
            // Colours only on a terminal of ours, never into CloudWatch.
            .with(tracing_subscriber::fmt::layer().with_ansi(std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_none()))
            .try_init(),
    };
    // A second init (tests, several handlers in one process) is not an error worth reporting.
    drop(result);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> LogSettings {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        LogSettings::from_lookup(|name| map.get(name).map(|v| (*v).to_owned()))
    }

    #[test]
    fn lambdas_log_format_and_level_are_honoured() {
        let lambda = [("AWS_LAMBDA_FUNCTION_NAME", "bot-Messages")];
        assert_eq!(settings(&lambda).format, LogFormat::Json, "JSON in Lambda by default");
        assert_eq!(settings(&[]).format, LogFormat::Text, "text locally");
        assert_eq!(
            settings(&[("AWS_LAMBDA_FUNCTION_NAME", "f"), ("AWS_LAMBDA_LOG_FORMAT", "Text")]).format,
            LogFormat::Text
        );
        assert_eq!(settings(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]).format, LogFormat::Json);

        let warn = settings(&[("AWS_LAMBDA_LOG_LEVEL", "WARN")]);
        assert_eq!(warn.cap, Some(LevelFilter::WARN));
        assert_eq!(warn.filter, "warn", "the level is the default filter");
        let debug = settings(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG"), ("RUST_LOG", "info,aws_smithy=warn")]);
        assert_eq!(debug.filter, "info,aws_smithy=warn", "RUST_LOG's directives stay");
        assert_eq!(debug.cap, Some(LevelFilter::DEBUG));
        assert_eq!(
            settings(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]).cap,
            Some(LevelFilter::ERROR)
        );
        assert_eq!(settings(&[("AWS_LAMBDA_LOG_LEVEL", "loud")]).cap, None);
        assert_eq!(settings(&[]).filter, "info");
    }
}

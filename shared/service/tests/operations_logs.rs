#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! One span and one INFO line per handled activity, in the JSON the functions log (issue #17). Alone in its test
//! binary: a thread-local subscriber misses events when other tests of the same binary register the same call
//! sites concurrently without one (tracing caches each call site's interest).

mod operations_support;
use operations_support::*;

use serde_json::Value;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

/// A writer collecting what the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn lines(&self) -> Vec<Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

#[tokio::test]
async fn one_span_and_one_info_line_per_activity_and_reply_failures_at_warn_with_the_ids() {
    let (app, connector) = harness();
    // The JSON format the functions log in (service::telemetry), at INFO, into a buffer.
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_span_list(true)
        .without_time()
        .with_max_level(tracing::Level::INFO)
        .with_writer(captured.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    // The first message of a 1:1 chat also logs its first-contact claim; a steady-state message logs one line.
    assert_eq!(deliver(&app, &message("m0", "hi")).await, 200);
    assert_eq!(captured.lines().len(), 2, "{:#?}", captured.lines());
    captured.0.lock().unwrap().clear();
    assert_eq!(deliver(&app, &message("m1", "hello")).await, 200);
    let lines = captured.lines();
    assert_eq!(lines.len(), 1, "one line for a normal message: {lines:#?}");
    let line = &lines[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["fields"]["message"], "activity handled");
    assert_eq!(line["fields"]["status"], 200);
    assert!(
        line["fields"]["route"].as_str().is_some_and(|r| !r.is_empty()),
        "{line}"
    );
    assert!(line["fields"]["elapsed_ms"].is_u64(), "{line}");
    let span = &line["spans"][0];
    assert_eq!(span["name"], "activity");
    assert_eq!(span["activity_id"], "m1");
    assert_eq!(span["activity_type"], "message");
    assert_eq!(span["conversation_id"], MEGAN);
    assert_eq!(span["tenant_id"], TENANT);
    let size = serde_json::to_string(line).unwrap().len();

    captured.0.lock().unwrap().clear();
    connector.fail_next(transient());
    assert_eq!(deliver(&app, &message("m2", "hello")).await, 200);
    let lines = captured.lines();
    let warn = lines
        .iter()
        .find(|l| l["level"] == "WARN" && l["fields"]["message"] == "connector call failed")
        .unwrap_or_else(|| panic!("a WARN line for the failed reply: {lines:#?}"));
    assert_eq!(warn["spans"][0]["activity_id"], "m2");
    assert_eq!(warn["fields"]["conversation"], MEGAN);
    // Nothing secret or personal: no token, no message text.
    let all = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(!all.contains("hello"), "{all}");
    assert!(!all.to_ascii_lowercase().contains("bearer"), "{all}");
    let _ = writeln!(std::io::stdout(), "log lines per message: 1 ({size} bytes)");
}

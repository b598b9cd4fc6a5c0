#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Fuzz target 1, webhook-body: generated bodies (mutated real activities, random JSON, random bytes) through
//! `service::handle`, in anonymous mode and in verified mode (with a valid token for the body's serviceUrl, so the
//! body is what decides). Every answer: no panic; a status among 200, 400, 401, 403, 413, 503; a 4xx has a
//! reason and called no Connector operation; a body over 256 KiB is a 413 and only such a body is.

use fuzz::body::{Bodies, Recipe, recipe};
use fuzz::harness::{Harness, runtime};
use fuzz::run::{Target, clip};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// Cases per mode in the default `cargo test` run (debug, 2 cores: a few seconds each).
const DEFAULT_CASES: u32 = 3_000;

/// What was seen, for the summary: statuses, and which fixtures reached a 200.
#[derive(Default)]
struct Seen {
    statuses: BTreeMap<u16, u64>,
    accepted_fixtures: BTreeMap<String, u64>,
    /// The first body answered 503, though the in-memory store is never unavailable.
    first_503: Option<String>,
}

impl Seen {
    fn notes(&self, fixtures: usize) -> String {
        let statuses: Vec<String> = self.statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
        let mut notes = format!(
            "statuses: {}; fixtures answered 200: {} of {fixtures}",
            statuses.join(" "),
            self.accepted_fixtures.len()
        );
        if let Some(body) = &self.first_503 {
            notes.push_str(&format!(
                "\nnote: 503 (\"retry later\") from an in-memory store that is never unavailable (README, finding 1); first: {body}"
            ));
        }
        notes
    }
}

fn fuzz(name: &'static str, verified: bool) {
    let target = Target::new(name, DEFAULT_CASES);
    let rt = runtime();
    let harness = if verified {
        rt.block_on(Harness::verified())
    } else {
        Harness::anonymous()
    };
    let bodies = Bodies::new();
    let seen = RefCell::new(Seen::default());
    let report = target.run(recipe(), |recipe: Recipe| {
        let (body, fixture) = bodies.build(&recipe);
        let authorization = verified.then(|| harness.bearer_for_body(&body));
        let answer = rt.block_on(harness.post(authorization.as_deref(), &body));
        {
            let mut seen = seen.borrow_mut();
            *seen.statuses.entry(answer.status).or_default() += 1;
            if answer.status == 503 && seen.first_503.is_none() {
                seen.first_503 = Some(clip(&String::from_utf8_lossy(&body), 600));
            }
            if answer.status == 200
                && let Some(fixture) = fixture
            {
                *seen.accepted_fixtures.entry(fixture.to_owned()).or_default() += 1;
            }
        }
        let oversize = body.len() > service::webhook::MAX_BODY_BYTES;
        let verdict = answer.check().and_then(|()| match (oversize, answer.status == 413) {
            (true, false) => Err(format!(
                "a body of {} bytes answered {}, not 413",
                body.len(),
                answer.status
            )),
            (false, true) => Err(format!(
                "a body of {} bytes (within the limit) answered 413",
                body.len()
            )),
            _ => Ok(()),
        });
        verdict.map_err(|why| {
            format!(
                "{why}\n  fixture: {fixture:?}\n  body ({} bytes): {}",
                body.len(),
                clip(&String::from_utf8_lossy(&body), 2000)
            )
        })
    });
    let notes = seen.borrow().notes(bodies.fixtures().len());
    report.finish(&notes);
}

#[test]
fn webhook_body_anonymous() {
    fuzz("webhook-body (anonymous)", false);
}

#[test]
fn webhook_body_verified() {
    fuzz("webhook-body (verified)", true);
}

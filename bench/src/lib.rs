//! A tiny measuring helper for the benchmarks in `benches/` (harness = false): warm up, run batches, report the
//! median and spread per iteration. Benchmarks print numbers; they never assert on time.

use std::time::{Duration, Instant};

/// What one measurement found, per iteration.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
    pub iterations: u64,
}

/// Measures `f` in `batches` batches of `per_batch` calls (after one warm-up batch) and prints a line.
pub fn measure<T>(name: &str, batches: u32, per_batch: u64, mut f: impl FnMut() -> T) -> Report {
    for _ in 0..per_batch {
        std::hint::black_box(f());
    }
    let mut samples = Vec::with_capacity(batches as usize);
    for _ in 0..batches {
        let start = Instant::now();
        for _ in 0..per_batch {
            std::hint::black_box(f());
        }
        samples.push(start.elapsed() / u32::try_from(per_batch).unwrap_or(u32::MAX));
    }
    samples.sort();
    let report = Report {
        median: samples[samples.len() / 2],
        min: samples[0],
        max: samples[samples.len() - 1],
        iterations: u64::from(batches) * per_batch,
    };
    println!(
        "{name:<48} median {:>10.3?}  min {:>10.3?}  max {:>10.3?}  ({} iterations)",
        report.median, report.min, report.max, report.iterations
    );
    report
}

pub mod cost;
pub mod procfs;
pub mod relay;

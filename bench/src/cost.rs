//! What a million messages cost on AWS, from measured figures and list prices (us-east-1, on-demand, arm64 Lambda).
//! The prices are constants here so the table says exactly what it assumed; `README.md` ("Cost") lists them with
//! their sources.

/// Lambda, arm64, per GB-second (us-east-1, first 7.5 billion GB-s a month).
pub const LAMBDA_ARM_PER_GB_SECOND: f64 = 0.000_013_333_4;
/// Lambda requests, per million.
pub const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
/// API Gateway HTTP API, per million requests (first 300 million a month; each 512 KB counts as one request).
pub const HTTP_API_PER_MILLION: f64 = 1.00;
/// A Lambda function URL: no charge per request beyond the function's own.
pub const FUNCTION_URL_PER_MILLION: f64 = 0.0;
/// DynamoDB on-demand, per million write request units.
pub const DYNAMODB_PER_MILLION_WRITE_UNITS: f64 = 0.625;
/// DynamoDB on-demand, per million read request units.
pub const DYNAMODB_PER_MILLION_READ_UNITS: f64 = 0.125;
/// Lambda gives a function one full vCPU at 1,769 MB (and a proportional share below).
pub const FULL_VCPU_MB: f64 = 1769.0;
/// The `messages` function's memory as `infra/template.yaml` deploys it (Globals: MemorySize).
pub const TEMPLATE_MEMORY_MB: u32 = 256;
/// The Lambda memory settings considered, smallest first.
pub const MEMORY_STEPS_MB: [u32; 7] = [128, 256, 512, 1024, 1536, 2048, 3008];

/// The smallest memory setting with room for 1.5x the measured peak resident memory.
#[must_use]
pub fn memory_for(peak_rss_mib: f64) -> u32 {
    let needed = peak_rss_mib * 1.048_576 * 1.5;
    MEMORY_STEPS_MB
        .into_iter()
        .find(|&mb| f64::from(mb) >= needed)
        .unwrap_or(MEMORY_STEPS_MB[MEMORY_STEPS_MB.len() - 1])
}

/// One message's work, as measured one message at a time on a full core.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PerMessage {
    /// CPU time of the process (user + system), ms.
    pub cpu_ms: f64,
    /// The whole handling time, ms (CPU plus waiting on the network and the store).
    pub duration_ms: f64,
    /// DynamoDB write and read request units.
    pub write_units: f64,
    pub read_units: f64,
}

/// The cost of a million messages, by part, in US dollars.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Million {
    pub memory_mb: u32,
    /// Billed duration of one invoke at that memory, ms (rounded up to the next ms, as Lambda bills).
    pub billed_ms: f64,
    pub compute: f64,
    pub requests: f64,
    pub dynamodb: f64,
    pub http_api: f64,
}

impl Million {
    /// Behind API Gateway's HTTP API.
    #[must_use]
    pub fn with_http_api(&self) -> f64 {
        self.compute + self.requests + self.dynamodb + self.http_api
    }

    /// Behind a Lambda function URL.
    #[must_use]
    pub fn with_function_url(&self) -> f64 {
        self.compute + self.requests + self.dynamodb + FUNCTION_URL_PER_MILLION
    }
}

/// A million messages for a function with `memory_mb`, each doing `work` plus `extra_wait_ms` more waiting
/// (e.g. a real Connector round trip instead of loopback). Below 1,769 MB the CPU part stretches by the share of
/// a vCPU the memory buys; the waiting does not.
#[must_use]
pub fn per_million(work: PerMessage, memory_mb: u32, extra_wait_ms: f64) -> Million {
    let share = (f64::from(memory_mb) / FULL_VCPU_MB).min(1.0);
    let wait = (work.duration_ms - work.cpu_ms).max(0.0) + extra_wait_ms;
    let billed_ms = (work.cpu_ms / share + wait).ceil().max(1.0);
    let gb_seconds = billed_ms / 1000.0 * f64::from(memory_mb) / 1024.0;
    Million {
        memory_mb,
        billed_ms,
        compute: gb_seconds * LAMBDA_ARM_PER_GB_SECOND * 1e6,
        requests: LAMBDA_PER_MILLION_REQUESTS,
        dynamodb: work.write_units * DYNAMODB_PER_MILLION_WRITE_UNITS
            + work.read_units * DYNAMODB_PER_MILLION_READ_UNITS,
        http_api: HTTP_API_PER_MILLION,
    }
}

/// DynamoDB units of a set of requests by the documented rules, items up to 1 KB (writes) and 4 KB (reads): a
/// standard write 1 unit, each item of a `TransactWriteItems` (condition checks included) 2; an eventually
/// consistent read half a unit, a strongly consistent one 1, each item of a `TransactGetItems` 2.
#[must_use]
pub fn units(
    requests: &[(&str, f64)],
    transact_write_items: f64,
    transact_get_items: f64,
    consistent: f64,
) -> (f64, f64) {
    let mut writes = 2.0 * transact_write_items;
    let mut reads = 2.0 * transact_get_items;
    let mut plain_reads = 0.0;
    for &(operation, n) in requests {
        match operation {
            "PutItem" | "UpdateItem" | "DeleteItem" => writes += n,
            "GetItem" | "Query" => plain_reads += n,
            _ => {}
        }
    }
    let consistent = consistent.min(plain_reads);
    reads += consistent + 0.5 * (plain_reads - consistent);
    (writes, reads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_leaves_half_again_the_peak() {
        assert_eq!(memory_for(25.0), 128);
        assert_eq!(memory_for(90.0), 256);
        assert_eq!(memory_for(216.0), 512);
    }

    #[test]
    fn a_transaction_of_two_items_is_four_write_units() {
        assert_eq!(units(&[("TransactWriteItems", 1.0)], 2.0, 0.0, 0.0), (4.0, 0.0));
        assert_eq!(units(&[("PutItem", 1.0), ("GetItem", 2.0)], 0.0, 0.0, 1.0), (1.0, 1.5));
    }

    #[test]
    fn cpu_stretches_below_a_full_vcpu_and_waiting_does_not() {
        let work = PerMessage {
            cpu_ms: 1.0,
            duration_ms: 3.0,
            write_units: 1.0,
            read_units: 0.0,
        };
        let at_full = per_million(work, 1769, 0.0);
        assert!((at_full.billed_ms - 3.0).abs() < 1e-9);
        let small = per_million(work, 128, 0.0);
        // 1 ms of CPU at 128/1769 of a vCPU is ~13.8 ms, plus 2 ms of waiting, billed 16 ms.
        assert!((small.billed_ms - 16.0).abs() < 1e-9);
        assert!((small.dynamodb - 0.625).abs() < 1e-9);
        assert!((small.with_http_api() - small.with_function_url() - 1.0).abs() < 1e-9);
    }
}

//! The retry policy: which answers are retried, how long to wait, and `Retry-After`.

use std::time::{Duration, SystemTime};

/// Bounds of the retry loop. Retried: 412, 429, 502, 504, and failures before the request was sent; for
/// idempotent methods (GET, PUT, DELETE) also timeouts and dropped connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The first backoff; each retry doubles it (before jitter).
    pub base_delay: Duration,
    /// No single wait is longer than this (a longer `Retry-After` ends the retries).
    pub max_delay: Duration,
    /// No retry starts after this much time since the first attempt (waits included).
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            max_total: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    #[must_use]
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The jittered backoff before retry number `retry` (1-based): uniformly in [d/2, d] where
    /// d = min(base * 2^(retry-1), max_delay).
    #[must_use]
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1u32 << retry.saturating_sub(1).min(16));
        let d = exp.min(self.max_delay);
        let half = d / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(fastrand::u64(0..=jitter_ms))
    }

    /// The wait before retry number `retry`, given the server's `Retry-After` if any: never shorter than it.
    #[must_use]
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self.backoff(retry);
        match retry_after {
            Some(ra) => ra.max(backoff.min(ra + Duration::from_millis(250))),
            None => backoff,
        }
    }
}

/// Whether an HTTP status is retried (Teams did not act on the request).
#[must_use]
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 412 | 429 | 502 | 504)
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date (relative to `now`; a past date is zero).
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let date = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let at = SystemTime::from(date);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470); // Wed, 21 Oct 2015 07:27:50 GMT
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("1.5", now), Some(Duration::from_millis(1500)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn retryable_statuses_are_exactly_teams_guidance() {
        for s in [412, 429, 502, 504] {
            assert!(is_retryable_status(s));
        }
        for s in [400, 401, 403, 404, 409, 413, 500, 501, 503] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            max_total: Duration::from_secs(60),
        };
        for _ in 0..100 {
            let b1 = p.backoff(1);
            assert!(
                b1 >= Duration::from_millis(500) && b1 <= Duration::from_secs(1),
                "{b1:?}"
            );
            let b3 = p.backoff(3);
            assert!(b3 >= Duration::from_secs(2) && b3 <= Duration::from_secs(4), "{b3:?}");
            let b9 = p.backoff(9);
            assert!(b9 >= Duration::from_secs(4) && b9 <= Duration::from_secs(8), "{b9:?}");
            assert!(p.delay(1, Some(Duration::from_secs(5))) >= Duration::from_secs(5));
        }
    }
}

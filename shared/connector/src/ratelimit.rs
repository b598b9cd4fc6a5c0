//! Pacing: Teams' per-conversation limits and a per-tenant limit, behind a port.
//!
//! Teams (msteams-docs `bots/how-to/rate-limit.md`) limits each bot per conversation: sends and creates 7 per
//! 1 s, 8 per 2 s, 60 per 30 s, 1800 per hour; member reads 14 per 1 s, 16 per 2 s, 120 per 30 s, 3600 per hour.
//! Per app per tenant about 30-50 requests per second.

use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Which limits a request counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaceClass {
    /// Send, reply, update, delete, create.
    Send,
    /// Member reads (all, paged, one).
    MemberRead,
    /// Anything else (team details, channels): only the per-tenant limit.
    Other,
}

/// What one request is paced by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PaceKey {
    pub class: PaceClass,
    /// The conversation (or, for a create, the user or channel it is created with).
    pub conversation: String,
    /// The tenant when the request names it; otherwise the serviceUrl's host stands in for it.
    pub tenant: String,
}

/// A pacing port: `acquire` returns when one more request for `key` is within every limit.
#[async_trait]
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Waits (asynchronously) until a request for `key` may go, and counts it.
    async fn acquire(&self, key: &PaceKey);
}

/// A limiter that never waits (for tests that exercise the server's own limits).
#[derive(Clone, Copy, Debug, Default)]
pub struct Unlimited;

#[async_trait]
impl RateLimiter for Unlimited {
    async fn acquire(&self, _key: &PaceKey) {}
}

/// `count` requests per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub count: usize,
    pub window: Duration,
}

const fn limit(count: usize, secs: u64) -> Limit {
    Limit {
        count,
        window: Duration::from_secs(secs),
    }
}

/// Teams' per-conversation limits for sends and creates.
pub const SEND_LIMITS: [Limit; 4] = [limit(7, 1), limit(8, 2), limit(60, 30), limit(1800, 3600)];
/// Teams' per-conversation limits for member reads.
pub const MEMBER_READ_LIMITS: [Limit; 4] = [limit(14, 1), limit(16, 2), limit(120, 30), limit(3600, 3600)];

/// Sliding windows over the times of past requests.
#[derive(Debug, Default)]
struct Windows {
    times: VecDeque<Instant>,
}

impl Windows {
    /// How long until one more request fits every limit (zero if now).
    fn wait(&mut self, limits: &[Limit], now: Instant) -> Duration {
        let longest = limits.iter().map(|l| l.window).max().unwrap_or_default();
        while self.times.front().is_some_and(|t| now.duration_since(*t) >= longest) {
            self.times.pop_front();
        }
        let mut wait = Duration::ZERO;
        for l in limits {
            if l.count == 0 {
                continue;
            }
            let in_window = self
                .times
                .iter()
                .rev()
                .take_while(|t| now.duration_since(**t) < l.window)
                .count();
            if in_window >= l.count {
                // The oldest request that must leave the window for one more to fit.
                let idx = self.times.len() - l.count;
                let leaves = self.times[idx] + l.window;
                wait = wait.max(leaves.saturating_duration_since(now));
            }
        }
        wait
    }
}

/// The in-process limiter: Teams' per-conversation limits plus an optional per-tenant requests-per-second limit.
#[derive(Debug)]
pub struct InProcessRateLimiter {
    tenant_limit: Option<Limit>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    conversations: HashMap<(PaceClass, String), Windows>,
    tenants: HashMap<String, Windows>,
    sweep_at: usize,
}

impl InProcessRateLimiter {
    /// Teams' limits, plus `tenant_per_second` requests per second per tenant when given.
    #[must_use]
    pub fn new(tenant_per_second: Option<u32>) -> Self {
        Self {
            tenant_limit: tenant_per_second.map(|n| limit(n as usize, 1)),
            state: Mutex::new(State::default()),
        }
    }

    /// Counts the request and returns zero, or returns how long to wait before asking again.
    fn try_acquire(&self, key: &PaceKey) -> Duration {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let conv_limits: &[Limit] = match key.class {
            PaceClass::Send => &SEND_LIMITS,
            PaceClass::MemberRead => &MEMBER_READ_LIMITS,
            PaceClass::Other => &[],
        };
        let mut wait = Duration::ZERO;
        if !conv_limits.is_empty() {
            let w = state
                .conversations
                .entry((key.class, key.conversation.clone()))
                .or_default();
            wait = wait.max(w.wait(conv_limits, now));
        }
        if let Some(tl) = self.tenant_limit {
            let w = state.tenants.entry(key.tenant.clone()).or_default();
            wait = wait.max(w.wait(&[tl], now));
        }
        if !wait.is_zero() {
            return wait;
        }
        if !conv_limits.is_empty()
            && let Some(w) = state.conversations.get_mut(&(key.class, key.conversation.clone()))
        {
            w.times.push_back(now);
        }
        if self.tenant_limit.is_some()
            && let Some(w) = state.tenants.get_mut(&key.tenant)
        {
            w.times.push_back(now);
        }
        // Keep memory bounded: forget idle keys now and then (amortized: the next sweep waits until the map has
        // doubled since the last one).
        if state.conversations.len() > state.sweep_at.max(10_000) {
            let hour = Duration::from_secs(3600);
            state
                .conversations
                .retain(|_, w| w.times.back().is_some_and(|t| now.duration_since(*t) < hour));
            state
                .tenants
                .retain(|_, w| w.times.back().is_some_and(|t| now.duration_since(*t) < hour));
            state.sweep_at = state.conversations.len() * 2;
        }
        Duration::ZERO
    }
}

impl Default for InProcessRateLimiter {
    fn default() -> Self {
        Self::new(None)
    }
}

#[async_trait]
impl RateLimiter for InProcessRateLimiter {
    async fn acquire(&self, key: &PaceKey) {
        loop {
            let wait = self.try_acquire(key);
            if wait.is_zero() {
                return;
            }
            tracing::debug!(conversation = %key.conversation, ?wait, "pacing");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(class: PaceClass, conv: &str) -> PaceKey {
        PaceKey {
            class,
            conversation: conv.to_owned(),
            tenant: "t1".to_owned(),
        }
    }

    async fn times_of(l: &InProcessRateLimiter, k: &PaceKey, n: usize) -> Vec<Duration> {
        let start = Instant::now();
        let mut out = Vec::new();
        for _ in 0..n {
            l.acquire(k).await;
            out.push(start.elapsed());
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn sends_follow_the_one_and_two_second_windows() {
        let l = InProcessRateLimiter::new(None);
        let t = times_of(&l, &key(PaceClass::Send, "c1"), 9).await;
        // 7 at once, the 8th waits for the 1 s window, the 9th for the 2 s window (8 per 2 s).
        assert!(t[..7].iter().all(|d| d.is_zero()), "{t:?}");
        assert_eq!(t[7], Duration::from_secs(1));
        assert_eq!(t[8], Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn sends_follow_the_thirty_second_window() {
        let l = InProcessRateLimiter::new(None);
        let t = times_of(&l, &key(PaceClass::Send, "c1"), 61).await;
        assert!(t[59] < Duration::from_secs(30), "{:?}", t[59]);
        assert!(t[60] >= Duration::from_secs(30), "{:?}", t[60]);
    }

    #[tokio::test(start_paused = true)]
    async fn conversations_are_independent_and_reads_have_their_own_limits() {
        let l = InProcessRateLimiter::new(None);
        let a = times_of(&l, &key(PaceClass::Send, "a"), 7).await;
        let b = times_of(&l, &key(PaceClass::Send, "b"), 7).await;
        let r = times_of(&l, &key(PaceClass::MemberRead, "a"), 15).await;
        assert!(a.iter().chain(&b).all(|d| d.is_zero()));
        assert!(r[..14].iter().all(|d| d.is_zero()));
        assert_eq!(r[14], Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn tenant_limit_spans_conversations() {
        let l = InProcessRateLimiter::new(Some(3));
        let start = Instant::now();
        for i in 0..4 {
            l.acquire(&key(PaceClass::Send, &format!("c{i}"))).await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn hourly_window_is_enforced() {
        let mut w = Windows::default();
        let start = Instant::now();
        for i in 0..1800u64 {
            w.times.push_back(start + Duration::from_secs(i * 2));
        }
        let now = start + Duration::from_secs(3599);
        assert_eq!(w.wait(&SEND_LIMITS, now), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_keys_are_forgotten() {
        let l = InProcessRateLimiter::new(None);
        for i in 0..10_000 {
            l.acquire(&key(PaceClass::Send, &format!("c{i}"))).await;
        }
        tokio::time::advance(Duration::from_secs(3601)).await;
        l.acquire(&key(PaceClass::Send, "fresh")).await;
        let len = l.state.lock().unwrap().conversations.len();
        assert!(len < 10, "{len}");
    }
}

//! Pacing: Teams' per-conversation limits and a per-tenant limit, behind a port.
//!
//! Teams (msteams-docs `bots/how-to/rate-limit.md`) limits each bot per conversation: sends and creates 7 per
//! 1 s, 8 per 2 s, 60 per 30 s, 1800 per hour; member reads 14 per 1 s, 16 per 2 s, 120 per 30 s, 3600 per hour.
//! Per app per tenant about 30-50 requests per second.

use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
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
    /// The tenant when the request names it.
    pub tenant: Option<String>,
    /// The serviceUrl's host: the tenant's stand-in when neither this request nor an earlier one of the same
    /// conversation named the tenant.
    pub service_host: String,
}

/// A pacing port: `acquire` returns when one more request for `key` is within every limit.
#[async_trait]
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Waits (asynchronously) until a request for `key` may go, and counts it.
    async fn acquire(&self, key: &PaceKey);
}

/// A tenant pace shared by every process sending for the bot (several Lambda instances at once): `pass`
/// returns when one more request of `lane` (a tenant) fits its limit across all of them, one request every
/// `gap`. Called in turn for each of the process's requests of the lane, after its own spacing.
#[async_trait]
pub trait SharedPace: Send + Sync + std::fmt::Debug {
    async fn pass(&self, lane: &str, gap: Duration);
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

/// A tenant's requests leave evenly spaced, `TENANT_MARGIN / limit` seconds apart (limit / 1.03 per second):
/// Teams counts a request when it *arrives*, and the 3% leaves room for ~30 ms of jitter between leaving us and
/// arriving there (50 gaps of 20.6 ms span 1.03 s) before any 1-second window at Teams holds more than the limit.
pub const TENANT_MARGIN: f64 = 1.03;

/// Each per-conversation window is kept this much longer than Teams' own: Teams counts a request when it
/// *arrives*, so a request that left at the very start of a window and arrived late, with the next one leaving
/// at the window's end on time, would put one request too many in Teams' window. 100 ms covers the jitter of a
/// loaded 2-core host (CI saw an arrival bunch past a window on time-exact pacing) for 9% of a burst's rate.
pub const ARRIVAL_MARGIN: Duration = Duration::from_millis(100);

/// How long an idle conversation or tenant is remembered (the longest window is an hour).
const IDLE: Duration = Duration::from_secs(3600);

/// Sliding windows over the times of past requests.
#[derive(Debug, Default)]
struct Windows {
    times: VecDeque<Instant>,
}

impl Windows {
    /// How long until one more request fits every limit (zero if now).
    fn wait(&mut self, limits: &[Limit], now: Instant) -> Duration {
        let longest = limits.iter().map(|l| l.window).max().unwrap_or_default() + ARRIVAL_MARGIN;
        while self.times.front().is_some_and(|t| now.duration_since(*t) >= longest) {
            self.times.pop_front();
        }
        let mut wait = Duration::ZERO;
        for l in limits {
            if l.count == 0 {
                continue;
            }
            let window = l.window + ARRIVAL_MARGIN;
            let in_window = self
                .times
                .iter()
                .rev()
                .take_while(|t| now.duration_since(**t) < window)
                .count();
            if in_window >= l.count {
                // The oldest request that must leave the window for one more to fit.
                let idx = self.times.len() - l.count;
                let leaves = self.times[idx] + window;
                wait = wait.max(leaves.saturating_duration_since(now));
            }
        }
        wait
    }
}

/// One conversation's windows, and the tenant it was last seen in.
#[derive(Debug)]
struct Conversation {
    sends: Windows,
    reads: Windows,
    tenant: Option<String>,
    last_used: Instant,
}

impl Conversation {
    fn new(now: Instant) -> Self {
        Self {
            sends: Windows::default(),
            reads: Windows::default(),
            tenant: None,
            last_used: now,
        }
    }

    fn windows(&mut self, class: PaceClass) -> Option<(&mut Windows, &'static [Limit])> {
        match class {
            PaceClass::Send => Some((&mut self.sends, &SEND_LIMITS)),
            PaceClass::MemberRead => Some((&mut self.reads, &MEMBER_READ_LIMITS)),
            PaceClass::Other => None,
        }
    }
}

/// A tenant's queue: waiters take turns (tokio's mutex is fair, first come first served), each leaving one gap
/// after the one before it actually left.
#[derive(Debug, Default)]
struct Lane {
    last: tokio::sync::Mutex<Option<Instant>>,
}

/// The in-process limiter: Teams' per-conversation limits (sliding windows) plus an optional per-tenant
/// requests-per-second limit (even spacing, first come first served).
#[derive(Debug)]
pub struct InProcessRateLimiter {
    tenant_gap: Option<Duration>,
    state: Mutex<State>,
    /// Other processes' share of each tenant's limit, when they send too.
    shared: Option<Arc<dyn SharedPace>>,
}

#[derive(Debug, Default)]
struct State {
    conversations: HashMap<String, Conversation>,
    lanes: HashMap<String, (Arc<Lane>, Instant)>,
    sweep_at: usize,
}

impl State {
    /// The key's conversation, created on first use, marked used at `now`.
    fn conversation<'a>(
        conversations: &'a mut HashMap<String, Conversation>,
        key: &PaceKey,
        now: Instant,
    ) -> &'a mut Conversation {
        let conv = conversations
            .entry(key.conversation.clone())
            .or_insert_with(|| Conversation::new(now));
        conv.last_used = now;
        conv
    }
}

impl InProcessRateLimiter {
    /// Teams' limits, plus `tenant_per_second` requests per second per tenant when given (spaced
    /// [`TENANT_MARGIN`]` / tenant_per_second` apart).
    #[must_use]
    pub fn new(tenant_per_second: Option<u32>) -> Self {
        Self {
            tenant_gap: tenant_per_second
                .filter(|n| *n > 0)
                .map(|n| Duration::from_secs_f64(TENANT_MARGIN / f64::from(n))),
            state: Mutex::new(State::default()),
            shared: None,
        }
    }

    /// The same limiter, with each tenant's requests also passing `shared` (no effect without a tenant limit).
    #[must_use]
    pub fn with_shared_pace(mut self, shared: Arc<dyn SharedPace>) -> Self {
        self.shared = Some(shared);
        self
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long until the conversation's limits let one more request go (zero if now), and, when it may go now
    /// and a tenant limit is set, the tenant lane it queues in. Learns the conversation's tenant when the key
    /// names it.
    fn check(&self, key: &PaceKey, now: Instant) -> (Duration, Option<(String, Arc<Lane>)>) {
        let mut guard = self.state();
        let state = &mut *guard;
        let conv = State::conversation(&mut state.conversations, key, now);
        if key.tenant.is_some() && conv.tenant != key.tenant {
            conv.tenant.clone_from(&key.tenant);
        }
        let wait = conv
            .windows(key.class)
            .map_or(Duration::ZERO, |(w, limits)| w.wait(limits, now));
        if !wait.is_zero() || self.tenant_gap.is_none() {
            return (wait, None);
        }
        let tenant = conv.tenant.clone().unwrap_or_else(|| key.service_host.clone());
        let lane = state
            .lanes
            .entry(tenant.clone())
            .or_insert_with(|| (Arc::default(), now));
        lane.1 = now;
        (wait, Some((tenant, Arc::clone(&lane.0))))
    }

    /// Counts the request at `now` if the conversation's limits still allow it.
    fn record(&self, key: &PaceKey, now: Instant) -> bool {
        let mut state = self.state();
        let conv = State::conversation(&mut state.conversations, key, now);
        if let Some((w, limits)) = conv.windows(key.class) {
            if !w.wait(limits, now).is_zero() {
                return false;
            }
            w.times.push_back(now);
        }
        // Keep memory bounded: forget idle keys now and then (amortized: the next sweep waits until the map has
        // doubled since the last one).
        if state.conversations.len() > state.sweep_at.max(10_000) {
            state
                .conversations
                .retain(|_, c| now.duration_since(c.last_used) < IDLE);
            state
                .lanes
                .retain(|_, (lane, used)| Arc::strong_count(lane) > 1 || now.duration_since(*used) < IDLE);
            state.sweep_at = state.conversations.len() * 2;
        }
        true
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
            let (wait, lane) = self.check(key, Instant::now());
            if !wait.is_zero() {
                tracing::debug!(conversation = %key.conversation, ?wait, "pacing");
                tokio::time::sleep(wait).await;
                continue;
            }
            let (Some((tenant, lane)), Some(gap)) = (lane, self.tenant_gap) else {
                if self.record(key, Instant::now()) {
                    return;
                }
                continue;
            };
            let mut last = lane.last.lock().await;
            let due = last.map(|t| t + gap);
            if let Some(due) = due {
                tokio::time::sleep_until(due).await;
            }
            if let Some(shared) = &self.shared {
                shared.pass(&tenant, gap).await;
            }
            let now = Instant::now();
            if self.record(key, now) {
                // The next one is due a gap after this one was due, not after it woke: the timer's lateness
                // (a millisecond or so) would otherwise add up and cost ~5% of the rate. After a real stall
                // (half a gap or more) it counts from now, so no burst makes up for it.
                *last = Some(match due {
                    Some(due) if now.saturating_duration_since(due) < gap / 2 => due,
                    _ => now,
                });
                return;
            }
            // The conversation filled up while this request queued: the tenant's next request goes first.
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
            tenant: Some("t1".to_owned()),
            service_host: "smba.example".to_owned(),
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
        // 7 at once, the 8th waits for the 1 s window, the 9th for the 2 s window (8 per 2 s), each window kept
        // ARRIVAL_MARGIN longer than Teams' so a late arrival cannot bunch with an on-time one.
        assert!(t[..7].iter().all(|d| d.is_zero()), "{t:?}");
        assert_eq!(t[7], Duration::from_secs(1) + ARRIVAL_MARGIN);
        assert_eq!(t[8], Duration::from_secs(2) + ARRIVAL_MARGIN);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_arriving_late_by_the_margin_still_keeps_teams_windows() {
        // Teams counts arrivals: let the burst's first seven requests arrive ARRIVAL_MARGIN late (new connections,
        // a busy host) and the later ones on time; no 1 s window may then hold more than 7 and no 2 s window more
        // than 8 (Teams' per-conversation limits). Without the margin the 8th request left exactly 1 s after the
        // first seven and arrived 0.9 s after them.
        let l = InProcessRateLimiter::new(None);
        let mut arrivals = times_of(&l, &key(PaceClass::Send, "c1"), 12).await;
        for early in &mut arrivals[..7] {
            *early += ARRIVAL_MARGIN;
        }
        arrivals.sort();
        for (count, window) in [(7, Duration::from_secs(1)), (8, Duration::from_secs(2))] {
            for (i, start) in arrivals.iter().enumerate() {
                let in_window = arrivals[i..].iter().take_while(|a| **a - *start < window).count();
                assert!(
                    in_window <= count,
                    "{in_window} arrivals within {window:?} of {start:?}: {arrivals:?}"
                );
            }
        }
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
        assert_eq!(r[14], Duration::from_secs(1) + ARRIVAL_MARGIN);
    }

    #[tokio::test(start_paused = true)]
    async fn tenant_requests_are_evenly_spaced_across_conversations() {
        let l = InProcessRateLimiter::new(Some(3));
        let start = Instant::now();
        let mut t = Vec::new();
        for i in 0..4 {
            l.acquire(&key(PaceClass::Send, &format!("c{i}"))).await;
            t.push(start.elapsed());
        }
        let gap = Duration::from_secs_f64(TENANT_MARGIN / 3.0);
        assert_eq!(t[0], Duration::ZERO);
        // Spaced a gap apart on average (each within the timer's millisecond of it).
        for w in t.windows(2) {
            assert!(w[1] - w[0] + Duration::from_millis(1) >= gap, "{t:?}");
        }
        assert!(t[3] >= gap * 3, "{t:?}");
        // No 1-second window holds more than the limit: the 4th leaves after the first one's second is over.
        assert!(t[3] > Duration::from_secs(1), "{t:?}");
    }

    /// What Teams checks: in any 1-second window at most `limit` requests, at ≥ 95% of the limit overall, and
    /// the waiters served in the order they came (nobody starves behind later arrivals).
    #[tokio::test(start_paused = true)]
    async fn a_fan_out_uses_the_tenant_limit_without_exceeding_it_in_any_second() {
        let l = Arc::new(InProcessRateLimiter::new(Some(50)));
        let start = Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..500usize {
            let (l, order) = (Arc::clone(&l), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                l.acquire(&key(PaceClass::Send, &format!("member-{i}"))).await;
                order.lock().unwrap().push((i, start.elapsed()));
            }));
            // Arrivals in order (each task queues before the next is spawned).
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        let times: Vec<Duration> = order.iter().map(|(_, t)| *t).collect();
        for i in 0..times.len() - 50 {
            assert!(
                times[i + 50] - times[i] >= Duration::from_secs(1),
                "51 within a second at {i}"
            );
        }
        let rate = 499.0 / times[499].as_secs_f64();
        assert!(rate >= 0.95 * 50.0, "rate {rate}");
        assert!(order.windows(2).all(|w| w[0].0 < w[1].0), "served out of order");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_without_a_tenant_uses_the_tenant_its_conversation_was_seen_in() {
        let l = InProcessRateLimiter::new(Some(2));
        let start = Instant::now();
        l.acquire(&key(PaceClass::Send, "team-1")).await;
        // A roster read names no tenant; the team's conversation was seen in t1, so it queues behind t1's send.
        let read = PaceKey {
            tenant: None,
            ..key(PaceClass::MemberRead, "team-1")
        };
        l.acquire(&read).await;
        assert!(start.elapsed() >= Duration::from_secs_f64(TENANT_MARGIN / 2.0));
        // An unknown conversation without a tenant goes under the serviceUrl's host: its own lane.
        let other = PaceKey {
            tenant: None,
            ..key(PaceClass::MemberRead, "elsewhere")
        };
        let before = start.elapsed();
        l.acquire(&other).await;
        assert_eq!(start.elapsed(), before);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_tenant_limit_only_the_conversation_limits_apply() {
        let l = InProcessRateLimiter::new(None);
        let start = Instant::now();
        for i in 0..100 {
            l.acquire(&key(PaceClass::Send, &format!("c{i}"))).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn hourly_window_is_enforced() {
        let mut w = Windows::default();
        let start = Instant::now();
        for i in 0..1800u64 {
            w.times.push_back(start + Duration::from_secs(i * 2));
        }
        let now = start + Duration::from_secs(3599);
        assert_eq!(w.wait(&SEND_LIMITS, now), Duration::from_secs(1) + ARRIVAL_MARGIN);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_keys_are_forgotten() {
        let l = InProcessRateLimiter::new(None);
        for i in 0..10_000 {
            l.acquire(&key(PaceClass::Send, &format!("c{i}"))).await;
        }
        tokio::time::advance(Duration::from_secs(3601)).await;
        l.acquire(&key(PaceClass::Send, "fresh")).await;
        let state = l.state.lock().unwrap();
        assert!(state.conversations.len() < 10, "{}", state.conversations.len());
    }
}

//! A tenant's pace across processes, through the state table: time is cut into slots one tenant gap wide and
//! each request claims the next free slot (a conditional put only one process wins), then leaves at the slot's
//! start. Several Lambda instances welcoming or notifying one tenant at once thus share its limit instead of
//! each taking all of it (see docs/decisions/2026-11-21-shared-pacing.md).

use async_trait::async_trait;
use connector::SharedPace;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use store::{ClaimOutcome, Store, Timestamp};
use tokio::time::Instant;

/// How many taken slots one request steps over before it goes anyway (Teams may then answer 429, which the
/// connector retries after `Retry-After`): with a few instances, a request finds a free slot within a few.
const MAX_CLAIMS: usize = 64;

/// [`SharedPace`] over the store's [`store::Pacing`] port.
#[derive(Debug)]
pub struct StorePace {
    store: Arc<dyn Store>,
    /// Wall-clock microseconds at `origin`: slot numbers are wall-clock time, the same in every process (AWS
    /// keeps instance clocks within a millisecond or so; the limiter's 3% margin covers that).
    epoch_micros: u64,
    origin: Instant,
}

impl StorePace {
    #[must_use]
    pub fn new(store: Arc<dyn Store>) -> Self {
        let epoch_micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        Self {
            store,
            epoch_micros,
            origin: Instant::now(),
        }
    }

    /// Wall-clock microseconds now, advanced by tokio's clock (so paused-time tests see it move).
    fn now_micros(&self) -> u64 {
        let elapsed = u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.epoch_micros.saturating_add(elapsed)
    }
}

#[async_trait]
impl SharedPace for StorePace {
    async fn pass(&self, lane: &str, gap: Duration) {
        let width = u64::try_from(gap.as_micros()).unwrap_or(u64::MAX).max(1);
        // The first slot that starts now or later: every request leaves at a slot's start, so any two leave at
        // least one gap apart.
        let mut slot = self.now_micros().div_ceil(width);
        for _ in 0..MAX_CLAIMS {
            match self.store.claim_pace_slot(lane, slot, Timestamp::now()).await {
                Ok(ClaimOutcome::Won) => {
                    let start = slot.saturating_mul(width);
                    let now = self.now_micros();
                    if start > now {
                        tokio::time::sleep(Duration::from_micros(start - now)).await;
                    }
                    return;
                }
                // Another process has it: the next one, unless time has passed it meanwhile.
                Ok(ClaimOutcome::Lost) => slot = (slot + 1).max(self.now_micros().div_ceil(width)),
                Err(e) => {
                    tracing::warn!(error = %e, "shared pacing unavailable: this request is paced by its process only");
                    return;
                }
            }
        }
        tracing::warn!(lane, "no free pace slot after {MAX_CLAIMS} claims: sending anyway");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector::{InProcessRateLimiter, PaceClass, PaceKey, RateLimiter};
    use fake_teams::busiest_second;
    use store::MemoryStore;

    const RATE: u32 = 20;

    fn key(conversation: usize) -> PaceKey {
        PaceKey {
            class: PaceClass::Send,
            conversation: format!("a:conv-{conversation}"),
            tenant: Some("tenant-1".to_owned()),
            service_host: "smba.example".to_owned(),
        }
    }

    /// Two processes sending 30 requests each for one tenant at once; the times they leave, sorted.
    async fn leave_times(first: Arc<InProcessRateLimiter>, second: Arc<InProcessRateLimiter>) -> Vec<Duration> {
        let start = Instant::now();
        let tasks: Vec<_> = (0..60)
            .map(|i| {
                let limiter = Arc::clone(if i % 2 == 0 { &first } else { &second });
                tokio::spawn(async move {
                    limiter.acquire(&key(i)).await;
                    start.elapsed()
                })
            })
            .collect();
        let mut times = Vec::new();
        for task in tasks {
            times.push(task.await.unwrap());
        }
        times.sort();
        times
    }

    #[tokio::test(start_paused = true)]
    async fn two_processes_share_one_tenant_limit() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let process = || {
            let pace = Arc::new(StorePace::new(Arc::clone(&store)));
            Arc::new(InProcessRateLimiter::new(Some(RATE)).with_shared_pace(pace))
        };
        let times = leave_times(process(), process()).await;
        assert_eq!(times.len(), 60);
        assert_eq!(busiest_second(&times), RATE as usize, "{times:?}");
        // And no slower than the limit: 60 requests take about 60 gaps (3.09 s), not twice that.
        assert!(times[59] < Duration::from_secs(4), "{:?}", times[59]);
    }

    #[tokio::test(start_paused = true)]
    async fn without_sharing_two_processes_take_twice_the_limit() {
        // Why the shared pace exists: each process alone keeps the limit, together they double it.
        let process = || Arc::new(InProcessRateLimiter::new(Some(RATE)));
        let times = leave_times(process(), process()).await;
        assert_eq!(busiest_second(&times), 2 * RATE as usize, "{times:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_store_leaves_pacing_to_the_process() {
        // A claim the store refuses (here: an empty lane is invalid) lets the request go at once; the process's
        // own spacing still applies.
        let pace = StorePace::new(Arc::new(MemoryStore::new()));
        let started = Instant::now();
        pace.pass("", Duration::from_millis(50)).await;
        assert!(started.elapsed() < Duration::from_millis(50));
    }
}

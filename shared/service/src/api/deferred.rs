//! Deferred work: what a handler hands on to run after the webhook has answered Teams ([`Context::defer`]), and
//! what the runtime gives the bot's [`crate::api::Bot::on_deferred`] when it runs ([`DeferredWork`]).
//!
//! A deferral is one outbox item (topic [`crate::flows::deferred::TOPIC`]) written to the state store before
//! [`Context::defer`] returns, so it is durable before the webhook answers 200: a Lambda container frozen or
//! stopped right after its answer loses nothing. The item's INSERT on the table's stream reaches the `proactive`
//! function (the devserver: its change feed), which runs the bot's handler with a context addressed to the
//! conversation the work was deferred from (docs/decisions/2026-11-30-long-work.md).
//!
//! Delivery: the handler runs **at least once** (a retried stream record re-runs it), and inside it each send
//! ([`Context::send`], [`Context::reply`], [`Context::send_to`]) is keyed by the work's id and its position in the
//! handler (`deferred:<id>:<n>`), so a re-run does not post again what an earlier run already posted.

use crate::api::{BotError, Context};
use crate::app::App;
use connector::ConnectorError;
use models::{ActivityId, ChannelAccount, ConversationId};
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};
use store::{IdempotencyClaim, SentActivity, Timestamp};

/// The largest `data` a deferral carries, serialized (the same budget as one state value).
pub const MAX_DEFERRED_DATA_BYTES: usize = 64 * 1024;

/// A piece of deferred work as [`crate::api::Bot::on_deferred`] gets it.
#[derive(Clone, Copy, Debug)]
pub struct DeferredWork<'a> {
    /// The work's id, as [`Context::defer`] answered it (unique; the runtime keys the handler's sends by it).
    pub id: &'a str,
    /// The name the handler deferred it under (what to do).
    pub name: &'a str,
    /// The data it was deferred with.
    pub data: &'a Value,
    /// The user whose activity the work was deferred from, when there was one.
    pub requested_by: Option<&'a ChannelAccount>,
    /// When it was deferred.
    pub requested_at: Timestamp,
}

/// Why [`Context::defer`] refused the work (inside [`BotError::Other`]), or why a deferred send waits.
#[derive(Debug, thiserror::Error)]
pub enum DeferError {
    /// The name is empty or longer than 256 bytes.
    #[error("a deferred work's name must be 1 to 256 bytes, not {0}")]
    BadName(usize),
    /// The data is over [`MAX_DEFERRED_DATA_BYTES`].
    #[error("deferred work `{name}`: its data is {bytes} bytes, over the {MAX_DEFERRED_DATA_BYTES} allowed")]
    TooLarge { name: String, bytes: usize },
    /// An earlier run of the same deferred work started this send and its outcome is not known yet (it may have
    /// been delivered): it is not sent again until its claim lapses (10 minutes). Worth retrying.
    #[error("send {key} of an earlier run is in progress (or its outcome unknown); not sent again yet")]
    SendInProgress { key: String },
}

impl Context<'_> {
    /// Hands work on to run after the webhook has answered: `name` and `data` reach the bot's
    /// [`crate::api::Bot::on_deferred`] a moment later, with a context addressed to this conversation (its replies
    /// are new messages there; in a channel thread, in the thread). Use it for anything that could pass Teams'
    /// deadline (15 s for a message, 5 s for an invoke): acknowledge now, answer when done.
    ///
    /// The work is stored before this returns (durable before Teams gets its 200); answers its id. It runs at
    /// least once: a retried run re-runs the handler, but a send the earlier run already made is not made again.
    ///
    /// ```
    /// use serde_json::json;
    /// use teams_bot::{Bot, BotError, Context, DeferredWork, IncomingMessage};
    ///
    /// struct Reports;
    ///
    /// #[teams_bot::async_trait]
    /// impl Bot for Reports {
    ///     async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
    ///         if let Some(month) = message.text.strip_prefix("report ") {
    ///             ctx.reply("Working on it...").await?;
    ///             ctx.defer("report", json!({"month": month})).await?;
    ///         }
    ///         Ok(())
    ///     }
    ///
    ///     async fn on_deferred(&self, ctx: &Context<'_>, work: &DeferredWork<'_>) -> Result<(), BotError> {
    ///         if work.name == "report" {
    ///             let month = work.data["month"].as_str().unwrap_or("this month");
    ///             // ... minutes of work ...
    ///             ctx.reply(format!("The report for {month} is ready.")).await?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// [`BotError::Store`] when the work could not be stored (then nothing will run: tell the user);
    /// [`BotError::Other`] with a [`DeferError`] for an empty or long name or data over
    /// [`MAX_DEFERRED_DATA_BYTES`].
    pub async fn defer(&self, name: &str, data: Value) -> Result<String, BotError> {
        if name.is_empty() || name.len() > 256 {
            return Err(BotError::other(DeferError::BadName(name.len())));
        }
        let bytes = serde_json::to_vec(&data).map_or(usize::MAX, |b| b.len());
        if bytes > MAX_DEFERRED_DATA_BYTES {
            return Err(BotError::other(DeferError::TooLarge {
                name: name.to_owned(),
                bytes,
            }));
        }
        let id = self.turn().next_work_id(name);
        let item = crate::flows::deferred::outbox_item(&id, name, data, self.conversation(), Timestamp::now());
        self.app().store.enqueue(&item, Timestamp::now()).await?;
        tracing::info!(deferred = %id, name, conversation = %self.conversation_id(), "work deferred");
        Ok(id)
    }
}

/// What one context knows of deferred work: the work it runs (for a deferred work's own context) and how many
/// sends and deferrals it made so far (their position names them).
#[derive(Debug, Default)]
pub(crate) struct Turn {
    work: Option<String>,
    sends: AtomicU32,
    deferrals: AtomicU32,
}

/// Whether a send of deferred work goes out.
pub(crate) enum SendClaim {
    /// Send it; with the key to complete (or release) afterwards, for a deferred work's send.
    Send(Option<String>),
    /// An earlier run of the same work sent it already: its id.
    AlreadySent(ActivityId),
}

impl Turn {
    /// The turn of the deferred work `id`.
    pub(crate) fn of_work(id: &str) -> Self {
        Self {
            work: Some(id.to_owned()),
            ..Self::default()
        }
    }

    /// A new work id: derived from this work's id, the name and the deferral's position when this is a deferred
    /// work's context (a re-run defers the same ids: enqueueing an id again is a no-op), else random.
    fn next_work_id(&self, name: &str) -> String {
        let n = self.deferrals.fetch_add(1, Ordering::Relaxed);
        match &self.work {
            Some(parent) => {
                let seed = format!("{parent}\n{name}\n{n}");
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, seed.as_bytes());
                format!("dw-{}", hex(&digest.as_ref()[..16]))
            }
            // The system's random source failing is no reason to lose the work: time and a counter then.
            None => format!("dw-{}", random_id(u128::from(n) << 100)),
        }
    }

    /// Claims the next send of deferred work (a no-op outside deferred work, and for typing indicators).
    pub(crate) async fn claim_send(&self, app: &App, typing: bool) -> Result<SendClaim, BotError> {
        let Some(work) = self.work.as_deref().filter(|_| !typing) else {
            return Ok(SendClaim::Send(None));
        };
        let key = format!("deferred:{work}:{}", self.sends.fetch_add(1, Ordering::Relaxed));
        match app.store.claim_idempotency(&key, Timestamp::now()).await? {
            IdempotencyClaim::Won => Ok(SendClaim::Send(Some(key))),
            IdempotencyClaim::Done(sent) => {
                tracing::info!(key, activity = %sent.activity_id, "deferred send already made by an earlier run; not sent again");
                Ok(SendClaim::AlreadySent(sent.activity_id))
            }
            IdempotencyClaim::Pending => Err(BotError::other(DeferError::SendInProgress { key })),
        }
    }

    /// Records a keyed send as made.
    pub(crate) async fn sent(&self, app: &App, key: Option<&str>, conversation: &ConversationId, id: &ActivityId) {
        let Some(key) = key else { return };
        let sent = SentActivity {
            conversation_id: conversation.clone(),
            activity_id: id.clone(),
            sent_at: Timestamp::now(),
        };
        if let Err(e) = app.store.complete_idempotency(key, &sent, Timestamp::now()).await {
            tracing::warn!(key, error = %e, "deferred send made but not recorded; a re-run waits for the claim to lapse");
        }
    }

    /// A keyed send failed: unless its outcome is unknown (it may have been delivered), the key is given up so a
    /// re-run sends it.
    pub(crate) async fn failed(&self, app: &App, key: Option<&str>, error: &ConnectorError) {
        let Some(key) = key else { return };
        if matches!(error, ConnectorError::OutcomeUnknown { .. }) {
            return;
        }
        if let Err(e) = app.store.release_idempotency(key, Timestamp::now()).await {
            tracing::warn!(key, error = %e, "a refused deferred send's key could not be released; it lapses in 10 minutes");
        }
    }
}

/// 16 random bytes as 32 lowercase hex digits; if the system's random source fails, the clock's nanoseconds
/// XOR `fallback_mix` instead (ids for deferred work and offered files, where an id is better than an error).
pub(crate) fn random_id(fallback_mix: u128) -> String {
    let mut random = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut random).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        random = (nanos ^ fallback_mix).to_be_bytes();
    }
    hex(&random)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_outside_deferred_work_and_derived_inside_it() {
        let inbound = Turn::default();
        let (a, b) = (inbound.next_work_id("x"), inbound.next_work_id("x"));
        assert_ne!(a, b);
        assert!(a.starts_with("dw-") && a.len() == 35, "{a}");
        assert_ne!(Turn::default().next_work_id("x"), a, "another context");

        // A re-run of the same deferred work derives the same ids, in order; another work or name, others.
        let (first, rerun) = (Turn::of_work("dw-1"), Turn::of_work("dw-1"));
        let ids = [first.next_work_id("x"), first.next_work_id("x")];
        assert_eq!(ids, [rerun.next_work_id("x"), rerun.next_work_id("x")]);
        assert_ne!(ids[0], ids[1]);
        assert_ne!(Turn::of_work("dw-2").next_work_id("x"), ids[0]);
        assert_ne!(Turn::of_work("dw-1").next_work_id("y"), ids[0]);
    }

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}

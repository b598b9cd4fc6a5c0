//! State: ports for conversation references, claims, dedupe, sent ids, polling subscriptions and outbox items,
//! with a DynamoDB adapter (production) and an embedded redb adapter (the local default), plus an in-memory
//! store for other crates' unit tests.
//!
//! # Ports
//! One small trait per capability ([`Conversations`], [`PersonalConversations`], [`WelcomeClaims`], [`Dedupe`],
//! [`SentLog`], [`Subscriptions`], [`Outbox`], [`Pacing`], [`BotState`]), all object-safe; [`Store`] is the
//! whole family, so callers hold an `Arc<dyn Store>` (and upcast to one port where a function needs only that).
//! Every port method that can meet an expired item takes `now` ([`Timestamp`]), so tests move time without
//! sleeping. [`BotState`] keeps the bot's own JSON values per conversation, user or team ([`StateScope`]).
//!
//! The ports are written once over the item-level [`Table`] trait (consistent get, key-prefix query, due-index
//! query, atomic conditional batch); [`DynamoStore`], [`EmbeddedStore`] and [`MemoryStore`] implement only
//! [`Table`]. One contract suite (`tests/contract.rs`) runs the ports against each.
//!
//! # The table
//! One table: `pk` (S, hash) + `sk` (S, range); index `gsi1` = `gsi1pk` (S) + `gsi1sk` (S), projection ALL; TTL
//! attribute `expiresAt` (N, epoch seconds; reads treat `expiresAt <= now` as absent because TTL deletes lazily);
//! streams NEW_AND_OLD_IMAGES; every item has `kind`. Item data are top-level attributes named as the records'
//! camelCase JSON fields, so a stream NewImage decodes into the record alone.
//!
//! | kind | pk | sk | gsi1 | TTL | written by |
//! | --- | --- | --- | --- | --- | --- |
//! | `conversation` | `CONV#<conversationId>` | `REF` | | | `record_inbound` (when new, moved or inactive), `upsert_conversation`, `mark_inactive` (optimistic on `rev`) |
//! | `tenant` | `TENANT#<tenantId>` | `TENANT` | | | with the conversation, same transaction (last serviceUrl) |
//! | `personal` | `TENANT#<tenantId>` | `USER#<userId>` and `AAD#<aadObjectId>` | | | `record_personal`, or with a 1:1 conversation; both in one transaction |
//! | `team-install` | `TEAM#<teamId>` | `INSTALL` | | | `claim_team_install`: `attribute_not_exists(pk)`; streamed to welcome |
//! | `first-contact` | `TENANT#<tenantId>` | `FIRST#<userId>` | | | `claim_first_contact`: `attribute_not_exists(pk)`; streamed to welcome |
//! | `seen` | `SEEN#<conversationId>` | `<activityId>` | | 24 h | `record_inbound` / `claim_activity`: absent-or-expired condition |
//! | `sent` | `SENT#<key>` | `SENT` | | optional | `record_sent` |
//! | `idempotency` | `IDEM#<key>` | `IDEM` | | 10 min pending, 7 d done | `claim_idempotency` (absent-or-expired), `complete_idempotency` |
//! | `subscription` | `CONV#<conversationId>` | `SUB#<name>` | `DUE` / `<nextDue:020>#<conv>#<name>` | | `subscribe`, `claim_slot`, `set_poll_activity` (optimistic on `rev`) |
//! | `slot` | `SLOT#<conversationId>` | `<due:020>#<name>` | | due + 7 d | `claim_slot`: absent condition, same transaction as advancing the subscription |
//! | `vote` | `VOTES#<name>#<slot>#<conversationId>` | `<voterId>` | | 30 d | `record_vote` (plain put: the last answer counts); `votes` queries the pk |
//! | `pace` | `PACE#<lane>` (a tenant) | `<slot:020>` | | 2 min | `claim_pace_slot`: absent condition (one request per slot across all processes) |
//! | `state` | `STATE#C#<conversationId>`, `STATE#U#<tenantId>#<userId>` (`%`, `#` in tenantId percent-encoded) or `STATE#T#<teamId>` | `<name>` | | optional | `save_state` (plain put: the last writer wins), `delete_state`; the JSON value in one attribute `value`, at most 64 KiB |
//! | `outbox` | `OUTBOX#<id>` | `OUTBOX` | | 7 d once done | `enqueue` (absent), `enqueue_all` (one transaction), `mark_outbox_done`; streamed to proactive |
//!
//! Access patterns: every request-path read is a `GetItem` by key or a `Query` (a conversation's subscriptions
//! by `pk` + `begins_with(sk)`; due subscriptions on `gsi1` with `gsi1pk = DUE AND gsi1sk <= <now:020>~`);
//! nothing scans. Writes that touch several items (`record_inbound`'s slow path, `record_personal`, `claim_slot`,
//! `enqueue_all`) are one `TransactWriteItems` / one redb write transaction: all or nothing.
//!
//! # The hot path: one request per inbound activity
//! [`Conversations::record_inbound`] sends one `TransactWriteItems` holding the dedupe claim (`Put seen`,
//! absent-or-expired) and a `ConditionCheck` that the stored reference has this serviceUrl and is active. When
//! both hold, that single request is the only one (and only the `seen` item is written). When the check fails
//! (first activity of a conversation, serviceUrl moved, bot re-added) it reads the reference and writes it, the
//! tenant's last serviceUrl and the personal index in one more transaction. A duplicate is detected by the
//! dedupe claim's failure in either request, and nothing is written for it.
//!
//! # Crashes between claim and work
//! Claims are at-most-once: a function that crashes after winning a claim and before sending does not send (the
//! redelivered activity, stream record or tick finds the claim taken). Welcome: the stream record is retried by
//! the event source mapping, so the welcome function itself must not re-claim — it acts on the INSERT.
//! Idempotency keys: a pending claim lapses after 10 minutes, after which a retry sends again.

mod dynamo;
#[cfg(feature = "embedded")]
mod embedded;
mod error;
mod feed;
pub mod keys;
mod memory;
mod model;
mod ports;
mod table;

pub use dynamo::{
    DynamoStore, GSI1, RequestCounter, TTL_ATTRIBUTE, attributes_to_json, from_attributes, item_to_json, sdk_error,
    to_attributes,
};
#[cfg(feature = "embedded")]
pub use embedded::EmbeddedStore;
pub use error::{BoxError, StoreError};
pub use feed::ChangeFeed;
pub use memory::MemoryStore;
pub use model::{
    ChangeEvent, ClaimOutcome, ConversationRecord, FirstContact, IdempotencyClaim, InactiveReason, InboundOutcome,
    OutboxItem, PersonalConversation, Refresh, SentActivity, StateScope, StreamItem, Subscription, TeamInstall,
    TenantSeen, Timestamp,
};
pub use ports::{
    BotState, Conversations, DEDUPE_TTL_SECS, Dedupe, IDEMPOTENCY_PENDING_SECS, KEEP_DONE_SECS, MAX_STATE_BYTES,
    MAX_VOTES, Outbox, PACE_KEEP_SECS, Pacing, PersonalConversations, SentLog, Store, Subscriptions, VOTE_KEEP_SECS,
    WelcomeClaims,
};
pub use table::{Cond, Item, MAX_BATCH, Table, Write, WriteOutcome};

/// Where the embedded store lives when `STATE_PATH` is not set (relative to the working directory).
pub const DEFAULT_STATE_PATH: &str = ".state/store.redb";

//! The ports: one small trait per capability, in our own types, object-safe (`Arc<dyn Conversations>` or the
//! whole family as `Arc<dyn Store>`). Every adapter implements them through the blanket impls over [`Table`]
//! at the bottom of this file, so the adapters cannot drift apart in semantics.

use crate::error::StoreError;
use crate::keys::{self, Key};
use crate::model::{
    ClaimOutcome, ConversationRecord, FirstContact, IdempotencyClaim, InactiveReason, InboundOutcome, OutboxItem,
    PersonalConversation, Refresh, SentActivity, StateScope, Subscription, TeamInstall, TenantSeen, Timestamp,
};
use crate::table::{Cond, Item, Table, Write, WriteOutcome};
use async_trait::async_trait;
use models::{ActivityId, ConversationId, ConversationReference, ConversationType, TenantId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// How long a seen activity id is remembered (redeliveries come within minutes; the JWT lives about an hour).
pub const DEDUPE_TTL_SECS: u64 = 24 * 3600;
/// How long a pending idempotency claim blocks others before a crashed sender's key can be claimed again.
pub const IDEMPOTENCY_PENDING_SECS: u64 = 10 * 60;
/// How long a completed idempotency key / slot claim / done outbox item is kept.
pub const KEEP_DONE_SECS: u64 = 7 * 24 * 3600;
/// How many times an optimistic read-modify-write is retried before [`StoreError::Conflict`].
const MAX_ATTEMPTS: usize = 8;
/// At most this many conversations of one team are read for a team event (channels and reply chains).
const TEAM_CONVERSATIONS_MAX: usize = 10_000;
/// How long a poll vote is kept: longer than the longest poll interval (a week), during which its slot can be
/// voted on, so a tally never loses a vote that can still change.
pub const VOTE_KEEP_SECS: u64 = 30 * 24 * 3600;
/// How long a claimed pace slot is kept.
pub const PACE_KEEP_SECS: u64 = 120;
/// The most votes one poll slot counts (a team has at most 25,000 members).
pub const MAX_VOTES: usize = 25_000;
/// The largest state value [`BotState::save_state`] accepts, in bytes of its JSON: 64 KiB (a DynamoDB item
/// holds at most 400 KB).
pub const MAX_STATE_BYTES: usize = 64 * 1024;

/// Conversation references: the serviceUrl last seen per conversation, the tenant's last serviceUrl, and the
/// active flag.
#[async_trait]
pub trait Conversations: Send + Sync {
    /// The webhook's hot path for one inbound activity: claims its id (dedupe) and makes the stored reference
    /// match (serviceUrl, active), atomically. Steady state (known conversation, same serviceUrl) is one
    /// request that writes one item; a new conversation or a changed serviceUrl also writes the reference, the
    /// tenant's last serviceUrl and (1:1) the personal-conversation index, in one transaction.
    /// An activity without an id is not deduplicated.
    ///
    /// # Errors
    /// [`StoreError`]; retryable ones mean "answer 503". Nothing is written when it fails.
    async fn record_inbound(
        &self,
        reference: &ConversationReference,
        now: Timestamp,
    ) -> Result<InboundOutcome, StoreError>;

    /// [`Conversations::record_inbound`] for a user's message in a 1:1 chat: when the chat is new to the store,
    /// the user's first-contact claim is written in the same transaction as the dedupe claim and the reference,
    /// so a failure cannot leave the activity marked seen with its welcome never claimed (a redelivery would be
    /// a duplicate). [`Refresh::first_contact`] says whether this activity won the claim.
    ///
    /// # Errors
    /// [`StoreError`]; nothing is written when it fails.
    async fn record_inbound_claiming(
        &self,
        reference: &ConversationReference,
        contact: &FirstContact,
        now: Timestamp,
    ) -> Result<InboundOutcome, StoreError>;

    /// Records the reference of a conversation the bot has just created (a 1:1 chat, a channel thread): one
    /// transaction when it is new to the store (no read first), [`Conversations::upsert_conversation`] otherwise.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn insert_conversation(
        &self,
        reference: &ConversationReference,
        now: Timestamp,
    ) -> Result<Refresh, StoreError>;

    /// Upserts a reference (e.g. one the bot made by creating a conversation), without dedupe.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn upsert_conversation(
        &self,
        reference: &ConversationReference,
        now: Timestamp,
    ) -> Result<Refresh, StoreError>;

    /// The stored conversation.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn conversation(&self, id: &ConversationId, now: Timestamp)
    -> Result<Option<ConversationRecord>, StoreError>;

    /// The serviceUrl last seen in any conversation of the tenant (fallback for proactive creates).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn tenant_service_url(&self, tenant: &TenantId, now: Timestamp) -> Result<Option<String>, StoreError>;

    /// The serviceUrl last seen in any conversation of the tenant, and when it was recorded.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn tenant_seen(&self, tenant: &TenantId, now: Timestamp) -> Result<Option<TenantSeen>, StoreError>;

    /// The conversations of a team the store has a reference of (its channels and reply chains), from the
    /// team index written with each reference.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn team_conversations(&self, team_id: &str, now: Timestamp) -> Result<Vec<ConversationId>, StoreError>;

    /// Marks an inactive conversation active again, only when it was made inactive for one of `reasons` (a
    /// restored team must not reactivate a chat the bot was removed from). Returns whether it changed.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn reactivate(
        &self,
        id: &ConversationId,
        reasons: &[InactiveReason],
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Marks the conversation inactive (uninstall, or a 403 from the Connector). Returns whether it was active.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn mark_inactive(
        &self,
        id: &ConversationId,
        reason: InactiveReason,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// The active flag, or `None` for an unknown conversation.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn is_active(&self, id: &ConversationId, now: Timestamp) -> Result<Option<bool>, StoreError>;
}

/// The personal (1:1) conversation of a tenant + user: get, or record after creating it with the Connector.
#[async_trait]
pub trait PersonalConversations: Send + Sync {
    /// By the user's Teams id (`29:...`).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn personal_by_user(
        &self,
        tenant: &TenantId,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Option<PersonalConversation>, StoreError>;

    /// By the user's Entra ID object id.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn personal_by_aad(
        &self,
        tenant: &TenantId,
        aad_object_id: &str,
        now: Timestamp,
    ) -> Result<Option<PersonalConversation>, StoreError>;

    /// Records it under both lookups (user id and, when known, AAD object id) in one transaction.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn record_personal(&self, personal: &PersonalConversation, now: Timestamp) -> Result<(), StoreError>;
}

/// First-writer-wins claims that trigger the welcome function (their INSERT is on the stream).
#[async_trait]
pub trait WelcomeClaims: Send + Sync {
    /// Claims the team install; exactly one concurrent caller wins.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn claim_team_install(&self, claim: &TeamInstall, now: Timestamp) -> Result<ClaimOutcome, StoreError>;

    /// The team's install claim (serviceUrl and tenant of a team the bot is installed in).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn team_install(&self, team_id: &str, now: Timestamp) -> Result<Option<TeamInstall>, StoreError>;

    /// Removes the install claim on uninstall, so a later reinstall welcomes again.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn release_team_install(&self, team_id: &str, now: Timestamp) -> Result<(), StoreError>;

    /// Claims the first personal contact of a tenant + user; exactly one concurrent caller wins.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn claim_first_contact(&self, claim: &FirstContact, now: Timestamp) -> Result<ClaimOutcome, StoreError>;

    /// Points a team's install claim at the channel the installer selected, unless it already names a channel
    /// other than General (the first selection wins). Returns whether it changed.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn select_welcome_channel(
        &self,
        team_id: &str,
        channel: &ConversationId,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Records a team's new name on its install claim (`teamRenamed`). Returns whether a claim was there.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn rename_team(&self, team_id: &str, name: &str, now: Timestamp) -> Result<bool, StoreError>;
}

/// Inbound activity dedupe, with expiry.
#[async_trait]
pub trait Dedupe: Send + Sync {
    /// Claims an activity id for `ttl_secs`: `Won` the first time, `Lost` for a duplicate.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn claim_activity(
        &self,
        conversation: &ConversationId,
        activity: &ActivityId,
        ttl_secs: u64,
        now: Timestamp,
    ) -> Result<ClaimOutcome, StoreError>;
}

/// Pacing shared by every process sending for the bot: time slots of a lane (a tenant's requests), each
/// claimed by exactly one request across all of them.
#[async_trait]
pub trait Pacing: Send + Sync {
    /// Claims slot number `slot` of `lane`: `Won` for exactly one caller, `Lost` for everyone else. Kept
    /// [`PACE_KEEP_SECS`] (slots are claimed at most seconds ahead and never reused once past).
    ///
    /// # Errors
    /// [`StoreError`] ([`StoreError::Invalid`] for an empty lane).
    async fn claim_pace_slot(&self, lane: &str, slot: u64, now: Timestamp) -> Result<ClaimOutcome, StoreError>;
}

/// Ids of messages the bot sent, to update or delete them later; idempotency keys of proactive sends.
#[async_trait]
pub trait SentLog: Send + Sync {
    /// Records a sent message under a caller's key (overwrites), optionally expiring.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn record_sent(
        &self,
        key: &str,
        sent: &SentActivity,
        ttl_secs: Option<u64>,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// The message recorded under `key`.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn sent(&self, key: &str, now: Timestamp) -> Result<Option<SentActivity>, StoreError>;

    /// Claims an idempotency key before sending. A pending claim lapses after [`IDEMPOTENCY_PENDING_SECS`]
    /// (a crashed sender), after which the key can be claimed (and the message sent) again.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn claim_idempotency(&self, key: &str, now: Timestamp) -> Result<IdempotencyClaim, StoreError>;

    /// Stores the ids a claimed key's send produced (kept [`KEEP_DONE_SECS`]).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn complete_idempotency(&self, key: &str, sent: &SentActivity, now: Timestamp) -> Result<(), StoreError>;

    /// Gives a pending claim up (the send is known not to have happened, e.g. Teams refused it), so the next
    /// attempt wins at once instead of waiting for the pending claim to lapse. A completed key is left alone.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn release_idempotency(&self, key: &str, now: Timestamp) -> Result<(), StoreError>;
}

/// Polling subscriptions: due-time index, per-slot exactly-once claim, the poll message's id.
#[async_trait]
pub trait Subscriptions: Send + Sync {
    /// Creates or replaces a subscription.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn subscribe(&self, subscription: &Subscription, now: Timestamp) -> Result<(), StoreError>;

    /// Removes it; `false` when there was none.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn unsubscribe(&self, conversation: &ConversationId, name: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// One subscription.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn subscription(
        &self,
        conversation: &ConversationId,
        name: &str,
        now: Timestamp,
    ) -> Result<Option<Subscription>, StoreError>;

    /// The conversation's subscriptions (at most 100).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn subscriptions_of(
        &self,
        conversation: &ConversationId,
        now: Timestamp,
    ) -> Result<Vec<Subscription>, StoreError>;

    /// Subscriptions due at or before `now`, earliest first (a query on `gsi1`, never a scan). The index is
    /// eventually consistent in DynamoDB: always claim the slot before sending.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn due_subscriptions(&self, now: Timestamp, limit: usize) -> Result<Vec<Subscription>, StoreError>;

    /// Claims the slot `due` and advances the subscription to `next_due`, in one transaction. `Won` exactly
    /// once per slot; `Lost` when another caller claimed it, the subscription is gone, or it is no longer due
    /// at `due`.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn claim_slot(
        &self,
        conversation: &ConversationId,
        name: &str,
        due: Timestamp,
        next_due: Timestamp,
        now: Timestamp,
    ) -> Result<ClaimOutcome, StoreError>;

    /// Records `voter`'s answer `choice` to the poll `name` of `conversation` as posted for `slot`: one item
    /// per voter and slot, so answering again replaces the answer. A plain put that no other vote contends
    /// with: any number of simultaneous votes all land, each in one write (kept [`VOTE_KEEP_SECS`]).
    ///
    /// # Errors
    /// [`StoreError`] ([`StoreError::Invalid`] for an empty conversation, slot or voter).
    async fn record_vote(
        &self,
        conversation: &ConversationId,
        name: &str,
        slot: &str,
        voter: &str,
        choice: usize,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Every voter's answer to the poll `name` of `conversation` as posted for `slot`, by voter id (a
    /// consistent query of that slot's votes, at most [`MAX_VOTES`]).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn votes(
        &self,
        conversation: &ConversationId,
        name: &str,
        slot: &str,
        now: Timestamp,
    ) -> Result<BTreeMap<String, usize>, StoreError>;

    /// Stores the id of the poll message just posted; `false` when the subscription is gone.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn set_poll_activity(
        &self,
        conversation: &ConversationId,
        name: &str,
        activity: &ActivityId,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// Outbox items: work for the proactive function, triggered by their INSERT on the stream.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Enqueues one item; `Lost` when an item with this id exists (idempotent producers).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn enqueue(&self, item: &OutboxItem, now: Timestamp) -> Result<ClaimOutcome, StoreError>;

    /// Enqueues up to 100 items atomically: all, or none when any id exists (`Lost`).
    ///
    /// # Errors
    /// [`StoreError`] (also [`StoreError::Invalid`] for more than 100 items or a repeated id).
    async fn enqueue_all(&self, items: &[OutboxItem], now: Timestamp) -> Result<ClaimOutcome, StoreError>;

    /// One item.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn outbox_item(&self, id: &str, now: Timestamp) -> Result<Option<OutboxItem>, StoreError>;

    /// Marks it done (kept [`KEEP_DONE_SECS`], then expires); `false` when there is no such item.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn mark_outbox_done(&self, id: &str, now: Timestamp) -> Result<bool, StoreError>;
}

/// The bot's own state: named JSON values per conversation, user or team ([`StateScope`]), the last writer
/// winning, optionally expiring.
#[async_trait]
pub trait BotState: Send + Sync {
    /// The value saved as `name` in `scope`; `None` when there is none or it expired.
    ///
    /// # Errors
    /// [`StoreError`] ([`StoreError::Invalid`] for an empty name or scope id).
    async fn load_state(&self, scope: &StateScope, name: &str, now: Timestamp) -> Result<Option<Value>, StoreError>;

    /// Saves `value` (any JSON: object, array, string, number, bool, null) as `name` in `scope`, replacing
    /// what was there. It expires `ttl_secs` after `now` when given, and is kept until deleted otherwise.
    ///
    /// # Errors
    /// [`StoreError`] ([`StoreError::Invalid`] for an empty name or scope id, or a value over
    /// [`MAX_STATE_BYTES`]; nothing is written then).
    async fn save_state(
        &self,
        scope: &StateScope,
        name: &str,
        value: &Value,
        ttl_secs: Option<u64>,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Deletes the value saved as `name` in `scope`; `false` when there was none (or it had expired).
    ///
    /// # Errors
    /// [`StoreError`] ([`StoreError::Invalid`] for an empty name or scope id).
    async fn delete_state(&self, scope: &StateScope, name: &str, now: Timestamp) -> Result<bool, StoreError>;
}

/// Every port: what the functions and the devserver hold as `Arc<dyn Store>`.
pub trait Store:
    Conversations
    + PersonalConversations
    + WelcomeClaims
    + Dedupe
    + SentLog
    + Subscriptions
    + Outbox
    + Pacing
    + BotState
    + std::fmt::Debug
{
}

impl<T: Table + ?Sized> Store for T {}

// ---------------------------------------------------------------------------------------------------------
// The implementations, once, over the item backend.
// ---------------------------------------------------------------------------------------------------------

fn to_map<T: Serialize>(value: &T) -> Result<Map<String, Value>, StoreError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(StoreError::Invalid("record does not serialize to an object")),
        Err(_) => Err(StoreError::Invalid("record does not serialize")),
    }
}

fn item<T: Serialize>(key: Key, kind: &str, value: &T) -> Result<Item, StoreError> {
    Ok(Item {
        pk: key.0,
        sk: key.1,
        kind: kind.to_owned(),
        gsi1: None,
        expires_at: None,
        data: to_map(value)?,
    })
}

fn decode<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    let key = item.key_string();
    serde_json::from_value(Value::Object(item.data)).map_err(|e| StoreError::corrupt(key, e))
}

fn rev(item: &Item) -> u64 {
    item.data.get("rev").and_then(Value::as_u64).unwrap_or(0)
}

fn not_empty(s: &str, what: &'static str) -> Result<(), StoreError> {
    if s.is_empty() {
        Err(StoreError::Invalid(what))
    } else {
        Ok(())
    }
}

/// The condition that the stored item is still `old` (by revision), or still absent.
fn unchanged(old: Option<&Item>) -> Cond {
    match old {
        Some(old) => Cond::Revision(rev(old)),
        None => Cond::Absent,
    }
}

/// Optimistic read-modify-write of one item: `change` gets the live item and returns the new one (its `rev` is
/// set here) or `None` for "no change". Returns `change`'s verdict for the write that stuck.
async fn update<T, R>(
    table: &T,
    key: &Key,
    now: Timestamp,
    mut change: impl FnMut(Option<&Item>) -> Result<(Option<Item>, R), StoreError> + Send,
) -> Result<R, StoreError>
where
    T: Table + ?Sized,
    R: Send,
{
    for _ in 0..MAX_ATTEMPTS {
        let old = table.get(&key.0, &key.1, now).await?;
        let (new, verdict) = change(old.as_ref())?;
        let Some(mut new) = new else { return Ok(verdict) };
        new.data.insert("rev".into(), json!(old.as_ref().map_or(0, rev) + 1));
        let cond = unchanged(old.as_ref());
        if table.write(vec![Write::Put { item: new, cond }], now).await? == WriteOutcome::Applied {
            return Ok(verdict);
        }
    }
    Err(StoreError::Conflict {
        key: format!("{}|{}", key.0, key.1),
    })
}

/// The reference as stored: no activity id; the user only for personal conversations.
fn stored_reference(reference: &ConversationReference) -> ConversationReference {
    let mut stored = reference.clone();
    stored.activity_id = None;
    if stored.conversation.conversation_type != Some(ConversationType::Personal) {
        stored.user = None;
    }
    stored
}

fn conversation_item(record: &ConversationRecord) -> Result<Item, StoreError> {
    let mut it = item(
        keys::conversation(&record.reference.conversation.id),
        keys::KIND_CONVERSATION,
        record,
    )?;
    it.data
        .insert("conversationId".into(), json!(record.reference.conversation.id));
    Ok(it)
}

fn personal_items(personal: &PersonalConversation) -> Result<Vec<Item>, StoreError> {
    not_empty(personal.tenant_id.as_str(), "empty tenant id")?;
    not_empty(&personal.user_id, "empty user id")?;
    let mut items = vec![item(
        keys::personal_by_user(&personal.tenant_id, &personal.user_id),
        keys::KIND_PERSONAL,
        personal,
    )?];
    if let Some(aad) = personal.aad_object_id.as_deref().filter(|a| !a.is_empty()) {
        items.push(item(
            keys::personal_by_aad(&personal.tenant_id, aad),
            keys::KIND_PERSONAL,
            personal,
        )?);
    }
    Ok(items)
}

fn first_contact_item(claim: &FirstContact) -> Result<Item, StoreError> {
    not_empty(claim.tenant_id.as_str(), "empty tenant id")?;
    not_empty(&claim.user.id, "empty user id")?;
    item(
        keys::first_contact(&claim.tenant_id, &claim.user.id),
        keys::KIND_FIRST_CONTACT,
        claim,
    )
}

fn seen_write(conversation: &ConversationId, activity: &ActivityId, ttl: u64, now: Timestamp) -> Write {
    let mut data = Map::new();
    data.insert("conversationId".into(), json!(conversation));
    data.insert("activityId".into(), json!(activity));
    let (pk, sk) = keys::seen(conversation, activity);
    Write::Put {
        item: Item {
            pk,
            sk,
            kind: keys::KIND_SEEN.into(),
            gsi1: None,
            expires_at: Some(now.plus_secs(ttl).0),
            data,
        },
        cond: Cond::Absent,
    }
}

/// What writing `stored` (active, as of `now`) changes: the reference (on the condition that it is still `old`),
/// the team's index entry, the tenant's last serviceUrl and, for a 1:1 chat, the personal index.
fn reference_writes(
    stored: &ConversationReference,
    old: Option<&Item>,
    now: Timestamp,
) -> Result<Vec<Write>, StoreError> {
    let id = &stored.conversation.id;
    let record = ConversationRecord {
        reference: stored.clone(),
        active: true,
        inactive_reason: None,
        updated_at: now,
    };
    let mut conv = conversation_item(&record)?;
    conv.data.insert("rev".into(), json!(old.map_or(0, rev) + 1));
    let mut writes = vec![Write::Put {
        item: conv,
        cond: unchanged(old),
    }];
    if let Some(team) = stored.team_id.as_deref().filter(|t| !t.is_empty()) {
        let data = json!({"teamId": team, "conversationId": id});
        writes.push(Write::Put {
            item: item(keys::team_conversation(team, id), keys::KIND_TEAM_CONVERSATION, &data)?,
            cond: Cond::Always,
        });
    }
    if let Some(tenant) = stored.tenant_id.as_ref().filter(|t| !t.as_str().is_empty()) {
        let data = json!({"tenantId": tenant, "serviceUrl": stored.service_url, "updatedAt": now});
        writes.push(Write::Put {
            item: item(keys::tenant(tenant), keys::KIND_TENANT, &data)?,
            cond: Cond::Always,
        });
        let user = stored.user.as_ref().filter(|u| !u.id.is_empty());
        if let (Some(user), Some(ConversationType::Personal)) = (user, &stored.conversation.conversation_type) {
            let personal = PersonalConversation {
                tenant_id: tenant.clone(),
                user_id: user.id.clone(),
                aad_object_id: user.aad_object_id.clone(),
                conversation_id: id.clone(),
                service_url: stored.service_url.clone(),
                updated_at: now,
            };
            for it in personal_items(&personal)? {
                writes.push(Write::Put {
                    item: it,
                    cond: Cond::Always,
                });
            }
        }
    }
    Ok(writes)
}

/// Changes a stored conversation record in place (`change` answers whether it changed anything; `updated_at` is
/// set when it did). Answers `false` for an unknown conversation.
async fn change_record<T: Table + ?Sized>(
    table: &T,
    id: &ConversationId,
    now: Timestamp,
    mut change: impl FnMut(&mut ConversationRecord) -> bool + Send,
) -> Result<bool, StoreError> {
    not_empty(id.as_str(), "empty conversation id")?;
    update(table, &keys::conversation(id), now, |old| {
        let Some(old) = old else { return Ok((None, false)) };
        let mut record: ConversationRecord = decode(old.clone())?;
        if !change(&mut record) {
            return Ok((None, false));
        }
        record.updated_at = now;
        Ok((Some(conversation_item(&record)?), true))
    })
    .await
}

/// The shared body of `record_inbound` / `upsert_conversation`.
async fn refresh<T: Table + ?Sized>(
    table: &T,
    reference: &ConversationReference,
    contact: Option<&FirstContact>,
    now: Timestamp,
) -> Result<InboundOutcome, StoreError> {
    let mut contact = contact.map(first_contact_item).transpose()?;
    let mut first_contact = None;
    let id = &reference.conversation.id;
    not_empty(id.as_str(), "empty conversation id")?;
    let seen = match &reference.activity_id {
        Some(activity) if !activity.as_str().is_empty() => Some(seen_write(id, activity, DEDUPE_TTL_SECS, now)),
        _ => None,
    };
    let key = keys::conversation(id);

    // Fast path: claim the activity id, provided the stored reference is already right. One request.
    let check = Write::Check {
        pk: key.0.clone(),
        sk: key.1.clone(),
        cond: Cond::Equals(vec![
            ("serviceUrl".into(), json!(reference.service_url)),
            ("active".into(), json!(true)),
        ]),
    };
    let fast: Vec<Write> = seen.iter().cloned().chain([check]).collect();
    match table.write(fast, now).await? {
        WriteOutcome::Applied => return Ok(InboundOutcome::New(Refresh::default())),
        WriteOutcome::ConditionFailed(failed) if seen.is_some() && failed.contains(&0) => {
            return Ok(InboundOutcome::Duplicate);
        }
        WriteOutcome::ConditionFailed(_) => {}
    }

    // Slow path: the reference is new, moved or inactive. Write it with everything derived from it.
    let stored = stored_reference(reference);
    for _ in 0..MAX_ATTEMPTS {
        let old = table.get(&key.0, &key.1, now).await?;
        let old_record: Option<ConversationRecord> = old.clone().map(decode).transpose()?;
        let mut outcome = Refresh {
            created: old_record.is_none(),
            service_url_changed: old_record
                .as_ref()
                .is_none_or(|r| r.reference.service_url != reference.service_url),
            reactivated: old_record.as_ref().is_some_and(|r| !r.active),
            first_contact,
        };
        let mut writes: Vec<Write> = seen.iter().cloned().collect();
        if outcome.wrote() {
            writes.extend(reference_writes(&stored, old.as_ref(), now)?);
        } else {
            // Someone else fixed the reference meanwhile: only require that it stays as read.
            writes.push(Write::Check {
                pk: key.0.clone(),
                sk: key.1.clone(),
                cond: unchanged(old.as_ref()),
            });
        }
        // A chat new to the store: its user's first-contact claim commits with it, or not at all.
        let claim_at = match contact.as_ref() {
            Some(claim) if outcome.created => {
                writes.push(Write::Put {
                    item: claim.clone(),
                    cond: Cond::Absent,
                });
                outcome.first_contact = Some(ClaimOutcome::Won);
                Some(writes.len() - 1)
            }
            Some(_) | None => None,
        };
        match table.write(writes, now).await? {
            WriteOutcome::Applied => return Ok(InboundOutcome::New(outcome)),
            WriteOutcome::ConditionFailed(failed) if seen.is_some() && failed.contains(&0) => {
                return Ok(InboundOutcome::Duplicate);
            }
            WriteOutcome::ConditionFailed(failed) => {
                // Claimed before (a personal install, or a chat the bot opened): record the activity without it.
                if let Some(at) = claim_at.filter(|at| failed.contains(at)) {
                    debug_assert!(at > 0);
                    contact = None;
                    first_contact = Some(ClaimOutcome::Lost);
                }
            }
        }
    }
    Err(StoreError::Conflict {
        key: format!("{}|{}", key.0, key.1),
    })
}

#[async_trait]
impl<T: Table + ?Sized> Conversations for T {
    async fn record_inbound(
        &self,
        reference: &ConversationReference,
        now: Timestamp,
    ) -> Result<InboundOutcome, StoreError> {
        refresh(self, reference, None, now).await
    }

    async fn record_inbound_claiming(
        &self,
        reference: &ConversationReference,
        contact: &FirstContact,
        now: Timestamp,
    ) -> Result<InboundOutcome, StoreError> {
        refresh(self, reference, Some(contact), now).await
    }

    async fn insert_conversation(
        &self,
        reference: &ConversationReference,
        now: Timestamp,
    ) -> Result<Refresh, StoreError> {
        not_empty(reference.conversation.id.as_str(), "empty conversation id")?;
        let stored = stored_reference(reference);
        match self.write(reference_writes(&stored, None, now)?, now).await? {
            WriteOutcome::Applied => Ok(Refresh {
                created: true,
                service_url_changed: true,
                reactivated: false,
                first_contact: None,
            }),
            WriteOutcome::ConditionFailed(_) => self.upsert_conversation(reference, now).await,
        }
    }

    async fn upsert_conversation(
        &self,
        reference: &ConversationReference,
        now: Timestamp,
    ) -> Result<Refresh, StoreError> {
        let mut reference = reference.clone();
        reference.activity_id = None;
        match refresh(self, &reference, None, now).await? {
            InboundOutcome::New(outcome) => Ok(outcome),
            InboundOutcome::Duplicate => Ok(Refresh::default()),
        }
    }

    async fn conversation(
        &self,
        id: &ConversationId,
        now: Timestamp,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        not_empty(id.as_str(), "empty conversation id")?;
        let (pk, sk) = keys::conversation(id);
        self.get(&pk, &sk, now).await?.map(decode).transpose()
    }

    async fn tenant_service_url(&self, tenant: &TenantId, now: Timestamp) -> Result<Option<String>, StoreError> {
        not_empty(tenant.as_str(), "empty tenant id")?;
        let (pk, sk) = keys::tenant(tenant);
        let Some(it) = self.get(&pk, &sk, now).await? else {
            return Ok(None);
        };
        match it.data.get("serviceUrl") {
            Some(Value::String(url)) => Ok(Some(url.clone())),
            _ => Err(StoreError::corrupt(it.key_string(), "tenant item has no serviceUrl")),
        }
    }

    async fn tenant_seen(&self, tenant: &TenantId, now: Timestamp) -> Result<Option<TenantSeen>, StoreError> {
        not_empty(tenant.as_str(), "empty tenant id")?;
        let (pk, sk) = keys::tenant(tenant);
        self.get(&pk, &sk, now).await?.map(decode).transpose()
    }

    async fn team_conversations(&self, team_id: &str, now: Timestamp) -> Result<Vec<ConversationId>, StoreError> {
        not_empty(team_id, "empty team id")?;
        let (pk, prefix) = keys::team_conversations_prefix(team_id);
        let mut out = Vec::new();
        // The General channel is the team itself: known even when its reference predates the index.
        out.push(ConversationId::from(team_id));
        for it in self.query_prefix(&pk, &prefix, now, TEAM_CONVERSATIONS_MAX).await? {
            match it.data.get("conversationId") {
                Some(Value::String(id)) if id != team_id => out.push(ConversationId::from(id.as_str())),
                Some(Value::String(_)) => {}
                _ => {
                    return Err(StoreError::corrupt(
                        it.key_string(),
                        "team index item has no conversationId",
                    ));
                }
            }
        }
        Ok(out)
    }

    async fn reactivate(
        &self,
        id: &ConversationId,
        reasons: &[InactiveReason],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        change_record(self, id, now, |record| {
            if record.active || !record.inactive_reason.is_some_and(|r| reasons.contains(&r)) {
                return false;
            }
            record.active = true;
            record.inactive_reason = None;
            true
        })
        .await
    }

    async fn mark_inactive(
        &self,
        id: &ConversationId,
        reason: InactiveReason,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        change_record(self, id, now, |record| {
            if !record.active {
                return false;
            }
            record.active = false;
            record.inactive_reason = Some(reason);
            true
        })
        .await
    }

    async fn is_active(&self, id: &ConversationId, now: Timestamp) -> Result<Option<bool>, StoreError> {
        Ok(self.conversation(id, now).await?.map(|r| r.active))
    }
}

#[async_trait]
impl<T: Table + ?Sized> PersonalConversations for T {
    async fn personal_by_user(
        &self,
        tenant: &TenantId,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Option<PersonalConversation>, StoreError> {
        not_empty(user_id, "empty user id")?;
        let (pk, sk) = keys::personal_by_user(tenant, user_id);
        self.get(&pk, &sk, now).await?.map(decode).transpose()
    }

    async fn personal_by_aad(
        &self,
        tenant: &TenantId,
        aad_object_id: &str,
        now: Timestamp,
    ) -> Result<Option<PersonalConversation>, StoreError> {
        not_empty(aad_object_id, "empty aad object id")?;
        let (pk, sk) = keys::personal_by_aad(tenant, aad_object_id);
        self.get(&pk, &sk, now).await?.map(decode).transpose()
    }

    async fn record_personal(&self, personal: &PersonalConversation, now: Timestamp) -> Result<(), StoreError> {
        let writes = personal_items(personal)?
            .into_iter()
            .map(|item| Write::Put {
                item,
                cond: Cond::Always,
            })
            .collect();
        self.write(writes, now).await.map(|_| ())
    }
}

/// Writes `item` whatever is stored (the last writer wins).
async fn put<T: Table + ?Sized>(table: &T, item: Item, now: Timestamp) -> Result<(), StoreError> {
    table
        .write(
            vec![Write::Put {
                item,
                cond: Cond::Always,
            }],
            now,
        )
        .await
        .map(|_| ())
}

async fn claim<T: Table + ?Sized>(table: &T, item: Item, now: Timestamp) -> Result<ClaimOutcome, StoreError> {
    Ok(
        match table
            .write(
                vec![Write::Put {
                    item,
                    cond: Cond::Absent,
                }],
                now,
            )
            .await?
        {
            WriteOutcome::Applied => ClaimOutcome::Won,
            WriteOutcome::ConditionFailed(_) => ClaimOutcome::Lost,
        },
    )
}

#[async_trait]
impl<T: Table + ?Sized> Pacing for T {
    async fn claim_pace_slot(&self, lane: &str, slot: u64, now: Timestamp) -> Result<ClaimOutcome, StoreError> {
        not_empty(lane, "empty pace lane")?;
        let mut it = item(
            keys::pace(lane, slot),
            keys::KIND_PACE,
            &json!({"lane": lane, "slot": slot}),
        )?;
        it.expires_at = Some(now.plus_secs(PACE_KEEP_SECS).0);
        claim(self, it, now).await
    }
}

#[async_trait]
impl<T: Table + ?Sized> WelcomeClaims for T {
    async fn claim_team_install(&self, claim_: &TeamInstall, now: Timestamp) -> Result<ClaimOutcome, StoreError> {
        not_empty(&claim_.team_id, "empty team id")?;
        claim(
            self,
            item(keys::team_install(&claim_.team_id), keys::KIND_TEAM_INSTALL, claim_)?,
            now,
        )
        .await
    }

    async fn team_install(&self, team_id: &str, now: Timestamp) -> Result<Option<TeamInstall>, StoreError> {
        not_empty(team_id, "empty team id")?;
        let (pk, sk) = keys::team_install(team_id);
        self.get(&pk, &sk, now).await?.map(decode).transpose()
    }

    async fn release_team_install(&self, team_id: &str, now: Timestamp) -> Result<(), StoreError> {
        not_empty(team_id, "empty team id")?;
        let (pk, sk) = keys::team_install(team_id);
        let delete = Write::Delete {
            pk,
            sk,
            cond: Cond::Always,
        };
        self.write(vec![delete], now).await.map(|_| ())
    }

    async fn claim_first_contact(&self, claim_: &FirstContact, now: Timestamp) -> Result<ClaimOutcome, StoreError> {
        claim(self, first_contact_item(claim_)?, now).await
    }

    async fn select_welcome_channel(
        &self,
        team_id: &str,
        channel: &ConversationId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        not_empty(team_id, "empty team id")?;
        not_empty(channel.as_str(), "empty channel id")?;
        update(self, &keys::team_install(team_id), now, |old| {
            let Some(old) = old else { return Ok((None, false)) };
            let mut install: TeamInstall = decode(old.clone())?;
            if install.conversation_id.as_str() != team_id || channel.as_str() == team_id {
                return Ok((None, false));
            }
            install.conversation_id = channel.clone();
            let mut new = item(keys::team_install(team_id), keys::KIND_TEAM_INSTALL, &install)?;
            new.expires_at = old.expires_at;
            Ok((Some(new), true))
        })
        .await
    }

    async fn rename_team(&self, team_id: &str, name: &str, now: Timestamp) -> Result<bool, StoreError> {
        not_empty(team_id, "empty team id")?;
        update(self, &keys::team_install(team_id), now, |old| {
            let Some(old) = old else { return Ok((None, false)) };
            let mut install: TeamInstall = decode(old.clone())?;
            if install.team_name.as_deref() == Some(name) {
                return Ok((None, true));
            }
            install.team_name = Some(name.to_owned());
            let mut new = item(keys::team_install(team_id), keys::KIND_TEAM_INSTALL, &install)?;
            new.expires_at = old.expires_at;
            Ok((Some(new), true))
        })
        .await
    }
}

#[async_trait]
impl<T: Table + ?Sized> Dedupe for T {
    async fn claim_activity(
        &self,
        conversation: &ConversationId,
        activity: &ActivityId,
        ttl_secs: u64,
        now: Timestamp,
    ) -> Result<ClaimOutcome, StoreError> {
        not_empty(conversation.as_str(), "empty conversation id")?;
        not_empty(activity.as_str(), "empty activity id")?;
        Ok(
            match self
                .write(vec![seen_write(conversation, activity, ttl_secs, now)], now)
                .await?
            {
                WriteOutcome::Applied => ClaimOutcome::Won,
                WriteOutcome::ConditionFailed(_) => ClaimOutcome::Lost,
            },
        )
    }
}

#[async_trait]
impl<T: Table + ?Sized> SentLog for T {
    async fn record_sent(
        &self,
        key: &str,
        sent: &SentActivity,
        ttl_secs: Option<u64>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        not_empty(key, "empty key")?;
        let mut it = item(keys::sent(key), keys::KIND_SENT, sent)?;
        it.expires_at = ttl_secs.map(|ttl| now.plus_secs(ttl).0);
        put(self, it, now).await
    }

    async fn sent(&self, key: &str, now: Timestamp) -> Result<Option<SentActivity>, StoreError> {
        not_empty(key, "empty key")?;
        let (pk, sk) = keys::sent(key);
        self.get(&pk, &sk, now).await?.map(decode).transpose()
    }

    async fn claim_idempotency(&self, key: &str, now: Timestamp) -> Result<IdempotencyClaim, StoreError> {
        not_empty(key, "empty key")?;
        let k = keys::idempotency(key);
        for _ in 0..MAX_ATTEMPTS {
            let mut pending = item(
                k.clone(),
                keys::KIND_IDEMPOTENCY,
                &json!({"state": "pending", "key": key}),
            )?;
            pending.expires_at = Some(now.plus_secs(IDEMPOTENCY_PENDING_SECS).0);
            if claim(self, pending, now).await? == ClaimOutcome::Won {
                return Ok(IdempotencyClaim::Won);
            }
            // Lost: done (answer its ids) or pending; absent again means it just expired, so try again.
            if let Some(existing) = self.get(&k.0, &k.1, now).await? {
                if existing.data.get("state") == Some(&json!("done")) {
                    return Ok(IdempotencyClaim::Done(decode(existing)?));
                }
                return Ok(IdempotencyClaim::Pending);
            }
        }
        Err(StoreError::Conflict {
            key: format!("{}|{}", k.0, k.1),
        })
    }

    async fn complete_idempotency(&self, key: &str, sent: &SentActivity, now: Timestamp) -> Result<(), StoreError> {
        not_empty(key, "empty key")?;
        let mut done = item(keys::idempotency(key), keys::KIND_IDEMPOTENCY, sent)?;
        done.data.insert("state".into(), json!("done"));
        done.data.insert("key".into(), json!(key));
        done.expires_at = Some(now.plus_secs(KEEP_DONE_SECS).0);
        put(self, done, now).await
    }

    async fn release_idempotency(&self, key: &str, now: Timestamp) -> Result<(), StoreError> {
        not_empty(key, "empty key")?;
        let (pk, sk) = keys::idempotency(key);
        let delete = Write::Delete {
            pk,
            sk,
            cond: Cond::Equals(vec![("state".to_owned(), json!("pending"))]),
        };
        // A failed condition means the key is done (or already gone): nothing to give up.
        self.write(vec![delete], now).await.map(|_| ())
    }
}

fn subscription_item(sub: &Subscription) -> Result<Item, StoreError> {
    not_empty(sub.conversation_id.as_str(), "empty conversation id")?;
    not_empty(&sub.name, "empty subscription name")?;
    let mut it = item(
        keys::subscription(&sub.conversation_id, &sub.name),
        keys::KIND_SUBSCRIPTION,
        sub,
    )?;
    it.gsi1 = Some((
        keys::DUE_BUCKET.to_owned(),
        keys::due_sort_key(sub.next_due, &sub.conversation_id, &sub.name),
    ));
    Ok(it)
}

#[async_trait]
impl<T: Table + ?Sized> Subscriptions for T {
    async fn subscribe(&self, subscription: &Subscription, now: Timestamp) -> Result<(), StoreError> {
        let new = subscription_item(subscription)?;
        let key = (new.pk.clone(), new.sk.clone());
        update(self, &key, now, |_| Ok((Some(new.clone()), ()))).await
    }

    async fn unsubscribe(&self, conversation: &ConversationId, name: &str, now: Timestamp) -> Result<bool, StoreError> {
        not_empty(conversation.as_str(), "empty conversation id")?;
        let (pk, sk) = keys::subscription(conversation, name);
        let delete = Write::Delete {
            pk,
            sk,
            cond: Cond::Present,
        };
        Ok(self.write(vec![delete], now).await? == WriteOutcome::Applied)
    }

    async fn subscription(
        &self,
        conversation: &ConversationId,
        name: &str,
        now: Timestamp,
    ) -> Result<Option<Subscription>, StoreError> {
        not_empty(conversation.as_str(), "empty conversation id")?;
        let (pk, sk) = keys::subscription(conversation, name);
        self.get(&pk, &sk, now).await?.map(decode).transpose()
    }

    async fn subscriptions_of(
        &self,
        conversation: &ConversationId,
        now: Timestamp,
    ) -> Result<Vec<Subscription>, StoreError> {
        not_empty(conversation.as_str(), "empty conversation id")?;
        let (pk, prefix) = keys::subscriptions_prefix(conversation);
        let items = self.query_prefix(&pk, &prefix, now, 100).await?;
        items.into_iter().map(decode).collect()
    }

    async fn due_subscriptions(&self, now: Timestamp, limit: usize) -> Result<Vec<Subscription>, StoreError> {
        let items = self
            .query_gsi1(keys::DUE_BUCKET, &keys::due_upper(now), now, limit)
            .await?;
        items.into_iter().map(decode).collect()
    }

    async fn claim_slot(
        &self,
        conversation: &ConversationId,
        name: &str,
        due: Timestamp,
        next_due: Timestamp,
        now: Timestamp,
    ) -> Result<ClaimOutcome, StoreError> {
        not_empty(conversation.as_str(), "empty conversation id")?;
        let key = keys::subscription(conversation, name);
        let slot_key = keys::slot(conversation, name, due);
        for _ in 0..MAX_ATTEMPTS {
            let Some(old) = self.get(&key.0, &key.1, now).await? else {
                return Ok(ClaimOutcome::Lost);
            };
            let mut sub: Subscription = decode(old.clone())?;
            if sub.next_due != due {
                return Ok(ClaimOutcome::Lost);
            }
            sub.next_due = next_due;
            let mut advanced = subscription_item(&sub)?;
            advanced.data.insert("rev".into(), json!(rev(&old) + 1));
            let slot = Item {
                pk: slot_key.0.clone(),
                sk: slot_key.1.clone(),
                kind: keys::KIND_SLOT.into(),
                gsi1: None,
                expires_at: Some(due.max(now).plus_secs(KEEP_DONE_SECS).0),
                data: to_map(&json!({"conversationId": conversation, "name": name, "due": due}))?,
            };
            let writes = vec![
                Write::Put {
                    item: slot,
                    cond: Cond::Absent,
                },
                Write::Put {
                    item: advanced,
                    cond: unchanged(Some(&old)),
                },
            ];
            match self.write(writes, now).await? {
                WriteOutcome::Applied => return Ok(ClaimOutcome::Won),
                WriteOutcome::ConditionFailed(failed) if failed.contains(&0) => return Ok(ClaimOutcome::Lost),
                WriteOutcome::ConditionFailed(_) => {}
            }
        }
        Err(StoreError::Conflict {
            key: format!("{}|{}", key.0, key.1),
        })
    }

    async fn record_vote(
        &self,
        conversation: &ConversationId,
        name: &str,
        slot: &str,
        voter: &str,
        choice: usize,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        not_empty(conversation.as_str(), "empty conversation id")?;
        not_empty(slot, "empty poll slot")?;
        not_empty(voter, "empty voter id")?;
        let data = json!({"conversationId": conversation, "name": name, "slot": slot, "voter": voter,
                          "choice": choice, "votedAt": now});
        let mut vote = item(keys::vote(conversation, name, slot, voter), keys::KIND_VOTE, &data)?;
        vote.expires_at = Some(now.plus_secs(VOTE_KEEP_SECS).0);
        put(self, vote, now).await
    }

    async fn votes(
        &self,
        conversation: &ConversationId,
        name: &str,
        slot: &str,
        now: Timestamp,
    ) -> Result<BTreeMap<String, usize>, StoreError> {
        not_empty(conversation.as_str(), "empty conversation id")?;
        not_empty(slot, "empty poll slot")?;
        let (pk, _) = keys::vote(conversation, name, slot, "");
        let mut votes = BTreeMap::new();
        for it in self.query_prefix(&pk, "", now, MAX_VOTES).await? {
            let voter = it.data.get("voter").and_then(Value::as_str);
            let choice = it
                .data
                .get("choice")
                .and_then(Value::as_u64)
                .and_then(|c| usize::try_from(c).ok());
            let (Some(voter), Some(choice)) = (voter, choice) else {
                return Err(StoreError::corrupt(it.key_string(), "vote has no voter or choice"));
            };
            votes.insert(voter.to_owned(), choice);
        }
        Ok(votes)
    }

    async fn set_poll_activity(
        &self,
        conversation: &ConversationId,
        name: &str,
        activity: &ActivityId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        not_empty(conversation.as_str(), "empty conversation id")?;
        update(self, &keys::subscription(conversation, name), now, |old| {
            let Some(old) = old else { return Ok((None, false)) };
            let mut sub: Subscription = decode(old.clone())?;
            sub.poll_activity_id = Some(activity.clone());
            Ok((Some(subscription_item(&sub)?), true))
        })
        .await
    }
}

fn outbox_item_of(item_: &OutboxItem) -> Result<Item, StoreError> {
    not_empty(&item_.id, "empty outbox id")?;
    item(keys::outbox(&item_.id), keys::KIND_OUTBOX, item_)
}

#[async_trait]
impl<T: Table + ?Sized> Outbox for T {
    async fn enqueue(&self, item_: &OutboxItem, now: Timestamp) -> Result<ClaimOutcome, StoreError> {
        claim(self, outbox_item_of(item_)?, now).await
    }

    async fn enqueue_all(&self, items: &[OutboxItem], now: Timestamp) -> Result<ClaimOutcome, StoreError> {
        let writes = items
            .iter()
            .map(|i| {
                Ok(Write::Put {
                    item: outbox_item_of(i)?,
                    cond: Cond::Absent,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(match self.write(writes, now).await? {
            WriteOutcome::Applied => ClaimOutcome::Won,
            WriteOutcome::ConditionFailed(_) => ClaimOutcome::Lost,
        })
    }

    async fn outbox_item(&self, id: &str, now: Timestamp) -> Result<Option<OutboxItem>, StoreError> {
        not_empty(id, "empty outbox id")?;
        let (pk, sk) = keys::outbox(id);
        self.get(&pk, &sk, now).await?.map(decode).transpose()
    }

    async fn mark_outbox_done(&self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        not_empty(id, "empty outbox id")?;
        update(self, &keys::outbox(id), now, |old| {
            let Some(old) = old else { return Ok((None, false)) };
            let mut it = old.clone();
            it.data.insert("done".into(), json!(true));
            it.expires_at = Some(now.plus_secs(KEEP_DONE_SECS).0);
            Ok((Some(it), true))
        })
        .await
    }
}

/// The key of a state value, after checking that the name and the scope's ids are not empty.
fn state_key(scope: &StateScope, name: &str) -> Result<Key, StoreError> {
    match scope {
        StateScope::Conversation(id) => not_empty(id.as_str(), "empty conversation id")?,
        StateScope::User { tenant, user_id } => {
            not_empty(tenant.as_str(), "empty tenant id")?;
            not_empty(user_id, "empty user id")?;
        }
        StateScope::Team(team_id) => not_empty(team_id, "empty team id")?,
    }
    not_empty(name, "empty state name")?;
    Ok(keys::state(scope, name))
}

/// An `io::Write` that counts bytes and fails once more than `left` arrive, to size JSON without buffering it.
struct SizeLimit {
    left: usize,
}

impl std::io::Write for SizeLimit {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.left = self
            .left
            .checked_sub(buf.len())
            .ok_or_else(|| std::io::Error::other("over the limit"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether `value`'s JSON is at most [`MAX_STATE_BYTES`] long.
fn state_value_fits(value: &Value) -> bool {
    serde_json::to_writer(SizeLimit { left: MAX_STATE_BYTES }, value).is_ok()
}

#[async_trait]
impl<T: Table + ?Sized> BotState for T {
    async fn load_state(&self, scope: &StateScope, name: &str, now: Timestamp) -> Result<Option<Value>, StoreError> {
        let (pk, sk) = state_key(scope, name)?;
        let Some(mut it) = self.get(&pk, &sk, now).await? else {
            return Ok(None);
        };
        match it.data.remove("value") {
            Some(value) => Ok(Some(value)),
            None => Err(StoreError::corrupt(it.key_string(), "state item has no value")),
        }
    }

    async fn save_state(
        &self,
        scope: &StateScope,
        name: &str,
        value: &Value,
        ttl_secs: Option<u64>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let key = state_key(scope, name)?;
        if !state_value_fits(value) {
            return Err(StoreError::Invalid("state value over 64 KiB"));
        }
        let mut data = Map::new();
        data.insert("value".into(), value.clone());
        data.insert("updatedAt".into(), json!(now));
        let it = Item {
            pk: key.0,
            sk: key.1,
            kind: keys::KIND_STATE.into(),
            gsi1: None,
            expires_at: ttl_secs.map(|ttl| now.plus_secs(ttl).0),
            data,
        };
        put(self, it, now).await
    }

    async fn delete_state(&self, scope: &StateScope, name: &str, now: Timestamp) -> Result<bool, StoreError> {
        let (pk, sk) = state_key(scope, name)?;
        let delete = Write::Delete {
            pk,
            sk,
            cond: Cond::Present,
        };
        Ok(self.write(vec![delete], now).await? == WriteOutcome::Applied)
    }
}

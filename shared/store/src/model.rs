//! The records the ports read and write, in our own types.

use models::{ActivityId, ChannelAccount, ConversationId, ConversationReference, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time as whole seconds since the Unix epoch (the unit of the table's `expiresAt` TTL attribute).
/// Every port method that can see an expired item takes `now`, so tests never sleep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current wall-clock time.
    #[must_use]
    pub fn now() -> Self {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Self(i64::try_from(secs).unwrap_or(i64::MAX))
    }

    /// This time plus `secs` seconds (saturating).
    #[must_use]
    pub fn plus_secs(self, secs: u64) -> Self {
        Self(self.0.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX)))
    }
}

/// The answer of a first-writer-wins claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This caller wrote the claim: it does the work.
    Won,
    /// Someone else claimed it first (a duplicate): do nothing.
    Lost,
}

impl ClaimOutcome {
    /// `true` for [`ClaimOutcome::Won`].
    #[must_use]
    pub fn won(self) -> bool {
        self == Self::Won
    }
}

/// Why a conversation stopped accepting the bot's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InactiveReason {
    /// The bot was uninstalled / removed from the conversation or team.
    Uninstalled,
    /// The Connector answered 403 (`BotNotInConversationRoster`, `BotDisabledByAdmin`), or 404 for the
    /// conversation itself (it no longer exists).
    Forbidden,
    /// The team was deleted (`teamDeleted`, `teamHardDeleted`); `teamRestored` makes it active again.
    TeamDeleted,
    /// The team was archived (`teamArchived`); `teamUnarchived` makes it active again.
    TeamArchived,
    /// The channel was deleted (`channelDeleted`); `channelRestored` makes it active again.
    ChannelDeleted,
}

impl InactiveReason {
    /// Whether Teams can undo it with an event of its own (restored, unarchived): the bot's jobs there pause
    /// instead of ending.
    #[must_use]
    pub fn reversible(self) -> bool {
        match self {
            Self::TeamDeleted | Self::TeamArchived | Self::ChannelDeleted => true,
            Self::Uninstalled | Self::Forbidden => false,
        }
    }
}

/// A conversation as stored (entity kind `conversation`): where to send, and whether the bot may.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationRecord {
    /// The reference with the serviceUrl last seen for this conversation. `activityId` is never stored; `user`
    /// only for personal conversations (the one user of the chat).
    #[serde(flatten)]
    pub reference: ConversationReference,
    /// `false` once the bot was uninstalled or the Connector answered 403; set again by the next inbound activity.
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_reason: Option<InactiveReason>,
    /// When this record last changed.
    pub updated_at: Timestamp,
}

/// What [`crate::Conversations::record_inbound`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboundOutcome {
    /// The activity id was already claimed: a redelivery. Nothing was written.
    Duplicate,
    /// First time this activity is seen; the conversation reference is up to date.
    New(Refresh),
}

/// How an upsert changed the stored conversation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refresh {
    /// There was no record for this conversation before.
    pub created: bool,
    /// The stored serviceUrl differed (or there was none).
    pub service_url_changed: bool,
    /// The conversation was marked inactive and is active again.
    pub reactivated: bool,
    /// The first-contact claim written with the reference ([`crate::Conversations::record_inbound_claiming`]):
    /// `None` when none was attempted (the conversation was known, or no claim was given).
    pub first_contact: Option<ClaimOutcome>,
}

impl Refresh {
    /// Whether anything was written to the conversation record.
    #[must_use]
    pub fn wrote(self) -> bool {
        self.created || self.service_url_changed || self.reactivated
    }
}

/// The personal (1:1) conversation of a user in a tenant (entity kind `personal`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonalConversation {
    pub tenant_id: TenantId,
    /// The user's Teams id (`29:...`).
    pub user_id: String,
    /// The user's Entra ID object id, when known (a second lookup key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_object_id: Option<String>,
    pub conversation_id: ConversationId,
    pub service_url: String,
    pub updated_at: Timestamp,
}

/// The team-install claim (entity kind `team-install`): first writer welcomes. It carries everything the welcome
/// function needs to send into the team's General channel from the stream's NewImage alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamInstall {
    /// `channelData.team.id`; also the General channel's conversation id.
    pub team_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_name: Option<String>,
    pub tenant_id: TenantId,
    pub service_url: String,
    /// Where the team welcome goes: the channel the installer selected (`channelData.settings.selectedChannel`),
    /// else the General channel (whose id is the team's).
    pub conversation_id: ConversationId,
    /// The bot (`recipient`): id `28:<appId>` and name.
    pub bot: ChannelAccount,
    /// Who added the bot (`from`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_by: Option<ChannelAccount>,
    pub claimed_at: Timestamp,
}

/// The serviceUrl last seen in any conversation of a tenant, and when (entity kind `tenant`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantSeen {
    pub service_url: String,
    pub updated_at: Timestamp,
}

/// The first-personal-contact claim of a tenant + user (entity kind `first-contact`): first writer welcomes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirstContact {
    pub tenant_id: TenantId,
    /// The user (`from`): id `29:...`, name, aadObjectId.
    pub user: ChannelAccount,
    /// The personal conversation to welcome in.
    pub conversation_id: ConversationId,
    pub service_url: String,
    pub bot: ChannelAccount,
    pub claimed_at: Timestamp,
}

/// A message the bot sent, to update or delete it later (entity kind `sent`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentActivity {
    pub conversation_id: ConversationId,
    pub activity_id: ActivityId,
    pub sent_at: Timestamp,
}

/// The state of an idempotency key (entity kind `idempotency`), e.g. a notify request's `idempotencyKey`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// This caller owns the key: send, then [`crate::SentLog::complete_idempotency`].
    Won,
    /// Another caller claimed it and has not finished (or crashed; the claim expires).
    Pending,
    /// Already done: answer these ids and send nothing.
    Done(SentActivity),
}

/// A polling subscription of a conversation (entity kind `subscription`): post `payload` every `everySecs`,
/// updating the poll message in place.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub conversation_id: ConversationId,
    /// The subscription's name within the conversation (a conversation may have several).
    pub name: String,
    pub every_secs: u64,
    /// The next slot to send.
    pub next_due: Timestamp,
    /// What to post (the bot decides the shape: a card, a text).
    #[serde(default)]
    pub payload: Value,
    /// The activity id of the poll message last posted, to update it in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_activity_id: Option<ActivityId>,
    pub created_at: Timestamp,
}

/// Work for the proactive function (entity kind `outbox`): its INSERT on the stream triggers the send.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxItem {
    /// Unique id; enqueueing the same id twice is a no-op (idempotent producers).
    pub id: String,
    /// What kind of work this is (e.g. `welcome-dm`, `notify`), for the consumer to dispatch on.
    pub topic: String,
    /// Everything the consumer needs to act (target conversation, serviceUrl, tenant, bot, message).
    #[serde(default)]
    pub payload: Value,
    #[serde(default)]
    pub done: bool,
    pub created_at: Timestamp,
}

/// Where a bot's own state lives: one conversation, one user of a tenant, or one team. The same state name in
/// two scopes names two separate values.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StateScope {
    /// One conversation (personal chat, group chat or channel).
    Conversation(ConversationId),
    /// One user of a tenant, across all their conversations with the bot.
    User {
        /// The user's tenant.
        tenant: TenantId,
        /// The user's Teams id (`29:...`).
        user_id: String,
    },
    /// One team (`channelData.team.id`), across its channels.
    Team(String),
}

impl StateScope {
    /// The scope's part of a state item's pk: `C#<conversationId>`, `U#<tenantId>#<userId>` or `T#<teamId>`.
    /// Each id is kept verbatim except that `%` and `#` in a tenant id are percent-encoded (`%25`, `%23`; a
    /// GUID has neither), so every scope maps to a different prefix even when ids contain `#`.
    pub(crate) fn key_prefix(&self) -> String {
        match self {
            Self::Conversation(id) => format!("C#{id}"),
            Self::User { tenant, user_id } => {
                let tenant = tenant.as_str().replace('%', "%25").replace('#', "%23");
                format!("U#{tenant}#{user_id}")
            }
            Self::Team(team_id) => format!("T#{team_id}"),
        }
    }
}

/// A change the embedded store delivers in-process, as the DynamoDB stream does in AWS.
#[derive(Clone, Debug, PartialEq)]
pub enum ChangeEvent {
    /// A new item was written where none existed (the stream's `INSERT`).
    Inserted {
        /// The item's `kind` attribute (`team-install`, `first-contact`, `outbox`, ...).
        kind: String,
        /// Every attribute of the new item (the stream's NewImage), as JSON.
        item: Value,
    },
}

/// A stream item the welcome and proactive functions act on, decoded from a NewImage (as JSON).
#[derive(Clone, Debug, PartialEq)]
pub enum StreamItem {
    TeamInstall(TeamInstall),
    FirstContact(FirstContact),
    Outbox(OutboxItem),
}

impl StreamItem {
    /// Decodes a NewImage (converted to JSON, e.g. with `serde_dynamo`, or a [`ChangeEvent`]'s item) by its `kind`.
    /// `Ok(None)` for kinds no function consumes.
    ///
    /// # Errors
    /// The item has a consumed kind but does not decode.
    pub fn from_image(kind: &str, item: &Value) -> Result<Option<Self>, serde_json::Error> {
        Ok(Some(match kind {
            crate::keys::KIND_TEAM_INSTALL => Self::TeamInstall(serde_json::from_value(item.clone())?),
            crate::keys::KIND_FIRST_CONTACT => Self::FirstContact(serde_json::from_value(item.clone())?),
            crate::keys::KIND_OUTBOX => Self::Outbox(serde_json::from_value(item.clone())?),
            _ => return Ok(None),
        }))
    }
}

impl ChangeEvent {
    /// The event's item as a [`StreamItem`], if it is one a function consumes.
    ///
    /// # Errors
    /// As [`StreamItem::from_image`].
    pub fn stream_item(&self) -> Result<Option<StreamItem>, serde_json::Error> {
        match self {
            Self::Inserted { kind, item } => StreamItem::from_image(kind, item),
        }
    }
}

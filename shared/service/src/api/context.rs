//! The turn context: what a handler can do, addressed to the conversation it is handling.

use crate::api::BotIdentity;
use crate::app::App;
use crate::flows::address::{freshest, stop_if_gone};
use crate::flows::personal::{self, ChatError, ChatRequest};
use crate::flows::triggers::base_conversation_id;
use crate::metrics::{self, Metric};
use connector::ConnectorError;
use models::connector::{ConversationList, PagedMembersResult, TeamDetails};
use models::{
    Activity, ActivityId, ActivityKind, ChannelAccount, ConversationAccount, ConversationId, ConversationReference,
    ConversationType, TeamsChannelAccount, TenantId,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::time::Duration;
use store::{StateScope, StoreError, Subscription, Timestamp};

/// The most roster pages [`Context::members`] reads (at 500 members a page: 25,000 members).
pub const MAX_ROSTER_PAGES: usize = 50;

/// Why a [`Context`] call failed.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// Teams refused the call or could not be reached (its status and Teams' error code are kept).
    #[error("Teams: {0}")]
    Connector(#[from] ConnectorError),
    /// The bot's state store failed.
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    /// The conversation is not one the bot knows (it never heard from it, nor created it).
    #[error("unknown conversation `{0}`")]
    UnknownConversation(ConversationId),
    /// The bot was removed from the conversation: nothing more is sent there.
    #[error("the bot was removed from conversation `{0}`")]
    ConversationInactive(ConversationId),
    /// What the call needs is not known here (a tenant in an activity without one, a team outside a team, ...).
    #[error("not available here: {0}")]
    NotAvailable(&'static str),
    /// A value could not be (de)serialized to or from the store.
    #[error("state `{name}`: {source}")]
    State {
        name: String,
        #[source]
        source: serde_json::Error,
    },
    /// A file could not be downloaded or offered (too large, a refused URL, the file host's error status, ...).
    #[error("file: {0}")]
    File(#[from] connector::FileError),
    /// The handler's own failure.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl BotError {
    /// Wraps any error of the bot's own.
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Other(error.into())
    }

    /// Whether Teams said the bot was removed from the conversation (403 `BotNotInConversationRoster`, ...), or the
    /// conversation is known to be inactive.
    #[must_use]
    pub fn is_bot_removed(&self) -> bool {
        match self {
            Self::Connector(e) => e.is_bot_removed(),
            Self::ConversationInactive(_) => true,
            Self::Store(_)
            | Self::UnknownConversation(_)
            | Self::NotAvailable(_)
            | Self::State { .. }
            | Self::File(_)
            | Self::Other(_) => false,
        }
    }

    /// Whether Teams answered that the message or conversation does not exist (404).
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Connector(ConnectorError::NotFound { .. }))
    }
}

/// The ids of a message the bot sent: enough to update or delete it later, from any function.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentMessage {
    /// The conversation it was sent in.
    pub conversation_id: ConversationId,
    /// The message's id.
    pub activity_id: ActivityId,
}

/// What a handler can do. Addressed to one conversation: the inbound activity's, or a scheduled job's.
///
/// Every send goes through the runtime's Connector client (allowlist, pacing, retries); when Teams answers that
/// the bot was removed, the conversation is marked inactive before the error is returned.
#[derive(Debug)]
pub struct Context<'a> {
    app: &'a App,
    activity: Option<&'a Activity>,
    reference: ConversationReference,
    /// Deferred work: the work this context runs, if any, and its sends and deferrals so far.
    turn: crate::api::Turn,
}

impl<'a> Context<'a> {
    /// The context of an inbound activity.
    pub(crate) fn inbound(app: &'a App, activity: &'a Activity, reference: ConversationReference) -> Self {
        Self {
            app,
            activity: Some(activity),
            reference,
            turn: crate::api::Turn::default(),
        }
    }

    /// The context of proactive work in a stored conversation.
    pub(crate) fn proactive(app: &'a App, reference: ConversationReference) -> Self {
        Self {
            app,
            activity: None,
            reference,
            turn: crate::api::Turn::default(),
        }
    }

    /// The context of the deferred work `work_id` (see [`crate::api::Bot::on_deferred`]): proactive, its sends
    /// keyed by the work.
    pub(crate) fn deferred(app: &'a App, reference: ConversationReference, work_id: &str) -> Self {
        Self {
            app,
            activity: None,
            reference,
            turn: crate::api::Turn::of_work(work_id),
        }
    }

    /// The runtime (for the API's other modules).
    pub(crate) fn app(&self) -> &'a App {
        self.app
    }

    /// What this context knows of deferred work.
    pub(crate) fn turn(&self) -> &crate::api::Turn {
        &self.turn
    }

    /// The inbound activity being handled (`None` for a scheduled job).
    #[must_use]
    pub fn activity(&self) -> Option<&Activity> {
        self.activity
    }

    /// The conversation this context is addressed to (serviceUrl, tenant, team, channel, bot, user).
    #[must_use]
    pub fn conversation(&self) -> &ConversationReference {
        &self.reference
    }

    /// The conversation's id.
    #[must_use]
    pub fn conversation_id(&self) -> &ConversationId {
        &self.reference.conversation.id
    }

    /// The tenant, when known.
    #[must_use]
    pub fn tenant(&self) -> Option<&TenantId> {
        self.reference.tenant_id.as_ref()
    }

    /// Who the bot is (its id and configured name).
    #[must_use]
    pub fn bot(&self) -> &BotIdentity {
        &self.app.identity
    }

    /// Posts `message` in this conversation: as a reply to the inbound activity (in a channel, in its thread),
    /// or, in a scheduled job, as a new message. Answers the sent message's id.
    ///
    /// # Errors
    /// [`BotError::Connector`] when Teams refused it or could not be reached.
    pub async fn reply(&self, message: impl Into<Activity>) -> Result<ActivityId, BotError> {
        let Some(inbound) = self.activity else {
            return self.send(message).await;
        };
        let (service_url, conversation) = (&self.reference.service_url, self.conversation_id());
        let reply = inbound.reply_with(message.into());
        let connector = &self.app.connector;
        let result = match &inbound.id {
            Some(id) => connector.reply_to_activity(service_url, conversation, id, &reply).await,
            None => connector.send_to_conversation(service_url, conversation, &reply).await,
        };
        match result {
            Ok(sent) => {
                self.count_sent();
                Ok(sent.id)
            }
            Err(e) => Err(self.failed("reply", e, conversation).await),
        }
    }

    /// Posts `message` in this conversation as a new message (in a channel, a new post of the channel's thread
    /// root conversation this context names), not threaded under the inbound activity.
    ///
    /// # Errors
    /// [`BotError::Connector`].
    pub async fn send(&self, message: impl Into<Activity>) -> Result<ActivityId, BotError> {
        self.send_in(
            &self.reference.service_url,
            self.conversation_id(),
            self.tenant(),
            message.into(),
        )
        .await
    }

    /// Shows the typing indicator in this conversation.
    ///
    /// # Errors
    /// [`BotError::Connector`].
    pub async fn typing(&self) -> Result<(), BotError> {
        let typing = Activity {
            kind: ActivityKind::Typing(models::Extra::default()),
            ..Activity::default()
        };
        self.send_in(
            &self.reference.service_url,
            self.conversation_id(),
            self.tenant(),
            typing,
        )
        .await
        .map(|_| ())
    }

    /// A reply written piece by piece: informative updates, then the text as it is produced, then the final
    /// message, streamed as Teams streams bot messages in a 1:1 chat (elsewhere, one message at the end). See
    /// [`ReplyStream`](crate::api::ReplyStream).
    #[must_use]
    pub fn stream(&self) -> crate::api::ReplyStream<'_> {
        crate::api::ReplyStream::new(self)
    }

    /// Replaces a message the bot sent in this conversation (PUT). Teams updates text and single-card messages.
    ///
    /// # Errors
    /// [`BotError::Connector`]; [`BotError::is_not_found`] when the message is gone.
    pub async fn update(&self, message_id: &ActivityId, message: impl Into<Activity>) -> Result<(), BotError> {
        let mut message = message.into();
        message.id = Some(message_id.clone());
        let conversation = self.conversation_id();
        let message = crate::addressed(&message, conversation, self.tenant());
        match self
            .app
            .connector
            .update_activity(&self.reference.service_url, conversation, message_id, &message)
            .await
        {
            Ok(_) => {
                self.count_sent();
                Ok(())
            }
            Err(e) => Err(self.failed("update", e, conversation).await),
        }
    }

    /// Deletes a message the bot sent in this conversation.
    ///
    /// # Errors
    /// [`BotError::Connector`].
    pub async fn delete(&self, message_id: &ActivityId) -> Result<(), BotError> {
        let conversation = self.conversation_id();
        match self
            .app
            .connector
            .delete_activity(&self.reference.service_url, conversation, message_id)
            .await
        {
            Ok(()) => {
                self.count_sent();
                Ok(())
            }
            Err(e) => Err(self.failed("delete", e, conversation).await),
        }
    }

    /// Sends `message` to any conversation the bot knows (it heard from it, or created it), at the serviceUrl
    /// last seen there.
    ///
    /// # Errors
    /// [`BotError::UnknownConversation`], [`BotError::ConversationInactive`], [`BotError::Connector`].
    pub async fn send_to(
        &self,
        conversation: &ConversationId,
        message: impl Into<Activity>,
    ) -> Result<SentMessage, BotError> {
        let now = Timestamp::now();
        let record = self
            .app
            .store
            .conversation(conversation, now)
            .await?
            .ok_or_else(|| BotError::UnknownConversation(conversation.clone()))?;
        if !record.active {
            return Err(BotError::ConversationInactive(conversation.clone()));
        }
        let reference = &record.reference;
        let known = (reference.service_url.as_str(), record.updated_at);
        let service_url = freshest(self.app, Some(known), reference.tenant_id.as_ref(), now).await?;
        let activity_id = self
            .send_in(&service_url, conversation, reference.tenant_id.as_ref(), message.into())
            .await?;
        Ok(SentMessage {
            conversation_id: conversation.clone(),
            activity_id,
        })
    }

    /// The 1:1 chat between the bot and `user` in this context's tenant: the stored one, or a new one (Teams
    /// answers the existing chat if there is one). A chat the bot creates is remembered as a full conversation
    /// (so [`Context::send_to`] and the notify operations work with its id), and counts as the user's first
    /// personal contact (the one personal welcome). `user.id` may be a Teams id (`29:...`) or, when empty, the
    /// user's `aadObjectId` is used.
    ///
    /// # Errors
    /// [`BotError::NotAvailable`] without a tenant or a user id; [`BotError::Store`]; [`BotError::Connector`].
    pub async fn personal_chat(&self, user: &ChannelAccount) -> Result<ConversationId, BotError> {
        let tenant = self
            .tenant()
            .cloned()
            .ok_or(BotError::NotAvailable("the tenant (needed to open a 1:1 chat)"))?;
        let request = ChatRequest {
            user,
            tenant: &tenant,
            service_url: &self.reference.service_url,
            bot: &self.reference.bot,
            locale: self.reference.locale.as_deref(),
            claims_first_contact: true,
        };
        match personal::open(self.app, request).await {
            Ok((conversation, _)) => Ok(conversation),
            Err(ChatError::Store(e)) => Err(e.into()),
            Err(ChatError::NoUserId) => Err(BotError::NotAvailable("a user id or aadObjectId")),
            Err(ChatError::Connector(e)) => {
                tracing::warn!(operation = "create 1:1", tenant = %tenant, error = %e, "connector call failed");
                Err(BotError::Connector(e))
            }
        }
    }

    /// Starts a new reply chain in a channel of this context's team with `message` as its first post. Answers
    /// the new thread's conversation id (`<channel>;messageid=<id>`) and the post's id; the thread is remembered
    /// so [`Context::send_to`] can post in it later.
    ///
    /// # Errors
    /// [`BotError::NotAvailable`] outside a team; [`BotError::Connector`].
    pub async fn start_thread(&self, channel_id: &str, message: impl Into<Activity>) -> Result<SentMessage, BotError> {
        let team_id = self.reference.team_id.clone();
        let tenant = self.tenant().cloned();
        let created = match self
            .app
            .connector
            .create_channel_thread(
                &self.reference.service_url,
                channel_id,
                tenant.as_ref(),
                &message.into(),
            )
            .await
        {
            Ok(created) => created,
            Err(e) => return Err(self.failed("new thread", e, self.conversation_id()).await),
        };
        let activity_id = created.activity_id.clone().unwrap_or_default();
        let reference = ConversationReference {
            activity_id: None,
            user: None,
            bot: self.reference.bot.clone(),
            conversation: ConversationAccount {
                id: created.id.clone(),
                conversation_type: Some(ConversationType::Channel),
                is_group: Some(true),
                tenant_id: tenant.clone(),
                ..ConversationAccount::default()
            },
            channel_id: self.reference.channel_id.clone(),
            service_url: self.reference.service_url.clone(),
            locale: None,
            tenant_id: tenant,
            team_id,
            channel: Some(channel_id.to_owned()),
        };
        self.app.store.insert_conversation(&reference, Timestamp::now()).await?;
        Ok(SentMessage {
            conversation_id: created.id,
            activity_id,
        })
    }

    /// Every member of this conversation (in a channel: of its team), read page by page (at most
    /// [`MAX_ROSTER_PAGES`] pages of `page_size`).
    ///
    /// # Errors
    /// [`BotError::Connector`].
    pub async fn members(&self, page_size: u32) -> Result<Vec<TeamsChannelAccount>, BotError> {
        let mut members = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_ROSTER_PAGES {
            let page = self.members_page(page_size, token.as_deref()).await?;
            members.extend(page.members);
            token = page.continuation_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        Ok(members)
    }

    /// One page of this conversation's roster (in a channel: of its team).
    ///
    /// # Errors
    /// [`BotError::Connector`].
    pub async fn members_page(
        &self,
        page_size: u32,
        continuation_token: Option<&str>,
    ) -> Result<PagedMembersResult, BotError> {
        let roster = self.roster_id();
        match self
            .app
            .connector
            .get_paged_members(
                &self.reference.service_url,
                &roster,
                Some(page_size),
                continuation_token,
            )
            .await
        {
            Ok(page) => Ok(page),
            Err(e) => Err(self.failed("roster", e, self.conversation_id()).await),
        }
    }

    /// One member of this conversation (in a channel: of its team), by Teams id or AAD object id.
    ///
    /// # Errors
    /// [`BotError::Connector`] (404 when not a member).
    pub async fn member(&self, user_id: &str) -> Result<TeamsChannelAccount, BotError> {
        let roster = self.roster_id();
        match self
            .app
            .connector
            .get_member(&self.reference.service_url, &roster, user_id)
            .await
        {
            Ok(member) => Ok(member),
            Err(e) => Err(self.failed("member", e, self.conversation_id()).await),
        }
    }

    /// This context's team: its details (name, AAD group id, ...).
    ///
    /// # Errors
    /// [`BotError::NotAvailable`] outside a team; [`BotError::Connector`].
    pub async fn team_details(&self) -> Result<TeamDetails, BotError> {
        let team = self.team_id()?;
        Ok(self
            .app
            .connector
            .team_details(&self.reference.service_url, team)
            .await?)
    }

    /// This context's team: its channels.
    ///
    /// # Errors
    /// [`BotError::NotAvailable`] outside a team; [`BotError::Connector`].
    pub async fn channels(&self) -> Result<ConversationList, BotError> {
        let team = self.team_id()?;
        Ok(self
            .app
            .connector
            .team_channels(&self.reference.service_url, team)
            .await?)
    }

    /// Batch sends in this context's tenant: one message to many users, the whole tenant, a team's members or
    /// several channels ([`crate::api::batch::Batch`]).
    #[must_use]
    pub fn batch(&'a self) -> crate::api::batch::Batch<'a> {
        crate::api::batch::Batch::new(self)
    }

    /// The scheduled jobs of this conversation (for a channel thread: of its channel).
    #[must_use]
    pub fn jobs(&self) -> Jobs<'_> {
        Jobs {
            ctx: self,
            conversation: ConversationId::from(base_conversation_id(self.conversation_id().as_str())),
        }
    }

    /// State kept for this conversation (for a channel thread: for the thread).
    #[must_use]
    pub fn conversation_state(&self) -> State<'_> {
        State {
            app: self.app,
            scope: StateScope::Conversation(self.conversation_id().clone()),
        }
    }

    /// State kept for the user who sent the inbound activity (per tenant); `None` without a user or tenant.
    #[must_use]
    pub fn user_state(&self) -> Option<State<'_>> {
        let user = self.reference.user.as_ref().filter(|u| !u.id.is_empty())?;
        let tenant = self.tenant()?.clone();
        Some(State {
            app: self.app,
            scope: StateScope::User {
                tenant,
                user_id: user.id.clone(),
            },
        })
    }

    /// State kept for this context's team; `None` outside a team.
    #[must_use]
    pub fn team_state(&self) -> Option<State<'_>> {
        let team = self.reference.team_id.clone().filter(|t| !t.is_empty())?;
        Some(State {
            app: self.app,
            scope: StateScope::Team(team),
        })
    }

    fn team_id(&self) -> Result<&str, BotError> {
        self.reference
            .team_id
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or(BotError::NotAvailable("a team (this conversation is not in one)"))
    }

    /// Whose roster: the team in a channel, else the conversation.
    fn roster_id(&self) -> ConversationId {
        match self.reference.team_id.as_deref().filter(|t| !t.is_empty()) {
            Some(team) => ConversationId::from(team),
            None => self.conversation_id().clone(),
        }
    }

    /// Sends `message` to `conversation` at `service_url`, addressed in `tenant` (the Connector client paces
    /// it under that tenant's budget).
    async fn send_in(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        tenant: Option<&TenantId>,
        message: Activity,
    ) -> Result<ActivityId, BotError> {
        let message = crate::addressed(&message, conversation, tenant);
        let typing = matches!(message.kind, ActivityKind::Typing(_));
        // In deferred work, a send an earlier run of it made is not made again (crate::api::deferred).
        let key = match self.turn.claim_send(self.app, typing).await? {
            crate::api::SendClaim::Send(key) => key,
            crate::api::SendClaim::AlreadySent(id) => return Ok(id),
        };
        match self
            .app
            .connector
            .send_to_conversation(service_url, conversation, &message)
            .await
        {
            Ok(sent) => {
                if !typing {
                    self.count_sent();
                }
                self.turn.sent(self.app, key.as_deref(), conversation, &sent.id).await;
                Ok(sent.id)
            }
            Err(e) => {
                self.turn.failed(self.app, key.as_deref(), &e).await;
                Err(self.failed("send", e, conversation).await)
            }
        }
    }

    /// Counts a message sent, updated or deleted: a reply while handling an activity, else proactive (a job).
    pub(crate) fn count_sent(&self) {
        metrics::count(if self.activity.is_some() {
            Metric::RepliesSent
        } else {
            Metric::ProactiveSent
        });
    }

    /// Logs a failed Connector call and, when Teams says the bot was removed or the conversation is gone, marks
    /// the conversation inactive ([`stop_if_gone`], awaited). Counted: [`Metric::RepliesFailed`] while handling an
    /// activity, else as a proactive failure ([`metrics::proactive_failure`]).
    pub(crate) async fn failed(
        &self,
        operation: &str,
        error: ConnectorError,
        conversation: &ConversationId,
    ) -> BotError {
        metrics::count(if self.activity.is_some() {
            Metric::RepliesFailed
        } else {
            metrics::proactive_failure(error.http_status())
        });
        tracing::warn!(operation, conversation = %conversation, status = error.connector_status(), error = %error, "connector call failed");
        stop_if_gone(self.app, conversation, &error).await;
        BotError::Connector(error)
    }
}

/// A job scheduled in a conversation, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduledJob {
    /// Its name (one job of a name per conversation).
    pub name: String,
    /// Time between two runs (at least a minute).
    pub every: Duration,
    /// When the next run is due.
    pub next_due: Timestamp,
    /// The data it was scheduled with, as last saved.
    pub data: Value,
}

/// The scheduled jobs of one conversation (see [`Context::jobs`]). A due job runs [`crate::api::Bot::on_job`]
/// once per time slot, from the schedule (`POST /api/tick` locally, the `proactive` function's `{"tick": {}}` in
/// AWS), whichever instance claims the slot first.
#[derive(Debug)]
pub struct Jobs<'c> {
    ctx: &'c Context<'c>,
    conversation: ConversationId,
}

impl Jobs<'_> {
    /// Schedules (or reschedules) the job `name` here: first run due now, then every `every` (at least a
    /// minute), with `data` handed to each run.
    ///
    /// # Errors
    /// [`BotError::Store`].
    pub async fn schedule(&self, name: &str, every: Duration, data: Value) -> Result<(), BotError> {
        let now = Timestamp::now();
        let reference = &self.ctx.reference;
        let subscription = Subscription {
            conversation_id: self.conversation.clone(),
            name: name.to_owned(),
            every_secs: every.as_secs().max(60),
            next_due: now,
            payload: json!({
                "serviceUrl": reference.service_url,
                "tenantId": reference.tenant_id,
                "bot": reference.bot,
                "data": data,
            }),
            poll_activity_id: None,
            created_at: now,
        };
        // A job scheduled from a reply chain belongs to its channel: make the channel a known conversation (in
        // its team's index), so team and channel events reach the job.
        if self.conversation != reference.conversation.id {
            let mut channel = reference.clone();
            channel.activity_id = None;
            channel.conversation.id = self.conversation.clone();
            self.ctx.app.store.upsert_conversation(&channel, now).await?;
        }
        self.ctx.app.store.subscribe(&subscription, now).await?;
        Ok(())
    }

    /// Ends the job `name` here; `false` when there was none.
    ///
    /// # Errors
    /// [`BotError::Store`].
    pub async fn cancel(&self, name: &str) -> Result<bool, BotError> {
        Ok(self
            .ctx
            .app
            .store
            .unsubscribe(&self.conversation, name, Timestamp::now())
            .await?)
    }

    /// The job `name` here, if scheduled.
    ///
    /// # Errors
    /// [`BotError::Store`].
    pub async fn get(&self, name: &str) -> Result<Option<ScheduledJob>, BotError> {
        let stored = self
            .ctx
            .app
            .store
            .subscription(&self.conversation, name, Timestamp::now())
            .await?;
        Ok(stored.map(|s| ScheduledJob {
            name: s.name.clone(),
            every: Duration::from_secs(s.every_secs),
            next_due: s.next_due,
            data: job_data(&s.payload).clone(),
        }))
    }

    /// Replaces the data the job `name` hands to its next runs; `false` when there is no such job.
    ///
    /// # Errors
    /// [`BotError::Store`].
    pub async fn save_data(&self, name: &str, data: Value) -> Result<bool, BotError> {
        let now = Timestamp::now();
        let store = &self.ctx.app.store;
        let Some(mut subscription) = store.subscription(&self.conversation, name, now).await? else {
            return Ok(false);
        };
        match subscription.payload.as_object_mut() {
            Some(map) if map.contains_key("data") => {
                map.insert("data".to_owned(), data);
            }
            Some(_) | None => subscription.payload = data,
        }
        store.subscribe(&subscription, now).await?;
        Ok(true)
    }

    /// Records `voter`'s answer `choice` to the run `slot` of the job `name` (one answer per voter, the last
    /// counts). Each answer is its own item: simultaneous answers never contend.
    ///
    /// # Errors
    /// [`BotError::Store`].
    pub async fn record_answer(&self, name: &str, slot: &str, voter: &str, choice: usize) -> Result<(), BotError> {
        self.ctx
            .app
            .store
            .record_vote(&self.conversation, name, slot, voter, choice, Timestamp::now())
            .await?;
        Ok(())
    }

    /// Every answer to the run `slot` of the job `name`, by voter id, read consistently.
    ///
    /// # Errors
    /// [`BotError::Store`].
    pub async fn answers(&self, name: &str, slot: &str) -> Result<Vec<(String, usize)>, BotError> {
        Ok(self
            .ctx
            .app
            .store
            .votes(&self.conversation, name, slot, Timestamp::now())
            .await?
            .into_iter()
            .collect())
    }
}

/// The user data of a subscription's payload: `data` (the runtime keeps the address beside it), or, for a
/// subscription stored before jobs had `data`, the whole payload.
pub(crate) fn job_data(payload: &Value) -> &Value {
    payload.get("data").unwrap_or(payload)
}

/// Small typed state the bot keeps in its store, for one conversation, user or team (see
/// [`Context::conversation_state`]). Values are JSON, at most 64 KiB each; the last write wins.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use teams_bot::{Bot, BotError, Context, IncomingMessage};
///
/// #[derive(Default, Serialize, Deserialize)]
/// struct Preferences {
///     language: String,
/// }
///
/// struct Polyglot;
///
/// #[teams_bot::async_trait]
/// impl Bot for Polyglot {
///     async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
///         let Some(user) = ctx.user_state() else { return Ok(()) };
///         if let Some(language) = message.text.strip_prefix("speak ") {
///             user.save("prefs", &Preferences { language: language.to_owned() }, None).await?;
///         }
///         let prefs: Preferences = user.load("prefs").await?.unwrap_or_default();
///         ctx.reply(format!("I speak {}", prefs.language)).await?;
///         Ok(())
///     }
/// }
/// ```
#[derive(Debug)]
pub struct State<'c> {
    app: &'c App,
    scope: StateScope,
}

impl<'c> State<'c> {
    pub(crate) fn new(app: &'c App, scope: StateScope) -> Self {
        Self { app, scope }
    }

    /// The value stored under `name`, if any.
    ///
    /// # Errors
    /// [`BotError::Store`]; [`BotError::State`] when the stored value is not a `T`.
    pub async fn load<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, BotError> {
        let Some(value) = self.app.store.load_state(&self.scope, name, Timestamp::now()).await? else {
            return Ok(None);
        };
        serde_json::from_value(value)
            .map(Some)
            .map_err(|source| BotError::State {
                name: name.to_owned(),
                source,
            })
    }

    /// Stores `value` under `name`, replacing what was there; with `keep`, it expires after that long.
    ///
    /// # Errors
    /// [`BotError::Store`] (also for a value over 64 KiB); [`BotError::State`] when `value` does not serialize.
    pub async fn save<T: Serialize>(&self, name: &str, value: &T, keep: Option<Duration>) -> Result<(), BotError> {
        let value = serde_json::to_value(value).map_err(|source| BotError::State {
            name: name.to_owned(),
            source,
        })?;
        self.app
            .store
            .save_state(&self.scope, name, &value, keep.map(|k| k.as_secs()), Timestamp::now())
            .await?;
        Ok(())
    }

    /// Removes what is stored under `name`; `false` when nothing was.
    ///
    /// # Errors
    /// [`BotError::Store`].
    pub async fn delete(&self, name: &str) -> Result<bool, BotError> {
        Ok(self.app.store.delete_state(&self.scope, name, Timestamp::now()).await?)
    }
}

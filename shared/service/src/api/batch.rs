//! Batch sends from a handler: [`Context::batch`] gives a [`Batch`] handle that sends one message to many users,
//! a whole tenant, a team's members or several channels, and reads a batch's state later.

use crate::api::{BotError, Context};
use crate::flows::batch::{self, BatchError};
use models::batch::OperationId;
use models::{Activity, ChannelAccount, TenantId};

pub use crate::flows::batch::{Audience, BatchMode, BatchReport, BatchSent};
pub use models::batch::{BatchFailedEntry, BatchState};

impl From<BatchError> for BotError {
    fn from(e: BatchError) -> Self {
        match e {
            BatchError::Store(e) => Self::Store(e),
            BatchError::Connector(e) => Self::Connector(e),
            BatchError::UnknownTeam(_) => Self::NotAvailable("a team the bot is installed in"),
            BatchError::NotAvailable(what) => Self::NotAvailable(what),
            BatchError::Invalid(_) => Self::other(e),
        }
    }
}

/// One message to many recipients, in the tenant of the context it came from. Reached by [`Context::batch`].
///
/// Sends go through Teams' batch endpoints (`v3/batch/conversation/...`), which answer at once with an
/// operation id and deliver in the background; where batch is not allowed (an emulator, a Connector without
/// the endpoints, or [`Batch::individually`]) each recipient gets its own paced send and the answer is the
/// final [`BatchReport`]. Either way, retries and pacing are the runtime's, and a batch whose answer never
/// came is not sent again.
///
/// ```
/// use teams_bot::{Bot, BotError, ChannelAccount, Context, IncomingMessage};
/// use teams_bot::batch::BatchSent;
///
/// struct Announcer;
///
/// #[teams_bot::async_trait]
/// impl Bot for Announcer {
///     async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
///         if message.text != "announce" {
///             return Ok(());
///         }
///         let people = vec![ChannelAccount::new("29:1alice", None), ChannelAccount::new("29:1bob", None)];
///         match ctx.batch().to_users(people, "Maintenance tonight at 22:00").await? {
///             BatchSent::Accepted { operation_id } => ctx.reply(format!("Sending (operation {operation_id})")).await?,
///             BatchSent::Individual(report) => {
///                 ctx.reply(format!("Sent; {} failed", report.failed_entries.len())).await?
///             }
///         };
///         Ok(())
///     }
/// }
/// ```
#[derive(Debug)]
pub struct Batch<'c> {
    ctx: &'c Context<'c>,
    mode: BatchMode,
}

impl<'c> Batch<'c> {
    pub(crate) fn new(ctx: &'c Context<'c>) -> Self {
        Self {
            ctx,
            mode: BatchMode::Auto,
        }
    }

    /// The same handle, sending one message per recipient instead of using Teams' batch endpoints.
    #[must_use]
    pub fn individually(mut self) -> Self {
        self.mode = BatchMode::Individual;
        self
    }

    fn tenant(&self) -> Result<TenantId, BotError> {
        self.ctx
            .tenant()
            .cloned()
            .ok_or(BotError::NotAvailable("the tenant (needed for a batch send)"))
    }

    async fn send(&self, audience: Audience, message: Activity) -> Result<BatchSent, BotError> {
        let tenant = match &audience {
            Audience::Users(_) | Audience::Tenant => self.tenant()?,
            Audience::Team(_) | Audience::Channels { .. } => self.ctx.tenant().cloned().unwrap_or_default(),
        };
        Ok(batch::send(self.ctx.app(), &tenant, &audience, &message, self.mode).await?)
    }

    /// Sends `message` to each of `users` (by Teams id `29:...`, or with an empty id by `aadObjectId`) in their
    /// 1:1 chat with the bot.
    ///
    /// # Errors
    /// [`BotError::NotAvailable`] without a tenant; [`BotError::Connector`] when Teams refuses the batch as a
    /// whole (one unreachable user is a failed entry, not an error); [`BotError::Store`].
    pub async fn to_users(
        &self,
        users: Vec<ChannelAccount>,
        message: impl Into<Activity>,
    ) -> Result<BatchSent, BotError> {
        self.send(Audience::Users(users), message.into()).await
    }

    /// Sends `message` to every user of this context's tenant who has the bot (Teams' batch endpoint only: there
    /// is no individual form).
    ///
    /// # Errors
    /// [`BotError::NotAvailable`] without a tenant or where batch is not allowed; [`BotError::Connector`].
    pub async fn to_tenant(&self, message: impl Into<Activity>) -> Result<BatchSent, BotError> {
        self.send(Audience::Tenant, message.into()).await
    }

    /// Sends `message` to each member of team `team_id` (the bot must be installed there), 1:1.
    ///
    /// # Errors
    /// [`BotError::NotAvailable`] for a team the bot is not installed in; [`BotError::Connector`].
    pub async fn to_team(&self, team_id: &str, message: impl Into<Activity>) -> Result<BatchSent, BotError> {
        self.send(Audience::Team(team_id.to_owned()), message.into()).await
    }

    /// Posts `message` as a new thread in each of `channels` of team `team_id`.
    ///
    /// # Errors
    /// [`BotError::NotAvailable`] for a team the bot is not installed in; [`BotError::Connector`].
    pub async fn to_channels(
        &self,
        team_id: &str,
        channels: Vec<String>,
        message: impl Into<Activity>,
    ) -> Result<BatchSent, BotError> {
        let audience = Audience::Channels {
            team_id: team_id.to_owned(),
            channels,
        };
        self.send(audience, message.into()).await
    }

    /// Where batch `operation_id` is: Teams' state, counts by status, and its failed entries.
    ///
    /// # Errors
    /// [`BotError::NotAvailable`] without a tenant; [`BotError::Connector`] (404 for an unknown operation).
    pub async fn state(&self, operation_id: &str) -> Result<BatchReport, BotError> {
        let tenant = self.tenant()?;
        Ok(batch::state(self.ctx.app(), &tenant, &OperationId::from(operation_id)).await?)
    }

    /// Cancels what batch `operation_id` has not sent yet.
    ///
    /// # Errors
    /// [`BotError::NotAvailable`] without a tenant; [`BotError::Connector`].
    pub async fn cancel(&self, operation_id: &str) -> Result<(), BotError> {
        let tenant = self.tenant()?;
        Ok(batch::cancel(self.ctx.app(), &tenant, &OperationId::from(operation_id)).await?)
    }
}

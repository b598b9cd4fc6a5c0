//! Write your own Microsoft Teams bot in Rust; run it as three small AWS Lambda functions (state in DynamoDB) or
//! as one local process.
//!
//! You implement [`Bot`]: one async method per thing Teams delivers, each a no-op by default. Your handlers act
//! through a [`Context`] (reply, update, delete, typing, 1:1 chats, threads, roster, team details, scheduled
//! [`Jobs`], typed [`State`]). The runtime owns everything a bot must not get wrong: Bot Framework token checks,
//! dedupe of Teams' redeliveries, exactly-once welcomes and job runs, the serviceUrl allowlist for our token,
//! pacing inside Teams' rate limits, retries, and state on DynamoDB or an embedded store.
//!
//! ```
//! use teams_bot::{Activity, Bot, BotError, Context, IncomingMessage, PersonalWelcome};
//!
//! struct Hello;
//!
//! #[teams_bot::async_trait]
//! impl Bot for Hello {
//!     async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
//!         ctx.reply(format!("Hello, {}!", message.from.name.as_deref().unwrap_or("you"))).await?;
//!         Ok(())
//!     }
//!
//!     async fn personal_welcome(&self, _user: &PersonalWelcome<'_>) -> Option<Activity> {
//!         Some(Activity::message("Welcome! Say anything."))
//!     }
//! }
//!
//! // Locally:   teams_bot::devserver::serve(Hello).await      (feature `devserver`)
//! // On Lambda: teams_bot::lambda::messages(Hello).await      (feature `lambda`; also `welcome`, `proactive`)
//! ```
//!
//! Unit-test a bot with [`testkit::TestKit`]: the whole runtime in-process over an in-memory store and a
//! recording Connector.

pub use async_trait::async_trait;
pub use models;
pub use models::{Activity, ActivityId, Attachment, ChannelAccount, ConversationId, ConversationReference, TenantId};
pub use service::Timestamp;

/// The errors inside [`BotError`]: what Teams answered ([`errors::ConnectorError`]: status, Teams' error code)
/// and what the state store said ([`errors::StoreError`]).
pub mod errors {
    pub use connector::ConnectorError;
    pub use connector::FileError;
    pub use store::StoreError;
}
pub use service::api::{
    ActionInvoke, Bot, BotError, BotIdentity, CardAction, CardActionResponse, Context, ConversationEvent, Dialog,
    DialogRequest, DialogResponse, DialogSize, IncomingMessage, InstallAction, Installation, InvokeError,
    InvokeRequest, InvokeResponse, JobRun, Jobs, MAX_ROSTER_PAGES, MembersChanged, Message, MessageDeleted,
    MessageEdit, NO_DIALOG, NoBot, PersonalWelcome, ReactionsChanged, ResultLayout, ScheduledJob, Scope, SearchQuery,
    SearchResponse, SearchResult, SearchSelection, SentMessage, State, TeamWelcome,
};
pub use service::api::{DeferError, DeferredWork, MAX_DEFERRED_DATA_BYTES};
pub use service::api::{FileConsent, files};
pub use service::api::{MAX_INFORMATIVE_CHARS, MIN_STREAM_INTERVAL, ReplyStream, STREAM_INTERVAL, StreamOutcome};
pub use service::api::{MeetingEvent, MeetingParticipantsChanged, NOT_IN_A_MEETING, OtherEvent};
pub use service::api::{batch, invokes, testkit};

#[cfg(feature = "devserver")]
pub mod devserver;
#[cfg(feature = "lambda")]
pub mod lambda;

/// Why an entry point stopped: the configuration, a store or key source that could not start, or the server.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

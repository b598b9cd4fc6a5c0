//! The public bot API: the [`Bot`] trait a user implements, the [`Context`] its handlers act through, the events
//! they receive, and a [`testkit`] to unit-test a bot in-process.
//!
//! The runtime owns everything a bot must not get wrong (token checks, dedupe, exactly-once welcomes and job
//! runs, serviceUrl allowlist, pacing, retries, state); a bot only says what to do.

pub mod batch;
mod bot;
mod context;
mod deferred;
mod events;
pub mod files;
mod identity;
pub mod invokes;
mod meetings;
mod message;
mod streaming;
pub mod testkit;

pub use bot::{Bot, NO_DIALOG, NoBot};
pub(crate) use context::job_data;
pub use context::{BotError, Context, Jobs, MAX_ROSTER_PAGES, ScheduledJob, SentMessage, State};
pub use deferred::{DeferError, DeferredWork, MAX_DEFERRED_DATA_BYTES};
pub(crate) use deferred::{SendClaim, Turn};
pub use events::{
    CardAction, ConversationEvent, DialogRequest, IncomingMessage, InstallAction, Installation, InvokeRequest,
    InvokeResponse, JobRun, MembersChanged, MessageDeleted, MessageEdit, PersonalWelcome, ReactionsChanged, Scope,
    SearchQuery, SearchSelection, TeamWelcome,
};
pub use files::FileConsent;
pub use identity::BotIdentity;
pub use invokes::{
    ActionInvoke, CardActionResponse, Dialog, DialogInvoke, DialogResponse, DialogSize, ExecuteAction, InvokeError,
    ResultLayout, SearchInvoke, SearchParameter, SearchResponse, SearchResult,
};
pub use meetings::{MeetingEvent, MeetingParticipantsChanged, NOT_IN_A_MEETING, OtherEvent};
pub use message::Message;
pub use streaming::{MAX_INFORMATIVE_CHARS, MIN_STREAM_INTERVAL, ReplyStream, STREAM_INTERVAL, StreamOutcome};

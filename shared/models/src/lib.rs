//! The Bot Framework v3 / Microsoft Teams wire schema.
//!
//! Everything that crosses the wire between Teams, the Bot Connector and our functions, as plain serde types:
//! no I/O, no async, nothing of ours. Unknown activity types, unknown fields and unknown entity kinds are kept
//! and written back unchanged, so a round trip is lossless; a known type with a malformed field is an error that
//! names the field (see [`Activity::from_slice`]).

pub mod account;
pub mod activity;
pub mod attachment;
pub mod channel_data;
pub mod connector;
pub mod entity;
pub mod ids;
mod open_enum;
pub mod reference;

pub use account::{ChannelAccount, ConversationAccount, ConversationType, TeamsChannelAccount};
pub use activity::{
    Activity, ActivityKind, ConversationUpdate, Extra, InstallationAction, InstallationUpdate, Invoke, Message,
    MessageReaction, NamedEvent, ParseError, Reaction, TextFormat,
};
pub use attachment::{Attachment, CardAction, CardImage, HeroCard};
pub use channel_data::{ChannelInfo, NotificationInfo, TeamInfo, TeamsChannelData, TeamsEventType, TenantInfo};
pub use entity::{ClientInfo, Entity, Mention};
pub use ids::{ActivityId, ConversationId, TenantId};
pub use reference::ConversationReference;

//! The Bot Framework v3 / Microsoft Teams wire schema.
//!
//! Everything that crosses the wire between Teams, the Bot Connector and our functions, as plain serde types:
//! no I/O, no async, nothing of ours. Unknown activity types, unknown fields and unknown entity kinds are kept
//! and written back unchanged, so a round trip is lossless; a known type with a malformed field is an error that
//! names the field (see [`Activity::from_slice`]).

pub mod account;
pub mod activity;
pub mod attachment;
pub mod batch;
pub mod channel_data;
pub mod connector;
pub mod entity;
pub mod files;
pub mod ids;
pub mod image;
pub mod meeting;
pub mod mention;
mod open_enum;
pub mod reference;
pub mod reply;
pub mod text;

pub use account::{ChannelAccount, ConversationAccount, ConversationType, TeamsChannelAccount};
pub use activity::{
    Activity, ActivityKind, ConversationUpdate, Extra, InstallationAction, InstallationUpdate, Invoke, Message,
    MessageReaction, NamedEvent, ParseError, Reaction, TextFormat,
};
pub use attachment::{Attachment, CardAction, CardImage, HeroCard};
pub use channel_data::{
    ChannelInfo, NotificationInfo, TeamInfo, TeamsChannelData, TeamsEventType, TeamsSettings, TenantInfo,
};
pub use entity::{ClientInfo, Entity, Mention};
pub use ids::{ActivityId, ConversationId, TenantId};
pub use image::{ImageError, ImageFormat, ImageInfo, MAX_IMAGE_BYTES, MAX_IMAGE_SIDE, check_image};
pub use meeting::{
    MeetingDetails, MeetingEventDetails, MeetingInfo, MeetingParticipant, MeetingParticipantChange,
    MeetingParticipantInfo, MeetingParticipantsEventDetails, MeetingRole,
};
pub use mention::{escape_mention_name, strip_mentions_of};
pub use reference::ConversationReference;
pub use text::{
    MESSAGE_BUDGET_BYTES, OverBudget, TEAMS_MESSAGE_LIMIT_BYTES, TextBudget, char_count, fits_message_budget,
    truncate_utf16, utf16_len,
};

//! Teams meetings, as a bot sees them: the `event` activities a meeting sends (start, end, participants joining
//! and leaving; any other named event reaches [`crate::api::Bot::on_event`]) and the turn context's meeting
//! lookups ([`Context::meeting_participant`], [`Context::meeting_info`]).
//!
//! A meeting's events reach a bot installed in the meeting (its chat) whose app manifest grants the
//! resource-specific permission `OnlineMeeting.ReadBasic.Chat` (channel meetings: `ChannelMeeting.ReadBasic.Group`);
//! msteams-docs `apps-in-teams-meetings/meeting-apps-apis.md`.

use crate::api::{BotError, Context};
use models::meeting::{MeetingEventDetails, MeetingInfo, MeetingParticipant, MeetingParticipantChange};
use models::{Activity, ChannelAccount};
use serde_json::Value;

/// What [`BotError::NotAvailable`] names when a meeting lookup is asked outside a meeting (the activity carries
/// no `channelData.meeting.id`, or the context has no inbound activity: a scheduled job, deferred work).
pub const NOT_IN_A_MEETING: &str = "a meeting (this activity is not from one)";

/// A meeting started or ended (`application/vnd.microsoft.meetingStart` / `meetingEnd`): what
/// [`crate::api::Bot::on_meeting_started`] and [`crate::api::Bot::on_meeting_ended`] receive.
#[derive(Clone, Debug)]
pub struct MeetingEvent<'a> {
    /// The meeting's id for the meeting APIs (`channelData.meeting.id`), when Teams gave one.
    pub meeting_id: Option<&'a str>,
    /// The event's `value`: title, type, join URL, the actual start (or end) time.
    pub details: &'a MeetingEventDetails,
    /// The whole inbound activity (`conversation.id` is the meeting's chat).
    pub activity: &'a Activity,
}

impl MeetingEvent<'_> {
    /// The meeting's title, as its organizer wrote it (text a user wrote: never render it as markdown).
    #[must_use]
    pub fn title(&self) -> Option<&str> {
        self.details.title.as_deref()
    }
}

/// Participants joined or left a meeting (`application/vnd.microsoft.meetingParticipantJoin` /
/// `meetingParticipantLeave`): what [`crate::api::Bot::on_meeting_participants_joined`] and
/// [`crate::api::Bot::on_meeting_participants_left`] receive.
#[derive(Clone, Debug)]
pub struct MeetingParticipantsChanged<'a> {
    /// The meeting's id for the meeting APIs (`channelData.meeting.id`), when Teams gave one.
    pub meeting_id: Option<&'a str>,
    /// Who joined or left, each with their role and whether they are in the meeting now.
    pub members: &'a [MeetingParticipantChange],
    /// The whole inbound activity.
    pub activity: &'a Activity,
}

/// Any other `event` activity (a read receipt, an event a newer Teams sends, ...): its name and value, as sent.
#[derive(Clone, Debug)]
pub struct OtherEvent<'a> {
    /// The event's `name` (empty when Teams sent none).
    pub name: &'a str,
    /// Its `value`.
    pub value: Option<&'a Value>,
    /// Who sent it.
    pub from: Option<&'a ChannelAccount>,
    /// The whole inbound activity.
    pub activity: &'a Activity,
}

impl BotError {
    /// Whether a meeting lookup was asked outside a meeting ([`NOT_IN_A_MEETING`]).
    #[must_use]
    pub fn is_not_in_a_meeting(&self) -> bool {
        matches!(self, Self::NotAvailable(what) if *what == NOT_IN_A_MEETING)
    }
}

impl Context<'_> {
    /// The meeting the inbound activity comes from (`channelData.meeting.id`, the id the meeting APIs take; not
    /// the chat's conversation id); `None` outside a meeting or without an inbound activity.
    #[must_use]
    pub fn meeting_id(&self) -> Option<&str> {
        self.activity()?
            .channel_data
            .as_ref()
            .and_then(models::meeting::meeting_id)
    }

    /// One participant of this activity's meeting, by Teams id (`29:...`) or AAD object id: their role
    /// (`Organizer`, `Presenter`, `Attendee`), whether they are in the meeting now, and the meeting's chat. Ask
    /// each time: the organizer can change roles at any time.
    ///
    /// ```
    /// use teams_bot::models::MeetingRole;
    /// use teams_bot::{Bot, BotError, Context, IncomingMessage};
    ///
    /// struct Roles;
    ///
    /// #[teams_bot::async_trait]
    /// impl Bot for Roles {
    ///     async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
    ///         match ctx.meeting_participant(&message.from.id).await {
    ///             Ok(p) if p.meeting.role == Some(MeetingRole::Organizer) => ctx.reply("Yes, boss.").await?,
    ///             Ok(_) => ctx.reply("Only the organizer can do that.").await?,
    ///             Err(e) if e.is_not_in_a_meeting() => ctx.reply("Ask me in a meeting chat.").await?,
    ///             Err(e) => return Err(e),
    ///         };
    ///         Ok(())
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// [`BotError::NotAvailable`] ([`NOT_IN_A_MEETING`]) outside a meeting, or without a tenant;
    /// [`BotError::Connector`]: 403 when the app is not installed in the meeting, 404 when the meeting expired or
    /// the participant is not available in it.
    pub async fn meeting_participant(&self, participant_id: &str) -> Result<MeetingParticipant, BotError> {
        let meeting = self.meeting_id().ok_or(BotError::NotAvailable(NOT_IN_A_MEETING))?;
        let tenant = self
            .activity()
            .and_then(Activity::tenant_id)
            .or(self.tenant())
            .ok_or(BotError::NotAvailable("the tenant (needed for a meeting participant)"))?;
        Ok(self
            .app()
            .connector
            .meeting_participant(&self.conversation().service_url, meeting, participant_id, tenant)
            .await?)
    }

    /// This activity's meeting: its details (title, type, scheduled times, join URL), chat and organizer.
    ///
    /// # Errors
    /// [`BotError::NotAvailable`] ([`NOT_IN_A_MEETING`]) outside a meeting; [`BotError::Connector`] (403: the app
    /// is not installed in the meeting; 404: it expired).
    pub async fn meeting_info(&self) -> Result<MeetingInfo, BotError> {
        let meeting = self.meeting_id().ok_or(BotError::NotAvailable(NOT_IN_A_MEETING))?;
        Ok(self
            .app()
            .connector
            .meeting_info(&self.conversation().service_url, meeting)
            .await?)
    }
}

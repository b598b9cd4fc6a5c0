//! Teams meetings: a test registers a meeting (its chat, organizer and participants); the fake answers the two
//! meeting APIs the way msteams-docs `apps-in-teams-meetings/meeting-apps-apis.md` documents them:
//! `GET v1/meetings/{meetingId}` (details, chat, organizer) and
//! `GET v1/meetings/{meetingId}/participants/{participantId}?tenantId=` (user, role, in meeting, chat).
//!
//! Faults as documented: 404 when the meeting does not exist (or expired) or the participant is not available in
//! it (including a participant of another tenant than `tenantId`); 403 when the app is not installed in the
//! meeting or the tenant's admin blocked it; 400 when `tenantId` is missing.

use super::{Answer, Conversation, Kind, State};
use crate::{FakeTeams, lock};
use models::TeamsChannelAccount;
use serde_json::{Value, json};
use std::collections::HashMap;

/// A meeting to register with [`FakeTeams::add_meeting`].
#[derive(Clone, Debug)]
pub struct SeedMeeting {
    id: String,
    chat_id: String,
    tenant: String,
    title: String,
    meeting_type: String,
    organizer: Option<TeamsChannelAccount>,
    participants: Vec<(TeamsChannelAccount, String, bool)>,
    app_installed: bool,
}

impl SeedMeeting {
    /// A scheduled meeting `id` (what `channelData.meeting.id` carries) whose chat is `chat_id`, in the default
    /// tenant, with the app installed.
    pub fn new(id: impl Into<String>, chat_id: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            chat_id: chat_id.into(),
            tenant: crate::DEFAULT_TENANT.to_owned(),
            title: title.into(),
            meeting_type: "Scheduled".to_owned(),
            organizer: None,
            participants: Vec::new(),
            app_installed: true,
        }
    }

    /// In another tenant.
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = tenant.into();
        self
    }

    /// Its organizer (also a participant, role `Organizer`, in the meeting).
    #[must_use]
    pub fn organizer(mut self, user: TeamsChannelAccount) -> Self {
        self.participants.push((user.clone(), "Organizer".to_owned(), true));
        self.organizer = Some(user);
        self
    }

    /// A participant with `role` (`Presenter`, `Attendee`, ...), in the meeting now or not.
    #[must_use]
    pub fn participant(mut self, user: TeamsChannelAccount, role: &str, in_meeting: bool) -> Self {
        self.participants.push((user, role.to_owned(), in_meeting));
        self
    }

    /// The app is not installed in this meeting: both APIs answer 403.
    #[must_use]
    pub fn without_app(mut self) -> Self {
        self.app_installed = false;
        self
    }
}

/// The registered meetings, by id.
#[derive(Debug, Default)]
pub(crate) struct Meetings(HashMap<String, SeedMeeting>);

impl FakeTeams {
    /// Registers a meeting; its chat becomes a group chat the bot is in (of the meeting's participants).
    pub fn add_meeting(&self, meeting: SeedMeeting) {
        let mut s = lock(&self.shared);
        for (user, _, _) in &meeting.participants {
            s.add_user(&meeting.tenant, user.clone());
        }
        s.conversations.insert(
            meeting.chat_id.clone(),
            Conversation {
                kind: Kind::GroupChat {
                    members: meeting.participants.iter().map(|p| p.0.id.clone()).collect(),
                },
                tenant: meeting.tenant.clone(),
                bot_removed: false,
            },
        );
        s.meetings.0.insert(meeting.id.clone(), meeting);
    }
}

fn chat(meeting: &SeedMeeting) -> Value {
    json!({"isGroup": true, "conversationType": "groupChat", "id": meeting.chat_id})
}

impl State {
    /// The meeting, if the bot may read it.
    fn meeting(&self, id: &str) -> Result<&SeedMeeting, Answer> {
        let Some(meeting) = self.meetings.0.get(id) else {
            return Err(Answer::error(
                404,
                "NotFound",
                "The meeting has expired or does not exist.",
            ));
        };
        if self.disabled_tenants.contains(&meeting.tenant) {
            return Err(Answer::error(
                403,
                "BotDisabledByAdmin",
                "The bot is disabled by the tenant admin.",
            ));
        }
        if !meeting.app_installed {
            return Err(Answer::error(
                403,
                "Forbidden",
                "The app is not installed in the meeting.",
            ));
        }
        Ok(meeting)
    }

    /// `GET v1/meetings/{meetingId}`.
    pub(crate) fn meeting_info(&self, id: &str) -> Answer {
        let meeting = match self.meeting(id) {
            Ok(m) => m,
            Err(e) => return e,
        };
        let organizer = meeting.organizer.as_ref().map(|o| {
            json!({"id": o.id, "aadObjectId": o.aad_object_id, "objectId": o.aad_object_id, "tenantId": meeting.tenant})
        });
        Answer::ok(json!({
            "details": {
                "id": meeting.id,
                "msGraphResourceId": format!("graph-{}", meeting.id),
                "scheduledStartTime": "2026-11-30T10:00:00Z",
                "scheduledEndTime": "2026-11-30T11:00:00Z",
                "joinUrl": format!("https://teams.microsoft.com/l/meetup-join/{}", meeting.chat_id),
                "title": meeting.title,
                "type": meeting.meeting_type,
            },
            "conversation": chat(meeting),
            "organizer": organizer,
        }))
    }

    /// `GET v1/meetings/{meetingId}/participants/{participantId}?tenantId=`.
    pub(crate) fn meeting_participant(&self, id: &str, participant: &str, query: &HashMap<String, String>) -> Answer {
        let Some(tenant) = query.get("tenantId").filter(|t| !t.is_empty()) else {
            return Answer::error(400, "BadArgument", "tenantId is required.");
        };
        let meeting = match self.meeting(id) {
            Ok(m) => m,
            Err(e) => return e,
        };
        let found = meeting
            .participants
            .iter()
            .find(|(user, _, _)| user.id == participant || user.aad_object_id.as_deref() == Some(participant));
        let Some((user, role, in_meeting)) = found.filter(|_| *tenant == meeting.tenant) else {
            return Answer::error(404, "NotFound", "The participant is not available in the meeting.");
        };
        let mut user = serde_json::to_value(user).unwrap_or_else(|_| json!({}));
        if let Some(u) = user.as_object_mut() {
            u.insert("tenantId".to_owned(), json!(meeting.tenant));
            u.entry("userRole").or_insert_with(|| json!("user"));
        }
        Answer::ok(json!({
            "user": user,
            "meeting": {"role": role, "inMeeting": in_meeting},
            "conversation": chat(meeting),
        }))
    }
}

//! Teams meetings: the `event` activities a meeting sends a bot (start, end, participants joining and leaving)
//! and the answers of the meeting APIs (`GET v1/meetings/{meetingId}` and
//! `GET v1/meetings/{meetingId}/participants/{participantId}?tenantId=`).
//!
//! Sources: msteams-docs `apps-in-teams-meetings/meeting-apps-apis.md` (payloads, field casing: the start and end
//! events' `value` is PascalCase, everything else camelCase) and botbuilder-js `TeamsActivityHandler`
//! (`onTeamsMeetingStart/End`, `onTeamsMeetingParticipantsJoin/Leave`).

use crate::account::{ConversationAccount, TeamsChannelAccount};
use crate::channel_data::TeamsChannelData;
use crate::open_enum::open_enum;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `name` of the event a meeting sends when it starts.
pub const MEETING_START_EVENT: &str = "application/vnd.microsoft.meetingStart";
/// The `name` of the event a meeting sends when it ends.
pub const MEETING_END_EVENT: &str = "application/vnd.microsoft.meetingEnd";
/// The `name` of the event a meeting sends when participants join it.
pub const MEETING_PARTICIPANT_JOIN_EVENT: &str = "application/vnd.microsoft.meetingParticipantJoin";
/// The `name` of the event a meeting sends when participants leave it.
pub const MEETING_PARTICIPANT_LEAVE_EVENT: &str = "application/vnd.microsoft.meetingParticipantLeave";

/// The meeting an activity comes from: `channelData.meeting.id`, the id the meeting APIs take (Microsoft: "do not
/// use the conversation id, nor the `Id` of the start/end event's value, as the meeting id"). `None` when the
/// activity is not from a meeting, or the id is empty or not a string.
#[must_use]
pub fn meeting_id(channel_data: &TeamsChannelData) -> Option<&str> {
    channel_data
        .extra
        .get("meeting")
        .and_then(|m| m.get("id"))
        .and_then(Value::as_str)
        .filter(|id| !id.trim().is_empty())
}

/// The `value` of a meeting start or end event (`application/vnd.microsoft.meetingStart` / `meetingEnd`). Teams
/// writes these fields in PascalCase (`Id`, `Title`, `StartTime`, ...); every one may be absent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MeetingEventDetails {
    /// The meeting's id as the event gives it (use `channelData.meeting.id` for the meeting APIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The meeting's title (its subject), as its organizer wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `Scheduled`, `Recurring`, `MeetNow`, `ChannelScheduled`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_type: Option<String>,
    /// The URL to join the meeting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_url: Option<String>,
    /// When the meeting actually started (UTC, ISO 8601, as sent): on the start event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// When the meeting actually ended (UTC, ISO 8601, as sent): on the end event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Fields this version does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_enum! {
    /// A participant's role in a meeting (`meeting.role`), as the participant API and the participant events
    /// spell it.
    pub enum MeetingRole {
        Organizer => "Organizer",
        Presenter => "Presenter",
        Attendee => "Attendee",
    }
}

/// `meeting` of a participant: their role and whether they are in the meeting now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeetingParticipantInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<MeetingRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_meeting: Option<bool>,
    /// Fields this version does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One entry of a participant join or leave event: who, and their meeting state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MeetingParticipantChange {
    pub user: TeamsChannelAccount,
    #[serde(default)]
    pub meeting: MeetingParticipantInfo,
    /// Fields this version does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `value` of a participant join or leave event (`application/vnd.microsoft.meetingParticipantJoin` /
/// `meetingParticipantLeave`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MeetingParticipantsEventDetails {
    #[serde(default)]
    pub members: Vec<MeetingParticipantChange>,
    /// Fields this version does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Answer of `GET v1/meetings/{meetingId}/participants/{participantId}?tenantId=`: the user, their role and
/// presence in the meeting, and the meeting's chat.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MeetingParticipant {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<TeamsChannelAccount>,
    #[serde(default)]
    pub meeting: MeetingParticipantInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationAccount>,
    /// Fields this version does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `details` of a meeting: its static metadata (scheduled times, not the actual ones: the start and end events
/// carry those).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeetingDetails {
    /// The meeting's id (base64).
    #[serde(default)]
    pub id: String,
    /// The id Microsoft Graph knows the meeting by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms_graph_resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_end_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `OneToOneCall`, `GroupCall`, `Scheduled`, `Recurring`, `MeetNow`, `ChannelScheduled`, `ChannelRecurring`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub meeting_type: Option<String>,
    /// Fields this version does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Answer of `GET v1/meetings/{meetingId}`: the meeting's details, its chat and its organizer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MeetingInfo {
    #[serde(default)]
    pub details: MeetingDetails,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationAccount>,
    /// The organizer (`id`, `aadObjectId`, `tenantId`; `objectId` is kept in `extra`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizer: Option<TeamsChannelAccount>,
    /// Fields this version does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_start_event_value_is_read_in_pascal_case() {
        let value = json!({"Id": "m1", "Title": "Sync", "MeetingType": "Scheduled", "JoinUrl": "https://j",
            "StartTime": "2021-04-29T16:17:17.4388966Z", "Later": 1});
        let details: MeetingEventDetails = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(details.title.as_deref(), Some("Sync"));
        assert_eq!(details.start_time.as_deref(), Some("2021-04-29T16:17:17.4388966Z"));
        assert_eq!(details.end_time, None);
        assert_eq!(serde_json::to_value(&details).unwrap(), value);
    }

    #[test]
    fn roles_keep_values_they_do_not_know() {
        let info: MeetingParticipantInfo =
            serde_json::from_value(json!({"role": "Producer", "inMeeting": false})).unwrap();
        assert_eq!(info.role, Some(MeetingRole::Other("Producer".into())));
        assert_eq!(info.in_meeting, Some(false));
        let info: MeetingParticipantInfo = serde_json::from_value(json!({"role": "Presenter"})).unwrap();
        assert_eq!(info.role, Some(MeetingRole::Presenter));
    }

    #[test]
    fn the_meeting_id_comes_from_channel_data_only_when_it_is_a_non_empty_string() {
        let data = |meeting: Value| -> TeamsChannelData {
            serde_json::from_value(json!({"tenant": {"id": "t"}, "meeting": meeting})).unwrap()
        };
        assert_eq!(meeting_id(&data(json!({"id": "MCMx"}))), Some("MCMx"));
        assert_eq!(meeting_id(&data(json!({"id": " "}))), None);
        assert_eq!(meeting_id(&data(json!({"id": 7}))), None);
        assert_eq!(meeting_id(&data(json!(null))), None);
        assert_eq!(meeting_id(&TeamsChannelData::default()), None);
    }

    #[test]
    fn a_participant_event_without_members_reads_as_empty_and_a_member_without_user_is_an_error() {
        let empty: MeetingParticipantsEventDetails = serde_json::from_value(json!({})).unwrap();
        assert!(empty.members.is_empty());
        let bad = serde_json::from_value::<MeetingParticipantsEventDetails>(json!({"members": [{"meeting": {}}]}));
        assert!(bad.is_err());
    }
}

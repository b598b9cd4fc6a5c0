//! The meeting payloads of Microsoft's docs (`tests/fixtures/meetings/`, sources in `SOURCES.md` there): each
//! parses to its type with the key fields, and writing it back gives the original JSON.
//!
//! `cargo test -p models --test meeting_fixtures`

#![allow(clippy::unwrap_used, clippy::panic)]

use models::meeting::{
    MEETING_END_EVENT, MEETING_PARTICIPANT_JOIN_EVENT, MEETING_PARTICIPANT_LEAVE_EVENT, MEETING_START_EVENT,
    MeetingEventDetails, MeetingInfo, MeetingParticipant, MeetingParticipantsEventDetails, MeetingRole, meeting_id,
};
use models::{Activity, ActivityKind, ConversationType, NamedEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixture(file: &str) -> String {
    let path = format!("{}/tests/fixtures/meetings/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn round_trip<T: DeserializeOwned + Serialize>(raw: &str, what: &str) -> T {
    let value: T = serde_json::from_str(raw).unwrap_or_else(|e| panic!("{what}: {e}"));
    let original: Value = serde_json::from_str(raw).unwrap();
    assert_eq!(serde_json::to_value(&value).unwrap(), original, "{what}: round trip");
    value
}

/// The event activity of `file`: it round-trips as an [`Activity`] and is an `event`; answers it with its fields.
fn event(file: &str) -> (Activity, NamedEvent) {
    let activity: Activity = round_trip(&fixture(file), file);
    let ActivityKind::Event(event) = activity.kind.clone() else {
        panic!("{file}: not an event: {:?}", activity.kind)
    };
    (activity, event)
}

/// The event's value as `T`, round-tripped.
fn value<T: DeserializeOwned + Serialize>(event: &NamedEvent, file: &str) -> T {
    round_trip(&event.value.as_ref().unwrap().to_string(), file)
}

#[test]
fn the_start_and_end_events_carry_title_type_and_actual_times() {
    let (activity, start) = event("meeting_start.json");
    assert_eq!(start.name.as_deref(), Some(MEETING_START_EVENT));
    assert_eq!(meeting_id(activity.channel_data.as_ref().unwrap()), Some("meeting id"));
    let details: MeetingEventDetails = value(&start, "meeting_start.json");
    assert_eq!(details.title.as_deref(), Some("Meeting Start/End Event"));
    assert_eq!(details.meeting_type.as_deref(), Some("Scheduled"));
    assert_eq!(details.start_time.as_deref(), Some("2021-04-29T16:17:17.4388966Z"));
    assert_eq!((details.end_time, details.join_url.as_deref()), (None, Some("url")));

    let (activity, end) = event("meeting_end.json");
    assert_eq!(end.name.as_deref(), Some(MEETING_END_EVENT));
    assert_eq!(meeting_id(activity.channel_data.as_ref().unwrap()), Some("meeting Id"));
    let details: MeetingEventDetails = value(&end, "meeting_end.json");
    assert_eq!(details.end_time.as_deref(), Some("2021-04-29T16:17:17.4388966Z"));
    assert_eq!(details.start_time, None);
    assert!(details.extra.is_empty(), "{:?}", details.extra);
}

#[test]
fn participant_events_carry_each_member_with_role_and_presence() {
    for (file, name, in_meeting) in [
        ("participant_join.json", MEETING_PARTICIPANT_JOIN_EVENT, true),
        ("participant_leave.json", MEETING_PARTICIPANT_LEAVE_EVENT, false),
    ] {
        let (_, e) = event(file);
        assert_eq!(e.name.as_deref(), Some(name));
        let details: MeetingParticipantsEventDetails = value(&e, file);
        assert_eq!(details.members.len(), 1, "{file}");
        let member = &details.members[0];
        assert_eq!(member.user.id, "29:userId");
        assert_eq!(member.user.aad_object_id.as_deref(), Some("aadObjectId"));
        assert_eq!(member.meeting.role, Some(MeetingRole::Organizer));
        assert_eq!(member.meeting.in_meeting, Some(in_meeting), "{file}");
    }
}

#[test]
fn the_participant_api_answers_user_role_presence_and_chat() {
    let p: MeetingParticipant = round_trip(&fixture("participant.json"), "participant.json");
    let user = p.user.unwrap();
    assert_eq!(
        user.aad_object_id.as_deref(),
        Some("e236c4bf-88b1-4f3a-b1d7-8891dfc332b5")
    );
    assert_eq!(user.user_role.as_deref(), Some("user"));
    assert_eq!(p.meeting.role, Some(MeetingRole::Presenter));
    assert_eq!(p.meeting.in_meeting, Some(true));
    let chat = p.conversation.unwrap();
    assert_eq!(chat.conversation_type, Some(ConversationType::GroupChat));
}

#[test]
fn meeting_details_answer_type_times_chat_and_organizer() {
    let info: MeetingInfo = round_trip(&fixture("meeting_info_scheduled.json"), "meeting_info_scheduled.json");
    assert_eq!(info.details.meeting_type.as_deref(), Some("Scheduled"));
    assert_eq!(info.details.title.as_deref(), Some("All Hands"));
    assert_eq!(info.details.scheduled_end_time.as_deref(), Some("2022-04-24T23:00:00Z"));
    let organizer = info.organizer.unwrap();
    assert_eq!(organizer.aad_object_id.as_deref(), Some("<AAD object ID>"));
    assert_eq!(organizer.extra["objectId"], "<organizer object ID>");

    let info: MeetingInfo = round_trip(&fixture("meeting_info_channel.json"), "meeting_info_channel.json");
    assert_eq!(info.details.meeting_type.as_deref(), Some("ChannelScheduled"));
    assert!(info.details.id.starts_with("MCMx"));
    let chat = info.conversation.unwrap();
    assert_eq!(chat.conversation_type, Some(ConversationType::Channel));
    assert!(chat.id.as_str().ends_with(";messageid=1660758607740"));
}

/// A channel message from botbuilder-js's recorded `TeamsInfo` payloads (`/work/shared/teams-payloads`, or
/// `TEAMS_PAYLOADS_DIR`; read in place, skipped when the folder is absent) names its meeting in
/// `channelData.meeting.id`.
#[test]
fn a_recorded_message_from_a_meeting_names_its_meeting() {
    let dir = std::env::var("TEAMS_PAYLOADS_DIR").map_or_else(
        |_| std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/teams-payloads")),
        std::path::PathBuf::from,
    );
    let path = dir.join("message.channel-mention-meeting.bbjs-teamsinfo.json");
    let Ok(raw) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: {} is absent", path.display());
        return;
    };
    let activity = Activity::from_slice(raw.as_bytes()).unwrap();
    assert_eq!(
        meeting_id(activity.channel_data.as_ref().unwrap()),
        Some("19:meetingId")
    );
}

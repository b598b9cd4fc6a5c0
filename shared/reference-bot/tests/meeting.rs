//! The reference bot's meeting words (issue 18) with the test kit: a meeting's start and end events announced in
//! its chat (once per event, however often delivered), the title quoted as plain text; joins and leaves say
//! nothing; `role` answers the sender's role from the participant lookup, and outside a meeting chat says where it
//! works. (The same against Teams' API shapes, with the fake Teams service: `shared/service/tests/meetings.rs`.)
//!
//! `cargo test -p reference-bot --test meeting`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use reference_bot::ReferenceBot;
use reference_bot::meeting::{MEETING_ENDED, NOT_A_MEETING, NOT_IN_MEETING};
use serde_json::json;
use teams_bot::models::meeting::{MeetingInfo, MeetingParticipant, MeetingParticipantInfo, MeetingRole};
use teams_bot::models::{TeamsChannelAccount, TextFormat};
use teams_bot::testkit::{ConnectorCall, MEETING_ID, TENANT, TestKit, USER_ID};

#[tokio::test]
async fn a_meeting_start_and_end_are_announced_once_in_plain_text() {
    let kit = TestKit::new(ReferenceBot);
    let start = kit.meeting_event(
        "application/vnd.microsoft.meetingStart",
        json!({"Id": "x", "Title": "Plan [the launch](https://evil.example)", "MeetingType": "Scheduled",
            "JoinUrl": "https://j", "StartTime": "2026-11-30T10:00:00Z"}),
    );
    assert_eq!(kit.deliver(&start).await, 200);
    assert_eq!(kit.deliver(&start).await, 200);
    let end = kit.meeting_event(
        "application/vnd.microsoft.meetingEnd",
        json!({"Title": "x", "EndTime": "t"}),
    );
    assert_eq!(kit.deliver(&end).await, 200);
    let sent = kit.sent();
    let texts: Vec<&str> = sent.iter().filter_map(|a| a.text()).collect();
    assert_eq!(
        texts,
        [
            "Meeting started: Plan [the launch](https://evil.example)",
            MEETING_ENDED
        ]
    );
    let format = sent[0].as_message().and_then(|m| m.text_format.clone());
    assert_eq!(format, Some(TextFormat::Plain));
}

#[tokio::test]
async fn joins_and_leaves_say_nothing_and_role_outside_a_meeting_says_where_it_works() {
    let kit = TestKit::new(ReferenceBot);
    let member = json!({"user": {"id": "29:someone"}, "meeting": {"inMeeting": true, "role": "Attendee"}});
    let join = kit.meeting_event(
        "application/vnd.microsoft.meetingParticipantJoin",
        json!({"members": [member]}),
    );
    assert_eq!(kit.deliver(&join).await, 200);
    assert!(kit.sent().is_empty(), "{:?}", kit.sent_texts());
    assert_eq!(kit.group_message("role", true).await, 200);
    assert_eq!(kit.sent_texts(), [NOT_A_MEETING]);
    assert!(
        !kit.calls()
            .iter()
            .any(|c| matches!(c, ConnectorCall::MeetingParticipant { .. })),
        "no lookup outside a meeting"
    );
}

#[tokio::test]
async fn role_in_a_meeting_chat_answers_the_role_teams_gives() {
    let kit = TestKit::new(ReferenceBot);
    let message = kit.meeting_message("role");
    let aad = message["from"]["aadObjectId"].as_str().unwrap().to_owned();
    let me = MeetingParticipant {
        user: Some(TeamsChannelAccount {
            id: USER_ID.to_owned(),
            aad_object_id: Some(aad.clone()),
            ..TeamsChannelAccount::default()
        }),
        meeting: MeetingParticipantInfo {
            role: Some(MeetingRole::Organizer),
            in_meeting: Some(true),
            ..MeetingParticipantInfo::default()
        },
        ..MeetingParticipant::default()
    };
    kit.connector()
        .set_meeting(MEETING_ID, MeetingInfo::default(), vec![me]);
    assert_eq!(kit.deliver(&message).await, 200);
    assert_eq!(kit.sent_texts(), ["Your meeting role: Organizer"]);
    let lookup = kit
        .calls()
        .into_iter()
        .find_map(|c| match c {
            ConnectorCall::MeetingParticipant {
                meeting_id,
                participant_id,
                tenant,
                ..
            } => Some((meeting_id, participant_id, tenant)),
            _ => None,
        })
        .unwrap();
    // By AAD object id: the id the participant API documents.
    assert_eq!(lookup, (MEETING_ID.to_owned(), aad, TENANT.into()));

    // Someone Teams does not find in the meeting.
    kit.clear();
    kit.connector()
        .set_meeting(MEETING_ID, MeetingInfo::default(), Vec::new());
    assert_eq!(kit.deliver(&kit.meeting_message("role")).await, 200);
    assert_eq!(kit.sent_texts(), [NOT_IN_MEETING]);
}

//! The meeting APIs through the Connector client against the fake Teams service: request shapes (`v1/`, the
//! meeting id percent-encoded, `tenantId` in the query, our token), the documented answers, the documented errors
//! (404 unknown meeting or participant, 403 app not installed), 429 retried, and the allowlist first.
//!
//! `cargo test -p connector --test meetings_fake`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use connector::{Connector, ConnectorConfig, ConnectorError, HttpConnector, RetryPolicy};
use fake_teams::{DEFAULT_TENANT, FakeTeams, Fault, Route, SeedMeeting};
use models::meeting::MeetingRole;
use std::collections::HashMap;
use std::time::Duration;

/// A meeting id as Teams gives it: base64, with `=` padding that must be percent-encoded in the path.
const MEETING: &str = "MCMxOTptZWV0aW5nX05tWXpaRGsyWkdFdE1EazJZeTAw@thread.v2#MA==";
const CHAT: &str = "19:meeting_NmYzZDk2ZGEt@thread.v2";

async fn fake() -> FakeTeams {
    let fake = FakeTeams::builder().start().await.unwrap();
    fake.add_meeting(
        SeedMeeting::new(MEETING, CHAT, "Weekly sync")
            .organizer(FakeTeams::member("29:1alice", "Alice", "aad-alice"))
            .participant(FakeTeams::member("29:1bob", "Bob", "aad-bob"), "Presenter", true)
            .participant(FakeTeams::member("29:1carol", "Carol", "aad-carol"), "Attendee", false),
    );
    fake.add_meeting(SeedMeeting::new("no-app-meeting", "19:meeting_noapp@thread.v2", "Private").without_app());
    fake
}

fn client(fake: &FakeTeams) -> HttpConnector {
    let env: HashMap<String, String> = fake.env().into_iter().collect();
    let mut config = ConnectorConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    config.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_secs(30),
        max_total: Duration::from_secs(60),
    };
    HttpConnector::new(&config).unwrap()
}

#[tokio::test]
async fn a_participant_is_read_with_role_and_presence_under_v1_with_our_token() {
    let fake = fake().await;
    let c = client(&fake);
    let url = fake.service_url();
    let bob = c
        .meeting_participant(&url, MEETING, "aad-bob", &DEFAULT_TENANT.into())
        .await
        .unwrap();
    assert_eq!(bob.meeting.role, Some(MeetingRole::Presenter));
    assert_eq!(bob.meeting.in_meeting, Some(true));
    let user = bob.user.unwrap();
    assert_eq!(
        (user.id.as_str(), user.tenant_id.unwrap().as_str()),
        ("29:1bob", DEFAULT_TENANT)
    );
    assert_eq!(bob.conversation.unwrap().id.as_str(), CHAT);
    // By Teams id too; someone not in the meeting now keeps their role.
    let carol = c
        .meeting_participant(&url, MEETING, "29:1carol", &DEFAULT_TENANT.into())
        .await
        .unwrap();
    assert_eq!(
        (carol.meeting.role, carol.meeting.in_meeting),
        (Some(MeetingRole::Attendee), Some(false))
    );

    let calls = fake.calls_to(Route::MeetingParticipant);
    assert_eq!(calls.len(), 2);
    assert!(
        calls
            .iter()
            .all(|c| c.method == "GET" && c.auth_valid && c.status == 200)
    );
    assert_eq!(
        calls[0].path,
        "/amer/v1/meetings/MCMxOTptZWV0aW5nX05tWXpaRGsyWkdFdE1EazJZeTAw%40thread.v2%23MA%3D%3D/participants/aad-bob"
    );
    assert_eq!(
        calls[0].query.as_deref(),
        Some(format!("tenantId={DEFAULT_TENANT}").as_str())
    );
    assert_eq!(calls[0].ids, [MEETING, "aad-bob"]);
}

#[tokio::test]
async fn meeting_info_answers_details_chat_and_organizer() {
    let fake = fake().await;
    let c = client(&fake);
    let info = c.meeting_info(&fake.service_url(), MEETING).await.unwrap();
    assert_eq!(info.details.id, MEETING);
    assert_eq!(info.details.title.as_deref(), Some("Weekly sync"));
    assert_eq!(info.details.meeting_type.as_deref(), Some("Scheduled"));
    assert!(info.details.scheduled_start_time.is_some() && info.details.join_url.is_some());
    assert_eq!(info.conversation.unwrap().id.as_str(), CHAT);
    let organizer = info.organizer.unwrap();
    assert_eq!(
        (organizer.id.as_str(), organizer.aad_object_id.as_deref()),
        ("29:1alice", Some("aad-alice"))
    );
    assert_eq!(
        organizer.extra.get("objectId").and_then(|v| v.as_str()),
        Some("aad-alice")
    );
    assert_eq!(
        fake.calls_to(Route::MeetingInfo)[0].path,
        format!(
            "/amer/v1/meetings/{}",
            "MCMxOTptZWV0aW5nX05tWXpaRGsyWkdFdE1EazJZeTAw%40thread.v2%23MA%3D%3D"
        )
    );
}

#[tokio::test]
async fn teams_errors_are_typed_and_not_retried() {
    let fake = fake().await;
    let c = client(&fake);
    let url = fake.service_url();
    let tenant = DEFAULT_TENANT.into();
    // An expired or unknown meeting: 404.
    let e = c
        .meeting_participant(&url, "gone", "aad-bob", &tenant)
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
    let e = c.meeting_info(&url, "gone").await.unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
    // Not a participant, or asked under another tenant: 404.
    let e = c
        .meeting_participant(&url, MEETING, "aad-stranger", &tenant)
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
    let e = c
        .meeting_participant(&url, MEETING, "aad-bob", &"other-tenant".into())
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
    // The app is not installed in the meeting: 403, and the conversation is not taken for gone.
    let e = c.meeting_info(&url, "no-app-meeting").await.unwrap_err();
    assert!(
        matches!(e, ConnectorError::Forbidden { .. }) && !e.is_bot_removed(),
        "{e:?}"
    );
    // One request each: a 4xx is final.
    assert_eq!(fake.calls_to(Route::MeetingParticipant).len(), 3);
    assert_eq!(fake.calls_to(Route::MeetingInfo).len(), 2);
}

#[tokio::test]
async fn throttling_is_retried_and_a_refused_service_url_gets_nothing() {
    let fake = fake().await;
    let c = client(&fake);
    fake.inject(Fault::throttle(Route::MeetingParticipant, 0).times(2));
    let bob = c
        .meeting_participant(&fake.service_url(), MEETING, "aad-bob", &DEFAULT_TENANT.into())
        .await
        .unwrap();
    assert_eq!(bob.meeting.role, Some(MeetingRole::Presenter));
    let statuses: Vec<u16> = fake
        .calls_to(Route::MeetingParticipant)
        .iter()
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, [429, 429, 200]);

    fake.clear_calls();
    let e = c.meeting_info("https://evil.example/amer/", MEETING).await.unwrap_err();
    assert!(matches!(e, ConnectorError::Refused(_)), "{e:?}");
    assert!(fake.calls().is_empty(), "no token fetch, no request");
}

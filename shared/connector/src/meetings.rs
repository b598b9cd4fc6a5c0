//! The Teams meeting APIs, over the same path as every Connector call (allowlist, token, tenant pacing, retries on
//! 412/429/502/504 honouring `Retry-After`; both are GETs, so a timed-out attempt is retried too). They live under
//! the serviceUrl's `v1/` root, not `v3/`.
//!
//! Paths (msteams-docs `apps-in-teams-meetings/meeting-apps-apis.md`; botbuilder-js `TeamsInfo.getMeetingParticipant`
//! and `getMeetingInfo`): `GET v1/meetings/{meetingId}/participants/{participantId}?tenantId={tenantId}` and
//! `GET v1/meetings/{meetingId}`. Teams answers 403 when the app is not installed in the meeting (or is blocked),
//! 404 when the meeting expired or the participant is not available.

use crate::client::{Call, HttpConnector};
use crate::error::ConnectorError;
use crate::ratelimit::PaceClass;
use models::TenantId;
use models::meeting::{MeetingInfo, MeetingParticipant};
use reqwest::Method;

/// The API root the meeting endpoints live under.
const API: &str = "v1";

/// What [`crate::Connector`]'s default meeting methods answer: this Connector has no meeting APIs.
#[must_use]
pub fn meetings_unsupported() -> ConnectorError {
    ConnectorError::Unexpected {
        status: 501,
        body: "the meeting APIs are not supported by this Connector".to_owned(),
    }
}

/// A meeting a [`crate::RecordingConnector`] answers for ([`crate::RecordingConnector::set_meeting`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct RecordedMeeting {
    pub(crate) info: MeetingInfo,
    pub(crate) participants: Vec<MeetingParticipant>,
}

impl RecordedMeeting {
    /// The participant whose user has `id` as Teams id or AAD object id.
    pub(crate) fn participant(&self, id: &str) -> Option<MeetingParticipant> {
        self.participants
            .iter()
            .find(|p| {
                p.user
                    .as_ref()
                    .is_some_and(|u| u.id == id || u.aad_object_id.as_deref() == Some(id))
            })
            .cloned()
    }
}

impl HttpConnector {
    pub(crate) async fn meeting_participant_of(
        &self,
        service_url: &str,
        meeting_id: &str,
        participant_id: &str,
        tenant: &TenantId,
    ) -> Result<MeetingParticipant, ConnectorError> {
        self.json_in(
            API,
            Call {
                method: Method::GET,
                service_url,
                segments: vec!["meetings", meeting_id, "participants", participant_id],
                query: vec![("tenantId", tenant.as_str().to_owned())],
                body: None,
                class: PaceClass::Other,
                pace_conversation: meeting_id.to_owned(),
                tenant: Some(tenant.as_str().to_owned()),
            },
        )
        .await
    }

    pub(crate) async fn meeting_info_of(
        &self,
        service_url: &str,
        meeting_id: &str,
    ) -> Result<MeetingInfo, ConnectorError> {
        self.json_in(
            API,
            Call {
                method: Method::GET,
                service_url,
                segments: vec!["meetings", meeting_id],
                query: Vec::new(),
                body: None,
                class: PaceClass::Other,
                pace_conversation: meeting_id.to_owned(),
                tenant: None,
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_recording_connector_answers_a_set_meeting_and_404_otherwise() {
        use crate::{Connector, ConnectorCall, RecordingConnector};
        use models::TeamsChannelAccount;
        use models::meeting::{MeetingParticipantInfo, MeetingRole};
        let fake = RecordingConnector::new();
        let bob = MeetingParticipant {
            user: Some(TeamsChannelAccount {
                id: "29:bob".into(),
                aad_object_id: Some("aad-bob".into()),
                ..TeamsChannelAccount::default()
            }),
            meeting: MeetingParticipantInfo {
                role: Some(MeetingRole::Presenter),
                in_meeting: Some(true),
                ..MeetingParticipantInfo::default()
            },
            ..MeetingParticipant::default()
        };
        let mut info = MeetingInfo::default();
        info.details.title = Some("Sync".into());
        fake.set_meeting("m1", info, vec![bob]);
        let url = "https://smba.trafficmanager.net/amer/";
        let tenant: TenantId = "t".into();
        let found = fake.meeting_participant(url, "m1", "aad-bob", &tenant).await.unwrap();
        assert_eq!(found.meeting.role, Some(MeetingRole::Presenter));
        assert!(fake.meeting_participant(url, "m1", "29:bob", &tenant).await.is_ok());
        let e = fake
            .meeting_participant(url, "m1", "29:dana", &tenant)
            .await
            .unwrap_err();
        assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
        let e = fake.meeting_info(url, "m2").await.unwrap_err();
        assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
        assert_eq!(
            fake.meeting_info(url, "m1").await.unwrap().details.title.as_deref(),
            Some("Sync")
        );
        let calls = fake.calls();
        assert_eq!(calls.len(), 5);
        assert!(
            matches!(&calls[0], ConnectorCall::MeetingParticipant { participant_id, .. } if participant_id == "aad-bob")
        );
    }

    #[test]
    fn the_default_answer_is_not_a_teams_refusal() {
        let e = meetings_unsupported();
        assert!(!e.is_bot_removed());
        assert!(matches!(e, ConnectorError::Unexpected { status: 501, .. }));
    }
}

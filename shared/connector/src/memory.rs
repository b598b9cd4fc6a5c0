//! An in-memory [`Connector`] for other crates' unit tests: records every call, answers ids, and fails on cue.

use crate::allowlist::ServiceUrlAllowlist;
use crate::error::ConnectorError;
use crate::port::Connector;
use async_trait::async_trait;
use models::connector::{
    ConversationList, ConversationParameters, ConversationResourceResponse, PagedMembersResult, ResourceResponse,
    TeamDetails,
};
use models::{Activity, ActivityId, ConversationId, TeamsChannelAccount};
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// One call made to a [`RecordingConnector`].
#[derive(Clone, Debug, PartialEq)]
pub enum ConnectorCall {
    CreateConversation {
        service_url: String,
        params: Box<ConversationParameters>,
    },
    Send {
        service_url: String,
        conversation: ConversationId,
        activity: Activity,
    },
    Reply {
        service_url: String,
        conversation: ConversationId,
        reply_to: ActivityId,
        activity: Activity,
    },
    Update {
        service_url: String,
        conversation: ConversationId,
        activity_id: ActivityId,
        activity: Activity,
    },
    Delete {
        service_url: String,
        conversation: ConversationId,
        activity_id: ActivityId,
    },
    GetMembers {
        service_url: String,
        conversation: ConversationId,
    },
    GetPagedMembers {
        service_url: String,
        conversation: ConversationId,
        page_size: Option<u32>,
        continuation_token: Option<String>,
    },
    GetMember {
        service_url: String,
        conversation: ConversationId,
        user_id: String,
    },
    TeamDetails {
        service_url: String,
        team_id: String,
    },
    TeamChannels {
        service_url: String,
        team_id: String,
    },
    MeetingParticipant {
        service_url: String,
        meeting_id: String,
        participant_id: String,
        tenant: models::TenantId,
    },
    MeetingInfo {
        service_url: String,
        meeting_id: String,
    },
}

impl ConnectorCall {
    /// The activity sent, replied, updated or used to start a channel thread, if any.
    #[must_use]
    pub fn activity(&self) -> Option<&Activity> {
        match self {
            Self::Send { activity, .. } | Self::Reply { activity, .. } | Self::Update { activity, .. } => {
                Some(activity)
            }
            Self::CreateConversation { params, .. } => params.activity.as_ref(),
            _ => None,
        }
    }
}

type FailWhen = Box<dyn Fn(&ConnectorCall) -> Option<ConnectorError> + Send + Sync>;

#[derive(Default)]
struct State {
    calls: Vec<ConnectorCall>,
    fail_next: VecDeque<ConnectorError>,
    fail_when: Option<FailWhen>,
    next_id: u64,
    members: HashMap<String, Vec<TeamsChannelAccount>>,
    teams: HashMap<String, (TeamDetails, ConversationList)>,
    meetings: HashMap<String, crate::meetings::RecordedMeeting>,
}

/// The in-memory fake. Ids: activities `1`, `2`, ...; 1:1 chats `a:<user id>` (the same for the same user);
/// channel threads `<channel>;messageid=<n>`.
#[derive(Default)]
pub struct RecordingConnector {
    allowlist: Option<ServiceUrlAllowlist>,
    state: Mutex<State>,
}

impl std::fmt::Debug for RecordingConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingConnector")
            .field("calls", &self.lock().calls.len())
            .finish_non_exhaustive()
    }
}

impl RecordingConnector {
    /// A fake that accepts any serviceUrl.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A fake that refuses serviceUrls `allowlist` refuses (recording nothing for them), as the real client does.
    #[must_use]
    pub fn with_allowlist(allowlist: ServiceUrlAllowlist) -> Self {
        Self {
            allowlist: Some(allowlist),
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every call so far, in order.
    #[must_use]
    pub fn calls(&self) -> Vec<ConnectorCall> {
        self.lock().calls.clone()
    }

    /// The activities sent so far (send, reply, update, channel-thread create), in order.
    #[must_use]
    pub fn sent_activities(&self) -> Vec<Activity> {
        self.lock().calls.iter().filter_map(|c| c.activity().cloned()).collect()
    }

    /// Forgets the calls made so far.
    pub fn clear(&self) {
        self.lock().calls.clear();
    }

    /// The next call fails with `error` (queued: each queued error is used once). The call is still recorded.
    pub fn fail_next(&self, error: ConnectorError) {
        self.lock().fail_next.push_back(error);
    }

    /// Every later call for which `f` answers an error fails with it (after the queued ones).
    pub fn fail_when(&self, f: impl Fn(&ConnectorCall) -> Option<ConnectorError> + Send + Sync + 'static) {
        self.lock().fail_when = Some(Box::new(f));
    }

    /// Stops failing on cue.
    pub fn stop_failing(&self) {
        let mut s = self.lock();
        s.fail_next.clear();
        s.fail_when = None;
    }

    /// The roster answered for `conversation` (members, paged members, one member).
    pub fn set_members(&self, conversation: impl Into<String>, members: Vec<TeamsChannelAccount>) {
        self.lock().members.insert(conversation.into(), members);
    }

    /// The details and channels answered for a team.
    pub fn set_team(&self, details: TeamDetails, channels: ConversationList) {
        self.lock().teams.insert(details.id.clone(), (details, channels));
    }

    /// The meeting `meeting_id` (what `channelData.meeting.id` names): [`Connector::meeting_info`] answers `info`,
    /// [`Connector::meeting_participant`] the entry of `participants` whose user has the asked Teams id or AAD
    /// object id (else 404, as Teams answers for someone not in the meeting); an unknown meeting is 404.
    pub fn set_meeting(
        &self,
        meeting_id: impl Into<String>,
        info: models::meeting::MeetingInfo,
        participants: Vec<models::meeting::MeetingParticipant>,
    ) {
        let meeting = crate::meetings::RecordedMeeting { info, participants };
        self.lock().meetings.insert(meeting_id.into(), meeting);
    }

    /// Records the call and answers the error it should fail with, if any.
    fn record(&self, service_url: &str, call: ConnectorCall) -> Result<u64, ConnectorError> {
        if let Some(a) = &self.allowlist {
            a.check(service_url)?;
        }
        let mut s = self.lock();
        let failure = s
            .fail_next
            .pop_front()
            .or_else(|| s.fail_when.as_ref().and_then(|f| f(&call)));
        s.calls.push(call);
        if let Some(e) = failure {
            return Err(e);
        }
        s.next_id += 1;
        Ok(s.next_id)
    }

    fn members_of(&self, conversation: &ConversationId) -> Vec<TeamsChannelAccount> {
        self.lock()
            .members
            .get(conversation.as_str())
            .cloned()
            .unwrap_or_default()
    }
}

fn not_found(what: &str) -> ConnectorError {
    ConnectorError::NotFound {
        code: "NotFound".to_owned(),
        message: format!("{what} not found"),
    }
}

fn resource(id: u64) -> ResourceResponse {
    ResourceResponse {
        id: ActivityId(id.to_string()),
        ..ResourceResponse::default()
    }
}

#[async_trait]
impl Connector for RecordingConnector {
    async fn create_conversation(
        &self,
        service_url: &str,
        params: &ConversationParameters,
    ) -> Result<ConversationResourceResponse, ConnectorError> {
        let call = ConnectorCall::CreateConversation {
            service_url: service_url.to_owned(),
            params: Box::new(params.clone()),
        };
        let n = self.record(service_url, call)?;
        let channel = params.channel_data.as_ref().and_then(|d| d.channel.as_ref());
        Ok(match (channel, params.members.as_ref().and_then(|m| m.first())) {
            (Some(c), _) => ConversationResourceResponse {
                id: ConversationId(format!("{};messageid={n}", c.id)),
                activity_id: Some(ActivityId(n.to_string())),
                ..ConversationResourceResponse::default()
            },
            (None, Some(m)) => ConversationResourceResponse {
                id: ConversationId(format!("a:{}", m.id)),
                ..ConversationResourceResponse::default()
            },
            (None, None) => ConversationResourceResponse {
                id: ConversationId(format!("conversation-{n}")),
                ..ConversationResourceResponse::default()
            },
        })
    }

    async fn send_to_conversation(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        activity: &Activity,
    ) -> Result<ResourceResponse, ConnectorError> {
        let call = ConnectorCall::Send {
            service_url: service_url.to_owned(),
            conversation: conversation.clone(),
            activity: activity.clone(),
        };
        self.record(service_url, call).map(resource)
    }

    async fn reply_to_activity(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        reply_to: &ActivityId,
        activity: &Activity,
    ) -> Result<ResourceResponse, ConnectorError> {
        let call = ConnectorCall::Reply {
            service_url: service_url.to_owned(),
            conversation: conversation.clone(),
            reply_to: reply_to.clone(),
            activity: activity.clone(),
        };
        self.record(service_url, call).map(resource)
    }

    async fn update_activity(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        activity_id: &ActivityId,
        activity: &Activity,
    ) -> Result<ResourceResponse, ConnectorError> {
        let call = ConnectorCall::Update {
            service_url: service_url.to_owned(),
            conversation: conversation.clone(),
            activity_id: activity_id.clone(),
            activity: activity.clone(),
        };
        self.record(service_url, call)?;
        Ok(ResourceResponse {
            id: activity_id.clone(),
            ..ResourceResponse::default()
        })
    }

    async fn delete_activity(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        activity_id: &ActivityId,
    ) -> Result<(), ConnectorError> {
        let call = ConnectorCall::Delete {
            service_url: service_url.to_owned(),
            conversation: conversation.clone(),
            activity_id: activity_id.clone(),
        };
        self.record(service_url, call).map(drop)
    }

    async fn get_members(
        &self,
        service_url: &str,
        conversation: &ConversationId,
    ) -> Result<Vec<TeamsChannelAccount>, ConnectorError> {
        let call = ConnectorCall::GetMembers {
            service_url: service_url.to_owned(),
            conversation: conversation.clone(),
        };
        self.record(service_url, call)?;
        Ok(self.members_of(conversation))
    }

    async fn get_paged_members(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        page_size: Option<u32>,
        continuation_token: Option<&str>,
    ) -> Result<PagedMembersResult, ConnectorError> {
        let call = ConnectorCall::GetPagedMembers {
            service_url: service_url.to_owned(),
            conversation: conversation.clone(),
            page_size,
            continuation_token: continuation_token.map(str::to_owned),
        };
        self.record(service_url, call)?;
        let all = self.members_of(conversation);
        let start: usize = continuation_token.and_then(|t| t.parse().ok()).unwrap_or(0);
        let size = page_size.map_or(200, |n| n.clamp(1, 500) as usize);
        let end = (start + size).min(all.len());
        Ok(PagedMembersResult {
            continuation_token: (end < all.len()).then(|| end.to_string()),
            members: all.get(start..end).map(<[_]>::to_vec).unwrap_or_default(),
            ..PagedMembersResult::default()
        })
    }

    async fn get_member(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        user_id: &str,
    ) -> Result<TeamsChannelAccount, ConnectorError> {
        let call = ConnectorCall::GetMember {
            service_url: service_url.to_owned(),
            conversation: conversation.clone(),
            user_id: user_id.to_owned(),
        };
        self.record(service_url, call)?;
        self.members_of(conversation)
            .into_iter()
            .find(|m| m.id == user_id)
            .ok_or_else(|| not_found("member"))
    }

    async fn team_details(&self, service_url: &str, team_id: &str) -> Result<TeamDetails, ConnectorError> {
        let call = ConnectorCall::TeamDetails {
            service_url: service_url.to_owned(),
            team_id: team_id.to_owned(),
        };
        self.record(service_url, call)?;
        self.lock()
            .teams
            .get(team_id)
            .map(|t| t.0.clone())
            .ok_or_else(|| not_found("team"))
    }

    async fn meeting_participant(
        &self,
        service_url: &str,
        meeting_id: &str,
        participant_id: &str,
        tenant: &models::TenantId,
    ) -> Result<models::meeting::MeetingParticipant, ConnectorError> {
        let call = ConnectorCall::MeetingParticipant {
            service_url: service_url.to_owned(),
            meeting_id: meeting_id.to_owned(),
            participant_id: participant_id.to_owned(),
            tenant: tenant.clone(),
        };
        self.record(service_url, call)?;
        self.lock()
            .meetings
            .get(meeting_id)
            .ok_or_else(|| not_found("meeting"))?
            .participant(participant_id)
            .ok_or_else(|| not_found("participant"))
    }

    async fn meeting_info(
        &self,
        service_url: &str,
        meeting_id: &str,
    ) -> Result<models::meeting::MeetingInfo, ConnectorError> {
        let call = ConnectorCall::MeetingInfo {
            service_url: service_url.to_owned(),
            meeting_id: meeting_id.to_owned(),
        };
        self.record(service_url, call)?;
        self.lock()
            .meetings
            .get(meeting_id)
            .map(|m| m.info.clone())
            .ok_or_else(|| not_found("meeting"))
    }

    async fn team_channels(&self, service_url: &str, team_id: &str) -> Result<ConversationList, ConnectorError> {
        let call = ConnectorCall::TeamChannels {
            service_url: service_url.to_owned(),
            team_id: team_id.to_owned(),
        };
        self.record(service_url, call)?;
        self.lock()
            .teams
            .get(team_id)
            .map(|t| t.1.clone())
            .ok_or_else(|| not_found("team"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn records_answers_ids_and_fails_on_cue() {
        let fake = Arc::new(RecordingConnector::new());
        let port: Arc<dyn Connector> = fake.clone();
        let url = "https://smba.trafficmanager.net/amer/";
        let bot = models::ChannelAccount::new("28:bot", None);
        let c1 = port
            .create_personal_conversation(url, &bot, "29:u", &"t".into())
            .await
            .unwrap();
        let c2 = port
            .create_personal_conversation(url, &bot, "29:u", &"t".into())
            .await
            .unwrap();
        assert_eq!(c1.id, c2.id);
        let r = port
            .send_to_conversation(url, &c1.id, &Activity::default())
            .await
            .unwrap();
        assert!(!r.id.as_str().is_empty());
        fake.fail_next(ConnectorError::NotInRoster { message: "gone".into() });
        let e = port
            .send_to_conversation(url, &c1.id, &Activity::default())
            .await
            .unwrap_err();
        assert!(e.is_bot_removed());
        fake.fail_when(|c| matches!(c, ConnectorCall::Delete { .. }).then(|| not_found("activity")));
        assert!(port.delete_activity(url, &c1.id, &r.id).await.is_err());
        assert!(
            port.send_to_conversation(url, &c1.id, &Activity::default())
                .await
                .is_ok()
        );
        assert_eq!(fake.calls().len(), 6);
        assert_eq!(fake.sent_activities().len(), 3);
        let t = port
            .create_channel_thread(url, "19:c@thread.skype", None, &Activity::default())
            .await
            .unwrap();
        assert!(t.id.as_str().starts_with("19:c@thread.skype;messageid="));
        assert!(t.activity_id.is_some());
    }

    #[tokio::test]
    async fn pages_members_and_honours_the_allowlist() {
        let fake = RecordingConnector::with_allowlist(ServiceUrlAllowlist::default());
        let members: Vec<_> = (0..5)
            .map(|i| TeamsChannelAccount {
                id: format!("29:{i}"),
                ..TeamsChannelAccount::default()
            })
            .collect();
        fake.set_members("c", members);
        let url = "https://smba.trafficmanager.net/amer/";
        let p1 = fake.get_paged_members(url, &"c".into(), Some(3), None).await.unwrap();
        assert_eq!(p1.members.len(), 3);
        let p2 = fake
            .get_paged_members(url, &"c".into(), Some(3), p1.continuation_token.as_deref())
            .await
            .unwrap();
        assert_eq!((p2.members.len(), p2.continuation_token), (2, None));
        let e = fake
            .get_members("https://evil.example/", &"c".into())
            .await
            .unwrap_err();
        assert!(matches!(e, ConnectorError::Refused(_)));
        assert_eq!(fake.calls().len(), 2);
    }
}

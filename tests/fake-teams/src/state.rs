//! The fake's in-memory world (users, teams, conversations, activities, tokens) and the Connector's behaviour
//! over it.

use crate::SeedTeam;
use crate::faults::Fault;
use crate::{DEFAULT_APP_ID, DEFAULT_APP_PASSWORD, DEFAULT_SCOPE, DEFAULT_TENANT, MAX_ACTIVITY_UTF16, RecordedCall};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use models::TeamsChannelAccount;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

pub(crate) mod batch;
mod group_chat;
pub(crate) mod meetings;
pub(crate) mod streaming;

/// The endpoints the fake serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /{tenant}/oauth2/v2.0/token`
    Token,
    /// `POST v3/conversations`
    CreateConversation,
    /// `POST v3/conversations/{id}/activities`
    SendToConversation,
    /// `POST v3/conversations/{id}/activities/{activityId}`
    ReplyToActivity,
    /// `PUT v3/conversations/{id}/activities/{activityId}`
    UpdateActivity,
    /// `DELETE v3/conversations/{id}/activities/{activityId}`
    DeleteActivity,
    /// `GET v3/conversations/{id}/members`
    GetMembers,
    /// `GET v3/conversations/{id}/pagedmembers`
    GetPagedMembers,
    /// `GET v3/conversations/{id}/members/{userId}`
    GetMember,
    /// `GET v3/teams/{teamId}`
    TeamDetails,
    /// `GET v3/teams/{teamId}/conversations`
    TeamChannels,
    /// `POST v3/batch/conversation/users/`
    BatchUsers,
    /// `POST v3/batch/conversation/tenant/`
    BatchTenant,
    /// `POST v3/batch/conversation/team/`
    BatchTeam,
    /// `POST v3/batch/conversation/channels/`
    BatchChannels,
    /// `GET v3/batch/conversation/{operationId}`
    BatchState,
    /// `GET v3/batch/conversation/failedentries/{operationId}`
    BatchFailedEntries,
    /// `DELETE v3/batch/conversation/{operationId}`
    BatchCancel,
    /// `GET v1/meetings/{meetingId}/participants/{participantId}?tenantId=`
    MeetingParticipant,
    /// `GET v1/meetings/{meetingId}`
    MeetingInfo,
    /// Anything else (answered 404).
    Unknown,
}

impl Route {
    /// Which Teams limits the route counts against: Some(true) sends, Some(false) member reads.
    fn limit_class(self) -> Option<bool> {
        match self {
            Self::CreateConversation
            | Self::SendToConversation
            | Self::ReplyToActivity
            | Self::UpdateActivity
            | Self::DeleteActivity => Some(true),
            Self::GetMembers | Self::GetPagedMembers | Self::GetMember => Some(false),
            _ => None,
        }
    }
}

/// An activity the bot sent, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredActivity {
    pub id: String,
    /// The conversation as addressed (a channel reply chain keeps its `;messageid=`).
    pub conversation: String,
    /// The activity id it replies to (reply endpoint), if any.
    pub reply_to: Option<String>,
    /// The body as last sent (update replaces it).
    pub activity: Value,
    /// How many times it was updated.
    pub updates: u32,
    pub(crate) deleted: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub app_id: String,
    pub app_password: String,
    pub app_tenant: String,
    pub scope: String,
    pub token_lifetime: Duration,
    pub anonymous: bool,
    pub conversation_limits: bool,
    pub tenant_limit: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            app_id: DEFAULT_APP_ID.to_owned(),
            app_password: DEFAULT_APP_PASSWORD.to_owned(),
            app_tenant: DEFAULT_TENANT.to_owned(),
            scope: DEFAULT_SCOPE.to_owned(),
            token_lifetime: Duration::from_secs(3599),
            anonymous: false,
            conversation_limits: true,
            tenant_limit: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Personal {
        user: String,
    },
    Channel {
        team: String,
    },
    /// A group chat (users add bots to them; bots cannot create them): its members' ids.
    GroupChat {
        members: Vec<String>,
    },
}

#[derive(Clone, Debug)]
struct Conversation {
    kind: Kind,
    tenant: String,
    bot_removed: bool,
}

#[derive(Clone, Debug)]
struct Team {
    name: String,
    aad_group_id: Option<String>,
    tenant: String,
    channels: Vec<(String, Option<String>)>,
    members: Vec<TeamsChannelAccount>,
    bot_removed: bool,
}

/// An answer: status, JSON body, `Retry-After`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Option<Value>,
    pub retry_after: Option<String>,
}

impl Answer {
    fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body: Some(body),
            retry_after: None,
        }
    }

    pub(crate) fn error(status: u16, code: &str, message: &str) -> Self {
        Self {
            status,
            body: Some(json!({"error": {"code": code, "message": message}})),
            retry_after: None,
        }
    }
}

/// Request times per sliding window.
#[derive(Debug, Default)]
struct Windows(VecDeque<Instant>);

impl Windows {
    /// None when one more fits every `(count, window)`; else how long until it does.
    fn check(&mut self, limits: &[(usize, u64)], now: Instant) -> Option<Duration> {
        let longest = limits
            .iter()
            .map(|l| Duration::from_secs(l.1))
            .max()
            .unwrap_or_default();
        while self.0.front().is_some_and(|t| now.duration_since(*t) >= longest) {
            self.0.pop_front();
        }
        let mut wait = Duration::ZERO;
        for &(count, secs) in limits {
            let window = Duration::from_secs(secs);
            let inside = self
                .0
                .iter()
                .rev()
                .take_while(|t| now.duration_since(**t) < window)
                .count();
            if count > 0 && inside >= count {
                let leaves = self.0[self.0.len() - count] + window;
                wait = wait.max(leaves.saturating_duration_since(now));
            }
        }
        (!wait.is_zero()).then_some(wait)
    }
}

const SEND_LIMITS: [(usize, u64); 4] = [(7, 1), (8, 2), (60, 30), (1800, 3600)];
const READ_LIMITS: [(usize, u64); 4] = [(14, 1), (16, 2), (120, 30), (3600, 3600)];

/// The fake's whole world.
#[derive(Debug)]
pub(crate) struct State {
    pub options: Options,
    pub calls: Vec<RecordedCall>,
    pub faults: Vec<Fault>,
    pub tokens_issued: usize,
    pub disabled_tenants: HashSet<String>,
    tokens: HashMap<String, Instant>,
    users: HashMap<String, Vec<TeamsChannelAccount>>,
    teams: HashMap<String, Team>,
    conversations: HashMap<String, Conversation>,
    personal: HashMap<(String, String), String>,
    activities: Vec<StoredActivity>,
    next_activity: u64,
    windows: HashMap<(String, bool), Windows>,
    tenant_windows: HashMap<String, Windows>,
    pub(crate) batches: batch::Batches,
    pub(crate) meetings: meetings::Meetings,
    streams: streaming::Streams,
}

/// The conversation a reply chain belongs to.
fn base_conversation(id: &str) -> &str {
    id.split_once(";messageid=").map_or(id, |(c, _)| c)
}

impl State {
    pub(crate) fn new(options: Options) -> Self {
        Self {
            options,
            calls: Vec::new(),
            faults: Vec::new(),
            tokens_issued: 0,
            disabled_tenants: HashSet::new(),
            tokens: HashMap::new(),
            users: HashMap::new(),
            teams: HashMap::new(),
            conversations: HashMap::new(),
            personal: HashMap::new(),
            activities: Vec::new(),
            next_activity: 1_700_000_000_000,
            windows: HashMap::new(),
            tenant_windows: HashMap::new(),
            batches: batch::Batches::default(),
            meetings: meetings::Meetings::default(),
            streams: streaming::Streams::default(),
        }
    }

    pub(crate) fn add_user(&mut self, tenant: &str, mut user: TeamsChannelAccount) {
        user.tenant_id = Some(tenant.into());
        let users = self.users.entry(tenant.to_owned()).or_default();
        users.retain(|u| u.id != user.id);
        users.push(user);
    }

    pub(crate) fn add_team(&mut self, seed: SeedTeam) {
        for m in &seed.members {
            self.add_user(&seed.tenant, m.clone());
        }
        let mut channels = vec![(seed.id.clone(), None)];
        channels.extend(seed.channels.iter().map(|(id, name)| (id.clone(), Some(name.clone()))));
        for (id, _) in &channels {
            self.conversations.insert(
                id.clone(),
                Conversation {
                    kind: Kind::Channel { team: seed.id.clone() },
                    tenant: seed.tenant.clone(),
                    bot_removed: false,
                },
            );
        }
        let members = seed
            .members
            .into_iter()
            .map(|mut m| {
                m.tenant_id = Some(seed.tenant.as_str().into());
                m
            })
            .collect();
        self.teams.insert(
            seed.id,
            Team {
                name: seed.name,
                aad_group_id: seed.aad_group_id,
                tenant: seed.tenant,
                channels,
                members,
                bot_removed: false,
            },
        );
    }

    pub(crate) fn remove_bot(&mut self, id: &str) {
        if let Some(team) = self.teams.get_mut(id) {
            team.bot_removed = true;
            let channels: Vec<String> = team.channels.iter().map(|c| c.0.clone()).collect();
            for c in channels {
                if let Some(conv) = self.conversations.get_mut(&c) {
                    conv.bot_removed = true;
                }
            }
        }
        if let Some(conv) = self.conversations.get_mut(base_conversation(id)) {
            conv.bot_removed = true;
        }
    }

    pub(crate) fn activities_in(&self, conversation: &str) -> Vec<StoredActivity> {
        let base = base_conversation(conversation);
        self.activities
            .iter()
            .filter(|a| !a.deleted && base_conversation(&a.conversation) == base)
            .filter(|a| base == conversation || a.conversation == conversation)
            .cloned()
            .collect()
    }

    fn find_user(&self, tenant: &str, id: &str) -> Option<&TeamsChannelAccount> {
        self.users
            .get(tenant)?
            .iter()
            .find(|u| u.id == id || u.aad_object_id.as_deref() == Some(id))
    }

    /// Create-or-get the 1:1 chat; Err for an unknown user.
    pub(crate) fn personal_conversation(&mut self, tenant: &str, user_id: &str) -> Result<String, Answer> {
        let Some(user) = self.find_user(tenant, user_id).cloned() else {
            return Err(Answer::error(
                403,
                "BotNotInConversationRoster",
                "The user is not in the tenant.",
            ));
        };
        if let Some(id) = self.personal.get(&(tenant.to_owned(), user.id.clone())) {
            return Ok(id.clone());
        }
        let id = format!("a:1{}", URL_SAFE_NO_PAD.encode(format!("{tenant}|{}", user.id)));
        self.personal.insert((tenant.to_owned(), user.id.clone()), id.clone());
        self.conversations.insert(
            id.clone(),
            Conversation {
                kind: Kind::Personal { user: user.id },
                tenant: tenant.to_owned(),
                bot_removed: false,
            },
        );
        Ok(id)
    }

    // ---- tokens ----

    /// Issues a token when the form is right.
    pub(crate) fn token(&mut self, tenant: &str, form: &HashMap<String, String>) -> Answer {
        let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
        let oauth_error = |status: u16, error: &str, description: &str| Answer {
            status,
            body: Some(json!({"error": error, "error_description": description, "error_codes": [status]})),
            retry_after: None,
        };
        if tenant != "botframework.com" && tenant != self.options.app_tenant {
            return oauth_error(400, "invalid_request", "AADSTS90002: Tenant not found.");
        }
        if field("grant_type") != "client_credentials" {
            return oauth_error(400, "unsupported_grant_type", "AADSTS70003: unsupported grant type.");
        }
        if field("client_id") != self.options.app_id || field("client_secret") != self.options.app_password {
            return oauth_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.");
        }
        if field("scope") != self.options.scope {
            return oauth_error(
                400,
                "invalid_scope",
                "AADSTS70011: The provided value for scope is not valid.",
            );
        }
        self.tokens_issued += 1;
        let lifetime = self.options.token_lifetime;
        // Shaped like Entra's access tokens (base64url JSON header and claims, then a "signature"), because some
        // clients decode the token they are given (the Teams SDK v2 reads its claims); the Connector still checks
        // the exact string, so the shape grants nothing by itself.
        let now = crate::openid::unix_now();
        let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"none"}"#);
        let claims = URL_SAFE_NO_PAD.encode(
            json!({
                "aud": self.options.scope.trim_end_matches("/.default"),
                "iss": format!("https://sts.windows.net/{tenant}/"),
                "appid": self.options.app_id,
                "tid": tenant,
                "iat": now,
                "nbf": now,
                "exp": now + i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2),
            })
            .to_string(),
        );
        let token = format!(
            "{header}.{claims}.fake-teams-token-{}-{:016x}",
            self.tokens_issued,
            fastrand::u64(..)
        );
        self.tokens.insert(token.clone(), Instant::now() + lifetime);
        Answer::ok(json!({
            "token_type": "Bearer",
            "expires_in": lifetime.as_secs(),
            "ext_expires_in": lifetime.as_secs(),
            "access_token": token,
        }))
    }

    /// Whether `authorization` carries a live token the fake issued.
    pub(crate) fn token_valid(&self, authorization: Option<&str>) -> bool {
        authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .and_then(|t| self.tokens.get(t))
            .is_some_and(|exp| Instant::now() < *exp)
    }

    // ---- pacing ----

    /// The tenant a Connector call concerns, if known.
    fn tenant_of(&self, call: &RecordedCall) -> Option<String> {
        match call.route {
            Route::CreateConversation => call.body.as_ref().and_then(|b| {
                b.pointer("/channelData/tenant/id")
                    .or_else(|| b.get("tenantId"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| {
                        let ch = b.pointer("/channelData/channel/id")?.as_str()?;
                        self.conversations.get(ch).map(|c| c.tenant.clone())
                    })
            }),
            Route::BatchUsers | Route::BatchTenant | Route::BatchTeam | Route::BatchChannels => call
                .body
                .as_ref()
                .and_then(|b| b.get("tenantId"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            Route::TeamDetails | Route::TeamChannels => call
                .ids
                .first()
                .and_then(|t| self.teams.get(t))
                .map(|t| t.tenant.clone()),
            _ => call
                .ids
                .first()
                .and_then(|c| self.conversations.get(base_conversation(c)))
                .map(|c| c.tenant.clone()),
        }
    }

    /// 429 with `Retry-After` when the call is over a Teams limit; otherwise counts it.
    pub(crate) fn pace(&mut self, call: &RecordedCall) -> Option<Answer> {
        let now = Instant::now();
        let conv_key = call.limit_key();
        let tenant = self.tenant_of(call);
        let mut wait = None::<Duration>;
        if self.options.conversation_limits
            && let Some((key, sends)) = &conv_key
        {
            let limits: &[(usize, u64)] = if *sends { &SEND_LIMITS } else { &READ_LIMITS };
            let w = self.windows.entry((key.clone(), *sends)).or_default();
            wait = wait.max(w.check(limits, now));
        }
        if let (Some(n), Some(t)) = (self.options.tenant_limit, &tenant) {
            wait = wait.max(self.tenant_windows.entry(t.clone()).or_default().check(&[(n, 1)], now));
        }
        if let Some(wait) = wait {
            let secs = wait.as_millis().div_ceil(1000).max(1);
            let mut a = Answer::error(429, "TooManyRequests", "Too many requests for this conversation.");
            a.retry_after = Some(secs.to_string());
            return Some(a);
        }
        if self.options.conversation_limits
            && let Some((key, sends)) = conv_key
            && let Some(w) = self.windows.get_mut(&(key, sends))
        {
            w.0.push_back(now);
        }
        if self.options.tenant_limit.is_some()
            && let Some(t) = tenant
            && let Some(w) = self.tenant_windows.get_mut(&t)
        {
            w.0.push_back(now);
        }
        None
    }

    // ---- the Connector ----

    /// Answers a Connector call (auth, faults and pacing already passed).
    pub(crate) fn connector(&mut self, call: &RecordedCall, query: &HashMap<String, String>) -> Answer {
        let id = |i: usize| call.ids.get(i).map(String::as_str).unwrap_or_default();
        match call.route {
            Route::CreateConversation => self.create(call.body.as_ref()),
            Route::SendToConversation => self.post_activity(id(0), None, call),
            Route::ReplyToActivity => self.post_activity(id(0), Some(id(1)), call),
            Route::UpdateActivity => self.update(id(0), id(1), call),
            Route::DeleteActivity => self.delete(id(0), id(1)),
            Route::GetMembers => self.members(id(0)).map_or_else(|e| e, |m| Answer::ok(json!(m))),
            Route::GetPagedMembers => self.paged_members(id(0), query),
            Route::GetMember => self.member(id(0), id(1)),
            Route::TeamDetails => self.team(id(0), false),
            Route::TeamChannels => self.team(id(0), true),
            Route::BatchUsers => self.batch_answer(batch::BatchRoute::Users, call, query),
            Route::BatchTenant => self.batch_answer(batch::BatchRoute::Tenant, call, query),
            Route::BatchTeam => self.batch_answer(batch::BatchRoute::Team, call, query),
            Route::BatchChannels => self.batch_answer(batch::BatchRoute::Channels, call, query),
            Route::BatchState => self.batch_answer(batch::BatchRoute::State, call, query),
            Route::BatchFailedEntries => self.batch_answer(batch::BatchRoute::FailedEntries, call, query),
            Route::BatchCancel => self.batch_answer(batch::BatchRoute::Cancel, call, query),
            Route::MeetingParticipant => self.meeting_participant(id(0), id(1), query),
            Route::MeetingInfo => self.meeting_info(id(0)),
            Route::Token | Route::Unknown => Answer::error(404, "NotFound", "No such endpoint."),
        }
    }

    /// The conversation, if it exists and the bot may act in it.
    fn conversation(&self, id: &str) -> Result<&Conversation, Answer> {
        let Some(conv) = self.conversations.get(base_conversation(id)) else {
            return Err(Answer::error(404, "ConversationNotFound", "Conversation not found."));
        };
        if self.disabled_tenants.contains(&conv.tenant) {
            return Err(Answer::error(
                403,
                "BotDisabledByAdmin",
                "The bot is disabled by the tenant admin.",
            ));
        }
        if conv.bot_removed {
            return Err(Answer::error(
                403,
                "BotNotInConversationRoster",
                "The bot is not part of the conversation roster.",
            ));
        }
        Ok(conv)
    }

    fn new_activity_id(&mut self) -> String {
        self.next_activity += 1 + fastrand::u64(0..50);
        self.next_activity.to_string()
    }

    fn check_activity(body: Option<&Value>, raw_len_utf16: usize) -> Result<(), Answer> {
        let Some(b) = body.filter(|b| b.is_object()) else {
            return Err(Answer::error(
                400,
                "BadArgument",
                "The activity is missing or not a JSON object.",
            ));
        };
        if b.get("type").and_then(Value::as_str).is_none() {
            return Err(Answer::error(400, "BadArgument", "The activity has no type."));
        }
        if raw_len_utf16 > MAX_ACTIVITY_UTF16 {
            return Err(Answer::error(413, "MessageSizeTooBig", "Message size too big."));
        }
        Ok(())
    }

    fn store(&mut self, conversation: &str, reply_to: Option<&str>, activity: Value) -> String {
        let id = self.new_activity_id();
        self.activities.push(StoredActivity {
            id: id.clone(),
            conversation: conversation.to_owned(),
            reply_to: reply_to.map(str::to_owned),
            activity,
            updates: 0,
            deleted: false,
        });
        id
    }

    fn create(&mut self, body: Option<&Value>) -> Answer {
        let Some(b) = body.filter(|b| b.is_object()) else {
            return Answer::error(400, "BadArgument", "Missing conversation parameters.");
        };
        if let Some(channel) = b.pointer("/channelData/channel/id").and_then(Value::as_str) {
            let channel = channel.to_owned();
            if let Err(e) = self.conversation(&channel) {
                return e;
            }
            let activity = b.get("activity").cloned();
            let raw = activity
                .as_ref()
                .map(|a| a.to_string().encode_utf16().count())
                .unwrap_or_default();
            if let Err(e) = Self::check_activity(activity.as_ref(), raw) {
                return e;
            }
            let id = self.new_activity_id();
            let conversation = format!("{channel};messageid={id}");
            self.activities.push(StoredActivity {
                id: id.clone(),
                conversation: conversation.clone(),
                reply_to: None,
                activity: activity.unwrap_or_default(),
                updates: 0,
                deleted: false,
            });
            return Answer::ok(json!({"id": conversation, "activityId": id}));
        }
        if b.get("isGroup").and_then(Value::as_bool) == Some(true) {
            return Answer::error(400, "BadArgument", "Bots cannot create group chats.");
        }
        let members: Vec<&str> = b
            .get("members")
            .and_then(Value::as_array)
            .map(|m| m.iter().filter_map(|x| x.get("id").and_then(Value::as_str)).collect())
            .unwrap_or_default();
        let [member] = members.as_slice() else {
            return Answer::error(400, "BadArgument", "A 1:1 conversation needs exactly one member.");
        };
        let Some(tenant) = b
            .pointer("/channelData/tenant/id")
            .or_else(|| b.get("tenantId"))
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Answer::error(400, "BadArgument", "Missing channelData.tenant.id.");
        };
        if self.disabled_tenants.contains(&tenant) {
            return Answer::error(403, "BotDisabledByAdmin", "The bot is disabled by the tenant admin.");
        }
        let member = (*member).to_owned();
        match self.personal_conversation(&tenant, &member) {
            Ok(id) => match self.conversation(&id) {
                Ok(_) => Answer::ok(json!({"id": id})),
                Err(e) => e,
            },
            Err(e) => e,
        }
    }

    fn post_activity(&mut self, conversation: &str, reply_to: Option<&str>, call: &RecordedCall) -> Answer {
        if let Err(e) = self.conversation(conversation) {
            return e;
        }
        if let Err(e) = Self::check_activity(call.body.as_ref(), call.body_utf16) {
            return e;
        }
        if let Some(answer) = self.stream_activity(conversation, call) {
            return answer;
        }
        let id = self.store(conversation, reply_to, call.body.clone().unwrap_or_default());
        Answer::ok(json!({"id": id}))
    }

    fn find_activity(&mut self, conversation: &str, activity_id: &str) -> Result<usize, Answer> {
        self.conversation(conversation)?;
        let base = base_conversation(conversation);
        self.activities
            .iter()
            .position(|a| !a.deleted && a.id == activity_id && base_conversation(&a.conversation) == base)
            .ok_or_else(|| Answer::error(404, "NotFound", "The activity id is not a known activity id."))
    }

    fn update(&mut self, conversation: &str, activity_id: &str, call: &RecordedCall) -> Answer {
        let idx = match self.find_activity(conversation, activity_id) {
            Ok(i) => i,
            Err(e) => return e,
        };
        if let Err(e) = Self::check_activity(call.body.as_ref(), call.body_utf16) {
            return e;
        }
        let a = &mut self.activities[idx];
        a.activity = call.body.clone().unwrap_or_default();
        a.updates += 1;
        Answer::ok(json!({"id": activity_id}))
    }

    fn delete(&mut self, conversation: &str, activity_id: &str) -> Answer {
        match self.find_activity(conversation, activity_id) {
            Ok(i) => {
                self.activities[i].deleted = true;
                Answer {
                    status: 200,
                    body: None,
                    retry_after: None,
                }
            }
            Err(e) => e,
        }
    }

    fn members(&self, conversation: &str) -> Result<Vec<TeamsChannelAccount>, Answer> {
        let conv = self.conversation(conversation)?;
        Ok(match &conv.kind {
            Kind::Personal { user } => self.find_user(&conv.tenant, user).cloned().into_iter().collect(),
            Kind::Channel { team } => self.teams.get(team).map(|t| t.members.clone()).unwrap_or_default(),
            Kind::GroupChat { members } => members
                .iter()
                .filter_map(|m| self.find_user(&conv.tenant, m).cloned())
                .collect(),
        })
    }

    fn paged_members(&self, conversation: &str, query: &HashMap<String, String>) -> Answer {
        let all = match self.members(conversation) {
            Ok(m) => m,
            Err(e) => return e,
        };
        let size = match query.get("pageSize").map(|s| s.parse::<usize>()) {
            None => 200,
            Some(Ok(n)) => n.clamp(1, 500),
            Some(Err(_)) => return Answer::error(400, "BadArgument", "Invalid pageSize."),
        };
        let start = match query.get("continuationToken") {
            None => 0,
            Some(t) => match URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse::<usize>().ok()))
            {
                Some(n) if n <= all.len() => n,
                _ => return Answer::error(400, "BadArgument", "Invalid continuation token."),
            },
        };
        let end = (start + size).min(all.len());
        let mut body = json!({"members": all[start..end]});
        if end < all.len() {
            body["continuationToken"] = json!(URL_SAFE_NO_PAD.encode(format!("offset:{end}")));
        }
        Answer::ok(body)
    }

    fn member(&self, conversation: &str, user: &str) -> Answer {
        match self.members(conversation) {
            Ok(m) => m
                .into_iter()
                .find(|m| m.id == user || m.aad_object_id.as_deref() == Some(user))
                .map_or_else(
                    || {
                        Answer::error(
                            404,
                            "MemberNotFoundInConversation",
                            "The specified user is not a member of the conversation.",
                        )
                    },
                    |m| Answer::ok(json!(m)),
                ),
            Err(e) => e,
        }
    }

    fn team(&self, team_id: &str, channels: bool) -> Answer {
        let Some(team) = self.teams.get(team_id) else {
            return Answer::error(404, "TeamNotFound", "Team not found.");
        };
        if self.disabled_tenants.contains(&team.tenant) {
            return Answer::error(403, "BotDisabledByAdmin", "The bot is disabled by the tenant admin.");
        }
        if team.bot_removed {
            return Answer::error(403, "BotNotInConversationRoster", "The bot is not part of the team.");
        }
        if channels {
            let list: Vec<Value> = team
                .channels
                .iter()
                .map(|(id, name)| match name {
                    Some(n) => json!({"id": id, "name": n}),
                    None => json!({"id": id}),
                })
                .collect();
            return Answer::ok(json!({"conversations": list}));
        }
        let mut details = json!({
            "id": team_id,
            "name": team.name,
            "channelCount": team.channels.len(),
            "memberCount": team.members.len(),
            "type": "standard",
        });
        if let Some(g) = &team.aad_group_id {
            details["aadGroupId"] = json!(g);
        }
        Answer::ok(details)
    }
}

impl RecordedCall {
    /// (conversation, is-send) for the per-conversation limits.
    fn limit_key(&self) -> Option<(String, bool)> {
        let sends = self.route.limit_class()?;
        let conv = if self.route == Route::CreateConversation {
            let b = self.body.as_ref()?;
            b.pointer("/channelData/channel/id")
                .or_else(|| b.pointer("/members/0/id"))
                .and_then(Value::as_str)?
                .to_owned()
        } else {
            base_conversation(self.ids.first()?).to_owned()
        };
        Some((conv, sends))
    }
}

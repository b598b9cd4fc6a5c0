//! A faithful fake of Microsoft's side of a Teams bot, on 127.0.0.1: OpenID metadata and JWKS with a signer for
//! inbound tokens (`openid`), the client-credentials token endpoint and the v3 Connector endpoints, with Teams'
//! rate limits, scripted faults and a record of every call.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use fake_teams::{FakeTeams, Fault, Route, SeedTeam};
//! let fake = FakeTeams::builder()
//!     .user(fake_teams::DEFAULT_TENANT, FakeTeams::member("29:alice", "Alice", "aad-alice"))
//!     .team(SeedTeam::new("19:team@thread.skype", "Team").channel("19:c1@thread.skype", "Ops"))
//!     .start()
//!     .await?;
//! fake.inject(Fault::throttle(Route::SendToConversation, 2).times(1));
//! // point the client at fake.service_url() / fake.token_endpoint(), then assert on fake.calls()
//! # Ok(()) }
//! ```

mod faults;
pub mod files;
pub mod openid;
mod server;
mod state;

pub use faults::{Fault, FaultAction};
pub use state::meetings::SeedMeeting;
pub use state::streaming::{MAX_STREAM_DURATION, MIN_UPDATE_GAP, StreamRecord, StreamUpdate};
pub use state::{Route, StoredActivity};

use axum::Router;
use models::TeamsChannelAccount;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The app id the fake accepts by default.
pub const DEFAULT_APP_ID: &str = "00000000-0000-0000-0000-0000000000b0";
/// The client secret the fake accepts by default.
pub const DEFAULT_APP_PASSWORD: &str = "fake-teams-secret";
/// The bot's own tenant (single-tenant token endpoint) and the default tenant for seeds.
pub const DEFAULT_TENANT: &str = "00000000-0000-0000-0000-00000000000a";
/// The scope the fake's token endpoint requires by default.
pub const DEFAULT_SCOPE: &str = "https://api.botframework.com/.default";
/// Teams refuses an activity whose JSON is longer than this many UTF-16 code units (100 KB).
pub const MAX_ACTIVITY_UTF16: usize = 100 * 1024;
/// The path prefix of [`FakeTeams::service_url`] (Teams' serviceUrls carry a region, e.g. `/amer/`).
pub const SERVICE_PATH: &str = "/amer/";

/// The most of `arrivals` inside any one second (what Teams' per-second limits count), in any order: `Instant`s
/// of recorded calls, or `Duration`s since a start.
#[must_use]
pub fn busiest_second<T>(arrivals: &[T]) -> usize
where
    T: Copy + Ord + std::ops::Sub<Output = Duration>,
{
    let mut sorted = arrivals.to_vec();
    sorted.sort_unstable();
    (0..sorted.len())
        .map(|i| sorted[i..].partition_point(|t| *t - sorted[i] < Duration::from_secs(1)))
        .max()
        .unwrap_or(0)
}

/// One call the fake received, as it arrived.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedCall {
    pub method: String,
    /// The path exactly as sent (still percent-encoded).
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    pub route: Route,
    /// The path's ids, percent-decoded (conversation, activity, user or team id, in path order).
    pub ids: Vec<String>,
    /// The JSON body (or, for the token endpoint, the form as a JSON object with the secret replaced by
    /// `"<redacted>"`); None when empty or not JSON.
    pub body: Option<Value>,
    /// The body's length in UTF-16 code units (what Teams' size limit counts).
    pub body_utf16: usize,
    /// Whether an `Authorization` header was present, and whether it carried a token the fake issued.
    pub auth_present: bool,
    pub auth_valid: bool,
    /// The status answered (0 while the call is still being answered).
    pub status: u16,
    /// When it arrived (what Teams' rate limits count).
    pub at: std::time::Instant,
}

/// A team to seed: the bot is installed in it. Its General channel has the team's id.
#[derive(Clone, Debug, Default)]
pub struct SeedTeam {
    pub id: String,
    pub name: String,
    pub aad_group_id: Option<String>,
    pub tenant: String,
    /// Channels besides General: (id, name).
    pub channels: Vec<(String, String)>,
    pub members: Vec<TeamsChannelAccount>,
}

impl SeedTeam {
    /// A team in [`DEFAULT_TENANT`] with only its General channel and no members.
    #[must_use]
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            tenant: DEFAULT_TENANT.to_owned(),
            ..Self::default()
        }
    }

    /// In another tenant.
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = tenant.into();
        self
    }

    /// With another channel.
    #[must_use]
    pub fn channel(mut self, id: impl Into<String>, name: impl Into<String>) -> Self {
        self.channels.push((id.into(), name.into()));
        self
    }

    /// With a member (also a user of the team's tenant).
    #[must_use]
    pub fn member(mut self, member: TeamsChannelAccount) -> Self {
        self.members.push(member);
        self
    }
}

/// Options of a [`FakeTeams`].
#[derive(Debug)]
pub struct FakeTeamsBuilder {
    options: state::Options,
    users: Vec<(String, TeamsChannelAccount)>,
    teams: Vec<SeedTeam>,
    routers: Vec<Router>,
}

impl FakeTeamsBuilder {
    /// The app id and secret the token endpoint accepts.
    #[must_use]
    pub fn app(mut self, app_id: impl Into<String>, password: impl Into<String>) -> Self {
        self.options.app_id = app_id.into();
        self.options.app_password = password.into();
        self
    }

    /// The bot's own tenant (the single-tenant token path).
    #[must_use]
    pub fn app_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.options.app_tenant = tenant.into();
        self
    }

    /// The scope the token endpoint requires.
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.options.scope = scope.into();
        self
    }

    /// The `expires_in` of issued tokens (default 3599 s); tokens stop being accepted after it (tokio time).
    #[must_use]
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.options.token_lifetime = lifetime;
        self
    }

    /// Accept Connector calls without a token (a bot in anonymous mode, as with the Bot Framework Emulator).
    #[must_use]
    pub fn anonymous(mut self) -> Self {
        self.options.anonymous = true;
        self
    }

    /// Turn Teams' per-conversation rate limits off (they are on by default).
    #[must_use]
    pub fn without_rate_limits(mut self) -> Self {
        self.options.conversation_limits = false;
        self
    }

    /// Limit each tenant to `per_second` Connector requests per second (off by default).
    #[must_use]
    pub fn tenant_limit(mut self, per_second: usize) -> Self {
        self.options.tenant_limit = Some(per_second);
        self
    }

    /// A user of `tenant` (the bot can open a 1:1 chat with them).
    #[must_use]
    pub fn user(mut self, tenant: impl Into<String>, user: TeamsChannelAccount) -> Self {
        self.users.push((tenant.into(), user));
        self
    }

    /// A team the bot is installed in.
    #[must_use]
    pub fn team(mut self, team: SeedTeam) -> Self {
        self.teams.push(team);
        self
    }

    /// Serve `router` too (merged at the root), e.g. [`openid::OpenIdServer::router`].
    #[must_use]
    pub fn with_router(mut self, router: Router) -> Self {
        self.routers.push(router);
        self
    }

    /// Binds 127.0.0.1:0 and serves in a background task (on the current tokio runtime) until the [`FakeTeams`]
    /// is dropped.
    ///
    /// # Errors
    /// When the listener cannot be bound.
    pub async fn start(self) -> std::io::Result<FakeTeams> {
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(state::State::new(self.options)));
        {
            let mut s = lock(&shared);
            for (tenant, user) in self.users {
                s.add_user(&tenant, user);
            }
            for team in self.teams {
                s.add_team(team);
            }
        }
        let mut router = server::router(shared.clone());
        for extra in self.routers {
            router = router.merge(extra);
        }
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::warn!(%error, "fake Teams stopped");
            }
        });
        Ok(FakeTeams { addr, shared, task })
    }
}

/// The running fake. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeTeams {
    addr: SocketAddr,
    shared: Arc<Mutex<state::State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTeams {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(shared: &Mutex<state::State>) -> MutexGuard<'_, state::State> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeTeams {
    /// Options and seeds before starting.
    #[must_use]
    pub fn builder() -> FakeTeamsBuilder {
        FakeTeamsBuilder {
            options: state::Options::default(),
            users: Vec::new(),
            teams: Vec::new(),
            routers: Vec::new(),
        }
    }

    /// A fake with the defaults and no seeds.
    ///
    /// # Errors
    /// When the listener cannot be bound.
    pub async fn start() -> std::io::Result<Self> {
        Self::builder().start().await
    }

    /// A roster entry (user id `29:...`, display name, AAD object id).
    #[must_use]
    pub fn member(id: &str, name: &str, aad_object_id: &str) -> TeamsChannelAccount {
        TeamsChannelAccount {
            id: id.to_owned(),
            name: Some(name.to_owned()),
            aad_object_id: Some(aad_object_id.to_owned()),
            given_name: name.split(' ').next().map(str::to_owned),
            user_principal_name: Some(format!("{}@example.com", name.to_lowercase().replace(' ', "."))),
            user_role: Some("user".to_owned()),
            ..TeamsChannelAccount::default()
        }
    }

    /// The server's address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The serviceUrl to send to: `http://127.0.0.1:<port>/amer/`.
    #[must_use]
    pub fn service_url(&self) -> String {
        format!("{}{SERVICE_PATH}", self.base_url())
    }

    /// The single-tenant token endpoint (`/<app tenant>/oauth2/v2.0/token`).
    #[must_use]
    pub fn token_endpoint(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.base_url(),
            lock(&self.shared).options.app_tenant
        )
    }

    /// The multi-tenant token endpoint (`/botframework.com/oauth2/v2.0/token`).
    #[must_use]
    pub fn multi_tenant_token_endpoint(&self) -> String {
        format!("{}/botframework.com/oauth2/v2.0/token", self.base_url())
    }

    /// The configuration a bot needs to talk to this fake, as environment variables (names from docs/contract.md).
    #[must_use]
    pub fn env(&self) -> Vec<(String, String)> {
        let token_endpoint = self.token_endpoint();
        let s = lock(&self.shared);
        vec![
            ("MICROSOFT_APP_ID".to_owned(), s.options.app_id.clone()),
            ("MICROSOFT_APP_PASSWORD".to_owned(), s.options.app_password.clone()),
            ("MICROSOFT_APP_TENANT_ID".to_owned(), s.options.app_tenant.clone()),
            ("MICROSOFT_APP_TYPE".to_owned(), "SingleTenant".to_owned()),
            ("BOT_TOKEN_ENDPOINT".to_owned(), token_endpoint),
            ("BOT_OAUTH_SCOPE".to_owned(), s.options.scope.clone()),
            ("BOT_ALLOWED_SERVICE_URLS".to_owned(), self.service_url()),
        ]
    }

    /// The app id the token endpoint accepts (the bot is `28:<app id>`).
    #[must_use]
    pub fn app_id(&self) -> String {
        lock(&self.shared).options.app_id.clone()
    }

    /// The secret the token endpoint accepts.
    #[must_use]
    pub fn app_password(&self) -> String {
        lock(&self.shared).options.app_password.clone()
    }

    /// Every call so far, in arrival order.
    #[must_use]
    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.shared).calls.clone()
    }

    /// The calls to one route.
    #[must_use]
    pub fn calls_to(&self, route: Route) -> Vec<RecordedCall> {
        lock(&self.shared)
            .calls
            .iter()
            .filter(|c| c.route == route)
            .cloned()
            .collect()
    }

    /// Forgets the calls so far.
    pub fn clear_calls(&self) {
        lock(&self.shared).calls.clear();
    }

    /// How many tokens the token endpoint issued.
    #[must_use]
    pub fn token_fetches(&self) -> usize {
        lock(&self.shared).tokens_issued
    }

    /// Adds a fault (faults are tried in the order added; the first that matches a call applies).
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared).faults.push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        lock(&self.shared).faults.clear();
    }

    /// A user of `tenant`.
    pub fn add_user(&self, tenant: &str, user: TeamsChannelAccount) {
        lock(&self.shared).add_user(tenant, user);
    }

    /// A team the bot is installed in.
    pub fn add_team(&self, team: SeedTeam) {
        lock(&self.shared).add_team(team);
    }

    /// The 1:1 chat with `user_id` (an id or AAD object id) in `tenant`, created as the Connector would, without
    /// a call; None for an unknown user.
    #[must_use]
    pub fn personal_conversation(&self, tenant: &str, user_id: &str) -> Option<String> {
        lock(&self.shared).personal_conversation(tenant, user_id).ok()
    }

    /// The bot was uninstalled from this conversation (1:1 chat, channel or team): later calls get 403
    /// `BotNotInConversationRoster`.
    pub fn remove_bot(&self, conversation_or_team: &str) {
        lock(&self.shared).remove_bot(conversation_or_team);
    }

    /// The tenant's admin blocked the bot: calls for the tenant get 403 `BotDisabledByAdmin`.
    pub fn disable_bot_in_tenant(&self, tenant: &str) {
        lock(&self.shared).disabled_tenants.insert(tenant.to_owned());
    }

    /// The activities in a conversation (a channel's reply chains included), in order; deleted ones excluded.
    #[must_use]
    pub fn activities(&self, conversation: &str) -> Vec<StoredActivity> {
        lock(&self.shared).activities_in(conversation)
    }

    /// How batch operations answer: `Ongoing` for `completes_after` after they were accepted, then `Completed`;
    /// failed entries `page_size` per page.
    pub fn batch_settings(&self, completes_after: Duration, page_size: usize) {
        let mut s = lock(&self.shared);
        s.batches.completes_after = completes_after;
        s.batches.page_size = page_size;
    }

    /// One activity by id, if it exists and was not deleted.
    #[must_use]
    pub fn activity(&self, conversation: &str, activity_id: &str) -> Option<StoredActivity> {
        self.activities(conversation).into_iter().find(|a| a.id == activity_id)
    }
}

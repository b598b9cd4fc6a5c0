//! The reqwest adapter of the [`Connector`] port.

use crate::allowlist::ServiceUrlAllowlist;
use crate::config::{ConfigError, ConnectorConfig};
use crate::error::ConnectorError;
use crate::port::Connector;
use crate::ratelimit::{InProcessRateLimiter, PaceClass, PaceKey, RateLimiter};
use crate::retry::{RetryPolicy, is_retryable_status, parse_retry_after};
use crate::token::{TokenProvider, lossy};
use async_trait::async_trait;
use models::connector::{
    ConversationList, ConversationParameters, ConversationResourceResponse, ErrorResponse, PagedMembersResult,
    ResourceResponse, TeamDetails,
};
use models::{Activity, ActivityId, ConversationId, TeamsChannelAccount};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;
use url::Url;

/// Every byte but the RFC 3986 unreserved characters is percent-encoded in a path segment (ids contain `:`, `@`,
/// `;`, `=`, and could contain `/`, `?`, `#` or `%`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// What [`HttpConnector`] reports as it works, for metrics (each method does nothing unless overridden). Called
/// in the task that made the call, once per event.
pub trait CallObserver: Send + Sync + std::fmt::Debug {
    /// Teams answered one attempt with 429 (Too Many Requests).
    fn throttled(&self) {}
    /// An attempt failed in a way that is retried, and the client is about to wait and try again.
    fn retrying(&self) {}
    /// No outbound token could be had (the token endpoint refused the client secret, or could not be reached):
    /// nothing was sent.
    fn token_failed(&self) {}
}

/// The Bot Connector over HTTPS: allowlist, pacing, token, request, retries.
#[derive(Clone, Debug)]
pub struct HttpConnector {
    http: reqwest::Client,
    tokens: TokenProvider,
    allowlist: ServiceUrlAllowlist,
    retry: RetryPolicy,
    limiter: Arc<dyn RateLimiter>,
    observer: Option<Arc<dyn CallObserver>>,
}

/// One request, before the serviceUrl is checked.
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    pub(crate) service_url: &'a str,
    pub(crate) segments: Vec<&'a str>,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) class: PaceClass,
    pub(crate) pace_conversation: String,
    pub(crate) tenant: Option<String>,
}

/// What one attempt came to.
enum Attempt {
    Done(bytes::Bytes),
    Retry {
        error: ConnectorError,
        retry_after: Option<Duration>,
    },
    Fail(ConnectorError),
}

impl HttpConnector {
    /// A client for `config`, with the in-process rate limiter.
    ///
    /// # Errors
    /// [`ConfigError`] for an invalid allowlist, a missing tenant or secret, or when the HTTP client cannot be
    /// built.
    pub fn new(config: &ConnectorConfig) -> Result<Self, ConfigError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("teams-bot-rs-connector/", env!("CARGO_PKG_VERSION")));
        if let Some(t) = config.request_timeout {
            builder = builder.timeout(t);
        }
        let http = builder.build().map_err(ConfigError::Http)?;
        let tokens = TokenProvider::new(config.token_settings()?, http.clone());
        let mut allowlist =
            ServiceUrlAllowlist::new(&config.allowed_service_urls).map_err(ConfigError::AllowedServiceUrls)?;
        if config.is_anonymous() {
            // No token is ever attached: a local emulator's loopback Connector may be answered.
            allowlist = allowlist.allowing_loopback();
        }
        Ok(Self {
            http,
            tokens,
            allowlist,
            retry: config.retry,
            limiter: Arc::new(InProcessRateLimiter::new(config.tenant_requests_per_second)),
            observer: None,
        })
    }

    /// The same client, reporting throttled answers, retries and token failures to `observer`.
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The same client with another rate limiter (e.g. a shared one, or [`crate::Unlimited`]).
    #[must_use]
    pub fn with_rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = limiter;
        self
    }

    /// The same client, its token provider re-reading the client secret from `source` when the token endpoint
    /// refuses the one in use ([`TokenProvider::with_secret_source`]).
    #[must_use]
    pub fn with_secret_source(mut self, source: Arc<dyn crate::ClientSecretSource>) -> Self {
        self.tokens = self.tokens.with_secret_source(source);
        self
    }

    /// The token provider (shared by clones of this client).
    #[must_use]
    pub fn tokens(&self) -> &TokenProvider {
        &self.tokens
    }

    /// The serviceUrl allowlist (for [`crate::files`]).
    pub(crate) fn allowlist(&self) -> &ServiceUrlAllowlist {
        &self.allowlist
    }

    /// The HTTP client (for [`crate::files`]).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Builds `{serviceUrl}v3/{segments...}?{query}` with every segment percent-encoded.
    #[cfg(test)]
    fn url(base: Url, segments: &[&str], query: &[(&'static str, String)]) -> Url {
        Self::url_in(base, "v3", segments, query)
    }

    /// Builds `{serviceUrl}{api}/{segments...}?{query}` (`api`: `v3` for the Connector, `v1` for the meeting
    /// APIs) with every segment percent-encoded.
    fn url_in(base: Url, api: &str, segments: &[&str], query: &[(&'static str, String)]) -> Url {
        let mut url = base;
        let mut path = url.path().to_owned();
        if !path.ends_with('/') {
            path.push('/');
        }
        path.push_str(api);
        for s in segments {
            path.push('/');
            path.extend(utf8_percent_encode(s, SEGMENT));
        }
        url.set_path(&path);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    pub(crate) async fn execute(&self, call: Call<'_>) -> Result<bytes::Bytes, ConnectorError> {
        self.execute_in("v3", call).await
    }

    /// [`Self::execute`] under another API root of the serviceUrl (`v1` for the meeting APIs).
    pub(crate) async fn execute_in(&self, api: &str, call: Call<'_>) -> Result<bytes::Bytes, ConnectorError> {
        // The allowlist comes first: nothing (no token fetch, no request) for a refused serviceUrl.
        let base = self.allowlist.check(call.service_url)?;
        let key = PaceKey {
            class: call.class,
            conversation: call.pace_conversation,
            tenant: call.tenant,
            service_host: base.host_str().unwrap_or_default().to_owned(),
        };
        let url = Self::url_in(base, api, &call.segments, &call.query);
        let idempotent = call.method != Method::POST;
        let started = Instant::now();
        let mut attempt: u32 = 0;
        let mut reauthorized = false;
        loop {
            attempt += 1;
            self.limiter.acquire(&key).await;
            let token = match self.tokens.token().await {
                Ok(token) => token,
                Err(e) => {
                    if let Some(observer) = &self.observer {
                        observer.token_failed();
                    }
                    return Err(e.into());
                }
            };
            let had_token = token.is_some();
            let mut rb = self
                .http
                .request(call.method.clone(), url.clone())
                .header(ACCEPT, "application/json");
            if let Some(t) = &token {
                rb = rb.bearer_auth(t.expose_secret());
            }
            if let Some(b) = &call.body {
                rb = rb
                    .header(CONTENT_TYPE, "application/json; charset=utf-8")
                    .body(b.clone());
            }
            let outcome = match Self::attempt(rb, idempotent).await {
                Attempt::Fail(ConnectorError::Unexpected { status: 401, .. }) if had_token && !reauthorized => {
                    // A token revoked or rotated early: fetch a fresh one once.
                    reauthorized = true;
                    self.tokens.invalidate().await;
                    attempt -= 1;
                    continue;
                }
                other => other,
            };
            let (error, retry_after) = match outcome {
                Attempt::Done(body) => return Ok(body),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry { error, retry_after } => (error, retry_after),
            };
            let throttled = matches!(error, ConnectorError::Throttled { status: 429, .. });
            if throttled && let Some(observer) = &self.observer {
                observer.throttled();
            }
            let delay = self.retry.delay(attempt, retry_after);
            if attempt >= self.retry.max_attempts
                || retry_after.is_some_and(|ra| ra > self.retry.max_delay)
                || started.elapsed() + delay > self.retry.max_total
            {
                tracing::warn!(method = %call.method, attempts = attempt, ?retry_after, error = %error, "Connector request given up after its retries");
                return Err(error);
            }
            if let Some(observer) = &self.observer {
                observer.retrying();
            }
            // Teams' throttling is worth seeing at INFO: it means the pacing is not keeping inside the limits.
            tracing::info!(method = %call.method, attempt, ?delay, ?retry_after, throttled, error = %error, "retrying Connector request");
            tokio::time::sleep(delay).await;
        }
    }

    /// Sends once and classifies the answer.
    async fn attempt(rb: reqwest::RequestBuilder, idempotent: bool) -> Attempt {
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => return Self::transport_error(e, idempotent),
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Self::transport_error(e, idempotent),
        };
        if (200..300).contains(&status) {
            return Attempt::Done(body);
        }
        if is_retryable_status(status) {
            let error = match status {
                412 | 429 => ConnectorError::Throttled { status, retry_after },
                _ => ConnectorError::Transient {
                    status: Some(status),
                    source: None,
                },
            };
            return Attempt::Retry { error, retry_after };
        }
        Attempt::Fail(map_status(status, &body))
    }

    /// A failure without an answer: retried when the request was surely not sent or is idempotent; a POST that
    /// may have been delivered is not re-sent.
    fn transport_error(e: reqwest::Error, idempotent: bool) -> Attempt {
        if e.is_connect() || idempotent {
            return Attempt::Retry {
                error: ConnectorError::Transient {
                    status: None,
                    source: Some(Box::new(e)),
                },
                retry_after: None,
            };
        }
        Attempt::Fail(ConnectorError::OutcomeUnknown { source: Box::new(e) })
    }

    pub(crate) async fn json<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, ConnectorError> {
        self.json_in("v3", call).await
    }

    /// [`Self::json`] under another API root of the serviceUrl (`v1` for the meeting APIs).
    pub(crate) async fn json_in<T: DeserializeOwned>(&self, api: &str, call: Call<'_>) -> Result<T, ConnectorError> {
        let body = self.execute_in(api, call).await?;
        let raw: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &body
        };
        serde_json::from_slice(raw).map_err(|source| ConnectorError::Decode {
            source,
            body: lossy(&body),
        })
    }
}

/// Maps a non-retried error answer to its typed error.
fn map_status(status: u16, body: &[u8]) -> ConnectorError {
    let (code, message) = serde_json::from_slice::<ErrorResponse>(body)
        .map(|e| (e.error.code, e.error.message))
        .unwrap_or_default();
    match status {
        403 if code == "BotNotInConversationRoster" => ConnectorError::NotInRoster { message },
        403 if code == "BotDisabledByAdmin" => ConnectorError::BotDisabled { message },
        403 => ConnectorError::Forbidden { code, message },
        404 => ConnectorError::NotFound { code, message },
        413 => ConnectorError::TooLarge { code, message },
        _ => ConnectorError::Unexpected {
            status,
            body: lossy(body),
        },
    }
}

/// The conversation a limit applies to: a channel reply chain (`...;messageid=...`) counts as its channel.
fn pace_conversation(conversation: &ConversationId) -> String {
    let id = conversation.as_str();
    id.split_once(";messageid=").map_or(id, |(c, _)| c).to_owned()
}

fn activity_tenant(activity: &Activity) -> Option<String> {
    activity
        .conversation
        .as_ref()
        .and_then(|c| c.tenant_id.as_ref())
        .or_else(|| activity.channel_data.as_ref().and_then(|d| d.tenant_id()))
        .map(|t| t.as_str().to_owned())
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ConnectorError> {
    serde_json::to_vec(value).map_err(|source| ConnectorError::Decode {
        source,
        body: String::new(),
    })
}

#[async_trait]
impl Connector for HttpConnector {
    async fn create_conversation(
        &self,
        service_url: &str,
        params: &ConversationParameters,
    ) -> Result<ConversationResourceResponse, ConnectorError> {
        let channel = params
            .channel_data
            .as_ref()
            .and_then(|d| d.channel.as_ref())
            .map(|c| c.id.clone());
        let member = params.members.as_ref().and_then(|m| m.first()).map(|m| m.id.clone());
        let tenant = params
            .tenant_id
            .as_ref()
            .or_else(|| params.channel_data.as_ref().and_then(|d| d.tenant_id()))
            .map(|t| t.as_str().to_owned());
        self.json(Call {
            method: Method::POST,
            service_url,
            segments: vec!["conversations"],
            query: Vec::new(),
            body: Some(to_json(params)?),
            class: PaceClass::Send,
            pace_conversation: channel.or(member).unwrap_or_else(|| "create".to_owned()),
            tenant,
        })
        .await
    }

    async fn send_to_conversation(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        activity: &Activity,
    ) -> Result<ResourceResponse, ConnectorError> {
        self.json(Call {
            method: Method::POST,
            service_url,
            segments: vec!["conversations", conversation.as_str(), "activities"],
            query: Vec::new(),
            body: Some(to_json(activity)?),
            class: PaceClass::Send,
            pace_conversation: pace_conversation(conversation),
            tenant: activity_tenant(activity),
        })
        .await
    }

    async fn reply_to_activity(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        reply_to: &ActivityId,
        activity: &Activity,
    ) -> Result<ResourceResponse, ConnectorError> {
        self.json(Call {
            method: Method::POST,
            service_url,
            segments: vec!["conversations", conversation.as_str(), "activities", reply_to.as_str()],
            query: Vec::new(),
            body: Some(to_json(activity)?),
            class: PaceClass::Send,
            pace_conversation: pace_conversation(conversation),
            tenant: activity_tenant(activity),
        })
        .await
    }

    async fn update_activity(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        activity_id: &ActivityId,
        activity: &Activity,
    ) -> Result<ResourceResponse, ConnectorError> {
        self.json(Call {
            method: Method::PUT,
            service_url,
            segments: vec![
                "conversations",
                conversation.as_str(),
                "activities",
                activity_id.as_str(),
            ],
            query: Vec::new(),
            body: Some(to_json(activity)?),
            class: PaceClass::Send,
            pace_conversation: pace_conversation(conversation),
            tenant: activity_tenant(activity),
        })
        .await
    }

    async fn delete_activity(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        activity_id: &ActivityId,
    ) -> Result<(), ConnectorError> {
        self.execute(Call {
            method: Method::DELETE,
            service_url,
            segments: vec![
                "conversations",
                conversation.as_str(),
                "activities",
                activity_id.as_str(),
            ],
            query: Vec::new(),
            body: None,
            class: PaceClass::Send,
            pace_conversation: pace_conversation(conversation),
            tenant: None,
        })
        .await
        .map(drop)
    }

    async fn get_members(
        &self,
        service_url: &str,
        conversation: &ConversationId,
    ) -> Result<Vec<TeamsChannelAccount>, ConnectorError> {
        let body = self
            .execute(Call {
                method: Method::GET,
                service_url,
                segments: vec!["conversations", conversation.as_str(), "members"],
                query: Vec::new(),
                body: None,
                class: PaceClass::MemberRead,
                pace_conversation: pace_conversation(conversation),
                tenant: None,
            })
            .await?;
        serde_json::from_slice(&body).map_err(|source| ConnectorError::Decode {
            source,
            body: lossy(&body),
        })
    }

    async fn get_paged_members(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        page_size: Option<u32>,
        continuation_token: Option<&str>,
    ) -> Result<PagedMembersResult, ConnectorError> {
        let mut query = Vec::new();
        if let Some(n) = page_size {
            query.push(("pageSize", n.to_string()));
        }
        if let Some(t) = continuation_token {
            query.push(("continuationToken", t.to_owned()));
        }
        self.json(Call {
            method: Method::GET,
            service_url,
            segments: vec!["conversations", conversation.as_str(), "pagedmembers"],
            query,
            body: None,
            class: PaceClass::MemberRead,
            pace_conversation: pace_conversation(conversation),
            tenant: None,
        })
        .await
    }

    async fn get_member(
        &self,
        service_url: &str,
        conversation: &ConversationId,
        user_id: &str,
    ) -> Result<TeamsChannelAccount, ConnectorError> {
        self.json(Call {
            method: Method::GET,
            service_url,
            segments: vec!["conversations", conversation.as_str(), "members", user_id],
            query: Vec::new(),
            body: None,
            class: PaceClass::MemberRead,
            pace_conversation: pace_conversation(conversation),
            tenant: None,
        })
        .await
    }

    async fn team_details(&self, service_url: &str, team_id: &str) -> Result<TeamDetails, ConnectorError> {
        self.json(Call {
            method: Method::GET,
            service_url,
            segments: vec!["teams", team_id],
            query: Vec::new(),
            body: None,
            class: PaceClass::Other,
            pace_conversation: team_id.to_owned(),
            tenant: None,
        })
        .await
    }

    async fn send_batch(
        &self,
        service_url: &str,
        endpoint: crate::batch::BatchEndpoint,
        request: &models::batch::BatchRequest,
    ) -> Result<models::batch::OperationId, ConnectorError> {
        self.batch_send(service_url, endpoint, request).await
    }

    async fn batch_state(
        &self,
        service_url: &str,
        operation: &models::batch::OperationId,
    ) -> Result<models::batch::BatchOperationState, ConnectorError> {
        self.batch_state_of(service_url, operation).await
    }

    async fn batch_failed_entries(
        &self,
        service_url: &str,
        operation: &models::batch::OperationId,
        continuation_token: Option<&str>,
    ) -> Result<models::batch::BatchFailedEntries, ConnectorError> {
        self.batch_failed_entries_of(service_url, operation, continuation_token)
            .await
    }

    async fn cancel_batch(
        &self,
        service_url: &str,
        operation: &models::batch::OperationId,
    ) -> Result<(), ConnectorError> {
        self.batch_cancel(service_url, operation).await
    }

    async fn download(
        &self,
        service_url: &str,
        url: &str,
        source: crate::files::FileSource,
        limit: u64,
    ) -> Result<bytes::Bytes, crate::files::FileError> {
        self.download_file(service_url, url, source, limit).await
    }

    async fn upload(
        &self,
        service_url: &str,
        upload_url: &str,
        bytes: bytes::Bytes,
    ) -> Result<(), crate::files::FileError> {
        self.upload_file(service_url, upload_url, bytes).await
    }

    async fn meeting_participant(
        &self,
        service_url: &str,
        meeting_id: &str,
        participant_id: &str,
        tenant: &models::TenantId,
    ) -> Result<models::meeting::MeetingParticipant, ConnectorError> {
        self.meeting_participant_of(service_url, meeting_id, participant_id, tenant)
            .await
    }

    async fn meeting_info(
        &self,
        service_url: &str,
        meeting_id: &str,
    ) -> Result<models::meeting::MeetingInfo, ConnectorError> {
        self.meeting_info_of(service_url, meeting_id).await
    }

    async fn team_channels(&self, service_url: &str, team_id: &str) -> Result<ConversationList, ConnectorError> {
        self.json(Call {
            method: Method::GET,
            service_url,
            segments: vec!["teams", team_id, "conversations"],
            query: Vec::new(),
            body: None,
            class: PaceClass::Other,
            pace_conversation: team_id.to_owned(),
            tenant: None,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_segment_is_percent_encoded() {
        let base = Url::parse("https://smba.trafficmanager.net/amer/").unwrap();
        let url = HttpConnector::url(
            base,
            &[
                "conversations",
                "19:abc@thread.skype;messageid=17/?#%",
                "activities",
                "1:2",
            ],
            &[("continuationToken", "a+b=&c".to_owned())],
        );
        assert_eq!(
            url.as_str(),
            "https://smba.trafficmanager.net/amer/v3/conversations/19%3Aabc%40thread.skype%3Bmessageid%3D17%2F%3F%23%25/activities/1%3A2?continuationToken=a%2Bb%3D%26c"
        );
        let url = HttpConnector::url(Url::parse("http://127.0.0.1:1/x").unwrap(), &["teams", "t"], &[]);
        assert_eq!(url.as_str(), "http://127.0.0.1:1/x/v3/teams/t");
    }

    #[test]
    fn error_answers_map_to_typed_errors() {
        let body = |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#).into_bytes();
        assert!(map_status(403, &body("BotNotInConversationRoster")).is_bot_removed());
        assert!(matches!(
            map_status(403, &body("BotDisabledByAdmin")),
            ConnectorError::BotDisabled { .. }
        ));
        assert!(matches!(
            map_status(403, &body("Other")),
            ConnectorError::Forbidden { .. }
        ));
        assert!(!map_status(403, &body("Other")).is_bot_removed());
        assert!(matches!(
            map_status(404, &body("NotFound")),
            ConnectorError::NotFound { .. }
        ));
        assert!(matches!(
            map_status(413, &body("MessageSizeTooBig")),
            ConnectorError::TooLarge { .. }
        ));
        match map_status(500, b"oops") {
            ConnectorError::Unexpected { status, body } => assert_eq!((status, body.as_str()), (500, "oops")),
            other => panic!("{other:?}"),
        }
        assert_eq!(map_status(400, b"").http_status(), 400);
        assert_eq!(map_status(500, b"").http_status(), 502);
        assert_eq!(map_status(401, b"").http_status(), 502);
    }

    #[test]
    fn reply_chains_are_paced_as_their_channel() {
        assert_eq!(
            pace_conversation(&"19:c@thread.skype;messageid=1".into()),
            "19:c@thread.skype"
        );
        assert_eq!(pace_conversation(&"a:1".into()), "a:1");
    }
}

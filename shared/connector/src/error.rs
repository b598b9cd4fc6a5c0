//! The Connector client's typed errors.

use crate::allowlist::RefusedUrl;
use crate::token::TokenError;
use std::time::Duration;

/// A boxed transport error (kept as the source).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a Connector call failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The serviceUrl is not allowlisted: nothing was sent.
    #[error(transparent)]
    Refused(#[from] RefusedUrl),
    /// No outbound token could be had: nothing was sent.
    #[error("outbound token: {0}")]
    Token(#[from] TokenError),
    /// 403 `BotNotInConversationRoster`: the bot was removed from the conversation (or the user's tenant).
    #[error("the bot is not in the conversation's roster: {message}")]
    NotInRoster { message: String },
    /// 403 `BotDisabledByAdmin`: the tenant's admin disabled the bot.
    #[error("the bot is disabled by the tenant's admin: {message}")]
    BotDisabled { message: String },
    /// Any other 403.
    #[error("forbidden by the Connector ({code}): {message}")]
    Forbidden { code: String, message: String },
    /// 404: the activity or conversation is gone (or never existed).
    #[error("not found ({code}): {message}")]
    NotFound { code: String, message: String },
    /// 413 `MessageSizeTooBig`: the activity is over Teams' size limit.
    #[error("message too large ({code}): {message}")]
    TooLarge { code: String, message: String },
    /// 429 (or 412) still answered after the retries were spent.
    #[error("throttled by the Connector (status {status}, retry after {retry_after:?})")]
    Throttled { status: u16, retry_after: Option<Duration> },
    /// 502/504, or a failure before the request was sent, after the retries were spent.
    #[error("transient Connector failure (status {status:?})")]
    Transient {
        status: Option<u16>,
        #[source]
        source: Option<BoxError>,
    },
    /// A POST timed out or lost its connection after it was sent: it may or may not have been delivered, and it
    /// was not re-sent (see docs/decisions/2026-11-21-connector-unknown-outcome.md).
    #[error("the outcome of the request is unknown (it may have been delivered)")]
    OutcomeUnknown {
        #[source]
        source: BoxError,
    },
    /// Any other answer (including 500 and 401), status and body kept.
    #[error("unexpected Connector answer {status}: {body}")]
    Unexpected { status: u16, body: String },
    /// A 2xx answer whose body is not what the endpoint returns; the body is kept.
    #[error("undecodable Connector answer: {source}")]
    Decode {
        #[source]
        source: serde_json::Error,
        body: String,
    },
}

impl ConnectorError {
    /// The bot was removed from (or disabled in) this conversation: mark it inactive and stop sending.
    #[must_use]
    pub fn is_bot_removed(&self) -> bool {
        matches!(self, Self::NotInRoster { .. } | Self::BotDisabled { .. })
    }

    /// Teams answered that the conversation itself no longer exists (404 `ConversationNotFound`, e.g. a
    /// deleted chat or channel): like a removal, stop sending there. A 404 for an unknown activity id on an
    /// update or delete is not this.
    #[must_use]
    pub fn is_conversation_gone(&self) -> bool {
        matches!(self, Self::NotFound { code, .. } if code == "ConversationNotFound")
    }

    /// The Connector's HTTP status, when it answered one.
    #[must_use]
    pub fn connector_status(&self) -> Option<u16> {
        match self {
            Self::NotInRoster { .. } | Self::BotDisabled { .. } | Self::Forbidden { .. } => Some(403),
            Self::NotFound { .. } => Some(404),
            Self::TooLarge { .. } => Some(413),
            Self::Throttled { status, .. } | Self::Unexpected { status, .. } => Some(*status),
            Self::Transient { status, .. } => *status,
            Self::Refused(_) | Self::Token(_) | Self::OutcomeUnknown { .. } | Self::Decode { .. } => None,
        }
    }

    /// The status to surface to our own caller: the Connector's 4xx as is; 502 for upstream failures we could
    /// not get past (5xx, refused serviceUrl, token, undecodable answer); 504 for an unknown outcome.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        match self {
            Self::OutcomeUnknown { .. } => 504,
            Self::Throttled { .. } => 429,
            _ => match self.connector_status() {
                Some(s) if (400..500).contains(&s) && s != 401 => s,
                _ => 502,
            },
        }
    }

    /// Whether trying again later (after `retry_after` if any) may succeed.
    #[must_use]
    pub fn is_retryable_later(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Transient { .. } | Self::Token(_))
    }
}

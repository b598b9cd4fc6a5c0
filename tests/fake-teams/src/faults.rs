//! Scripted faults: what the fake answers instead of (or besides) the normal answer.

use crate::RecordedCall;
use crate::state::Route;
use std::sync::Arc;
use std::time::Duration;

/// What a fault does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer `status` with a Teams-shaped error body, and `Retry-After` if given; the call has no effect.
    Status {
        status: u16,
        retry_after: Option<String>,
        code: String,
        message: String,
    },
    /// Do the call, then wait this long before answering (past the client's timeout: the activity was delivered
    /// but the client cannot know).
    Delay(Duration),
}

type Predicate = Arc<dyn Fn(&RecordedCall) -> bool + Send + Sync>;

/// A fault for one route (or any), optionally only for calls matching a predicate, for the next N matching calls
/// or for all.
#[derive(Clone)]
pub struct Fault {
    pub(crate) route: Option<Route>,
    pub(crate) when: Option<Predicate>,
    pub(crate) remaining: Option<usize>,
    pub(crate) action: FaultAction,
}

impl std::fmt::Debug for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fault")
            .field("route", &self.route)
            .field("when", &self.when.is_some())
            .field("remaining", &self.remaining)
            .field("action", &self.action)
            .finish()
    }
}

/// The Teams error code a status comes with.
fn default_code(status: u16) -> (&'static str, &'static str) {
    match status {
        403 => (
            "BotNotInConversationRoster",
            "The bot is not part of the conversation roster.",
        ),
        404 => ("NotFound", "The activity or conversation was not found."),
        412 => ("PreconditionFailed", "Precondition failed, please retry."),
        413 => ("MessageSizeTooBig", "Message size too big."),
        429 => ("TooManyRequests", "Too many requests."),
        500 => ("InternalServerError", "An error has occurred."),
        502 => ("BadGateway", "Bad gateway."),
        503 => ("ServiceUnavailable", "Service unavailable."),
        504 => ("GatewayTimeout", "Gateway timeout."),
        _ => ("BadArgument", "Injected fault."),
    }
}

impl Fault {
    /// Answer `status` with Teams' usual code for it (403 -> `BotNotInConversationRoster`, 413 ->
    /// `MessageSizeTooBig`, ...), on every call to `route` until limited with [`Fault::times`].
    #[must_use]
    pub fn status(route: Route, status: u16) -> Self {
        let (code, message) = default_code(status);
        Self::error(route, status, code, message)
    }

    /// Answer `status` with `{"error":{"code","message"}}`.
    #[must_use]
    pub fn error(route: Route, status: u16, code: &str, message: &str) -> Self {
        Self {
            route: Some(route),
            when: None,
            remaining: None,
            action: FaultAction::Status {
                status,
                retry_after: None,
                code: code.to_owned(),
                message: message.to_owned(),
            },
        }
    }

    /// 429 with `Retry-After: <seconds>`.
    #[must_use]
    pub fn throttle(route: Route, retry_after_secs: u64) -> Self {
        Self::status(route, 429).retry_after(retry_after_secs.to_string())
    }

    /// Do the call, then answer only after `delay`.
    #[must_use]
    pub fn delay(route: Route, delay: Duration) -> Self {
        Self {
            route: Some(route),
            when: None,
            remaining: None,
            action: FaultAction::Delay(delay),
        }
    }

    /// With a `Retry-After` header (seconds or an HTTP date), for a status fault.
    #[must_use]
    pub fn retry_after(mut self, value: impl Into<String>) -> Self {
        if let FaultAction::Status { retry_after, .. } = &mut self.action {
            *retry_after = Some(value.into());
        }
        self
    }

    /// Only the next `n` matching calls.
    #[must_use]
    pub fn times(mut self, n: usize) -> Self {
        self.remaining = Some(n);
        self
    }

    /// On every route (the token endpoint excepted).
    #[must_use]
    pub fn any_route(mut self) -> Self {
        self.route = None;
        self
    }

    /// Only calls for which `predicate` holds (it sees the call as recorded: path, ids, body...).
    #[must_use]
    pub fn when(mut self, predicate: impl Fn(&RecordedCall) -> bool + Send + Sync + 'static) -> Self {
        self.when = Some(Arc::new(predicate));
        self
    }

    pub(crate) fn matches(&self, call: &RecordedCall) -> bool {
        let route_ok = match self.route {
            Some(r) => r == call.route,
            None => call.route != Route::Token,
        };
        route_ok && self.remaining != Some(0) && self.when.as_ref().is_none_or(|p| p(call))
    }
}

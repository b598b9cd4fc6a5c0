//! The three Lambda functions, generic over your bot. Each function's `main` is one line:
//!
//! ```no_run
//! # struct MyBot;
//! # impl teams_bot::Bot for MyBot {}
//! #[tokio::main]
//! async fn main() -> Result<(), teams_bot::Error> {
//!     teams_bot::lambda::messages(MyBot).await
//! }
//! ```
//!
//! Configuration is read once at cold start (`Config::from_env`, README "Configuration"); a failed start is
//! logged with its readable reason and ends the process, which Lambda reports as an init error.
//!
//! Operations (docs/decisions `2026-11-30-operations.md`): logs follow Lambda's `LogFormat` and
//! `ApplicationLogLevel` ([`service::telemetry`]); each invocation prints its metrics as one CloudWatch Embedded
//! Metric Format line ([`service::metrics`]); the stream and proactive functions answer failures to Lambda
//! ([`FunctionError`], batch item failures) so its `Errors` metric, retries and on-failure destinations see them.

use crate::{Bot, Error};
use lambda_http::http::{Method, header};
use lambda_http::{Body, Request, Response};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use service::adapters::failed_records::{self, FailedRecords};
use service::metrics::{self, Counts, Emitter};
use service::stream::{DeliveredBatch, InvocationError};
use service::{App, Config, Runtime, TenantPacing};
use std::sync::Arc;

/// A failed invocation of the `welcome` or `proactive` function, as Lambda gets it: counted in the function's
/// `Errors` metric, retried as the trigger retries (a stream batch; an asynchronous invoke, such as the schedule's),
/// and answered to a direct invoke's caller as `{"errorType": "Retryable.<code>" | "Permanent.<code>",
/// "errorMessage": "<JSON>"}` ([`InvocationError::error_type`], [`InvocationError::body`]): e.g. a notify to a
/// conversation the bot was removed from answers `Permanent.BotRemoved` with
/// `{"error":{"code":"BotRemoved","message":"..."},"retryable":false,"status":403}`.
#[derive(Debug)]
pub struct FunctionError(pub InvocationError);

impl From<FunctionError> for Diagnostic {
    fn from(FunctionError(error): FunctionError) -> Self {
        Self {
            error_type: error.error_type(),
            error_message: error.body().to_string(),
        }
    }
}

/// `POST /api/messages` behind API Gateway (HTTP API) or a function URL: verify, dedupe, record, run `bot`'s
/// handler, answer. Each request's metrics are printed when it ends ([`service::metrics`]).
///
/// # Errors
/// A start that fails (configuration, key source, store), or the Lambda runtime's own failure.
pub async fn messages(bot: impl Bot) -> Result<(), Error> {
    service::telemetry::init();
    let (app, emitter) = start(TenantPacing::Process, bot).await?;
    app.prefetch_inbound_keys().await;
    let (app, emitter) = (&app, &emitter);
    lambda_http::run(lambda_http::service_fn(move |request| async move {
        let (answer, counts) = metrics::measure(webhook(app, request)).await;
        emit(emitter, counts);
        answer
    }))
    .await
}

async fn webhook(app: &App, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    if request.method() != Method::POST {
        return Ok(Response::builder()
            .status(405)
            .header(header::ALLOW, "POST")
            .body(Body::from("POST only"))?);
    }
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let answer = service::handle(app, authorization, request.body().as_ref()).await;
    let (status, content_type, body) = answer.into_parts();
    Ok(Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))?)
}

/// The DynamoDB stream of install and first-contact claims: `bot`'s [`Bot::team_welcome`] and
/// [`Bot::personal_welcome`], each sent exactly once. A record that fails is answered as a batch item failure
/// (its sequence number), after a copy of it went to `FAILED_RECORDS_BUCKET` for `infra/redrive`; a batch that
/// cannot be reported so (a record without a sequence number) fails whole.
///
/// # Errors
/// A start that fails, or the Lambda runtime's own failure.
pub async fn welcome(bot: impl Bot) -> Result<(), Error> {
    service::telemetry::init();
    let (app, emitter) = start(TenantPacing::Shared, bot).await?;
    let kept = failed_records();
    let (app, emitter, kept) = (&app, &emitter, kept.as_deref());
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<DeliveredBatch>| async move {
            let work = service::stream::welcome_delivered(app, &event.payload, kept);
            let (result, counts) = metrics::measure(work).await;
            emit(emitter, counts);
            result.map_err(failed)
        },
    ))
    .await
}

/// The schedule (`{"tick": {}}`: `bot`'s due [`Bot::on_job`] runs), outbox stream items and direct notify
/// invokes (docs/contract.md "Proactive operations"). A failed tick, a failed notify (refusals included) and a
/// batch that cannot be reported item by item answer a [`FunctionError`]; a failed outbox record is copied to
/// `FAILED_RECORDS_BUCKET` before it is reported.
///
/// # Errors
/// A start that fails, or the Lambda runtime's own failure.
pub async fn proactive(bot: impl Bot) -> Result<(), Error> {
    service::telemetry::init();
    let (app, emitter) = start(TenantPacing::Shared, bot).await?;
    let kept = failed_records();
    let (app, emitter, kept) = (&app, &emitter, kept.as_deref());
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<Value>| async move {
            let work = service::stream::proactive_invocation(app, event.payload, kept);
            let (result, counts) = metrics::measure(work).await;
            emit(emitter, counts);
            result.map_err(failed)
        },
    ))
    .await
}

/// Reads the configuration and builds the app (cold start); a failure is logged with its readable reason, since
/// Lambda reports a failed init only by the process's exit.
async fn start(pacing: TenantPacing, bot: impl Bot) -> Result<(App, Emitter), Error> {
    let config = Config::from_env(Runtime::Lambda).inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let (app, _) = App::build_with(&config, pacing, Arc::new(bot))
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    Ok((app, Emitter::new(&config.metrics)))
}

/// Where failed stream records are copied (`FAILED_RECORDS_BUCKET`, `FAILED_RECORDS_PREFIX`); none when unset.
fn failed_records() -> Option<Arc<dyn FailedRecords>> {
    let kept = failed_records::from_env();
    if let Some(kept) = &kept {
        tracing::info!(copies = %kept.location("<SequenceNumber>"), "failed stream records are kept for redrive");
    }
    kept
}

/// Prints one invocation's metrics, with whatever was counted outside it since the last one (the cold start).
fn emit(emitter: &Emitter, mut counts: Counts) {
    counts.merge(&metrics::take_global());
    emitter.emit(&counts);
}

fn failed(error: InvocationError) -> FunctionError {
    tracing::warn!(error_type = %error.error_type(), error = %error, "invocation failed");
    FunctionError(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use service::proactive::NotifyError;

    #[test]
    fn a_failed_invocation_is_a_typed_diagnostic_with_the_json_body() {
        let removed = InvocationError::Notify(NotifyError {
            status: 403,
            code: "BotRemoved",
            message: "the bot is not in the conversation's roster".into(),
        });
        let diagnostic = Diagnostic::from(FunctionError(removed));
        assert_eq!(diagnostic.error_type, "Permanent.BotRemoved");
        let body: Value = serde_json::from_str(&diagnostic.error_message).unwrap_or_default();
        assert_eq!(body["status"], 403);
        assert_eq!(body["error"]["code"], "BotRemoved");
        assert_eq!(body["retryable"], false);

        let throttled = InvocationError::Notify(NotifyError {
            status: 429,
            code: "ConnectorError",
            message: "throttled".into(),
        });
        assert_eq!(
            Diagnostic::from(FunctionError(throttled)).error_type,
            "Retryable.ConnectorError"
        );
        let batch = InvocationError::NoSequenceNumber { event_id: "e1".into() };
        assert_eq!(
            Diagnostic::from(FunctionError(batch)).error_type,
            "Permanent.NoSequenceNumber"
        );
    }
}

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

use crate::{Bot, Error};
use lambda_http::http::{Method, header};
use lambda_http::{Body, Request, Response};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use service::{App, Runtime, TenantPacing};
use std::sync::Arc;

/// `POST /api/messages` behind API Gateway (HTTP API) or a function URL: verify, dedupe, record, run `bot`'s
/// handler, answer.
///
/// # Errors
/// A start that fails (configuration, key source, store), or the Lambda runtime's own failure.
pub async fn messages(bot: impl Bot) -> Result<(), Error> {
    service::telemetry::init();
    let app = App::from_env(Runtime::Lambda, TenantPacing::Process, Arc::new(bot)).await?;
    app.prefetch_inbound_keys().await;
    let app = &app;
    lambda_http::run(lambda_http::service_fn(move |request| webhook(app, request))).await
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
/// [`Bot::personal_welcome`], each sent exactly once, with partial batch failure reports.
///
/// # Errors
/// A start that fails, or the Lambda runtime's own failure.
pub async fn welcome(bot: impl Bot) -> Result<(), Error> {
    service::telemetry::init();
    let app = App::from_env(Runtime::Lambda, TenantPacing::Shared, Arc::new(bot)).await?;
    let app = &app;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<Value>| async move {
            Ok::<Value, Error>(service::stream::batch(app, &event.payload, service::stream::welcome_item).await)
        },
    ))
    .await
}

/// The schedule (`{"tick": {}}`: `bot`'s due [`Bot::on_job`] runs), outbox stream items and direct notify
/// invokes (docs/contract.md "Proactive operations").
///
/// # Errors
/// A start that fails, or the Lambda runtime's own failure.
pub async fn proactive(bot: impl Bot) -> Result<(), Error> {
    service::telemetry::init();
    let app = App::from_env(Runtime::Lambda, TenantPacing::Shared, Arc::new(bot)).await?;
    let app = &app;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<Value>| async move {
            Ok::<Value, Error>(service::stream::proactive_event(app, &event.payload).await)
        },
    ))
    .await
}

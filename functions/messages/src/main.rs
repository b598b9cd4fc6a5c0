//! The messaging webhook Lambda (API Gateway HTTP API or Function URL). Behaviour lives in `service`.

use lambda_http::http::{Method, header};
use lambda_http::{Body, Error, Request, Response, run, service_fn};
use service::{App, Runtime, TenantPacing};

async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
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

#[tokio::main]
async fn main() -> Result<(), Error> {
    service::telemetry::init();
    let app = App::from_env(Runtime::Lambda, TenantPacing::Process).await?;
    app.prefetch_inbound_keys().await;
    let app = &app;
    run(service_fn(move |request| handle(app, request))).await
}

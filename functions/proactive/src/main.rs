//! The proactive Lambda: the EventBridge schedule (due polling messages), outbox stream items, and direct
//! notify invokes (CONTRACT.md "Proactive operations"). Behaviour lives in `service`.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use service::{App, Runtime, TenantPacing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    service::telemetry::init();
    let app = App::from_env(Runtime::Lambda, TenantPacing::Shared).await?;
    let app = &app;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(service::stream::proactive_event(app, &event.payload).await)
    }))
    .await
}

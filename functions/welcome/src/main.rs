//! The welcome Lambda: DynamoDB stream INSERTs of team-install and first-contact claims -> welcome messages,
//! with partial batch failure reports. Behaviour lives in `service`.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use service::{App, Runtime, TenantPacing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    service::telemetry::init();
    let app = App::from_env(Runtime::Lambda, TenantPacing::Shared).await?;
    let app = &app;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(service::stream::batch(app, &event.payload, service::stream::welcome_item).await)
    }))
    .await
}

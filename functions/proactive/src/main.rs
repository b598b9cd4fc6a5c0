//! The proactive Lambda. Behaviour lives in the `service` crate; this is glue.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    tracing::info!(request_id = %event.context.request_id, "proactive invoked");
    Ok(Value::Object(serde_json::Map::new()))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(handle)).await
}

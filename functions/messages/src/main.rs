//! The messaging webhook Lambda. Behaviour lives in the `service` crate; this is glue.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

/// Bodies over this are refused before parsing (CONTRACT.md: 413 over 256 KiB).
const MAX_BODY: usize = 256 * 1024;

async fn handle(request: Request) -> Result<Response<Body>, Error> {
    let body = request.body().as_ref();
    let (status, reason) = if body.len() > MAX_BODY {
        (413, "body over 256 KiB")
    } else {
        match models::Activity::from_slice(body) {
            Ok(_) => (200, ""),
            Err(_) => (400, "not an activity"),
        }
    };
    Ok(Response::builder().status(status).body(Body::from(reason))?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(handle)).await
}

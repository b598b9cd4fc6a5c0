//! The whole bot on one machine: `cargo run --release --bin devserver`. See README.md.

use service::{App, Config, Runtime};

mod routes;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service::telemetry::init();
    let config = Config::from_env(Runtime::Devserver)?;
    let addr = config
        .bind_addr
        .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 3978)));
    let (app, changes) = App::build(&config).await?;
    app.prefetch_inbound_keys().await;
    if let Some(changes) = changes {
        tokio::spawn(service::background::run_change_feed(app.clone(), changes));
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, anonymous = matches!(app.inbound, service::Inbound::Anonymous), "devserver listening");
    axum::serve(
        listener,
        routes::router(app).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

//! `sweep-worker`: loads settings, initialises telemetry, binds the health/metrics listener and
//! runs the worker library until SIGTERM.

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = shared::Settings::load().context("loading settings")?;
    shared::telemetry::init("sweep-worker", &settings.telemetry);
    let listener = tokio::net::TcpListener::bind(settings.http.bind)
        .await
        .with_context(|| format!("binding http.bind = {}", settings.http.bind))?;
    worker::run(settings, listener, worker::shutdown_signal()).await.context("worker failed")
}

//! `sweep-worker`: loads settings, initialises telemetry and runs the worker library.

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = shared::Settings::load().context("loading settings")?;
    shared::telemetry::init("sweep-worker", &settings.telemetry);
    worker::run(settings).await
}

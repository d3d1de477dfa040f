//! The `sweep-worker` library. The batch pipeline (seed, job and monitor consumers) is built
//! on the deletion core in `shared::deletion`.

/// Runs the worker until SIGTERM.
pub async fn run(settings: shared::Settings) -> anyhow::Result<()> {
    let db = shared::db::connect(&settings.database, "sweep-worker").await?;
    tracing::info!("sweep-worker connected; waiting for SIGTERM");
    tokio::signal::ctrl_c().await?;
    db.close().await?;
    Ok(())
}

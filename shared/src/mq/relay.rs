//! The outbox relay every process runs: it publishes rows whose writer's claim expired (the
//! writer died between commit and publish, or could not reach the broker), and reports the
//! outbox backlog as metrics.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use super::Publisher;
use crate::db::outbox;
use crate::metrics;
use crate::settings::OutboxSettings;

/// Rows claimed per pass.
const BATCH: i64 = 500;

/// Runs [`relay_once`] every `outbox.relay_interval` until `stop`. The backlog metrics are
/// reported at once, so they exist from the start.
pub async fn run(db: DatabaseConnection, publisher: Arc<Publisher>, settings: OutboxSettings, stop: CancellationToken) {
    report_backlog(&db).await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(settings.relay_interval) => {}
        }
        match relay_once(&db, &publisher, &settings).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "outbox relay republished messages"),
            Err(e) => tracing::warn!(error = %e, "outbox relay failed; will try again"),
        }
        report_backlog(&db).await;
    }
}

async fn report_backlog(db: &DatabaseConnection) {
    match outbox::backlog(db).await {
        Ok(backlog) => metrics::outbox_backlog(backlog.rows, backlog.oldest_age_seconds),
        Err(e) => tracing::debug!(error = %e, "outbox backlog unavailable"),
    }
}

/// One relay pass: claims expired rows, publishes them and deletes them; returns how many were
/// published. Rows it could not publish keep their new claim and are retried when it expires.
pub async fn relay_once(
    db: &DatabaseConnection,
    publisher: &Publisher,
    settings: &OutboxSettings,
) -> Result<usize, crate::Error> {
    let mut published = 0;
    loop {
        let rows = outbox::claim_expired(db, settings.claim_lease, BATCH).await?;
        if rows.is_empty() {
            return Ok(published);
        }
        publisher.publish(&rows).await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        outbox::remove_published(db, &ids).await?;
        metrics::outbox_republished(rows.len() as u64);
        published += rows.len();
        if (rows.len() as i64) < BATCH {
            return Ok(published);
        }
    }
}

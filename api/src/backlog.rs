//! The backlog gauges: every `metrics.backlog_interval` the API reads what is left to do from
//! the database (one statement over the runtime batches and their open jobs) and the depth of
//! the dead-letter queue from the broker. The API serves them, not the workers, so the backlog
//! shows even while workers are scaled to zero; every API replica serves the same values
//! (aggregate with `max`, not `sum`).

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use shared::mq::{Publisher, Topology};
use tokio_util::sync::CancellationToken;

/// Refreshes the gauges at once and then every `interval`, until `stop`.
pub async fn run(
    db: DatabaseConnection,
    publisher: Arc<Publisher>,
    topology: Topology,
    interval: std::time::Duration,
    stop: CancellationToken,
) {
    loop {
        refresh(&db, &publisher, &topology).await;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

async fn refresh(db: &DatabaseConnection, publisher: &Publisher, topology: &Topology) {
    match shared::db::batch::backlog(db).await {
        Ok(backlog) => shared::metrics::backlog(&backlog),
        Err(e) => tracing::debug!(error = %e, "backlog unavailable"),
    }
    match shared::mq::queue_depth(publisher.pool(), &topology.dead_letter()).await {
        Ok(messages) => shared::metrics::dead_letter_messages(messages),
        Err(e) => tracing::debug!(error = %e, "dead-letter queue depth unavailable"),
    }
}

//! `monitor_v1`: complete a batch once every job exists and is done. A failed job keeps the
//! batch open (as in Camunda) until it is retried or the batch deleted. The monitor queue has a
//! single active consumer and the batch row is locked, so completion happens once.

use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use shared::batch::{self, state};
use shared::messages::{BatchCompletedEvent, EVENT_BATCH_COMPLETED};

use crate::{Ctx, Disposition};

/// Handles one monitor message.
pub async fn handle(ctx: &Ctx, batch_id: &str) -> Result<Disposition, shared::Error> {
    let txn = ctx.db.begin().await?;
    let Some(b) = batch::find(&txn, batch_id, true).await? else {
        return Ok(Disposition::Ack); // already completed or deleted
    };
    if b.suspended || b.jobs_created < b.total_jobs {
        return Ok(Disposition::Ack);
    }
    let open = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) AS open FROM sweep_batch_job WHERE batch_id_ = $1 AND state_ <> $2",
            [batch_id.into(), state::DONE.into()],
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "open"))
        .transpose()?
        .unwrap_or(0);
    if open > 0 {
        return Ok(Disposition::Ack);
    }
    let counts = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT coalesce(sum(deleted_), 0)::bigint AS deleted, coalesce(sum(skipped_), 0)::bigint AS skipped,
                    coalesce(sum(failed_), 0)::bigint AS failed
               FROM sweep_batch_job WHERE batch_id_ = $1",
            [batch_id.into()],
        ))
        .await?
        .ok_or_else(|| shared::Error::invalid("no counts"))?;
    let end = chrono::Utc::now();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE sweep_hi_batch SET end_time_ = $2, exec_start_time_ = coalesce(exec_start_time_, $3) WHERE id_ = $1",
        [batch_id.into(), end.into(), b.exec_start_time.into()],
    ))
    .await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "DELETE FROM sweep_batch WHERE id_ = $1",
        [batch_id.into()],
    ))
    .await?;
    let event = BatchCompletedEvent {
        batch_id: batch_id.to_owned(),
        total: b.total_items,
        deleted: counts.try_get("", "deleted")?,
        skipped: counts.try_get("", "skipped")?,
        failed: counts.try_get("", "failed")?,
        end_time: shared::camunda::format_date(end),
    };
    let stored = shared::outbox::enqueue(&txn, vec![ctx.event(EVENT_BATCH_COMPLETED, &event)]).await?;
    txn.commit().await?;
    tracing::info!(
        batch.id = %batch_id,
        deleted = event.deleted,
        skipped = event.skipped,
        failed = event.failed,
        "Batch {batch_id} completed"
    );
    metrics::counter!("worker_batches_completed_total").increment(1);
    ctx.publisher.publish_committed(&ctx.db, &stored).await;
    Ok(Disposition::Ack)
}

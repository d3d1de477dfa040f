//! `monitor_v1`: complete a batch once every job exists and is done. A failed job keeps the
//! batch open (as in Camunda) until it is retried or the batch deleted. The monitor queue has a
//! single active consumer and the batch row is locked, so completion happens once.

use sea_orm::TransactionTrait;
use shared::db::outbox::OutboxMessage;
use shared::db::{batch, batch_job, historic_batch};
use shared::messages::{BatchCompletedEvent, EVENT_BATCH_COMPLETED};

use crate::{Ctx, Disposition};

/// Handles one monitor message.
pub async fn handle(ctx: &Ctx, batch_id: &str) -> Result<Disposition, shared::Error> {
    // Monitor messages come from the last jobs (each found no open job once it had committed),
    // from the seed once every job exists, and from a job failing for good; several may arrive
    // for one batch. Those finding open jobs are answered without a transaction or a row lock.
    if batch_job::any_open(&ctx.db, batch_id).await? {
        return Ok(Disposition::DONE);
    }
    let txn = ctx.db.begin().await?;
    let Some(b) = batch::find_for_update(&txn, batch_id).await? else {
        return Ok(Disposition::DONE); // already completed or deleted
    };
    if b.suspended || b.jobs_created < b.info.total_jobs {
        return Ok(Disposition::DONE);
    }
    let jobs = batch_job::summary(&txn, batch_id).await?;
    if jobs.open > 0 {
        return Ok(Disposition::DONE);
    }
    let end = chrono::Utc::now();
    let ttl = ctx.settings.history.batch_removal_after_end();
    historic_batch::end(&txn, batch_id, end, b.info.exec_start_time, ttl).await?;
    batch::delete(&txn, batch_id).await?;
    let event = BatchCompletedEvent {
        batch_id: batch_id.to_owned(),
        total: b.info.total_items,
        // every item is processed; callers ended by upward propagation belong to no job
        deleted: b.info.total_items - jobs.skipped - jobs.failed,
        skipped: jobs.skipped,
        failed: jobs.failed,
        end_time: shared::camunda::format_date(end),
    };
    let completed = OutboxMessage::event(ctx.topology(), EVENT_BATCH_COMPLETED, &event);
    let stored = ctx.outbox.commit(txn, vec![completed]).await?;
    tracing::info!(
        batch.id = %batch_id,
        deleted = event.deleted,
        skipped = event.skipped,
        failed = event.failed,
        "Batch {batch_id} completed"
    );
    shared::metrics::batch_completed();
    Ok(Disposition::Ack(stored))
}

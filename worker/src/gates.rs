//! The gates a job passes before its deletion transaction, in this order: its batch's run
//! window, the priority of the batch's other jobs, a concurrency slot of its batch and of the
//! cluster ([`shared::control::slots`]), and its batch's rate ([`batch_control::reserve_rate`]).
//! A job that may not run now is parked: its message goes, through the outbox, to a park queue
//! and comes back later; nothing waits in memory longer than `control.max_wait`, and every
//! limit is read from the database at each job, so a change applies to the next job on every
//! replica.

use std::time::{Duration, Instant};

use sea_orm::{DatabaseTransaction, TransactionTrait};
use shared::control::{self, slots};
use shared::db::batch::Batch;
use shared::db::batch_control::{self, RateDecision};
use shared::db::outbox::OutboxMessage;
use shared::messages::WorkMessage;
use tokio::sync::SemaphorePermit;

use crate::{Ctx, Disposition};

/// Between two tries for a free slot.
const SLOT_POLL: Duration = Duration::from_millis(100);

/// What the gates decided.
pub enum Pass<'a> {
    /// Run now, in this transaction: it holds the job's slots until it ends, and the permit
    /// one of this worker's running jobs ([`Ctx::running`]) until it is dropped.
    Run(DatabaseTransaction, SemaphorePermit<'a>),
    /// Not now: acknowledge with these (committed) messages.
    Park(Disposition),
}

/// Runs the gates for job `job_seq` of `b`; `outranked`: a job of the batch with a higher
/// priority waits ([`shared::db::batch_job::Readiness`]); `total`: the weight of the runnable
/// batches, read with the batch ([`shared::db::batch_job::context`]), before waiting for a
/// permit, so that only the slots are left to take once one is free.
pub async fn pass<'a>(
    ctx: &'a Ctx,
    b: &Batch,
    job_seq: i32,
    outranked: bool,
    total: f64,
) -> Result<Pass<'a>, shared::Error> {
    let id = &b.info.id;
    if !b.steering.window_open {
        let wait = Duration::from_secs_f64(b.steering.window_opens_in.max(0.0));
        return park(ctx, id, job_seq, wait, "window").await;
    }
    if outranked {
        return park(ctx, id, job_seq, Duration::ZERO, "priority").await;
    }
    let permit = ctx.running.acquire().await.map_err(|_| shared::Error::Internal("the worker is stopping".into()))?;
    let Some(txn) = take_slots(ctx, b, total).await? else {
        drop(permit);
        return park(ctx, id, job_seq, Duration::ZERO, "concurrency").await;
    };
    if b.steering.max_rate.is_none() {
        // Unlimited as of this job's read of the batch: no need to lock the batch row.
        return Ok(Pass::Run(txn, permit));
    }
    let (low, high) = b.job_range(job_seq);
    match batch_control::reserve_rate(&ctx.db, id, high - low, ctx.settings.control.max_wait).await? {
        RateDecision::Go => {}
        RateDecision::Wait(wait) => tokio::time::sleep(wait).await,
        RateDecision::Later(wait) => {
            txn.rollback().await?;
            drop(permit);
            return park(ctx, id, job_seq, wait, "rate").await;
        }
    }
    Ok(Pass::Run(txn, permit))
}

/// Opens the deletion transaction holding a slot of the batch — of `maxConcurrentJobs` and
/// its fair share, whichever is smaller — and one of the cluster-wide limit. A batch at its
/// share gives way at once, so that jobs of other batches queued behind this one are reached;
/// a free global slot is waited for up to `control.max_wait`, since every job needs one.
/// `total`: the weight of the runnable batches, as read last. `None` when the job may not run
/// now.
async fn take_slots(ctx: &Ctx, b: &Batch, mut total: f64) -> Result<Option<DatabaseTransaction>, shared::Error> {
    let deadline = Instant::now() + ctx.settings.control.max_wait;
    loop {
        let global = ctx.control.limit();
        let share = control::share(global, control::weight(b.steering.priority), total);
        let batch_limit = b.steering.max_concurrent_jobs.map_or(share, |max| max.min(share));
        let txn = ctx.jobs_db.begin().await?;
        match slots::try_take(&txn, &b.info.id, batch_limit, global).await? {
            slots::Taken::Both => return Ok(Some(txn)),
            slots::Taken::NoBatchSlot => {
                txn.rollback().await?;
                return Ok(None);
            }
            slots::Taken::NoGlobalSlot => {}
        }
        // Gives the batch slot back while it waits.
        txn.rollback().await?;
        if Instant::now() + SLOT_POLL > deadline {
            return Ok(None);
        }
        tokio::time::sleep(SLOT_POLL).await;
        total = batch_control::runnable_weight(&ctx.db).await?;
    }
}

/// Sends the job's message to the park queue for about `wanted` (committed to the outbox
/// before the delivery is acknowledged, like every message).
async fn park(
    ctx: &Ctx,
    batch_id: &str,
    job_seq: i32,
    wanted: Duration,
    reason: &'static str,
) -> Result<Pass<'static>, shared::Error> {
    let message = WorkMessage::DeleteProcessInstancesV1 { batch_id: batch_id.to_owned(), job_seq };
    let (row, delay) = OutboxMessage::parked(ctx.topology(), &message, wanted);
    let txn = ctx.db.begin().await?;
    let stored = ctx.outbox.commit(txn, vec![row]).await?;
    shared::metrics::job_parked(reason);
    tracing::debug!(batch.id = %batch_id, job.seq = job_seq, park.reason = reason, park.delay_ms = delay.as_millis() as u64,
        "Job {job_seq} of batch {batch_id} parked: {reason}");
    Ok(Pass::Park(Disposition::Ack(stored)))
}

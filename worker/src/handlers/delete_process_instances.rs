//! `delete_process_instances_v1`: delete the pending items of one batch job in one
//! transaction — the instances (set-based, `shared::deletion`), their ledger entries, the job's
//! counters and the messages it causes (monitor update, deletion events) commit together.
//!
//! A job sends no monitor message of its own: once its transaction has committed, it asks
//! whether any job of the batch is still open, and only a job that finds none (one of the
//! last) sends the monitor update that completes the batch. The job committing last always
//! finds none, however the last jobs interleave. Should a worker die between that commit and
//! the question, the job's message is redelivered, finds its job done and asks again.
//!
//! A failure rolls the deletion back and is recorded in a transaction of its own: the job loses
//! one retry and is sent through a delay queue for back-off, or, out of retries, is marked
//! failed with its error and its items failed in the ledger; the batch then stays open, as in
//! Camunda, until the job is retried or the batch deleted. Each of these transactions writes
//! the job's log entry (success or failure).
//!
//! A job with a due date in the future is not worked: its message goes back through a delay
//! queue until the due date has passed.
//!
//! Before any of it, the job passes the steering gates (`crate::gates`): a job that may not run
//! now is parked, without losing a retry.

use sea_orm::{DatabaseTransaction, TransactionTrait};
use shared::db::batch::Batch;
use shared::db::batch_job::{self, JobState};
use shared::db::job_log::{self, Jobs, LogState};
use shared::db::outbox::{OutboxMessage, StoredMessage};
use shared::db::{batch, batch_item};
use shared::deletion::{self, InstanceAudit};
use shared::messages::{EVENT_PROCESS_INSTANCE_DELETED, ProcessInstanceDeletedEvent, WorkMessage};

use crate::{Ctx, Disposition, gates};

/// Handles one job message.
pub async fn handle(ctx: &Ctx, batch_id: &str, job_seq: i32) -> Result<Disposition, shared::Error> {
    let Some(batch_job::JobContext { batch: b, readiness, runnable_weight }) =
        batch_job::context(&ctx.db, batch_id, job_seq).await?
    else {
        return Ok(Disposition::DONE); // deleted or completed batch
    };
    if b.suspended {
        return Ok(Disposition::DONE); // stays pending; activation re-publishes it
    }
    if !readiness.open {
        // Done, failed, or unknown: nothing to do, but a job that finished in a worker that
        // died before asking is completed here.
        return Ok(Disposition::Ack(completion(ctx, batch_id).await?));
    }
    if let Some(wait) = readiness.due_date.and_then(|due| (due - chrono::Utc::now()).to_std().ok()) {
        return Ok(Disposition::Ack(redelay(ctx, batch_id, job_seq, wait).await?));
    }
    // `running` is this worker's permit to run the job, held until its deletion ends.
    let (txn, running) = match gates::pass(ctx, &b, job_seq, readiness.outranked, runnable_weight).await? {
        gates::Pass::Run(txn, permit) => (txn, permit),
        gates::Pass::Park(disposition) => return Ok(disposition),
    };
    if !start(ctx, &b, job_seq).await? {
        return Ok(Disposition::DONE); // done, failed, or unknown: nothing to do
    }
    let started = std::time::Instant::now();
    let executed = execute(ctx, txn, &b, job_seq).await;
    drop(running); // the deletion transaction has ended: the next job may start its own
    match executed {
        Ok(Some((deleted, mut messages))) => {
            ctx.control.observe(started.elapsed());
            shared::metrics::job_succeeded(deleted, started.elapsed());
            messages.extend(completion(ctx, batch_id).await?);
            Ok(Disposition::Ack(messages))
        }
        Ok(None) => Ok(Disposition::DONE),
        Err(e) if e.is_unavailable() => Err(e), // not the job's fault: redeliver, keep its retries
        Err(e) => {
            tracing::warn!(batch.id = %batch_id, job.seq = job_seq, error = %e, "Job {job_seq} of batch {batch_id} failed");
            Ok(Disposition::Ack(record_failure(ctx, &b, job_seq, &e.to_string()).await?))
        }
    }
}

/// Marks the job running (a committed, visible step) and, for the batch's first job, stamps
/// its execution start in the same transaction. Returns false when the job is not there to run.
async fn start(ctx: &Ctx, b: &Batch, job_seq: i32) -> Result<bool, shared::Error> {
    if b.info.exec_start_time.is_some() {
        return Ok(batch_job::start(&ctx.db, &b.info.id, job_seq).await?); // one round trip
    }
    let txn = ctx.db.begin().await?;
    let started = batch_job::start(&txn, &b.info.id, job_seq).await?;
    if started {
        batch::mark_execution_started(&txn, &b.info.id).await?;
    }
    txn.commit().await?;
    Ok(started)
}

/// The deletion transaction `txn` (it holds the job's concurrency slots). `None` when another
/// delivery of the same job holds or finished it; otherwise the instances deleted and the
/// committed outbox rows to publish.
async fn execute(
    ctx: &Ctx,
    txn: DatabaseTransaction,
    b: &Batch,
    job_seq: i32,
) -> Result<Option<(u64, Vec<StoredMessage>)>, shared::Error> {
    let id = &b.info.id;
    let range = b.job_range(job_seq);
    let Some(ids) = batch_job::claim(&txn, id, job_seq, range).await? else {
        return Ok(None);
    };
    // Who deleted which instance, when, why and in which batch, in the same statement.
    let audit = match (ctx.settings.audit.per_instance, &b.info.create_user_id) {
        (true, Some(user)) => Some(InstanceAudit { user_id: user.clone(), batch_id: id.clone() }),
        _ => None,
    };
    let now = shared::camunda::now_naive();
    let result = deletion::delete_chunk(&txn, &ids, &b.options, now, audit.as_ref(), &ctx.history).await?;
    // Callers ended by upward propagation join the ledger as deleted (the batch grows). None
    // of them is an item of this job: those were requested, and deleted as such.
    batch_item::record_ended_callers(&txn, id, &result.ended_callers).await?;
    // The items' outcomes, the job done and its log entry, in one round trip. Called instances
    // that are selected themselves, in another job of this batch, were deleted here: their
    // items say so, and that job will find nothing left to do. A batch that selected no called
    // instance has no such items to look for.
    let with_caller: &[String] = if b.called_items { &result.deleted_with_caller } else { &[] };
    batch_job::complete(&txn, id, job_seq, range, &result.outcomes, with_caller).await?;

    let mut messages = Vec::new();
    if !result.events.is_empty() {
        let events: Vec<ProcessInstanceDeletedEvent> = result
            .events
            .iter()
            .map(|e| ProcessInstanceDeletedEvent {
                process_instance_id: e.id.clone(),
                process_definition_key: e.process_definition_key.clone(),
                business_key: e.business_key.clone(),
                tenant_id: e.tenant_id.clone(),
                delete_reason: e.delete_reason.clone(),
                batch_id: id.clone(),
                deleted_with: e.deleted_with.clone(),
            })
            .collect();
        messages.extend(OutboxMessage::events(ctx.topology(), EVENT_PROCESS_INSTANCE_DELETED, &events));
    }
    let stored = ctx.outbox.commit(txn, messages).await?;
    tracing::debug!(batch.id = %id, job.seq = job_seq, instances = result.instances_deleted, "Job {job_seq} done");
    Ok(Some((result.instances_deleted, stored)))
}

/// Once a job's work has committed: when no job of `batch_id` is open any more, the committed
/// monitor message that completes it (several of the last jobs may each send one; the monitor
/// completes a batch once).
async fn completion(ctx: &Ctx, batch_id: &str) -> Result<Vec<StoredMessage>, shared::Error> {
    if batch_job::any_open(&ctx.db, batch_id).await? {
        return Ok(Vec::new());
    }
    let monitor = ctx.outbox.work(&WorkMessage::MonitorV1 { batch_id: batch_id.to_owned() });
    Ok(ctx.outbox.commit(ctx.db.begin().await?, vec![monitor]).await?)
}

/// Records a failed attempt: one retry less and a delayed redelivery, or, without retries left,
/// the job and its pending items failed and a monitor update. Returns the committed messages.
async fn record_failure(ctx: &Ctx, b: &Batch, job_seq: i32, error: &str) -> Result<Vec<StoredMessage>, shared::Error> {
    let id = &b.info.id;
    let txn = ctx.db.begin().await?;
    let Some(failure) = batch_job::record_failure(&txn, id, job_seq, error).await? else {
        return Ok(Vec::new()); // deleted meanwhile
    };
    job_log::write(&txn, id, Jobs::Seqs(&[job_seq]), LogState::Failed, Some(error)).await?;
    let messages = if failure.state == JobState::Failed {
        let range = b.job_range(job_seq);
        batch_item::fail_pending(&txn, id, range, error).await?;
        batch_job::finish(&txn, id, job_seq, range, JobState::Failed, Some(error)).await?;
        shared::metrics::job_failed(false);
        tracing::error!(batch.id = %id, job.seq = job_seq, error = %error, "Job {job_seq} of batch {id} failed for good");
        vec![ctx.outbox.work(&WorkMessage::MonitorV1 { batch_id: id.clone() })]
    } else {
        shared::metrics::job_failed(true);
        let retry = WorkMessage::DeleteProcessInstancesV1 { batch_id: id.clone(), job_seq };
        vec![OutboxMessage::delayed(ctx.topology(), &retry, failure.attempts.max(1) as usize)]
    };
    Ok(ctx.outbox.commit(txn, messages).await?)
}

/// Sends the job's message through the longest delay queue that does not overshoot `wait`
/// (the shortest when all do), through the outbox; the next delivery checks again.
async fn redelay(
    ctx: &Ctx,
    batch_id: &str,
    job_seq: i32,
    wait: std::time::Duration,
) -> Result<Vec<StoredMessage>, shared::Error> {
    let delays = &ctx.topology().retry_delays;
    let attempt = delays.iter().rposition(|d| *d <= wait).map_or(1, |i| i + 1);
    let message = WorkMessage::DeleteProcessInstancesV1 { batch_id: batch_id.to_owned(), job_seq };
    let txn = ctx.db.begin().await?;
    tracing::debug!(batch.id = %batch_id, job.seq = job_seq, wait = ?wait, "Job {job_seq} is not due yet");
    Ok(ctx.outbox.commit(txn, vec![OutboxMessage::delayed(ctx.topology(), &message, attempt)]).await?)
}

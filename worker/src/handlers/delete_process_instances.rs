//! `delete_process_instances_v1`: delete the pending items of one batch job in one
//! transaction — the instances (set-based, `shared::deletion`), their ledger entries, the job's
//! counters and the messages it causes (monitor update, deletion events) commit together.
//!
//! A failure rolls the deletion back and is recorded in a transaction of its own: the job loses
//! one retry and is sent through a delay queue for back-off, or, out of retries, is marked
//! failed with its error and its items failed in the ledger; the batch then stays open, as in
//! Camunda, until the job is retried or the batch deleted.

use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait, Value};
use shared::batch::{self, Batch, state};
use shared::deletion::{self, Outcome};
use shared::messages::{EVENT_PROCESS_INSTANCE_DELETED, ProcessInstanceDeletedEvent, WorkMessage};
use shared::outbox::StoredMessage;

use crate::{Ctx, Disposition};

/// Handles one job message.
pub async fn handle(ctx: &Ctx, batch_id: &str, job_seq: i32) -> Result<Disposition, shared::Error> {
    let Some(b) = batch::find(&ctx.db, batch_id, false).await? else {
        return Ok(Disposition::Ack); // deleted or completed batch
    };
    if b.suspended {
        return Ok(Disposition::Ack); // stays pending; activation re-publishes it
    }
    if !start(ctx, batch_id, job_seq).await? {
        return Ok(Disposition::Ack); // done, failed, or unknown: nothing to do
    }
    let started = std::time::Instant::now();
    match execute(ctx, &b, job_seq).await {
        Ok(Some((deleted, messages))) => {
            metrics::counter!("worker_jobs_processed_total", "outcome" => "done").increment(1);
            metrics::counter!("worker_instances_deleted_total").increment(deleted);
            metrics::histogram!("worker_job_duration_seconds").record(started.elapsed().as_secs_f64());
            Ok(Disposition::AckThenPublish(messages))
        }
        Ok(None) => Ok(Disposition::Ack),
        Err(e) => {
            tracing::warn!(batch.id = %batch_id, job.seq = job_seq, error = %e, "Job {job_seq} of batch {batch_id} failed");
            record_failure(ctx, &b, job_seq, &e.to_string()).await?;
            Ok(Disposition::Ack)
        }
    }
}

/// Marks the job running (a committed, visible step) and stamps the batch's execution start.
/// Returns false when the job is not there to run.
async fn start(ctx: &Ctx, batch_id: &str, job_seq: i32) -> Result<bool, shared::Error> {
    let txn = ctx.db.begin().await?;
    // A progress marker only: losing it in a database crash loses nothing (the message is
    // still unacked), so it need not wait for the disk.
    txn.execute_unprepared("SET LOCAL synchronous_commit = off").await?;
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "WITH j AS (
                 UPDATE sweep_batch_job SET state_ = 'running', attempts_ = attempts_ + 1
                  WHERE batch_id_ = $1 AND seq_ = $2 AND state_ IN ('pending', 'running')
                 RETURNING seq_),
             b AS (
                 UPDATE sweep_batch SET exec_start_time_ = now()
                  WHERE id_ = $1 AND exec_start_time_ IS NULL AND EXISTS (SELECT 1 FROM j)
                 RETURNING id_),
             h AS (
                 UPDATE sweep_hi_batch SET exec_start_time_ = now() WHERE id_ IN (SELECT id_ FROM b) RETURNING 1)
             SELECT count(*) AS started FROM j",
            [batch_id.into(), job_seq.into()],
        ))
        .await?;
    txn.commit().await?;
    Ok(row.map(|r| r.try_get::<i64>("", "started")).transpose()?.unwrap_or(0) > 0)
}

/// The deletion transaction. `None` when another delivery of the same job holds or finished it;
/// otherwise the instances deleted and the committed outbox rows to publish.
async fn execute(ctx: &Ctx, b: &Batch, job_seq: i32) -> Result<Option<(u64, Vec<StoredMessage>)>, shared::Error> {
    let (low, high) = b.job_range(job_seq);
    let txn = ctx.db.begin().await?;
    // SKIP LOCKED: a duplicate delivery running concurrently leaves the job to its twin.
    let claimed = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT seq_ FROM sweep_batch_job WHERE batch_id_ = $1 AND seq_ = $2 AND state_ = 'running'
               FOR UPDATE SKIP LOCKED",
            [b.id.clone().into(), job_seq.into()],
        ))
        .await?;
    if claimed.is_none() {
        return Ok(None);
    }
    let ids: Vec<String> = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT proc_inst_id_ FROM sweep_batch_item
              WHERE batch_id_ = $1 AND seq_ > $2 AND seq_ <= $3 AND state_ = 'pending' ORDER BY seq_",
            [b.id.clone().into(), low.into(), high.into()],
        ))
        .await?
        .iter()
        .map(|r| r.try_get::<String>("", "proc_inst_id_"))
        .collect::<Result<_, _>>()?;

    let result = deletion::delete_chunk(&txn, &ids, &b.options, shared::camunda::now_naive()).await?;

    let (states, reasons): (Vec<String>, Vec<String>) = result
        .outcomes
        .iter()
        .map(|(_, o)| match o {
            Outcome::Deleted => (state::DELETED.to_owned(), String::new()),
            Outcome::Skipped => (state::SKIPPED.to_owned(), String::new()),
            Outcome::Failed { reason } => (state::FAILED.to_owned(), reason.clone()),
        })
        .unzip();
    let outcome_ids: Vec<String> = result.outcomes.iter().map(|(id, _)| id.clone()).collect();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE sweep_batch_item i SET state_ = u.s, reason_ = NULLIF(u.r, ''), updated_ = now()
           FROM unnest($4::varchar[], $5::varchar[], $6::varchar[]) AS u(id, s, r)
          WHERE i.batch_id_ = $1 AND i.seq_ > $2 AND i.seq_ <= $3 AND i.proc_inst_id_ = u.id
            AND i.state_ = 'pending'",
        [
            b.id.clone().into(),
            low.into(),
            high.into(),
            Value::from(outcome_ids),
            Value::from(states),
            Value::from(reasons),
        ],
    ))
    .await?;
    if !result.deleted_with_caller.is_empty() {
        // Called instances that are selected themselves, in another job of this batch, were
        // deleted here: their items say so, and that job will find nothing left to do.
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE sweep_batch_item SET state_ = 'deleted', reason_ = 'deleted with its calling instance', updated_ = now()
              WHERE batch_id_ = $1 AND proc_inst_id_ = ANY($2) AND state_ = 'pending'",
            [b.id.clone().into(), Value::from(result.deleted_with_caller.clone())],
        ))
        .await?;
    }
    finish_job(&txn, &b.id, job_seq, low, high, state::DONE, None).await?;

    let mut messages = vec![ctx.work(&WorkMessage::MonitorV1 { batch_id: b.id.clone() })];
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
                batch_id: b.id.clone(),
                deleted_with: e.deleted_with.clone(),
            })
            .collect();
        messages.extend(ctx.events(EVENT_PROCESS_INSTANCE_DELETED, &events));
    }
    let stored = shared::outbox::enqueue(&txn, messages).await?;
    txn.commit().await?;
    tracing::debug!(batch.id = %b.id, job.seq = job_seq, instances = result.instances_deleted, "Job {job_seq} done");
    Ok(Some((result.instances_deleted, stored)))
}

/// Sets the job's final state and recounts its items from the ledger, in the caller's
/// transaction, so job counters and ledger never disagree.
async fn finish_job(
    txn: &impl ConnectionTrait,
    batch_id: &str,
    job_seq: i32,
    low: i64,
    high: i64,
    final_state: &str,
    error: Option<&str>,
) -> Result<(), sea_orm::DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE sweep_batch_job j
            SET state_ = $5, end_time_ = now(), exception_msg_ = $6,
                deleted_ = c.deleted, skipped_ = c.skipped, failed_ = c.failed
           FROM (SELECT count(*) FILTER (WHERE state_ = 'deleted') AS deleted,
                        count(*) FILTER (WHERE state_ = 'skipped') AS skipped,
                        count(*) FILTER (WHERE state_ = 'failed') AS failed
                   FROM sweep_batch_item WHERE batch_id_ = $1 AND seq_ > $3 AND seq_ <= $4) c
          WHERE j.batch_id_ = $1 AND j.seq_ = $2",
        [
            batch_id.into(),
            job_seq.into(),
            low.into(),
            high.into(),
            final_state.into(),
            error.map(|e| e.chars().take(4000).collect::<String>()).into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Records a failed attempt: one retry less and a delayed redelivery, or, without retries left,
/// the job and its pending items failed.
async fn record_failure(ctx: &Ctx, b: &Batch, job_seq: i32, error: &str) -> Result<(), shared::Error> {
    let (low, high) = b.job_range(job_seq);
    let message: String = error.chars().take(4000).collect();
    let txn = ctx.db.begin().await?;
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE sweep_batch_job
                SET retries_ = retries_ - 1, exception_msg_ = $3,
                    state_ = CASE WHEN retries_ - 1 <= 0 THEN 'failed' ELSE 'pending' END
              WHERE batch_id_ = $1 AND seq_ = $2 AND state_ IN ('running', 'pending')
             RETURNING state_, retries_, attempts_",
            [b.id.clone().into(), job_seq.into(), message.clone().into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(()); // deleted meanwhile
    };
    let new_state: String = row.try_get("", "state_")?;
    let attempts: i32 = row.try_get("", "attempts_")?;
    let messages = if new_state == state::FAILED {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE sweep_batch_item SET state_ = 'failed', reason_ = $4, updated_ = now()
              WHERE batch_id_ = $1 AND seq_ > $2 AND seq_ <= $3 AND state_ = 'pending'",
            [b.id.clone().into(), low.into(), high.into(), message.clone().into()],
        ))
        .await?;
        finish_job(&txn, &b.id, job_seq, low, high, state::FAILED, Some(&message)).await?;
        metrics::counter!("worker_jobs_processed_total", "outcome" => "failed").increment(1);
        tracing::error!(batch.id = %b.id, job.seq = job_seq, error = %message, "Job {job_seq} of batch {} failed for good", b.id);
        vec![ctx.work(&WorkMessage::MonitorV1 { batch_id: b.id.clone() })]
    } else {
        metrics::counter!("worker_jobs_processed_total", "outcome" => "retry").increment(1);
        let retry = WorkMessage::DeleteProcessInstancesV1 { batch_id: b.id.clone(), job_seq };
        let mut m = ctx.work(&retry);
        // Through the default exchange into the delay queue of this attempt; it dead-letters
        // back to the work exchange when its time is up.
        m.exchange = String::new();
        m.routing_key = ctx.topology.delay_queue(attempts.max(1) as usize);
        vec![m]
    };
    let stored = shared::outbox::enqueue(&txn, messages).await?;
    txn.commit().await?;
    ctx.publisher.publish_committed(&ctx.db, &stored).await;
    Ok(())
}

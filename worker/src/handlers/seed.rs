//! `seed_v1`: create the next `batchJobsPerSeed` jobs of a batch and their job messages, then
//! another seed message while jobs remain (or a monitor message when all exist).

use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use shared::batch;
use shared::messages::WorkMessage;

use crate::{Ctx, Disposition};

/// Handles one seed message.
pub async fn handle(ctx: &Ctx, batch_id: &str, seen_jobs_created: i32) -> Result<Disposition, shared::Error> {
    let txn = ctx.db.begin().await?;
    let Some(b) = batch::find(&txn, batch_id, true).await? else {
        return Ok(Disposition::Ack); // deleted batch
    };
    // A suspended batch is re-seeded on activation; a stale seed (redelivered, or one whose
    // work a newer seed already did) has nothing to do.
    if b.suspended || b.jobs_created != seen_jobs_created || b.jobs_created >= b.total_jobs {
        return Ok(Disposition::Ack);
    }
    let first = b.jobs_created + 1;
    let last = (b.jobs_created + b.jobs_per_seed).min(b.total_jobs);
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO sweep_batch_job (id_, batch_id_, seq_, retries_, items_, create_time_)
         SELECT $1 || ':' || s, $1, s, $4,
                least($5::bigint, $6::bigint - (s - 1)::bigint * $5::bigint)::int, now()
           FROM generate_series($2::int, $3::int) AS s
         ON CONFLICT (batch_id_, seq_) DO NOTHING",
        [
            batch_id.into(),
            first.into(),
            last.into(),
            (ctx.settings.worker.max_retries as i32).max(1).into(),
            i64::from(b.invocations_per_job).into(),
            b.total_items.into(),
        ],
    ))
    .await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE sweep_batch SET jobs_created_ = $2 WHERE id_ = $1",
        [batch_id.into(), last.into()],
    ))
    .await?;
    let mut messages: Vec<_> = (first..=last)
        .map(|job_seq| ctx.work(&WorkMessage::DeleteProcessInstancesV1 { batch_id: batch_id.to_owned(), job_seq }))
        .collect();
    messages.push(ctx.work(&if last < b.total_jobs {
        WorkMessage::SeedV1 { batch_id: batch_id.to_owned(), jobs_created: last }
    } else {
        WorkMessage::MonitorV1 { batch_id: batch_id.to_owned() }
    }));
    let stored = shared::outbox::enqueue(&txn, messages).await?;
    txn.commit().await?;
    tracing::info!(batch.id = %batch_id, jobs.first = first, jobs.last = last, "Seeded jobs {first}..={last} of batch {batch_id}");
    Ok(Disposition::AckThenPublish(stored))
}

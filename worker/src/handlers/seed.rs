//! `seed_v1`: create the next `batchJobsPerSeed` jobs of a batch and their job messages, then
//! another seed message while jobs remain (or a monitor message when all exist).

use sea_orm::TransactionTrait;
use shared::db::job_log::{self, Jobs, LogState};
use shared::db::{batch, batch_job};
use shared::messages::WorkMessage;

use crate::{Ctx, Disposition};

/// Handles one seed message.
pub async fn handle(ctx: &Ctx, batch_id: &str, seen_jobs_created: i32) -> Result<Disposition, shared::Error> {
    let txn = ctx.db.begin().await?;
    let Some(b) = batch::find_for_update(&txn, batch_id).await? else {
        return Ok(Disposition::DONE); // deleted batch
    };
    // A suspended batch is re-seeded on activation; a stale seed (redelivered, or one whose
    // work a newer seed already did) has nothing to do.
    if b.suspended || b.jobs_created != seen_jobs_created || b.jobs_created >= b.info.total_jobs {
        return Ok(Disposition::DONE);
    }
    let first = b.jobs_created + 1;
    let last = (b.jobs_created + b.info.jobs_per_seed).min(b.info.total_jobs);
    let retries = (ctx.settings.worker.max_retries as i32).max(1);
    batch_job::insert_range(&txn, &b.info, first, last, retries).await?;
    batch::set_jobs_created(&txn, batch_id, last).await?;
    let seqs: Vec<i32> = (first..=last).collect();
    job_log::write(&txn, batch_id, Jobs::Seqs(&seqs), LogState::Created, None).await?;
    let mut messages = ctx.outbox.jobs(batch_id, &seqs);
    messages.push(ctx.outbox.work(&if last < b.info.total_jobs {
        WorkMessage::SeedV1 { batch_id: batch_id.to_owned(), jobs_created: last }
    } else {
        WorkMessage::MonitorV1 { batch_id: batch_id.to_owned() }
    }));
    let stored = ctx.outbox.commit(txn, messages).await?;
    tracing::info!(batch.id = %batch_id, jobs.first = first, jobs.last = last, "Seeded jobs {first}..={last} of batch {batch_id}");
    Ok(Disposition::Ack(stored))
}

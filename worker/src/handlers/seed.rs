//! `seed_v1`: build the batch's item ledger — move the next `batch.snapshot_chunk_size`
//! snapshotted ids into it per run — and create the next `batchJobsPerSeed` jobs with their job
//! messages, then another seed message while jobs remain (or a monitor message when all exist).
//!
//! Jobs cover only built items. A job that deletes a calling instance marks the items of the
//! instances it calls deleted along with it, wherever they are in the batch, so those items
//! must be there: a batch selecting a called instance ([`Batch::called_items`]) gets its first
//! job once the whole ledger exists. Any other batch gets the jobs of each chunk in the run
//! that builds it, and its first jobs start while the rest of the ledger is built.

use sea_orm::TransactionTrait;
use shared::db::batch::Batch;
use shared::db::job_log::{self, Jobs, LogState};
use shared::db::{batch, batch_item, batch_job};
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
    let (mut built, mut moved) = (b.built_items(), 0);
    if b.snapshot_remaining > 0 {
        moved = build_chunk(ctx, &txn, &b).await?;
        built += moved;
        let remaining = b.info.total_items - built;
        tracing::info!(batch.id = %batch_id, items = moved, remaining, "Built {moved} ledger items of batch {batch_id}");
    }
    // The jobs whose every item is built, of which this run creates the next ones.
    let ready = if built == b.info.total_items {
        b.info.total_jobs
    } else if b.called_items {
        0
    } else {
        i32::try_from(built / i64::from(b.info.invocations_per_job.max(1))).unwrap_or(i32::MAX)
    };
    let (first, last) = (b.jobs_created + 1, (b.jobs_created + b.info.jobs_per_seed).min(ready).max(b.jobs_created));
    let mut messages = Vec::new();
    if last >= first {
        let retries = (ctx.settings.worker.max_retries as i32).max(1);
        batch_job::insert_range(&txn, &b.info, first, last, retries).await?;
        batch::set_jobs_created(&txn, batch_id, last).await?;
        let seqs: Vec<i32> = (first..=last).collect();
        job_log::write(&txn, batch_id, Jobs::Seqs(&seqs), LogState::Created, None).await?;
        messages = ctx.outbox.jobs(batch_id, &seqs);
        tracing::info!(batch.id = %batch_id, jobs.first = first, jobs.last = last, "Seeded jobs {first}..={last} of batch {batch_id}");
    }
    messages.push(ctx.outbox.work(&if last < b.info.total_jobs {
        WorkMessage::SeedV1 { batch_id: batch_id.to_owned(), jobs_created: last }
    } else {
        WorkMessage::MonitorV1 { batch_id: batch_id.to_owned() }
    }));
    let stored = ctx.outbox.commit(txn, messages).await?;
    // Plans that fit the ledger's new size (batch_item::analyze) once it is complete; for a
    // batch selecting called instances, before its first job (the messages go out once this
    // returns), which looks items up by instance id. The jobs of any other batch address their
    // items by number only, which the primary key serves whatever the statistics say.
    if moved > 0
        && built == b.info.total_items
        && let Err(e) = batch_item::analyze(&ctx.db).await
    {
        tracing::warn!(batch.id = %batch_id, error = %e, "Could not refresh the ledger's statistics");
    }
    Ok(Disposition::Ack(stored))
}

/// The first chunk of a batch whose jobs start before its ledger is complete holds this many
/// jobs' items at most, so that its first jobs start within milliseconds of its creation.
const FIRST_CHUNK_JOBS: i64 = 10;

/// Moves the next chunk of the snapshot into the ledger, under the batch's row lock, and
/// returns how many items it built.
async fn build_chunk(ctx: &Ctx, txn: &impl sea_orm::ConnectionTrait, b: &Batch) -> Result<i64, shared::Error> {
    let key = b.key.ok_or_else(|| shared::Error::Internal(format!("batch {} has no selection key", b.info.id)))?;
    let after = b.built_items();
    let mut size = i64::from(ctx.settings.batch.snapshot_chunk_size.max(1));
    if after == 0 && !b.called_items {
        size = size.min(FIRST_CHUNK_JOBS * i64::from(b.info.invocations_per_job.max(1)));
    }
    let upto = (after + size).min(b.info.total_items);
    let moved = batch_item::build(txn, &b.info.id, key, (after, upto), b.called_items).await? as i64;
    if moved != upto - after {
        // The selection table lost rows it should hold: never create jobs over a ledger with holes.
        return Err(shared::Error::Internal(format!(
            "batch {}: expected {} snapshotted ids after {after}, found {moved}",
            b.info.id,
            upto - after
        )));
    }
    batch::set_snapshot_remaining(txn, &b.info.id, b.info.total_items - upto).await?;
    Ok(moved)
}

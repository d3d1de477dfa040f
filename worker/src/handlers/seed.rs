//! `seed_v1`: first finish the batch's item ledger — move the next `batch.snapshot_chunk_size`
//! snapshotted ids into it and seed again — then create the next `batchJobsPerSeed` jobs and
//! their job messages, then another seed message while jobs remain (or a monitor message when
//! all exist).
//!
//! No job is created before the whole ledger exists: a job that deletes called instances marks
//! their items (in any later job) deleted along with their caller, so those items must be there.

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
    if b.snapshot_remaining > 0 {
        let moved = build_chunk(ctx, &txn, &b).await?;
        let next = ctx.outbox.work(&WorkMessage::SeedV1 { batch_id: batch_id.to_owned(), jobs_created: 0 });
        let stored = ctx.outbox.commit(txn, vec![next]).await?;
        let remaining = b.snapshot_remaining - moved;
        tracing::info!(batch.id = %batch_id, items = moved, remaining, "Built {moved} ledger items of batch {batch_id}");
        if remaining == 0 {
            // Before the first job: plans that fit the ledger's new size (batch_item::analyze).
            if let Err(e) = batch_item::analyze(&ctx.db).await {
                tracing::warn!(batch.id = %batch_id, error = %e, "Could not refresh the ledger's statistics");
            }
        }
        return Ok(Disposition::Ack(stored));
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

/// Moves the next chunk of the snapshot into the ledger, under the batch's row lock, and
/// returns how many items it built.
async fn build_chunk(ctx: &Ctx, txn: &impl sea_orm::ConnectionTrait, b: &Batch) -> Result<i64, shared::Error> {
    let key = b.key.ok_or_else(|| shared::Error::Internal(format!("batch {} has no selection key", b.info.id)))?;
    let after = b.built_items();
    let upto = (after + i64::from(ctx.settings.batch.snapshot_chunk_size.max(1))).min(b.info.total_items);
    let moved = batch_item::build(txn, &b.info.id, key, (after, upto)).await? as i64;
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

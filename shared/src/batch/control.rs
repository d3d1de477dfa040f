//! Control of existing batches: suspension, deletion (runtime and historic), and the retries
//! of failed jobs and items. Each function is one transaction; those that re-enqueue work
//! return the committed outbox rows to publish.

use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use crate::Error;
use crate::auth::{Permission, Principal, Resource};
use crate::db::batch_job::JobState;
use crate::db::op_log;
use crate::db::outbox::{OutboxWriter, StoredMessage};
use crate::db::{batch, batch_item, batch_job, historic_batch};
use crate::messages::WorkMessage;

/// Whether runtime batch `id` exists for `principal` (of its tenants), and then whether it
/// holds `permission` on it: `Ok(false)` when not found, `Err(Forbidden)` when not allowed.
async fn allowed(
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: &str,
    permission: Permission,
) -> Result<bool, Error> {
    let Some(b) = batch::find(db, id).await? else { return Ok(false) };
    if !b.info.within_tenants_of(principal) {
        return Ok(false);
    }
    match principal.check(db, &[(permission, Resource::Batch, Some(id))]).await? {
        None => Ok(true),
        Some(denied) => Err(Error::Forbidden(denied)),
    }
}

/// Suspends or activates batch `id`; `None` when it does not exist. Activation re-enqueues
/// everything the batch still needs — the seed (if jobs remain to be created), every open job
/// and a monitor — because messages that arrived while it was suspended were acked and
/// dropped. Handlers are idempotent, so a batch that was not suspended takes no harm.
pub async fn set_suspended(
    db: &DatabaseConnection,
    outbox: &OutboxWriter,
    principal: &Principal,
    id: &str,
    suspend: bool,
) -> Result<Option<Vec<StoredMessage>>, Error> {
    if !allowed(db, principal, id, Permission::Update).await? {
        return Ok(None);
    }
    let txn = db.begin().await?;
    let Some(b) = batch::set_suspended(&txn, id, suspend).await? else {
        return Ok(None);
    };
    if let Some(user) = &principal.user_id {
        let (operation, state) = if suspend { ("SuspendBatch", "suspended") } else { ("ActivateBatch", "active") };
        op_log::write(&txn, user, "Batch", operation, Some(id), &[(Some("suspensionState"), Some(state.to_owned()))])
            .await?;
    }
    let mut messages = Vec::new();
    if !suspend {
        if b.jobs_created < b.info.total_jobs {
            messages.push(outbox.work(&WorkMessage::SeedV1 { batch_id: id.to_owned(), jobs_created: b.jobs_created }));
        }
        messages.extend(outbox.jobs(id, &batch_job::open_seqs(&txn, id).await?));
        messages.push(outbox.work(&WorkMessage::MonitorV1 { batch_id: id.to_owned() }));
    }
    Ok(Some(outbox.commit(txn, messages).await?))
}

/// Deletes runtime batch `id` (its jobs with it) and ends its historic batch; with `cascade`,
/// also deletes the historic batch and the item ledger. `false` when it does not exist. Items
/// still pending stay pending: the batch will not process them any more. Instances of a large
/// selection not yet moved into the ledger are dropped from the batch (README "Large
/// selections").
pub async fn delete(db: &DatabaseConnection, principal: &Principal, id: &str, cascade: bool) -> Result<bool, Error> {
    if !allowed(db, principal, id, Permission::Delete).await? {
        return Ok(false);
    }
    let txn = db.begin().await?;
    let Some(b) = batch::find_for_update(&txn, id).await? else { return Ok(false) };
    batch::delete(&txn, id).await?;
    if b.snapshot_remaining > 0 {
        // Stopped before its ledger was complete: the ledger keeps the items built so far, and
        // the historic batch counts only those, so its counters still add up.
        if let Some(key) = b.key {
            batch_item::delete_selection(&txn, key).await?;
        }
        historic_batch::set_total_items(&txn, id, b.built_items()).await?;
    }
    if let Some(user) = &principal.user_id {
        op_log::write(
            &txn,
            user,
            "Batch",
            "Delete",
            Some(id),
            &[(Some("cascadeToHistory"), Some(cascade.to_string()))],
        )
        .await?;
    }
    if cascade {
        historic_batch::delete(&txn, id).await?;
        batch_item::delete_of_batch(&txn, id).await?;
    } else {
        historic_batch::end_if_open(&txn, id).await?;
    }
    txn.commit().await?;
    Ok(true)
}

/// Deletes historic batch `id` and its item ledger; a runtime batch of the same id is kept.
/// `false` when there is no such historic batch.
pub async fn delete_historic(db: &DatabaseConnection, principal: &Principal, id: &str) -> Result<bool, Error> {
    let Some(h) = historic_batch::find(db, id).await? else { return Ok(false) };
    if !h.info.within_tenants_of(principal) {
        return Ok(false);
    }
    if let Some(denied) = principal.check(db, &[(Permission::DeleteHistory, Resource::Batch, Some(id))]).await? {
        return Err(Error::Forbidden(denied));
    }
    let txn = db.begin().await?;
    if !historic_batch::delete(&txn, id).await? {
        return Ok(false);
    }
    if let Some(user) = &principal.user_id {
        op_log::write(&txn, user, "Batch", "DeleteHistory", Some(id), &[(None, None)]).await?;
    }
    batch_item::delete_of_batch(&txn, id).await?;
    txn.commit().await?;
    Ok(true)
}

/// Sets the retries of one open job; `None` when there is no such job (or it is done, which
/// the job API treats the same way). A failed job given retries goes back to pending, its
/// failed items with it, and is enqueued again; a pending job set to 0 retries becomes failed,
/// as a Camunda job at 0 retries is no longer acquired. A running job only gets the new count:
/// its worker owns it.
pub async fn set_job_retries(
    db: &DatabaseConnection,
    outbox: &OutboxWriter,
    principal: &Principal,
    job_id: &str,
    retries: i32,
) -> Result<Option<Vec<StoredMessage>>, Error> {
    let txn = db.begin().await?;
    let Some(job) = batch_job::find_open_for_update(&txn, job_id).await? else {
        return Ok(None);
    };
    if !allowed(&txn, principal, &job.batch_id, Permission::Update).await? {
        return Ok(None);
    }
    let state = match job.state {
        JobState::Failed if retries > 0 => JobState::Pending,
        JobState::Pending if retries == 0 => JobState::Failed,
        other => other,
    };
    let ids = [job.id.clone()];
    batch_job::set_state_and_retries(&txn, &ids, &[job.state], state, retries).await?;
    let mut messages = Vec::new();
    if job.state == JobState::Failed && state == JobState::Pending {
        batch_item::reopen_failed_of_jobs(&txn, &ids).await?;
        messages = outbox.jobs(&job.batch_id, &[job.seq]);
    }
    Ok(Some(outbox.commit(txn, messages).await?))
}

/// `PUT /job-definition/{id}/retries` for a batch job definition: every failed job of the
/// batch goes back to pending with `retries` (when > 0), its failed items with it, and is
/// enqueued again. An unknown id changes nothing.
pub async fn set_definition_retries(
    db: &DatabaseConnection,
    outbox: &OutboxWriter,
    principal: &Principal,
    job_definition_id: &str,
    retries: i32,
) -> Result<Vec<StoredMessage>, Error> {
    if retries == 0 {
        // Failed jobs already have 0 retries: nothing changes.
        return Ok(Vec::new());
    }
    let txn = db.begin().await?;
    let jobs = batch_job::failed_of_definition_for_update(&txn, job_definition_id).await?;
    let Some(first) = jobs.first() else { return Ok(Vec::new()) };
    let batch_id = first.batch_id.clone();
    if !allowed(&txn, principal, &batch_id, Permission::Update).await? {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
    let seqs: Vec<i32> = jobs.iter().map(|j| j.seq).collect();
    batch_job::set_state_and_retries(&txn, &ids, &[JobState::Failed], JobState::Pending, retries).await?;
    batch_item::reopen_failed_of_jobs(&txn, &ids).await?;
    Ok(outbox.commit(txn, outbox.jobs(&batch_id, &seqs)).await?)
}

/// What [`retry_failed_items`] reopened.
#[derive(Debug)]
pub struct RetriedItems {
    /// Items put back to pending.
    pub items: u64,
    /// Jobs put back to pending and enqueued.
    pub jobs: usize,
    /// The committed job messages.
    pub messages: Vec<StoredMessage>,
}

/// `POST /batch/{id}/retry-failed-items`: puts the failed items of runtime batch `id` back to
/// pending and every created job containing one back to pending with `retries`, and enqueues
/// exactly those jobs; `None` when the batch does not exist. The batch row is locked first
/// (serialising concurrent retries and suspension changes), then jobs, then items: the order
/// the worker takes them in.
pub async fn retry_failed_items(
    db: &DatabaseConnection,
    outbox: &OutboxWriter,
    principal: &Principal,
    id: &str,
    retries: i32,
) -> Result<Option<RetriedItems>, Error> {
    if !allowed(db, principal, id, Permission::Update).await? {
        return Ok(None);
    }
    let txn = db.begin().await?;
    if batch::find_for_update(&txn, id).await?.is_none() {
        return Ok(None);
    }
    let jobs = batch_job::with_failed_items_for_update(&txn, id).await?;
    let ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
    let seqs: Vec<i32> = jobs.iter().map(|j| j.seq).collect();
    let mut items = 0;
    if !ids.is_empty() {
        batch_job::set_state_and_retries(&txn, &ids, &[JobState::Done, JobState::Failed], JobState::Pending, retries)
            .await?;
        items = batch_item::reopen_failed_of_jobs(&txn, &ids).await?;
    }
    let messages = outbox.commit(txn, outbox.jobs(id, &seqs)).await?;
    Ok(Some(RetriedItems { items, jobs: seqs.len(), messages }))
}

//! Control of existing batches: suspension, deletion (runtime and historic), the retries
//! of failed jobs and items, and steering (limits, priorities). Each function is one transaction; those that re-enqueue work
//! return the committed outbox rows to publish.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use crate::Error;
use crate::auth::{Permission, Principal, Resource};
use crate::control::SteeringPatch;
use crate::db::batch::Batch;
use crate::db::batch_job::JobState;
use crate::db::job_log::{self, Jobs, LogState};
use crate::db::op_log;
use crate::db::outbox::{OutboxWriter, StoredMessage};
use crate::db::{batch, batch_control, batch_item, batch_job, historic_batch};
use crate::messages::WorkMessage;

/// A change of due date: `None` leaves it, `Some(None)` clears it (due at once), `Some(Some(t))`
/// sets it.
pub type DueDateChange = Option<Option<DateTime<Utc>>>;

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
pub async fn delete(
    db: &DatabaseConnection,
    principal: &Principal,
    id: &str,
    cascade: bool,
    batch_ttl_days: Option<i32>,
) -> Result<bool, Error> {
    if !allowed(db, principal, id, Permission::Delete).await? {
        return Ok(false);
    }
    let txn = db.begin().await?;
    let Some(b) = batch::find_for_update(&txn, id).await? else { return Ok(false) };
    // Camunda logs the deletion of every job the batch still had.
    job_log::write(&txn, id, Jobs::Open, LogState::Deleted, None).await?;
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
        job_log::delete_of_batch(&txn, id).await?;
    } else {
        historic_batch::end_if_open(&txn, id, batch_ttl_days).await?;
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
    job_log::delete_of_batch(&txn, id).await?;
    txn.commit().await?;
    Ok(true)
}

/// Sets the retries of one open job; `None` when there is no such job (or it is done, which
/// the job API treats the same way). A failed job given retries goes back to pending, its
/// failed items with it, and is enqueued again; a pending job set to 0 retries becomes failed,
/// as a Camunda job at 0 retries is no longer acquired. A running job only gets the new count:
/// its worker owns it. `Some(due)` sets the due date (`Some(None)` clears it): a worker does
/// not run the job before it.
pub async fn set_job_retries(
    db: &DatabaseConnection,
    outbox: &OutboxWriter,
    principal: &Principal,
    job_id: &str,
    retries: i32,
    due_date: DueDateChange,
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
    batch_job::set_state_and_retries(&txn, &ids, &[job.state], state, retries, due_date).await?;
    let mut messages = Vec::new();
    if job.state == JobState::Failed && state == JobState::Pending {
        batch_item::reopen_failed_of_jobs(&txn, &ids).await?;
        messages = outbox.jobs(&job.batch_id, &[job.seq]);
    }
    Ok(Some(outbox.commit(txn, messages).await?))
}

/// `PUT /job-definition/{id}/retries` for a batch job definition: every failed job of the
/// batch goes back to pending with `retries` (when > 0), its failed items with it, and is
/// enqueued again, with `Some(due)` due then (`Some(None)`: at once). An unknown id changes
/// nothing.
pub async fn set_definition_retries(
    db: &DatabaseConnection,
    outbox: &OutboxWriter,
    principal: &Principal,
    job_definition_id: &str,
    retries: i32,
    due_date: DueDateChange,
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
    batch_job::set_state_and_retries(&txn, &ids, &[JobState::Failed], JobState::Pending, retries, due_date).await?;
    batch_item::reopen_failed_of_jobs(&txn, &ids).await?;
    Ok(outbox.commit(txn, outbox.jobs(&batch_id, &seqs)).await?)
}

/// `DELETE /job/{id}`: deletes an open batch job the Camunda way — it counts as completed, and
/// its instances are never processed: its still-pending items become `skipped` with the reason
/// `job <id> was deleted` (failed ones stay failed), so the ledger and the job counters keep
/// adding up, and a monitor message lets the batch complete. `None` when there is no such job.
/// A job a worker is executing is waited for; it is then done, and not found.
pub async fn delete_job(
    db: &DatabaseConnection,
    outbox: &OutboxWriter,
    principal: &Principal,
    job_id: &str,
) -> Result<Option<Vec<StoredMessage>>, Error> {
    let txn = db.begin().await?;
    let Some(job) = batch_job::find_open_for_update(&txn, job_id).await? else {
        return Ok(None);
    };
    if !allowed(&txn, principal, &job.batch_id, Permission::Update).await? {
        return Ok(None);
    }
    let Some(b) = batch::find(&txn, &job.batch_id).await? else { return Ok(None) };
    let range = b.job_range(job.seq);
    batch_item::skip_pending(&txn, &job.batch_id, range, &format!("job {job_id} was deleted")).await?;
    job_log::write(&txn, &job.batch_id, Jobs::Seqs(&[job.seq]), LogState::Deleted, None).await?;
    batch_job::finish(&txn, &job.batch_id, job.seq, range, JobState::Done, job.exception_msg.as_deref()).await?;
    if let Some(user) = &principal.user_id {
        op_log::write(&txn, user, "Job", "Delete", Some(&job.batch_id), &[(None, None)]).await?;
    }
    let monitor = outbox.work(&WorkMessage::MonitorV1 { batch_id: job.batch_id.clone() });
    Ok(Some(outbox.commit(txn, vec![monitor]).await?))
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
        batch_job::set_state_and_retries(
            &txn,
            &ids,
            &[JobState::Done, JobState::Failed],
            JobState::Pending,
            retries,
            None,
        )
        .await?;
        items = batch_item::reopen_failed_of_jobs(&txn, &ids).await?;
    }
    let messages = outbox.commit(txn, outbox.jobs(id, &seqs)).await?;
    Ok(Some(RetriedItems { items, jobs: seqs.len(), messages }))
}

/// `PATCH /batch/{id}`: applies `patch` to runtime batch `id` (UPDATE on the batch, like
/// suspension) and returns it with the committed messages; `None` when it does not exist. A
/// changed priority also becomes that of every open job (the batch-job definition's priority
/// with `includeJobs`). Every open job is enqueued once more, so a job parked for a long time
/// (outside its window, or far behind a low rate) runs under the new limits within seconds;
/// the handler is idempotent, so the extra messages change nothing else. One `Update` row per
/// changed field goes to the operation log.
pub async fn steer(
    db: &DatabaseConnection,
    outbox: &OutboxWriter,
    principal: &Principal,
    id: &str,
    patch: &SteeringPatch,
    default_priority: i64,
) -> Result<Option<(Batch, Vec<StoredMessage>)>, Error> {
    if !allowed(db, principal, id, Permission::Update).await? {
        return Ok(None);
    }
    let txn = db.begin().await?;
    if let Some((_, _, zone)) = patch.window.as_ref().and_then(Option::as_ref)
        && !crate::control::window::zone_known(&txn, zone).await?
    {
        return Err(Error::invalid(format!(
            "runWindow.timeZone '{}' is not a known time zone",
            zone.chars().take(64).collect::<String>()
        )));
    }
    let Some(b) = batch_control::update(&txn, id, patch, default_priority).await? else {
        return Ok(None);
    };
    if patch.priority.is_some() {
        batch_job::set_priority_of_batch(&txn, id, b.steering.priority).await?;
    }
    batch_control::copy_to_history(&txn, id).await?;
    if let Some(user) = &principal.user_id {
        let mut changes: Vec<op_log::Change> = Vec::new();
        if let Some(rate) = patch.max_rate {
            changes.push((Some("maxInstancesPerSecond"), rate.map(|r| r.to_string())));
        }
        if let Some(n) = patch.max_concurrent_jobs {
            changes.push((Some("maxConcurrentJobs"), n.map(|n| n.to_string())));
        }
        if patch.priority.is_some() {
            changes.push((Some("priority"), Some(b.steering.priority.to_string())));
        }
        if patch.window.is_some() {
            let window = b.steering.run_window().map(|w| serde_json::to_string(&w).unwrap_or_default());
            changes.push((Some("runWindow"), window));
        }
        op_log::write(&txn, user, "Batch", "Update", Some(id), &changes).await?;
    }
    let messages = if b.suspended { Vec::new() } else { outbox.jobs(id, &batch_job::open_seqs(&txn, id).await?) };
    let stored = outbox.commit(txn, messages).await?;
    Ok(Some((b, stored)))
}

/// `PUT /job/{id}/priority`: sets the priority of one open job (UPDATE on its batch); `false`
/// when there is no such job. Within its batch, a job of higher priority runs first.
pub async fn set_job_priority(
    db: &DatabaseConnection,
    principal: &Principal,
    job_id: &str,
    priority: i64,
) -> Result<bool, Error> {
    let txn = db.begin().await?;
    let Some(job) = batch_job::find_open_for_update(&txn, job_id).await? else {
        return Ok(false);
    };
    if !allowed(&txn, principal, &job.batch_id, Permission::Update).await? {
        return Ok(false);
    }
    batch_job::set_priority(&txn, job_id, priority).await?;
    if let Some(user) = &principal.user_id {
        op_log::write(
            &txn,
            user,
            "Job",
            "SetPriority",
            Some(&job.batch_id),
            &[(Some("priority"), Some(priority.to_string()))],
        )
        .await?;
    }
    txn.commit().await?;
    Ok(true)
}

/// `PUT /job-definition/{id}/jobPriority` for a batch-job definition: the definition's
/// priority *is* the batch's priority (it weighs the batch's share and is given to the jobs
/// the seed creates from now on); `None` clears the override, back to
/// `control.default_priority`. With `include_jobs` every open job of the batch takes it too.
/// `false` when no runtime batch has this job definition.
pub async fn set_definition_priority(
    db: &DatabaseConnection,
    principal: &Principal,
    job_definition_id: &str,
    priority: Option<i64>,
    include_jobs: bool,
    default_priority: i64,
) -> Result<bool, Error> {
    let Some(batch_id) = batch::id_of_job_definition(db, job_definition_id).await? else {
        return Ok(false);
    };
    if !allowed(db, principal, &batch_id, Permission::Update).await? {
        return Ok(false);
    }
    let txn = db.begin().await?;
    let patch = SteeringPatch { priority: Some(priority), ..Default::default() };
    let Some(b) = batch_control::update(&txn, &batch_id, &patch, default_priority).await? else {
        return Ok(false);
    };
    if include_jobs {
        batch_job::set_priority_of_batch(&txn, &batch_id, b.steering.priority).await?;
    }
    batch_control::copy_to_history(&txn, &batch_id).await?;
    if let Some(user) = &principal.user_id {
        let changes = [
            (Some("overridingPriority"), priority.map(|p| p.to_string())),
            (Some("includeJobs"), Some(include_jobs.to_string())),
        ];
        op_log::write(&txn, user, "JobDefinition", "SetPriority", Some(&batch_id), &changes).await?;
    }
    txn.commit().await?;
    Ok(true)
}

//! `SWEEP_BATCH`: runtime deletion batches, and every statement on that table. The columns a
//! runtime batch shares with its historic row are [`BatchInfo`]; statistics read the job and
//! item tables too, but only this module writes `SWEEP_BATCH`.

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement, Value};

use super::batch_control::BatchSteering;
use super::batch_item::{ITEMS_OF_JOB, ItemState};
use super::batch_job::JobState;
use super::listing::{self, BatchFilterCore, BatchSortKey, Filter, Page, Sort};
use crate::camunda::{BatchDto, BatchStatisticsDto, format_date};
use crate::deletion::DeleteOptions;
use crate::query::SqlBuilder;

/// Camunda's type string of deletion batches.
pub const TYPE_INSTANCE_DELETION: &str = "instance-deletion";

/// The columns of [`BatchInfo`], on the batch table aliased `b`.
macro_rules! info_columns {
    () => {
        "b.id_, b.type_, b.total_jobs_, b.jobs_per_seed_, b.invocations_per_job_, b.seed_job_def_id_, \
         b.monitor_job_def_id_, b.batch_job_def_id_, b.tenant_id_, b.create_user_id_, b.start_time_, \
         b.exec_start_time_, b.total_items_, b.idempotency_key_, b.request_hash_, b.tenant_ids_"
    };
}
pub(crate) use info_columns;

/// Columns selected for [`Batch`].
pub(crate) const COLUMNS: &str = concat!(
    info_columns!(),
    ", b.jobs_created_, b.suspended_, b.delete_reason_, b.skip_custom_listeners_, b.skip_subprocesses_, \
     b.skip_io_mappings_, b.fail_if_not_exists_, b.key_, b.snapshot_remaining_, b.called_items_, ",
    super::batch_control::steering_columns!()
);

/// What a runtime batch and its historic row have in common.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct BatchInfo {
    /// Batch id.
    #[sea_orm(alias = "id_")]
    pub id: String,
    /// Batch type.
    #[sea_orm(alias = "type_")]
    pub kind: String,
    /// Total jobs.
    #[sea_orm(alias = "total_jobs_")]
    pub total_jobs: i32,
    /// Jobs per seed run.
    #[sea_orm(alias = "jobs_per_seed_")]
    pub jobs_per_seed: i32,
    /// Items per job.
    #[sea_orm(alias = "invocations_per_job_")]
    pub invocations_per_job: i32,
    /// Seed job definition id.
    #[sea_orm(alias = "seed_job_def_id_")]
    pub seed_job_def_id: String,
    /// Monitor job definition id.
    #[sea_orm(alias = "monitor_job_def_id_")]
    pub monitor_job_def_id: String,
    /// Batch job definition id.
    #[sea_orm(alias = "batch_job_def_id_")]
    pub batch_job_def_id: String,
    /// Tenant.
    #[sea_orm(alias = "tenant_id_")]
    pub tenant_id: Option<String>,
    /// Creator.
    #[sea_orm(alias = "create_user_id_")]
    pub create_user_id: Option<String>,
    /// Created at.
    #[sea_orm(alias = "start_time_")]
    pub start_time: DateTime<Utc>,
    /// First job started at.
    #[sea_orm(alias = "exec_start_time_")]
    pub exec_start_time: Option<DateTime<Utc>>,
    /// Selected instances.
    #[sea_orm(alias = "total_items_")]
    pub total_items: i64,
    /// Idempotency key of the creating request.
    #[sea_orm(alias = "idempotency_key_")]
    pub idempotency_key: Option<String>,
    /// Hash of the creating request body.
    #[sea_orm(alias = "request_hash_")]
    pub request_hash: Option<String>,
    /// The tenants of the selected instances (never shown: `tenantId` stays null, as in Camunda).
    #[sea_orm(alias = "tenant_ids_")]
    pub tenant_ids: Vec<String>,
}

impl BatchInfo {
    /// Whether `principal`'s tenant check lets it see this batch: it belongs to every tenant of
    /// the batch. The SQL twin is [`Principal::push_batch_visible`](crate::auth::Principal::push_batch_visible).
    pub fn within_tenants_of(&self, principal: &crate::auth::Principal) -> bool {
        !principal.tenant_check || self.tenant_id.iter().chain(&self.tenant_ids).all(|t| principal.tenants.contains(t))
    }

    /// Item sequence numbers `(low, high]` of job `job_seq` (1-based). The one place the
    /// job → items formula lives in Rust; [`ITEMS_OF_JOB`] is its SQL twin.
    pub fn job_range(&self, job_seq: i32) -> (i64, i64) {
        let per = i64::from(self.invocations_per_job);
        let low = (i64::from(job_seq) - 1) * per;
        (low, (low + per).min(self.total_items))
    }

    /// Camunda's `BatchDto`, the one builder of it (runtime batches and completed ones alike).
    pub fn to_dto(&self, jobs_created: i32, suspended: bool) -> BatchDto {
        BatchDto {
            id: self.id.clone(),
            kind: self.kind.clone(),
            total_jobs: self.total_jobs,
            jobs_created,
            batch_jobs_per_seed: self.jobs_per_seed,
            invocations_per_batch_job: self.invocations_per_job,
            seed_job_definition_id: self.seed_job_def_id.clone(),
            monitor_job_definition_id: self.monitor_job_def_id.clone(),
            batch_job_definition_id: self.batch_job_def_id.clone(),
            suspended,
            tenant_id: self.tenant_id.clone(),
            create_user_id: self.create_user_id.clone(),
            start_time: Some(format_date(self.start_time)),
            execution_start_time: self.exec_start_time.map(format_date),
            max_instances_per_second: None,
            max_concurrent_jobs: None,
            priority: 0,
            run_window: None,
            waiting_for_window: false,
        }
    }
}

/// A row of `SWEEP_BATCH`.
#[derive(Debug, Clone, PartialEq, FromQueryResult)]
pub struct Batch {
    /// What it shares with its historic row.
    #[sea_orm(nested)]
    pub info: BatchInfo,
    /// Jobs created so far.
    #[sea_orm(alias = "jobs_created_")]
    pub jobs_created: i32,
    /// Suspended?
    #[sea_orm(alias = "suspended_")]
    pub suspended: bool,
    /// How instances are deleted.
    #[sea_orm(nested)]
    pub options: DeleteOptions,
    /// `skipIoMappings` as requested (no effect in Sweep).
    #[sea_orm(alias = "skip_io_mappings_")]
    pub skip_io_mappings: bool,
    /// Names the batch's rows of the selection table (see [`super::batch_item::snapshot`]);
    /// `None` for batches created before that table existed.
    #[sea_orm(alias = "key_")]
    pub key: Option<i64>,
    /// Selected instances not moved into the item ledger yet (the last ones, in sequence
    /// order); while it is above 0, jobs exist only for the chunks built so far, and only
    /// without [`Self::called_items`].
    #[sea_orm(alias = "snapshot_remaining_")]
    pub snapshot_remaining: i64,
    /// Some selected instance is called by another: its item may be marked deleted by the
    /// job deleting its caller, so no job starts before the whole ledger exists. Without
    /// one, a chunk's jobs are created as soon as the chunk is built (seed handler).
    #[sea_orm(alias = "called_items_")]
    pub called_items: bool,
    /// Its limits (Sweep extension).
    #[sea_orm(nested)]
    pub steering: BatchSteering,
}

impl Batch {
    /// Items in the ledger so far: sequence numbers `1..=built_items()`.
    pub fn built_items(&self) -> i64 {
        self.info.total_items - self.snapshot_remaining
    }

    /// Camunda's representation, with Sweep's steering fields.
    pub fn to_dto(&self) -> BatchDto {
        let s = &self.steering;
        BatchDto {
            max_instances_per_second: s.max_rate,
            max_concurrent_jobs: s.max_concurrent_jobs,
            priority: s.priority,
            run_window: s.run_window(),
            waiting_for_window: !s.window_open,
            ..self.info.to_dto(self.jobs_created, self.suspended)
        }
    }

    /// Item sequence numbers `(low, high]` of job `job_seq`.
    pub fn job_range(&self, job_seq: i32) -> (i64, i64) {
        self.info.job_range(job_seq)
    }
}

/// What a new batch row holds; the rest is defaulted or derived.
#[derive(Debug, Clone)]
pub struct NewBatch {
    /// Batch id.
    pub id: String,
    /// Total jobs.
    pub total_jobs: i32,
    /// Jobs per seed run.
    pub jobs_per_seed: i32,
    /// Items per job.
    pub invocations_per_job: i32,
    /// How instances are deleted.
    pub options: DeleteOptions,
    /// `skipIoMappings` as requested.
    pub skip_io_mappings: bool,
    /// Selected instances.
    pub total_items: i64,
    /// Idempotency key of the creating request.
    pub idempotency_key: Option<String>,
    /// Hash of the creating request body.
    pub request_hash: String,
    /// The authenticated user creating it.
    pub create_user_id: Option<String>,
    /// The tenants of the selected instances.
    pub tenant_ids: Vec<String>,
    /// Its limits.
    pub steering: crate::control::Steering,
    /// Key of its rows in the selection table.
    pub key: i64,
    /// Selected instances not in the item ledger yet.
    pub snapshot_remaining: i64,
    /// Some selected instance is called by another ([`Batch::called_items`]).
    pub called_items: bool,
}

fn select(tail: &str) -> String {
    format!("SELECT {COLUMNS} FROM sweep_batch b {tail}")
}

async fn one(db: &impl ConnectionTrait, sql: String, values: Vec<Value>) -> Result<Option<Batch>, DbErr> {
    let row = db.query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    row.map(|r| Batch::from_query_result(&r, "")).transpose()
}

/// Loads a runtime batch.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Batch>, DbErr> {
    one(db, select("WHERE b.id_ = $1"), vec![id.into()]).await
}

/// Loads a runtime batch and locks its row until the caller's transaction ends; seed,
/// monitor, suspension and retries of one batch serialise on it.
pub async fn find_for_update(db: &impl ConnectionTrait, id: &str) -> Result<Option<Batch>, DbErr> {
    one(db, select("WHERE b.id_ = $1 FOR UPDATE"), vec![id.into()]).await
}

/// Inserts a new batch with fresh job definition ids and returns it.
pub async fn insert(txn: &impl ConnectionTrait, new: &NewBatch) -> Result<Batch, DbErr> {
    let fresh = || uuid::Uuid::new_v4().to_string();
    let o = &new.options;
    let values: Vec<Value> = vec![
        new.id.clone().into(),
        TYPE_INSTANCE_DELETION.into(),
        new.total_jobs.into(),
        new.jobs_per_seed.into(),
        new.invocations_per_job.into(),
        fresh().into(),
        fresh().into(),
        fresh().into(),
        Utc::now().into(),
        o.delete_reason.clone().into(),
        o.skip_custom_listeners.into(),
        o.skip_subprocesses.into(),
        new.skip_io_mappings.into(),
        o.fail_if_not_exists.into(),
        new.total_items.into(),
        new.idempotency_key.clone().into(),
        new.request_hash.clone().into(),
        new.create_user_id.clone().into(),
        Value::from(new.tenant_ids.clone()),
        new.steering.max_rate.into(),
        new.steering.max_concurrent_jobs.into(),
        new.steering.priority.into(),
        new.steering.window.as_ref().map(|w| w.0).into(),
        new.steering.window.as_ref().map(|w| w.1).into(),
        new.steering.window.as_ref().map(|w| w.2.clone()).into(),
        new.key.into(),
        new.snapshot_remaining.into(),
        new.called_items.into(),
    ];
    let sql = format!(
        "INSERT INTO sweep_batch AS b (id_, type_, total_jobs_, jobs_per_seed_, invocations_per_job_,
             seed_job_def_id_, monitor_job_def_id_, batch_job_def_id_, start_time_, delete_reason_,
             skip_custom_listeners_, skip_subprocesses_, skip_io_mappings_, fail_if_not_exists_,
             total_items_, idempotency_key_, request_hash_, create_user_id_, tenant_ids_,
             max_rate_, max_concurrent_jobs_, priority_, window_start_, window_end_, window_tz_, key_, snapshot_remaining_,
             called_items_)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                 $20, $21, $22, $23, $24, $25, $26, $27, $28)
         RETURNING {COLUMNS}"
    );
    one(txn, sql, values).await?.ok_or_else(|| DbErr::RecordNotInserted)
}

/// Records that jobs up to `jobs_created` exist.
pub async fn set_jobs_created(txn: &impl ConnectionTrait, id: &str, jobs_created: i32) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE sweep_batch SET jobs_created_ = $2 WHERE id_ = $1",
        [id.into(), jobs_created.into()],
    ))
    .await?;
    Ok(())
}

/// A fresh key for a new batch's rows in the selection table.
pub async fn next_key(txn: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let row = txn
        .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT nextval('sweep_batch_key_seq') AS k"))
        .await?
        .ok_or(DbErr::RecordNotFound("sweep_batch_key_seq".into()))?;
    row.try_get("", "k")
}

/// Records how many selected instances are not in the item ledger yet.
pub async fn set_snapshot_remaining(txn: &impl ConnectionTrait, id: &str, remaining: i64) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE sweep_batch SET snapshot_remaining_ = $2 WHERE id_ = $1",
        [id.into(), remaining.into()],
    ))
    .await?;
    Ok(())
}

/// Stamps the execution start of `id`, in its historic row and, unless another transaction
/// holds it, its runtime row, with the same moment: the first job to start sets it; later ones
/// change nothing. A seed run holds the runtime row while it builds a chunk of the ledger, and
/// the batch's first jobs start meanwhile: they do not wait for it (Camunda ignores the same
/// race between concurrent first jobs). One of the next jobs copies the historic value.
pub async fn mark_execution_started(txn: &impl ConnectionTrait, id: &str) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "WITH stamped AS (
             UPDATE sweep_hi_batch SET exec_start_time_ = now() WHERE id_ = $1 AND exec_start_time_ IS NULL
             RETURNING exec_start_time_)
         UPDATE sweep_batch
            SET exec_start_time_ = coalesce((SELECT exec_start_time_ FROM stamped),
                                            (SELECT h.exec_start_time_ FROM sweep_hi_batch h WHERE h.id_ = $1), now())
          WHERE id_ = (SELECT id_ FROM sweep_batch WHERE id_ = $1 AND exec_start_time_ IS NULL FOR UPDATE SKIP LOCKED)",
        [id.into()],
    ))
    .await?;
    Ok(())
}

/// Adds `n` items to the total of `id` (callers ended by upward propagation, appended to its
/// ledger after every job's items) and locks its row until the transaction ends. Returns the
/// sequence number after which they go: past the items of the last job.
pub async fn add_items(txn: &impl ConnectionTrait, id: &str, n: i64) -> Result<i64, DbErr> {
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE sweep_batch SET total_items_ = total_items_ + $2 WHERE id_ = $1
             RETURNING total_jobs_::bigint * invocations_per_job_ AS after_jobs",
            [id.into(), n.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("batch {id}")))?;
    row.try_get("", "after_jobs")
}

/// Sets or clears `suspended_`; `None` when the batch does not exist.
pub async fn set_suspended(db: &impl ConnectionTrait, id: &str, suspended: bool) -> Result<Option<Batch>, DbErr> {
    let sql = format!("UPDATE sweep_batch b SET suspended_ = $2 WHERE b.id_ = $1 RETURNING {COLUMNS}");
    one(db, sql, vec![id.into(), suspended.into()]).await
}

/// The runtime batch whose batch-job definition is `job_definition_id`.
pub async fn id_of_job_definition(db: &impl ConnectionTrait, job_definition_id: &str) -> Result<Option<String>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id_ FROM sweep_batch WHERE batch_job_def_id_ = $1",
            [job_definition_id.into()],
        ))
        .await?;
    row.map(|r| r.try_get("", "id_")).transpose()
}

/// Deletes a runtime batch (its jobs cascade); `false` when it does not exist.
pub async fn delete(db: &impl ConnectionTrait, id: &str) -> Result<bool, DbErr> {
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM sweep_batch WHERE id_ = $1",
            [id.into()],
        ))
        .await?;
    Ok(result.rows_affected() > 0)
}

/// Whether a runtime or a historic batch `id` exists (the item ledger outlives the runtime
/// batch, and a historic batch may be deleted while its runtime batch runs).
pub async fn known(db: &impl ConnectionTrait, id: &str) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT EXISTS (SELECT 1 FROM sweep_batch WHERE id_ = $1)
                 OR EXISTS (SELECT 1 FROM sweep_hi_batch WHERE id_ = $1) AS known",
            [id.into()],
        ))
        .await?;
    row.map_or(Ok(false), |r| r.try_get("", "known"))
}

/// Filters of `GET /batch` and `GET /batch/statistics`. The API fills the statistics-only
/// fields (`created_by` and below) only for the statistics endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchFilter {
    /// What runtime and historic batches share.
    pub core: BatchFilterCore,
    /// `suspended`: `Some(false)` selects active batches.
    pub suspended: Option<bool>,
    /// `createdBy`
    pub created_by: Option<String>,
    /// `startedBefore` (inclusive)
    pub started_before: Option<DateTime<FixedOffset>>,
    /// `startedAfter` (inclusive)
    pub started_after: Option<DateTime<FixedOffset>>,
    /// `withFailures=true`: at least one failed job.
    pub with_failures: bool,
    /// `withoutFailures=true`: no failed job; wins over `with_failures`.
    pub without_failures: bool,
}

impl Filter for BatchFilter {
    fn conditions(&self, sql: &mut SqlBuilder) {
        self.core.conditions(sql);
        listing::tri_state(sql, self.suspended, "b.suspended_");
        if let Some(user) = &self.created_by {
            sql.push(" AND b.create_user_id_ = ").bind(user.clone());
        }
        listing::time_bound(sql, "b.start_time_", "<=", self.started_before);
        listing::time_bound(sql, "b.start_time_", ">=", self.started_after);
        let failures = if self.without_failures { Some(false) } else { self.with_failures.then_some(true) };
        if let Some(with) = failures {
            sql.push(&format!(
                " AND {}EXISTS (SELECT 1 FROM sweep_batch_job fj WHERE fj.batch_id_ = b.id_ AND fj.state_ = {})",
                if with { "" } else { "NOT " },
                JobState::Failed.literal()
            ));
        }
    }
}

/// Runtime batches matching `filter`, ordered and paged.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &BatchFilter,
    sort: Option<Sort<BatchSortKey>>,
    page: Page,
) -> Result<Vec<Batch>, DbErr> {
    listing::list(db, &select(""), filter, sort, "b.id_", page).await
}

/// Number of runtime batches matching `filter`.
pub async fn count(db: &impl ConnectionTrait, filter: &BatchFilter) -> Result<i64, DbErr> {
    listing::count(db, "FROM sweep_batch b", filter).await
}

/// Progress of one runtime batch, read in one statement (one snapshot), so the instance
/// counters add up and equal the ledger's `GROUP BY state_` at that moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchProgress {
    /// Jobs not done, plus jobs not created yet.
    pub remaining_jobs: i32,
    /// Jobs without retries left.
    pub failed_jobs: i32,
    /// Items still pending (not in a running job).
    pub pending: i64,
    /// Pending items of jobs a worker has started (or was interrupted in).
    pub running: i64,
    /// Items deleted.
    pub deleted: i64,
    /// Items skipped.
    pub skipped: i64,
    /// Items failed.
    pub failed: i64,
}

#[derive(FromQueryResult)]
struct ProgressRow {
    #[sea_orm(nested)]
    batch: Batch,
    remaining_jobs: i32,
    failed_jobs: i32,
    pending_items: i64,
    skipped_items: i64,
    failed_items: i64,
    running_items: i64,
}

/// Runtime batches matching `filter` with their progress, ordered and paged.
///
/// Job counters read the open-jobs partial index. Instance counters read the partial index of
/// non-deleted items, and `deleted` is the remainder of `total_items_`: deleted items are
/// the bulk of a finished batch, so this never scans them. Selected instances not moved into
/// the ledger yet (`snapshot_remaining_`) are pending: nothing can have processed them.
pub async fn list_with_progress(
    db: &impl ConnectionTrait,
    filter: &BatchFilter,
    sort: Option<Sort<BatchSortKey>>,
    page: Page,
) -> Result<Vec<(Batch, BatchProgress)>, DbErr> {
    // Page first, then aggregate only the batches of the page.
    let mut inner = listing::starting("SELECT b.* FROM sweep_batch b WHERE true");
    filter.conditions(&mut inner);
    listing::order_by(&mut inner, sort, "b.id_");
    page.apply(&mut inner);
    let mut sql = SqlBuilder::with_values(inner.values().to_vec());
    // States are literals, not parameters: only then can the planner match the partial
    // indexes on open jobs and non-deleted items, whatever plan it caches.
    let (pending, skipped, failed, deleted) = (
        ItemState::Pending.literal(),
        ItemState::Skipped.literal(),
        ItemState::Failed.literal(),
        ItemState::Deleted.literal(),
    );
    let (running, done, failed_job) =
        (JobState::Running.literal(), JobState::Done.literal(), JobState::Failed.literal());
    sql.push(&format!(
        "SELECT {COLUMNS},
                (coalesce(j.open, 0) + b.total_jobs_ - b.jobs_created_)::int AS remaining_jobs,
                coalesce(j.failed, 0)::int AS failed_jobs,
                coalesce(i.pending, 0) AS pending_items,
                coalesce(i.skipped, 0) AS skipped_items,
                coalesce(i.failed, 0) AS failed_items,
                coalesce(r.running, 0) AS running_items
           FROM ({inner}) b
           LEFT JOIN LATERAL (
                SELECT count(*) AS open, count(*) FILTER (WHERE state_ = {failed_job}) AS failed
                  FROM sweep_batch_job WHERE batch_id_ = b.id_ AND state_ <> {done}) j ON true
           LEFT JOIN LATERAL (
                SELECT count(*) FILTER (WHERE state_ = {pending}) AS pending,
                       count(*) FILTER (WHERE state_ = {skipped}) AS skipped,
                       count(*) FILTER (WHERE state_ = {failed}) AS failed
                  FROM sweep_batch_item WHERE batch_id_ = b.id_ AND state_ <> {deleted}) i ON true
           LEFT JOIN LATERAL (
                SELECT count(*) AS running
                  FROM sweep_batch_job j
                  JOIN sweep_batch_item i ON i.batch_id_ = j.batch_id_ AND {ITEMS_OF_JOB}
                 WHERE j.batch_id_ = b.id_ AND j.state_ = {running} AND i.state_ = {pending}) r ON true",
        inner = inner.sql(),
    ));
    listing::order_by(&mut sql, sort, "b.id_");
    let rows: Vec<ProgressRow> = listing::fetch_all(db, sql).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let progress = BatchProgress {
                remaining_jobs: r.remaining_jobs,
                failed_jobs: r.failed_jobs,
                pending: r.pending_items - r.running_items + r.batch.snapshot_remaining,
                running: r.running_items,
                skipped: r.skipped_items,
                failed: r.failed_items,
                deleted: r.batch.built_items() - r.pending_items - r.skipped_items - r.failed_items,
            };
            (r.batch, progress)
        })
        .collect())
}

/// Camunda's statistics representation of `batch` with `progress`.
pub fn statistics_dto(batch: &Batch, progress: &BatchProgress) -> BatchStatisticsDto {
    BatchStatisticsDto {
        batch: batch.to_dto(),
        remaining_jobs: progress.remaining_jobs,
        completed_jobs: batch.info.total_jobs - progress.remaining_jobs,
        failed_jobs: progress.failed_jobs,
        total_instances: batch.info.total_items,
        pending_instances: progress.pending,
        running_instances: progress.running,
        deleted_instances: progress.deleted,
        skipped_instances: progress.skipped,
        failed_instances: progress.failed,
    }
}

/// What is left to do, over every runtime batch, for the backlog metrics (see
/// [`crate::metrics::backlog`]). Jobs and items count only active (not suspended) batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, FromQueryResult)]
pub struct Backlog {
    /// Runtime batches not suspended.
    pub batches_running: i64,
    /// Suspended runtime batches.
    pub batches_suspended: i64,
    /// Pending jobs, plus jobs not created yet.
    pub jobs_pending: i64,
    /// Jobs a worker has started (or was interrupted in).
    pub jobs_running: i64,
    /// Jobs out of retries.
    pub jobs_failed: i64,
    /// Items of pending and running jobs, plus items of jobs not created yet.
    pub items_pending: i64,
}

/// The backlog, read in one statement.
///
/// It never counts items: a batch of millions has millions of item rows. Items of jobs not
/// created yet follow from the batch's counters (`total_items_` beyond `jobs_created_` jobs of
/// `invocations_per_job_`), and created jobs carry their item count (`items_`). Jobs are read
/// per runtime batch through the open-jobs partial index, so finished jobs cost nothing.
pub async fn backlog(db: &impl ConnectionTrait) -> Result<Backlog, DbErr> {
    let (pending, running, failed, done) = (
        JobState::Pending.literal(),
        JobState::Running.literal(),
        JobState::Failed.literal(),
        JobState::Done.literal(),
    );
    let sql = format!(
        "SELECT count(*) FILTER (WHERE NOT b.suspended_) AS batches_running,
                count(*) FILTER (WHERE b.suspended_) AS batches_suspended,
                coalesce(sum(greatest(b.total_jobs_ - b.jobs_created_, 0) + j.pending)
                    FILTER (WHERE NOT b.suspended_), 0)::bigint AS jobs_pending,
                coalesce(sum(j.running) FILTER (WHERE NOT b.suspended_), 0)::bigint AS jobs_running,
                coalesce(sum(j.failed) FILTER (WHERE NOT b.suspended_), 0)::bigint AS jobs_failed,
                coalesce(sum(greatest(least(b.total_items_, b.total_jobs_::bigint * b.invocations_per_job_)
                                  - b.jobs_created_::bigint * b.invocations_per_job_, 0) + j.items)
                    FILTER (WHERE NOT b.suspended_), 0)::bigint AS items_pending
           FROM sweep_batch b
           CROSS JOIN LATERAL (
                SELECT count(*) FILTER (WHERE state_ = {pending}) AS pending,
                       count(*) FILTER (WHERE state_ = {running}) AS running,
                       count(*) FILTER (WHERE state_ = {failed}) AS failed,
                       coalesce(sum(items_) FILTER (WHERE state_ IN ({pending}, {running})), 0) AS items
                  FROM sweep_batch_job WHERE batch_id_ = b.id_ AND state_ <> {done}) j"
    );
    let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await?;
    row.map_or(Ok(Backlog::default()), |r| Backlog::from_query_result(&r, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ranges_tile_the_items() {
        let mut info = BatchInfo {
            id: "b".into(),
            kind: TYPE_INSTANCE_DELETION.into(),
            total_jobs: 3,
            jobs_per_seed: 100,
            invocations_per_job: 10,
            seed_job_def_id: "s".into(),
            monitor_job_def_id: "m".into(),
            batch_job_def_id: "j".into(),
            tenant_id: None,
            create_user_id: None,
            start_time: Utc::now(),
            exec_start_time: None,
            total_items: 25,
            idempotency_key: None,
            request_hash: None,
            tenant_ids: vec![],
        };
        assert_eq!(info.job_range(1), (0, 10));
        assert_eq!(info.job_range(3), (20, 25));
        info.total_items = 30;
        assert_eq!(info.job_range(3), (20, 30));
    }
}

//! What the batch REST API reads and changes: filtered lists of runtime and historic batches
//! with their progress, the batch jobs seen through Camunda's job API, retries, suspension,
//! deletion and the item ledger. The worker's writes (claiming, finishing jobs) live with it.
//!
//! Every function takes `&impl ConnectionTrait`; functions that change several tables expect
//! the caller's transaction, so a change and the messages it causes commit together.

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement};

use super::state::{DELETED, DONE, FAILED, PENDING, RUNNING, SKIPPED};
use super::{BATCH_COLUMNS, Batch};
use crate::camunda::{BatchItemDto, BatchStatisticsDto, HistoricBatchDto, JobDto, format_date};
use crate::query::SqlBuilder;

/// A builder holding `text` (no values yet).
fn starting(text: impl AsRef<str>) -> SqlBuilder {
    let mut sql = SqlBuilder::new();
    sql.push(text.as_ref());
    sql
}

/// `ORDER BY` keys the batch endpoints accept. Every ordering ends with the id, so pages
/// never overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// `batchId`
    BatchId,
    /// `tenantId`
    TenantId,
    /// `startTime`
    StartTime,
    /// `endTime` (historic batches only)
    EndTime,
}

impl SortKey {
    fn column(self) -> &'static str {
        match self {
            SortKey::BatchId => "b.id_",
            SortKey::TenantId => "b.tenant_id_",
            SortKey::StartTime => "b.start_time_",
            SortKey::EndTime => "b.end_time_",
        }
    }
}

/// A requested ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort<K> {
    /// What to order by.
    pub key: K,
    /// Descending?
    pub desc: bool,
}

/// `firstResult` / `maxResults`; the default is everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Page {
    /// Rows to skip.
    pub first: i64,
    /// Rows to return at most; `None` for all.
    pub max: Option<i64>,
}

impl Page {
    fn apply(self, sql: &mut SqlBuilder) {
        if let Some(max) = self.max {
            sql.push(" LIMIT ").bind(max);
        }
        if self.first > 0 {
            sql.push(" OFFSET ").bind(self.first);
        }
    }
}

fn order_by(sql: &mut SqlBuilder, sort: Option<Sort<SortKey>>) {
    let direction = |desc: bool| if desc { "DESC" } else { "ASC" };
    match sort {
        Some(Sort { key: SortKey::BatchId, desc }) => {
            sql.push(&format!(" ORDER BY b.id_ {}", direction(desc)));
        }
        Some(Sort { key, desc }) => {
            sql.push(&format!(" ORDER BY {} {}, b.id_ ASC", key.column(), direction(desc)));
        }
        None => {
            sql.push(" ORDER BY b.id_ ASC");
        }
    }
}

/// Filters of `GET /batch` and `GET /batch/statistics`. The API fills the statistics-only
/// fields (`created_by` and below) only for the statistics endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchFilter {
    /// `batchId`
    pub batch_id: Option<String>,
    /// `type`
    pub kind: Option<String>,
    /// `tenantIdIn`; an empty list does not filter.
    pub tenant_ids: Vec<String>,
    /// `withoutTenantId=true`; wins over `tenantIdIn`, as in Camunda.
    pub without_tenant_id: bool,
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

impl BatchFilter {
    fn apply(&self, sql: &mut SqlBuilder) {
        sql.push(" WHERE true");
        if let Some(id) = &self.batch_id {
            sql.push(" AND b.id_ = ").bind(id.clone());
        }
        if let Some(kind) = &self.kind {
            sql.push(" AND b.type_ = ").bind(kind.clone());
        }
        tenant_condition(sql, &self.tenant_ids, self.without_tenant_id);
        match self.suspended {
            Some(true) => {
                sql.push(" AND b.suspended_");
            }
            Some(false) => {
                sql.push(" AND NOT b.suspended_");
            }
            None => {}
        }
        if let Some(user) = &self.created_by {
            sql.push(" AND b.create_user_id_ = ").bind(user.clone());
        }
        if let Some(at) = self.started_before {
            sql.push(" AND b.start_time_ <= ").bind(at.with_timezone(&Utc));
        }
        if let Some(at) = self.started_after {
            sql.push(" AND b.start_time_ >= ").bind(at.with_timezone(&Utc));
        }
        let failed_job =
            "EXISTS (SELECT 1 FROM sweep_batch_job fj WHERE fj.batch_id_ = b.id_ AND fj.state_ = 'failed')";
        if self.without_failures {
            sql.push(&format!(" AND NOT {failed_job}"));
        } else if self.with_failures {
            sql.push(&format!(" AND {failed_job}"));
        }
    }
}

fn tenant_condition(sql: &mut SqlBuilder, tenant_ids: &[String], without_tenant_id: bool) {
    if without_tenant_id {
        sql.push(" AND b.tenant_id_ IS NULL");
    } else if !tenant_ids.is_empty() {
        sql.push(" AND b.tenant_id_ = ANY(").bind(tenant_ids.to_vec()).push(")");
    }
}

fn prefixed_columns(alias: &str, columns: &str) -> String {
    columns.split(',').map(|c| format!("{alias}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

/// Runtime batches matching `filter`, ordered and paged.
pub async fn list_batches(
    db: &impl ConnectionTrait,
    filter: &BatchFilter,
    sort: Option<Sort<SortKey>>,
    page: Page,
) -> Result<Vec<Batch>, DbErr> {
    let mut sql = starting(format!("SELECT {} FROM sweep_batch b", prefixed_columns("b", BATCH_COLUMNS)));
    filter.apply(&mut sql);
    order_by(&mut sql, sort);
    page.apply(&mut sql);
    db.query_all_raw(sql.into_statement()).await?.iter().map(Batch::from_row).collect()
}

/// Number of runtime batches matching `filter`.
pub async fn count_batches(db: &impl ConnectionTrait, filter: &BatchFilter) -> Result<i64, DbErr> {
    let mut sql = starting("SELECT count(*) AS n FROM sweep_batch b");
    filter.apply(&mut sql);
    count(db, sql).await
}

async fn count(db: &impl ConnectionTrait, sql: SqlBuilder) -> Result<i64, DbErr> {
    let row = db.query_one_raw(sql.into_statement()).await?;
    row.map_or(Ok(0), |r| r.try_get("", "n"))
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

/// Runtime batches matching `filter` with their progress, ordered and paged.
///
/// Job counters read the open-jobs partial index. Instance counters read the partial index of
/// non-deleted items, and `deleted` is the remainder of `total_items_`: deleted items are
/// the bulk of a finished batch, so this never scans them.
pub async fn list_statistics(
    db: &impl ConnectionTrait,
    filter: &BatchFilter,
    sort: Option<Sort<SortKey>>,
    page: Page,
) -> Result<Vec<(Batch, BatchProgress)>, DbErr> {
    // Page first, then aggregate only the batches of the page.
    let mut sql = starting("SELECT b.* FROM sweep_batch b");
    filter.apply(&mut sql);
    order_by(&mut sql, sort);
    page.apply(&mut sql);
    let mut outer = SqlBuilder::with_values(sql.values().to_vec());
    outer.push(&format!(
        "SELECT {cols},
                    (coalesce(j.open, 0) + b.total_jobs_ - b.jobs_created_)::int AS remaining_jobs,
                    coalesce(j.failed, 0)::int AS failed_jobs,
                    coalesce(i.pending, 0) AS pending_items,
                    coalesce(i.skipped, 0) AS skipped_items,
                    coalesce(i.failed, 0) AS failed_items,
                    coalesce(r.running, 0) AS running_items
               FROM ({inner}) b
               LEFT JOIN LATERAL (
                    SELECT count(*) AS open, count(*) FILTER (WHERE state_ = '{FAILED}') AS failed
                      FROM sweep_batch_job WHERE batch_id_ = b.id_ AND state_ <> '{DONE}') j ON true
               LEFT JOIN LATERAL (
                    SELECT count(*) FILTER (WHERE state_ = '{PENDING}') AS pending,
                           count(*) FILTER (WHERE state_ = '{SKIPPED}') AS skipped,
                           count(*) FILTER (WHERE state_ = '{FAILED}') AS failed
                      FROM sweep_batch_item WHERE batch_id_ = b.id_ AND state_ <> '{DELETED}') i ON true
               LEFT JOIN LATERAL (
                    SELECT count(*) AS running
                      FROM sweep_batch_job rj
                      JOIN sweep_batch_item ri ON ri.batch_id_ = rj.batch_id_
                           AND ri.seq_ > (rj.seq_ - 1)::bigint * b.invocations_per_job_
                           AND ri.seq_ <= rj.seq_::bigint * b.invocations_per_job_
                     WHERE rj.batch_id_ = b.id_ AND rj.state_ = '{RUNNING}' AND ri.state_ = '{PENDING}') r ON true",
        cols = prefixed_columns("b", BATCH_COLUMNS),
        inner = sql.sql(),
    ));
    order_by(&mut outer, sort);
    let rows = db.query_all_raw(outer.into_statement()).await?;
    rows.iter()
        .map(|row| {
            let batch = Batch::from_row(row)?;
            let pending: i64 = row.try_get("", "pending_items")?;
            let skipped: i64 = row.try_get("", "skipped_items")?;
            let failed: i64 = row.try_get("", "failed_items")?;
            let running: i64 = row.try_get("", "running_items")?;
            let progress = BatchProgress {
                remaining_jobs: row.try_get("", "remaining_jobs")?,
                failed_jobs: row.try_get("", "failed_jobs")?,
                pending: pending - running,
                running,
                skipped,
                failed,
                deleted: batch.total_items - pending - skipped - failed,
            };
            Ok((batch, progress))
        })
        .collect()
}

/// Camunda's statistics representation of `batch` with `progress`.
pub fn statistics_dto(batch: &Batch, progress: &BatchProgress) -> BatchStatisticsDto {
    BatchStatisticsDto {
        batch: batch.to_dto(),
        remaining_jobs: progress.remaining_jobs,
        completed_jobs: batch.total_jobs - progress.remaining_jobs,
        failed_jobs: progress.failed_jobs,
        total_instances: batch.total_items,
        pending_instances: progress.pending,
        running_instances: progress.running,
        deleted_instances: progress.deleted,
        skipped_instances: progress.skipped,
        failed_instances: progress.failed,
    }
}

/// Sets or clears `suspended_`; `None` when the batch does not exist.
pub async fn set_suspended(db: &impl ConnectionTrait, id: &str, suspended: bool) -> Result<Option<Batch>, DbErr> {
    let sql = format!("UPDATE sweep_batch SET suspended_ = $2 WHERE id_ = $1 RETURNING {BATCH_COLUMNS}");
    let row = db
        .query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, [id.into(), suspended.into()]))
        .await?;
    row.as_ref().map(Batch::from_row).transpose()
}

/// Sequence numbers of the jobs of `batch_id` that still have to run (pending or running).
pub async fn open_job_seqs(db: &impl ConnectionTrait, batch_id: &str) -> Result<Vec<i32>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT seq_ FROM sweep_batch_job WHERE batch_id_ = $1 AND state_ IN ('{PENDING}', '{RUNNING}') ORDER BY seq_"
            ),
            [batch_id.into()],
        ))
        .await?;
    rows.iter().map(|r| r.try_get("", "seq_")).collect()
}

/// Deletes a runtime batch (its jobs cascade) and ends its historic batch; with `cascade`,
/// also deletes the historic batch and the item ledger. `false` when the batch does not exist.
/// Items still pending stay pending: the batch will not process them any more.
pub async fn delete_batch(db: &impl ConnectionTrait, id: &str, cascade: bool) -> Result<bool, DbErr> {
    let deleted = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM sweep_batch WHERE id_ = $1",
            [id.into()],
        ))
        .await?;
    if deleted.rows_affected() == 0 {
        return Ok(false);
    }
    let statements: &[&str] = if cascade {
        &["DELETE FROM sweep_hi_batch WHERE id_ = $1", "DELETE FROM sweep_batch_item WHERE batch_id_ = $1"]
    } else {
        &["UPDATE sweep_hi_batch SET end_time_ = now() WHERE id_ = $1 AND end_time_ IS NULL"]
    };
    for sql in statements {
        db.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, *sql, [id.into()])).await?;
    }
    Ok(true)
}

/// A row of `SWEEP_HI_BATCH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoricBatch {
    /// Batch id.
    pub id: String,
    /// Batch type.
    pub kind: String,
    /// Total jobs.
    pub total_jobs: i32,
    /// Jobs per seed run.
    pub jobs_per_seed: i32,
    /// Items per job.
    pub invocations_per_job: i32,
    /// Seed job definition id.
    pub seed_job_def_id: String,
    /// Monitor job definition id.
    pub monitor_job_def_id: String,
    /// Batch job definition id.
    pub batch_job_def_id: String,
    /// Tenant.
    pub tenant_id: Option<String>,
    /// Creator.
    pub create_user_id: Option<String>,
    /// Created at.
    pub start_time: DateTime<Utc>,
    /// Completed or deleted at.
    pub end_time: Option<DateTime<Utc>>,
    /// Removable from.
    pub removal_time: Option<DateTime<Utc>>,
    /// First job started at.
    pub exec_start_time: Option<DateTime<Utc>>,
    /// Selected instances.
    pub total_items: i64,
}

const HISTORIC_COLUMNS: &str = "b.id_, b.type_, b.total_jobs_, b.jobs_per_seed_, b.invocations_per_job_, \
    b.seed_job_def_id_, b.monitor_job_def_id_, b.batch_job_def_id_, b.tenant_id_, b.create_user_id_, \
    b.start_time_, b.end_time_, b.removal_time_, b.exec_start_time_, b.total_items_";

impl HistoricBatch {
    fn from_row(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.try_get("", "id_")?,
            kind: row.try_get("", "type_")?,
            total_jobs: row.try_get("", "total_jobs_")?,
            jobs_per_seed: row.try_get("", "jobs_per_seed_")?,
            invocations_per_job: row.try_get("", "invocations_per_job_")?,
            seed_job_def_id: row.try_get("", "seed_job_def_id_")?,
            monitor_job_def_id: row.try_get("", "monitor_job_def_id_")?,
            batch_job_def_id: row.try_get("", "batch_job_def_id_")?,
            tenant_id: row.try_get("", "tenant_id_")?,
            create_user_id: row.try_get("", "create_user_id_")?,
            start_time: row.try_get("", "start_time_")?,
            end_time: row.try_get("", "end_time_")?,
            removal_time: row.try_get("", "removal_time_")?,
            exec_start_time: row.try_get("", "exec_start_time_")?,
            total_items: row.try_get("", "total_items_")?,
        })
    }

    /// Camunda's representation.
    pub fn to_dto(&self) -> HistoricBatchDto {
        HistoricBatchDto {
            id: self.id.clone(),
            kind: self.kind.clone(),
            total_jobs: self.total_jobs,
            batch_jobs_per_seed: self.jobs_per_seed,
            invocations_per_batch_job: self.invocations_per_job,
            seed_job_definition_id: self.seed_job_def_id.clone(),
            monitor_job_definition_id: self.monitor_job_def_id.clone(),
            batch_job_definition_id: self.batch_job_def_id.clone(),
            tenant_id: self.tenant_id.clone(),
            create_user_id: self.create_user_id.clone(),
            start_time: format_date(self.start_time),
            end_time: self.end_time.map(format_date),
            removal_time: self.removal_time.map(format_date),
            execution_start_time: self.exec_start_time.map(format_date),
        }
    }
}

/// Filters of `GET /history/batch`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoricBatchFilter {
    /// `batchId`
    pub batch_id: Option<String>,
    /// `type`
    pub kind: Option<String>,
    /// `completed`: `Some(true)` ended, `Some(false)` not ended.
    pub completed: Option<bool>,
    /// `tenantIdIn`; an empty list does not filter.
    pub tenant_ids: Vec<String>,
    /// `withoutTenantId=true`
    pub without_tenant_id: bool,
}

impl HistoricBatchFilter {
    fn apply(&self, sql: &mut SqlBuilder) {
        sql.push(" WHERE true");
        if let Some(id) = &self.batch_id {
            sql.push(" AND b.id_ = ").bind(id.clone());
        }
        if let Some(kind) = &self.kind {
            sql.push(" AND b.type_ = ").bind(kind.clone());
        }
        match self.completed {
            Some(true) => {
                sql.push(" AND b.end_time_ IS NOT NULL");
            }
            Some(false) => {
                sql.push(" AND b.end_time_ IS NULL");
            }
            None => {}
        }
        tenant_condition(sql, &self.tenant_ids, self.without_tenant_id);
    }
}

/// Historic batches matching `filter`, ordered and paged.
pub async fn list_historic(
    db: &impl ConnectionTrait,
    filter: &HistoricBatchFilter,
    sort: Option<Sort<SortKey>>,
    page: Page,
) -> Result<Vec<HistoricBatch>, DbErr> {
    let mut sql = starting(format!("SELECT {HISTORIC_COLUMNS} FROM sweep_hi_batch b"));
    filter.apply(&mut sql);
    order_by(&mut sql, sort);
    page.apply(&mut sql);
    db.query_all_raw(sql.into_statement()).await?.iter().map(HistoricBatch::from_row).collect()
}

/// Number of historic batches matching `filter`.
pub async fn count_historic(db: &impl ConnectionTrait, filter: &HistoricBatchFilter) -> Result<i64, DbErr> {
    let mut sql = starting("SELECT count(*) AS n FROM sweep_hi_batch b");
    filter.apply(&mut sql);
    count(db, sql).await
}

/// One historic batch.
pub async fn find_historic(db: &impl ConnectionTrait, id: &str) -> Result<Option<HistoricBatch>, DbErr> {
    let filter = HistoricBatchFilter { batch_id: Some(id.to_owned()), ..Default::default() };
    Ok(list_historic(db, &filter, None, Page::default()).await?.into_iter().next())
}

/// Deletes a historic batch and its item ledger; a runtime batch of the same id is kept.
/// `false` when there is no such historic batch.
pub async fn delete_historic(db: &impl ConnectionTrait, id: &str) -> Result<bool, DbErr> {
    let deleted = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM sweep_hi_batch WHERE id_ = $1",
            [id.into()],
        ))
        .await?;
    if deleted.rows_affected() == 0 {
        return Ok(false);
    }
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "DELETE FROM sweep_batch_item WHERE batch_id_ = $1",
        [id.into()],
    ))
    .await?;
    Ok(true)
}

/// A batch job as the job API shows it, with the fields of its batch it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchJob {
    /// `<batchId>:<seq>`.
    pub id: String,
    /// Its batch.
    pub batch_id: String,
    /// Number within the batch, from 1.
    pub seq: i32,
    /// pending | running | done | failed.
    pub state: String,
    /// Retries left.
    pub retries: i32,
    /// Last failure.
    pub exception_msg: Option<String>,
    /// Created at.
    pub create_time: DateTime<Utc>,
    /// The batch's job definition.
    pub job_definition_id: String,
    /// Whether the batch is suspended.
    pub suspended: bool,
    /// The batch's tenant.
    pub tenant_id: Option<String>,
}

const JOB_COLUMNS: &str = "j.id_, j.batch_id_, j.seq_, j.state_, j.retries_, j.exception_msg_, j.create_time_, \
    b.batch_job_def_id_, b.suspended_, b.tenant_id_";

impl BatchJob {
    fn from_row(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.try_get("", "id_")?,
            batch_id: row.try_get("", "batch_id_")?,
            seq: row.try_get("", "seq_")?,
            state: row.try_get("", "state_")?,
            retries: row.try_get("", "retries_")?,
            exception_msg: row.try_get("", "exception_msg_")?,
            create_time: row.try_get("", "create_time_")?,
            job_definition_id: row.try_get("", "batch_job_def_id_")?,
            suspended: row.try_get("", "suspended_")?,
            tenant_id: row.try_get("", "tenant_id_")?,
        })
    }

    /// Camunda's representation.
    pub fn to_dto(&self) -> JobDto {
        JobDto {
            id: self.id.clone(),
            job_definition_id: self.job_definition_id.clone(),
            due_date: None,
            process_instance_id: None,
            execution_id: None,
            process_definition_id: None,
            process_definition_key: None,
            retries: self.retries,
            exception_message: self.exception_msg.clone(),
            failed_activity_id: None,
            suspended: self.suspended,
            priority: 0,
            tenant_id: self.tenant_id.clone(),
            create_time: Some(format_date(self.create_time)),
            batch_id: self.batch_id.clone(),
        }
    }
}

/// `ORDER BY` keys of `GET /job` that mean something for batch jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobSortKey {
    /// `jobId`
    JobId,
    /// `jobRetries`
    Retries,
    /// `tenantId`
    TenantId,
    /// A Camunda key whose column batch jobs do not have (all null): only the id orders.
    Unset,
}

/// Filters of `GET /job` over batch jobs. Done jobs do not exist for the job API: Camunda
/// deletes a job when it succeeds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// `jobId`
    pub job_id: Option<String>,
    /// `jobIds`; an empty list does not filter.
    pub job_ids: Vec<String>,
    /// `jobDefinitionId`: a batch's `batchJobDefinitionId`.
    pub job_definition_id: Option<String>,
    /// `withRetriesLeft=true`
    pub with_retries_left: bool,
    /// `noRetriesLeft=true`
    pub no_retries_left: bool,
    /// `withException=true`
    pub with_exception: bool,
    /// `exceptionMessage`
    pub exception_message: Option<String>,
    /// `suspended=true`
    pub suspended: bool,
    /// `active=true`
    pub active: bool,
    /// `tenantIdIn`
    pub tenant_ids: Vec<String>,
    /// `withoutTenantId=true`
    pub without_tenant_id: bool,
    /// A filter batch jobs can never match was given (a process instance, a timer, …).
    pub match_nothing: bool,
}

impl JobFilter {
    fn apply(&self, sql: &mut SqlBuilder) {
        sql.push(&format!(" WHERE j.state_ <> '{DONE}'"));
        if self.match_nothing {
            sql.push(" AND false");
        }
        if let Some(id) = &self.job_id {
            sql.push(" AND j.id_ = ").bind(id.clone());
        }
        if !self.job_ids.is_empty() {
            sql.push(" AND j.id_ = ANY(").bind(self.job_ids.clone()).push(")");
        }
        if let Some(id) = &self.job_definition_id {
            sql.push(" AND b.batch_job_def_id_ = ").bind(id.clone());
        }
        if self.with_retries_left {
            sql.push(" AND j.retries_ > 0");
        }
        if self.no_retries_left {
            sql.push(" AND j.retries_ = 0");
        }
        if self.with_exception {
            sql.push(" AND j.exception_msg_ IS NOT NULL");
        }
        if let Some(message) = &self.exception_message {
            sql.push(" AND j.exception_msg_ = ").bind(message.clone());
        }
        if self.suspended {
            sql.push(" AND b.suspended_");
        }
        if self.active {
            sql.push(" AND NOT b.suspended_");
        }
        tenant_condition(sql, &self.tenant_ids, self.without_tenant_id);
    }
}

/// Batch jobs matching `filter`, ordered and paged.
pub async fn list_jobs(
    db: &impl ConnectionTrait,
    filter: &JobFilter,
    sort: Option<Sort<JobSortKey>>,
    page: Page,
) -> Result<Vec<BatchJob>, DbErr> {
    let mut sql =
        starting(format!("SELECT {JOB_COLUMNS} FROM sweep_batch_job j JOIN sweep_batch b ON b.id_ = j.batch_id_"));
    filter.apply(&mut sql);
    let direction = |desc: bool| if desc { "DESC" } else { "ASC" };
    match sort {
        Some(Sort { key: JobSortKey::JobId, desc }) => {
            sql.push(&format!(" ORDER BY j.id_ {}", direction(desc)));
        }
        Some(Sort { key: JobSortKey::Retries, desc }) => {
            sql.push(&format!(" ORDER BY j.retries_ {}, j.id_ ASC", direction(desc)));
        }
        Some(Sort { key: JobSortKey::TenantId, desc }) => {
            sql.push(&format!(" ORDER BY b.tenant_id_ {}, j.id_ ASC", direction(desc)));
        }
        Some(Sort { key: JobSortKey::Unset, .. }) | None => {
            sql.push(" ORDER BY j.id_ ASC");
        }
    }
    page.apply(&mut sql);
    db.query_all_raw(sql.into_statement()).await?.iter().map(BatchJob::from_row).collect()
}

/// Number of batch jobs matching `filter`.
pub async fn count_jobs(db: &impl ConnectionTrait, filter: &JobFilter) -> Result<i64, DbErr> {
    let mut sql = starting("SELECT count(*) AS n FROM sweep_batch_job j JOIN sweep_batch b ON b.id_ = j.batch_id_");
    filter.apply(&mut sql);
    count(db, sql).await
}

/// Puts the failed items of the given jobs back to pending; returns how many.
async fn reopen_failed_items_of_jobs(db: &impl ConnectionTrait, job_ids: &[String]) -> Result<u64, DbErr> {
    if job_ids.is_empty() {
        return Ok(0);
    }
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "UPDATE sweep_batch_item i SET state_ = '{PENDING}', reason_ = NULL, updated_ = now()
                   FROM sweep_batch_job j JOIN sweep_batch b ON b.id_ = j.batch_id_
                  WHERE j.id_ = ANY($1)
                    AND i.batch_id_ = j.batch_id_
                    AND i.seq_ > (j.seq_ - 1)::bigint * b.invocations_per_job_
                    AND i.seq_ <= j.seq_::bigint * b.invocations_per_job_
                    AND i.state_ = '{FAILED}'"
            ),
            [job_ids.to_vec().into()],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// What `PUT /job/{id}/retries` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetRetries {
    /// No such job (or it is done, which the job API treats the same way).
    NotFound,
    /// Retries set; `reopened` when a failed job went back to pending and must be enqueued.
    Set {
        /// The job after the change.
        job: BatchJob,
        /// Whether the job must be enqueued again.
        reopened: bool,
    },
}

/// Sets the retries of one job. A failed job given retries goes back to pending, its failed
/// items with it; a pending job set to 0 retries becomes failed, as a Camunda job at 0
/// retries is no longer acquired. A running job only gets the new count: its worker owns it.
pub async fn set_job_retries(db: &impl ConnectionTrait, job_id: &str, retries: i32) -> Result<SetRetries, DbErr> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM sweep_batch_job j JOIN sweep_batch b ON b.id_ = j.batch_id_
          WHERE j.id_ = $1 AND j.state_ <> '{DONE}' FOR UPDATE OF j"
    );
    let row = db.query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, [job_id.into()])).await?;
    let Some(mut job) = row.as_ref().map(BatchJob::from_row).transpose()? else {
        return Ok(SetRetries::NotFound);
    };
    let reopened = job.state == FAILED && retries > 0;
    let new_state = match job.state.as_str() {
        FAILED if retries > 0 => PENDING,
        PENDING if retries == 0 => FAILED,
        other => other,
    }
    .to_owned();
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE sweep_batch_job SET retries_ = $2, state_ = $3, end_time_ = NULL WHERE id_ = $1",
        [job_id.into(), retries.into(), new_state.clone().into()],
    ))
    .await?;
    if reopened {
        reopen_failed_items_of_jobs(db, &[job.id.clone()]).await?;
    }
    job.retries = retries;
    job.state = new_state;
    Ok(SetRetries::Set { job, reopened })
}

/// `PUT /job-definition/{id}/retries` for a batch job definition: every failed job of the
/// batch goes back to pending with `retries` (when > 0), its failed items with it. Returns
/// the batch id and the reopened jobs' sequence numbers, to enqueue; empty for an unknown id.
pub async fn retry_failed_jobs(
    db: &impl ConnectionTrait,
    job_definition_id: &str,
    retries: i32,
) -> Result<Option<(String, Vec<i32>)>, DbErr> {
    if retries == 0 {
        // Failed jobs already have 0 retries: nothing changes.
        return Ok(None);
    }
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT j.id_, j.batch_id_, j.seq_ FROM sweep_batch_job j JOIN sweep_batch b ON b.id_ = j.batch_id_
                  WHERE b.batch_job_def_id_ = $1 AND j.state_ = '{FAILED}'
                  ORDER BY j.seq_ FOR UPDATE OF j"
            ),
            [job_definition_id.into()],
        ))
        .await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let batch_id: String = first.try_get("", "batch_id_")?;
    let ids: Vec<String> = rows.iter().map(|r| r.try_get("", "id_")).collect::<Result<_, _>>()?;
    let seqs: Vec<i32> = rows.iter().map(|r| r.try_get("", "seq_")).collect::<Result<_, _>>()?;
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("UPDATE sweep_batch_job SET state_ = '{PENDING}', retries_ = $2, end_time_ = NULL WHERE id_ = ANY($1)"),
        [ids.clone().into(), retries.into()],
    ))
    .await?;
    reopen_failed_items_of_jobs(db, &ids).await?;
    Ok(Some((batch_id, seqs)))
}

/// `POST /batch/{id}/retry-failed-items`: puts the failed items of `batch` back to pending and
/// every created job containing one back to pending with `retries`. Returns the number of
/// items and the jobs' sequence numbers, to enqueue. Jobs are locked before items, the order
/// the worker takes them in.
pub async fn retry_failed_items(
    db: &impl ConnectionTrait,
    batch: &Batch,
    retries: i32,
) -> Result<(u64, Vec<i32>), DbErr> {
    let jobs = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT j.id_, j.seq_ FROM sweep_batch_job j
                  WHERE j.batch_id_ = $1
                    AND j.seq_ IN (SELECT DISTINCT ((i.seq_ - 1) / $2 + 1)::int FROM sweep_batch_item i
                                    WHERE i.batch_id_ = $1 AND i.state_ = '{FAILED}')
                  ORDER BY j.seq_ FOR UPDATE OF j"
            ),
            [batch.id.clone().into(), i64::from(batch.invocations_per_job).into()],
        ))
        .await?;
    let ids: Vec<String> = jobs.iter().map(|r| r.try_get("", "id_")).collect::<Result<_, _>>()?;
    let seqs: Vec<i32> = jobs.iter().map(|r| r.try_get("", "seq_")).collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Ok((0, Vec::new()));
    }
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "UPDATE sweep_batch_job SET state_ = '{PENDING}', retries_ = $2, end_time_ = NULL
              WHERE id_ = ANY($1) AND state_ IN ('{DONE}', '{FAILED}')"
        ),
        [ids.clone().into(), retries.into()],
    ))
    .await?;
    let items = reopen_failed_items_of_jobs(db, &ids).await?;
    Ok((items, seqs))
}

/// Whether a runtime or historic batch `id` exists (the item ledger outlives the runtime batch).
pub async fn batch_known(db: &impl ConnectionTrait, id: &str) -> Result<bool, DbErr> {
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

/// Item states a caller may filter by.
pub const ITEM_STATES: [&str; 4] = [PENDING, DELETED, SKIPPED, FAILED];

/// A page of the item ledger of `batch_id`, in sequence order, optionally of one state.
pub async fn list_items(
    db: &impl ConnectionTrait,
    batch_id: &str,
    state: Option<&str>,
    page: Page,
) -> Result<Vec<BatchItemDto>, DbErr> {
    let mut sql = starting("SELECT proc_inst_id_, state_, reason_, seq_ FROM sweep_batch_item i");
    items_filter(&mut sql, batch_id, state);
    sql.push(" ORDER BY seq_");
    page.apply(&mut sql);
    let rows = db.query_all_raw(sql.into_statement()).await?;
    rows.iter()
        .map(|r| {
            Ok(BatchItemDto {
                process_instance_id: r.try_get("", "proc_inst_id_")?,
                state: r.try_get("", "state_")?,
                reason: r.try_get("", "reason_")?,
                seq: r.try_get("", "seq_")?,
            })
        })
        .collect()
}

/// Number of ledger items of `batch_id`, optionally of one state.
pub async fn count_items(db: &impl ConnectionTrait, batch_id: &str, state: Option<&str>) -> Result<i64, DbErr> {
    let mut sql = starting("SELECT count(*) AS n FROM sweep_batch_item i");
    items_filter(&mut sql, batch_id, state);
    count(db, sql).await
}

fn items_filter(sql: &mut SqlBuilder, batch_id: &str, state: Option<&str>) {
    sql.push(" WHERE i.batch_id_ = ").bind(batch_id.to_owned());
    if let Some(state) = state {
        sql.push(" AND i.state_ = ").bind(state.to_owned());
    }
}

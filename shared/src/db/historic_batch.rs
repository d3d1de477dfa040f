//! `SWEEP_HI_BATCH`: historic batches, written when a batch is created and ended when it
//! completes or is deleted, and every statement on that table. Its item ledger lives in
//! `batch_item` and is removed with it.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement};

use super::batch::{BatchInfo, info_columns};
use super::listing::{self, BatchFilterCore, BatchSortKey, Filter, Page, Sort};
use crate::camunda::{BatchDto, HistoricBatchDto, format_date};
use crate::query::SqlBuilder;

const COLUMNS: &str = concat!(info_columns!(), ", b.end_time_, b.removal_time_");

/// A row of `SWEEP_HI_BATCH`.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct HistoricBatch {
    /// What it shares with the runtime batch.
    #[sea_orm(nested)]
    pub info: BatchInfo,
    /// Completed or deleted at.
    #[sea_orm(alias = "end_time_")]
    pub end_time: Option<DateTime<Utc>>,
    /// Removable from.
    #[sea_orm(alias = "removal_time_")]
    pub removal_time: Option<DateTime<Utc>>,
}

impl HistoricBatch {
    /// Camunda's representation.
    pub fn to_dto(&self) -> HistoricBatchDto {
        let i = &self.info;
        HistoricBatchDto {
            id: i.id.clone(),
            kind: i.kind.clone(),
            total_jobs: i.total_jobs,
            batch_jobs_per_seed: i.jobs_per_seed,
            invocations_per_batch_job: i.invocations_per_job,
            seed_job_definition_id: i.seed_job_def_id.clone(),
            monitor_job_definition_id: i.monitor_job_def_id.clone(),
            batch_job_definition_id: i.batch_job_def_id.clone(),
            tenant_id: i.tenant_id.clone(),
            create_user_id: i.create_user_id.clone(),
            start_time: format_date(i.start_time),
            end_time: self.end_time.map(format_date),
            removal_time: self.removal_time.map(format_date),
            execution_start_time: i.exec_start_time.map(format_date),
        }
    }

    /// Camunda's statistics representation of this ended batch with `progress` (see
    /// [`super::batch_item::ended_progress`]).
    pub fn statistics_dto(&self, progress: &super::batch::BatchProgress) -> crate::camunda::BatchStatisticsDto {
        crate::camunda::BatchStatisticsDto {
            batch: self.to_batch_dto(),
            remaining_jobs: progress.remaining_jobs,
            completed_jobs: self.info.total_jobs - progress.remaining_jobs,
            failed_jobs: progress.failed_jobs,
            total_instances: self.info.total_items,
            pending_instances: progress.pending,
            running_instances: progress.running,
            deleted_instances: progress.deleted,
            skipped_instances: progress.skipped,
            failed_instances: progress.failed,
        }
    }

    /// The `BatchDto` of a completed (or deleted) batch: every job was created and it is not
    /// suspended.
    pub fn to_batch_dto(&self) -> BatchDto {
        self.info.to_dto(self.info.total_jobs, false)
    }
}

/// Writes the historic row of the runtime batch `id`, copying what they share; with
/// `removal_after_days` (strategy `start`) its removal time is its start plus that.
pub async fn insert_from_runtime(
    txn: &impl ConnectionTrait,
    id: &str,
    removal_after_days: Option<i32>,
) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO sweep_hi_batch (id_, type_, total_jobs_, jobs_per_seed_, invocations_per_job_, seed_job_def_id_,
             monitor_job_def_id_, batch_job_def_id_, tenant_id_, create_user_id_, start_time_, exec_start_time_,
             total_items_, idempotency_key_, request_hash_, tenant_ids_, max_rate_, max_concurrent_jobs_, priority_,
             removal_time_)
         SELECT id_, type_, total_jobs_, jobs_per_seed_, invocations_per_job_, seed_job_def_id_,
             monitor_job_def_id_, batch_job_def_id_, tenant_id_, create_user_id_, start_time_, exec_start_time_,
             total_items_, idempotency_key_, request_hash_, tenant_ids_, max_rate_, max_concurrent_jobs_, priority_,
             start_time_ + make_interval(days => $2)
           FROM sweep_batch WHERE id_ = $1",
        [id.into(), removal_after_days.into()],
    ))
    .await?;
    Ok(())
}

/// Ends `id` at `at` (completion); `exec_start` fills a missing execution start. With a
/// historic-batch time to live (`ttl_days`, strategy `end`) its removal time is `at` plus it.
pub async fn end(
    txn: &impl ConnectionTrait,
    id: &str,
    at: DateTime<Utc>,
    exec_start: Option<DateTime<Utc>>,
    ttl_days: Option<i32>,
) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE sweep_hi_batch
            SET end_time_ = $2, exec_start_time_ = coalesce(exec_start_time_, $3),
                removal_time_ = coalesce($2 + make_interval(days => $4), removal_time_)
          WHERE id_ = $1",
        [id.into(), at.into(), exec_start.into(), ttl_days.into()],
    ))
    .await?;
    Ok(())
}

/// Ends `id` now unless it has ended (deletion of the runtime batch); `ttl_days` as in [`end`].
pub async fn end_if_open(txn: &impl ConnectionTrait, id: &str, ttl_days: Option<i32>) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE sweep_hi_batch
            SET end_time_ = now(), removal_time_ = coalesce(now() + make_interval(days => $2), removal_time_)
          WHERE id_ = $1 AND end_time_ IS NULL",
        [id.into(), ttl_days.into()],
    ))
    .await?;
    Ok(())
}

/// Adds `n` items to the total of `id` (callers ended by upward propagation).
pub async fn add_items(txn: &impl ConnectionTrait, id: &str, n: i64) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE sweep_hi_batch SET total_items_ = total_items_ + $2 WHERE id_ = $1",
        [id.into(), n.into()],
    ))
    .await?;
    Ok(())
}

/// Sets the number of selected instances of `id` (a batch stopped before its ledger was
/// complete keeps only the items built).
pub async fn set_total_items(txn: &impl ConnectionTrait, id: &str, total_items: i64) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE sweep_hi_batch SET total_items_ = $2 WHERE id_ = $1",
        [id.into(), total_items.into()],
    ))
    .await?;
    Ok(())
}

/// Deletes the historic row of `id`; `false` when there is none.
pub async fn delete(db: &impl ConnectionTrait, id: &str) -> Result<bool, DbErr> {
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM sweep_hi_batch WHERE id_ = $1",
            [id.into()],
        ))
        .await?;
    Ok(result.rows_affected() > 0)
}

/// The newest batch created with idempotency key `key`.
pub async fn find_by_idempotency_key(db: &impl ConnectionTrait, key: &str) -> Result<Option<HistoricBatch>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT {COLUMNS} FROM sweep_hi_batch b WHERE b.idempotency_key_ = $1 ORDER BY b.start_time_ DESC LIMIT 1"),
            [key.into()],
        ))
        .await?;
    row.map(|r| HistoricBatch::from_query_result(&r, "")).transpose()
}

/// Batches whose rate [`recent_rate`] averages.
pub const RATE_BATCHES: i64 = 5;

/// Instances per second the last [`RATE_BATCHES`] ended batches processed: their processed
/// items (all but those still pending) over their execution time, from the first job's start to
/// the end. `None` without such batches (or when none took measurable time).
///
/// Pending items are read through the partial index of non-deleted items, so a batch of
/// millions costs no more than its unprocessed rest.
pub async fn recent_rate(db: &impl ConnectionTrait) -> Result<Option<f64>, DbErr> {
    let sql = format!(
        "SELECT (sum(b.total_items_ - p.pending)::float8
                 / nullif(sum(extract(epoch FROM b.end_time_ - b.exec_start_time_))::float8, 0)) AS rate
           FROM (SELECT h.id_, h.total_items_, h.end_time_, h.exec_start_time_ FROM sweep_hi_batch h
                  WHERE h.end_time_ IS NOT NULL AND h.exec_start_time_ IS NOT NULL AND h.end_time_ > h.exec_start_time_
                  ORDER BY h.end_time_ DESC LIMIT {RATE_BATCHES}) b
          CROSS JOIN LATERAL (SELECT count(*) AS pending FROM sweep_batch_item i
                               WHERE i.batch_id_ = b.id_ AND i.state_ <> {deleted} AND i.state_ = {pending}) p",
        deleted = super::batch_item::ItemState::Deleted.literal(),
        pending = super::batch_item::ItemState::Pending.literal(),
    );
    let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await?;
    Ok(row.map(|r| r.try_get::<Option<f64>>("", "rate")).transpose()?.flatten().filter(|r| r.is_finite() && *r > 0.0))
}

/// Filters of `GET /history/batch`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoricBatchFilter {
    /// What runtime and historic batches share.
    pub core: BatchFilterCore,
    /// `completed`: `Some(true)` ended, `Some(false)` not ended.
    pub completed: Option<bool>,
}

impl Filter for HistoricBatchFilter {
    fn conditions(&self, sql: &mut SqlBuilder) {
        self.core.conditions(sql);
        listing::tri_state(sql, self.completed, "b.end_time_ IS NOT NULL");
    }
}

/// Historic batches matching `filter`, ordered and paged.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &HistoricBatchFilter,
    sort: Option<Sort<BatchSortKey>>,
    page: Page,
) -> Result<Vec<HistoricBatch>, DbErr> {
    listing::list(db, &format!("SELECT {COLUMNS} FROM sweep_hi_batch b"), filter, sort, "b.id_", page).await
}

/// Number of historic batches matching `filter`.
pub async fn count(db: &impl ConnectionTrait, filter: &HistoricBatchFilter) -> Result<i64, DbErr> {
    listing::count(db, "FROM sweep_hi_batch b", filter).await
}

/// One historic batch.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<HistoricBatch>, DbErr> {
    let filter = HistoricBatchFilter {
        core: BatchFilterCore { batch_id: Some(id.to_owned()), ..Default::default() },
        ..Default::default()
    };
    Ok(list(db, &filter, None, Page::default()).await?.into_iter().next())
}

//! Deletion batches in Sweep's own tables: the runtime row, its jobs and its item ledger.
//! Handlers in the API and the worker build on these reads; each owns its writes.

pub mod create;
pub mod query;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement};

use crate::camunda::{BatchDto, format_date};
use crate::deletion::DeleteOptions;

/// Camunda's type string of deletion batches.
pub const TYPE_INSTANCE_DELETION: &str = "instance-deletion";

/// Item and job states as stored.
pub mod state {
    /// Not yet processed.
    pub const PENDING: &str = "pending";
    /// A worker has started the job (or was interrupted while running it).
    pub const RUNNING: &str = "running";
    /// Job finished.
    pub const DONE: &str = "done";
    /// Item deleted.
    pub const DELETED: &str = "deleted";
    /// Item not found, `failIfNotExists=false`.
    pub const SKIPPED: &str = "skipped";
    /// Item or job failed.
    pub const FAILED: &str = "failed";
}

/// A row of `SWEEP_BATCH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Batch id.
    pub id: String,
    /// Batch type.
    pub kind: String,
    /// Total jobs.
    pub total_jobs: i32,
    /// Jobs created so far.
    pub jobs_created: i32,
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
    /// Suspended?
    pub suspended: bool,
    /// Tenant (always none).
    pub tenant_id: Option<String>,
    /// Creator.
    pub create_user_id: Option<String>,
    /// Created at.
    pub start_time: DateTime<Utc>,
    /// First job started at.
    pub exec_start_time: Option<DateTime<Utc>>,
    /// How instances are deleted.
    pub options: DeleteOptions,
    /// `skipIoMappings` as requested (no effect in Sweep).
    pub skip_io_mappings: bool,
    /// Selected instances.
    pub total_items: i64,
    /// Idempotency key of the creating request.
    pub idempotency_key: Option<String>,
    /// Hash of the creating request body.
    pub request_hash: Option<String>,
}

/// Columns selected for [`Batch`].
pub const BATCH_COLUMNS: &str = "id_, type_, total_jobs_, jobs_created_, jobs_per_seed_, invocations_per_job_, \
    seed_job_def_id_, monitor_job_def_id_, batch_job_def_id_, suspended_, tenant_id_, create_user_id_, start_time_, \
    exec_start_time_, delete_reason_, skip_custom_listeners_, skip_subprocesses_, skip_io_mappings_, \
    fail_if_not_exists_, total_items_, idempotency_key_, request_hash_";

impl Batch {
    /// Reads a row selected with [`BATCH_COLUMNS`].
    pub fn from_row(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.try_get("", "id_")?,
            kind: row.try_get("", "type_")?,
            total_jobs: row.try_get("", "total_jobs_")?,
            jobs_created: row.try_get("", "jobs_created_")?,
            jobs_per_seed: row.try_get("", "jobs_per_seed_")?,
            invocations_per_job: row.try_get("", "invocations_per_job_")?,
            seed_job_def_id: row.try_get("", "seed_job_def_id_")?,
            monitor_job_def_id: row.try_get("", "monitor_job_def_id_")?,
            batch_job_def_id: row.try_get("", "batch_job_def_id_")?,
            suspended: row.try_get("", "suspended_")?,
            tenant_id: row.try_get("", "tenant_id_")?,
            create_user_id: row.try_get("", "create_user_id_")?,
            start_time: row.try_get("", "start_time_")?,
            exec_start_time: row.try_get("", "exec_start_time_")?,
            options: DeleteOptions {
                delete_reason: row.try_get("", "delete_reason_")?,
                skip_subprocesses: row.try_get("", "skip_subprocesses_")?,
                skip_custom_listeners: row.try_get("", "skip_custom_listeners_")?,
                fail_if_not_exists: row.try_get("", "fail_if_not_exists_")?,
            },
            skip_io_mappings: row.try_get("", "skip_io_mappings_")?,
            total_items: row.try_get("", "total_items_")?,
            idempotency_key: row.try_get("", "idempotency_key_")?,
            request_hash: row.try_get("", "request_hash_")?,
        })
    }

    /// Camunda's representation.
    pub fn to_dto(&self) -> BatchDto {
        BatchDto {
            id: self.id.clone(),
            kind: self.kind.clone(),
            total_jobs: self.total_jobs,
            jobs_created: self.jobs_created,
            batch_jobs_per_seed: self.jobs_per_seed,
            invocations_per_batch_job: self.invocations_per_job,
            seed_job_definition_id: self.seed_job_def_id.clone(),
            monitor_job_definition_id: self.monitor_job_def_id.clone(),
            batch_job_definition_id: self.batch_job_def_id.clone(),
            suspended: self.suspended,
            tenant_id: self.tenant_id.clone(),
            create_user_id: self.create_user_id.clone(),
            start_time: Some(format_date(self.start_time)),
            execution_start_time: self.exec_start_time.map(format_date),
        }
    }

    /// Item sequence numbers `(low, high]` covered by job `job_seq` (1-based).
    pub fn job_range(&self, job_seq: i32) -> (i64, i64) {
        let per = i64::from(self.invocations_per_job);
        let low = (i64::from(job_seq) - 1) * per;
        (low, (low + per).min(self.total_items))
    }
}

/// Loads a runtime batch; `lock` adds `FOR UPDATE`.
pub async fn find(db: &impl ConnectionTrait, id: &str, lock: bool) -> Result<Option<Batch>, DbErr> {
    let sql =
        format!("SELECT {BATCH_COLUMNS} FROM sweep_batch WHERE id_ = $1{}", if lock { " FOR UPDATE" } else { "" });
    let row = db.query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, [id.into()])).await?;
    row.as_ref().map(Batch::from_row).transpose()
}

/// Id of job `seq` of batch `batch_id`, as exposed through the Camunda job API.
pub fn job_id(batch_id: &str, seq: i32) -> String {
    format!("{batch_id}:{seq}")
}

/// A completed (or deleted) batch's Camunda representation, rebuilt from its historic row:
/// every job was created and it is not suspended.
pub async fn historic_as_batch_dto(db: &impl ConnectionTrait, id: &str) -> Result<Option<BatchDto>, DbErr> {
    Ok(query::find_historic(db, id).await?.map(|h| BatchDto {
        id: h.id,
        kind: h.kind,
        total_jobs: h.total_jobs,
        jobs_created: h.total_jobs,
        batch_jobs_per_seed: h.jobs_per_seed,
        invocations_per_batch_job: h.invocations_per_job,
        seed_job_definition_id: h.seed_job_def_id,
        monitor_job_definition_id: h.monitor_job_def_id,
        batch_job_definition_id: h.batch_job_def_id,
        suspended: false,
        tenant_id: h.tenant_id,
        create_user_id: h.create_user_id,
        start_time: Some(format_date(h.start_time)),
        execution_start_time: h.exec_start_time.map(format_date),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ranges_tile_the_items() {
        let mut b = Batch {
            id: "b".into(),
            kind: TYPE_INSTANCE_DELETION.into(),
            total_jobs: 3,
            jobs_created: 0,
            jobs_per_seed: 100,
            invocations_per_job: 10,
            seed_job_def_id: "s".into(),
            monitor_job_def_id: "m".into(),
            batch_job_def_id: "j".into(),
            suspended: false,
            tenant_id: None,
            create_user_id: None,
            start_time: Utc::now(),
            exec_start_time: None,
            options: DeleteOptions::default(),
            skip_io_mappings: false,
            total_items: 25,
            idempotency_key: None,
            request_hash: None,
        };
        assert_eq!(b.job_range(1), (0, 10));
        assert_eq!(b.job_range(3), (20, 25));
        b.total_items = 30;
        assert_eq!(b.job_range(3), (20, 30));
    }
}

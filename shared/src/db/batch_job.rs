//! `SWEEP_BATCH_JOB`: the jobs of runtime batches (cascade-deleted with their batch) and every
//! statement on that table — creation by the seed, the worker's start/claim/complete/finish/failure
//! steps, the monitor's summary, and what Camunda's job API reads and changes.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveEnum, ConnectionTrait, DbBackend, DbErr, DeriveActiveEnum, EnumIter, FromQueryResult, Statement, Value,
};

use super::batch::BatchInfo;
use super::listing::{self, Filter, Page, Sort, SortKey};
use crate::camunda::{JobDto, format_date};
use crate::query::SqlBuilder;

/// The state of a batch job, as stored in `STATE_`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::N(16))")]
pub enum JobState {
    /// Created, not started (or given retries again).
    #[sea_orm(string_value = "pending")]
    Pending,
    /// A worker has started it (or was interrupted while running it).
    #[sea_orm(string_value = "running")]
    Running,
    /// Finished; its items have their outcomes.
    #[sea_orm(string_value = "done")]
    Done,
    /// Out of retries; it keeps the batch open until retried.
    #[sea_orm(string_value = "failed")]
    Failed,
}

impl JobState {
    /// The state as an SQL literal, for statements whose state condition must match a
    /// partial index (a bound parameter would not, in a cached generic plan).
    pub fn literal(self) -> &'static str {
        match self {
            JobState::Pending => "'pending'",
            JobState::Running => "'running'",
            JobState::Done => "'done'",
            JobState::Failed => "'failed'",
        }
    }
}

/// Id of job `seq` of batch `batch_id`, as the job API shows it.
pub fn job_id(batch_id: &str, seq: i32) -> String {
    format!("{batch_id}:{seq}")
}

/// Creates jobs `first..=last` of `batch` (each knowing its item count) with `retries` and
/// the batch's priority (that of its batch-job definition); jobs that exist already are left
/// alone.
pub async fn insert_range(
    txn: &impl ConnectionTrait,
    batch: &BatchInfo,
    first: i32,
    last: i32,
    retries: i32,
) -> Result<(), DbErr> {
    let seqs: Vec<i32> = (first..=last).collect();
    let ids: Vec<String> = seqs.iter().map(|&s| job_id(&batch.id, s)).collect();
    let items: Vec<i32> = seqs
        .iter()
        .map(|&s| {
            let (low, high) = batch.job_range(s);
            (high - low) as i32
        })
        .collect();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO sweep_batch_job (id_, batch_id_, seq_, retries_, items_, create_time_, priority_)
         SELECT u.id, $1, u.seq, $2, u.items, now(), coalesce((SELECT priority_ FROM sweep_batch WHERE id_ = $1), 0)
           FROM unnest($3::varchar[], $4::int[], $5::int[]) AS u(id, seq, items)
         ON CONFLICT (batch_id_, seq_) DO NOTHING",
        [batch.id.clone().into(), retries.into(), Value::from(ids), Value::from(seqs), Value::from(items)],
    ))
    .await?;
    Ok(())
}

/// Marks a pending (or interrupted running) job running and counts the attempt. `false` when
/// the job is not there to run (done, failed or unknown).
///
/// A progress marker only: losing it in a database crash loses nothing (the job's message is
/// still unacknowledged), so the transaction it runs in — the caller's, or its own when `db`
/// is a pool — commits without waiting for the disk (`synchronous_commit` off, set by the
/// statement itself so that it takes a single round trip).
pub async fn start(db: &impl ConnectionTrait, batch_id: &str, seq: i32) -> Result<bool, DbErr> {
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE sweep_batch_job SET state_ = $3, attempts_ = attempts_ + 1
              WHERE batch_id_ = $1 AND seq_ = $2 AND state_ IN ($4, $3)
                AND (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL",
            [batch_id.into(), seq.into(), JobState::Running.into(), JobState::Pending.into()],
        ))
        .await?;
    Ok(result.rows_affected() > 0)
}

/// What a job's handler reads of it before running it, in one statement.
#[derive(Debug, Clone, Default, PartialEq, Eq, FromQueryResult)]
pub struct Readiness {
    /// Pending or running: there is something to do.
    pub open: bool,
    /// Not to be worked before this moment (`PUT /job/{id}/retries` with `dueDate`).
    pub due_date: Option<DateTime<Utc>>,
    /// A pending job of the same batch, never tried yet, has a higher priority: this one gives
    /// way. Jobs waiting out a retry back-off do not hold others up (their message is in a
    /// delay queue, not reachable now).
    pub outranked: bool,
}

/// What a job's handler reads before the gates, in one statement.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The job's batch.
    pub batch: super::batch::Batch,
    /// The job's [`Readiness`] (not open when the job is unknown).
    pub readiness: Readiness,
    /// The weight of the runnable batches ([`super::batch_control::runnable_weight`]).
    pub runnable_weight: f64,
}

/// The [`JobContext`] of job `seq` of `batch_id`; `None` when the batch is gone (deleted or
/// completed).
pub async fn context(db: &impl ConnectionTrait, batch_id: &str, seq: i32) -> Result<Option<JobContext>, DbErr> {
    let sql = format!(
        "SELECT {columns}, coalesce(me.open, false) AS open, me.due_date, coalesce(me.outranked, false) AS outranked,
                {weight} AS runnable_weight
           FROM sweep_batch b
           LEFT JOIN LATERAL (
                SELECT j.state_ IN ($3, $4) AS open, j.duedate_ AS due_date,
                       EXISTS (SELECT 1 FROM sweep_batch_job o
                                WHERE o.batch_id_ = j.batch_id_ AND o.state_ = $3 AND o.priority_ > j.priority_
                                  AND o.attempts_ = 0) AS outranked
                  FROM sweep_batch_job j WHERE j.batch_id_ = b.id_ AND j.seq_ = $2) me ON true
          WHERE b.id_ = $1",
        columns = super::batch::COLUMNS,
        weight = super::batch_control::runnable_weight_sql(),
    );
    let values = [batch_id.into(), seq.into(), JobState::Pending.into(), JobState::Running.into()];
    let row = db.query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(JobContext {
        batch: super::batch::Batch::from_query_result(&row, "")?,
        readiness: Readiness::from_query_result(&row, "")?,
        runnable_weight: row.try_get("", "runnable_weight")?,
    }))
}

/// Locks a running job for the caller's transaction and returns the ids of its pending items
/// `(low, high]`, in ledger order, in one statement. `SKIP LOCKED`: a duplicate delivery
/// running concurrently leaves the job to its twin, and gets `None`.
pub async fn claim(
    txn: &impl ConnectionTrait,
    batch_id: &str,
    seq: i32,
    (low, high): (i64, i64),
) -> Result<Option<Vec<String>>, DbErr> {
    // One row per pending item, or one row with a null id when there is none; no row at all
    // when the job was not claimed.
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "WITH job AS (SELECT seq_ FROM sweep_batch_job WHERE batch_id_ = $1 AND seq_ = $2 AND state_ = $3
                            FOR UPDATE SKIP LOCKED)
             SELECT i.proc_inst_id_ FROM job
               LEFT JOIN sweep_batch_item i ON i.batch_id_ = $1 AND i.seq_ > $4 AND i.seq_ <= $5 AND i.state_ = $6
              ORDER BY i.seq_",
            [
                batch_id.into(),
                seq.into(),
                JobState::Running.into(),
                low.into(),
                high.into(),
                super::batch_item::ItemState::Pending.into(),
            ],
        ))
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let ids = rows.iter().map(|r| r.try_get::<Option<String>>("", "proc_inst_id_")).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(ids.into_iter().flatten().collect()))
}

/// Sets a job's final state and recounts its items `(low, high]` from the ledger, in the
/// caller's transaction, so job counters and ledger never disagree.
pub async fn finish(
    txn: &impl ConnectionTrait,
    batch_id: &str,
    seq: i32,
    (low, high): (i64, i64),
    state: JobState,
    error: Option<&str>,
) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        include_str!("batch_job/finish.sql"),
        [
            batch_id.into(),
            seq.into(),
            low.into(),
            high.into(),
            state.into(),
            error.map(truncate).into(),
            super::batch_item::ItemState::Deleted.into(),
            super::batch_item::ItemState::Skipped.into(),
            super::batch_item::ItemState::Failed.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Completes a job whose deletion succeeded, in the caller's transaction and one statement
/// (`batch_job/complete.sql`): the outcomes of its pending items `(low, high]` — deleted,
/// except the instances in `outcomes` that were not — the items of `deleted_with_caller`
/// elsewhere in the batch, the job done with its counters recounted from the ledger, and its
/// successful log entry. `outcomes` must hold every pending item's instance, as
/// [`crate::deletion::ChunkResult::outcomes`] does for the ids [`claim`] returned.
pub async fn complete(
    txn: &impl ConnectionTrait,
    batch_id: &str,
    seq: i32,
    (low, high): (i64, i64),
    outcomes: &[(String, crate::deletion::Outcome)],
    deleted_with_caller: &[String],
) -> Result<(), DbErr> {
    use super::batch_item::ItemState;
    use crate::deletion::Outcome;
    let (mut ids, mut states, mut reasons) = (Vec::new(), Vec::new(), Vec::new());
    for (id, outcome) in outcomes {
        let reason = match outcome {
            Outcome::Deleted => continue,
            Outcome::Skipped => String::new(),
            Outcome::Failed { reason } => reason.chars().take(4000).collect(),
        };
        ids.push(id.clone());
        states.push(ItemState::of(outcome).to_value());
        reasons.push(reason);
    }
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        include_str!("batch_job/complete.sql"),
        [
            batch_id.into(),
            seq.into(),
            low.into(),
            high.into(),
            Value::from(ids),
            Value::from(states),
            Value::from(reasons),
            Value::from(deleted_with_caller.to_vec()),
            super::job_log::hostname().into(),
            super::job_log::LogState::Successful.code().into(),
        ],
    ))
    .await?;
    Ok(())
}

/// A failed attempt as recorded by [`record_failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromQueryResult)]
pub struct Failure {
    /// `Pending` while retries remain, else `Failed`.
    #[sea_orm(alias = "state_")]
    pub state: JobState,
    /// Attempts so far, this one included.
    #[sea_orm(alias = "attempts_")]
    pub attempts: i32,
}

/// Records a failed attempt: one retry less, the error, and back to pending, or failed when no
/// retry is left. `None` when the job is gone or no longer open.
pub async fn record_failure(
    txn: &impl ConnectionTrait,
    batch_id: &str,
    seq: i32,
    error: &str,
) -> Result<Option<Failure>, DbErr> {
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE sweep_batch_job
                SET retries_ = retries_ - 1, exception_msg_ = $3,
                    state_ = CASE WHEN retries_ - 1 <= 0 THEN $4 ELSE $5 END
              WHERE batch_id_ = $1 AND seq_ = $2 AND state_ IN ($6, $5)
             RETURNING state_, attempts_",
            [
                batch_id.into(),
                seq.into(),
                truncate(error).into(),
                JobState::Failed.into(),
                JobState::Pending.into(),
                JobState::Running.into(),
            ],
        ))
        .await?;
    row.map(|r| Failure::from_query_result(&r, "")).transpose()
}

/// The monitor's view of a batch's jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, FromQueryResult)]
pub struct Summary {
    /// Jobs not done.
    pub open: i64,
    /// Items deleted, over all jobs.
    pub deleted: i64,
    /// Items skipped, over all jobs.
    pub skipped: i64,
    /// Items failed, over all jobs.
    pub failed: i64,
}

/// Whether `batch_id` has a job not done, read through the open-jobs partial index and
/// stopping at the first: every job asks once it has committed, so this must cost the same at
/// the first job of a batch as at its ten-thousandth.
pub async fn any_open(db: &impl ConnectionTrait, batch_id: &str) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT EXISTS (SELECT 1 FROM sweep_batch_job WHERE batch_id_ = $1 AND state_ <> {}) AS open",
                JobState::Done.literal()
            ),
            [batch_id.into()],
        ))
        .await?;
    row.map_or(Ok(false), |r| r.try_get("", "open"))
}

/// Open jobs and item counters of `batch_id`, in one statement (reads every job of the batch).
pub async fn summary(db: &impl ConnectionTrait, batch_id: &str) -> Result<Summary, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) FILTER (WHERE state_ <> $2) AS open,
                    coalesce(sum(deleted_), 0)::bigint AS deleted, coalesce(sum(skipped_), 0)::bigint AS skipped,
                    coalesce(sum(failed_), 0)::bigint AS failed
               FROM sweep_batch_job WHERE batch_id_ = $1",
            [batch_id.into(), JobState::Done.into()],
        ))
        .await?;
    row.map_or(Ok(Summary::default()), |r| Summary::from_query_result(&r, ""))
}

/// Sequence numbers of the jobs of `batch_id` that still have to run (pending or running).
pub async fn open_seqs(db: &impl ConnectionTrait, batch_id: &str) -> Result<Vec<i32>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT seq_ FROM sweep_batch_job WHERE batch_id_ = $1 AND state_ IN ($2, $3) ORDER BY seq_",
            [batch_id.into(), JobState::Pending.into(), JobState::Running.into()],
        ))
        .await?;
    rows.iter().map(|r| r.try_get("", "seq_")).collect()
}

/// A batch job as the job API shows it, with the fields of its batch it needs.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct BatchJob {
    /// `<batchId>:<seq>`.
    #[sea_orm(alias = "id_")]
    pub id: String,
    /// Its batch.
    #[sea_orm(alias = "batch_id_")]
    pub batch_id: String,
    /// Number within the batch, from 1.
    #[sea_orm(alias = "seq_")]
    pub seq: i32,
    /// Where it stands.
    #[sea_orm(alias = "state_")]
    pub state: JobState,
    /// Retries left.
    #[sea_orm(alias = "retries_")]
    pub retries: i32,
    /// Last failure.
    #[sea_orm(alias = "exception_msg_")]
    pub exception_msg: Option<String>,
    /// Created at.
    #[sea_orm(alias = "create_time_")]
    pub create_time: DateTime<Utc>,
    /// The batch's job definition.
    #[sea_orm(alias = "batch_job_def_id_")]
    pub job_definition_id: String,
    /// Whether the batch is suspended.
    #[sea_orm(alias = "suspended_")]
    pub suspended: bool,
    /// The batch's tenant.
    #[sea_orm(alias = "tenant_id_")]
    pub tenant_id: Option<String>,
    /// Not to be worked before this moment (null: at once).
    #[sea_orm(alias = "duedate_")]
    pub due_date: Option<DateTime<Utc>>,
    /// Larger runs first within its batch.
    #[sea_orm(alias = "priority_")]
    pub priority: i64,
}

const FROM_JOBS: &str = "FROM sweep_batch_job j JOIN sweep_batch b ON b.id_ = j.batch_id_";

/// What the job API lists: the open execution jobs, plus, synthesized from the batch row, the
/// seed job while jobs remain to be created (`<batchId>:seed`) and the monitor job while the
/// batch runs (`<batchId>:monitor`), each under its own job definition. Camunda keeps such rows
/// in `ACT_RU_JOB`; Sweep's seed and monitor are messages, so their jobs are derived. They
/// have Camunda's 3 retries and never fail (a failing seed or monitor message is redelivered).
const FROM_LISTED_JOBS: &str = "FROM (
        SELECT x.id_, x.batch_id_, x.seq_, x.state_, x.retries_, x.exception_msg_, x.create_time_, x.duedate_,
               x.priority_, NULL::varchar AS job_def_id_
          FROM sweep_batch_job x WHERE x.state_ <> 'done'
        UNION ALL
        SELECT s.id_ || ':seed', s.id_, 0, 'pending', 3, NULL, s.start_time_, NULL, s.priority_, s.seed_job_def_id_
          FROM sweep_batch s WHERE s.jobs_created_ < s.total_jobs_
        UNION ALL
        SELECT m.id_ || ':monitor', m.id_, -1, 'pending', 3, NULL, m.start_time_, NULL, m.priority_, m.monitor_job_def_id_
          FROM sweep_batch m) j
    JOIN sweep_batch b ON b.id_ = j.batch_id_";

/// The job definition of a row of [`FROM_LISTED_JOBS`].
const LISTED_JOB_DEF: &str = "coalesce(j.job_def_id_, b.batch_job_def_id_)";
const JOB_COLUMNS: &str = "j.id_, j.batch_id_, j.seq_, j.state_, j.retries_, j.exception_msg_, j.create_time_, \
    b.batch_job_def_id_, b.suspended_, b.tenant_id_, j.duedate_, j.priority_";

impl BatchJob {
    /// Camunda's representation.
    pub fn to_dto(&self) -> JobDto {
        JobDto {
            id: self.id.clone(),
            job_definition_id: self.job_definition_id.clone(),
            due_date: self.due_date.map(format_date),
            process_instance_id: None,
            execution_id: None,
            process_definition_id: None,
            process_definition_key: None,
            retries: self.retries,
            exception_message: self.exception_msg.clone(),
            failed_activity_id: None,
            suspended: self.suspended,
            priority: self.priority,
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
    /// `jobDueDate`
    DueDate,
    /// `jobPriority`
    Priority,
    /// A Camunda key whose column batch jobs do not have (all null): only the id orders.
    Unset,
}

impl SortKey for JobSortKey {
    fn column(self) -> Option<&'static str> {
        match self {
            JobSortKey::JobId => Some("j.id_"),
            JobSortKey::Retries => Some("j.retries_"),
            JobSortKey::TenantId => Some("b.tenant_id_"),
            JobSortKey::DueDate => Some("j.duedate_"),
            JobSortKey::Priority => Some("j.priority_"),
            JobSortKey::Unset => None,
        }
    }
}

/// Filters of `GET /job` over batch jobs (the execution jobs and the synthesized seed and
/// monitor jobs). Done jobs do not exist for the job API: Camunda deletes a job when it
/// succeeds.
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
    /// `executable=true`: retries left and due (no due date, or one that has passed).
    pub executable: bool,
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
    /// Only jobs of batches this principal may read.
    pub visible_to: Option<crate::auth::Principal>,
}

impl Filter for JobFilter {
    fn conditions(&self, sql: &mut SqlBuilder) {
        sql.push(&format!(" AND j.state_ <> {}", JobState::Done.literal()));
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
            sql.push(&format!(" AND {LISTED_JOB_DEF} = ")).bind(id.clone());
        }
        for (on, condition) in [
            (self.with_retries_left, " AND j.retries_ > 0"),
            (self.executable, " AND j.retries_ > 0 AND (j.duedate_ IS NULL OR j.duedate_ <= now())"),
            (self.no_retries_left, " AND j.retries_ = 0"),
            (self.with_exception, " AND j.exception_msg_ IS NOT NULL"),
            (self.suspended, " AND b.suspended_"),
            (self.active, " AND NOT b.suspended_"),
        ] {
            if on {
                sql.push(condition);
            }
        }
        if let Some(message) = &self.exception_message {
            sql.push(" AND j.exception_msg_ = ").bind(message.clone());
        }
        listing::tenant_condition(sql, &self.tenant_ids, self.without_tenant_id);
        if let Some(principal) = &self.visible_to {
            principal.push_batch_visible(sql, crate::auth::Permission::Read);
        }
    }
}

/// Batch jobs (seed and monitor jobs included) matching `filter`, ordered and paged.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &JobFilter,
    sort: Option<Sort<JobSortKey>>,
    page: Page,
) -> Result<Vec<BatchJob>, DbErr> {
    let columns = "j.id_, j.batch_id_, j.seq_, j.state_, j.retries_, j.exception_msg_, j.create_time_, \
        coalesce(j.job_def_id_, b.batch_job_def_id_) AS batch_job_def_id_, b.suspended_, b.tenant_id_, j.duedate_, j.priority_";
    listing::list(db, &format!("SELECT {columns} {FROM_LISTED_JOBS}"), filter, sort, "j.id_", page).await
}

/// Number of batch jobs (seed and monitor jobs included) matching `filter`.
pub async fn count(db: &impl ConnectionTrait, filter: &JobFilter) -> Result<i64, DbErr> {
    listing::count(db, FROM_LISTED_JOBS, filter).await
}

/// An open (not done) job, locked for the caller's transaction.
pub async fn find_open_for_update(db: &impl ConnectionTrait, job_id: &str) -> Result<Option<BatchJob>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT {JOB_COLUMNS} {FROM_JOBS} WHERE j.id_ = $1 AND j.state_ <> $2 FOR UPDATE OF j"),
            [job_id.into(), JobState::Done.into()],
        ))
        .await?;
    row.map(|r| BatchJob::from_query_result(&r, "")).transpose()
}

/// The failed jobs of the batch whose job definition is `job_definition_id`, locked, in
/// sequence order.
pub async fn failed_of_definition_for_update(
    db: &impl ConnectionTrait,
    job_definition_id: &str,
) -> Result<Vec<BatchJob>, DbErr> {
    fetch_jobs(
        db,
        format!(
            "SELECT {JOB_COLUMNS} {FROM_JOBS} WHERE b.batch_job_def_id_ = $1 AND j.state_ = $2
              ORDER BY j.seq_ FOR UPDATE OF j"
        ),
        vec![job_definition_id.into(), JobState::Failed.into()],
    )
    .await
}

/// The created jobs of `batch_id` containing a failed item, locked, in sequence order.
pub async fn with_failed_items_for_update(db: &impl ConnectionTrait, batch_id: &str) -> Result<Vec<BatchJob>, DbErr> {
    fetch_jobs(
        db,
        format!(
            "SELECT {JOB_COLUMNS} {FROM_JOBS}
              WHERE j.batch_id_ = $1
                AND EXISTS (SELECT 1 FROM sweep_batch_item i WHERE i.batch_id_ = j.batch_id_ AND {items} AND i.state_ = $2)
              ORDER BY j.seq_ FOR UPDATE OF j",
            items = super::batch_item::ITEMS_OF_JOB,
        ),
        vec![batch_id.into(), super::batch_item::ItemState::Failed.into()],
    )
    .await
}

async fn fetch_jobs(db: &impl ConnectionTrait, sql: String, values: Vec<Value>) -> Result<Vec<BatchJob>, DbErr> {
    let rows = db.query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    rows.iter().map(|r| BatchJob::from_query_result(r, "")).collect()
}

/// Sets state and retries of the jobs `ids` whose state is one of `from`, clearing their end
/// time, and with `Some(due)` their due date (`Some(None)` clears it); returns how many changed.
pub async fn set_state_and_retries(
    db: &impl ConnectionTrait,
    ids: &[String],
    from: &[JobState],
    state: JobState,
    retries: i32,
    due_date: Option<Option<DateTime<Utc>>>,
) -> Result<u64, DbErr> {
    let from: Vec<String> = from.iter().map(|s| s.to_value()).collect();
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE sweep_batch_job SET state_ = $3, retries_ = $4, end_time_ = NULL,
                    duedate_ = CASE WHEN $5 THEN $6 ELSE duedate_ END
              WHERE id_ = ANY($1) AND state_ = ANY($2)",
            [
                Value::from(ids.to_vec()),
                Value::from(from),
                state.into(),
                retries.into(),
                due_date.is_some().into(),
                due_date.flatten().into(),
            ],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// Sets the priority of open job `job_id`; returns its batch, `None` when there is no such
/// open job.
pub async fn set_priority(db: &impl ConnectionTrait, job_id: &str, priority: i64) -> Result<Option<String>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE sweep_batch_job SET priority_ = $2 WHERE id_ = $1 AND state_ <> $3 RETURNING batch_id_",
            [job_id.into(), priority.into(), JobState::Done.into()],
        ))
        .await?;
    row.map(|r| r.try_get("", "batch_id_")).transpose()
}

/// Sets the priority of every open job of `batch_id`; returns how many changed.
pub async fn set_priority_of_batch(db: &impl ConnectionTrait, batch_id: &str, priority: i64) -> Result<u64, DbErr> {
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE sweep_batch_job SET priority_ = $2 WHERE batch_id_ = $1 AND state_ <> $3",
            [batch_id.into(), priority.into(), JobState::Done.into()],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// Error texts are stored up to 4000 characters, as Camunda's `EXCEPTION_MSG_`.
fn truncate(error: &str) -> String {
    error.chars().take(4000).collect()
}

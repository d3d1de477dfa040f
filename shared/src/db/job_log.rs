//! `SWEEP_HI_JOB_LOG`: the history of batch jobs in the columns of Camunda's `ACT_HI_JOB_LOG`
//! — creation, each failed attempt, success, deletion — and what `GET /history/job-log` reads.
//! Entries are written set-based, one statement per transaction whatever the number of jobs,
//! by the transaction that changes the jobs, and deleted with their historic batch.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement};

use super::listing::{self, Filter, Page, Sort, SortKey};
use crate::auth::{Permission, Principal};
use crate::camunda::{HistoricJobLogDto, format_date};
use crate::query::SqlBuilder;

/// What an entry records: Camunda's `JOB_STATE_` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogState {
    /// The job was created (0).
    Created,
    /// An attempt failed (1).
    Failed,
    /// The job succeeded (2).
    Successful,
    /// The job was deleted (3).
    Deleted,
}

impl LogState {
    pub(super) fn code(self) -> i32 {
        match self {
            LogState::Created => 0,
            LogState::Failed => 1,
            LogState::Successful => 2,
            LogState::Deleted => 3,
        }
    }
}

/// Which jobs of a batch an entry is written for.
#[derive(Debug, Clone, Copy)]
pub enum Jobs<'a> {
    /// These sequence numbers.
    Seqs(&'a [i32]),
    /// Every job not done (pending, running or failed): what deleting a batch deletes.
    Open,
}

/// The name of this host, recorded with each entry as Camunda records its engine's host.
pub(super) fn hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().chars().take(255).collect())
        .filter(|h: &String| !h.is_empty())
}

/// Writes one `state` entry for each of `jobs` of `batch_id`, in one statement, with the
/// job's due date and retries as they are now and `message` (a failure's error).
pub async fn write(
    txn: &impl ConnectionTrait,
    batch_id: &str,
    jobs: Jobs<'_>,
    state: LogState,
    message: Option<&str>,
) -> Result<(), DbErr> {
    let seqs: Option<Vec<i32>> = match jobs {
        Jobs::Seqs(seqs) => Some(seqs.to_vec()),
        Jobs::Open => None,
    };
    let message: Option<String> = message.map(|m| m.chars().take(4000).collect());
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        include_str!("job_log/write.sql"),
        [batch_id.into(), seqs.into(), message.into(), state.code().into(), hostname().into()],
    ))
    .await?;
    Ok(())
}

/// Deletes the entries of historic batch `batch_id`.
pub async fn delete_of_batch(txn: &impl ConnectionTrait, batch_id: &str) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "DELETE FROM sweep_hi_job_log WHERE batch_id_ = $1",
        [batch_id.into()],
    ))
    .await?;
    Ok(())
}

/// An entry.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct JobLog {
    /// `ID_`
    pub id_: String,
    /// `TIMESTAMP_`
    pub timestamp_: DateTime<Utc>,
    /// `JOB_ID_`
    pub job_id_: String,
    /// `JOB_DUEDATE_`
    pub job_duedate_: Option<DateTime<Utc>>,
    /// `JOB_RETRIES_`
    pub job_retries_: Option<i32>,
    /// `JOB_PRIORITY_`
    pub job_priority_: i64,
    /// `JOB_EXCEPTION_MSG_`
    pub job_exception_msg_: Option<String>,
    /// `JOB_STATE_`
    pub job_state_: i32,
    /// `JOB_DEF_ID_`
    pub job_def_id_: Option<String>,
    /// `JOB_DEF_TYPE_`
    pub job_def_type_: Option<String>,
    /// `JOB_DEF_CONFIGURATION_`
    pub job_def_configuration_: Option<String>,
    /// `TENANT_ID_`
    pub tenant_id_: Option<String>,
    /// `HOSTNAME_`
    pub hostname_: Option<String>,
    /// `REMOVAL_TIME_`
    pub removal_time_: Option<DateTime<Utc>>,
    /// `BATCH_ID_`
    pub batch_id_: String,
}

impl JobLog {
    /// Camunda's representation.
    pub fn to_dto(&self) -> HistoricJobLogDto {
        HistoricJobLogDto {
            id: self.id_.clone(),
            timestamp: format_date(self.timestamp_),
            removal_time: self.removal_time_.map(format_date),
            job_id: self.job_id_.clone(),
            job_due_date: self.job_duedate_.map(format_date),
            job_retries: self.job_retries_.unwrap_or(0),
            job_priority: self.job_priority_,
            job_exception_message: self.job_exception_msg_.clone(),
            failed_activity_id: None,
            job_definition_id: self.job_def_id_.clone().unwrap_or_default(),
            job_definition_type: self.job_def_type_.clone().unwrap_or_default(),
            job_definition_configuration: self.job_def_configuration_.clone().unwrap_or_default(),
            activity_id: None,
            execution_id: None,
            process_instance_id: None,
            process_definition_id: None,
            process_definition_key: None,
            deployment_id: None,
            root_process_instance_id: None,
            tenant_id: self.tenant_id_.clone(),
            hostname: self.hostname_.clone(),
            batch_id: self.batch_id_.clone(),
            creation_log: self.job_state_ == LogState::Created.code(),
            failure_log: self.job_state_ == LogState::Failed.code(),
            success_log: self.job_state_ == LogState::Successful.code(),
            deletion_log: self.job_state_ == LogState::Deleted.code(),
        }
    }
}

/// `ORDER BY` keys of `GET /history/job-log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobLogSortKey {
    /// `timestamp` and `occurrence`
    Timestamp,
    /// `jobId`
    JobId,
    /// `jobDefinitionId`
    JobDefinitionId,
    /// `jobDueDate`
    JobDueDate,
    /// `jobRetries`
    JobRetries,
    /// `jobPriority`
    JobPriority,
    /// `tenantId`
    TenantId,
    /// `hostname`
    Hostname,
    /// A key whose column batch jobs do not have (all null): only the id orders.
    Unset,
}

impl SortKey for JobLogSortKey {
    fn column(self) -> Option<&'static str> {
        match self {
            JobLogSortKey::Timestamp => Some("l.timestamp_"),
            JobLogSortKey::JobId => Some("l.job_id_"),
            JobLogSortKey::JobDefinitionId => Some("l.job_def_id_"),
            JobLogSortKey::JobDueDate => Some("l.job_duedate_"),
            JobLogSortKey::JobRetries => Some("l.job_retries_"),
            JobLogSortKey::JobPriority => Some("l.job_priority_"),
            JobLogSortKey::TenantId => Some("l.tenant_id_"),
            JobLogSortKey::Hostname => Some("l.hostname_"),
            JobLogSortKey::Unset => None,
        }
    }
}

/// Filters of `GET /history/job-log`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobLogFilter {
    /// `logId`
    pub id: Option<String>,
    /// `jobId`
    pub job_id: Option<String>,
    /// `jobExceptionMessage`
    pub exception_message: Option<String>,
    /// `jobDefinitionId`
    pub job_definition_id: Option<String>,
    /// `jobDefinitionType`
    pub job_definition_type: Option<String>,
    /// `jobDefinitionConfiguration`
    pub job_definition_configuration: Option<String>,
    /// `jobPriorityLowerThanOrEquals`
    pub priority_at_most: Option<i64>,
    /// `jobPriorityHigherThanOrEquals`
    pub priority_at_least: Option<i64>,
    /// `tenantIdIn`
    pub tenant_ids: Vec<String>,
    /// `withoutTenantId=true`
    pub without_tenant_id: bool,
    /// `creationLog`, `failureLog`, `successLog`, `deletionLog` set to `true`: the states to keep.
    pub states: Vec<LogState>,
    /// A filter batch jobs never match was given (a process instance, an activity, …).
    pub match_nothing: bool,
    /// Only entries of batches this principal may read the history of.
    pub visible_to: Option<Principal>,
}

impl Filter for JobLogFilter {
    fn conditions(&self, sql: &mut SqlBuilder) {
        if self.match_nothing {
            sql.push(" AND false");
        }
        for (column, value) in [
            ("l.id_", &self.id),
            ("l.job_id_", &self.job_id),
            ("l.job_exception_msg_", &self.exception_message),
            ("l.job_def_id_", &self.job_definition_id),
            ("l.job_def_type_", &self.job_definition_type),
            ("l.job_def_configuration_", &self.job_definition_configuration),
        ] {
            if let Some(value) = value {
                sql.push(&format!(" AND {column} = ")).bind(value.clone());
            }
        }
        if let Some(p) = self.priority_at_most {
            sql.push(" AND l.job_priority_ <= ").bind(p);
        }
        if let Some(p) = self.priority_at_least {
            sql.push(" AND l.job_priority_ >= ").bind(p);
        }
        // Camunda's state flags narrow to one state each; two of them match nothing.
        for state in &self.states {
            sql.push(&format!(" AND l.job_state_ = {}", state.code()));
        }
        if self.without_tenant_id {
            sql.push(" AND l.tenant_id_ IS NULL");
        } else if !self.tenant_ids.is_empty() {
            sql.push(" AND l.tenant_id_ = ANY(").bind(self.tenant_ids.clone()).push(")");
        }
        if let Some(principal) = &self.visible_to {
            principal.push_batch_visible(sql, Permission::ReadHistory);
        }
    }
}

const SELECT: &str = "SELECT l.id_, l.timestamp_, l.job_id_, l.job_duedate_, l.job_retries_, l.job_priority_, \
    l.job_exception_msg_, l.job_state_, l.job_def_id_, l.job_def_type_, l.job_def_configuration_, l.tenant_id_, \
    l.hostname_, l.removal_time_, l.batch_id_";
const FROM: &str = "FROM sweep_hi_job_log l JOIN sweep_hi_batch b ON b.id_ = l.batch_id_";

/// Entries matching `filter`, ordered and paged.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &JobLogFilter,
    sort: Option<Sort<JobLogSortKey>>,
    page: Page,
) -> Result<Vec<JobLog>, DbErr> {
    listing::list(db, &format!("{SELECT} {FROM}"), filter, sort, "l.id_", page).await
}

/// Number of entries matching `filter`.
pub async fn count(db: &impl ConnectionTrait, filter: &JobLogFilter) -> Result<i64, DbErr> {
    listing::count(db, FROM, filter).await
}

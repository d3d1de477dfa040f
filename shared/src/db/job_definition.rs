//! The job definitions of runtime batches, as Camunda's job-definition API shows them. Sweep
//! keeps no table of them: each `SWEEP_BATCH` row names its three (seed, monitor, execution
//! jobs), so they are derived from it and vanish with the batch, as Camunda deletes them when
//! a batch completes or is deleted. Only `SWEEP_BATCH` is read here.

use sea_orm::{ConnectionTrait, DbErr, FromQueryResult};

use super::listing::{self, Filter, Page, Sort, SortKey};
use crate::auth::{Permission, Principal};
use crate::camunda::JobDefinitionDto;
use crate::query::SqlBuilder;

/// The three job definitions of every runtime batch `b`, as rows `d(id_, job_type_)`, with
/// Camunda's job types: `batch-seed-job`, `batch-monitor-job` and the batch type.
const FROM_DEFINITIONS: &str = "FROM sweep_batch b CROSS JOIN LATERAL (VALUES \
    (b.seed_job_def_id_, 'batch-seed-job'), (b.monitor_job_def_id_, 'batch-monitor-job'), \
    (b.batch_job_def_id_, b.type_)) AS d(id_, job_type_)";

/// A batch job definition.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct JobDefinition {
    /// Its id.
    pub id_: String,
    /// `batch-seed-job`, `batch-monitor-job` or the batch type.
    pub job_type_: String,
    /// The batch.
    pub batch_id_: String,
    /// Whether the batch is suspended.
    pub suspended_: bool,
    /// The batch's tenant.
    pub tenant_id_: Option<String>,
    /// The batch's priority, for its execution-job definition: the priority its jobs get
    /// (`PUT /job-definition/{id}/jobPriority` sets it).
    pub priority_: Option<i64>,
}

impl JobDefinition {
    /// Camunda's representation.
    pub fn to_dto(&self) -> JobDefinitionDto {
        JobDefinitionDto {
            id: self.id_.clone(),
            process_definition_id: None,
            process_definition_key: None,
            activity_id: None,
            job_type: self.job_type_.clone(),
            job_configuration: self.batch_id_.clone(),
            suspended: self.suspended_,
            overriding_job_priority: self.priority_,
            tenant_id: self.tenant_id_.clone(),
            deployment_id: None,
        }
    }
}

/// `ORDER BY` keys of `GET /job-definition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobDefinitionSortKey {
    /// `jobDefinitionId`
    Id,
    /// `jobType`
    JobType,
    /// `jobConfiguration`
    JobConfiguration,
    /// `tenantId`
    TenantId,
    /// A key whose column batch job definitions do not have (all null): only the id orders.
    Unset,
}

impl SortKey for JobDefinitionSortKey {
    fn column(self) -> Option<&'static str> {
        match self {
            JobDefinitionSortKey::Id => Some("d.id_"),
            JobDefinitionSortKey::JobType => Some("d.job_type_"),
            JobDefinitionSortKey::JobConfiguration => Some("b.id_"),
            JobDefinitionSortKey::TenantId => Some("b.tenant_id_"),
            JobDefinitionSortKey::Unset => None,
        }
    }
}

/// Filters of `GET /job-definition`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobDefinitionFilter {
    /// `jobDefinitionId`
    pub id: Option<String>,
    /// `jobDefinitionIdIn`; an empty list does not filter.
    pub ids: Vec<String>,
    /// `jobType`
    pub job_type: Option<String>,
    /// `jobConfiguration`
    pub job_configuration: Option<String>,
    /// `suspended=true`
    pub suspended: bool,
    /// `active=true`
    pub active: bool,
    /// `tenantIdIn`
    pub tenant_ids: Vec<String>,
    /// `withoutTenantId=true`
    pub without_tenant_id: bool,
    /// A filter batch job definitions never match was given (a process definition, …).
    pub match_nothing: bool,
    /// Only definitions of batches this principal may read.
    pub visible_to: Option<Principal>,
}

impl Filter for JobDefinitionFilter {
    fn conditions(&self, sql: &mut SqlBuilder) {
        if self.match_nothing {
            sql.push(" AND false");
        }
        if let Some(id) = &self.id {
            sql.push(" AND d.id_ = ").bind(id.clone());
        }
        if !self.ids.is_empty() {
            sql.push(" AND d.id_ = ANY(").bind(self.ids.clone()).push(")");
        }
        if let Some(kind) = &self.job_type {
            sql.push(" AND d.job_type_ = ").bind(kind.clone());
        }
        if let Some(batch) = &self.job_configuration {
            sql.push(" AND b.id_ = ").bind(batch.clone());
        }
        if self.suspended {
            sql.push(" AND b.suspended_");
        }
        if self.active {
            sql.push(" AND NOT b.suspended_");
        }
        listing::tenant_condition(sql, &self.tenant_ids, self.without_tenant_id);
        if let Some(principal) = &self.visible_to {
            principal.push_batch_visible(sql, Permission::Read);
        }
    }
}

const COLUMNS: &str = "SELECT d.id_, d.job_type_, b.id_ AS batch_id_, b.suspended_, b.tenant_id_, \
    CASE WHEN d.id_ = b.batch_job_def_id_ THEN b.priority_ END AS priority_";

/// Job definitions matching `filter`, ordered and paged.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &JobDefinitionFilter,
    sort: Option<Sort<JobDefinitionSortKey>>,
    page: Page,
) -> Result<Vec<JobDefinition>, DbErr> {
    listing::list(db, &format!("{COLUMNS} {FROM_DEFINITIONS}"), filter, sort, "d.id_", page).await
}

/// Number of job definitions matching `filter`.
pub async fn count(db: &impl ConnectionTrait, filter: &JobDefinitionFilter) -> Result<i64, DbErr> {
    listing::count(db, FROM_DEFINITIONS, filter).await
}

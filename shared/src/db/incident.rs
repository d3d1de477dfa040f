//! Camunda's `failedJob` incidents of batch jobs, derived from `SWEEP_BATCH_JOB`: a job out of
//! retries (state `failed`) has one, opened when it failed for good (its end time) and gone
//! when it is given retries again, succeeds or is deleted — as Camunda resolves the incident
//! with the job. Sweep runs no BPMN, so it has no other incident type. Nothing is written here.

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult};

use super::batch_job::JobState;
use super::listing::{self, Filter, Page, Sort, SortKey};
use crate::auth::{Permission, Principal};
use crate::camunda::{IncidentDto, format_date};
use crate::query::SqlBuilder;

/// Camunda's incident type of a job out of retries.
pub const FAILED_JOB: &str = "failedJob";

/// The incident id of a failed job: stable, and unique among incidents.
const INCIDENT_ID: &str = "(j.id_ || ':failedJob')";

const FROM_INCIDENTS: &str = "FROM sweep_batch_job j JOIN sweep_batch b ON b.id_ = j.batch_id_";

/// A failed batch job's incident.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Incident {
    /// Incident id.
    pub incident_id: String,
    /// The failed job.
    pub job_id: String,
    /// When the job failed for good.
    pub timestamp: DateTime<Utc>,
    /// The job's exception message.
    pub message: Option<String>,
    /// The batch's `batchJobDefinitionId`.
    pub job_definition_id: String,
    /// The batch's tenant.
    pub tenant_id: Option<String>,
}

impl Incident {
    /// Camunda's representation.
    pub fn to_dto(&self) -> IncidentDto {
        IncidentDto {
            id: self.incident_id.clone(),
            process_definition_id: None,
            process_instance_id: None,
            execution_id: None,
            incident_timestamp: Some(format_date(self.timestamp)),
            incident_type: FAILED_JOB.to_owned(),
            activity_id: None,
            failed_activity_id: None,
            cause_incident_id: self.incident_id.clone(),
            root_cause_incident_id: self.incident_id.clone(),
            configuration: self.job_id.clone(),
            tenant_id: self.tenant_id.clone(),
            incident_message: self.message.clone(),
            job_definition_id: self.job_definition_id.clone(),
            annotation: None,
        }
    }
}

/// `ORDER BY` keys of `GET /incident`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentSortKey {
    /// `incidentId`
    Id,
    /// `incidentMessage`
    Message,
    /// `incidentTimestamp`
    Timestamp,
    /// `configuration`
    Configuration,
    /// `tenantId`
    TenantId,
    /// A key on which all incidents are equal (type, activity, process, …): only the id orders.
    Unset,
}

impl SortKey for IncidentSortKey {
    fn column(self) -> Option<&'static str> {
        match self {
            IncidentSortKey::Id => Some(INCIDENT_ID),
            IncidentSortKey::Message => Some("j.exception_msg_"),
            IncidentSortKey::Timestamp => Some("coalesce(j.end_time_, j.create_time_)"),
            IncidentSortKey::Configuration => Some("j.id_"),
            IncidentSortKey::TenantId => Some("b.tenant_id_"),
            IncidentSortKey::Unset => None,
        }
    }
}

/// Filters of `GET /incident`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// `incidentId`
    pub id: Option<String>,
    /// `incidentType`: anything but `failedJob` matches nothing.
    pub kind: Option<String>,
    /// `incidentMessage`
    pub message: Option<String>,
    /// `incidentMessageLike` (a `LIKE` pattern)
    pub message_like: Option<String>,
    /// `incidentTimestampBefore` (inclusive)
    pub before: Option<DateTime<FixedOffset>>,
    /// `incidentTimestampAfter` (inclusive)
    pub after: Option<DateTime<FixedOffset>>,
    /// `causeIncidentId`: an incident is its own cause.
    pub cause_id: Option<String>,
    /// `rootCauseIncidentId`
    pub root_cause_id: Option<String>,
    /// `configuration`: the job id.
    pub configuration: Option<String>,
    /// `jobDefinitionId` and `jobDefinitionIdIn`; an empty list does not filter.
    pub job_definition_ids: Vec<String>,
    /// `tenantIdIn`
    pub tenant_ids: Vec<String>,
    /// `withoutTenantId=true`
    pub without_tenant_id: bool,
    /// A filter no batch incident matches was given (a process instance, an activity, …).
    pub match_nothing: bool,
    /// Only incidents of batches this principal may read.
    pub visible_to: Option<Principal>,
}

impl Filter for IncidentFilter {
    fn conditions(&self, sql: &mut SqlBuilder) {
        sql.push(&format!(" AND j.state_ = {}", JobState::Failed.literal()));
        if self.match_nothing || self.kind.as_deref().is_some_and(|k| k != FAILED_JOB) {
            sql.push(" AND false");
        }
        for id in [&self.id, &self.cause_id, &self.root_cause_id].into_iter().flatten() {
            sql.push(&format!(" AND {INCIDENT_ID} = ")).bind(id.clone());
        }
        if let Some(message) = &self.message {
            sql.push(" AND j.exception_msg_ = ").bind(message.clone());
        }
        if let Some(pattern) = &self.message_like {
            sql.push(" AND j.exception_msg_ LIKE ").bind(pattern.clone());
        }
        let at = "coalesce(j.end_time_, j.create_time_)";
        listing::time_bound(sql, at, "<=", self.before);
        listing::time_bound(sql, at, ">=", self.after);
        if let Some(job) = &self.configuration {
            sql.push(" AND j.id_ = ").bind(job.clone());
        }
        if !self.job_definition_ids.is_empty() {
            sql.push(" AND b.batch_job_def_id_ = ANY(").bind(self.job_definition_ids.clone()).push(")");
        }
        listing::tenant_condition(sql, &self.tenant_ids, self.without_tenant_id);
        if let Some(principal) = &self.visible_to {
            principal.push_batch_visible(sql, Permission::Read);
        }
    }
}

const COLUMNS: &str = "SELECT (j.id_ || ':failedJob') AS incident_id, j.id_ AS job_id, \
    coalesce(j.end_time_, j.create_time_) AS timestamp, j.exception_msg_ AS message, \
    b.batch_job_def_id_ AS job_definition_id, b.tenant_id_ AS tenant_id";

/// Incidents matching `filter`, ordered and paged.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &IncidentFilter,
    sort: Option<Sort<IncidentSortKey>>,
    page: Page,
) -> Result<Vec<Incident>, DbErr> {
    listing::list(db, &format!("{COLUMNS} {FROM_INCIDENTS}"), filter, sort, INCIDENT_ID, page).await
}

/// Number of incidents matching `filter`.
pub async fn count(db: &impl ConnectionTrait, filter: &IncidentFilter) -> Result<i64, DbErr> {
    listing::count(db, FROM_INCIDENTS, filter).await
}

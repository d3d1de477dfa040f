//! Camunda's historic job log over batch jobs: `GET /history/job-log` and
//! `GET /history/job-log/count` read `SWEEP_HI_JOB_LOG` — a creation, failure, success or
//! deletion entry per event of each execution job — for users who may read the batch's history
//! (READ_HISTORY on the batch, and its tenants). Entries go with their historic batch. Without
//! `sortBy` they come in the order they were written.

use axum::Extension;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use shared::auth::Principal;
use shared::camunda::{CountResultDto, HistoricJobLogDto};
use shared::db::job_log::{self, JobLogFilter, JobLogSortKey, LogState};
use shared::db::listing::Sort;

use crate::params::{PagingParams, QueryParams};
use crate::{ApiError, AppState};

/// Doc-only: the filters of `GET /history/job-log` and its count, as [`filter`] reads them.
/// Filters on process instances, activities and deployments match no batch job.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct JobLogQueryParams {
    /// Entry id.
    log_id: Option<String>,
    /// Job id.
    job_id: Option<String>,
    /// Exact exception message.
    job_exception_message: Option<String>,
    /// Job-definition id.
    job_definition_id: Option<String>,
    /// `instance-deletion`.
    job_definition_type: Option<String>,
    /// The batch id.
    job_definition_configuration: Option<String>,
    /// Matches nothing.
    activity_id_in: Option<String>,
    /// Matches nothing.
    failed_activity_id_in: Option<String>,
    /// Matches nothing.
    execution_id_in: Option<String>,
    /// Matches nothing.
    process_instance_id: Option<String>,
    /// Matches nothing.
    process_definition_id: Option<String>,
    /// Matches nothing.
    process_definition_key: Option<String>,
    /// Matches nothing.
    deployment_id: Option<String>,
    /// Comma-separated tenant ids.
    tenant_id_in: Option<String>,
    /// Only entries without a tenant.
    without_tenant_id: Option<bool>,
    /// Priority at most.
    job_priority_lower_than_or_equals: Option<i64>,
    /// Priority at least.
    job_priority_higher_than_or_equals: Option<i64>,
    /// Only creation entries.
    creation_log: Option<bool>,
    /// Only failure entries.
    failure_log: Option<bool>,
    /// Only success entries.
    success_log: Option<bool>,
    /// Only deletion entries.
    deletion_log: Option<bool>,
}

/// Doc-only: `sortBy` / `sortOrder` of `GET /history/job-log`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct JobLogSortParams {
    /// `timestamp`, `jobId`, `jobDefinitionId`, `jobDueDate`, `jobRetries`, `jobPriority`,
    /// `activityId`, `executionId`, `processInstanceId`, `processDefinitionId`,
    /// `processDefinitionKey`, `deploymentId`, `occurrence`, `tenantId` or `hostname`; with
    /// `sortOrder`.
    sort_by: Option<String>,
    /// `asc` or `desc`; with `sortBy`.
    sort_order: Option<String>,
}

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/history/job-log", get(list)).route("/history/job-log/count", get(count))
}

fn priority(params: &QueryParams, key: &str) -> Result<Option<i64>, ApiError> {
    params
        .string(key)
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                ApiError::InvalidRequest(format!(
                    "Cannot set query parameter '{key}' to value '{v}': Cannot convert value {v} to java type java.lang.Long"
                ))
            })
        })
        .transpose()
}

fn filter(params: &QueryParams, principal: &Principal) -> Result<JobLogFilter, ApiError> {
    let process_bound = ["activityIdIn", "failedActivityIdIn", "executionIdIn", "processInstanceId"]
        .into_iter()
        .chain(["processDefinitionId", "processDefinitionKey", "deploymentId"])
        .any(|k| params.string(k).is_some());
    let mut states = Vec::new();
    for (key, state) in [
        ("creationLog", LogState::Created),
        ("failureLog", LogState::Failed),
        ("successLog", LogState::Successful),
        ("deletionLog", LogState::Deleted),
    ] {
        if params.flag(key)? {
            states.push(state);
        }
    }
    Ok(JobLogFilter {
        id: params.string("logId"),
        job_id: params.string("jobId"),
        exception_message: params.string("jobExceptionMessage"),
        job_definition_id: params.string("jobDefinitionId"),
        job_definition_type: params.string("jobDefinitionType"),
        job_definition_configuration: params.string("jobDefinitionConfiguration"),
        priority_at_most: priority(params, "jobPriorityLowerThanOrEquals")?,
        priority_at_least: priority(params, "jobPriorityHigherThanOrEquals")?,
        tenant_ids: params.list_or_empty("tenantIdIn"),
        without_tenant_id: params.flag("withoutTenantId")?,
        states,
        match_nothing: process_bound,
        visible_to: Some(principal.clone()),
    })
}

/// Lists the job-log entries of the batches whose history the user may read.
#[utoipa::path(
    get,
    path = "/history/job-log",
    operation_id = "getHistoricJobLogs",
    tag = "Historic Job Log",
    params(JobLogQueryParams, JobLogSortParams, PagingParams),
    responses((status = 200, description = "The entries", body = Vec<HistoricJobLogDto>))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<Vec<HistoricJobLogDto>>, ApiError> {
    let filter = filter(&params, &principal)?;
    let sort = params.sort(|v| match v {
        "timestamp" | "occurrence" => Some(JobLogSortKey::Timestamp),
        "jobId" => Some(JobLogSortKey::JobId),
        "jobDefinitionId" => Some(JobLogSortKey::JobDefinitionId),
        "jobDueDate" => Some(JobLogSortKey::JobDueDate),
        "jobRetries" => Some(JobLogSortKey::JobRetries),
        "jobPriority" => Some(JobLogSortKey::JobPriority),
        "tenantId" => Some(JobLogSortKey::TenantId),
        "hostname" => Some(JobLogSortKey::Hostname),
        "activityId"
        | "executionId"
        | "processInstanceId"
        | "processDefinitionId"
        | "processDefinitionKey"
        | "deploymentId" => Some(JobLogSortKey::Unset),
        _ => None,
    })?;
    // Entry ids are random: the order of writing is the useful default.
    let sort = sort.or(Some(Sort { key: JobLogSortKey::Timestamp, desc: false }));
    let page = params.page()?;
    let entries = job_log::list(&state.db, &filter, sort, page).await?;
    Ok(axum::Json(entries.iter().map(|e| e.to_dto()).collect()))
}

/// Counts the job-log entries of the batches whose history the user may read.
#[utoipa::path(
    get,
    path = "/history/job-log/count",
    operation_id = "getHistoricJobLogsCount",
    tag = "Historic Job Log",
    params(JobLogQueryParams),
    responses((status = 200, description = "The number of entries", body = CountResultDto))
)]
pub(crate) async fn count(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<CountResultDto>, ApiError> {
    let filter = filter(&params, &principal)?;
    Ok(axum::Json(CountResultDto { count: job_log::count(&state.db, &filter).await? }))
}

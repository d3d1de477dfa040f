//! Batch jobs through Camunda's job API (§4.7), the way operators find, retry and delete
//! failed batch jobs: `GET /job`, `GET /job/count`, `GET /job/{id}`, `DELETE /job/{id}`,
//! `PUT /job/{id}/retries` and `PUT /job-definition/{id}/retries`. Sweep has no other jobs, so
//! these endpoints only ever show batch jobs; a finished job no longer exists, as in Camunda.
//! Besides the execution jobs they list each running batch's seed job (`<batchId>:seed`, while
//! jobs remain to be created) and monitor job (`<batchId>:monitor`), synthesized from the
//! batch: they can be read, not retried or deleted (404).
//!
//! `dueDate` in a retries body (Camunda 7.20+) sets the due date of the jobs it gives retries:
//! a worker does not run a job before it.
//!
//! Differences from Camunda, all in the caller's favour:
//! - an unknown job answers 404 `No job found with id '<id>'` (Camunda: 500 with a stray quote);
//! - missing or negative `retries` answer 400 (Camunda: 500);
//! - giving a failed job retries also puts its failed items back to pending and re-enqueues it;
//! - `dueDates`, `createTimes` and the priority filters are not supported and ignored;
//! - deleting a job makes its still-pending items `skipped` (reason `job <id> was deleted`), so
//!   the ledger keeps adding up; Camunda simply never processes them.

use axum::Extension;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use chrono::Utc;
use shared::auth::Principal;
use shared::batch::control;
use shared::camunda::{CountResultDto, ExceptionDto, JobDto, RetriesDto};
use shared::db::batch_job::{self, JobFilter, JobSortKey};

use crate::extract::Json;
use crate::params::{PagingParams, QueryParams};

/// Doc-only: the filters of `GET /job` and `GET /job/count`, as [`filter`] reads them. Filters
/// on process instances, activities and timers match no batch job.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct JobQueryParams {
    /// Job id (`<batchId>:<n>`).
    job_id: Option<String>,
    /// Comma-separated job ids.
    job_ids: Option<String>,
    /// Job-definition id: a batch's `batchJobDefinitionId`.
    job_definition_id: Option<String>,
    /// Matches no batch job.
    process_instance_id: Option<String>,
    /// Matches no batch job.
    process_instance_ids: Option<String>,
    /// Matches no batch job.
    execution_id: Option<String>,
    /// Matches no batch job.
    process_definition_id: Option<String>,
    /// Matches no batch job.
    process_definition_key: Option<String>,
    /// Matches no batch job.
    activity_id: Option<String>,
    /// Matches no batch job.
    failed_activity_id: Option<String>,
    /// Only jobs with retries left.
    with_retries_left: Option<bool>,
    /// Only jobs with retries left that are due (no due date, or one that has passed).
    executable: Option<bool>,
    /// Only timers: matches no batch job.
    timers: Option<bool>,
    /// Only messages (every batch job).
    messages: Option<bool>,
    /// Only jobs without retries left.
    no_retries_left: Option<bool>,
    /// Only jobs that failed.
    with_exception: Option<bool>,
    /// Exact exception message.
    exception_message: Option<String>,
    /// Only jobs of suspended batches.
    suspended: Option<bool>,
    /// Only jobs of active batches.
    active: Option<bool>,
    /// Comma-separated tenant ids.
    tenant_id_in: Option<String>,
    /// Only jobs without a tenant.
    without_tenant_id: Option<bool>,
    /// Accepted; batch jobs have no tenant.
    include_jobs_without_tenant_id: Option<bool>,
}

/// Doc-only: `sortBy` / `sortOrder` of `GET /job`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct JobSortParams {
    /// `jobId`, `jobRetries`, `tenantId`, `executionId`, `processInstanceId`, `processDefinitionId`,
    /// `processDefinitionKey`, `jobPriority` or `jobDueDate`; with `sortOrder`.
    sort_by: Option<String>,
    /// `asc` or `desc`; with `sortBy`.
    sort_order: Option<String>,
}
use crate::{ApiError, AppState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/job", get(list))
        .route("/job/count", get(count))
        .route("/job/{id}", get(find).delete(delete))
        .route("/job/{id}/retries", put(set_retries))
        .route("/job-definition/{id}/retries", put(set_definition_retries))
}

fn filter(params: &QueryParams, principal: &Principal) -> Result<JobFilter, ApiError> {
    // Batch jobs belong to no process instance or activity and are never timers.
    let instance_bound = ["processInstanceId", "processInstanceIds", "executionId", "processDefinitionId"]
        .into_iter()
        .chain(["processDefinitionKey", "activityId", "failedActivityId"])
        .any(|k| params.string(k).is_some());
    let timers = params.flag("timers")?;
    params.flag("messages")?;
    params.flag("includeJobsWithoutTenantId")?;
    Ok(JobFilter {
        job_id: params.string("jobId"),
        job_ids: params.list_or_empty("jobIds"),
        job_definition_id: params.string("jobDefinitionId"),
        with_retries_left: params.flag("withRetriesLeft")?,
        executable: params.flag("executable")?,
        no_retries_left: params.flag("noRetriesLeft")?,
        with_exception: params.flag("withException")?,
        exception_message: params.string("exceptionMessage"),
        suspended: params.flag("suspended")?,
        active: params.flag("active")?,
        tenant_ids: params.list_or_empty("tenantIdIn"),
        without_tenant_id: params.flag("withoutTenantId")?,
        match_nothing: instance_bound || timers,
        visible_to: Some(principal.clone()),
    })
}

/// Lists the batch execution jobs the user may read.
#[utoipa::path(
    get,
    path = "/job",
    operation_id = "getJobs",
    tag = "Job",
    params(JobQueryParams, JobSortParams, PagingParams),
    responses((status = 200, description = "The jobs", body = Vec<JobDto>))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<Vec<JobDto>>, ApiError> {
    let filter = filter(&params, &principal)?;
    let sort = params.sort(|v| match v {
        "jobId" => Some(JobSortKey::JobId),
        "jobRetries" => Some(JobSortKey::Retries),
        "tenantId" => Some(JobSortKey::TenantId),
        "jobDueDate" => Some(JobSortKey::DueDate),
        "jobPriority" => Some(JobSortKey::Priority),
        "executionId" | "processInstanceId" | "processDefinitionId" | "processDefinitionKey" => Some(JobSortKey::Unset),
        _ => None,
    })?;
    let page = params.page()?;
    let jobs = batch_job::list(&state.db, &filter, sort, page).await?;
    Ok(axum::Json(jobs.iter().map(|j| j.to_dto()).collect()))
}

/// Counts the batch execution jobs the user may read.
#[utoipa::path(
    get,
    path = "/job/count",
    operation_id = "getJobsCount",
    tag = "Job",
    params(JobQueryParams),
    responses((status = 200, description = "The number of jobs", body = CountResultDto))
)]
pub(crate) async fn count(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<CountResultDto>, ApiError> {
    let filter = filter(&params, &principal)?;
    Ok(axum::Json(CountResultDto { count: batch_job::count(&state.db, &filter).await? }))
}

fn retries(body: &RetriesDto) -> Result<(i32, control::DueDateChange), ApiError> {
    let retries = match body.retries {
        Some(n) if n >= 0 => n,
        other => {
            return Err(ApiError::InvalidRequest(format!(
                "The number of job retries must be a non-negative Integer, but '{}' has been provided.",
                other.map_or_else(|| "null".to_owned(), |n| n.to_string())
            )));
        }
    };
    let due_date = match &body.due_date {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => Some(Some(
            shared::camunda::parse_date(text)
                .ok_or_else(|| {
                    ApiError::InvalidRequest(format!(
                        "Cannot deserialize the request body at `dueDate`: '{text}' is not a date in the format yyyy-MM-dd'T'HH:mm:ss.SSSZ"
                    ))
                })?
                .with_timezone(&Utc),
        )),
    };
    Ok((retries, due_date))
}

/// One batch job (an execution, seed or monitor job) the user may read.
#[utoipa::path(
    get,
    path = "/job/{id}",
    operation_id = "getJob",
    tag = "Job",
    params(("id" = String, Path, description = "Job id (`<batchId>:<n>`, `<batchId>:seed` or `<batchId>:monitor`)")),
    responses(
        (status = 200, description = "The job", body = JobDto),
        (status = 404, description = "No such job, or the user may not read it", body = ExceptionDto),
    )
)]
pub(crate) async fn find(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<axum::Json<JobDto>, ApiError> {
    let filter = JobFilter { job_id: Some(id.clone()), visible_to: Some(principal), ..Default::default() };
    let jobs = batch_job::list(&state.db, &filter, None, shared::db::listing::Page::default()).await?;
    let job = jobs.first().ok_or_else(|| ApiError::NotFound(format!("Job with id {id} does not exist")))?;
    Ok(axum::Json(job.to_dto()))
}

/// Deletes a batch execution job: it counts as completed and its pending instances are never
/// processed (their items become `skipped`); the batch can then complete.
#[utoipa::path(
    delete,
    path = "/job/{id}",
    operation_id = "deleteJob",
    tag = "Job",
    description = "Camunda deletes the job and never processes its instances; Sweep records its still-pending \
items as `skipped` with the reason `job <id> was deleted` (failed ones stay failed), so the batch's counters \
keep adding up, and the batch completes once its other jobs are done. Seed and monitor jobs cannot be deleted.",
    params(("id" = String, Path, description = "Job id (`<batchId>:<n>`)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such job, or the user may not read it", body = ExceptionDto),
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let committed = control::delete_job(&state.db, &state.outbox, &principal, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("No job found with id '{id}': job is null")))?;
    state.publish(&committed).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets a job's retries; a failed job's failed items go back to pending and it is re-enqueued.
#[utoipa::path(
    put,
    path = "/job/{id}/retries",
    operation_id = "setJobRetries",
    tag = "Job",
    params(("id" = String, Path, description = "Job id (`<batchId>:<n>`)")),
    request_body = RetriesDto,
    responses(
        (status = 204, description = "Retries set"),
        (status = 413, description = "The body exceeds `http.body_limit_bytes`", body = ExceptionDto),
        (status = 415, description = "Not `application/json`", body = ExceptionDto),
        (status = 404, description = "No such job, or the user may not read it", body = ExceptionDto),
    )
)]
pub(crate) async fn set_retries(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<RetriesDto>,
) -> Result<StatusCode, ApiError> {
    let (retries, due_date) = retries(&body)?;
    let committed = control::set_job_retries(&state.db, &state.outbox, &principal, &id, retries, due_date)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("No job found with id '{id}'")))?;
    state.publish(&committed).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets the retries of every job of a job definition (a batch's `batchJobDefinitionId`).
#[utoipa::path(
    put,
    path = "/job-definition/{id}/retries",
    operation_id = "setJobRetriesJobDefinition",
    tag = "Job Definition",
    params(("id" = String, Path, description = "Job-definition id")),
    request_body = RetriesDto,
    responses(
        (status = 204, description = "Retries set"),
        (status = 413, description = "The body exceeds `http.body_limit_bytes`", body = ExceptionDto),
        (status = 415, description = "Not `application/json`", body = ExceptionDto),
    )
)]
pub(crate) async fn set_definition_retries(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<RetriesDto>,
) -> Result<StatusCode, ApiError> {
    let (retries, due_date) = retries(&body)?;
    let committed =
        control::set_definition_retries(&state.db, &state.outbox, &principal, &id, retries, due_date).await?;
    state.publish(&committed).await;
    Ok(StatusCode::NO_CONTENT)
}

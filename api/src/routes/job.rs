//! Batch execution jobs through Camunda's job API (§4.7), the way operators find and retry
//! failed batch jobs: `GET /job`, `GET /job/count`, `PUT /job/{id}/retries` and
//! `PUT /job-definition/{id}/retries`. Sweep has no other jobs, so these endpoints only ever
//! show batch jobs; a finished job no longer exists, as in Camunda.
//!
//! Differences from Camunda, all in the caller's favour:
//! - an unknown job answers 404 `No job found with id '<id>'` (Camunda: 500 with a stray quote);
//! - missing or negative `retries` answer 400 (Camunda: 500);
//! - giving a failed job retries also puts its failed items back to pending and re-enqueues it;
//! - `dueDates`, `createTimes` and the priority filters are not supported and ignored.

use axum::Extension;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use shared::auth::Principal;
use shared::batch::control;
use shared::camunda::{CountResultDto, JobDto, RetriesDto};
use shared::db::batch_job::{self, JobFilter, JobSortKey};

use crate::extract::Json;
use crate::params::QueryParams;
use crate::{ApiError, AppState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/job", get(list))
        .route("/job/count", get(count))
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
        // Batch jobs are due at once, so executable means retries left.
        with_retries_left: params.flag("withRetriesLeft")? | params.flag("executable")?,
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

async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<Vec<JobDto>>, ApiError> {
    let filter = filter(&params, &principal)?;
    let sort = params.sort(|v| match v {
        "jobId" => Some(JobSortKey::JobId),
        "jobRetries" => Some(JobSortKey::Retries),
        "tenantId" => Some(JobSortKey::TenantId),
        "executionId"
        | "processInstanceId"
        | "processDefinitionId"
        | "processDefinitionKey"
        | "jobPriority"
        | "jobDueDate" => Some(JobSortKey::Unset),
        _ => None,
    })?;
    let page = params.page()?;
    let jobs = batch_job::list(&state.db, &filter, sort, page).await?;
    Ok(axum::Json(jobs.iter().map(|j| j.to_dto()).collect()))
}

async fn count(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<CountResultDto>, ApiError> {
    let filter = filter(&params, &principal)?;
    Ok(axum::Json(CountResultDto { count: batch_job::count(&state.db, &filter).await? }))
}

fn retries(body: &RetriesDto) -> Result<i32, ApiError> {
    match body.retries {
        Some(n) if n >= 0 => Ok(n),
        other => Err(ApiError::InvalidRequest(format!(
            "The number of job retries must be a non-negative Integer, but '{}' has been provided.",
            other.map_or_else(|| "null".to_owned(), |n| n.to_string())
        ))),
    }
}

async fn set_retries(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<RetriesDto>,
) -> Result<StatusCode, ApiError> {
    let retries = retries(&body)?;
    let committed = control::set_job_retries(&state.db, &state.outbox, &principal, &id, retries)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("No job found with id '{id}'")))?;
    state.publish(&committed).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_definition_retries(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<RetriesDto>,
) -> Result<StatusCode, ApiError> {
    let retries = retries(&body)?;
    let committed = control::set_definition_retries(&state.db, &state.outbox, &principal, &id, retries).await?;
    state.publish(&committed).await;
    Ok(StatusCode::NO_CONTENT)
}

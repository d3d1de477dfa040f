//! Job priorities the Camunda way (§4.7): `PUT /job/{id}/priority` for one batch job and
//! `PUT /job-definition/{id}/jobPriority` for a batch's batch-job definition. Within a batch a
//! job of higher priority runs first. A batch-job definition's priority is its batch's
//! `priority` — one value: it weighs the batch's share of the cluster-wide limit and is given
//! to the jobs created from then on; `includeJobs` gives it to the open jobs too, and a null
//! priority goes back to `control.default_priority`. UPDATE on the batch; Camunda's
//! `SetPriority` rows in the operation log.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::put;
use axum::{Extension, Router};
use shared::auth::Principal;
use shared::batch::control;
use shared::camunda::ExceptionDto;
use shared::control::steering::priority_value;

use crate::extract::Json;
use crate::{ApiError, AppState};

/// Body of `PUT /job/{id}/priority` (Camunda's `PriorityDto`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct PriorityDto {
    /// The new priority; required, a 32-bit integer.
    #[schema(required = true, minimum = -2147483647, maximum = 2147483647)]
    priority: Option<i64>,
}

/// Body of `PUT /job-definition/{id}/jobPriority` (Camunda's `JobDefinitionPriorityDto`).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct JobDefinitionPriorityDto {
    /// The batch's priority; null clears the override (`control.default_priority`).
    #[schema(minimum = -2147483647, maximum = 2147483647)]
    priority: Option<i64>,
    /// Also set it on every open job of the batch.
    include_jobs: Option<bool>,
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/job/{id}/priority", put(set_job_priority))
        .route("/job-definition/{id}/jobPriority", put(set_definition_priority))
}

fn body_object(body: &serde_json::Value) -> Result<&serde_json::Map<String, serde_json::Value>, ApiError> {
    body.as_object().ok_or_else(|| ApiError::InvalidRequest("The body must be a JSON object".into()))
}

/// Sets the priority of one batch job.
#[utoipa::path(
    put,
    path = "/job/{id}/priority",
    operation_id = "setJobPriority",
    tag = "Job",
    params(("id" = String, Path, description = "Job id (`<batchId>:<n>`)")),
    request_body = PriorityDto,
    responses(
        (status = 204, description = "Priority set"),
        (status = 404, description = "No such job, or the user may not read it", body = ExceptionDto),
        (status = 413, description = "The body exceeds `http.body_limit_bytes`", body = ExceptionDto),
        (status = 415, description = "Not `application/json`", body = ExceptionDto),
    )
)]
pub(crate) async fn set_job_priority(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<serde_json::Value>,
) -> Result<StatusCode, ApiError> {
    let value = body_object(&body)?.get("priority").unwrap_or(&serde_json::Value::Null);
    let priority = priority_value(value)
        .map_err(ApiError::InvalidRequest)?
        .ok_or_else(|| ApiError::InvalidRequest("priority is required".into()))?;
    if !control::set_job_priority(&state.db, &principal, &id, priority).await? {
        return Err(ApiError::NotFound(format!("No job found with id '{id}'")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Sets the priority of a batch-job definition, which is its batch's priority.
#[utoipa::path(
    put,
    path = "/job-definition/{id}/jobPriority",
    operation_id = "setJobPriorityJobDefinition",
    tag = "Job Definition",
    params(("id" = String, Path, description = "Job-definition id (a batch's `batchJobDefinitionId`)")),
    request_body = JobDefinitionPriorityDto,
    responses(
        (status = 204, description = "Priority set"),
        (status = 404, description = "No such job definition, or the user may not read its batch", body = ExceptionDto),
        (status = 413, description = "The body exceeds `http.body_limit_bytes`", body = ExceptionDto),
        (status = 415, description = "Not `application/json`", body = ExceptionDto),
    )
)]
pub(crate) async fn set_definition_priority(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<serde_json::Value>,
) -> Result<StatusCode, ApiError> {
    let object = body_object(&body)?;
    let priority =
        priority_value(object.get("priority").unwrap_or(&serde_json::Value::Null)).map_err(ApiError::InvalidRequest)?;
    let include_jobs = match object.get("includeJobs") {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::InvalidRequest("includeJobs must be a boolean".into())),
    };
    let default_priority = state.settings.control.default_priority;
    if !control::set_definition_priority(&state.db, &principal, &id, priority, include_jobs, default_priority).await? {
        return Err(ApiError::NotFound(format!("Job definition with id '{id}' does not exist")));
    }
    Ok(StatusCode::NO_CONTENT)
}

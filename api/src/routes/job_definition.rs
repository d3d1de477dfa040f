//! Camunda's job-definition API over batches: `GET /job-definition`, `GET /job-definition/count`
//! and `GET /job-definition/{id}` show the three job definitions of each runtime batch — seed
//! (`batch-seed-job`), monitor (`batch-monitor-job`) and execution jobs (the batch type,
//! `instance-deletion`), `jobConfiguration` the batch id — to users who may read the batch. They
//! end with their batch, as in Camunda. (`PUT /job-definition/{id}/retries` lives in `job.rs`.)

use axum::Extension;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use shared::auth::Principal;
use shared::camunda::{CountResultDto, ExceptionDto, JobDefinitionDto};
use shared::db::job_definition::{self, JobDefinitionFilter, JobDefinitionSortKey};
use shared::db::listing::Page;

use crate::params::{PagingParams, QueryParams};
use crate::{ApiError, AppState};

/// Doc-only: the filters of `GET /job-definition` and its count, as [`filter`] reads them.
/// Filters on process definitions and activities match no batch job definition.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct JobDefinitionQueryParams {
    /// Job-definition id.
    job_definition_id: Option<String>,
    /// Comma-separated job-definition ids.
    job_definition_id_in: Option<String>,
    /// `batch-seed-job`, `batch-monitor-job` or `instance-deletion`.
    job_type: Option<String>,
    /// The batch id.
    job_configuration: Option<String>,
    /// Matches nothing.
    activity_id_in: Option<String>,
    /// Matches nothing.
    process_definition_id: Option<String>,
    /// Matches nothing.
    process_definition_key: Option<String>,
    /// Only definitions of active batches.
    active: Option<bool>,
    /// Only definitions of suspended batches.
    suspended: Option<bool>,
    /// Matches nothing: batch job definitions have no overriding priority.
    with_overriding_job_priority: Option<bool>,
    /// Comma-separated tenant ids.
    tenant_id_in: Option<String>,
    /// Only definitions without a tenant.
    without_tenant_id: Option<bool>,
    /// Accepted; batch job definitions have no tenant.
    include_job_definitions_without_tenant_id: Option<bool>,
}

/// Doc-only: `sortBy` / `sortOrder` of `GET /job-definition`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct JobDefinitionSortParams {
    /// `jobDefinitionId`, `activityId`, `processDefinitionId`, `processDefinitionKey`, `jobType`,
    /// `jobConfiguration` or `tenantId`; with `sortOrder`.
    sort_by: Option<String>,
    /// `asc` or `desc`; with `sortBy`.
    sort_order: Option<String>,
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/job-definition", get(list))
        .route("/job-definition/count", get(count))
        .route("/job-definition/{id}", get(find))
}

fn filter(params: &QueryParams, principal: &Principal) -> Result<JobDefinitionFilter, ApiError> {
    let process_bound =
        ["activityIdIn", "processDefinitionId", "processDefinitionKey"].into_iter().any(|k| params.string(k).is_some());
    params.flag("includeJobDefinitionsWithoutTenantId")?;
    Ok(JobDefinitionFilter {
        id: params.string("jobDefinitionId"),
        ids: params.list_or_empty("jobDefinitionIdIn"),
        job_type: params.string("jobType"),
        job_configuration: params.string("jobConfiguration"),
        suspended: params.flag("suspended")?,
        active: params.flag("active")?,
        tenant_ids: params.list_or_empty("tenantIdIn"),
        without_tenant_id: params.flag("withoutTenantId")?,
        match_nothing: process_bound | params.flag("withOverridingJobPriority")?,
        visible_to: Some(principal.clone()),
    })
}

/// Lists the job definitions of the batches the user may read.
#[utoipa::path(
    get,
    path = "/job-definition",
    operation_id = "getJobDefinitions",
    tag = "Job Definition",
    params(JobDefinitionQueryParams, JobDefinitionSortParams, PagingParams),
    responses((status = 200, description = "The job definitions", body = Vec<JobDefinitionDto>))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<Vec<JobDefinitionDto>>, ApiError> {
    let filter = filter(&params, &principal)?;
    let sort = params.sort(|v| match v {
        "jobDefinitionId" => Some(JobDefinitionSortKey::Id),
        "jobType" => Some(JobDefinitionSortKey::JobType),
        "jobConfiguration" => Some(JobDefinitionSortKey::JobConfiguration),
        "tenantId" => Some(JobDefinitionSortKey::TenantId),
        "activityId" | "processDefinitionId" | "processDefinitionKey" => Some(JobDefinitionSortKey::Unset),
        _ => None,
    })?;
    let page = params.page()?;
    let definitions = job_definition::list(&state.db, &filter, sort, page).await?;
    Ok(axum::Json(definitions.iter().map(|d| d.to_dto()).collect()))
}

/// Counts the job definitions of the batches the user may read.
#[utoipa::path(
    get,
    path = "/job-definition/count",
    operation_id = "getJobDefinitionsCount",
    tag = "Job Definition",
    params(JobDefinitionQueryParams),
    responses((status = 200, description = "The number of job definitions", body = CountResultDto))
)]
pub(crate) async fn count(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<CountResultDto>, ApiError> {
    let filter = filter(&params, &principal)?;
    Ok(axum::Json(CountResultDto { count: job_definition::count(&state.db, &filter).await? }))
}

/// One job definition of a batch the user may read.
#[utoipa::path(
    get,
    path = "/job-definition/{id}",
    operation_id = "getJobDefinition",
    tag = "Job Definition",
    params(("id" = String, Path, description = "Job-definition id")),
    responses(
        (status = 200, description = "The job definition", body = JobDefinitionDto),
        (status = 404, description = "No such job definition, or the user may not read its batch", body = ExceptionDto),
    )
)]
pub(crate) async fn find(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<axum::Json<JobDefinitionDto>, ApiError> {
    let filter = JobDefinitionFilter { id: Some(id.clone()), visible_to: Some(principal), ..Default::default() };
    let found = job_definition::list(&state.db, &filter, None, Page::default()).await?;
    let definition =
        found.first().ok_or_else(|| ApiError::NotFound(format!("Job Definition with id {id} does not exist")))?;
    Ok(axum::Json(definition.to_dto()))
}

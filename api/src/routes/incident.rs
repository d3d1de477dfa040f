//! Camunda's incident API over batches: `GET /incident` and `GET /incident/count` show a
//! `failedJob` incident for each batch execution job out of retries (`configuration` = the job
//! id, `jobDefinitionId` = the batch's `batchJobDefinitionId`, the message = the job's
//! exception message), to users who may read the batch. Sweep runs no BPMN, so it has no other
//! incident type: filters on process instances, activities or other types match nothing.

use axum::Extension;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use shared::auth::Principal;
use shared::camunda::{CountResultDto, IncidentDto};
use shared::db::incident::{self, IncidentFilter, IncidentSortKey};

use crate::params::{PagingParams, QueryParams};
use crate::{ApiError, AppState};

/// Doc-only: the filters of `GET /incident` and its count, as [`filter`] reads them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct IncidentQueryParams {
    /// Incident id.
    incident_id: Option<String>,
    /// Incident type: only `failedJob` matches.
    incident_type: Option<String>,
    /// Exact incident message.
    incident_message: Option<String>,
    /// Incident message `LIKE` pattern.
    incident_message_like: Option<String>,
    /// Matches nothing.
    process_definition_id: Option<String>,
    /// Matches nothing (comma-separated keys).
    process_definition_key_in: Option<String>,
    /// Matches nothing.
    process_instance_id: Option<String>,
    /// Matches nothing.
    execution_id: Option<String>,
    /// Incidents created at or before this date.
    incident_timestamp_before: Option<String>,
    /// Incidents created at or after this date.
    incident_timestamp_after: Option<String>,
    /// Matches nothing.
    activity_id: Option<String>,
    /// Matches nothing.
    failed_activity_id: Option<String>,
    /// Cause incident id (an incident is its own cause).
    cause_incident_id: Option<String>,
    /// Root cause incident id.
    root_cause_incident_id: Option<String>,
    /// The failed job's id.
    configuration: Option<String>,
    /// Comma-separated tenant ids.
    tenant_id_in: Option<String>,
    /// Only incidents without a tenant.
    without_tenant_id: Option<bool>,
    /// Job-definition id.
    job_definition_id: Option<String>,
    /// Comma-separated job-definition ids.
    job_definition_id_in: Option<String>,
}

/// Doc-only: `sortBy` / `sortOrder` of `GET /incident`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct IncidentSortParams {
    /// `incidentId`, `incidentMessage`, `incidentTimestamp`, `incidentType`, `executionId`,
    /// `activityId`, `processInstanceId`, `processDefinitionId`, `causeIncidentId`,
    /// `rootCauseIncidentId`, `configuration` or `tenantId`; with `sortOrder`.
    sort_by: Option<String>,
    /// `asc` or `desc`; with `sortBy`.
    sort_order: Option<String>,
}

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/incident", get(list)).route("/incident/count", get(count))
}

fn filter(params: &QueryParams, principal: &Principal) -> Result<IncidentFilter, ApiError> {
    let process_bound = ["processDefinitionId", "processDefinitionKeyIn", "processInstanceId", "executionId"]
        .into_iter()
        .chain(["activityId", "failedActivityId"])
        .any(|k| params.string(k).is_some());
    let mut job_definition_ids = params.list_or_empty("jobDefinitionIdIn");
    job_definition_ids.extend(params.string("jobDefinitionId"));
    Ok(IncidentFilter {
        id: params.string("incidentId"),
        kind: params.string("incidentType"),
        message: params.string("incidentMessage"),
        message_like: params.string("incidentMessageLike"),
        before: params.date("incidentTimestampBefore")?,
        after: params.date("incidentTimestampAfter")?,
        cause_id: params.string("causeIncidentId"),
        root_cause_id: params.string("rootCauseIncidentId"),
        configuration: params.string("configuration"),
        job_definition_ids,
        tenant_ids: params.list_or_empty("tenantIdIn"),
        without_tenant_id: params.flag("withoutTenantId")?,
        match_nothing: process_bound,
        visible_to: Some(principal.clone()),
    })
}

/// Lists the `failedJob` incidents of the batches the user may read.
#[utoipa::path(
    get,
    path = "/incident",
    operation_id = "getIncidents",
    tag = "Incident",
    params(IncidentQueryParams, IncidentSortParams, PagingParams),
    responses((status = 200, description = "The incidents", body = Vec<IncidentDto>))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<Vec<IncidentDto>>, ApiError> {
    let filter = filter(&params, &principal)?;
    let sort = params.sort(|v| match v {
        "incidentId" | "causeIncidentId" | "rootCauseIncidentId" => Some(IncidentSortKey::Id),
        "incidentMessage" => Some(IncidentSortKey::Message),
        "incidentTimestamp" => Some(IncidentSortKey::Timestamp),
        "configuration" => Some(IncidentSortKey::Configuration),
        "tenantId" => Some(IncidentSortKey::TenantId),
        "incidentType" | "executionId" | "activityId" | "processInstanceId" | "processDefinitionId" => {
            Some(IncidentSortKey::Unset)
        }
        _ => None,
    })?;
    let page = params.page()?;
    let incidents = incident::list(&state.db, &filter, sort, page).await?;
    Ok(axum::Json(incidents.iter().map(|i| i.to_dto()).collect()))
}

/// Counts the `failedJob` incidents of the batches the user may read.
#[utoipa::path(
    get,
    path = "/incident/count",
    operation_id = "getIncidentsCount",
    tag = "Incident",
    params(IncidentQueryParams),
    responses((status = 200, description = "The number of incidents", body = CountResultDto))
)]
pub(crate) async fn count(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<CountResultDto>, ApiError> {
    let filter = filter(&params, &principal)?;
    Ok(axum::Json(CountResultDto { count: incident::count(&state.db, &filter).await? }))
}

//! Runtime process-instance reads: `GET|POST /process-instance`, `GET|POST /process-instance/count`
//! and `GET /process-instance/{id}`. Filtering and SQL live in `shared::query`; this file only
//! maps HTTP input onto `ProcessInstanceQueryDto`.

use axum::Extension;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use shared::auth::Principal;
use shared::camunda::{CountResultDto, ProcessInstanceDto};
use shared::query::{ProcessInstanceQueryDto, find_process_instance};

use crate::extract;
use crate::params::QueryParams;
use crate::{ApiError, AppState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/process-instance", get(list_get).post(list_post))
        .route("/process-instance/count", get(count_get).post(count_post))
        .route("/process-instance/{id}", get(get_one))
}

async fn list_get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<Json<Vec<ProcessInstanceDto>>, ApiError> {
    let paging = params.paging()?;
    let query = ProcessInstanceQueryDto { visible_to: Some(principal), ..query_from_params(&params)? };
    Ok(Json(query.list(&state.db, paging).await?))
}

async fn list_post(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
    extract::Json(query): extract::Json<ProcessInstanceQueryDto>,
) -> Result<Json<Vec<ProcessInstanceDto>>, ApiError> {
    let paging = params.paging()?;
    let query = ProcessInstanceQueryDto { visible_to: Some(principal), ..query };
    Ok(Json(query.list(&state.db, paging).await?))
}

async fn count_get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<Json<CountResultDto>, ApiError> {
    let query = ProcessInstanceQueryDto { visible_to: Some(principal), ..query_from_params(&params)? };
    Ok(Json(CountResultDto { count: query.count(&state.db).await? }))
}

async fn count_post(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    extract::Json(query): extract::Json<ProcessInstanceQueryDto>,
) -> Result<Json<CountResultDto>, ApiError> {
    let query = ProcessInstanceQueryDto { visible_to: Some(principal), ..query };
    Ok(Json(CountResultDto { count: query.count(&state.db).await? }))
}

async fn get_one(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ProcessInstanceDto>, ApiError> {
    find_process_instance(&state.db, &id, &principal)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("Process instance with id {id} does not exist")))
}

/// The GET form of the query: the same names as the JSON body, converted per Camunda's rules.
fn query_from_params(p: &QueryParams) -> Result<ProcessInstanceQueryDto, ApiError> {
    Ok(ProcessInstanceQueryDto {
        process_instance_ids: p.list("processInstanceIds"),
        business_key: p.string("businessKey"),
        business_key_like: p.string("businessKeyLike"),
        case_instance_id: p.string("caseInstanceId"),
        process_definition_id: p.string("processDefinitionId"),
        process_definition_key: p.string("processDefinitionKey"),
        process_definition_key_in: p.list("processDefinitionKeyIn"),
        process_definition_key_not_in: p.list("processDefinitionKeyNotIn"),
        deployment_id: p.string("deploymentId"),
        super_process_instance: p.string("superProcessInstance"),
        sub_process_instance: p.string("subProcessInstance"),
        super_case_instance: p.string("superCaseInstance"),
        sub_case_instance: p.string("subCaseInstance"),
        active: p.boolean("active")?,
        suspended: p.boolean("suspended")?,
        with_incident: p.boolean("withIncident")?,
        incident_id: p.string("incidentId"),
        incident_type: p.string("incidentType"),
        incident_message: p.string("incidentMessage"),
        incident_message_like: p.string("incidentMessageLike"),
        root_process_instance_id: p.string("rootProcessInstanceId"),
        root_process_instances: p.boolean("rootProcessInstances")?,
        leaf_process_instances: p.boolean("leafProcessInstances")?,
        tenant_id_in: p.list("tenantIdIn"),
        without_tenant_id: p.boolean("withoutTenantId")?,
        process_definition_without_tenant_id: p.boolean("processDefinitionWithoutTenantId")?,
        activity_id_in: p.list("activityIdIn"),
        variables: p.variables("variables")?,
        variable_names_ignore_case: p.boolean("variableNamesIgnoreCase")?,
        variable_values_ignore_case: p.boolean("variableValuesIgnoreCase")?,
        or_queries: None,
        sort_by: p.string("sortBy"),
        sort_order: p.string("sortOrder"),
        sorting: None,
        visible_to: None,
    })
}

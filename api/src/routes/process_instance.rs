//! Runtime process-instance reads: `GET|POST /process-instance`, `GET|POST /process-instance/count`
//! and `GET /process-instance/{id}`. Filtering and SQL live in `shared::query`; this file only
//! maps HTTP input onto `ProcessInstanceQueryDto`.

use axum::Extension;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use shared::auth::Principal;
use shared::camunda::{CountResultDto, ExceptionDto, ProcessInstanceDto};
use shared::query::{ProcessInstanceQueryDto, find_process_instance};

use crate::extract;
use crate::params::{PagingParams, QueryParams};
use crate::{ApiError, AppState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/process-instance", get(list_get).post(list_post))
        .route("/process-instance/count", get(count_get).post(count_post))
        .route("/process-instance/{id}", get(get_one))
}

/// Doc-only: the query parameters of `GET /process-instance` and `GET /process-instance/count`,
/// as [`query_from_params`] reads them. Lists are comma-separated.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct ProcessInstanceQueryParams {
    /// Comma-separated instance ids.
    process_instance_ids: Option<String>,
    /// Exact business key.
    business_key: Option<String>,
    /// Business key `LIKE` pattern.
    business_key_like: Option<String>,
    /// Case instance id.
    case_instance_id: Option<String>,
    /// Process-definition id.
    process_definition_id: Option<String>,
    /// Process-definition key.
    process_definition_key: Option<String>,
    /// Comma-separated process-definition keys.
    process_definition_key_in: Option<String>,
    /// Comma-separated process-definition keys to exclude.
    process_definition_key_not_in: Option<String>,
    /// Deployment id.
    deployment_id: Option<String>,
    /// Instances called by this one.
    super_process_instance: Option<String>,
    /// The instance calling this one.
    sub_process_instance: Option<String>,
    /// Instances called by this case instance.
    super_case_instance: Option<String>,
    /// The case instance calling this one.
    sub_case_instance: Option<String>,
    /// Only active instances.
    active: Option<bool>,
    /// Only suspended instances.
    suspended: Option<bool>,
    /// Only instances with an incident.
    with_incident: Option<bool>,
    /// Incident id.
    incident_id: Option<String>,
    /// Incident type.
    incident_type: Option<String>,
    /// Incident message.
    incident_message: Option<String>,
    /// Incident message `LIKE` pattern.
    incident_message_like: Option<String>,
    /// Root process-instance id.
    root_process_instance_id: Option<String>,
    /// Only root instances.
    root_process_instances: Option<bool>,
    /// Only instances that call none.
    leaf_process_instances: Option<bool>,
    /// Comma-separated tenant ids.
    tenant_id_in: Option<String>,
    /// Only instances without a tenant.
    without_tenant_id: Option<bool>,
    /// Only instances whose definition has no tenant.
    process_definition_without_tenant_id: Option<bool>,
    /// Comma-separated activity ids.
    activity_id_in: Option<String>,
    /// Variable conditions `name_operator_value`, comma-separated (operators `eq`, `neq`, `gt`,
    /// `gteq`, `lt`, `lteq`, `like`, `notLike`).
    variables: Option<String>,
    /// Variable names match case-insensitively.
    variable_names_ignore_case: Option<bool>,
    /// Variable values match case-insensitively.
    variable_values_ignore_case: Option<bool>,
    /// `instanceId`, `definitionKey`, `definitionId`, `tenantId`, `businessKey`; with `sortOrder`.
    sort_by: Option<String>,
    /// `asc` or `desc`; with `sortBy`.
    sort_order: Option<String>,
}

/// Lists the runtime process instances the user may read.
#[utoipa::path(
    get,
    path = "/process-instance",
    operation_id = "getProcessInstances",
    tag = "Process Instance",
    params(ProcessInstanceQueryParams, PagingParams),
    responses((status = 200, description = "The matching instances", body = Vec<ProcessInstanceDto>))
)]
pub(crate) async fn list_get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<Json<Vec<ProcessInstanceDto>>, ApiError> {
    let paging = params.paging()?;
    let query = ProcessInstanceQueryDto { visible_to: Some(principal), ..query_from_params(&params)? };
    Ok(Json(query.list(&state.db, paging).await?))
}

/// Lists the runtime process instances the user may read, by a query in the body.
#[utoipa::path(
    post,
    path = "/process-instance",
    operation_id = "queryProcessInstances",
    tag = "Process Instance",
    params(PagingParams),
    request_body = ProcessInstanceQueryDto,
    responses(
        (status = 200, description = "The matching instances", body = Vec<ProcessInstanceDto>),
        (status = 413, description = "The body exceeds `http.body_limit_bytes`", body = ExceptionDto),
        (status = 415, description = "Not `application/json`", body = ExceptionDto),
    )
)]
pub(crate) async fn list_post(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
    extract::Json(query): extract::Json<ProcessInstanceQueryDto>,
) -> Result<Json<Vec<ProcessInstanceDto>>, ApiError> {
    let paging = params.paging()?;
    let query = ProcessInstanceQueryDto { visible_to: Some(principal), ..query };
    Ok(Json(query.list(&state.db, paging).await?))
}

/// Counts the runtime process instances the user may read.
#[utoipa::path(
    get,
    path = "/process-instance/count",
    operation_id = "getProcessInstancesCount",
    tag = "Process Instance",
    params(ProcessInstanceQueryParams),
    responses((status = 200, description = "The number of matching instances", body = CountResultDto))
)]
pub(crate) async fn count_get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<Json<CountResultDto>, ApiError> {
    let query = ProcessInstanceQueryDto { visible_to: Some(principal), ..query_from_params(&params)? };
    Ok(Json(CountResultDto { count: query.count(&state.db).await? }))
}

/// Counts the runtime process instances the user may read, by a query in the body.
#[utoipa::path(
    post,
    path = "/process-instance/count",
    operation_id = "queryProcessInstancesCount",
    tag = "Process Instance",
    request_body = ProcessInstanceQueryDto,
    responses(
        (status = 200, description = "The number of matching instances", body = CountResultDto),
        (status = 413, description = "The body exceeds `http.body_limit_bytes`", body = ExceptionDto),
        (status = 415, description = "Not `application/json`", body = ExceptionDto),
    )
)]
pub(crate) async fn count_post(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    extract::Json(query): extract::Json<ProcessInstanceQueryDto>,
) -> Result<Json<CountResultDto>, ApiError> {
    let query = ProcessInstanceQueryDto { visible_to: Some(principal), ..query };
    Ok(Json(CountResultDto { count: query.count(&state.db).await? }))
}

/// One runtime process instance.
#[utoipa::path(
    get,
    path = "/process-instance/{id}",
    operation_id = "getProcessInstance",
    tag = "Process Instance",
    params(("id" = String, Path, description = "Process-instance id")),
    responses(
        (status = 200, description = "The instance", body = ProcessInstanceDto),
        (status = 404, description = "No such instance, or the user may not read it", body = ExceptionDto),
    )
)]
pub(crate) async fn get_one(
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

//! Historic batches (Camunda §4.6): `GET /history/batch`, `GET /history/batch/count`,
//! `GET /history/batch/{id}` and `DELETE /history/batch/{id}`. Deleting a historic batch also
//! removes its item ledger and leaves a still-running runtime batch alone, as Camunda does.

use axum::Extension;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use shared::auth::{Permission, Principal};
use shared::batch::control;
use shared::camunda::{CountResultDto, ExceptionDto, HistoricBatchDto};
use shared::db::historic_batch::{self, HistoricBatchFilter};
use shared::db::listing::BatchSortKey;

use super::batch::filter_core;
use crate::params::{PagingParams, QueryParams};

/// Doc-only: the filters of `GET /history/batch` and its count, as [`filter`] reads them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct HistoricBatchQueryParams {
    /// Batch id.
    batch_id: Option<String>,
    /// Batch type (`instance-deletion`).
    #[param(rename = "type")]
    kind: Option<String>,
    /// Only ended (`true`) or running (`false`) batches.
    completed: Option<bool>,
    /// Comma-separated tenant ids.
    tenant_id_in: Option<String>,
    /// Only batches without a tenant.
    without_tenant_id: Option<bool>,
}

/// Doc-only: `sortBy` / `sortOrder` of `GET /history/batch`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct HistoricBatchSortParams {
    /// `batchId`, `startTime`, `endTime` or `tenantId`; with `sortOrder`.
    sort_by: Option<String>,
    /// `asc` or `desc`; with `sortBy`.
    sort_order: Option<String>,
}
use crate::{ApiError, AppState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/history/batch", get(list))
        .route("/history/batch/count", get(count))
        .route("/history/batch/{id}", get(find).delete(delete))
        .route("/history/batch/{id}/manifest", get(super::manifest::historic))
}

fn filter(params: &QueryParams, principal: &Principal) -> Result<HistoricBatchFilter, ApiError> {
    Ok(HistoricBatchFilter {
        core: filter_core(params, principal, Permission::ReadHistory)?,
        completed: params.boolean("completed")?,
    })
}

/// Lists the historic batches the user may read (READ_HISTORY).
#[utoipa::path(
    get,
    path = "/history/batch",
    operation_id = "getHistoricBatches",
    tag = "Historic Batch",
    params(HistoricBatchQueryParams, HistoricBatchSortParams, PagingParams),
    responses((status = 200, description = "The historic batches", body = Vec<HistoricBatchDto>))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<Vec<HistoricBatchDto>>, ApiError> {
    let filter = filter(&params, &principal)?;
    let sort = params.sort(|v| match v {
        "batchId" => Some(BatchSortKey::BatchId),
        "startTime" => Some(BatchSortKey::StartTime),
        "endTime" => Some(BatchSortKey::EndTime),
        "tenantId" => Some(BatchSortKey::TenantId),
        _ => None,
    })?;
    let page = params.page()?;
    let batches = historic_batch::list(&state.db, &filter, sort, page).await?;
    Ok(axum::Json(batches.iter().map(|b| b.to_dto()).collect()))
}

/// Counts the historic batches the user may read.
#[utoipa::path(
    get,
    path = "/history/batch/count",
    operation_id = "getHistoricBatchesCount",
    tag = "Historic Batch",
    params(HistoricBatchQueryParams),
    responses((status = 200, description = "The number of historic batches", body = CountResultDto))
)]
pub(crate) async fn count(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<CountResultDto>, ApiError> {
    let filter = filter(&params, &principal)?;
    Ok(axum::Json(CountResultDto { count: historic_batch::count(&state.db, &filter).await? }))
}

/// One historic batch.
#[utoipa::path(
    get,
    path = "/history/batch/{id}",
    operation_id = "getHistoricBatch",
    tag = "Historic Batch",
    params(("id" = String, Path, description = "Batch id")),
    responses(
        (status = 200, description = "The historic batch", body = HistoricBatchDto),
        (status = 404, description = "No such batch, or the user may not read it", body = ExceptionDto),
    )
)]
pub(crate) async fn find(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<axum::Json<HistoricBatchDto>, ApiError> {
    let mut filter = filter(&QueryParams::default(), &principal)?;
    filter.core.batch_id = Some(id.clone());
    let batch = historic_batch::list(&state.db, &filter, None, Default::default())
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("Historic batch with id '{id}' does not exist")))?;
    Ok(axum::Json(batch.to_dto()))
}

/// Deletes a historic batch and its item ledger.
#[utoipa::path(
    delete,
    path = "/history/batch/{id}",
    operation_id = "deleteHistoricBatch",
    tag = "Historic Batch",
    params(("id" = String, Path, description = "Batch id")),
    responses((status = 204, description = "Deleted"))
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !control::delete_historic(&state.db, &principal, &id).await? {
        return Err(ApiError::InvalidRequest(format!("Unable to delete historic batch with id '{id}'")));
    }
    Ok(StatusCode::NO_CONTENT)
}

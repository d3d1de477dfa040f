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
use shared::camunda::{CountResultDto, HistoricBatchDto};
use shared::db::historic_batch::{self, HistoricBatchFilter};
use shared::db::listing::BatchSortKey;

use super::batch::filter_core;
use crate::params::QueryParams;
use crate::{ApiError, AppState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/history/batch", get(list))
        .route("/history/batch/count", get(count))
        .route("/history/batch/{id}", get(find).delete(delete))
}

fn filter(params: &QueryParams, principal: &Principal) -> Result<HistoricBatchFilter, ApiError> {
    Ok(HistoricBatchFilter {
        core: filter_core(params, principal, Permission::ReadHistory)?,
        completed: params.boolean("completed")?,
    })
}

async fn list(
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

async fn count(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<CountResultDto>, ApiError> {
    let filter = filter(&params, &principal)?;
    Ok(axum::Json(CountResultDto { count: historic_batch::count(&state.db, &filter).await? }))
}

async fn find(
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

async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !control::delete_historic(&state.db, &principal, &id).await? {
        return Err(ApiError::InvalidRequest(format!("Unable to delete historic batch with id '{id}'")));
    }
    Ok(StatusCode::NO_CONTENT)
}

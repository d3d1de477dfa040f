//! Sweep extension: `PATCH /batch/{id}` steers a running batch — its rate, its concurrency, its
//! priority and its run window — live: every worker replica reads the new values at its next
//! job. UPDATE on the batch, as for suspension; one `Update` row per changed field in the
//! operation log. The answer is the batch as `GET /batch/{id}` shows it.

use axum::extract::{Path, State};
use axum::routing::patch;
use axum::{Extension, Router};
use shared::auth::Principal;
use shared::batch::control;
use shared::camunda::{BatchDto, ExceptionDto};
use shared::control::SteeringPatch;

use crate::extract::Json;
use crate::{ApiError, AppState};

/// Body of `PATCH /batch/{id}`: every field is optional; a field that is present changes, a
/// `null` clears it (unlimited, no window, the default priority).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct BatchSteeringDto {
    /// Instances per second over all workers, from 0.001 to 1e9; null: unlimited.
    #[schema(minimum = 0.001, maximum = 1e9)]
    max_instances_per_second: Option<f64>,
    /// Jobs of the batch running at once, 1 to 10000; null: only its fair share limits them.
    #[schema(minimum = 1, maximum = 10000)]
    max_concurrent_jobs: Option<i32>,
    /// Larger is more urgent (32-bit); null: `control.default_priority`. Also the priority of
    /// every open job of the batch.
    #[schema(minimum = -2147483647, maximum = 2147483647)]
    priority: Option<i64>,
    /// The daily window the batch runs in; null: always.
    run_window: Option<shared::control::RunWindow>,
}

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/batch/{id}", patch(steer))
}

/// Changes a running batch's limits; they apply within seconds on every worker.
#[utoipa::path(
    patch,
    path = "/batch/{id}",
    operation_id = "updateBatch",
    tags = ["Batch", "sweep-extension"],
    params(("id" = String, Path, description = "Batch id")),
    request_body = BatchSteeringDto,
    responses(
        (status = 200, description = "The batch with its new limits", body = BatchDto),
        (status = 404, description = "No such batch, or the user may not read it", body = ExceptionDto),
        (status = 413, description = "The body exceeds `http.body_limit_bytes`", body = ExceptionDto),
        (status = 415, description = "Not `application/json`", body = ExceptionDto),
    ),
    extensions(("x-sweep-extension" = json!(true)))
)]
pub(crate) async fn steer(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<serde_json::Value>,
) -> Result<axum::Json<BatchDto>, ApiError> {
    let patch = SteeringPatch::parse(&body).map_err(ApiError::InvalidRequest)?;
    let default_priority = state.settings.control.default_priority;
    let (batch, committed) = control::steer(&state.db, &state.outbox, &principal, &id, &patch, default_priority)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Batch with id '{id}' does not exist")))?;
    state.publish(&committed).await;
    Ok(axum::Json(batch.to_dto()))
}

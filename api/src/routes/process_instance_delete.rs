//! `POST /process-instance/delete`: answers a Camunda `BatchDto` at once; the batch row, the
//! snapshot of the selection and the seed message commit in one transaction, and the seed is
//! published after commit (the outbox relay sends it if this process dies first).
//!
//! Sweep extensions: `failIfNotExists` (default true), `invocationsPerBatchJob` and
//! `batchJobsPerSeed` in the body, and the `Idempotency-Key` header (same key and body: the same
//! batch again; same key, other body: 409).
//!
//! `?dryRun=true` (extension): the same validation, authorization and selection, but nothing
//! is written; the answer is a `DeletionPreviewDto` (counts, per-key counts, a sample, the
//! jobs and an ETA). An empty selection answers zeros instead of 400. `Idempotency-Key` is
//! checked for form only: a dry run records nothing.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use shared::batch::create::{self, Created, DeleteProcessInstancesDto, NewDeletionBatch};
use shared::camunda::ExceptionDto;

use crate::params::QueryParams;

/// Doc-only: the answer of `POST /process-instance/delete`, without or with `dryRun=true`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, clippy::large_enum_variant)]
#[serde(untagged)]
enum BatchOrPreview {
    Batch(shared::camunda::BatchDto),
    Preview(shared::camunda::DeletionPreviewDto),
}
use crate::{ApiError, AppState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/process-instance/delete", post(delete_async))
        .route("/process-instance/delete-historic-query-based", post(delete_async_historic_query_based))
}

/// Creates a deletion batch of the selected instances (Camunda's
/// `deleteProcessInstancesAsyncOperation`); with `dryRun=true` (Sweep extension) only previews it.
#[utoipa::path(
    post,
    path = "/process-instance/delete",
    operation_id = "deleteProcessInstancesAsyncOperation",
    tag = "Process Instance",
    description = "Camunda's asynchronous deletion: answers the new batch at once. Sweep's extensions: \
`invocationsPerBatchJob`, `batchJobsPerSeed` and `failIfNotExists` in the body, the `Idempotency-Key` \
header, and `dryRun=true`, which answers a `DeletionPreviewDto` and writes nothing.",
    params(
        ("dryRun" = Option<bool>, Query, description = "Sweep extension: preview only, write nothing"),
        ("Idempotency-Key" = Option<String>, Header,
            description = "Sweep extension: the same key with the same body answers the same batch; with another body, 409"),
    ),
    request_body = DeleteProcessInstancesDto,
    responses(
        (status = 200, description = "The new batch (`BatchDto`), or with `dryRun=true` its preview \
(`DeletionPreviewDto`)", body = inline(BatchOrPreview)),
        (status = 409, description = "`Idempotency-Key` used before with another body", body = ExceptionDto),
        (status = 413, description = "The body exceeds `http.body_limit_bytes`", body = ExceptionDto),
        (status = 415, description = "Not `application/json`", body = ExceptionDto),
    )
)]
pub(crate) async fn delete_async(
    State(state): State<AppState>,
    Extension(principal): Extension<shared::auth::Principal>,
    params: QueryParams,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    create_batch(state, principal, params, headers, body, false).await
}

/// Creates a deletion batch of the explicit ids and every match of the historic query
/// (Camunda's `deleteAsyncHistoricQueryBased`); with `dryRun=true` only previews it.
#[utoipa::path(
    post,
    path = "/process-instance/delete-historic-query-based",
    operation_id = "deleteAsyncHistoricQueryBased",
    tag = "Process Instance",
    description = "Like `POST /process-instance/delete`, but the selection is `processInstanceIds` and every \
match of `historicProcessInstanceQuery` (READ_HISTORY on the definition); `processInstanceQuery` is ignored. \
Matches that have finished enter the batch too and become `skipped` items when their job runs, as Camunda \
skips them; so does any instance gone by then. The same extensions as `POST /process-instance/delete`.",
    params(
        ("dryRun" = Option<bool>, Query, description = "Sweep extension: preview only, write nothing"),
        ("Idempotency-Key" = Option<String>, Header,
            description = "Sweep extension: the same key with the same body answers the same batch; with another body, 409"),
    ),
    request_body = DeleteProcessInstancesDto,
    responses(
        (status = 200, description = "The new batch (`BatchDto`), or with `dryRun=true` its preview \
(`DeletionPreviewDto`)", body = inline(BatchOrPreview)),
        (status = 409, description = "`Idempotency-Key` used before with another body", body = ExceptionDto),
        (status = 413, description = "The body exceeds `http.body_limit_bytes`", body = ExceptionDto),
        (status = 415, description = "Not `application/json`", body = ExceptionDto),
    )
)]
pub(crate) async fn delete_async_historic_query_based(
    State(state): State<AppState>,
    Extension(principal): Extension<shared::auth::Principal>,
    params: QueryParams,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    create_batch(state, principal, params, headers, body, true).await
}

/// Both endpoints: parse, validate, then preview or create.
async fn create_batch(
    state: AppState,
    principal: shared::auth::Principal,
    params: QueryParams,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    historic_query_based: bool,
) -> Result<Response, ApiError> {
    let dry_run = params.boolean("dryRun")?.unwrap_or(false);
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(format!(
            "Request body exceeds the limit of {} bytes",
            state.settings.http.body_limit_bytes
        )),
        _ => ApiError::InvalidRequest(e.body_text()),
    })?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType("Expected request with `Content-Type: application/json`".into()));
    }
    let mut json = serde_json::Deserializer::from_slice(&body);
    let request: DeleteProcessInstancesDto = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        ApiError::InvalidRequest(format!("Cannot deserialize the request body at `{}`: {}", e.path(), e.inner()))
    })?;
    json.end().map_err(|e| ApiError::InvalidRequest(format!("Cannot deserialize the request body: {e}")))?;
    crate::sanitize::check_json(&body)?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::InvalidRequest("Idempotency-Key must be visible ASCII".into()))?
                .to_owned(),
        ),
    };
    let validate =
        if historic_query_based { NewDeletionBatch::validate_historic_query_based } else { NewDeletionBatch::validate };
    let mut new = validate(
        request,
        &state.settings.batch,
        &state.settings.control,
        state.settings.worker.max_retries,
        key,
        create::hash_body(&body),
    )?;
    new.removal_after_start_days = state.settings.history.batch_removal_after_start();
    let check_delete = state.settings.auth.check_delete_permission;
    if dry_run {
        let preview = create::preview(&state.db, &new, &principal, check_delete).await?;
        return Ok(Json(preview).into_response());
    }
    match create::create(&state.db, &new, &state.outbox, &principal, check_delete).await? {
        Created::Replayed(batch) => Ok(Json(batch).into_response()),
        Created::New(batch, seed) => {
            tracing::info!(
                batch.id = %batch.info.id,
                batch.total_items = batch.info.total_items,
                batch.total_jobs = batch.info.total_jobs,
                "Created deletion batch {}",
                batch.info.id
            );
            shared::trace::annotate("batch.id", batch.info.id.clone());
            shared::metrics::batch_created();
            if state.settings.faults.skip_publish_after_commit {
                tracing::warn!(batch.id = %batch.info.id, "fault injection: seed left to the outbox relay");
            } else {
                state.publish(&seed).await;
            }
            Ok(Json(batch.to_dto()).into_response())
        }
    }
}

//! The runtime Batch API (Camunda §4.1–4.5) plus Sweep's ledger extensions. Historic batches
//! live in `history_batch.rs`, batch jobs seen through the job API in `job.rs`.
//!
//! Camunda endpoints:
//! - `GET /batch/{id}`, `GET /batch`, `GET /batch/count`
//! - `GET /batch/statistics`, `GET /batch/statistics/count`
//! - `PUT /batch/{id}/suspended` — suspending makes workers skip the batch's messages (its jobs
//!   stay pending); activating re-enqueues the seed (if jobs remain to be created), every
//!   pending or running job and a monitor, in the transaction that clears the flag.
//! - `DELETE /batch/{id}?cascade=` — removes the runtime batch and its jobs and ends the
//!   historic batch; `cascade=true` also removes the historic batch and the item ledger.
//!   Items not processed yet stay `pending` in the ledger.
//!
//! Sweep extensions (Camunda has no equivalent):
//! - `BatchStatisticsDto` carries `totalInstances`, `pendingInstances`, `deletedInstances`,
//!   `skippedInstances`, `failedInstances` after Camunda's fields; read in one snapshot, they
//!   always add up and equal the ledger.
//! - `GET /batch/{id}/items?state=pending|deleted|skipped|failed&firstResult=&maxResults=`:
//!   the item ledger in sequence order, `[{"processInstanceId","state","reason","seq"}]`;
//!   `GET /batch/{id}/items/count` counts it. Both answer for runtime and historic batches
//!   (404 when neither exists, 400 for an unknown state).
//! - `POST /batch/{id}/retry-failed-items`: puts the failed items back to pending and the jobs
//!   containing them back to pending with fresh retries, re-enqueues exactly those jobs and
//!   answers `{"retriedItems": n, "retriedJobs": m}`. Only for runtime batches (404 otherwise).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use sea_orm::{ConnectionTrait, TransactionTrait};
use shared::batch::query::{self, BatchFilter, ITEM_STATES, SortKey};
use shared::camunda::{
    BatchDto, BatchItemDto, BatchStatisticsDto, CountResultDto, RetryFailedItemsResultDto, SuspensionStateDto,
};
use shared::messages::WorkMessage;
use shared::mq::Topology;
use shared::outbox::{self, OutboxMessage};

use crate::extract::Json;
use crate::params::QueryParams;
use crate::{ApiError, AppState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/batch", get(list))
        .route("/batch/count", get(count))
        .route("/batch/statistics", get(statistics))
        .route("/batch/statistics/count", get(statistics_count))
        .route("/batch/{id}", get(find).delete(delete))
        .route("/batch/{id}/suspended", put(set_suspended))
        .route("/batch/{id}/items", get(items))
        .route("/batch/{id}/items/count", get(items_count))
        .route("/batch/{id}/retry-failed-items", post(retry_failed_items))
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("Batch with id '{id}' does not exist"))
}

/// The filter of `GET /batch`; `statistics` adds the parameters only the statistics accept.
fn filter(params: &QueryParams, statistics: bool) -> Result<BatchFilter, ApiError> {
    let mut filter = BatchFilter {
        batch_id: params.string("batchId"),
        kind: params.string("type"),
        tenant_ids: params.list_or_empty("tenantIdIn"),
        without_tenant_id: params.flag("withoutTenantId")?,
        suspended: params.boolean("suspended")?,
        ..Default::default()
    };
    if statistics {
        filter.created_by = params.string("createdBy");
        filter.started_before = params.date("startedBefore")?;
        filter.started_after = params.date("startedAfter")?;
        filter.with_failures = params.flag("withFailures")?;
        filter.without_failures = params.flag("withoutFailures")?;
    }
    Ok(filter)
}

fn sort_key(statistics: bool) -> impl Fn(&str) -> Option<SortKey> {
    move |v| match v {
        "batchId" => Some(SortKey::BatchId),
        "tenantId" => Some(SortKey::TenantId),
        "startTime" if statistics => Some(SortKey::StartTime),
        _ => None,
    }
}

async fn find(State(state): State<AppState>, Path(id): Path<String>) -> Result<axum::Json<BatchDto>, ApiError> {
    let batch = shared::batch::find(&state.db, &id, false).await?.ok_or_else(|| not_found(&id))?;
    Ok(axum::Json(batch.to_dto()))
}

async fn list(State(state): State<AppState>, params: QueryParams) -> Result<axum::Json<Vec<BatchDto>>, ApiError> {
    let filter = filter(&params, false)?;
    let sort = params.sort(sort_key(false))?;
    let page = params.page()?;
    let batches = query::list_batches(&state.db, &filter, sort, page).await?;
    Ok(axum::Json(batches.iter().map(|b| b.to_dto()).collect()))
}

async fn count(State(state): State<AppState>, params: QueryParams) -> Result<axum::Json<CountResultDto>, ApiError> {
    let filter = filter(&params, false)?;
    Ok(axum::Json(CountResultDto { count: query::count_batches(&state.db, &filter).await? }))
}

async fn statistics(
    State(state): State<AppState>,
    params: QueryParams,
) -> Result<axum::Json<Vec<BatchStatisticsDto>>, ApiError> {
    let filter = filter(&params, true)?;
    let sort = params.sort(sort_key(true))?;
    let page = params.page()?;
    let rows = query::list_statistics(&state.db, &filter, sort, page).await?;
    Ok(axum::Json(rows.iter().map(|(b, p)| query::statistics_dto(b, p)).collect()))
}

async fn statistics_count(
    State(state): State<AppState>,
    params: QueryParams,
) -> Result<axum::Json<CountResultDto>, ApiError> {
    let filter = filter(&params, true)?;
    Ok(axum::Json(CountResultDto { count: query::count_batches(&state.db, &filter).await? }))
}

/// A work message as an outbox row for the work exchange.
pub(crate) fn work_message(topology: &Topology, message: &WorkMessage) -> Result<OutboxMessage, ApiError> {
    Ok(OutboxMessage {
        exchange: topology.work_exchange(),
        routing_key: message.routing_key().to_owned(),
        payload: serde_json::to_vec(message).map_err(shared::Error::from)?,
        traceparent: None,
        split: false,
    })
}

/// Job messages for `seqs` of `batch_id`.
pub(crate) fn job_messages(topology: &Topology, batch_id: &str, seqs: &[i32]) -> Result<Vec<OutboxMessage>, ApiError> {
    seqs.iter()
        .map(|&job_seq| {
            work_message(topology, &WorkMessage::DeleteProcessInstancesV1 { batch_id: batch_id.to_owned(), job_seq })
        })
        .collect()
}

/// Writes `messages` to the outbox in `txn`, commits, then publishes them.
pub(crate) async fn commit_and_publish(
    state: &AppState,
    txn: sea_orm::DatabaseTransaction,
    messages: Vec<OutboxMessage>,
) -> Result<(), ApiError> {
    let stored = outbox::enqueue(&txn, messages).await?;
    txn.commit().await?;
    state.publisher.publish_committed(&state.db, &stored).await;
    Ok(())
}

async fn set_suspended(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<SuspensionStateDto>,
) -> Result<StatusCode, ApiError> {
    let suspend = body.suspended.unwrap_or(false);
    let txn = state.db.begin().await?;
    let Some(batch) = query::set_suspended(&txn, &id, suspend).await? else {
        let verb = if suspend { "suspend" } else { "activate" };
        return Err(ApiError::EngineRefused(format!("Unable to {verb} batch with id '{id}'")));
    };
    let mut messages = Vec::new();
    if !suspend {
        // Messages that arrived while the batch was suspended were acked and dropped: send
        // everything the batch still needs again. Handlers are idempotent, so a batch that was
        // not suspended takes no harm from the repeat.
        if batch.jobs_created < batch.total_jobs {
            let seed = WorkMessage::SeedV1 { batch_id: batch.id.clone(), jobs_created: batch.jobs_created };
            messages.push(work_message(&state.topology, &seed)?);
        }
        let open = query::open_job_seqs(&txn, &batch.id).await?;
        messages.extend(job_messages(&state.topology, &batch.id, &open)?);
        messages.push(work_message(&state.topology, &WorkMessage::MonitorV1 { batch_id: batch.id.clone() })?);
    }
    commit_and_publish(&state, txn, messages).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: QueryParams,
) -> Result<StatusCode, ApiError> {
    let cascade = params.boolean("cascade")?.unwrap_or(false);
    let txn = state.db.begin().await?;
    if !query::delete_batch(&txn, &id, cascade).await? {
        return Err(ApiError::EngineRefused(format!("Unable to delete batch with id '{id}'")));
    }
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

fn item_state(params: &QueryParams) -> Result<Option<String>, ApiError> {
    match params.string("state") {
        None => Ok(None),
        Some(s) if ITEM_STATES.contains(&s.as_str()) => Ok(Some(s)),
        Some(s) => Err(ApiError::InvalidRequest(format!("Cannot set query parameter 'state' to value '{s}'"))),
    }
}

async fn known_batch(db: &impl ConnectionTrait, id: &str) -> Result<(), ApiError> {
    if query::batch_known(db, id).await? { Ok(()) } else { Err(not_found(id)) }
}

async fn items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: QueryParams,
) -> Result<axum::Json<Vec<BatchItemDto>>, ApiError> {
    let item_state = item_state(&params)?;
    let page = params.page()?;
    known_batch(&state.db, &id).await?;
    Ok(axum::Json(query::list_items(&state.db, &id, item_state.as_deref(), page).await?))
}

async fn items_count(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: QueryParams,
) -> Result<axum::Json<CountResultDto>, ApiError> {
    let item_state = item_state(&params)?;
    known_batch(&state.db, &id).await?;
    Ok(axum::Json(CountResultDto { count: query::count_items(&state.db, &id, item_state.as_deref()).await? }))
}

async fn retry_failed_items(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<RetryFailedItemsResultDto>, ApiError> {
    let txn = state.db.begin().await?;
    // Locking the batch serialises concurrent retries and suspension changes of this batch.
    let batch = shared::batch::find(&txn, &id, true).await?.ok_or_else(|| not_found(&id))?;
    let retries = i32::try_from(state.settings.worker.max_retries).unwrap_or(i32::MAX);
    let (items, seqs) = query::retry_failed_items(&txn, &batch, retries).await?;
    let messages = job_messages(&state.topology, &batch.id, &seqs)?;
    commit_and_publish(&state, txn, messages).await?;
    Ok(axum::Json(RetryFailedItemsResultDto { retried_items: items as i64, retried_jobs: seqs.len() as i64 }))
}

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
//! - `GET /batch/{id}/events`: live progress as Server-Sent Events (see `crate::live`): a
//!   `progress` event per poll while the batch runs, then `completed`, `failed` or `deleted`,
//!   and the stream ends. Event ids count up from 1, or from `Last-Event-ID` + 1. Visible as
//!   the ledger is (404 otherwise); comments every 15 s keep idle connections open.
//! - `POST /batch/{id}/retry-failed-items`: puts the failed items back to pending and the jobs
//!   containing them back to pending with fresh retries, re-enqueues exactly those jobs and
//!   answers `{"retriedItems": n, "retriedJobs": m}`. Only for runtime batches (404 otherwise).

use axum::Extension;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use sea_orm::{ActiveEnum, Iterable};
use shared::auth::{Permission, Principal};
use shared::batch::control;
use shared::camunda::{
    BatchDto, BatchItemDto, BatchStatisticsDto, CountResultDto, ExceptionDto, RetryFailedItemsResultDto,
    SuspensionStateDto,
};
use shared::db::batch::{self, BatchFilter};
use shared::db::batch_item::{self, ItemState};
use shared::db::listing::{BatchFilterCore, BatchSortKey};

use crate::extract::Json;
use crate::params::{PagingParams, QueryParams};

/// Doc-only: the filters of `GET /batch` and `GET /batch/count`, as [`filter`] reads them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct BatchQueryParams {
    /// Batch id.
    batch_id: Option<String>,
    /// Batch type (`instance-deletion`).
    #[param(rename = "type")]
    kind: Option<String>,
    /// Comma-separated tenant ids.
    tenant_id_in: Option<String>,
    /// Only batches without a tenant.
    without_tenant_id: Option<bool>,
    /// Only suspended (`true`) or active (`false`) batches.
    suspended: Option<bool>,
}

/// Doc-only: the filters only `GET /batch/statistics` and its count accept.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct BatchStatisticsQueryParams {
    /// Creating user.
    created_by: Option<String>,
    /// Started before this date (`2016-04-12T15:29:33.000+0200`).
    started_before: Option<String>,
    /// Started after this date.
    started_after: Option<String>,
    /// Only batches with failed jobs.
    with_failures: Option<bool>,
    /// Only batches without failed jobs.
    without_failures: Option<bool>,
}

/// Doc-only: `sortBy` / `sortOrder` of the batch lists.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct BatchSortParams {
    /// `batchId` or `tenantId` (statistics also `startTime`); with `sortOrder`.
    sort_by: Option<String>,
    /// `asc` or `desc`; with `sortBy`.
    sort_order: Option<String>,
}

/// Doc-only: the filter of the item ledger.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct ItemStateParam {
    /// Only items in this state.
    state: Option<ItemStateDoc>,
}

/// Doc-only: the states of a ledger item.
#[derive(utoipa::ToSchema)]
#[schema(as = BatchItemState)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum ItemStateDoc {
    Pending,
    Deleted,
    Skipped,
    Failed,
}
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
        .route("/batch/{id}/events", get(events))
        .route("/batch/{id}/manifest", get(super::manifest::runtime))
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("Batch with id '{id}' does not exist"))
}

/// The filters runtime and historic batches share.
pub(super) fn filter_core(
    params: &QueryParams,
    principal: &Principal,
    permission: Permission,
) -> Result<BatchFilterCore, ApiError> {
    Ok(BatchFilterCore {
        visible_to: Some((principal.clone(), permission)),
        batch_id: params.string("batchId"),
        kind: params.string("type"),
        tenant_ids: params.list_or_empty("tenantIdIn"),
        without_tenant_id: params.flag("withoutTenantId")?,
    })
}

/// The filter of `GET /batch`; `statistics` adds the parameters only the statistics accept.
fn filter(params: &QueryParams, principal: &Principal, statistics: bool) -> Result<BatchFilter, ApiError> {
    let mut filter = BatchFilter {
        core: filter_core(params, principal, Permission::Read)?,
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

fn sort_key(statistics: bool) -> impl Fn(&str) -> Option<BatchSortKey> {
    move |v| match v {
        "batchId" => Some(BatchSortKey::BatchId),
        "tenantId" => Some(BatchSortKey::TenantId),
        "startTime" if statistics => Some(BatchSortKey::StartTime),
        _ => None,
    }
}

/// One runtime batch.
#[utoipa::path(
    get,
    path = "/batch/{id}",
    operation_id = "getBatch",
    tag = "Batch",
    params(("id" = String, Path, description = "Batch id")),
    responses((status = 200, description = "The batch", body = BatchDto), (status = 404, description = "No such batch, or the user may not read it", body = ExceptionDto))
)]
pub(crate) async fn find(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<axum::Json<BatchDto>, ApiError> {
    let mut filter = filter_core(&QueryParams::default(), &principal, Permission::Read)?;
    filter.batch_id = Some(id.clone());
    let found =
        batch::list(&state.db, &BatchFilter { core: filter, ..Default::default() }, None, Default::default()).await?;
    let batch = found.into_iter().next().ok_or_else(|| not_found(&id))?;
    Ok(axum::Json(batch.to_dto()))
}

/// Lists the runtime batches the user may read.
#[utoipa::path(
    get,
    path = "/batch",
    operation_id = "getBatches",
    tag = "Batch",
    params(BatchQueryParams, BatchSortParams, PagingParams),
    responses((status = 200, description = "The batches", body = Vec<BatchDto>))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<Vec<BatchDto>>, ApiError> {
    let filter = filter(&params, &principal, false)?;
    let sort = params.sort(sort_key(false))?;
    let page = params.page()?;
    let batches = batch::list(&state.db, &filter, sort, page).await?;
    Ok(axum::Json(batches.iter().map(|b| b.to_dto()).collect()))
}

/// Counts the runtime batches the user may read.
#[utoipa::path(
    get,
    path = "/batch/count",
    operation_id = "getBatchesCount",
    tag = "Batch",
    params(BatchQueryParams),
    responses((status = 200, description = "The number of batches", body = CountResultDto))
)]
pub(crate) async fn count(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<CountResultDto>, ApiError> {
    let filter = filter(&params, &principal, false)?;
    Ok(axum::Json(CountResultDto { count: batch::count(&state.db, &filter).await? }))
}

/// The runtime batches with their progress: Camunda's job counters plus Sweep's instance counters.
#[utoipa::path(
    get,
    path = "/batch/statistics",
    operation_id = "getBatchStatistics",
    tag = "Batch",
    params(BatchQueryParams, BatchStatisticsQueryParams, BatchSortParams, PagingParams),
    responses((status = 200, description = "The batches with their progress", body = Vec<BatchStatisticsDto>))
)]
pub(crate) async fn statistics(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<Vec<BatchStatisticsDto>>, ApiError> {
    let filter = filter(&params, &principal, true)?;
    let sort = params.sort(sort_key(true))?;
    let page = params.page()?;
    let rows = batch::list_with_progress(&state.db, &filter, sort, page).await?;
    Ok(axum::Json(rows.iter().map(|(b, p)| batch::statistics_dto(b, p)).collect()))
}

/// Counts the batches `GET /batch/statistics` would list.
#[utoipa::path(
    get,
    path = "/batch/statistics/count",
    operation_id = "getBatchStatisticsCount",
    tag = "Batch",
    params(BatchQueryParams, BatchStatisticsQueryParams),
    responses((status = 200, description = "The number of batches", body = CountResultDto))
)]
pub(crate) async fn statistics_count(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: QueryParams,
) -> Result<axum::Json<CountResultDto>, ApiError> {
    let filter = filter(&params, &principal, true)?;
    Ok(axum::Json(CountResultDto { count: batch::count(&state.db, &filter).await? }))
}

/// Suspends or activates a batch.
#[utoipa::path(
    put,
    path = "/batch/{id}/suspended",
    operation_id = "updateSuspensionState",
    tag = "Batch",
    params(("id" = String, Path, description = "Batch id")),
    request_body = SuspensionStateDto,
    responses(
        (status = 204, description = "Suspended or activated"),
        (status = 413, description = "The body exceeds `http.body_limit_bytes`", body = ExceptionDto),
        (status = 415, description = "Not `application/json`", body = ExceptionDto),
    )
)]
pub(crate) async fn set_suspended(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<SuspensionStateDto>,
) -> Result<StatusCode, ApiError> {
    let suspend = body.suspended.unwrap_or(false);
    let Some(committed) = control::set_suspended(&state.db, &state.outbox, &principal, &id, suspend).await? else {
        let verb = if suspend { "suspend" } else { "activate" };
        return Err(ApiError::EngineRefused(format!("Unable to {verb} batch with id '{id}'")));
    };
    state.publish(&committed).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops a batch: removes the runtime batch and its jobs and ends the historic batch (instances
/// not deleted yet stay); `cascade=true` also removes the historic batch and the item ledger.
#[utoipa::path(
    delete,
    path = "/batch/{id}",
    operation_id = "deleteBatch",
    tag = "Batch",
    params(("id" = String, Path, description = "Batch id"), ("cascade" = Option<bool>, Query, description = "Also remove the historic batch and the ledger")),
    responses((status = 204, description = "Deleted"))
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    params: QueryParams,
) -> Result<StatusCode, ApiError> {
    let cascade = params.boolean("cascade")?.unwrap_or(false);
    if !control::delete(&state.db, &principal, &id, cascade, state.settings.history.batch_removal_after_end()).await? {
        return Err(ApiError::EngineRefused(format!("Unable to delete batch with id '{id}'")));
    }
    Ok(StatusCode::NO_CONTENT)
}

fn item_state(params: &QueryParams) -> Result<Option<ItemState>, ApiError> {
    match params.string("state") {
        None => Ok(None),
        Some(s) => ItemState::iter()
            .find(|state| state.to_value() == s)
            .map(Some)
            .ok_or_else(|| ApiError::InvalidRequest(format!("Cannot set query parameter 'state' to value '{s}'"))),
    }
}

/// The ledger of a runtime or historic batch the principal may read (READ on the runtime
/// batch, or READ_HISTORY on the historic one).
pub(super) async fn known_batch(state: &AppState, principal: &Principal, id: &str) -> Result<(), ApiError> {
    let mut core = filter_core(&QueryParams::default(), principal, Permission::Read)?;
    core.batch_id = Some(id.to_owned());
    let runtime = BatchFilter { core: core.clone(), ..Default::default() };
    if batch::count(&state.db, &runtime).await? > 0 {
        return Ok(());
    }
    known_historic_batch(state, principal, id).await
}

/// The ledger of a historic batch the principal may read (READ_HISTORY on it).
pub(super) async fn known_historic_batch(state: &AppState, principal: &Principal, id: &str) -> Result<(), ApiError> {
    let mut core = filter_core(&QueryParams::default(), principal, Permission::ReadHistory)?;
    core.batch_id = Some(id.to_owned());
    core.visible_to = Some((principal.clone(), Permission::ReadHistory));
    let historic = shared::db::historic_batch::HistoricBatchFilter { core, completed: None };
    if shared::db::historic_batch::count(&state.db, &historic).await? > 0 { Ok(()) } else { Err(not_found(id)) }
}

/// Sweep extension: the item ledger of a runtime or historic batch, in sequence order.
#[utoipa::path(
    get,
    path = "/batch/{id}/items",
    operation_id = "getBatchItems",
    tags = ["Batch", "sweep-extension"],
    params(("id" = String, Path, description = "Batch id"), ItemStateParam, PagingParams),
    responses((status = 200, description = "The items", body = Vec<BatchItemDto>), (status = 404, description = "No such batch, or the user may not read it", body = ExceptionDto)),
    extensions(("x-sweep-extension" = json!(true)))
)]
pub(crate) async fn items(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    params: QueryParams,
) -> Result<axum::Json<Vec<BatchItemDto>>, ApiError> {
    let item_state = item_state(&params)?;
    let page = params.page()?;
    known_batch(&state, &principal, &id).await?;
    Ok(axum::Json(batch_item::list(&state.db, &id, item_state, page).await?))
}

/// Sweep extension: counts the item ledger of a runtime or historic batch.
#[utoipa::path(
    get,
    path = "/batch/{id}/items/count",
    operation_id = "getBatchItemsCount",
    tags = ["Batch", "sweep-extension"],
    params(("id" = String, Path, description = "Batch id"), ItemStateParam),
    responses((status = 200, description = "The number of items", body = CountResultDto), (status = 404, description = "No such batch, or the user may not read it", body = ExceptionDto)),
    extensions(("x-sweep-extension" = json!(true)))
)]
pub(crate) async fn items_count(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    params: QueryParams,
) -> Result<axum::Json<CountResultDto>, ApiError> {
    let item_state = item_state(&params)?;
    known_batch(&state, &principal, &id).await?;
    Ok(axum::Json(CountResultDto { count: batch_item::count(&state.db, &id, item_state).await? }))
}

/// Sweep extension: puts a runtime batch's failed items back to pending and re-enqueues the
/// jobs holding them.
#[utoipa::path(
    post,
    path = "/batch/{id}/retry-failed-items",
    operation_id = "retryFailedBatchItems",
    tags = ["Batch", "sweep-extension"],
    params(("id" = String, Path, description = "Batch id")),
    responses((status = 200, description = "What was retried", body = RetryFailedItemsResultDto), (status = 404, description = "No such batch, or the user may not read it", body = ExceptionDto)),
    extensions(("x-sweep-extension" = json!(true)))
)]
pub(crate) async fn retry_failed_items(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<axum::Json<RetryFailedItemsResultDto>, ApiError> {
    let retries = i32::try_from(state.settings.worker.max_retries).unwrap_or(i32::MAX);
    let retried = control::retry_failed_items(&state.db, &state.outbox, &principal, &id, retries)
        .await?
        .ok_or_else(|| not_found(&id))?;
    state.publish(&retried.messages).await;
    Ok(axum::Json(RetryFailedItemsResultDto { retried_items: retried.items as i64, retried_jobs: retried.jobs as i64 }))
}

/// The largest `Last-Event-ID` accepted: ids stay exact in JavaScript clients.
const MAX_EVENT_ID: u64 = (1 << 53) - 1;

/// Seconds between heartbeat comments of an event stream.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(15);

/// Sweep extension: the batch's live progress as Server-Sent Events.
#[utoipa::path(
    get,
    path = "/batch/{id}/events",
    operation_id = "getBatchEvents",
    tags = ["Batch", "sweep-extension"],
    description = "A `text/event-stream`: a `progress` event every second while the batch runs (the batch's \
`BatchStatisticsDto` plus `instancesPerSecond` and `etaSeconds`), then one final `completed`, `failed` or \
`deleted` event, and the stream ends. Event ids count from 1, or from `Last-Event-ID` + 1; a `: heartbeat` \
comment every 15 s.",
    params(("id" = String, Path, description = "Batch id"), ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id (0 to 2^53-1)")),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = String),
        (status = 404, description = "No such batch, or the user may not read it", body = ExceptionDto),
    ),
    extensions(("x-sweep-extension" = json!(true)))
)]
pub(crate) async fn events(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    use axum::response::sse::{Event, KeepAlive, Sse};

    let last_id = match headers.get("last-event-id").map(|v| v.to_str().map(str::trim)) {
        None | Some(Ok("")) => 0,
        Some(Ok(v)) => v.parse::<u64>().ok().filter(|n| *n <= MAX_EVENT_ID).ok_or_else(|| {
            ApiError::InvalidRequest(format!(
                "Last-Event-ID must be an integer between 0 and {MAX_EVENT_ID}, got '{}'",
                v.chars().take(40).collect::<String>()
            ))
        })?,
        Some(Err(_)) => return Err(ApiError::InvalidRequest("Last-Event-ID must be visible ASCII".into())),
    };
    known_batch(&state, &principal, &id).await?;
    let receiver = state.live.subscribe(&id);
    struct Stream {
        receiver: tokio::sync::watch::Receiver<Option<crate::live::Frame>>,
        next_id: u64,
        first: bool,
        done: bool,
        stopping: tokio_util::sync::CancellationToken,
        _open: shared::metrics::EventStream,
    }
    let start = Stream {
        receiver,
        next_id: last_id + 1,
        first: true,
        done: false,
        stopping: state.live.stopping(),
        _open: shared::metrics::batch_event_stream(),
    };
    let stream = futures_util::stream::unfold(start, |mut s| async move {
        if s.done {
            return None;
        }
        let frame = loop {
            if std::mem::take(&mut s.first)
                && let Some(frame) = s.receiver.borrow_and_update().clone()
            {
                break frame;
            }
            tokio::select! {
                changed = s.receiver.changed() => {
                    changed.ok()?;
                    if let Some(frame) = s.receiver.borrow_and_update().clone() {
                        break frame;
                    }
                }
                _ = s.stopping.cancelled() => return None,
            }
        };
        s.done = frame.kind.is_final();
        let event = Event::default().event(frame.kind.event()).id(s.next_id.to_string()).data(&*frame.data);
        s.next_id += 1;
        Some((Ok::<_, std::convert::Infallible>(event), s))
    });
    let sse = Sse::new(stream).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"));
    // Proxies that buffer responses (nginx) pass this one through as it is written.
    Ok(([("x-accel-buffering", "no")], sse).into_response())
}

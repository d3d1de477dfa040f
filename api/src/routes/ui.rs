//! The batch web pages under `/ui`: server-rendered HTML (maud escapes every value) behind the
//! same authentication as the REST API, reading through the same filters, so a user sees only
//! the batches it may READ (runtime) or READ_HISTORY (historic).
//!
//! - `GET /ui`: running batches (progress bars fed by each batch's event stream) and the
//!   recently ended ones;
//! - `GET /ui/batch/{id}`: one batch: counters, rate and ETA (live), jobs, failed items with
//!   their reasons, and the actions suspend, resume, cancel and retry failed items, which the
//!   page's script sends to the REST API on the same origin (the browser re-sends the
//!   credentials it was challenged for);
//! - `GET /ui/app.js`, `GET /ui/app.css`, `GET /ui/favicon.svg`: the script, the style sheet and
//!   the icon.
//!
//! Every answer carries `Content-Security-Policy: default-src 'self'` (no inline script or
//! style) and `X-Content-Type-Options: nosniff`.

use axum::Extension;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};
use shared::auth::{Permission, Principal};
use shared::camunda::{BatchStatisticsDto, format_date};
use shared::db::batch::{self, BatchFilter};
use shared::db::batch_item::{self, ItemState};
use shared::db::historic_batch::{self, HistoricBatch, HistoricBatchFilter};
use shared::db::listing::{BatchFilterCore, BatchSortKey, Page, Sort};

use crate::{ApiError, AppState};

/// Running batches listed at most (`app.js` polls the statistics of as many).
const RUNNING_LISTED: i64 = 100;
/// Ended batches listed at most.
const RECENT_LISTED: i64 = 20;
/// Failed items shown on a batch's page at most.
const FAILED_SHOWN: i64 = 100;

const APP_JS: &str = include_str!("ui/app.js");
const APP_CSS: &str = include_str!("ui/app.css");
const FAVICON: &str = include_str!("ui/favicon.svg");

/// The pages, behind the authentication middleware.
pub(super) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/ui", get(list))
        .route("/ui/", get(list))
        .route("/ui/batch/{id}", get(detail))
        .route("/ui/app.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], APP_JS) }))
        .route("/ui/app.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS) }))
        .route("/ui/favicon.svg", get(|| async { ([(header::CONTENT_TYPE, "image/svg+xml")], FAVICON) }))
        .layer(axum::middleware::from_fn_with_state(state, crate::auth::require_user))
        .layer(axum::middleware::from_fn(security_headers))
}

/// Headers of every answer under `/ui`, the 401 challenge included.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What a batch is doing, as its page and the event stream name it.
fn runtime_state(stats: &BatchStatisticsDto) -> &'static str {
    if stats.failed_jobs > 0 && stats.remaining_jobs == stats.failed_jobs {
        "failed"
    } else if stats.batch.suspended {
        "suspended"
    } else if stats.batch.waiting_for_window {
        "waiting"
    } else {
        "running"
    }
}

fn ended_state(stats: &BatchStatisticsDto) -> &'static str {
    if stats.pending_instances > 0 {
        "deleted"
    } else if stats.failed_instances > 0 {
        "failed"
    } else {
        "completed"
    }
}

fn processed(stats: &BatchStatisticsDto) -> i64 {
    stats.deleted_instances + stats.skipped_instances + stats.failed_instances
}

fn page(state: &AppState, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Sweep" }
                link rel="icon" href="/ui/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/ui/app.css";
                script src="/ui/app.js" defer {}
            }
            body data-api=(state.settings.http.base_path) {
                header {
                    a.brand href="/ui" { "Sweep" }
                    span.sub { "bulk deletion batches" }
                }
                main { (body) }
            }
        }
    }
}

fn html_response(status: StatusCode, markup: Markup) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response()
}

/// The progress bar and counters of one batch; `data-field` names what the script updates.
fn progress(stats: &BatchStatisticsDto) -> Markup {
    html! {
        div.progress {
            progress data-field="bar" max=(stats.total_instances.max(1)) value=(processed(stats)) {}
            span.counts {
                span data-field="processed" { (processed(stats)) } " / "
                span data-field="totalInstances" { (stats.total_instances) }
            }
        }
    }
}

fn state_badge(state: &str) -> Markup {
    html! { span.state data-field="state" data-state=(state) { (state) } }
}

fn visible_core(principal: &Principal, permission: Permission, id: Option<&str>) -> BatchFilterCore {
    BatchFilterCore {
        visible_to: Some((principal.clone(), permission)),
        batch_id: id.map(str::to_owned),
        ..Default::default()
    }
}

async fn running(
    state: &AppState,
    principal: &Principal,
    id: Option<&str>,
    max: i64,
) -> Result<Vec<BatchStatisticsDto>, ApiError> {
    let filter = BatchFilter { core: visible_core(principal, Permission::Read, id), ..Default::default() };
    let sort = Some(Sort { key: BatchSortKey::StartTime, desc: true });
    let rows = batch::list_with_progress(&state.db, &filter, sort, Page { first: 0, max: Some(max) }).await?;
    Ok(rows.iter().map(|(b, p)| batch::statistics_dto(b, p)).collect())
}

async fn ended(
    state: &AppState,
    principal: &Principal,
    id: Option<&str>,
    max: i64,
) -> Result<Vec<(HistoricBatch, BatchStatisticsDto)>, ApiError> {
    let filter = HistoricBatchFilter {
        core: visible_core(principal, Permission::ReadHistory, id),
        completed: id.is_none().then_some(true),
    };
    let sort = Some(Sort { key: BatchSortKey::EndTime, desc: true });
    let mut out = Vec::new();
    for h in historic_batch::list(&state.db, &filter, sort, Page { first: 0, max: Some(max) }).await? {
        let progress =
            batch_item::ended_progress(&state.db, &h.info.id, h.info.total_items, h.info.invocations_per_job).await?;
        let stats = h.statistics_dto(&progress);
        out.push((h, stats));
    }
    Ok(out)
}

async fn list(State(state): State<AppState>, Extension(principal): Extension<Principal>) -> Result<Response, ApiError> {
    let runtime = running(&state, &principal, None, RUNNING_LISTED).await?;
    let recent = ended(&state, &principal, None, RECENT_LISTED).await?;
    let body = html! {
        h1 { "Running batches" }
        @if runtime.is_empty() {
            p.empty { "No running batch." }
        } @else {
            table.batches #running {
                thead { tr { th { "Batch" } th { "State" } th { "Progress" } th.num { "Deleted" } th.num { "Skipped" }
                    th.num { "Failed" } th.num { "Rate /s" } th { "Started" } } }
                tbody {
                    @for s in &runtime {
                        tr.batch data-batch=(s.batch.id) data-live="true" {
                            td { a href={ "/ui/batch/" (s.batch.id) } { code { (s.batch.id) } } }
                            td { (state_badge(runtime_state(s))) }
                            td { (progress(s)) }
                            td.num data-field="deletedInstances" { (s.deleted_instances) }
                            td.num data-field="skippedInstances" { (s.skipped_instances) }
                            td.num data-field="failedInstances" { (s.failed_instances) }
                            td.num data-field="instancesPerSecond" { "–" }
                            td.time { (s.batch.start_time.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
        h1 { "Recently ended" }
        @if recent.is_empty() {
            p.empty { "No ended batch." }
        } @else {
            table.batches #recent {
                thead { tr { th { "Batch" } th { "State" } th { "Progress" } th.num { "Deleted" } th.num { "Skipped" }
                    th.num { "Failed" } th { "Ended" } } }
                tbody {
                    @for (h, s) in &recent {
                        tr.batch data-batch=(s.batch.id) {
                            td { a href={ "/ui/batch/" (s.batch.id) } { code { (s.batch.id) } } }
                            td { (state_badge(ended_state(s))) }
                            td { (progress(s)) }
                            td.num { (s.deleted_instances) }
                            td.num { (s.skipped_instances) }
                            td.num { (s.failed_instances) }
                            td.time { (h.end_time.map(format_date).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    };
    Ok(html_response(StatusCode::OK, page(&state, "Batches", body)))
}

fn not_found(state: &AppState, id: &str) -> Response {
    let body = html! {
        h1 { "Batch not found" }
        p { "Batch " code { (id) } " does not exist, or you may not read it." }
        p { a href="/ui" { "All batches" } }
    };
    html_response(StatusCode::NOT_FOUND, page(state, "Not found", body))
}

async fn detail(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (stats, state_name, live, end_time) = match running(&state, &principal, Some(&id), 1).await?.pop() {
        Some(s) => {
            let name = runtime_state(&s);
            (s, name, true, None)
        }
        None => match ended(&state, &principal, Some(&id), 1).await?.pop() {
            Some((h, s)) => {
                let name = ended_state(&s);
                (s, name, false, h.end_time.map(format_date))
            }
            None => return Ok(not_found(&state, &id)),
        },
    };
    let failed_count = batch_item::count(&state.db, &id, Some(ItemState::Failed)).await?;
    let failed =
        batch_item::list(&state.db, &id, Some(ItemState::Failed), Page { first: 0, max: Some(FAILED_SHOWN) }).await?;
    let b = &stats.batch;
    let body = html! {
        div.batch #batch data-batch=(b.id) data-live=(live) {
            h1 { "Batch " code { (b.id) } " " (state_badge(state_name)) }
            (progress(&stats))
            div.cards {
                section.card {
                    h2 { "Instances" }
                    dl {
                        dt { "Total" } dd data-field="totalInstances" { (stats.total_instances) }
                        dt { "Pending" } dd data-field="pendingInstances" { (stats.pending_instances) }
                        dt { "Running" } dd data-field="runningInstances" { (stats.running_instances) }
                        dt { "Deleted" } dd data-field="deletedInstances" { (stats.deleted_instances) }
                        dt { "Skipped" } dd data-field="skippedInstances" { (stats.skipped_instances) }
                        dt { "Failed" } dd data-field="failedInstances" { (stats.failed_instances) }
                    }
                }
                section.card {
                    h2 { "Rate" }
                    dl {
                        dt { "Per second" } dd data-field="instancesPerSecond" { "–" }
                        dt { "ETA" } dd data-field="etaSeconds" { "–" }
                        dt { "Started" } dd.time { (b.start_time.as_deref().unwrap_or("")) }
                        dt { "Ended" } dd.time data-field="endTime" { (end_time.unwrap_or_default()) }
                    }
                }
                section.card {
                    h2 { "Jobs" }
                    dl {
                        dt { "Total" } dd data-field="totalJobs" { (b.total_jobs) }
                        dt { "Created" } dd data-field="jobsCreated" { (b.jobs_created) }
                        dt { "Completed" } dd data-field="completedJobs" { (stats.completed_jobs) }
                        dt { "Remaining" } dd data-field="remainingJobs" { (stats.remaining_jobs) }
                        dt { "Failed" } dd data-field="failedJobs" { (stats.failed_jobs) }
                        dt { "Instances per job" } dd { (b.invocations_per_batch_job) }
                    }
                }
                @if live {
                    section.card {
                        h2 { "Steering" }
                        dl {
                            dt { "Priority" } dd data-field="priority" { (b.priority) }
                            dt { "Instances per second" } dd data-field="maxInstancesPerSecond" {
                                (b.max_instances_per_second.map_or_else(|| "unlimited".to_owned(), |r| r.to_string()))
                            }
                            dt { "Jobs at once" } dd data-field="maxConcurrentJobs" {
                                (b.max_concurrent_jobs.map_or_else(|| "unlimited".to_owned(), |n| n.to_string()))
                            }
                            dt { "Run window" } dd data-field="runWindow" {
                                (b.run_window.as_ref().map_or_else(|| "always".to_owned(), |w| format!("{}–{} {}", w.start, w.end, w.time_zone)))
                            }
                            dt { "Waiting for window" } dd data-field="waitingForWindow" {
                                (if b.waiting_for_window { "yes" } else { "no" })
                            }
                        }
                    }
                }
                section.card {
                    h2 { "Batch" }
                    dl {
                        dt { "Type" } dd { (b.kind) }
                        dt { "Tenant" } dd { (b.tenant_id.as_deref().unwrap_or("–")) }
                        dt { "Created by" } dd { (b.create_user_id.as_deref().unwrap_or("–")) }
                    }
                }
            }
            @if live {
                div.actions {
                    button type="button" data-action="suspend" hidden[b.suspended] { "Suspend" }
                    button type="button" data-action="resume" hidden[!b.suspended] { "Resume" }
                    button type="button" data-action="retry" disabled[failed_count == 0] { "Retry failed items" }
                    button.danger type="button" data-action="cancel" { "Cancel batch" }
                }
            }
            p #message role="status" {}
            h2 { "Failed items (" span #failed-count { (failed_count) } ")" }
            @if failed.is_empty() {
                p.empty { "No failed item." }
            } @else {
                table.items #failed-items {
                    thead { tr { th.num { "#" } th { "Process instance" } th { "Reason" } } }
                    tbody {
                        @for item in &failed {
                            tr {
                                td.num { (item.seq) }
                                td { code { (item.process_instance_id) } }
                                td.reason { (item.reason.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
                @if failed_count > FAILED_SHOWN {
                    p { "The first " (FAILED_SHOWN) " of " (failed_count) " failed items." }
                }
            }
        }
    };
    Ok(html_response(StatusCode::OK, page(&state, &format!("Batch {id}"), body)))
}

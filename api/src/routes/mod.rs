//! Route table: the Camunda REST API under `http.base_path`, health and metrics at the root,
//! and Camunda-style bodies for unknown paths and methods.

mod batch;
mod health;
mod history_batch;
mod job;
mod process_instance;
mod process_instance_delete;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Instrument;

use crate::{ApiError, AppState, sanitize};

/// The complete router.
pub fn router(state: AppState) -> Router {
    let settings = state.settings.clone();
    let engine = Router::new()
        .merge(process_instance::router())
        .merge(process_instance_delete::router())
        .merge(batch::router())
        .merge(history_batch::router())
        .merge(job::router())
        .fallback(|| async { ApiError::NotFound("Resource not found".into()) })
        // Everything under the base path needs a user (unless auth.mode = none).
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::require_user));
    Router::new()
        .nest(&settings.http.base_path, engine)
        .merge(health::router())
        .fallback(|| async { ApiError::NotFound("Resource not found".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed("Method not allowed".into()) })
        .layer(DefaultBodyLimit::max(settings.http.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, settings.http.request_timeout))
        .layer(axum::middleware::from_fn(sanitize::reject_bad_text))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::Internal(shared::Error::Internal(
                "handler panicked".into(),
            )))
        }))
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn(observe))
        .with_state(state)
}

/// Runs each request in its trace context (a child of the caller's `traceparent`, or a new
/// trace), so the messages it causes carry it, and records its HTTP metrics by route template.
async fn observe(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str).to_owned();
    let traceparent = match request.headers().get("traceparent").and_then(|v| v.to_str().ok()) {
        Some(parent) => shared::trace::child_of(parent),
        None => shared::trace::new_traceparent(),
    };
    let span = tracing::info_span!("request", trace.id = shared::trace::trace_id(&traceparent));
    let response = shared::trace::scope(Some(traceparent), next.run(request)).instrument(span).await;
    shared::metrics::http_request(method.as_str(), &route, response.status().as_u16(), started.elapsed());
    response
}

//! Route table: the Camunda REST API under `http.base_path`, health and metrics at the root, the
//! batch pages under `/ui`, the OpenAPI document and Swagger UI (`/docs`), and Camunda-style bodies for unknown paths and methods.

pub(crate) mod batch;
pub(crate) mod batch_steering;
pub(crate) mod engine;
mod health;
pub(crate) mod history_batch;
pub(crate) mod history_job_log;
pub(crate) mod incident;
pub(crate) mod job;
pub(crate) mod job_definition;
pub(crate) mod job_priority;
pub(crate) mod manifest;
pub(crate) mod process_instance;
pub(crate) mod process_instance_delete;
mod ui;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use shared::trace::{self, Relation, TRACEPARENT};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::{ApiError, AppState, sanitize};

/// The complete router.
pub fn router(state: AppState) -> Router {
    let settings = state.settings.clone();
    let endpoints = Router::new()
        .merge(process_instance::router())
        .merge(process_instance_delete::router())
        .merge(batch::router())
        .merge(batch_steering::router())
        .merge(history_batch::router())
        .merge(history_job_log::router())
        .merge(incident::router())
        .merge(job::router())
        .merge(job_definition::router())
        .merge(engine::router())
        .merge(job_priority::router())
        .fallback(|| async { ApiError::NotFound("Resource not found".into()) })
        // Everything under the base path needs a user (unless auth.mode = none) …
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::require_user));
    // Every endpoint again under `/engine/{name}` (Camunda's named-engine paths), by forwarding
    // to the same router: once here, not per endpoint.
    let named = engine::named(endpoints.clone().with_state(state.clone()));
    let engine = endpoints
        .merge(named)
        // … but the OpenAPI document, which changes nothing and holds no data.
        .route("/openapi.json", axum::routing::get(crate::openapi::document));
    Router::new()
        .nest(&settings.http.base_path, engine)
        .merge(health::router())
        .merge(ui::router(state.clone()))
        .merge(crate::openapi::swagger_ui(&settings.http.base_path))
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

/// Runs each request in its SERVER span (`<method> <route>`, HTTP semantic-convention
/// attributes) in the caller's trace (its `traceparent`) or a new one, so the messages it causes
/// carry it, and records its HTTP metrics by route template.
async fn observe(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = matched.as_ref().map(MatchedPath::as_str);
    let span = tracing::info_span!(
        "request",
        otel.name = route.map_or_else(|| method.to_string(), |r| format!("{method} {r}")),
        otel.kind = "server",
        http.request.method = %method,
        http.route = route,
        url.path = request.uri().path(),
        http.response.status_code = tracing::field::Empty,
    );
    let route = route.unwrap_or("unmatched").to_owned();
    let incoming = request.headers().get(TRACEPARENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let response = trace::in_context(span.clone(), incoming.as_deref(), Relation::Child, next.run(request)).await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        trace::failed(&span, &status);
    }
    shared::metrics::http_request(method.as_str(), &route, status.as_u16(), started.elapsed());
    response
}

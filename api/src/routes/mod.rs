//! Route table: the Camunda REST API under `http.base_path`, health and metrics at the root,
//! and Camunda-style bodies for unknown paths and methods.

mod batch;
mod health;
mod history_batch;
mod job;
mod process_instance;
mod process_instance_delete;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::{ApiError, AppState};

/// The complete router.
pub fn router(state: AppState) -> Router {
    let settings = state.settings.clone();
    let engine = Router::new()
        .merge(process_instance::router())
        .merge(process_instance_delete::router())
        .merge(batch::router())
        .merge(history_batch::router())
        .merge(job::router());
    Router::new()
        .nest(&settings.http.base_path, engine)
        .merge(health::router())
        .fallback(|| async { ApiError::NotFound("Resource not found".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed("Method not allowed".into()) })
        .layer(DefaultBodyLimit::max(settings.http.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, settings.http.request_timeout))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::Internal(shared::Error::invalid("handler panicked")))
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

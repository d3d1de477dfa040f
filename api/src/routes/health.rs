//! `/health/live` (the process answers; no dependency is checked), `/health/ready` (not
//! shutting down, and `shared::health::readiness`: database, schema version, broker) and
//! Prometheus `/metrics`.

use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::AppState;

pub(super) fn router() -> Router<AppState> {
    // Installs the recorder, so what handlers record from now on is served.
    shared::metrics::handle();
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(|State(state): State<AppState>| std::future::ready(shared::metrics::render(&state.db))))
}

async fn live() -> &'static str {
    "ok"
}

/// 200 `ok`, or 503 with one line per failed check.
async fn ready(State(state): State<AppState>) -> (StatusCode, String) {
    if state.shutting_down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n".to_owned());
    }
    let failures = shared::health::readiness(&state.db, state.publisher.pool()).await;
    if failures.is_empty() {
        return (StatusCode::OK, "ok".to_owned());
    }
    tracing::warn!(failures = %failures.join("; "), "readiness check failed");
    (StatusCode::SERVICE_UNAVAILABLE, failures.iter().map(|f| format!("{f}\n")).collect())
}

//! The worker's small HTTP surface: `/health/live` (the process answers; no dependency is
//! checked), `/health/ready` (not shutting down, and `shared::health::readiness`: database,
//! schema version, broker) and Prometheus `/metrics`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::Ctx;

pub(crate) async fn serve(listener: TcpListener, ctx: Arc<Ctx>, stop: CancellationToken) {
    let app = Router::new()
        .route("/health/live", get(|| async { "ok" }))
        .route("/health/ready", get(ready))
        .route("/metrics", get(|State(ctx): State<Arc<Ctx>>| std::future::ready(shared::metrics::render(&ctx.db))))
        .with_state(ctx);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(http.addr = %addr, "worker health and metrics listening");
    }
    let served = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned()).await;
    if let Err(e) = served {
        tracing::error!(error = %e, "worker http server failed");
    }
}

/// 200 `ok`, or 503 with one line per failed check.
async fn ready(State(ctx): State<Arc<Ctx>>) -> (StatusCode, String) {
    if ctx.shutting_down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n".to_owned());
    }
    let failures = shared::health::readiness(&ctx.db, &ctx.amqp).await;
    if failures.is_empty() {
        return (StatusCode::OK, "ok".to_owned());
    }
    tracing::warn!(failures = %failures.join("; "), "readiness check failed");
    (StatusCode::SERVICE_UNAVAILABLE, failures.iter().map(|f| format!("{f}\n")).collect())
}

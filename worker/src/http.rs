//! The worker's small HTTP surface: `/health/live`, `/health/ready` (database and broker
//! reachable, not shutting down) and Prometheus `/metrics`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use sea_orm::ConnectionTrait;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::Ctx;

pub(crate) async fn serve(listener: TcpListener, ctx: Arc<Ctx>, stop: CancellationToken) {
    let handle = shared::metrics::handle();
    let app = Router::new()
        .route("/health/live", get(|| async { "ok" }))
        .route("/health/ready", get(ready))
        .route("/metrics", get(move || std::future::ready(handle.render())))
        .with_state(ctx);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(http.addr = %addr, "worker health and metrics listening");
    }
    let served = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned()).await;
    if let Err(e) = served {
        tracing::error!(error = %e, "worker http server failed");
    }
}

async fn ready(State(ctx): State<Arc<Ctx>>) -> (StatusCode, &'static str) {
    if ctx.shutting_down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    if ctx.db.execute_unprepared("SELECT 1").await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable");
    }
    if ctx.amqp.get().await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "broker unavailable");
    }
    (StatusCode::OK, "ok")
}

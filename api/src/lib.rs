//! The `sweep-api` library: the router and [`run`], which tests start in-process on port 0.

#![warn(missing_docs)]

pub mod auth;
mod backlog;
pub mod cli;
pub mod client;
pub mod error;
pub mod extract;
pub mod live;
pub mod openapi;
pub mod params;
pub mod routes;
pub mod sanitize;
pub mod state;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;
pub use state::AppState;

/// Builds the complete router for `state`.
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// Serves the API on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn run(
    settings: shared::Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), shared::Error> {
    shared::metrics::build_info("sweep-api");
    if settings.auth.mode == shared::settings::AuthMode::None {
        tracing::warn!("auth.mode = none: anyone who reaches this API can delete process instances");
    }
    let db = shared::db::connect(&settings.database, "sweep-api").await?;
    let (_pool, publisher, topology) = shared::mq::setup::connect_and_declare(&settings, "sweep-api").await?;
    let token = CancellationToken::new();
    tokio::spawn(shared::mq::relay::run(db.clone(), publisher.clone(), settings.outbox.clone(), token.clone()));
    tokio::spawn(backlog::run(
        db.clone(),
        publisher.clone(),
        topology,
        settings.metrics.backlog_interval,
        token.clone(),
    ));
    let auth = auth::Authenticator::new(settings.auth.clone())
        .await
        .map_err(|e| shared::Error::Internal(format!("authentication setup failed: {e}")))?;
    let state = AppState::new(db, Arc::new(settings), publisher, auth);
    let app = router(state.clone());
    let addr = listener.local_addr().ok();
    tracing::info!(http.addr = ?addr, "sweep-api listening");
    let draining = state.clone();
    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        // Fail readiness first, so load balancers stop sending before we stop accepting.
        draining.shutting_down.store(true, Ordering::SeqCst);
        // Event streams never end on their own while a batch runs.
        draining.live.shutdown();
        tracing::info!("shutting down: draining in-flight requests");
    });
    let result = serve.await;
    token.cancel();
    result.map_err(|e| shared::Error::Internal(format!("http server failed: {e}")))
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

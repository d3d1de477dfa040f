//! The `sweep-worker` library. [`run`] connects to PostgreSQL and RabbitMQ, declares the
//! topology, serves `/health/*` and `/metrics`, relays the outbox and consumes the seed, job
//! and monitor queues until shutdown. Workers hold no state of their own: every handler reads
//! the database, commits, publishes through the outbox and only then acks.

#![warn(missing_docs)]

mod consumer;
pub mod control;
mod ctx;
mod dispatch;
mod gates;
pub mod handlers;
mod http;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use shared::messages::WORK_ROUTES;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use consumer::process;
pub use ctx::Ctx;
pub use dispatch::{Disposition, dispatch};

/// Runs a worker until `shutdown` resolves: then it stops consuming, finishes in-flight
/// deliveries (up to `worker.shutdown_timeout`) and returns. An unrecoverable broker error ends
/// it with an error, so an orchestrator restarts the process.
pub async fn run(
    settings: shared::Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), shared::Error> {
    let ctx = Arc::new(Ctx::connect(settings).await?);
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();

    tokio::spawn(http::serve(listener, ctx.clone(), stop.clone()));
    tokio::spawn(control::run(ctx.clone(), stop.clone()));
    tokio::spawn(shared::mq::relay::run(
        ctx.db.clone(),
        ctx.publisher.clone(),
        ctx.settings.outbox.clone(),
        stop.clone(),
    ));

    let conn = ctx.amqp.get().await.map_err(|e| shared::Error::amqp("connecting to amqp.url", e))?;
    let mut consumers = tokio::task::JoinSet::new();
    for route in WORK_ROUTES {
        let channel = conn.create_channel().await.map_err(|e| shared::Error::amqp("opening a channel", e))?;
        consumers.spawn(consumer::consume(ctx.clone(), channel, route, stop.clone(), tracker.clone()));
    }
    tracing::info!(amqp.prefix = %ctx.settings.amqp.prefix, "sweep-worker consuming");

    let mut shutdown = std::pin::pin!(shutdown);
    let failure = tokio::select! {
        _ = &mut shutdown => None,
        Some(ended) = consumers.join_next() => Some(match ended {
            Ok(Err(e)) => e,
            Ok(Ok(())) => shared::Error::broker("a consumer stopped unexpectedly"),
            Err(e) => shared::Error::Internal(format!("a consumer panicked: {e}")),
        }),
    };
    ctx.shutting_down.store(true, Ordering::SeqCst);
    tracing::info!("sweep-worker stopping: no new deliveries, finishing in-flight ones");
    stop.cancel();
    while consumers.join_next().await.is_some() {}
    tracker.close();
    if tokio::time::timeout(ctx.settings.worker.shutdown_timeout, tracker.wait()).await.is_err() {
        tracing::warn!("shutdown timeout: unfinished deliveries go back to the queue");
    }
    conn.close(200, "shutdown".into()).await.ok();
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The process entry point: loads settings, initialises telemetry, binds the health/metrics
/// listener on `http.bind` and runs until SIGTERM.
pub fn main() -> anyhow::Result<()> {
    use anyhow::Context;
    let settings = shared::Settings::load().context("loading settings")?;
    shared::telemetry::init("sweep-worker", &settings.telemetry);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    let result = runtime.block_on(async move {
        let listener = TcpListener::bind(settings.http.bind)
            .await
            .with_context(|| format!("binding http.bind = {}", settings.http.bind))?;
        if let Ok(addr) = listener.local_addr() {
            // Scripts and tests read this line to find a worker started on port 0.
            println!("sweep-worker http listening on {addr}");
        }
        run(settings, listener, shutdown_signal()).await.context("worker failed")
    });
    // Outside the runtime: the last spans are exported before the process ends.
    shared::telemetry::shutdown();
    result
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

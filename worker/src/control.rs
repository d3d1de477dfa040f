//! This worker's part of the adaptive concurrency limit: it remembers the slowest job it
//! finished since the last look ([`ControlState`]) and, every `control.adjust_interval`, reads
//! the database's signals and moves the cluster-wide limit in `SWEEP_CONTROL` by the AIMD rule
//! of `shared::control::adaptive`. What it caches is only a copy of that row: a restarted worker
//! reads it again, so it keeps no state of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

use shared::control::adaptive::{self, Signals};
use shared::db::control;
use tokio_util::sync::CancellationToken;

use crate::Ctx;

/// The limit as last read, and what this worker observed since.
#[derive(Debug)]
pub struct ControlState {
    limit: AtomicI32,
    slowest_micros: AtomicU64,
}

impl ControlState {
    /// Starts at `limit` (the ceiling) until the first read of the stored limit.
    pub fn new(limit: i32) -> Self {
        Self { limit: AtomicI32::new(limit.max(1)), slowest_micros: AtomicU64::new(0) }
    }

    /// The cluster-wide limit of jobs running at once.
    pub fn limit(&self) -> i32 {
        self.limit.load(Ordering::Relaxed)
    }

    fn set_limit(&self, limit: i32) {
        self.limit.store(limit.max(1), Ordering::Relaxed);
        shared::metrics::control_limit(limit);
    }

    /// Records how long a job's deletion took.
    pub fn observe(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.slowest_micros.fetch_max(micros, Ordering::Relaxed);
    }

    fn take_slowest(&self) -> Option<Duration> {
        let micros = self.slowest_micros.swap(0, Ordering::Relaxed);
        (micros > 0).then(|| Duration::from_micros(micros))
    }
}

/// Adjusts the limit every `control.adjust_interval` until `stop`; with `control.adaptive`
/// off, the limit is `control.max_concurrency` and nothing runs.
pub(crate) async fn run(ctx: Arc<Ctx>, stop: CancellationToken) {
    let settings = &ctx.settings.control;
    if !settings.adaptive {
        ctx.control.set_limit(settings.ceiling());
        return;
    }
    let mut ticks = tokio::time::interval(settings.adjust_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if let Err(e) = step(&ctx).await {
            tracing::warn!(error = %e, "Could not adjust the concurrency limit");
        }
    }
}

/// One look at the signals, and at most one change of the limit.
async fn step(ctx: &Ctx) -> Result<(), sea_orm::DbErr> {
    let settings = &ctx.settings.control;
    let ceiling = settings.ceiling();
    let limit = match control::limit(&ctx.db).await? {
        Some(limit) => limit,
        None => control::ensure(&ctx.db, ceiling).await?,
    };
    ctx.control.set_limit(limit.min(ceiling));
    let replica_lag = match settings.replica_lag_query.as_str() {
        "" => None,
        query => control::replica_lag(&ctx.db, query).await?,
    };
    let signals = Signals {
        max_latency: ctx.control.take_slowest(),
        lock_waits: control::lock_waits(&ctx.db, settings.target_latency).await?,
        replica_lag,
    };
    let adjustment = adaptive::decide(&signals, settings);
    if let Some(next) = control::adjust(&ctx.db, adjustment, ceiling, settings.adjust_interval).await? {
        ctx.control.set_limit(next);
        shared::metrics::control_adjusted(adjustment.direction(), adjustment.reason());
        let reason = adjustment.reason();
        let level_info = matches!(adjustment, adaptive::Adjustment::Decrease(_));
        if level_info {
            tracing::info!(control.limit = next, control.previous = limit, control.reason = reason, signals = ?signals,
                "Concurrency limit lowered from {limit} to {next}: {reason}");
        } else {
            tracing::debug!(
                control.limit = next,
                control.previous = limit,
                control.reason = reason,
                "Concurrency limit raised from {limit} to {next}"
            );
        }
    }
    Ok(())
}

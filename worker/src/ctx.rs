//! What every handler needs: the database, the publisher, the outbox writer and the settings.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use sea_orm::DatabaseConnection;
use shared::db::outbox::OutboxWriter;
use shared::mq::{Publisher, Topology};

/// Shared by all deliveries of one worker process.
pub struct Ctx {
    /// Connection pool (`database.max_connections`).
    pub db: DatabaseConnection,
    /// The deletion transactions' own connections, one per job running at once
    /// (`amqp.prefetch`, the permits of [`Self::running`]). A job's deletion so runs on a
    /// connection whose last work was a deletion too, not on the least recently used one of
    /// `db`, which the pool hands out in turn: measured, that made the same deletion
    /// statements 1–6 % slower per instance (README, "Deletions on connections of their own").
    pub jobs_db: DatabaseConnection,
    /// AMQP connection pool.
    pub amqp: deadpool_lapin::Pool,
    /// Publisher of committed outbox rows.
    pub publisher: Arc<Publisher>,
    /// Writes the messages a handler causes, in its transaction.
    pub outbox: OutboxWriter,
    /// Settings.
    pub settings: shared::Settings,
    /// Set when shutdown begins; readiness then fails.
    pub shutting_down: AtomicBool,
    /// How deletions write history (removal-time strategy, the history tables the database has).
    pub history: shared::deletion::History,
    /// The cluster-wide concurrency limit as last read, and this worker's observations.
    pub control: crate::control::ControlState,
    /// This worker's deletions at once: `amqp.prefetch` permits. A job takes one after its
    /// first checks, so the deliveries held beyond it (`amqp.lookahead`) wait ready to run.
    pub running: tokio::sync::Semaphore,
}

impl Ctx {
    /// Connects to both services and declares the topology.
    pub async fn connect(settings: shared::Settings) -> Result<Self, shared::Error> {
        shared::metrics::worker_started(&shared::messages::WORK_ROUTES);
        let db = shared::db::connect(&settings.database, "sweep-worker").await?;
        let jobs_db =
            shared::db::connect_with(&settings.database, "sweep-worker", u32::from(settings.amqp.prefetch)).await?;
        let (amqp, publisher, topology) = shared::mq::setup::connect_and_declare(&settings, "sweep-worker").await?;
        let outbox = OutboxWriter::new(topology, settings.outbox.claim_lease);
        // Which optional history tables the database has is read once per process.
        let history = shared::deletion::History::detect(&db, settings.history.removal_time_strategy).await?;
        let control = crate::control::ControlState::new(settings.control.ceiling());
        let running = tokio::sync::Semaphore::new(usize::from(settings.amqp.prefetch));
        Ok(Self {
            db,
            jobs_db,
            amqp,
            publisher,
            outbox,
            settings,
            shutting_down: AtomicBool::new(false),
            history,
            control,
            running,
        })
    }

    /// Exchange and queue names.
    pub fn topology(&self) -> &Topology {
        &self.outbox.topology
    }
}

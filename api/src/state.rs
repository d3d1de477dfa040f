//! State shared by all request handlers.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use sea_orm::DatabaseConnection;

/// Cheap to clone; every handler receives one.
#[derive(Clone)]
pub struct AppState {
    /// Connection pool.
    pub db: DatabaseConnection,
    /// Loaded settings.
    pub settings: Arc<shared::Settings>,
    /// Set once shutdown begins; `/health/ready` then fails.
    pub shutting_down: Arc<AtomicBool>,
    /// Publishes committed outbox rows.
    pub publisher: Arc<shared::mq::Publisher>,
    /// Exchange and queue names.
    pub topology: shared::mq::Topology,
}

impl AppState {
    /// State over an open pool and a publisher.
    pub fn new(db: DatabaseConnection, settings: Arc<shared::Settings>, publisher: Arc<shared::mq::Publisher>) -> Self {
        let topology = shared::mq::Topology::new(
            &settings.amqp.prefix,
            settings.amqp.queue_expires,
            settings.worker.retry_delays(),
        );
        Self { db, settings, shutting_down: Arc::new(AtomicBool::new(false)), publisher, topology }
    }
}

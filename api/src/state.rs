//! State shared by all request handlers.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use sea_orm::DatabaseConnection;
use shared::db::outbox::OutboxWriter;
use shared::mq::Publisher;

/// Cheap to clone; every handler receives one.
#[derive(Clone)]
pub struct AppState {
    /// Connection pool.
    pub db: DatabaseConnection,
    /// Loaded settings.
    pub settings: Arc<shared::Settings>,
    /// Confirm-mode publisher of committed outbox rows.
    pub publisher: Arc<Publisher>,
    /// Writes the messages a request causes, in its transaction.
    pub outbox: OutboxWriter,
    /// Set once shutdown begins; `/health/ready` then fails.
    pub shutting_down: Arc<AtomicBool>,
    /// Authenticates requests.
    pub auth: Arc<crate::auth::Authenticator>,
    /// The pollers behind the batch event streams.
    pub live: Arc<crate::live::Live>,
}

impl AppState {
    /// State over an open pool, publisher and authenticator.
    pub fn new(
        db: DatabaseConnection,
        settings: Arc<shared::Settings>,
        publisher: Arc<Publisher>,
        auth: crate::auth::Authenticator,
    ) -> Self {
        let topology = shared::mq::Topology::from_settings(&settings);
        let outbox = OutboxWriter::new(topology, settings.outbox.claim_lease);
        let live = Arc::new(crate::live::Live::new(db.clone()));
        Self {
            db,
            settings,
            publisher,
            outbox,
            shutting_down: Arc::new(AtomicBool::new(false)),
            auth: Arc::new(auth),
            live,
        }
    }

    /// Publishes rows a handler committed (see `Publisher::publish_committed`).
    pub async fn publish(&self, committed: &[shared::db::outbox::StoredMessage]) {
        self.publisher.publish_committed(&self.db, committed).await;
    }
}

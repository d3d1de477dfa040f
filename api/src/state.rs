//! State shared by all request handlers.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use sea_orm::DatabaseConnection;
use shared::mq::{Publisher, Topology};

/// Cheap to clone; every handler receives one.
#[derive(Clone)]
pub struct AppState {
    /// Connection pool.
    pub db: DatabaseConnection,
    /// Loaded settings.
    pub settings: Arc<shared::Settings>,
    /// Confirm-mode publisher of outbox rows.
    pub publisher: Arc<Publisher>,
    /// Exchange and queue names.
    pub topology: Topology,
    /// Set once shutdown begins; `/health/ready` then fails.
    pub shutting_down: Arc<AtomicBool>,
}

impl AppState {
    /// State over an open pool and publisher.
    pub fn new(db: DatabaseConnection, settings: Arc<shared::Settings>, publisher: Arc<Publisher>) -> Self {
        let topology = topology(&settings);
        Self { db, settings, publisher, topology, shutting_down: Arc::new(AtomicBool::new(false)) }
    }
}

/// The topology the settings describe.
pub fn topology(settings: &shared::Settings) -> Topology {
    Topology::from_settings(settings)
}

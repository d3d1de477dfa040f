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
}

impl AppState {
    /// State over an open pool.
    pub fn new(db: DatabaseConnection, settings: Arc<shared::Settings>) -> Self {
        Self { db, settings, shutting_down: Arc::new(AtomicBool::new(false)) }
    }
}

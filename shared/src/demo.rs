//! Demo data: realistic process instances in the Camunda 7 layout, generated set-based from a
//! seed (same seed, same data).

use sea_orm::DatabaseConnection;

use crate::Error;

/// What `generate` creates.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Root process instances.
    pub instances: u64,
    /// Process definitions.
    pub definitions: u32,
    /// Tenants (0: none).
    pub tenants: u32,
    /// Share of roots calling a sub-process instance.
    pub call_share: f64,
    /// Share of suspended instances.
    pub suspended_share: f64,
    /// Share of instances with an incident.
    pub incident_share: f64,
    /// Share of instances with an external task.
    pub external_task_share: f64,
    /// RNG seed.
    pub seed: u64,
}

/// Generates demo data; returns a one-line report with counts and rate.
pub async fn generate(_db: &DatabaseConnection, _options: &GenerateOptions) -> Result<String, Error> {
    Err(Error::invalid("generate: not written yet"))
}

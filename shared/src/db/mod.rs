//! Database access: connecting, migrating and checking an attached Camunda schema, and one
//! module per Sweep table holding every statement on it:
//!
//! - [`batch`]: `SWEEP_BATCH`, runtime batches and their progress;
//! - [`batch_control`]: the steering columns of `SWEEP_BATCH` (rate, concurrency, priority,
//!   run window);
//! - [`batch_job`]: `SWEEP_BATCH_JOB`, the jobs of a batch;
//! - [`batch_item`]: `SWEEP_BATCH_ITEM`, the per-instance ledger;
//! - [`historic_batch`]: `SWEEP_HI_BATCH`, historic batches;
//! - [`outbox`]: `SWEEP_OUTBOX`, messages waiting to be published;
//! - [`control`]: `SWEEP_CONTROL`, the adaptive cluster-wide concurrency limit;
//! - [`listing`]: the filter/list/count core the list endpoints share;
//! - [`identity`]: Camunda's `ACT_ID_*` tables (authentication, login throttling, `user add`);
//! - [`op_log`]: Camunda's user operation log `ACT_HI_OP_LOG`;
//! - [`job_definition`], [`incident`]: the job definitions and `failedJob` incidents of
//!   batches, derived from `SWEEP_BATCH` and `SWEEP_BATCH_JOB` (no tables of their own);
//! - [`job_log`]: `SWEEP_HI_JOB_LOG`, the history of batch jobs.
//!
//! Process-engine (`ACT_`) tables are read by `crate::query` and changed only by
//! `crate::deletion`.

pub mod batch;
pub mod batch_control;
pub mod batch_item;
pub mod batch_job;
pub mod control;
pub mod historic_batch;
pub mod identity;
pub mod incident;
pub mod job_definition;
pub mod job_log;
pub mod listing;
pub mod migration;
pub mod op_log;
pub mod outbox;
pub mod schema;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

use crate::settings::DatabaseSettings;

/// Opens a connection pool configured from `[database]`.
pub async fn connect(settings: &DatabaseSettings, application_name: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(settings, application_name, settings.max_connections).await
}

/// Opens a pool of exactly `max_connections` connections (1 for session-bound work such as
/// the migration lock).
pub async fn connect_with(
    settings: &DatabaseSettings,
    application_name: &str,
    max_connections: u32,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(settings.url.clone());
    options
        .max_connections(max_connections)
        .min_connections(0)
        .connect_timeout(settings.connect_timeout)
        .acquire_timeout(settings.connect_timeout)
        .idle_timeout(std::time::Duration::from_secs(60))
        // sqlx logs every statement at INFO by default; our own spans say what matters.
        .sqlx_logging(false)
        .set_application_name(application_name)
        .statement_timeout(settings.statement_timeout)
        // No JIT compilation: the deletion statements' estimated cost (recursive call trees
        // are guessed large) crosses PostgreSQL's default threshold, and compiling them took
        // longer than running them — about 50 ms a job.
        .map_sqlx_postgres_opts(|o| o.options([("jit", "off")]));
    Database::connect(options).await
}

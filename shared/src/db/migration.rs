//! `sweep-api migrate`: creates the process-engine tables when the database has none
//! (standalone), checks them when it has (attached), and creates Sweep's own `SWEEP_` tables.
//! It never alters or drops an `ACT_` table. A transaction-level advisory lock makes it safe to
//! run from several pods at once; a second run finds nothing to do.

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionTrait};
use sea_orm_migration::prelude::*;

use super::schema;
use crate::Error;

/// Which layout `migrate` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Sweep created (or had earlier created) the process-engine tables itself.
    Standalone,
    /// The process-engine tables belong to someone else, e.g. a Camunda 7 engine.
    Attached,
}

/// DDL of the process-engine tables a standalone installation creates (Camunda 7.24 layout).
/// Public so tests can build a database "as a Camunda engine would" before Sweep attaches to it.
pub const ENGINE_SQL: &str = include_str!("sql/engine.sql");

/// Key of the advisory lock serialising concurrent `migrate` runs ("SWEEPMIG").
const MIGRATION_LOCK_KEY: i64 = 0x5357_4545_504d_4947;

/// Runs the migrations on `db` (a pool of any size) and says which layout it found.
///
/// Everything happens in one transaction that first takes a transaction-level advisory lock:
/// the lock is bound to the session doing the work (a session lock taken through a pool may be
/// released on another session, or never), it is released by commit or rollback even if this
/// process dies, and a failed run leaves nothing behind.
pub async fn run(db: &DatabaseConnection) -> Result<Mode, Error> {
    let txn = db.begin().await?;
    let result = async {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")).await?;
        run_locked(&txn).await
    }
    .await;
    match result {
        Ok(mode) => {
            txn.commit().await?;
            tracing::info!(mode = ?mode, "Database migrated");
            Ok(mode)
        }
        Err(e) => {
            // The error at hand matters more than a failed rollback; dropping rolls back anyway.
            txn.rollback().await.ok();
            Err(e)
        }
    }
}

/// Detects the mode and migrates; runs under the migration lock.
async fn run_locked(txn: &DatabaseTransaction) -> Result<Mode, Error> {
    // Any ACT_ table not created by Sweep's own migration means the process-engine tables
    // belong to someone else: never add ACT_ tables next to them.
    let mode = if schema::any_table_with_prefix(txn, "act_").await? {
        let created_by_sweep = schema::table_exists(txn, "sweep_migration").await?
            && Migrator::get_applied_migrations(txn).await?.iter().any(|m| m.name() == ENGINE_MIGRATION);
        if created_by_sweep { Mode::Standalone } else { Mode::Attached }
    } else {
        Mode::Standalone
    };
    if mode == Mode::Attached {
        schema::check_attached(txn).await?;
        AttachedMigrator::up(txn, None).await?;
    } else {
        Migrator::up(txn, None).await?;
    }
    Ok(mode)
}

fn table_name() -> DynIden {
    Alias::new("sweep_migration").into_iden()
}

/// Migrations of a standalone installation: the engine tables, then Sweep's own.
struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migration_table_name() -> DynIden {
        table_name()
    }
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        boxed(&standalone_migrations())
    }
}

/// Migrations of an attached installation: Sweep's own tables only.
struct AttachedMigrator;

#[async_trait::async_trait]
impl MigratorTrait for AttachedMigrator {
    fn migration_table_name() -> DynIden {
        table_name()
    }
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        boxed(SWEEP_MIGRATIONS)
    }
}

/// Sweep's own tables, shared by both modes, as `(name, SQL)` in order. Append new migrations
/// here, never edit old ones. With [`ENGINE_SQL`] this is everything a migrated database holds.
pub const SWEEP_MIGRATIONS: &[(&str, &str)] = &[
    ("m0002_sweep_batch", include_str!("sql/m0002_sweep_batch.sql")),
    ("m0003_outbox_claims", include_str!("sql/m0003_outbox_claims.sql")),
    ("m0005_batch_tenants", include_str!("sql/m0005_batch_tenants.sql")),
    ("m0007_job_log", include_str!("sql/m0007_job_log.sql")),
    ("m0008_batch_control", include_str!("sql/m0008_batch_control.sql")),
    ("m0009_snapshot_in_chunks", include_str!("sql/m0009_snapshot_in_chunks.sql")),
    ("m0010_time_ordered_ids", include_str!("sql/m0010_time_ordered_ids.sql")),
    ("m0011_ledger_open_index", include_str!("sql/m0011_ledger_open_index.sql")),
    ("m0012_inline_time_ordered_ids", include_str!("sql/m0012_inline_time_ordered_ids.sql")),
    ("m0013_selection_callers", include_str!("sql/m0013_selection_callers.sql")),
];

/// Name of the migration that creates the process-engine tables: a database where it ran is
/// standalone.
const ENGINE_MIGRATION: &str = "m0001_engine_tables";

/// Process-engine tables only a standalone installation creates (an attached Camunda database
/// has them), as `(name, SQL)`. Public so tests can build a whole Camunda database.
pub const ENGINE_ADDITIONS: &[(&str, &str)] = &[
    ("m0004_identity", include_str!("sql/m0004_identity.sql")),
    ("m0006_engine_history", include_str!("sql/m0006_engine_history.sql")),
];

/// Every migration of a standalone installation, in order: the engine tables, Sweep's own, and
/// later additions to the engine tables. Everything a standalone database holds.
pub fn standalone_migrations() -> Vec<(&'static str, &'static str)> {
    let mut all = vec![(ENGINE_MIGRATION, ENGINE_SQL)];
    all.extend_from_slice(SWEEP_MIGRATIONS);
    all.extend_from_slice(ENGINE_ADDITIONS);
    all
}

/// Whether the database's schema is the one this binary expects: every migration it knows for
/// the database's layout has run. `Err` names what is missing, for the readiness check.
///
/// Migrations this binary does not know (a newer release migrated the database) are fine:
/// migrations only add, so during a rolling upgrade the older pods keep working.
pub async fn check_current(db: &impl ConnectionTrait) -> Result<(), String> {
    let failed = |e: DbErr| format!("schema: cannot read sweep_migration: {e}");
    if !schema::table_exists(db, "sweep_migration").await.map_err(failed)? {
        return Err("schema: not migrated (run `sweep-api migrate`)".to_owned());
    }
    let applied: Vec<String> = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT version FROM sweep_migration",
        ))
        .await
        .map_err(failed)?
        .iter()
        .filter_map(|r| r.try_get_by_index::<String>(0).ok())
        .collect();
    let expected =
        if applied.iter().any(|v| v == ENGINE_MIGRATION) { standalone_migrations() } else { SWEEP_MIGRATIONS.to_vec() };
    let missing: Vec<&str> =
        expected.iter().map(|(name, _)| *name).filter(|name| !applied.iter().any(|v| v == name)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("schema: migration {} not applied (run `sweep-api migrate`)", missing.join(", ")))
    }
}

fn boxed(migrations: &[(&'static str, &'static str)]) -> Vec<Box<dyn MigrationTrait>> {
    migrations.iter().map(|&(name, sql)| Box::new(SqlMigration { name, sql }) as Box<dyn MigrationTrait>).collect()
}

/// A migration given as one SQL script.
struct SqlMigration {
    name: &'static str,
    sql: &'static str,
}

impl MigrationName for SqlMigration {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SqlMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(self.sql).await.map(|_| ())
    }
}

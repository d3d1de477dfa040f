//! `sweep-api migrate`: creates the process-engine tables when the database has none
//! (standalone), checks them when it has (attached), and creates Sweep's own `SWEEP_` tables.
//! It never alters or drops an `ACT_` table. A session-level advisory lock makes it safe to
//! run from several pods at once; a second run finds nothing to do.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
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

/// Runs the migrations on `db`, which must be a pool of exactly one connection: the advisory
/// lock belongs to the session that took it.
pub async fn run(db: &DatabaseConnection) -> Result<Mode, Error> {
    exec(db, &format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).await?;
    let result = run_locked(db).await;
    // Unlock even after a failure, so a retry in the same session is not blocked.
    let unlocked = exec(db, &format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).await;
    let mode = result?;
    unlocked?;
    Ok(mode)
}

async fn run_locked(db: &DatabaseConnection) -> Result<Mode, Error> {
    let mode = if schema::table_exists(db, "act_ru_execution").await? {
        let created_by_sweep = schema::table_exists(db, "sweep_migration").await?
            && Migrator::get_applied_migrations(db)
                .await?
                .iter()
                .any(|m| m.name() == M0001EngineTables.name());
        if created_by_sweep { Mode::Standalone } else { Mode::Attached }
    } else {
        Mode::Standalone
    };
    if mode == Mode::Attached {
        schema::check_attached(db).await?;
        AttachedMigrator::up(db, None).await?;
    } else {
        Migrator::up(db, None).await?;
    }
    tracing::info!(mode = ?mode, "Database migrated");
    Ok(mode)
}

async fn exec(db: &DatabaseConnection, sql: &str) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_string(DbBackend::Postgres, sql)).await.map(|_| ())
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
        let mut all: Vec<Box<dyn MigrationTrait>> = vec![Box::new(M0001EngineTables)];
        all.extend(sweep_migrations());
        all
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
        sweep_migrations()
    }
}

/// Sweep's own tables, shared by both modes. Append new migrations here, never edit old ones.
fn sweep_migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![]
}

/// Creates the Camunda 7.24 process-engine tables Sweep works on.
struct M0001EngineTables;

impl MigrationName for M0001EngineTables {
    fn name(&self) -> &str {
        "m0001_engine_tables"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0001EngineTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(ENGINE_SQL).await.map(|_| ())
    }
}

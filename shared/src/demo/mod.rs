//! Demo data: realistic process instances in the Camunda 7 layout, generated set-based from a
//! seed (same seed and options, same data). This module validates, checks for an earlier run
//! with the same seed and inserts batches; `instance` decides what the rows contain.

mod columns;
mod instance;
mod tables;

use std::time::Instant;

use chrono::{NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, SqlErr, Statement, TransactionTrait};
use tokio::task::JoinSet;

use crate::Error;
use instance::{BatchStats, Catalog, Generator};
use tables::{InstanceRows, RowCounts};

/// Root instances per batch: each batch is one transaction and one statement with one insert
/// per table. A few thousand keeps the statement in the low megabytes while amortising the
/// fixed cost of a statement.
const BATCH_ROOTS: u64 = 2_000;

/// Batches inserted at the same time. Two connections keep both cores of the database busy
/// while the next batch is generated; more only contend for the same indexes.
const PARALLEL_BATCHES: usize = 2;

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
    /// Instances start within the 90 days before this day (00:00 UTC); `None` means today.
    /// Part of what makes the data reproducible: the same seed on another day shifts every
    /// timestamp unless this is pinned.
    pub until: Option<NaiveDate>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            instances: 10_000,
            definitions: 5,
            tenants: 2,
            call_share: 0.2,
            suspended_share: 0.05,
            incident_share: 0.05,
            external_task_share: 0.3,
            seed: 42,
            until: None,
        }
    }
}

impl GenerateOptions {
    /// Checks ranges; the error names the offending option.
    pub fn validate(&self) -> Result<(), Error> {
        if self.instances == 0 {
            return Err(Error::invalid("instances must be at least 1"));
        }
        if self.definitions == 0 {
            return Err(Error::invalid("definitions must be at least 1"));
        }
        for (name, share) in [
            ("call_share", self.call_share),
            ("suspended_share", self.suspended_share),
            ("incident_share", self.incident_share),
            ("external_task_share", self.external_task_share),
        ] {
            // `contains` is false for NaN, so NaN is rejected too.
            if !(0.0..=1.0).contains(&share) {
                return Err(Error::invalid(format!("{name} must be between 0 and 1, got {share}")));
            }
        }
        Ok(())
    }
}

/// Generates `options.instances` root instance trees with their history; returns a one-line
/// report with row counts and rates.
///
/// Fails with [`Error::InvalidRequest`] before writing anything when the options are invalid
/// or the seed was used on this database before. Each batch commits on its own, so a failure
/// in the middle (say, the database going away) leaves the earlier batches in place.
pub async fn generate(db: &DatabaseConnection, options: &GenerateOptions) -> Result<String, Error> {
    options.validate()?;
    let started = Instant::now();
    let window_end = options.until.unwrap_or_else(|| Utc::now().date_naive()).and_time(chrono::NaiveTime::MIN);
    // Definitions are deployed a day before the first instance can start.
    let deploy_time = window_end - chrono::Duration::days(91);
    let (catalog, definitions) = Catalog::new(options, deploy_time);
    let mut generator = Generator::new(options, &catalog, window_end);

    let first = generator.first_root_id();
    if seed_used(db, &first).await? {
        return Err(seed_used_error(options.seed));
    }
    if let Some(stmt) = definitions.statement() {
        db.execute_raw(stmt).await?;
    }

    let mut totals = (BatchStats::default(), RowCounts::default());
    let mut in_flight = JoinSet::new();
    let mut failure = None;
    let mut remaining = options.instances;
    while remaining > 0 && failure.is_none() {
        let n = remaining.min(BATCH_ROOTS);
        remaining -= n;
        let (rows, stats) = generator.batch(n);
        totals.0.roots += stats.roots;
        totals.0.sub_instances += stats.sub_instances;
        totals.1 += rows.counts();
        if in_flight.len() >= PARALLEL_BATCHES {
            failure = joined(in_flight.join_next().await).err();
        }
        in_flight.spawn(insert_batch(db.clone(), rows, options.seed));
    }
    while let Some(done) = in_flight.join_next().await {
        failure = failure.or(joined(Some(done)).err());
    }
    if let Some(e) = failure {
        return Err(e);
    }

    let (stats, rows) = totals;
    let secs = started.elapsed().as_secs_f64().max(1e-3);
    let per_root = |n: u64| n as f64 / stats.roots as f64;
    Ok(format!(
        "generated {} root instances (+{} called sub-instances, seed {}) in {secs:.1} s: {} runtime rows \
         ({:.1}/root), {} history rows ({:.1}/root); {:.0} instances/s, {:.0} rows/s",
        stats.roots,
        stats.sub_instances,
        options.seed,
        rows.runtime,
        per_root(rows.runtime),
        rows.history,
        per_root(rows.history),
        stats.roots as f64 / secs,
        (rows.runtime + rows.history) as f64 / secs,
    ))
}

/// Whether the instance id a seed starts with exists already, at runtime or (after a
/// deletion) in history.
async fn seed_used(db: &DatabaseConnection, first_root_id: &str) -> Result<bool, Error> {
    let stmt = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT EXISTS (SELECT 1 FROM act_ru_execution WHERE id_ = $1) \
             OR EXISTS (SELECT 1 FROM act_hi_procinst WHERE id_ = $1) AS used",
        [first_root_id.into()],
    );
    let row = db.query_one_raw(stmt).await?.ok_or_else(|| DbErr::RecordNotFound("EXISTS row".into()))?;
    Ok(row.try_get("", "used")?)
}

fn seed_used_error(seed: u64) -> Error {
    Error::invalid(format!(
        "demo data for seed {seed} already exists in this database; generate with another seed \
         (--seed) to add more instances"
    ))
}

/// Inserts one batch in one transaction.
async fn insert_batch(db: DatabaseConnection, rows: InstanceRows, seed: u64) -> Result<(), Error> {
    let tx = db.begin().await?;
    // Demo data can be generated again, so a crash losing the last commits is harmless, and
    // not waiting for each WAL flush is a large share of the insert time.
    tx.execute_unprepared("SET LOCAL synchronous_commit = off").await?;
    if let Some(stmt) = rows.statement() {
        tx.execute_raw(stmt).await.map_err(|e| match e.sql_err() {
            // Ids come from the seed: a clash means this seed's data is (partly) there.
            Some(SqlErr::UniqueConstraintViolation(_)) => seed_used_error(seed),
            _ => Error::Db(e),
        })?;
    }
    tx.commit().await?;
    Ok(())
}

/// The result of a finished batch task; a panic in it is a bug and is re-raised here.
fn joined(done: Option<Result<Result<(), Error>, tokio::task::JoinError>>) -> Result<(), Error> {
    match done {
        None => Ok(()),
        Some(Ok(result)) => result,
        // Tasks are never aborted, so a join error is always a panic.
        Some(Err(e)) => std::panic::resume_unwind(e.into_panic()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_outside_zero_to_one_are_rejected_by_name() {
        for bad in [-0.1, 1.5, f64::NAN] {
            let options = GenerateOptions { incident_share: bad, ..Default::default() };
            let err = options.validate().unwrap_err().to_string();
            assert!(err.contains("incident_share"), "{err}");
        }
    }

    #[test]
    fn zero_instances_or_definitions_are_rejected() {
        let err = GenerateOptions { instances: 0, ..Default::default() }.validate().unwrap_err();
        assert!(err.to_string().contains("instances"));
        let err = GenerateOptions { definitions: 0, ..Default::default() }.validate().unwrap_err();
        assert!(err.to_string().contains("definitions"));
    }

    #[test]
    fn the_same_seed_draws_the_same_rows() {
        let options = GenerateOptions { instances: 50, ..Default::default() };
        let end = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_time(chrono::NaiveTime::MIN);
        let (catalog, _) = Catalog::new(&options, end);
        let draw = || {
            let mut generator = Generator::new(&options, &catalog, end);
            let (rows, _) = generator.batch(50);
            format!("{rows:?}")
        };
        assert_eq!(draw(), draw());
    }
}

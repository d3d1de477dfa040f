//! `SWEEP_CONTROL`: cluster-wide control values, one row each. Row `global` holds the adaptive
//! concurrency limit every worker applies (`crate::control::adaptive` decides how it moves).

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use crate::control::adaptive::Adjustment;

/// Id of the row holding the cluster-wide concurrency limit.
pub const GLOBAL: &str = "global";

/// The limit as stored, creating the row at `ceiling` when it does not exist yet.
pub async fn ensure(db: &impl ConnectionTrait, ceiling: i32) -> Result<i32, DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO sweep_control (id_, limit_, updated_, direction_, reason_) VALUES ($1, $2, now(), NULL, 'initial')
         ON CONFLICT (id_) DO NOTHING",
        [GLOBAL.into(), ceiling.max(1).into()],
    ))
    .await?;
    Ok(limit(db).await?.unwrap_or(ceiling.max(1)))
}

/// The stored limit; `None` before any worker created the row.
pub async fn limit(db: &impl ConnectionTrait) -> Result<Option<i32>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT limit_ FROM sweep_control WHERE id_ = $1",
            [GLOBAL.into()],
        ))
        .await?;
    row.map(|r| r.try_get("", "limit_")).transpose()
}

/// Applies `adjustment` within `1..=ceiling`, unless the limit changed less than `min_age`
/// ago (so that workers observing the same trouble halve it once, not once each) or would not
/// change. The new limit when this call changed it.
pub async fn adjust(
    db: &impl ConnectionTrait,
    adjustment: Adjustment,
    ceiling: i32,
    min_age: Duration,
) -> Result<Option<i32>, DbErr> {
    let next = match adjustment {
        Adjustment::Increase => "least($2, limit_ + 1)",
        Adjustment::Decrease(_) => "greatest(1, least($2, limit_ / 2))",
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "UPDATE sweep_control SET limit_ = {next}, updated_ = now(), direction_ = $3, reason_ = $4
                  WHERE id_ = $1 AND updated_ < now() - make_interval(secs => $5) AND limit_ <> {next}
                 RETURNING limit_"
            ),
            [
                GLOBAL.into(),
                ceiling.max(1).into(),
                adjustment.direction().into(),
                adjustment.reason().into(),
                min_age.as_secs_f64().into(),
            ],
        ))
        .await?;
    row.map(|r| r.try_get("", "limit_")).transpose()
}

/// Statements of the current database that have waited on a lock for longer than `longer_than`.
pub async fn lock_waits(db: &impl ConnectionTrait, longer_than: Duration) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) AS waits FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'
                AND now() - query_start > make_interval(secs => $1)",
            [longer_than.as_secs_f64().into()],
        ))
        .await?;
    row.map_or(Ok(0), |r| r.try_get("", "waits"))
}

/// Runs the configured replica-lag query; its first column is the lag in seconds.
pub async fn replica_lag(db: &impl ConnectionTrait, query: &str) -> Result<Option<f64>, DbErr> {
    let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, query.to_owned())).await?;
    Ok(row.and_then(|r| r.try_get_by_index::<Option<f64>>(0).ok().flatten()))
}

//! The steering columns of `SWEEP_BATCH` (rate, concurrency, priority, run window, and the
//! rate limiter's state) and the statements on them; the rest of the table is `super::batch`.

use std::time::Duration;

use chrono::NaiveTime;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement, Value};

use super::batch::Batch;
use crate::control::{RunWindow, SteeringPatch};

/// The columns of [`BatchSteering`], on the batch table aliased `b`.
macro_rules! steering_columns {
    () => {
        concat!(
            "b.max_rate_, b.max_concurrent_jobs_, b.priority_, b.window_start_, b.window_end_, b.window_tz_, ",
            crate::control::window::window_open_sql!(),
            " AS window_open_, ",
            crate::control::window::window_opens_in_sql!(),
            " AS window_opens_in_"
        )
    };
}
pub(crate) use steering_columns;

/// A runtime batch's limits, and whether its window is open now.
#[derive(Debug, Clone, PartialEq, FromQueryResult)]
pub struct BatchSteering {
    /// Instances per second over all workers; `None`: unlimited.
    #[sea_orm(alias = "max_rate_")]
    pub max_rate: Option<f64>,
    /// Jobs running at once; `None`: only the fair share limits them.
    #[sea_orm(alias = "max_concurrent_jobs_")]
    pub max_concurrent_jobs: Option<i32>,
    /// Larger is more urgent.
    #[sea_orm(alias = "priority_")]
    pub priority: i64,
    /// Window start (local time).
    #[sea_orm(alias = "window_start_")]
    pub window_start: Option<NaiveTime>,
    /// Window end (local time).
    #[sea_orm(alias = "window_end_")]
    pub window_end: Option<NaiveTime>,
    /// Window time zone.
    #[sea_orm(alias = "window_tz_")]
    pub window_tz: Option<String>,
    /// Inside the window now (always, without one).
    #[sea_orm(alias = "window_open_")]
    pub window_open: bool,
    /// Seconds until the window opens next (0 without one).
    #[sea_orm(alias = "window_opens_in_")]
    pub window_opens_in: f64,
}

impl BatchSteering {
    /// The window as the API shows it.
    pub fn run_window(&self) -> Option<RunWindow> {
        RunWindow::from_columns(self.window_start, self.window_end, self.window_tz.as_deref())
    }
}

/// What the rate limiter says about a job of `n` instances.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateDecision {
    /// No rate limit (or no batch).
    Go,
    /// Reserved: start after waiting this long.
    Wait(Duration),
    /// The batch is booked further ahead than the caller may wait: come back after this long.
    /// Nothing was reserved.
    Later(Duration),
}

/// One step of the batch's GCRA rate limiter, in one statement: the job may start at the
/// theoretical arrival time `RATE_TAT_` (or now, when that has passed); reserving moves it on by
/// `instances / MAX_RATE_` seconds. A reservation is made only when the start is at most
/// `max_wait` away, so a parked job holds nothing. Every worker goes through the same row, so
/// the rate holds for the whole batch, whatever the number of replicas.
pub async fn reserve_rate(
    db: &impl ConnectionTrait,
    batch_id: &str,
    instances: i64,
    max_wait: Duration,
) -> Result<RateDecision, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "WITH cur AS (SELECT max_rate_, greatest(coalesce(rate_tat_, now()), now()) AS start
                            FROM sweep_batch WHERE id_ = $1 FOR UPDATE),
                  reserved AS (UPDATE sweep_batch b SET rate_tat_ = cur.start + make_interval(secs => $2 / cur.max_rate_)
                                 FROM cur
                                WHERE b.id_ = $1 AND cur.max_rate_ IS NOT NULL
                                  AND cur.start <= now() + make_interval(secs => $3)
                               RETURNING 1)
             SELECT cur.max_rate_ IS NULL AS unlimited, EXISTS (SELECT 1 FROM reserved) AS reserved,
                    greatest(extract(epoch FROM cur.start - now()), 0)::float8 AS wait
               FROM cur",
            [batch_id.into(), (instances.max(1) as f64).into(), max_wait.as_secs_f64().into()],
        ))
        .await?;
    let Some(row) = row else { return Ok(RateDecision::Go) };
    let wait = Duration::from_secs_f64(row.try_get::<f64>("", "wait")?.max(0.0));
    Ok(if row.try_get("", "unlimited")? {
        RateDecision::Go
    } else if row.try_get("", "reserved")? {
        RateDecision::Wait(wait)
    } else {
        RateDecision::Later(wait)
    })
}

/// The summed weight ([`crate::control::weight`]) of the runnable batches: active, inside their
/// window, with jobs to create or to run.
pub async fn runnable_weight(db: &impl ConnectionTrait) -> Result<f64, DbErr> {
    let sql = format!("SELECT {} AS total", runnable_weight_sql());
    let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await?;
    row.map_or(Ok(0.0), |r| r.try_get("", "total"))
}

/// SQL: [`runnable_weight`] as a scalar subquery (`float8`), for statements that read it along.
pub(crate) fn runnable_weight_sql() -> String {
    format!(
        "(SELECT coalesce(sum(power(2::float8, greatest(-10, least(10, b.priority_)))), 0)::float8
            FROM sweep_batch b
           WHERE NOT b.suspended_ AND {open}
             AND (b.jobs_created_ < b.total_jobs_
                  OR EXISTS (SELECT 1 FROM sweep_batch_job j WHERE j.batch_id_ = b.id_ AND j.state_ IN ('pending', 'running'))))",
        open = crate::control::window::window_open_sql!()
    )
}

/// Applies `patch` to runtime batch `id` (a cleared priority becomes `default_priority`) and
/// returns the batch; `None` when it does not exist. A new rate starts afresh (the limiter's
/// state is dropped), so lowering or raising it applies to the very next job.
pub async fn update(
    db: &impl ConnectionTrait,
    id: &str,
    patch: &SteeringPatch,
    default_priority: i64,
) -> Result<Option<Batch>, DbErr> {
    let mut sets = Vec::new();
    let mut values: Vec<Value> = vec![id.into()];
    let mut set = |column: &str, value: Value| {
        values.push(value);
        sets.push(format!("{column} = ${}", values.len()));
    };
    if let Some(rate) = patch.max_rate {
        set("max_rate_", rate.into());
        set("rate_tat_", Option::<chrono::DateTime<chrono::Utc>>::None.into());
    }
    if let Some(n) = patch.max_concurrent_jobs {
        set("max_concurrent_jobs_", n.into());
    }
    if let Some(p) = patch.priority {
        set("priority_", p.unwrap_or(default_priority).into());
    }
    if let Some(window) = &patch.window {
        set("window_start_", window.as_ref().map(|w| w.0).into());
        set("window_end_", window.as_ref().map(|w| w.1).into());
        set("window_tz_", window.as_ref().map(|w| w.2.clone()).into());
    }
    if sets.is_empty() {
        return super::batch::find(db, id).await;
    }
    let sql =
        format!("UPDATE sweep_batch b SET {} WHERE b.id_ = $1 RETURNING {}", sets.join(", "), super::batch::COLUMNS);
    let row = db.query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    row.map(|r| Batch::from_query_result(&r, "")).transpose()
}

/// Copies the limits of runtime batch `id` to its historic row, so history shows what the batch
/// last ran with.
pub async fn copy_to_history(db: &impl ConnectionTrait, id: &str) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE sweep_hi_batch h SET max_rate_ = b.max_rate_, max_concurrent_jobs_ = b.max_concurrent_jobs_,
                priority_ = b.priority_
           FROM sweep_batch b WHERE b.id_ = $1 AND h.id_ = b.id_",
        [id.into()],
    ))
    .await?;
    Ok(())
}

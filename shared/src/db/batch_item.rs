//! `SWEEP_BATCH_ITEM`: the per-instance ledger of a batch, numbered 1..total in selection
//! order, and every statement on that table and on `SWEEP_BATCH_SELECTION`, the snapshot it
//! is built from — the snapshot at creation, building the ledger from it, a job's pending ids
//! and outcomes, reopening failed items, the ledger endpoints and the manifest. It outlives
//! the runtime batch and goes with the historic one.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, DeriveActiveEnum, EnumIter, FromQueryResult, Statement, Value};

use super::listing::{self, Page};
use crate::camunda::BatchItemDto;
use crate::deletion::Outcome;
use crate::query::SqlBuilder;

/// The state of a ledger item, as stored in `STATE_`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::N(16))")]
pub enum ItemState {
    /// Not processed yet.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Deleted (by its own job, or along with its calling instance).
    #[sea_orm(string_value = "deleted")]
    Deleted,
    /// Not found, `failIfNotExists=false`.
    #[sea_orm(string_value = "skipped")]
    Skipped,
    /// Not deleted, with a reason.
    #[sea_orm(string_value = "failed")]
    Failed,
}

impl ItemState {
    /// The state as an SQL literal (see [`super::batch_job::JobState::literal`]).
    pub fn literal(self) -> &'static str {
        match self {
            ItemState::Pending => "'pending'",
            ItemState::Deleted => "'deleted'",
            ItemState::Skipped => "'skipped'",
            ItemState::Failed => "'failed'",
        }
    }

    /// The state an item ends in with `outcome`.
    pub fn of(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Deleted => ItemState::Deleted,
            Outcome::Skipped => ItemState::Skipped,
            Outcome::Failed { .. } => ItemState::Failed,
        }
    }
}

/// The items `i` of job `j` of batch `b`: sequence numbers `((j.seq_ - 1)·n, j.seq_·n]`. The
/// SQL twin of [`super::batch::BatchInfo::job_range`]; every statement relating jobs and items
/// uses it.
pub const ITEMS_OF_JOB: &str =
    "i.seq_ > (j.seq_ - 1)::bigint * b.invocations_per_job_ AND i.seq_ <= j.seq_::bigint * b.invocations_per_job_";

/// What [`snapshot`] took.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Snapshot {
    /// The number of selected instances.
    pub items: i64,
    /// The distinct tenants of their instances, sorted.
    pub tenants: Vec<String>,
    /// Some of them is called by another instance.
    pub called: bool,
}

/// Takes the snapshot of a selection: the distinct `id`s (with their instance's `tenant`) that
/// `selection` pushes, numbered 1.. in selection order, into the selection table under
/// `batch_key`, inside the database, in one statement. Only ids and their numbers are written
/// there (a row of ~60 bytes, one append-only index), a fraction of what ledger items cost:
/// [`build`] moves them into the ledger afterwards, in chunks.
///
/// Rows written by the creating transaction are the snapshot: instances started after it are
/// not in them, whatever their ids or start times, and none the transaction saw is missing.
pub async fn snapshot(
    txn: &impl ConnectionTrait,
    batch_key: i64,
    selection: impl FnOnce(&mut SqlBuilder) -> Result<(), crate::Error>,
) -> Result<Snapshot, crate::Error> {
    // The selection streams into the insert (never materialised); the tenants come from what
    // the insert returns, so both answers describe exactly the rows written.
    let mut sql = SqlBuilder::new();
    sql.push(
        "WITH inserted AS (INSERT INTO sweep_batch_selection (batch_key_, ord_, proc_inst_id_, tenant_id_, called_) SELECT ",
    )
    .bind(batch_key)
    .push(", row_number() OVER (), s.id, s.tenant, s.called FROM (");
    selection(&mut sql)?;
    sql.push(
        ") s RETURNING tenant_id_, called_)
         SELECT (SELECT count(*) FROM inserted) AS items,
                coalesce((SELECT bool_or(called_) FROM inserted), false) AS called,
                coalesce((SELECT array_agg(t.tenant ORDER BY t.tenant)
                            FROM (SELECT DISTINCT tenant_id_ AS tenant FROM inserted WHERE tenant_id_ IS NOT NULL) t), '{}')::varchar[] AS tenants",
    );
    let row = txn.query_one_raw(sql.into_statement()).await?.ok_or(DbErr::RecordNotInserted)?;
    Ok(Snapshot::from_query_result(&row, "")?)
}

/// Refreshes PostgreSQL's statistics of the ledger. A large batch adds its whole ledger at
/// once, long before autovacuum (if it runs at all) notices; planned on the statistics of an
/// emptier table, a job's lookups by instance id can walk every unfinished item of the batch
/// instead of using the index on instance ids. Sampling costs a fraction of a second, once per
/// large batch.
pub async fn analyze(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    db.execute_unprepared("ANALYZE sweep_batch_item").await?;
    Ok(())
}

/// Moves the snapshotted ids `(after, upto]` of `batch_key` from the selection table into the
/// ledger of `batch_id` as pending items of the same numbers, in one statement; returns how
/// many moved. Idempotent: moved rows are gone from the selection table, so a repeated call
/// moves nothing twice. `by_id`: the items can be looked up by instance id (their batch selects
/// called instances, [`super::batch::Batch::called_items`]).
pub async fn build(
    txn: &impl ConnectionTrait,
    batch_id: &str,
    batch_key: i64,
    (after, upto): (i64, i64),
    by_id: bool,
) -> Result<u64, DbErr> {
    let result = txn
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "WITH moved AS (
                 DELETE FROM sweep_batch_selection WHERE batch_key_ = $1 AND ord_ > $2 AND ord_ <= $3
                 RETURNING ord_, proc_inst_id_)
             INSERT INTO sweep_batch_item (batch_id_, seq_, proc_inst_id_, by_id_)
             SELECT $4, ord_, proc_inst_id_, $5 FROM moved",
            [batch_key.into(), after.into(), upto.into(), batch_id.into(), by_id.into()],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// Drops what is left of the snapshot of `batch_key` in the selection table.
pub async fn delete_selection(db: &impl ConnectionTrait, batch_key: i64) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "DELETE FROM sweep_batch_selection WHERE batch_key_ = $1",
        [batch_key.into()],
    ))
    .await?;
    Ok(())
}

/// The rows (`ctid`s) of the instances `$2` in the ledger of batch `$1`, as an array: one
/// lookup in the instance-id index per id, whatever PostgreSQL believes about the ledger. An
/// update that selects its rows by `ctid = ANY (…)` and nothing else can only fetch those rows;
/// given a condition on the batch (or on the state) as well, it was planned — on statistics that
/// lag behind a ledger a batch adds at once — as a walk over every unfinished item of the batch
/// for each id. Each such update therefore tests the item's state in its `SET` list, and a
/// concurrent change of a row is seen there (PostgreSQL re-reads the newest version).
///
/// Only items built with `by_id` are found: those of batches selecting called instances, the
/// only ones that look their items up by instance id.
const ROWS_OF_IDS: &str = "ARRAY(SELECT (SELECT i.ctid FROM sweep_batch_item i
                    WHERE i.batch_id_ = $1 AND i.proc_inst_id_ = u.id AND i.by_id_ LIMIT 1)
                  FROM unnest($2::varchar[]) AS u(id))";

/// Records callers ended by upward propagation ([`crate::deletion::ChunkResult::ended_callers`])
/// in the ledger of `batch_id` as deleted: a pending (or failed) item of theirs is marked, the
/// others are appended, after every job's items, and the batch's total grows by as many, so
/// its counters still add up. Runs nothing for none.
pub async fn record_ended_callers(txn: &impl ConnectionTrait, batch_id: &str, ids: &[String]) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    let reason = crate::deletion::ENDED_CALLER_REASON;
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "WITH marked AS (
                 UPDATE sweep_batch_item
                    SET state_ = CASE WHEN state_ IN ($5, $6) THEN $3 ELSE state_ END,
                        reason_ = CASE WHEN state_ IN ($5, $6) THEN $4 ELSE reason_ END,
                        updated_ = CASE WHEN state_ IN ($5, $6) THEN now() ELSE updated_ END
                  WHERE ctid = ANY ({ROWS_OF_IDS}))
             SELECT u.id FROM unnest($2::varchar[]) AS u(id)
              WHERE NOT EXISTS (SELECT 1 FROM sweep_batch_item i
                                 WHERE i.batch_id_ = $1 AND i.proc_inst_id_ = u.id AND i.by_id_)
              ORDER BY u.id"
            ),
            [
                batch_id.into(),
                Value::from(ids.to_vec()),
                ItemState::Deleted.into(),
                reason.into(),
                ItemState::Pending.into(),
                ItemState::Failed.into(),
            ],
        ))
        .await?;
    let new: Vec<String> = rows.iter().map(|r| r.try_get("", "id")).collect::<Result<_, _>>()?;
    if new.is_empty() {
        return Ok(());
    }
    // Locks the batch row: concurrent jobs appending to the same ledger take turns, and the
    // insert below (a new snapshot) sees what the previous one appended.
    let after_jobs = super::batch::add_items(txn, batch_id, new.len() as i64).await?;
    super::historic_batch::add_items(txn, batch_id, new.len() as i64).await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO sweep_batch_item (batch_id_, seq_, proc_inst_id_, state_, reason_, updated_)
         SELECT $1, greatest($2, (SELECT max(seq_) FROM sweep_batch_item WHERE batch_id_ = $1)) + u.n, u.id, $4, $5, now()
           FROM unnest($3::varchar[]) WITH ORDINALITY AS u(id, n)",
        [batch_id.into(), after_jobs.into(), Value::from(new), ItemState::Deleted.into(), reason.into()],
    ))
    .await?;
    Ok(())
}

/// Fails the pending items `(low, high]` of `batch_id` with `reason`.
pub async fn fail_pending(
    txn: &impl ConnectionTrait,
    batch_id: &str,
    range: (i64, i64),
    reason: &str,
) -> Result<(), DbErr> {
    close_pending(txn, batch_id, range, ItemState::Failed, reason).await
}

/// Skips the pending items `(low, high]` of `batch_id` with `reason`: their job was deleted,
/// so they will never be processed.
pub async fn skip_pending(
    txn: &impl ConnectionTrait,
    batch_id: &str,
    range: (i64, i64),
    reason: &str,
) -> Result<(), DbErr> {
    close_pending(txn, batch_id, range, ItemState::Skipped, reason).await
}

async fn close_pending(
    txn: &impl ConnectionTrait,
    batch_id: &str,
    (low, high): (i64, i64),
    state: ItemState,
    reason: &str,
) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE sweep_batch_item SET state_ = $5, reason_ = $4, updated_ = now()
          WHERE batch_id_ = $1 AND seq_ > $2 AND seq_ <= $3 AND state_ = $6",
        [
            batch_id.into(),
            low.into(),
            high.into(),
            reason.chars().take(4000).collect::<String>().into(),
            state.into(),
            ItemState::Pending.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Puts the failed items of the jobs `job_ids` back to pending; returns how many.
pub async fn reopen_failed_of_jobs(db: &impl ConnectionTrait, job_ids: &[String]) -> Result<u64, DbErr> {
    if job_ids.is_empty() {
        return Ok(0);
    }
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "UPDATE sweep_batch_item i SET state_ = $2, reason_ = NULL, updated_ = now()
                   FROM sweep_batch_job j JOIN sweep_batch b ON b.id_ = j.batch_id_
                  WHERE j.id_ = ANY($1) AND i.batch_id_ = j.batch_id_ AND {ITEMS_OF_JOB} AND i.state_ = $3"
            ),
            [Value::from(job_ids.to_vec()), ItemState::Pending.into(), ItemState::Failed.into()],
        ))
        .await?;
    Ok(result.rows_affected())
}

#[derive(FromQueryResult)]
struct ItemRow {
    proc_inst_id_: String,
    state_: String,
    reason_: Option<String>,
    seq_: i64,
}

/// A page of the ledger of `batch_id`, in sequence order, optionally of one state.
pub async fn list(
    db: &impl ConnectionTrait,
    batch_id: &str,
    state: Option<ItemState>,
    page: Page,
) -> Result<Vec<BatchItemDto>, DbErr> {
    let mut sql = listing::starting("SELECT proc_inst_id_, state_, reason_, seq_ FROM sweep_batch_item i");
    filter(&mut sql, batch_id, state);
    sql.push(" ORDER BY seq_");
    page.apply(&mut sql);
    let rows: Vec<ItemRow> = listing::fetch_all(db, sql).await?;
    Ok(rows
        .into_iter()
        .map(|r| BatchItemDto { process_instance_id: r.proc_inst_id_, state: r.state_, reason: r.reason_, seq: r.seq_ })
        .collect())
}

/// Number of ledger items of `batch_id`, optionally of one state.
pub async fn count(db: &impl ConnectionTrait, batch_id: &str, state: Option<ItemState>) -> Result<i64, DbErr> {
    let mut sql = listing::starting("SELECT count(*) AS n FROM sweep_batch_item i");
    filter(&mut sql, batch_id, state);
    let row = db.query_one_raw(sql.into_statement()).await?;
    row.map_or(Ok(0), |r| r.try_get("", "n"))
}

fn filter(sql: &mut SqlBuilder, batch_id: &str, state: Option<ItemState>) {
    sql.push(" WHERE i.batch_id_ = ").bind(batch_id.to_owned());
    if let Some(state) = state {
        sql.push(" AND i.state_ = ").bind(state);
    }
}

/// One line of a batch's manifest: a selected instance and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct ManifestEntry {
    /// Position in the batch, from 1.
    pub seq: i64,
    /// The selected process instance.
    pub id: String,
    /// `pending`, `deleted`, `skipped` or `failed`.
    pub state: String,
    /// Why it failed (or was deleted along with its caller), if so.
    pub reason: Option<String>,
}

/// Entries of the manifest of `batch_id` after sequence number `after`, at most `limit`, in
/// sequence order: its ledger items and, while a runtime batch's ledger is still being built,
/// the snapshotted ids not moved yet (pending). One statement, so one database snapshot: an
/// id moved from the snapshot to the ledger meanwhile is seen exactly once. Callers page
/// with the last `seq` they got (keyset pagination: each page costs the same however far in).
pub async fn manifest_page(
    db: &impl ConnectionTrait,
    batch_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<ManifestEntry>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT seq, id, state, reason FROM (
                 (SELECT seq_ AS seq, proc_inst_id_ AS id, state_ AS state, reason_ AS reason FROM sweep_batch_item
                   WHERE batch_id_ = $1 AND seq_ > $2 ORDER BY seq_ LIMIT $3)
                 UNION ALL
                 (SELECT ord_, proc_inst_id_, $4, NULL FROM sweep_batch_selection
                   WHERE batch_key_ = (SELECT key_ FROM sweep_batch WHERE id_ = $1) AND ord_ > $2 ORDER BY ord_ LIMIT $3)
             ) m ORDER BY seq LIMIT $3",
            [batch_id.into(), after.into(), limit.into(), ItemState::Pending.into()],
        ))
        .await?;
    rows.iter().map(|r| ManifestEntry::from_query_result(r, "")).collect()
}

/// The progress of a batch whose runtime row is gone, from its ledger alone, in one statement:
/// nothing runs any more, jobs are remaining while they hold pending items, and `deleted` is the
/// remainder of `total_items` (the rest are read through the partial index of non-deleted
/// items, so a batch of millions costs no more than its unprocessed rest).
pub async fn ended_progress(
    db: &impl ConnectionTrait,
    batch_id: &str,
    total_items: i64,
    invocations_per_job: i32,
) -> Result<super::batch::BatchProgress, DbErr> {
    let (pending, skipped, failed, deleted) = (
        ItemState::Pending.literal(),
        ItemState::Skipped.literal(),
        ItemState::Failed.literal(),
        ItemState::Deleted.literal(),
    );
    let sql = format!(
        "SELECT count(*) FILTER (WHERE state_ = {pending}) AS pending,
                count(*) FILTER (WHERE state_ = {skipped}) AS skipped,
                count(*) FILTER (WHERE state_ = {failed}) AS failed,
                count(DISTINCT (seq_ - 1) / $2) FILTER (WHERE state_ = {pending}) AS jobs
           FROM sweep_batch_item WHERE batch_id_ = $1 AND state_ <> {deleted}"
    );
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [batch_id.into(), i64::from(invocations_per_job.max(1)).into()],
        ))
        .await?
        .ok_or(DbErr::RecordNotFound("ledger counts".into()))?;
    let n = |c: &str| row.try_get::<i64>("", c);
    let (pending, skipped, failed) = (n("pending")?, n("skipped")?, n("failed")?);
    Ok(super::batch::BatchProgress {
        remaining_jobs: i32::try_from(n("jobs")?).unwrap_or(i32::MAX),
        failed_jobs: 0,
        pending,
        running: 0,
        deleted: total_items - pending - skipped - failed,
        skipped,
        failed,
    })
}

/// Deletes the ledger of `batch_id`.
pub async fn delete_of_batch(db: &impl ConnectionTrait, batch_id: &str) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "DELETE FROM sweep_batch_item WHERE batch_id_ = $1",
        [batch_id.into()],
    ))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum, Iterable};

    use super::super::batch_job::JobState;
    use super::*;

    #[test]
    fn literals_quote_the_stored_values() {
        for s in ItemState::iter() {
            assert_eq!(s.literal(), format!("'{}'", s.to_value()));
        }
        for s in JobState::iter() {
            assert_eq!(s.literal(), format!("'{}'", s.to_value()));
        }
    }
}

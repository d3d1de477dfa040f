//! Concurrency slots that survive crashes: a job runs only while its deletion transaction
//! holds one slot of its batch (`maxConcurrentJobs`, or its fair share) and one slot of the
//! cluster-wide limit. A slot is a transaction-level advisory lock `(family, n)` with
//! `n < limit`: PostgreSQL releases it at commit, at rollback, and when a crashed worker's
//! connection goes away, so no slot is ever leaked and no worker keeps a count of its own.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// Advisory-lock family of the cluster-wide limit ("SWEP"). A batch's family is
/// `hashtext('sweep:' || id)`; two batches whose ids hash alike would share their slots,
/// a chance of about one in four billion per pair.
const GLOBAL_FAMILY: i32 = 0x5357_4550;

/// Tries to take one slot of batch `batch_id`, of `limit`, for the rest of `txn`.
pub async fn try_take_batch(txn: &impl ConnectionTrait, batch_id: &str, limit: i32) -> Result<bool, DbErr> {
    // EXISTS stops at the first slot it locks; slots it could not lock stay untouched.
    taken(
        txn,
        "SELECT EXISTS (SELECT 1 FROM generate_series(0, $2 - 1) s
                         WHERE pg_try_advisory_xact_lock(hashtext('sweep:' || $1::text), s)) AS taken",
        batch_id.into(),
        limit,
    )
    .await
}

/// Tries to take one slot of the cluster-wide `limit`, for the rest of `txn`.
pub async fn try_take_global(txn: &impl ConnectionTrait, limit: i32) -> Result<bool, DbErr> {
    taken(
        txn,
        "SELECT EXISTS (SELECT 1 FROM generate_series(0, $2 - 1) s WHERE pg_try_advisory_xact_lock($1::int, s)) AS taken",
        GLOBAL_FAMILY.into(),
        limit,
    )
    .await
}

async fn taken(txn: &impl ConnectionTrait, sql: &str, family: sea_orm::Value, limit: i32) -> Result<bool, DbErr> {
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, [family, limit.max(1).into()]))
        .await?;
    row.map_or(Ok(false), |r| r.try_get("", "taken"))
}

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

/// Tries to take one slot of batch `batch_id` (of `batch_limit`) and one of the global
/// `global_limit`, for the rest of `txn`. `false`: none free now; the caller rolls `txn` back
/// (releasing whatever half it got) and tries again later.
pub async fn try_take(
    txn: &impl ConnectionTrait,
    batch_id: &str,
    batch_limit: i32,
    global_limit: i32,
) -> Result<bool, DbErr> {
    // EXISTS stops at the first slot it locks; slots it could not lock stay untouched.
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT EXISTS (SELECT 1 FROM generate_series(0, $2 - 1) s
                             WHERE pg_try_advisory_xact_lock(hashtext('sweep:' || $1::text), s))
                AND EXISTS (SELECT 1 FROM generate_series(0, $3 - 1) s
                             WHERE pg_try_advisory_xact_lock($4::int, s)) AS taken",
            [batch_id.into(), batch_limit.max(1).into(), global_limit.max(1).into(), GLOBAL_FAMILY.into()],
        ))
        .await?;
    row.map_or(Ok(false), |r| r.try_get("", "taken"))
}

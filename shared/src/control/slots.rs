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

/// Which slots [`try_take`] took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// The batch has no free slot (nothing was taken).
    NoBatchSlot,
    /// A batch slot, but no free slot of the cluster-wide limit: roll back to give it back.
    NoGlobalSlot,
    /// Both: the job may run for the rest of the transaction.
    Both,
}

/// Tries to take, for the rest of `txn`, one slot of batch `batch_id` (of `batch_limit`) and
/// then one of the cluster-wide `global_limit`, in one statement; the global family is only
/// tried when the batch slot was taken.
pub async fn try_take(
    txn: &impl ConnectionTrait,
    batch_id: &str,
    batch_limit: i32,
    global_limit: i32,
) -> Result<Taken, DbErr> {
    // EXISTS stops at the first slot it locks; slots it could not lock stay untouched.
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "WITH b AS MATERIALIZED (
                 SELECT EXISTS (SELECT 1 FROM generate_series(0, $2 - 1) s
                                 WHERE pg_try_advisory_xact_lock(hashtext('sweep:' || $1::text), s)) AS batch)
             SELECT batch, CASE WHEN batch THEN EXISTS (
                        SELECT 1 FROM generate_series(0, $4 - 1) s WHERE pg_try_advisory_xact_lock($3::int, s))
                    ELSE false END AS global
               FROM b",
            [batch_id.into(), batch_limit.max(1).into(), GLOBAL_FAMILY.into(), global_limit.max(1).into()],
        ))
        .await?;
    let (batch, global) = match row {
        Some(r) => (r.try_get::<bool>("", "batch")?, r.try_get::<bool>("", "global")?),
        None => (false, false),
    };
    Ok(match (batch, global) {
        (false, _) => Taken::NoBatchSlot,
        (true, false) => Taken::NoGlobalSlot,
        (true, true) => Taken::Both,
    })
}

//! The deletion core: deletes one chunk of process instances in the caller's transaction with a
//! fixed number of set-based statements, whatever the chunk size, and reports one outcome per
//! requested id plus the deletion events to publish. It knows nothing of batches or messages.
//!
//! Two statements per chunk, three when an instance to delete is called by one that is not:
//! 1. *resolve and lock*: the requested ids that are process instances, plus (unless
//!    `skip_subprocesses`) every instance they call, transitively, plus the instances calling
//!    them up to their roots, locked `FOR UPDATE` in id order. A consistent lock order means
//!    overlapping chunks in concurrent transactions wait for each other instead of deadlocking;
//!    a waiter then finds the rows gone and reports those ids as not found, so nothing is
//!    deleted twice.
//! 2. *propagate* (only with callers): which callers end, and what changes in those that
//!    survive, as Camunda's upward propagation decides it (`deletion/propagate.sql`), on a
//!    snapshot taken after the locks.
//! 3. *delete*: one statement of data-modifying CTEs that removes every runtime row of the
//!    instances (reference order of §7.6 is not needed: PostgreSQL checks the non-deferrable
//!    foreign keys once, at the end of the statement), applies the changes to surviving
//!    callers, and writes history as Camunda does, removal times included ([`History`]).

pub mod history;

use std::collections::HashSet;

use chrono::NaiveDateTime;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement, Value};
use serde::{Deserialize, Serialize};

pub use history::{History, HistoryTables, RemovalTimeStrategy};

/// Who a chunk's deletions are recorded for in `ACT_HI_OP_LOG`, one row per deleted instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceAudit {
    /// The user named in each row (a batch's creator).
    pub user_id: String,
    /// The batch the deletions belong to.
    pub batch_id: String,
}

/// How a chunk is deleted (the flags of Camunda's `DeleteProcessInstancesDto`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, FromQueryResult)]
pub struct DeleteOptions {
    /// Written to `ACT_HI_PROCINST.DELETE_REASON_` (and to deleted tasks, `deleted` when absent).
    #[sea_orm(alias = "delete_reason_")]
    pub delete_reason: Option<String>,
    /// Leave called sub-instances running, detached from the deleted caller.
    #[sea_orm(alias = "skip_subprocesses_")]
    pub skip_subprocesses: bool,
    /// Produce no deletion events (Sweep's custom listeners).
    #[sea_orm(alias = "skip_custom_listeners_")]
    pub skip_custom_listeners: bool,
    /// A requested id that is no running process instance is `failed` rather than `skipped`.
    #[sea_orm(alias = "fail_if_not_exists_")]
    pub fail_if_not_exists: bool,
}

/// What happened to one requested id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Outcome {
    /// The instance (and, unless skipped, its called sub-instances) is gone.
    Deleted,
    /// Not found, and `fail_if_not_exists` was false.
    Skipped,
    /// Not found, and `fail_if_not_exists` was true.
    Failed {
        /// Why.
        reason: String,
    },
}

/// A deleted process instance, as its deletion event describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedInstance {
    /// Process-instance id.
    pub id: String,
    /// Key of its process definition.
    pub process_definition_key: Option<String>,
    /// Business key.
    pub business_key: Option<String>,
    /// Tenant.
    pub tenant_id: Option<String>,
    /// The requested instance whose deletion took this one along, when it was a called
    /// sub-instance; `None` when it was requested itself.
    pub deleted_with: Option<String>,
    /// The delete reason.
    pub delete_reason: Option<String>,
}

/// Result of [`delete_chunk`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkResult {
    /// One entry per distinct requested id, in request order.
    pub outcomes: Vec<(String, Outcome)>,
    /// Every instance deleted (requested and called ones). Empty when `skip_custom_listeners`.
    pub events: Vec<DeletedInstance>,
    /// Called instances deleted along with a requested one (they may be selected themselves,
    /// elsewhere in the same batch).
    pub deleted_with_caller: Vec<String>,
    /// Every process instance deleted (requested, called and ended callers), in id order.
    pub deleted: Vec<String>,
    /// Callers that were not requested, ended because an instance they called was deleted
    /// (upward propagation), in id order.
    pub ended_callers: Vec<String>,
    /// Process instances deleted, including called sub-instances and ended callers.
    pub instances_deleted: u64,
    /// Runtime rows deleted.
    pub runtime_rows: u64,
    /// History rows updated.
    pub history_rows: u64,
    /// Operation-log rows written.
    pub audit_rows: u64,
    /// Rows of surviving callers changed (executions, and rows moved between them).
    pub caller_rows: u64,
}

/// Statement 1: resolves the requested ids `$1` (plus, unless `$2` = skip_subprocesses,
/// every instance they call, transitively, and every instance calling them) and locks them in
/// id order.
const RESOLVE_AND_LOCK: &str = include_str!("deletion/resolve_and_lock.sql");

/// Statement 2, when callers are locked: what deleting the instances `$1` does to them.
const PROPAGATE: &str = include_str!("deletion/propagate.sql");

/// The reason the ledger gives for a caller ended by upward propagation.
pub const ENDED_CALLER_REASON: &str = "ended because an instance it called was deleted";

/// What upward propagation decided, as arrays for the deletion statement.
#[derive(Debug, Default)]
struct Propagation {
    ended: Vec<DeletedInstance>,
    cut: Vec<String>,
    merge_scopes: Vec<String>,
    merge_children: Vec<String>,
    unconcurrent: Vec<String>,
}

/// Deletes the process instances `ids` inside the caller's transaction `txn`.
///
/// Duplicate ids are reported once. Ids that are not running process instances (unknown, already
/// deleted, or an execution that is not a process instance) are `skipped` or `failed` according
/// to `options.fail_if_not_exists`; the others are deleted with their called sub-instances
/// (unless `skip_subprocesses`). A deleted instance called by one that is not deleted cancels
/// the calling activity, and ends the caller when nothing else of it is left, recursively
/// upward ([`ChunkResult::ended_callers`]). With `audit`, each deleted instance gets its
/// operation-log row ([`crate::db::op_log`]) in the same statement. `history` says how history
/// is written. Runs two statements whatever `ids.len()` (three when callers are involved); an
/// empty chunk runs none.
pub async fn delete_chunk(
    txn: &impl ConnectionTrait,
    ids: &[String],
    options: &DeleteOptions,
    now: NaiveDateTime,
    audit: Option<&InstanceAudit>,
    history: &History,
) -> Result<ChunkResult, DbErr> {
    let mut seen = HashSet::with_capacity(ids.len());
    let requested: Vec<String> = ids.iter().filter(|id| seen.insert(id.as_str())).cloned().collect();
    if requested.is_empty() {
        return Ok(ChunkResult::default());
    }
    // Camunda stores no reason, not an empty one.
    let reason = options.delete_reason.clone().filter(|r| !r.is_empty());
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            RESOLVE_AND_LOCK,
            [Value::from(requested.clone()), options.skip_subprocesses.into()],
        ))
        .await?;
    let requested_set: HashSet<&str> = requested.iter().map(String::as_str).collect();
    let mut locked = Vec::with_capacity(rows.len());
    let mut events = Vec::with_capacity(rows.len());
    let mut callers_locked = false;
    for row in &rows {
        let id: String = row.try_get("", "id")?;
        if !row.try_get::<bool>("", "deleted")? {
            callers_locked = true;
            continue;
        }
        let requested_by: Option<String> = row.try_get("", "requested_by")?;
        // An instance both requested and called by another requested one counts as requested.
        let deleted_with = if requested_set.contains(id.as_str()) { None } else { requested_by };
        events.push(DeletedInstance {
            id: id.clone(),
            process_definition_key: row.try_get("", "definition_key")?,
            business_key: row.try_get("", "business_key")?,
            tenant_id: row.try_get("", "tenant_id")?,
            deleted_with,
            delete_reason: reason.clone(),
        });
        locked.push(id);
    }

    let propagation = if callers_locked && !locked.is_empty() {
        propagate(txn, &locked, &events, &reason).await?
    } else {
        Propagation::default()
    };
    let found: HashSet<&str> = locked.iter().map(String::as_str).collect();
    let outcomes = requested
        .iter()
        .map(|id| {
            let outcome = if found.contains(id.as_str()) {
                Outcome::Deleted
            } else if options.fail_if_not_exists {
                Outcome::Failed { reason: format!("No process instance found for id '{id}'") }
            } else {
                Outcome::Skipped
            };
            (id.clone(), outcome)
        })
        .collect();
    let deleted_with_caller = events.iter().filter(|e| e.deleted_with.is_some()).map(|e| e.id.clone()).collect();
    let ended_callers: Vec<String> = propagation.ended.iter().map(|e| e.id.clone()).collect();
    let mut doomed = locked;
    doomed.extend(ended_callers.iter().cloned());
    doomed.sort();
    events.extend(propagation.ended.iter().cloned());

    let mut result = ChunkResult {
        outcomes,
        instances_deleted: doomed.len() as u64,
        deleted_with_caller,
        ended_callers,
        deleted: doomed.clone(),
        ..Default::default()
    };
    if !doomed.is_empty() {
        let task_reason = reason.clone().unwrap_or_else(|| "deleted".into());
        let counts = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                history.delete_sql(),
                [
                    Value::from(doomed),
                    reason.into(),
                    now.into(),
                    task_reason.into(),
                    options.skip_subprocesses.into(),
                    audit.map(|a| a.user_id.clone()).into(),
                    audit.map(|a| a.batch_id.clone()).into(),
                    Value::from(propagation.cut),
                    Value::from(propagation.merge_scopes),
                    Value::from(propagation.merge_children),
                    Value::from(propagation.unconcurrent),
                    history.strategy.as_str().into(),
                    history.host_name.clone().into(),
                ],
            ))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("deletion statement returned no row".into()))?;
        result.runtime_rows = counts.try_get::<i64>("", "runtime_rows")? as u64;
        result.history_rows = counts.try_get::<i64>("", "history_rows")? as u64;
        result.audit_rows = counts.try_get::<i64>("", "audit_rows")? as u64;
        result.caller_rows = counts.try_get::<i64>("", "caller_rows")? as u64;
    }
    if !options.skip_custom_listeners {
        result.events = events;
    }
    Ok(result)
}

/// Statement 2: upward propagation for the instances `deleting`, whose events are `events`.
async fn propagate(
    txn: &impl ConnectionTrait,
    deleting: &[String],
    events: &[DeletedInstance],
    reason: &Option<String>,
) -> Result<Propagation, DbErr> {
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, PROPAGATE, [Value::from(deleting.to_vec())]))
        .await?;
    let mut p = Propagation::default();
    for row in &rows {
        let kind: String = row.try_get("", "kind")?;
        let id: String = row.try_get("", "id")?;
        match kind.as_str() {
            "ended" => {
                // Named after the requested instance whose deletion ended it.
                let via: Option<String> = row.try_get("", "via")?;
                let requested =
                    via.map(|v| events.iter().find(|e| e.id == v).and_then(|e| e.deleted_with.clone()).unwrap_or(v));
                p.ended.push(DeletedInstance {
                    id,
                    process_definition_key: row.try_get("", "definition_key")?,
                    business_key: row.try_get("", "business_key")?,
                    tenant_id: row.try_get("", "tenant_id")?,
                    deleted_with: requested,
                    delete_reason: reason.clone(),
                });
            }
            "cut" => p.cut.push(id),
            "merge" => {
                p.merge_scopes.push(id);
                p.merge_children.push(row.try_get("", "child")?);
            }
            _ => p.unconcurrent.push(id),
        }
    }
    p.ended.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delete_statement_detaches_only_when_asked() {
        let sql = History::new(RemovalTimeStrategy::End, HistoryTables::ALL, "h").delete_sql().to_owned();
        let detach = sql.find("SET super_exec_ = NULL").expect("a detaching CTE");
        assert!(sql[detach..].find("WHERE $5").is_some(), "detaching is gated by skip_subprocesses");
    }
}

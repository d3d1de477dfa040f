//! The deletion core: deletes one chunk of process instances in the caller's transaction with a
//! fixed number of set-based statements, whatever the chunk size, and reports one outcome per
//! requested id plus the deletion events to publish. It knows nothing of batches or messages.
//!
//! Two statements per chunk:
//! 1. *resolve and lock*: the requested ids that are process instances, plus (unless
//!    `skip_subprocesses`) every instance they call, transitively, locked `FOR UPDATE` in id
//!    order. A consistent lock order means overlapping chunks in concurrent transactions wait for
//!    each other instead of deadlocking; a waiter then finds the rows gone and reports those ids
//!    as not found, so nothing is deleted twice.
//! 2. *delete*: one statement of data-modifying CTEs that removes every runtime row of the locked
//!    instances (reference order of §7.6 is not needed: PostgreSQL checks the non-deferrable
//!    foreign keys once, at the end of the statement) and writes history as Camunda does.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement, Value};
use serde::{Deserialize, Serialize};

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
    /// Every process instance deleted (requested and called ones), in id order.
    pub deleted: Vec<String>,
    /// Process instances deleted, including called sub-instances.
    pub instances_deleted: u64,
    /// Runtime rows deleted.
    pub runtime_rows: u64,
    /// History rows updated.
    pub history_rows: u64,
    /// Operation-log rows written.
    pub audit_rows: u64,
}

/// Statement 1: resolves the requested ids `$1` (plus, unless `$2` = skip_subprocesses,
/// every instance they call, transitively) and locks them in id order.
const RESOLVE_AND_LOCK: &str = include_str!("deletion/resolve_and_lock.sql");

/// Statement 2: deletes the runtime rows of the instances in `$1` (all of them locked by the
/// caller) and ends their history. `$2` delete reason of the instances, `$3` now, `$4` delete
/// reason of tasks, `$5` skip_subprocesses: detach called instances that are not deleted, `$6`
/// and `$7` the user and batch of the per-instance operation-log rows (null: none).
const DELETE: &str = include_str!("deletion/delete_chunk.sql");

/// Deletes the process instances `ids` inside the caller's transaction `txn`.
///
/// Duplicate ids are reported once. Ids that are not running process instances (unknown, already
/// deleted, or an execution that is not a process instance) are `skipped` or `failed` according
/// to `options.fail_if_not_exists`; the others are deleted with their called sub-instances
/// (unless `skip_subprocesses`). With `audit`, each deleted instance gets its operation-log row
/// ([`crate::db::op_log`]) in the same statement. Runs exactly two statements whatever
/// `ids.len()`; an empty chunk runs none.
pub async fn delete_chunk(
    txn: &impl ConnectionTrait,
    ids: &[String],
    options: &DeleteOptions,
    now: NaiveDateTime,
    audit: Option<&InstanceAudit>,
) -> Result<ChunkResult, DbErr> {
    let mut seen = HashSet::with_capacity(ids.len());
    let requested: Vec<String> = ids.iter().filter(|id| seen.insert(id.as_str())).cloned().collect();
    if requested.is_empty() {
        return Ok(ChunkResult::default());
    }
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
    for row in &rows {
        let id: String = row.try_get("", "id")?;
        let requested_by: Option<String> = row.try_get("", "requested_by")?;
        // An instance both requested and called by another requested one counts as requested.
        let deleted_with = if requested_set.contains(id.as_str()) { None } else { requested_by };
        events.push(DeletedInstance {
            id: id.clone(),
            process_definition_key: row.try_get("", "definition_key")?,
            business_key: row.try_get("", "business_key")?,
            tenant_id: row.try_get("", "tenant_id")?,
            deleted_with,
            delete_reason: options.delete_reason.clone(),
        });
        locked.push(id);
    }

    let mut result = ChunkResult {
        instances_deleted: locked.len() as u64,
        deleted_with_caller: events.iter().filter(|e| e.deleted_with.is_some()).map(|e| e.id.clone()).collect(),
        deleted: locked.clone(),
        ..Default::default()
    };
    if !locked.is_empty() {
        let task_reason = options.delete_reason.clone().filter(|r| !r.is_empty()).unwrap_or_else(|| "deleted".into());
        let counts = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                DELETE,
                [
                    Value::from(locked.clone()),
                    options.delete_reason.clone().into(),
                    now.into(),
                    task_reason.into(),
                    options.skip_subprocesses.into(),
                    audit.map(|a| a.user_id.clone()).into(),
                    audit.map(|a| a.batch_id.clone()).into(),
                ],
            ))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("deletion statement returned no row".into()))?;
        result.runtime_rows = counts.try_get::<i64>("", "runtime_rows")? as u64;
        result.history_rows = counts.try_get::<i64>("", "history_rows")? as u64;
        result.audit_rows = counts.try_get::<i64>("", "audit_rows")? as u64;
    }

    let found: HashSet<&str> = locked.iter().map(String::as_str).collect();
    result.outcomes = requested
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
    if !options.skip_custom_listeners {
        result.events = events;
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delete_statement_detaches_only_when_asked() {
        let detach = DELETE.find("SET super_exec_ = NULL").expect("a detaching CTE");
        assert!(DELETE[detach..].find("WHERE $5").is_some(), "detaching is gated by skip_subprocesses");
    }
}

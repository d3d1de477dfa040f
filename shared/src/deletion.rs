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
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use serde::{Deserialize, Serialize};

/// How a chunk is deleted (the flags of Camunda's `DeleteProcessInstancesDto`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteOptions {
    /// Written to `ACT_HI_PROCINST.DELETE_REASON_` (and to deleted tasks, `deleted` when absent).
    pub delete_reason: Option<String>,
    /// Leave called sub-instances running, detached from the deleted caller.
    pub skip_subprocesses: bool,
    /// Produce no deletion events (Sweep's custom listeners).
    pub skip_custom_listeners: bool,
    /// A requested id that is no running process instance is `failed` rather than `skipped`.
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
    /// Process instances deleted, including called sub-instances.
    pub instances_deleted: u64,
    /// Runtime rows deleted.
    pub runtime_rows: u64,
    /// History rows updated.
    pub history_rows: u64,
}

const RESOLVE_AND_LOCK: &str = r#"
WITH RECURSIVE tree (id, requested_by) AS (
    SELECT e.id_, e.id_
      FROM act_ru_execution e
     WHERE e.id_ = ANY($1) AND e.proc_inst_id_ = e.id_
    UNION
    SELECT sub.id_, t.requested_by
      FROM tree t
      JOIN act_ru_execution caller ON caller.proc_inst_id_ = t.id
      JOIN act_ru_execution sub ON sub.super_exec_ = caller.id_
     WHERE NOT $2
)
SELECT pi.id_ AS id, pd.key_ AS definition_key, pi.business_key_ AS business_key,
       pi.tenant_id_ AS tenant_id,
       (SELECT min(t.requested_by) FROM tree t WHERE t.id = pi.id_) AS requested_by
  FROM act_ru_execution pi
  LEFT JOIN act_re_procdef pd ON pd.id_ = pi.proc_def_id_
 WHERE pi.id_ IN (SELECT id FROM tree)
 ORDER BY pi.id_
   FOR UPDATE OF pi
"#;

/// Deletes and ends history of the instances in `$1` (all of them locked by the caller).
/// `$2` delete reason of the instances, `$3` now, `$4` delete reason of tasks.
/// The `detach` CTE (only with `skip_subprocesses`) frees called instances first; it is listed
/// in the same statement because foreign keys are checked when the statement ends.
fn delete_statement(skip_subprocesses: bool) -> String {
    let detach = if skip_subprocesses {
        r#"
detached AS (
    UPDATE act_ru_execution sub
       SET super_exec_ = NULL, rev_ = sub.rev_ + 1
     WHERE sub.super_exec_ IN (SELECT id_ FROM ex) AND NOT (sub.proc_inst_id_ = ANY($1))
    RETURNING sub.id_, sub.suspension_state_
),
h_detached AS (
    UPDATE act_hi_procinst h
       SET super_process_instance_id_ = NULL,
           state_ = CASE WHEN d.suspension_state_ = 2 THEN 'SUSPENDED' ELSE 'ACTIVE' END
      FROM detached d
     WHERE h.id_ = d.id_
    RETURNING 1
),"#
    } else {
        "detached AS (SELECT NULL::varchar AS id_ WHERE false), h_detached AS (SELECT 1 WHERE false),"
    };
    format!(
        r#"
WITH
ex AS (SELECT id_ FROM act_ru_execution WHERE proc_inst_id_ = ANY($1)),
tk AS (SELECT id_ FROM act_ru_task WHERE proc_inst_id_ = ANY($1)),
inc AS (
    SELECT id_ FROM act_ru_incident WHERE proc_inst_id_ = ANY($1)
    UNION
    -- incidents elsewhere caused by these instances' incidents go with them, as in Camunda
    SELECT i.id_ FROM act_ru_incident i
     WHERE i.cause_incident_id_ IN (SELECT id_ FROM act_ru_incident WHERE proc_inst_id_ = ANY($1))
        OR i.root_cause_incident_id_ IN (SELECT id_ FROM act_ru_incident WHERE proc_inst_id_ = ANY($1))
),
{detach}
d_inc AS (DELETE FROM act_ru_incident WHERE id_ IN (SELECT id_ FROM inc) RETURNING id_),
d_var AS (DELETE FROM act_ru_variable WHERE proc_inst_id_ = ANY($1) RETURNING bytearray_id_),
d_idl AS (DELETE FROM act_ru_identitylink WHERE task_id_ IN (SELECT id_ FROM tk) RETURNING 1),
-- event subscriptions and external tasks have no index on proc_inst_id_: go through executions
d_evt AS (DELETE FROM act_ru_event_subscr WHERE execution_id_ IN (SELECT id_ FROM ex) RETURNING 1),
d_ext AS (DELETE FROM act_ru_ext_task WHERE execution_id_ IN (SELECT id_ FROM ex) RETURNING error_details_id_),
d_job AS (DELETE FROM act_ru_job WHERE process_instance_id_ = ANY($1) RETURNING exception_stack_id_),
d_byt AS (
    DELETE FROM act_ge_bytearray
     WHERE id_ IN (SELECT bytearray_id_ FROM d_var
                   UNION ALL SELECT exception_stack_id_ FROM d_job
                   UNION ALL SELECT error_details_id_ FROM d_ext)
    RETURNING 1
),
d_tsk AS (DELETE FROM act_ru_task WHERE id_ IN (SELECT id_ FROM tk) RETURNING id_),
d_aut AS (
    DELETE FROM act_ru_authorization
     WHERE (resource_type_ = 8 AND resource_id_ = ANY($1))
        OR (resource_type_ = 7 AND resource_id_ IN (SELECT id_ FROM tk))
    RETURNING 1
),
d_exe AS (DELETE FROM act_ru_execution WHERE id_ IN (SELECT id_ FROM ex) RETURNING 1),
h_pi AS (
    UPDATE act_hi_procinst
       SET end_time_ = $3,
           duration_ = (EXTRACT(EPOCH FROM ($3 - start_time_)) * 1000)::bigint,
           state_ = 'EXTERNALLY_TERMINATED',
           delete_reason_ = $2,
           end_act_id_ = NULL
     WHERE id_ = ANY($1) AND end_time_ IS NULL
    RETURNING 1
),
h_act AS (
    UPDATE act_hi_actinst
       SET end_time_ = $3,
           duration_ = (EXTRACT(EPOCH FROM ($3 - start_time_)) * 1000)::bigint,
           act_inst_state_ = 2
     WHERE proc_inst_id_ = ANY($1) AND end_time_ IS NULL
    RETURNING 1
),
h_tsk AS (
    UPDATE act_hi_taskinst
       SET end_time_ = $3,
           duration_ = (EXTRACT(EPOCH FROM ($3 - start_time_)) * 1000)::bigint,
           delete_reason_ = $4,
           task_state_ = 'Deleted'
     WHERE id_ IN (SELECT id_ FROM d_tsk) AND end_time_ IS NULL
    RETURNING 1
),
h_inc AS (
    UPDATE act_hi_incident SET end_time_ = $3, incident_state_ = 2
     WHERE id_ IN (SELECT id_ FROM d_inc) AND end_time_ IS NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM d_inc) + (SELECT count(*) FROM d_var) + (SELECT count(*) FROM d_idl)
     + (SELECT count(*) FROM d_evt) + (SELECT count(*) FROM d_ext) + (SELECT count(*) FROM d_job)
     + (SELECT count(*) FROM d_byt) + (SELECT count(*) FROM d_tsk) + (SELECT count(*) FROM d_aut)
     + (SELECT count(*) FROM d_exe) AS runtime_rows,
       (SELECT count(*) FROM h_pi) + (SELECT count(*) FROM h_act) + (SELECT count(*) FROM h_tsk)
     + (SELECT count(*) FROM h_inc) + (SELECT count(*) FROM h_detached) AS history_rows
"#
    )
}

/// Deletes the process instances `ids` inside the caller's transaction `txn`.
///
/// Duplicate ids are reported once. Ids that are not running process instances (unknown, already
/// deleted, or an execution that is not a process instance) are `skipped` or `failed` according
/// to `options.fail_if_not_exists`; the others are deleted with their called sub-instances
/// (unless `skip_subprocesses`). Runs exactly two statements whatever `ids.len()`; an empty chunk
/// runs none.
pub async fn delete_chunk(
    txn: &impl ConnectionTrait,
    ids: &[String],
    options: &DeleteOptions,
    now: NaiveDateTime,
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
        ..Default::default()
    };
    if !locked.is_empty() {
        let task_reason = options.delete_reason.clone().filter(|r| !r.is_empty()).unwrap_or_else(|| "deleted".into());
        let counts = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                delete_statement(options.skip_subprocesses),
                [Value::from(locked.clone()), options.delete_reason.clone().into(), now.into(), task_reason.into()],
            ))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("deletion statement returned no row".into()))?;
        result.runtime_rows = counts.try_get::<i64>("", "runtime_rows")? as u64;
        result.history_rows = counts.try_get::<i64>("", "history_rows")? as u64;
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
        assert!(delete_statement(true).contains("SET super_exec_ = NULL"));
        assert!(!delete_statement(false).contains("SET super_exec_ = NULL"));
    }
}

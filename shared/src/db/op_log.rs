//! `ACT_HI_OP_LOG`, Camunda's user operation log: the rows Camunda writes for the batch
//! operations Sweep performs, and (beyond Camunda) one row per deleted instance. Every row of
//! one operation shares its `OPERATION_ID_`. Rows are written only for an authenticated user, as
//! Camunda does by default (`restrictUserOperationLogToAuthenticatedUsers`).

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// One `PROPERTY_` → `NEW_VALUE_` change of an operation.
pub type Change<'a> = (Option<&'a str>, Option<String>);

/// Writes one operation on entity type `entity` (`Batch`, `ProcessInstance`) with its
/// property changes (one row each; `[(None, None)]` for an operation without properties).
pub async fn write(
    txn: &impl ConnectionTrait,
    user_id: &str,
    entity: &str,
    operation: &str,
    batch_id: Option<&str>,
    changes: &[Change<'_>],
) -> Result<(), DbErr> {
    // As JSON, so that absent properties and values stay NULL.
    let changes: serde_json::Value = changes.iter().map(|(p, v)| serde_json::json!({ "p": p, "v": v })).collect();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO act_hi_op_log (id_, batch_id_, user_id_, timestamp_, operation_type_, operation_id_,
                                    entity_type_, property_, new_value_, category_)
         SELECT sweep_uuid_v7(), $1, $2, localtimestamp, $3, o.id, $4, c.p, c.v, 'Operator'
           FROM (SELECT gen_random_uuid()::varchar AS id) o,
                jsonb_to_recordset($5::jsonb) AS c(p varchar, v varchar)",
        [batch_id.map(str::to_owned).into(), user_id.into(), operation.into(), entity.into(), changes.into()],
    ))
    .await?;
    Ok(())
}

// Beyond Camunda, one `Delete` row per deleted instance (called sub-instances included), as
// Camunda writes for the synchronous deletion of one instance, plus `BATCH_ID_` and the batch's
// creator as `USER_ID_`, with definition, root and tenant from the instance's history: the
// deletion statement writes it (`deletion/delete_chunk.sql`, CTE `op_log`) from the history
// rows it ends, so that it costs no statement of its own.

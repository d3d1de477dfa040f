//! What Sweep needs of the process-engine tables, and the check that an attached database
//! (one whose `ACT_` tables Sweep did not create) provides it.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use crate::Error;

/// Every column Sweep reads or writes, per table (lower case, as PostgreSQL stores them).
pub const REQUIRED_COLUMNS: &[(&str, &[&str])] = &[
    (
        "act_re_procdef",
        &["id_", "key_", "name_", "version_", "deployment_id_", "tenant_id_", "suspension_state_", "history_ttl_"],
    ),
    (
        "act_ru_execution",
        &[
            "id_",
            "rev_",
            "root_proc_inst_id_",
            "proc_inst_id_",
            "business_key_",
            "parent_id_",
            "proc_def_id_",
            "super_exec_",
            "super_case_exec_",
            "case_inst_id_",
            "act_id_",
            "act_inst_id_",
            "is_active_",
            "is_concurrent_",
            "is_scope_",
            "is_event_scope_",
            "suspension_state_",
            "cached_ent_state_",
            "tenant_id_",
        ],
    ),
    (
        "act_ru_variable",
        &[
            "id_",
            "type_",
            "name_",
            "execution_id_",
            "proc_inst_id_",
            "task_id_",
            "bytearray_id_",
            "double_",
            "long_",
            "text_",
            "text2_",
            "var_scope_",
            "rev_",
        ],
    ),
    ("act_ge_bytearray", &["id_", "type_", "root_proc_inst_id_", "removal_time_"]),
    ("act_ru_task", &["id_", "rev_", "execution_id_", "proc_inst_id_", "parent_task_id_"]),
    ("act_ru_identitylink", &["id_", "task_id_"]),
    ("act_ru_job", &["id_", "process_instance_id_", "execution_id_", "exception_stack_id_"]),
    ("act_ru_ext_task", &["id_", "execution_id_", "error_details_id_"]),
    ("act_ru_event_subscr", &["id_", "execution_id_"]),
    (
        "act_ru_incident",
        &[
            "id_",
            "proc_inst_id_",
            "execution_id_",
            "incident_type_",
            "incident_msg_",
            "cause_incident_id_",
            "root_cause_incident_id_",
        ],
    ),
    (
        "act_ru_authorization",
        &["id_", "rev_", "type_", "group_id_", "user_id_", "resource_type_", "resource_id_", "perms_"],
    ),
    ("act_id_user", &["id_", "rev_", "pwd_", "salt_", "lock_exp_time_", "attempts_"]),
    ("act_id_group", &["id_", "rev_", "name_", "type_"]),
    ("act_id_membership", &["user_id_", "group_id_"]),
    ("act_id_tenant", &["id_", "rev_", "name_"]),
    ("act_id_tenant_member", &["id_", "tenant_id_", "user_id_", "group_id_"]),
    (
        "act_hi_op_log",
        &[
            "id_",
            "proc_def_id_",
            "proc_def_key_",
            "root_proc_inst_id_",
            "proc_inst_id_",
            "batch_id_",
            "user_id_",
            "timestamp_",
            "operation_type_",
            "operation_id_",
            "entity_type_",
            "property_",
            "new_value_",
            "tenant_id_",
            "category_",
            "removal_time_",
        ],
    ),
    (
        "act_hi_procinst",
        &[
            "id_",
            "proc_inst_id_",
            "business_key_",
            "proc_def_key_",
            "proc_def_id_",
            "start_time_",
            "end_time_",
            "duration_",
            "start_user_id_",
            "end_act_id_",
            "super_process_instance_id_",
            "root_proc_inst_id_",
            "super_case_instance_id_",
            "case_inst_id_",
            "delete_reason_",
            "tenant_id_",
            "state_",
            "removal_time_",
        ],
    ),
    (
        "act_hi_actinst",
        &[
            "id_",
            "proc_inst_id_",
            "root_proc_inst_id_",
            "execution_id_",
            "act_id_",
            "start_time_",
            "end_time_",
            "duration_",
            "act_inst_state_",
            "removal_time_",
        ],
    ),
    (
        "act_hi_taskinst",
        &[
            "id_",
            "proc_inst_id_",
            "root_proc_inst_id_",
            "execution_id_",
            "start_time_",
            "end_time_",
            "duration_",
            "delete_reason_",
            "task_state_",
            "removal_time_",
        ],
    ),
    (
        "act_hi_varinst",
        &[
            "id_",
            "proc_inst_id_",
            "root_proc_inst_id_",
            "name_",
            "var_type_",
            "double_",
            "long_",
            "text_",
            "task_id_",
            "removal_time_",
        ],
    ),
    (
        "act_hi_incident",
        &[
            "id_",
            "proc_inst_id_",
            "end_time_",
            "incident_state_",
            "incident_type_",
            "incident_msg_",
            "cause_incident_id_",
            "root_proc_inst_id_",
            "removal_time_",
        ],
    ),
];

/// Whether `table` exists in the current schema search path.
pub async fn table_exists(db: &impl ConnectionTrait, table: &str) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT to_regclass($1) IS NOT NULL AS present",
            [table.into()],
        ))
        .await?;
    Ok(row.map(|r| r.try_get::<bool>("", "present")).transpose()?.unwrap_or(false))
}

/// Whether any table whose name starts with `prefix` (e.g. `act_`) exists in the current schema.
pub async fn any_table_with_prefix(db: &impl ConnectionTrait, prefix: &str) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            // starts_with, not LIKE: `_` in a prefix is a literal character here.
            "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                             WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()
                               AND starts_with(c.relname, $1)) AS present",
            [prefix.into()],
        ))
        .await?;
    Ok(row.map(|r| r.try_get::<bool>("", "present")).transpose()?.unwrap_or(false))
}

/// One column as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    /// Lower-case table name.
    pub table: String,
    /// Lower-case column name.
    pub column: String,
    /// SQL type as `format_type` renders it, e.g. `character varying(64)`.
    pub data_type: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
}

/// The columns of every table whose name starts with `prefix` (e.g. `act_`), ordered.
pub async fn columns(db: &impl ConnectionTrait, prefix: &str) -> Result<Vec<ColumnInfo>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT c.relname AS table_name, a.attname AS column_name,
                    format_type(a.atttypid, a.atttypmod) AS data_type, NOT a.attnotnull AS nullable
               FROM pg_attribute a
               JOIN pg_class c ON c.oid = a.attrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind = 'r' AND n.nspname = current_schema()
                AND a.attnum > 0 AND NOT a.attisdropped AND c.relname LIKE $1
              ORDER BY c.relname, a.attnum",
            [format!("{prefix}%").into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ColumnInfo {
                table: r.try_get("", "table_name")?,
                column: r.try_get("", "column_name")?,
                data_type: r.try_get("", "data_type")?,
                nullable: r.try_get("", "nullable")?,
            })
        })
        .collect()
}

/// Checks that every column of [`REQUIRED_COLUMNS`] exists; the error names the first
/// missing table or column.
pub async fn check_attached(db: &impl ConnectionTrait) -> Result<(), Error> {
    let present = columns(db, "act_").await?;
    let mut missing = Vec::new();
    for (table, cols) in REQUIRED_COLUMNS {
        if !present.iter().any(|c| c.table == *table) {
            missing.push(format!("table {table}"));
            continue;
        }
        for col in *cols {
            if !present.iter().any(|c| c.table == *table && c.column == *col) {
                missing.push(format!("column {table}.{col}"));
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::Schema(format!(
            "the attached process-engine schema lacks {}; Sweep never alters ACT_ tables, so add them or point \
             Sweep at a Camunda 7.24 database",
            missing.join(", ")
        )))
    }
}

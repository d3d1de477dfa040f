//! `migrate` in standalone and attached mode: the standalone tables against Camunda 7.24's
//! PostgreSQL schema (transcribed below, independently of the DDL), attached mode leaving every
//! `ACT_` object untouched, concurrent runs, and the `migrate` subcommand.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection};
use shared::db::migration::{self, ENGINE_SQL, Mode};
use system_tests::TestDb;

/// Camunda 7.24's process-engine tables as Sweep needs them (reference §8), one entry per column:
/// `name type [NN]`. Types: `vcN` = `varchar(N)`, `ts` = `timestamp`, `int` = `integer`.
/// `ACT_RE_DEPLOYMENT` is not detailed in §8; it is taken from Camunda's create script.
const EXPECTED: &[(&str, &[&str])] = &[
    ("act_re_deployment", &["id_ vc64 NN", "name_ vc255", "deploy_time_ ts", "source_ vc255", "tenant_id_ vc64"]),
    (
        "act_ru_batch",
        &[
            "id_ vc64 NN",
            "rev_ int NN",
            "type_ vc255",
            "total_jobs_ int",
            "jobs_created_ int",
            "jobs_per_seed_ int",
            "invocations_per_job_ int",
            "seed_job_def_id_ vc64",
            "batch_job_def_id_ vc64",
            "monitor_job_def_id_ vc64",
            "suspension_state_ int",
            "configuration_ vc255",
            "tenant_id_ vc64",
            "create_user_id_ vc255",
            "start_time_ ts",
            "exec_start_time_ ts",
        ],
    ),
    (
        "act_ru_jobdef",
        &[
            "id_ vc64 NN",
            "rev_ int",
            "proc_def_id_ vc64",
            "proc_def_key_ vc255",
            "act_id_ vc255",
            "job_type_ vc255 NN",
            "job_configuration_ vc255",
            "suspension_state_ int",
            "job_priority_ bigint",
            "tenant_id_ vc64",
            "deployment_id_ vc64",
        ],
    ),
    (
        "act_ru_job",
        &[
            "id_ vc64 NN",
            "rev_ int",
            "type_ vc255 NN",
            "lock_exp_time_ ts",
            "lock_owner_ vc255",
            "exclusive_ bool",
            "execution_id_ vc64",
            "root_proc_inst_id_ vc64",
            "process_instance_id_ vc64",
            "process_def_id_ vc64",
            "process_def_key_ vc255",
            "retries_ int",
            "exception_stack_id_ vc64",
            "exception_msg_ vc4000",
            "failed_act_id_ vc255",
            "duedate_ ts",
            "repeat_ vc255",
            "repeat_offset_ bigint",
            "handler_type_ vc255",
            "handler_cfg_ vc4000",
            "deployment_id_ vc64",
            "suspension_state_ int NN",
            "job_def_id_ vc64",
            "priority_ bigint NN",
            "sequence_counter_ bigint",
            "tenant_id_ vc64",
            "create_time_ ts",
            "last_failure_log_id_ vc64",
            "batch_id_ vc64",
        ],
    ),
    (
        "act_ge_bytearray",
        &[
            "id_ vc64 NN",
            "rev_ int",
            "name_ vc255",
            "deployment_id_ vc64",
            "bytes_ bytea",
            "generated_ bool",
            "tenant_id_ vc64",
            "type_ int",
            "create_time_ ts",
            "root_proc_inst_id_ vc64",
            "removal_time_ ts",
        ],
    ),
    (
        "act_re_procdef",
        &[
            "id_ vc64 NN",
            "rev_ int",
            "category_ vc255",
            "name_ vc255",
            "key_ vc255 NN",
            "version_ int NN",
            "deployment_id_ vc64",
            "resource_name_ vc4000",
            "dgrm_resource_name_ vc4000",
            "has_start_form_key_ bool",
            "suspension_state_ int",
            "tenant_id_ vc64",
            "version_tag_ vc64",
            "history_ttl_ int",
            "startable_ bool NN",
        ],
    ),
    (
        "act_ru_execution",
        &[
            "id_ vc64 NN",
            "rev_ int",
            "root_proc_inst_id_ vc64",
            "proc_inst_id_ vc64",
            "business_key_ vc255",
            "parent_id_ vc64",
            "proc_def_id_ vc64",
            "super_exec_ vc64",
            "super_case_exec_ vc64",
            "case_inst_id_ vc64",
            "act_id_ vc255",
            "act_inst_id_ vc64",
            "is_active_ bool",
            "is_concurrent_ bool",
            "is_scope_ bool",
            "is_event_scope_ bool",
            "suspension_state_ int",
            "cached_ent_state_ int",
            "sequence_counter_ bigint",
            "tenant_id_ vc64",
            "proc_def_key_ vc255",
        ],
    ),
    (
        "act_ru_task",
        &[
            "id_ vc64 NN",
            "rev_ int",
            "execution_id_ vc64",
            "proc_inst_id_ vc64",
            "proc_def_id_ vc64",
            "case_execution_id_ vc64",
            "case_inst_id_ vc64",
            "case_def_id_ vc64",
            "name_ vc255",
            "parent_task_id_ vc64",
            "description_ vc4000",
            "task_def_key_ vc255",
            "owner_ vc255",
            "assignee_ vc255",
            "delegation_ vc64",
            "priority_ int",
            "create_time_ ts",
            "last_updated_ ts",
            "due_date_ ts",
            "follow_up_date_ ts",
            "suspension_state_ int",
            "tenant_id_ vc64",
            "task_state_ vc64",
        ],
    ),
    (
        "act_ru_identitylink",
        &[
            "id_ vc64 NN",
            "rev_ int",
            "group_id_ vc255",
            "type_ vc255",
            "user_id_ vc255",
            "task_id_ vc64",
            "proc_def_id_ vc64",
            "tenant_id_ vc64",
        ],
    ),
    (
        "act_ru_variable",
        &[
            "id_ vc64 NN",
            "rev_ int",
            "type_ vc255 NN",
            "name_ vc255 NN",
            "execution_id_ vc64",
            "proc_inst_id_ vc64",
            "proc_def_id_ vc64",
            "case_execution_id_ vc64",
            "case_inst_id_ vc64",
            "task_id_ vc64",
            "batch_id_ vc64",
            "bytearray_id_ vc64",
            "double_ double",
            "long_ bigint",
            "text_ vc4000",
            "text2_ vc4000",
            "var_scope_ vc64",
            "sequence_counter_ bigint",
            "is_concurrent_local_ bool",
            "tenant_id_ vc64",
        ],
    ),
    (
        "act_ru_event_subscr",
        &[
            "id_ vc64 NN",
            "rev_ int",
            "event_type_ vc255 NN",
            "event_name_ vc255",
            "execution_id_ vc64",
            "proc_inst_id_ vc64",
            "activity_id_ vc255",
            "configuration_ vc255",
            "created_ ts NN",
            "tenant_id_ vc64",
        ],
    ),
    (
        "act_ru_incident",
        &[
            "id_ vc64 NN",
            "rev_ int NN",
            "incident_timestamp_ ts NN",
            "incident_msg_ vc4000",
            "incident_type_ vc255 NN",
            "execution_id_ vc64",
            "activity_id_ vc255",
            "failed_activity_id_ vc255",
            "proc_inst_id_ vc64",
            "proc_def_id_ vc64",
            "cause_incident_id_ vc64",
            "root_cause_incident_id_ vc64",
            "configuration_ vc255",
            "tenant_id_ vc64",
            "job_def_id_ vc64",
            "annotation_ vc4000",
        ],
    ),
    (
        "act_ru_ext_task",
        &[
            "id_ vc64 NN",
            "rev_ int NN",
            "worker_id_ vc255",
            "topic_name_ vc255",
            "retries_ int",
            "error_msg_ vc4000",
            "error_details_id_ vc64",
            "lock_exp_time_ ts",
            "create_time_ ts",
            "suspension_state_ int",
            "execution_id_ vc64",
            "proc_inst_id_ vc64",
            "proc_def_id_ vc64",
            "proc_def_key_ vc255",
            "act_id_ vc255",
            "act_inst_id_ vc64",
            "tenant_id_ vc64",
            "priority_ bigint NN",
            "last_failure_log_id_ vc64",
        ],
    ),
    (
        "act_ru_authorization",
        &[
            "id_ vc64 NN",
            "rev_ int NN",
            "type_ int NN",
            "group_id_ vc255",
            "user_id_ vc255",
            "resource_type_ int NN",
            "resource_id_ vc255",
            "perms_ int",
            "removal_time_ ts",
            "root_proc_inst_id_ vc64",
        ],
    ),
    (
        "act_hi_procinst",
        &[
            "id_ vc64 NN",
            "proc_inst_id_ vc64 NN",
            "business_key_ vc255",
            "proc_def_key_ vc255",
            "proc_def_id_ vc64 NN",
            "start_time_ ts NN",
            "end_time_ ts",
            "removal_time_ ts",
            "duration_ bigint",
            "start_user_id_ vc255",
            "start_act_id_ vc255",
            "end_act_id_ vc255",
            "super_process_instance_id_ vc64",
            "root_proc_inst_id_ vc64",
            "super_case_instance_id_ vc64",
            "case_inst_id_ vc64",
            "delete_reason_ vc4000",
            "tenant_id_ vc64",
            "state_ vc255",
            "restarted_proc_inst_id_ vc64",
        ],
    ),
    (
        "act_hi_actinst",
        &[
            "id_ vc64 NN",
            "parent_act_inst_id_ vc64",
            "proc_def_key_ vc255",
            "proc_def_id_ vc64 NN",
            "root_proc_inst_id_ vc64",
            "proc_inst_id_ vc64 NN",
            "execution_id_ vc64 NN",
            "act_id_ vc255 NN",
            "task_id_ vc64",
            "call_proc_inst_id_ vc64",
            "call_case_inst_id_ vc64",
            "act_name_ vc255",
            "act_type_ vc255 NN",
            "assignee_ vc255",
            "start_time_ ts NN",
            "end_time_ ts",
            "duration_ bigint",
            "act_inst_state_ int",
            "sequence_counter_ bigint",
            "tenant_id_ vc64",
            "removal_time_ ts",
        ],
    ),
    (
        "act_hi_taskinst",
        &[
            "id_ vc64 NN",
            "task_def_key_ vc255",
            "proc_def_key_ vc255",
            "proc_def_id_ vc64",
            "root_proc_inst_id_ vc64",
            "proc_inst_id_ vc64",
            "execution_id_ vc64",
            "case_def_key_ vc255",
            "case_def_id_ vc64",
            "case_inst_id_ vc64",
            "case_execution_id_ vc64",
            "act_inst_id_ vc64",
            "name_ vc255",
            "parent_task_id_ vc64",
            "description_ vc4000",
            "owner_ vc255",
            "assignee_ vc255",
            "start_time_ ts NN",
            "end_time_ ts",
            "duration_ bigint",
            "delete_reason_ vc4000",
            "priority_ int",
            "due_date_ ts",
            "follow_up_date_ ts",
            "tenant_id_ vc64",
            "removal_time_ ts",
            "task_state_ vc64",
        ],
    ),
    (
        "act_hi_varinst",
        &[
            "id_ vc64 NN",
            "proc_def_key_ vc255",
            "proc_def_id_ vc64",
            "root_proc_inst_id_ vc64",
            "proc_inst_id_ vc64",
            "execution_id_ vc64",
            "act_inst_id_ vc64",
            "case_def_key_ vc255",
            "case_def_id_ vc64",
            "case_inst_id_ vc64",
            "case_execution_id_ vc64",
            "task_id_ vc64",
            "name_ vc255 NN",
            "var_type_ vc100",
            "create_time_ ts",
            "rev_ int",
            "bytearray_id_ vc64",
            "double_ double",
            "long_ bigint",
            "text_ vc4000",
            "text2_ vc4000",
            "tenant_id_ vc64",
            "state_ vc20",
            "removal_time_ ts",
        ],
    ),
    (
        "act_hi_incident",
        &[
            "id_ vc64 NN",
            "proc_def_key_ vc255",
            "proc_def_id_ vc64",
            "root_proc_inst_id_ vc64",
            "proc_inst_id_ vc64",
            "execution_id_ vc64",
            "create_time_ ts NN",
            "end_time_ ts",
            "incident_msg_ vc4000",
            "incident_type_ vc255 NN",
            "activity_id_ vc255",
            "failed_activity_id_ vc255",
            "cause_incident_id_ vc64",
            "root_cause_incident_id_ vc64",
            "configuration_ vc255",
            "history_configuration_ vc255",
            "incident_state_ int",
            "tenant_id_ vc64",
            "job_def_id_ vc64",
            "annotation_ vc4000",
            "removal_time_ ts",
        ],
    ),
    (
        "act_hi_op_log",
        &[
            "id_ vc64 NN",
            "deployment_id_ vc64",
            "proc_def_id_ vc64",
            "proc_def_key_ vc255",
            "root_proc_inst_id_ vc64",
            "proc_inst_id_ vc64",
            "execution_id_ vc64",
            "case_def_id_ vc64",
            "case_inst_id_ vc64",
            "case_execution_id_ vc64",
            "task_id_ vc64",
            "job_id_ vc64",
            "job_def_id_ vc64",
            "batch_id_ vc64",
            "user_id_ vc255",
            "timestamp_ ts NN",
            "operation_type_ vc64",
            "operation_id_ vc64",
            "entity_type_ vc30",
            "property_ vc64",
            "org_value_ vc4000",
            "new_value_ vc4000",
            "tenant_id_ vc64",
            "removal_time_ ts",
            "category_ vc64",
            "external_task_id_ vc64",
            "annotation_ vc4000",
        ],
    ),
    // The history tables of `m0006_engine_history` (`activiti.postgres.create.history.sql`, 7.24).
    (
        "act_hi_detail",
        &[
            "id_ vc64 NN",
            "type_ vc255 NN",
            "proc_def_key_ vc255",
            "proc_def_id_ vc64",
            "root_proc_inst_id_ vc64",
            "proc_inst_id_ vc64",
            "execution_id_ vc64",
            "case_def_key_ vc255",
            "case_def_id_ vc64",
            "case_inst_id_ vc64",
            "case_execution_id_ vc64",
            "task_id_ vc64",
            "act_inst_id_ vc64",
            "var_inst_id_ vc64",
            "name_ vc255 NN",
            "var_type_ vc64",
            "rev_ int",
            "time_ ts NN",
            "bytearray_id_ vc64",
            "double_ double",
            "long_ bigint",
            "text_ vc4000",
            "text2_ vc4000",
            "sequence_counter_ bigint",
            "tenant_id_ vc64",
            "operation_id_ vc64",
            "removal_time_ ts",
            "initial_ bool",
        ],
    ),
    (
        "act_hi_identitylink",
        &[
            "id_ vc64 NN",
            "timestamp_ ts NN",
            "type_ vc255",
            "user_id_ vc255",
            "group_id_ vc255",
            "task_id_ vc64",
            "root_proc_inst_id_ vc64",
            "proc_def_id_ vc64",
            "operation_type_ vc64",
            "assigner_id_ vc64",
            "proc_def_key_ vc255",
            "tenant_id_ vc64",
            "removal_time_ ts",
        ],
    ),
    (
        "act_hi_comment",
        &[
            "id_ vc64 NN",
            "type_ vc255",
            "time_ ts NN",
            "user_id_ vc255",
            "task_id_ vc64",
            "root_proc_inst_id_ vc64",
            "proc_inst_id_ vc64",
            "action_ vc255",
            "message_ vc4000",
            "full_msg_ bytea",
            "tenant_id_ vc64",
            "removal_time_ ts",
            "rev_ int NN",
        ],
    ),
    (
        "act_hi_attachment",
        &[
            "id_ vc64 NN",
            "rev_ int",
            "user_id_ vc255",
            "name_ vc255",
            "description_ vc4000",
            "type_ vc255",
            "task_id_ vc64",
            "root_proc_inst_id_ vc64",
            "proc_inst_id_ vc64",
            "url_ vc4000",
            "content_id_ vc64",
            "tenant_id_ vc64",
            "create_time_ ts",
            "removal_time_ ts",
        ],
    ),
    (
        "act_hi_job_log",
        &[
            "id_ vc64 NN",
            "timestamp_ ts NN",
            "job_id_ vc64 NN",
            "job_duedate_ ts",
            "job_retries_ int",
            "job_priority_ bigint NN",
            "job_exception_msg_ vc4000",
            "job_exception_stack_id_ vc64",
            "job_state_ int",
            "job_def_id_ vc64",
            "job_def_type_ vc255",
            "job_def_configuration_ vc255",
            "act_id_ vc255",
            "failed_act_id_ vc255",
            "execution_id_ vc64",
            "root_proc_inst_id_ vc64",
            "process_instance_id_ vc64",
            "process_def_id_ vc64",
            "process_def_key_ vc255",
            "deployment_id_ vc64",
            "sequence_counter_ bigint",
            "tenant_id_ vc64",
            "hostname_ vc255",
            "removal_time_ ts",
            "batch_id_ vc64",
        ],
    ),
    (
        "act_hi_ext_task_log",
        &[
            "id_ vc64 NN",
            "timestamp_ ts NN",
            "ext_task_id_ vc64 NN",
            "retries_ int",
            "topic_name_ vc255",
            "worker_id_ vc255",
            "priority_ bigint NN",
            "error_msg_ vc4000",
            "error_details_id_ vc64",
            "act_id_ vc255",
            "act_inst_id_ vc64",
            "execution_id_ vc64",
            "proc_inst_id_ vc64",
            "root_proc_inst_id_ vc64",
            "proc_def_id_ vc64",
            "proc_def_key_ vc255",
            "tenant_id_ vc64",
            "state_ int",
            "removal_time_ ts",
        ],
    ),
    // Camunda's identity tables (`activiti.postgres.create.identity.sql`, 7.24).
    ("act_id_group", &["id_ vc64 NN", "rev_ int", "name_ vc255", "type_ vc255"]),
    ("act_id_membership", &["user_id_ vc64 NN", "group_id_ vc64 NN"]),
    (
        "act_id_user",
        &[
            "id_ vc64 NN",
            "rev_ int",
            "first_ vc255",
            "last_ vc255",
            "email_ vc255",
            "pwd_ vc255",
            "salt_ vc255",
            "lock_exp_time_ ts",
            "attempts_ int",
            "picture_id_ vc64",
        ],
    ),
    (
        "act_id_info",
        &[
            "id_ vc64 NN",
            "rev_ int",
            "user_id_ vc64",
            "type_ vc64",
            "key_ vc255",
            "value_ vc255",
            "password_ bytea",
            "parent_id_ vc255",
        ],
    ),
    ("act_id_tenant", &["id_ vc64 NN", "rev_ int", "name_ vc255"]),
    ("act_id_tenant_member", &["id_ vc64 NN", "tenant_id_ vc64 NN", "user_id_ vc64", "group_id_ vc64"]),
];

/// Tables whose primary key is not `id_`.
const COMPOSITE_KEYS: &[(&str, &str)] = &[("act_id_membership", "user_id_,group_id_")];

/// Column defaults named in §8 (`table.column`, default as `pg_get_expr` prints it); no other
/// `ACT_` column has one.
const EXPECTED_DEFAULTS: &[(&str, &str)] = &[
    ("act_hi_comment.rev_", "1"),
    ("act_hi_ext_task_log.priority_", "0"),
    ("act_hi_job_log.job_priority_", "0"),
    ("act_re_procdef.startable_", "true"),
    ("act_ru_ext_task.priority_", "0"),
    ("act_ru_job.priority_", "0"),
    ("act_ru_job.repeat_offset_", "0"),
    ("act_ru_job.suspension_state_", "1"),
];

/// Every foreign key §8 names: (constraint, table, column, referenced table). The referenced
/// column is always `id_`.
const EXPECTED_FKS: &[(&str, &str, &str, &str)] = &[
    ("act_fk_batch_seed_job_def", "act_ru_batch", "seed_job_def_id_", "act_ru_jobdef"),
    ("act_fk_batch_job_def", "act_ru_batch", "batch_job_def_id_", "act_ru_jobdef"),
    ("act_fk_batch_monitor_job_def", "act_ru_batch", "monitor_job_def_id_", "act_ru_jobdef"),
    ("act_fk_job_exception", "act_ru_job", "exception_stack_id_", "act_ge_bytearray"),
    ("act_fk_bytearr_depl", "act_ge_bytearray", "deployment_id_", "act_re_deployment"),
    ("act_fk_exe_procinst", "act_ru_execution", "proc_inst_id_", "act_ru_execution"),
    ("act_fk_exe_parent", "act_ru_execution", "parent_id_", "act_ru_execution"),
    ("act_fk_exe_procdef", "act_ru_execution", "proc_def_id_", "act_re_procdef"),
    ("act_fk_exe_super", "act_ru_execution", "super_exec_", "act_ru_execution"),
    ("act_fk_task_exe", "act_ru_task", "execution_id_", "act_ru_execution"),
    ("act_fk_task_procinst", "act_ru_task", "proc_inst_id_", "act_ru_execution"),
    ("act_fk_task_procdef", "act_ru_task", "proc_def_id_", "act_re_procdef"),
    ("act_fk_tskass_task", "act_ru_identitylink", "task_id_", "act_ru_task"),
    ("act_fk_athrz_procedef", "act_ru_identitylink", "proc_def_id_", "act_re_procdef"),
    ("act_fk_var_exe", "act_ru_variable", "execution_id_", "act_ru_execution"),
    ("act_fk_var_procinst", "act_ru_variable", "proc_inst_id_", "act_ru_execution"),
    ("act_fk_var_batch", "act_ru_variable", "batch_id_", "act_ru_batch"),
    ("act_fk_var_bytearray", "act_ru_variable", "bytearray_id_", "act_ge_bytearray"),
    ("act_fk_event_exec", "act_ru_event_subscr", "execution_id_", "act_ru_execution"),
    ("act_fk_inc_exe", "act_ru_incident", "execution_id_", "act_ru_execution"),
    ("act_fk_inc_procinst", "act_ru_incident", "proc_inst_id_", "act_ru_execution"),
    ("act_fk_inc_procdef", "act_ru_incident", "proc_def_id_", "act_re_procdef"),
    ("act_fk_inc_cause", "act_ru_incident", "cause_incident_id_", "act_ru_incident"),
    ("act_fk_inc_rcause", "act_ru_incident", "root_cause_incident_id_", "act_ru_incident"),
    ("act_fk_inc_job_def", "act_ru_incident", "job_def_id_", "act_ru_jobdef"),
    ("act_fk_ext_task_error_details", "act_ru_ext_task", "error_details_id_", "act_ge_bytearray"),
    ("act_fk_ext_task_exe", "act_ru_ext_task", "execution_id_", "act_ru_execution"),
    ("act_fk_memb_group", "act_id_membership", "group_id_", "act_id_group"),
    ("act_fk_memb_user", "act_id_membership", "user_id_", "act_id_user"),
    ("act_fk_tenant_memb", "act_id_tenant_member", "tenant_id_", "act_id_tenant"),
    ("act_fk_tenant_memb_user", "act_id_tenant_member", "user_id_", "act_id_user"),
    ("act_fk_tenant_memb_group", "act_id_tenant_member", "group_id_", "act_id_group"),
];

/// Indexes the set-based deletion relies on: (table, leading columns). Matched by table and
/// leading columns, not by name, so an attached database with other index names still passes.
const DELETION_INDEXES: &[(&str, &[&str])] = &[
    ("act_ru_execution", &["proc_inst_id_"]),
    ("act_ru_execution", &["parent_id_"]),
    ("act_ru_execution", &["super_exec_"]),
    ("act_ru_execution", &["root_proc_inst_id_"]),
    ("act_ru_variable", &["proc_inst_id_"]),
    ("act_ru_variable", &["execution_id_"]),
    ("act_ru_variable", &["bytearray_id_"]),
    ("act_ru_task", &["proc_inst_id_"]),
    ("act_ru_task", &["execution_id_"]),
    ("act_ru_identitylink", &["task_id_"]),
    ("act_ru_job", &["process_instance_id_"]),
    ("act_ru_job", &["execution_id_"]),
    ("act_ru_ext_task", &["execution_id_"]),
    ("act_ru_event_subscr", &["execution_id_"]),
    ("act_ru_incident", &["proc_inst_id_"]),
    ("act_ru_incident", &["cause_incident_id_"]),
    ("act_ru_incident", &["root_cause_incident_id_"]),
    ("act_ru_authorization", &["resource_id_"]),
    ("act_hi_actinst", &["proc_inst_id_", "act_id_"]),
    ("act_hi_taskinst", &["proc_inst_id_"]),
    ("act_hi_incident", &["proc_inst_id_"]),
];

/// Every other index §8 names, with its exact columns; `true` marks a unique one.
const REFERENCE_INDEXES: &[(&str, &[&str], bool)] = &[
    ("act_ru_batch", &["seed_job_def_id_"], false),
    ("act_ru_batch", &["batch_job_def_id_"], false),
    ("act_ru_batch", &["monitor_job_def_id_"], false),
    ("act_ru_jobdef", &["proc_def_id_"], false),
    ("act_ru_jobdef", &["tenant_id_"], false),
    ("act_ru_job", &["execution_id_"], false),
    ("act_ru_job", &["root_proc_inst_id_"], false),
    ("act_ru_job", &["process_instance_id_"], false),
    ("act_ru_job", &["exception_stack_id_"], false),
    ("act_ru_job", &["handler_type_"], false),
    ("act_ru_job", &["handler_type_", "handler_cfg_"], false),
    ("act_ru_job", &["job_def_id_"], false),
    ("act_ru_job", &["tenant_id_"], false),
    ("act_ge_bytearray", &["name_"], false),
    ("act_ge_bytearray", &["deployment_id_"], false),
    ("act_ge_bytearray", &["root_proc_inst_id_"], false),
    ("act_ge_bytearray", &["removal_time_"], false),
    ("act_re_procdef", &["deployment_id_"], false),
    ("act_re_procdef", &["tenant_id_"], false),
    ("act_re_procdef", &["version_tag_"], false),
    ("act_ru_execution", &["root_proc_inst_id_"], false),
    ("act_ru_execution", &["proc_inst_id_"], false),
    ("act_ru_execution", &["business_key_"], false),
    ("act_ru_execution", &["parent_id_"], false),
    ("act_ru_execution", &["proc_def_id_"], false),
    ("act_ru_execution", &["super_exec_"], false),
    ("act_ru_execution", &["tenant_id_"], false),
    ("act_ru_task", &["create_time_"], false),
    ("act_ru_task", &["last_updated_"], false),
    ("act_ru_task", &["assignee_"], false),
    ("act_ru_task", &["owner_"], false),
    ("act_ru_task", &["tenant_id_"], false),
    ("act_ru_task", &["execution_id_"], false),
    ("act_ru_task", &["proc_inst_id_"], false),
    ("act_ru_task", &["proc_def_id_"], false),
    ("act_ru_identitylink", &["group_id_"], false),
    ("act_ru_identitylink", &["user_id_"], false),
    ("act_ru_identitylink", &["task_id_"], false),
    ("act_ru_identitylink", &["proc_def_id_"], false),
    ("act_ru_variable", &["var_scope_", "name_"], true),
    ("act_ru_variable", &["execution_id_"], false),
    ("act_ru_variable", &["proc_inst_id_"], false),
    ("act_ru_variable", &["batch_id_"], false),
    ("act_ru_variable", &["bytearray_id_"], false),
    ("act_ru_variable", &["task_id_"], false),
    ("act_ru_variable", &["tenant_id_"], false),
    ("act_ru_variable", &["task_id_", "name_", "type_"], false),
    ("act_ru_event_subscr", &["event_name_"], false),
    ("act_ru_event_subscr", &["execution_id_"], false),
    ("act_ru_event_subscr", &["configuration_"], false),
    ("act_ru_event_subscr", &["tenant_id_"], false),
    ("act_ru_incident", &["configuration_"], false),
    ("act_ru_incident", &["tenant_id_"], false),
    ("act_ru_incident", &["job_def_id_"], false),
    ("act_ru_incident", &["cause_incident_id_"], false),
    ("act_ru_incident", &["execution_id_"], false),
    ("act_ru_incident", &["proc_def_id_"], false),
    ("act_ru_incident", &["proc_inst_id_"], false),
    ("act_ru_incident", &["root_cause_incident_id_"], false),
    ("act_ru_ext_task", &["topic_name_"], false),
    ("act_ru_ext_task", &["error_details_id_"], false),
    ("act_ru_ext_task", &["execution_id_"], false),
    ("act_ru_ext_task", &["tenant_id_"], false),
    ("act_ru_ext_task", &["priority_"], false),
    ("act_ru_authorization", &["group_id_"], false),
    ("act_ru_authorization", &["resource_id_"], false),
    ("act_ru_authorization", &["removal_time_"], false),
    ("act_ru_authorization", &["root_proc_inst_id_"], false),
    ("act_ru_authorization", &["type_", "user_id_", "resource_type_", "resource_id_"], true),
    ("act_ru_authorization", &["type_", "group_id_", "resource_type_", "resource_id_"], true),
    ("act_hi_procinst", &["proc_inst_id_"], true),
    ("act_hi_procinst", &["business_key_"], false),
    ("act_hi_procinst", &["proc_def_key_"], false),
    ("act_hi_procinst", &["end_time_"], false),
    ("act_hi_procinst", &["removal_time_"], false),
    ("act_hi_procinst", &["root_proc_inst_id_"], false),
    ("act_hi_procinst", &["tenant_id_"], false),
    ("act_hi_procinst", &["restarted_proc_inst_id_"], false),
    ("act_hi_procinst", &["start_time_", "end_time_"], false),
    ("act_hi_procinst", &["proc_def_id_", "end_time_"], false),
    ("act_hi_actinst", &["root_proc_inst_id_"], false),
    ("act_hi_actinst", &["start_time_", "end_time_"], false),
    ("act_hi_actinst", &["end_time_"], false),
    ("act_hi_actinst", &["proc_inst_id_", "act_id_"], false),
    ("act_hi_actinst", &["execution_id_", "act_id_", "end_time_", "id_"], false),
    ("act_hi_actinst", &["proc_def_id_", "proc_inst_id_", "act_id_", "end_time_", "act_inst_state_"], false),
    ("act_hi_actinst", &["tenant_id_"], false),
    ("act_hi_actinst", &["proc_def_key_"], false),
    ("act_hi_actinst", &["proc_def_id_", "end_time_"], false),
    ("act_hi_actinst", &["removal_time_"], false),
    ("act_hi_taskinst", &["root_proc_inst_id_"], false),
    ("act_hi_taskinst", &["tenant_id_"], false),
    ("act_hi_taskinst", &["proc_def_key_"], false),
    ("act_hi_taskinst", &["proc_inst_id_"], false),
    ("act_hi_taskinst", &["id_", "proc_inst_id_"], false),
    ("act_hi_taskinst", &["removal_time_"], false),
    ("act_hi_taskinst", &["start_time_"], false),
    ("act_hi_taskinst", &["end_time_"], false),
    ("act_hi_incident", &["tenant_id_"], false),
    ("act_hi_incident", &["proc_def_key_"], false),
    ("act_hi_incident", &["root_proc_inst_id_"], false),
    ("act_hi_incident", &["proc_inst_id_"], false),
    ("act_hi_incident", &["removal_time_"], false),
    ("act_hi_incident", &["create_time_"], false),
    ("act_hi_incident", &["end_time_"], false),
    ("act_hi_op_log", &["proc_def_id_"], false),
    ("act_hi_op_log", &["root_proc_inst_id_"], false),
    ("act_hi_op_log", &["proc_inst_id_"], false),
    ("act_hi_op_log", &["task_id_"], false),
    ("act_hi_op_log", &["user_id_"], false),
    ("act_hi_op_log", &["timestamp_"], false),
    ("act_hi_op_log", &["operation_type_"], false),
    ("act_hi_op_log", &["entity_type_"], false),
    ("act_hi_op_log", &["removal_time_"], false),
    ("act_hi_detail", &["root_proc_inst_id_"], false),
    ("act_hi_detail", &["proc_inst_id_"], false),
    ("act_hi_detail", &["act_inst_id_"], false),
    ("act_hi_detail", &["case_inst_id_"], false),
    ("act_hi_detail", &["case_execution_id_"], false),
    ("act_hi_detail", &["time_"], false),
    ("act_hi_detail", &["name_"], false),
    ("act_hi_detail", &["task_id_"], false),
    ("act_hi_detail", &["tenant_id_"], false),
    ("act_hi_detail", &["proc_def_key_"], false),
    ("act_hi_detail", &["bytearray_id_"], false),
    ("act_hi_detail", &["removal_time_"], false),
    ("act_hi_detail", &["bytearray_id_", "task_id_"], false),
    ("act_hi_detail", &["var_inst_id_"], false),
    ("act_hi_identitylink", &["root_proc_inst_id_"], false),
    ("act_hi_identitylink", &["user_id_"], false),
    ("act_hi_identitylink", &["group_id_"], false),
    ("act_hi_identitylink", &["tenant_id_"], false),
    ("act_hi_identitylink", &["proc_def_key_"], false),
    ("act_hi_identitylink", &["task_id_"], false),
    ("act_hi_identitylink", &["removal_time_"], false),
    ("act_hi_identitylink", &["timestamp_"], false),
    ("act_hi_job_log", &["root_proc_inst_id_"], false),
    ("act_hi_job_log", &["process_instance_id_"], false),
    ("act_hi_job_log", &["process_def_id_"], false),
    ("act_hi_job_log", &["tenant_id_"], false),
    ("act_hi_job_log", &["job_def_id_"], false),
    ("act_hi_job_log", &["process_def_key_"], false),
    ("act_hi_job_log", &["job_exception_stack_id_"], false),
    ("act_hi_job_log", &["removal_time_"], false),
    ("act_hi_job_log", &["job_def_configuration_"], false),
    ("act_hi_ext_task_log", &["root_proc_inst_id_"], false),
    ("act_hi_ext_task_log", &["proc_inst_id_"], false),
    ("act_hi_ext_task_log", &["proc_def_id_"], false),
    ("act_hi_ext_task_log", &["proc_def_key_"], false),
    ("act_hi_ext_task_log", &["tenant_id_"], false),
    ("act_hi_ext_task_log", &["error_details_id_"], false),
    ("act_hi_ext_task_log", &["removal_time_"], false),
    ("act_hi_attachment", &["content_id_"], false),
    ("act_hi_attachment", &["root_proc_inst_id_"], false),
    ("act_hi_attachment", &["proc_inst_id_"], false),
    ("act_hi_attachment", &["task_id_"], false),
    ("act_hi_attachment", &["removal_time_"], false),
    ("act_hi_comment", &["task_id_"], false),
    ("act_hi_comment", &["root_proc_inst_id_"], false),
    ("act_hi_comment", &["proc_inst_id_"], false),
    ("act_hi_comment", &["removal_time_"], false),
    ("act_id_membership", &["group_id_"], false),
    ("act_id_membership", &["user_id_"], false),
    ("act_id_tenant_member", &["tenant_id_"], false),
    ("act_id_tenant_member", &["user_id_"], false),
    ("act_id_tenant_member", &["group_id_"], false),
    ("act_id_tenant_member", &["tenant_id_", "user_id_"], true),
    ("act_id_tenant_member", &["tenant_id_", "group_id_"], true),
];

/// `format_type` spelling of a short type of [`EXPECTED`].
fn pg_type(short: &str) -> String {
    match short {
        "ts" => "timestamp without time zone".into(),
        "int" => "integer".into(),
        "bigint" => "bigint".into(),
        "bool" => "boolean".into(),
        "double" => "double precision".into(),
        "bytea" => "bytea".into(),
        vc if vc.starts_with("vc") && vc[2..].parse::<u32>().is_ok() => format!("character varying({})", &vc[2..]),
        other => panic!("unknown type {other} in EXPECTED"),
    }
}

/// [`EXPECTED`] as `table.column` → (type, nullable).
fn expected_columns() -> BTreeMap<String, (String, bool)> {
    let mut out = BTreeMap::new();
    for (table, cols) in EXPECTED {
        for spec in *cols {
            let parts: Vec<&str> = spec.split_whitespace().collect();
            let nullable = match parts.as_slice() {
                [_, _] => true,
                [_, _, "NN"] => false,
                _ => panic!("malformed EXPECTED entry {table}: {spec}"),
            };
            let previous = out.insert(format!("{table}.{}", parts[0]), (pg_type(parts[1]), nullable));
            assert!(previous.is_none(), "duplicate EXPECTED entry {table}.{}", parts[0]);
        }
    }
    out
}

/// A pool of exactly one connection, as `migrate` requires (the advisory lock is per session).
async fn one_connection(url: &str) -> DatabaseConnection {
    sea_orm::Database::connect(
        sea_orm::ConnectOptions::new(url.to_owned()).max_connections(1).sqlx_logging(false).to_owned(),
    )
    .await
    .expect("connect")
}

/// Runs `migration::run` once on its own single-connection pool.
async fn migrate(db: &TestDb) -> Result<Mode, shared::Error> {
    let one = one_connection(&db.url).await;
    let result = migration::run(&one).await;
    one.close().await.ok();
    result
}

/// A database with the process-engine tables created "as a Camunda engine would", before Sweep
/// ever ran on it.
async fn engine_database() -> TestDb {
    let db = TestDb::empty().await;
    db.exec(ENGINE_SQL).await;
    for (_, sql) in migration::ENGINE_ADDITIONS {
        db.exec(sql).await;
    }
    db
}

/// Every index of an `ACT_` table: (table, columns in order, unique).
async fn act_indexes(db: &TestDb) -> Vec<(String, Vec<String>, bool)> {
    db.strings(
        "SELECT t.relname || '|' || i.indisunique || '|' || string_agg(a.attname, ',' ORDER BY k.ord)
           FROM pg_index i
           JOIN pg_class t ON t.oid = i.indrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()
           CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
          WHERE t.relname LIKE 'act\\_%'
          GROUP BY i.indexrelid, t.relname, i.indisunique
          ORDER BY 1",
    )
    .await
    .into_iter()
    .map(|row| {
        let mut parts = row.split('|');
        let table = parts.next().unwrap().to_owned();
        let unique = parts.next().unwrap() == "true";
        let columns = parts.next().unwrap().split(',').map(str::to_owned).collect();
        (table, columns, unique)
    })
    .collect()
}

/// Everything the catalog says about `ACT_` objects, one line per fact, in a stable order:
/// relations (with oid and file node, so a drop-and-recreate or a table rewrite shows),
/// columns, constraints, indexes, triggers and comments.
async fn act_catalog(db: &TestDb) -> Vec<String> {
    db.strings(
        "SELECT line FROM (
            SELECT 'relation ' || c.relname || ' kind=' || c.relkind::text || ' oid=' || c.oid
                   || ' filenode=' || c.relfilenode || ' owner=' || c.relowner::regrole AS line
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relname LIKE 'act\\_%'
            UNION ALL
            SELECT 'column ' || c.relname || '.' || a.attname || ' #' || a.attnum || ' '
                   || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
                   || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
              FROM pg_attribute a
              JOIN pg_class c ON c.oid = a.attrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE n.nspname = current_schema() AND c.relname LIKE 'act\\_%' AND c.relkind = 'r'
               AND a.attnum > 0 AND NOT a.attisdropped
            UNION ALL
            SELECT 'constraint ' || c.relname || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid)
                   || ' deferrable=' || con.condeferrable
              FROM pg_constraint con
              JOIN pg_class c ON c.oid = con.conrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relname LIKE 'act\\_%'
            UNION ALL
            SELECT 'index ' || indexdef FROM pg_indexes
             WHERE schemaname = current_schema() AND tablename LIKE 'act\\_%'
            UNION ALL
            SELECT 'trigger ' || c.relname || ' ' || t.tgname
              FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
             WHERE c.relname LIKE 'act\\_%'
            UNION ALL
            SELECT 'comment ' || c.relname || ' ' || d.objsubid || ' ' || d.description
              FROM pg_description d JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass
             WHERE c.relname LIKE 'act\\_%'
         ) facts ORDER BY line",
    )
    .await
}

/// Names of all relations (tables, indexes, sequences, views) outside the system schemas.
async fn relations(db: &TestDb) -> BTreeSet<String> {
    db.strings(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'",
    )
    .await
    .into_iter()
    .collect()
}

// ---------------------------------------------------------------------------------------------
// Standalone conformance
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn standalone_columns_match_camunda_7_24_column_by_column() {
    let db = TestDb::new().await;
    let actual: BTreeMap<String, (String, bool)> = shared::db::schema::columns(&db.db, "act_")
        .await
        .unwrap()
        .into_iter()
        .map(|c| (format!("{}.{}", c.table, c.column), (c.data_type, c.nullable)))
        .collect();
    let expected = expected_columns();
    let expected_tables: BTreeSet<&str> = EXPECTED.iter().map(|(t, _)| *t).collect();
    let actual_tables: BTreeSet<&str> = actual.keys().map(|k| k.split('.').next().unwrap()).collect();

    let mut diffs = Vec::new();
    for t in expected_tables.difference(&actual_tables) {
        diffs.push(format!("missing table {t}"));
    }
    for t in actual_tables.difference(&expected_tables) {
        diffs.push(format!("unexpected table {t}"));
    }
    for (key, (ty, nullable)) in &expected {
        match actual.get(key) {
            None if actual_tables.contains(key.split('.').next().unwrap()) => {
                diffs.push(format!("missing column {key}"))
            }
            None => {}
            Some((aty, anull)) => {
                if aty != ty {
                    diffs.push(format!("{key}: type {aty}, expected {ty}"));
                }
                if anull != nullable {
                    let word = |n: &bool| if *n { "NULL" } else { "NOT NULL" };
                    diffs.push(format!("{key}: {}, expected {}", word(anull), word(nullable)));
                }
            }
        }
    }
    for key in actual.keys().filter(|k| !expected.contains_key(*k)) {
        if expected_tables.contains(key.split('.').next().unwrap()) {
            diffs.push(format!("unexpected column {key}"));
        }
    }
    assert!(diffs.is_empty(), "standalone schema differs from Camunda 7.24:\n  {}", diffs.join("\n  "));
}

#[tokio::test]
async fn standalone_column_defaults_match_camunda() {
    let db = TestDb::new().await;
    let actual: BTreeSet<String> = db
        .strings(
            "SELECT c.relname || '.' || a.attname || ' = ' || pg_get_expr(d.adbin, d.adrelid)
               FROM pg_attrdef d
               JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
               JOIN pg_class c ON c.oid = d.adrelid
              WHERE c.relname LIKE 'act\\_%'",
        )
        .await
        .into_iter()
        .collect();
    let expected: BTreeSet<String> = EXPECTED_DEFAULTS.iter().map(|(col, d)| format!("{col} = {d}")).collect();
    assert_eq!(actual, expected);
}

#[tokio::test]
async fn standalone_primary_keys_are_id_on_every_table() {
    let db = TestDb::new().await;
    let actual: BTreeSet<String> = db
        .strings(
            "SELECT c.relname || '(' || string_agg(a.attname, ',' ORDER BY k.ord) || ')'
               FROM pg_constraint con
               JOIN pg_class c ON c.oid = con.conrelid
               CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
              WHERE con.contype = 'p' AND c.relname LIKE 'act\\_%'
              GROUP BY con.oid, c.relname",
        )
        .await
        .into_iter()
        .collect();
    let expected: BTreeSet<String> = EXPECTED
        .iter()
        .map(|(t, _)| {
            let key = COMPOSITE_KEYS.iter().find(|(k, _)| k == t).map_or("id_", |(_, cols)| cols);
            format!("{t}({key})")
        })
        .collect();
    assert_eq!(actual, expected);
}

#[tokio::test]
async fn standalone_foreign_keys_are_exactly_those_of_camunda() {
    let db = TestDb::new().await;
    let actual: BTreeSet<String> = db
        .strings(
            "SELECT con.conname || ' ' || c.relname || '(' || string_agg(a.attname, ',' ORDER BY k.ord) || ') -> '
                    || r.relname || '(' || (SELECT string_agg(ra.attname, ',') FROM unnest(con.confkey) rk
                                             JOIN pg_attribute ra ON ra.attrelid = r.oid AND ra.attnum = rk) || ')'
                    || CASE WHEN con.condeferrable THEN ' deferrable' ELSE '' END
                    || CASE WHEN con.confdeltype <> 'a' THEN ' on-delete=' || con.confdeltype::text ELSE '' END
               FROM pg_constraint con
               JOIN pg_class c ON c.oid = con.conrelid
               JOIN pg_class r ON r.oid = con.confrelid
               CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
              WHERE con.contype = 'f' AND c.relname LIKE 'act\\_%'
              GROUP BY con.oid, con.conname, con.confkey, con.condeferrable, con.confdeltype, c.relname, r.relname, r.oid",
        )
        .await
        .into_iter()
        .collect();
    // Not deferrable, no cascading action: deletion must order its statements itself (§7.6).
    let expected: BTreeSet<String> =
        EXPECTED_FKS.iter().map(|(name, t, col, rt)| format!("{name} {t}({col}) -> {rt}(id_)")).collect();
    let missing: Vec<_> = expected.difference(&actual).collect();
    let unexpected: Vec<_> = actual.difference(&expected).collect();
    assert!(missing.is_empty() && unexpected.is_empty(), "missing: {missing:#?}\nunexpected: {unexpected:#?}");
}

#[tokio::test]
async fn standalone_has_the_indexes_deletion_relies_on() {
    let db = TestDb::new().await;
    let indexes = act_indexes(&db).await;
    let missing: Vec<String> = DELETION_INDEXES
        .iter()
        .filter(|(table, lead)| !indexes.iter().any(|(t, cols, _)| t == table && cols.starts_with(&to_vec(lead))))
        .map(|(table, lead)| format!("{table}({})", lead.join(", ")))
        .collect();
    assert!(missing.is_empty(), "no index leading with: {missing:?}");
    assert!(
        indexes.iter().any(|(t, cols, unique)| t == "act_hi_procinst" && *cols == ["proc_inst_id_"] && *unique),
        "act_hi_procinst.proc_inst_id_ must be unique"
    );
}

#[tokio::test]
async fn standalone_has_no_proc_inst_index_on_event_subscriptions_or_external_tasks() {
    // As in Camunda: deletion must reach these tables through execution_id_ (design §7).
    let db = TestDb::new().await;
    let offending: Vec<_> = act_indexes(&db)
        .await
        .into_iter()
        .filter(|(t, cols, _)| {
            (t == "act_ru_event_subscr" || t == "act_ru_ext_task")
                && cols.first().map(String::as_str) == Some("proc_inst_id_")
        })
        .collect();
    assert!(offending.is_empty(), "{offending:?}");
}

#[tokio::test]
async fn standalone_has_every_index_the_reference_names() {
    let db = TestDb::new().await;
    let indexes = act_indexes(&db).await;
    let missing: Vec<String> = REFERENCE_INDEXES
        .iter()
        .filter(|(table, cols, unique)| {
            !indexes.iter().any(|(t, c, u)| t == table && *c == to_vec(cols) && (u == unique || !*unique))
        })
        .map(|(table, cols, unique)| format!("{}{table}({})", if *unique { "unique " } else { "" }, cols.join(", ")))
        .collect();
    assert!(missing.is_empty(), "missing indexes: {missing:#?}");
}

#[tokio::test]
async fn a_standalone_database_passes_the_attached_check() {
    let db = TestDb::new().await;
    shared::db::schema::check_attached(&db.db).await.unwrap();
}

#[test]
fn sweep_requires_only_columns_camunda_has() {
    let expected = expected_columns();
    let unknown: Vec<String> = shared::db::schema::REQUIRED_COLUMNS
        .iter()
        .flat_map(|(t, cols)| cols.iter().map(move |c| format!("{t}.{c}")))
        .filter(|key| !expected.contains_key(key))
        .collect();
    assert!(unknown.is_empty(), "REQUIRED_COLUMNS names columns Camunda 7.24 lacks: {unknown:?}");
}

/// Camunda 7.24's `ACT_HI_JOB_LOG` (`activiti.postgres.create.history.sql`), column by column.
const ACT_HI_JOB_LOG: &[&str] = &[
    "id_ vc64 NN",
    "timestamp_ ts NN",
    "job_id_ vc64 NN",
    "job_duedate_ ts",
    "job_retries_ int",
    "job_priority_ bigint NN",
    "job_exception_msg_ vc4000",
    "job_exception_stack_id_ vc64",
    "job_state_ int",
    "job_def_id_ vc64",
    "job_def_type_ vc255",
    "job_def_configuration_ vc255",
    "act_id_ vc255",
    "failed_act_id_ vc255",
    "execution_id_ vc64",
    "root_proc_inst_id_ vc64",
    "process_instance_id_ vc64",
    "process_def_id_ vc64",
    "process_def_key_ vc255",
    "deployment_id_ vc64",
    "sequence_counter_ bigint",
    "tenant_id_ vc64",
    "hostname_ vc255",
    "removal_time_ ts",
    "batch_id_ vc64",
];

#[tokio::test]
async fn the_job_log_has_the_columns_of_camundas_act_hi_job_log() {
    let db = TestDb::new().await;
    let actual = db
        .strings(
            "SELECT column_name || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || c.is_nullable
               FROM information_schema.columns c
               JOIN pg_attribute a ON a.attrelid = 'sweep_hi_job_log'::regclass AND a.attname = c.column_name
              WHERE c.table_name = 'sweep_hi_job_log' ORDER BY c.ordinal_position",
        )
        .await;
    let expected: Vec<String> = ACT_HI_JOB_LOG
        .iter()
        .map(|spec| {
            let parts: Vec<&str> = spec.split_whitespace().collect();
            // Sweep keeps every time with its zone, as in its other tables.
            let kind = if parts[1] == "ts" { "timestamp with time zone".to_owned() } else { pg_type(parts[1]) };
            // Sweep's rows always say what they record and of which batch.
            let nullable = parts.len() == 2 && !["job_state_", "batch_id_"].contains(&parts[0]);
            format!("{} {kind} {}", parts[0], if nullable { "YES" } else { "NO" })
        })
        .collect();
    assert_eq!(actual, expected);
}

fn to_vec(cols: &[&str]) -> Vec<String> {
    cols.iter().map(|c| (*c).to_owned()).collect()
}

#[tokio::test]
async fn migrating_twice_is_a_no_op() {
    let db = TestDb::new().await;
    let before = db.scalar("SELECT count(*) FROM sweep_migration").await;
    let one = sea_orm::Database::connect(sea_orm::ConnectOptions::new(db.url.clone()).max_connections(1).to_owned())
        .await
        .unwrap();
    let mode = shared::db::migration::run(&one).await.unwrap();
    assert_eq!(mode, shared::db::migration::Mode::Standalone);
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_migration").await, before);
}

// ---------------------------------------------------------------------------------------------
// Attached mode
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn attaching_leaves_the_engine_catalog_untouched_and_adds_only_sweep_tables() {
    let db = engine_database().await;
    let catalog_before = act_catalog(&db).await;
    let relations_before = relations(&db).await;
    assert!(catalog_before.len() > 500, "catalog snapshot looks empty: {} lines", catalog_before.len());

    assert_eq!(migrate(&db).await.unwrap(), Mode::Attached);

    assert_eq!(act_catalog(&db).await, catalog_before, "attached migration changed an ACT_ object");
    let relations_after = relations(&db).await;
    let added: Vec<_> = relations_after.difference(&relations_before).collect();
    let removed: Vec<_> = relations_before.difference(&relations_after).collect();
    assert!(removed.is_empty(), "removed: {removed:?}");
    assert!(relations_after.contains("public.sweep_migration"), "sweep_migration not created: {added:?}");
    let foreign: Vec<_> = added.iter().filter(|r| !r.starts_with("public.sweep_")).collect();
    assert!(foreign.is_empty(), "created outside the sweep_ prefix: {foreign:?}");
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_migration WHERE version = 'm0001_engine_tables'").await, 0);

    let migrations = db.strings("SELECT version FROM sweep_migration ORDER BY version").await;
    assert_eq!(migrate(&db).await.unwrap(), Mode::Attached, "second run");
    assert_eq!(act_catalog(&db).await, catalog_before, "second run changed an ACT_ object");
    assert_eq!(relations(&db).await, relations_after, "second run changed the relations");
    assert_eq!(db.strings("SELECT version FROM sweep_migration ORDER BY version").await, migrations);
}

/// Drops `table.column` from an engine database, migrates, and checks the error names it and
/// nothing was created or changed.
async fn attaching_without(table: &str, column: &str) {
    let db = engine_database().await;
    db.exec(&format!("ALTER TABLE {table} DROP COLUMN {column}")).await;
    let catalog_before = act_catalog(&db).await;
    let relations_before = relations(&db).await;

    let err = migrate(&db).await.expect_err("migrating must fail");

    let message = err.to_string();
    assert!(message.contains(&format!("{table}.{column}")), "message does not name {table}.{column}: {message}");
    assert_eq!(relations(&db).await, relations_before, "something was created");
    assert_eq!(act_catalog(&db).await, catalog_before, "an ACT_ object changed");
    assert_eq!(db.scalar("SELECT count(*) FROM pg_class WHERE relname LIKE 'sweep\\_%'").await, 0);
}

#[tokio::test]
async fn attaching_to_an_engine_without_super_exec_fails_naming_it_and_creates_nothing() {
    attaching_without("act_ru_execution", "super_exec_").await;
}

#[tokio::test]
async fn attaching_to_an_engine_without_delete_reason_fails_naming_it_and_creates_nothing() {
    attaching_without("act_hi_procinst", "delete_reason_").await;
}

#[tokio::test]
async fn attaching_to_an_engine_without_login_attempts_fails_naming_it_and_creates_nothing() {
    attaching_without("act_id_user", "attempts_").await;
}

#[tokio::test]
async fn attaching_to_an_engine_without_operation_ids_fails_naming_it_and_creates_nothing() {
    attaching_without("act_hi_op_log", "operation_id_").await;
}

#[tokio::test]
async fn a_database_with_other_act_tables_is_not_extended_with_engine_tables() {
    // Some Camunda tables but no act_ru_execution: not Sweep's to complete, and not attachable.
    let db = TestDb::empty().await;
    db.exec("CREATE TABLE act_ge_property (name_ varchar(64) PRIMARY KEY, value_ varchar(300), rev_ integer)").await;
    let relations_before = relations(&db).await;

    let err = migrate(&db).await.expect_err("migrating must fail");

    let message = err.to_string();
    assert!(message.contains("act_ru_execution"), "message does not name the missing table: {message}");
    assert_eq!(relations(&db).await, relations_before, "something was created");
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

/// Starts `n` migrations at once, each on its own single-connection pool, and returns their
/// results.
async fn migrate_concurrently(db: &TestDb, n: usize) -> Vec<Result<Mode, shared::Error>> {
    let mut pools = Vec::new();
    for _ in 0..n {
        pools.push(one_connection(&db.url).await);
    }
    // Connect first, then release all runs together, so they really overlap.
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = pools
        .into_iter()
        .map(|pool| {
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let result = migration::run(&pool).await;
                pool.close().await.ok();
                result
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("migration task panicked"));
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_of_an_empty_database_all_succeed_and_apply_each_migration_once() {
    let db = TestDb::empty().await;
    let results = migrate_concurrently(&db, 4).await;
    let modes: Vec<String> = results.iter().map(|r| format!("{r:?}")).collect();
    assert!(results.iter().all(|r| matches!(r, Ok(Mode::Standalone))), "{modes:?}");
    assert_eq!(db.scalar("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'act\\_%'").await, EXPECTED.len() as i64);
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_migration WHERE version = 'm0001_engine_tables'").await, 1);
    assert_eq!(
        db.scalar("SELECT count(*) - count(DISTINCT version) FROM sweep_migration").await,
        0,
        "a migration was recorded twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_of_an_engine_database_all_attach() {
    let db = engine_database().await;
    let catalog_before = act_catalog(&db).await;
    let results = migrate_concurrently(&db, 4).await;
    let modes: Vec<String> = results.iter().map(|r| format!("{r:?}")).collect();
    assert!(results.iter().all(|r| matches!(r, Ok(Mode::Attached))), "{modes:?}");
    assert_eq!(act_catalog(&db).await, catalog_before);
    assert_eq!(db.scalar("SELECT count(*) - count(DISTINCT version) FROM sweep_migration").await, 0);
}

#[tokio::test]
async fn migrating_through_a_pool_of_several_connections_releases_its_lock() {
    let db = TestDb::empty().await;
    // Idle connections of a pool take turns, so consecutive statements land on different
    // sessions; try several pool sizes so that no statement count happens to line up.
    for size in 2..=6 {
        let pool = sea_orm::Database::connect(
            sea_orm::ConnectOptions::new(db.url.clone()).max_connections(size).sqlx_logging(false).to_owned(),
        )
        .await
        .unwrap();
        let mut warm = tokio::task::JoinSet::new();
        for _ in 0..size {
            let pool = pool.clone();
            warm.spawn(async move { pool.execute_unprepared("SELECT pg_sleep(0.05)").await.map(|_| ()) });
        }
        for r in warm.join_all().await {
            r.unwrap();
        }

        for run in 0..2 {
            let mode = tokio::time::timeout(Duration::from_secs(10), migration::run(&pool)).await;
            assert!(matches!(mode, Ok(Ok(Mode::Standalone))), "pool of {size}, run {run}: {mode:?}");
            let held = db
                .scalar(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
                        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                )
                .await;
            assert_eq!(held, 0, "pool of {size}, run {run}: the migration lock is still held");
            // Shift which session the next run starts on.
            pool.execute_unprepared("SELECT 1").await.unwrap();
        }
        pool.close().await.ok();
    }
}

// ---------------------------------------------------------------------------------------------
// `sweep-api migrate`
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn migrate_subcommand_creates_the_standalone_schema_and_is_repeatable() {
    let db = TestDb::empty().await;
    let settings = db.settings(&[]);
    api::cli::migrate(&settings).await.expect("first migrate");
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_migration WHERE version = 'm0001_engine_tables'").await, 1);
    assert_eq!(db.scalar("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'act\\_%'").await, EXPECTED.len() as i64);
    let catalog = act_catalog(&db).await;
    let migrations = db.strings("SELECT version FROM sweep_migration ORDER BY version").await;

    api::cli::migrate(&settings).await.expect("second migrate");
    assert_eq!(act_catalog(&db).await, catalog);
    assert_eq!(db.strings("SELECT version FROM sweep_migration ORDER BY version").await, migrations);
}

#[tokio::test]
async fn migrate_subcommand_attaches_to_an_engine_database() {
    let db = engine_database().await;
    let catalog = act_catalog(&db).await;
    api::cli::migrate(&db.settings(&[])).await.expect("migrate");
    assert_eq!(act_catalog(&db).await, catalog);
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_migration WHERE version = 'm0001_engine_tables'").await, 0);
}

#[tokio::test]
async fn migrate_subcommand_reports_a_missing_column_by_name() {
    let db = engine_database().await;
    db.exec("ALTER TABLE act_ru_execution DROP COLUMN super_exec_").await;
    let err = api::cli::migrate(&db.settings(&[])).await.expect_err("must fail");
    let message = format!("{err:#}");
    assert!(message.contains("act_ru_execution.super_exec_"), "{message}");
}

#[tokio::test]
async fn migrate_subcommand_names_database_url_when_the_database_is_unreachable() {
    // Port 1 on localhost refuses connections at once.
    let settings = system_tests::settings_for(
        "postgres://postgres@127.0.0.1:1/nowhere",
        &[("SWEEP__DATABASE__CONNECT_TIMEOUT", "2s")],
    );
    let err = api::cli::migrate(&settings).await.expect_err("must fail");
    let message = format!("{err:#}");
    assert!(message.contains("database.url"), "{message}");
}

#[test]
fn a_non_postgres_database_url_is_rejected_naming_the_setting() {
    let env = HashMap::from([("SWEEP__DATABASE__URL".to_owned(), "mysql://x".to_owned())]);
    let err = shared::Settings::load_from(env).expect_err("mysql URL must be rejected");
    assert!(err.to_string().contains("database.url"), "{err}");
}

#[tokio::test]
async fn sweeps_sessions_run_without_jit_compilation() {
    let db = TestDb::new().await;
    let settings = db.settings(&[]);
    let pool = shared::db::connect(&settings.database, "sweep-test").await.unwrap();
    let row = pool
        .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, "SHOW jit"))
        .await
        .unwrap()
        .expect("one row");
    assert_eq!(
        row.try_get::<String>("", "jit").unwrap(),
        "off",
        "JIT costs the deletion statements more than it saves"
    );
    // The statement timeout of the settings still applies beside it.
    let row = pool
        .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, "SHOW statement_timeout"))
        .await
        .unwrap()
        .expect("one row");
    assert_ne!(row.try_get::<String>("", "statement_timeout").unwrap(), "0");
}

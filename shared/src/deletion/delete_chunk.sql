-- Deletes one chunk of process instances and ends their history, as Camunda's engine does.
-- $1 the instance ids (locked by resolve_and_lock.sql in the same transaction), $2 their
-- delete reason, $3 now, $4 the delete reason of their tasks, $5 skip_subprocesses, $6 the user
-- to name in one ACT_HI_OP_LOG row per instance (null: none), $7 the batch id of those rows.
-- One statement of data-modifying CTEs: PostgreSQL checks the non-deferrable foreign keys once,
-- when it ends, so no ordering between the tables is needed. Returns the rows it touched.
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
-- with skip_subprocesses ($5), called instances that are not deleted are detached from
-- their deleted callers first; foreign keys are checked when the statement ends
detached AS (
    UPDATE act_ru_execution sub
       SET super_exec_ = NULL, rev_ = sub.rev_ + 1
     WHERE $5 AND sub.super_exec_ IN (SELECT id_ FROM ex) AND NOT (sub.proc_inst_id_ = ANY($1))
    RETURNING sub.id_, sub.suspension_state_
),
h_detached AS (
    UPDATE act_hi_procinst h
       SET super_process_instance_id_ = NULL,
           state_ = CASE WHEN d.suspension_state_ = 2 THEN 'SUSPENDED' ELSE 'ACTIVE' END
      FROM detached d
     WHERE h.id_ = d.id_
    RETURNING 1
),
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
    RETURNING id_, proc_def_id_, proc_def_key_, root_proc_inst_id_, tenant_id_
),
-- beyond Camunda: who deleted each instance, when, why and in which batch (op_log.rs describes
-- the row), from the history row this statement ends
op_log AS (
    INSERT INTO act_hi_op_log (id_, proc_def_id_, proc_def_key_, root_proc_inst_id_, proc_inst_id_, batch_id_,
                               user_id_, timestamp_, operation_type_, operation_id_, entity_type_, tenant_id_,
                               category_)
    SELECT gen_random_uuid()::varchar, h.proc_def_id_, h.proc_def_key_, h.root_proc_inst_id_, h.id_, $7,
           $6, $3, 'Delete', gen_random_uuid()::varchar, 'ProcessInstance', h.tenant_id_, 'Operator'
      FROM h_pi h
     WHERE $6::varchar IS NOT NULL
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
     + (SELECT count(*) FROM h_inc) + (SELECT count(*) FROM h_detached) AS history_rows,
       (SELECT count(*) FROM op_log) AS audit_rows

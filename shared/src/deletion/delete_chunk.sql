-- Deletes one chunk of process instances and ends their history, as Camunda's engine does.
-- $1 the instance ids (locked by resolve_and_lock.sql in the same transaction: the requested
-- ones, those they call, and callers ended by upward propagation), $2 their delete reason (null
-- when none), $3 now, $4 the delete reason of their tasks, $5 skip_subprocesses, $6 the user to
-- name in one ACT_HI_OP_LOG row per instance (null: none), $7 the batch id of those rows.
-- Upward propagation into callers that survive (propagate.sql): $8 executions to cut off,
-- $9/$10 surviving scope executions and the last concurrent child each one replaces, $11 last
-- concurrent children that stay as scopes, no longer concurrent. $12 the removal-time strategy
-- (end, start or none), $13 the host name written to job-log rows.
-- One statement of data-modifying CTEs: PostgreSQL checks the non-deferrable foreign keys once,
-- when it ends, so no ordering between the tables is needed. Every CTE reads the snapshot the
-- statement started with, so no row is modified by two of them. History tables that only some
-- databases have are written by fragments inserted at the optional-CTE marker (history.rs).
-- Returns the rows it touched.
WITH RECURSIVE
ex AS (
    SELECT id_ FROM act_ru_execution WHERE proc_inst_id_ = ANY($1)
    UNION ALL
    SELECT unnest($8::varchar[])
),
-- tasks of the instances and of cut-off executions, and their sub-tasks, recursively
tk (id_) AS (
    SELECT id_ FROM act_ru_task WHERE proc_inst_id_ = ANY($1)
    UNION
    SELECT id_ FROM act_ru_task WHERE execution_id_ = ANY($8)
    UNION
    SELECT s.id_ FROM tk JOIN act_ru_task s ON s.parent_task_id_ = tk.id_
),
inc AS (
    SELECT id_ FROM act_ru_incident WHERE proc_inst_id_ = ANY($1) OR execution_id_ = ANY($8)
    UNION
    -- incidents elsewhere caused by these instances' incidents go with them, as in Camunda
    SELECT i.id_ FROM act_ru_incident i
     WHERE i.cause_incident_id_ IN (SELECT id_ FROM act_ru_incident WHERE proc_inst_id_ = ANY($1) OR execution_id_ = ANY($8))
        OR i.root_cause_incident_id_ IN (SELECT id_ FROM act_ru_incident WHERE proc_inst_id_ = ANY($1) OR execution_id_ = ANY($8))
),
var AS (
    SELECT id_ FROM act_ru_variable WHERE proc_inst_id_ = ANY($1)
    UNION
    SELECT id_ FROM act_ru_variable WHERE execution_id_ = ANY($8)
    UNION
    SELECT id_ FROM act_ru_variable WHERE task_id_ = ANY (ARRAY(SELECT id_ FROM tk))
    UNION
    -- a variable of a replaced concurrent child whose name its scope has already: Camunda keeps
    -- the scope's variable (with the child's value); Sweep keeps the scope's value
    SELECT v.id_ FROM act_ru_variable v
     WHERE v.execution_id_ = ANY($10) AND v.task_id_ IS NULL
       AND EXISTS (SELECT 1 FROM unnest($9::varchar[], $10::varchar[]) m(scope_id, child)
                     JOIN act_ru_variable o ON o.var_scope_ = m.scope_id AND o.name_ = v.name_
                    WHERE m.child = v.execution_id_)
),
jb AS (
    SELECT id_ FROM act_ru_job WHERE process_instance_id_ = ANY($1)
    UNION ALL
    SELECT id_ FROM act_ru_job WHERE execution_id_ = ANY($8)
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
-- a surviving scope left with one concurrent child takes its place: its activity, activity
-- instance and activity state, its children, called instances, tasks, jobs, variables, external
-- tasks, event subscriptions and incidents
m AS (SELECT * FROM unnest($9::varchar[], $10::varchar[]) AS m(scope_id, child)),
m_scope AS (
    UPDATE act_ru_execution a
       SET act_id_ = c.act_id_, act_inst_id_ = c.act_inst_id_, is_active_ = c.is_active_, rev_ = a.rev_ + 1,
           cached_ent_state_ = coalesce(a.cached_ent_state_, 0) | coalesce(c.cached_ent_state_, 0)
      FROM m JOIN act_ru_execution c ON c.id_ = m.child
     WHERE a.id_ = m.scope_id
    RETURNING 1
),
m_children AS (
    UPDATE act_ru_execution e SET parent_id_ = m.scope_id, rev_ = e.rev_ + 1
      FROM m WHERE e.parent_id_ = m.child AND NOT (e.id_ = ANY($8))
    RETURNING 1
),
m_called AS (
    UPDATE act_ru_execution e SET super_exec_ = m.scope_id, rev_ = e.rev_ + 1
      FROM m WHERE e.super_exec_ = m.child AND NOT (e.proc_inst_id_ = ANY($1))
    RETURNING 1
),
m_task AS (
    UPDATE act_ru_task t SET execution_id_ = m.scope_id, rev_ = t.rev_ + 1
      FROM m WHERE t.execution_id_ = m.child
    RETURNING t.id_, t.execution_id_
),
h_m_task AS (
    UPDATE act_hi_taskinst h SET execution_id_ = t.execution_id_ FROM m_task t WHERE h.id_ = t.id_ RETURNING 1
),
m_job AS (UPDATE act_ru_job j SET execution_id_ = m.scope_id FROM m WHERE j.execution_id_ = m.child RETURNING 1),
m_var AS (
    UPDATE act_ru_variable v
       SET execution_id_ = m.scope_id, rev_ = v.rev_ + 1,
           var_scope_ = CASE WHEN v.task_id_ IS NULL THEN m.scope_id ELSE v.var_scope_ END
      FROM m WHERE v.execution_id_ = m.child AND v.id_ NOT IN (SELECT id_ FROM var)
    RETURNING 1
),
m_ext AS (UPDATE act_ru_ext_task x SET execution_id_ = m.scope_id FROM m WHERE x.execution_id_ = m.child RETURNING 1),
m_evt AS (UPDATE act_ru_event_subscr s SET execution_id_ = m.scope_id FROM m WHERE s.execution_id_ = m.child RETURNING 1),
m_inc AS (
    UPDATE act_ru_incident i SET execution_id_ = m.scope_id
      FROM m WHERE i.execution_id_ = m.child AND i.id_ NOT IN (SELECT id_ FROM inc)
    RETURNING 1
),
unconcurrent AS (
    UPDATE act_ru_execution e SET is_concurrent_ = false, rev_ = e.rev_ + 1 WHERE e.id_ = ANY($11) RETURNING 1
),
d_inc AS (DELETE FROM act_ru_incident WHERE id_ IN (SELECT id_ FROM inc) RETURNING id_),
d_var AS (DELETE FROM act_ru_variable WHERE id_ = ANY (ARRAY(SELECT id_ FROM var)) RETURNING bytearray_id_),
d_idl AS (DELETE FROM act_ru_identitylink WHERE task_id_ = ANY (ARRAY(SELECT id_ FROM tk)) RETURNING 1),
-- event subscriptions and external tasks have no index on proc_inst_id_: go through executions
d_evt AS (DELETE FROM act_ru_event_subscr WHERE execution_id_ = ANY (ARRAY(SELECT id_ FROM ex)) RETURNING 1),
d_ext AS (DELETE FROM act_ru_ext_task WHERE execution_id_ = ANY (ARRAY(SELECT id_ FROM ex)) RETURNING *),
d_job AS (DELETE FROM act_ru_job WHERE id_ = ANY (ARRAY(SELECT id_ FROM jb)) RETURNING *),
d_byt AS (
    DELETE FROM act_ge_bytearray
     WHERE id_ = ANY (ARRAY(SELECT bytearray_id_ FROM d_var
                            UNION ALL SELECT exception_stack_id_ FROM d_job
                            UNION ALL SELECT error_details_id_ FROM d_ext))
    RETURNING 1
),
d_tsk AS (DELETE FROM act_ru_task WHERE id_ = ANY (ARRAY(SELECT id_ FROM tk)) RETURNING id_),
d_aut AS (
    DELETE FROM act_ru_authorization
     WHERE (resource_type_ = 8 AND resource_id_ = ANY($1))
        OR (resource_type_ = 7 AND resource_id_ = ANY (ARRAY(SELECT id_ FROM tk)))
    RETURNING 1
),
d_exe AS (
    DELETE FROM act_ru_execution
     WHERE id_ = ANY (ARRAY(SELECT id_ FROM ex UNION ALL SELECT unnest($10::varchar[])))
    RETURNING 1
),
-- removal time (strategy end): a root instance ending here dates the history of its whole tree
-- (every row with its ROOT_PROC_INST_ID_) with its end time plus its definition's time to live
rt AS (
    SELECT h.id_ AS root, $3 + make_interval(days => d.history_ttl_) AS removal
      FROM (SELECT * FROM act_hi_procinst WHERE id_ = ANY($1) OFFSET 0) h
      JOIN act_re_procdef d ON d.id_ = h.proc_def_id_
     WHERE $12 = 'end' AND h.root_proc_inst_id_ = h.id_ AND h.end_time_ IS NULL AND d.history_ttl_ IS NOT NULL
),
-- the removal time of rows written here: strategy end as above; start: the root's, set at its start
new_rt (root, removal) AS (
    SELECT root, removal FROM rt
    UNION ALL
    SELECT h.id_, h.removal_time_ FROM act_hi_procinst h
     WHERE $12 = 'start' AND h.removal_time_ IS NOT NULL
       AND h.id_ IN (SELECT root_proc_inst_id_ FROM act_hi_procinst WHERE id_ = ANY($1))
),
-- the history rows to end or date, each found through an index (one OR across columns would
-- read the whole table; OFFSET 0 keeps a generic plan from reading all open rows instead).
-- `= ANY (ARRAY(…))` throughout: the planner then looks rows up by index rather than joining
-- whole tables against a CTE whose size it cannot estimate
pi_rows AS (
    SELECT id_ FROM (SELECT id_, end_time_ FROM act_hi_procinst WHERE id_ = ANY($1) OFFSET 0) h WHERE end_time_ IS NULL
    UNION
    SELECT h.id_ FROM rt JOIN act_hi_procinst h ON h.root_proc_inst_id_ = rt.root
),
act_rows AS (
    SELECT id_ FROM (SELECT id_, end_time_ FROM act_hi_actinst WHERE proc_inst_id_ = ANY($1) OFFSET 0) a
     WHERE end_time_ IS NULL
    UNION
    SELECT id_ FROM (SELECT id_, end_time_ FROM act_hi_actinst WHERE execution_id_ = ANY($8) OFFSET 0) a
     WHERE end_time_ IS NULL
    UNION
    SELECT a.id_ FROM rt JOIN act_hi_actinst a ON a.root_proc_inst_id_ = rt.root
),
tsk_rows AS (
    SELECT id_ FROM d_tsk
    UNION
    SELECT t.id_ FROM rt JOIN act_hi_taskinst t ON t.root_proc_inst_id_ = rt.root
),
inc_rows AS (
    SELECT id_ FROM d_inc
    UNION
    SELECT i.id_ FROM rt JOIN act_hi_incident i ON i.root_proc_inst_id_ = rt.root
),
h_pi AS (
    UPDATE act_hi_procinst h
       SET end_time_ = CASE WHEN h.id_ = ANY($1) AND h.end_time_ IS NULL THEN $3 ELSE h.end_time_ END,
           duration_ = CASE WHEN h.id_ = ANY($1) AND h.end_time_ IS NULL
                            THEN (EXTRACT(EPOCH FROM ($3 - h.start_time_)) * 1000)::bigint ELSE h.duration_ END,
           state_ = CASE WHEN h.id_ = ANY($1) AND h.end_time_ IS NULL THEN 'EXTERNALLY_TERMINATED' ELSE h.state_ END,
           delete_reason_ = CASE WHEN h.id_ = ANY($1) AND h.end_time_ IS NULL THEN $2 ELSE h.delete_reason_ END,
           end_act_id_ = CASE WHEN h.id_ = ANY($1) AND h.end_time_ IS NULL THEN NULL ELSE h.end_act_id_ END,
           removal_time_ = coalesce((SELECT rt.removal FROM rt WHERE rt.root = h.root_proc_inst_id_), h.removal_time_)
     WHERE h.id_ = ANY (ARRAY(SELECT id_ FROM pi_rows))
    RETURNING h.id_, h.proc_def_id_, h.proc_def_key_, h.root_proc_inst_id_, h.tenant_id_,
              h.id_ = ANY($1) AND h.end_time_ = $3 AND h.state_ = 'EXTERNALLY_TERMINATED' AS ended
),
-- beyond Camunda: who deleted each instance, when, why and in which batch (op_log.rs describes
-- the row), from the history row this statement ends
op_log AS (
    INSERT INTO act_hi_op_log (id_, proc_def_id_, proc_def_key_, root_proc_inst_id_, proc_inst_id_, batch_id_,
                               user_id_, timestamp_, operation_type_, operation_id_, entity_type_, tenant_id_,
                               category_, removal_time_)
    SELECT sweep_uuid_v7(), h.proc_def_id_, h.proc_def_key_, h.root_proc_inst_id_, h.id_, $7,
           $6, $3, 'Delete', gen_random_uuid()::varchar, 'ProcessInstance', h.tenant_id_, 'Operator',
           (SELECT r.removal FROM new_rt r WHERE r.root = h.root_proc_inst_id_)
      FROM h_pi h
     WHERE $6::varchar IS NOT NULL AND h.ended
    RETURNING 1
),
h_act AS (
    UPDATE act_hi_actinst a
       SET end_time_ = CASE WHEN a.end_time_ IS NULL AND (a.proc_inst_id_ = ANY($1) OR a.execution_id_ = ANY($8))
                            THEN $3 ELSE a.end_time_ END,
           duration_ = CASE WHEN a.end_time_ IS NULL AND (a.proc_inst_id_ = ANY($1) OR a.execution_id_ = ANY($8))
                            THEN (EXTRACT(EPOCH FROM ($3 - a.start_time_)) * 1000)::bigint ELSE a.duration_ END,
           act_inst_state_ = CASE WHEN a.end_time_ IS NULL AND (a.proc_inst_id_ = ANY($1) OR a.execution_id_ = ANY($8))
                                  THEN 2 ELSE a.act_inst_state_ END,
           removal_time_ = coalesce((SELECT rt.removal FROM rt WHERE rt.root = a.root_proc_inst_id_), a.removal_time_)
     WHERE a.id_ = ANY (ARRAY(SELECT id_ FROM act_rows))
    RETURNING 1
),
h_tsk AS (
    UPDATE act_hi_taskinst t
       SET end_time_ = CASE WHEN t.end_time_ IS NULL AND t.id_ IN (SELECT id_ FROM d_tsk) THEN $3 ELSE t.end_time_ END,
           duration_ = CASE WHEN t.end_time_ IS NULL AND t.id_ IN (SELECT id_ FROM d_tsk)
                            THEN (EXTRACT(EPOCH FROM ($3 - t.start_time_)) * 1000)::bigint ELSE t.duration_ END,
           delete_reason_ = CASE WHEN t.end_time_ IS NULL AND t.id_ IN (SELECT id_ FROM d_tsk) THEN $4 ELSE t.delete_reason_ END,
           task_state_ = CASE WHEN t.end_time_ IS NULL AND t.id_ IN (SELECT id_ FROM d_tsk) THEN 'Deleted' ELSE t.task_state_ END,
           removal_time_ = coalesce((SELECT rt.removal FROM rt WHERE rt.root = t.root_proc_inst_id_), t.removal_time_)
     WHERE t.id_ = ANY (ARRAY(SELECT id_ FROM tsk_rows))
    RETURNING 1
),
h_inc AS (
    UPDATE act_hi_incident i
       SET end_time_ = CASE WHEN i.end_time_ IS NULL AND i.id_ IN (SELECT id_ FROM d_inc) THEN $3 ELSE i.end_time_ END,
           incident_state_ = CASE WHEN i.end_time_ IS NULL AND i.id_ IN (SELECT id_ FROM d_inc) THEN 2 ELSE i.incident_state_ END,
           removal_time_ = coalesce((SELECT rt.removal FROM rt WHERE rt.root = i.root_proc_inst_id_), i.removal_time_)
     WHERE i.id_ = ANY (ARRAY(SELECT id_ FROM inc_rows))
    RETURNING 1
),
h_var AS (
    UPDATE act_hi_varinst v SET removal_time_ = rt.removal FROM rt WHERE v.root_proc_inst_id_ = rt.root RETURNING 1
),
h_opl AS (
    UPDATE act_hi_op_log l SET removal_time_ = rt.removal FROM rt WHERE l.root_proc_inst_id_ = rt.root RETURNING 1
),
-- history byte arrays only (TYPE_ 3): runtime ones of the tree are deleted above
h_byt AS (
    UPDATE act_ge_bytearray b SET removal_time_ = rt.removal FROM rt
     WHERE b.root_proc_inst_id_ = rt.root AND b.type_ = 3
    RETURNING 1
)/*OPTIONAL_CTES*/
SELECT (SELECT count(*) FROM d_inc) + (SELECT count(*) FROM d_var) + (SELECT count(*) FROM d_idl)
     + (SELECT count(*) FROM d_evt) + (SELECT count(*) FROM d_ext) + (SELECT count(*) FROM d_job)
     + (SELECT count(*) FROM d_byt) + (SELECT count(*) FROM d_tsk) + (SELECT count(*) FROM d_aut)
     + (SELECT count(*) FROM d_exe) AS runtime_rows,
       (SELECT count(*) FROM h_pi) + (SELECT count(*) FROM h_act) + (SELECT count(*) FROM h_tsk)
     + (SELECT count(*) FROM h_inc) + (SELECT count(*) FROM h_detached) + (SELECT count(*) FROM h_var)
     + (SELECT count(*) FROM h_opl) + (SELECT count(*) FROM h_byt) + (SELECT count(*) FROM h_m_task)/*OPTIONAL_COUNTS*/ AS history_rows,
       (SELECT count(*) FROM op_log) AS audit_rows,
       (SELECT count(*) FROM m_scope) + (SELECT count(*) FROM m_children) + (SELECT count(*) FROM m_called)
     + (SELECT count(*) FROM m_task) + (SELECT count(*) FROM m_job) + (SELECT count(*) FROM m_var)
     + (SELECT count(*) FROM m_ext) + (SELECT count(*) FROM m_evt) + (SELECT count(*) FROM m_inc)
     + (SELECT count(*) FROM unconcurrent) AS caller_rows

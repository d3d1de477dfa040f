-- Fragment of delete_chunk.sql, when the database has ACT_HI_EXT_TASK_LOG: one "deleted" entry
-- (STATE_ 3) per deleted external task, with its fields as Camunda copies them (no error; the
-- root instance from its execution).
ext_task_log AS (
    INSERT INTO act_hi_ext_task_log (id_, timestamp_, ext_task_id_, retries_, topic_name_, worker_id_, priority_,
                                     act_id_, act_inst_id_, execution_id_, proc_inst_id_, root_proc_inst_id_,
                                     proc_def_id_, proc_def_key_, tenant_id_, state_, removal_time_)
    SELECT sweep_uuid_v7(), $3, x.id_, x.retries_, x.topic_name_, x.worker_id_, x.priority_,
           x.act_id_, x.act_inst_id_, x.execution_id_, x.proc_inst_id_, e.root_proc_inst_id_,
           x.proc_def_id_, x.proc_def_key_, x.tenant_id_, 3,
           (SELECT r.removal FROM new_rt r WHERE r.root = e.root_proc_inst_id_)
      FROM d_ext x
      LEFT JOIN act_ru_execution e ON e.id_ = x.execution_id_
    RETURNING 1
),
h_ext_task_log AS (
    UPDATE act_hi_ext_task_log l SET removal_time_ = rt.removal FROM rt WHERE l.root_proc_inst_id_ = rt.root RETURNING 1
)

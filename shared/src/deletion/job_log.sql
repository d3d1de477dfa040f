-- Fragment of delete_chunk.sql, when the database has ACT_HI_JOB_LOG: one "deleted" entry
-- (JOB_STATE_ 3) per deleted job, with the job's fields as Camunda copies them (activity, type
-- and configuration from its job definition, the handler type when it has none; no exception;
-- the sequence counter the deletion increments).
job_log AS (
    INSERT INTO act_hi_job_log (id_, timestamp_, job_id_, job_duedate_, job_retries_, job_priority_, job_state_,
                                job_def_id_, job_def_type_, job_def_configuration_, act_id_, failed_act_id_,
                                execution_id_, root_proc_inst_id_, process_instance_id_, process_def_id_,
                                process_def_key_, deployment_id_, sequence_counter_, tenant_id_, hostname_,
                                removal_time_)
    SELECT sweep_uuid_v7(), $3, j.id_, j.duedate_, j.retries_, j.priority_, 3,
           j.job_def_id_, coalesce(jd.job_type_, j.handler_type_), jd.job_configuration_, jd.act_id_, j.failed_act_id_,
           j.execution_id_, j.root_proc_inst_id_, j.process_instance_id_, j.process_def_id_,
           j.process_def_key_, j.deployment_id_, coalesce(j.sequence_counter_, 0) + 1, j.tenant_id_, $13,
           (SELECT r.removal FROM new_rt r WHERE r.root = j.root_proc_inst_id_)
      FROM d_job j
      LEFT JOIN act_ru_jobdef jd ON jd.id_ = j.job_def_id_
    RETURNING 1
),
h_job_log AS (
    UPDATE act_hi_job_log l SET removal_time_ = rt.removal FROM rt WHERE l.root_proc_inst_id_ = rt.root RETURNING 1
)

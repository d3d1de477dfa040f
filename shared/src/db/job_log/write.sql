-- One entry of state $4 (message $3, host $5) for each job of batch $1 whose sequence number
-- is in $2, or, with $2 null, for each job not done. Due date and retries are the job's now.
INSERT INTO sweep_hi_job_log (id_, timestamp_, job_id_, job_duedate_, job_retries_, job_priority_, job_exception_msg_,
    job_state_, job_def_id_, job_def_type_, job_def_configuration_, tenant_id_, hostname_, batch_id_)
SELECT sweep_uuid_v7(), clock_timestamp(), j.id_, j.duedate_, j.retries_, j.priority_, $3, $4,
       b.batch_job_def_id_, b.type_, b.id_, b.tenant_id_, $5, b.id_
  FROM sweep_batch_job j JOIN sweep_batch b ON b.id_ = j.batch_id_
 WHERE j.batch_id_ = $1
   AND CASE WHEN $2::int[] IS NULL THEN j.state_ <> 'done' ELSE j.seq_ = ANY($2::int[]) END
 ORDER BY j.seq_

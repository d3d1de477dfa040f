-- Completes job $2 of batch $1, whose items are seq_ in ($3, $4], after its deletion, in one
-- statement: every pending item of the range ends deleted, except the instances $5 with their
-- states $6 and reasons $7 (those not deleted); the items of called instances $8, deleted along
-- with their caller and selected elsewhere in the batch, end deleted too if still pending; the
-- job is done with its counters recounted; and its log entry of state $10 (host $9) is written.
--
-- All parts see the ledger as it was when the statement began. A pending item of the range
-- that the outcome update leaves alone was changed meanwhile by a concurrent job, which only
-- ever marks items deleted (along with their caller), so the recount takes it as deleted.
WITH outcome AS (
    UPDATE sweep_batch_item i
       SET state_ = coalesce((SELECT x.s FROM unnest($5::varchar[], $6::varchar[]) AS x(id, s)
                               WHERE x.id = i.proc_inst_id_ LIMIT 1), 'deleted'),
           reason_ = (SELECT nullif(x.r, '') FROM unnest($5::varchar[], $7::varchar[]) AS x(id, r)
                       WHERE x.id = i.proc_inst_id_ LIMIT 1),
           updated_ = now()
     WHERE i.batch_id_ = $1 AND i.seq_ > $3 AND i.seq_ <= $4 AND i.state_ = 'pending'
    RETURNING i.seq_, i.state_
), with_caller AS (
    -- By row address, one index lookup per id (see batch_item::ROWS_OF_IDS).
    UPDATE sweep_batch_item
       SET state_ = CASE WHEN state_ = 'pending' THEN 'deleted' ELSE state_ END,
           reason_ = CASE WHEN state_ = 'pending' THEN 'deleted with its calling instance' ELSE reason_ END,
           updated_ = CASE WHEN state_ = 'pending' THEN now() ELSE updated_ END
     WHERE ctid = ANY (ARRAY(SELECT (SELECT i.ctid FROM sweep_batch_item i
                                      WHERE i.batch_id_ = $1 AND i.proc_inst_id_ = u.id AND i.by_id_
                                        AND NOT (i.seq_ > $3 AND i.seq_ <= $4) LIMIT 1)
                               FROM unnest($8::varchar[]) AS u(id)))
), counts AS (
    SELECT count(*) FILTER (WHERE s = 'deleted') AS deleted,
           count(*) FILTER (WHERE s = 'skipped') AS skipped,
           count(*) FILTER (WHERE s = 'failed') AS failed
      FROM (SELECT coalesce(o.state_, CASE WHEN i.state_ = 'pending' THEN 'deleted' ELSE i.state_ END) AS s
              FROM sweep_batch_item i LEFT JOIN outcome o ON o.seq_ = i.seq_
             WHERE i.batch_id_ = $1 AND i.seq_ > $3 AND i.seq_ <= $4) c
), job AS (
    UPDATE sweep_batch_job j
       SET state_ = 'done', end_time_ = now(), exception_msg_ = NULL,
           deleted_ = c.deleted, skipped_ = c.skipped, failed_ = c.failed
      FROM counts c
     WHERE j.batch_id_ = $1 AND j.seq_ = $2
), log AS (
    -- As job_log/write.sql writes it; retries, due date and priority are not changed above.
    INSERT INTO sweep_hi_job_log (id_, timestamp_, job_id_, job_duedate_, job_retries_, job_priority_, job_exception_msg_,
        job_state_, job_def_id_, job_def_type_, job_def_configuration_, tenant_id_, hostname_, batch_id_)
    SELECT sweep_uuid_v7(), clock_timestamp(), j.id_, j.duedate_, j.retries_, j.priority_, NULL, $10,
           b.batch_job_def_id_, b.type_, b.id_, b.tenant_id_, $9, b.id_
      FROM sweep_batch_job j JOIN sweep_batch b ON b.id_ = j.batch_id_
     WHERE j.batch_id_ = $1 AND j.seq_ = $2
)
SELECT count(*) AS items FROM outcome

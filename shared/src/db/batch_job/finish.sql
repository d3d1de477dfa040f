-- Finishes job $2 of batch $1 with state $5 and error $6, and recounts its items
-- (seq_ in ($3, $4]) from the ledger: $7 deleted, $8 skipped, $9 failed.
UPDATE sweep_batch_job j
   SET state_ = $5, end_time_ = now(), exception_msg_ = $6,
       deleted_ = c.deleted, skipped_ = c.skipped, failed_ = c.failed
  FROM (SELECT count(*) FILTER (WHERE state_ = $7) AS deleted,
               count(*) FILTER (WHERE state_ = $8) AS skipped,
               count(*) FILTER (WHERE state_ = $9) AS failed
          FROM sweep_batch_item
         WHERE batch_id_ = $1 AND seq_ > $3 AND seq_ <= $4) c
 WHERE j.batch_id_ = $1 AND j.seq_ = $2

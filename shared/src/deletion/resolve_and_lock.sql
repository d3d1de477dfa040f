-- Resolves the requested ids $1 that are process instances, plus (unless $2, skip_subprocesses)
-- every instance they call, transitively, and locks them FOR UPDATE in id order: overlapping
-- chunks in concurrent transactions wait for each other instead of deadlocking, and the waiter
-- then finds the rows gone.
WITH RECURSIVE tree (id, requested_by) AS (
    SELECT e.id_, e.id_
      FROM act_ru_execution e
     WHERE e.id_ = ANY($1) AND e.proc_inst_id_ = e.id_
    UNION
    SELECT sub.id_, t.requested_by
      FROM tree t
      JOIN act_ru_execution caller ON caller.proc_inst_id_ = t.id
      JOIN act_ru_execution sub ON sub.super_exec_ = caller.id_
     WHERE NOT $2
)
SELECT pi.id_ AS id, pd.key_ AS definition_key, pi.business_key_ AS business_key,
       pi.tenant_id_ AS tenant_id,
       (SELECT min(t.requested_by) FROM tree t WHERE t.id = pi.id_) AS requested_by
  FROM act_ru_execution pi
  LEFT JOIN act_re_procdef pd ON pd.id_ = pi.proc_def_id_
 WHERE pi.id_ IN (SELECT id FROM tree)
 ORDER BY pi.id_
   FOR UPDATE OF pi

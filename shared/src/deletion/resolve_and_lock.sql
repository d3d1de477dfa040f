-- Resolves the requested ids $1 that are process instances, plus (unless $2, skip_subprocesses)
-- every instance they call, transitively, and the instances calling them up to their roots
-- (upward propagation may end or change those), and locks them all FOR UPDATE in id order:
-- overlapping chunks in concurrent transactions wait for each other instead of deadlocking,
-- the waiter then finds the rows gone, and two chunks deleting instances called by the same
-- caller decide about that caller one after the other. `deleted` tells the instances to delete
-- from the callers, which are only locked.
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
),
callers (id) AS (
    SELECT caller.proc_inst_id_
      FROM act_ru_execution pi
      JOIN act_ru_execution caller ON caller.id_ = pi.super_exec_
     WHERE pi.id_ IN (SELECT id FROM tree)
    UNION
    SELECT caller.proc_inst_id_
      FROM callers c
      JOIN act_ru_execution pi ON pi.id_ = c.id
      JOIN act_ru_execution caller ON caller.id_ = pi.super_exec_
)
SELECT pi.id_ AS id, pd.key_ AS definition_key, pi.business_key_ AS business_key,
       pi.tenant_id_ AS tenant_id,
       (SELECT min(t.requested_by) FROM tree t WHERE t.id = pi.id_) AS requested_by,
       pi.id_ IN (SELECT id FROM tree) AS deleted
  FROM act_ru_execution pi
  LEFT JOIN act_re_procdef pd ON pd.id_ = pi.proc_def_id_
 -- an array, not a join: PostgreSQL cannot estimate recursive CTEs, and a join planned for
 -- their guess scans the whole execution table
 WHERE pi.id_ = ANY (ARRAY(SELECT id FROM tree UNION SELECT id FROM callers))
 ORDER BY pi.id_
   FOR UPDATE OF pi

-- Upward propagation: what deleting the instances $1 does to the instances calling them that
-- are not deleted themselves (all of them locked by resolve_and_lock.sql, so this statement's
-- snapshot, taken after the locks, sees what concurrent chunks committed).
--
-- Camunda cancels the calling activity instance and climbs from it while the scope above has
-- no other (non event-scope) child execution, across instance boundaries (an instance left
-- without executions is ended and its own calling activity is cancelled in turn). Done one
-- deleted instance after the other, this is the same as: in the tree of every calling
-- instance's executions (an instance hangs below the execution calling it), an execution is
-- doomed when no leaf below it survives, the leaves that do not survive being the executions
-- whose called instance is deleted. Doomed instances end; a doomed execution below a surviving
-- one is cut off with everything below it; a surviving scope left with a single concurrent
-- child takes that child's place (Camunda's pruning of the last concurrent child).
--
-- Returns one row per decision: kind 'ended' (id = an ended instance, via = the deleted
-- instance whose deletion ended it, and what its deletion event names), 'cut' (id = an execution of a surviving instance to
-- delete), 'merge' (id = the surviving scope execution, child = its last concurrent child
-- that it replaces) and 'unconcurrent' (id = a last concurrent child that is a scope: it stays,
-- no longer concurrent).
WITH RECURSIVE
-- the instances above the deleted ones, through their calling executions
callers (id) AS (
    SELECT DISTINCT caller.proc_inst_id_
      FROM act_ru_execution pi
      JOIN act_ru_execution caller ON caller.id_ = pi.super_exec_
     WHERE pi.id_ = ANY($1) AND NOT (caller.proc_inst_id_ = ANY($1))
    UNION
    SELECT caller.proc_inst_id_
      FROM callers c
      JOIN act_ru_execution pi ON pi.id_ = c.id
      JOIN act_ru_execution caller ON caller.id_ = pi.super_exec_
     WHERE NOT (caller.proc_inst_id_ = ANY($1))
),
-- their executions, each with its parent in the combined tree (an instance's parent is the
-- execution calling it, within the callers)
node AS (
    SELECT e.id_, e.proc_inst_id_, e.is_concurrent_, e.is_scope_, e.act_id_, e.act_inst_id_, e.is_active_,
           e.cached_ent_state_, e.id_ = e.proc_inst_id_ AS is_instance,
           CASE WHEN e.id_ = e.proc_inst_id_
                THEN (SELECT s.id_ FROM act_ru_execution s
                       WHERE s.id_ = e.super_exec_ AND s.proc_inst_id_ IN (SELECT id FROM callers))
                ELSE e.parent_id_ END AS up
      FROM act_ru_execution e
     WHERE e.proc_inst_id_ IN (SELECT id FROM callers) AND NOT coalesce(e.is_event_scope_, false)
),
-- executions whose called instance is deleted: the calling activities to cancel
cancelled (id_, via) AS (
    SELECT s.id_, min(pi.id_)
      FROM act_ru_execution pi
      JOIN act_ru_execution s ON s.id_ = pi.super_exec_
     WHERE pi.id_ = ANY($1) AND s.proc_inst_id_ IN (SELECT id FROM callers)
     GROUP BY s.id_
),
-- leaves that survive: no child in the tree and not a cancelled calling activity
alive (id_) AS (
    SELECT n.id_ FROM node n
     WHERE NOT EXISTS (SELECT 1 FROM node k WHERE k.up = n.id_)
       AND NOT EXISTS (SELECT 1 FROM cancelled c WHERE c.id_ = n.id_)
    UNION
    SELECT n.up FROM alive a JOIN node n ON n.id_ = a.id_ WHERE n.up IS NOT NULL
),
doomed AS (SELECT n.* FROM node n WHERE NOT EXISTS (SELECT 1 FROM alive a WHERE a.id_ = n.id_)),
-- which deleted instance each doomed execution goes for (the smallest, for a stable answer)
reason (id_, via) AS (
    SELECT id_, via FROM cancelled
    UNION
    SELECT n.up, r.via FROM reason r JOIN node n ON n.id_ = r.id_ WHERE n.up IS NOT NULL
),
-- the topmost doomed executions of surviving instances: each goes with everything below it
top AS (
    SELECT d.* FROM doomed d
     WHERE NOT d.is_instance AND EXISTS (SELECT 1 FROM alive a WHERE a.id_ = d.up)
),
cut (id_) AS (
    SELECT id_ FROM top
    UNION
    SELECT e.id_ FROM cut c JOIN act_ru_execution e ON e.parent_id_ = c.id_
),
-- surviving scopes that lost a child, and what is left below them
pruned AS (
    SELECT t.up AS scope_id, (array_agg(n.id_))[1] AS child, count(n.id_) AS children
      FROM (SELECT DISTINCT up FROM top) t
      LEFT JOIN node n ON n.up = t.up AND NOT EXISTS (SELECT 1 FROM doomed d WHERE d.id_ = n.id_)
     GROUP BY t.up
),
last_concurrent AS (
    SELECT p.scope_id, n.id_ AS child, coalesce(n.is_scope_, false) AS is_scope
      FROM pruned p JOIN node n ON n.id_ = p.child
     WHERE p.children = 1 AND coalesce(n.is_concurrent_, false)
)
SELECT 'ended' AS kind, d.id_ AS id, NULL::varchar AS child, (SELECT min(r.via) FROM reason r WHERE r.id_ = d.id_) AS via,
       pd.key_ AS definition_key, pi.business_key_ AS business_key, pi.tenant_id_ AS tenant_id
  FROM doomed d
  JOIN act_ru_execution pi ON pi.id_ = d.id_
  LEFT JOIN act_re_procdef pd ON pd.id_ = pi.proc_def_id_
 WHERE d.is_instance
UNION ALL
SELECT 'cut', id_, NULL, NULL, NULL, NULL, NULL FROM cut
UNION ALL
SELECT CASE WHEN is_scope THEN 'unconcurrent' ELSE 'merge' END, CASE WHEN is_scope THEN child ELSE scope_id END,
       CASE WHEN is_scope THEN NULL ELSE child END, NULL, NULL, NULL, NULL
  FROM last_concurrent

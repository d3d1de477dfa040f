-- The partial index of unfinished ledger items keys on the item's position instead of its
-- state. Every statement of a job addresses its items by position (a range of SEQ_) or by
-- instance id; with STATE_ as the second key column PostgreSQL could answer them by walking
-- every unfinished item of the batch — and, with stale or missing statistics, did — so each
-- job of a million-item batch cost as much as the rest of the batch. Counting a batch's
-- unfinished items by state still reads only this index (STATE_ is included).
drop index SWEEP_IDX_ITEM_STATE;
create index SWEEP_IDX_ITEM_OPEN on SWEEP_BATCH_ITEM(BATCH_ID_, SEQ_) include (STATE_) where STATE_ <> 'deleted';

-- Jobs before the whole ledger. A job deleting a calling instance marks the items of the
-- instances it calls, wherever they are in the batch, deleted along with it; an item not in
-- the ledger yet would miss that mark. So the snapshot records, per selected id, whether its
-- instance is called by another (CALLED_, read from the execution row the selection joins
-- anyway), and the batch whether any is (CALLED_ITEMS_). A batch selecting no called instance
-- gets the jobs of each chunk as soon as that chunk is built; any other batch, and every batch
-- created before this migration, only once the ledger is complete.
alter table SWEEP_BATCH_SELECTION add column CALLED_ boolean;
alter table SWEEP_BATCH add column CALLED_ITEMS_ boolean not null default true;

-- The same knowledge spares every other batch the ledger's instance-id index. Only a job of a
-- batch selecting called instances looks an item up by instance id (a called instance deleted
-- along with its caller, a caller ended by upward propagation); the other batches' items carry
-- BY_ID_ false and have no entry in it, which saves one index entry per item where the ledger
-- is built and again where each job marks its items. Existing items keep theirs. Rebuilding
-- the index reads the whole ledger once, at this migration.
alter table SWEEP_BATCH_ITEM add column BY_ID_ boolean not null default true;
drop index SWEEP_IDX_ITEM_PROC_INST;
create index SWEEP_IDX_ITEM_PROC_INST on SWEEP_BATCH_ITEM(BATCH_ID_, PROC_INST_ID_) where BY_ID_;

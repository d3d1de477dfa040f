-- Jobs before the whole ledger. A job deleting a calling instance marks the items of the
-- instances it calls, wherever they are in the batch, deleted along with it; an item not in
-- the ledger yet would miss that mark. So the snapshot records, per selected id, whether its
-- instance is called by another (CALLED_, read from the execution row the selection joins
-- anyway), and the batch whether any is (CALLED_ITEMS_). A batch selecting no called instance
-- gets the jobs of each chunk as soon as that chunk is built; any other batch, and every batch
-- created before this migration, only once the ledger is complete.
alter table SWEEP_BATCH_SELECTION add column CALLED_ boolean;
alter table SWEEP_BATCH add column CALLED_ITEMS_ boolean not null default true;

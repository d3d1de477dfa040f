-- Large selections are snapshotted in two steps. The creating transaction writes only the
-- ids, numbered in selection order, to SWEEP_BATCH_SELECTION (no index but its append-only
-- key, a batch-local integer instead of the batch's UUID): that fixes the snapshot at the
-- moment of creation. The seed handler then moves them into SWEEP_BATCH_ITEM in chunks, one
-- transaction each, before it creates the batch's first job.
create sequence SWEEP_BATCH_KEY_SEQ;

-- KEY_ names the batch's rows in SWEEP_BATCH_SELECTION (null for batches created before this
-- migration, which have none); SNAPSHOT_REMAINING_ counts those not moved to the ledger yet.
alter table SWEEP_BATCH add column KEY_ bigint;
alter table SWEEP_BATCH add column SNAPSHOT_REMAINING_ bigint not null default 0;

create table SWEEP_BATCH_SELECTION (
    BATCH_KEY_ bigint not null,
    ORD_ bigint not null,            -- the item's future SEQ_
    PROC_INST_ID_ varchar(64) not null,
    TENANT_ID_ varchar(64),          -- the instance's tenant, for the batch's TENANT_IDS_
    primary key (BATCH_KEY_, ORD_)
);

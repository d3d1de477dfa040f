-- Sweep's own tables: runtime batches, their jobs, the per-instance item ledger, historic
-- batches and the transactional outbox. They carry the SWEEP_ prefix and live beside, never
-- inside, the ACT_ tables, so a Camunda engine sharing the database does not see them.

create table SWEEP_BATCH (
    ID_ varchar(64) not null,
    TYPE_ varchar(255) not null,
    TOTAL_JOBS_ integer not null,
    JOBS_CREATED_ integer not null default 0,
    JOBS_PER_SEED_ integer not null,
    INVOCATIONS_PER_JOB_ integer not null,
    SEED_JOB_DEF_ID_ varchar(64) not null,
    MONITOR_JOB_DEF_ID_ varchar(64) not null,
    BATCH_JOB_DEF_ID_ varchar(64) not null,
    SUSPENDED_ boolean not null default false,
    TENANT_ID_ varchar(64),
    CREATE_USER_ID_ varchar(255),
    START_TIME_ timestamptz not null,
    EXEC_START_TIME_ timestamptz,
    -- the deletion request
    DELETE_REASON_ varchar(4000),
    SKIP_CUSTOM_LISTENERS_ boolean not null,
    SKIP_SUBPROCESSES_ boolean not null,
    SKIP_IO_MAPPINGS_ boolean not null,
    FAIL_IF_NOT_EXISTS_ boolean not null,
    TOTAL_ITEMS_ bigint not null,
    IDEMPOTENCY_KEY_ varchar(255),
    REQUEST_HASH_ varchar(64),
    primary key (ID_)
);
create unique index SWEEP_IDX_BATCH_IDEMPOTENCY on SWEEP_BATCH(IDEMPOTENCY_KEY_);

-- One row per selected instance, numbered 1..TOTAL_ITEMS_; job N covers the items whose SEQ_
-- lies in ((N-1)*INVOCATIONS_PER_JOB_, N*INVOCATIONS_PER_JOB_]. Kept after the batch
-- completes (the ledger), removed with the historic batch.
create table SWEEP_BATCH_ITEM (
    BATCH_ID_ varchar(64) not null,
    SEQ_ bigint not null,
    PROC_INST_ID_ varchar(64) not null,
    STATE_ varchar(16) not null default 'pending',  -- pending | deleted | skipped | failed
    REASON_ varchar(4000),
    UPDATED_ timestamptz,
    primary key (BATCH_ID_, SEQ_)
);
-- Finds the item of a called instance deleted along with its caller by another job.
create index SWEEP_IDX_ITEM_PROC_INST on SWEEP_BATCH_ITEM(BATCH_ID_, PROC_INST_ID_);
create index SWEEP_IDX_ITEM_STATE on SWEEP_BATCH_ITEM(BATCH_ID_, STATE_) where STATE_ <> 'deleted';

create table SWEEP_BATCH_JOB (
    ID_ varchar(64) not null,
    BATCH_ID_ varchar(64) not null references SWEEP_BATCH (ID_) on delete cascade,
    SEQ_ integer not null,
    STATE_ varchar(16) not null default 'pending',  -- pending | running | done | failed
    RETRIES_ integer not null,
    ATTEMPTS_ integer not null default 0,
    EXCEPTION_MSG_ varchar(4000),
    ITEMS_ integer not null,
    DELETED_ integer not null default 0,
    SKIPPED_ integer not null default 0,
    FAILED_ integer not null default 0,
    CREATE_TIME_ timestamptz not null,
    END_TIME_ timestamptz,
    primary key (ID_),
    unique (BATCH_ID_, SEQ_)
);
create index SWEEP_IDX_JOB_OPEN on SWEEP_BATCH_JOB(BATCH_ID_, STATE_) where STATE_ <> 'done';

create table SWEEP_HI_BATCH (
    ID_ varchar(64) not null,
    TYPE_ varchar(255) not null,
    TOTAL_JOBS_ integer not null,
    JOBS_PER_SEED_ integer not null,
    INVOCATIONS_PER_JOB_ integer not null,
    SEED_JOB_DEF_ID_ varchar(64) not null,
    MONITOR_JOB_DEF_ID_ varchar(64) not null,
    BATCH_JOB_DEF_ID_ varchar(64) not null,
    TENANT_ID_ varchar(64),
    CREATE_USER_ID_ varchar(255),
    START_TIME_ timestamptz not null,
    END_TIME_ timestamptz,
    REMOVAL_TIME_ timestamptz,
    EXEC_START_TIME_ timestamptz,
    TOTAL_ITEMS_ bigint not null,
    IDEMPOTENCY_KEY_ varchar(255),
    REQUEST_HASH_ varchar(64),
    primary key (ID_)
);
create index SWEEP_IDX_HI_BATCH_IDEMPOTENCY on SWEEP_HI_BATCH(IDEMPOTENCY_KEY_);

-- Messages written in the same transaction as the change that causes them and published
-- after commit; a relay republishes rows a crashed process left behind.
create table SWEEP_OUTBOX (
    ID_ bigserial not null,
    EXCHANGE_ varchar(255) not null,
    ROUTING_KEY_ varchar(255) not null,
    PAYLOAD_ bytea not null,
    HEADERS_ jsonb,
    CREATED_ timestamptz not null default now(),
    primary key (ID_)
);
create index SWEEP_IDX_OUTBOX_CREATED on SWEEP_OUTBOX(CREATED_);

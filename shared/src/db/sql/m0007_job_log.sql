-- The history of batch jobs, as Camunda's ACT_HI_JOB_LOG (same columns): one row per creation,
-- failed attempt, success and deletion of a job, written in the transaction that does it.
-- JOB_STATE_ is Camunda's: 0 created, 1 failed, 2 successful, 3 deleted. BATCH_ID_ ties the
-- rows to their historic batch; they are removed with it.
create table SWEEP_HI_JOB_LOG (
    ID_ varchar(64) not null,
    TIMESTAMP_ timestamptz not null,
    JOB_ID_ varchar(64) not null,
    JOB_DUEDATE_ timestamptz,
    JOB_RETRIES_ integer,
    JOB_PRIORITY_ bigint not null default 0,
    JOB_EXCEPTION_MSG_ varchar(4000),
    JOB_EXCEPTION_STACK_ID_ varchar(64),
    JOB_STATE_ integer not null,
    JOB_DEF_ID_ varchar(64),
    JOB_DEF_TYPE_ varchar(255),
    JOB_DEF_CONFIGURATION_ varchar(255),
    ACT_ID_ varchar(255),
    FAILED_ACT_ID_ varchar(255),
    EXECUTION_ID_ varchar(64),
    ROOT_PROC_INST_ID_ varchar(64),
    PROCESS_INSTANCE_ID_ varchar(64),
    PROCESS_DEF_ID_ varchar(64),
    PROCESS_DEF_KEY_ varchar(255),
    DEPLOYMENT_ID_ varchar(64),
    SEQUENCE_COUNTER_ bigint,
    TENANT_ID_ varchar(64),
    HOSTNAME_ varchar(255),
    REMOVAL_TIME_ timestamptz,
    BATCH_ID_ varchar(64) not null,
    primary key (ID_)
);
create index SWEEP_IDX_JOB_LOG_BATCH on SWEEP_HI_JOB_LOG(BATCH_ID_);
create index SWEEP_IDX_JOB_LOG_JOB on SWEEP_HI_JOB_LOG(JOB_ID_);
create index SWEEP_IDX_JOB_LOG_JOB_DEF on SWEEP_HI_JOB_LOG(JOB_DEF_ID_);

-- A job's due date (Camunda's DUEDATE_): null is due at once. Set through the retries
-- endpoints; a worker receiving the job's message earlier delays it again.
alter table SWEEP_BATCH_JOB add column DUEDATE_ timestamptz;

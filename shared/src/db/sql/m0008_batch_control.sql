-- Steering running batches: the limits an operator sets on a batch (PATCH /batch/{id}), the
-- state of its rate limiter, the priority of each job, and the cluster-wide concurrency limit
-- the workers adapt to the database's health.

-- MAX_RATE_: instances per second over all workers (null: unlimited). RATE_TAT_: the GCRA
-- "theoretical arrival time", the earliest moment the next job may start. MAX_CONCURRENT_JOBS_
-- (null: unlimited). PRIORITY_: larger is more urgent (Camunda's job priority); it is also the
-- priority of the batch-job definition, so new jobs take it. WINDOW_*: the daily run window
-- in a time zone PostgreSQL knows (all null: always).
alter table SWEEP_BATCH
    add column MAX_RATE_ double precision,
    add column RATE_TAT_ timestamptz,
    add column MAX_CONCURRENT_JOBS_ integer,
    add column PRIORITY_ bigint not null default 0,
    add column WINDOW_START_ time,
    add column WINDOW_END_ time,
    add column WINDOW_TZ_ varchar(64);

-- What the batch ran with, for history.
alter table SWEEP_HI_BATCH
    add column MAX_RATE_ double precision,
    add column MAX_CONCURRENT_JOBS_ integer,
    add column PRIORITY_ bigint not null default 0;

alter table SWEEP_BATCH_JOB add column PRIORITY_ bigint not null default 0;
-- Finds a batch's pending jobs of higher priority than the one at hand.
create index SWEEP_IDX_JOB_PENDING_PRIORITY on SWEEP_BATCH_JOB(BATCH_ID_, PRIORITY_) where STATE_ = 'pending';

-- One row per cluster-wide control value; ID_ 'global' holds the adaptive concurrency limit
-- (jobs running at once over all batches and workers).
create table SWEEP_CONTROL (
    ID_ varchar(64) not null,
    LIMIT_ integer not null,
    UPDATED_ timestamptz not null,
    DIRECTION_ varchar(16),
    REASON_ varchar(255),
    primary key (ID_)
);

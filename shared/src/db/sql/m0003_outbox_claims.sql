-- Outbox rows are claimed, for a lease, by the one process publishing them: their writer at
-- insert, or a relay once the lease has expired. Rows written before this migration are
-- claimable at once.
alter table SWEEP_OUTBOX add column CLAIMED_UNTIL_ timestamptz not null default now();
drop index SWEEP_IDX_OUTBOX_CREATED;
create index SWEEP_IDX_OUTBOX_CLAIMED on SWEEP_OUTBOX(CLAIMED_UNTIL_);

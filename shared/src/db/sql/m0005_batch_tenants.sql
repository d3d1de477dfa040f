-- The tenants of the instances a batch selected. `TENANT_ID_` stays null, as Camunda leaves it
-- on deletion batches; a user under tenant check sees a batch only when it belongs to every
-- tenant listed here, so a batch that touched tenant B's instances is invisible to tenant A.
alter table SWEEP_BATCH add column TENANT_IDS_ varchar(64)[] not null default '{}';
alter table SWEEP_HI_BATCH add column TENANT_IDS_ varchar(64)[] not null default '{}';

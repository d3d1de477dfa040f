//! Creating a deletion batch: the request body, its validation, and the one transaction that
//! writes the batch, snapshots the selection inside the database (`INSERT … SELECT`, so no id
//! selected by a query passes through this process; a large one into the selection table, from
//! which the seed handler builds the item ledger in chunks) and enqueues the seed message. A dry run ([`preview`]) goes through the same checks and the same
//! selection statement, and only counts.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait, Value};
use serde::Deserialize;
use sha2::Digest;

use crate::Error;
use crate::auth::{Instance, InstanceRow, Permission, Principal, Resource};
use crate::camunda::{BatchDto, DeletionPreviewDto};
use crate::db::batch::{self, Batch, NewBatch};
use crate::db::outbox::{OutboxWriter, StoredMessage};
use crate::db::{batch_item, historic_batch, op_log};
use crate::deletion::DeleteOptions;
use crate::messages::WorkMessage;
use crate::query::{HistoricProcessInstanceQueryDto, ProcessInstanceQueryDto, SqlBuilder};

/// Body of `POST /process-instance/delete` (Camunda's `DeleteProcessInstancesDto` plus Sweep's
/// extensions). Unknown fields are ignored, as in Camunda.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteProcessInstancesDto {
    /// Explicit process-instance ids.
    pub process_instance_ids: Option<Vec<Option<String>>>,
    /// Runtime query whose matches are added.
    pub process_instance_query: Option<ProcessInstanceQueryDto>,
    /// Historic query whose matches that are still running are added.
    pub historic_process_instance_query: Option<HistoricProcessInstanceQueryDto>,
    /// Delete reason written to history.
    pub delete_reason: Option<String>,
    /// No deletion events when true.
    pub skip_custom_listeners: Option<bool>,
    /// Leave called instances running, detached.
    pub skip_subprocesses: Option<bool>,
    /// Accepted for compatibility; Sweep runs no input/output mappings.
    pub skip_io_mappings: Option<bool>,
    /// Unknown explicit ids reject the request (default true); when false they become skipped.
    pub fail_if_not_exists: Option<bool>,
    /// Sweep extension: instances per job (default `batch.invocations_per_batch_job`).
    #[schema(minimum = 1)]
    pub invocations_per_batch_job: Option<i64>,
    /// Sweep extension: jobs per seed run (default `batch.batch_jobs_per_seed`).
    #[schema(minimum = 1)]
    pub batch_jobs_per_seed: Option<i64>,
    /// Sweep extension: instances per second at most, over all workers (default
    /// `control.default_max_instances_per_second`; see `PATCH /batch/{id}`).
    #[schema(minimum = 0.001, maximum = 1e9)]
    pub max_instances_per_second: Option<f64>,
    /// Sweep extension: jobs of the batch running at once at most (default
    /// `control.default_max_concurrent_jobs`).
    #[schema(minimum = 1, maximum = 10000)]
    pub max_concurrent_jobs: Option<i64>,
    /// Sweep extension: larger is more urgent (default `control.default_priority`).
    #[schema(minimum = -2147483647, maximum = 2147483647)]
    pub priority: Option<i64>,
    /// Sweep extension: the daily window the batch runs in.
    pub run_window: Option<crate::control::RunWindow>,
}

/// A validated request, ready to be written.
#[derive(Debug, Clone)]
pub struct NewDeletionBatch {
    /// The request.
    pub request: DeleteProcessInstancesDto,
    /// Explicit ids, without nulls.
    pub ids: Vec<String>,
    /// Instances per job.
    pub invocations_per_job: i32,
    /// Jobs per seed run.
    pub jobs_per_seed: i32,
    /// Retries of each job.
    pub retries: i32,
    /// Selections up to this size enter the ledger in the creating transaction.
    pub snapshot_chunk_size: i64,
    /// `Idempotency-Key` header, if any.
    pub idempotency_key: Option<String>,
    /// SHA-256 of the request body (hex).
    pub request_hash: String,
    /// `POST /process-instance/delete-historic-query-based`: the historic query's matches enter
    /// the batch whether or not they still run (finished ones are skipped when their job runs,
    /// as in Camunda), and the runtime query is ignored.
    pub historic_query_based: bool,
    /// Days from its start after which the historic batch may be removed (removal-time
    /// strategy `start` with a historic-batch time to live); `None` leaves it to the end.
    pub removal_after_start_days: Option<i32>,
    /// The batch's limits.
    pub steering: crate::control::Steering,
}

/// Hex SHA-256 of a request body.
pub fn hash_body(body: &[u8]) -> String {
    sha2::Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect()
}

impl NewDeletionBatch {
    /// Checks the request; every problem is an [`Error::InvalidRequest`] naming the field.
    pub fn validate(
        request: DeleteProcessInstancesDto,
        defaults: &crate::settings::BatchSettings,
        control: &crate::settings::ControlSettings,
        retries: u32,
        idempotency_key: Option<String>,
        request_hash: String,
    ) -> Result<Self, Error> {
        let mut ids = Vec::new();
        for id in request.process_instance_ids.iter().flatten() {
            match id {
                None => return Err(Error::invalid("processInstanceIds must not contain null")),
                Some(id) if id.is_empty() || id.len() > 64 => {
                    return Err(Error::invalid(format!(
                        "processInstanceIds contains an invalid id '{}': ids have 1 to 64 characters",
                        id.chars().take(80).collect::<String>()
                    )));
                }
                Some(id) => ids.push(id.clone()),
            }
        }
        if request.delete_reason.as_ref().is_some_and(|r| r.chars().count() > 4000) {
            return Err(Error::invalid("deleteReason is longer than 4000 characters"));
        }
        let bounded = |name: &str, value: Option<i64>, default: u32| -> Result<i32, Error> {
            match value {
                None => Ok(default as i32),
                Some(v) if (1..=100_000).contains(&v) => Ok(v as i32),
                Some(v) => Err(Error::invalid(format!("{name} must be between 1 and 100000, got {v}"))),
            }
        };
        let invocations_per_job =
            bounded("invocationsPerBatchJob", request.invocations_per_batch_job, defaults.invocations_per_batch_job)?;
        let jobs_per_seed = bounded("batchJobsPerSeed", request.batch_jobs_per_seed, defaults.batch_jobs_per_seed)?;
        if let Some(q) = &request.process_instance_query {
            q.validate()?;
        }
        if let Some(q) = &request.historic_process_instance_query {
            q.validate()?;
        }
        if ids.is_empty()
            && request.process_instance_query.is_none()
            && request.historic_process_instance_query.is_none()
        {
            return Err(Error::invalid("processInstanceIds is empty"));
        }
        if idempotency_key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 255) {
            return Err(Error::invalid("Idempotency-Key must have 1 to 255 characters"));
        }
        let steering = crate::control::Steering::for_new_batch(
            control,
            request.max_instances_per_second,
            request.max_concurrent_jobs,
            request.priority,
            request.run_window.as_ref(),
        )
        .map_err(Error::invalid)?;
        Ok(Self {
            steering,
            request,
            ids,
            invocations_per_job,
            jobs_per_seed,
            retries: retries.max(1) as i32,
            snapshot_chunk_size: i64::from(defaults.snapshot_chunk_size.max(1)),
            idempotency_key,
            request_hash,
            historic_query_based: false,
            removal_after_start_days: None,
        })
    }

    /// [`validate`](Self::validate) for `delete-historic-query-based`: the selection is the
    /// explicit ids and every match of the historic query; a runtime query is ignored.
    pub fn validate_historic_query_based(
        mut request: DeleteProcessInstancesDto,
        defaults: &crate::settings::BatchSettings,
        control: &crate::settings::ControlSettings,
        retries: u32,
        idempotency_key: Option<String>,
        request_hash: String,
    ) -> Result<Self, Error> {
        request.process_instance_query = None;
        let mut new = Self::validate(request, defaults, control, retries, idempotency_key, request_hash)?;
        new.historic_query_based = true;
        Ok(new)
    }

    fn fail_if_not_exists(&self) -> bool {
        self.request.fail_if_not_exists.unwrap_or(true)
    }
}

/// What [`create`] did.
#[derive(Debug)]
pub enum Created {
    /// A new batch, with the seed message to publish after commit.
    New(Batch, Vec<StoredMessage>),
    /// The same `Idempotency-Key` and body were seen before: that batch.
    Replayed(BatchDto),
}

/// Writes the batch in one transaction; nothing is written when it fails. The seed message
/// carries the trace context the caller runs in.
///
/// With authorization checks on, `principal` needs BATCH `CREATE` or
/// `CREATE_BATCH_DELETE_RUNNING_PROCESS_INSTANCES`, and the selection keeps only instances it
/// may read and (with `check_delete`) delete, of its tenants: an explicit id it may not see is
/// not found. The batch records the principal as its creator, and the operation log says so.
pub async fn create(
    db: &DatabaseConnection,
    new: &NewDeletionBatch,
    outbox: &OutboxWriter,
    principal: &Principal,
    check_delete: bool,
) -> Result<Created, Error> {
    let principal = &may_create(db, principal).await?;
    let txn = db.begin().await?;
    if let Some(key) = &new.idempotency_key {
        // Serialises requests carrying the same key.
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended('sweep-idempotency:' || $1, 0))",
            [key.clone().into()],
        ))
        .await?;
        if let Some(replayed) = find_by_key(&txn, key, &new.request_hash).await? {
            txn.rollback().await?;
            return Ok(Created::Replayed(replayed));
        }
    }

    explicit_ids_exist(&txn, new, principal, check_delete).await?;
    window_zone_known(&txn, new).await?;

    let batch_id = uuid::Uuid::new_v4().to_string();
    let key = batch::next_key(&txn).await?;
    let snapshot = batch_item::snapshot(&txn, key, |sql| selection(sql, new, principal, check_delete)).await?;
    let total_items = snapshot.items;
    if total_items == 0 {
        txn.rollback().await?;
        return Err(Error::invalid("processInstanceIds is empty"));
    }
    // A small selection enters the ledger at once; a large one after the answer, from the
    // seed handler, in chunks (README "Large selections").
    let snapshot_remaining = if total_items <= new.snapshot_chunk_size {
        batch_item::build(&txn, &batch_id, key, (0, total_items), snapshot.called).await?;
        0
    } else {
        total_items
    };
    let r = &new.request;
    let row = NewBatch {
        id: batch_id.clone(),
        total_jobs: total_jobs(total_items, new.invocations_per_job) as i32,
        jobs_per_seed: new.jobs_per_seed,
        invocations_per_job: new.invocations_per_job,
        options: DeleteOptions {
            delete_reason: r.delete_reason.clone(),
            skip_subprocesses: r.skip_subprocesses.unwrap_or(false),
            skip_custom_listeners: r.skip_custom_listeners.unwrap_or(false),
            // Camunda's jobs skip instances that are gone; a historic query selects finished
            // ones on purpose, so they are skipped rather than failed.
            fail_if_not_exists: new.fail_if_not_exists() && !new.historic_query_based,
        },
        skip_io_mappings: r.skip_io_mappings.unwrap_or(false),
        total_items,
        idempotency_key: new.idempotency_key.clone(),
        request_hash: new.request_hash.clone(),
        create_user_id: principal.user_id.clone(),
        tenant_ids: snapshot.tenants,
        steering: new.steering.clone(),
        key,
        snapshot_remaining,
        called_items: snapshot.called,
    };
    let batch = batch::insert(&txn, &row).await?;
    historic_batch::insert_from_runtime(&txn, &batch_id, new.removal_after_start_days).await?;
    if let Some(user) = &principal.user_id {
        let changes = [
            (Some("nrOfInstances"), Some(total_items.to_string())),
            (Some("async"), Some("true".to_owned())),
            (Some("deleteReason"), r.delete_reason.clone()),
        ];
        op_log::write(&txn, user, "ProcessInstance", "Delete", None, &changes).await?;
    }
    let seed = outbox.work(&WorkMessage::SeedV1 { batch_id, jobs_created: 0 });
    let stored = outbox.commit(txn, vec![seed]).await?;
    Ok(Created::New(batch, stored))
}

/// The permission check of batch creation, shared by [`create`] and [`preview`]: BATCH `CREATE`
/// or `CREATE_BATCH_DELETE_RUNNING_PROCESS_INSTANCES`.
/// Returns the principal narrowed for the selection ([`Principal::check_narrowing`]).
async fn may_create(db: &impl ConnectionTrait, principal: &Principal) -> Result<Principal, Error> {
    let alternatives = [
        (Permission::Create, Resource::Batch, None),
        (Permission::CreateBatchDeleteRunningProcessInstances, Resource::Batch, None),
    ];
    match principal.check_narrowing(db, &alternatives).await? {
        (Some(denied), _) => Err(Error::Forbidden(denied)),
        (None, narrowed) => Ok(narrowed),
    }
}

/// A run window's time zone must be one the database knows.
async fn window_zone_known(conn: &impl ConnectionTrait, new: &NewDeletionBatch) -> Result<(), Error> {
    match &new.steering.window {
        Some((_, _, zone)) if !crate::control::window::zone_known(conn, zone).await? => Err(Error::invalid(format!(
            "runWindow.timeZone '{}' is not a known time zone",
            zone.chars().take(64).collect::<String>()
        ))),
        _ => Ok(()),
    }
}

/// With `failIfNotExists`, every explicit id must be a running instance `principal` may see;
/// otherwise the request is invalid, naming up to 10 of them.
async fn explicit_ids_exist(
    conn: &impl ConnectionTrait,
    new: &NewDeletionBatch,
    principal: &Principal,
    check_delete: bool,
) -> Result<(), Error> {
    if !new.fail_if_not_exists() || new.ids.is_empty() {
        return Ok(());
    }
    let unknown = unknown_ids(conn, &new.ids, principal, check_delete).await?;
    if unknown.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = unknown.iter().take(10).map(|id| format!("'{id}'")).collect();
    let more = if unknown.len() > 10 { " and more" } else { "" };
    Err(Error::invalid(format!(
        "No process instance found for id {}{more} (set failIfNotExists to false to skip unknown ids)",
        shown.join(", ")
    )))
}

/// Jobs of a batch of `items` instances, `invocations_per_job` each (the last one may hold fewer).
pub fn total_jobs(items: i64, invocations_per_job: i32) -> i64 {
    let per = i64::from(invocations_per_job.max(1));
    (items + per - 1) / per
}

/// Ids a preview shows at most.
pub const PREVIEW_SAMPLE: i64 = 20;

/// A dry run of [`create`]: the same permission check, the same explicit-id check and the same
/// selection statement, but it only counts, in one statement, and writes nothing. The ETA is
/// the number of instances over the rate of recently ended batches (a second, small statement).
///
/// An empty selection is not an error here (the real call answers 400 `processInstanceIds is
/// empty`): the preview says so with zeros.
pub async fn preview(
    db: &DatabaseConnection,
    new: &NewDeletionBatch,
    principal: &Principal,
    check_delete: bool,
) -> Result<DeletionPreviewDto, Error> {
    let principal = &may_create(db, principal).await?;
    explicit_ids_exist(db, new, principal, check_delete).await?;
    window_zone_known(db, new).await?;
    let mut sql = SqlBuilder::new();
    // `s` is referenced several times, so PostgreSQL computes the selection once; every part of
    // the answer is an aggregate over it (joins that may spill to disk, never a per-row lookup).
    sql.push("WITH RECURSIVE s AS (");
    selection(&mut sql, new, principal, check_delete)?;
    sql.push(")");
    let skip_subprocesses = new.request.skip_subprocesses.unwrap_or(false);
    if !skip_subprocesses {
        // The deletion core's tree (deletion/resolve_and_lock.sql): every instance the selected
        // ones call, transitively. Call edges are few, so they are collected once; the walk
        // starts from the edges out of the selection.
        sql.push(
            ", calls AS MATERIALIZED (
                 SELECT caller.proc_inst_id_ AS caller, sub.id_ AS called
                   FROM act_ru_execution sub JOIN act_ru_execution caller ON caller.id_ = sub.super_exec_
                  WHERE sub.super_exec_ IS NOT NULL),
               tree(id) AS (
                 SELECT c.called FROM calls c WHERE EXISTS (SELECT 1 FROM s WHERE s.id = c.caller AND s.definition IS NOT NULL)
                 UNION
                 SELECT c.called FROM tree t JOIN calls c ON c.caller = t.id)",
        );
    }
    sql.push(&format!(
        " SELECT (SELECT count(*) FROM s) AS instances,
                 {called} AS called_instances,
                 (SELECT coalesce(jsonb_object_agg(k.key, k.n), '{{}}'::jsonb)::text FROM (
                      SELECT d.key_ AS key, count(*) AS n FROM s x JOIN act_re_procdef d ON d.id_ = x.definition
                       GROUP BY d.key_) k) AS by_key,
                 (SELECT coalesce(array_agg(p.id ORDER BY p.id), '{{}}')::varchar[] FROM (
                      SELECT id FROM s ORDER BY id LIMIT {PREVIEW_SAMPLE}) p) AS sample",
        called = if skip_subprocesses {
            "0::bigint"
        } else {
            "(SELECT count(*) FROM tree t WHERE NOT EXISTS (SELECT 1 FROM s WHERE s.id = t.id))"
        },
    ));
    sql.check_parameter_count()?;
    let row = db.query_one_raw(sql.into_statement()).await?.ok_or_else(|| Error::Internal("no preview row".into()))?;
    let instances: i64 = row.try_get("", "instances")?;
    let by_key: String = row.try_get("", "by_key")?;
    let by_key = serde_json::from_str(&by_key).map_err(|e| Error::Internal(format!("preview counts: {e}")))?;
    let rate = historic_batch::recent_rate(db).await?;
    Ok(DeletionPreviewDto {
        instances,
        called_instances: row.try_get("", "called_instances")?,
        by_process_definition_key: by_key,
        sample: row.try_get("", "sample")?,
        total_jobs: total_jobs(instances, new.invocations_per_job),
        eta_seconds: rate.map(|per_second| eta_seconds(instances, per_second)),
    })
}

/// Whole seconds (rounded up) `instances` take at `per_second`.
pub fn eta_seconds(instances: i64, per_second: f64) -> i64 {
    if instances <= 0 || per_second <= 0.0 { 0 } else { (instances as f64 / per_second).ceil() as i64 }
}

/// Up to 11 of `ids` that are no running process instance `principal` may see, in request
/// order.
async fn unknown_ids(
    txn: &impl ConnectionTrait,
    ids: &[String],
    principal: &Principal,
    check_delete: bool,
) -> Result<Vec<String>, Error> {
    let mut sql = SqlBuilder::new();
    sql.push("SELECT u.id FROM unnest(")
        .bind(Value::from(ids.to_vec()))
        .push("::varchar[]) WITH ORDINALITY AS u(id, n)
              WHERE NOT EXISTS (SELECT 1 FROM act_ru_execution e WHERE e.id_ = u.id AND e.proc_inst_id_ = e.id_ AND true");
    principal.push_instance_visible(&mut sql, Instance::Id("u.id"), false, check_delete);
    sql.push(") ORDER BY n LIMIT 11");
    let rows = txn.query_all_raw(sql.into_statement()).await?;
    Ok(rows.iter().map(|r| r.try_get::<String>("", "id")).collect::<Result<_, _>>()?)
}

/// Pushes the selection — the union of explicit ids and both queries, without duplicates — as
/// one statement yielding `id`, the instance's `tenant` and `definition` (null for an unknown
/// id) and whether it is `called` by another instance.
/// Each source keeps only instances `principal` may see and delete, inside the statement.
fn selection(b: &mut SqlBuilder, new: &NewDeletionBatch, principal: &Principal, delete: bool) -> Result<(), Error> {
    let r = &new.request;
    let mut parts = 0;
    if !new.ids.is_empty() {
        b.push("SELECT x.id, e.tenant_id_ AS tenant, e.proc_def_id_ AS definition, e.super_exec_ IS NOT NULL AS called FROM unnest(").bind(new.ids.clone()).push(
            "::varchar[]) AS x(id) LEFT JOIN act_ru_execution e ON e.id_ = x.id AND e.proc_inst_id_ = e.id_ WHERE true",
        );
        principal.push_instance_visible(b, Instance::Id("x.id"), false, delete);
        parts += 1;
    }
    if let Some(q) = &r.process_instance_query {
        if parts > 0 {
            b.push(" UNION ");
        }
        q.push_visible_id_select(b, principal, delete)?;
        parts += 1;
    }
    if let Some(q) = &r.historic_process_instance_query {
        if parts > 0 {
            b.push(" UNION ");
        }
        if new.historic_query_based {
            // Every match, finished or not (Camunda's historic-query-based deletion): finished
            // ones have no runtime row, no definition here, and are skipped by their job.
            b.push("SELECT h.id, hp.tenant_id_ AS tenant, r.proc_def_id_ AS definition, r.super_exec_ IS NOT NULL AS called FROM (");
            q.push_id_select(b)?;
            b.push(
                ") h JOIN act_hi_procinst hp ON hp.id_ = h.id
                 LEFT JOIN act_ru_execution r ON r.id_ = h.id AND r.proc_inst_id_ = r.id_ WHERE true",
            );
            let row = InstanceRow {
                id: "hp.id_",
                tenant_id: "hp.tenant_id_",
                definition_id: "hp.proc_def_id_",
                runtime: false,
            };
            principal.push_instance_visible(b, Instance::Row(row), true, delete);
        } else {
            // Finished instances match a historic query but cannot be deleted: take running ones.
            b.push("SELECT h.id, r.tenant_id_ AS tenant, r.proc_def_id_ AS definition, r.super_exec_ IS NOT NULL AS called FROM (");
            q.push_id_select(b)?;
            b.push(") h JOIN act_ru_execution r ON r.id_ = h.id AND r.proc_inst_id_ = r.id_ WHERE true");
            principal.push_instance_visible(b, Instance::Id("h.id"), true, delete);
        }
        parts += 1;
    }
    // A single explicit list may repeat ids; a lone query never does.
    if parts == 1 && !new.ids.is_empty() {
        b.push(" GROUP BY x.id, e.tenant_id_, e.proc_def_id_, e.super_exec_");
    }
    b.check_parameter_count()
}

/// The batch an earlier request with `key` created, if its body hash matches; a conflict error
/// if it does not.
async fn find_by_key(txn: &impl ConnectionTrait, key: &str, hash: &str) -> Result<Option<BatchDto>, Error> {
    let Some(earlier) = historic_batch::find_by_idempotency_key(txn, key).await? else { return Ok(None) };
    if earlier.info.request_hash.as_deref() != Some(hash) {
        return Err(Error::Conflict(format!("Idempotency-Key '{key}' was already used with a different request body")));
    }
    Ok(Some(match batch::find(txn, &earlier.info.id).await? {
        Some(running) => running.to_dto(),
        None => earlier.to_batch_dto(),
    }))
}

//! The Batch REST API: runtime and historic batches, statistics, suspension, deletion, the job
//! API over batch jobs, retries and the item ledger. Batches are inserted directly as rows, so
//! these tests do not depend on batch creation or on the workers.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};
use system_tests::{TestApi, TestDb, TestMq, prefix};

// Field → JSON type of each DTO, as Camunda's OpenAPI document (and reference §3, for the 7.24
// fields it lacks) defines them. `date` is a string in Camunda's date format; `?` allows null.
const BATCH_FIELDS: &[(&str, &str)] = &[
    ("id", "string"),
    ("type", "string"),
    ("totalJobs", "integer"),
    ("jobsCreated", "integer"),
    ("batchJobsPerSeed", "integer"),
    ("invocationsPerBatchJob", "integer"),
    ("seedJobDefinitionId", "string"),
    ("monitorJobDefinitionId", "string"),
    ("batchJobDefinitionId", "string"),
    ("suspended", "boolean"),
    ("tenantId", "string?"),
    ("createUserId", "string?"),
    ("startTime", "date"),
    ("executionStartTime", "date?"),
    // Sweep extension: steering
    ("maxInstancesPerSecond", "number?"),
    ("maxConcurrentJobs", "integer?"),
    ("priority", "integer"),
    ("runWindow", "object?"),
    ("waitingForWindow", "boolean"),
];
const STATISTICS_FIELDS: &[(&str, &str)] = &[
    ("remainingJobs", "integer"),
    ("completedJobs", "integer"),
    ("failedJobs", "integer"),
    // Sweep extension
    ("totalInstances", "integer"),
    ("pendingInstances", "integer"),
    ("runningInstances", "integer"),
    ("deletedInstances", "integer"),
    ("skippedInstances", "integer"),
    ("failedInstances", "integer"),
];
const HISTORIC_BATCH_FIELDS: &[(&str, &str)] = &[
    ("id", "string"),
    ("type", "string"),
    ("totalJobs", "integer"),
    ("batchJobsPerSeed", "integer"),
    ("invocationsPerBatchJob", "integer"),
    ("seedJobDefinitionId", "string"),
    ("monitorJobDefinitionId", "string"),
    ("batchJobDefinitionId", "string"),
    ("tenantId", "string?"),
    ("createUserId", "string?"),
    ("startTime", "date"),
    ("endTime", "date?"),
    ("removalTime", "date?"),
    ("executionStartTime", "date?"),
];
const JOB_FIELDS: &[(&str, &str)] = &[
    ("id", "string"),
    ("jobDefinitionId", "string"),
    ("dueDate", "date?"),
    ("processInstanceId", "string?"),
    ("executionId", "string?"),
    ("processDefinitionId", "string?"),
    ("processDefinitionKey", "string?"),
    ("retries", "integer"),
    ("exceptionMessage", "string?"),
    ("failedActivityId", "string?"),
    ("suspended", "boolean"),
    ("priority", "integer"),
    ("tenantId", "string?"),
    ("createTime", "date"),
    ("batchId", "string"),
];
const ITEM_FIELDS: &[(&str, &str)] =
    &[("processInstanceId", "string"), ("state", "string"), ("reason", "string?"), ("seq", "integer")];

fn assert_shape(value: &Value, fields: &[&[(&str, &str)]]) {
    let object = value.as_object().unwrap_or_else(|| panic!("not an object: {value}"));
    let expected: BTreeMap<&str, &str> = fields.iter().flat_map(|f| f.iter().copied()).collect();
    let actual: Vec<&str> = object.keys().map(String::as_str).collect();
    let mut wanted: Vec<&str> = expected.keys().copied().collect();
    let mut got = actual.clone();
    wanted.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, wanted, "fields of {value}");
    for (name, kind) in expected {
        let v = &object[name];
        let (kind, nullable) = kind.strip_suffix('?').map_or((kind, false), |k| (k, true));
        if v.is_null() {
            assert!(nullable, "{name} is null in {value}");
            continue;
        }
        let ok = match kind {
            "string" => v.is_string(),
            "integer" => v.is_i64(),
            "boolean" => v.is_boolean(),
            "number" => v.is_number(),
            "object" => v.is_object(),
            "date" => {
                v.as_str().is_some_and(|s| chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z").is_ok())
            }
            _ => unreachable!(),
        };
        assert!(ok, "{name} is not a {kind} in {value}");
    }
}

fn assert_error(status: u16, body: &Value, want_status: u16, message: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["type"], "InvalidRequestException", "{body}");
    assert_eq!(body["message"], message, "{body}");
}

/// A batch to insert as rows.
struct Spec<'a> {
    id: &'a str,
    items: i64,
    per_job: i32,
    /// Created jobs, in order: (state, retries). Done jobs' items are deleted, failed jobs'
    /// items failed, all others pending.
    jobs: &'a [(&'a str, i32)],
    tenant: Option<&'a str>,
    user: Option<&'a str>,
    suspended: bool,
    /// SQL expression of the start time.
    start: &'a str,
}

impl Default for Spec<'_> {
    fn default() -> Self {
        Self { id: "b", items: 10, per_job: 2, jobs: &[], tenant: None, user: None, suspended: false, start: "now()" }
    }
}

async fn insert_batch(db: &TestDb, s: Spec<'_>) {
    let total_jobs = (s.items + i64::from(s.per_job) - 1) / i64::from(s.per_job);
    let text = |v: Option<&str>| v.map_or("NULL".to_owned(), |v| format!("'{v}'"));
    let (id, tenant, user) = (s.id, text(s.tenant), text(s.user));
    db.exec(&format!(
        "INSERT INTO sweep_batch (id_, type_, total_jobs_, jobs_created_, jobs_per_seed_, invocations_per_job_,
             seed_job_def_id_, monitor_job_def_id_, batch_job_def_id_, suspended_, tenant_id_, create_user_id_,
             start_time_, delete_reason_, skip_custom_listeners_, skip_subprocesses_, skip_io_mappings_,
             fail_if_not_exists_, total_items_)
         VALUES ('{id}', 'instance-deletion', {total_jobs}, {created}, 100, {per}, '{id}-seed', '{id}-monitor',
             '{id}-jobs', {susp}, {tenant}, {user}, {start}, 'r', false, false, false, true, {items});
         INSERT INTO sweep_hi_batch (id_, type_, total_jobs_, jobs_per_seed_, invocations_per_job_, seed_job_def_id_,
             monitor_job_def_id_, batch_job_def_id_, tenant_id_, create_user_id_, start_time_, total_items_)
         VALUES ('{id}', 'instance-deletion', {total_jobs}, 100, {per}, '{id}-seed', '{id}-monitor', '{id}-jobs',
             {tenant}, {user}, {start}, {items});
         INSERT INTO sweep_batch_item (batch_id_, seq_, proc_inst_id_)
             SELECT '{id}', n, '{id}-pi-' || n FROM generate_series(1, {items}) n;",
        created = s.jobs.len(),
        per = s.per_job,
        susp = s.suspended,
        start = s.start,
        items = s.items,
    ))
    .await;
    for (i, (state, retries)) in s.jobs.iter().enumerate() {
        let seq = i as i64 + 1;
        let (low, high) = ((seq - 1) * i64::from(s.per_job), (seq * i64::from(s.per_job)).min(s.items));
        let n = high - low;
        let (item_state, reason, exception) = match *state {
            "done" => ("'deleted'", "NULL", "NULL"),
            "failed" => ("'failed'", "'boom'", "'boom'"),
            _ => ("state_", "NULL", "NULL"),
        };
        let deleted = if *state == "done" { n } else { 0 };
        let failed = if *state == "failed" { n } else { 0 };
        db.exec(&format!(
            "INSERT INTO sweep_batch_job (id_, batch_id_, seq_, state_, retries_, exception_msg_, items_, deleted_, failed_, create_time_)
             VALUES ('{id}:{seq}', '{id}', {seq}, '{state}', {retries}, {exception}, {n}, {deleted}, {failed}, now());
             UPDATE sweep_batch_item SET state_ = {item_state}, reason_ = {reason}
              WHERE batch_id_ = '{id}' AND seq_ > {low} AND seq_ <= {high};"
        ))
        .await;
    }
}

/// Row counts of every batch table, to prove a request changed nothing.
async fn snapshot(db: &TestDb) -> Vec<String> {
    db.strings(
        "SELECT concat_ws('|', (SELECT count(*) FROM sweep_batch), (SELECT count(*) FROM sweep_batch WHERE suspended_),
                (SELECT count(*) FROM sweep_hi_batch), (SELECT count(*) FROM sweep_hi_batch WHERE end_time_ IS NULL),
                (SELECT string_agg(id_ || state_ || retries_, ',' ORDER BY id_) FROM sweep_batch_job),
                (SELECT string_agg(state_ || ':' || n, ',' ORDER BY state_)
                   FROM (SELECT state_, count(*) n FROM sweep_batch_item GROUP BY state_) s),
                (SELECT count(*) FROM sweep_outbox))",
    )
    .await
}

async fn ledger(db: &TestDb, batch: &str) -> BTreeMap<String, i64> {
    let rows = db
        .strings(&format!(
            "SELECT state_ || '=' || count(*) FROM sweep_batch_item WHERE batch_id_ = '{batch}' GROUP BY state_"
        ))
        .await;
    rows.iter()
        .map(|r| {
            let (k, v) = r.split_once('=').unwrap();
            (k.to_owned(), v.parse().unwrap())
        })
        .collect()
}

async fn start() -> (TestDb, TestApi) {
    let db = TestDb::new().await;
    let api = TestApi::spawn(db.settings(&[])).await;
    (db, api)
}

async fn start_with_mq() -> (TestDb, TestApi, TestMq) {
    let db = TestDb::new().await;
    let prefix = prefix();
    let settings = db.settings(&TestMq::env(&prefix));
    let mq = TestMq::declare(&settings).await;
    let api = TestApi::spawn(settings).await;
    (db, api, mq)
}

fn ids(body: &Value) -> Vec<String> {
    body.as_array()
        .unwrap_or_else(|| panic!("not an array: {body}"))
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn batch_api_get_batch_answers_a_camunda_batch_dto_or_404() {
    let (db, api) = start().await;
    insert_batch(
        &db,
        Spec { id: "b1", items: 5, per_job: 2, jobs: &[("done", 3)], user: Some("demo"), ..Default::default() },
    )
    .await;
    let (status, body) = api.get("/batch/b1").await;
    assert_eq!(status, 200, "{body}");
    assert_shape(&body, &[BATCH_FIELDS]);
    assert_eq!(body["id"], "b1");
    assert_eq!(body["type"], "instance-deletion");
    assert_eq!(body["totalJobs"], 3);
    assert_eq!(body["jobsCreated"], 1);
    assert_eq!(body["batchJobsPerSeed"], 100);
    assert_eq!(body["invocationsPerBatchJob"], 2);
    assert_eq!(body["batchJobDefinitionId"], "b1-jobs");
    assert_eq!(body["suspended"], false);
    assert_eq!(body["tenantId"], Value::Null);
    assert_eq!(body["createUserId"], "demo");

    let (status, body) = api.get("/batch/nope").await;
    assert_error(status, &body, 404, "Batch with id 'nope' does not exist");
    assert_eq!(body["code"], Value::Null);
}

#[tokio::test]
async fn batch_api_list_filters_sorts_pages_and_counts() {
    let (db, api) = start().await;
    insert_batch(&db, Spec { id: "a", tenant: Some("t2"), ..Default::default() }).await;
    insert_batch(&db, Spec { id: "b", tenant: Some("t1"), suspended: true, ..Default::default() }).await;
    insert_batch(&db, Spec { id: "c", ..Default::default() }).await;

    let cases: &[(&str, &[&str])] = &[
        ("", &["a", "b", "c"]),
        ("?batchId=b", &["b"]),
        ("?type=instance-deletion", &["a", "b", "c"]),
        ("?type=instance-migration", &[]),
        ("?tenantIdIn=t1,t2", &["a", "b"]),
        ("?tenantIdIn=t1", &["b"]),
        ("?tenantIdIn=", &["a", "b", "c"]),
        ("?withoutTenantId=true", &["c"]),
        ("?withoutTenantId=false", &["a", "b", "c"]),
        ("?suspended=true", &["b"]),
        ("?suspended=false", &["a", "c"]),
        ("?sortBy=batchId&sortOrder=desc", &["c", "b", "a"]),
        ("?sortBy=tenantId&sortOrder=asc", &["b", "a", "c"]),
        ("?sortBy=tenantId&sortOrder=desc", &["c", "a", "b"]),
        ("?firstResult=1", &["b", "c"]),
        ("?maxResults=2", &["a", "b"]),
        ("?firstResult=1&maxResults=1", &["b"]),
        ("?firstResult=5", &[]),
        ("?unknownParam=1", &["a", "b", "c"]),
    ];
    for (query, want) in cases {
        let (status, body) = api.get(&format!("/batch{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(ids(&body), *want, "{query}");
        for b in body.as_array().unwrap() {
            assert_shape(b, &[BATCH_FIELDS]);
        }
        if !query.contains("Result") {
            let (status, count) = api.get(&format!("/batch/count{query}")).await;
            assert_eq!(status, 200, "{query}: {count}");
            assert_eq!(count, json!({ "count": want.len() }), "{query}");
        }
    }
}

#[tokio::test]
async fn batch_api_bad_query_parameters_answer_camunda_400s_and_change_nothing() {
    let (db, api) = start().await;
    insert_batch(&db, Spec { id: "a", ..Default::default() }).await;
    let before = snapshot(&db).await;
    let cases: &[(&str, &str)] = &[
        (
            "/batch?suspended=yes",
            "Cannot set query parameter 'suspended' to value 'yes': Cannot convert value yes to java type java.lang.Boolean",
        ),
        (
            "/batch/count?withoutTenantId=1",
            "Cannot set query parameter 'withoutTenantId' to value '1': Cannot convert value 1 to java type java.lang.Boolean",
        ),
        ("/batch?sortBy=startTime&sortOrder=asc", "Cannot set query parameter 'sortBy' to value 'startTime'"),
        ("/batch?sortBy=batchId&sortOrder=up", "Cannot set query parameter 'sortOrder' to value 'up'"),
        ("/batch?sortBy=batchId", "Only a single sorting parameter specified. sortBy and sortOrder required"),
        ("/batch?sortOrder=asc", "Only a single sorting parameter specified. sortBy and sortOrder required"),
        (
            "/batch?firstResult=x",
            "Cannot set query parameter 'firstResult' to value 'x': Cannot convert value x to java type java.lang.Integer",
        ),
        (
            "/batch?maxResults=-1",
            "Cannot set query parameter 'maxResults' to value '-1': Cannot convert value -1 to java type java.lang.Integer",
        ),
        ("/batch/statistics?sortBy=endTime&sortOrder=asc", "Cannot set query parameter 'sortBy' to value 'endTime'"),
        (
            "/batch/statistics?startedBefore=yesterday",
            "Cannot set query parameter 'startedBefore' to value 'yesterday': Cannot convert value \"yesterday\" to java type java.util.Date",
        ),
        (
            "/batch/statistics/count?startedAfter=%222016-04-12T15:29:33.000%2B0200%22",
            "Cannot set query parameter 'startedAfter' to value '\"2016-04-12T15:29:33.000+0200\"': Cannot convert value \"2016-04-12T15:29:33.000+0200\" to java type java.util.Date because of double quotes",
        ),
        (
            "/batch/statistics?withFailures=maybe",
            "Cannot set query parameter 'withFailures' to value 'maybe': Cannot convert value maybe to java type java.lang.Boolean",
        ),
        (
            "/history/batch?completed=no",
            "Cannot set query parameter 'completed' to value 'no': Cannot convert value no to java type java.lang.Boolean",
        ),
        ("/history/batch?sortBy=suspended&sortOrder=asc", "Cannot set query parameter 'sortBy' to value 'suspended'"),
        (
            "/job?noRetriesLeft=1",
            "Cannot set query parameter 'noRetriesLeft' to value '1': Cannot convert value 1 to java type java.lang.Boolean",
        ),
        ("/job?sortBy=batchId&sortOrder=asc", "Cannot set query parameter 'sortBy' to value 'batchId'"),
        ("/batch/a/items?state=gone", "Cannot set query parameter 'state' to value 'gone'"),
        ("/batch/a/items/count?state=", "Cannot set query parameter 'state' to value ''"),
    ];
    for (path, message) in cases {
        let (status, body) = api.get(path).await;
        assert_error(status, &body, 400, message);
    }
    assert_eq!(snapshot(&db).await, before);
}

#[tokio::test]
async fn batch_api_statistics_add_up_match_the_ledger_and_filter() {
    let (db, api) = start().await;
    // 11 items in 6 jobs of 2; jobs 1-2 done, 3 failed, 4 running, 5 pending, 6 not created.
    insert_batch(
        &db,
        Spec {
            id: "s1",
            items: 11,
            per_job: 2,
            jobs: &[("done", 3), ("done", 3), ("failed", 0), ("running", 3), ("pending", 3)],
            user: Some("alice"),
            start: "'2024-01-10T12:00:00Z'",
            ..Default::default()
        },
    )
    .await;
    // one item of a done job was not found
    db.exec("UPDATE sweep_batch_item SET state_ = 'skipped' WHERE batch_id_ = 's1' AND seq_ = 2").await;
    insert_batch(
        &db,
        Spec {
            id: "s2",
            items: 3,
            per_job: 5,
            user: Some("bob"),
            start: "'2024-02-10T12:00:00Z'",
            ..Default::default()
        },
    )
    .await;

    let (status, body) = api.get("/batch/statistics").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), ["s1", "s2"]);
    let s1 = &body[0];
    assert_shape(s1, &[BATCH_FIELDS, STATISTICS_FIELDS]);
    assert_eq!(s1["totalJobs"], 6);
    assert_eq!(s1["remainingJobs"], 4, "{s1}");
    assert_eq!(s1["completedJobs"], 2);
    assert_eq!(s1["failedJobs"], 1);
    let ledger1 = ledger(&db, "s1").await;
    assert_eq!(s1["totalInstances"], 11);
    assert_eq!(s1["deletedInstances"], ledger1["deleted"]);
    assert_eq!(s1["skippedInstances"], ledger1["skipped"]);
    assert_eq!(s1["failedInstances"], ledger1["failed"]);
    // Pending items of a running job count as running; the ledger has both as pending.
    assert_eq!(s1["pendingInstances"].as_i64().unwrap() + s1["runningInstances"].as_i64().unwrap(), ledger1["pending"]);
    assert_eq!((ledger1["deleted"], ledger1["skipped"], ledger1["failed"], ledger1["pending"]), (3, 1, 2, 5));
    let s2 = &body[1];
    assert_eq!(
        (s2["remainingJobs"].as_i64(), s2["completedJobs"].as_i64(), s2["failedJobs"].as_i64()),
        (Some(1), Some(0), Some(0))
    );
    assert_eq!((s2["pendingInstances"].as_i64(), s2["deletedInstances"].as_i64()), (Some(3), Some(0)));

    // A worker finishing job 4 (items 7, 8) moves job and items in one transaction: the
    // counters follow and still add up.
    db.exec(
        "UPDATE sweep_batch_job SET state_ = 'done' WHERE id_ = 's1:4';
         UPDATE sweep_batch_item SET state_ = 'deleted' WHERE batch_id_ = 's1' AND seq_ IN (7, 8);",
    )
    .await;
    let (_, body) = api.get("/batch/statistics?batchId=s1").await;
    let s1 = &body[0];
    assert_eq!((s1["remainingJobs"].as_i64(), s1["completedJobs"].as_i64()), (Some(3), Some(3)));
    let sum: i64 =
        ["pending", "deleted", "skipped", "failed"].iter().map(|k| s1[format!("{k}Instances")].as_i64().unwrap()).sum();
    assert_eq!(sum, 11);
    assert_eq!(s1["deletedInstances"], 5);

    let cases: &[(&str, &[&str])] = &[
        ("?withFailures=true", &["s1"]),
        ("?withoutFailures=true", &["s2"]),
        ("?withFailures=true&withoutFailures=true", &["s2"]),
        ("?withFailures=false", &["s1", "s2"]),
        ("?createdBy=bob", &["s2"]),
        ("?startedBefore=2024-01-10T12:00:00.000%2B0000", &["s1"]),
        ("?startedAfter=2024-01-10T12:00:00.000%2B0000", &["s1", "s2"]),
        ("?startedAfter=2024-01-10T12:00:00.001%2B0000", &["s2"]),
        ("?startedBefore=2024-03-01T00:00:00.000%2B0100&startedAfter=2024-02-01T00:00:00.000%2B0100", &["s2"]),
        ("?sortBy=startTime&sortOrder=desc", &["s2", "s1"]),
        ("?sortBy=batchId&sortOrder=desc&maxResults=1", &["s2"]),
        ("?firstResult=1", &["s2"]),
        ("?suspended=true", &[]),
    ];
    for (query, want) in cases {
        let (status, body) = api.get(&format!("/batch/statistics{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(ids(&body), *want, "{query}");
        if !query.contains("Result") {
            let (_, count) = api.get(&format!("/batch/statistics/count{query}")).await;
            assert_eq!(count, json!({ "count": want.len() }), "{query}");
        }
    }
    // createdBy is a statistics filter only; /batch ignores it like any unknown parameter.
    assert_eq!(ids(&api.get("/batch?createdBy=bob").await.1), ["s1", "s2"]);
}

#[tokio::test]
async fn batch_api_statistics_of_100k_items_stay_cheap() {
    let (db, api) = start().await;
    let jobs: Vec<(&str, i32)> = (0..100).map(|i| if i < 60 { ("done", 3) } else { ("pending", 3) }).collect();
    insert_batch(&db, Spec { id: "big", items: 100_000, per_job: 1_000, jobs: &jobs, ..Default::default() }).await;
    db.exec("VACUUM ANALYZE sweep_batch_item").await;
    let started = Instant::now();
    let (status, body) = api.get("/batch/statistics?batchId=big").await;
    let took = started.elapsed();
    assert_eq!(status, 200);
    assert_eq!(
        (body[0]["deletedInstances"].as_i64(), body[0]["pendingInstances"].as_i64()),
        (Some(60_000), Some(40_000))
    );
    eprintln!("statistics of 100k items (60% deleted) took {took:?}");
    assert!(took.as_millis() < 2_000, "statistics took {took:?}");

    // The worst case for the partial index: nothing deleted yet.
    db.exec("UPDATE sweep_batch_item SET state_ = 'pending'").await;
    db.exec("VACUUM ANALYZE sweep_batch_item").await;
    let started = Instant::now();
    let (_, body) = api.get("/batch/statistics?batchId=big").await;
    let took = started.elapsed();
    assert_eq!(body[0]["pendingInstances"], 100_000);
    eprintln!("statistics of 100k pending items took {took:?}");
    assert!(took.as_millis() < 2_000, "statistics took {took:?}");
}

#[tokio::test]
async fn batch_api_suspend_and_activate_enqueue_the_right_messages() {
    let (db, api, mq) = start_with_mq().await;
    // 5 jobs, 4 created: done, failed, running, pending.
    insert_batch(
        &db,
        Spec {
            id: "s",
            items: 10,
            per_job: 2,
            jobs: &[("done", 3), ("failed", 0), ("running", 3), ("pending", 3)],
            ..Default::default()
        },
    )
    .await;

    let (status, body) = api.put("/batch/s/suspended", &json!({ "suspended": true })).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch WHERE suspended_").await, 1);
    assert_eq!(api.get("/batch/s").await.1["suspended"], true);
    assert_eq!(db.strings("SELECT state_ FROM sweep_batch_job WHERE id_ = 's:4'").await, ["pending"]);
    for route in ["seed", "job", "monitor"] {
        assert!(mq.drain(route).await.is_empty(), "suspending publishes nothing on {route}");
    }
    // suspending twice is fine
    assert_eq!(api.put("/batch/s/suspended", &json!({ "suspended": true })).await.0, 204);

    // a missing flag means activate
    let (status, body) = api.put("/batch/s/suspended", &json!({})).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch WHERE suspended_").await, 0);
    assert_eq!(mq.drain("seed").await, [json!({ "type": "seed_v1", "batch_id": "s", "jobs_created": 4 })]);
    assert_eq!(
        mq.drain("job").await,
        [
            json!({ "type": "delete_process_instances_v1", "batch_id": "s", "job_seq": 3 }),
            json!({ "type": "delete_process_instances_v1", "batch_id": "s", "job_seq": 4 }),
        ]
    );
    assert_eq!(mq.drain("monitor").await, [json!({ "type": "monitor_v1", "batch_id": "s" })]);
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_outbox").await, 0, "published rows leave the outbox");

    // all jobs created: no seed
    db.exec("UPDATE sweep_batch SET jobs_created_ = total_jobs_, suspended_ = true").await;
    assert_eq!(api.put("/batch/s/suspended", &json!({ "suspended": false })).await.0, 204);
    assert!(mq.drain("seed").await.is_empty());
    assert_eq!(mq.drain("job").await.len(), 2);
    assert_eq!(mq.drain("monitor").await.len(), 1);
}

#[tokio::test]
async fn batch_api_suspension_errors_change_nothing() {
    let (db, api) = start().await;
    insert_batch(&db, Spec { id: "s", ..Default::default() }).await;
    let before = snapshot(&db).await;
    let (status, body) = api.put("/batch/nope/suspended", &json!({ "suspended": true })).await;
    assert_error(status, &body, 400, "Unable to suspend batch with id 'nope'");
    assert_eq!(body["code"], 0);
    let (status, body) = api.put("/batch/nope/suspended", &json!({ "suspended": false })).await;
    assert_error(status, &body, 400, "Unable to activate batch with id 'nope'");
    let (status, body) = api.put("/batch/s/suspended", &json!({ "suspended": "yes" })).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["type"], "InvalidRequestException");
    let (status, body) = api.post_raw("/batch/s/suspended", "application/json", "{").await;
    assert_eq!(status, 405, "{body}");
    let (status, body) = api.put_raw("/batch/s/suspended", "application/json", "{").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(snapshot(&db).await, before);
}

#[tokio::test]
async fn batch_api_deleting_a_batch_ends_it_and_with_cascade_removes_its_history_too() {
    let (db, api) = start().await;
    insert_batch(&db, Spec { id: "keep", items: 4, jobs: &[("done", 3)], ..Default::default() }).await;
    insert_batch(&db, Spec { id: "gone", items: 4, jobs: &[("done", 3)], ..Default::default() }).await;

    let before = snapshot(&db).await;
    let (status, body) = api.delete("/batch/nope").await;
    assert_error(status, &body, 400, "Unable to delete batch with id 'nope'");
    assert_eq!(body["code"], 0);
    let (status, body) = api.delete("/batch/keep?cascade=perhaps").await;
    assert_error(
        status,
        &body,
        400,
        "Cannot set query parameter 'cascade' to value 'perhaps': Cannot convert value perhaps to java type java.lang.Boolean",
    );
    assert_eq!(snapshot(&db).await, before);

    let (status, body) = api.delete("/batch/keep").await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(api.get("/batch/keep").await.0, 404);
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch_job WHERE batch_id_ = 'keep'").await, 0);
    let (status, hi) = api.get("/history/batch/keep").await;
    assert_eq!(status, 200);
    assert!(hi["endTime"].is_string(), "deleting ends the historic batch: {hi}");
    assert_eq!(
        ledger(&db, "keep").await,
        BTreeMap::from([("deleted".into(), 2), ("pending".into(), 2)]),
        "unprocessed items stay pending"
    );

    let (status, _) = api.delete("/batch/gone?cascade=true").await;
    assert_eq!(status, 204);
    assert_eq!(api.get("/history/batch/gone").await.0, 404);
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = 'gone'").await, 0);
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch_job").await, 0);
    assert_eq!(api.delete("/batch/gone").await.0, 400, "a deleted batch is unknown");
}

#[tokio::test]
async fn batch_api_historic_batches_list_find_and_delete() {
    let (db, api) = start().await;
    insert_batch(&db, Spec { id: "h1", tenant: Some("t1"), start: "'2024-01-01T00:00:00Z'", ..Default::default() })
        .await;
    insert_batch(&db, Spec { id: "h2", start: "'2024-03-01T00:00:00Z'", ..Default::default() }).await;
    insert_batch(&db, Spec { id: "h3", start: "'2024-02-01T00:00:00Z'", ..Default::default() }).await;
    // h2 completed (runtime row gone), h3 ended earlier than h2
    db.exec(
        "DELETE FROM sweep_batch WHERE id_ IN ('h2', 'h3');
         UPDATE sweep_hi_batch SET end_time_ = '2024-03-02T00:00:00Z' WHERE id_ = 'h2';
         UPDATE sweep_hi_batch SET end_time_ = '2024-02-02T00:00:00Z', exec_start_time_ = start_time_ WHERE id_ = 'h3';",
    )
    .await;

    let (status, body) = api.get("/history/batch/h3").await;
    assert_eq!(status, 200, "{body}");
    assert_shape(&body, &[HISTORIC_BATCH_FIELDS]);
    assert_eq!(body["totalJobs"], 5);
    assert_eq!(body["batchJobDefinitionId"], "h3-jobs");
    assert!(body["endTime"].is_string() && body["executionStartTime"].is_string());
    assert_eq!(body["removalTime"], Value::Null);
    let (status, body) = api.get("/history/batch/nope").await;
    assert_error(status, &body, 404, "Historic batch with id 'nope' does not exist");

    let cases: &[(&str, &[&str])] = &[
        ("", &["h1", "h2", "h3"]),
        ("?batchId=h2", &["h2"]),
        ("?type=instance-deletion", &["h1", "h2", "h3"]),
        ("?type=other", &[]),
        ("?completed=true", &["h2", "h3"]),
        ("?completed=false", &["h1"]),
        ("?tenantIdIn=t1", &["h1"]),
        ("?withoutTenantId=true", &["h2", "h3"]),
        ("?sortBy=startTime&sortOrder=asc", &["h1", "h3", "h2"]),
        ("?sortBy=endTime&sortOrder=desc", &["h1", "h2", "h3"]),
        ("?sortBy=tenantId&sortOrder=asc", &["h1", "h2", "h3"]),
        ("?sortBy=batchId&sortOrder=desc", &["h3", "h2", "h1"]),
        ("?firstResult=1&maxResults=1", &["h2"]),
    ];
    for (query, want) in cases {
        let (status, body) = api.get(&format!("/history/batch{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(ids(&body), *want, "{query}");
        for b in body.as_array().unwrap() {
            assert_shape(b, &[HISTORIC_BATCH_FIELDS]);
        }
        if !query.contains("Result") {
            let (_, count) = api.get(&format!("/history/batch/count{query}")).await;
            assert_eq!(count, json!({ "count": want.len() }), "{query}");
        }
    }

    let before = snapshot(&db).await;
    let (status, body) = api.delete("/history/batch/nope").await;
    assert_error(status, &body, 400, "Unable to delete historic batch with id 'nope'");
    assert_eq!(snapshot(&db).await, before);

    // h1 still runs: its historic batch and ledger go, the runtime batch stays.
    assert_eq!(api.delete("/history/batch/h1").await.0, 204);
    assert_eq!(api.get("/history/batch/h1").await.0, 404);
    assert_eq!(api.get("/batch/h1").await.0, 200);
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = 'h1'").await, 0);
    assert_eq!(api.delete("/history/batch/h2").await.0, 204);
    assert_eq!(api.get("/batch/h2/items").await.0, 404, "nothing is left of h2");
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = 'h3'").await, 10);
}

#[tokio::test]
async fn batch_api_job_api_lists_batch_jobs_and_filters_failed_ones() {
    let (db, api) = start().await;
    insert_batch(
        &db,
        Spec { id: "j", jobs: &[("done", 3), ("failed", 0), ("pending", 2), ("failed", 0)], ..Default::default() },
    )
    .await;
    insert_batch(&db, Spec { id: "k", jobs: &[("running", 3)], suspended: true, ..Default::default() }).await;

    let (status, body) = api.get("/job?jobDefinitionId=j-jobs&noRetriesLeft=true").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), ["j:2", "j:4"]);
    let job = &body[0];
    assert_shape(job, &[JOB_FIELDS]);
    assert_eq!(job["jobDefinitionId"], "j-jobs");
    assert_eq!(job["batchId"], "j");
    assert_eq!(job["retries"], 0);
    assert_eq!(job["exceptionMessage"], "boom");
    assert_eq!(job["suspended"], false);
    assert_eq!(job["priority"], 0);
    assert_eq!(job["processInstanceId"], Value::Null);

    // Seed and monitor jobs are synthesized while the batch runs: both batches still have jobs
    // to create.
    let all = &["j:2", "j:3", "j:4", "j:monitor", "j:seed", "k:1", "k:monitor", "k:seed"];
    let cases: &[(&str, &[&str])] = &[
        ("", all),
        ("?jobDefinitionId=j-jobs", &["j:2", "j:3", "j:4"]),
        ("?jobDefinitionId=j-seed", &["j:seed"]),
        ("?jobDefinitionId=k-monitor", &["k:monitor"]),
        ("?jobDefinitionId=j-jobs&withRetriesLeft=true", &["j:3"]),
        ("?noRetriesLeft=true", &["j:2", "j:4"]),
        ("?withException=true", &["j:2", "j:4"]),
        ("?exceptionMessage=boom", &["j:2", "j:4"]),
        ("?jobIds=j:3,k:1,j:1", &["j:3", "k:1"]),
        ("?jobId=k:1", &["k:1"]),
        ("?suspended=true", &["k:1", "k:monitor", "k:seed"]),
        ("?active=true", &["j:2", "j:3", "j:4", "j:monitor", "j:seed"]),
        ("?executable=true", &["j:3", "j:monitor", "j:seed", "k:1", "k:monitor", "k:seed"]),
        ("?processInstanceId=j-pi-1", &[]),
        ("?timers=true", &[]),
        ("?messages=true", all),
        (
            "?sortBy=jobRetries&sortOrder=desc",
            &["j:monitor", "j:seed", "k:1", "k:monitor", "k:seed", "j:3", "j:2", "j:4"],
        ),
        ("?sortBy=jobId&sortOrder=desc", &["k:seed", "k:monitor", "k:1", "j:seed", "j:monitor", "j:4", "j:3", "j:2"]),
        ("?sortBy=jobDueDate&sortOrder=desc", all),
        ("?firstResult=1&maxResults=2", &["j:3", "j:4"]),
    ];
    for (query, want) in cases {
        let (status, body) = api.get(&format!("/job{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(ids(&body), *want, "{query}");
        if !query.contains("Result") {
            let (_, count) = api.get(&format!("/job/count{query}")).await;
            assert_eq!(count, json!({ "count": want.len() }), "{query}");
        }
    }
    assert_eq!(api.get("/job?suspended=true").await.1[0]["suspended"], true);
}

#[tokio::test]
async fn batch_api_job_retries_reopen_a_failed_job_and_its_items() {
    let (db, api, mq) = start_with_mq().await;
    insert_batch(
        &db,
        Spec { id: "r", items: 6, jobs: &[("done", 3), ("failed", 0), ("failed", 0)], ..Default::default() },
    )
    .await;
    assert_eq!(ledger(&db, "r").await, BTreeMap::from([("deleted".into(), 2), ("failed".into(), 4)]));

    let (status, body) = api.put("/job/r:2/retries", &json!({ "retries": 2 })).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(db.strings("SELECT state_ || retries_ FROM sweep_batch_job WHERE id_ = 'r:2'").await, ["pending2"]);
    assert_eq!(
        ledger(&db, "r").await,
        BTreeMap::from([("deleted".into(), 2), ("failed".into(), 2), ("pending".into(), 2)])
    );
    assert_eq!(
        db.strings(
            "SELECT seq_::text FROM sweep_batch_item WHERE batch_id_ = 'r' AND state_ = 'pending' ORDER BY seq_"
        )
        .await,
        ["3", "4"]
    );
    assert_eq!(
        mq.drain("job").await,
        [json!({ "type": "delete_process_instances_v1", "batch_id": "r", "job_seq": 2 })]
    );
    assert!(mq.drain("seed").await.is_empty() && mq.drain("monitor").await.is_empty());
    let (_, stats) = api.get("/batch/statistics").await;
    assert_eq!(
        (stats[0]["failedJobs"].as_i64(), stats[0]["pendingInstances"].as_i64(), stats[0]["failedInstances"].as_i64()),
        (Some(1), Some(2), Some(2))
    );
    assert_eq!(ids(&api.get("/job?noRetriesLeft=true").await.1), ["r:3"]);

    // Retries on a pending job only change the count; nothing is enqueued.
    assert_eq!(api.put("/job/r:2/retries", &json!({ "retries": 5 })).await.0, 204);
    assert_eq!(db.strings("SELECT state_ || retries_ FROM sweep_batch_job WHERE id_ = 'r:2'").await, ["pending5"]);
    assert!(mq.drain("job").await.is_empty());

    // 0 retries on a pending job stop it, as a Camunda job at 0 retries is no longer acquired;
    // its items stay pending. Retries bring it back.
    assert_eq!(api.put("/job/r:2/retries", &json!({ "retries": 0 })).await.0, 204);
    assert_eq!(ids(&api.get("/job?noRetriesLeft=true").await.1), ["r:2", "r:3"]);
    assert_eq!(ledger(&db, "r").await["pending"], 2);
    assert!(mq.drain("job").await.is_empty());
    assert_eq!(api.put("/job/r:2/retries", &json!({ "retries": 1 })).await.0, 204);
    assert_eq!(db.strings("SELECT state_ || retries_ FROM sweep_batch_job WHERE id_ = 'r:2'").await, ["pending1"]);
    assert_eq!(mq.drain("job").await.len(), 1);

    // Errors change nothing.
    let before = snapshot(&db).await;
    let (status, body) = api.put("/job/nope/retries", &json!({ "retries": 1 })).await;
    assert_error(status, &body, 404, "No job found with id 'nope'");
    let (status, body) = api.put("/job/r:1/retries", &json!({ "retries": 1 })).await;
    assert_error(status, &body, 404, "No job found with id 'r:1'");
    let (status, body) = api.put("/job/r:3/retries", &json!({ "retries": -1 })).await;
    assert_error(
        status,
        &body,
        400,
        "The number of job retries must be a non-negative Integer, but '-1' has been provided.",
    );
    let (status, body) = api.put("/job/r:3/retries", &json!({})).await;
    assert_error(
        status,
        &body,
        400,
        "The number of job retries must be a non-negative Integer, but 'null' has been provided.",
    );
    let (status, body) = api.put("/job/r:3/retries", &json!({ "retries": "x" })).await;
    assert_eq!((status, body["type"].as_str()), (400, Some("InvalidRequestException")));
    let (status, body) = api.put("/job-definition/r-jobs/retries", &json!({ "retries": -2 })).await;
    assert_error(
        status,
        &body,
        400,
        "The number of job retries must be a non-negative Integer, but '-2' has been provided.",
    );
    // failed job to 0 retries: stays failed
    assert_eq!(api.put("/job/r:3/retries", &json!({ "retries": 0 })).await.0, 204);
    assert_eq!(snapshot(&db).await, before);
    assert!(mq.drain("job").await.is_empty());
}

#[tokio::test]
async fn batch_api_job_definition_retries_reopen_every_failed_job_of_the_batch() {
    let (db, api, mq) = start_with_mq().await;
    insert_batch(
        &db,
        Spec {
            id: "d",
            items: 8,
            jobs: &[("failed", 0), ("done", 3), ("failed", 0), ("pending", 3)],
            ..Default::default()
        },
    )
    .await;
    insert_batch(&db, Spec { id: "other", items: 2, jobs: &[("failed", 0)], ..Default::default() }).await;

    let before = snapshot(&db).await;
    assert_eq!(api.put("/job-definition/unknown/retries", &json!({ "retries": 3 })).await.0, 204);
    assert_eq!(api.put("/job-definition/d-jobs/retries", &json!({ "retries": 0 })).await.0, 204);
    assert_eq!(snapshot(&db).await, before);
    assert!(mq.drain("job").await.is_empty());

    assert_eq!(api.put("/job-definition/d-jobs/retries", &json!({ "retries": 3 })).await.0, 204);
    assert_eq!(
        db.strings("SELECT id_ || state_ || retries_ FROM sweep_batch_job ORDER BY id_").await,
        ["d:1pending3", "d:2done3", "d:3pending3", "d:4pending3", "other:1failed0"]
    );
    assert_eq!(ledger(&db, "d").await, BTreeMap::from([("deleted".into(), 2), ("pending".into(), 6)]));
    assert_eq!(ledger(&db, "other").await, BTreeMap::from([("failed".into(), 2)]));
    let seqs: Vec<i64> = mq.drain("job").await.iter().map(|m| m["job_seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 3]);
}

#[tokio::test]
async fn batch_api_item_ledger_lists_and_counts_items() {
    let (db, api) = start().await;
    insert_batch(
        &db,
        Spec { id: "l", items: 7, per_job: 3, jobs: &[("done", 3), ("failed", 0)], ..Default::default() },
    )
    .await;
    db.exec("UPDATE sweep_batch_item SET state_ = 'skipped' WHERE batch_id_ = 'l' AND seq_ = 2").await;

    let (status, body) = api.get("/batch/l/items").await;
    assert_eq!(status, 200, "{body}");
    let items = body.as_array().unwrap();
    assert_eq!(items.len(), 7);
    for item in items {
        assert_shape(item, &[ITEM_FIELDS]);
    }
    assert_eq!(body[0], json!({ "processInstanceId": "l-pi-1", "state": "deleted", "reason": null, "seq": 1 }));
    assert_eq!(body[3], json!({ "processInstanceId": "l-pi-4", "state": "failed", "reason": "boom", "seq": 4 }));
    let seqs = |b: &Value| b.as_array().unwrap().iter().map(|i| i["seq"].as_i64().unwrap()).collect::<Vec<_>>();
    let cases: &[(&str, &[i64])] = &[
        ("?state=deleted", &[1, 3]),
        ("?state=skipped", &[2]),
        ("?state=failed", &[4, 5, 6]),
        ("?state=pending", &[7]),
        ("?firstResult=2&maxResults=3", &[3, 4, 5]),
        ("?state=failed&maxResults=1", &[4]),
    ];
    for (query, want) in cases {
        let (status, body) = api.get(&format!("/batch/l/items{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(seqs(&body), *want, "{query}");
        if !query.contains("Result") {
            assert_eq!(api.get(&format!("/batch/l/items/count{query}")).await.1, json!({ "count": want.len() }));
        }
    }
    assert_eq!(api.get("/batch/l/items/count").await.1, json!({ "count": 7 }));

    // The ledger outlives the runtime batch.
    db.exec("DELETE FROM sweep_batch WHERE id_ = 'l'").await;
    assert_eq!(seqs(&api.get("/batch/l/items?state=skipped").await.1), [2]);

    let (status, body) = api.get("/batch/nope/items").await;
    assert_error(status, &body, 404, "Batch with id 'nope' does not exist");
    let (status, body) = api.get("/batch/nope/items/count").await;
    assert_error(status, &body, 404, "Batch with id 'nope' does not exist");
}

#[tokio::test]
async fn batch_api_retry_failed_items_reopens_exactly_the_jobs_containing_them() {
    let (db, api, mq) = start_with_mq().await;
    // Job 1 done with one failed item (failIfNotExists), job 2 done clean, job 3 finally failed,
    // job 4 pending, job 5 not created.
    insert_batch(
        &db,
        Spec {
            id: "f",
            items: 10,
            per_job: 2,
            jobs: &[("done", 3), ("done", 3), ("failed", 0), ("pending", 3)],
            ..Default::default()
        },
    )
    .await;
    db.exec("UPDATE sweep_batch_item SET state_ = 'failed', reason_ = 'not found' WHERE batch_id_ = 'f' AND seq_ = 2")
        .await;

    let (status, body) = api.post("/batch/f/retry-failed-items", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "retriedItems": 3, "retriedJobs": 2 }));
    assert_eq!(
        db.strings("SELECT id_ || state_ || retries_ FROM sweep_batch_job ORDER BY id_").await,
        ["f:1pending3", "f:2done3", "f:3pending3", "f:4pending3"]
    );
    assert_eq!(ledger(&db, "f").await, BTreeMap::from([("deleted".into(), 3), ("pending".into(), 7)]));
    let seqs: Vec<i64> = mq.drain("job").await.iter().map(|m| m["job_seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 3]);
    let (_, stats) = api.get("/batch/statistics").await;
    assert_eq!(
        (stats[0]["failedJobs"].as_i64(), stats[0]["failedInstances"].as_i64(), stats[0]["pendingInstances"].as_i64()),
        (Some(0), Some(0), Some(7))
    );

    // Nothing failed any more: a no-op.
    let before = snapshot(&db).await;
    assert_eq!(
        api.post("/batch/f/retry-failed-items", &json!({})).await.1,
        json!({ "retriedItems": 0, "retriedJobs": 0 })
    );
    let (status, body) = api.post("/batch/nope/retry-failed-items", &json!({})).await;
    assert_error(status, &body, 404, "Batch with id 'nope' does not exist");
    assert_eq!(snapshot(&db).await, before);
    assert!(mq.drain("job").await.is_empty());
}

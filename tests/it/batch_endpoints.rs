//! The Camunda endpoints around a batch, on real batches made through the API and worked by a
//! driven worker: incidents of failed jobs, job definitions, the job log, deleting a job, the
//! synthesized seed and monitor jobs, due dates, historic-query-based deletion and the
//! named-engine paths. Every answer is checked against the shape of Camunda's DTO schema
//! (`tests/camunda/schemas.json`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use system_tests::fixtures::{refuse_to_delete, root_instances, seed_instances, wait_completed};
use system_tests::{DrivenWorker, TestApi, TestDb, eventually};

/// Camunda's component schemas the answers must fit.
const SCHEMAS: &str = include_str!("../camunda/schemas.json");

/// Asserts that `value` has every property Camunda's schema `name` lists, each with a JSON type
/// that schema allows (null where it is nullable; dates in Camunda's format).
fn assert_camunda_shape(value: &Value, name: &str) {
    let schemas: Value = serde_json::from_str(SCHEMAS).unwrap();
    let schema = &schemas["schemas"][name];
    let properties = schema["properties"].as_object().unwrap_or_else(|| panic!("no schema {name}"));
    let object = value.as_object().unwrap_or_else(|| panic!("{name}: not an object: {value}"));
    for (field, spec) in properties {
        let v = object.get(field).unwrap_or_else(|| panic!("{name}: no {field} in {value}"));
        if v.is_null() {
            assert_eq!(spec["nullable"], true, "{name}: {field} is null in {value}");
            continue;
        }
        let ok = match spec["type"].as_str().unwrap() {
            "string" if spec["format"] == "date-time" => {
                v.as_str().is_some_and(|s| chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z").is_ok())
            }
            "string" => v.is_string(),
            "integer" => v.is_i64(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            other => panic!("{name}: unexpected type {other}"),
        };
        assert!(ok, "{name}: {field} is not a {} in {value}", spec["type"]);
    }
}

fn ids(body: &Value) -> Vec<String> {
    body.as_array()
        .unwrap_or_else(|| panic!("not an array: {body}"))
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_error(status: u16, body: &Value, want: u16, message: &str) {
    assert_eq!(status, want, "{body}");
    assert_camunda_shape(body, "ExceptionDto");
    assert_eq!(body["type"], "InvalidRequestException", "{body}");
    assert_eq!(body["message"], message, "{body}");
}

/// The ledger of batch `id`: state → count.
async fn ledger(db: &TestDb, id: &str) -> BTreeMap<String, i64> {
    db.strings(&format!(
        "SELECT state_ || '=' || count(*) FROM sweep_batch_item WHERE batch_id_ = '{id}' GROUP BY state_"
    ))
    .await
    .iter()
    .map(|r| {
        let (k, v) = r.split_once('=').unwrap();
        (k.to_owned(), v.parse().unwrap())
    })
    .collect()
}

/// Row counts of the batch tables, to prove a request changed nothing.
async fn snapshot(db: &TestDb) -> String {
    db.strings(
        "SELECT concat_ws('|', (SELECT count(*) FROM sweep_batch), (SELECT count(*) FROM sweep_hi_batch),
                (SELECT string_agg(id_ || state_ || retries_ || coalesce(duedate_::text, '-'), ',' ORDER BY id_) FROM sweep_batch_job),
                (SELECT count(*) FROM sweep_batch_item), (SELECT count(*) FROM sweep_hi_job_log),
                (SELECT count(*) FROM sweep_outbox))",
    )
    .await
    .remove(0)
}

/// Job-log entries of `job`, oldest first, as `created`/`failed`/`successful`/`deleted`.
async fn log_of(api: &TestApi, job: &str) -> Vec<&'static str> {
    let (status, body) = api.get(&format!("/history/job-log?jobId={job}")).await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_camunda_shape(e, "HistoricJobLogDto");
            let flags = ["creationLog", "failureLog", "successLog", "deletionLog"].map(|f| e[f] == true);
            assert_eq!(flags.iter().filter(|f| **f).count(), 1, "one flag per entry: {e}");
            ["created", "failed", "successful", "deleted"][flags.iter().position(|f| *f).unwrap()]
        })
        .collect()
}

/// Job-log entries of batch `batch` matching `query`.
async fn log_count(api: &TestApi, batch: &str, query: &str) -> i64 {
    let (status, body) = api.get(&format!("/history/job-log/count?jobDefinitionConfiguration={batch}&{query}")).await;
    assert_eq!(status, 200, "{body}");
    body["count"].as_i64().unwrap()
}

/// 20 instances (11 of definition key `p`: `pi-2`, `pi-4`, …, `pi-20` and `c-1`), an API and a
/// driven worker, 5 instances per job.
async fn start() -> (TestDb, TestApi, DrivenWorker) {
    let db = TestDb::new().await;
    seed_instances(&db, 20).await;
    let settings = db.settings(&[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "5")]);
    let api = TestApi::spawn(settings.clone()).await;
    let worker = DrivenWorker::connect(settings).await;
    (db, api, worker)
}

async fn delete_by_key(api: &TestApi) -> Value {
    let (status, batch) =
        api.post("/process-instance/delete", &json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;
    assert_eq!(status, 200, "{batch}");
    batch
}

#[tokio::test]
async fn batch_endpoints_a_failed_job_shows_its_incident_job_log_and_job_definitions() {
    let (db, api, worker) = start().await;
    refuse_to_delete(&db, "pi-4").await;
    let batch = delete_by_key(&api).await;
    let id = batch["id"].as_str().unwrap().to_owned();
    let job_def = batch["batchJobDefinitionId"].as_str().unwrap().to_owned();
    worker.drain().await;
    let failed_job = db
        .strings(&format!("SELECT id_ FROM sweep_batch_job WHERE batch_id_ = '{id}' AND state_ = 'failed'"))
        .await
        .remove(0);

    // The incident of the failed job.
    let (status, incidents) = api.get("/incident").await;
    assert_eq!(status, 200, "{incidents}");
    assert_eq!(incidents.as_array().unwrap().len(), 1, "{incidents}");
    let incident = &incidents[0];
    assert_camunda_shape(incident, "IncidentDto");
    assert_eq!(incident["incidentType"], "failedJob");
    assert_eq!(incident["configuration"], failed_job.as_str());
    assert_eq!(incident["jobDefinitionId"], job_def.as_str());
    assert_eq!(incident["causeIncidentId"], incident["id"]);
    assert_eq!(incident["rootCauseIncidentId"], incident["id"]);
    assert_eq!(incident["processInstanceId"], Value::Null);
    assert!(incident["incidentMessage"].as_str().unwrap().contains("refusing to delete pi-4"), "{incident}");
    let incident_id = incident["id"].as_str().unwrap().to_owned();
    let cases: &[(String, usize)] = &[
        (format!("incidentId={incident_id}"), 1),
        ("incidentId=nope".into(), 0),
        ("incidentType=failedJob".into(), 1),
        ("incidentType=failedExternalTask".into(), 0),
        (format!("configuration={failed_job}"), 1),
        (format!("jobDefinitionIdIn=x,{job_def}"), 1),
        (format!("jobDefinitionId={job_def}"), 1),
        ("jobDefinitionIdIn=x".into(), 0),
        ("incidentMessageLike=%25pi-4%25".into(), 1),
        ("processInstanceId=pi-4".into(), 0),
        ("incidentTimestampAfter=2999-01-01T00:00:00.000%2B0000".into(), 0),
        ("incidentTimestampBefore=2999-01-01T00:00:00.000%2B0000".into(), 1),
        ("sortBy=incidentTimestamp&sortOrder=desc".into(), 1),
        ("withoutTenantId=true".into(), 1),
    ];
    for (query, want) in cases {
        let (status, body) = api.get(&format!("/incident?{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(body.as_array().unwrap().len(), *want, "{query}: {body}");
        let (_, count) = api.get(&format!("/incident/count?{query}")).await;
        assert_camunda_shape(&count, "CountResultDto");
        assert_eq!(count, json!({ "count": want }), "{query}");
    }

    // Its log: created, then one failure per attempt (3 retries); the other jobs succeeded.
    assert_eq!(log_of(&api, &failed_job).await, ["created", "failed", "failed", "failed"]);
    let (_, failures) = api.get(&format!("/history/job-log?failureLog=true&jobId={failed_job}")).await;
    assert!(failures[0]["jobExceptionMessage"].as_str().unwrap().contains("refusing to delete pi-4"));
    assert_eq!(failures[0]["jobDefinitionId"], job_def.as_str());
    assert_eq!(failures[0]["jobDefinitionType"], "instance-deletion");
    assert_eq!(failures[0]["jobDefinitionConfiguration"], id.as_str());
    assert_eq!(failures[0]["batchId"], id.as_str());
    for (query, want) in [
        ("creationLog=true", 3),
        ("successLog=true", 2),
        ("failureLog=true", 3),
        ("deletionLog=true", 0),
        ("creationLog=true&successLog=true", 0),
        ("processInstanceId=pi-4", 0),
        ("jobDefinitionType=instance-deletion", 8),
    ] {
        let query = format!("{query}&jobDefinitionConfiguration={id}");
        assert_eq!(api.get(&format!("/history/job-log/count?{query}")).await.1["count"], want, "{query}");
    }
    let (_, page) = api.get(&format!("/history/job-log?jobId={failed_job}&firstResult=1&maxResults=2")).await;
    assert_eq!(page.as_array().unwrap().len(), 2);

    // The batch's three job definitions, while it stays open.
    let (status, definitions) =
        api.get(&format!("/job-definition?jobConfiguration={id}&sortBy=jobType&sortOrder=asc")).await;
    assert_eq!(status, 200, "{definitions}");
    let types: Vec<&str> = definitions.as_array().unwrap().iter().map(|d| d["jobType"].as_str().unwrap()).collect();
    assert_eq!(types, ["batch-monitor-job", "batch-seed-job", "instance-deletion"]);
    for d in definitions.as_array().unwrap() {
        assert_camunda_shape(d, "JobDefinitionDto");
        assert_eq!(d["jobConfiguration"], id.as_str());
        assert_eq!(d["suspended"], false);
    }
    let seed_def = batch["seedJobDefinitionId"].as_str().unwrap();
    let (status, one) = api.get(&format!("/job-definition/{seed_def}")).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["jobType"], "batch-seed-job");
    assert_eq!(ids(&json!([one.clone()])), [seed_def]);
    for (query, want) in [
        (format!("jobDefinitionId={job_def}"), 1),
        (format!("jobDefinitionIdIn={job_def},{seed_def}"), 2),
        ("jobType=instance-deletion".to_owned(), 1),
        ("suspended=true".to_owned(), 0),
        ("active=true".to_owned(), 3),
        ("processDefinitionKey=p".to_owned(), 0),
        ("withOverridingJobPriority=true".to_owned(), 0),
    ] {
        assert_eq!(api.get(&format!("/job-definition/count?{query}")).await.1["count"], want, "{query}");
    }

    // Bad input: Camunda's 400s and 404s, nothing changed.
    let before = snapshot(&db).await;
    let (status, body) = api.get("/job-definition/nope").await;
    assert_error(status, &body, 404, "Job Definition with id nope does not exist");
    let (status, body) = api.get("/incident?sortBy=color&sortOrder=asc").await;
    assert_error(status, &body, 400, "Cannot set query parameter 'sortBy' to value 'color'");
    let (status, body) = api.get("/incident?sortBy=incidentId").await;
    assert_error(status, &body, 400, "Only a single sorting parameter specified. sortBy and sortOrder required");
    let (status, _) = api.get("/incident?incidentTimestampAfter=yesterday").await;
    assert_eq!(status, 400);
    let (status, _) = api.get("/history/job-log?jobPriorityLowerThanOrEquals=high").await;
    assert_eq!(status, 400);
    let (status, _) = api.get("/job-definition?suspended=maybe").await;
    assert_eq!(status, 400);
    let (status, _) = api.get("/history/job-log?failureLog=1").await;
    assert_eq!(status, 400);
    assert_eq!(snapshot(&db).await, before);

    // Visibility as for the job API: a user without authorizations sees nothing; READ on the
    // batch shows incidents and definitions, READ_HISTORY the job log; deleting needs UPDATE.
    for user in ["eve", "reader"] {
        shared::db::identity::upsert_user(&db.db, user, "pw", &[], &[]).await.unwrap();
    }
    db.exec(&format!(
        "INSERT INTO act_ru_authorization (id_, rev_, type_, user_id_, resource_type_, resource_id_, perms_)
         VALUES ('a1', 1, 1, 'reader', 13, '{id}', 2)"
    ))
    .await;
    let (eve, reader) = (api.as_user("eve", "pw"), api.as_user("reader", "pw"));
    for path in ["/incident", "/job-definition", "/history/job-log", "/job"] {
        assert_eq!(eve.get(path).await, (200, json!([])), "{path}");
    }
    assert_eq!(eve.get(&format!("/job-definition/{seed_def}")).await.0, 404);
    assert_eq!(reader.get("/incident/count").await.1["count"], 1);
    assert_eq!(reader.get("/job-definition/count").await.1["count"], 3);
    assert_eq!(reader.get("/history/job-log/count").await.1["count"], 0, "READ_HISTORY is another permission");
    // As for retries (and in Camunda), deleting checks UPDATE, whatever the user may read.
    for user in [&eve, &reader] {
        let (status, body) = user.delete(&format!("/job/{failed_job}")).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["type"], "AuthorizationException");
        assert_eq!(body["missingAuthorizations"][0]["permissionName"], "UPDATE");
    }
    assert_eq!(snapshot(&db).await, before, "refused deletions change nothing");
}

#[tokio::test]
async fn batch_endpoints_deleting_a_job_skips_its_pending_items_and_lets_the_batch_complete() {
    let (db, api, worker) = start().await;
    let batch = delete_by_key(&api).await;
    let id = batch["id"].as_str().unwrap().to_owned();
    let (seed_def, monitor_def) =
        (batch["seedJobDefinitionId"].as_str().unwrap(), batch["monitorJobDefinitionId"].as_str().unwrap());
    assert_eq!(api.put(&format!("/batch/{id}/suspended"), &json!({"suspended": true})).await.0, 204);

    // While it runs (here: suspended before its seed ran), its seed and monitor jobs are listed.
    let (status, jobs) = api.get("/job?sortBy=jobId&sortOrder=asc").await;
    assert_eq!(status, 200, "{jobs}");
    assert_eq!(ids(&jobs), [format!("{id}:monitor"), format!("{id}:seed")]);
    for job in jobs.as_array().unwrap() {
        assert_camunda_shape(job, "JobDto");
        assert_eq!(job["suspended"], true);
        assert_eq!(job["batchId"], id.as_str());
    }
    assert_eq!(jobs[0]["jobDefinitionId"], monitor_def);
    assert_eq!(jobs[1]["jobDefinitionId"], seed_def);
    let (status, seed) = api.get(&format!("/job/{id}:seed")).await;
    assert_eq!(status, 200, "{seed}");
    assert_eq!(seed["jobDefinitionId"], seed_def);
    assert_eq!(api.get(&format!("/job/count?jobDefinitionId={seed_def}")).await.1["count"], 1);

    // The seed runs: three execution jobs, no seed job any more.
    assert_eq!(api.put(&format!("/batch/{id}/suspended"), &json!({"suspended": false})).await.0, 204);
    assert!(worker.step().await, "the seed");
    let (_, jobs) = api.get("/job").await;
    assert_eq!(ids(&jobs), [format!("{id}:1"), format!("{id}:2"), format!("{id}:3"), format!("{id}:monitor")]);
    let (status, job) = api.get(&format!("/job/{id}:2")).await;
    assert_eq!(status, 200, "{job}");
    assert_camunda_shape(&job, "JobDto");

    // Deleting job 1 before a worker runs it: it counts as completed, its items are skipped.
    let before = snapshot(&db).await;
    let (status, body) = api.delete(&format!("/job/{id}:seed")).await;
    assert_error(status, &body, 404, &format!("No job found with id '{id}:seed': job is null"));
    let (status, body) = api.delete("/job/nope").await;
    assert_error(status, &body, 404, "No job found with id 'nope': job is null");
    assert_eq!(snapshot(&db).await, before, "failed deletions change nothing");
    let (status, body) = api.delete(&format!("/job/{id}:1")).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(api.get(&format!("/job/{id}:1")).await.0, 404);
    let stats = api.batch_statistics(&id).await.unwrap();
    assert_eq!((stats["completedJobs"].as_i64(), stats["remainingJobs"].as_i64()), (Some(1), Some(2)), "{stats}");
    assert_eq!(stats["skippedInstances"], 5, "{stats}");
    let reasons = db
        .strings(&format!(
            "SELECT DISTINCT reason_ FROM sweep_batch_item WHERE batch_id_ = '{id}' AND state_ = 'skipped'"
        ))
        .await;
    assert_eq!(reasons, [format!("job {id}:1 was deleted")]);
    assert_eq!(log_of(&api, &format!("{id}:1")).await, ["created", "deleted"]);
    let (status, body) = api.delete(&format!("/job/{id}:1")).await;
    assert_error(status, &body, 404, &format!("No job found with id '{id}:1': job is null"));

    worker.drain().await;
    wait_completed(&db, &id, Duration::from_secs(10)).await;
    let ledger = ledger(&db, &id).await;
    assert_eq!(ledger, BTreeMap::from([("deleted".to_owned(), 6), ("skipped".to_owned(), 5)]));
    assert_eq!(ledger.values().sum::<i64>(), 11, "every item has one outcome");
    let (_, historic) = api.get(&format!("/history/batch/{id}")).await;
    assert!(historic["endTime"].is_string(), "{historic}");
    // The skipped instances are still there; the others are gone.
    let left = db
        .strings(&format!(
            "SELECT i.proc_inst_id_ FROM sweep_batch_item i JOIN act_ru_execution e ON e.id_ = i.proc_inst_id_
          WHERE i.batch_id_ = '{id}' ORDER BY i.seq_"
        ))
        .await;
    assert_eq!(left.len(), 5, "{left:?}");
    assert_eq!(log_of(&api, &format!("{id}:2")).await, ["created", "successful"]);
    // Ended: no seed, monitor or execution job of the batch is left, nor its job definitions.
    assert_eq!(api.get("/job/count").await.1["count"], 0);
    assert_eq!(api.get(&format!("/job/{id}:monitor")).await.0, 404);
    assert_eq!(api.get("/job-definition/count").await.1["count"], 0);
    let op_log =
        db.scalar("SELECT count(*) FROM act_hi_op_log WHERE entity_type_ = 'Job' AND operation_type_ = 'Delete'").await;
    assert_eq!(op_log, 1);

    // The job log goes with the historic batch.
    assert_eq!(api.delete(&format!("/history/batch/{id}")).await.0, 204);
    assert_eq!(db.scalar(&format!("SELECT count(*) FROM sweep_hi_job_log WHERE batch_id_ = '{id}'")).await, 0);
}

#[tokio::test]
async fn batch_endpoints_a_due_date_in_the_future_holds_a_job_until_then() {
    let (db, api, worker) = start().await;
    refuse_to_delete(&db, "pi-4").await;
    let batch = delete_by_key(&api).await;
    let id = batch["id"].as_str().unwrap().to_owned();
    let job_def = batch["batchJobDefinitionId"].as_str().unwrap().to_owned();
    worker.drain().await;
    let failed = db
        .strings(&format!("SELECT id_ FROM sweep_batch_job WHERE batch_id_ = '{id}' AND state_ = 'failed'"))
        .await
        .remove(0);
    db.exec("DROP TRIGGER refuse ON act_ru_execution").await;

    // Bad due dates change nothing.
    let before = snapshot(&db).await;
    let (status, body) =
        api.put(&format!("/job/{failed}/retries"), &json!({"retries": 1, "dueDate": "tomorrow"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("dueDate"), "{body}");
    let (status, _) =
        api.put(&format!("/job-definition/{job_def}/retries"), &json!({"retries": 1, "dueDate": 7})).await;
    assert_eq!(status, 400);
    assert_eq!(snapshot(&db).await, before);

    let due = chrono::Utc::now() + chrono::Duration::seconds(5);
    let due_text = shared::camunda::format_date(due);
    let (status, body) =
        api.put(&format!("/job-definition/{job_def}/retries"), &json!({"retries": 2, "dueDate": due_text})).await;
    assert_eq!(status, 204, "{body}");
    let (_, job) = api.get(&format!("/job/{failed}")).await;
    assert_eq!(job["dueDate"], due_text.as_str(), "{job}");
    assert_eq!(job["retries"], 2);

    // Its message arrives at once; the worker sends it back to wait, and the job stays pending.
    assert!(worker.step().await, "the job message");
    let pending =
        db.scalar(&format!("SELECT count(*) FROM sweep_batch_job WHERE id_ = '{failed}' AND state_ = 'pending'")).await;
    assert_eq!(pending, 1, "not worked before its due date");
    assert_eq!(api.get(&format!("/job/count?jobId={failed}&withRetriesLeft=true")).await.1["count"], 1);
    assert_eq!(api.get(&format!("/job/count?jobId={failed}&executable=true")).await.1["count"], 0, "not due");
    assert_eq!(root_instances(&db, "pd1").await, 5, "its instances are still there");
    assert!(chrono::Utc::now() < due, "the check ran before the due date");

    // After the due date it runs, and the batch completes.
    eventually(Duration::from_secs(30), || async {
        worker.drain().await;
        system_tests::fixtures::batch_completed(&db, &id).await.then_some(())
    })
    .await;
    let ran = db
        .strings(&format!(
            "SELECT (min(timestamp_) >= '{}'::timestamptz)::text FROM sweep_hi_job_log WHERE job_id_ = '{failed}' AND job_state_ = 2",
            due.to_rfc3339()
        ))
        .await;
    assert_eq!(ran, ["true"], "it succeeded after its due date");
    let (_, logs) = api.get(&format!("/history/job-log?jobId={failed}&successLog=true")).await;
    assert_eq!(logs[0]["jobDueDate"], due_text.as_str(), "{logs}");
    assert_eq!(root_instances(&db, "pd1").await, 0);

    // A done job is gone, due date or not.
    let (status, _) = api.put(&format!("/job/{failed}/retries"), &json!({"retries": 1, "dueDate": null})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn batch_endpoints_delete_historic_query_based_deletes_exactly_the_selected_instances() {
    let (db, api, worker) = start().await;
    db.exec(
        "INSERT INTO act_hi_procinst (id_, proc_inst_id_, proc_def_id_, proc_def_key_, start_time_, end_time_, state_)
         VALUES ('done-1', 'done-1', 'pd1', 'p', now() - interval '2 days', now() - interval '1 day', 'COMPLETED'),
                ('done-2', 'done-2', 'pd1', 'p', now() - interval '2 days', now() - interval '1 day', 'COMPLETED')",
    )
    .await;

    // Bad input answers Camunda's errors and creates nothing.
    let before = snapshot(&db).await;
    let path = "/process-instance/delete-historic-query-based";
    let (status, body) = api.post(path, &json!({})).await;
    assert_error(status, &body, 400, "processInstanceIds is empty");
    let (status, body) = api.post(path, &json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;
    assert_error(status, &body, 400, "processInstanceIds is empty");
    let (status, body) =
        api.post(path, &json!({"historicProcessInstanceQuery": {"active": true, "completed": true}})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) =
        api.post(path, &json!({"historicProcessInstanceQuery": {"processInstanceIds": ["nothing"]}})).await;
    assert_error(status, &body, 400, "processInstanceIds is empty");
    let (status, _) = api.post_raw(path, "text/plain", "{}").await;
    assert_eq!(status, 415);
    let (status, _) = api.post_raw(path, "application/json", "{").await;
    assert_eq!(status, 400);
    assert_eq!(snapshot(&db).await, before);

    // Running and finished matches enter the batch; the runtime query is ignored.
    let (status, batch) = api
        .post(
            path,
            &json!({
                "historicProcessInstanceQuery": {"processInstanceIds": ["pi-1", "pi-2", "pi-3", "done-1"]},
                "processInstanceQuery": {"processDefinitionKey": "other"},
                "deleteReason": "retention",
            }),
        )
        .await;
    assert_eq!(status, 200, "{batch}");
    assert_camunda_shape(&batch, "BatchDto");
    let id = batch["id"].as_str().unwrap().to_owned();
    assert_eq!(batch["type"], "instance-deletion");
    assert_eq!(batch["totalJobs"], 1, "4 items, 5 per job");
    worker.drain().await;
    wait_completed(&db, &id, Duration::from_secs(10)).await;
    let items = db
        .strings(&format!("SELECT proc_inst_id_ || '=' || state_ FROM sweep_batch_item WHERE batch_id_ = '{id}' ORDER BY proc_inst_id_"))
        .await;
    assert_eq!(items, ["done-1=skipped", "pi-1=deleted", "pi-2=deleted", "pi-3=deleted"]);
    let gone = db.strings("SELECT id_ FROM act_hi_procinst WHERE state_ = 'EXTERNALLY_TERMINATED' ORDER BY id_").await;
    assert_eq!(gone, ["c-1", "pi-1", "pi-2", "pi-3"], "the selection and what pi-1 calls, nothing else");
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_execution WHERE id_ = proc_inst_id_").await, 17);

    // A query matching only finished instances: a batch whose items are all skipped.
    let (status, batch) = api.post(path, &json!({"historicProcessInstanceQuery": {"finished": true}})).await;
    assert_eq!(status, 200, "{batch}");
    let id = batch["id"].as_str().unwrap().to_owned();
    worker.drain().await;
    wait_completed(&db, &id, Duration::from_secs(10)).await;
    let skipped: Vec<String> = db
        .strings(&format!(
            "SELECT proc_inst_id_ FROM sweep_batch_item WHERE batch_id_ = '{id}' AND state_ = 'skipped' ORDER BY 1"
        ))
        .await;
    // pi-1..pi-3 and c-1 finished in the first batch (externally terminated) and match too.
    assert_eq!(skipped, ["c-1", "done-1", "done-2", "pi-1", "pi-2", "pi-3"]);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_execution WHERE id_ = proc_inst_id_").await, 17, "nothing else");
}

#[tokio::test]
async fn batch_endpoints_named_engine_paths_answer_like_the_default_ones() {
    let (db, api, _worker) = start().await;
    let (status, engines) = api.get("/engine").await;
    assert_eq!(status, 200, "{engines}");
    assert_eq!(engines, json!([{"name": "default"}]));
    assert_camunda_shape(&engines[0], "ProcessEngineDto");

    // Created through the named path.
    let (status, batch) = api
        .post(
            "/engine/default/process-instance/delete",
            &json!({"processInstanceQuery": {"processDefinitionKey": "p"}}),
        )
        .await;
    assert_eq!(status, 200, "{batch}");
    let id = batch["id"].as_str().unwrap().to_owned();
    let seed_def = batch["seedJobDefinitionId"].as_str().unwrap().to_owned();
    for path in [
        "/batch".to_owned(),
        format!("/batch/{id}"),
        "/batch/count?suspended=false".to_owned(),
        "/batch/statistics".to_owned(),
        "/history/batch".to_owned(),
        "/job".to_owned(),
        format!("/job/{id}:seed"),
        "/job-definition?sortBy=jobType&sortOrder=desc".to_owned(),
        format!("/job-definition/{seed_def}"),
        "/incident/count".to_owned(),
        "/history/job-log".to_owned(),
        "/process-instance?processDefinitionKey=p&maxResults=3".to_owned(),
        "/engine".to_owned(),
        "/batch/nope".to_owned(),
        "/no-such-resource".to_owned(),
        "/batch?sortBy=color&sortOrder=asc".to_owned(),
    ] {
        let default = api.get(&path).await;
        let named = api.get(&format!("/engine/default{path}")).await;
        assert_eq!(named, default, "{path}");
    }
    assert_eq!(api.put(&format!("/engine/default/batch/{id}/suspended"), &json!({"suspended": true})).await.0, 204);
    assert_eq!(api.get(&format!("/batch/{id}")).await.1["suspended"], true);

    // Other engine names: Camunda's 400, nothing done.
    let before = snapshot(&db).await;
    for (status, body) in [
        api.get("/engine/other/batch").await,
        api.get("/engine/other").await,
        api.post("/engine/other/process-instance/delete", &json!({"processInstanceIds": ["pi-1"]})).await,
        api.put(&format!("/engine/other/batch/{id}/suspended"), &json!({"suspended": false})).await,
        api.delete(&format!("/engine/other/batch/{id}")).await,
    ] {
        assert_error(status, &body, 400, "No process engine available");
    }
    assert_eq!(snapshot(&db).await, before);
    assert_eq!(api.get(&format!("/batch/{id}")).await.1["suspended"], true);

    // Named paths need a user as the others do.
    let (status, _) = api.anonymous().get("/engine/default/batch").await;
    assert_eq!(status, 401);
    let (status, _) = api.anonymous().get("/engine").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn batch_endpoints_deleting_a_batch_logs_the_deletion_of_its_jobs_and_cascade_removes_the_log() {
    let (db, api, worker) = start().await;
    let id = delete_by_key(&api).await["id"].as_str().unwrap().to_owned();
    assert!(worker.step().await, "the seed");
    assert!(worker.step().await, "job 1");
    assert_eq!(api.delete(&format!("/batch/{id}")).await.0, 204);
    assert_eq!((log_count(&api, &id, "creationLog=true").await, log_count(&api, &id, "successLog=true").await), (3, 1));
    let (_, deleted) = api.get(&format!("/history/job-log?deletionLog=true&jobDefinitionConfiguration={id}")).await;
    let jobs: Vec<&str> = deleted.as_array().unwrap().iter().map(|e| e["jobId"].as_str().unwrap()).collect();
    assert_eq!(jobs, [format!("{id}:2"), format!("{id}:3")], "the jobs the batch still had");
    worker.drain().await;
    assert_eq!(log_count(&api, &id, "").await, 6, "the stale job messages log nothing");

    let other = delete_by_key(&api).await;
    assert_eq!(other["totalJobs"], 2, "the 6 instances left");
    let other = other["id"].as_str().unwrap().to_owned();
    assert!(worker.step().await, "the seed");
    assert_eq!(api.delete(&format!("/batch/{other}?cascade=true")).await.0, 204);
    assert_eq!(db.scalar(&format!("SELECT count(*) FROM sweep_hi_job_log WHERE batch_id_ = '{other}'")).await, 0);
    assert_eq!(db.scalar(&format!("SELECT count(*) FROM sweep_hi_job_log WHERE batch_id_ = '{id}'")).await, 6);
}

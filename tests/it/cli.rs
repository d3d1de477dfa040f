//! The `sweep` command line as a process against an API and workers on a test database: what
//! it deletes, what it refuses, its `-o json` shapes and its exit codes.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde_json::{Value, json};
use system_tests::fixtures::{refuse_to_delete, root_instances, seed_instances};
use system_tests::{ApiClient, DrivenWorker, Finished, TEST_USER, TestApi, TestDb, TestWorker, run};

/// Longest any one command may take.
const DEADLINE: Duration = Duration::from_secs(90);

/// The environment of a `sweep` run against `api` as the test user.
fn env(api: &ApiClient) -> HashMap<String, String> {
    HashMap::from([
        ("SWEEP_URL".to_owned(), api.base.clone()),
        ("SWEEP_USER".to_owned(), TEST_USER.0.to_owned()),
        ("SWEEP_PASSWORD".to_owned(), TEST_USER.1.to_owned()),
    ])
}

/// `sweep args…` against `api`, without a terminal.
async fn sweep(api: &ApiClient, args: &[&str]) -> Finished {
    run(crate::CLI_BIN, args, &env(api), None, DEADLINE).await
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value.as_object().unwrap_or_else(|| panic!("an object: {value}")).keys().map(String::as_str).collect()
}

/// The fields of a batch in `batches`/`batch -o json`.
const VIEW_KEYS: [&str; 18] = [
    "id",
    "state",
    "suspended",
    "createUserId",
    "startTime",
    "executionStartTime",
    "endTime",
    "totalJobs",
    "completedJobs",
    "failedJobs",
    "totalInstances",
    "pendingInstances",
    "runningInstances",
    "deletedInstances",
    "skippedInstances",
    "failedInstances",
    "instancesPerSecond",
    "failedItems",
];

fn view_keys(with_failed_items: bool) -> BTreeSet<&'static str> {
    VIEW_KEYS.iter().copied().filter(|k| with_failed_items || *k != "failedItems").collect()
}

/// Never a panic, a backtrace or a Rust debug dump on the way out.
fn assert_clean_error(out: &Finished) {
    for tell in ["panicked", "RUST_BACKTRACE", "Error {", "Status {", "Some(", "reqwest::"] {
        assert!(!out.stderr.contains(tell), "{tell:?} in stderr: {out}");
    }
    assert!(out.stderr.starts_with("error: "), "{out}");
}

#[tokio::test]
async fn cli_batches_batch_and_items_print_stable_json_and_tables() {
    let db = TestDb::new().await;
    seed_instances(&db, 20).await;
    let api = TestApi::spawn(db.settings(&[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "5")])).await;
    let id = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;

    let out = sweep(&api, &["batches", "-o", "json"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let list = out.json();
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), 1, "{out}");
    assert_eq!(keys(&list[0]), view_keys(false));
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["state"], "pending", "no worker runs: no job started");
    assert_eq!(list[0]["totalInstances"], 11);
    assert_eq!(list[0]["pendingInstances"], 11);
    assert_eq!(list[0]["totalJobs"], 3);
    assert_eq!(list[0]["createUserId"], TEST_USER.0);

    let out = sweep(&api, &["batches"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let headers: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(headers, ["ID", "STATE", "PROGRESS", "RATE", "STARTED", "USER"], "{out}");
    assert!(lines[1].starts_with(&format!("{id}   pending")), "{out}");
    assert!(lines[1].contains("0/11 (0%)") && lines[1].ends_with(TEST_USER.0), "{out}");
    assert!(!out.stdout.contains('\x1b'), "no colours without a terminal");

    let out = sweep(&api, &["batch", &id, "-o", "json"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let view = out.json();
    assert_eq!(keys(&view), view_keys(true));
    assert_eq!(view["failedItems"], json!([]));
    assert_eq!(view["endTime"], Value::Null);

    let out = sweep(&api, &["batch", &id]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains(&format!("Batch:       {id}")), "{out}");
    assert!(out.stdout.contains("0/11 processed (0%): 0 deleted, 0 skipped, 0 failed, 0 running, 11 pending"), "{out}");

    let out = sweep(&api, &["items", &id, "-o", "json"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let items = out.json();
    let items = items.as_array().expect("an array");
    assert_eq!(items.len(), 11);
    assert_eq!(keys(&items[0]), BTreeSet::from(["processInstanceId", "state", "reason", "seq"]));
    assert_eq!(items[0]["state"], "pending");

    let out = sweep(&api, &["items", &id, "--state", "pending", "--limit", "3", "-o", "json"]).await;
    assert_eq!(out.json().as_array().map(Vec::len), Some(3), "{out}");
    let out = sweep(&api, &["items", &id, "--state", "failed"]).await;
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "No items.\n"), "{out}");
}

#[tokio::test]
async fn cli_suspends_resumes_steers_and_cancels_a_batch_keeping_its_history() {
    let db = TestDb::new().await;
    seed_instances(&db, 20).await;
    let api = TestApi::spawn(db.settings(&[])).await;
    let id = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;

    let out = sweep(&api, &["suspend", &id, "-o", "json"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.json(), json!({"id": id, "suspended": true}));
    assert_eq!(api.batch_statistics(&id).await.unwrap()["suspended"], true);
    let out = sweep(&api, &["batches", "-o", "json"]).await;
    assert_eq!(out.json()[0]["state"], "suspended", "{out}");

    let out = sweep(&api, &["resume", &id]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("resumed"), "{out}");
    assert_eq!(api.batch_statistics(&id).await.unwrap()["suspended"], false);

    let out =
        sweep(&api, &["steer", &id, "--rate", "250", "--priority", "-2", "--window", "01:00-05:00/Europe/Berlin"])
            .await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stdout
            .contains("priority -2, 250.0 instances/s, unlimited jobs at once, run window 01:00-05:00 Europe/Berlin"),
        "{out}"
    );
    let (_, batch) = api.get(&format!("/batch/{id}")).await;
    assert_eq!((batch["maxInstancesPerSecond"].clone(), batch["priority"].clone()), (json!(250.0), json!(-2)));
    let out =
        sweep(&api, &["steer", &id, "--rate", "unlimited", "--window", "always", "--max-jobs", "2", "-o", "json"])
            .await;
    assert_eq!(out.code, Some(0), "{out}");
    let batch = out.json();
    assert_eq!(batch["maxInstancesPerSecond"], Value::Null, "{batch}");
    assert_eq!(batch["runWindow"], Value::Null, "{batch}");
    assert_eq!(batch["maxConcurrentJobs"], 2, "{batch}");
    for args in [&["steer", &id][..], &["steer", &id, "--rate", "fast"], &["steer", &id, "--max-jobs", "0"]] {
        let out = sweep(&api, args).await;
        assert_eq!(out.code, Some(1), "{out}");
        assert!(out.stderr.starts_with("error:"), "{out}");
    }

    let out = sweep(&api, &["cancel", &id, "-o", "json"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.json(), json!({"id": id, "cancelled": true, "cascade": false}));
    assert_eq!(api.get(&format!("/batch/{id}")).await.0, 404, "the runtime batch is gone");
    let out = sweep(&api, &["batch", &id, "-o", "json"]).await;
    assert_eq!(out.code, Some(0), "the history is kept: {out}");
    let view = out.json();
    assert_eq!(view["state"], "cancelled");
    assert!(view["endTime"].is_string(), "{view}");
    assert_eq!(view["pendingInstances"], 11, "nothing was deleted");
    assert_eq!(root_instances(&db, "pd1").await, 11);

    let out = sweep(&api, &["cancel", &id]).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert_clean_error(&out);
}

#[tokio::test]
async fn cli_describes_failed_items_and_retries_them() {
    let db = TestDb::new().await;
    seed_instances(&db, 20).await;
    refuse_to_delete(&db, "pi-4").await;
    let settings = db.settings(&[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "5")]);
    let api = TestApi::spawn(settings.clone()).await;
    let worker = DrivenWorker::connect(settings).await;
    let id = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;
    worker.drain().await;

    let out = sweep(&api, &["batch", &id, "-o", "json"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let view = out.json();
    assert_eq!(view["state"], "failed", "only the failed job is left: {view}");
    assert_eq!(view["failedJobs"], 1);
    let failed = view["failedItems"].as_array().unwrap();
    assert!(!failed.is_empty() && failed.len() as i64 == view["failedInstances"].as_i64().unwrap(), "{view}");
    assert_eq!(keys(&failed[0]), BTreeSet::from(["processInstanceId", "reason"]));
    assert!(failed.iter().any(|f| f["reason"].as_str().unwrap().contains("refusing to delete pi-4")), "{view}");

    let out = sweep(&api, &["batch", &id]).await;
    assert!(out.stdout.contains("Failed instances:") && out.stdout.contains("refusing to delete pi-4"), "{out}");
    let out = sweep(&api, &["items", &id, "--state", "failed"]).await;
    assert!(out.stdout.starts_with("SEQ   PROCESS INSTANCE   STATE    REASON\n"), "{out}");

    db.exec("DROP TRIGGER refuse ON act_ru_execution").await;
    let out = sweep(&api, &["retry-failed", &id, "-o", "json"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let retried = out.json();
    assert_eq!(keys(&retried), BTreeSet::from(["retriedItems", "retriedJobs"]));
    assert_eq!(retried["retriedJobs"], 1);
    worker.drain().await;
    let out = sweep(&api, &["batch", &id, "-o", "json"]).await;
    let view = out.json();
    assert_eq!((view["state"].as_str(), view["deletedInstances"].as_i64()), (Some("completed"), Some(11)), "{out}");
    assert_eq!(view["failedItems"], json!([]));
}

#[tokio::test]
async fn cli_usage_errors_exit_2() {
    let api = ApiClient::new("127.0.0.1:9".parse().unwrap(), "/engine-rest");
    for args in [
        &["delete", "--yes"][..],
        &["delete", "--query", "{"],
        &["delete", "--query", "[1]"],
        &["delete", "--ids", "a", "--dry-run", "--yes"],
        &["frobnicate"],
        &["items", "x", "--state", "bogus"],
        &["batches", "-o", "yaml"],
        &["batch"],
    ] {
        let out = sweep(&api, args).await;
        assert_eq!(out.code, Some(2), "{args:?}: {out}");
        assert!(out.stderr.starts_with("error: "), "{args:?}: {out}");
        assert!(out.stdout.is_empty(), "{args:?}: {out}");
    }
}

#[tokio::test]
async fn cli_explains_a_wrong_password_an_unknown_batch_and_an_unreachable_api() {
    let db = TestDb::new().await;
    let api = TestApi::spawn(db.settings(&[])).await;

    let out = sweep(&api, &["batch", "nope"]).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert_eq!(out.stderr, "error: 404 Not Found: Batch with id 'nope' does not exist\n", "{out}");

    let mut wrong = env(&api);
    wrong.insert("SWEEP_PASSWORD".into(), "wrong".into());
    let out = run(crate::CLI_BIN, &["batches"], &wrong, None, DEADLINE).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.starts_with("error: 401 Unauthorized: user 'sweep-test' was not let in"), "{out}");
    assert!(out.stderr.contains("SWEEP_PASSWORD"), "{out}");
    assert_clean_error(&out);

    let mut no_password = env(&api);
    no_password.remove("SWEEP_PASSWORD");
    let out = run(crate::CLI_BIN, &["batches"], &no_password, None, DEADLINE).await;
    assert_eq!(out.code, Some(1), "no terminal to ask on: {out}");
    assert!(out.stderr.contains("set SWEEP_PASSWORD"), "{out}");

    let mut unreachable = env(&api);
    unreachable.insert("SWEEP_URL".into(), "http://127.0.0.1:9/engine-rest".into());
    let out = run(crate::CLI_BIN, &["batches"], &unreachable, None, DEADLINE).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.starts_with("error: cannot reach http://127.0.0.1:9/engine-rest: "), "{out}");
    assert_clean_error(&out);
}

const BY_KEY_P: &str = r#"{"processDefinitionKey":"p"}"#;

async fn batches_created(db: &TestDb) -> i64 {
    db.scalar("SELECT count(*) FROM (SELECT id_ FROM sweep_batch UNION SELECT id_ FROM sweep_hi_batch) b").await
}

#[tokio::test]
async fn cli_delete_without_a_terminal_and_without_yes_refuses_and_creates_nothing() {
    let db = TestDb::new().await;
    seed_instances(&db, 20).await;
    let api = TestApi::spawn(db.settings(&[])).await;
    let out = sweep(&api, &["delete", "--query", BY_KEY_P]).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stdout.starts_with("Would delete 11 process instances.\n"), "the preview comes first: {out}");
    assert!(out.stderr.contains("pass --yes"), "{out}");
    // An answer piped in is no confirmation: stdin is not a terminal.
    let out = run(crate::CLI_BIN, &["delete", "--query", BY_KEY_P], &env(&api), Some(b"y\n"), DEADLINE).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert_eq!(batches_created(&db).await, 0);
    assert_eq!(root_instances(&db, "pd1").await, 11);
}

#[tokio::test]
async fn cli_dry_run_previews_and_creates_nothing() {
    let db = TestDb::new().await;
    seed_instances(&db, 20).await;
    let api = TestApi::spawn(db.settings(&[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "5")])).await;
    let out = sweep(&api, &["delete", "--query", BY_KEY_P, "--dry-run"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "Would delete 11 process instances.", "{out}");
    assert!(
        lines.contains(&"  PROCESS DEFINITION KEY   INSTANCES") && lines.contains(&"  p                        11"),
        "{out}"
    );
    assert!(out.stdout.contains("Sample: c-1, pi-10, pi-12, …\n"), "{out}");
    assert!(out.stdout.contains("Jobs: 3   Estimated time: no estimate yet"), "{out}");
    assert!(out.stdout.ends_with("Dry run: nothing was deleted.\n"), "{out}");

    let out = sweep(&api, &["delete", "--ids", "pi-1", "--dry-run", "-o", "json"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let preview = out.json();
    assert_eq!(keys(&preview), BTreeSet::from(["preview"]));
    assert_eq!(
        keys(&preview["preview"]),
        BTreeSet::from(["instances", "calledInstances", "byProcessDefinitionKey", "sample", "totalJobs", "etaSeconds"])
    );
    assert_eq!(
        (preview["preview"]["instances"].as_i64(), preview["preview"]["calledInstances"].as_i64()),
        (Some(1), Some(1))
    );

    let out = sweep(&api, &["delete", "--query", r#"{"processDefinitionKey":"none"}"#, "--yes"]).await;
    assert_eq!((out.code, out.stdout.ends_with("Nothing to delete.\n")), (Some(0), true), "{out}");
    assert_eq!(batches_created(&db).await, 0);
}

#[tokio::test]
async fn cli_delete_no_wait_submits_and_prints_the_batch() {
    let db = TestDb::new().await;
    seed_instances(&db, 20).await;
    let api = TestApi::spawn(db.settings(&[])).await;
    let out =
        sweep(&api, &["delete", "--ids", "pi-2,pi-4", "--reason", "cli", "--yes", "--no-wait", "-o", "json"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let created = out.json();
    assert_eq!(keys(&created), BTreeSet::from(["preview", "batch"]));
    assert_eq!(created["preview"]["instances"], 2);
    let id = created["batch"]["id"].as_str().expect("the batch id").to_owned();
    assert_eq!(created["batch"]["type"], "instance-deletion");
    assert_eq!(api.get(&format!("/batch/{id}")).await.0, 200);
    assert_eq!(db.scalar(&format!("SELECT total_items_ FROM sweep_batch WHERE id_ = '{id}'")).await, 2);

    // Ids from stdin, text output.
    let out = run(
        crate::CLI_BIN,
        &["delete", "--ids", "-", "--yes", "--no-wait"],
        &env(&api),
        Some(b"pi-6\n\npi-8\n"),
        DEADLINE,
    )
    .await;
    assert_eq!(out.code, Some(0), "{out}");
    let id = out.stdout.lines().find_map(|l| l.strip_prefix("Follow it with: sweep watch ")).expect("how to follow");
    assert!(out.stdout.contains(&format!("Batch {id} created: 1 jobs.")), "{out}");
    assert_eq!(db.scalar(&format!("SELECT total_items_ FROM sweep_batch WHERE id_ = '{id}'")).await, 2);

    // Camunda's message, one line.
    let out = sweep(&api, &["delete", "--ids", "pi-2,nope", "--fail-if-not-exists", "--yes"]).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.starts_with("error: 400 Bad Request: ") && out.stderr.contains("nope"), "{out}");
    assert_clean_error(&out);
    assert_eq!(batches_created(&db).await, 2);
}

/// A stand-in for the API that serves a scripted event stream for batch `b1`: the first
/// connection sends two `progress` events and then breaks off; the next one (which must carry
/// `Last-Event-ID: 2`) sends a third and the final `final_event`. It also answers what `sweep`
/// reads about the ended batch. Returns its base URL and the `Last-Event-ID` of each connection.
async fn scripted_stream(
    final_event: &'static str,
    failed: i64,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>) {
    use axum::body::{Body, Bytes};
    use axum::extract::{Path, Query};
    use axum::http::HeaderMap;
    use axum::routing::get;
    use std::sync::{Arc, Mutex};

    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let progress = |id: u32, deleted: i64| {
        let data = json!({"id": "b1", "totalInstances": 10, "deletedInstances": deleted, "skippedInstances": 0,
            "failedInstances": 0, "totalJobs": 2, "completedJobs": 0, "instancesPerSecond": 5.0, "etaSeconds": 1,
            "suspended": false});
        format!("id: {id}\nevent: progress\ndata: {data}\n\n")
    };
    let first = vec![progress(1, 2), progress(2, 4)];
    let second = vec![progress(3, 8), format!("id: 4\nevent: {final_event}\ndata: {{\"id\":\"b1\"}}\n\n")];
    let log = seen.clone();
    let events = move |Path(id): Path<String>, headers: HeaderMap| {
        let log = log.clone();
        let (first, second) = (first.clone(), second.clone());
        async move {
            assert_eq!(id, "b1");
            let last = headers.get("last-event-id").map(|v| v.to_str().unwrap().to_owned());
            let connection = {
                let mut log = log.lock().unwrap();
                log.push(last.clone());
                log.len()
            };
            use futures_util::StreamExt;
            let ok = |chunks: Vec<String>| {
                futures_util::stream::iter(chunks.into_iter().map(|c| Ok::<_, std::io::Error>(Bytes::from(c))))
            };
            let body = if connection == 1 {
                // The events reach the client before the connection breaks.
                let broken = futures_util::stream::once(async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Err(std::io::Error::other("connection lost"))
                });
                Body::from_stream(ok(first).chain(broken))
            } else {
                assert_eq!(last.as_deref(), Some("2"), "resumes after the last event seen");
                Body::from_stream(ok(second))
            };
            ([("content-type", "text/event-stream")], body)
        }
    };
    let count = move |Query(q): Query<HashMap<String, String>>| async move {
        let n = match q.get("state").map(String::as_str) {
            Some("deleted") => 10 - failed,
            Some("failed") => failed,
            _ => 0,
        };
        axum::Json(json!({"count": n}))
    };
    let app = axum::Router::new()
        .route("/engine-rest/batch/{id}/events", get(events))
        .route("/engine-rest/batch/statistics", get(|| async { axum::Json(json!([])) }))
        .route(
            "/engine-rest/history/batch/{id}",
            get(|| async {
                axum::Json(json!({"id": "b1", "totalJobs": 2, "startTime": "2026-01-01T00:00:00.000+0000",
                    "endTime": "2026-01-01T00:00:02.000+0000"}))
            }),
        )
        .route("/engine-rest/batch/{id}/items/count", get(count))
        .route(
            "/engine-rest/batch/{id}/items",
            get(|| async {
                axum::Json(json!([{"processInstanceId": "pi-x", "state": "failed", "reason": "boom", "seq": 1}]))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (format!("http://{addr}/engine-rest"), seen)
}

#[tokio::test]
async fn cli_watch_reconnects_with_last_event_id_and_ends_with_the_final_event() {
    let (url, seen) = scripted_stream("completed", 0).await;
    let env = HashMap::from([("SWEEP_URL".to_owned(), url)]);
    let out = run(crate::CLI_BIN, &["watch", "b1", "-o", "json"], &env, None, DEADLINE).await;
    assert_eq!(out.code, Some(0), "{out}");
    let lines: Vec<Value> = out.stdout.lines().map(|l| serde_json::from_str(l).expect("JSON lines")).collect();
    let events: Vec<(&str, &str)> =
        lines.iter().map(|l| (l["event"].as_str().unwrap(), l["id"].as_str().unwrap_or("-"))).collect();
    assert_eq!(events, [("progress", "1"), ("progress", "2"), ("progress", "3"), ("completed", "4"), ("result", "-")]);
    assert_eq!(lines[2]["data"]["deletedInstances"], 8);
    assert_eq!(lines[4]["data"]["state"], "completed");
    assert_eq!(lines[4]["data"]["deletedInstances"], 10);
    assert_eq!(*seen.lock().unwrap(), [None, Some("2".to_owned())]);

    // Text without a terminal: no bar, plain lines, the outcome on stdout.
    let (url, _) = scripted_stream("completed", 0).await;
    let env = HashMap::from([("SWEEP_URL".to_owned(), url)]);
    let out = run(crate::CLI_BIN, &["watch", "b1"], &env, None, DEADLINE).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.starts_with("Batch b1 completed: 10 deleted, 0 skipped, 0 failed ("), "{out}");
    assert!(out.stderr.starts_with("2/10 instances  5.0/s  ETA 1s  failed 0  jobs 0/2\n"), "{out}");
    assert!(out.stderr.contains("reconnecting"), "{out}");
    assert!(!out.stderr.contains('\r') && !out.stderr.contains('\x1b'), "no bar without a terminal: {out}");
}

#[tokio::test]
async fn cli_watch_exits_3_when_the_batch_ends_with_failed_items_and_1_when_it_was_cancelled() {
    let (url, _) = scripted_stream("failed", 1).await;
    let env = HashMap::from([("SWEEP_URL".to_owned(), url)]);
    let out = run(crate::CLI_BIN, &["watch", "b1"], &env, None, DEADLINE).await;
    assert_eq!(out.code, Some(3), "{out}");
    assert!(out.stdout.contains("ended with failed instances: 9 deleted, 0 skipped, 1 failed"), "{out}");
    assert!(out.stdout.contains("  pi-x  boom\n") && out.stdout.contains("sweep retry-failed b1"), "{out}");

    let (url, _) = scripted_stream("deleted", 0).await;
    let env = HashMap::from([("SWEEP_URL".to_owned(), url)]);
    let out = run(crate::CLI_BIN, &["watch", "b1"], &env, None, DEADLINE).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stdout.contains("Batch b1 was cancelled"), "{out}");
}

#[tokio::test]
async fn cli_delete_yes_follows_the_batch_until_every_instance_is_gone() {
    let db = TestDb::new().await;
    seed_instances(&db, 40).await;
    let settings = db.settings(&[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "5")]);
    let api = TestApi::spawn(settings.clone()).await;
    let _worker = TestWorker::spawn(settings).await;
    let out = sweep(&api, &["delete", "--query", BY_KEY_P, "--reason", "cli clean-up", "--yes"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let id = out
        .stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("Batch ")?.strip_suffix(" created; following it (Ctrl-C stops following, not the batch).")
        })
        .unwrap_or_else(|| panic!("the batch id: {out}"))
        .to_owned();
    assert!(out.stdout.contains(&format!("Batch {id} completed: 21 deleted, 0 skipped, 0 failed (")), "{out}");
    assert_eq!(root_instances(&db, "pd1").await, 0, "the rows are really gone");
    assert_eq!(
        db.scalar("SELECT count(*) FROM act_hi_procinst WHERE state_ = 'EXTERNALLY_TERMINATED' AND delete_reason_ = 'cli clean-up'")
            .await,
        21
    );
    assert_eq!(
        db.scalar(&format!("SELECT count(*) FROM sweep_hi_batch WHERE id_ = '{id}' AND end_time_ IS NOT NULL")).await,
        1
    );

    // The same, as JSON: the preview, the batch and its result; `watch` of an ended batch ends at once.
    seed_more(&db).await;
    let out = sweep(&api, &["delete", "--ids", "q-1,q-2", "--yes", "-o", "json"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let done = out.json();
    assert_eq!(keys(&done), BTreeSet::from(["preview", "batch", "result"]));
    assert_eq!(keys(&done["result"]), view_keys(true));
    assert_eq!(
        (done["result"]["state"].as_str(), done["result"]["deletedInstances"].as_i64()),
        (Some("completed"), Some(2))
    );
    let id = done["batch"]["id"].as_str().unwrap();
    let out = sweep(&api, &["watch", id]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.starts_with(&format!("Batch {id} completed: 2 deleted")), "{out}");
}

/// Two more root instances, `q-1` and `q-2`.
async fn seed_more(db: &TestDb) {
    db.exec(
        "insert into act_ru_execution(id_,proc_inst_id_,root_proc_inst_id_,proc_def_id_)
           values ('q-1','q-1','q-1','pd2'),('q-2','q-2','q-2','pd2');
         insert into act_hi_procinst(id_,proc_inst_id_,proc_def_id_,start_time_,state_)
           values ('q-1','q-1','pd2',now(),'ACTIVE'),('q-2','q-2','pd2',now(),'ACTIVE');",
    )
    .await;
}

#[tokio::test]
async fn cli_delete_exits_3_when_the_batch_ends_with_failed_instances() {
    let db = TestDb::new().await;
    seed_instances(&db, 20).await;
    refuse_to_delete(&db, "pi-4").await;
    let settings = db.settings(&[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "5")]);
    let api = TestApi::spawn(settings.clone()).await;
    let _worker = TestWorker::spawn(settings).await;
    let out = sweep(&api, &["delete", "--query", BY_KEY_P, "--yes", "-o", "json"]).await;
    assert_eq!(out.code, Some(3), "{out}");
    let result = &out.json()["result"];
    assert_eq!(result["state"], "failed", "{out}");
    assert!(result["failedInstances"].as_i64().unwrap() >= 1, "{out}");
    let reasons: Vec<&str> =
        result["failedItems"].as_array().unwrap().iter().filter_map(|f| f["reason"].as_str()).collect();
    assert!(reasons.iter().any(|r| r.contains("refusing to delete pi-4")), "{out}");
    let id = out.json()["batch"]["id"].as_str().unwrap().to_owned();

    let out = sweep(&api, &["watch", &id]).await;
    assert_eq!(out.code, Some(3), "the ended batch answers at once: {out}");
    assert!(out.stdout.contains(&format!("sweep retry-failed {id}")), "{out}");

    db.exec("DROP TRIGGER refuse ON act_ru_execution").await;
    let out = sweep(&api, &["retry-failed", &id]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let out = sweep(&api, &["watch", &id]).await;
    assert_eq!(out.code, Some(0), "the retried batch completes: {out}");
    assert_eq!(root_instances(&db, "pd1").await, 0);
}

//! Steering running batches: `PATCH /batch/{id}` (rate, concurrency, priority, run window)
//! reaching every worker replica, job priorities, fair shares between batches, the adaptive
//! cluster-wide limit, and that none of it loses work when a worker is killed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{Timelike, Utc};
use reqwest::Method;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{Value, json};
use system_tests::fixtures::{batch_completed, deleted_items, seed_instances, wait_completed};
use system_tests::{ApiClient, Proc, TestApi, TestDb, TestWorker, eventually, prefix};

/// ALL permissions, as Camunda stores them.
const ALL: i64 = i32::MAX as i64;
/// Camunda's resource type of batches.
const BATCH: i32 = 13;

async fn patch(api: &ApiClient, id: &str, body: &Value) -> (u16, Value) {
    api.send(api.request(Method::PATCH, &format!("/batch/{id}")).json(body)).await
}

/// The environment of an API and its workers sharing one broker prefix; parks are short so
/// tests need not wait for them.
fn env(db: &TestDb, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let prefix = prefix();
    let mut all = vec![
        ("SWEEP__AMQP__PREFIX", prefix.as_str()),
        ("SWEEP__CONTROL__PARK_DELAY", "200ms"),
        ("SWEEP__CONTROL__MAX_WAIT", "300ms"),
    ];
    all.extend_from_slice(extra);
    db.env(&all)
}

fn settings(env: &HashMap<String, String>) -> shared::Settings {
    shared::Settings::load_from(env.clone()).expect("valid settings")
}

fn workers(env: &HashMap<String, String>, n: usize) -> Vec<Proc> {
    (0..n).map(|_| Proc::start(crate::WORKER_BIN, &[], env)).collect()
}

/// Instances deleted per second over `window`, counted in the ledger.
async fn rate_over(db: &TestDb, id: &str, window: Duration) -> f64 {
    let (before, started) = (deleted_items(db, id).await, Instant::now());
    tokio::time::sleep(window).await;
    let after = deleted_items(db, id).await;
    (after - before) as f64 / started.elapsed().as_secs_f64()
}

async fn failed_jobs(db: &TestDb, id: &str) -> i64 {
    db.scalar(&format!(
        "SELECT count(*) FROM sweep_batch_job WHERE batch_id_ = '{id}' AND (state_ = 'failed' OR exception_msg_ IS NOT NULL)"
    ))
    .await
}

/// Waits until the seed has created every job of batch `id`.
async fn all_jobs_created(db: &TestDb, id: &str) {
    let sql = format!(
        "SELECT count(*) FROM sweep_batch b WHERE b.id_ = '{id}'
            AND b.total_jobs_ = (SELECT count(*) FROM sweep_batch_job j WHERE j.batch_id_ = b.id_)"
    );
    eventually(Duration::from_secs(10), || async { (db.scalar(&sql).await == 1).then_some(()) }).await;
}

/// The local TCP ports of process `pid`'s sockets (Linux `/proc`), to tell which worker a
/// database session belongs to.
fn local_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| l.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table).unwrap_or_default().lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && inodes.iter().any(|i| i == fields[9]) {
                let port = fields[1].rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
                ports.extend(port);
            }
        }
    }
    ports
}

/// `HH:MM` of `now` shifted by `minutes`, in a zone `offset_hours` ahead of UTC.
fn local_time(offset_hours: i64, minutes: i64) -> String {
    let t = Utc::now() + chrono::Duration::hours(offset_hours) + chrono::Duration::minutes(minutes);
    format!("{:02}:{:02}", t.hour(), t.minute())
}

#[tokio::test]
async fn a_rate_change_reaches_every_worker_within_seconds() {
    let db = TestDb::new().await;
    seed_instances(&db, 10_000).await;
    let env = env(
        &db,
        &[
            ("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "10"),
            ("SWEEP__CONTROL__ADAPTIVE", "false"),
            ("SWEEP__CONTROL__MAX_CONCURRENCY", "6"),
        ],
    );
    let api = TestApi::spawn(settings(&env)).await;
    let _workers = workers(&env, 3);
    let id = api
        .start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}, "maxInstancesPerSecond": 50}))
        .await;
    let (_, batch) = api.get(&format!("/batch/{id}")).await;
    assert_eq!(batch["maxInstancesPerSecond"], json!(50.0), "{batch}");
    eventually(Duration::from_secs(30), || async { (deleted_items(&db, &id).await > 0).then_some(()) }).await;

    let slow = rate_over(&db, &id, Duration::from_secs(4)).await;
    assert!((25.0..=75.0).contains(&slow), "50/s limit observed as {slow:.1}/s");

    let (status, body) = patch(&api, &id, &json!({"maxInstancesPerSecond": 500})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["maxInstancesPerSecond"], json!(500.0));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fast = rate_over(&db, &id, Duration::from_secs(3)).await;
    assert!(fast >= 2.5 * slow.max(50.0) && fast <= 650.0, "after raising to 500/s: {fast:.1}/s (before {slow:.1}/s)");

    let (status, body) = patch(&api, &id, &json!({"maxInstancesPerSecond": 50})).await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let again = rate_over(&db, &id, Duration::from_secs(4)).await;
    assert!(again <= 75.0, "after lowering to 50/s again: {again:.1}/s");
    eprintln!("observed {slow:.1}/s at 50/s, {fast:.1}/s at 500/s, {again:.1}/s at 50/s again");
    assert!(!batch_completed(&db, &id).await, "the test measured a running batch");
    assert_eq!(failed_jobs(&db, &id).await, 0);
}

#[tokio::test]
async fn the_batch_of_higher_priority_finishes_first_and_the_other_still_progresses() {
    let db = TestDb::new().await;
    seed_instances(&db, 8000).await;
    let env = env(
        &db,
        &[
            ("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "20"),
            ("SWEEP__CONTROL__ADAPTIVE", "false"),
            ("SWEEP__CONTROL__MAX_CONCURRENCY", "6"),
        ],
    );
    let api = TestApi::spawn(settings(&env)).await;
    let _workers = workers(&env, 3);
    // Under a limit of 6, priority 4 (weight 16) against 0 (weight 1) shares 5 slots to 1.
    let low = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "other"}})).await;
    let high = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}, "priority": 4})).await;
    let (_, batch) = api.get(&format!("/batch/{high}")).await;
    assert_eq!(batch["priority"], 4, "{batch}");
    wait_completed(&db, &high, Duration::from_secs(120)).await;
    let low_done = deleted_items(&db, &low).await;
    eprintln!("the low-priority batch had {low_done} of 4000 deleted when the high one completed");
    assert!(!batch_completed(&db, &low).await, "the low-priority batch finished first ({low_done} deleted)");
    assert!(low_done > 0, "the low-priority batch kept at least one slot and progressed");
    assert!(
        low_done < 3000,
        "the low-priority batch got far less than the high one: {low_done} of 4000 when the high one's 4001 were done"
    );
    wait_completed(&db, &low, Duration::from_secs(120)).await;
    assert_eq!(deleted_items(&db, &low).await, 4000);
    assert_eq!(failed_jobs(&db, &low).await + failed_jobs(&db, &high).await, 0);
}

#[tokio::test]
async fn the_adaptive_limit_drops_while_the_database_is_busy_and_recovers_after() {
    let db = TestDb::new().await;
    seed_instances(&db, 8000).await;
    let env = env(
        &db,
        &[
            ("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "20"),
            ("SWEEP__CONTROL__MAX_CONCURRENCY", "6"),
            ("SWEEP__CONTROL__TARGET_LATENCY", "1s"),
            ("SWEEP__CONTROL__ADJUST_INTERVAL", "200ms"),
        ],
    );
    let api = TestApi::spawn(settings(&env)).await;
    let _workers = workers(&env, 2);
    let limit =
        || async { db.scalar("SELECT coalesce(max(limit_), -1) FROM sweep_control WHERE id_ = 'global'").await };
    let id = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;
    eventually(Duration::from_secs(30), || async { (deleted_items(&db, &id).await > 0).then_some(()) }).await;
    eventually(Duration::from_secs(10), || async { (limit().await == 6).then_some(()) }).await;

    // Hold a lock every deletion needs: job statements queue behind it.
    let txn = db.db.begin().await.unwrap();
    txn.execute_unprepared("LOCK TABLE act_ru_variable IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let locked_at = deleted_items(&db, &id).await;
    eventually(Duration::from_secs(15), || async { (limit().await <= 3).then_some(()) }).await;
    let reasons = db.strings("SELECT reason_ FROM sweep_control WHERE id_ = 'global'").await;
    assert_eq!(reasons, ["lock_wait"], "the last change says why");
    assert_eq!(deleted_items(&db, &id).await, locked_at, "nothing is deleted while the lock is held");
    txn.commit().await.unwrap();

    eventually(Duration::from_secs(30), || async { (limit().await == 6).then_some(()) }).await;
    wait_completed(&db, &id, Duration::from_secs(120)).await;
    assert_eq!(deleted_items(&db, &id).await, 4001);
    assert_eq!(failed_jobs(&db, &id).await, 0, "no job failed because of the busy database");
}

#[tokio::test]
async fn replica_lag_beyond_its_bound_lowers_the_limit_to_one_and_the_worker_serves_the_metrics() {
    let db = TestDb::new().await;
    let port = system_tests::free_port().to_string();
    let bind = format!("127.0.0.1:{port}");
    let env = env(
        &db,
        &[
            ("SWEEP__CONTROL__MAX_CONCURRENCY", "5"),
            ("SWEEP__CONTROL__ADJUST_INTERVAL", "100ms"),
            ("SWEEP__CONTROL__REPLICA_LAG_QUERY", "SELECT 30.0::float8"),
            ("SWEEP__CONTROL__MAX_REPLICA_LAG", "10s"),
            ("SWEEP__HTTP__BIND", &bind),
        ],
    );
    let mut worker = Proc::start(crate::WORKER_BIN, &[], &env);
    let control = "SELECT limit_ || '/' || direction_ || '/' || reason_ FROM sweep_control WHERE id_ = 'global'";
    eventually(Duration::from_secs(20), || async {
        (db.strings(control).await == ["1/decrease/replica_lag"]).then_some(())
    })
    .await;
    let page = eventually(Duration::from_secs(10), || async {
        let page = reqwest::get(format!("http://{bind}/metrics")).await.ok()?.text().await.ok()?;
        page.lines().any(|l| l == "sweep_control_limit 1").then_some(page)
    })
    .await;
    let decreases = page
        .lines()
        .find(|l| l.starts_with("sweep_control_adjustments_total{") && l.contains("reason=\"replica_lag\""))
        .unwrap_or_else(|| panic!("no replica_lag adjustments in {page}"));
    let count: f64 = decreases.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 1.0, "{decreases}");
    assert!(worker.terminate().await.success());
}

#[tokio::test]
async fn a_batch_outside_its_run_window_waits_and_resumes_when_the_window_includes_now() {
    let db = TestDb::new().await;
    seed_instances(&db, 400).await;
    let env = env(&db, &[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "20")]);
    let api = TestApi::spawn(settings(&env)).await;
    let worker = TestWorker::spawn(settings(&env)).await;
    // Tokyo keeps no daylight-saving time: UTC+9 all year.
    let closed = json!({"start": local_time(9, 120), "end": local_time(9, 180), "timeZone": "Asia/Tokyo"});
    let id =
        api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}, "runWindow": closed})).await;
    let (_, batch) = api.get(&format!("/batch/{id}")).await;
    assert_eq!(batch["runWindow"], closed, "{batch}");
    assert_eq!(batch["waitingForWindow"], true, "{batch}");
    let stats = api.batch_statistics(&id).await.unwrap();
    assert_eq!(stats["waitingForWindow"], true, "{stats}");

    // The seed creates the jobs; none of them starts.
    all_jobs_created(&db, &id).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(deleted_items(&db, &id).await, 0);
    let started = format!(
        "SELECT count(*) FROM sweep_batch_job WHERE batch_id_ = '{id}' AND (attempts_ > 0 OR state_ <> 'pending')"
    );
    assert_eq!(db.scalar(&started).await, 0, "no job started outside the window");

    let open = json!({"start": local_time(0, -60), "end": local_time(0, 60), "timeZone": "UTC"});
    let (status, body) = patch(&api, &id, &json!({"runWindow": open})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["waitingForWindow"], false, "{body}");
    // Within seconds, not after the jobs' longest park (12 s here).
    wait_completed(&db, &id, Duration::from_secs(8)).await;
    assert_eq!(deleted_items(&db, &id).await, 201);
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn max_concurrent_jobs_one_holds_across_three_workers() {
    let db = TestDb::new().await;
    seed_instances(&db, 1200).await;
    let env = env(&db, &[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "10")]);
    let api = TestApi::spawn(settings(&env)).await;
    let _workers = workers(&env, 3);
    let id = api
        .start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}, "maxConcurrentJobs": 1}))
        .await;
    let running = format!("SELECT count(*) FROM sweep_batch_job WHERE batch_id_ = '{id}' AND state_ = 'running'");
    let (mut most, mut polls) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !batch_completed(&db, &id).await {
        assert!(Instant::now() < deadline, "the batch did not complete");
        most = most.max(db.scalar(&running).await);
        polls += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(most, 1, "at most one job ran at a time, and one did ({polls} polls)");
    assert_eq!(deleted_items(&db, &id).await, 601);
    assert_eq!(failed_jobs(&db, &id).await, 0);
}

#[tokio::test]
async fn a_job_given_a_higher_priority_runs_before_the_others_of_its_batch() {
    let db = TestDb::new().await;
    seed_instances(&db, 200).await;
    let env = env(&db, &[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "10"), ("SWEEP__AMQP__PREFETCH", "1")]);
    let api = TestApi::spawn(settings(&env)).await;
    let worker = TestWorker::spawn(settings(&env)).await;
    // Hold the batch outside its window until the priority is set.
    let closed = json!({"start": local_time(0, 120), "end": local_time(0, 180), "timeZone": "UTC"});
    let id =
        api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}, "runWindow": closed})).await;
    all_jobs_created(&db, &id).await;
    let job = format!("{id}:7");
    let (status, body) = api.put(&format!("/job/{job}/priority"), &json!({"priority": 10})).await;
    assert_eq!(status, 204, "{body}");
    let (_, jobs) = api.get(&format!("/job?jobId={job}")).await;
    assert_eq!(jobs[0]["priority"], 10, "{jobs}");
    let (_, jobs) = api.get("/job?sortBy=jobPriority&sortOrder=desc").await;
    assert_eq!(jobs[0]["id"], job, "sorted by priority: {jobs}");

    let (status, body) = patch(&api, &id, &json!({"runWindow": null})).await;
    assert_eq!(status, 200, "{body}");
    wait_completed(&db, &id, Duration::from_secs(30)).await;
    // The ledger keeps each item's deletion time (that of its job's transaction).
    let first = db
        .strings(&format!(
            "SELECT ((seq_ - 1) / 10 + 1)::text FROM sweep_batch_item WHERE batch_id_ = '{id}' ORDER BY updated_, seq_ LIMIT 1"
        ))
        .await;
    assert_eq!(first, ["7"], "the job of priority 10 ran first");
    assert_eq!(deleted_items(&db, &id).await, 101);
    let log = db.scalar("SELECT count(*) FROM act_hi_op_log WHERE entity_type_ = 'Job' AND operation_type_ = 'SetPriority' AND property_ = 'priority' AND new_value_ = '10'").await;
    assert_eq!(log, 1);
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn the_job_definition_priority_is_the_batch_priority() {
    let db = TestDb::new().await;
    seed_instances(&db, 100).await;
    let env = env(&db, &[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "10")]);
    let api = TestApi::spawn(settings(&env)).await;
    let closed = json!({"start": local_time(0, 120), "end": local_time(0, 180), "timeZone": "UTC"});
    let (status, batch) = api
        .post(
            "/process-instance/delete",
            &json!({"processInstanceQuery": {"processDefinitionKey": "p"}, "runWindow": closed}),
        )
        .await;
    assert_eq!(status, 200, "{batch}");
    let id = batch["id"].as_str().unwrap().to_owned();
    let definition = batch["batchJobDefinitionId"].as_str().unwrap().to_owned();
    // Jobs exist once a worker ran the seed; this one runs it and nothing else can run (the window is closed).
    let worker = TestWorker::spawn(settings(&env)).await;
    all_jobs_created(&db, &id).await;
    let path = format!("/job-definition/{definition}/jobPriority");
    let (status, body) = api.put(&path, &json!({"priority": 7})).await;
    assert_eq!(status, 204, "{body}");
    let (_, batch) = api.get(&format!("/batch/{id}")).await;
    assert_eq!(batch["priority"], 7);
    let open_jobs = format!("SELECT count(*) FROM sweep_batch_job WHERE batch_id_ = '{id}' AND priority_ = 7");
    assert_eq!(db.scalar(&open_jobs).await, 0, "without includeJobs the jobs keep theirs");
    let (status, _) = api.put(&path, &json!({"priority": 7, "includeJobs": true})).await;
    assert_eq!(status, 204);
    assert_eq!(db.scalar(&open_jobs).await, 6);
    let (status, _) = api.put(&path, &json!({"priority": null})).await;
    assert_eq!(status, 204);
    let (_, batch) = api.get(&format!("/batch/{id}")).await;
    assert_eq!(batch["priority"], 0, "a null priority clears the override");
    for (body, message) in
        [(json!({"priority": "x"}), "priority"), (json!({"priority": 1, "includeJobs": "yes"}), "includeJobs")]
    {
        let (status, answer) = api.put(&path, &body).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["message"].as_str().unwrap().contains(message), "{answer}");
    }
    let (status, _) = api.put("/job-definition/nope/jobPriority", &json!({"priority": 1})).await;
    assert_eq!(status, 404);
    let (status, _) = api.put(&format!("/job/{id}:1/priority"), &json!({})).await;
    assert_eq!(status, 400, "priority is required");
    let (status, _) = api.put(&format!("/job/{id}:99/priority"), &json!({"priority": 1})).await;
    assert_eq!(status, 404);
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn a_worker_killed_while_holding_slots_loses_nothing() {
    let db = TestDb::new().await;
    seed_instances(&db, 3000).await;
    let env = env(&db, &[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "20"), ("SWEEP__AMQP__QUEUE_TYPE", "quorum")]);
    let api = TestApi::spawn(settings(&env)).await;
    let mut workers = workers(&env, 3);
    let id = api
        .start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}, "maxConcurrentJobs": 2, "maxInstancesPerSecond": 2000}))
        .await;
    eventually(Duration::from_secs(30), || async { (deleted_items(&db, &id).await >= 100).then_some(()) }).await;
    // The worker whose database connection holds a slot (a transaction-level advisory lock).
    let holders = "SELECT a.client_port::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                    WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()";
    let (victim, port) = eventually(Duration::from_secs(30), || async {
        let ports: Vec<u16> = db.strings(holders).await.iter().filter_map(|p| p.parse().ok()).collect();
        workers.iter().enumerate().find_map(|(i, w)| {
            let own = local_ports(w.child.id()?);
            ports.iter().find(|p| own.contains(p)).map(|p| (i, *p))
        })
    })
    .await;
    workers[victim].kill9().await;
    let at_kill = deleted_items(&db, &id).await;
    assert!(at_kill < 1501, "killed mid-batch ({at_kill})");
    eventually(Duration::from_secs(10), || async {
        (!db.strings(holders).await.contains(&port.to_string())).then_some(())
    })
    .await;
    wait_completed(&db, &id, Duration::from_secs(90)).await;
    assert_eq!(deleted_items(&db, &id).await, 1501);
    assert_eq!(
        db.scalar(&format!("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = '{id}' AND state_ <> 'deleted'"))
            .await,
        0
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM act_hi_procinst WHERE state_ = 'EXTERNALLY_TERMINATED'").await,
        1501,
        "every instance deleted exactly once"
    );
    for (i, w) in workers.iter_mut().enumerate() {
        if i != victim {
            assert!(w.terminate().await.success());
        }
    }
}

#[tokio::test]
async fn bad_patch_bodies_are_refused_and_change_nothing_and_patch_needs_update_permission() {
    let db = TestDb::new().await;
    seed_instances(&db, 20).await;
    let env = env(&db, &[]);
    let api = TestApi::spawn(settings(&env)).await;
    let id = api
        .start_deletion(
            &json!({"processInstanceQuery": {"processDefinitionKey": "p"}, "maxInstancesPerSecond": 10, "priority": 2}),
        )
        .await;
    let row = format!(
        "SELECT concat_ws('/', max_rate_, max_concurrent_jobs_, priority_, window_start_, window_end_, window_tz_)
           FROM sweep_batch WHERE id_ = '{id}'"
    );
    let before = db.strings(&row).await;
    let outbox = || async { db.scalar("SELECT count(*) FROM sweep_outbox").await };
    eventually(Duration::from_secs(10), || async { (outbox().await == 0).then_some(()) }).await;
    let window =
        |start: &str, end: &str, zone: &str| json!({"runWindow": {"start": start, "end": end, "timeZone": zone}});
    for (body, message) in [
        (json!({"maxInstancesPerSecond": 0}), "maxInstancesPerSecond"),
        (json!({"maxInstancesPerSecond": -5}), "maxInstancesPerSecond"),
        (json!({"maxInstancesPerSecond": 1e12}), "maxInstancesPerSecond"),
        (json!({"maxInstancesPerSecond": "NaN"}), "maxInstancesPerSecond"),
        (json!({"maxConcurrentJobs": 0}), "maxConcurrentJobs"),
        (json!({"maxConcurrentJobs": 1.5}), "maxConcurrentJobs"),
        (json!({"maxConcurrentJobs": 99_999_999_999i64}), "maxConcurrentJobs"),
        (json!({"priority": 1e30}), "priority"),
        (json!({"priority": true}), "priority"),
        (window("25:00", "05:00", "UTC"), "runWindow.start"),
        (window("01:00", "1:00", "UTC"), "runWindow.end"),
        (window("01:00", "01:00", "UTC"), "differ"),
        (window("01:00", "05:00", "Mars/Olympus"), "runWindow.timeZone"),
        (json!({"runWindow": {"start": "01:00"}}), "runWindow"),
        (json!({"runWindow": 5}), "runWindow"),
        // A valid field does not slip through beside an invalid one.
        (json!({"priority": 9, "maxConcurrentJobs": -1}), "maxConcurrentJobs"),
        (json!({}), "at least one"),
        (json!("x"), "JSON object"),
    ] {
        let (status, answer) = patch(&api, &id, &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["type"], "InvalidRequestException", "{answer}");
        assert!(answer["message"].as_str().unwrap().contains(message), "{body}: {answer}");
    }
    let (status, answer) = api
        .send(
            api.request(Method::PATCH, &format!("/batch/{id}"))
                .header("content-type", "application/json")
                .body("{\"priority\": 1e400}"),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(db.strings(&row).await, before, "nothing changed");
    assert_eq!(outbox().await, 0, "nothing enqueued");
    let log = "SELECT count(*) FROM act_hi_op_log WHERE entity_type_ = 'Batch' AND operation_type_ = 'Update'";
    assert_eq!(db.scalar(log).await, 0);

    let (status, answer) = patch(&api, "nope", &json!({"priority": 1})).await;
    assert_eq!(status, 404, "{answer}");

    // READ, not UPDATE: 403 with Camunda's body, nothing changed.
    shared::db::identity::upsert_user(&db.db, "reader", "pw", &[], &[]).await.unwrap();
    db.exec(&format!(
        "INSERT INTO act_ru_authorization (id_, rev_, type_, user_id_, resource_type_, resource_id_, perms_)
         VALUES (gen_random_uuid()::varchar, 1, 1, 'reader', {BATCH}, '*', 2)"
    ))
    .await;
    let reader = api.as_user("reader", "pw");
    let (status, _) = reader.get(&format!("/batch/{id}")).await;
    assert_eq!(status, 200, "the reader sees the batch");
    let (status, answer) = patch(&reader, &id, &json!({"priority": 5})).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["type"], "AuthorizationException", "{answer}");
    assert_eq!(answer["missingAuthorizations"][0]["permissionName"], "UPDATE", "{answer}");
    assert_eq!(db.strings(&row).await, before, "nothing changed");
    let (status, _) = reader.put(&format!("/job/{id}:1/priority"), &json!({"priority": 5})).await;
    assert!(status == 404 || status == 403, "no job exists yet, or no permission: {status}");

    // Granted UPDATE, a valid PATCH changes exactly what it names and logs it.
    db.exec(&format!(
        "INSERT INTO act_ru_authorization (id_, rev_, type_, user_id_, resource_type_, resource_id_, perms_)
         VALUES (gen_random_uuid()::varchar, 1, 1, 'reader', {BATCH}, '{id}', {ALL})"
    ))
    .await;
    let berlin = window("01:00", "05:00", "Europe/Berlin");
    let (status, body) = patch(&reader, &id, &json!({"maxConcurrentJobs": 3, "runWindow": berlin["runWindow"]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["maxConcurrentJobs"], 3);
    assert_eq!(body["maxInstancesPerSecond"], json!(10.0), "untouched");
    assert_eq!(body["priority"], 2, "untouched");
    assert_eq!(body["runWindow"], berlin["runWindow"]);
    assert_eq!(db.scalar(log).await, 2, "one row per changed field");
    let history = format!("SELECT max_concurrent_jobs_ FROM sweep_hi_batch WHERE id_ = '{id}'");
    assert_eq!(db.scalar(&history).await, 3, "history shows what the batch runs with");
    let (status, body) = patch(&reader, &id, &json!({"maxInstancesPerSecond": null, "runWindow": null})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["maxInstancesPerSecond"], Value::Null);
    assert_eq!(body["runWindow"], Value::Null);
    assert_eq!(body["waitingForWindow"], false);

    // The creation request validates the same fields.
    for body in [
        json!({"processInstanceIds": ["pi-2"], "maxInstancesPerSecond": 0}),
        json!({"processInstanceIds": ["pi-2"], "maxConcurrentJobs": 0}),
        json!({"processInstanceIds": ["pi-2"], "runWindow": {"start": "01:00", "end": "02:00", "timeZone": "Nowhere/Else"}}),
    ] {
        let (status, answer) = api.post("/process-instance/delete", &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
    }
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch").await, 1, "no batch created");
}

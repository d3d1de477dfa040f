//! Large selections: the snapshot beyond `batch.snapshot_chunk_size` (ids only at creation,
//! the ledger built afterwards by the seed handler, chunk by chunk), its exactness against
//! instances started afterwards and against a worker killed in the middle of a chunk, and the
//! manifest that streams a batch's every id with its outcome.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};
use shared::messages::{ROUTE_JOB, ROUTE_SEED};
use system_tests::fixtures::{seed_instances, wait_completed};
use system_tests::{ApiClient, DrivenWorker, Proc, TestApi, TestDb, eventually, prefix};

/// Chunk size of these tests: 10 001 selected instances take 11 chunks.
const CHUNK: &str = "1000";

/// `n` more running root instances of definition `p` (`late-1..`), as if started by an engine
/// after the batch was created.
async fn start_late_instances(db: &TestDb, from: usize, n: usize) {
    db.exec(&format!(
        "INSERT INTO act_ru_execution (id_, proc_inst_id_, root_proc_inst_id_, proc_def_id_)
         SELECT 'late-' || g, 'late-' || g, 'late-' || g, 'pd1' FROM generate_series({from}, {}) g",
        from + n - 1
    ))
    .await;
}

/// The statistics of batch `id` while it runs, checked to add up (invariant 5) and to count
/// `total` instances; `None` once it has completed.
async fn checked_statistics(api: &ApiClient, id: &str, total: i64) -> Option<Value> {
    let s = api.batch_statistics(id).await?;
    let n = |f: &str| s[f].as_i64().unwrap_or_else(|| panic!("{f} in {s}"));
    assert_eq!(n("totalInstances"), total, "{s}");
    assert_eq!(
        n("pendingInstances")
            + n("runningInstances")
            + n("deletedInstances")
            + n("skippedInstances")
            + n("failedInstances"),
        total,
        "counters must add up: {s}"
    );
    Some(s)
}

async fn ledger_items(db: &TestDb, id: &str) -> i64 {
    db.scalar(&format!("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = '{id}'")).await
}

async fn jobs(db: &TestDb, id: &str) -> i64 {
    db.scalar(&format!("SELECT count(*) FROM sweep_batch_job WHERE batch_id_ = '{id}'")).await
}

/// 1 when batch `id` selected an instance called by another, else 0.
async fn called_items(db: &TestDb, id: &str) -> i64 {
    db.scalar(&format!("SELECT called_items_::int FROM sweep_batch WHERE id_ = '{id}'")).await
}

async fn selection_rows(db: &TestDb, id: &str) -> i64 {
    db.scalar(&format!(
        "SELECT count(*) FROM sweep_batch_selection WHERE batch_key_ = (SELECT key_ FROM sweep_batch WHERE id_ = '{id}')"
    ))
    .await
}

/// After the batch: every originally selected instance is gone and in the ledger exactly once,
/// deleted, numbered 1..n; every late instance is still running and in no ledger.
async fn assert_exact(db: &TestDb, id: &str, selected: &[String], late: i64) {
    let ledger = db
        .strings(&format!("SELECT proc_inst_id_ FROM sweep_batch_item WHERE batch_id_ = '{id}' ORDER BY proc_inst_id_"))
        .await;
    let mut expected = selected.to_vec();
    expected.sort();
    assert_eq!(ledger, expected, "the ledger holds exactly the selection");
    assert_eq!(
        db.scalar(&format!(
            "SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = '{id}' AND state_ = 'deleted'
               AND seq_ BETWEEN 1 AND {}",
            selected.len()
        ))
        .await,
        selected.len() as i64,
        "every item deleted, numbered 1..n"
    );
    assert_eq!(
        db.scalar(&format!(
            "SELECT count(*) FROM act_ru_execution WHERE proc_inst_id_ = ANY ('{{{}}}'::varchar[])",
            selected.join(",")
        ))
        .await,
        0,
        "no selected instance is left"
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM act_ru_execution WHERE id_ LIKE 'late-%'").await,
        late,
        "instances started after creation are never deleted"
    );
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch_selection").await, 0, "the snapshot is used up");
    assert_eq!(
        db.scalar("SELECT count(*) FROM act_hi_procinst WHERE state_ = 'EXTERNALLY_TERMINATED' AND id_ LIKE 'late-%'")
            .await,
        0
    );
}

/// The ids a query for definition key `p` selects now.
async fn selected_now(db: &TestDb) -> Vec<String> {
    db.strings(
        "SELECT e.id_ FROM act_ru_execution e JOIN act_re_procdef d ON d.id_ = e.proc_def_id_
          WHERE d.key_ = 'p' AND e.id_ = e.proc_inst_id_",
    )
    .await
}

#[tokio::test]
async fn a_selection_above_the_chunk_size_is_snapshotted_exactly_while_instances_keep_starting() {
    let db = TestDb::new().await;
    seed_instances(&db, 20_000).await;
    let selected = selected_now(&db).await;
    assert_eq!(selected.len(), 10_001);
    let settings = db.settings(&[
        ("SWEEP__BATCH__SNAPSHOT_CHUNK_SIZE", CHUNK),
        ("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "100"),
        ("SWEEP__BATCH__BATCH_JOBS_PER_SEED", "40"),
    ]);
    let api = TestApi::spawn(settings.clone()).await;
    let worker = DrivenWorker::connect(settings).await;

    let (status, batch) =
        api.post("/process-instance/delete", &json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;
    assert_eq!(status, 200, "{batch}");
    let id = batch["id"].as_str().unwrap().to_owned();
    assert_eq!(batch["totalJobs"], 101, "totalJobs counts the whole selection at once");
    assert_eq!(called_items(&db, &id).await, 1, "c-1, called by pi-1, is selected");
    // Only ids were written at creation; the ledger is built after the answer.
    assert_eq!(ledger_items(&db, &id).await, 0);
    assert_eq!(selection_rows(&db, &id).await, 10_001);
    let s = checked_statistics(&api, &id, 10_001).await.unwrap();
    assert_eq!(s["pendingInstances"], 10_001);
    assert_eq!(s["remainingJobs"], 101);

    // Instances start between the answer and every chunk; the seed builds one chunk per run.
    let mut late = 0;
    for chunk in 1..=11 {
        start_late_instances(&db, late + 1, 50).await;
        late += 50;
        assert!(worker.step().await, "a seed message builds chunk {chunk}");
        assert_eq!(ledger_items(&db, &id).await, (chunk * 1000).min(10_001));
        if chunk < 11 {
            assert_eq!(jobs(&db, &id).await, 0, "no job before the ledger is complete");
        }
        let s = checked_statistics(&api, &id, 10_001).await.unwrap();
        assert_eq!(s["pendingInstances"], 10_001);
        if chunk == 3 {
            // Half built: the manifest still lists the whole selection, once, in order.
            let resp = api.request(reqwest::Method::GET, &format!("/batch/{id}/manifest")).send().await.unwrap();
            let lines = parse_ndjson(&resp.text().await.unwrap());
            let mut ids: Vec<String> = lines.iter().map(|(i, _, _)| i.clone()).collect();
            assert!(lines.iter().all(|(_, state, _)| state == "pending"));
            ids.sort();
            let mut expected = selected.clone();
            expected.sort();
            assert_eq!(ids, expected);
        }
    }
    assert_eq!(selection_rows(&db, &id).await, 0);
    // Jobs now, while more instances start; counters add up between steps.
    let mut steps = 0;
    while worker.step().await {
        steps += 1;
        if steps % 10 == 0 {
            start_late_instances(&db, late + 1, 10).await;
            late += 10;
            if checked_statistics(&api, &id, 10_001).await.is_none() {
                break;
            }
        }
    }
    worker.drain().await;
    wait_completed(&db, &id, Duration::from_secs(10)).await;
    assert_exact(&db, &id, &selected, late as i64).await;
    let (_, h) = api.get(&format!("/history/batch/{id}")).await;
    assert_eq!(h["totalJobs"], 101, "{h}");
}

#[tokio::test]
async fn a_selection_of_no_called_instance_runs_the_jobs_of_each_chunk_while_the_rest_is_built() {
    let db = TestDb::new().await;
    seed_instances(&db, 20_000).await;
    // The roots of `p`: all of its instances but c-1, which pi-1 calls.
    let selected: Vec<String> = selected_now(&db).await.into_iter().filter(|i| i != "c-1").collect();
    assert_eq!(selected.len(), 10_000);
    let settings = db.settings(&[
        ("SWEEP__BATCH__SNAPSHOT_CHUNK_SIZE", CHUNK),
        ("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "50"),
        ("SWEEP__BATCH__BATCH_JOBS_PER_SEED", "4"),
    ]);
    let api = TestApi::spawn(settings.clone()).await;
    let worker = DrivenWorker::connect(settings).await;
    let query = json!({"processInstanceQuery": {"processDefinitionKey": "p", "rootProcessInstances": true}});
    let (status, batch) = api.post("/process-instance/delete", &query).await;
    assert_eq!(status, 200, "{batch}");
    let id = batch["id"].as_str().unwrap().to_owned();
    assert_eq!(batch["totalJobs"], 200);
    assert_eq!(called_items(&db, &id).await, 0);
    assert_eq!((ledger_items(&db, &id).await, jobs(&db, &id).await), (0, 0));

    // The first seed run builds a short chunk, ten jobs' worth, and creates the first 4 jobs.
    assert!(worker.step_route(ROUTE_SEED).await);
    assert_eq!((ledger_items(&db, &id).await, jobs(&db, &id).await), (500, 4));
    // The same seed message delivered again finds its run done and changes nothing.
    let seed = shared::messages::WorkMessage::SeedV1 { batch_id: id.clone(), jobs_created: 0 };
    worker::dispatch(&worker.ctx, &seed).await.unwrap();
    assert_eq!((ledger_items(&db, &id).await, jobs(&db, &id).await), (500, 4), "a redelivered seed is stale");
    // They run before the ledger is complete, while instances keep starting.
    start_late_instances(&db, 1, 50).await;
    for _ in 0..4 {
        assert!(worker.step_route(ROUTE_JOB).await);
    }
    assert!(!worker.step_route(ROUTE_JOB).await, "only the created jobs have messages");
    let s = checked_statistics(&api, &id, 10_000).await.unwrap();
    assert_eq!((s["deletedInstances"].as_i64(), s["pendingInstances"].as_i64()), (Some(200), Some(9_800)), "{s}");
    assert_eq!(selection_rows(&db, &id).await, 9_500);
    assert_eq!(
        db.scalar(&format!("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = '{id}' AND state_ = 'deleted'"))
            .await,
        200
    );

    // Each further run builds a whole chunk and creates the next 4 jobs: creation lags behind
    // the ledger, and catches up once it is complete.
    for run in 2..=11 {
        assert!(worker.step_route(ROUTE_SEED).await);
        let built = (500 + (run - 1) * 1000).min(10_000);
        assert_eq!((ledger_items(&db, &id).await, jobs(&db, &id).await), (built, run * 4));
        checked_statistics(&api, &id, 10_000).await.unwrap();
    }
    assert_eq!(selection_rows(&db, &id).await, 0);
    start_late_instances(&db, 51, 50).await;
    worker.drain().await;
    wait_completed(&db, &id, Duration::from_secs(10)).await;
    assert_exact(&db, &id, &selected, 100).await;
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_execution WHERE id_ = 'c-1'").await, 1, "not selected");
    let (_, h) = api.get(&format!("/history/batch/{id}")).await;
    assert_eq!(h["totalJobs"], 200, "{h}");

    // An explicit id of a called instance marks its batch too.
    let called = api.start_deletion(&json!({"processInstanceIds": ["c-1", "pi-3"]})).await;
    assert_eq!(called_items(&db, &called).await, 1);
    let uncalled = api.start_deletion(&json!({"processInstanceIds": ["pi-5"]})).await;
    assert_eq!(called_items(&db, &uncalled).await, 0);
    worker.drain().await;
}

#[tokio::test]
async fn a_worker_killed_in_the_middle_of_a_chunk_loses_nothing_and_duplicates_nothing() {
    let db = TestDb::new().await;
    seed_instances(&db, 20_000).await;
    let selected = selected_now(&db).await;
    let prefix = prefix();
    let env = db.env(&[
        ("SWEEP__AMQP__PREFIX", &prefix),
        ("SWEEP__BATCH__SNAPSHOT_CHUNK_SIZE", CHUNK),
        ("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "100"),
    ]);
    let api = TestApi::spawn(shared::Settings::load_from(env.clone()).unwrap()).await;
    let id = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;
    let key = db.scalar(&format!("SELECT key_ FROM sweep_batch WHERE id_ = '{id}'")).await;

    // Hold a row of the fourth chunk: the worker's seed run for it moves nothing until we let go.
    let blocker = db.db.begin().await.unwrap();
    blocker
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT 1 FROM sweep_batch_selection WHERE batch_key_ = {key} AND ord_ = 3500 FOR UPDATE"),
        ))
        .await
        .unwrap();
    let mut first = Proc::start(crate::WORKER_BIN, &[], &env);
    // The worker built three chunks and now waits, inside the fourth chunk's transaction.
    eventually(Duration::from_secs(30), || async {
        let waiting = db
            .scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%sweep_batch_selection%'")
            .await;
        (waiting == 1).then_some(())
    })
    .await;
    assert_eq!(ledger_items(&db, &id).await, 3000);
    checked_statistics(&api, &id, 10_001).await.unwrap();
    first.kill9().await;
    start_late_instances(&db, 1, 100).await;
    blocker.rollback().await.unwrap();
    // The dead worker's transaction never commits; its seed message goes back to the queue.
    eventually(Duration::from_secs(10), || async {
        let left = db.scalar("SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE '%DELETE FROM sweep_batch_selection%' AND state <> 'idle'").await;
        (left == 0).then_some(())
    })
    .await;
    assert_eq!(ledger_items(&db, &id).await, 3000, "the interrupted chunk left nothing behind");

    let mut second = Proc::start(crate::WORKER_BIN, &[], &env);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while checked_statistics(&api, &id, 10_001).await.is_some() {
        assert!(tokio::time::Instant::now() < deadline, "batch did not complete");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_completed(&db, &id, Duration::from_secs(10)).await;
    second.terminate().await;
    assert_exact(&db, &id, &selected, 100).await;
}

#[tokio::test]
async fn a_batch_deleted_while_its_ledger_is_built_keeps_the_items_built_and_counters_that_add_up() {
    let db = TestDb::new().await;
    seed_instances(&db, 20_000).await;
    let settings = db.settings(&[("SWEEP__BATCH__SNAPSHOT_CHUNK_SIZE", CHUNK)]);
    let api = TestApi::spawn(settings.clone()).await;
    let worker = DrivenWorker::connect(settings).await;
    let id = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;
    assert!(worker.step().await);
    assert!(worker.step().await);
    let (status, body) = api.delete(&format!("/batch/{id}")).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch_selection").await, 0);
    assert_eq!(ledger_items(&db, &id).await, 2000);
    assert_eq!(db.scalar(&format!("SELECT total_items_ FROM sweep_hi_batch WHERE id_ = '{id}'")).await, 2000);
    let (_, count) = api.get(&format!("/batch/{id}/items/count?state=pending")).await;
    assert_eq!(count["count"], 2000);
    worker.drain().await;
    assert_eq!(db.scalar("SELECT count(*) FROM act_hi_procinst WHERE state_ = 'EXTERNALLY_TERMINATED'").await, 0);
}

/// A batch of `items` items written as rows (no instances behind them): every seventh failed
/// with a reason holding a comma, a quote and a line break, every third deleted, the rest
/// pending.
async fn insert_ledger(db: &TestDb, id: &str, items: i64, runtime: bool) {
    let runtime_row = if runtime {
        format!(
            "INSERT INTO sweep_batch (id_, type_, total_jobs_, jobs_per_seed_, invocations_per_job_, seed_job_def_id_,
                 monitor_job_def_id_, batch_job_def_id_, start_time_, skip_custom_listeners_, skip_subprocesses_,
                 skip_io_mappings_, fail_if_not_exists_, total_items_)
             VALUES ('{id}', 'instance-deletion', {jobs}, 100, 100, 's', 'm', 'j', now(), false, false, false, true, {items});",
            jobs = (items + 99) / 100
        )
    } else {
        String::new()
    };
    db.exec(&format!(
        "{runtime_row}
         INSERT INTO sweep_hi_batch (id_, type_, total_jobs_, jobs_per_seed_, invocations_per_job_, seed_job_def_id_,
             monitor_job_def_id_, batch_job_def_id_, start_time_, end_time_, total_items_)
         VALUES ('{id}', 'instance-deletion', {jobs}, 100, 100, 's', 'm', 'j', now(), {end}, {items});
         INSERT INTO sweep_batch_item (batch_id_, seq_, proc_inst_id_, state_, reason_)
         SELECT '{id}', n, 'pi-' || n,
                CASE WHEN n % 7 = 0 THEN 'failed' WHEN n % 3 = 0 THEN 'deleted' ELSE 'pending' END,
                CASE WHEN n % 7 = 0 THEN 'refused, said \"no\"' || chr(10) || 'at ' || n END
           FROM generate_series(1, {items}) n;",
        jobs = (items + 99) / 100,
        end = if runtime { "NULL" } else { "now()" },
    ))
    .await;
}

/// The ledger of `id` as manifest lines `(id, state, reason)`, in sequence order.
async fn ledger_lines(db: &TestDb, id: &str) -> Vec<(String, String, Option<String>)> {
    let rows = db
        .db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT proc_inst_id_, state_, reason_ FROM sweep_batch_item WHERE batch_id_ = '{id}' ORDER BY seq_"
            ),
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get("", "proc_inst_id_").unwrap(),
                r.try_get("", "state_").unwrap(),
                r.try_get("", "reason_").unwrap(),
            )
        })
        .collect()
}

fn parse_ndjson(body: &str) -> Vec<(String, String, Option<String>)> {
    body.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            assert_eq!(v.as_object().unwrap().len(), 3, "{l}");
            assert!(l.starts_with("{\"id\":") && l.find("\"state\"") < l.find("\"reason\""), "field order: {l}");
            (
                v["id"].as_str().unwrap().to_owned(),
                v["state"].as_str().unwrap().to_owned(),
                v["reason"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// RFC 4180 records of `body`, header included.
fn parse_csv(body: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, body.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && record.is_empty(), "the body ends with a line break");
    records
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn the_manifest_of_a_hundred_thousand_instances_streams_in_constant_memory_and_matches_the_ledger() {
    let db = TestDb::new().await;
    let id = "big";
    insert_ledger(&db, id, 100_000, true).await;
    let port = system_tests::free_port();
    let env = db.env(&[("SWEEP__HTTP__BIND", &format!("127.0.0.1:{port}"))]);
    let mut process = Proc::start(crate::API_BIN, &["serve"], &env);
    let api = ApiClient::for_settings(&shared::Settings::load_from(env.clone()).unwrap());
    api.wait_ready(Duration::from_secs(30)).await;
    let pid = process.child.id().unwrap();
    // Warm up: the first request allocates pools and buffers once.
    let (status, _) = api.get(&format!("/batch/{id}/items?maxResults=10")).await;
    assert_eq!(status, 200);
    let before = rss_kib(pid);

    let mut resp = api.request(reqwest::Method::GET, &format!("/batch/{id}/manifest")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let first = resp.chunk().await.unwrap().expect("a first chunk");
    // The server has not read the end of the ledger yet: a change made now shows in the stream.
    db.exec(&format!(
        "UPDATE sweep_batch_item SET state_ = 'skipped', reason_ = NULL WHERE batch_id_ = '{id}' AND seq_ = 100000"
    ))
    .await;
    let mut body = first.to_vec();
    let mut peak = 0;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        body.extend_from_slice(&chunk);
        peak = peak.max(rss_kib(pid));
        // Read slowly, so that a server that buffered would hold everything meanwhile.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let lines = parse_ndjson(std::str::from_utf8(&body).unwrap());
    assert_eq!(lines.len(), 100_000);
    assert_eq!(lines.last().unwrap(), &("pi-100000".to_owned(), "skipped".to_owned(), None), "streamed, not buffered");
    assert_eq!(lines, ledger_lines(&db, id).await, "line by line the ledger");
    // 100 000 lines are ~6 MiB of NDJSON; the server's memory does not grow by that.
    let growth = peak - before;
    assert!(growth < 4 * 1024, "API RSS grew by {growth} KiB while streaming (from {before} KiB)");

    let resp = api
        .request(reqwest::Method::GET, &format!("/batch/{id}/manifest"))
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let records = parse_csv(&resp.text().await.unwrap());
    assert_eq!(records[0], ["id", "state", "reason"]);
    let expected: Vec<Vec<String>> =
        ledger_lines(&db, id).await.into_iter().map(|(i, s, r)| vec![i, s, r.unwrap_or_default()]).collect();
    assert_eq!(records[1..], expected[..], "CSV quoting keeps commas, quotes and line breaks");
    assert_eq!(records[7][2], "refused, said \"no\"\nat 7");
    process.terminate().await;
}

#[tokio::test]
async fn the_manifest_is_visible_as_the_ledger_is_and_answers_unknown_batches_camunda_style() {
    let db = TestDb::new().await;
    insert_ledger(&db, "running", 250, true).await;
    insert_ledger(&db, "ended", 120, false).await;
    let api = TestApi::spawn(db.settings(&[])).await;
    shared::db::identity::upsert_user(&db.db, "reader", "pw", &[], &[]).await.unwrap();
    let reader = api.as_user("reader", "pw");
    let lines = |status: u16, body: String| {
        assert_eq!(status, 200, "{body}");
        body.lines().count()
    };
    let get = |client: &ApiClient, path: String| {
        let request = client.request(reqwest::Method::GET, &path);
        async move {
            let resp = request.send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };

    // An admin reads both, through either path where the batch is.
    assert_eq!(
        {
            let (s, b) = get(&api, "/batch/running/manifest".into()).await;
            lines(s, b)
        },
        250
    );
    assert_eq!(
        {
            let (s, b) = get(&api, "/batch/ended/manifest".into()).await;
            lines(s, b)
        },
        120
    );
    assert_eq!(
        {
            let (s, b) = get(&api, "/history/batch/ended/manifest".into()).await;
            lines(s, b)
        },
        120
    );
    assert_eq!(
        {
            let (s, b) = get(&api, "/history/batch/running/manifest".into()).await;
            lines(s, b)
        },
        250
    );

    // Unknown, and invisible without authorizations: 404 with Camunda's body.
    for path in ["/batch/nope/manifest", "/history/batch/nope/manifest"] {
        let (status, body) = get(&api, path.into()).await;
        assert_eq!(status, 404, "{path}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["type"], "InvalidRequestException");
        assert_eq!(body["message"], "Batch with id 'nope' does not exist");
    }
    for path in ["/batch/running/manifest", "/history/batch/running/manifest", "/batch/ended/manifest"] {
        assert_eq!(get(&reader, path.into()).await.0, 404, "{path}");
    }
    assert_eq!(get(&api.anonymous(), "/batch/running/manifest".into()).await.0, 401);

    // READ on the batch opens the runtime manifest, READ_HISTORY the historic one.
    let grant = |resource_id: &str, perms: i32| {
        format!(
            "INSERT INTO act_ru_authorization (id_, rev_, type_, user_id_, resource_type_, resource_id_, perms_)
             VALUES (gen_random_uuid()::varchar, 1, 1, 'reader', 13, '{resource_id}', {perms})"
        )
    };
    db.exec(&grant("running", 2)).await;
    assert_eq!(
        {
            let (s, b) = get(&reader, "/batch/running/manifest".into()).await;
            lines(s, b)
        },
        250
    );
    assert_eq!(get(&reader, "/history/batch/running/manifest".into()).await.0, 404);
    db.exec(&grant("ended", 4096)).await;
    assert_eq!(
        {
            let (s, b) = get(&reader, "/history/batch/ended/manifest".into()).await;
            lines(s, b)
        },
        120
    );
}

#[tokio::test]
async fn cli_manifest_writes_ndjson_to_stdout_and_csv_to_a_file() {
    let db = TestDb::new().await;
    insert_ledger(&db, "cli", 2500, true).await;
    let api = TestApi::spawn(db.settings(&[])).await;
    let env = std::collections::HashMap::from([
        ("SWEEP_URL".to_owned(), api.base.clone()),
        ("SWEEP_USER".to_owned(), system_tests::TEST_USER.0.to_owned()),
        ("SWEEP_PASSWORD".to_owned(), system_tests::TEST_USER.1.to_owned()),
    ]);
    let deadline = Duration::from_secs(60);
    let out = system_tests::run(crate::CLI_BIN, &["manifest", "cli"], &env, None, deadline).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(parse_ndjson(&out.stdout), ledger_lines(&db, "cli").await);

    let file = std::env::temp_dir().join(format!("manifest-{}.csv", uuid::Uuid::new_v4()));
    let path = file.to_str().unwrap();
    let out = system_tests::run(crate::CLI_BIN, &["manifest", "cli", "--csv", "-f", path], &env, None, deadline).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    let records = parse_csv(&std::fs::read_to_string(&file).unwrap());
    std::fs::remove_file(&file).ok();
    assert_eq!(records.len(), 2501);
    assert_eq!(records[14], ["pi-14", "failed", "refused, said \"no\"\nat 14"]);

    let out = system_tests::run(crate::CLI_BIN, &["manifest", "nope"], &env, None, deadline).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("Batch with id 'nope' does not exist"), "{out}");
}

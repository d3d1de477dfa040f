//! Large selections: the snapshot beyond `batch.snapshot_chunk_size` (ids only at creation,
//! the ledger built afterwards by the seed handler, chunk by chunk), its exactness against
//! instances started afterwards and against a worker killed in the middle of a chunk, and the
//! manifest that streams a batch's every id with its outcome.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};
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
        db.scalar("SELECT count(*) FROM act_ru_execution e JOIN act_re_procdef d ON d.id_ = e.proc_def_id_ WHERE d.key_ = 'p' AND e.id_ NOT LIKE 'late-%' AND e.parent_id_ IS NULL").await,
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
        assert_eq!(
            db.scalar(&format!("SELECT count(*) FROM sweep_batch_job WHERE batch_id_ = '{id}'")).await,
            0,
            "no job before the ledger is complete"
        );
        let s = checked_statistics(&api, &id, 10_001).await.unwrap();
        assert_eq!(s["pendingInstances"], 10_001);
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

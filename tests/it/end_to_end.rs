//! The main job end to end with the real binaries as processes: generated instances, a
//! deletion by query, two workers, progress polled through the Batch API until completion.
//! And the operator's controls: suspend and resume, delete a running batch, retry a failed job.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use system_tests::fixtures::{batch_completed, deleted_items, refuse_to_delete, root_instances, seed_instances};
use system_tests::{ApiClient, DrivenWorker, Proc, TestApi, TestDb, free_port, prefix};

/// Checksum of every row of `table` whose instance column is not in the deleted set.
async fn untouched(db: &TestDb, table: &str, column: &str) -> String {
    db.strings(&format!(
        "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t
          WHERE {column} IS NULL OR {column} NOT IN (SELECT proc_inst_id_ FROM deleted_tree)"
    ))
    .await
    .remove(0)
}

#[tokio::test]
async fn ten_thousand_instances_selected_by_query_are_deleted_by_two_worker_processes() {
    let db = TestDb::new().await;
    let options = shared::demo::GenerateOptions { instances: 10_000, seed: 5, ..Default::default() };
    shared::demo::generate(&db.db, &options).await.unwrap();
    // The selection and every instance its roots call, transitively: what must disappear.
    db.exec(
        "CREATE TABLE deleted_tree AS
           WITH RECURSIVE t(id) AS (
             SELECT e.id_ FROM act_ru_execution e JOIN act_re_procdef d ON d.id_ = e.proc_def_id_
              WHERE e.id_ = e.proc_inst_id_ AND d.key_ IN ('demo-process-1', 'demo-process-2')
             UNION SELECT s.id_ FROM t JOIN act_ru_execution c ON c.proc_inst_id_ = t.id
                   JOIN act_ru_execution s ON s.super_exec_ = c.id_)
           SELECT id AS proc_inst_id_ FROM t",
    )
    .await;
    let tables = [
        ("act_ru_execution", "proc_inst_id_"),
        ("act_ru_variable", "proc_inst_id_"),
        ("act_ru_task", "proc_inst_id_"),
        ("act_ru_job", "process_instance_id_"),
        ("act_ru_ext_task", "proc_inst_id_"),
        ("act_ru_event_subscr", "proc_inst_id_"),
        ("act_ru_incident", "proc_inst_id_"),
        ("act_hi_procinst", "proc_inst_id_"),
        ("act_hi_actinst", "proc_inst_id_"),
        ("act_hi_taskinst", "proc_inst_id_"),
        ("act_hi_varinst", "proc_inst_id_"),
        ("act_hi_incident", "proc_inst_id_"),
    ];
    let mut before = HashMap::new();
    for (table, column) in tables {
        before.insert(table, untouched(&db, table, column).await);
    }
    let tree = db.scalar("SELECT count(*) FROM deleted_tree").await;

    let port = free_port();
    let prefix = prefix();
    let env = db.env(&[
        ("SWEEP__AMQP__PREFIX", &prefix),
        ("SWEEP__HTTP__BIND", &format!("127.0.0.1:{port}")),
        ("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "25"),
        ("SWEEP__BATCH__BATCH_JOBS_PER_SEED", "20"),
    ]);
    let mut api_process = Proc::start(crate::API_BIN, &["serve"], &env);
    let mut worker_env = env.clone();
    worker_env.insert("SWEEP__HTTP__BIND".into(), "127.0.0.1:0".into());
    let mut workers =
        [Proc::start(crate::WORKER_BIN, &[], &worker_env), Proc::start(crate::WORKER_BIN, &[], &worker_env)];
    let api = ApiClient::for_settings(&shared::Settings::load_from(env.clone()).unwrap());
    api.wait_ready(Duration::from_secs(30)).await;

    let (status, batch) = api
        .post(
            "/process-instance/delete",
            &json!({
                "processInstanceQuery": {"processDefinitionKeyIn": ["demo-process-1", "demo-process-2"]},
                "deleteReason": "end-to-end"
            }),
        )
        .await;
    assert_eq!(status, 200);
    let id = batch["id"].as_str().unwrap().to_owned();
    let selected = db.scalar(&format!("SELECT total_items_ FROM sweep_batch WHERE id_ = '{id}'")).await;
    assert!(selected > 3000, "{selected}");

    // Poll progress until the batch is gone from the runtime: counters always add up.
    let mut polls = 0;
    let mut last_deleted = 0;
    loop {
        let Some(s) = api.batch_statistics(&id).await else { break };
        let n = |k: &str| s[k].as_i64().unwrap_or_else(|| panic!("{k} in {s}"));
        assert_eq!(n("totalInstances"), selected);
        assert_eq!(
            n("pendingInstances")
                + n("runningInstances")
                + n("deletedInstances")
                + n("skippedInstances")
                + n("failedInstances"),
            n("totalInstances"),
            "{s}"
        );
        assert_eq!(n("completedJobs") + n("remainingJobs"), n("totalJobs"), "{s}");
        assert!(n("deletedInstances") >= last_deleted, "deleted never goes back");
        assert_eq!(n("failedInstances"), 0);
        last_deleted = n("deletedInstances");
        polls += 1;
        assert!(polls < 1200, "batch did not complete in time: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(polls > 1, "progress was observed while running");

    let (status, _) = api.get(&format!("/batch/{id}")).await;
    assert_eq!(status, 404, "the runtime batch is gone");
    let (status, historic) = api.get(&format!("/history/batch/{id}")).await;
    assert_eq!(status, 200);
    assert!(historic["endTime"].is_string(), "{historic}");
    assert!(historic["executionStartTime"].is_string(), "{historic}");

    // Every selected instance and its called ones are gone, with history saying so...
    assert_eq!(
        db.scalar(
            "SELECT count(*) FROM act_ru_execution WHERE proc_inst_id_ IN (SELECT proc_inst_id_ FROM deleted_tree)"
        )
        .await,
        0
    );
    for (table, column) in tables.iter().filter(|(t, _)| t.starts_with("act_ru_")) {
        assert_eq!(
            db.scalar(&format!(
                "SELECT count(*) FROM {table} WHERE {column} IN (SELECT proc_inst_id_ FROM deleted_tree)"
            ))
            .await,
            0,
            "{table}"
        );
    }
    assert_eq!(
        db.scalar(
            "SELECT count(*) FROM act_hi_procinst WHERE proc_inst_id_ IN (SELECT proc_inst_id_ FROM deleted_tree)
                    AND state_ = 'EXTERNALLY_TERMINATED' AND delete_reason_ = 'end-to-end' AND end_time_ IS NOT NULL"
        )
        .await,
        tree
    );
    assert_eq!(deleted_items(&db, &id).await, selected);
    // ...and every row of every other instance is exactly as before.
    for (table, column) in tables {
        assert_eq!(untouched(&db, table, column).await, before[table], "{table} changed outside the selection");
    }
    for w in &mut workers {
        assert!(w.terminate().await.success());
    }
    api_process.terminate().await;
}

#[tokio::test]
async fn a_suspended_batch_makes_no_progress_and_completes_once_resumed() {
    let db = TestDb::new().await;
    seed_instances(&db, 60).await;
    let settings = db.settings(&[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "5")]);
    let api = TestApi::spawn(settings.clone()).await;
    let worker = DrivenWorker::connect(settings.clone()).await;
    let id = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;
    let (status, _) = api.put(&format!("/batch/{id}/suspended"), &json!({"suspended": true})).await;
    assert_eq!(status, 204);
    // The worker handles everything queued: the seed, dropped because the batch is suspended.
    worker.drain().await;
    let s = api.batch_statistics(&id).await.unwrap();
    assert_eq!(s["suspended"], true);
    assert_eq!(s["deletedInstances"], 0, "{s}");
    assert_eq!(db.scalar("SELECT count(*) FROM act_hi_procinst WHERE state_ = 'EXTERNALLY_TERMINATED'").await, 0);

    let (status, _) = api.put(&format!("/batch/{id}/suspended"), &json!({"suspended": false})).await;
    assert_eq!(status, 204);
    worker.drain().await;
    assert!(batch_completed(&db, &id).await, "the resumed batch completes");
    assert_eq!(deleted_items(&db, &id).await, 31);
}

#[tokio::test]
async fn deleting_a_running_batch_stops_its_remaining_work() {
    let db = TestDb::new().await;
    seed_instances(&db, 1000).await;
    let settings =
        db.settings(&[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "5"), ("SWEEP__BATCH__BATCH_JOBS_PER_SEED", "5")]);
    let api = TestApi::spawn(settings.clone()).await;
    let worker = DrivenWorker::connect(settings.clone()).await;
    let id = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;
    while deleted_items(&db, &id).await == 0 {
        assert!(worker.step().await, "the work ran out before anything was deleted");
    }
    let (status, body) = api.delete(&format!("/batch/{id}")).await;
    assert_eq!(status, 204, "{body}");
    // Nothing is in flight; the messages still queued find the batch gone and change nothing.
    let settled = root_instances(&db, "pd1").await;
    worker.drain().await;
    assert_eq!(root_instances(&db, "pd1").await, settled);
    assert!(settled > 0, "the batch was stopped before it finished");
    let (status, historic) = api.get(&format!("/history/batch/{id}")).await;
    assert_eq!(status, 200);
    assert!(historic["endTime"].is_string());
    assert_eq!(api.get(&format!("/batch/{id}")).await.0, 404);
}

#[tokio::test]
async fn a_job_that_keeps_failing_ends_failed_and_a_retry_through_the_api_completes_the_batch() {
    let db = TestDb::new().await;
    seed_instances(&db, 20).await;
    refuse_to_delete(&db, "pi-4").await;
    let settings = db.settings(&[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "5")]);
    let api = TestApi::spawn(settings.clone()).await;
    let worker = DrivenWorker::connect(settings.clone()).await;
    let (_, batch) =
        api.post("/process-instance/delete", &json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;
    let id = batch["id"].as_str().unwrap().to_owned();
    let job_definition = batch["batchJobDefinitionId"].as_str().unwrap().to_owned();
    // Every attempt of the failing job included: drain waits out the back-off of its retries.
    worker.drain().await;
    let stats = api.batch_statistics(&id).await.unwrap();
    assert!(stats["failedJobs"] == 1 && stats["remainingJobs"] == 1, "{stats}");
    assert_eq!(stats["completedJobs"], 2, "{stats}");
    assert!(stats["failedInstances"].as_i64().unwrap() >= 1, "{stats}");
    let (status, jobs) = api.get(&format!("/job?jobDefinitionId={job_definition}&noRetriesLeft=true")).await;
    assert_eq!(status, 200);
    assert_eq!(jobs.as_array().unwrap().len(), 1, "{jobs}");
    assert_eq!(jobs[0]["retries"], 0);
    assert!(jobs[0]["exceptionMessage"].as_str().unwrap().contains("refusing to delete pi-4"));
    assert!(!batch_completed(&db, &id).await, "a failed job keeps the batch open");

    db.exec("DROP TRIGGER refuse ON act_ru_execution").await;
    let (status, body) = api.put(&format!("/job-definition/{job_definition}/retries"), &json!({"retries": 1})).await;
    assert_eq!(status, 204, "{body}");
    worker.drain().await;
    assert!(batch_completed(&db, &id).await, "the retried job completes the batch");
    assert_eq!(deleted_items(&db, &id).await, 11);
    assert_eq!(root_instances(&db, "pd1").await, 0);
}

//! The batch pipeline end to end, in-process: API, workers, RabbitMQ and PostgreSQL.

use std::time::Duration;

use serde_json::json;
use shared::messages::WorkMessage;
use system_tests::fixtures::{batch_completed, deleted_items, root_instances, seed_instances, wait_completed};
use system_tests::{EventTap, TestApi, TestDb, TestWorker, eventually};

#[tokio::test]
async fn a_deletion_by_query_runs_to_completion_on_two_workers() {
    let db = TestDb::new().await;
    seed_instances(&db, 250).await;
    // The production queue type, quorum, here; most other tests use cheaper classic queues.
    let settings = db.settings(&[
        ("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "10"),
        ("SWEEP__BATCH__BATCH_JOBS_PER_SEED", "7"),
        ("SWEEP__AMQP__QUEUE_TYPE", "quorum"),
    ]);
    let api = TestApi::spawn(settings.clone()).await;
    let w1 = TestWorker::spawn(settings.clone()).await;
    let w2 = TestWorker::spawn(settings.clone()).await;
    let tap = EventTap::bind(&settings).await;

    let trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let (status, batch) = api
        .send(
            api.request(reqwest::Method::POST, "/process-instance/delete")
                .header("traceparent", trace)
                .json(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}, "deleteReason": "tidy up"})),
        )
        .await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch["type"], "instance-deletion");
    assert_eq!(batch["totalJobs"], 13);
    assert_eq!(batch["jobsCreated"], 0);
    assert_eq!(batch["invocationsPerBatchJob"], 10);
    assert_eq!(batch["batchJobsPerSeed"], 7);
    let id = batch["id"].as_str().unwrap().to_owned();

    wait_completed(&db, &id, Duration::from_secs(30)).await;
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch").await, 0, "runtime batch removed");
    assert_eq!(root_instances(&db, "pd1").await, 0);
    assert_eq!(root_instances(&db, "pd2").await, 125);
    assert_eq!(deleted_items(&db, &id).await, 126, "125 roots of p plus the called c-1 (definition pd1) are selected");
    assert_eq!(
        db.scalar(
            "SELECT count(*) FROM act_hi_procinst WHERE state_ = 'EXTERNALLY_TERMINATED' AND delete_reason_ = 'tidy up'"
        )
        .await,
        126
    );
    // Messages are published right after their commit (events may trail the completion).
    eventually(Duration::from_secs(10), || async {
        (db.scalar("SELECT count(*) FROM sweep_outbox").await == 0).then_some(())
    })
    .await;

    // One deletion event per deleted instance and one completion event, all in the caller's trace.
    let events = eventually(Duration::from_secs(10), || async {
        let mut all = Vec::new();
        all.extend(tap.drain().await);
        (all.len() == 127).then_some(all)
    })
    .await;
    let deleted: Vec<_> = events.iter().filter(|e| e.routing_key == "process-instance.deleted").collect();
    assert_eq!(deleted.len(), 126);
    let called = deleted.iter().find(|e| e.body["processInstanceId"] == "c-1").expect("event of the called instance");
    assert_eq!(called.body["batchId"], id.as_str());
    assert_eq!(called.body["deleteReason"], "tidy up");
    let completed: Vec<_> = events.iter().filter(|e| e.routing_key == "batch.completed").collect();
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].body["deleted"], 126);
    assert_eq!(completed[0].body["total"], 126);
    for e in &events {
        let tp = e.traceparent.as_deref().expect("traceparent header");
        assert_eq!(shared::trace::trace_id(tp), "0af7651916cd43dd8448eb211c80319c", "{tp}");
    }
    w1.stop().await.unwrap();
    w2.stop().await.unwrap();
}

/// A job's bookkeeping statement (`batch_job::complete`): its items' outcomes, the items of
/// called instances selected in other jobs, its counters recounted from the ledger and its log
/// entry, driven job by job in the order that makes each part do something.
#[tokio::test]
async fn a_job_records_outcomes_items_deleted_with_their_caller_counters_and_its_log_entry() {
    let db = TestDb::new().await;
    seed_instances(&db, 4).await; // pi-1 calls c-1
    let settings = db.settings(&[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "1")]);
    let api = TestApi::spawn(settings.clone()).await;
    let id =
        api.start_deletion(&json!({"processInstanceIds": ["pi-1", "c-1", "pi-3"], "failIfNotExists": false})).await;
    let ctx = worker::Ctx::connect(settings.clone()).await.unwrap();
    worker::dispatch(&ctx, &WorkMessage::SeedV1 { batch_id: id.clone(), jobs_created: 0 }).await.unwrap();
    let seq_of = |instance: &str| {
        format!("SELECT seq_ FROM sweep_batch_item WHERE batch_id_ = '{id}' AND proc_inst_id_ = '{instance}'")
    };
    let (caller, called, gone) = (
        db.scalar(&seq_of("pi-1")).await as i32,
        db.scalar(&seq_of("c-1")).await as i32,
        db.scalar(&seq_of("pi-3")).await as i32,
    );
    let item = |instance: &str| {
        format!(
            "SELECT state_ || ':' || coalesce(reason_, '-') FROM sweep_batch_item WHERE batch_id_ = '{id}' AND proc_inst_id_ = '{instance}'"
        )
    };
    let job = |seq: i32| {
        format!(
            "SELECT state_ || ' ' || deleted_ || '/' || skipped_ || '/' || failed_ || ' ' || (end_time_ IS NOT NULL)
                    || ' ' || (SELECT count(*) FROM sweep_hi_job_log l WHERE l.job_id_ = j.id_ AND l.job_state_ = 2)
               FROM sweep_batch_job j WHERE batch_id_ = '{id}' AND seq_ = {seq}"
        )
    };
    let run = |seq: i32| WorkMessage::DeleteProcessInstancesV1 { batch_id: id.clone(), job_seq: seq };
    // The engine ends pi-3 before its job runs.
    db.exec("DELETE FROM act_ru_variable WHERE proc_inst_id_ = 'pi-3'; DELETE FROM act_ru_execution WHERE proc_inst_id_ = 'pi-3'")
        .await;

    worker::dispatch(&ctx, &run(caller)).await.unwrap();
    assert_eq!(db.strings(&item("pi-1")).await, ["deleted:-"]);
    assert_eq!(
        db.strings(&item("c-1")).await,
        ["deleted:deleted with its calling instance"],
        "deleted along, in another job"
    );
    assert_eq!(db.strings(&item("pi-3")).await, ["pending:-"], "another job's own item is left alone");
    assert_eq!(db.strings(&job(caller)).await, ["done 1/0/0 true 1"]);
    assert_eq!(db.strings(&job(called)).await, ["pending 0/0/0 false 0"]);

    // The called instance's job finds nothing left, and counts its item as deleted.
    worker::dispatch(&ctx, &run(called)).await.unwrap();
    assert_eq!(db.strings(&job(called)).await, ["done 1/0/0 true 1"]);
    worker::dispatch(&ctx, &run(gone)).await.unwrap();
    assert_eq!(db.strings(&item("pi-3")).await, ["skipped:-"]);
    assert_eq!(db.strings(&job(gone)).await, ["done 0/1/0 true 1"]);
    // A redelivered job changes nothing.
    worker::dispatch(&ctx, &run(caller)).await.unwrap();
    assert_eq!(db.strings(&job(caller)).await, ["done 1/0/0 true 1"]);
    worker::dispatch(&ctx, &WorkMessage::MonitorV1 { batch_id: id.clone() }).await.unwrap();
    assert!(batch_completed(&db, &id).await);
    assert_eq!(db.scalar(&format!("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = '{id}'")).await, 3);
}

#[tokio::test]
async fn the_first_job_starts_without_waiting_for_a_seed_run_that_holds_the_batch() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    let db = TestDb::new().await;
    seed_instances(&db, 20).await;
    let settings = db.settings(&[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "2")]);
    let api = TestApi::spawn(settings.clone()).await;
    let worker = system_tests::DrivenWorker::connect(settings).await;
    let id = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;
    assert!(worker.step_route(shared::messages::ROUTE_SEED).await, "the seed creates the jobs");
    let starts = |table: &'static str| {
        let db = &db;
        let id = id.clone();
        async move {
            db.strings(&format!("SELECT coalesce(exec_start_time_::text, 'none') FROM {table} WHERE id_ = '{id}'"))
                .await
                .remove(0)
        }
    };

    // As a seed run building a chunk does: the batch row locked for the length of a transaction.
    let seed_run = db.db.begin().await.unwrap();
    seed_run
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT 1 FROM sweep_batch WHERE id_ = '{id}' FOR UPDATE"),
        ))
        .await
        .unwrap();
    let job = tokio::time::timeout(Duration::from_secs(20), worker.step_route(shared::messages::ROUTE_JOB));
    assert!(job.await.expect("the first job waited for the batch row"), "a job message");
    let first = starts("sweep_hi_batch").await;
    assert_ne!(first, "none", "the first job's start is in the historic batch");
    assert_eq!(starts("sweep_batch").await, "none", "the locked runtime row was left alone");
    seed_run.rollback().await.unwrap();

    // The next job copies the same moment into the runtime row; later ones change nothing.
    assert!(worker.step_route(shared::messages::ROUTE_JOB).await);
    assert_eq!(starts("sweep_batch").await, first);
    let (_, batch) = api.get(&format!("/batch/{id}")).await;
    assert!(batch["executionStartTime"].is_string(), "{batch}");
    worker.drain().await;
    wait_completed(&db, &id, Duration::from_secs(10)).await;
    assert_eq!(starts("sweep_hi_batch").await, first);
}

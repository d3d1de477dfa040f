//! The invariants of the pipeline under redelivery, crashes and bad input: each test would fail
//! if the invariant broke.

use std::time::Duration;

use serde_json::json;
use shared::messages::WorkMessage;
use system_tests::fixtures::{
    batch_completed, deleted_items, refuse_to_delete, root_instances, seed_instances, wait_completed,
};
use system_tests::{DrivenWorker, EventTap, Proc, TestApi, TestDb, TestWorker, eventually, prefix};

/// Every counter that a second effect would change.
async fn effects(db: &TestDb) -> Vec<i64> {
    let mut v = Vec::new();
    for sql in [
        "SELECT count(*) FROM act_ru_execution",
        "SELECT count(*) FROM act_hi_procinst WHERE state_ = 'EXTERNALLY_TERMINATED'",
        "SELECT count(*) FROM sweep_batch_item WHERE state_ = 'deleted'",
        "SELECT count(*) FROM sweep_batch_item WHERE state_ <> 'deleted'",
        "SELECT count(*) FROM sweep_batch_job",
        "SELECT coalesce(sum(deleted_), 0) FROM sweep_batch_job",
        "SELECT coalesce(sum(attempts_), 0) FROM sweep_batch_job WHERE state_ = 'done'",
        "SELECT coalesce(max(jobs_created_), 0) FROM sweep_batch",
        "SELECT count(*) FROM sweep_hi_batch WHERE end_time_ IS NOT NULL",
    ] {
        v.push(db.scalar(sql).await);
    }
    v
}

#[tokio::test]
async fn handlers_are_idempotent_under_redelivery() {
    let db = TestDb::new().await;
    seed_instances(&db, 40).await;
    let settings =
        db.settings(&[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "10"), ("SWEEP__BATCH__BATCH_JOBS_PER_SEED", "2")]);
    let api = TestApi::spawn(settings.clone()).await;
    let id = api
        .start_deletion(&json!({
            "processInstanceIds": ["pi-1", "pi-2", "pi-3"],
            "processInstanceQuery": {"processDefinitionKey": "other"}
        }))
        .await;
    // Drive the worker's handlers directly, each message twice (no consumer is running).
    let ctx = worker::Ctx::connect(settings.clone()).await.unwrap();
    let seed = |jobs_created| WorkMessage::SeedV1 { batch_id: id.clone(), jobs_created };
    let job = |job_seq| WorkMessage::DeleteProcessInstancesV1 { batch_id: id.clone(), job_seq };
    let monitor = WorkMessage::MonitorV1 { batch_id: id.clone() };

    for message in [seed(0), seed(0)] {
        worker::dispatch(&ctx, &message).await.unwrap();
    }
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch_job").await, 2, "a repeated seed creates nothing");
    let before = effects(&db).await;
    worker::dispatch(&ctx, &job(1)).await.unwrap();
    let once = effects(&db).await;
    assert_ne!(before, once, "the job did something");
    worker::dispatch(&ctx, &job(1)).await.unwrap();
    assert_eq!(effects(&db).await, once, "a repeated job changes nothing");
    worker::dispatch(&ctx, &monitor).await.unwrap();
    assert!(!batch_completed(&db, &id).await, "the monitor waits for the remaining jobs");

    for message in [seed(2), seed(2), job(2), job(3), job(4), job(2), job(3), job(4), seed(2), monitor.clone()] {
        worker::dispatch(&ctx, &message).await.unwrap();
    }
    assert!(batch_completed(&db, &id).await);
    let done = effects(&db).await;
    for message in [seed(0), seed(2), job(1), job(4), monitor.clone(), monitor] {
        worker::dispatch(&ctx, &message).await.unwrap();
    }
    assert_eq!(effects(&db).await, done, "messages of a completed batch change nothing");
    // pi-2 and the 20 odd instances of `other`; pi-1's called c-1 went with it.
    assert_eq!(deleted_items(&db, &id).await, 21);
    assert_eq!(db.scalar("SELECT count(*) FROM act_hi_procinst WHERE state_ = 'EXTERNALLY_TERMINATED'").await, 22);
}

#[tokio::test]
async fn duplicates_published_through_the_broker_change_nothing() {
    let db = TestDb::new().await;
    seed_instances(&db, 30).await;
    let settings = db.settings(&[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "5")]);
    let api = TestApi::spawn(settings.clone()).await;
    let worker = DrivenWorker::connect(settings.clone()).await;
    let tap = EventTap::bind(&settings).await;
    let id = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;
    worker.drain().await;
    assert!(batch_completed(&db, &id).await);
    let done = effects(&db).await;
    // What the handlers published is in the tap's queue once drain returns.
    let events = tap.drain().await;
    assert!(!events.is_empty(), "the batch announced its deletions and completion");

    // Publish every seed, job and monitor message of the batch again, by hand.
    let mut messages = vec![WorkMessage::SeedV1 { batch_id: id.clone(), jobs_created: 0 }];
    messages.extend((1..=4).map(|job_seq| WorkMessage::DeleteProcessInstancesV1 { batch_id: id.clone(), job_seq }));
    messages.push(WorkMessage::MonitorV1 { batch_id: id.clone() });
    let stored: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| shared::db::outbox::StoredMessage { id: i as i64, message: worker.ctx.outbox.work(m) })
        .collect();
    worker.ctx.publisher.publish(&stored).await.unwrap();
    assert_eq!(worker.drain().await, messages.len(), "every duplicate was delivered and handled");
    assert_eq!(effects(&db).await, done);
    let more = tap.drain().await;
    assert!(more.is_empty(), "no second deletion or completion event: {more:?}");
    assert_eq!(events.iter().filter(|e| e.routing_key == "batch.completed").count(), 1);
}

#[tokio::test]
async fn a_crash_between_commit_and_publish_is_repaired_by_the_outbox() {
    let db = TestDb::new().await;
    seed_instances(&db, 20).await;
    let prefix = prefix();
    let crashing =
        db.settings(&[("SWEEP__AMQP__PREFIX", &prefix), ("SWEEP__FAULTS__SKIP_PUBLISH_AFTER_COMMIT", "true")]);
    let api = TestApi::spawn(crashing.clone()).await;
    let worker = TestWorker::spawn(db.settings(&[("SWEEP__AMQP__PREFIX", &prefix)])).await;
    let id = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_outbox").await, 1, "the seed waits in the outbox");
    wait_completed(&db, &id, Duration::from_secs(20)).await;
    assert_eq!(deleted_items(&db, &id).await, 11);
    eventually(Duration::from_secs(10), || async {
        (db.scalar("SELECT count(*) FROM sweep_outbox").await == 0).then_some(())
    })
    .await;
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn poison_messages_are_dead_lettered_and_work_goes_on() {
    use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
    let db = TestDb::new().await;
    seed_instances(&db, 10).await;
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let worker = TestWorker::spawn(settings.clone()).await;
    let conn = lapin::Connection::connect(&settings.amqp.url, lapin::ConnectionProperties::default()).await.unwrap();
    let channel = conn.create_channel().await.unwrap();
    for body in [&b"not json"[..], br#"{"type":"unknown_v9"}"#, br#"{"type":"delete_process_instances_v1"}"#] {
        channel
            .basic_publish(
                format!("{}.work", settings.amqp.prefix).into(),
                "job".into(),
                BasicPublishOptions::default(),
                body,
                lapin::BasicProperties::default(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let dead = format!("{}.dead", settings.amqp.prefix);
    eventually(Duration::from_secs(10), || async {
        let q = channel
            .queue_declare(
                dead.clone().into(),
                QueueDeclareOptions { passive: true, ..Default::default() },
                Default::default(),
            )
            .await
            .unwrap();
        (q.message_count() == 3).then_some(())
    })
    .await;
    let id = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;
    wait_completed(&db, &id, Duration::from_secs(20)).await;
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn a_failing_job_is_retried_with_back_off_then_failed_and_the_batch_stays_open() {
    let db = TestDb::new().await;
    seed_instances(&db, 20).await;
    refuse_to_delete(&db, "pi-4").await;
    let settings = db.settings(&[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "5")]);
    let api = TestApi::spawn(settings.clone()).await;
    let worker = DrivenWorker::connect(settings.clone()).await;
    let id = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;
    // Every attempt of the failing job included: drain waits out the back-off of its retries.
    worker.drain().await;
    let failed = db
        .strings(&format!(
            "SELECT seq_ || '/' || retries_ || '/' || attempts_ || '/' || exception_msg_ FROM sweep_batch_job
              WHERE batch_id_ = '{id}' AND state_ = 'failed'"
        ))
        .await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    let job = &failed[0];
    let parts: Vec<&str> = job.splitn(4, '/').collect();
    assert_eq!(parts[1], "0", "no retries left");
    assert_eq!(parts[2], "3", "three attempts, as Camunda's three retries");
    assert!(parts[3].contains("refusing to delete pi-4"), "{job}");
    // The other jobs finished; the failed one's items are failed, with the reason; nothing of it was deleted.
    assert_eq!(
        db.scalar(&format!("SELECT count(*) FROM sweep_batch_job WHERE batch_id_ = '{id}' AND state_ = 'done'")).await,
        2
    );
    let failed_items = db.scalar(&format!("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = '{id}' AND state_ = 'failed' AND reason_ LIKE '%pi-4%'")).await;
    assert!(failed_items >= 1);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_execution WHERE id_ = 'pi-4'").await, 1);
    assert!(!batch_completed(&db, &id).await, "a failed job keeps the batch open");
    assert_eq!(db.scalar(&format!("SELECT count(*) FROM sweep_batch WHERE id_ = '{id}'")).await, 1);
}

#[tokio::test]
async fn a_worker_killed_mid_batch_loses_nothing_and_a_new_one_completes_the_batch() {
    let db = TestDb::new().await;
    seed_instances(&db, 3000).await;
    let prefix = prefix();
    let env = db.env(&[
        ("SWEEP__AMQP__PREFIX", &prefix),
        ("SWEEP__AMQP__QUEUE_TYPE", "quorum"),
        ("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "20"),
        ("SWEEP__BATCH__BATCH_JOBS_PER_SEED", "10"),
    ]);
    let api = TestApi::spawn(shared::Settings::load_from(env.clone()).unwrap()).await;
    let mut first = Proc::start(crate::WORKER_BIN, &[], &env);
    let id = api
        .start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}, "deleteReason": "kill test"}))
        .await;
    let selected = db.scalar(&format!("SELECT total_items_ FROM sweep_batch WHERE id_ = '{id}'")).await;
    assert_eq!(selected, 1501);
    eventually(Duration::from_secs(30), || async { (deleted_items(&db, &id).await >= 100).then_some(()) }).await;
    first.kill9().await;
    let deleted_at_kill = deleted_items(&db, &id).await;
    assert!(deleted_at_kill < selected, "killed mid-batch ({deleted_at_kill} of {selected})");
    let mut second = Proc::start(crate::WORKER_BIN, &[], &env);
    wait_completed(&db, &id, Duration::from_secs(60)).await;

    // Exactly once: the ledger, the history and the runtime tables agree with the selection.
    assert_eq!(deleted_items(&db, &id).await, selected);
    assert_eq!(db.scalar(&format!("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = '{id}'")).await, selected);
    assert_eq!(db.scalar("SELECT count(*) FROM act_hi_procinst WHERE state_ = 'EXTERNALLY_TERMINATED' AND delete_reason_ = 'kill test'").await, selected);
    assert_eq!(root_instances(&db, "pd1").await, 0);
    assert_eq!(root_instances(&db, "pd2").await, 1500);
    // Rows the killed worker committed but never published go out through the relay.
    eventually(Duration::from_secs(20), || async {
        (db.scalar("SELECT count(*) FROM sweep_outbox").await == 0).then_some(())
    })
    .await;
    assert!(second.terminate().await.success(), "SIGTERM ends a worker cleanly");
}

#[tokio::test]
async fn sigterm_finishes_in_flight_jobs_before_the_worker_exits() {
    let db = TestDb::new().await;
    seed_instances(&db, 2000).await;
    let prefix = prefix();
    let env = db.env(&[("SWEEP__AMQP__PREFIX", &prefix), ("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "50")]);
    let api = TestApi::spawn(shared::Settings::load_from(env.clone()).unwrap()).await;
    let mut worker = Proc::start(crate::WORKER_BIN, &[], &env);
    let id = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}})).await;
    eventually(Duration::from_secs(30), || async { (deleted_items(&db, &id).await > 0).then_some(()) }).await;
    assert!(worker.terminate().await.success());
    assert_eq!(
        db.scalar(&format!("SELECT count(*) FROM sweep_batch_job WHERE batch_id_ = '{id}' AND state_ = 'running'"))
            .await,
        0,
        "no job left half-done"
    );
    let mut next = Proc::start(crate::WORKER_BIN, &[], &env);
    wait_completed(&db, &id, Duration::from_secs(60)).await;
    assert!(next.terminate().await.success());
}

/// Monitor messages among the rows a handler committed.
fn monitors(disposition: worker::Disposition) -> usize {
    match disposition {
        worker::Disposition::Ack(stored) => {
            stored.iter().filter(|s| s.message.routing_key == shared::messages::ROUTE_MONITOR).count()
        }
        other => panic!("expected an ack, got {other:?}"),
    }
}

#[tokio::test]
async fn only_a_job_finding_no_open_job_sends_the_monitor_and_a_crash_before_it_asks_is_repaired() {
    let db = TestDb::new().await;
    seed_instances(&db, 40).await;
    let settings = db.settings(&[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "5")]);
    let api = TestApi::spawn(settings.clone()).await;
    // The 20 instances of `other`: four jobs.
    let id = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "other"}})).await;
    let ctx = worker::Ctx::connect(settings.clone()).await.unwrap();
    let job = |job_seq| WorkMessage::DeleteProcessInstancesV1 { batch_id: id.clone(), job_seq };
    worker::dispatch(&ctx, &WorkMessage::SeedV1 { batch_id: id.clone(), jobs_created: 0 }).await.unwrap();
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch_job").await, 4);
    for seq in 1..=3 {
        assert_eq!(monitors(worker::dispatch(&ctx, &job(seq)).await.unwrap()), 0, "job {seq} is not the last");
    }
    assert_eq!(monitors(worker::dispatch(&ctx, &job(4)).await.unwrap()), 1, "the last job sends the monitor");

    // A worker that died after the last job's commit, before it asked: no monitor message
    // exists anywhere, and the job's message, never acked, comes back.
    db.exec("DELETE FROM sweep_outbox WHERE routing_key_ = 'monitor'").await;
    assert!(!batch_completed(&db, &id).await);
    assert_eq!(monitors(worker::dispatch(&ctx, &job(4)).await.unwrap()), 1, "the redelivered job asks again");
    worker::dispatch(&ctx, &WorkMessage::MonitorV1 { batch_id: id.clone() }).await.unwrap();
    assert!(batch_completed(&db, &id).await);
    assert_eq!(deleted_items(&db, &id).await, 20);
}

#[tokio::test]
async fn a_worker_runs_prefetch_jobs_at_once_and_holds_lookahead_more_ready() {
    let db = TestDb::new().await;
    seed_instances(&db, 40).await;
    let settings = db.settings(&[
        ("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "5"),
        ("SWEEP__AMQP__PREFETCH", "1"),
        ("SWEEP__AMQP__LOOKAHEAD", "1"),
    ]);
    let api = TestApi::spawn(settings.clone()).await;
    let mq = system_tests::TestMq::declare(&settings).await;
    // Hold the selection's rows, so that a job that starts deleting waits for them.
    let blocker = sea_orm::TransactionTrait::begin(&db.db).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        &blocker,
        "SELECT id_ FROM act_ru_execution WHERE proc_def_id_ = 'pd2' FOR UPDATE",
    )
    .await
    .unwrap();
    let id = api.start_deletion(&json!({"processInstanceQuery": {"processDefinitionKey": "other"}})).await;
    let worker = TestWorker::spawn(settings.clone()).await;

    // Four jobs: one deleting (waiting for the rows), one more delivered and ready, two queued.
    let queue = mq.topology.queue(shared::messages::ROUTE_JOB);
    let ready = || async {
        let passive = lapin::options::QueueDeclareOptions { passive: true, ..Default::default() };
        mq.channel.queue_declare(queue.as_str().into(), passive, Default::default()).await.unwrap().message_count()
    };
    let state = || async {
        (
            ready().await,
            db.scalar("SELECT count(*) FROM sweep_batch_job WHERE state_ = 'running'").await,
            db.scalar("SELECT count(*) FROM sweep_batch_job WHERE state_ = 'done'").await,
            db.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .await,
        )
    };
    eventually(Duration::from_secs(20), || async { (state().await == (2, 1, 0, 1)).then_some(()) }).await;
    // And it stays so: the delivery held ready does not start while the permit is taken.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(state().await, (2, 1, 0, 1), "(ready in the queue, running, done, waiting for a lock)");
    }
    blocker.rollback().await.unwrap();
    wait_completed(&db, &id, Duration::from_secs(30)).await;
    assert_eq!(deleted_items(&db, &id).await, 20);
    drop(worker);
}

//! The batch pipeline end to end, in-process: API, workers, RabbitMQ and PostgreSQL.

use std::time::Duration;

use serde_json::json;
use system_tests::{EventTap, TestApi, TestDb, TestWorker, eventually};

/// `n` root instances `pi-1..pi-n` of definition `p`, each with a child execution, a variable
/// and history; `c-1` is a called sub-instance of `pi-1`.
pub async fn seed_instances(db: &TestDb, n: usize) {
    db.exec(&format!(
        "insert into act_re_procdef(id_,key_,version_) values ('pd1','p',1),('pd2','other',1);
         insert into act_ru_execution(id_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,business_key_)
           select 'pi-'||g, 'pi-'||g, 'pi-'||g, case when g % 2 = 0 then 'pd1' else 'pd2' end, 'bk-'||g from generate_series(1,{n}) g;
         insert into act_ru_execution(id_,proc_inst_id_,parent_id_,proc_def_id_)
           select 'pi-'||g||'-x', 'pi-'||g, 'pi-'||g, 'pd1' from generate_series(1,{n}) g;
         insert into act_ru_variable(id_,type_,name_,execution_id_,proc_inst_id_,var_scope_,text_)
           select 'v-'||g, 'string', 'x', 'pi-'||g, 'pi-'||g, 'pi-'||g, 'val' from generate_series(1,{n}) g;
         insert into act_hi_procinst(id_,proc_inst_id_,proc_def_id_,start_time_,state_)
           select 'pi-'||g, 'pi-'||g, 'pd1', now() - interval '1 day', 'ACTIVE' from generate_series(1,{n}) g;
         insert into act_ru_execution(id_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,super_exec_)
           values ('c-1','c-1','pi-1','pd1','pi-1-x');
         insert into act_hi_procinst(id_,proc_inst_id_,proc_def_id_,start_time_,state_)
           values ('c-1','c-1','pd1', now(), 'ACTIVE');"
    ))
    .await;
}

/// A real database failure for one instance's chunk: deleting execution `id` raises (until
/// `DROP TRIGGER refuse ON act_ru_execution`).
pub async fn refuse_to_delete(db: &TestDb, id: &str) {
    db.exec(&format!(
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refusing to delete %', OLD.id_; END $$ LANGUAGE plpgsql;
         CREATE TRIGGER refuse BEFORE DELETE ON act_ru_execution FOR EACH ROW WHEN (OLD.id_ = '{id}') EXECUTE FUNCTION refuse();"
    ))
    .await;
}

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
    let resp = api
        .client
        .post(format!("{}/process-instance/delete", api.base))
        .header("traceparent", trace)
        .json(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}, "deleteReason": "tidy up"}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let batch: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch["type"], "instance-deletion");
    assert_eq!(batch["totalJobs"], 13);
    assert_eq!(batch["jobsCreated"], 0);
    assert_eq!(batch["invocationsPerBatchJob"], 10);
    assert_eq!(batch["batchJobsPerSeed"], 7);
    let id = batch["id"].as_str().unwrap().to_owned();

    eventually(Duration::from_secs(30), || async {
        (db.scalar(&format!("SELECT count(*) FROM sweep_hi_batch WHERE id_ = '{id}' AND end_time_ IS NOT NULL")).await
            == 1)
            .then_some(())
    })
    .await;
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch").await, 0, "runtime batch removed");
    assert_eq!(
        db.scalar("SELECT count(*) FROM act_ru_execution WHERE proc_def_id_ = 'pd1' AND parent_id_ IS NULL").await,
        0
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM act_ru_execution WHERE proc_def_id_ = 'pd2' AND parent_id_ IS NULL").await,
        125
    );
    assert_eq!(
        db.scalar(&format!("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = '{id}' AND state_ = 'deleted'"))
            .await,
        126,
        "125 roots of p plus the called c-1 (definition pd1) are selected"
    );
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

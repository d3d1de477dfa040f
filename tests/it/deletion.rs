//! The set-based deletion core against real PostgreSQL: what is removed, what is kept, what
//! history says, and how concurrent overlapping chunks behave.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use shared::deletion::{
    ChunkResult, DeleteOptions, History, HistoryTables, Outcome, RemovalTimeStrategy, delete_chunk,
};
use system_tests::{TestDb, eventually};

/// A caller `A` (with a child execution `A1` calling sub-instance `B`) and an unrelated `C`.
const FIXTURE: &str = r#"
insert into act_re_procdef(id_,key_,version_) values ('pd1','p',1),('pd2','sub',1);
insert into act_ru_execution(id_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,business_key_,tenant_id_)
  values ('A','A','A','pd1','bk-a','t1');
insert into act_ru_execution(id_,proc_inst_id_,parent_id_,proc_def_id_) values ('A1','A','A','pd1');
insert into act_ru_execution(id_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,super_exec_,suspension_state_)
  values ('B','B','A','pd2','A1',2);
insert into act_ru_execution(id_,proc_inst_id_,parent_id_,proc_def_id_) values ('B1','B','B','pd2');
insert into act_ru_execution(id_,proc_inst_id_,root_proc_inst_id_,proc_def_id_) values ('C','C','C','pd1');
insert into act_ru_execution(id_,proc_inst_id_,parent_id_,proc_def_id_) values ('C1','C','C','pd1');
insert into act_ge_bytearray(id_) values ('ba1'),('ba2'),('ba3');
insert into act_ru_variable(id_,type_,name_,execution_id_,proc_inst_id_,bytearray_id_,var_scope_) values
  ('v1','bytes','x','A','A','ba1','A'),('v2','string','y','B1','B',null,'B1'),('v3','bytes','y','C','C','ba3','C');
insert into act_ru_task(id_,execution_id_,proc_inst_id_) values ('tA','A1','A'),('tB','B1','B'),('tC','C1','C');
insert into act_ru_identitylink(id_,task_id_,type_) values ('ilA','tA','candidate'),('ilC','tC','candidate');
insert into act_ru_job(id_,type_,execution_id_,process_instance_id_,exception_stack_id_) values
  ('jB','timer','B1','B','ba2'),('jC','timer','C1','C',null);
insert into act_ru_incident(id_,rev_,incident_timestamp_,incident_type_,execution_id_,proc_inst_id_)
  values ('iB',1,now(),'failedJob','B1','B');
insert into act_ru_incident(id_,rev_,incident_timestamp_,incident_type_,execution_id_,proc_inst_id_,cause_incident_id_,root_cause_incident_id_)
  values ('iA',1,now(),'failedJob','A1','A','iB','iB');
insert into act_ru_event_subscr(id_,event_type_,execution_id_,proc_inst_id_,created_) values
  ('eA','message','A1','A',now()),('eC','message','C1','C',now());
insert into act_ru_ext_task(id_,rev_,execution_id_,proc_inst_id_) values ('xB',1,'B1','B'),('xC',1,'C1','C');
insert into act_ru_authorization(id_,rev_,type_,resource_type_,resource_id_,user_id_) values
  ('auA',1,1,8,'A','u'),('auC',1,1,8,'C','u');
insert into act_hi_procinst(id_,proc_inst_id_,proc_def_id_,start_time_,state_,super_process_instance_id_) values
  ('A','A','pd1',now()-interval '1 hour','ACTIVE',null),('B','B','pd2',now()-interval '1 hour','SUSPENDED','A'),
  ('C','C','pd1',now(),'ACTIVE',null);
insert into act_hi_actinst(id_,proc_def_id_,proc_inst_id_,execution_id_,act_id_,act_type_,start_time_,end_time_) values
  ('haA0','pd1','A','A','start','startEvent',now()-interval '1 hour',now()-interval '1 hour'),
  ('haA1','pd1','A','A1','call','callActivity',now()-interval '1 hour',null),
  ('haB1','pd2','B','B1','task','userTask',now()-interval '1 hour',null),
  ('haC1','pd1','C','C1','task','userTask',now(),null);
insert into act_hi_taskinst(id_,proc_inst_id_,start_time_,task_state_) values
  ('tA','A',now()-interval '1 hour','Created'),('tB','B',now()-interval '1 hour','Created'),('tC','C',now(),'Created');
insert into act_hi_incident(id_,proc_inst_id_,create_time_,incident_type_,incident_state_) values
  ('iA','A',now(),'failedJob',0),('iB','B',now(),'failedJob',0);
"#;

/// Runtime tables and the column tying a row to its instance (via executions where needed).
const RUNTIME_ROWS_OF: &[(&str, &str)] = &[
    ("act_ru_execution", "proc_inst_id_"),
    ("act_ru_variable", "proc_inst_id_"),
    ("act_ru_task", "proc_inst_id_"),
    ("act_ru_job", "process_instance_id_"),
    ("act_ru_incident", "proc_inst_id_"),
    ("act_ru_event_subscr", "proc_inst_id_"),
    ("act_ru_ext_task", "proc_inst_id_"),
];

/// Camunda's defaults on the standalone schema.
fn history() -> History {
    History::new(RemovalTimeStrategy::End, HistoryTables::ALL, "test-host")
}

async fn fixture() -> TestDb {
    let db = TestDb::new().await;
    db.exec(FIXTURE).await;
    db
}

async fn run(db: &TestDb, ids: &[&str], options: DeleteOptions) -> ChunkResult {
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    let txn = db.db.begin().await.unwrap();
    let result = delete_chunk(&txn, &ids, &options, shared::camunda::now_naive(), None, &history()).await.unwrap();
    txn.commit().await.unwrap();
    result
}

async fn rows_of(db: &TestDb, instance: &str) -> i64 {
    let mut n = 0;
    for (table, col) in RUNTIME_ROWS_OF {
        n += db.scalar(&format!("SELECT count(*) FROM {table} WHERE {col} = '{instance}'")).await;
    }
    n
}

#[tokio::test]
async fn deleting_a_caller_removes_it_and_its_called_instance_and_nothing_else() {
    let db = fixture().await;
    let c_before =
        db.strings("SELECT string_agg(id_, ',' ORDER BY id_) FROM act_ru_execution WHERE proc_inst_id_ = 'C'").await;
    let result = run(&db, &["A"], DeleteOptions { delete_reason: Some("cleanup".into()), ..Default::default() }).await;

    assert_eq!(result.outcomes, vec![("A".to_string(), Outcome::Deleted)]);
    assert_eq!(result.instances_deleted, 2);
    assert_eq!(rows_of(&db, "A").await, 0);
    assert_eq!(rows_of(&db, "B").await, 0);
    for gone in ["ba1", "ba2"] {
        assert_eq!(db.scalar(&format!("SELECT count(*) FROM act_ge_bytearray WHERE id_ = '{gone}'")).await, 0);
    }
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_identitylink WHERE task_id_ = 'tA'").await, 0);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_authorization WHERE resource_id_ = 'A'").await, 0);

    // C is untouched.
    assert_eq!(rows_of(&db, "C").await, 7);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ge_bytearray WHERE id_ = 'ba3'").await, 1);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_identitylink WHERE task_id_ = 'tC'").await, 1);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_authorization WHERE resource_id_ = 'C'").await, 1);
    assert_eq!(
        db.strings("SELECT string_agg(id_, ',' ORDER BY id_) FROM act_ru_execution WHERE proc_inst_id_ = 'C'").await,
        c_before
    );

    // History of A and B ended as Camunda ends it; C's history untouched.
    assert_eq!(
        db.strings("SELECT state_ || '/' || delete_reason_ FROM act_hi_procinst WHERE id_ IN ('A','B') ORDER BY id_")
            .await,
        vec!["EXTERNALLY_TERMINATED/cleanup", "EXTERNALLY_TERMINATED/cleanup"]
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM act_hi_procinst WHERE id_ IN ('A','B') AND end_time_ IS NOT NULL AND duration_ >= 3599000").await,
        2
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM act_hi_actinst WHERE proc_inst_id_ IN ('A','B') AND end_time_ IS NULL").await,
        0
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM act_hi_actinst WHERE id_ IN ('haA1','haB1') AND act_inst_state_ = 2").await,
        2
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM act_hi_actinst WHERE id_ = 'haA0' AND act_inst_state_ IS NULL").await,
        1,
        "finished activity untouched"
    );
    assert_eq!(
        db.strings(
            "SELECT task_state_ || '/' || delete_reason_ FROM act_hi_taskinst WHERE id_ IN ('tA','tB') ORDER BY id_"
        )
        .await,
        vec!["Deleted/cleanup", "Deleted/cleanup"]
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM act_hi_incident WHERE incident_state_ = 2 AND end_time_ IS NOT NULL").await,
        2
    );
    assert_eq!(
        db.strings(
            "SELECT coalesce(state_, '') || '/' || (end_time_ IS NULL)::text FROM act_hi_procinst WHERE id_ = 'C'"
        )
        .await,
        vec!["ACTIVE/true"]
    );
    assert_eq!(db.scalar("SELECT count(*) FROM act_hi_taskinst WHERE id_ = 'tC' AND end_time_ IS NULL").await, 1);

    // Events describe both instances, the called one marked as taken along.
    let mut events: Vec<_> = result.events.iter().map(|e| (e.id.as_str(), e.deleted_with.as_deref())).collect();
    events.sort();
    assert_eq!(events, vec![("A", None), ("B", Some("A"))]);
    assert_eq!(result.events[0].business_key.as_deref(), Some("bk-a"));
    assert_eq!(result.events[0].process_definition_key.as_deref(), Some("p"));
    assert_eq!(result.events[0].tenant_id.as_deref(), Some("t1"));
}

#[tokio::test]
async fn skip_subprocesses_leaves_the_called_instance_running_and_detached() {
    let db = fixture().await;
    let result = run(&db, &["A"], DeleteOptions { skip_subprocesses: true, ..Default::default() }).await;
    assert_eq!(result.instances_deleted, 1);
    assert_eq!(rows_of(&db, "A").await, 0);
    assert_eq!(rows_of(&db, "B").await, 7, "B keeps every runtime row");
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_execution WHERE id_ = 'B' AND super_exec_ IS NULL").await, 1);
    assert_eq!(
        db.strings("SELECT state_ || '/' || coalesce(super_process_instance_id_, 'none') || '/' || (end_time_ IS NULL)::text FROM act_hi_procinst WHERE id_ = 'B'").await,
        vec!["SUSPENDED/none/true"]
    );
    // A's incident was caused by B's; it goes, B's stays.
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_incident WHERE id_ = 'iB'").await, 1);
    // Without a reason, the instance has none and its tasks say `deleted`.
    assert_eq!(
        db.strings("SELECT coalesce(delete_reason_, 'null') FROM act_hi_procinst WHERE id_ = 'A'").await,
        vec!["null"]
    );
    assert_eq!(db.strings("SELECT delete_reason_ FROM act_hi_taskinst WHERE id_ = 'tA'").await, vec!["deleted"]);
}

#[tokio::test]
async fn deleting_a_called_instance_directly_takes_its_caller_s_dependent_incident() {
    let db = fixture().await;
    let result = run(&db, &["B"], DeleteOptions::default()).await;
    assert_eq!(result.outcomes, vec![("B".to_string(), Outcome::Deleted)]);
    assert_eq!(rows_of(&db, "B").await, 0);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_incident").await, 0, "iA was caused by iB");
    // A had nothing but the call: it ends too (upward propagation, see fidelity.rs).
    assert_eq!(result.ended_callers, vec!["A".to_string()]);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_execution WHERE proc_inst_id_ = 'A'").await, 0);
}

#[tokio::test]
async fn missing_ids_follow_fail_if_not_exists() {
    let db = fixture().await;
    let lenient = run(&db, &["C", "nope", "A1", "C"], DeleteOptions::default()).await;
    assert_eq!(
        lenient.outcomes,
        vec![
            ("C".to_string(), Outcome::Deleted),
            ("nope".to_string(), Outcome::Skipped),
            ("A1".to_string(), Outcome::Skipped),
        ],
        "duplicates reported once; a child execution is no process instance"
    );
    let strict = run(&db, &["C", "A"], DeleteOptions { fail_if_not_exists: true, ..Default::default() }).await;
    assert_eq!(strict.outcomes[0].0, "C");
    assert!(matches!(&strict.outcomes[0].1, Outcome::Failed { reason } if reason.contains("'C'")));
    assert_eq!(strict.outcomes[1], ("A".to_string(), Outcome::Deleted));
}

#[tokio::test]
async fn skip_custom_listeners_produces_no_events() {
    let db = fixture().await;
    let result = run(&db, &["C"], DeleteOptions { skip_custom_listeners: true, ..Default::default() }).await;
    assert_eq!(result.instances_deleted, 1);
    assert!(result.events.is_empty());
}

#[tokio::test]
async fn an_empty_chunk_does_nothing() {
    let db = fixture().await;
    let result = run(&db, &[], DeleteOptions::default()).await;
    assert_eq!(result, ChunkResult::default());
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_execution").await, 6);
}

#[tokio::test]
async fn overlapping_chunks_in_parallel_transactions_delete_each_instance_once() {
    let db = fixture().await;
    let now = shared::camunda::now_naive();
    let opts = DeleteOptions::default();
    // T1 deletes A (and so B) and C, and holds its locks while T2 asks for B and C.
    let t1 = db.db.begin().await.unwrap();
    let first = delete_chunk(&t1, &["A".into(), "C".into()], &opts, now, None, &history()).await.unwrap();
    let second_db = db.db.clone();
    let (backend_tx, backend) = tokio::sync::oneshot::channel();
    let second = tokio::spawn(async move {
        let t2 = second_db.begin().await.unwrap();
        let pid = t2
            .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT pg_backend_pid() AS pid"))
            .await
            .unwrap()
            .expect("one row")
            .try_get::<i32>("", "pid")
            .unwrap();
        backend_tx.send(pid).unwrap();
        let r = delete_chunk(&t2, &["C".into(), "B".into()], &DeleteOptions::default(), now, None, &history())
            .await
            .unwrap();
        t2.commit().await.unwrap();
        r
    });
    // T2's session waits for a lock (or, if it does not, finishes, failing the assertion below).
    let pid = backend.await.unwrap();
    eventually(Duration::from_secs(10), || async {
        let waiting = db
            .scalar(&format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid} AND wait_event_type = 'Lock'"))
            .await;
        (waiting == 1 || second.is_finished()).then_some(())
    })
    .await;
    assert!(!second.is_finished(), "T2 must wait for T1's locks");
    t1.commit().await.unwrap();
    let second = second.await.unwrap();

    assert_eq!(first.instances_deleted, 3);
    assert_eq!(second.instances_deleted, 0);
    assert_eq!(second.outcomes, vec![("C".to_string(), Outcome::Skipped), ("B".to_string(), Outcome::Skipped)]);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_execution").await, 0);
    assert_eq!(db.scalar("SELECT count(*) FROM act_hi_procinst WHERE state_ = 'EXTERNALLY_TERMINATED'").await, 3);
}

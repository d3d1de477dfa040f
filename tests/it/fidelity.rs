//! What a deletion leaves in the `ACT_` tables, column by column, against what Camunda's engine
//! leaves: upward propagation into callers, sub-tasks, removal times under each strategy, job
//! and external-task logs, and absent delete reasons. Rows are inserted as the engine writes
//! them; deletions run through the real `delete_chunk` (and once through API and worker).

use std::time::Duration;

use chrono::NaiveDateTime;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::json;
use shared::deletion::{
    ChunkResult, DeleteOptions, ENDED_CALLER_REASON, History, HistoryTables, Outcome, RemovalTimeStrategy, delete_chunk,
};
use system_tests::fixtures::wait_completed;
use system_tests::{EventTap, TestApi, TestDb, TestWorker, eventually};

/// The moment every deletion here happens; instances started an hour earlier.
const NOW: &str = "2026-06-01 12:00:00";

fn now() -> NaiveDateTime {
    NaiveDateTime::parse_from_str(NOW, "%Y-%m-%d %H:%M:%S").unwrap()
}

fn history(strategy: RemovalTimeStrategy) -> History {
    History::new(strategy, HistoryTables::ALL, "test-host")
}

fn reason(r: &str) -> DeleteOptions {
    DeleteOptions { delete_reason: Some(r.into()), ..Default::default() }
}

async fn delete(db: &TestDb, ids: &[&str], options: DeleteOptions, strategy: RemovalTimeStrategy) -> ChunkResult {
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    let txn = db.db.begin().await.unwrap();
    let result = delete_chunk(&txn, &ids, &options, now(), None, &history(strategy)).await.unwrap();
    txn.commit().await.unwrap();
    result
}

/// One row as `col=value|col=value…` (`null` for NULL), for column-by-column comparison.
async fn row(db: &TestDb, table: &str, id: &str, columns: &[&str]) -> String {
    let fields: Vec<String> = columns.iter().map(|c| format!("'{c}=' || coalesce({c}::text, 'null')")).collect();
    let rows =
        db.strings(&format!("SELECT concat_ws('|', {}) FROM {table} WHERE id_ = '{id}'", fields.join(", "))).await;
    assert_eq!(rows.len(), 1, "{table} {id}: {rows:?}");
    rows.into_iter().next().unwrap()
}

fn expect(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(c, v)| format!("{c}={v}")).collect::<Vec<_>>().join("|")
}

/// Root `G` calls `R` (through scope execution `G1`), `R` calls `M` (through `R1`), `M` calls
/// `L` (through `M1`); `L` waits in a user task. `Z` is unrelated.
const HIERARCHY: &str = r#"
insert into act_re_procdef(id_,key_,version_) values ('pdG','g',1),('pdR','r',1),('pdM','m',1),('pdL','l',1);
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,is_scope_,is_active_,is_concurrent_,super_exec_,business_key_) values
  ('G',1,'G','G','pdG',true,false,false,null,'bk-g'),
  ('Z',1,'Z','Z','pdG',true,true,false,null,null);
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,parent_id_,proc_def_id_,is_scope_,is_active_,is_concurrent_,act_id_,act_inst_id_) values
  ('G1',1,'G','G','G','pdG',true,true,false,'callR','aiG1');
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,is_scope_,is_active_,is_concurrent_,super_exec_,business_key_,tenant_id_) values
  ('R',1,'R','G','pdR',true,false,false,'G1','bk-r','t1');
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,parent_id_,proc_def_id_,is_scope_,is_active_,is_concurrent_,act_id_,act_inst_id_) values
  ('R1',1,'R','G','R','pdR',true,true,false,'callM','aiR1');
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,is_scope_,is_active_,is_concurrent_,super_exec_) values
  ('M',1,'M','G','pdM',true,false,false,'R1');
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,parent_id_,proc_def_id_,is_scope_,is_active_,is_concurrent_,act_id_,act_inst_id_) values
  ('M1',1,'M','G','M','pdM',true,true,false,'callL','aiM1');
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,is_scope_,is_active_,is_concurrent_,super_exec_) values
  ('L',1,'L','G','pdL',true,true,false,'M1');
insert into act_ru_task(id_,rev_,execution_id_,proc_inst_id_,name_) values ('tL',1,'L','L','review');
insert into act_hi_procinst(id_,proc_inst_id_,proc_def_id_,proc_def_key_,root_proc_inst_id_,super_process_instance_id_,start_time_,state_) values
  ('G','G','pdG','g','G',null,'2026-06-01 11:00:00','ACTIVE'),('R','R','pdR','r','G','G','2026-06-01 11:00:00','ACTIVE'),
  ('M','M','pdM','m','G','R','2026-06-01 11:00:00','ACTIVE'),('L','L','pdL','l','G','M','2026-06-01 11:00:00','ACTIVE'),
  ('Z','Z','pdG','g','Z',null,'2026-06-01 11:00:00','ACTIVE');
insert into act_hi_actinst(id_,proc_def_id_,root_proc_inst_id_,proc_inst_id_,execution_id_,act_id_,act_type_,call_proc_inst_id_,start_time_,end_time_,duration_,act_inst_state_) values
  ('aiG0','pdG','G','G','G','start','startEvent',null,'2026-06-01 11:00:00','2026-06-01 11:00:00',0,null),
  ('aiG1','pdG','G','G','G1','callR','callActivity','R','2026-06-01 11:00:00',null,null,null),
  ('aiR1','pdR','G','R','R1','callM','callActivity','M','2026-06-01 11:30:00',null,null,null),
  ('aiM1','pdM','G','M','M1','callL','callActivity','L','2026-06-01 11:00:00',null,null,null),
  ('aiL1','pdL','G','L','L','review','userTask',null,'2026-06-01 11:00:00',null,null,null);
insert into act_hi_taskinst(id_,proc_inst_id_,root_proc_inst_id_,execution_id_,start_time_,task_state_) values
  ('tL','L','G','L','2026-06-01 11:00:00','Created');
"#;

const PI_COLUMNS: &[&str] = &["state_", "end_time_", "duration_", "delete_reason_", "end_act_id_", "removal_time_"];
const ACT_COLUMNS: &[&str] = &["end_time_", "duration_", "act_inst_state_", "removal_time_"];

#[tokio::test]
async fn deleting_a_middle_instance_cancels_its_caller_and_ends_the_callers_up_to_the_root() {
    let db = TestDb::new().await;
    db.exec(HIERARCHY).await;
    let result = delete(&db, &["M"], reason("cascade"), RemovalTimeStrategy::End).await;

    assert_eq!(result.outcomes, vec![("M".to_string(), Outcome::Deleted)]);
    assert_eq!(result.ended_callers, vec!["G".to_string(), "R".to_string()]);
    assert_eq!(result.deleted, vec!["G", "L", "M", "R"]);
    assert_eq!(result.instances_deleted, 4);
    let mut events: Vec<_> = result.events.iter().map(|e| (e.id.as_str(), e.deleted_with.as_deref())).collect();
    events.sort();
    assert_eq!(events, vec![("G", Some("M")), ("L", Some("M")), ("M", None), ("R", Some("M"))]);
    let r = result.events.iter().find(|e| e.id == "R").unwrap();
    assert_eq!(
        (r.process_definition_key.as_deref(), r.business_key.as_deref(), r.tenant_id.as_deref()),
        (Some("r"), Some("bk-r"), Some("t1"))
    );
    assert_eq!(r.delete_reason.as_deref(), Some("cascade"));

    // Nothing of the tree is left at runtime; Z is untouched.
    assert_eq!(db.strings("SELECT string_agg(id_, ',' ORDER BY id_) FROM act_ru_execution").await, vec!["Z"]);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_task").await, 0);
    // Every instance of the tree ended as Camunda ends it, callers with the same reason.
    for id in ["G", "R", "M", "L"] {
        assert_eq!(
            row(&db, "act_hi_procinst", id, PI_COLUMNS).await,
            expect(&[
                ("state_", "EXTERNALLY_TERMINATED"),
                ("end_time_", NOW),
                ("duration_", "3600000"),
                ("delete_reason_", "cascade"),
                ("end_act_id_", "null"),
                ("removal_time_", "null"),
            ]),
            "{id}"
        );
    }
    assert_eq!(row(&db, "act_hi_procinst", "Z", &["state_", "end_time_"]).await, "state_=ACTIVE|end_time_=null");
    // The calling activities are canceled; finished ones untouched.
    for (id, duration) in [("aiG1", "3600000"), ("aiR1", "1800000"), ("aiM1", "3600000"), ("aiL1", "3600000")] {
        assert_eq!(
            row(&db, "act_hi_actinst", id, ACT_COLUMNS).await,
            expect(&[("end_time_", NOW), ("duration_", duration), ("act_inst_state_", "2"), ("removal_time_", "null")]),
            "{id}"
        );
    }
    assert_eq!(
        row(&db, "act_hi_actinst", "aiG0", ACT_COLUMNS).await,
        expect(&[
            ("end_time_", "2026-06-01 11:00:00"),
            ("duration_", "0"),
            ("act_inst_state_", "null"),
            ("removal_time_", "null")
        ])
    );
}

/// Caller `P` runs two branches: concurrent `C1` whose scope child `S1` calls `X`, and
/// concurrent `C2` waiting in user task `tP` with a local variable, a timer and an event
/// subscription.
const TWO_BRANCHES: &str = r#"
insert into act_re_procdef(id_,key_,version_) values ('pdP','p',1),('pdX','x',1);
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,is_scope_,is_active_,is_concurrent_,cached_ent_state_) values
  ('P',3,'P','P','pdP',true,false,false,16);
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,parent_id_,proc_def_id_,is_scope_,is_active_,is_concurrent_,act_id_,act_inst_id_,cached_ent_state_) values
  ('C1',1,'P','P','P','pdP',false,false,true,'call','aiS1',0),
  ('C2',1,'P','P','P','pdP',false,true,true,'review','aiC2',22);
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,parent_id_,proc_def_id_,is_scope_,is_active_,is_concurrent_,act_id_,act_inst_id_,cached_ent_state_) values
  ('S1',1,'P','P','C1','pdP',true,true,false,'call','aiS1',32);
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,is_scope_,is_active_,is_concurrent_,super_exec_) values
  ('X',1,'X','P','pdX',true,true,false,'S1');
insert into act_ru_task(id_,rev_,execution_id_,proc_inst_id_,name_) values ('tP',1,'C2','P','review');
insert into act_ru_variable(id_,rev_,type_,name_,execution_id_,proc_inst_id_,var_scope_,text_) values
  ('vP',1,'string','global','P','P','P','g'),('vC2',1,'string','local','C2','P','C2','l'),
  ('vS1',1,'string','callLocal','S1','P','S1','c');
insert into act_ru_job(id_,rev_,type_,execution_id_,process_instance_id_,root_proc_inst_id_,retries_,handler_type_) values
  ('jC2',1,'timer','C2','P','P',3,'timer-transition'),
  ('jS1',1,'timer','S1','P','P',3,'timer-transition');
insert into act_ru_event_subscr(id_,event_type_,execution_id_,proc_inst_id_,created_) values
  ('eC2','message','C2','P','2026-06-01 11:00:00'),('eS1','message','S1','P','2026-06-01 11:00:00');
insert into act_hi_procinst(id_,proc_inst_id_,proc_def_id_,root_proc_inst_id_,super_process_instance_id_,start_time_,state_) values
  ('P','P','pdP','P',null,'2026-06-01 11:00:00','ACTIVE'),('X','X','pdX','P','P','2026-06-01 11:00:00','ACTIVE');
insert into act_hi_actinst(id_,proc_def_id_,root_proc_inst_id_,proc_inst_id_,execution_id_,act_id_,act_type_,call_proc_inst_id_,start_time_) values
  ('aiS1','pdP','P','P','S1','call','callActivity','X','2026-06-01 11:00:00'),
  ('aiC2','pdP','P','P','C2','review','userTask',null,'2026-06-01 11:00:00');
insert into act_hi_taskinst(id_,proc_inst_id_,root_proc_inst_id_,execution_id_,start_time_,task_state_) values
  ('tP','P','P','C2','2026-06-01 11:00:00','Created');
"#;

#[tokio::test]
async fn a_caller_with_another_active_branch_survives_with_the_call_canceled_and_the_branch_intact() {
    let db = TestDb::new().await;
    db.exec(TWO_BRANCHES).await;
    let result = delete(&db, &["X"], reason("gone"), RemovalTimeStrategy::End).await;

    assert_eq!(result.outcomes, vec![("X".to_string(), Outcome::Deleted)]);
    assert!(result.ended_callers.is_empty());
    assert_eq!(result.deleted, vec!["X"]);
    // The calling branch is gone with what hung on it; the last concurrent branch is merged
    // into the instance execution, which now waits in the user task itself.
    assert_eq!(db.strings("SELECT string_agg(id_, ',' ORDER BY id_) FROM act_ru_execution").await, vec!["P"]);
    assert_eq!(
        row(
            &db,
            "act_ru_execution",
            "P",
            &[
                "rev_",
                "parent_id_",
                "act_id_",
                "act_inst_id_",
                "is_active_",
                "is_concurrent_",
                "is_scope_",
                "cached_ent_state_"
            ]
        )
        .await,
        expect(&[
            ("rev_", "4"),
            ("parent_id_", "null"),
            ("act_id_", "review"),
            ("act_inst_id_", "aiC2"),
            ("is_active_", "true"),
            ("is_concurrent_", "false"),
            ("is_scope_", "true"),
            ("cached_ent_state_", "22"),
        ])
    );
    assert_eq!(row(&db, "act_ru_task", "tP", &["execution_id_", "rev_"]).await, "execution_id_=P|rev_=2");
    assert_eq!(
        row(&db, "act_hi_taskinst", "tP", &["execution_id_", "end_time_"]).await,
        "execution_id_=P|end_time_=null"
    );
    assert_eq!(
        db.strings("SELECT id_ || ':' || execution_id_ || ':' || var_scope_ FROM act_ru_variable ORDER BY id_").await,
        vec!["vC2:P:P", "vP:P:P"]
    );
    assert_eq!(db.strings("SELECT id_ || ':' || execution_id_ FROM act_ru_job").await, vec!["jC2:P"]);
    assert_eq!(db.strings("SELECT id_ || ':' || execution_id_ FROM act_ru_event_subscr").await, vec!["eC2:P"]);
    // The call activity is canceled, the caller keeps running.
    assert_eq!(
        row(&db, "act_hi_actinst", "aiS1", ACT_COLUMNS).await,
        expect(&[("end_time_", NOW), ("duration_", "3600000"), ("act_inst_state_", "2"), ("removal_time_", "null")])
    );
    assert_eq!(
        row(&db, "act_hi_actinst", "aiC2", &["end_time_", "act_inst_state_"]).await,
        "end_time_=null|act_inst_state_=null"
    );
    assert_eq!(
        row(&db, "act_hi_procinst", "P", PI_COLUMNS).await,
        expect(&[
            ("state_", "ACTIVE"),
            ("end_time_", "null"),
            ("duration_", "null"),
            ("delete_reason_", "null"),
            ("end_act_id_", "null"),
            ("removal_time_", "null"),
        ])
    );
    assert_eq!(
        row(&db, "act_hi_procinst", "X", &["state_", "delete_reason_"]).await,
        "state_=EXTERNALLY_TERMINATED|delete_reason_=gone"
    );
    // The deleted branch's timer has its "deleted" job-log entry.
    assert_eq!(db.strings("SELECT job_id_ || ':' || job_state_ FROM act_hi_job_log").await, vec!["jS1:3"]);
}

#[tokio::test]
async fn with_three_branches_the_call_is_cut_off_and_the_other_branches_stay_concurrent() {
    let db = TestDb::new().await;
    db.exec(TWO_BRANCHES).await;
    db.exec(
        "insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,parent_id_,proc_def_id_,is_scope_,is_active_,is_concurrent_,act_id_,act_inst_id_)
           values ('C3',1,'P','P','P','pdP',false,true,true,'approve','aiC3');",
    )
    .await;
    let result = delete(&db, &["X"], DeleteOptions::default(), RemovalTimeStrategy::End).await;
    assert!(result.ended_callers.is_empty());
    assert_eq!(db.strings("SELECT string_agg(id_, ',' ORDER BY id_) FROM act_ru_execution").await, vec!["C2,C3,P"]);
    assert_eq!(
        row(&db, "act_ru_execution", "P", &["rev_", "act_id_", "is_active_"]).await,
        "rev_=3|act_id_=null|is_active_=false",
        "the scope is not touched"
    );
    assert_eq!(row(&db, "act_ru_task", "tP", &["execution_id_"]).await, "execution_id_=C2");
    assert_eq!(row(&db, "act_hi_actinst", "aiS1", &["act_inst_state_"]).await, "act_inst_state_=2");
}

#[tokio::test]
async fn sub_tasks_are_deleted_with_their_parent_task_recursively_history_included() {
    let db = TestDb::new().await;
    db.exec(
        r#"
insert into act_re_procdef(id_,key_,version_) values ('pd','p',1);
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,is_scope_,is_active_) values ('A',1,'A','A','pd',true,true);
insert into act_ru_task(id_,rev_,execution_id_,proc_inst_id_,parent_task_id_,name_) values
  ('t1',1,'A','A',null,'parent'),('t2',1,null,null,'t1','child'),('t3',1,null,null,'t2','grandchild'),('t9',1,null,null,null,'alone');
insert into act_ru_identitylink(id_,rev_,task_id_,type_,user_id_) values ('il2',1,'t2','candidate','u'),('il3',1,'t3','assignee','u'),('il9',1,'t9','candidate','u');
insert into act_ge_bytearray(id_,rev_,type_) values ('ba3',1,2);
insert into act_ru_variable(id_,rev_,type_,name_,task_id_,var_scope_,bytearray_id_) values ('v3',1,'bytes','note','t3','t3','ba3');
insert into act_ru_authorization(id_,rev_,type_,resource_type_,resource_id_,user_id_,perms_) values ('au2',1,1,7,'t2','u',2),('au9',1,1,7,'t9','u',2);
insert into act_hi_procinst(id_,proc_inst_id_,proc_def_id_,root_proc_inst_id_,start_time_,state_) values ('A','A','pd','A','2026-06-01 11:00:00','ACTIVE');
insert into act_hi_taskinst(id_,proc_inst_id_,root_proc_inst_id_,parent_task_id_,start_time_,task_state_) values
  ('t1','A','A',null,'2026-06-01 11:00:00','Created'),('t2',null,null,'t1','2026-06-01 11:30:00','Created'),
  ('t3',null,null,'t2','2026-06-01 11:45:00','Created'),('t9',null,null,null,'2026-06-01 11:00:00','Created');
"#,
    )
    .await;
    delete(&db, &["A"], reason("cleanup"), RemovalTimeStrategy::End).await;

    assert_eq!(db.strings("SELECT string_agg(id_, ',') FROM act_ru_task").await, vec!["t9"]);
    assert_eq!(db.strings("SELECT string_agg(id_, ',') FROM act_ru_identitylink").await, vec!["il9"]);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_variable").await, 0);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ge_bytearray WHERE id_ = 'ba3'").await, 0);
    assert_eq!(db.strings("SELECT string_agg(id_, ',') FROM act_ru_authorization").await, vec!["au9"]);
    let cols = &["end_time_", "duration_", "delete_reason_", "task_state_"];
    for (id, duration) in [("t1", "3600000"), ("t2", "1800000"), ("t3", "900000")] {
        assert_eq!(
            row(&db, "act_hi_taskinst", id, cols).await,
            expect(&[
                ("end_time_", NOW),
                ("duration_", duration),
                ("delete_reason_", "cleanup"),
                ("task_state_", "Deleted")
            ]),
            "{id}"
        );
    }
    assert_eq!(
        row(&db, "act_hi_taskinst", "t9", cols).await,
        expect(&[("end_time_", "null"), ("duration_", "null"), ("delete_reason_", "null"), ("task_state_", "Created")])
    );
}

/// Root `R` (definition with a history time to live of 5 days) calls `S`; a row for the tree
/// in every history table Sweep dates, and the same for the unrelated root `Q`.
const TTL_TREE: &str = r#"
insert into act_re_procdef(id_,key_,version_,history_ttl_) values ('pdR','r',1,5),('pdS','s',1,null),('pdQ','q',1,5);
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,is_scope_,is_active_) values
  ('R',1,'R','R','pdR',true,false),('Q',1,'Q','Q','pdQ',true,true);
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,parent_id_,proc_def_id_,is_scope_,is_active_,act_id_) values
  ('R1',1,'R','R','R','pdR',true,true,'call');
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,is_scope_,is_active_,super_exec_) values
  ('S',1,'S','R','pdS',true,true,'R1');
insert into act_ru_task(id_,rev_,execution_id_,proc_inst_id_) values ('tS',1,'S','S');
insert into act_ru_job(id_,rev_,type_,execution_id_,process_instance_id_,root_proc_inst_id_,retries_,handler_type_) values
  ('jS',1,'timer','S','S','R',3,'timer-transition');
insert into act_hi_procinst(id_,proc_inst_id_,proc_def_id_,root_proc_inst_id_,start_time_,state_,removal_time_) values
  ('R','R','pdR','R','2026-06-01 11:00:00','ACTIVE',{start_rt}),('S','S','pdS','R','2026-06-01 11:00:00','ACTIVE',{start_rt}),
  ('Q','Q','pdQ','Q','2026-06-01 11:00:00','ACTIVE',null);
insert into act_hi_actinst(id_,proc_def_id_,root_proc_inst_id_,proc_inst_id_,execution_id_,act_id_,act_type_,start_time_,end_time_,removal_time_) values
  ('aR','pdR','R','R','R1','call','callActivity','2026-06-01 11:00:00',null,{start_rt}),
  ('aS0','pdS','R','S','S','start','startEvent','2026-06-01 11:00:00','2026-06-01 11:00:00',{start_rt}),
  ('aQ','pdQ','Q','Q','Q','task','userTask','2026-06-01 11:00:00',null,null);
insert into act_hi_taskinst(id_,proc_inst_id_,root_proc_inst_id_,start_time_,task_state_,removal_time_) values
  ('tS','S','R','2026-06-01 11:00:00','Created',{start_rt});
insert into act_hi_varinst(id_,proc_inst_id_,root_proc_inst_id_,name_,removal_time_) values
  ('hvS','S','R','x',{start_rt}),('hvQ','Q','Q','x',null);
insert into act_hi_detail(id_,type_,proc_inst_id_,root_proc_inst_id_,name_,time_,removal_time_) values
  ('hdS','VariableUpdate','S','R','x','2026-06-01 11:00:00',{start_rt}),('hdQ','VariableUpdate','Q','Q','x','2026-06-01 11:00:00',null);
insert into act_hi_incident(id_,proc_inst_id_,root_proc_inst_id_,create_time_,end_time_,incident_type_,incident_state_,removal_time_) values
  ('hiS','S','R','2026-06-01 11:00:00','2026-06-01 11:10:00','failedJob',1,{start_rt});
insert into act_hi_job_log(id_,timestamp_,job_id_,job_state_,root_proc_inst_id_,process_instance_id_,removal_time_) values
  ('hjS','2026-06-01 11:00:00','jS',0,'R','S',{start_rt});
insert into act_hi_identitylink(id_,timestamp_,type_,task_id_,root_proc_inst_id_,removal_time_) values
  ('hlS','2026-06-01 11:00:00','candidate','tS','R',{start_rt});
insert into act_hi_comment(id_,time_,task_id_,proc_inst_id_,root_proc_inst_id_,removal_time_) values
  ('hcS','2026-06-01 11:00:00','tS','S','R',{start_rt});
insert into act_hi_attachment(id_,task_id_,proc_inst_id_,root_proc_inst_id_,removal_time_) values
  ('haS','tS','S','R',{start_rt});
insert into act_hi_ext_task_log(id_,timestamp_,ext_task_id_,proc_inst_id_,root_proc_inst_id_,state_,removal_time_) values
  ('hxS','2026-06-01 11:00:00','xOld','S','R',0,{start_rt});
insert into act_hi_op_log(id_,timestamp_,proc_inst_id_,root_proc_inst_id_,operation_type_,removal_time_) values
  ('hoS','2026-06-01 11:00:00','S','R','SetJobRetries',{start_rt});
insert into act_ge_bytearray(id_,rev_,type_,root_proc_inst_id_,removal_time_) values
  ('bH','1',3,'R',{start_rt}),('bQ','1',3,'Q',null);
"#;

/// Every dated row of the tree of `R`: (table, id).
const TREE_ROWS: &[(&str, &str)] = &[
    ("act_hi_procinst", "R"),
    ("act_hi_procinst", "S"),
    ("act_hi_actinst", "aR"),
    ("act_hi_actinst", "aS0"),
    ("act_hi_taskinst", "tS"),
    ("act_hi_varinst", "hvS"),
    ("act_hi_detail", "hdS"),
    ("act_hi_incident", "hiS"),
    ("act_hi_job_log", "hjS"),
    ("act_hi_identitylink", "hlS"),
    ("act_hi_comment", "hcS"),
    ("act_hi_attachment", "haS"),
    ("act_hi_ext_task_log", "hxS"),
    ("act_hi_op_log", "hoS"),
    ("act_ge_bytearray", "bH"),
];

const UNRELATED_ROWS: &[(&str, &str)] = &[
    ("act_hi_procinst", "Q"),
    ("act_hi_actinst", "aQ"),
    ("act_hi_varinst", "hvQ"),
    ("act_hi_detail", "hdQ"),
    ("act_ge_bytearray", "bQ"),
];

async fn removal_times(db: &TestDb, rows: &[(&str, &str)]) -> Vec<String> {
    let mut out = Vec::new();
    for (table, id) in rows {
        out.push(format!("{table}.{id}: {}", row(db, table, id, &["removal_time_"]).await));
    }
    out
}

fn all(rows: &[(&str, &str)], value: &str) -> Vec<String> {
    rows.iter().map(|(t, id)| format!("{t}.{id}: removal_time_={value}")).collect()
}

/// The removal time of the job-log row written for the deleted timer `jS`.
async fn new_job_log_removal(db: &TestDb) -> String {
    db.strings(
        "SELECT coalesce(removal_time_::text, 'null') FROM act_hi_job_log WHERE job_id_ = 'jS' AND job_state_ = 3",
    )
    .await
    .concat()
}

#[tokio::test]
async fn strategy_end_dates_the_whole_tree_with_the_root_s_end_time_plus_its_time_to_live() {
    let db = TestDb::new().await;
    db.exec(&TTL_TREE.replace("{start_rt}", "null")).await;
    let result = delete(&db, &["R"], reason("ttl"), RemovalTimeStrategy::End).await;
    assert_eq!(result.instances_deleted, 2);
    let expected = "2026-06-06 12:00:00";
    assert_eq!(removal_times(&db, TREE_ROWS).await, all(TREE_ROWS, expected));
    assert_eq!(removal_times(&db, UNRELATED_ROWS).await, all(UNRELATED_ROWS, "null"));
    assert_eq!(new_job_log_removal(&db).await, expected, "rows written by the deletion too");
}

#[tokio::test]
async fn strategy_end_dates_a_tree_only_when_its_root_ends_with_a_time_to_live() {
    let db = TestDb::new().await;
    db.exec(&TTL_TREE.replace("{start_rt}", "null")).await;
    // S alone: R ends by propagation and dates its tree.
    delete(&db, &["S"], DeleteOptions::default(), RemovalTimeStrategy::End).await;
    assert_eq!(removal_times(&db, TREE_ROWS).await, all(TREE_ROWS, "2026-06-06 12:00:00"));

    // A called instance whose root survives gets no removal time.
    let db = TestDb::new().await;
    db.exec(TWO_BRANCHES).await;
    db.exec("update act_re_procdef set history_ttl_ = 5").await;
    delete(&db, &["X"], DeleteOptions::default(), RemovalTimeStrategy::End).await;
    assert_eq!(
        removal_times(&db, &[("act_hi_procinst", "X"), ("act_hi_procinst", "P"), ("act_hi_actinst", "aiS1")]).await,
        all(&[("act_hi_procinst", "X"), ("act_hi_procinst", "P"), ("act_hi_actinst", "aiS1")], "null")
    );

    let db = TestDb::new().await;
    db.exec(&TTL_TREE.replace("{start_rt}", "null")).await;
    db.exec("update act_re_procdef set history_ttl_ = null where id_ = 'pdR'").await;
    delete(&db, &["R"], DeleteOptions::default(), RemovalTimeStrategy::End).await;
    assert_eq!(removal_times(&db, TREE_ROWS).await, all(TREE_ROWS, "null"));
    assert_eq!(new_job_log_removal(&db).await, "null");
}

#[tokio::test]
async fn strategy_start_keeps_the_removal_times_set_at_start_and_dates_new_rows_with_the_root_s() {
    let db = TestDb::new().await;
    let at_start = "2026-06-06 11:00:00";
    db.exec(&TTL_TREE.replace("{start_rt}", &format!("'{at_start}'"))).await;
    delete(&db, &["R"], DeleteOptions::default(), RemovalTimeStrategy::Start).await;
    assert_eq!(removal_times(&db, TREE_ROWS).await, all(TREE_ROWS, at_start));
    assert_eq!(removal_times(&db, UNRELATED_ROWS).await, all(UNRELATED_ROWS, "null"));
    assert_eq!(new_job_log_removal(&db).await, at_start);
    assert_eq!(row(&db, "act_hi_taskinst", "tS", &["task_state_"]).await, "task_state_=Deleted");
}

#[tokio::test]
async fn strategy_none_dates_nothing() {
    let db = TestDb::new().await;
    db.exec(&TTL_TREE.replace("{start_rt}", "null")).await;
    delete(&db, &["R"], DeleteOptions::default(), RemovalTimeStrategy::None).await;
    assert_eq!(removal_times(&db, TREE_ROWS).await, all(TREE_ROWS, "null"));
    assert_eq!(new_job_log_removal(&db).await, "null");
}

#[tokio::test]
async fn deleted_jobs_and_external_tasks_get_their_deleted_log_entries() {
    let db = TestDb::new().await;
    db.exec(
        r#"
insert into act_re_procdef(id_,key_,version_) values ('pd','p',1);
insert into act_ru_jobdef(id_,rev_,proc_def_id_,proc_def_key_,act_id_,job_type_,job_configuration_) values
  ('jd1',1,'pd','p','wait','timer-intermediate-transition','DURATION: PT1H');
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,is_scope_,is_active_,tenant_id_) values ('J',1,'J','J','pd',true,true,'t1');
insert into act_ge_bytearray(id_,rev_,type_) values ('bx',1,2),('bj',1,2);
insert into act_ru_job(id_,rev_,type_,execution_id_,process_instance_id_,root_proc_inst_id_,process_def_id_,process_def_key_,
                       retries_,exception_stack_id_,exception_msg_,failed_act_id_,duedate_,handler_type_,deployment_id_,job_def_id_,priority_,
                       sequence_counter_,tenant_id_) values
  ('jt',1,'timer','J','J','J','pd','p',2,'bj','boom','wait','2026-06-01 13:00:00','timer-intermediate-transition','dep1','jd1',7,4,'t1'),
  ('ja',1,'message','J','J','J','pd','p',3,null,null,null,null,'async-continuation','dep1',null,0,1,'t1');
insert into act_ru_ext_task(id_,rev_,worker_id_,topic_name_,retries_,error_msg_,error_details_id_,execution_id_,proc_inst_id_,proc_def_id_,
                            proc_def_key_,act_id_,act_inst_id_,tenant_id_,priority_) values
  ('x1',1,'w1','payments',1,'failed once','bx','J','J','pd','p','pay','pay:1','t1',5);
insert into act_hi_procinst(id_,proc_inst_id_,proc_def_id_,root_proc_inst_id_,start_time_,state_) values ('J','J','pd','J','2026-06-01 11:00:00','ACTIVE');
"#,
    )
    .await;
    delete(&db, &["J"], DeleteOptions::default(), RemovalTimeStrategy::End).await;
    assert_eq!(db.scalar("SELECT count(*) FROM act_ge_bytearray").await, 0);

    let job_cols = &[
        "timestamp_",
        "job_id_",
        "job_duedate_",
        "job_retries_",
        "job_priority_",
        "job_exception_msg_",
        "job_exception_stack_id_",
        "job_state_",
        "job_def_id_",
        "job_def_type_",
        "job_def_configuration_",
        "act_id_",
        "failed_act_id_",
        "execution_id_",
        "root_proc_inst_id_",
        "process_instance_id_",
        "process_def_id_",
        "process_def_key_",
        "deployment_id_",
        "sequence_counter_",
        "tenant_id_",
        "hostname_",
        "removal_time_",
    ];
    let id = |job: &str| format!("(SELECT id_ FROM act_hi_job_log WHERE job_id_ = '{job}')");
    let entry = |job: &str| {
        let db = &db;
        let id = id(job);
        async move {
            let fields: Vec<String> =
                job_cols.iter().map(|c| format!("'{c}=' || coalesce({c}::text, 'null')")).collect();
            db.strings(&format!("SELECT concat_ws('|', {}) FROM act_hi_job_log WHERE id_ = {id}", fields.join(", ")))
                .await
                .concat()
        }
    };
    assert_eq!(
        entry("jt").await,
        expect(&[
            ("timestamp_", NOW),
            ("job_id_", "jt"),
            ("job_duedate_", "2026-06-01 13:00:00"),
            ("job_retries_", "2"),
            ("job_priority_", "7"),
            ("job_exception_msg_", "null"),
            ("job_exception_stack_id_", "null"),
            ("job_state_", "3"),
            ("job_def_id_", "jd1"),
            ("job_def_type_", "timer-intermediate-transition"),
            ("job_def_configuration_", "DURATION: PT1H"),
            ("act_id_", "wait"),
            ("failed_act_id_", "wait"),
            ("execution_id_", "J"),
            ("root_proc_inst_id_", "J"),
            ("process_instance_id_", "J"),
            ("process_def_id_", "pd"),
            ("process_def_key_", "p"),
            ("deployment_id_", "dep1"),
            ("sequence_counter_", "5"),
            ("tenant_id_", "t1"),
            ("hostname_", "test-host"),
            ("removal_time_", "null"),
        ])
    );
    assert_eq!(
        entry("ja").await,
        expect(&[
            ("timestamp_", NOW),
            ("job_id_", "ja"),
            ("job_duedate_", "null"),
            ("job_retries_", "3"),
            ("job_priority_", "0"),
            ("job_exception_msg_", "null"),
            ("job_exception_stack_id_", "null"),
            ("job_state_", "3"),
            ("job_def_id_", "null"),
            ("job_def_type_", "async-continuation"),
            ("job_def_configuration_", "null"),
            ("act_id_", "null"),
            ("failed_act_id_", "null"),
            ("execution_id_", "J"),
            ("root_proc_inst_id_", "J"),
            ("process_instance_id_", "J"),
            ("process_def_id_", "pd"),
            ("process_def_key_", "p"),
            ("deployment_id_", "dep1"),
            ("sequence_counter_", "2"),
            ("tenant_id_", "t1"),
            ("hostname_", "test-host"),
            ("removal_time_", "null"),
        ])
    );
    let ext_cols = &[
        "timestamp_",
        "ext_task_id_",
        "retries_",
        "topic_name_",
        "worker_id_",
        "priority_",
        "error_msg_",
        "error_details_id_",
        "act_id_",
        "act_inst_id_",
        "execution_id_",
        "proc_inst_id_",
        "root_proc_inst_id_",
        "proc_def_id_",
        "proc_def_key_",
        "tenant_id_",
        "state_",
        "removal_time_",
    ];
    let ext_id = db.strings("SELECT id_ FROM act_hi_ext_task_log").await;
    assert_eq!(ext_id.len(), 1);
    assert_eq!(
        row(&db, "act_hi_ext_task_log", &ext_id[0], ext_cols).await,
        expect(&[
            ("timestamp_", NOW),
            ("ext_task_id_", "x1"),
            ("retries_", "1"),
            ("topic_name_", "payments"),
            ("worker_id_", "w1"),
            ("priority_", "5"),
            ("error_msg_", "null"),
            ("error_details_id_", "null"),
            ("act_id_", "pay"),
            ("act_inst_id_", "pay:1"),
            ("execution_id_", "J"),
            ("proc_inst_id_", "J"),
            ("root_proc_inst_id_", "J"),
            ("proc_def_id_", "pd"),
            ("proc_def_key_", "p"),
            ("tenant_id_", "t1"),
            ("state_", "3"),
            ("removal_time_", "null"),
        ])
    );
}

#[tokio::test]
async fn an_empty_delete_reason_is_stored_as_null_and_tasks_say_deleted() {
    let db = TestDb::new().await;
    db.exec(HIERARCHY).await;
    let result = delete(&db, &["M"], reason(""), RemovalTimeStrategy::End).await;
    for id in ["G", "R", "M", "L"] {
        assert_eq!(
            row(&db, "act_hi_procinst", id, &["state_", "delete_reason_"]).await,
            "state_=EXTERNALLY_TERMINATED|delete_reason_=null",
            "{id}"
        );
    }
    assert_eq!(
        row(&db, "act_hi_taskinst", "tL", &["delete_reason_", "task_state_"]).await,
        "delete_reason_=deleted|task_state_=Deleted"
    );
    assert!(result.events.iter().all(|e| e.delete_reason.is_none()));
}

/// Caller `P` with two concurrent branches, each calling one instance (`X1`, `X2`).
const TWO_CALLS: &str = r#"
insert into act_re_procdef(id_,key_,version_) values ('pdP','p',1),('pdX','x',1);
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,is_scope_,is_active_,is_concurrent_) values
  ('P',1,'P','P','pdP',true,false,false);
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,parent_id_,proc_def_id_,is_scope_,is_active_,is_concurrent_,act_id_) values
  ('C1',1,'P','P','P','pdP',false,false,true,'call1'),('C2',1,'P','P','P','pdP',false,false,true,'call2');
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,parent_id_,proc_def_id_,is_scope_,is_active_,is_concurrent_,act_id_,act_inst_id_) values
  ('S1',1,'P','P','C1','pdP',true,true,false,'call1','ai1'),('S2',1,'P','P','C2','pdP',true,true,false,'call2','ai2');
insert into act_ru_execution(id_,rev_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,is_scope_,is_active_,is_concurrent_,super_exec_) values
  ('X1',1,'X1','P','pdX',true,true,false,'S1'),('X2',1,'X2','P','pdX',true,true,false,'S2');
insert into act_hi_procinst(id_,proc_inst_id_,proc_def_id_,root_proc_inst_id_,start_time_,state_) values
  ('P','P','pdP','P','2026-06-01 11:00:00','ACTIVE'),('X1','X1','pdX','P','2026-06-01 11:00:00','ACTIVE'),
  ('X2','X2','pdX','P','2026-06-01 11:00:00','ACTIVE');
insert into act_hi_actinst(id_,proc_def_id_,root_proc_inst_id_,proc_inst_id_,execution_id_,act_id_,act_type_,start_time_) values
  ('ai1','pdP','P','P','S1','call1','callActivity','2026-06-01 11:00:00'),('ai2','pdP','P','P','S2','call2','callActivity','2026-06-01 11:00:00');
"#;

#[tokio::test]
async fn two_calls_of_one_caller_deleted_in_one_chunk_end_the_caller() {
    let db = TestDb::new().await;
    db.exec(TWO_CALLS).await;
    let result = delete(&db, &["X1", "X2"], DeleteOptions::default(), RemovalTimeStrategy::End).await;
    assert_eq!(result.ended_callers, vec!["P".to_string()]);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_execution").await, 0);
    assert_eq!(db.scalar("SELECT count(*) FROM act_hi_actinst WHERE act_inst_state_ = 2").await, 2);
}

#[tokio::test]
async fn two_chunks_deleting_two_calls_of_one_caller_concurrently_end_it_once_without_deadlock() {
    let db = TestDb::new().await;
    db.exec(TWO_CALLS).await;
    let h = history(RemovalTimeStrategy::End);
    // T1 deletes X1 and holds its locks (the caller P among them) while T2 asks for X2.
    let t1 = db.db.begin().await.unwrap();
    let first = delete_chunk(&t1, &["X1".into()], &DeleteOptions::default(), now(), None, &h).await.unwrap();
    assert!(first.ended_callers.is_empty(), "P still runs its second call");
    let second_db = db.db.clone();
    let (pid_tx, pid_rx) = tokio::sync::oneshot::channel();
    let second = tokio::spawn(async move {
        let t2 = second_db.begin().await.unwrap();
        let pid = t2
            .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT pg_backend_pid() AS pid"))
            .await
            .unwrap()
            .expect("one row")
            .try_get::<i32>("", "pid")
            .unwrap();
        pid_tx.send(pid).unwrap();
        let h = history(RemovalTimeStrategy::End);
        let r = delete_chunk(&t2, &["X2".into()], &DeleteOptions::default(), now(), None, &h).await.unwrap();
        t2.commit().await.unwrap();
        r
    });
    let pid = pid_rx.await.unwrap();
    eventually(Duration::from_secs(10), || async {
        let waiting = db
            .scalar(&format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid} AND wait_event_type = 'Lock'"))
            .await;
        (waiting == 1 || second.is_finished()).then_some(())
    })
    .await;
    assert!(!second.is_finished(), "T2 must wait for the caller's lock");
    t1.commit().await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(10), second).await.expect("no deadlock").unwrap();

    assert_eq!(second.ended_callers, vec!["P".to_string()], "the second chunk ends the caller");
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_execution").await, 0);
    assert_eq!(
        db.strings("SELECT id_ || ':' || state_ FROM act_hi_procinst ORDER BY id_").await,
        vec!["P:EXTERNALLY_TERMINATED", "X1:EXTERNALLY_TERMINATED", "X2:EXTERNALLY_TERMINATED"]
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM act_hi_actinst WHERE act_inst_state_ = 2 AND end_time_ IS NOT NULL").await,
        2
    );
}

#[tokio::test]
async fn callers_ended_by_a_batch_join_its_ledger_and_publish_their_deletion_events() {
    let db = TestDb::new().await;
    db.exec(HIERARCHY).await;
    let settings = db.settings(&[("SWEEP__HISTORY__BATCH_OPERATION_HISTORY_TTL", "P7D")]);
    let api = TestApi::spawn(settings.clone()).await;
    let worker = TestWorker::spawn(settings.clone()).await;
    let tap = EventTap::bind(&settings).await;

    let id = api.start_deletion(&json!({"processInstanceIds": ["M", "Z"], "deleteReason": "upward"})).await;
    wait_completed(&db, &id, Duration::from_secs(30)).await;

    // The ledger: the two selected items, then the ended callers, after every job's items.
    assert_eq!(
        db.strings(&format!(
            "SELECT seq_ || ':' || proc_inst_id_ || ':' || state_ || ':' || coalesce(reason_, 'null')
               FROM sweep_batch_item WHERE batch_id_ = '{id}' ORDER BY seq_"
        ))
        .await,
        vec![
            "1:M:deleted:null".to_string(),
            "2:Z:deleted:null".to_string(),
            format!("101:G:deleted:{ENDED_CALLER_REASON}"),
            format!("102:R:deleted:{ENDED_CALLER_REASON}"),
        ]
    );
    assert_eq!(db.scalar(&format!("SELECT total_items_ FROM sweep_hi_batch WHERE id_ = '{id}'")).await, 4);
    assert_eq!(
        db.scalar(&format!(
            "SELECT count(*) FROM sweep_hi_batch WHERE id_ = '{id}' AND removal_time_ = end_time_ + interval '7 days'"
        ))
        .await,
        1
    );
    let (status, items) = api.get(&format!("/batch/{id}/items/count?state=deleted")).await;
    assert_eq!((status, items["count"].as_i64()), (200, Some(4)), "{items}");

    let events = eventually(Duration::from_secs(10), || async {
        let all = tap.drain().await;
        (all.len() >= 6).then_some(all)
    })
    .await;
    let mut deleted: Vec<(String, String)> = events
        .iter()
        .filter(|e| e.routing_key == "process-instance.deleted")
        .map(|e| {
            (
                e.body["processInstanceId"].as_str().unwrap().to_owned(),
                e.body["deletedWith"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    deleted.sort();
    assert_eq!(
        deleted,
        [("G", "M"), ("L", "M"), ("M", "-"), ("R", "M"), ("Z", "-")]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .to_vec()
    );
    let completed = events.iter().find(|e| e.routing_key == "batch.completed").expect("completion event");
    assert_eq!((completed.body["total"].as_i64(), completed.body["deleted"].as_i64()), (Some(4), Some(4)));
    assert_eq!(db.strings("SELECT delete_reason_ FROM act_hi_procinst WHERE id_ = 'G'").await, vec!["upward"]);
    worker.stop().await.unwrap();
}

//! `generate`: reproducible, realistic demo instances, and refusing to run a seed twice.

use chrono::NaiveDate;
use shared::demo::{GenerateOptions, generate};
use system_tests::TestDb;

/// Every Camunda table the generator writes.
const TABLES: &[&str] = &[
    "act_re_deployment",
    "act_re_procdef",
    "act_ru_jobdef",
    "act_ge_bytearray",
    "act_ru_execution",
    "act_ru_task",
    "act_ru_identitylink",
    "act_ru_variable",
    "act_ru_job",
    "act_ru_event_subscr",
    "act_ru_ext_task",
    "act_ru_incident",
    "act_hi_procinst",
    "act_hi_actinst",
    "act_hi_taskinst",
    "act_hi_varinst",
    "act_hi_incident",
];

fn options(instances: u64, seed: u64) -> GenerateOptions {
    GenerateOptions {
        instances,
        definitions: 3,
        tenants: 2,
        call_share: 0.3,
        suspended_share: 0.2,
        incident_share: 0.2,
        external_task_share: 0.3,
        seed,
        until: Some(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()),
    }
}

/// One md5 per table over all its rows in a fixed order.
async fn fingerprint(db: &TestDb) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for table in TABLES {
        let sql = format!("SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {table} t");
        out.push((table.to_string(), db.strings(&sql).await.remove(0)));
    }
    out
}

async fn row_counts(db: &TestDb) -> Vec<i64> {
    let mut out = Vec::new();
    for table in TABLES {
        out.push(db.scalar(&format!("SELECT count(*) FROM {table}")).await);
    }
    out
}

#[tokio::test]
async fn demo_same_seed_gives_identical_rows_and_another_seed_adds_new_ones() {
    let (one, two) = (TestDb::new().await, TestDb::new().await);
    generate(&one.db, &options(200, 7)).await.unwrap();
    generate(&two.db, &options(200, 7)).await.unwrap();
    let (a, b) = (fingerprint(&one).await, fingerprint(&two).await);
    assert_eq!(a, b);
    for table in TABLES {
        assert!(one.scalar(&format!("SELECT count(*) FROM {table}")).await > 0, "{table} is empty");
    }

    // Another seed draws other ids, so it adds instances next to the first ones.
    let pis = "SELECT count(*) FROM act_ru_execution WHERE id_ = proc_inst_id_";
    let before = two.scalar(pis).await;
    generate(&two.db, &options(200, 8)).await.unwrap();
    assert!(two.scalar(pis).await > before);
    assert_eq!(two.scalar("SELECT count(*) FROM act_hi_procinst WHERE business_key_ LIKE 'order-8-%' AND super_process_instance_id_ IS NULL").await, 200);
    // Definitions are shared, not duplicated.
    assert_eq!(
        two.scalar("SELECT count(*) FROM act_re_procdef").await,
        one.scalar("SELECT count(*) FROM act_re_procdef").await
    );
    let first_ids = one.strings("SELECT id_ FROM act_ru_execution ORDER BY id_ LIMIT 20").await;
    let list = first_ids.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(",");
    assert_eq!(
        two.scalar(&format!(
            "SELECT count(*) FROM act_ru_execution WHERE id_ IN ({list}) AND business_key_ LIKE 'order-8-%'"
        ))
        .await,
        0
    );
}

#[tokio::test]
async fn demo_instances_look_like_camunda_instances() {
    let db = TestDb::new().await;
    let report = generate(&db.db, &options(200, 11)).await.unwrap();
    assert!(report.contains("200 root instances"), "{report}");
    assert!(report.contains("instances/s") && report.contains("rows/s"), "{report}");

    let roots = "FROM act_ru_execution r WHERE r.id_ = r.proc_inst_id_ AND r.super_exec_ IS NULL";
    let subs = db.scalar("SELECT count(*) FROM act_ru_execution WHERE super_exec_ IS NOT NULL").await;
    assert_eq!(db.scalar(&format!("SELECT count(*) {roots}")).await, 200);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_execution WHERE id_ = proc_inst_id_").await, 200 + subs);
    assert!(report.contains(&format!("+{subs} called sub-instances")), "{report}");
    assert!(
        db.scalar("SELECT count(*) FROM act_ru_execution WHERE id_ = proc_inst_id_ AND parent_id_ IS NOT NULL").await
            == 0
    );
    // Sub-instances belong to their root's tree, and some go two levels deep.
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_execution s JOIN act_ru_execution c ON c.id_ = s.super_exec_ WHERE s.root_proc_inst_id_ <> c.root_proc_inst_id_ OR c.act_id_ NOT LIKE 'call%'").await, 0);
    assert!(db.scalar("SELECT count(*) FROM act_ru_execution s WHERE s.super_exec_ IS NOT NULL AND s.root_proc_inst_id_ <> (SELECT proc_inst_id_ FROM act_ru_execution WHERE id_ = s.super_exec_)").await > 0);

    // Shares as asked, within sampling tolerance.
    let share = |n: i64| n as f64 / 200.0;
    let calling = db
        .scalar("SELECT count(DISTINCT root_proc_inst_id_) FROM act_ru_execution WHERE super_exec_ IS NOT NULL")
        .await;
    let suspended = db.scalar(&format!("SELECT count(*) {roots} AND r.suspension_state_ = 2")).await;
    let failing = db.scalar("SELECT count(DISTINCT i.proc_inst_id_) FROM act_ru_incident i JOIN act_ru_execution e ON e.id_ = i.proc_inst_id_ WHERE e.super_exec_ IS NULL").await;
    let external = db.scalar("SELECT count(DISTINCT proc_inst_id_) FROM act_ru_ext_task").await;
    for (name, got, want) in [
        ("call", calling, 0.3),
        ("suspended", suspended, 0.2),
        ("incident", failing, 0.2),
        ("external task", external, 0.3),
    ] {
        assert!((share(got) - want).abs() < 0.1, "{name} share {} (asked {want})", share(got));
    }

    // Every root has children, a task with a candidate group, a timer, a message subscription
    // and a variable stored in a byte array.
    for (what, missing) in [
        ("child execution", "SELECT 1 FROM act_ru_execution c WHERE c.parent_id_ = r.id_"),
        ("task", "SELECT 1 FROM act_ru_task t WHERE t.proc_inst_id_ = r.id_"),
        (
            "identity link",
            "SELECT 1 FROM act_ru_task t JOIN act_ru_identitylink l ON l.task_id_ = t.id_ AND l.type_ = 'candidate' WHERE t.proc_inst_id_ = r.id_",
        ),
        ("timer job", "SELECT 1 FROM act_ru_job j WHERE j.process_instance_id_ = r.id_ AND j.type_ = 'timer'"),
        (
            "event subscription",
            "SELECT 1 FROM act_ru_event_subscr s WHERE s.proc_inst_id_ = r.id_ AND s.event_type_ = 'message'",
        ),
        (
            "byte-array variable",
            "SELECT 1 FROM act_ru_variable v JOIN act_ge_bytearray b ON b.id_ = v.bytearray_id_ WHERE v.proc_inst_id_ = r.id_ AND v.type_ IN ('bytes', 'object') AND b.type_ = 2",
        ),
        ("history", "SELECT 1 FROM act_hi_procinst h WHERE h.id_ = r.id_"),
    ] {
        assert_eq!(
            db.scalar(&format!("SELECT count(*) {roots} AND NOT EXISTS ({missing})")).await,
            0,
            "a root without {what}"
        );
    }
    // Sub-instances are smaller roots: children, a task and a timer.
    for missing in [
        "SELECT 1 FROM act_ru_execution c WHERE c.parent_id_ = s.id_",
        "SELECT 1 FROM act_ru_task t WHERE t.proc_inst_id_ = s.id_",
        "SELECT 1 FROM act_ru_job j WHERE j.process_instance_id_ = s.id_",
        "SELECT 1 FROM act_ru_variable v WHERE v.proc_inst_id_ = s.id_",
    ] {
        assert_eq!(
            db.scalar(&format!(
                "SELECT count(*) FROM act_ru_execution s WHERE s.super_exec_ IS NOT NULL AND NOT EXISTS ({missing})"
            ))
            .await,
            0,
            "{missing}"
        );
    }

    // Suspension covers the whole instance.
    for (table, pi) in [
        ("act_ru_execution", "proc_inst_id_"),
        ("act_ru_task", "proc_inst_id_"),
        ("act_ru_job", "process_instance_id_"),
        ("act_ru_ext_task", "proc_inst_id_"),
    ] {
        let sql = format!(
            "SELECT count(*) FROM {table} x JOIN act_ru_execution pi ON pi.id_ = x.{pi} WHERE x.suspension_state_ <> pi.suspension_state_"
        );
        assert_eq!(db.scalar(&sql).await, 0, "{table}");
    }

    // Incidents: root causes fail a job with no retries (or an external task); callers get an
    // incident pointing down the chain at the call activity.
    assert!(db.scalar("SELECT count(*) FROM act_ru_incident WHERE id_ = root_cause_incident_id_").await > 0);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_incident i JOIN act_ru_job j ON j.id_ = i.configuration_ WHERE i.incident_type_ = 'failedJob' AND (j.retries_ <> 0 OR j.exception_stack_id_ IS NULL)").await, 0);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_incident WHERE id_ = root_cause_incident_id_ AND incident_type_ = 'failedJob' AND configuration_ NOT IN (SELECT id_ FROM act_ru_job)").await, 0);
    let chained = db.scalar("SELECT count(*) FROM act_ru_incident WHERE cause_incident_id_ <> id_").await;
    assert!(chained > 0);
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_incident i JOIN act_ru_incident c ON c.id_ = i.cause_incident_id_ JOIN act_ru_execution sub ON sub.id_ = c.proc_inst_id_ WHERE i.cause_incident_id_ <> i.id_ AND sub.super_exec_ = i.execution_id_").await, chained);

    // History mirrors runtime.
    let state_mismatch = "SELECT count(*) FROM act_ru_execution e LEFT JOIN act_hi_procinst h ON h.id_ = e.id_ \
        WHERE e.id_ = e.proc_inst_id_ AND (h.id_ IS NULL OR h.state_ <> CASE e.suspension_state_ WHEN 2 THEN 'SUSPENDED' ELSE 'ACTIVE' END \
        OR h.root_proc_inst_id_ <> e.root_proc_inst_id_)";
    assert_eq!(db.scalar(state_mismatch).await, 0);
    assert!(db.scalar("SELECT count(*) FROM act_hi_procinst WHERE state_ = 'SUSPENDED'").await > 0);
    for (runtime, history) in [
        ("SELECT count(*) FROM act_ru_execution WHERE id_ = proc_inst_id_", "SELECT count(*) FROM act_hi_procinst"),
        ("SELECT count(*) FROM act_ru_variable", "SELECT count(*) FROM act_hi_varinst WHERE state_ = 'CREATED'"),
        (
            "SELECT count(*) FROM act_ru_task",
            "SELECT count(*) FROM act_hi_taskinst WHERE task_state_ = 'Created' AND end_time_ IS NULL",
        ),
        ("SELECT count(*) FROM act_ru_incident", "SELECT count(*) FROM act_hi_incident WHERE incident_state_ = 0"),
        (
            "SELECT count(*) FROM act_ru_execution WHERE parent_id_ IS NOT NULL",
            "SELECT count(*) FROM act_hi_actinst WHERE end_time_ IS NULL",
        ),
        (
            "SELECT count(*) FROM act_ru_execution WHERE super_exec_ IS NOT NULL",
            "SELECT count(*) FROM act_hi_actinst a JOIN act_ru_execution s ON s.id_ = a.call_proc_inst_id_ AND s.super_exec_ = a.execution_id_",
        ),
    ] {
        assert_eq!(db.scalar(runtime).await, db.scalar(history).await, "{history}");
    }

    // Tenants follow the definition; start times lie in the 90 days before `until`.
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_execution e JOIN act_re_procdef d ON d.id_ = e.proc_def_id_ WHERE e.tenant_id_ IS DISTINCT FROM d.tenant_id_").await, 0);
    assert_eq!(db.scalar("SELECT count(*) FROM act_hi_procinst WHERE start_time_ < '2025-12-01' OR start_time_ >= '2026-03-01 00:00:01'").await, 0);
    assert_eq!(db.scalar("SELECT count(DISTINCT key_) FROM act_re_procdef").await, 5);
}

#[tokio::test]
async fn demo_rerun_with_the_same_seed_fails_helpfully_and_changes_nothing() {
    let db = TestDb::new().await;
    generate(&db.db, &options(50, 5)).await.unwrap();
    let before = row_counts(&db).await;

    let err = generate(&db.db, &options(80, 5)).await.unwrap_err();
    assert!(matches!(err, shared::Error::InvalidRequest(_)), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("seed 5") && message.contains("--seed"), "{message}");
    assert_eq!(row_counts(&db).await, before);
}

#[tokio::test]
async fn demo_rejects_invalid_options_by_name() {
    let db = TestDb::new().await;
    let err = generate(&db.db, &GenerateOptions { call_share: 2.0, ..options(10, 1) }).await.unwrap_err();
    assert!(err.to_string().contains("call_share"), "{err}");
    let err = generate(&db.db, &GenerateOptions { instances: 0, ..options(10, 1) }).await.unwrap_err();
    assert!(err.to_string().contains("instances"), "{err}");
    assert_eq!(db.scalar("SELECT count(*) FROM act_re_procdef").await, 0);
}

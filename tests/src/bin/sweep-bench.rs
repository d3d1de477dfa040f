//! `sweep-bench`: Sweep's benchmarks. Figures are printed, never asserted: compare them as
//! ratios measured in one run on one machine.
//!
//! ```text
//! sweep-bench core     [--instances N] [--chunk C] [--engine-sample M] [--seed S]
//! sweep-bench pipeline [--instances N] [--chunk C] [--seed S] [--workers 1,2,4] [--prefetch P] [--lookahead L] [--worker-connections K] [--core false] [--skip-custom-listeners true]
//!                      [--data generated|minimal] [--audit false] [--rounds R] [--side-by-side false]
//! sweep-bench snapshot [--sizes 10000,100000,1000000] [--ids seq,uuid] [--dry-run true]
//! sweep-bench auth     [--instances N] [--chunk C] [--pollers P] [--poll-interval-ms MS] [--rounds R] [--posts K]
//! sweep-bench protect  [--instances N] [--seconds S] [--clients C] [--workers W] [--prefetch P] [--target-latency D]
//! ```
//! `auth` runs the same deletion (API + 1 worker) on identical data with `auth.mode = none`
//! and as a non-admin user checked by Basic authentication, Camunda authorizations on every
//! selected instance and the per-instance operation log — while `P` clients poll the batch's
//! statistics (each once per `MS`, default 1000; 0: back to back) — and prints POST latency
//! (the median of `K` requests, default 5, all but the last batch deleted before a worker runs;
//! both modes' APIs run side by side and take turns), statistics p50/p99 and instances/s of
//! both, whose last batches run at the same time, each with a worker of its own, until the
//! first completes: over `R` rounds (default 2) that alternate the order of the two modes,
//! medians of POST and instances/s, p99 over all polls, and the median of each figure's
//! per-round ratio.
//! Every timed run (here and in `pipeline`) starts after a checkpoint.
//! `core` deletes identical copies of generated data three ways — engine-style (one statement
//! per row, one transaction per instance, as an ORM-driven engine does), hand-written set-based
//! SQL with one statement per table, and Sweep's deletion core — and prints instances/s and
//! rows/s. `pipeline` times request → batch complete with each number of worker processes
//! (`--workers 1,2,4`, each with `--prefetch` concurrent jobs, default 2), with p99 job duration
//! and peak memory of workers and API, and the core on an identical copy with as many
//! connections as the pipeline runs jobs at once, and prints `pipeline/core at equal connections`:
//! with `--rounds R`, the median of R such pairs. The core runs beside the pipeline, started with
//! its request, and both are timed until the last poll before either is done (roots committed by
//! then over the time since the request, with both sides' chunks in flight uncounted alike), so
//! that the machine's drift falls on both alike; `--side-by-side false`
//! runs them one after the other instead, every other round with the core first. Side by side,
//! each round also prints where both sides' database connections spent the race, sampled from
//! `pg_stat_activity` (deletion statements, transaction control, the pipeline's bookkeeping).
//! Every run deletes an identical copy of one generated database; both write the per-instance
//! operation log of the batch's creator unless `--audit false`. `--data minimal` deletes
//! minimal instances (one execution each, a fifth calling one more), which weighs the
//! pipeline's bookkeeping rather than the deletion statements.
//! `snapshot` times the POST of a deletion selecting N instances by query (`--sizes`, default
//! 10 000, 100 000 and 1 000 000; `--ids seq,uuid`; a fifth call a sub-instance; `--dry-run true`
//! times the dry run first), the API's peak memory before and after, and how long a worker then
//! takes to complete the item ledger.
//! `protect` runs pgbench's TPC-B-like load alone and then beside a running batch, with
//! `control.adaptive` off and on, and prints pgbench's latency both times (needs `pgbench`).
//! Databases are created on `TEST_DATABASE_URL`'s server (default 127.0.0.1:5432) and dropped.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait, Value};
use shared::deletion::{DeleteOptions, History, HistoryTables, InstanceAudit, RemovalTimeStrategy, delete_chunk};
use system_tests::{ApiClient, Proc, TEST_USER, TemplateDb, TestDb, free_port};

const RUNTIME_TABLES: &[&str] = &[
    "act_ru_execution",
    "act_ru_variable",
    "act_ru_task",
    "act_ru_identitylink",
    "act_ru_job",
    "act_ru_ext_task",
    "act_ru_event_subscr",
    "act_ru_incident",
    "act_ge_bytearray",
];
const HISTORY_ENDED: &[&str] = &["act_hi_procinst", "act_hi_actinst", "act_hi_taskinst", "act_hi_incident"];

struct Args {
    command: String,
    opts: HashMap<String, String>,
}

impl Args {
    fn parse() -> Self {
        let mut it = std::env::args().skip(1);
        let command = it.next().unwrap_or_else(|| "help".into());
        let mut opts = HashMap::new();
        while let Some(k) = it.next() {
            let v = it.next().unwrap_or_default();
            opts.insert(k.trim_start_matches("--").to_owned(), v);
        }
        Self { command, opts }
    }
    fn num(&self, key: &str, default: u64) -> u64 {
        self.opts.get(key).map(|v| v.parse().unwrap_or_else(|_| panic!("--{key} must be a number"))).unwrap_or(default)
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    match args.command.as_str() {
        "core" => core(&args).await,
        "pipeline" => pipeline(&args).await,
        "snapshot" => snapshot(&args).await,
        "auth" => auth(&args).await,
        "protect" => protect(&args).await,
        _ => {
            eprintln!("usage: sweep-bench core|pipeline|snapshot|auth|protect [options] (see the module documentation)")
        }
    }
}

/// A fresh database holding `n` generated roots (same seed, same data).
async fn generated(n: u64, seed: u64) -> TestDb {
    let db = TestDb::new().await;
    let options = shared::demo::GenerateOptions {
        instances: n,
        seed,
        until: Some(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
        ..Default::default()
    };
    shared::demo::generate(&db.db, &options).await.expect("generate");
    db.exec("VACUUM ANALYZE").await;
    db
}

async fn roots(db: &DatabaseConnection, limit: u64) -> Vec<String> {
    db.query_all_raw(Statement::from_string(
        DbBackend::Postgres,
        format!("SELECT id_ FROM act_ru_execution WHERE parent_id_ IS NULL AND super_exec_ IS NULL ORDER BY id_ LIMIT {limit}"),
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get::<String>("", "id_").unwrap())
    .collect()
}

/// (runtime rows, history rows ended)
async fn footprint(db: &TestDb) -> (i64, i64) {
    let mut runtime = 0;
    for t in RUNTIME_TABLES {
        runtime += db.scalar(&format!("SELECT count(*) FROM {t}")).await;
    }
    let mut ended = 0;
    for t in HISTORY_ENDED {
        ended += db.scalar(&format!("SELECT count(*) FROM {t} WHERE end_time_ IS NOT NULL")).await;
    }
    (runtime, ended)
}

struct Figures {
    mode: &'static str,
    instances: usize,
    secs: f64,
    runtime_rows: i64,
    history_rows: i64,
}

impl Figures {
    fn rate(&self) -> f64 {
        self.instances as f64 / self.secs
    }
    fn print(&self, baseline: Option<f64>) {
        println!(
            "{:<34} {:>8} roots {:>8.2} s {:>10.0} roots/s {:>10.0} runtime rows/s {:>9.0} history rows/s {}",
            self.mode,
            self.instances,
            self.secs,
            self.rate(),
            self.runtime_rows as f64 / self.secs,
            self.history_rows as f64 / self.secs,
            baseline.map(|b| format!("{:>6.1}x", self.rate() / b)).unwrap_or_default()
        );
    }
}

async fn measure<F, Fut>(mode: &'static str, db: &TestDb, ids: &[String], run: F) -> Figures
where
    F: FnOnce(DatabaseConnection, Vec<String>) -> Fut,
    Fut: Future<Output = ()>,
{
    let before = footprint(db).await;
    let started = Instant::now();
    run(db.db.clone(), ids.to_vec()).await;
    let secs = started.elapsed().as_secs_f64();
    let after = footprint(db).await;
    let left = db
        .scalar(&format!(
            "SELECT count(*) FROM act_ru_execution WHERE id_ IN ({})",
            ids.iter().map(|i| format!("'{i}'")).collect::<Vec<_>>().join(",")
        ))
        .await;
    assert_eq!(left, 0, "{mode} left instances behind");
    Figures { mode, instances: ids.len(), secs, runtime_rows: before.0 - after.0, history_rows: after.1 - before.1 }
}

async fn core(args: &Args) {
    let n = args.num("instances", 20_000);
    let chunk = args.num("chunk", 100) as usize;
    let sample = args.num("engine-sample", 2_000).min(n);
    let seed = args.num("seed", 7);
    println!("generating 4 identical copies of {n} root instances (seed {seed}) ...");
    let mut copies = Vec::new();
    for _ in 0..4 {
        copies.push(generated(n, seed).await);
    }
    let (rows, _) = footprint(&copies[0]).await;
    let mut history = 0;
    for t in HISTORY_ENDED {
        history += copies[0].scalar(&format!("SELECT count(*) FROM {t}")).await;
    }
    println!("per root: {:.1} runtime rows, {:.1} history rows", rows as f64 / n as f64, history as f64 / n as f64);
    let opts = DeleteOptions { delete_reason: Some("benchmark".into()), ..Default::default() };

    let ids = roots(&copies[0].db, sample).await;
    let engine = measure("engine-style (row by row, 1 tx/root)", &copies[0], &ids, |db, ids| async move {
        for id in ids {
            engine_style_delete(&db, &id).await;
        }
    })
    .await;

    let ids = roots(&copies[1].db, n).await;
    let o = opts.clone();
    let statements = measure("set-based, one statement per table", &copies[1], &ids, |db, ids| async move {
        for c in ids.chunks(chunk) {
            statement_per_table_delete(&db, c, &o).await;
        }
    })
    .await;

    let ids = roots(&copies[2].db, n).await;
    let o = opts.clone();
    let core1 = measure("deletion core, 1 connection", &copies[2], &ids, |db, ids| async move {
        for c in ids.chunks(chunk) {
            let txn = db.begin().await.unwrap();
            delete_chunk(&txn, c, &o, shared::camunda::now_naive(), None, &bench_history()).await.unwrap();
            txn.commit().await.unwrap();
        }
    })
    .await;

    let ids = roots(&copies[3].db, n).await;
    let o = opts.clone();
    let core2 = measure("deletion core, 2 connections", &copies[3], &ids, |db, ids| async move {
        let mut tasks = tokio::task::JoinSet::new();
        let halves: Vec<Vec<String>> = ids.chunks(ids.len().div_ceil(2)).map(<[String]>::to_vec).collect();
        for half in halves {
            let (db, o) = (db.clone(), o.clone());
            tasks.spawn(async move {
                for c in half.chunks(chunk) {
                    let txn = db.begin().await.unwrap();
                    delete_chunk(&txn, c, &o, shared::camunda::now_naive(), None, &bench_history()).await.unwrap();
                    txn.commit().await.unwrap();
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    })
    .await;

    println!("\nchunk size {chunk}; ratios against engine-style:");
    engine.print(None);
    for f in [&statements, &core1, &core2] {
        f.print(Some(engine.rate()));
    }
    println!("core (1 connection) / one-statement-per-table: {:.2}", core1.rate() / statements.rate());
}

/// One instance the way an ORM-driven engine deletes it: load, then one statement per row.
async fn engine_style_delete(db: &DatabaseConnection, root: &str) {
    let txn = db.begin().await.unwrap();
    let q = |sql: &str, v: Vec<Value>| Statement::from_sql_and_values(DbBackend::Postgres, sql, v);
    let ids = |rows: Vec<sea_orm::QueryResult>, col: &str| -> Vec<Option<String>> {
        rows.iter().map(|r| r.try_get::<Option<String>>("", col).unwrap()).collect()
    };
    // The instance tree: this instance and, depth first, the instances its executions call.
    let mut instances = vec![root.to_owned()];
    let mut i = 0;
    while i < instances.len() {
        let execs = txn
            .query_all_raw(q(
                "SELECT * FROM act_ru_execution WHERE proc_inst_id_ = $1",
                vec![instances[i].clone().into()],
            ))
            .await
            .unwrap();
        for e in ids(execs, "id_").into_iter().flatten() {
            let subs = txn
                .query_all_raw(q("SELECT * FROM act_ru_execution WHERE super_exec_ = $1", vec![e.into()]))
                .await
                .unwrap();
            instances.extend(ids(subs, "id_").into_iter().flatten());
        }
        i += 1;
    }
    let now = shared::camunda::now_naive();
    for pi in instances.iter().rev() {
        let p: Value = pi.clone().into();
        for inc in ids(
            txn.query_all_raw(q(
                "SELECT * FROM act_ru_incident WHERE proc_inst_id_ = $1 ORDER BY cause_incident_id_ NULLS LAST",
                vec![p.clone()],
            ))
            .await
            .unwrap(),
            "id_",
        )
        .into_iter()
        .flatten()
        {
            txn.execute_raw(q(
                "UPDATE act_hi_incident SET end_time_ = $2, incident_state_ = 2 WHERE id_ = $1",
                vec![inc.clone().into(), now.into()],
            ))
            .await
            .unwrap();
            txn.execute_raw(q(
                "DELETE FROM act_ru_incident WHERE cause_incident_id_ = $1 OR root_cause_incident_id_ = $1",
                vec![inc.clone().into()],
            ))
            .await
            .unwrap();
            txn.execute_raw(q("DELETE FROM act_ru_incident WHERE id_ = $1", vec![inc.into()])).await.unwrap();
        }
        for row in txn
            .query_all_raw(q("SELECT * FROM act_ru_variable WHERE proc_inst_id_ = $1", vec![p.clone()]))
            .await
            .unwrap()
        {
            let id: String = row.try_get("", "id_").unwrap();
            txn.execute_raw(q("DELETE FROM act_ru_variable WHERE id_ = $1", vec![id.into()])).await.unwrap();
            if let Some(b) = row.try_get::<Option<String>>("", "bytearray_id_").unwrap() {
                txn.execute_raw(q("DELETE FROM act_ge_bytearray WHERE id_ = $1", vec![b.into()])).await.unwrap();
            }
        }
        for task in ids(
            txn.query_all_raw(q("SELECT * FROM act_ru_task WHERE proc_inst_id_ = $1", vec![p.clone()])).await.unwrap(),
            "id_",
        )
        .into_iter()
        .flatten()
        {
            for link in ids(
                txn.query_all_raw(q(
                    "SELECT * FROM act_ru_identitylink WHERE task_id_ = $1",
                    vec![task.clone().into()],
                ))
                .await
                .unwrap(),
                "id_",
            )
            .into_iter()
            .flatten()
            {
                txn.execute_raw(q("DELETE FROM act_ru_identitylink WHERE id_ = $1", vec![link.into()])).await.unwrap();
            }
            txn.execute_raw(q("UPDATE act_hi_taskinst SET end_time_ = $2, duration_ = 0, delete_reason_ = 'benchmark', task_state_ = 'Deleted' WHERE id_ = $1", vec![task.clone().into(), now.into()])).await.unwrap();
            txn.execute_raw(q("DELETE FROM act_ru_task WHERE id_ = $1", vec![task.into()])).await.unwrap();
        }
        let execs = txn
            .query_all_raw(q(
                "SELECT * FROM act_ru_execution WHERE proc_inst_id_ = $1 ORDER BY parent_id_ NULLS LAST",
                vec![p.clone()],
            ))
            .await
            .unwrap();
        for e in ids(execs, "id_").into_iter().flatten() {
            let ev: Value = e.clone().into();
            for row in txn
                .query_all_raw(q("SELECT * FROM act_ru_job WHERE execution_id_ = $1", vec![ev.clone()]))
                .await
                .unwrap()
            {
                txn.execute_raw(q(
                    "DELETE FROM act_ru_job WHERE id_ = $1",
                    vec![row.try_get::<String>("", "id_").unwrap().into()],
                ))
                .await
                .unwrap();
                if let Some(b) = row.try_get::<Option<String>>("", "exception_stack_id_").unwrap() {
                    txn.execute_raw(q("DELETE FROM act_ge_bytearray WHERE id_ = $1", vec![b.into()])).await.unwrap();
                }
            }
            for row in txn
                .query_all_raw(q("SELECT * FROM act_ru_ext_task WHERE execution_id_ = $1", vec![ev.clone()]))
                .await
                .unwrap()
            {
                txn.execute_raw(q(
                    "DELETE FROM act_ru_ext_task WHERE id_ = $1",
                    vec![row.try_get::<String>("", "id_").unwrap().into()],
                ))
                .await
                .unwrap();
                if let Some(b) = row.try_get::<Option<String>>("", "error_details_id_").unwrap() {
                    txn.execute_raw(q("DELETE FROM act_ge_bytearray WHERE id_ = $1", vec![b.into()])).await.unwrap();
                }
            }
            for s in ids(
                txn.query_all_raw(q("SELECT * FROM act_ru_event_subscr WHERE execution_id_ = $1", vec![ev.clone()]))
                    .await
                    .unwrap(),
                "id_",
            )
            .into_iter()
            .flatten()
            {
                txn.execute_raw(q("DELETE FROM act_ru_event_subscr WHERE id_ = $1", vec![s.into()])).await.unwrap();
            }
        }
        for a in ids(
            txn.query_all_raw(q(
                "SELECT * FROM act_hi_actinst WHERE proc_inst_id_ = $1 AND end_time_ IS NULL",
                vec![p.clone()],
            ))
            .await
            .unwrap(),
            "id_",
        )
        .into_iter()
        .flatten()
        {
            txn.execute_raw(q(
                "UPDATE act_hi_actinst SET end_time_ = $2, duration_ = 0, act_inst_state_ = 2 WHERE id_ = $1",
                vec![a.into(), now.into()],
            ))
            .await
            .unwrap();
        }
        // Children before parents, one row at a time.
        let execs = txn
            .query_all_raw(q(
                "SELECT id_ FROM act_ru_execution WHERE proc_inst_id_ = $1 ORDER BY (id_ = proc_inst_id_), id_",
                vec![p.clone()],
            ))
            .await
            .unwrap();
        for e in ids(execs, "id_").into_iter().flatten() {
            txn.execute_raw(q("DELETE FROM act_ru_execution WHERE id_ = $1", vec![e.into()])).await.unwrap();
        }
        txn.execute_raw(q(
            "UPDATE act_hi_procinst SET end_time_ = $2, duration_ = 0, state_ = 'EXTERNALLY_TERMINATED', delete_reason_ = 'benchmark' WHERE id_ = $1",
            vec![p, now.into()],
        ))
        .await
        .unwrap();
    }
    txn.commit().await.unwrap();
}

/// Hand-written set-based SQL, one statement per table, children first.
async fn statement_per_table_delete(db: &DatabaseConnection, roots: &[String], o: &DeleteOptions) {
    let txn = db.begin().await.unwrap();
    let tree = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "WITH RECURSIVE t(id) AS (SELECT unnest($1::varchar[]) UNION
               SELECT s.id_ FROM t JOIN act_ru_execution c ON c.proc_inst_id_ = t.id JOIN act_ru_execution s ON s.super_exec_ = c.id_)
             SELECT e.id_ FROM act_ru_execution e WHERE e.id_ IN (SELECT id FROM t) ORDER BY e.id_ FOR UPDATE",
            [Value::from(roots.to_vec())],
        ))
        .await
        .unwrap();
    let p: Vec<String> = tree.iter().map(|r| r.try_get::<String>("", "id_").unwrap()).collect();
    let now = shared::camunda::now_naive();
    // The same work as the core: incidents caused by these instances' incidents, and
    // authorizations, go too.
    let stmts = [
        "UPDATE act_hi_incident SET end_time_ = $2, incident_state_ = 2 WHERE id_ IN (SELECT id_ FROM act_ru_incident WHERE proc_inst_id_ = ANY($1) OR cause_incident_id_ IN (SELECT id_ FROM act_ru_incident WHERE proc_inst_id_ = ANY($1)) OR root_cause_incident_id_ IN (SELECT id_ FROM act_ru_incident WHERE proc_inst_id_ = ANY($1))) AND end_time_ IS NULL AND $3::text IS NOT NULL",
        "DELETE FROM act_ru_incident WHERE (proc_inst_id_ = ANY($1) OR cause_incident_id_ IN (SELECT id_ FROM act_ru_incident WHERE proc_inst_id_ = ANY($1)) OR root_cause_incident_id_ IN (SELECT id_ FROM act_ru_incident WHERE proc_inst_id_ = ANY($1))) AND $2::timestamp IS NOT NULL AND $3::text IS NOT NULL",
        "DELETE FROM act_ru_authorization WHERE ((resource_type_ = 8 AND resource_id_ = ANY($1)) OR (resource_type_ = 7 AND resource_id_ IN (SELECT id_ FROM act_ru_task WHERE proc_inst_id_ = ANY($1)))) AND $2::timestamp IS NOT NULL AND $3::text IS NOT NULL",
        "UPDATE act_hi_taskinst SET end_time_ = $2, delete_reason_ = $3, task_state_ = 'Deleted', duration_ = (EXTRACT(EPOCH FROM ($2 - start_time_)) * 1000)::bigint WHERE id_ IN (SELECT id_ FROM act_ru_task WHERE proc_inst_id_ = ANY($1))",
        "DELETE FROM act_ru_identitylink WHERE task_id_ IN (SELECT id_ FROM act_ru_task WHERE proc_inst_id_ = ANY($1)) AND $2::timestamp IS NOT NULL AND $3::text IS NOT NULL",
        "DELETE FROM act_ru_task WHERE proc_inst_id_ = ANY($1) AND $2::timestamp IS NOT NULL AND $3::text IS NOT NULL",
        "WITH d AS (DELETE FROM act_ru_variable WHERE proc_inst_id_ = ANY($1) RETURNING bytearray_id_) DELETE FROM act_ge_bytearray WHERE id_ IN (SELECT bytearray_id_ FROM d) AND $2::timestamp IS NOT NULL AND $3::text IS NOT NULL",
        "WITH d AS (DELETE FROM act_ru_job WHERE process_instance_id_ = ANY($1) RETURNING exception_stack_id_) DELETE FROM act_ge_bytearray WHERE id_ IN (SELECT exception_stack_id_ FROM d) AND $2::timestamp IS NOT NULL AND $3::text IS NOT NULL",
        "WITH d AS (DELETE FROM act_ru_ext_task WHERE execution_id_ IN (SELECT id_ FROM act_ru_execution WHERE proc_inst_id_ = ANY($1)) RETURNING error_details_id_) DELETE FROM act_ge_bytearray WHERE id_ IN (SELECT error_details_id_ FROM d) AND $2::timestamp IS NOT NULL AND $3::text IS NOT NULL",
        "DELETE FROM act_ru_event_subscr WHERE execution_id_ IN (SELECT id_ FROM act_ru_execution WHERE proc_inst_id_ = ANY($1)) AND $2::timestamp IS NOT NULL AND $3::text IS NOT NULL",
        "UPDATE act_hi_actinst SET end_time_ = $2, act_inst_state_ = 2, duration_ = (EXTRACT(EPOCH FROM ($2 - start_time_)) * 1000)::bigint WHERE proc_inst_id_ = ANY($1) AND end_time_ IS NULL AND $3::text IS NOT NULL",
        "DELETE FROM act_ru_execution WHERE proc_inst_id_ = ANY($1) AND $2::timestamp IS NOT NULL AND $3::text IS NOT NULL",
        "UPDATE act_hi_procinst SET end_time_ = $2, state_ = 'EXTERNALLY_TERMINATED', delete_reason_ = $3, end_act_id_ = NULL, duration_ = (EXTRACT(EPOCH FROM ($2 - start_time_)) * 1000)::bigint WHERE id_ = ANY($1)",
    ];
    let reason = o.delete_reason.clone().unwrap_or_default();
    for sql in stmts {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [Value::from(p.clone()), now.into(), reason.clone().into()],
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    txn.commit().await.unwrap();
}

/// Peak resident memory of a process, in MiB (Linux `VmHWM`).
fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<f64>().unwrap_or(0.0))
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// CPU seconds (user + system) process `pid` has used so far; 0 when it is gone. Linux's
/// `/proc/<pid>/stat` counts in clock ticks of 1/100 s.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) start at the state, field 3.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The pids of RabbitMQ's Erlang VM on this machine (none when the broker runs elsewhere).
fn broker_pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "beam.smp"))
        .collect()
}

/// The machine's CPU time so far, in clock ticks: (busy, idle) summed over all cores.
fn machine_ticks() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<f64> =
        stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    (v.iter().sum::<f64>() - idle, idle)
}

/// Where a run's CPU went: the share of the machine left idle, and the seconds of the broker.
struct CpuWatch {
    machine: (f64, f64),
    broker: f64,
}

impl CpuWatch {
    fn start() -> Self {
        Self { machine: machine_ticks(), broker: broker_pids().into_iter().map(cpu_secs).sum() }
    }

    /// (idle share of the machine, broker CPU seconds) since [`CpuWatch::start`].
    fn stop(&self) -> (f64, f64) {
        let (busy, idle) = machine_ticks();
        let (busy, idle) = (busy - self.machine.0, idle - self.machine.1);
        let broker: f64 = broker_pids().into_iter().map(cpu_secs).sum();
        (idle / (busy + idle).max(1.0), broker - self.broker)
    }
}

fn exe_beside(name: &str) -> String {
    let me = std::env::current_exe().expect("own path");
    me.with_file_name(name).to_string_lossy().into_owned()
}

/// The deletion core alone on `connections` connections, chunks of `chunk` in a transaction
/// each; `audit`: the per-instance operation-log rows the pipeline's deletion statements write
/// for its batch's creator, so that both do the same deletion work.
async fn core_with_connections(
    db: &TestDb,
    ids: &[String],
    chunk: usize,
    connections: usize,
    audit: Option<InstanceAudit>,
) -> Figures {
    let pool = core_pool(db, connections).await;
    measure("deletion core", db, ids, |_, ids| async move {
        let mut core = CoreTasks::spawn(&pool, &ids, chunk, connections, audit);
        while core.tasks.join_next().await.is_some() {}
    })
    .await
}

/// A pool of `connections` on `db`, its sessions set up as Sweep's own are.
async fn core_pool(db: &TestDb, connections: usize) -> DatabaseConnection {
    shared::db::connect_with(&db.settings(&[]).database, "sweep-bench", connections as u32).await.expect("connect")
}

/// The deletion core at work: `connections` tasks, each taking the next chunk as a worker
/// takes the next job and deleting it in a transaction of its own.
struct CoreTasks {
    tasks: tokio::task::JoinSet<()>,
    /// Roots in committed chunks so far.
    deleted: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Chunks still to take.
    queue: std::sync::Arc<std::sync::Mutex<std::vec::IntoIter<Vec<String>>>>,
}

impl CoreTasks {
    /// Starts deleting `ids` in chunks of `chunk` over `pool` (see [`core_with_connections`]).
    fn spawn(
        pool: &DatabaseConnection,
        ids: &[String],
        chunk: usize,
        connections: usize,
        audit: Option<InstanceAudit>,
    ) -> Self {
        let chunks: Vec<Vec<String>> = ids.chunks(chunk).map(<[String]>::to_vec).collect();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(chunks.into_iter()));
        let deleted = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let opts =
            DeleteOptions { delete_reason: Some("benchmark".into()), fail_if_not_exists: true, ..Default::default() };
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..connections {
            let (pool, queue, deleted, o, audit) =
                (pool.clone(), queue.clone(), deleted.clone(), opts.clone(), audit.clone());
            tasks.spawn(async move {
                loop {
                    let Some(c) = queue.lock().unwrap().next() else { break };
                    let txn = pool.begin().await.unwrap();
                    let now = shared::camunda::now_naive();
                    delete_chunk(&txn, &c, &o, now, audit.as_ref(), &bench_history()).await.unwrap();
                    txn.commit().await.unwrap();
                    deleted.fetch_add(c.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
        Self { tasks, deleted, queue }
    }
}

/// p99 of a Prometheus histogram summed over `scrapes`: the upper bound of the first bucket
/// holding 99 % of the observations.
fn histogram_p99(scrapes: &[String], name: &str) -> Option<f64> {
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for text in scrapes {
        for line in text.lines().filter(|l| l.starts_with(&format!("{name}_bucket{{"))) {
            let le = line.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            let n: f64 = line.rsplit(' ').next()?.parse().ok()?;
            match buckets.iter_mut().find(|(b, _)| *b == le) {
                Some(entry) => entry.1 += n,
                None => buckets.push((le, n)),
            }
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last()?.1;
    buckets.iter().find(|(_, n)| *n >= 0.99 * total).map(|(le, _)| *le)
}

async fn scrape(port: u16) -> String {
    match reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// The sum of every series of counter `name` in `scrapes`.
fn counter_sum(scrapes: &[String], name: &str) -> f64 {
    let series = |l: &&str| l.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' ']));
    scrapes
        .iter()
        .flat_map(|text| text.lines().filter(series))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// What the pipeline bench varies and holds fixed.
struct PipelineRun {
    n: u64,
    chunk: u64,
    prefetch: usize,
    lookahead: u64,
    /// Each worker's database pool.
    pool: usize,
    skip_listeners: bool,
    audit: bool,
}

/// One pipeline run's figures.
struct PipelineFigures {
    rate: f64,
    line: String,
    /// The core's roots/s over the same time, when it ran beside the pipeline ([`CoreRival`]).
    beside: Option<f64>,
}

async fn pipeline(args: &Args) {
    let seed = args.num("seed", 11);
    let run = PipelineRun {
        n: args.num("instances", 100_000),
        chunk: args.num("chunk", 100),
        prefetch: args.num("prefetch", 2) as usize,
        lookahead: args.num("lookahead", 1),
        pool: args.num("worker-connections", args.num("prefetch", 2) + 3) as usize,
        skip_listeners: args.opts.get("skip-custom-listeners").is_some_and(|v| v == "true"),
        audit: args.opts.get("audit").is_none_or(|v| v != "false"),
    };
    let rounds = args.num("rounds", 1).max(1) as usize;
    let worker_counts: Vec<usize> = args
        .opts
        .get("workers")
        .map(|w| w.split(',').map(|n| n.parse().expect("--workers 1,2")).collect())
        .unwrap_or_else(|| vec![1, 2]);
    let with_core = args.opts.get("core").is_none_or(|v| v != "false");
    let side_by_side = with_core && args.opts.get("side-by-side").is_none_or(|v| v != "false");
    let minimal = args.opts.get("data").is_some_and(|v| v == "minimal");
    println!("generating {} {} roots ...", run.n, if minimal { "minimal" } else { "generated" });
    let source = if minimal { minimal_roots(run.n).await } else { generated(run.n, seed).await.into_template().await };
    for workers in worker_counts {
        let connections = workers * run.prefetch;
        let mut ratios = Vec::new();
        for round in 0..rounds {
            let core_rate = if side_by_side {
                let figures = pipeline_run(&source, &run, workers, Some(connections)).await;
                println!("{}", figures.line);
                figures.beside.map(|core| (figures.rate, core))
            } else {
                // Alternate which side goes first, so that a drift of the machine falls on both.
                let core_first = with_core && round % 2 == 1;
                let before = if core_first { Some(core_run(&source, &run, connections).await) } else { None };
                let figures = pipeline_run(&source, &run, workers, None).await;
                println!("{}", figures.line);
                let core = match before {
                    Some(rate) => Some(rate),
                    None if with_core => Some(core_run(&source, &run, connections).await),
                    None => None,
                };
                if let Some(core) = core {
                    println!("deletion core, {connections} connection(s): {core:.0} roots/s");
                }
                core.map(|core| (figures.rate, core))
            };
            if let Some((pipeline, core)) = core_rate {
                ratios.push(pipeline / core);
                if rounds > 1 {
                    println!("  round {}: pipeline/core {:.2}", round + 1, pipeline / core);
                }
            }
        }
        if !ratios.is_empty() {
            let per_round = ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", ");
            let median = median(ratios);
            let how = if side_by_side { ", side by side" } else { "" };
            let of = if rounds > 1 { format!(" (median of {rounds} rounds{how}: {per_round})") } else { String::new() };
            println!("pipeline/core at equal connections ({connections} conn): {median:.2}{of}");
        }
    }
}

/// The deletion core racing a pipeline run: it deletes an identical copy of the pipeline's
/// roots over as many connections as the pipeline runs jobs at once, chunk by chunk as a worker
/// takes job after job, from the moment the pipeline's batch is requested until either side is
/// done, so that whatever the machine does meanwhile falls on both alike.
struct CoreRival {
    db: TestDb,
    core: CoreTasks,
    /// Roots to delete in all.
    total: u64,
}

impl CoreRival {
    /// Copies `source` and connects, ready to start.
    async fn prepare(source: &TemplateDb, run: &PipelineRun) -> (TestDb, Vec<String>) {
        let db = source.copy().await;
        let ids = roots(&db.db, run.n).await;
        (db, ids)
    }

    /// Starts deleting `ids` of `db` on `connections` connections.
    async fn start(db: TestDb, ids: Vec<String>, run: &PipelineRun, connections: usize) -> Self {
        let audit = run.audit.then(|| InstanceAudit { user_id: TEST_USER.0.into(), batch_id: "sweep-bench".into() });
        let core = CoreTasks::spawn(&core_pool(&db, connections).await, &ids, run.chunk as usize, connections, audit);
        Self { db, core, total: ids.len() as u64 }
    }

    /// Roots deleted so far.
    fn deleted(&self) -> u64 {
        self.core.deleted.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Takes no further chunk and waits for those in flight.
    async fn stop(mut self) {
        self.core.queue.lock().unwrap().by_ref().for_each(drop);
        while self.core.tasks.join_next().await.is_some() {}
        drop(self.db);
    }
}

/// Where the two sides of a race spend their database connections: the active backends of
/// both databases, sampled from `pg_stat_activity` every 20 ms by statement. At the end a
/// statement the core also ran counts as deletion, `BEGIN`/`COMMIT` as transaction control, and
/// any other (the pipeline's API and workers only; the bench's own queries are left out) as
/// bookkeeping — so the line says how much of the pipeline's database time is its own.
struct ActivitySampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<Activity>,
}

/// Samples taken, and how often each statement was seen active, keyed by (core's side, its
/// first characters).
type Activity = (u64, HashMap<(bool, String), u64>);

impl ActivitySampler {
    fn start(db: &TestDb, pipeline: &str, core: &str) -> Self {
        let sql = format!(
            "SELECT (datname = '{core}')::int || '|' || regexp_replace(left(query, 48), '\\s+', ' ', 'g')
               FROM pg_stat_activity
              WHERE state = 'active' AND pid <> pg_backend_pid() AND datname IN ('{pipeline}', '{core}')
                AND application_name IN ('sweep-api', 'sweep-worker', 'sweep-bench')"
        );
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (db, flag) = (db.db.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let (mut samples, mut seen) = (0, HashMap::new());
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let rows = db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql.clone())).await;
                for row in rows.into_iter().flatten() {
                    let Ok(v) = row.try_get_by_index::<String>(0) else { continue };
                    let (side, query) = v.split_once('|').unwrap_or(("0", &v));
                    *seen.entry((side == "1", query.to_owned())).or_insert(0) += 1;
                }
                samples += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (samples, seen)
        });
        Self { stop, task }
    }

    /// Stops sampling and describes both sides.
    async fn report(self) -> String {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (samples, seen) = self.task.await.unwrap_or_default();
        let core_statements: std::collections::HashSet<&String> =
            seen.keys().filter(|(core, _)| *core).map(|(_, q)| q).collect();
        let kind = |q: &String| match q.as_str() {
            "BEGIN" | "COMMIT" => 1,
            _ if core_statements.contains(q) => 0,
            _ => 2,
        };
        let side = |core: bool| {
            let mut by_kind = [0u64; 3];
            let mut own: Vec<(&String, u64)> = Vec::new();
            for ((c, q), n) in &seen {
                if *c == core {
                    by_kind[kind(q)] += n;
                    if kind(q) == 2 {
                        own.push((q, *n));
                    }
                }
            }
            let total = by_kind.iter().sum::<u64>().max(1) as f64;
            own.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
            let top: Vec<String> =
                own.iter().take(3).map(|(q, n)| format!("{:.1} % {q}", *n as f64 * 100.0 / total)).collect();
            let share = |k: usize| by_kind[k] as f64 * 100.0 / total;
            let mut text = format!(
                "{:.2} connections busy: deletion {:.1} %, BEGIN/COMMIT {:.1} %",
                total / samples.max(1) as f64,
                share(0),
                share(1)
            );
            if !core {
                text.push_str(&format!(", bookkeeping {:.1} % ({})", share(2), top.join("; ")));
            }
            text
        };
        format!("  database time, sampled {samples} times: pipeline {}; core {}", side(false), side(true))
    }
}

/// Request → batch complete on a fresh copy of `source` with `workers` worker processes; with
/// `beside` connections, the core races it ([`CoreRival`]) and both are timed until just before
/// the first is done ([`race`]).
async fn pipeline_run(
    source: &TemplateDb,
    run: &PipelineRun,
    workers: usize,
    beside: Option<usize>,
) -> PipelineFigures {
    let (n, prefetch) = (run.n, run.prefetch);
    let db = source.copy().await;
    // The rival's copy is ready before anything is timed; it starts with the request.
    let rival_data = match beside {
        Some(connections) => Some((CoreRival::prepare(source, run).await, connections)),
        None => None,
    };
    let port = free_port();
    let env = db.env(&[
        ("SWEEP__HTTP__BIND", &format!("127.0.0.1:{port}")),
        ("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", &run.chunk.to_string()),
        ("SWEEP__TELEMETRY__FILTER", "warn"),
        ("SWEEP__AMQP__QUEUE_TYPE", "quorum"),
        ("SWEEP__AMQP__PREFETCH", &prefetch.to_string()),
        ("SWEEP__AMQP__LOOKAHEAD", &run.lookahead.to_string()),
        ("SWEEP__DATABASE__MAX_CONNECTIONS", &run.pool.to_string()),
        ("SWEEP__AUDIT__PER_INSTANCE", &run.audit.to_string()),
    ]);
    let mut api = Proc::start(&exe_beside("sweep-api-it"), &["serve"], &env);
    let http = ApiClient::for_settings(&shared::Settings::load_from(env.clone()).expect("settings"));
    http.wait_ready(Duration::from_secs(30)).await;
    let metrics_ports: Vec<u16> = (0..workers).map(|_| free_port()).collect();
    let mut procs: Vec<Proc> = metrics_ports
        .iter()
        .map(|p| {
            let mut worker_env = env.clone();
            worker_env.insert("SWEEP__HTTP__BIND".into(), format!("127.0.0.1:{p}"));
            Proc::start(&exe_beside("sweep-worker-it"), &[], &worker_env)
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pids: Vec<u32> = procs.iter().chain([&api]).map(|p| p.child.id().unwrap_or(0)).collect();
    checkpoint(&db).await;
    let cpu_before: Vec<f64> = pids.iter().map(|p| cpu_secs(*p)).collect();
    let watch = CpuWatch::start();
    let started = Instant::now();
    let rival = match rival_data {
        Some(((core_db, ids), connections)) => Some(CoreRival::start(core_db, ids, run, connections).await),
        None => None,
    };
    let sampler = rival.as_ref().map(|r| ActivitySampler::start(&db, &db.name, &r.db.name));
    let id = http
        .start_deletion(&serde_json::json!({
            "processInstanceQuery": {"rootProcessInstances": true},
            "deleteReason": "benchmark",
            "skipCustomListeners": run.skip_listeners
        }))
        .await;
    let post_ms = started.elapsed().as_millis();
    let (secs, deleted, core_deleted) = match &rival {
        None => {
            let done = format!("SELECT count(*) FROM sweep_hi_batch WHERE id_ = '{id}' AND end_time_ IS NOT NULL");
            while db.scalar(&done).await != 1 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (started.elapsed().as_secs_f64(), n, None)
        }
        Some(rival) => {
            let (secs, deleted, core) = race(&db, &id, rival, started).await;
            (secs, deleted, Some(core))
        }
    };
    let activity = match sampler {
        Some(sampler) => Some(sampler.report().await),
        None => None,
    };
    let (idle, broker_secs) = watch.stop();
    let cpu: Vec<f64> = pids.iter().zip(&cpu_before).map(|(p, before)| cpu_secs(*p) - before).collect();
    if let Some(rival) = rival {
        rival.stop().await;
    }
    let jobs =
        db.scalar(&format!("SELECT count(*) FROM sweep_hi_job_log WHERE batch_id_ = '{id}' AND job_state_ = 2")).await;
    let worker_ms_per_job = cpu[..workers].iter().sum::<f64>() * 1000.0 / jobs.max(1) as f64;
    // Where the time outside the jobs went: creation → first job's start, and the last job's
    // log entry → completion.
    let phase =
        |sql: &str| format!("SELECT (extract(epoch FROM {sql}) * 1000)::bigint FROM sweep_hi_batch WHERE id_ = '{id}'");
    let startup_ms = db.scalar(&phase("exec_start_time_ - start_time_")).await;
    let last_ms = if core_deleted.is_none() {
        let last =
            "end_time_ - (SELECT max(timestamp_) FROM sweep_hi_job_log WHERE job_state_ = 2 AND batch_id_ = id_)";
        format!("{} ms", db.scalar(&phase(last)).await)
    } else {
        "-".into()
    };
    let mut scrapes = Vec::new();
    for p in &metrics_ports {
        scrapes.push(scrape(*p).await);
    }
    let p99 = histogram_p99(&scrapes, "sweep_worker_job_duration_seconds");
    let parked = counter_sum(&scrapes, shared::metrics::JOBS_PARKED);
    let limit_changes = counter_sum(&scrapes, shared::metrics::CONTROL_ADJUSTMENTS);
    let rss: Vec<f64> = procs.iter().map(|p| peak_rss_mib(p.child.id().unwrap_or(0))).collect();
    let api_rss = peak_rss_mib(api.child.id().unwrap_or(0));
    for p in &mut procs {
        p.terminate().await;
    }
    api.terminate().await;
    drop(db);
    let rate = deleted as f64 / secs;
    let mut line = format!(
        "pipeline, {workers} worker(s) × prefetch {prefetch}: {deleted} of {n} roots in {secs:.2} s = {rate:.0} roots/s; POST {post_ms} ms; \
         job p99 ≤ {} s; worker peak RSS {rss:.1?} MiB; API peak RSS {api_rss:.1} MiB; \
         creation → first job {startup_ms} ms, last job → completion {last_ms}; \
         CPU: workers {worker_ms_per_job:.1} ms a job, API {:.2} s, broker {broker_secs:.2} s, machine idle {:.1} %; \
         jobs parked {parked}, limit changes {limit_changes}",
        p99.map_or("?".into(), |v| format!("{v}")),
        cpu[workers],
        idle * 100.0
    );
    let beside = core_deleted.zip(beside).map(|(core, connections)| {
        let core_rate = core as f64 / secs;
        line.push_str(&format!(
            "\n  beside it, deletion core, {connections} connection(s): {core} roots in the same {secs:.2} s = {core_rate:.0} roots/s"
        ));
        core_rate
    });
    if let Some(activity) = activity {
        line.push('\n');
        line.push_str(&activity);
    }
    PipelineFigures { rate, line, beside }
}

/// Follows a pipeline run and its rival until either has deleted all its roots, and returns the
/// figures of the last poll before that: seconds since the request, roots in the pipeline's
/// done jobs and roots in the core's committed chunks. Both sides then have chunks in flight
/// that are not counted, alike; at the moment one side finishes, only the other would.
async fn race(db: &TestDb, id: &str, rival: &CoreRival, started: Instant) -> (f64, u64, u64) {
    let committed = format!(
        "SELECT coalesce(sum(deleted_), 0)::bigint FROM sweep_batch_job WHERE batch_id_ = '{id}' AND state_ = 'done'"
    );
    let mut last = (0.0, 0, 0);
    loop {
        let core = rival.deleted();
        let at = started.elapsed().as_secs_f64();
        let pipeline = db.scalar(&committed).await as u64;
        if core >= rival.total || pipeline >= rival.total {
            return last;
        }
        last = (at, pipeline, core);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The deletion core alone on a fresh copy of `source`, over `connections` connections; roots/s.
async fn core_run(source: &TemplateDb, run: &PipelineRun, connections: usize) -> f64 {
    let copy = source.copy().await;
    let ids = roots(&copy.db, run.n).await;
    // The same per-instance audit rows as the pipeline's batch, created by the test user.
    let audit = run.audit.then(|| InstanceAudit { user_id: TEST_USER.0.into(), batch_id: "sweep-bench".into() });
    checkpoint(&copy).await;
    let watch = CpuWatch::start();
    let rate = core_with_connections(&copy, &ids, run.chunk as usize, connections, audit).await.rate();
    let (idle, _) = watch.stop();
    println!("deletion core: machine idle {:.1} %", idle * 100.0);
    rate
}

/// Minimal running instances `1..=n` of definition `bench`, ids sequential (`pi-<n>`) or random
/// UUIDs as Camunda generates them; a fifth call a sub-instance of `bench-sub`.
async fn minimal_instances(db: &TestDb, n: u64, uuid_ids: bool) {
    let id = if uuid_ids { "gen_random_uuid()::varchar" } else { "'pi-' || g" };
    db.exec(&format!(
        "INSERT INTO act_re_procdef (id_, key_, version_) VALUES ('bench:1', 'bench', 1), ('bench-sub:1', 'bench-sub', 1);
         CREATE TEMP TABLE ids AS SELECT g, {id} AS id FROM generate_series(1, {n}) g;
         INSERT INTO act_ru_execution (id_, rev_, proc_inst_id_, root_proc_inst_id_, proc_def_id_, suspension_state_)
         SELECT id, 1, id, id, 'bench:1', 1 FROM ids;
         INSERT INTO act_ru_execution (id_, rev_, proc_inst_id_, root_proc_inst_id_, proc_def_id_, super_exec_, suspension_state_)
         SELECT 'c-' || id, 1, 'c-' || id, id, 'bench-sub:1', id, 1 FROM ids WHERE g % 5 = 0;
         DROP TABLE ids;"
    ))
    .await;
    db.exec("VACUUM ANALYZE act_ru_execution").await;
}

/// A template holding `n` minimal running roots ([`minimal_instances`], sequential ids).
async fn minimal_roots(n: u64) -> TemplateDb {
    let db = TestDb::new().await;
    minimal_instances(&db, n, false).await;
    db.into_template().await
}

async fn snapshot(args: &Args) {
    let sizes: Vec<u64> = args
        .opts
        .get("sizes")
        .or(args.opts.get("instances"))
        .map(|w| w.split(',').map(|n| n.parse().expect("--sizes 10000,100000")).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    let kinds: Vec<String> = args
        .opts
        .get("ids")
        .map_or_else(|| vec!["seq".into(), "uuid".into()], |v| v.split(',').map(str::to_owned).collect());
    let dry_run = args.opts.get("dry-run").is_some_and(|v| v == "true");
    for kind in &kinds {
        for &n in &sizes {
            let db = TestDb::new().await;
            minimal_instances(&db, n, kind == "uuid").await;
            let port = free_port();
            let env =
                db.env(&[("SWEEP__HTTP__BIND", &format!("127.0.0.1:{port}")), ("SWEEP__TELEMETRY__FILTER", "warn")]);
            let mut api = Proc::start(&exe_beside("sweep-api-it"), &["serve"], &env);
            let http = ApiClient::for_settings(&shared::Settings::load_from(env.clone()).expect("settings"));
            http.wait_ready(Duration::from_secs(30)).await;
            let pid = api.child.id().unwrap_or(0);
            let rss_before = peak_rss_mib(pid);
            let body = serde_json::json!({"processInstanceQuery": {"processDefinitionKey": "bench"}});
            if dry_run {
                let started = Instant::now();
                let (status, preview) = http.post("/process-instance/delete?dryRun=true", &body).await;
                assert_eq!(status, 200, "{preview}");
                println!(
                    "  dry run, {n} {kind} ids: {} ms, instances {}, calledInstances {}",
                    started.elapsed().as_millis(),
                    preview["instances"],
                    preview["calledInstances"]
                );
            }
            let started = Instant::now();
            let (status, resp) = http.post("/process-instance/delete", &body).await;
            assert_eq!(status, 200, "{resp}");
            let ms = started.elapsed().as_millis();
            let rss_after = peak_rss_mib(pid);
            let id = resp["id"].as_str().unwrap_or_default().to_owned();
            // The rest of the snapshot, built by a worker after the answer.
            let mut worker_env = env.clone();
            worker_env.insert("SWEEP__HTTP__BIND".into(), "127.0.0.1:0".into());
            let mut worker = Proc::start(&exe_beside("sweep-worker-it"), &[], &worker_env);
            let built = Instant::now();
            while db.scalar(&format!("SELECT snapshot_remaining_ FROM sweep_batch WHERE id_ = '{id}'")).await > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let build_secs = built.elapsed().as_secs_f64();
            worker.terminate().await;
            api.terminate().await;
            // The way before: the whole selection as ledger rows, in one statement.
            let started = Instant::now();
            db.exec(
                "INSERT INTO sweep_batch_item (batch_id_, seq_, proc_inst_id_)
                 SELECT 'baseline', row_number() OVER (), e.id_ FROM act_ru_execution e JOIN act_re_procdef d ON d.id_ = e.proc_def_id_
                  WHERE d.key_ = 'bench' AND e.id_ = e.proc_inst_id_",
            )
            .await;
            let full_ms = started.elapsed().as_millis();
            println!(
                "POST /process-instance/delete, {n} {kind} ids: {ms} ms (totalJobs {}); ledger complete {build_secs:.1} s after; \
                 API peak RSS {rss_before:.1} MiB before, {rss_after:.1} MiB after; the whole ledger in one statement: {full_ms} ms ({:.1}x the POST)",
                resp["totalJobs"],
                full_ms as f64 / ms.max(1) as f64
            );
        }
    }
}

/// One `auth` run of one mode: POST ms, every statistics poll's latency (ms), instances/s.
struct AuthRun {
    post_ms: f64,
    polls: Vec<f64>,
    per_second: f64,
}

impl AuthRun {
    fn p99(&self) -> f64 {
        percentile(&self.polls, 0.99)
    }
}

/// One figure of an [`AuthRun`].
type Figure = fn(&AuthRun) -> f64;

/// The `q` quantile of `values` (sorted ascending), the nearest rank below.
fn percentile(values: &[f64], q: f64) -> f64 {
    values[((values.len() as f64 * q) as usize).min(values.len() - 1)]
}

/// One mode of an `auth` round: its copy of the data, its API and a client calling it.
struct AuthSide {
    mode: &'static str,
    db: TestDb,
    env: HashMap<String, String>,
    http: ApiClient,
    api: Proc,
}

/// Starts `mode`'s API on a fresh copy of `source`: `none` without authentication, `user` with
/// Basic authentication as a user who is no admin, so that every selected instance is checked
/// (global grants and membership of every tenant of the data, so all pass).
async fn auth_side(source: &TemplateDb, mode: &'static str, chunk: u64) -> AuthSide {
    let db = source.copy().await;
    let port = free_port();
    let env = db.env(&[
        ("SWEEP__HTTP__BIND", &format!("127.0.0.1:{port}")),
        ("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", &chunk.to_string()),
        ("SWEEP__TELEMETRY__FILTER", "warn"),
        ("SWEEP__AMQP__QUEUE_TYPE", "quorum"),
        ("SWEEP__AUTH__MODE", if mode == "none" { "none" } else { "basic" }),
    ]);
    let mut http = ApiClient::for_settings(&shared::Settings::load_from(env.clone()).expect("settings"));
    if mode == "user" {
        let tenants = db.strings("SELECT DISTINCT tenant_id_ FROM act_ru_execution WHERE tenant_id_ IS NOT NULL").await;
        shared::db::identity::upsert_user(&db.db, "bench", "bench", &[], &tenants).await.unwrap();
        db.exec(
            "INSERT INTO act_ru_authorization (id_, rev_, type_, user_id_, resource_type_, resource_id_, perms_)
             VALUES ('b1', 1, 0, '*', 13, '*', 2147483647), ('b2', 1, 0, '*', 6, '*', 2147483647)",
        )
        .await;
        http = http.as_user("bench", "bench");
    }
    let api = Proc::start(&exe_beside("sweep-api-it"), &["serve"], &env);
    http.wait_ready(Duration::from_secs(30)).await;
    AuthSide { mode, db, env, http, api }
}

/// The request every `auth` POST sends.
fn auth_request() -> serde_json::Value {
    serde_json::json!({"processInstanceQuery": {"rootProcessInstances": true}, "deleteReason": "benchmark"})
}

/// One POST of `side`, in milliseconds; its batch is deleted again before any worker runs.
async fn auth_post(side: &AuthSide) -> f64 {
    let t = Instant::now();
    let id = side.http.start_deletion(&auth_request()).await;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let (status, body) = side.http.delete(&format!("/batch/{id}")).await;
    assert_eq!(status, 204, "{body}");
    ms
}

/// The last batch of every side, run at the same time — each by a worker of its own and polled
/// by `pollers` clients of its own — until the first of them completes, so that the machine's
/// drift falls on all alike. A side's instances/s is its items deleted at that moment over the
/// time since its POST (the last of the round's); its polls are those answered until then.
async fn auth_race(sides: &[AuthSide], pollers: usize, poll_interval: Duration) -> Vec<AuthRun> {
    let mut workers = Vec::new();
    for side in sides {
        let mut worker_env = side.env.clone();
        worker_env.insert("SWEEP__HTTP__BIND".into(), "127.0.0.1:0".into());
        workers.push(Proc::start(&exe_beside("sweep-worker-it"), &[], &worker_env));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    checkpoint(&sides[0].db).await; // one for the whole server
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut started = Vec::new();
    for side in sides {
        let t = Instant::now();
        let id = side.http.start_deletion(&auth_request()).await;
        started.push((id, t, t.elapsed().as_secs_f64() * 1000.0));
    }
    let polls: Vec<Vec<_>> = sides
        .iter()
        .zip(&started)
        .map(|(side, (id, _, _))| {
            // Spread the pollers evenly over the interval.
            (0..pollers)
                .map(|i| {
                    poll_statistics(&side.http, id, &done, poll_interval * i as u32 / pollers as u32, poll_interval)
                })
                .collect()
        })
        .collect();
    let completed =
        |id: &str| format!("SELECT count(*) FROM sweep_hi_batch WHERE id_ = '{id}' AND end_time_ IS NOT NULL");
    'race: loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        for (side, (id, _, _)) in sides.iter().zip(&started) {
            if side.db.scalar(&completed(id)).await == 1 {
                break 'race;
            }
        }
    }
    let ended = Instant::now();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut runs = Vec::new();
    for ((side, (id, t, post_ms)), side_polls) in sides.iter().zip(&started).zip(polls) {
        let deleted = side
            .db
            .scalar(&format!("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = '{id}' AND state_ = 'deleted'"))
            .await;
        let mut latencies: Vec<f64> = Vec::new();
        for p in side_polls {
            latencies.extend(p.await.unwrap());
        }
        latencies.sort_by(f64::total_cmp);
        let per_second = deleted as f64 / (ended - *t).as_secs_f64();
        println!(
            "  auth {}: statistics p50 {:.1} ms p99 {:.1} ms over {} polls, {per_second:.0} instances/s ({deleted} deleted)",
            side.mode,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies.len(),
        );
        runs.push(AuthRun { post_ms: *post_ms, polls: latencies, per_second });
    }
    for w in &mut workers {
        w.terminate().await;
    }
    runs
}

/// One client asking for the statistics of batch `id` once per `interval` (back to back for
/// zero), starting after `offset`, until `done`: the latency of each answer that came before it.
fn poll_statistics(
    http: &ApiClient,
    id: &str,
    done: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    offset: Duration,
    interval: Duration,
) -> tokio::task::JoinHandle<Vec<f64>> {
    let (http, done, path) = (http.clone(), done.clone(), format!("/batch/statistics?batchId={id}"));
    let is_done = move || done.load(std::sync::atomic::Ordering::Relaxed);
    tokio::spawn(async move {
        let mut latencies = Vec::new();
        let mut ticks =
            tokio::time::interval_at(tokio::time::Instant::now() + offset, interval.max(Duration::from_nanos(1)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !is_done() {
            if !interval.is_zero() {
                ticks.tick().await;
            }
            let t = Instant::now();
            let (status, _) = http.get(&path).await;
            assert_eq!(status, 200);
            if !is_done() {
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        latencies
    })
}

/// Writes every dirty buffer out before a timed run, so that no run pays for the writes of the
/// one before it (the second run of a pair would otherwise evict the first one's dirty pages).
async fn checkpoint(db: &TestDb) {
    db.exec("CHECKPOINT").await;
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] }
}

/// `auth`: authentication, authorization and per-instance audit against `auth.mode = none`.
/// Each round starts both modes' APIs on identical copies of one generated database and sends
/// their POSTs in turns, then runs one batch of each mode at the same time ([`auth_race`]), so
/// that drift in the machine's load falls on both alike; which mode goes first alternates
/// between rounds. POST and instances/s are medians over the rounds; statistics p99 is taken
/// over the polls of all rounds together (one round's p99 is its handful of slowest polls).
/// Each figure's ratio is also given per round, with their median.
async fn auth(args: &Args) {
    let n = args.num("instances", 20_000);
    let chunk = args.num("chunk", 100);
    let pollers = args.num("pollers", 20) as usize;
    // Each poller asks once per interval, as a dashboard does; 0 polls back to back.
    let poll_interval = Duration::from_millis(args.num("poll-interval-ms", 1000));
    let seed = args.num("seed", 11);
    let rounds = args.num("rounds", 2).max(1);
    let posts = args.num("posts", 5).max(1) as usize;
    // Per round: the `none` run, then the checked user's.
    let mut pairs: Vec<[AuthRun; 2]> = Vec::new();
    println!("generating {n} roots ...");
    let source = generated(n, seed).await.into_template().await;
    for round in 0..rounds {
        let order = if round % 2 == 0 { ["none", "user"] } else { ["user", "none"] };
        println!("round {} ({} first) ...", round + 1, order[0]);
        let mut sides = Vec::new();
        for mode in order {
            sides.push(auth_side(&source, mode, chunk).await);
        }
        // POST latency: the median of `posts` requests per mode, in turns — all but the last
        // deleted again, the last one the batch that then runs (one request is too noisy).
        let mut post_times = vec![Vec::new(), Vec::new()];
        for _ in 1..posts {
            for (side, times) in sides.iter().zip(&mut post_times) {
                times.push(auth_post(side).await);
            }
        }
        let mut runs = auth_race(&sides, pollers, poll_interval).await;
        for ((side, mut times), run) in sides.iter().zip(post_times).zip(&mut runs) {
            times.push(run.post_ms);
            run.post_ms = median(times);
            println!("  auth {}: POST {:.0} ms (median of {posts})", side.mode, run.post_ms);
        }
        for side in &mut sides {
            side.api.terminate().await;
        }
        if order[0] == "user" {
            runs.reverse();
        }
        let [none, user]: [AuthRun; 2] = runs.try_into().ok().expect("two runs");
        println!(
            "  round {}: checked/none POST {:.2}x, statistics p99 {:.2}x, instances/s {:.2}x",
            round + 1,
            user.post_ms / none.post_ms,
            user.p99() / none.p99(),
            user.per_second / none.per_second
        );
        pairs.push([none, user]);
    }
    println!("over {rounds} round(s) (medians; p99 over all polls):");
    let pooled_p99 = |side: usize| {
        let mut polls: Vec<f64> = pairs.iter().flat_map(|p| p[side].polls.iter().copied()).collect();
        polls.sort_by(f64::total_cmp);
        (percentile(&polls, 0.99), polls.len())
    };
    let ((none_p99, none_polls), (user_p99, user_polls)) = (pooled_p99(0), pooled_p99(1));
    let per_round = |figure: Figure| median(pairs.iter().map(|p| figure(&p[1]) / figure(&p[0])).collect());
    let over_rounds = |figure: Figure, side: usize| median(pairs.iter().map(|p| figure(&p[side])).collect());
    let print = |name: &str, (base, checked): (f64, f64), figure: Figure| {
        println!(
            "  {name}: none {base:.1}, checked user {checked:.1}, ratio {:.2}x (per round: median {:.2}x)",
            checked / base,
            per_round(figure)
        );
    };
    let post: Figure = |r| r.post_ms;
    let rate: Figure = |r| r.per_second;
    print("POST ms", (over_rounds(post, 0), over_rounds(post, 1)), post);
    print("statistics p99 ms", (none_p99, user_p99), AuthRun::p99);
    print("instances/s", (over_rounds(rate, 0), over_rounds(rate, 1)), rate);
    println!("  statistics polls: none {none_polls}, checked user {user_polls}");
}

/// How the benchmark's deletions write history: Camunda's defaults on a standalone schema.
fn bench_history() -> History {
    History::new(RemovalTimeStrategy::End, HistoryTables::ALL, "sweep-bench")
}

/// pgbench's summary of one run: average latency (ms) and transactions per second.
struct PgbenchFigures {
    latency_ms: f64,
    tps: f64,
}

/// Runs pgbench against `db` with `args` (its database URL appended) and parses its summary.
async fn pgbench(db: &TestDb, args: &[&str]) -> PgbenchFigures {
    let out = tokio::process::Command::new("pgbench")
        .args(args)
        .arg(&db.url)
        .output()
        .await
        .expect("pgbench (Debian package postgresql-client or postgresql-contrib) on PATH");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pgbench {args:?} failed:\n{text}");
    let figure = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    PgbenchFigures { latency_ms: figure("latency average = "), tps: figure("tps = ") }
}

/// `protect`: what a running batch costs other traffic on the same database, with
/// `control.adaptive` off and on. Per mode, on identical generated data: pgbench's TPC-B-like
/// load alone for `--seconds`, then the same load beside a batch deleting every root (API +
/// `--workers` workers, `--prefetch` jobs each); prints pgbench's latency and throughput both
/// times, the instances Sweep deleted meanwhile, and the adaptive limit at the end.
async fn protect(args: &Args) {
    let n = args.num("instances", 60_000);
    let seconds = args.num("seconds", 20).to_string();
    let clients = args.num("clients", 4).to_string();
    let workers = args.num("workers", 2) as usize;
    let prefetch = args.num("prefetch", 2) as usize;
    let seed = args.num("seed", 11);
    let target = args.opts.get("target-latency").cloned().unwrap_or_else(|| "250ms".into());
    let load = ["-n", "-c", clients.as_str(), "-j", "2", "-T", seconds.as_str()];
    println!(
        "pgbench -c {clients} for {seconds} s beside a batch of {n} roots ({workers} workers × prefetch {prefetch}, \
         control.max_concurrency {}, control.target_latency {target})",
        workers * prefetch
    );
    for adaptive in [false, true] {
        let db = generated(n, seed).await;
        pgbench(&db, &["-i", "-q", "-s", "10"]).await;
        let alone = pgbench(&db, &load).await;
        let port = free_port();
        let env = db.env(&[
            ("SWEEP__HTTP__BIND", &format!("127.0.0.1:{port}")),
            ("SWEEP__TELEMETRY__FILTER", "warn"),
            ("SWEEP__AMQP__PREFETCH", &prefetch.to_string()),
            ("SWEEP__DATABASE__MAX_CONNECTIONS", &(2 * prefetch + 3).to_string()),
            ("SWEEP__CONTROL__ADAPTIVE", if adaptive { "true" } else { "false" }),
            ("SWEEP__CONTROL__MAX_CONCURRENCY", &(workers * prefetch).to_string()),
            ("SWEEP__CONTROL__TARGET_LATENCY", &target),
            ("SWEEP__CONTROL__ADJUST_INTERVAL", "500ms"),
        ]);
        let mut api = Proc::start(&exe_beside("sweep-api-it"), &["serve"], &env);
        let http = ApiClient::for_settings(&shared::Settings::load_from(env.clone()).expect("settings"));
        http.wait_ready(Duration::from_secs(30)).await;
        let mut procs: Vec<Proc> = (0..workers)
            .map(|_| {
                let mut worker_env = env.clone();
                worker_env.insert("SWEEP__HTTP__BIND".into(), format!("127.0.0.1:{}", free_port()));
                Proc::start(&exe_beside("sweep-worker-it"), &[], &worker_env)
            })
            .collect();
        let deleted = || db.scalar("SELECT count(*) FROM act_hi_procinst WHERE state_ = 'EXTERNALLY_TERMINATED'");
        http.start_deletion(&serde_json::json!({
            "processInstanceQuery": {"rootProcessInstances": true},
            "deleteReason": "benchmark"
        }))
        .await;
        while deleted().await == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (before, started) = (deleted().await, Instant::now());
        let beside = pgbench(&db, &load).await;
        let rate = (deleted().await - before) as f64 / started.elapsed().as_secs_f64();
        let limit = db.scalar("SELECT coalesce(max(limit_), -1) FROM sweep_control WHERE id_ = 'global'").await;
        for p in &mut procs {
            p.terminate().await;
        }
        api.terminate().await;
        println!(
            "control.adaptive = {adaptive:<5}: pgbench alone {:.2} ms ({:.0} tps), beside the batch {:.2} ms ({:.0} tps) = {:.2}× latency; \
             Sweep {rate:.0} instances/s meanwhile; limit at the end {limit}",
            alone.latency_ms,
            alone.tps,
            beside.latency_ms,
            beside.tps,
            beside.latency_ms / alone.latency_ms
        );
    }
}

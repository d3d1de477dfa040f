//! What `/metrics` serves: every name starts with `sweep_`, has HELP text, histograms have
//! buckets, HTTP routes are templates (never raw paths), and `promtool check metrics` accepts
//! the page — for the API (in-process, after a deletion ran) and for a worker process. The
//! backlog gauges follow the database while no worker runs; every metric the Grafana dashboard
//! and the alert rules use is served.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use system_tests::fixtures::seed_instances;
use system_tests::{ApiClient, DrivenWorker, Proc, TestApi, TestDb, TestWorker, eventually, free_port, prefix};

/// Checks the house rules on a Prometheus text page and runs `promtool check metrics` on it
/// (when promtool is not installed, says so and skips that part: CI installs it).
fn check_page(page: &str) {
    let mut helped = std::collections::BTreeSet::new();
    for line in page.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.insert(rest.split_whitespace().next().unwrap().to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split_whitespace().next().unwrap();
            assert!(helped.contains(name), "{name} has no HELP text");
        } else {
            assert!(line.starts_with("sweep_"), "metric without the sweep_ prefix: {line}");
        }
    }
    let Some(mut promtool) = promtool(&["check", "metrics"]) else { return };
    promtool.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && report.trim().is_empty(), "promtool check metrics:\n{report}\n{page}");
}

/// `promtool` with `args`, stdin and stdout piped; `None`, with a note, when it is not installed.
fn promtool(args: &[&str]) -> Option<std::process::Child> {
    match Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => Some(child),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!(
                "note: promtool not installed (Debian package prometheus; `bash deploy/services.sh --with-test-tools`): \
                 skipping `promtool {}`",
                args.join(" ")
            );
            None
        }
        Err(e) => panic!("starting promtool: {e}"),
    }
}

async fn scrape(client: &reqwest::Client, addr: &str) -> String {
    let resp = client.get(format!("http://{addr}/metrics")).send().await.expect("scrape");
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

#[tokio::test]
async fn the_api_serves_only_well_formed_sweep_metrics_with_route_templates() {
    let db = TestDb::new().await;
    seed_instances(&db, 10).await;
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let worker = TestWorker::spawn(settings.clone()).await;
    let id = api.start_deletion(&json!({"processInstanceIds": ["pi-1", "pi-2"]})).await;
    eventually(Duration::from_secs(20), || async { (api.get(&format!("/batch/{id}")).await.0 == 404).then_some(()) })
        .await;
    assert_eq!(api.get("/no-such-resource").await.0, 404);
    worker.stop().await.unwrap();

    // API and worker share this test process's registry: the page holds both.
    let page = scrape(&api.client, &api.addr.to_string()).await;
    check_page(&page);
    for needle in [
        r#"sweep_http_requests_total{method="POST",route="/engine-rest/process-instance/delete",status="200"}"#,
        r#"route="/engine-rest/batch/{id}",status="404""#,
        r#"route="unmatched""#,
        "sweep_http_request_duration_seconds_bucket{",
        "sweep_worker_job_duration_seconds_bucket{le=",
        r#"sweep_worker_jobs_total{outcome="succeeded"}"#,
        r#"sweep_worker_messages_total{queue="job",outcome="acked"}"#,
        "sweep_worker_batches_completed_total",
        "sweep_api_batches_created_total",
    ] {
        assert!(page.contains(needle), "missing {needle} in\n{page}");
    }
    assert!(!page.contains(&id), "no batch id in any label");
}

#[tokio::test]
async fn a_worker_process_serves_only_well_formed_sweep_metrics() {
    let db = TestDb::new().await;
    let addr = format!("127.0.0.1:{}", free_port());
    let mut worker = Proc::start(crate::WORKER_BIN, &[], &db.env(&[("SWEEP__HTTP__BIND", &addr)]));
    let client = reqwest::Client::new();
    let page = eventually(Duration::from_secs(30), || async {
        let resp = client.get(format!("http://{addr}/metrics")).send().await.ok()?;
        resp.text().await.ok().filter(|p| p.contains("sweep_outbox_pending_rows"))
    })
    .await;
    check_page(&page);
    check_page(&scrape(&client, &addr).await);
    assert!(worker.terminate().await.success());
}

/// The value of the sample `series` (name and labels exactly as served) on `page`.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Every metric name on `page`: sample names (histograms' `_bucket`, `_sum`, `_count`
/// included) and the family names of `# TYPE` lines.
fn served_names(page: &str) -> BTreeSet<String> {
    page.lines()
        .filter_map(|l| match l.strip_prefix("# TYPE ") {
            Some(rest) => rest.split_whitespace().next(),
            None if l.starts_with('#') => None,
            None => l.split(['{', ' ']).next(),
        })
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Every `sweep_[a-z0-9_]+` word in `text`, a histogram's `_bucket`, `_sum` and `_count`
/// mapped to the histogram's name.
fn used_names(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    let mut names = BTreeSet::new();
    let mut i = 0;
    while let Some(at) = text[i..].find("sweep_").map(|at| at + i) {
        let mut end = at + "sweep_".len();
        while end < bytes.len() && word(bytes[end]) {
            end += 1;
        }
        if at == 0 || !word(bytes[at - 1]) {
            let name = &text[at..end];
            let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
            names.insert(base.to_owned());
        }
        i = end;
    }
    names
}

/// A file of the repository, read at test time.
fn repository_file(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The KEDA trigger query of the Helm chart (`keda.enabled`), which `docs/operations.md` shows
/// verbatim (the SQL block that starts with its comment).
fn keda_trigger_query() -> String {
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let chart = repository_file("deploy/helm/sweep/templates/autoscaling.yaml");
    let start = chart.find("query: >-").expect("the postgresql trigger's query in the chart") + "query: >-".len();
    let block = &chart[start..];
    let query = words(&block[..block.find("targetQueryValue").expect("the end of the query")]);
    let guide = repository_file("docs/operations.md");
    let start = guide.find("-- KEDA trigger").expect("the KEDA trigger query in docs/operations.md");
    let block = &guide[start..];
    let shown =
        block[..block.find("```").expect("the end of the SQL block")].lines().skip(1).collect::<Vec<_>>().join(" ");
    assert_eq!(words(&shown), query, "docs/operations.md shows another query than the chart's");
    query
}

#[test]
fn every_alert_has_a_severity_and_a_runbook_section() {
    let rules = repository_file("deploy/prometheus/sweep-rules.yaml");
    let guide = repository_file("docs/operations.md");
    // GitHub's anchors of the guide's headings: lower case, spaces to dashes, no punctuation.
    let anchors: BTreeSet<String> = guide
        .lines()
        .filter_map(|l| l.strip_prefix('#').map(|h| h.trim_start_matches('#').trim()))
        .map(|h| {
            h.to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect();
    let alerts: Vec<&str> = rules.split("- alert: ").skip(1).collect();
    assert_eq!(alerts.len(), 6, "{rules}");
    for alert in alerts {
        let name = alert.lines().next().unwrap().trim();
        assert!(alert.contains("severity: warning") || alert.contains("severity: critical"), "{name}: no severity");
        assert!(alert.contains("summary: ") && alert.contains("description: "), "{name}: no summary or description");
        let url = alert.split("runbook_url: ").nth(1).and_then(|r| r.lines().next()).expect("a runbook_url").trim();
        let anchor = url.strip_prefix("docs/operations.md#").unwrap_or_else(|| panic!("{name}: runbook_url {url}"));
        assert_eq!(anchor, name.to_lowercase(), "{name}: the runbook section is named after the alert");
        assert!(anchors.contains(anchor), "{name}: docs/operations.md has no section #{anchor}");
    }
}

#[tokio::test]
async fn the_dashboard_and_the_alerts_use_only_metrics_sweep_serves() {
    let dashboard = repository_file("deploy/grafana/sweep.json");
    let rules = repository_file("deploy/prometheus/sweep-rules.yaml");
    let (dashboard_names, rule_names) = (used_names(&dashboard), used_names(&rules));
    // The parsing finds what the files are known to use.
    assert!(dashboard_names.contains("sweep_worker_job_duration_seconds"), "{dashboard_names:?}");
    assert!(rule_names.contains("sweep_items_pending"), "{rule_names:?}");

    // A real API and a real worker, as processes, after an end-to-end deletion.
    let db = TestDb::new().await;
    seed_instances(&db, 10).await;
    let (api_port, worker_addr) = (free_port(), format!("127.0.0.1:{}", free_port()));
    let env = db.env(&[
        ("SWEEP__AMQP__PREFIX", &prefix()),
        ("SWEEP__HTTP__BIND", &format!("127.0.0.1:{api_port}")),
        ("SWEEP__METRICS__BACKLOG_INTERVAL", "200ms"),
        ("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "3"),
    ]);
    let mut api_process = Proc::start(crate::API_BIN, &["serve"], &env);
    let mut worker_env = env.clone();
    worker_env.insert("SWEEP__HTTP__BIND".into(), worker_addr.clone());
    let mut worker_process = Proc::start(crate::WORKER_BIN, &[], &worker_env);
    let api = ApiClient::for_settings(&shared::Settings::load_from(env.clone()).unwrap());
    api.wait_ready(Duration::from_secs(30)).await;
    let worker = ApiClient::new(worker_addr.parse().unwrap(), "");
    worker.wait_ready(Duration::from_secs(30)).await;

    let ids: Vec<String> = (1..=10).map(|i| format!("pi-{i}")).collect();
    let id = api.start_deletion(&json!({ "processInstanceIds": ids })).await;
    eventually(Duration::from_secs(30), || async { (api.get(&format!("/batch/{id}")).await.0 == 404).then_some(()) })
        .await;
    // The API's backlog gauges catch up with the completed batch.
    let api_page = eventually(Duration::from_secs(10), || async {
        let page = scrape(&api.client, &format!("127.0.0.1:{api_port}")).await;
        (sample(&page, r#"sweep_batches{state="running"}"#) == Some(0.0)).then_some(page)
    })
    .await;
    let worker_page = scrape(&worker.client, &worker_addr).await;
    check_page(&api_page);
    check_page(&worker_page);
    assert_eq!(sample(&worker_page, r#"sweep_worker_jobs_total{outcome="succeeded"}"#), Some(4.0), "{worker_page}");

    let served: BTreeSet<String> = served_names(&api_page).union(&served_names(&worker_page)).cloned().collect();
    for (file, names) in
        [("deploy/grafana/sweep.json", &dashboard_names), ("deploy/prometheus/sweep-rules.yaml", &rule_names)]
    {
        let missing: Vec<&String> = names.iter().filter(|n| !served.contains(*n)).collect();
        assert!(missing.is_empty(), "{file} uses metrics neither binary serves: {missing:?}\nserved: {served:?}");
    }
    assert!(api_process.terminate().await.success());
    assert!(worker_process.terminate().await.success());
}

#[tokio::test]
async fn the_dashboard_expressions_are_valid_promql() {
    let dashboard: serde_json::Value = serde_json::from_str(&repository_file("deploy/grafana/sweep.json")).unwrap();
    let mut exprs = Vec::new();
    let mut panels: Vec<&serde_json::Value> = dashboard["panels"].as_array().unwrap().iter().collect();
    while let Some(panel) = panels.pop() {
        panels.extend(panel["panels"].as_array().into_iter().flatten());
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().expect("a PromQL expression").replace("$__rate_interval", "5m"));
        }
    }
    assert!(exprs.len() > 10, "{exprs:?}");
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, expr) in exprs.iter().enumerate() {
        assert!(!expr.contains('$'), "a Grafana variable the check does not know: {expr}");
        rules.push_str(&format!(
            "      - record: dashboard:panel_{i}\n        expr: {}\n",
            serde_json::to_string(expr).unwrap()
        ));
    }
    let file = std::env::temp_dir().join(format!("sweep-dashboard-{}.yaml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, rules).unwrap();
    let checked = promtool(&["check", "rules", file.to_str().unwrap()]).map(|child| child.wait_with_output().unwrap());
    std::fs::remove_file(&file).ok();
    if let Some(out) = checked {
        assert!(
            out.status.success(),
            "promtool check rules:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test]
async fn the_api_shows_the_backlog_while_no_worker_runs() {
    let db = TestDb::new().await;
    seed_instances(&db, 20).await;
    let settings =
        db.settings(&[("SWEEP__METRICS__BACKLOG_INTERVAL", "100ms"), ("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "3")]);
    let api = TestApi::spawn(settings.clone()).await;
    let addr = api.addr.to_string();
    let page_where = |series: &'static str, value: f64| {
        let (api, addr) = (&api, &addr);
        async move {
            eventually(Duration::from_secs(10), || async move {
                let page = scrape(&api.client, addr).await;
                (sample(&page, series) == Some(value)).then_some(page)
            })
            .await
        }
    };

    // Ten instances, four jobs of at most three, not one of them created: no worker runs.
    let ids: Vec<String> = (1..=10).map(|i| format!("pi-{i}")).collect();
    let id = api.start_deletion(&json!({ "processInstanceIds": ids })).await;
    let page = page_where("sweep_items_pending", 10.0).await;
    assert_eq!(sample(&page, r#"sweep_batch_jobs{state="pending"}"#), Some(4.0), "{page}");
    assert_eq!(db.scalar(&keda_trigger_query()).await, 4, "the chart's KEDA query agrees");
    assert_eq!(sample(&page, r#"sweep_batch_jobs{state="running"}"#), Some(0.0), "{page}");
    assert_eq!(sample(&page, r#"sweep_batches{state="running"}"#), Some(1.0), "{page}");
    assert_eq!(sample(&page, "sweep_dead_letter_messages"), Some(0.0), "{page}");
    assert_eq!(sample(&page, "sweep_db_pool_max_connections"), Some(5.0), "{page}");
    assert!(page.contains(r#"sweep_build_info{binary="sweep-api",version=""#), "{page}");
    assert!(!page.contains(&id), "no batch id in any label");

    // A worker takes the seed and dies before acking it: the broker delivers it again, flagged.
    let topology = shared::mq::Topology::from_settings(&settings);
    {
        let conn = lapin::Connection::connect(&settings.amqp.url, Default::default()).await.unwrap();
        let channel = conn.create_channel().await.unwrap();
        let options = lapin::options::BasicGetOptions { no_ack: false };
        let taken = channel.basic_get(topology.queue("seed").as_str().into(), options).await.unwrap();
        assert!(taken.is_some(), "the seed message is queued");
        conn.close(200, "gone without acking".into()).await.unwrap();
    }
    let worker = DrivenWorker::connect(settings.clone()).await;
    assert!(worker.step().await, "the seed, again");
    // The seed created the four jobs: still pending, still ten instances to go.
    let page = page_where(r#"sweep_batch_jobs{state="pending"}"#, 4.0).await;
    assert_eq!(sample(&page, "sweep_items_pending"), Some(10.0), "{page}");
    assert_eq!(sample(&page, r#"sweep_worker_redeliveries_total{queue="seed"}"#), Some(1.0), "{page}");
    assert_eq!(sample(&page, r#"sweep_worker_redeliveries_total{queue="job"}"#), Some(0.0), "{page}");

    worker.drain().await;
    let page = page_where(r#"sweep_batches{state="running"}"#, 0.0).await;
    assert_eq!(sample(&page, "sweep_items_pending"), Some(0.0), "{page}");
    assert_eq!(sample(&page, r#"sweep_batch_jobs{state="pending"}"#), Some(0.0), "{page}");
    assert_eq!(sample(&page, "sweep_worker_inflight_jobs"), Some(0.0), "{page}");
    assert_eq!(sample(&page, r#"sweep_worker_jobs_total{outcome="succeeded"}"#), Some(4.0), "{page}");
    assert!(page.contains(r#"sweep_build_info{binary="sweep-worker",version=""#), "{page}");

    // A suspended batch is no backlog: no worker would touch it.
    let ids: Vec<String> = (11..=20).map(|i| format!("pi-{i}")).collect();
    let id = api.start_deletion(&json!({ "processInstanceIds": ids })).await;
    page_where("sweep_items_pending", 10.0).await;
    let (status, body) = api.put(&format!("/batch/{id}/suspended"), &json!({"suspended": true})).await;
    assert_eq!(status, 204, "{body}");
    let page = page_where(r#"sweep_batches{state="suspended"}"#, 1.0).await;
    assert_eq!(sample(&page, "sweep_items_pending"), Some(0.0), "{page}");
    assert_eq!(sample(&page, r#"sweep_batch_jobs{state="pending"}"#), Some(0.0), "{page}");
    assert_eq!(sample(&page, r#"sweep_batches{state="running"}"#), Some(0.0), "{page}");
}

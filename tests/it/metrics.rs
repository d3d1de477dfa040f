//! What `/metrics` serves: every name starts with `sweep_`, has HELP text, histograms have
//! buckets, HTTP routes are templates (never raw paths), and `promtool check metrics` accepts
//! the page — for the API (in-process, after a deletion ran) and for a worker process.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use system_tests::fixtures::seed_instances;
use system_tests::{Proc, TestApi, TestDb, TestWorker, eventually, free_port};

/// Checks the house rules on a Prometheus text page and runs `promtool check metrics` on it.
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
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; `bash deploy/services.sh --with-test-tools` installs it)");
    promtool.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && report.trim().is_empty(), "promtool check metrics:\n{report}\n{page}");
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

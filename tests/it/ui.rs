//! The batch pages under `/ui`: plain HTTP (authentication, visibility, security headers), and
//! the pages in headless Chromium, driven by `tests/browser/ui.mjs` (playwright-core, installed
//! by `deploy/services.sh --with-test-tools` with Debian's chromium).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use system_tests::fixtures::{refuse_to_delete, seed_instances};
use system_tests::{ApiClient, DrivenWorker, TEST_USER, TestApi, TestDb};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Longest wait for one step of the browser script.
const STEP: Duration = Duration::from_secs(90);

/// `GET {origin}{path}` with `client`'s credentials: status, headers and body text.
async fn page(client: &ApiClient, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = client.client.get(format!("{}{path}", client.origin));
    if let Some((user, password)) = &client.credentials {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap_or_default())
}

/// A user with password `pw` and no group nor grant.
async fn user(db: &TestDb, id: &str) {
    shared::db::identity::upsert_user(&db.db, id, "pw", &[], &[]).await.unwrap();
}

#[tokio::test]
async fn ui_pages_need_credentials_show_only_visible_batches_and_set_security_headers() {
    let db = TestDb::new().await;
    seed_instances(&db, 4).await;
    user(&db, "frank").await;
    let api = TestApi::spawn(db.settings(&[])).await;
    let id = api.start_deletion(&json!({"processInstanceIds": ["pi-1", "pi-2"]})).await;

    let (status, headers, body) = page(&api.anonymous(), "/ui").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(headers["www-authenticate"], "Basic realm=\"default\"", "a browser prompts for credentials");
    assert_eq!(page(&api.anonymous(), &format!("/ui/batch/{id}")).await.0, 401);
    assert_eq!(page(&api.anonymous(), "/ui/app.js").await.0, 401);

    let (status, headers, body) = page(&api, "/ui").await;
    assert_eq!(status, 200, "{body}");
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"), "{headers:?}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'") && !csp.contains("unsafe"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(body.starts_with("<!DOCTYPE html>") && body.contains(&format!("data-batch=\"{id}\"")), "{body}");
    assert!(!body.contains("<script>") && !body.contains("style=\""), "no inline script or style: {body}");

    let (status, _, body) = page(&api, &format!("/ui/batch/{id}")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("data-action=\"suspend\"") && body.contains("data-action=\"cancel\""), "{body}");
    let (status, headers, script) = page(&api, "/ui/app.js").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(script.contains("EventSource"));
    assert_eq!(page(&api, "/ui/app.css").await.0, 200);

    // A batch frank may not read is not there for him, on the list or on its own page.
    let frank = api.as_user("frank", "pw");
    let (status, _, body) = page(&frank, &format!("/ui/batch/{id}")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("does not exist, or you may not read it"), "{body}");
    let (status, _, body) = page(&frank, "/ui").await;
    assert_eq!(status, 200);
    assert!(!body.contains(&id), "{body}");
    assert_eq!(page(&api, "/ui/batch/no-such-batch").await.0, 404);

    // Everything is escaped.
    let (status, _, body) = page(&api, "/ui/batch/%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert_eq!(status, 404);
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !body.contains("<script>alert"), "{body}");
}

/// Where screenshots go: `$CARGO_TARGET_DIR`, or the workspace's `target/`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
    }
}

/// The browser and node, or a panic saying how to get them.
fn browser_tools() -> (PathBuf, PathBuf) {
    const SETUP: &str = "run `deploy/services.sh --with-test-tools` (installs Debian's chromium and nodejs, and \
                         `npm ci --prefix tests/browser`)";
    let chromium = PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    assert!(chromium.exists(), "the browser test needs Chromium at {}: {SETUP}", chromium.display());
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(node.is_ok_and(|o| o.status.success()), "the browser test needs node on the PATH: {SETUP}");
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        browser_dir.join("node_modules/playwright-core/package.json").exists(),
        "the browser test needs playwright-core in {}/node_modules: {SETUP}",
        browser_dir.display()
    );
    (chromium, browser_dir.join("ui.mjs"))
}

/// Processed instances of runtime batch `id`, by the REST API.
async fn processed(api: &ApiClient, id: &str) -> i64 {
    let stats = api.batch_statistics(id).await.expect("the batch runs");
    ["deletedInstances", "skippedInstances", "failedInstances"].iter().map(|f| stats[f].as_i64().unwrap()).sum()
}

/// `suspended` of runtime batch `id`, by the REST API.
async fn suspended(api: &ApiClient, id: &str) -> bool {
    let (status, batch) = api.get(&format!("/batch/{id}")).await;
    assert_eq!(status, 200, "{batch}");
    batch["suspended"].as_bool().unwrap()
}

#[tokio::test]
async fn ui_in_a_browser_shows_live_progress_and_failed_items_and_suspends_resumes_retries_and_cancels() {
    let (chromium, script) = browser_tools();
    let db = TestDb::new().await;
    seed_instances(&db, 34).await;
    refuse_to_delete(&db, "pi-2").await;
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let worker = DrivenWorker::connect(settings.clone()).await;

    // A batch that ends its run with a failed item (every retry included), then one that runs.
    let failed =
        api.start_deletion(&json!({"processInstanceIds": ["pi-1", "pi-2"], "invocationsPerBatchJob": 1})).await;
    worker.drain().await;
    let (status, items) = api.get(&format!("/batch/{failed}/items?state=failed")).await;
    assert_eq!(status, 200, "{items}");
    let reason = items[0]["reason"].as_str().expect("a reason").to_owned();
    assert!(reason.contains("refusing to delete pi-2"), "{items}");
    // Four more, so that the list streams four batches and polls the statistics of the others.
    for i in 31..=34 {
        api.start_deletion(&json!({"processInstanceIds": [format!("pi-{i}")]})).await;
    }
    let ids: Vec<String> = (3..=30).map(|i| format!("pi-{i}")).collect();
    let running = api.start_deletion(&json!({"processInstanceIds": ids, "invocationsPerBatchJob": 2})).await;

    let shots = target_dir();
    std::fs::create_dir_all(&shots).unwrap();
    let mut child = tokio::process::Command::new("node")
        .arg(&script)
        .args([&api.origin, TEST_USER.0, TEST_USER.1, &running, &failed])
        .env("CHROMIUM", &chromium)
        .env("UI_SCREENSHOT_DIR", &shots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut steps = Vec::new();
    loop {
        let line = tokio::time::timeout(STEP, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("the browser script said nothing for {STEP:?} after {steps:?}"))
            .expect("read the script's output");
        let Some(line) = line else { break };
        let Ok(step) = serde_json::from_str::<Value>(&line) else {
            println!("browser: {line}");
            continue;
        };
        let name = step["step"].as_str().unwrap_or_default().to_owned();
        steps.push(name.clone());
        let confirm = match name.as_str() {
            "list-first" => {
                // The worker moves the batch on, one message at a time, until instances are processed.
                let before = processed(&api, &running).await;
                while processed(&api, &running).await == before {
                    assert!(worker.step().await, "no message left before the batch made progress");
                }
                true
            }
            "list-advanced" => {
                assert_ne!(step["first"], step["second"], "the progress bar advanced: {step}");
                let listed: Vec<&str> = step["listed"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
                assert!(listed.contains(&running.as_str()) && listed.contains(&failed.as_str()), "{step}");
                false
            }
            "failed-item" => {
                assert_eq!(step["item"], "pi-2", "{step}");
                assert_eq!(step["reason"], reason.as_str(), "{step}");
                false
            }
            "suspended" => {
                assert!(suspended(&api, &running).await, "the page suspended the batch");
                true
            }
            "running" => {
                assert!(!suspended(&api, &running).await, "the page resumed the batch");
                true
            }
            "retried" => {
                let (status, items) = api.get(&format!("/batch/{failed}/items?state=failed")).await;
                assert_eq!((status, items), (200, json!([])), "the page retried the failed items");
                let (status, items) = api.get(&format!("/batch/{failed}/items?state=pending")).await;
                assert_eq!(items[0]["processInstanceId"], "pi-2", "{status}: {items}");
                true
            }
            "cancelled" => {
                assert_eq!(api.get(&format!("/batch/{failed}")).await.0, 404, "the page cancelled the batch");
                let (status, historic) = api.get(&format!("/history/batch/{failed}")).await;
                assert!(status == 200 && historic["endTime"].is_string(), "{historic}");
                true
            }
            "done" => {
                assert_eq!(step["dialogs"].as_array().map(Vec::len), Some(4), "each action asked first: {step}");
                false
            }
            _ => panic!("the browser script failed after {steps:?}: {}", step["message"].as_str().unwrap_or(&line)),
        };
        if confirm {
            stdin.write_all(b"ok\n").await.unwrap();
            stdin.flush().await.unwrap();
        }
    }
    let status = tokio::time::timeout(STEP, child.wait()).await.expect("the script exits").unwrap();
    assert!(status.success(), "the browser script exited with {status} after {steps:?}");
    assert_eq!(steps.last().map(String::as_str), Some("done"), "{steps:?}");
    assert!(shots.join("ui-batch.png").exists() && shots.join("ui-list.png").exists());
}

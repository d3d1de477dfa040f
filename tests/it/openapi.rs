//! Sweep's OpenAPI document from a running API: OpenAPI 3.1 with every route of the
//! generated-input route table, open like Swagger UI at `/docs`; and `tests/openapi/check.sh`
//! (openapi-spec-validator and schemathesis) against an API on a seeded database.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use system_tests::fixtures::seed_instances;
use system_tests::{TEST_USER, TestApi, TestDb};

use crate::generated_input::ROUTES;

#[tokio::test]
async fn the_openapi_document_is_3_1_and_documents_every_route() {
    let db = TestDb::new().await;
    let api = TestApi::spawn(db.settings(&[])).await;
    let client = reqwest::Client::new();

    // Open: no credentials.
    let resp = client.get(format!("{}/openapi.json", api.base)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let doc: serde_json::Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."), "{}", doc["openapi"]);
    assert_eq!(doc["servers"][0]["url"], "/engine-rest");

    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(|m| (m.to_uppercase(), path.clone())))
        .collect();
    let missing: Vec<_> = ROUTES
        .iter()
        .filter(|(_, path, _)| !path.starts_with('!'))
        .map(|(method, path, _)| ((*method).to_owned(), (*path).to_owned()))
        .filter(|route| !documented.contains(route))
        .collect();
    assert!(missing.is_empty(), "routes the document lacks: {missing:?}");
    assert_eq!(doc["paths"]["/batch/{id}/events"]["get"]["x-sweep-extension"], true);
    assert!(doc["paths"]["/batch/{id}/events"]["get"]["responses"]["200"]["content"]["text/event-stream"].is_object());
    assert!(doc["paths"]["/process-instance/delete"]["post"]["x-sweep-extension"].is_null(), "Camunda's own");

    // Swagger UI, open as well, from the compiled-in assets, pointing at the document.
    let resp = client.get(format!("{}/docs", api.origin)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "/docs leads to the UI");
    let resp = client.get(format!("{}/docs/", api.origin)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("swagger-ui"));
    let config = client.get(format!("{}/docs/swagger-initializer.js", api.origin)).send().await.unwrap();
    assert_eq!(config.status(), 200);
    assert!(config.text().await.unwrap().contains("/engine-rest/openapi.json"));

    // Everything else under the base path still needs a user.
    assert_eq!(client.get(format!("{}/batch", api.base)).send().await.unwrap().status(), 401);
}

/// Runs `tests/openapi/check.sh` against `api` as `user`; its output on failure.
async fn check_script(api: &TestApi, user: &str, password: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/check.sh");
    let started = Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(900),
        tokio::process::Command::new("bash")
            .arg(script)
            .args([api.base.as_str(), user, password])
            .env("SCHEMATHESIS_SEED", "2026")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("check.sh finished within 15 minutes")
    .expect("run check.sh");
    println!("check.sh as {user} took {:?}", started.elapsed());
    println!("{}", String::from_utf8_lossy(&out.stdout));
    // The end of the report is what matters (openapi-spec-validator prints the whole document).
    let tail = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let skip = text.chars().count().saturating_sub(12_000);
        text.chars().skip(skip).collect::<String>()
    };
    let (stdout, stderr) = (tail(&out.stdout), tail(&out.stderr));
    assert!(out.status.success(), "check.sh as {user} failed ({}):\n{stdout}\n{stderr}", out.status);
}

/// As the admin (every operation reaches its data), then as a user without authorizations (the
/// 403 answers and filtered lists).
#[tokio::test]
async fn openapi_check_script_passes_against_a_seeded_api() {
    if std::process::Command::new("python3").arg("--version").output().is_err() {
        println!("python3 is not installed: tests/openapi/check.sh not run");
        return;
    }
    let db = TestDb::new().await;
    seed_instances(&db, 50).await;
    shared::db::identity::upsert_user(&db.db, "no-grants", "pw", &[], &[]).await.unwrap();
    let api = TestApi::spawn(db.settings(&[])).await;
    check_script(&api, TEST_USER.0, TEST_USER.1).await;
    check_script(&api, "no-grants", "pw").await;
}

//! A database out of reach is not the caller's fault and not a crash: the API answers 503 with
//! `Retry-After` and Camunda's error body, and recovers by itself once the database is back.

use sea_orm::ConnectionTrait;
use system_tests::{TestApi, TestDb};

/// Runs `sql` on the server's `postgres` database (a database cannot lock itself out).
async fn as_admin(sql: &str) {
    let admin = sea_orm::Database::connect(format!("{}/postgres", system_tests::server_url())).await.unwrap();
    admin.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    admin.close().await.ok();
}

#[tokio::test]
async fn a_lost_database_answers_503_with_retry_after_and_the_api_recovers() {
    let db = TestDb::new().await;
    let api = TestApi::spawn(db.settings(&[("SWEEP__DATABASE__CONNECT_TIMEOUT", "1s")])).await;
    assert_eq!(api.get("/batch").await.0, 200);

    // Nobody may connect any more, and the API's open connections are cut.
    as_admin(&format!(
        "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false;
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND application_name = 'sweep-api';",
        name = db.name
    ))
    .await;
    for path in ["/batch", "/batch/statistics", "/history/batch/some-id"] {
        let resp = api.request(reqwest::Method::GET, path).send().await.unwrap();
        assert_eq!(resp.status(), 503, "{path}");
        assert_eq!(resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()).as_deref(), Some("1"));
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["type"], "ProcessEngineException", "{body}");
        assert!(body["message"].as_str().unwrap().contains("unavailable"), "{body}");
    }
    let (status, body) = api.post("/process-instance/delete", &serde_json::json!({"processInstanceIds": ["x"]})).await;
    assert_eq!(status, 503, "{body}");
    let ready = api.client.get(format!("http://{}/health/ready", api.addr)).send().await.unwrap();
    assert_eq!(ready.status(), 503);

    as_admin(&format!("ALTER DATABASE \"{}\" ALLOW_CONNECTIONS true", db.name)).await;
    assert_eq!(api.get("/batch").await.0, 200, "the API recovers without a restart");
}

//! The health endpoints of the API and of a worker: liveness checks nothing, readiness checks
//! the database, its schema version and the broker and names what failed; unknown paths get
//! Camunda error bodies.

use std::time::Duration;

use system_tests::{Proc, TestApi, TestDb, eventually, free_port};

/// The newest migration a standalone database holds, which the tests take away.
fn newest_migration() -> &'static str {
    shared::db::migration::standalone_migrations().last().expect("migrations").0
}

/// Status and body of `GET http://{addr}/health/{probe}`; `None` while nothing answers.
async fn probe(client: &reqwest::Client, addr: &str, probe: &str) -> Option<(u16, String)> {
    let resp = client.get(format!("http://{addr}/health/{probe}")).send().await.ok()?;
    Some((resp.status().as_u16(), resp.text().await.ok()?))
}

#[tokio::test]
async fn health_endpoints_answer_when_the_database_is_up() {
    let db = TestDb::new().await;
    let api = TestApi::spawn(db.settings(&[])).await;
    assert_eq!(api.health("live").await, Some(200));
    assert_eq!(api.health("ready").await, Some(200));
}

#[tokio::test]
async fn the_api_is_not_ready_on_an_older_schema_and_says_so() {
    let db = TestDb::new().await;
    let api = TestApi::spawn(db.settings(&[])).await;
    let client = reqwest::Client::new();
    let addr = api.addr.to_string();
    assert_eq!(probe(&client, &addr, "ready").await, Some((200, "ok".to_owned())));

    db.exec(&format!("DELETE FROM sweep_migration WHERE version = '{}'", newest_migration())).await;
    let (status, body) = probe(&client, &addr, "ready").await.expect("an answer");
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("schema: ") && body.contains(newest_migration()), "{body}");
    assert_eq!(body.lines().count(), 1, "only the schema failed: {body}");
    assert_eq!(api.health("live").await, Some(200), "liveness checks no dependency");

    // The migration recorded again (its tables are still there): ready again.
    db.exec(&format!(
        "INSERT INTO sweep_migration (version, applied_at) VALUES ('{}', extract(epoch FROM now())::bigint)",
        newest_migration()
    ))
    .await;
    assert_eq!(probe(&client, &addr, "ready").await, Some((200, "ok".to_owned())));
}

#[tokio::test]
async fn the_api_is_not_ready_on_an_unmigrated_database() {
    let db = TestDb::new().await;
    let api = TestApi::spawn(db.settings(&[])).await;
    db.exec("DROP TABLE sweep_migration").await;
    let (status, body) = probe(&reqwest::Client::new(), &api.addr.to_string(), "ready").await.expect("an answer");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("schema: not migrated"), "{body}");
}

#[tokio::test]
async fn a_worker_is_not_ready_on_an_older_schema_and_says_so() {
    let db = TestDb::new().await;
    let addr = format!("127.0.0.1:{}", free_port());
    let mut worker = Proc::start(crate::WORKER_BIN, &[], &db.env(&[("SWEEP__HTTP__BIND", &addr)]));
    let client = reqwest::Client::new();
    let ready = eventually(Duration::from_secs(30), || probe(&client, &addr, "ready")).await;
    assert_eq!(ready, (200, "ok".to_owned()));

    db.exec(&format!("DELETE FROM sweep_migration WHERE version = '{}'", newest_migration())).await;
    let (status, body) = probe(&client, &addr, "ready").await.expect("an answer");
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("schema: ") && body.contains(newest_migration()), "{body}");
    assert_eq!(probe(&client, &addr, "live").await, Some((200, "ok".to_owned())), "liveness checks no dependency");
    assert!(worker.terminate().await.success());
}

#[tokio::test]
async fn an_attached_database_is_ready_with_only_sweeps_own_migrations() {
    // The process-engine tables as a Camunda engine created them, then `sweep-api migrate`.
    let db = TestDb::empty().await;
    db.exec(shared::db::migration::ENGINE_SQL).await;
    for (_, sql) in shared::db::migration::ENGINE_ADDITIONS {
        db.exec(sql).await;
    }
    let mode = shared::db::migration::run(&db.db).await.expect("migrate");
    assert_eq!(mode, shared::db::migration::Mode::Attached);
    let api = TestApi::spawn(db.settings(&[])).await;
    let client = reqwest::Client::new();
    let addr = api.addr.to_string();
    assert_eq!(probe(&client, &addr, "ready").await, Some((200, "ok".to_owned())));

    let newest = shared::db::migration::SWEEP_MIGRATIONS.last().expect("migrations").0;
    db.exec(&format!("DELETE FROM sweep_migration WHERE version = '{newest}'")).await;
    let (status, body) = probe(&client, &addr, "ready").await.expect("an answer");
    assert_eq!((status, body.contains(newest)), (503, true), "{body}");
}

#[tokio::test]
async fn unknown_paths_get_a_camunda_error_body() {
    let db = TestDb::new().await;
    let api = TestApi::spawn(db.settings(&[])).await;
    let (status, body) = api.get("/no-such-resource").await;
    assert_eq!(status, 404);
    assert_eq!(body["type"], "InvalidRequestException");
    assert!(body["message"].is_string());
}

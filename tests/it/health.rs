//! The API answers its health endpoints and unknown paths with Camunda error bodies.

use system_tests::{TestApi, TestDb};

#[tokio::test]
async fn health_endpoints_answer_when_the_database_is_up() {
    let db = TestDb::new().await;
    let api = TestApi::spawn(db.settings(&[])).await;
    assert_eq!(api.health("live").await, Some(200));
    assert_eq!(api.health("ready").await, Some(200));
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

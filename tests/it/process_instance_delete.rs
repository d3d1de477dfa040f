//! `POST /process-instance/delete`: the answer, the snapshot, and every way to get it wrong —
//! each error case asserts that no batch, item or message was created.

use serde_json::{Value, json};
use system_tests::fixtures::{seed_instances, wait_completed};
use system_tests::{TestApi, TestDb, TestWorker};

/// Rows and queued messages a request could have created.
async fn created(db: &TestDb, api_settings: &shared::Settings) -> (i64, i64, i64, i64, u32) {
    use lapin::options::QueueDeclareOptions;
    let conn =
        lapin::Connection::connect(&api_settings.amqp.url, lapin::ConnectionProperties::default()).await.unwrap();
    let channel = conn.create_channel().await.unwrap();
    let seeds = channel
        .queue_declare(
            format!("{}.seed", api_settings.amqp.prefix).into(),
            QueueDeclareOptions { passive: true, ..Default::default() },
            Default::default(),
        )
        .await
        .unwrap()
        .message_count();
    (
        db.scalar("SELECT count(*) FROM sweep_batch").await,
        db.scalar("SELECT count(*) FROM sweep_hi_batch").await,
        db.scalar("SELECT count(*) FROM sweep_batch_item").await,
        db.scalar("SELECT count(*) FROM sweep_outbox").await,
        seeds,
    )
}

/// (name, body, status, message fragment)
fn bad_requests() -> Vec<(&'static str, Value, u16, &'static str)> {
    vec![
        ("empty body", json!({}), 400, "processInstanceIds is empty"),
        ("empty id list", json!({"processInstanceIds": []}), 400, "processInstanceIds is empty"),
        (
            "nulls only",
            json!({"processInstanceIds": null, "processInstanceQuery": null}),
            400,
            "processInstanceIds is empty",
        ),
        (
            "query matching nothing",
            json!({"processInstanceQuery": {"processDefinitionKey": "nope"}}),
            400,
            "processInstanceIds is empty",
        ),
        ("unknown ids", json!({"processInstanceIds": ["pi-1", "ghost-1", "ghost-2"]}), 400, "'ghost-1', 'ghost-2'"),
        (
            "unknown ids, explicit true",
            json!({"processInstanceIds": ["ghost"], "failIfNotExists": true}),
            400,
            "'ghost'",
        ),
        ("wrong type", json!({"processInstanceIds": 5}), 400, "processInstanceIds"),
        ("wrong nested type", json!({"processInstanceQuery": {"active": "yes"}}), 400, "Cannot deserialize"),
        ("null id", json!({"processInstanceIds": ["pi-1", null]}), 400, "null"),
        ("overlong id", json!({"processInstanceIds": ["x".repeat(65)]}), 400, "1 to 64"),
        (
            "bad operator",
            json!({"processInstanceQuery": {"variables": [{"name": "x", "operator": "near", "value": 1}]}}),
            400,
            "Invalid variable comparator specified: near",
        ),
        ("bad sort", json!({"processInstanceQuery": {"sortBy": "color", "sortOrder": "asc"}}), 400, "sortBy"),
        (
            "zero per job",
            json!({"processInstanceIds": ["pi-1"], "invocationsPerBatchJob": 0}),
            400,
            "invocationsPerBatchJob",
        ),
        (
            "huge per seed",
            json!({"processInstanceIds": ["pi-1"], "batchJobsPerSeed": 1000001}),
            400,
            "batchJobsPerSeed",
        ),
        (
            "overlong reason",
            json!({"processInstanceIds": ["pi-1"], "deleteReason": "r".repeat(4001)}),
            400,
            "deleteReason",
        ),
        (
            "conflicting query",
            json!({"processInstanceQuery": {"rootProcessInstances": true, "superProcessInstance": "pi-1"}}),
            400,
            "rootProcessInstances",
        ),
    ]
}

#[tokio::test]
async fn bad_requests_get_camunda_errors_and_create_nothing() {
    let db = TestDb::new().await;
    seed_instances(&db, 5).await;
    let settings = db.settings(&[("SWEEP__HTTP__BODY_LIMIT_BYTES", "20000")]);
    let api = TestApi::spawn(settings.clone()).await;
    let nothing = created(&db, &settings).await;
    assert_eq!(nothing, (0, 0, 0, 0, 0));
    for (name, body, status, fragment) in bad_requests() {
        let (got, answer) = api.post("/process-instance/delete", &body).await;
        assert_eq!(got, status, "{name}: {answer}");
        assert_eq!(answer["type"], "InvalidRequestException", "{name}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains(fragment), "{name}: {answer}");
        assert!(answer.as_object().unwrap().contains_key("code"), "{name}");
        assert_eq!(created(&db, &settings).await, nothing, "{name} created something");
    }

    let raw = [
        ("malformed JSON", "application/json", "{\"processInstanceIds\": [", 400u16, "EOF"),
        ("trailing garbage", "application/json", "{\"processInstanceIds\": [\"pi-1\"]} x", 400, "trailing"),
        ("not JSON", "text/plain", "{\"processInstanceIds\": [\"pi-1\"]}", 415, "application/json"),
    ];
    for (name, content_type, body, status, fragment) in raw {
        let (got, answer) = api.post_raw("/process-instance/delete", content_type, body).await;
        assert_eq!(got, status, "{name}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains(fragment), "{name}: {answer}");
        assert_eq!(answer["type"], "InvalidRequestException", "{name}");
        assert_eq!(created(&db, &settings).await, nothing, "{name} created something");
    }
    let big = json!({"processInstanceIds": vec!["pi-1"; 5000]}).to_string();
    let (got, answer) = api.post_raw("/process-instance/delete", "application/json", big).await;
    assert_eq!(got, 413, "{answer}");
    assert_eq!(answer["type"], "InvalidRequestException");
    assert_eq!(created(&db, &settings).await, nothing);
}

#[tokio::test]
async fn the_answer_is_a_camunda_batch_and_the_selection_a_snapshot() {
    let db = TestDb::new().await;
    seed_instances(&db, 10).await;
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let (status, batch) = api
        .post(
            "/process-instance/delete",
            &json!({
                "processInstanceIds": ["pi-1", "pi-1", "pi-2", "ghost"],
                "processInstanceQuery": {"processDefinitionKey": "p"},
                "failIfNotExists": false,
                "skipIoMappings": true,
                "invocationsPerBatchJob": 4,
                "someUnknownField": {"ignored": true}
            }),
        )
        .await;
    assert_eq!(status, 200, "{batch}");
    // Union without duplicates: pi-1, pi-2, ghost, and pi-2/4/6/8/10 plus the called c-1 of `p`.
    let id = batch["id"].as_str().unwrap();
    assert_eq!(db.scalar(&format!("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = '{id}'")).await, 8);
    assert_eq!(batch["totalJobs"], 2);
    assert_eq!(batch["jobsCreated"], 0);
    assert_eq!(batch["invocationsPerBatchJob"], 4);
    assert_eq!(batch["batchJobsPerSeed"], 100);
    assert_eq!(batch["suspended"], false);
    assert_eq!(batch["tenantId"], Value::Null);
    assert_eq!(batch["createUserId"], system_tests::TEST_USER.0, "the authenticated creator");
    assert_eq!(batch["executionStartTime"], Value::Null);
    assert!(shared::camunda::parse_date(batch["startTime"].as_str().unwrap()).is_some());
    for key in ["seedJobDefinitionId", "monitorJobDefinitionId", "batchJobDefinitionId"] {
        assert!(batch[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
    }
    // The snapshot does not grow with instances started afterwards.
    db.exec("insert into act_ru_execution(id_,proc_inst_id_,proc_def_id_) values ('late','late','pd1')").await;
    assert_eq!(db.scalar(&format!("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = '{id}'")).await, 8);
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_outbox").await, 0, "the seed was published at once");
}

#[tokio::test]
async fn an_idempotency_key_returns_the_same_batch_and_rejects_another_body() {
    let db = TestDb::new().await;
    seed_instances(&db, 4).await;
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let send = |key: &'static str, body: Value| {
        let request = api.request(reqwest::Method::POST, "/process-instance/delete");
        api.send(request.header("Idempotency-Key", key).json(&body))
    };
    let body = json!({"processInstanceIds": ["pi-1", "pi-2"]});
    let (s1, first) = send("k-1", body.clone()).await;
    let (s2, again) = send("k-1", body.clone()).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first["id"], again["id"]);
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_hi_batch").await, 1);
    let (s3, conflict) = send("k-1", json!({"processInstanceIds": ["pi-3"]})).await;
    assert_eq!(s3, 409, "{conflict}");
    assert_eq!(conflict["type"], "InvalidRequestException");
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_hi_batch").await, 1);
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch_item").await, 2);
    let (s4, other) = send("k-2", body.clone()).await;
    assert_eq!(s4, 200);
    assert_ne!(other["id"], first["id"]);

    // After completion the runtime batch is gone; the key still answers with the same batch.
    let worker = TestWorker::spawn(settings.clone()).await;
    wait_completed(&db, first["id"].as_str().unwrap(), std::time::Duration::from_secs(20)).await;
    let (s5, replayed) = send("k-1", body).await;
    assert_eq!(s5, 200, "{replayed}");
    assert_eq!(replayed["id"], first["id"]);
    assert_eq!(replayed["jobsCreated"], replayed["totalJobs"]);
    assert_eq!(replayed["startTime"], first["startTime"]);
    worker.stop().await.unwrap();
}

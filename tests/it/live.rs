//! Previews and live progress: `POST /process-instance/delete?dryRun=true` against the batches
//! the same bodies then create and delete, and the event stream `GET /batch/{id}/events`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use system_tests::fixtures::{seed_instances, wait_completed};
use system_tests::{ApiClient, DrivenWorker, EventStream, SseEvent, TestApi, TestDb, TestWorker};

/// Longest wait for one event: progress comes every second.
const EVENT: Duration = Duration::from_secs(10);

/// Everything a request could have written: the content of every `SWEEP_` table and of the
/// operation log (a digest each), and the messages in the work queues.
async fn fingerprint(db: &TestDb, settings: &shared::Settings) -> Vec<(String, String)> {
    let mut tables = db
        .strings(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'sweep\\_%'
              ORDER BY 1",
        )
        .await;
    assert!(tables.len() >= 5, "{tables:?}");
    tables.push("act_hi_op_log".into());
    let mut seen = Vec::new();
    for table in tables {
        let digest = db
            .strings(&format!(
                "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
            ))
            .await
            .remove(0);
        seen.push((table, digest));
    }
    let conn = lapin::Connection::connect(&settings.amqp.url, lapin::ConnectionProperties::default()).await.unwrap();
    let channel = conn.create_channel().await.unwrap();
    let topology = shared::mq::Topology::from_settings(settings);
    for route in shared::messages::WORK_ROUTES {
        let options = lapin::options::QueueDeclareOptions { passive: true, ..Default::default() };
        let queue = topology.queue(route);
        let declared = channel.queue_declare(queue.as_str().into(), options, Default::default()).await.unwrap();
        seen.push((queue, declared.message_count().to_string()));
    }
    seen
}

/// A user with password `pw` and no group.
async fn user(db: &TestDb, id: &str) {
    shared::db::identity::upsert_user(&db.db, id, "pw", &[], &[]).await.unwrap();
}

/// One `ACT_RU_AUTHORIZATION` grant (type 1) for `user`.
async fn grant(db: &TestDb, user: &str, resource_type: i32, resource_id: &str, perms: i64) {
    db.exec(&format!(
        "INSERT INTO act_ru_authorization (id_, rev_, type_, user_id_, resource_type_, resource_id_, perms_)
         VALUES (gen_random_uuid()::varchar, 1, 1, '{user}', {resource_type}, '{resource_id}', {perms})"
    ))
    .await;
}

/// [`seed_instances`] with a deeper call chain: `pi-1` calls `c-1` (of `p`), which calls `c-2`
/// (of `other`, without history).
async fn instances(n: usize) -> TestDb {
    let db = TestDb::new().await;
    seed_instances(&db, n).await;
    db.exec(
        "insert into act_ru_execution(id_,proc_inst_id_,parent_id_,proc_def_id_) values ('c-1-x','c-1','c-1','pd1');
         insert into act_ru_execution(id_,proc_inst_id_,root_proc_inst_id_,proc_def_id_,super_exec_)
           values ('c-2','c-2','pi-1','pd2','c-1-x');",
    )
    .await;
    db
}

/// `POST /process-instance/delete?dryRun=true`.
async fn dry_run(api: &ApiClient, body: &Value) -> (u16, Value) {
    api.post("/process-instance/delete?dryRun=true", body).await
}

/// Running process instances (root executions of an instance).
async fn running(db: &TestDb) -> i64 {
    db.scalar("SELECT count(*) FROM act_ru_execution WHERE id_ = proc_inst_id_").await
}

/// Checks a preview against the batch the same body then creates, and against what deleting
/// that batch removes.
async fn preview_matches_the_batch(name: &str, body: Value, setup: Option<&str>, expected: (i64, i64)) {
    let db = instances(10).await;
    if let Some(sql) = setup {
        db.exec(sql).await;
    }
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let client: &ApiClient = &api;
    let before = fingerprint(&db, &settings).await;
    let (status, preview) = dry_run(client, &body).await;
    assert_eq!(status, 200, "{name}: {preview}");
    assert_eq!(fingerprint(&db, &settings).await, before, "{name}: the dry run changed something");
    let fields: Vec<&str> = preview.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        ["byProcessDefinitionKey", "calledInstances", "etaSeconds", "instances", "sample", "totalJobs"],
        "{name}"
    );
    assert_eq!(preview["etaSeconds"], Value::Null, "{name}: no batch has ended yet");
    assert_eq!(
        (preview["instances"].as_i64(), preview["calledInstances"].as_i64()),
        (Some(expected.0), Some(expected.1)),
        "{name}: {preview}"
    );

    let running_before = running(&db).await;
    let (status, batch) = client.post("/process-instance/delete", &body).await;
    assert_eq!(status, 200, "{name}: {batch}");
    let id = batch["id"].as_str().unwrap().to_owned();
    let items = db.scalar(&format!("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = '{id}'")).await;
    assert_eq!(preview["instances"], items, "{name}: {preview}");
    assert_eq!(preview["totalJobs"], batch["totalJobs"], "{name}");
    let by_key: BTreeMap<String, i64> = db
        .strings(&format!(
            "SELECT d.key_ || '=' || count(*) FROM sweep_batch_item i
               JOIN act_ru_execution e ON e.id_ = i.proc_inst_id_ AND e.proc_inst_id_ = e.id_
               JOIN act_re_procdef d ON d.id_ = e.proc_def_id_
              WHERE i.batch_id_ = '{id}' GROUP BY d.key_"
        ))
        .await
        .iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.parse().unwrap())
        })
        .collect();
    assert_eq!(preview["byProcessDefinitionKey"], json!(by_key), "{name}");
    let first_ids = db
        .strings(&format!("SELECT proc_inst_id_ FROM sweep_batch_item WHERE batch_id_ = '{id}' ORDER BY 1 LIMIT 20"))
        .await;
    assert_eq!(preview["sample"], json!(first_ids), "{name}");

    DrivenWorker::connect(settings.clone()).await.drain().await;
    let deleted = db
        .scalar(&format!("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = '{id}' AND state_ = 'deleted'"))
        .await;
    let removed = running_before - running(&db).await;
    assert_eq!(
        preview["calledInstances"],
        removed - deleted,
        "{name}: called instances are what is deleted beyond the selection"
    );
    assert!(system_tests::fixtures::batch_completed(&db, &id).await, "{name}: the batch completed");

    // Now that a batch has ended, previews estimate from its rate.
    let (status, again) = dry_run(client, &json!({"processInstanceQuery": {}})).await;
    assert_eq!(status, 200, "{again}");
    assert!(again["etaSeconds"].is_i64(), "{name}: {again}");
}

#[tokio::test]
async fn a_dry_run_of_a_query_counts_what_the_batch_then_snapshots_and_deletes() {
    // c-2 (of `other`) is selected itself; c-1 goes along with pi-1.
    preview_matches_the_batch(
        "query",
        json!({"processInstanceQuery": {"processDefinitionKey": "other"}}),
        None,
        (6, 1),
    )
    .await;
}

#[tokio::test]
async fn a_dry_run_of_a_historic_query_counts_only_running_instances() {
    // c-2 has no history: it is deleted with c-1, not selected.
    let finished = "insert into act_hi_procinst(id_,proc_inst_id_,proc_def_id_,start_time_,end_time_,state_)
                    values ('done-1','done-1','pd1', now() - interval '2 days', now(), 'COMPLETED')";
    preview_matches_the_batch(
        "historic query",
        json!({"historicProcessInstanceQuery": {}, "invocationsPerBatchJob": 3}),
        Some(finished),
        (11, 1),
    )
    .await;
}

#[tokio::test]
async fn a_dry_run_of_explicit_ids_counts_their_called_instances_transitively() {
    preview_matches_the_batch(
        "ids",
        json!({"processInstanceIds": ["pi-4", "pi-1", "pi-2"], "invocationsPerBatchJob": 2}),
        None,
        (3, 2),
    )
    .await;
}

#[tokio::test]
async fn a_dry_run_of_a_mix_with_duplicates_and_unknown_ids_counts_each_instance_once() {
    preview_matches_the_batch(
        "mix",
        json!({
            "processInstanceIds": ["pi-1", "pi-1", "pi-2", "ghost"],
            "processInstanceQuery": {"processDefinitionKey": "p"},
            "historicProcessInstanceQuery": {"processInstanceIds": ["pi-3", "pi-2"]},
            "failIfNotExists": false,
            "invocationsPerBatchJob": 4
        }),
        None,
        (9, 1),
    )
    .await;
}

#[tokio::test]
async fn a_dry_run_with_skip_subprocesses_counts_no_called_instances() {
    preview_matches_the_batch(
        "skipSubprocesses",
        json!({"processInstanceIds": ["pi-1", "pi-3"], "skipSubprocesses": true}),
        None,
        (2, 0),
    )
    .await;
}

#[tokio::test]
async fn a_dry_run_for_a_user_with_partial_authorizations_counts_only_what_they_may_delete() {
    // dave may read and delete instances of `p`, only read those of `other`, but delete pi-3.
    let db = instances(10).await;
    user(&db, "dave").await;
    grant(&db, "dave", 13, "*", 8).await;
    grant(&db, "dave", 6, "p", 512 | 2048).await;
    grant(&db, "dave", 6, "other", 512).await;
    grant(&db, "dave", 8, "pi-3", 16).await;
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let dave = api.as_user("dave", "pw");
    let body = json!({"processInstanceQuery": {}, "processInstanceIds": ["pi-6", "pi-5"], "failIfNotExists": false});
    let before = fingerprint(&db, &settings).await;
    let (status, preview) = dry_run(&dave, &body).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(fingerprint(&db, &settings).await, before);
    let running_before = running(&db).await;
    let id = dave.start_deletion(&body).await;
    let selected =
        db.strings(&format!("SELECT proc_inst_id_ FROM sweep_batch_item WHERE batch_id_ = '{id}' ORDER BY 1")).await;
    // pi-5, which dave may not delete, is not even a skipped item: it is invisible.
    assert_eq!(selected, ["c-1", "pi-10", "pi-2", "pi-3", "pi-4", "pi-6", "pi-8"]);
    assert_eq!(preview["instances"], 7);
    assert_eq!(preview["totalJobs"], 1);
    assert_eq!(preview["sample"], json!(selected));
    assert_eq!(preview["byProcessDefinitionKey"], json!({"p": 6, "other": 1}));
    DrivenWorker::connect(settings).await.drain().await;
    // c-2 (of `other`, which dave may not delete) goes along with c-1, as the deletion does.
    assert_eq!(preview["calledInstances"], 1, "{preview}");
    assert_eq!(running_before - running(&db).await, 8);
}

#[tokio::test]
async fn failed_dry_runs_answer_as_the_real_call_and_change_nothing() {
    let db = instances(5).await;
    user(&db, "carol").await;
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let before = fingerprint(&db, &settings).await;
    let cases = [
        ("empty body", json!({}), 400, "processInstanceIds is empty"),
        ("unknown id", json!({"processInstanceIds": ["pi-1", "ghost"]}), 400, "'ghost'"),
        ("wrong type", json!({"processInstanceIds": 5}), 400, "processInstanceIds"),
        (
            "bad operator",
            json!({"processInstanceQuery": {"variables": [{"name": "x", "operator": "near", "value": 1}]}}),
            400,
            "near",
        ),
        (
            "zero per job",
            json!({"processInstanceIds": ["pi-1"], "invocationsPerBatchJob": 0}),
            400,
            "invocationsPerBatchJob",
        ),
    ];
    for (name, body, status, fragment) in cases {
        let (got, answer) = dry_run(&api, &body).await;
        assert_eq!(got, status, "{name}: {answer}");
        assert_eq!(answer["type"], "InvalidRequestException", "{name}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains(fragment), "{name}: {answer}");
        // The real call answers the same.
        let (real, real_answer) = api.post("/process-instance/delete", &body).await;
        assert_eq!((real, &real_answer["message"]), (got, &answer["message"]), "{name}");
        assert_eq!(fingerprint(&db, &settings).await, before, "{name} changed something");
    }
    let (got, answer) =
        api.post_raw("/process-instance/delete?dryRun=true", "application/json", "{\"processInstanceIds\": [").await;
    assert_eq!(got, 400, "{answer}");
    let (got, answer) =
        api.post("/process-instance/delete?dryRun=perhaps", &json!({"processInstanceIds": ["pi-1"]})).await;
    assert_eq!(got, 400, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("dryRun"), "{answer}");

    // Without BATCH create permission: 403, as the real call.
    let (got, answer) = dry_run(&api.as_user("carol", "pw"), &json!({"processInstanceIds": ["pi-1"]})).await;
    assert_eq!(got, 403, "{answer}");
    assert_eq!(answer["type"], "AuthorizationException");
    // Without a user at all: 401.
    assert_eq!(dry_run(&api.anonymous(), &json!({"processInstanceIds": ["pi-1"]})).await.0, 401);

    // A selection that is empty (the real call's 400) previews as zeros.
    let (got, answer) = dry_run(&api, &json!({"processInstanceQuery": {"processDefinitionKey": "nope"}})).await;
    assert_eq!(got, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"instances": 0, "calledInstances": 0, "byProcessDefinitionKey": {}, "sample": [], "totalJobs": 0,
               "etaSeconds": null})
    );
    let (real, _) =
        api.post("/process-instance/delete", &json!({"processInstanceQuery": {"processDefinitionKey": "nope"}})).await;
    assert_eq!(real, 400);
    // An Idempotency-Key is not recorded by a dry run.
    let request = api.request(reqwest::Method::POST, "/process-instance/delete?dryRun=true");
    let (got, _) =
        api.send(request.header("Idempotency-Key", "k-1").json(&json!({"processInstanceIds": ["pi-2"]}))).await;
    assert_eq!(got, 200);
    assert_eq!(fingerprint(&db, &settings).await, before, "the error cases and the previews changed something");
    let request = api.request(reqwest::Method::POST, "/process-instance/delete");
    let (got, _) =
        api.send(request.header("Idempotency-Key", "k-1").json(&json!({"processInstanceIds": ["pi-3"]}))).await;
    assert_eq!(got, 200, "the key is still free");
}

/// Instance counters of an event's data.
fn counters(event: &SseEvent) -> [i64; 6] {
    let n = |k: &str| event.data[k].as_i64().unwrap_or_else(|| panic!("{k} in {:?}", event.data));
    [
        n("totalInstances"),
        n("pendingInstances"),
        n("runningInstances"),
        n("deletedInstances"),
        n("skippedInstances"),
        n("failedInstances"),
    ]
}

/// Opens the event stream of `id`, which must succeed.
async fn events(api: &ApiClient, id: &str, last_event_id: Option<&str>) -> EventStream {
    EventStream::open(api, id, last_event_id).await.unwrap_or_else(|(status, body)| panic!("{status}: {body}"))
}

/// The value of the sample `series` on the API's `/metrics` page.
async fn metric(api: &ApiClient, series: &str) -> f64 {
    let page = api.client.get(format!("{}/metrics", api.origin)).send().await.unwrap().text().await.unwrap();
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{page}"))
}

#[tokio::test]
async fn a_stream_follows_a_ten_thousand_instance_batch_to_its_completed_event_and_resumes_after_an_id() {
    let db = TestDb::new().await;
    seed_instances(&db, 10_000).await;
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let id = api.start_deletion(&json!({"processInstanceQuery": {}, "invocationsPerBatchJob": 50})).await;
    let mut stream = events(&api, &id, None).await;
    let first = stream.next(EVENT).await.expect("a first event");
    assert_eq!((first.event.as_str(), first.id), ("progress", Some(1)), "{first:?}");
    let total = counters(&first)[0];
    assert_eq!(total, 10_001, "every instance and c-1");
    for key in ["id", "totalJobs", "remainingJobs", "completedJobs", "failedJobs", "suspended", "instancesPerSecond"] {
        assert!(first.data.get(key).is_some(), "{key} in {:?}", first.data);
    }
    assert!(first.data.get("etaSeconds").is_some(), "{:?}", first.data);

    let worker = TestWorker::spawn(settings.clone()).await;
    let mut last = first;
    let mut progress = 1;
    let mut resumed = None;
    let mut saw_a_rate = false;
    loop {
        let event = stream.next(EVENT).await.expect("the stream ends only after its final event");
        assert!(event.id > last.id, "ids increase: {:?} after {:?}", event.id, last.id);
        let [t, pending, running, deleted, skipped, failed] = counters(&event);
        assert_eq!(t, total);
        assert_eq!(pending + running + deleted + skipped + failed, total, "{:?}", event.data);
        let [_, _, _, was_deleted, was_skipped, was_failed] = counters(&last);
        assert!(deleted >= was_deleted && skipped >= was_skipped && failed >= was_failed, "counters never go back");
        let n = |k: &str| event.data[k].as_i64().unwrap();
        assert_eq!(n("completedJobs") + n("remainingJobs"), n("totalJobs"), "{:?}", event.data);
        if event.event == "progress" {
            progress += 1;
            saw_a_rate |= event.data["instancesPerSecond"].as_f64().unwrap() > 0.0 && event.data["etaSeconds"].is_i64();
            if progress == 3 {
                // A second client resumes after this event: its ids continue after it.
                let after = event.id.unwrap().to_string();
                resumed = Some((event.id.unwrap(), events(&api, &id, Some(&after)).await));
            }
            last = event;
            continue;
        }
        assert_eq!(event.event, "completed", "{event:?}");
        assert_eq!(deleted, total, "{:?}", event.data);
        assert_eq!(n("remainingJobs"), 0);
        assert!(event.data["endTime"].is_string(), "{:?}", event.data);
        break;
    }
    assert!(stream.next(EVENT).await.is_none(), "the stream ends after the final event");
    assert!(progress >= 3, "progress was seen while the batch ran ({progress} events)");
    assert!(saw_a_rate, "a rate and an ETA while instances were deleted");

    let (after, mut resumed) = resumed.expect("a resumed stream");
    let rest = resumed.rest(EVENT).await;
    assert_eq!(rest.first().and_then(|e| e.id), Some(after + 1), "{rest:?}");
    assert!(rest.windows(2).all(|w| w[1].id == w[0].id.map(|i| i + 1)), "one by one: {rest:?}");
    assert_eq!(rest.last().map(|e| e.event.as_str()), Some("completed"));
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn a_hundred_streams_of_one_batch_share_one_poller_and_all_get_the_final_event() {
    let db = instances(200).await;
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let id = api.start_deletion(&json!({"processInstanceQuery": {}, "invocationsPerBatchJob": 20})).await;
    let mut streams = Vec::new();
    for _ in 0..100 {
        streams.push(events(&api, &id, None).await);
    }
    for stream in &mut streams {
        assert_eq!(stream.next(EVENT).await.expect("progress").event, "progress");
    }
    assert_eq!(metric(&api, "sweep_api_batch_event_streams").await, 100.0);
    // Over the next three events of one stream (about three seconds), the batch is read about
    // three times, not three hundred (a loaded machine may stretch or bunch the intervals).
    let polls = metric(&api, "sweep_api_batch_event_polls_total").await;
    for _ in 0..3 {
        assert_eq!(streams[0].next(EVENT).await.expect("progress").event, "progress");
    }
    let read = metric(&api, "sweep_api_batch_event_polls_total").await - polls;
    assert!((1.0..=12.0).contains(&read), "{read} progress reads for 100 streams over 3 events");

    DrivenWorker::connect(settings).await.drain().await;
    let mut finals = 0;
    for stream in &mut streams {
        let rest = stream.rest(EVENT).await;
        let last = rest.last().expect("a final event");
        assert_eq!(last.event, "completed", "{last:?}");
        assert_eq!(counters(last)[3], counters(last)[0], "{:?}", last.data);
        finals += 1;
    }
    assert_eq!(finals, 100);
    drop(streams);
    system_tests::eventually(EVENT, || async {
        (metric(&api, "sweep_api_batch_event_streams").await == 0.0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn ended_batches_answer_their_final_event_at_once() {
    let db = instances(10).await;
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let done = api.start_deletion(&json!({"processInstanceIds": ["pi-2", "pi-4"]})).await;
    DrivenWorker::connect(settings.clone()).await.drain().await;
    wait_completed(&db, &done, EVENT).await;
    let started = std::time::Instant::now();
    let mut stream = events(&api, &done, Some("41")).await;
    let rest = stream.rest(EVENT).await;
    assert!(started.elapsed() < Duration::from_secs(3), "at once: {:?}", started.elapsed());
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert_eq!((rest[0].event.as_str(), rest[0].id), ("completed", Some(42)));
    assert_eq!(counters(&rest[0]), [2, 0, 0, 2, 0, 0]);
    assert_eq!(rest[0].data["id"], done.as_str());
    assert!(rest[0].data["endTime"].is_string(), "{:?}", rest[0].data);

    // An instance gone between snapshot and job is a failed item: the batch ends `failed`.
    let failing = api.start_deletion(&json!({"processInstanceIds": ["pi-6", "pi-8"]})).await;
    db.exec("DELETE FROM act_ru_variable WHERE proc_inst_id_ = 'pi-8'; DELETE FROM act_ru_execution WHERE proc_inst_id_ = 'pi-8'")
        .await;
    let mut live = events(&api, &failing, None).await;
    DrivenWorker::connect(settings.clone()).await.drain().await;
    let last = live.rest(EVENT).await.pop().expect("a final event");
    assert_eq!(last.event, "failed", "{last:?}");
    assert_eq!(counters(&last), [2, 0, 0, 1, 0, 1]);
    let again = events(&api, &failing, None).await.rest(EVENT).await;
    assert_eq!(again.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(), ["failed"]);
}

#[tokio::test]
async fn a_deleted_batch_ends_its_streams_with_deleted() {
    let db = instances(10).await;
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let id = api.start_deletion(&json!({"processInstanceQuery": {}})).await;
    let mut stream = events(&api, &id, None).await;
    assert_eq!(stream.next(EVENT).await.unwrap().event, "progress");
    assert_eq!(api.delete(&format!("/batch/{id}")).await.0, 204);
    let rest = stream.rest(EVENT).await;
    let last = rest.last().expect("a final event");
    assert_eq!(last.event, "deleted", "{rest:?}");
    assert_eq!(counters(last)[1], counters(last)[0], "nothing was deleted: {:?}", last.data);
    // Later streams get `deleted` at once, while the history is there; afterwards, 404.
    let again = events(&api, &id, None).await.rest(EVENT).await;
    assert_eq!(again.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(), ["deleted"]);
    assert_eq!(api.delete(&format!("/history/batch/{id}")).await.0, 204);
    let (status, body) = EventStream::open(&api, &id, None).await.err().expect("404");
    assert_eq!((status, body["type"].as_str()), (404, Some("InvalidRequestException")), "{body}");
}

#[tokio::test]
async fn streams_of_unknown_or_invisible_batches_and_bad_ids_are_refused() {
    let db = instances(4).await;
    user(&db, "erin").await;
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let id = api.start_deletion(&json!({"processInstanceIds": ["pi-1"]})).await;
    let (status, body) = EventStream::open(&api, "no-such-batch", None).await.err().expect("404");
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["message"], "Batch with id 'no-such-batch' does not exist");
    let (status, body) = EventStream::open(&api.as_user("erin", "pw"), &id, None).await.err().expect("404");
    assert_eq!(status, 404, "without READ on the batch: {body}");
    let (status, _) = EventStream::open(&api.anonymous(), &id, None).await.err().expect("401");
    assert_eq!(status, 401);
    for bad in ["x", "-1", "9007199254740992", "1.5"] {
        let (status, body) = EventStream::open(&api, &id, Some(bad)).await.err().expect("400");
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["message"].as_str().unwrap().contains("Last-Event-ID"), "{body}");
    }
    assert!(EventStream::open(&api, &id, Some("9007199254740991")).await.is_ok());
}

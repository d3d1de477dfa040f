//! OpenTelemetry traces, as a collector receives them over OTLP/HTTP: API and worker run
//! in-process with `telemetry.otlp_endpoint` pointing at the test's own receiver.

use std::collections::HashSet;
use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::json;
use system_tests::fixtures::{seed_instances, wait_completed};
use system_tests::otlp::{Collector, ReceivedSpan, new_traceparent};
use system_tests::{DrivenWorker, TestApi, TestDb, eventually};

/// Exports what has ended so far (it blocks, so not on the test's runtime threads).
async fn flush() {
    tokio::task::spawn_blocking(shared::telemetry::flush).await.unwrap();
}

fn attr(span: &ReceivedSpan, key: &str) -> String {
    span.attribute(key).unwrap_or_else(|| panic!("{} lacks {key}: {:?}", span.name(), span.span.attributes))
}

#[tokio::test]
async fn a_batch_is_one_trace_and_each_job_a_trace_linked_to_it() {
    let collector = Collector::global();
    let db = TestDb::new().await;
    // 25 roots of `p` plus the called `c-1`: 3 jobs of 10, created by 2 seed runs of 2 jobs.
    seed_instances(&db, 50).await;
    let settings = db.settings(&[
        ("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "10"),
        ("SWEEP__BATCH__BATCH_JOBS_PER_SEED", "2"),
        ("SWEEP__TELEMETRY__FORMAT", "json"),
        ("SWEEP__TELEMETRY__OTLP_ENDPOINT", collector.endpoint()),
    ]);
    let prefix = settings.amqp.prefix.clone();
    let api = TestApi::spawn(settings.clone()).await;
    let worker = DrivenWorker::connect(settings).await;

    let caller = new_traceparent();
    let trace = shared::trace::trace_id(&caller).to_owned();
    let caller_span = caller.split('-').nth(2).unwrap().to_owned();
    let (status, batch) = api
        .send(
            api.request(reqwest::Method::POST, "/process-instance/delete")
                .header("traceparent", &caller)
                .json(&json!({"processInstanceQuery": {"processDefinitionKey": "p"}})),
        )
        .await;
    assert_eq!(status, 200, "{batch}");
    let id = batch["id"].as_str().unwrap().to_owned();
    assert_eq!(batch["totalJobs"], 3);
    let handled = worker.drain().await;
    assert!(handled >= 6, "3 jobs, 2 seed runs and monitor messages, not {handled}");
    wait_completed(&db, &id, Duration::from_secs(10)).await;

    let (seed_queue, job_queue, monitor_queue) =
        (format!("process {prefix}.seed"), format!("process {prefix}.job"), format!("process {prefix}.monitor"));
    // The batch's spans and those linked to them; complete once every job's has arrived.
    let (in_trace, jobs) = eventually(Duration::from_secs(20), || async {
        flush().await;
        let spans = collector.spans();
        let in_trace: Vec<ReceivedSpan> = spans.iter().filter(|s| s.trace_id() == trace).cloned().collect();
        let jobs: Vec<ReceivedSpan> = spans
            .iter()
            .filter(|s| s.name() == job_queue && s.links().iter().any(|(t, _)| *t == trace))
            .cloned()
            .collect();
        let seeds = in_trace.iter().filter(|s| s.name() == seed_queue).count();
        (jobs.len() == 3 && seeds == 2).then_some((in_trace, jobs))
    })
    .await;

    // The request: a SERVER span continuing the caller's trace, with HTTP attributes.
    let request = in_trace
        .iter()
        .find(|s| s.kind() == SpanKind::Server)
        .unwrap_or_else(|| panic!("no request span among {in_trace:#?}"));
    assert_eq!(request.name(), "POST /engine-rest/process-instance/delete");
    assert_eq!(request.parent_id(), caller_span);
    assert_eq!(attr(request, "http.request.method"), "POST");
    assert_eq!(attr(request, "http.route"), "/engine-rest/process-instance/delete");
    assert_eq!(attr(request, "http.response.status_code"), "200");
    assert_eq!(attr(request, "batch.id"), id);
    assert!(request.service.starts_with("sweep-"), "{}", request.service);

    // request → send (PRODUCER, the seed) → process (CONSUMER, the first seed run).
    let sends: Vec<&ReceivedSpan> = in_trace.iter().filter(|s| s.kind() == SpanKind::Producer).collect();
    let seed_send = sends
        .iter()
        .find(|s| s.parent_id() == request.span_id())
        .unwrap_or_else(|| panic!("no send span under the request among {sends:#?}"));
    assert_eq!(seed_send.name(), format!("send {prefix}.work"));
    assert_eq!(attr(seed_send, "messaging.system"), "rabbitmq");
    assert_eq!(attr(seed_send, "messaging.operation.type"), "send");
    assert_eq!(attr(seed_send, "messaging.destination.name"), format!("{prefix}.work"));
    assert_eq!(attr(seed_send, "messaging.rabbitmq.destination.routing_key"), "seed");
    let seeds: Vec<&ReceivedSpan> = in_trace.iter().filter(|s| s.name() == seed_queue).collect();
    let first_seed = seeds
        .iter()
        .find(|s| s.parent_id() == seed_send.span_id())
        .unwrap_or_else(|| panic!("no seed run under the send span among {seeds:#?}"));
    assert_eq!(first_seed.kind(), SpanKind::Consumer);
    assert_eq!(attr(first_seed, "messaging.system"), "rabbitmq");
    assert_eq!(attr(first_seed, "messaging.operation.type"), "process");
    assert_eq!(attr(first_seed, "messaging.destination.name"), format!("{prefix}.seed"));
    assert_eq!(attr(first_seed, "messaging.rabbitmq.destination.routing_key"), "seed");
    attr(first_seed, "messaging.rabbitmq.message.delivery_tag").parse::<u64>().expect("a delivery tag");
    assert_eq!(attr(first_seed, "batch.id"), id);
    // The second seed run continues the trace too, under a send span of the first.
    let send_ids: HashSet<String> = sends.iter().map(|s| s.span_id()).collect();
    assert!(seeds.iter().all(|s| send_ids.contains(&s.parent_id())), "{seeds:#?}");

    // Each job: a CONSUMER root span in a trace of its own, linked to the send span of its
    // message in the batch's trace.
    let job_traces: HashSet<String> = jobs.iter().map(ReceivedSpan::trace_id).collect();
    assert_eq!(job_traces.len(), 3, "one trace per job");
    let mut job_ids = HashSet::new();
    for job in &jobs {
        assert_ne!(job.trace_id(), trace);
        assert_eq!(job.parent_id(), "", "a job's span is a root");
        assert_eq!(job.kind(), SpanKind::Consumer);
        let (_, linked) = job.links().into_iter().find(|(t, _)| *t == trace).unwrap();
        assert!(send_ids.contains(&linked), "{} links to {linked}, not to a send span of the batch", job.name());
        assert_eq!(attr(job, "messaging.destination.name"), format!("{prefix}.job"));
        assert_eq!(attr(job, "messaging.rabbitmq.destination.routing_key"), "job");
        assert_eq!(attr(job, "batch.id"), id);
        job_ids.insert(attr(job, "job.id"));
    }
    assert_eq!(job_ids, (1..=3).map(|n| format!("{id}:{n}")).collect());
    assert!(!in_trace.iter().any(|s| s.name() == job_queue), "no job is processed in the batch's trace");

    // Monitor messages, sent by jobs, start traces of their own too, linked to their job's.
    let monitors: Vec<ReceivedSpan> = eventually(Duration::from_secs(10), || async {
        flush().await;
        let monitors: Vec<ReceivedSpan> = collector
            .spans()
            .into_iter()
            .filter(|s| s.name() == monitor_queue && s.links().iter().any(|(t, _)| job_traces.contains(t)))
            .collect();
        (!monitors.is_empty()).then_some(monitors)
    })
    .await;
    for monitor in &monitors {
        assert!(!job_traces.contains(&monitor.trace_id()) && monitor.trace_id() != trace);
        assert_eq!(monitor.parent_id(), "");
        assert_eq!(attr(monitor, "batch.id"), id);
    }

    // The worker's log line of the first seed run names that span.
    let line = collector
        .log_lines()
        .into_iter()
        .find(|l| {
            l["trace_id"] == trace.as_str() && l["message"].as_str().is_some_and(|m| m.starts_with("Seeded jobs"))
        })
        .expect("a JSON log line of the seed run with the batch's trace_id");
    let seed_span_ids: HashSet<String> = seeds.iter().map(|s| s.span_id()).collect();
    assert!(seed_span_ids.contains(line["span_id"].as_str().unwrap()), "{line}");

    // Nobody listens to the deletion events here: the broker returns each job's probe, as
    // Sweep expects, and that is no warning (the client library would log the whole message).
    let warnings: Vec<serde_json::Value> = collector.log_lines().into_iter().filter(|l| l["level"] == "WARN").collect();
    assert!(warnings.is_empty(), "{warnings:?}");
}

//! Every Prometheus metric either binary serves, in one list: each name starts with `sweep_`,
//! has HELP text and base units, and outcome labels share one vocabulary (past-tense verbs).
//! Instance or batch ids are never labels. Code records through the functions below, never
//! through the `metrics` macros directly, so this list stays complete.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// `sweep_http_requests_total{method,route,status}`: API requests answered.
pub const HTTP_REQUESTS: &str = "sweep_http_requests_total";
/// `sweep_http_request_duration_seconds{method,route,status}`: API request latency.
pub const HTTP_REQUEST_DURATION: &str = "sweep_http_request_duration_seconds";
/// `sweep_api_batches_created_total`: deletion batches created.
pub const BATCHES_CREATED: &str = "sweep_api_batches_created_total";
/// `sweep_worker_messages_total{queue,outcome}`: work messages handled; `outcome` is
/// `acked`, `requeued` or `dead_lettered`.
pub const MESSAGES: &str = "sweep_worker_messages_total";
/// `sweep_worker_jobs_total{outcome}`: batch job attempts; `outcome` is `succeeded`,
/// `retried` (failed, will run again after a back-off) or `failed` (out of retries).
pub const JOBS: &str = "sweep_worker_jobs_total";
/// `sweep_worker_job_duration_seconds`: duration of a successful job's deletion transaction.
pub const JOB_DURATION: &str = "sweep_worker_job_duration_seconds";
/// `sweep_worker_instances_deleted_total`: process instances deleted, called ones included.
pub const INSTANCES_DELETED: &str = "sweep_worker_instances_deleted_total";
/// `sweep_worker_batches_completed_total`: batches completed.
pub const BATCHES_COMPLETED: &str = "sweep_worker_batches_completed_total";
/// `sweep_outbox_pending_rows`: outbox rows waiting to be published, as of the last relay pass.
pub const OUTBOX_PENDING: &str = "sweep_outbox_pending_rows";
/// `sweep_outbox_oldest_age_seconds`: age of the oldest outbox row, as of the last relay pass.
pub const OUTBOX_OLDEST_AGE: &str = "sweep_outbox_oldest_age_seconds";
/// `sweep_outbox_republished_total`: rows the relay published because their writer did not.
pub const OUTBOX_REPUBLISHED: &str = "sweep_outbox_republished_total";
/// `sweep_outbox_publish_failures_total`: publishes after commit that failed (left to the relay).
pub const OUTBOX_PUBLISH_FAILURES: &str = "sweep_outbox_publish_failures_total";
/// `sweep_build_info{binary,version}`: always 1; `binary` is `sweep-api` or `sweep-worker`.
pub const BUILD_INFO: &str = "sweep_build_info";
/// `sweep_batch_jobs{state}`: batch jobs of active (not suspended) runtime batches, as of the
/// API's last backlog refresh; `state` is `pending` (jobs not created yet included), `running`
/// or `failed` (out of retries).
pub const BATCH_JOBS: &str = "sweep_batch_jobs";
/// `sweep_items_pending`: instances of active runtime batches not processed yet (in pending or
/// running jobs, or in jobs not created yet), as of the API's last backlog refresh.
pub const ITEMS_PENDING: &str = "sweep_items_pending";
/// `sweep_batches{state}`: runtime batches; `state` is `running` or `suspended`.
pub const BATCHES: &str = "sweep_batches";
/// `sweep_dead_letter_messages`: messages in the dead-letter queue `<p>.dead`, as of the API's
/// last backlog refresh.
pub const DEAD_LETTER_MESSAGES: &str = "sweep_dead_letter_messages";
/// `sweep_worker_inflight_jobs`: job messages a worker is handling right now.
pub const WORKER_INFLIGHT_JOBS: &str = "sweep_worker_inflight_jobs";
/// `sweep_worker_redeliveries_total{queue}`: work messages received with the AMQP
/// `redelivered` flag (delivered before, not acknowledged).
pub const WORKER_REDELIVERIES: &str = "sweep_worker_redeliveries_total";
/// `sweep_db_pool_connections{state}`: connections of the process's database pool; `state` is
/// `idle` or `in_use`.
pub const DB_POOL_CONNECTIONS: &str = "sweep_db_pool_connections";
/// `sweep_api_batch_event_streams`: open `GET /batch/{id}/events` streams.
pub const BATCH_EVENT_STREAMS: &str = "sweep_api_batch_event_streams";
/// `sweep_api_batch_event_polls_total`: progress reads of the event streams' pollers (one per
/// watched batch and interval, however many streams watch it).
pub const BATCH_EVENT_POLLS: &str = "sweep_api_batch_event_polls_total";
/// `sweep_db_pool_max_connections`: the pool's size limit (`database.max_connections`).
pub const DB_POOL_MAX_CONNECTIONS: &str = "sweep_db_pool_max_connections";

/// `sweep_control_limit`: the cluster-wide concurrency limit (jobs running at once over all
/// batches and workers) as this process last read or set it.
pub const CONTROL_LIMIT: &str = "sweep_control_limit";
/// `sweep_control_adjustments_total{direction,reason}`: changes of the limit this process made;
/// `direction` is `increase` or `decrease`, `reason` `healthy`, `latency`, `lock_wait` or
/// `replica_lag`.
pub const CONTROL_ADJUSTMENTS: &str = "sweep_control_adjustments_total";
/// `sweep_worker_jobs_parked_total{reason}`: job messages sent to a park queue because they
/// may not run yet; `reason` is `window`, `priority`, `concurrency` or `rate`.
pub const JOBS_PARKED: &str = "sweep_worker_jobs_parked_total";

/// Latency buckets, in seconds: HTTP requests and jobs take milliseconds to a minute.
const SECONDS_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder on first use (later calls, e.g. an API and two workers
/// started in one test process, share it) and returns its handle.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = || {
                PrometheusBuilder::new()
                    .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                    .expect("buckets are not empty")
            };
            let handle = match builder().install_recorder() {
                Ok(h) => h,
                // Another recorder is installed (a host application's); render ours detached.
                Err(_) => builder().build_recorder().handle(),
            };
            describe();
            let upkeep = handle.clone();
            // Without the exporter's own HTTP listener, histograms need periodic upkeep.
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .ok();
            handle
        })
        .clone()
}

fn describe() {
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered by the API, by method, route template and status.");
    describe_histogram!(HTTP_REQUEST_DURATION, "Seconds the API took to answer, by method, route template and status.");
    describe_counter!(BATCHES_CREATED, "Deletion batches created.");
    describe_counter!(MESSAGES, "Work messages handled, by queue and outcome (acked, requeued, dead_lettered).");
    describe_counter!(JOBS, "Batch job attempts, by outcome (succeeded, retried, failed).");
    describe_histogram!(JOB_DURATION, "Seconds a successful batch job's deletion transaction took.");
    describe_counter!(INSTANCES_DELETED, "Process instances deleted, called sub-instances included.");
    describe_counter!(BATCHES_COMPLETED, "Deletion batches completed.");
    describe_gauge!(OUTBOX_PENDING, "Outbox rows waiting to be published, as of the last relay pass.");
    describe_gauge!(OUTBOX_OLDEST_AGE, "Age in seconds of the oldest outbox row, as of the last relay pass.");
    describe_counter!(OUTBOX_REPUBLISHED, "Outbox rows the relay published because their writer did not.");
    describe_counter!(OUTBOX_PUBLISH_FAILURES, "Publishes after commit that failed and were left to the relay.");
    describe_gauge!(BUILD_INFO, "Always 1, labelled with the binary and its version.");
    describe_gauge!(
        BATCH_JOBS,
        "Batch jobs of active runtime batches by state (pending includes jobs not created yet), read from the database."
    );
    describe_gauge!(ITEMS_PENDING, "Instances of active runtime batches not processed yet, read from the database.");
    describe_gauge!(BATCHES, "Runtime batches by state (running, suspended), read from the database.");
    describe_gauge!(DEAD_LETTER_MESSAGES, "Messages in the dead-letter queue, read from the broker.");
    describe_gauge!(WORKER_INFLIGHT_JOBS, "Job messages this worker is handling right now.");
    describe_counter!(
        WORKER_REDELIVERIES,
        "Work messages received again after an earlier unacknowledged delivery, by queue."
    );
    describe_gauge!(DB_POOL_CONNECTIONS, "Connections of this process's database pool, by state (idle, in_use).");
    describe_gauge!(DB_POOL_MAX_CONNECTIONS, "Size limit of this process's database pool.");
    describe_gauge!(BATCH_EVENT_STREAMS, "Open batch event streams (GET /batch/{id}/events).");
    describe_gauge!(CONTROL_LIMIT, "Cluster-wide limit of jobs running at once, as this process last read or set it.");
    describe_counter!(
        CONTROL_ADJUSTMENTS,
        "Changes of the cluster-wide concurrency limit this process made, by direction and reason."
    );
    describe_counter!(
        JOBS_PARKED,
        "Job messages parked because they may not run yet, by reason (window, priority, concurrency, rate)."
    );
    describe_counter!(
        BATCH_EVENT_POLLS,
        "Progress reads of the batch event pollers, one per watched batch and interval."
    );
    // Label-free series exist from the start, so a fresh process already shows them at 0.
    for name in [
        BATCHES_CREATED,
        INSTANCES_DELETED,
        BATCHES_COMPLETED,
        OUTBOX_REPUBLISHED,
        OUTBOX_PUBLISH_FAILURES,
        BATCH_EVENT_POLLS,
    ] {
        counter!(name).increment(0);
    }
}

/// A batch event stream opened; the gauge goes down when the returned guard is dropped.
pub fn batch_event_stream() -> EventStream {
    gauge!(BATCH_EVENT_STREAMS).increment(1.0);
    EventStream(())
}

/// An open batch event stream (see [`batch_event_stream`]).
#[derive(Debug)]
#[must_use]
pub struct EventStream(());

impl Drop for EventStream {
    fn drop(&mut self) {
        gauge!(BATCH_EVENT_STREAMS).decrement(1.0);
    }
}

/// One progress read of a batch event poller.
pub fn batch_event_poll() {
    counter!(BATCH_EVENT_POLLS).increment(1);
}

/// One answered HTTP request; `route` is the route template, never the raw path.
pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let labels = [("method", method.to_owned()), ("route", route.to_owned()), ("status", status.to_string())];
    counter!(HTTP_REQUESTS, &labels).increment(1);
    histogram!(HTTP_REQUEST_DURATION, &labels).record(elapsed.as_secs_f64());
}

/// A batch was created.
pub fn batch_created() {
    counter!(BATCHES_CREATED).increment(1);
}

/// How a work message was disposed of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageOutcome {
    /// Handled (or nothing to do) and acknowledged.
    Acked,
    /// Not handled for now (a service was unavailable); back to the queue.
    Requeued,
    /// Never handleable (undecodable): to the dead-letter queue.
    DeadLettered,
}

/// A work message from `queue` (its route: `seed`, `job`, `monitor`) was disposed of.
pub fn message(queue: &'static str, outcome: MessageOutcome) {
    let outcome = match outcome {
        MessageOutcome::Acked => "acked",
        MessageOutcome::Requeued => "requeued",
        MessageOutcome::DeadLettered => "dead_lettered",
    };
    counter!(MESSAGES, "queue" => queue, "outcome" => outcome).increment(1);
}

/// A job succeeded after `elapsed`, deleting `instances`.
pub fn job_succeeded(instances: u64, elapsed: Duration) {
    counter!(JOBS, "outcome" => "succeeded").increment(1);
    counter!(INSTANCES_DELETED).increment(instances);
    histogram!(JOB_DURATION).record(elapsed.as_secs_f64());
}

/// A job attempt failed; `retried` when it will run again.
pub fn job_failed(retried: bool) {
    counter!(JOBS, "outcome" => if retried { "retried" } else { "failed" }).increment(1);
}

/// A batch completed.
pub fn batch_completed() {
    counter!(BATCHES_COMPLETED).increment(1);
}

/// The outbox as the relay last saw it.
pub fn outbox_backlog(rows: i64, oldest_age_seconds: f64) {
    gauge!(OUTBOX_PENDING).set(rows as f64);
    gauge!(OUTBOX_OLDEST_AGE).set(oldest_age_seconds);
}

/// The relay published `rows` rows.
pub fn outbox_republished(rows: u64) {
    counter!(OUTBOX_REPUBLISHED).increment(rows);
}

/// A publish after commit failed.
pub fn outbox_publish_failed() {
    counter!(OUTBOX_PUBLISH_FAILURES).increment(1);
}

/// The process is `binary` (`sweep-api` or `sweep-worker`) of this version. Installs the
/// recorder (see [`handle`]) first, so nothing recorded later is lost.
pub fn build_info(binary: &'static str) {
    handle();
    gauge!(BUILD_INFO, "binary" => binary, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// A worker started: its series exist from now on, at 0, so rates and alerts see a worker that
/// has not handled anything yet.
pub fn worker_started(routes: &[&'static str]) {
    build_info("sweep-worker");
    gauge!(WORKER_INFLIGHT_JOBS).increment(0.0);
    for outcome in ["succeeded", "retried", "failed"] {
        counter!(JOBS, "outcome" => outcome).increment(0);
    }
    for reason in ["window", "priority", "concurrency", "rate"] {
        counter!(JOBS_PARKED, "reason" => reason).increment(0);
    }
    for (direction, reason) in
        [("increase", "healthy"), ("decrease", "latency"), ("decrease", "lock_wait"), ("decrease", "replica_lag")]
    {
        counter!(CONTROL_ADJUSTMENTS, "direction" => direction, "reason" => reason).increment(0);
    }
    for &queue in routes {
        counter!(WORKER_REDELIVERIES, "queue" => queue).increment(0);
        for outcome in ["acked", "requeued", "dead_lettered"] {
            counter!(MESSAGES, "queue" => queue, "outcome" => outcome).increment(0);
        }
    }
}

/// The cluster-wide concurrency limit as this process knows it.
pub fn control_limit(limit: i32) {
    gauge!(CONTROL_LIMIT).set(f64::from(limit));
}

/// This process changed the cluster-wide limit.
pub fn control_adjusted(direction: &'static str, reason: &'static str) {
    counter!(CONTROL_ADJUSTMENTS, "direction" => direction, "reason" => reason).increment(1);
}

/// A job message was parked for `reason`.
pub fn job_parked(reason: &'static str) {
    counter!(JOBS_PARKED, "reason" => reason).increment(1);
}

/// A work message from `queue` arrived with the `redelivered` flag.
pub fn redelivered(queue: &'static str) {
    counter!(WORKER_REDELIVERIES, "queue" => queue).increment(1);
}

/// Counts a job message in flight until the returned guard is dropped.
pub fn job_in_flight() -> InFlight {
    gauge!(WORKER_INFLIGHT_JOBS).increment(1.0);
    InFlight(())
}

/// See [`job_in_flight`].
#[must_use]
pub struct InFlight(());

impl Drop for InFlight {
    fn drop(&mut self) {
        gauge!(WORKER_INFLIGHT_JOBS).decrement(1.0);
    }
}

/// The backlog as the database shows it (see [`crate::db::batch::backlog`]).
pub fn backlog(backlog: &crate::db::batch::Backlog) {
    gauge!(BATCH_JOBS, "state" => "pending").set(backlog.jobs_pending as f64);
    gauge!(BATCH_JOBS, "state" => "running").set(backlog.jobs_running as f64);
    gauge!(BATCH_JOBS, "state" => "failed").set(backlog.jobs_failed as f64);
    gauge!(ITEMS_PENDING).set(backlog.items_pending as f64);
    gauge!(BATCHES, "state" => "running").set(backlog.batches_running as f64);
    gauge!(BATCHES, "state" => "suspended").set(backlog.batches_suspended as f64);
}

/// Messages waiting in the dead-letter queue.
pub fn dead_letter_messages(messages: u32) {
    gauge!(DEAD_LETTER_MESSAGES).set(f64::from(messages));
}

/// The database pool of this process: `size` open connections, `idle` of them idle, at most
/// `max`.
pub fn db_pool(size: u32, idle: u32, max: u32) {
    gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(f64::from(idle));
    gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(f64::from(size.saturating_sub(idle)));
    gauge!(DB_POOL_MAX_CONNECTIONS).set(f64::from(max));
}

/// The `/metrics` page, with the pool gauges of `db` read at this moment.
pub fn render(db: &sea_orm::DatabaseConnection) -> String {
    let pool = db.get_postgres_connection_pool();
    db_pool(pool.size(), u32::try_from(pool.num_idle()).unwrap_or(u32::MAX), pool.options().get_max_connections());
    handle().render()
}

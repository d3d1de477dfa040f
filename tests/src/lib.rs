//! Support for the integration tests. Tests reach the machine's services on 127.0.0.1;
//! `TEST_DATABASE_URL` (an admin URL: its database is ignored, its `?…` parameters kept) and
//! `TEST_AMQP_URL` override them.
//!
//! - [`TestDb`]: a PostgreSQL database of its own per test, cloned from a migrated template.
//! - [`ApiClient`]: HTTP calls to an API, in-process or a process; [`TestApi`]: the API
//!   in-process on port 0.
//! - [`TestWorker`]: a worker in-process.
//! - [`Proc`]: a Sweep binary as a child process; [`run`]: a command run to its end, its
//!   output kept ([`Finished`]).
//! - [`EventTap`], [`TestMq`]: what Sweep publishes, as the broker sees it.
//! - [`EventStream`]: a reader of the batch event stream, parsing Server-Sent Events itself.
//! - [`otlp`]: an OTLP/HTTP receiver in the test process, for tests of the exported traces.
//! - [`fixtures`]: instances to delete, and what the database says about a batch.
//! - [`eventually`], [`prefix`], [`settings_for`], [`settings_env`], [`free_port`]: small helpers.

mod api;
mod db;
pub mod fixtures;
mod mq;
pub mod otlp;
mod process;
mod sse;
mod workers;

use std::collections::HashMap;
use std::time::Duration;

pub use api::{ApiClient, TEST_USER, TestApi};
pub use db::{TemplateDb, TestDb, template_name};
pub use mq::{CapturedEvent, EventTap, TestMq};
pub use process::{Finished, Proc, run};
pub use sse::{EventStream, SseEvent};
pub use workers::{DrivenWorker, TestWorker};

/// Admin URL of the test server, without a database name (nor parameters).
pub fn server_url() -> String {
    let url = test_database_url();
    let url = url.split('?').next().unwrap_or_default();
    match url.rfind('/') {
        Some(i) if url[..i].contains("@") || url[..i].matches('/').count() > 2 => url[..i].to_string(),
        _ => url.to_string(),
    }
}

/// The URL of database `name` on the test server, as tests and the services under test use it.
/// With `TEST_DATABASE_URL`, its parameters (`?…`) are kept; on the default local server TLS is
/// off: to 127.0.0.1 it protects nothing and costs every new connection a ~90 ms stall.
pub fn database_url(name: &str) -> String {
    let params = match std::env::var("TEST_DATABASE_URL") {
        Ok(url) => url.find('?').map(|i| url[i..].to_owned()).unwrap_or_default(),
        Err(_) => "?sslmode=disable".to_owned(),
    };
    format!("{}/{name}{params}", server_url())
}

fn test_database_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// AMQP URL of the test broker.
pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A fresh broker namespace, `t<uuid>`: the prefix of every exchange and queue of one test.
pub fn prefix() -> String {
    format!("t{}", uuid::Uuid::new_v4().simple())
}

/// Settings pointing at `database_url`, with test-friendly values.
pub fn settings_for(database_url: &str, extra: &[(&str, &str)]) -> shared::Settings {
    shared::Settings::load_from(settings_env(database_url, extra)).expect("test settings are valid")
}

/// The `SWEEP__…` environment behind [`settings_for`], for processes started by tests. Each
/// call picks a fresh broker prefix; pass `SWEEP__AMQP__PREFIX` in `extra` to share one.
pub fn settings_env(database_url: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = HashMap::from([
        ("SWEEP__DATABASE__URL".into(), database_url.into()),
        ("SWEEP__DATABASE__MAX_CONNECTIONS".into(), "5".into()),
        ("SWEEP__HTTP__BIND".into(), "127.0.0.1:0".into()),
        ("SWEEP__AMQP__URL".into(), amqp_url()),
        ("SWEEP__TELEMETRY__FORMAT".into(), "human".into()),
        // A broker namespace of its own per settings object; queues vanish when unused.
        ("SWEEP__AMQP__PREFIX".into(), prefix()),
        ("SWEEP__AMQP__QUEUE_EXPIRES".into(), "5m".into()),
        // Classic queues are cheap to create and to expire; a few tests opt into quorum queues,
        // the production type, with `SWEEP__AMQP__QUEUE_TYPE=quorum`.
        ("SWEEP__AMQP__QUEUE_TYPE".into(), "classic".into()),
        ("SWEEP__WORKER__RETRY_BASE_DELAY".into(), "200ms".into()),
        ("SWEEP__OUTBOX__RELAY_INTERVAL".into(), "500ms".into()),
        // Rows a writer left unpublished (a crash, a broker outage) reach the relay after 2 s.
        ("SWEEP__OUTBOX__CLAIM_LEASE".into(), "2s".into()),
        ("SWEEP__OUTBOX__PUBLISH_TIMEOUT".into(), "1500ms".into()),
    ]);
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    env
}

/// A TCP port free at the time of the call, for a process that must be told its port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `check` until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "condition not met within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

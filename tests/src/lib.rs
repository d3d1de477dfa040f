//! Support for the integration tests: a fresh PostgreSQL database per test, the API started
//! in-process on port 0, and small helpers. Tests reach the machine's services on 127.0.0.1;
//! `TEST_DATABASE_URL` (an admin URL, database part ignored) and `TEST_AMQP_URL` override them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio_util::sync::CancellationToken;

/// Admin URL of the test server, without a database name.
pub fn server_url() -> String {
    let url =
        std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    match url.rfind('/') {
        Some(i) if url[..i].contains("@") || url[..i].matches('/').count() > 2 => url[..i].to_string(),
        _ => url,
    }
}

/// AMQP URL of the test broker.
pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
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
        ("SWEEP__AMQP__PREFIX".into(), format!("t{}", uuid::Uuid::new_v4().simple())),
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

async fn admin() -> DatabaseConnection {
    sea_orm::Database::connect(format!("{}/postgres", server_url())).await.expect("connect to the test PostgreSQL")
}

/// A database of its own for one test, dropped (forcibly) when the value is dropped.
pub struct TestDb {
    /// Database name, `t_<unix seconds>_<uuid>`.
    pub name: String,
    /// URL of this database.
    pub url: String,
    /// A pool on it.
    pub db: DatabaseConnection,
}

impl TestDb {
    /// A new database with Sweep's standalone schema migrated.
    pub async fn new() -> Self {
        let db = Self::empty().await;
        let one =
            sea_orm::Database::connect(sea_orm::ConnectOptions::new(db.url.clone()).max_connections(1).to_owned())
                .await
                .expect("connect");
        shared::db::migration::run(&one).await.expect("migrate");
        one.close().await.ok();
        db
    }

    /// A new, empty database (no tables).
    pub async fn empty() -> Self {
        let admin = admin().await;
        sweep_leftovers(&admin).await;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let name = format!("t_{now}_{}", uuid::Uuid::new_v4().simple());
        admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create test database");
        admin.close().await.ok();
        let url = format!("{}/{name}", server_url());
        let db = sea_orm::Database::connect(
            sea_orm::ConnectOptions::new(url.clone()).max_connections(5).sqlx_logging(false).to_owned(),
        )
        .await
        .expect("connect to test database");
        Self { name, url, db }
    }

    /// Settings for binaries and in-process services using this database.
    pub fn settings(&self, extra: &[(&str, &str)]) -> shared::Settings {
        settings_for(&self.url, extra)
    }

    /// The environment for processes using this database (see [`settings_env`]).
    pub fn env(&self, extra: &[(&str, &str)]) -> HashMap<String, String> {
        settings_env(&self.url, extra)
    }

    /// Runs a query returning one `bigint`-compatible value.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(DbBackend::Postgres, format!("SELECT ({sql})::bigint AS v")))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .expect("one row");
        row.try_get::<Option<i64>>("", "v").unwrap().unwrap_or(0)
    }

    /// Runs statements.
    pub async fn exec(&self, sql: &str) {
        self.db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The values of one text column, in query order.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        self.db
            .query_all_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|r| r.try_get_by_index::<Option<String>>(0).unwrap().unwrap_or_default())
            .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop cannot be async: use a short-lived runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(admin) = sea_orm::Database::connect(format!("{}/postgres", server_url())).await {
                    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                    admin.close().await.ok();
                }
            });
        })
        .join();
    }
}

/// Drops test databases left behind by crashed runs (older than an hour).
async fn sweep_leftovers(admin: &DatabaseConnection) {
    let cutoff = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs().saturating_sub(3600);
    let Ok(rows) = admin
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT datname FROM pg_database WHERE datname ~ '^t_[0-9]+_[0-9a-f]{32}$'".to_owned(),
        ))
        .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else { continue };
        let ts: u64 = name.split('_').nth(1).and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
        if ts < cutoff {
            let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
        }
    }
}

/// The API running in-process on an ephemeral port; stopped when dropped.
pub struct TestApi {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Base URL including the engine path, e.g. `http://127.0.0.1:1234/engine-rest`.
    pub base: String,
    /// HTTP client.
    pub client: reqwest::Client,
    stop: CancellationToken,
}

impl TestApi {
    /// Starts the API with the given settings.
    pub async fn spawn(settings: shared::Settings) -> Self {
        // Logs show up for failing tests (nextest prints their output) and with --no-capture.
        shared::telemetry::init("sweep-api", &settings.telemetry);
        let listener = tokio::net::TcpListener::bind(settings.http.bind).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}{}", settings.http.base_path);
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            if let Err(e) = api::run(settings, listener, async move { token.cancelled().await }).await {
                eprintln!("api stopped with error: {e}");
            }
        });
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        // Wait until it answers.
        for _ in 0..100 {
            if client.get(format!("http://{addr}/health/live")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self { addr, base, client, stop }
    }

    /// `GET {base}{path}`, returning status and JSON body (`Null` when the body is not JSON).
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let resp = self.client.get(format!("{}{path}", self.base)).send().await.expect("request");
        read(resp).await
    }

    /// `POST {base}{path}` with a JSON body.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let resp = self.client.post(format!("{}{path}", self.base)).json(body).send().await.expect("request");
        read(resp).await
    }

    /// `POST {base}{path}` with a raw body and content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, serde_json::Value) {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        read(resp).await
    }
}

async fn read(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

impl Drop for TestApi {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A worker running in-process; stopped (gracefully) when dropped or by [`TestWorker::stop`].
pub struct TestWorker {
    stop: CancellationToken,
    handle: Option<tokio::task::JoinHandle<Result<(), shared::Error>>>,
}

impl TestWorker {
    /// Starts `worker::run` with `settings` (use the same settings as the API so prefixes match).
    pub async fn spawn(settings: shared::Settings) -> Self {
        shared::telemetry::init("sweep-worker", &settings.telemetry);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let stop = CancellationToken::new();
        let token = stop.clone();
        let handle =
            tokio::spawn(async move { worker::run(settings, listener, async move { token.cancelled().await }).await });
        Self { stop, handle: Some(handle) }
    }

    /// Stops it and waits until in-flight work is finished.
    pub async fn stop(mut self) -> Result<(), shared::Error> {
        self.stop.cancel();
        self.handle.take().expect("running").await.expect("worker task")
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        self.stop.cancel();
    }
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

/// A queue bound to the events exchange (`#`) that collects what Sweep announces.
pub struct EventTap {
    channel: lapin::Channel,
    queue: String,
    _conn: lapin::Connection,
}

/// One captured event.
#[derive(Debug, Clone)]
pub struct CapturedEvent {
    /// Routing key, e.g. `process-instance.deleted`.
    pub routing_key: String,
    /// JSON body.
    pub body: serde_json::Value,
    /// `traceparent` header.
    pub traceparent: Option<String>,
}

impl EventTap {
    /// Binds a fresh exclusive queue to `<prefix>.events`; the exchange must exist (start the
    /// API or a worker first).
    pub async fn bind(settings: &shared::Settings) -> Self {
        use lapin::options::{QueueBindOptions, QueueDeclareOptions};
        let conn =
            lapin::Connection::connect(&settings.amqp.url, lapin::ConnectionProperties::default()).await.expect("amqp");
        let channel = conn.create_channel().await.unwrap();
        let queue = format!("{}.tap.{}", settings.amqp.prefix, uuid::Uuid::new_v4().simple());
        channel
            .queue_declare(
                queue.clone().into(),
                QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() },
                Default::default(),
            )
            .await
            .unwrap();
        channel
            .queue_bind(
                queue.clone().into(),
                format!("{}.events", settings.amqp.prefix).into(),
                "#".into(),
                QueueBindOptions::default(),
                Default::default(),
            )
            .await
            .unwrap();
        Self { channel, queue, _conn: conn }
    }

    /// Takes every event queued so far.
    pub async fn drain(&self) -> Vec<CapturedEvent> {
        use lapin::options::{BasicAckOptions, BasicGetOptions};
        let mut out = Vec::new();
        while let Some(msg) =
            self.channel.basic_get(self.queue.clone().into(), BasicGetOptions::default()).await.unwrap()
        {
            let delivery = msg.delivery;
            let traceparent = delivery.properties.headers().as_ref().and_then(|h| {
                h.inner().iter().find(|(k, _)| k.as_str() == "traceparent").and_then(|(_, v)| match v {
                    lapin::types::AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok().map(str::to_owned),
                    _ => None,
                })
            });
            out.push(CapturedEvent {
                routing_key: delivery.routing_key.to_string(),
                body: serde_json::from_slice(&delivery.data).unwrap_or(serde_json::Value::Null),
                traceparent,
            });
            delivery.ack(BasicAckOptions::default()).await.unwrap();
        }
        out
    }
}

/// A Sweep binary running as a child process (killed when dropped).
pub struct Proc {
    /// The child.
    pub child: tokio::process::Child,
}

impl Proc {
    /// Starts `program` (integration tests pass `env!("CARGO_BIN_EXE_sweep-worker-it")` or
    /// `…sweep-api-it`) with `args` and `env`; `SWEEP__HTTP__BIND` defaults to port 0.
    pub fn start(program: &str, args: &[&str], env: &HashMap<String, String>) -> Self {
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .env("SWEEP__HTTP__BIND", env.get("SWEEP__HTTP__BIND").cloned().unwrap_or_else(|| "127.0.0.1:0".into()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        Self { child: cmd.spawn().expect("start a sweep process") }
    }

    /// SIGKILL, as an OOM kill or a node failure would.
    pub async fn kill9(&mut self) {
        self.child.start_kill().ok();
        self.child.wait().await.ok();
    }

    /// SIGTERM, then waits for the exit status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        if let Some(pid) = self.child.id() {
            std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().ok();
        }
        self.child.wait().await.expect("wait")
    }
}

/// A RabbitMQ namespace of one test: a unique prefix, its topology declared, and exclusive tap
/// queues bound to the work exchange (`seed`, `job`, `monitor`) that receive a copy of every
/// work message. Sweep's queues expire ten minutes after the test stops using them.
pub struct TestMq {
    /// Prefix of every exchange and queue name.
    pub prefix: String,
    /// Names under the prefix.
    pub topology: shared::mq::Topology,
    /// A channel for the test's own inspection.
    pub channel: lapin::Channel,
    _connection: lapin::Connection,
}

impl TestMq {
    /// A fresh prefix, `t<uuid>`.
    pub fn prefix() -> String {
        format!("t{}", uuid::Uuid::new_v4().simple())
    }

    /// Settings entries that put a process on `prefix` with expiring queues.
    pub fn env(prefix: &str) -> [(&'static str, &str); 2] {
        [("SWEEP__AMQP__PREFIX", prefix), ("SWEEP__AMQP__QUEUE_EXPIRES", "5m")]
    }

    /// Declares the topology `settings` describe, as both binaries do at start.
    pub async fn declare(settings: &shared::Settings) -> Self {
        let connection = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
            .await
            .expect("connect to the test RabbitMQ");
        let channel = connection.create_channel().await.expect("channel");
        let topology = shared::mq::Topology::from_settings(settings);
        topology.declare(&channel).await.expect("declare topology");
        for route in shared::messages::WORK_ROUTES {
            // The monitor queue has a single active consumer and refuses basic.get: tap copies.
            let tap = format!("{}.tap.{route}", settings.amqp.prefix);
            let options =
                lapin::options::QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
            channel.queue_declare(tap.as_str().into(), options, Default::default()).await.expect("declare tap");
            channel
                .queue_bind(
                    tap.into(),
                    topology.work_exchange().into(),
                    route.into(),
                    Default::default(),
                    Default::default(),
                )
                .await
                .expect("bind tap");
        }
        Self { prefix: settings.amqp.prefix.clone(), topology, channel, _connection: connection }
    }

    /// Takes every work message published with routing key `route` since the last call.
    pub async fn drain(&self, route: &str) -> Vec<serde_json::Value> {
        let mut bodies = Vec::new();
        let queue = format!("{}.tap.{route}", self.prefix);
        while let Some(message) = self
            .channel
            .basic_get(queue.as_str().into(), lapin::options::BasicGetOptions { no_ack: true })
            .await
            .expect("basic_get")
        {
            bodies.push(serde_json::from_slice(&message.delivery.data).expect("JSON message"));
        }
        bodies
    }
}

impl TestApi {
    /// `PUT {base}{path}` with a JSON body.
    pub async fn put(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let resp = self.client.put(format!("{}{path}", self.base)).json(body).send().await.expect("request");
        read(resp).await
    }

    /// `DELETE {base}{path}`.
    pub async fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        let resp = self.client.delete(format!("{}{path}", self.base)).send().await.expect("request");
        read(resp).await
    }
}

//! Runtime settings of both binaries: built-in defaults, then the TOML file named by
//! `SWEEP_CONFIG`, then `SWEEP__<SECTION>__<KEY>` environment variables.
//! Validation happens here, so a wrong value stops a binary at start with the key's name.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

/// Everything a Sweep process can be configured with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// HTTP listener (the REST API, or a worker's health and metrics endpoints).
    pub http: HttpSettings,
    /// PostgreSQL connection.
    pub database: DatabaseSettings,
    /// RabbitMQ connection and topology naming.
    pub amqp: AmqpSettings,
    /// Logging.
    pub telemetry: TelemetrySettings,
    /// Defaults of deletion batches.
    pub batch: BatchSettings,
    /// Job execution in `sweep-worker`.
    pub worker: WorkerSettings,
    /// Steering: the adaptive concurrency limit, parking, and the defaults of batch limits.
    pub control: ControlSettings,
    /// The transactional outbox relay.
    pub outbox: OutboxSettings,
    /// Prometheus metrics.
    pub metrics: MetricsSettings,
    /// Who may call the API, and what they may do.
    pub auth: AuthSettings,
    /// The user operation log.
    pub audit: AuditSettings,
    /// Removal times of the history a deletion writes or ends.
    pub history: HistorySettings,
    /// Fault injection, for tests that prove crash safety. Never enable in production.
    pub faults: FaultSettings,
}

/// How callers prove who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// HTTP Basic against Camunda's `ACT_ID_USER`.
    Basic,
    /// `Authorization: Bearer <JWT>` validated against a JWKS.
    Oidc,
    /// No authentication: an explicit opt-out for development.
    None,
}

/// `[auth]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// `basic`, `oidc` or `none`.
    pub mode: AuthMode,
    /// Check Camunda authorizations (`ACT_RU_AUTHORIZATION`); has no effect with `mode = none`.
    pub authorization: bool,
    /// Beyond Camunda: select only instances the caller may also delete.
    pub check_delete_permission: bool,
    /// Members of this group pass every authorization and tenant check, as in Camunda.
    pub admin_group: String,
    /// How long verified credentials are trusted without asking the database again.
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
    /// Failed logins after which a user is locked until unlocked (Camunda's `loginMaxAttempts`).
    pub login_max_attempts: i32,
    /// Seconds of the first lock after a failed login (`loginDelayBase`).
    pub login_delay_base: i64,
    /// Each further failure multiplies the lock by this (`loginDelayFactor`).
    pub login_delay_factor: i64,
    /// Longest lock, in seconds (`loginDelayMaxTime`).
    pub login_delay_max: i64,
    /// OpenID Connect bearer tokens (`mode = oidc`).
    pub oidc: OidcSettings,
}

/// `[auth.oidc]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The signing keys: a JWKS file path, or an `http(s)://` URL.
    pub jwks: String,
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
    /// Claim holding the user id.
    pub user_claim: String,
    /// Claim holding the group ids (an array of strings).
    pub groups_claim: String,
    /// How often the JWKS is read again (also on a token with an unknown key id, at most this
    /// often).
    #[serde(with = "humantime_serde")]
    pub jwks_refresh: Duration,
}

/// `[audit]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// Beyond Camunda: one `ACT_HI_OP_LOG` row per deleted instance, with the batch and its
    /// creator.
    pub per_instance: bool,
}

/// Camunda's `historyRemovalTimeStrategy`: when history gets the time it may be cleaned up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemovalTimeStrategy {
    /// When the root instance ends: its end time plus its definition's `HISTORY_TTL_` (days),
    /// on every history row of its tree (Camunda's default).
    #[default]
    End,
    /// Set when an instance starts; a deletion only dates the rows it writes itself.
    Start,
    /// No removal time.
    None,
}

impl RemovalTimeStrategy {
    /// The name, as the deletion statement takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RemovalTimeStrategy::End => "end",
            RemovalTimeStrategy::Start => "start",
            RemovalTimeStrategy::None => "none",
        }
    }
}

/// `[history]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistorySettings {
    /// `end`, `start` or `none` (Camunda's `historyRemovalTimeStrategy`).
    pub removal_time_strategy: RemovalTimeStrategy,
    /// Time to live of historic batches, Camunda's `batchOperationHistoryTimeToLive` in its
    /// format (`P5D`, whole days); empty: historic batches get no removal time.
    pub batch_operation_history_ttl: String,
}

impl HistorySettings {
    /// The historic-batch time to live in days, when set (validated at load).
    pub fn batch_ttl_days(&self) -> Option<i32> {
        parse_days(&self.batch_operation_history_ttl)
    }

    /// Days after its start a new historic batch may be removed: strategy `start` only.
    pub fn batch_removal_after_start(&self) -> Option<i32> {
        (self.removal_time_strategy == RemovalTimeStrategy::Start).then(|| self.batch_ttl_days()).flatten()
    }

    /// Days after its end an ended historic batch may be removed: strategy `end` only.
    pub fn batch_removal_after_end(&self) -> Option<i32> {
        (self.removal_time_strategy == RemovalTimeStrategy::End).then(|| self.batch_ttl_days()).flatten()
    }
}

/// `P<n>D` → n.
fn parse_days(period: &str) -> Option<i32> {
    period.strip_prefix('P')?.strip_suffix('D')?.parse::<i32>().ok().filter(|d| *d >= 0)
}

/// `[worker]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    /// Attempts of a failing job after the first one (Camunda's default is 3 in all).
    pub max_retries: u32,
    /// Back-off before the first retry; each further retry waits four times longer.
    #[serde(with = "humantime_serde")]
    pub retry_base_delay: Duration,
    /// On SIGTERM, how long in-flight jobs may take before the worker exits anyway.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
}

impl WorkerSettings {
    /// The back-off delay of each retry attempt.
    pub fn retry_delays(&self) -> Vec<Duration> {
        (0..self.max_retries).map(|i| self.retry_base_delay * 4u32.pow(i)).collect()
    }
}

/// `[control]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSettings {
    /// Adapt the cluster-wide concurrency limit to the database's health (AIMD); when false it
    /// stays at `max_concurrency`.
    pub adaptive: bool,
    /// Ceiling of the cluster-wide limit: jobs running at once over all batches and workers.
    pub max_concurrency: u32,
    /// A job's deletion slower than this, or a statement waiting on a lock longer, halves the
    /// limit.
    #[serde(with = "humantime_serde")]
    pub target_latency: Duration,
    /// How often each worker reads the signals and adjusts the limit.
    #[serde(with = "humantime_serde")]
    pub adjust_interval: Duration,
    /// A query whose first column is the replica lag in seconds (empty: not checked).
    pub replica_lag_query: String,
    /// Replica lag beyond this halves the limit.
    #[serde(with = "humantime_serde")]
    pub max_replica_lag: Duration,
    /// Shortest time a job that may not run now is parked; the longer park queues wait 10 and
    /// 60 times as long.
    #[serde(with = "humantime_serde")]
    pub park_delay: Duration,
    /// Longest a worker holds a job waiting for a slot or its rate before parking it.
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
    /// `maxInstancesPerSecond` of a batch that sets none (0: unlimited).
    pub default_max_instances_per_second: f64,
    /// `maxConcurrentJobs` of a batch that sets none (0: unlimited).
    pub default_max_concurrent_jobs: u32,
    /// `priority` of a batch that sets none.
    pub default_priority: i64,
}

impl ControlSettings {
    /// The delays of the park queues, shortest first.
    pub fn park_delays(&self) -> Vec<Duration> {
        [1, 10, 60].iter().map(|&n| self.park_delay * n).collect()
    }

    /// The cluster-wide limit's ceiling, as an SQL integer.
    pub fn ceiling(&self) -> i32 {
        i32::try_from(self.max_concurrency).unwrap_or(i32::MAX).max(1)
    }
}

/// `[outbox]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    /// How often each process looks for messages left unpublished.
    #[serde(with = "humantime_serde")]
    pub relay_interval: Duration,
    /// How long the process that wrote (or claimed) an outbox row has it to itself; after that
    /// a relay may publish it.
    #[serde(with = "humantime_serde")]
    pub claim_lease: Duration,
    /// A publish not confirmed by then is abandoned; must be shorter than `claim_lease`.
    #[serde(with = "humantime_serde")]
    pub publish_timeout: Duration,
}

/// `[metrics]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// How often the API reads the backlog gauges (`sweep_batch_jobs`, `sweep_items_pending`,
    /// `sweep_batches`, `sweep_dead_letter_messages`) from the database and the broker.
    #[serde(with = "humantime_serde")]
    pub backlog_interval: Duration,
}

/// `[faults]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSettings {
    /// The API commits a batch but does not publish its seed, as if it crashed right after the
    /// commit; only the outbox relay can deliver it.
    pub skip_publish_after_commit: bool,
}

/// `[http]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Mount point of the Camunda-compatible REST API.
    pub base_path: String,
    /// Largest accepted request body, in bytes; larger bodies get 413.
    pub body_limit_bytes: usize,
    /// A request running longer than this is answered with 408.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
}

/// `[database]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://user[:password]@host:port/database`
    pub url: String,
    /// Pool size of one process.
    pub max_connections: u32,
    /// How long to wait for a new connection or a free pooled one.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Server-side `statement_timeout` of every session.
    #[serde(with = "humantime_serde")]
    pub statement_timeout: Duration,
}

/// `[amqp]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpSettings {
    /// `amqp://user:password@host:port/vhost`
    pub url: String,
    /// Prefix of every exchange and queue name, so several installations share a broker.
    pub prefix: String,
    /// Unacknowledged deliveries one consumer may hold; for the job queue, the jobs one
    /// worker runs at once.
    pub prefetch: u16,
    /// Job deliveries a worker holds beyond `prefetch`, read and checked while its jobs run,
    /// so that the next deletion starts the moment one ends (0: none).
    pub lookahead: u16,
    /// When set, queues expire after being unused this long and exchanges auto-delete
    /// (tests and ephemeral environments only).
    #[serde(default, with = "humantime_serde")]
    pub queue_expires: Option<Duration>,
    /// `quorum` (replicated, for production) or `classic` (cheap to create and delete, for
    /// tests and ephemeral environments).
    pub queue_type: QueueType,
}

/// RabbitMQ queue type of Sweep's queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    /// Replicated, durable; the production choice.
    Quorum,
    /// Single-node; for tests and throw-away environments.
    Classic,
}

/// `[telemetry]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// `json` (one object per line) or `human`.
    pub format: LogFormat,
    /// `tracing` filter directives, e.g. `info,sqlx=warn`.
    pub filter: String,
    /// Base URL of an OTLP/HTTP collector (`http://collector:4318`); spans go to its
    /// `/v1/traces`. Empty: no spans are exported.
    pub otlp_endpoint: String,
    /// How long one export request may take.
    #[serde(with = "humantime_serde")]
    pub otlp_timeout: Duration,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Human,
}

/// `[batch]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSettings {
    /// Process instances deleted by one batch job (one transaction).
    pub invocations_per_batch_job: u32,
    /// Batch jobs created by one run of the seed handler.
    pub batch_jobs_per_seed: u32,
    /// Selections up to this many instances enter the item ledger in the creating
    /// transaction; larger ones are moved there by the seed handler, this many per run.
    pub snapshot_chunk_size: u32,
}

/// The built-in defaults: every setting, in the one place its default is written. Deployment
/// files (`deploy/config/production.toml`, the Kubernetes config map) list only what differs.
pub const DEFAULTS: &str = include_str!("settings/defaults.toml");

impl Settings {
    /// Loads settings from the process environment (`SWEEP_CONFIG`, `SWEEP__…`).
    pub fn load() -> Result<Self, config::ConfigError> {
        Self::load_from(std::env::vars().collect())
    }

    /// Loads settings from the given environment map; tests pass their own map instead of
    /// mutating the process environment.
    pub fn load_from(env: HashMap<String, String>) -> Result<Self, config::ConfigError> {
        let mut builder =
            config::Config::builder().add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(path) = env.get("SWEEP_CONFIG").filter(|p| !p.is_empty()) {
            builder = builder.add_source(config::File::new(path, config::FileFormat::Toml));
        }
        let settings: Settings = builder
            .add_source(
                config::Environment::with_prefix("SWEEP")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .source(Some(env.into_iter().collect())),
            )
            .build()?
            .try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), config::ConfigError> {
        let bad = |key: &str, why: &str| Err(config::ConfigError::Message(format!("invalid setting `{key}`: {why}")));
        if !self.http.base_path.starts_with('/') || self.http.base_path.ends_with('/') {
            return bad("http.base_path", "must start with '/' and not end with '/'");
        }
        if self.http.body_limit_bytes == 0 {
            return bad("http.body_limit_bytes", "must be positive");
        }
        if !self.database.url.starts_with("postgres://") && !self.database.url.starts_with("postgresql://") {
            return bad("database.url", "must be a postgres:// URL");
        }
        if self.database.max_connections == 0 {
            return bad("database.max_connections", "must be positive");
        }
        if !self.amqp.url.starts_with("amqp://") && !self.amqp.url.starts_with("amqps://") {
            return bad("amqp.url", "must be an amqp:// or amqps:// URL");
        }
        if self.amqp.prefix.is_empty()
            || self.amqp.prefix.len() > 64
            || !self.amqp.prefix.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return bad("amqp.prefix", "must be 1-64 characters of [A-Za-z0-9-_.]");
        }
        if self.amqp.prefetch == 0 {
            return bad("amqp.prefetch", "must be positive");
        }
        if self.metrics.backlog_interval.is_zero() {
            return bad("metrics.backlog_interval", "must be positive");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.telemetry.filter).is_err() {
            return bad("telemetry.filter", "is not a valid tracing filter");
        }
        let endpoint = &self.telemetry.otlp_endpoint;
        let url = endpoint.starts_with("http://") || endpoint.starts_with("https://");
        if !endpoint.is_empty() && !url {
            return bad("telemetry.otlp_endpoint", "must be empty or an http:// or https:// URL");
        }
        if self.telemetry.otlp_timeout.is_zero() {
            return bad("telemetry.otlp_timeout", "must be positive");
        }
        if self.auth.mode == AuthMode::Oidc {
            for (key, value) in [
                ("auth.oidc.jwks", &self.auth.oidc.jwks),
                ("auth.oidc.issuer", &self.auth.oidc.issuer),
                ("auth.oidc.audience", &self.auth.oidc.audience),
            ] {
                if value.is_empty() {
                    return bad(key, "must be set when auth.mode = oidc");
                }
            }
        }
        if self.auth.login_max_attempts < 1 {
            return bad("auth.login_max_attempts", "must be positive");
        }
        if self.outbox.publish_timeout >= self.outbox.claim_lease {
            return bad("outbox.publish_timeout", "must be shorter than outbox.claim_lease");
        }
        if self.worker.max_retries > 10 {
            return bad("worker.max_retries", "must be at most 10");
        }
        if !(1..=100_000).contains(&self.batch.invocations_per_batch_job) {
            return bad("batch.invocations_per_batch_job", "must be between 1 and 100000");
        }
        let ttl = &self.history.batch_operation_history_ttl;
        if !ttl.is_empty() && parse_days(ttl).is_none() {
            return bad("history.batch_operation_history_ttl", "must be empty or a number of days as P<n>D, e.g. P30D");
        }
        if !(1..=100_000).contains(&self.batch.batch_jobs_per_seed) {
            return bad("batch.batch_jobs_per_seed", "must be between 1 and 100000");
        }
        let c = &self.control;
        if !(1..=10_000).contains(&c.max_concurrency) {
            return bad("control.max_concurrency", "must be between 1 and 10000");
        }
        for (key, value) in [
            ("control.target_latency", c.target_latency),
            ("control.adjust_interval", c.adjust_interval),
            ("control.park_delay", c.park_delay),
        ] {
            if value.is_zero() {
                return bad(key, "must be positive");
            }
        }
        if c.park_delay > Duration::from_secs(60) {
            return bad("control.park_delay", "must be at most 60s");
        }
        let rate = c.default_max_instances_per_second;
        let rates = crate::control::steering::MIN_RATE..=crate::control::steering::MAX_RATE;
        if !rate.is_finite() || !(rate == 0.0 || rates.contains(&rate)) {
            return bad("control.default_max_instances_per_second", "must be 0 (unlimited) or from 0.001 to 1e9");
        }
        if i64::from(c.default_max_concurrent_jobs) > crate::control::steering::MAX_CONCURRENT_JOBS {
            return bad("control.default_max_concurrent_jobs", "must be between 0 (unlimited) and 10000");
        }
        let priorities = -crate::control::steering::MAX_PRIORITY..=crate::control::steering::MAX_PRIORITY;
        if !priorities.contains(&c.default_priority) {
            return bad("control.default_priority", "must fit in 32 bits");
        }
        if !(1..=10_000_000).contains(&self.batch.snapshot_chunk_size) {
            return bad("batch.snapshot_chunk_size", "must be between 1 and 10000000");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_load_without_any_environment() {
        let s = Settings::load_from(HashMap::new()).unwrap();
        assert_eq!(s.http.base_path, "/engine-rest");
        assert_eq!(s.batch.batch_jobs_per_seed, 100);
        assert_eq!(s.telemetry.format, LogFormat::Json);
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let s = Settings::load_from(env(&[
            ("SWEEP__HTTP__BIND", "127.0.0.1:0"),
            ("SWEEP__DATABASE__MAX_CONNECTIONS", "3"),
            ("SWEEP__TELEMETRY__FORMAT", "human"),
        ]))
        .unwrap();
        assert_eq!(s.http.bind.port(), 0);
        assert_eq!(s.database.max_connections, 3);
        assert_eq!(s.telemetry.format, LogFormat::Human);
    }

    #[test]
    fn a_wrong_value_names_its_key() {
        let err = Settings::load_from(env(&[("SWEEP__HTTP__BIND", "not-an-address")])).unwrap_err();
        assert!(err.to_string().contains("http.bind"), "{err}");
        let err = Settings::load_from(env(&[("SWEEP__BATCH__INVOCATIONS_PER_BATCH_JOB", "0")])).unwrap_err();
        assert!(err.to_string().contains("batch.invocations_per_batch_job"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_rejected_by_name() {
        let err = Settings::load_from(env(&[("SWEEP__HTTP__BINDD", "x")])).unwrap_err();
        assert!(err.to_string().contains("bindd"), "{err}");
    }

    /// Every setting in a TOML document, as `section.key = value` lines.
    fn flatten(toml: &str) -> Vec<(String, String)> {
        let mut section = String::new();
        let mut out = Vec::new();
        for line in toml.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
            } else if let Some((key, value)) = line.split_once('=') {
                let value = value.split(" #").next().unwrap_or_default().trim().trim_matches('"');
                out.push((format!("{section}.{}", key.trim()), value.to_owned()));
            }
        }
        out
    }

    #[test]
    fn the_readme_lists_every_setting_with_its_default() {
        let readme = include_str!("../../README.md");
        for (key, value) in flatten(DEFAULTS) {
            let row =
                if value.is_empty() { format!("| `{key}` | unset |") } else { format!("| `{key}` | `{value}` |") };
            assert!(readme.contains(&row), "README settings table lacks {row}");
        }
    }

    #[test]
    fn the_production_example_lists_only_what_differs_from_the_defaults() {
        let defaults = flatten(DEFAULTS);
        let production = flatten(include_str!("../../deploy/config/production.toml"));
        assert!(!production.is_empty());
        for (key, value) in production {
            let default = defaults.iter().find(|(k, _)| *k == key).unwrap_or_else(|| panic!("unknown setting {key}"));
            assert_ne!(default.1, value, "{key} repeats its default");
        }
        Settings::load_from(env(&[(
            "SWEEP_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/config/production.toml"),
        )]))
        .expect("the production example loads");
    }

    #[test]
    fn the_config_file_sits_between_defaults_and_environment() {
        let dir = std::env::temp_dir().join(format!("sweep-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("sweep.toml");
        std::fs::write(&file, "[amqp]\nprefix = \"fromfile\"\nprefetch = 9\n").unwrap();
        let s = Settings::load_from(env(&[("SWEEP_CONFIG", file.to_str().unwrap()), ("SWEEP__AMQP__PREFETCH", "2")]))
            .unwrap();
        assert_eq!(s.amqp.prefix, "fromfile");
        assert_eq!(s.amqp.prefetch, 2);
    }
}

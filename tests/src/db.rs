//! A PostgreSQL database of its own per test, copied from a template that holds Sweep's
//! migrated standalone schema.
//!
//! Migrating the 600-line engine schema costs more than the rest of most tests, so it happens
//! once per version of the migrations: the template is named after a hash of every source the
//! migrations run ([`migration_sources`]), and each test clones it with
//! `CREATE DATABASE … TEMPLATE`. nextest runs every test in a process of its own, concurrently,
//! so template creation is serialised by an advisory lock on the admin connection:
//!
//! - cloning holds the lock **shared**, so no template is dropped while it is being copied;
//! - building holds it **exclusively**: the schema is migrated into `sweep_build_<hash>` and
//!   only renamed to `sweep_tpl_<hash>` (and marked `IS_TEMPLATE`) once complete, so a
//!   half-built template is never used, even after a crash mid-build.
//!
//! Templates of other hashes (other versions of the migrations, e.g. another checkout) are
//! dropped by the builder of a new one once they are older than an hour, so concurrent runs of
//! two versions do not drop each other's template all the time.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::{database_url, settings_env, settings_for};

/// Every migration Sweep runs on a standalone database, as `(name, SQL)`: the list the
/// migrator itself uses, so the template follows every change to it.
fn migration_sources() -> Vec<(&'static str, &'static str)> {
    let mut sources = shared::db::migration::standalone_migrations();
    // What the harness adds to a migrated template: its user.
    sources.push(("test user", "sweep-test in camunda-admin"));
    sources
}

/// Key of the advisory lock around template creation and cloning ("SWEEPTPL").
const TEMPLATE_LOCK_KEY: i64 = 0x5357_4545_5054_504c;

/// Templates of other hashes older than this are dropped when a new one is built.
const OLD_TEMPLATE_AGE_SECS: u64 = 3600;

/// `sweep_tpl_<16 hex digits>`: 64-bit FNV-1a over [`migration_sources`] (stable across Rust
/// versions and builds, and needs no dependency).
pub fn template_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for (name, text) in migration_sources() {
            // Name and length first, so moving text between sources changes the hash too.
            for byte in name.bytes().chain((text.len() as u64).to_le_bytes()).chain(text.bytes()) {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        format!("sweep_tpl_{hash:016x}")
    })
}

/// One session on the server's `postgres` database: session-level advisory locks need every
/// statement on the same connection.
async fn admin() -> DatabaseConnection {
    let options =
        sea_orm::ConnectOptions::new(database_url("postgres")).max_connections(1).sqlx_logging(false).to_owned();
    sea_orm::Database::connect(options).await.expect("connect to the test PostgreSQL")
}

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn names(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).expect("a text column"))
        .collect()
}

async fn database_exists(admin: &DatabaseConnection, name: &str) -> bool {
    !names(admin, &format!("SELECT datname::text FROM pg_database WHERE datname = '{name}'")).await.is_empty()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Makes sure the current template exists; returns holding the lock shared, so the template
/// cannot be dropped until the caller unlocks.
async fn lock_template(admin: &DatabaseConnection) -> &'static str {
    let template = template_name();
    loop {
        exec(admin, &format!("SELECT pg_advisory_lock_shared({TEMPLATE_LOCK_KEY})")).await;
        if database_exists(admin, template).await {
            return template;
        }
        // Not there: build it under the exclusive lock (first re-checking, another process may
        // have built it meanwhile), then take the shared lock again.
        exec(admin, &format!("SELECT pg_advisory_unlock_shared({TEMPLATE_LOCK_KEY})")).await;
        exec(admin, &format!("SELECT pg_advisory_lock({TEMPLATE_LOCK_KEY})")).await;
        if !database_exists(admin, template).await {
            build_template(admin, template).await;
        }
        exec(admin, &format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK_KEY})")).await;
    }
}

/// Migrates a fresh database and renames it to `template`. Runs under the exclusive lock.
async fn build_template(admin: &DatabaseConnection, template: &str) {
    let hash = template.trim_start_matches("sweep_tpl_");
    let building = format!("sweep_build_{hash}");
    // Leftovers of a build that crashed, and templates no longer in use.
    exec(admin, &format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)")).await;
    let cutoff = unix_now().saturating_sub(OLD_TEMPLATE_AGE_SECS);
    let old = names(
        admin,
        &format!(
            "SELECT datname::text FROM pg_database
              WHERE datname LIKE 'sweep\\_tpl\\_%' AND datname <> '{template}'
                AND coalesce(substring(shobj_description(oid, 'pg_database') FROM '^built at ([0-9]+)$')::bigint, 0)
                    < {cutoff}"
        ),
    )
    .await;
    for name in old {
        exec(admin, &format!("ALTER DATABASE \"{name}\" IS_TEMPLATE false")).await;
        exec(admin, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
    }

    exec(admin, &format!("CREATE DATABASE \"{building}\"")).await;
    let url = database_url(&building);
    let one =
        sea_orm::Database::connect(sea_orm::ConnectOptions::new(url).max_connections(1).sqlx_logging(false).to_owned())
            .await
            .expect("connect to the template being built");
    shared::db::migration::run(&one).await.expect("migrate the test template");
    let (user, password) = crate::api::TEST_USER;
    shared::db::identity::upsert_user(&one, user, password, &["camunda-admin".to_owned()], &[])
        .await
        .expect("create the test user");
    // No session may stay on the template: cloning would fail with "being accessed by others".
    one.close().await.expect("close the template's connection");
    exec(admin, &format!("ALTER DATABASE \"{building}\" RENAME TO \"{template}\"")).await;
    exec(admin, &format!("ALTER DATABASE \"{template}\" IS_TEMPLATE true")).await;
    exec(admin, &format!("COMMENT ON DATABASE \"{template}\" IS 'built at {}'", unix_now())).await;
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
    /// A new database with Sweep's standalone schema migrated (a copy of the template).
    pub async fn new() -> Self {
        let admin = admin().await;
        let template = lock_template(&admin).await;
        let name = Self::create(&admin, &format!(" TEMPLATE \"{template}\"")).await;
        exec(&admin, &format!("SELECT pg_advisory_unlock_shared({TEMPLATE_LOCK_KEY})")).await;
        admin.close().await.ok();
        Self::connect(name).await
    }

    /// A new, empty database (no tables).
    pub async fn empty() -> Self {
        let admin = admin().await;
        let name = Self::create(&admin, "").await;
        admin.close().await.ok();
        Self::connect(name).await
    }

    /// Creates `t_<secs>_<uuid>` with `options`; also drops leftovers of crashed runs.
    async fn create(admin: &DatabaseConnection, options: &str) -> String {
        sweep_leftovers(admin).await;
        let name = format!("t_{}_{}", unix_now(), uuid::Uuid::new_v4().simple());
        let sql = format!("CREATE DATABASE \"{name}\"{options}");
        // PostgreSQL waits up to 5 s for other sessions to leave the template before it refuses;
        // a few attempts outlast any backend still exiting.
        for attempt in 1.. {
            match admin.execute_unprepared(&sql).await {
                Ok(_) => break,
                Err(e) if attempt < 5 && e.to_string().contains("is being accessed by other users") => {}
                Err(e) => panic!("{sql}: {e}"),
            }
        }
        name
    }

    async fn connect(name: String) -> Self {
        let url = database_url(&name);
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
        exec(&self.db, sql).await;
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

/// A database kept as a template for identical copies ([`TestDb::into_template`]), dropped
/// when the value is dropped. Named `bt_<unix seconds>_<uuid>`; leftovers of crashed runs go
/// after a day, not an hour, since a long benchmark copies it for hours.
pub struct TemplateDb {
    name: String,
}

impl TestDb {
    /// Turns this database into a template for identical copies: its pool closes (a template
    /// may have no sessions) and it is renamed so that the hourly sweep of test leftovers leaves
    /// it alone while a long benchmark still copies it.
    pub async fn into_template(self) -> TemplateDb {
        self.db.clone().close().await.ok();
        let name = format!("bt_{}_{}", unix_now(), uuid::Uuid::new_v4().simple());
        let admin = admin().await;
        exec(&admin, &format!("ALTER DATABASE \"{}\" RENAME TO \"{name}\"", self.name)).await;
        admin.close().await.ok();
        // `self` now names no database: its drop finds nothing to drop.
        TemplateDb { name }
    }
}

impl TemplateDb {
    /// An identical copy, as a test database of its own. File by file: a checkpoint and a
    /// copy, much faster than the default for the gigabytes of a large benchmark.
    pub async fn copy(&self) -> TestDb {
        let admin = admin().await;
        let name = TestDb::create(&admin, &format!(" TEMPLATE \"{}\" STRATEGY FILE_COPY", self.name)).await;
        admin.close().await.ok();
        TestDb::connect(name).await
    }
}

impl Drop for TemplateDb {
    fn drop(&mut self) {
        drop_database(self.name.clone());
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop_database(self.name.clone());
    }
}

/// Drops database `name` (forcibly), from a drop: on a short-lived runtime of its own.
fn drop_database(name: String) {
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            if let Ok(admin) = sea_orm::Database::connect(database_url("postgres")).await {
                let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                admin.close().await.ok();
            }
        });
    })
    .join();
}

/// Drops test databases left behind by crashed runs (older than an hour; templates of
/// benchmarks older than a day).
async fn sweep_leftovers(admin: &DatabaseConnection) {
    let cutoff = unix_now().saturating_sub(3600);
    let Ok(rows) = admin
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT datname FROM pg_database WHERE datname ~ '^b?t_[0-9]+_[0-9a-f]{32}$'".to_owned(),
        ))
        .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else { continue };
        let ts: u64 = name.split('_').nth(1).and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
        let cutoff = if name.starts_with("bt_") { cutoff.saturating_sub(23 * 3600) } else { cutoff };
        if ts < cutoff {
            let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
        }
    }
}

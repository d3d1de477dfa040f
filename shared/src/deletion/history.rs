//! What a deletion writes to history beyond the tables every supported database has: the
//! removal-time strategy, and which of the optional history tables the database holds (a
//! standalone installation creates them all; an attached database is used as it is). The
//! deletion statement is assembled once per process from these, never per chunk.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement};

pub use crate::settings::RemovalTimeStrategy;

/// The history tables a deletion writes when the database has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromQueryResult)]
pub struct HistoryTables {
    /// `ACT_HI_JOB_LOG`: a "deleted" entry per deleted job.
    pub job_log: bool,
    /// `ACT_HI_EXT_TASK_LOG`: a "deleted" entry per deleted external task.
    pub ext_task_log: bool,
    /// `ACT_HI_DETAIL`: removal time.
    pub detail: bool,
    /// `ACT_HI_IDENTITYLINK`: removal time.
    pub identity_link: bool,
    /// `ACT_HI_COMMENT`: removal time.
    pub comment: bool,
    /// `ACT_HI_ATTACHMENT`: removal time.
    pub attachment: bool,
}

impl HistoryTables {
    /// Every optional table, as a standalone installation has them.
    pub const ALL: HistoryTables = HistoryTables {
        job_log: true,
        ext_task_log: true,
        detail: true,
        identity_link: true,
        comment: true,
        attachment: true,
    };

    /// Reads which of the tables the database has, in one statement.
    pub async fn detect(db: &impl ConnectionTrait) -> Result<Self, DbErr> {
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT to_regclass('act_hi_job_log') IS NOT NULL AS job_log,
                        to_regclass('act_hi_ext_task_log') IS NOT NULL AS ext_task_log,
                        to_regclass('act_hi_detail') IS NOT NULL AS detail,
                        to_regclass('act_hi_identitylink') IS NOT NULL AS identity_link,
                        to_regclass('act_hi_comment') IS NOT NULL AS comment,
                        to_regclass('act_hi_attachment') IS NOT NULL AS attachment",
            ))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("history tables".into()))?;
        HistoryTables::from_query_result(&row, "")
    }
}

/// How a process deletes: the removal-time strategy, the optional tables it writes, the host
/// name its job-log entries carry, and the deletion statement assembled from them.
#[derive(Debug, Clone)]
pub struct History {
    /// Camunda's `historyRemovalTimeStrategy`.
    pub strategy: RemovalTimeStrategy,
    /// The optional history tables the database has.
    pub tables: HistoryTables,
    /// `ACT_HI_JOB_LOG.HOSTNAME_` of the entries this process writes.
    pub host_name: String,
    sql: String,
}

/// The deletion statement with markers for the optional fragments.
const DELETE: &str = include_str!("delete_chunk.sql");
const JOB_LOG: &str = include_str!("job_log.sql");
const EXT_TASK_LOG: &str = include_str!("ext_task_log.sql");

impl History {
    /// Assembles the deletion statement for `tables`.
    pub fn new(strategy: RemovalTimeStrategy, tables: HistoryTables, host_name: impl Into<String>) -> Self {
        let mut ctes = String::new();
        let mut counts = String::new();
        let mut add = |fragment: &str, names: &[&str]| {
            ctes.push_str(",\n");
            ctes.push_str(fragment.trim_end());
            for name in names {
                counts.push_str(&format!(" + (SELECT count(*) FROM {name})"));
            }
        };
        if tables.job_log {
            add(JOB_LOG, &["job_log", "h_job_log"]);
        }
        if tables.ext_task_log {
            add(EXT_TASK_LOG, &["ext_task_log", "h_ext_task_log"]);
        }
        // Rows that only take the root's removal time.
        for (present, table, cte) in [
            (tables.detail, "act_hi_detail", "h_detail"),
            (tables.identity_link, "act_hi_identitylink", "h_identitylink"),
            (tables.comment, "act_hi_comment", "h_comment"),
            (tables.attachment, "act_hi_attachment", "h_attachment"),
        ] {
            if present {
                let fragment = format!(
                    "{cte} AS (\n    UPDATE {table} x SET removal_time_ = rt.removal FROM rt \
                     WHERE x.root_proc_inst_id_ = rt.root RETURNING 1\n)"
                );
                add(&fragment, &[cte]);
            }
        }
        let sql = DELETE.replace("/*OPTIONAL_CTES*/", &ctes).replace("/*OPTIONAL_COUNTS*/", &counts);
        History { strategy, tables, host_name: host_name.into(), sql }
    }

    /// Detects the optional tables of `db` and assembles the statement; the host name is this
    /// machine's.
    pub async fn detect(db: &impl ConnectionTrait, strategy: RemovalTimeStrategy) -> Result<Self, DbErr> {
        Ok(History::new(strategy, HistoryTables::detect(db).await?, local_host_name()))
    }

    /// The deletion statement.
    pub fn delete_sql(&self) -> &str {
        &self.sql
    }
}

/// This machine's host name (`HOSTNAME`, else `/etc/hostname`, else `sweep`).
pub fn local_host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sweep".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_tables_add_their_fragments_and_counts() {
        let none = HistoryTables {
            job_log: false,
            ext_task_log: false,
            detail: false,
            identity_link: false,
            comment: false,
            attachment: false,
        };
        let bare = History::new(RemovalTimeStrategy::End, none, "h");
        assert!(!bare.delete_sql().contains("act_hi_job_log"));
        assert!(!bare.delete_sql().contains("act_hi_detail"));
        let all = History::new(RemovalTimeStrategy::End, HistoryTables::ALL, "h");
        for table in [
            "act_hi_job_log",
            "act_hi_ext_task_log",
            "act_hi_detail",
            "act_hi_identitylink",
            "act_hi_comment",
            "act_hi_attachment",
        ] {
            assert!(all.delete_sql().contains(table), "{table}");
        }
        assert!(all.delete_sql().contains("(SELECT count(*) FROM h_attachment)"));
        assert!(!all.delete_sql().contains("/*OPTIONAL"));
    }
}

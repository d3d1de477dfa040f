//! The filter/list/count core behind every list endpoint over Sweep's tables: a filter appends
//! its conditions, a [`Sort`] its `ORDER BY` (always ending with the row's id, so pages never
//! overlap), a [`Page`] its `LIMIT`/`OFFSET`. It owns no table; the table modules use it.

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult};

use crate::auth::{Permission, Principal};
use crate::query::SqlBuilder;

/// Conditions of a list endpoint, appended as ` AND …` after `WHERE true`.
pub trait Filter {
    /// Appends this filter's conditions.
    fn conditions(&self, sql: &mut SqlBuilder);
}

/// A key a caller may sort by.
pub trait SortKey: Copy {
    /// The column it orders by; `None` orders by the id alone.
    fn column(self) -> Option<&'static str>;
}

/// A requested ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort<K> {
    /// What to order by.
    pub key: K,
    /// Descending?
    pub desc: bool,
}

/// `firstResult` / `maxResults`; the default is everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Page {
    /// Rows to skip.
    pub first: i64,
    /// Rows to return at most; `None` for all.
    pub max: Option<i64>,
}

impl Page {
    /// Appends `LIMIT` / `OFFSET`.
    pub fn apply(self, sql: &mut SqlBuilder) {
        if let Some(max) = self.max {
            sql.push(" LIMIT ").bind(max);
        }
        if self.first > 0 {
            sql.push(" OFFSET ").bind(self.first);
        }
    }
}

/// Appends `ORDER BY`: the sort key (if any), then `id` ascending as the tie-breaker.
pub fn order_by<K: SortKey>(sql: &mut SqlBuilder, sort: Option<Sort<K>>, id: &str) {
    let direction = |desc: bool| if desc { "DESC" } else { "ASC" };
    match sort.and_then(|s| s.key.column().map(|column| (column, s.desc))) {
        Some((column, desc)) if column == id => sql.push(&format!(" ORDER BY {id} {}", direction(desc))),
        Some((column, desc)) => sql.push(&format!(" ORDER BY {column} {}, {id} ASC", direction(desc))),
        None => sql.push(&format!(" ORDER BY {id} ASC")),
    };
}

/// A builder holding `text`.
pub fn starting(text: impl AsRef<str>) -> SqlBuilder {
    let mut sql = SqlBuilder::new();
    sql.push(text.as_ref());
    sql
}

/// Rows of `select` (a `SELECT … FROM … [JOIN …]` without `WHERE`) matching `filter`, ordered
/// and paged.
pub async fn list<R: FromQueryResult, K: SortKey>(
    db: &impl ConnectionTrait,
    select: &str,
    filter: &impl Filter,
    sort: Option<Sort<K>>,
    id: &str,
    page: Page,
) -> Result<Vec<R>, DbErr> {
    let mut sql = starting(select);
    sql.push(" WHERE true");
    filter.conditions(&mut sql);
    order_by(&mut sql, sort, id);
    page.apply(&mut sql);
    fetch_all(db, sql).await
}

/// Number of rows of `from` (a `FROM … [JOIN …]` clause) matching `filter`.
pub async fn count(db: &impl ConnectionTrait, from: &str, filter: &impl Filter) -> Result<i64, DbErr> {
    let mut sql = starting(format!("SELECT count(*) AS n {from} WHERE true"));
    filter.conditions(&mut sql);
    let row = db.query_one_raw(sql.into_statement()).await?;
    row.map_or(Ok(0), |r| r.try_get("", "n"))
}

/// Every row `sql` returns, mapped to `R`.
pub async fn fetch_all<R: FromQueryResult>(db: &impl ConnectionTrait, sql: SqlBuilder) -> Result<Vec<R>, DbErr> {
    db.query_all_raw(sql.into_statement()).await?.iter().map(|row| R::from_query_result(row, "")).collect()
}

/// The filters runtime and historic batches (and batch jobs, by their batch) share; the batch
/// table is aliased `b`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchFilterCore {
    /// `batchId`
    pub batch_id: Option<String>,
    /// `type`
    pub kind: Option<String>,
    /// `tenantIdIn`; an empty list does not filter.
    pub tenant_ids: Vec<String>,
    /// `withoutTenantId=true`; wins over `tenantIdIn`, as in Camunda.
    pub without_tenant_id: bool,
    /// Only batches this principal may see with this permission (its tenants; READ or
    /// READ_HISTORY on the batch); `None` filters nothing.
    pub visible_to: Option<(Principal, Permission)>,
}

impl Filter for BatchFilterCore {
    fn conditions(&self, sql: &mut SqlBuilder) {
        if let Some((principal, permission)) = &self.visible_to {
            principal.push_batch_visible(sql, *permission);
        }
        if let Some(id) = &self.batch_id {
            sql.push(" AND b.id_ = ").bind(id.clone());
        }
        if let Some(kind) = &self.kind {
            sql.push(" AND b.type_ = ").bind(kind.clone());
        }
        tenant_condition(sql, &self.tenant_ids, self.without_tenant_id);
    }
}

/// Camunda's tenant filter on `b.tenant_id_`.
pub fn tenant_condition(sql: &mut SqlBuilder, tenant_ids: &[String], without_tenant_id: bool) {
    if without_tenant_id {
        sql.push(" AND b.tenant_id_ IS NULL");
    } else if !tenant_ids.is_empty() {
        sql.push(" AND b.tenant_id_ = ANY(").bind(tenant_ids.to_vec()).push(")");
    }
}

/// An optional boolean column condition: `Some(true)` → `cond`, `Some(false)` → `NOT (cond)`.
pub fn tri_state(sql: &mut SqlBuilder, value: Option<bool>, cond: &str) {
    match value {
        Some(true) => sql.push(&format!(" AND {cond}")),
        Some(false) => sql.push(&format!(" AND NOT ({cond})")),
        None => sql,
    };
}

/// An inclusive time bound on `column`.
pub fn time_bound(sql: &mut SqlBuilder, column: &str, op: &str, at: Option<DateTime<FixedOffset>>) {
    if let Some(at) = at {
        sql.push(&format!(" AND {column} {op} ")).bind(at.with_timezone(&Utc));
    }
}

/// `ORDER BY` keys of the batch endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSortKey {
    /// `batchId`
    BatchId,
    /// `tenantId`
    TenantId,
    /// `startTime`
    StartTime,
    /// `endTime` (historic batches only)
    EndTime,
}

impl SortKey for BatchSortKey {
    fn column(self) -> Option<&'static str> {
        Some(match self {
            BatchSortKey::BatchId => "b.id_",
            BatchSortKey::TenantId => "b.tenant_id_",
            BatchSortKey::StartTime => "b.start_time_",
            BatchSortKey::EndTime => "b.end_time_",
        })
    }
}

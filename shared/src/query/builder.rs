//! A minimal SQL text builder for PostgreSQL that numbers bound parameters (`$1`, `$2`, …) as
//! they are appended. It owns no knowledge of tables; the query DTOs write into it.

use sea_orm::{DbBackend, Statement, Value};

use crate::Error;

/// Most parameters one PostgreSQL statement can bind (the protocol counts them in 16 bits).
pub const MAX_PARAMETERS: usize = 65_535;

/// Accumulates SQL text and its bound values. Values are always sent as parameters, never
/// spliced into the text, so caller input cannot change the statement's shape.
///
/// A builder may start with parameters already bound ([`SqlBuilder::with_values`]) or receive
/// them through [`SqlBuilder::bind`] before a query appends itself; numbering continues from the
/// values already present. That is how a caller wraps a query:
///
/// ```
/// # use shared::query::SqlBuilder;
/// let mut b = SqlBuilder::new();
/// b.push("INSERT INTO snapshot (batch_id, proc_inst_id) SELECT ");
/// b.bind("batch-1");
/// b.push(", q.id FROM (SELECT 'x' AS id WHERE 1 = ");
/// b.bind(1_i64);
/// b.push(") q");
/// assert_eq!(b.sql(), "INSERT INTO snapshot (batch_id, proc_inst_id) SELECT $1, q.id FROM (SELECT 'x' AS id WHERE 1 = $2) q");
/// ```
#[derive(Debug, Clone, Default)]
pub struct SqlBuilder {
    sql: String,
    values: Vec<Value>,
    /// Placeholders of [`SqlBuilder::named_param`], by name.
    named: Vec<(&'static str, String)>,
}

impl SqlBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder whose first `values.len()` parameters are already bound; the caller's SQL text
    /// that refers to them (`$1` …) is pushed separately.
    pub fn with_values(values: Vec<Value>) -> Self {
        Self { sql: String::new(), values, named: Vec::new() }
    }

    /// Appends raw SQL text. Only ever pass literals written in code here, never input.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Binds `value` as the next parameter and appends its placeholder `$n`.
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        self.sql.push('$');
        self.sql.push_str(&self.values.len().to_string());
        self
    }

    /// Binds `value` without writing it, and returns its placeholder (`$n`) for text written
    /// later, possibly more than once.
    pub fn param(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }

    /// The placeholder of the value called `name` in this statement: bound (from `value`) the
    /// first time the name is asked for, the same placeholder afterwards. For a value a
    /// statement compares many times, such as the caller's user id: one parameter, not one per
    /// comparison.
    pub fn named_param(&mut self, name: &'static str, value: impl FnOnce() -> Value) -> String {
        if let Some((_, placeholder)) = self.named.iter().find(|(n, _)| *n == name) {
            return placeholder.clone();
        }
        let placeholder = self.param(value());
        self.named.push((name, placeholder.clone()));
        placeholder
    }

    /// Appends `(SELECT unnest(CAST($n AS text[])))`, the right-hand side of `x IN …` or
    /// `x NOT IN …`, binding `items` as one array parameter: a list of any length takes one of
    /// the 65 535 parameters a PostgreSQL statement may have (and keeps one statement text for
    /// every length, so prepared statements are reused). An empty list matches nothing.
    pub fn bind_list(&mut self, items: impl IntoIterator<Item = String>) -> &mut Self {
        let items: Vec<String> = items.into_iter().collect();
        self.push("(SELECT unnest(CAST(").bind(items).push(" AS text[])))")
    }

    /// The SQL text so far.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The values bound so far, in placeholder order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// An invalid-request error when the statement binds more values than PostgreSQL takes
    /// ([`MAX_PARAMETERS`]): a query with that many conditions is the caller's to split.
    pub fn check_parameter_count(&self) -> Result<(), Error> {
        match self.values.len() {
            n if n > MAX_PARAMETERS => Err(Error::invalid(format!(
                "The query has too many conditions: it needs {n} values, at most {MAX_PARAMETERS} are possible"
            ))),
            _ => Ok(()),
        }
    }

    /// The finished PostgreSQL statement.
    pub fn into_statement(self) -> Statement {
        Statement::from_sql_and_values(DbBackend::Postgres, self.sql, self.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_bind_order() {
        let mut b = SqlBuilder::new();
        b.push("SELECT 1 WHERE a = ").bind("x").push(" AND b IN ").bind_list(["p".to_owned(), "q".to_owned()]);
        b.push(" AND c = ").bind(3_i64);
        assert_eq!(b.sql(), "SELECT 1 WHERE a = $1 AND b IN (SELECT unnest(CAST($2 AS text[]))) AND c = $3");
        assert_eq!(b.values().len(), 3);
        assert_eq!(b.values()[1], Value::from(vec!["p".to_owned(), "q".to_owned()]));
        assert_eq!(b.values()[2], Value::from(3_i64));
    }

    #[test]
    fn a_named_value_is_bound_once() {
        let mut b = SqlBuilder::new();
        b.bind(1_i64);
        let first = b.named_param("user", || "u".into());
        let again = b.named_param("user", || unreachable!("bound already"));
        assert_eq!((first.as_str(), again.as_str()), ("$2", "$2"));
        assert_eq!(b.named_param("groups", || vec!["g".to_owned()].into()), "$3");
        assert_eq!(b.values().len(), 3);
    }

    #[test]
    fn more_values_than_postgresql_binds_are_an_invalid_request() {
        let mut b = SqlBuilder::new();
        for i in 0..MAX_PARAMETERS {
            b.bind(i as i64);
        }
        assert!(b.check_parameter_count().is_ok());
        b.bind(0_i64);
        let err = b.check_parameter_count().unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{err}");
    }

    #[test]
    fn numbering_continues_after_prebound_values() {
        let mut b = SqlBuilder::with_values(vec![Value::from("batch")]);
        b.push("INSERT INTO t SELECT $1, q.id FROM (SELECT id FROM s WHERE k = ").bind("key").push(") q");
        assert_eq!(b.sql(), "INSERT INTO t SELECT $1, q.id FROM (SELECT id FROM s WHERE k = $2) q");
        let stmt = b.into_statement();
        assert_eq!(stmt.values.map(|v| v.0.len()), Some(2));
    }
}

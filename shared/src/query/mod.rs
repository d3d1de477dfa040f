//! The process-instance query language: Camunda's runtime and historic process-instance query
//! DTOs, compiled into single parameterised PostgreSQL statements over the Camunda 7 tables.
//! Executing list/count queries lives here too; HTTP parameter parsing does not (see `api`).

mod builder;
mod historic_process_instance;
mod process_instance;
mod sorting;
mod variable;

pub use builder::SqlBuilder;
pub use historic_process_instance::HistoricProcessInstanceQueryDto;
pub use process_instance::{Paging, ProcessInstanceQueryDto, find_process_instance};
pub use sorting::SortingDto;
pub use variable::{VariableOperator, VariableQueryParameterDto};

use chrono::{NaiveDateTime, Utc};

use crate::Error;

/// Collects predicates joined by `AND` or `OR`, each wrapped in parentheses. An empty
/// collection renders as `TRUE`, which is how an or-group without predicates stays neutral.
pub(crate) struct Conds<'a> {
    b: &'a mut SqlBuilder,
    joiner: &'static str,
    count: usize,
}

impl<'a> Conds<'a> {
    /// Opens a parenthesised group on `b`.
    pub(crate) fn open(b: &'a mut SqlBuilder, joiner: &'static str) -> Self {
        b.push("(");
        Self { b, joiner, count: 0 }
    }

    /// Adds one predicate written by `f`.
    pub(crate) fn add(&mut self, f: impl FnOnce(&mut SqlBuilder)) {
        if self.count > 0 {
            self.b.push(self.joiner);
        }
        self.b.push("(");
        f(self.b);
        self.b.push(")");
        self.count += 1;
    }

    /// Closes the group.
    pub(crate) fn close(self) {
        if self.count == 0 {
            self.b.push("TRUE");
        }
        self.b.push(")");
    }
}

/// Whether a DTO is evaluated as the top-level query or as one of its `orQueries` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Top,
    OrGroup,
}

impl Level {
    pub(crate) fn joiner(self) -> &'static str {
        match self {
            Level::Top => " AND ",
            Level::OrGroup => " OR ",
        }
    }
}

/// Treats a missing or `false` flag alike: Camunda's boolean filters only act when `true`.
pub(crate) fn on(flag: Option<bool>) -> bool {
    flag == Some(true)
}

/// A list filter that acts only when given and non-empty (Camunda ignores empty lists).
pub(crate) fn non_empty(list: &Option<Vec<String>>) -> Option<&[String]> {
    list.as_deref().filter(|l| !l.is_empty())
}

/// An id set that must not be empty when given.
pub(crate) fn id_set(list: &Option<Vec<String>>) -> Result<Option<&[String]>, Error> {
    match list.as_deref() {
        Some([]) => Err(Error::invalid("Set of process instance ids is empty")),
        other => Ok(other),
    }
}

/// Most variable conditions one query may have, those of its `orQueries` included. Each is an
/// `EXISTS` subquery, and PostgreSQL's planning time grows steeply with their number: a hundred
/// take seconds, a few hundred minutes, however small the tables.
pub const MAX_VARIABLE_CONDITIONS: usize = 50;

/// Most `orQueries` groups one query may have (each may hold several `EXISTS` subqueries).
pub const MAX_OR_QUERIES: usize = 50;

/// Refuses a query with more variable conditions (`variables`, counted over the query and its
/// or-groups) or more or-groups than PostgreSQL plans in reasonable time.
pub(crate) fn check_size(variables: usize, or_queries: usize) -> Result<(), Error> {
    if or_queries > MAX_OR_QUERIES {
        return Err(Error::invalid(format!(
            "Too many orQueries: a query may have at most {MAX_OR_QUERIES}, this one has {or_queries}"
        )));
    }
    if variables > MAX_VARIABLE_CONDITIONS {
        return Err(Error::invalid(format!(
            "Too many variable conditions: a query may have at most {MAX_VARIABLE_CONDITIONS} (its orQueries \
             included), this one has {variables}"
        )));
    }
    Ok(())
}

/// Whether `pattern` ends in PostgreSQL's `LIKE` escape character (an odd number of trailing
/// backslashes), which PostgreSQL refuses — when a row reaches the comparison, so at run time.
pub(crate) fn ends_with_escape(pattern: &str) -> bool {
    pattern.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1
}

/// Refuses a `LIKE` pattern given for `field` that ends in the escape character.
pub(crate) fn check_like(field: &str, pattern: &Option<String>) -> Result<(), Error> {
    match pattern {
        Some(p) if ends_with_escape(p) => Err(Error::invalid(format!(
            "{field} must not end with the escape character '\\' (write '\\\\' for a backslash)"
        ))),
        _ => Ok(()),
    }
}

/// Parses a Camunda date given for `field`; the instant is returned as the UTC wall-clock time
/// Sweep stores in `timestamp` columns.
pub(crate) fn parse_field_date(field: &str, value: &str) -> Result<NaiveDateTime, Error> {
    crate::camunda::parse_date(value).map(|d| d.with_timezone(&Utc).naive_utc()).ok_or_else(|| {
        Error::invalid(format!(
            "Cannot set query parameter '{field}' to value '{value}': Cannot convert value \"{value}\" to java type java.util.Date"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_groups_render_true() {
        let mut b = SqlBuilder::new();
        Conds::open(&mut b, " OR ").close();
        assert_eq!(b.sql(), "(TRUE)");
    }

    #[test]
    fn predicates_are_parenthesised_and_joined() {
        let mut b = SqlBuilder::new();
        let mut c = Conds::open(&mut b, " OR ");
        c.add(|b| {
            b.push("a = ").bind(1_i64);
        });
        c.add(|b| {
            b.push("b = ").bind(2_i64);
        });
        c.close();
        assert_eq!(b.sql(), "((a = $1) OR (b = $2))");
    }

    #[test]
    fn bad_dates_name_the_field() {
        let err = parse_field_date("startedBefore", "yesterday").unwrap_err().to_string();
        assert!(err.starts_with("Cannot set query parameter 'startedBefore' to value 'yesterday'"), "{err}");
        assert!(parse_field_date("startedBefore", "2016-04-12T15:29:33.000+0200").is_ok());
    }

    #[test]
    fn like_patterns_must_not_end_with_the_escape_character() {
        assert!(ends_with_escape("a\\"));
        assert!(ends_with_escape("a\\\\\\"));
        assert!(!ends_with_escape("a\\\\"));
        assert!(!ends_with_escape("a%"));
        let err = check_like("businessKeyLike", &Some("%\\".into())).unwrap_err().to_string();
        assert!(err.starts_with("businessKeyLike must not end with the escape character"), "{err}");
        assert!(check_like("businessKeyLike", &Some("\\%".into())).is_ok());
    }

    #[test]
    fn queries_have_a_bounded_number_of_variable_conditions_and_groups() {
        assert!(check_size(MAX_VARIABLE_CONDITIONS, MAX_OR_QUERIES).is_ok());
        assert!(check_size(MAX_VARIABLE_CONDITIONS + 1, 0).unwrap_err().to_string().starts_with("Too many variable"));
        assert!(check_size(0, MAX_OR_QUERIES + 1).unwrap_err().to_string().starts_with("Too many orQueries"));
    }

    #[test]
    fn empty_id_sets_are_rejected() {
        assert_eq!(id_set(&Some(vec![])).unwrap_err().to_string(), "Set of process instance ids is empty");
        assert!(id_set(&None).unwrap().is_none());
    }
}

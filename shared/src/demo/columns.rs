//! Column-wise row buffers for set-based inserts: a table is a struct of one `Vec` per column,
//! and a whole buffer becomes one `INSERT … SELECT … FROM unnest($1::text[], …)`.
//! Knows nothing about what the rows mean; `instance.rs` fills the buffers.

use chrono::NaiveDateTime;
use sea_orm::{DbBackend, Statement, Value};

/// A Rust type that can travel as one element of a PostgreSQL array parameter.
///
/// sea-orm binds `Vec<T>` as a typed array but cannot bind arrays containing NULL, so nullable
/// columns travel as `text[]` with `''` standing for NULL and are cast back in the `SELECT`.
/// No generated value is ever an empty string, so the encoding is unambiguous.
pub(crate) trait Cell: Sized {
    /// Element type of the array parameter, e.g. `int4`.
    const ARRAY_ELEMENT: &'static str;
    /// The whole column as one bind value.
    fn param(column: Vec<Self>) -> Value;
    /// The `SELECT` expression turning unnest's output column `name` into the stored value.
    fn select(name: &str) -> String {
        name.to_owned()
    }
}

macro_rules! plain_cell {
    ($ty:ty, $element:literal) => {
        impl Cell for $ty {
            const ARRAY_ELEMENT: &'static str = $element;
            fn param(column: Vec<Self>) -> Value {
                column.into()
            }
        }
    };
}

plain_cell!(String, "text");
plain_cell!(i32, "int4");
plain_cell!(i64, "int8");
plain_cell!(f64, "float8");
plain_cell!(bool, "bool");
plain_cell!(NaiveDateTime, "timestamp");
plain_cell!(Vec<u8>, "bytea");

/// Nullable cells: text with `''` for NULL, cast to `$sql` after `NULLIF`.
macro_rules! nullable_cell {
    ($ty:ty, $sql:literal, $render:expr) => {
        impl Cell for Option<$ty> {
            const ARRAY_ELEMENT: &'static str = "text";
            fn param(column: Vec<Self>) -> Value {
                let render: fn(&$ty) -> String = $render;
                column.iter().map(|v| v.as_ref().map_or_else(String::new, render)).collect::<Vec<String>>().into()
            }
            fn select(name: &str) -> String {
                if $sql == "text" { format!("NULLIF({name}, '')") } else { format!("NULLIF({name}, '')::{}", $sql) }
            }
        }
    };
}

nullable_cell!(String, "text", |v| v.clone());
nullable_cell!(i32, "int4", |v| v.to_string());
nullable_cell!(i64, "int8", |v| v.to_string());
// `Display` for f64 prints the shortest string that parses back to the same value.
nullable_cell!(f64, "float8", |v| v.to_string());
nullable_cell!(NaiveDateTime, "timestamp", |v| v.format("%Y-%m-%d %H:%M:%S%.6f").to_string());

/// `INSERT INTO table (c…) SELECT exprs FROM unnest($n::t[], …) AS u(c…)`, numbering the
/// placeholders from `first_param`.
pub(crate) fn insert_sql(table: &str, columns: &[(&str, &str, String)], first_param: usize) -> String {
    let names: Vec<&str> = columns.iter().map(|(name, _, _)| *name).collect();
    let selects: Vec<&str> = columns.iter().map(|(_, _, select)| select.as_str()).collect();
    let arrays: Vec<String> =
        columns.iter().enumerate().map(|(i, (_, element, _))| format!("${}::{element}[]", first_param + i)).collect();
    let names = names.join(", ");
    format!(
        "INSERT INTO {table} ({names}) SELECT {} FROM unnest({}) AS u({names})",
        selects.join(", "),
        arrays.join(", ")
    )
}

/// Runs several inserts as one statement: all but the last become data-modifying `WITH`
/// queries, which PostgreSQL executes exactly once each.
///
/// One statement means one round trip per batch instead of one per table; the driver leaves
/// Nagle's algorithm on, and every extra statement carrying a large bind message can stall
/// on a delayed ACK. Foreign keys are checked at the end of the whole statement, so the
/// inserts may reference each other's rows in any order.
pub(crate) fn combine(mut inserts: Vec<String>, values: Vec<Value>) -> Option<Statement> {
    let last = inserts.pop()?;
    let sql = if inserts.is_empty() {
        last
    } else {
        let with: Vec<String> = inserts.iter().enumerate().map(|(i, insert)| format!("i{i} AS ({insert})")).collect();
        format!("WITH {} {last}", with.join(", "))
    };
    Some(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
}

/// Declares a row type and its column buffer for one table.
///
/// `table!(Row, Rows, "act_x" { id_: String, … })` gives `Row` (one row, `Default` for the
/// optional parts) and `Rows` (one `Vec` per column) with `push`, `len` and `insert`.
/// Fields are named exactly like the columns (Camunda's trailing underscore included), which
/// also keeps `type_` clear of the keyword.
macro_rules! table {
    ($row:ident, $rows:ident, $table:literal { $($col:ident : $ty:ty),* $(,)? }) => {
        #[derive(Debug, Default)]
        pub(crate) struct $row {
            $(pub(crate) $col: $ty,)*
        }

        #[derive(Debug, Default)]
        pub(crate) struct $rows {
            $($col: Vec<$ty>,)*
        }

        impl $rows {
            pub(crate) fn push(&mut self, row: $row) {
                $(self.$col.push(row.$col);)*
            }

            pub(crate) fn len(&self) -> usize {
                // Every column has the same length; the first one stands for all.
                [$(self.$col.len()),*][0]
            }

            /// The insert of all buffered rows, its values appended to `params`; `None` when
            /// there are no rows.
            pub(crate) fn insert(self, params: &mut Vec<sea_orm::Value>) -> Option<String> {
                use $crate::demo::columns::Cell;
                if self.len() == 0 {
                    return None;
                }
                let columns = [$((
                    stringify!($col),
                    <$ty as Cell>::ARRAY_ELEMENT,
                    <$ty as Cell>::select(stringify!($col)),
                )),*];
                let first_param = params.len() + 1;
                $(params.push(<$ty as Cell>::param(self.$col));)*
                Some($crate::demo::columns::insert_sql($table, &columns, first_param))
            }
        }
    };
}

pub(crate) use table;

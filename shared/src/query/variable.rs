//! Variable filters (`variables: [{name, operator, value}]`) shared by the runtime and the
//! historic process-instance queries: validation and the `EXISTS` predicate over a variable
//! table. Storage facts (Camunda 7 layout): strings in `TEXT_`, integer/long/short in `LONG_`,
//! doubles in `DOUBLE_`, booleans in `LONG_` as 0/1, dates in `LONG_` as epoch milliseconds.

use serde::{Deserialize, Serialize};

use super::SqlBuilder;
use crate::Error;

/// One variable condition as Camunda's `VariableQueryParameterDto` carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VariableQueryParameterDto {
    /// Variable name.
    pub name: String,
    /// `eq`, `neq`, `gt`, `gteq`, `lt`, `lteq` or `like`.
    pub operator: String,
    /// String, number, boolean or null. `like` compares the value's text.
    #[serde(default)]
    pub value: serde_json::Value,
}

/// A comparison operator of a variable filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariableOperator {
    /// `=`
    Eq,
    /// `<>`
    Neq,
    /// `>`
    Gt,
    /// `>=`
    Gteq,
    /// `<`
    Lt,
    /// `<=`
    Lteq,
    /// `LIKE` (the caller supplies `%`)
    Like,
}

impl VariableOperator {
    /// Parses Camunda's operator name.
    pub fn parse(op: &str) -> Result<Self, Error> {
        Ok(match op {
            "eq" => Self::Eq,
            "neq" => Self::Neq,
            "gt" => Self::Gt,
            "gteq" => Self::Gteq,
            "lt" => Self::Lt,
            "lteq" => Self::Lteq,
            "like" => Self::Like,
            other => return Err(Error::invalid(format!("Invalid variable comparator specified: {other}"))),
        })
    }

    fn sql(self) -> &'static str {
        match self {
            Self::Eq => " = ",
            Self::Neq => " <> ",
            Self::Gt => " > ",
            Self::Gteq => " >= ",
            Self::Lt => " < ",
            Self::Lteq => " <= ",
            Self::Like => " LIKE ",
        }
    }

    fn is_range(self) -> bool {
        matches!(self, Self::Gt | Self::Gteq | Self::Lt | Self::Lteq)
    }
}

/// The value of a condition after Camunda's type resolution.
#[derive(Debug, Clone, PartialEq)]
enum Typed {
    Text(String),
    /// Epoch milliseconds of a string that parsed as a Camunda date.
    Date(i64),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

/// A validated condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VariableCondition {
    name: String,
    op: VariableOperator,
    value: Typed,
}

/// Where a query's variables live.
pub(crate) struct VariableTable {
    /// Table name.
    pub table: &'static str,
    /// Column holding the variable type name.
    pub type_col: &'static str,
    /// Extra restriction on `v`, e.g. only process-level (non-task) variables.
    pub restriction: &'static str,
}

/// `ACT_RU_VARIABLE`: any non-task variable of the instance, whatever its scope.
pub(crate) const RUNTIME: VariableTable =
    VariableTable { table: "act_ru_variable", type_col: "type_", restriction: "v.task_id_ IS NULL" };

/// `ACT_HI_VARINST`: non-task variables that were not deleted.
pub(crate) const HISTORIC: VariableTable = VariableTable {
    table: "act_hi_varinst",
    type_col: "var_type_",
    restriction: "v.task_id_ IS NULL AND v.state_ IS DISTINCT FROM 'DELETED'",
};

impl VariableQueryParameterDto {
    /// Validates the filter; `dates` turns strings in Camunda's date format into dates, as the
    /// REST list endpoints do.
    pub(crate) fn resolve(&self, dates: bool) -> Result<VariableCondition, Error> {
        let op = VariableOperator::parse(&self.operator)?;
        let name = &self.name;
        let value = match (&self.value, op) {
            (serde_json::Value::String(s), VariableOperator::Like) if super::ends_with_escape(s) => {
                return Err(Error::invalid(format!(
                    "Invalid value for variable '{name}': a like pattern must not end with the escape character '\\'"
                )));
            }
            // `like` compares text whatever was given.
            (serde_json::Value::String(s), VariableOperator::Like) => Typed::Text(s.clone()),
            (serde_json::Value::Null, VariableOperator::Like) => Typed::Text("null".into()),
            (other, VariableOperator::Like) => Typed::Text(other.to_string()),
            (serde_json::Value::String(s), _) => match crate::camunda::parse_date(s) {
                Some(d) if dates => Typed::Date(d.timestamp_millis()),
                _ => Typed::Text(s.clone()),
            },
            (serde_json::Value::Number(n), _) => match n.as_i64() {
                Some(i) => Typed::Int(i),
                None => Typed::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            (serde_json::Value::Bool(_), op) | (serde_json::Value::Null, op) if op.is_range() => {
                return Err(Error::invalid(format!(
                    "Invalid variable comparator specified for variable '{name}': {} cannot be used with a {} value",
                    self.operator,
                    if self.value.is_null() { "null" } else { "boolean" }
                )));
            }
            (serde_json::Value::Bool(b), _) => Typed::Bool(*b),
            (serde_json::Value::Null, _) => Typed::Null,
            (_, _) => {
                return Err(Error::invalid(format!(
                    "Invalid value for variable '{name}': only strings, numbers, booleans and null can be compared"
                )));
            }
        };
        Ok(VariableCondition { name: name.clone(), op, value })
    }
}

impl VariableCondition {
    /// Appends `EXISTS (…)`: some variable of the instance `owner` (an SQL expression naming the
    /// process-instance id) satisfies the condition.
    pub(crate) fn push(&self, b: &mut SqlBuilder, t: &VariableTable, owner: &str, names_ic: bool, values_ic: bool) {
        let ty = t.type_col;
        b.push("EXISTS (SELECT 1 FROM ").push(t.table).push(" v WHERE v.proc_inst_id_ = ").push(owner);
        b.push(" AND ").push(t.restriction);
        if names_ic {
            b.push(" AND lower(v.name_) = lower(").bind(self.name.clone()).push(")");
        } else {
            b.push(" AND v.name_ = ").bind(self.name.clone());
        }
        b.push(" AND ");
        let op = self.op.sql();
        match &self.value {
            Typed::Text(s) => {
                b.push("v.").push(ty).push(" = 'string' AND ");
                if values_ic {
                    b.push("lower(v.text_)").push(op).push("lower(").bind(s.clone()).push(")");
                } else {
                    b.push("v.text_").push(op).bind(s.clone());
                }
            }
            Typed::Date(millis) => {
                b.push("v.").push(ty).push(" = 'date' AND v.long_").push(op).bind(*millis);
            }
            // Compare as numeric so longs and doubles meet without float rounding of longs. The
            // cast differs per bound type on purpose: prepared statements are cached by text, and
            // a text first prepared with a bigint parameter must never be reused with a double.
            Typed::Int(i) => {
                push_numeric(b, ty, op);
                b.push("CAST(").bind(*i).push(" AS bigint)::numeric");
            }
            Typed::Float(f) => {
                push_numeric(b, ty, op);
                b.push("CAST(").bind(*f).push(" AS double precision)::numeric");
            }
            Typed::Bool(v) => {
                b.push("v.").push(ty).push(" = 'boolean' AND v.long_").push(op).bind(i64::from(*v));
            }
            Typed::Null => {
                if self.op == VariableOperator::Neq {
                    b.push("NOT ");
                }
                b.push("(v.text_ IS NULL AND v.text2_ IS NULL AND v.long_ IS NULL AND v.double_ IS NULL AND v.bytearray_id_ IS NULL)");
            }
        }
        b.push(")");
    }
}

/// The numeric value of a variable of a number type, followed by `op`.
fn push_numeric(b: &mut SqlBuilder, ty: &str, op: &str) {
    b.push("v.").push(ty).push(" IN ('integer', 'long', 'short', 'double') AND (CASE WHEN v.");
    b.push(ty).push(" = 'double' THEN v.double_::numeric ELSE v.long_::numeric END)").push(op);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn var(op: &str, value: serde_json::Value) -> VariableQueryParameterDto {
        VariableQueryParameterDto { name: "amount".into(), operator: op.into(), value }
    }

    #[test]
    fn unknown_operators_are_rejected_with_camundas_message() {
        let err = var("notLike", json!("x")).resolve(false).unwrap_err().to_string();
        assert_eq!(err, "Invalid variable comparator specified: notLike");
    }

    #[test]
    fn range_operators_on_booleans_name_the_variable() {
        let err = var("gt", json!(true)).resolve(false).unwrap_err().to_string();
        assert!(err.contains("'amount'"), "{err}");
        assert!(var("eq", json!(true)).resolve(false).is_ok());
        assert!(var("lteq", json!(null)).resolve(false).is_err());
    }

    #[test]
    fn like_coerces_any_value_to_text() {
        let c = var("like", json!(42)).resolve(false).unwrap();
        assert_eq!(c.value, Typed::Text("42".into()));
        assert!(var("like", json!(true)).resolve(false).is_ok());
    }

    #[test]
    fn like_patterns_ending_in_the_escape_character_name_the_variable() {
        let err = var("like", json!("50%\\")).resolve(false).unwrap_err().to_string();
        assert!(err.contains("'amount'") && err.contains("escape character"), "{err}");
        assert!(var("like", json!("50\\%")).resolve(false).is_ok());
        assert!(var("eq", json!("50\\")).resolve(false).is_ok());
    }

    #[test]
    fn objects_cannot_be_compared() {
        assert!(var("eq", json!({"a": 1})).resolve(false).is_err());
    }

    #[test]
    fn date_strings_become_dates_only_when_asked() {
        let v = var("gt", json!("2016-04-12T15:29:33.000+0200"));
        assert!(matches!(v.resolve(true).unwrap().value, Typed::Date(_)));
        assert!(matches!(v.resolve(false).unwrap().value, Typed::Text(_)));
    }

    #[test]
    fn numbers_bind_as_numeric_parameters() {
        let mut b = SqlBuilder::new();
        var("gteq", json!(2.5)).resolve(false).unwrap().push(&mut b, &RUNTIME, "pi.id_", false, false);
        assert!(b.sql().contains("END) >= CAST($2 AS double precision)::numeric"), "{}", b.sql());
        assert_eq!(b.values().len(), 2);
    }

    #[test]
    fn integer_and_float_values_never_share_a_statement_text() {
        let text = |value| {
            let mut b = SqlBuilder::new();
            var("eq", value).resolve(false).unwrap().push(&mut b, &RUNTIME, "pi.id_", false, false);
            b.sql().to_owned()
        };
        assert_ne!(text(json!(10)), text(json!(10.0)));
    }
}

//! Query-string parameters with Camunda's converters: comma lists, strict booleans, integers,
//! dates, paging, the `sortBy`/`sortOrder` pair and the `name_op_value` variable syntax.
//! Failures name the parameter and its value, as Camunda's `Cannot set query parameter '<k>' to
//! value '<v>'` messages do. Unknown parameters are ignored; a repeated one counts with its first
//! value.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, FixedOffset};
use shared::db::listing::{Page, Sort};
use shared::query::{Paging, VariableQueryParameterDto};

use crate::ApiError;

/// The raw query-string pairs of a request, in order. Unknown keys are simply never read.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let crate::extract::Query(pairs) =
            crate::extract::Query::<Vec<(String, String)>>::from_request_parts(parts, state).await?;
        Ok(Self(pairs))
    }
}

/// Doc-only: `firstResult` and `maxResults`, as [`QueryParams::paging`] reads them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PagingParams {
    /// Index of the first result to return.
    #[param(minimum = 0, maximum = 2147483647)]
    first_result: Option<i32>,
    /// Largest number of results to return.
    #[param(minimum = 0, maximum = 2147483647)]
    max_results: Option<i32>,
}

fn cannot_set(key: &str, value: &str, cause: &str) -> ApiError {
    ApiError::InvalidRequest(format!("Cannot set query parameter '{key}' to value '{value}': {cause}"))
}

impl QueryParams {
    /// The first value of `key`, as Camunda reads only the first of repeated parameters.
    pub fn string(&self, key: &str) -> Option<String> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    /// A comma-separated list; an empty value is an empty list (which filters ignore).
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        self.string(key).map(|v| if v.is_empty() { Vec::new() } else { v.split(',').map(str::to_owned).collect() })
    }

    /// A boolean: exactly `true` or `false`.
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.string(key).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(cannot_set(key, v, &format!("Cannot convert value {v} to java type java.lang.Boolean"))),
        }
    }

    /// A non-negative integer.
    pub fn integer(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.string(key) {
            None => Ok(None),
            Some(v) => v.parse::<u64>().ok().filter(|n| i32::try_from(*n).is_ok()).map(Some).ok_or_else(|| {
                cannot_set(key, &v, &format!("Cannot convert value {v} to java type java.lang.Integer"))
            }),
        }
    }

    /// A flag filter: acts only when `true` (any value other than a boolean is an error).
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        Ok(self.boolean(key)? == Some(true))
    }

    /// A comma-separated list, empty when absent.
    pub fn list_or_empty(&self, key: &str) -> Vec<String> {
        self.list(key).unwrap_or_default()
    }

    /// A date in Camunda's format (`2016-04-12T15:29:33.000+0200`).
    pub fn date(&self, key: &str) -> Result<Option<DateTime<FixedOffset>>, ApiError> {
        let Some(v) = self.string(key) else { return Ok(None) };
        if v.starts_with('"') && v.ends_with('"') {
            return Err(cannot_set(
                key,
                &v,
                &format!("Cannot convert value {v} to java type java.util.Date because of double quotes"),
            ));
        }
        shared::camunda::parse_date(&v)
            .map(Some)
            .ok_or_else(|| cannot_set(key, &v, &format!("Cannot convert value \"{v}\" to java type java.util.Date")))
    }

    /// `firstResult` and `maxResults`.
    pub fn paging(&self) -> Result<Paging, ApiError> {
        Ok(Paging { first_result: self.integer("firstResult")?, max_results: self.integer("maxResults")? })
    }

    /// `firstResult` and `maxResults` for the batch queries.
    pub fn page(&self) -> Result<Page, ApiError> {
        let paging = self.paging()?;
        // integer() keeps both within i32.
        Ok(Page { first: paging.first_result.unwrap_or(0) as i64, max: paging.max_results.map(|m| m as i64) })
    }

    /// `sortBy` / `sortOrder`; `key` maps the accepted `sortBy` values.
    pub fn sort<K>(&self, key: impl Fn(&str) -> Option<K>) -> Result<Option<Sort<K>>, ApiError> {
        let invalid = |name: &str, v: &str| {
            ApiError::InvalidRequest(format!("Cannot set query parameter '{name}' to value '{v}'"))
        };
        let by = self.string("sortBy").map(|v| key(&v).ok_or_else(|| invalid("sortBy", &v))).transpose()?;
        let desc = match self.string("sortOrder").as_deref() {
            None => None,
            Some("asc") => Some(false),
            Some("desc") => Some(true),
            Some(v) => return Err(invalid("sortOrder", v)),
        };
        match (by, desc) {
            (Some(key), Some(desc)) => Ok(Some(Sort { key, desc })),
            (None, None) => Ok(None),
            _ => Err(ApiError::InvalidRequest(
                "Only a single sorting parameter specified. sortBy and sortOrder required".into(),
            )),
        }
    }

    /// `name_op_value,name2_op2_value2`; values stay strings.
    pub fn variables(&self, key: &str) -> Result<Option<Vec<VariableQueryParameterDto>>, ApiError> {
        let Some(raw) = self.string(key) else { return Ok(None) };
        if raw.is_empty() {
            return Ok(Some(Vec::new()));
        }
        raw.split(',')
            .map(|triple| match triple.split('_').collect::<Vec<_>>().as_slice() {
                [name, op, value] if !name.is_empty() && !op.is_empty() && !value.is_empty() => {
                    Ok(VariableQueryParameterDto {
                        name: (*name).to_owned(),
                        operator: (*op).to_owned(),
                        value: serde_json::Value::String((*value).to_owned()),
                    })
                }
                _ => Err(cannot_set(key, &raw, "variable query parameter has to have format KEY_OPERATOR_VALUE.")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> QueryParams {
        QueryParams(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    #[test]
    fn booleans_are_strict() {
        let p = params(&[("active", "true"), ("suspended", "yes")]);
        assert_eq!(p.boolean("active").unwrap(), Some(true));
        let ApiError::InvalidRequest(m) = p.boolean("suspended").unwrap_err() else { panic!() };
        assert_eq!(
            m,
            "Cannot set query parameter 'suspended' to value 'yes': Cannot convert value yes to java type java.lang.Boolean"
        );
    }

    #[test]
    fn lists_split_on_commas_and_empty_is_empty() {
        let p = params(&[("a", "x,y"), ("b", "")]);
        assert_eq!(p.list("a"), Some(vec!["x".to_owned(), "y".to_owned()]));
        assert_eq!(p.list("b"), Some(vec![]));
        assert_eq!(p.list("c"), None);
    }

    #[test]
    fn variables_need_three_parts() {
        let p = params(&[("variables", "a_eq_1,b_like_x%"), ("bad", "a_eq")]);
        let vars = p.variables("variables").unwrap().unwrap();
        assert_eq!(vars[1].operator, "like");
        assert_eq!(vars[0].value, serde_json::json!("1"));
        let ApiError::InvalidRequest(m) = p.variables("bad").unwrap_err() else { panic!() };
        assert!(m.ends_with("variable query parameter has to have format KEY_OPERATOR_VALUE."), "{m}");
    }

    #[test]
    fn sorting_needs_both_parameters_and_known_values() {
        let key = |v: &str| (v == "batchId").then_some(1);
        assert_eq!(params(&[]).sort(key).unwrap(), None);
        assert_eq!(
            params(&[("sortBy", "batchId"), ("sortOrder", "desc")]).sort(key).unwrap(),
            Some(Sort { key: 1, desc: true })
        );
        assert_eq!(
            params(&[("sortBy", "batchId")]).sort(key).unwrap_err().to_string(),
            "Only a single sorting parameter specified. sortBy and sortOrder required"
        );
        assert_eq!(
            params(&[("sortBy", "x"), ("sortOrder", "asc")]).sort(key).unwrap_err().to_string(),
            "Cannot set query parameter 'sortBy' to value 'x'"
        );
    }

    #[test]
    fn pages_default_to_everything() {
        assert_eq!(params(&[]).page().unwrap(), Page { first: 0, max: None });
        assert_eq!(params(&[("maxResults", "5")]).page().unwrap(), Page { first: 0, max: Some(5) });
        assert!(params(&[("firstResult", "-1")]).page().is_err());
    }

    #[test]
    fn dates_use_camunda_format_and_refuse_quotes() {
        let p = params(&[("a", "2016-04-12T15:29:33.000+0200"), ("b", "\"2016-04-12T15:29:33.000+0200\""), ("c", "x")]);
        assert!(p.date("a").unwrap().is_some());
        assert!(p.date("b").unwrap_err().to_string().ends_with("because of double quotes"));
        assert!(p.date("c").is_err());
        assert!(!params(&[("f", "false")]).flag("f").unwrap());
    }

    #[test]
    fn paging_must_be_integers() {
        assert!(params(&[("maxResults", "ten")]).paging().is_err());
        assert!(params(&[("firstResult", "-1")]).paging().is_err());
        assert_eq!(params(&[("maxResults", "10")]).paging().unwrap().max_results, Some(10));
    }
}

//! Query-string parameters with Camunda's converters: comma lists, strict booleans, integers
//! and the `name_op_value` variable syntax. Failures name the parameter and its value, as
//! Camunda's `Cannot set query parameter '<k>' to value '<v>'` messages do.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use shared::query::{Paging, VariableQueryParameterDto};

use crate::ApiError;

/// The raw query-string pairs of a request, in order. Unknown keys are simply never read.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let crate::extract::Query(pairs) = crate::extract::Query::<Vec<(String, String)>>::from_request_parts(parts, state).await?;
        Ok(Self(pairs))
    }
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
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| i32::try_from(*n).is_ok())
                .map(Some)
                .ok_or_else(|| cannot_set(key, &v, &format!("Cannot convert value {v} to java type java.lang.Integer"))),
        }
    }

    /// `firstResult` and `maxResults`.
    pub fn paging(&self) -> Result<Paging, ApiError> {
        Ok(Paging { first_result: self.integer("firstResult")?, max_results: self.integer("maxResults")? })
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
    fn paging_must_be_integers() {
        assert!(params(&[("maxResults", "ten")]).paging().is_err());
        assert!(params(&[("firstResult", "-1")]).paging().is_err());
        assert_eq!(params(&[("maxResults", "10")]).paging().unwrap().max_results, Some(10));
    }
}

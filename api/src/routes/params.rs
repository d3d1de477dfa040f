//! Camunda's query-parameter converters for GET endpoints: booleans, comma lists, dates,
//! paging and the `sortBy`/`sortOrder` pair, each failing with Camunda's 400 text. Unknown
//! parameters are ignored, as in Camunda; a repeated parameter counts with its first value.

use chrono::{DateTime, FixedOffset};
use shared::batch::query::{Page, Sort};

use crate::ApiError;

/// The raw query string of one request, as key/value pairs.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Wraps the pairs axum decoded.
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    fn raw(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// A plain string parameter.
    pub(crate) fn string(&self, key: &str) -> Option<String> {
        self.raw(key).map(str::to_owned)
    }

    /// A comma-separated list; an absent or empty parameter gives an empty list.
    pub(crate) fn list(&self, key: &str) -> Vec<String> {
        match self.raw(key) {
            Some(v) if !v.is_empty() => v.split(',').map(str::to_owned).collect(),
            _ => Vec::new(),
        }
    }

    /// A boolean: exactly `true` or `false`.
    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.raw(key) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::InvalidRequest(format!(
                "Cannot set query parameter '{key}' to value '{v}': Cannot convert value {v} to java type java.lang.Boolean"
            ))),
        }
    }

    /// A flag filter: acts only when `true` (but any other value than a boolean is an error).
    pub(crate) fn flag(&self, key: &str) -> Result<bool, ApiError> {
        Ok(self.bool(key)? == Some(true))
    }

    /// A date in Camunda's format (`2016-04-12T15:29:33.000+0200`).
    pub(crate) fn date(&self, key: &str) -> Result<Option<DateTime<FixedOffset>>, ApiError> {
        let Some(v) = self.raw(key) else { return Ok(None) };
        if v.starts_with('"') && v.ends_with('"') {
            return Err(ApiError::InvalidRequest(format!(
                "Cannot set query parameter '{key}' to value '{v}': Cannot convert value {v} to java type java.util.Date because of double quotes"
            )));
        }
        shared::camunda::parse_date(v).map(Some).ok_or_else(|| {
            ApiError::InvalidRequest(format!(
                "Cannot set query parameter '{key}' to value '{v}': Cannot convert value \"{v}\" to java type java.util.Date"
            ))
        })
    }

    fn non_negative(&self, key: &str) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.raw(key) else { return Ok(None) };
        // Camunda's JAX-RS layer answers 404 for a non-integer here; a 400 names the problem.
        match v.parse::<i32>() {
            Ok(n) if n >= 0 => Ok(Some(i64::from(n))),
            _ => Err(ApiError::InvalidRequest(format!(
                "Cannot set query parameter '{key}' to value '{v}': Cannot convert value {v} to java type java.lang.Integer"
            ))),
        }
    }

    /// `firstResult` / `maxResults`.
    pub(crate) fn page(&self) -> Result<Page, ApiError> {
        Ok(Page { first: self.non_negative("firstResult")?.unwrap_or(0), max: self.non_negative("maxResults")? })
    }

    /// `sortBy` / `sortOrder`; `key` maps the accepted `sortBy` values.
    pub(crate) fn sort<K>(&self, key: impl Fn(&str) -> Option<K>) -> Result<Option<Sort<K>>, ApiError> {
        let invalid = |name: &str, v: &str| ApiError::InvalidRequest(format!("Cannot set query parameter '{name}' to value '{v}'"));
        let by = self.raw("sortBy").map(|v| key(v).ok_or_else(|| invalid("sortBy", v))).transpose()?;
        let desc = match self.raw("sortOrder") {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    fn message(e: ApiError) -> String {
        e.to_string()
    }

    #[test]
    fn booleans_accept_only_json_literals() {
        let p = params(&[("a", "true"), ("b", "false"), ("c", "TRUE")]);
        assert_eq!(p.bool("a").unwrap(), Some(true));
        assert_eq!(p.bool("b").unwrap(), Some(false));
        assert_eq!(p.bool("missing").unwrap(), None);
        assert_eq!(
            message(p.bool("c").unwrap_err()),
            "Cannot set query parameter 'c' to value 'TRUE': Cannot convert value TRUE to java type java.lang.Boolean"
        );
        assert!(!p.flag("b").unwrap());
    }

    #[test]
    fn lists_split_on_commas_and_empty_means_no_filter() {
        let p = params(&[("a", "x,y"), ("b", "")]);
        assert_eq!(p.list("a"), ["x", "y"]);
        assert!(p.list("b").is_empty());
        assert!(p.list("c").is_empty());
    }

    #[test]
    fn sorting_needs_both_parameters_and_known_values() {
        let key = |v: &str| (v == "batchId").then_some(1);
        assert_eq!(params(&[]).sort(key).unwrap(), None);
        assert_eq!(params(&[("sortBy", "batchId"), ("sortOrder", "desc")]).sort(key).unwrap(), Some(Sort { key: 1, desc: true }));
        assert_eq!(
            message(params(&[("sortBy", "batchId")]).sort(key).unwrap_err()),
            "Only a single sorting parameter specified. sortBy and sortOrder required"
        );
        assert_eq!(
            message(params(&[("sortBy", "x"), ("sortOrder", "asc")]).sort(key).unwrap_err()),
            "Cannot set query parameter 'sortBy' to value 'x'"
        );
    }

    #[test]
    fn paging_defaults_to_everything() {
        assert_eq!(params(&[]).page().unwrap(), Page { first: 0, max: None });
        assert_eq!(params(&[("maxResults", "5")]).page().unwrap(), Page { first: 0, max: Some(5) });
        assert!(params(&[("firstResult", "-1")]).page().is_err());
    }

    #[test]
    fn dates_use_camunda_format_and_refuse_quotes() {
        let p = params(&[("a", "2016-04-12T15:29:33.000+0200"), ("b", "\"2016-04-12T15:29:33.000+0200\""), ("c", "x")]);
        assert!(p.date("a").unwrap().is_some());
        assert!(message(p.date("b").unwrap_err()).ends_with("because of double quotes"));
        assert!(p.date("c").is_err());
    }
}

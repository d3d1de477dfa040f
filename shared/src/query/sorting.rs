//! Sorting of list queries: the top-level `sortBy`/`sortOrder` pair and the POST body's
//! `sorting` array, validated against a whitelist that maps Camunda names to columns.

use serde::{Deserialize, Serialize};

use super::SqlBuilder;
use crate::Error;

/// One entry of a POST body's `sorting` array.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SortingDto {
    /// Camunda sort key, e.g. `instanceId`.
    pub sort_by: Option<String>,
    /// `asc` or `desc`.
    pub sort_order: Option<String>,
    /// Only meaningful for variable sorting, which these queries do not offer; ignored.
    pub parameters: Option<serde_json::Value>,
}

/// A resolved ordering: column expression and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Order {
    pub column: &'static str,
    pub desc: bool,
}

fn invalid(param: &str, value: &str) -> Error {
    Error::invalid(format!("Cannot set query parameter '{param}' to value '{value}'"))
}

fn one(keys: &[(&str, &'static str)], sort_by: &str, sort_order: &str) -> Result<Order, Error> {
    let column = keys.iter().find(|(k, _)| *k == sort_by).map(|(_, c)| *c).ok_or_else(|| invalid("sortBy", sort_by))?;
    let desc = match sort_order {
        "asc" => false,
        "desc" => true,
        other => return Err(invalid("sortOrder", other)),
    };
    Ok(Order { column, desc })
}

/// Resolves the top-level pair followed by the `sorting` entries, in order.
pub(crate) fn resolve(
    keys: &[(&str, &'static str)],
    sort_by: Option<&str>,
    sort_order: Option<&str>,
    sorting: Option<&[SortingDto]>,
) -> Result<Vec<Order>, Error> {
    let mut orders = Vec::new();
    match (sort_by, sort_order) {
        (None, None) => {}
        (Some(by), Some(order)) => orders.push(one(keys, by, order)?),
        _ => return Err(Error::invalid("Only a single sorting parameter specified. sortBy and sortOrder required")),
    }
    for s in sorting.unwrap_or_default() {
        match (s.sort_by.as_deref(), s.sort_order.as_deref()) {
            (Some(by), Some(order)) => orders.push(one(keys, by, order)?),
            (None, None) => {}
            _ => {
                return Err(Error::invalid("Only a single sorting parameter specified. sortBy and sortOrder required"));
            }
        }
    }
    Ok(orders)
}

/// Appends ` ORDER BY …`, ending with `tiebreak` ascending so paging is stable even when the
/// requested keys have duplicates (it is also the default order).
pub(crate) fn push_order_by(b: &mut SqlBuilder, orders: &[Order], tiebreak: &'static str) {
    b.push(" ORDER BY ");
    for o in orders {
        b.push(o.column).push(if o.desc { " DESC, " } else { " ASC, " });
    }
    b.push(tiebreak).push(" ASC");
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[(&str, &str)] = &[("instanceId", "pi.id_"), ("businessKey", "pi.business_key_")];

    #[test]
    fn unknown_keys_and_orders_name_the_parameter() {
        let e = resolve(KEYS, Some("nope"), Some("asc"), None).unwrap_err().to_string();
        assert_eq!(e, "Cannot set query parameter 'sortBy' to value 'nope'");
        let e = resolve(KEYS, Some("instanceId"), Some("up"), None).unwrap_err().to_string();
        assert_eq!(e, "Cannot set query parameter 'sortOrder' to value 'up'");
    }

    #[test]
    fn a_lone_sort_parameter_is_rejected() {
        let e = resolve(KEYS, Some("instanceId"), None, None).unwrap_err().to_string();
        assert_eq!(e, "Only a single sorting parameter specified. sortBy and sortOrder required");
        let lone = [SortingDto { sort_by: None, sort_order: Some("asc".into()), parameters: None }];
        assert!(resolve(KEYS, None, None, Some(&lone)).is_err());
    }

    #[test]
    fn sorting_entries_follow_the_top_level_pair() {
        let more =
            [SortingDto { sort_by: Some("instanceId".into()), sort_order: Some("desc".into()), parameters: None }];
        let orders = resolve(KEYS, Some("businessKey"), Some("asc"), Some(&more)).unwrap();
        assert_eq!(
            orders,
            vec![Order { column: "pi.business_key_", desc: false }, Order { column: "pi.id_", desc: true }]
        );
        let mut b = SqlBuilder::new();
        push_order_by(&mut b, &orders, "pi.id_");
        assert_eq!(b.sql(), " ORDER BY pi.business_key_ ASC, pi.id_ DESC, pi.id_ ASC");
    }
}

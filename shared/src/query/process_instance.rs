//! `ProcessInstanceQueryDto`: Camunda's runtime process-instance query over `ACT_RU_EXECUTION`
//! (a process instance is the execution with `ID_ = PROC_INST_ID_`) joined to `ACT_RE_PROCDEF`.
//! Each query compiles to exactly one statement; related tables are reached with `EXISTS`.
//!
//! Approximations, because Sweep's schema has no CMMN tables:
//! * `superCaseInstance` matches instances started by a case execution (`SUPER_CASE_EXEC_` set)
//!   whose `CASE_INST_ID_` (copied from the calling case execution) or `SUPER_CASE_EXEC_`
//!   (a call from the case instance's own execution) equals the given id.
//! * `subCaseInstance` would need `ACT_RU_CASE_EXECUTION.SUPER_EXEC_`; it matches nothing, which
//!   errs on the side of selecting (and so deleting) fewer instances.

use sea_orm::{ConnectionTrait, QueryResult, Statement};
use serde::{Deserialize, Serialize};

use super::sorting::{self, Order, SortingDto};
use super::variable::{self, VariableQueryParameterDto};
use super::{Conds, Level, SqlBuilder, check_like, check_size, id_set, non_empty, on};
use crate::Error;
use crate::auth::{Instance, InstanceRow, Principal};
use crate::camunda::ProcessInstanceDto;

const FROM: &str =
    " FROM act_ru_execution pi JOIN act_re_procdef pd ON pd.id_ = pi.proc_def_id_ WHERE pi.id_ = pi.proc_inst_id_";

const COLUMNS: &str = "SELECT pi.id_ AS id, pi.proc_def_id_ AS definition_id, pd.key_ AS definition_key, \
     pi.business_key_ AS business_key, pi.case_inst_id_ AS case_instance_id, \
     COALESCE(pi.suspension_state_ = 2, false) AS suspended, pi.tenant_id_ AS tenant_id";

/// Camunda sort keys and the columns they order by.
const SORT_KEYS: &[(&str, &str)] = &[
    ("instanceId", "pi.id_"),
    ("definitionKey", "pd.key_"),
    ("definitionId", "pd.id_"),
    ("tenantId", "pi.tenant_id_"),
    ("businessKey", "pi.business_key_"),
];

/// Paging of a list query; both values come from query parameters, never from a body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Paging {
    /// Rows to skip; none means 0.
    pub first_result: Option<u64>,
    /// Maximum rows; none means unbounded.
    pub max_results: Option<u64>,
}

/// Camunda's `ProcessInstanceQueryDto`: the body of `POST /process-instance` and
/// `POST /process-instance/count`, and `processInstanceQuery` of the delete request.
/// Unknown fields are ignored and boolean flags act only when `true`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessInstanceQueryDto {
    /// Not part of the body: when set, only instances this principal may read (its tenants;
    /// READ on the instance or READ_INSTANCE on its definition) match the list and count.
    #[serde(skip)]
    pub visible_to: Option<Principal>,
    /// Instance ids; an empty array is an error.
    pub process_instance_ids: Option<Vec<String>>,
    /// Exact business key.
    pub business_key: Option<String>,
    /// Business key `LIKE` pattern.
    pub business_key_like: Option<String>,
    /// `CASE_INST_ID_`.
    pub case_instance_id: Option<String>,
    /// Definition id.
    pub process_definition_id: Option<String>,
    /// Definition key.
    pub process_definition_key: Option<String>,
    /// Definition keys, any of (empty list ignored).
    pub process_definition_key_in: Option<Vec<String>>,
    /// Definition keys to exclude (empty list ignored).
    pub process_definition_key_not_in: Option<Vec<String>>,
    /// Deployment of the definition.
    pub deployment_id: Option<String>,
    /// Instances called from any execution of this instance.
    pub super_process_instance: Option<String>,
    /// The instance that called this instance.
    pub sub_process_instance: Option<String>,
    /// Instances called from this case instance (approximated, see the module docs).
    pub super_case_instance: Option<String>,
    /// The instance that called this case instance (matches nothing, see the module docs).
    pub sub_case_instance: Option<String>,
    /// `SUSPENSION_STATE_ = 1`.
    pub active: Option<bool>,
    /// `SUSPENSION_STATE_ = 2`; wins over `active`.
    pub suspended: Option<bool>,
    /// Has at least one incident.
    pub with_incident: Option<bool>,
    /// Has this incident.
    pub incident_id: Option<String>,
    /// Has an incident of this type.
    pub incident_type: Option<String>,
    /// Has an incident with exactly this message.
    pub incident_message: Option<String>,
    /// Has an incident whose message matches this `LIKE` pattern.
    pub incident_message_like: Option<String>,
    /// `ROOT_PROC_INST_ID_`.
    pub root_process_instance_id: Option<String>,
    /// Not called by another instance.
    pub root_process_instances: Option<bool>,
    /// Currently calls no other instance.
    pub leaf_process_instances: Option<bool>,
    /// Tenants, any of (empty list ignored; `withoutTenantId` wins).
    pub tenant_id_in: Option<Vec<String>>,
    /// No tenant.
    pub without_tenant_id: Option<bool>,
    /// The definition has no tenant.
    pub process_definition_without_tenant_id: Option<bool>,
    /// Some non-event-scope execution of the instance is in one of these activities.
    pub activity_id_in: Option<Vec<String>>,
    /// Variable conditions, all of which must hold.
    pub variables: Option<Vec<VariableQueryParameterDto>>,
    /// Compare variable names case-insensitively.
    pub variable_names_ignore_case: Option<bool>,
    /// Compare string variable values case-insensitively.
    pub variable_values_ignore_case: Option<bool>,
    /// OR-groups, AND-ed with the rest (conjunctive normal form).
    #[schema(no_recursion)]
    pub or_queries: Option<Vec<ProcessInstanceQueryDto>>,
    /// Sort key: `instanceId`, `definitionKey`, `definitionId`, `tenantId`, `businessKey`.
    pub sort_by: Option<String>,
    /// `asc` or `desc`; required together with `sortBy`.
    pub sort_order: Option<String>,
    /// Further orderings, applied after `sortBy`/`sortOrder`.
    pub sorting: Option<Vec<SortingDto>>,
}

impl ProcessInstanceQueryDto {
    /// Checks every filter and the sorting without touching the database.
    pub fn validate(&self) -> Result<(), Error> {
        self.check(Level::Top)?;
        self.orders().map(|_| ())
    }

    fn check(&self, level: Level) -> Result<(), Error> {
        if level == Level::Top {
            let groups = self.or_queries.as_deref().unwrap_or_default();
            let variables = std::iter::once(self).chain(groups).map(|q| q.variables.as_ref().map_or(0, Vec::len));
            check_size(variables.sum(), groups.len())?;
        }
        id_set(&self.process_instance_ids)?;
        check_like("businessKeyLike", &self.business_key_like)?;
        check_like("incidentMessageLike", &self.incident_message_like)?;
        for v in self.variables.iter().flatten() {
            v.resolve(false)?;
        }
        if on(self.root_process_instances) && self.super_process_instance.is_some() {
            return Err(Error::invalid(
                "Invalid query usage: cannot set both rootProcessInstances and superProcessInstance",
            ));
        }
        if on(self.leaf_process_instances) && self.sub_process_instance.is_some() {
            return Err(Error::invalid(
                "Invalid query usage: cannot set both leafProcessInstances and subProcessInstance",
            ));
        }
        if level == Level::Top {
            for group in self.or_queries.iter().flatten() {
                group.check(Level::OrGroup)?;
            }
        }
        Ok(())
    }

    fn orders(&self) -> Result<Vec<Order>, Error> {
        sorting::resolve(SORT_KEYS, self.sort_by.as_deref(), self.sort_order.as_deref(), self.sorting.as_deref())
    }

    /// Appends one `SELECT pi.id_ AS id, pi.tenant_id_ AS tenant, pi.proc_def_id_ AS definition,
    /// … AS called FROM …` statement (no trailing semicolon) selecting each matching
    /// process-instance id once, with every value bound. Sorting is validated (Camunda rejects a bad `sortBy` while reading
    /// the body) but not applied. String variable values
    /// are compared as strings even when they look like dates, as Camunda does for the delete
    /// request's nested query.
    pub fn push_id_select(&self, b: &mut SqlBuilder) -> Result<(), Error> {
        self.validate()?;
        b.push("SELECT pi.id_ AS id, pi.tenant_id_ AS tenant, pi.proc_def_id_ AS definition, pi.super_exec_ IS NOT NULL AS called")
            .push(FROM).push(" AND ");
        self.push_conds(b, Level::Top, false)?;
        b.check_parameter_count()
    }

    /// [`Self::push_id_select`] keeping only instances `principal` may see and, with `delete`,
    /// delete; the checks join the query's own rows.
    pub fn push_visible_id_select(&self, b: &mut SqlBuilder, principal: &Principal, delete: bool) -> Result<(), Error> {
        self.push_id_select(b)?;
        principal.push_instance_visible(b, Instance::Row(InstanceRow::EXECUTION_PI), false, delete);
        b.check_parameter_count()
    }

    /// The list statement of `GET|POST /process-instance`: the [`ProcessInstanceDto`] columns,
    /// ordered as requested (default `id` ascending), paged.
    pub fn list_statement(&self, paging: Paging) -> Result<Statement, Error> {
        self.validate()?;
        let mut b = SqlBuilder::new();
        b.push(COLUMNS).push(FROM).push(" AND ");
        self.push_conds(&mut b, Level::Top, true)?;
        self.push_visible(&mut b);
        sorting::push_order_by(&mut b, &self.orders()?, "pi.id_");
        if let Some(max) = paging.max_results {
            b.push(" LIMIT ").bind(i64::try_from(max).unwrap_or(i64::MAX));
        }
        if let Some(first) = paging.first_result {
            b.push(" OFFSET ").bind(i64::try_from(first).unwrap_or(i64::MAX));
        }
        b.check_parameter_count()?;
        Ok(b.into_statement())
    }

    /// The count statement of `GET|POST /process-instance/count`, returning one `count` column.
    pub fn count_statement(&self) -> Result<Statement, Error> {
        self.validate()?;
        let mut b = SqlBuilder::new();
        b.push("SELECT count(*) AS count").push(FROM).push(" AND ");
        self.push_conds(&mut b, Level::Top, true)?;
        self.push_visible(&mut b);
        b.check_parameter_count()?;
        Ok(b.into_statement())
    }

    fn push_visible(&self, b: &mut SqlBuilder) {
        if let Some(principal) = &self.visible_to {
            principal.push_instance_visible(b, Instance::Row(InstanceRow::EXECUTION_PI), false, false);
        }
    }

    /// Runs [`Self::list_statement`].
    pub async fn list(&self, db: &impl ConnectionTrait, paging: Paging) -> Result<Vec<ProcessInstanceDto>, Error> {
        let stmt = self.list_statement(paging)?;
        db.query_all_raw(stmt).await?.iter().map(row_to_dto).collect()
    }

    /// Runs [`Self::count_statement`].
    pub async fn count(&self, db: &impl ConnectionTrait) -> Result<i64, Error> {
        let row = db.query_one_raw(self.count_statement()?).await?;
        Ok(row.map(|r| r.try_get::<i64>("", "count")).transpose()?.unwrap_or(0))
    }

    /// Appends this DTO's predicates as one parenthesised group: AND-ed at the top level,
    /// OR-ed inside an or-group. `dates` turns date-formatted variable strings into dates.
    fn push_conds(&self, b: &mut SqlBuilder, level: Level, dates: bool) -> Result<(), Error> {
        let mut c = Conds::open(b, level.joiner());
        if let Some(ids) = id_set(&self.process_instance_ids)? {
            c.add(|b| {
                b.push("pi.id_ IN ").bind_list(ids.iter().cloned());
            });
        }
        eq(&mut c, "pi.business_key_", &self.business_key);
        like(&mut c, "pi.business_key_", &self.business_key_like);
        eq(&mut c, "pi.case_inst_id_", &self.case_instance_id);
        eq(&mut c, "pd.id_", &self.process_definition_id);
        eq(&mut c, "pd.key_", &self.process_definition_key);
        if let Some(keys) = non_empty(&self.process_definition_key_in) {
            c.add(|b| {
                b.push("pd.key_ IN ").bind_list(keys.iter().cloned());
            });
        }
        if let Some(keys) = non_empty(&self.process_definition_key_not_in) {
            c.add(|b| {
                b.push("pd.key_ NOT IN ").bind_list(keys.iter().cloned());
            });
        }
        eq(&mut c, "pd.deployment_id_", &self.deployment_id);
        if let Some(id) = &self.super_process_instance {
            c.add(|b| {
                b.push("EXISTS (SELECT 1 FROM act_ru_execution sup WHERE sup.id_ = pi.super_exec_ AND sup.proc_inst_id_ = ")
                    .bind(id.clone())
                    .push(")");
            });
        }
        if let Some(id) = &self.sub_process_instance {
            c.add(|b| {
                b.push(
                    "EXISTS (SELECT 1 FROM act_ru_execution sub JOIN act_ru_execution sup ON sup.id_ = sub.super_exec_ \
                     WHERE sup.proc_inst_id_ = pi.id_ AND sub.id_ = sub.proc_inst_id_ AND sub.id_ = ",
                )
                .bind(id.clone())
                .push(")");
            });
        }
        if let Some(id) = &self.super_case_instance {
            c.add(|b| {
                b.push("pi.super_case_exec_ IS NOT NULL AND (pi.case_inst_id_ = ")
                    .bind(id.clone())
                    .push(" OR pi.super_case_exec_ = ")
                    .bind(id.clone())
                    .push(")");
            });
        }
        if self.sub_case_instance.is_some() {
            c.add(|b| {
                b.push("FALSE");
            });
        }
        if on(self.suspended) {
            c.add(|b| {
                b.push("pi.suspension_state_ = 2");
            });
        } else if on(self.active) {
            c.add(|b| {
                b.push("pi.suspension_state_ = 1");
            });
        }
        self.push_incident_conds(&mut c, level);
        eq(&mut c, "pi.root_proc_inst_id_", &self.root_process_instance_id);
        if on(self.root_process_instances) {
            c.add(|b| {
                b.push("pi.super_exec_ IS NULL");
            });
        }
        if on(self.leaf_process_instances) {
            c.add(|b| {
                b.push(
                    "NOT EXISTS (SELECT 1 FROM act_ru_execution sub JOIN act_ru_execution sup ON sup.id_ = sub.super_exec_ \
                     WHERE sup.proc_inst_id_ = pi.id_)",
                );
            });
        }
        // Camunda keeps one tenant field that `withoutTenantId` overwrites, so it wins.
        if on(self.without_tenant_id) {
            c.add(|b| {
                b.push("pi.tenant_id_ IS NULL");
            });
        } else if let Some(tenants) = non_empty(&self.tenant_id_in) {
            c.add(|b| {
                b.push("pi.tenant_id_ IN ").bind_list(tenants.iter().cloned());
            });
        }
        if on(self.process_definition_without_tenant_id) {
            c.add(|b| {
                b.push("pd.tenant_id_ IS NULL");
            });
        }
        if let Some(acts) = non_empty(&self.activity_id_in) {
            c.add(|b| {
                b.push(
                    "EXISTS (SELECT 1 FROM act_ru_execution ex WHERE ex.proc_inst_id_ = pi.id_ \
                     AND ex.is_event_scope_ IS NOT TRUE AND ex.act_id_ IN ",
                )
                .bind_list(acts.iter().cloned())
                .push(")");
            });
        }
        let (names_ic, values_ic) = (on(self.variable_names_ignore_case), on(self.variable_values_ignore_case));
        for v in self.variables.iter().flatten() {
            let cond = v.resolve(dates)?;
            c.add(|b| cond.push(b, &variable::RUNTIME, "pi.id_", names_ic, values_ic));
        }
        // Nested orQueries inside an or-group are ignored, as in Camunda.
        if level == Level::Top {
            for group in self.or_queries.iter().flatten() {
                let mut result = Ok(());
                c.add(|b| result = group.push_conds(b, Level::OrGroup, dates));
                result?;
            }
        }
        c.close();
        Ok(())
    }

    /// Incident filters. At the top level one incident must satisfy all of them together, as
    /// Camunda joins the incident table once; in an or-group each is its own alternative.
    fn push_incident_conds(&self, c: &mut Conds<'_>, level: Level) {
        let mut preds: Vec<(&str, &str)> = Vec::new();
        let fields = [
            ("inc.id_ = ", &self.incident_id),
            ("inc.incident_type_ = ", &self.incident_type),
            ("inc.incident_msg_ = ", &self.incident_message),
            ("inc.incident_msg_ LIKE ", &self.incident_message_like),
        ];
        for (sql, value) in fields {
            if let Some(v) = value {
                preds.push((sql, v));
            }
        }
        let exists = |b: &mut SqlBuilder, preds: &[(&str, &str)]| {
            b.push("EXISTS (SELECT 1 FROM act_ru_incident inc WHERE inc.proc_inst_id_ = pi.id_");
            for (sql, v) in preds {
                b.push(" AND ").push(sql).bind(v.to_string());
            }
            b.push(")");
        };
        match level {
            Level::Top => {
                if on(self.with_incident) || !preds.is_empty() {
                    c.add(|b| exists(b, &preds));
                }
            }
            Level::OrGroup => {
                if on(self.with_incident) {
                    c.add(|b| exists(b, &[]));
                }
                for p in &preds {
                    c.add(|b| exists(b, std::slice::from_ref(p)));
                }
            }
        }
    }
}

fn eq(c: &mut Conds<'_>, column: &str, value: &Option<String>) {
    if let Some(v) = value {
        c.add(|b| {
            b.push(column).push(" = ").bind(v.clone());
        });
    }
}

fn like(c: &mut Conds<'_>, column: &str, value: &Option<String>) {
    if let Some(v) = value {
        c.add(|b| {
            b.push(column).push(" LIKE ").bind(v.clone());
        });
    }
}

fn row_to_dto(row: &QueryResult) -> Result<ProcessInstanceDto, Error> {
    Ok(ProcessInstanceDto {
        id: row.try_get("", "id")?,
        definition_id: row.try_get("", "definition_id")?,
        definition_key: row.try_get("", "definition_key")?,
        business_key: row.try_get("", "business_key")?,
        case_instance_id: row.try_get("", "case_instance_id")?,
        ended: false,
        suspended: row.try_get("", "suspended")?,
        tenant_id: row.try_get("", "tenant_id")?,
        links: Vec::new(),
    })
}

/// The runtime process instance `id`, if it exists (`GET /process-instance/{id}`).
pub async fn find_process_instance(
    db: &impl ConnectionTrait,
    id: &str,
    principal: &Principal,
) -> Result<Option<ProcessInstanceDto>, Error> {
    let mut b = SqlBuilder::new();
    b.push(COLUMNS).push(FROM).push(" AND pi.id_ = ").bind(id.to_owned());
    principal.push_instance_visible(&mut b, Instance::Row(InstanceRow::EXECUTION_PI), false, false);
    db.query_one_raw(b.into_statement()).await?.as_ref().map(row_to_dto).transpose()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn dto(body: serde_json::Value) -> ProcessInstanceQueryDto {
        serde_json::from_value(body).unwrap()
    }

    fn id_select(q: &ProcessInstanceQueryDto) -> SqlBuilder {
        let mut b = SqlBuilder::new();
        q.push_id_select(&mut b).unwrap();
        b
    }

    #[test]
    fn unknown_fields_are_ignored_and_nulls_are_absent() {
        let q = dto(json!({"failIfNotExists": true, "active": null, "businessKey": "k"}));
        assert_eq!(q.business_key.as_deref(), Some("k"));
        assert_eq!(q.active, None);
    }

    #[test]
    fn an_empty_query_selects_every_instance() {
        let b = id_select(&ProcessInstanceQueryDto::default());
        assert_eq!(
            b.sql(),
            "SELECT pi.id_ AS id, pi.tenant_id_ AS tenant, pi.proc_def_id_ AS definition, \
             pi.super_exec_ IS NOT NULL AS called FROM act_ru_execution pi JOIN act_re_procdef pd ON pd.id_ = pi.proc_def_id_ WHERE pi.id_ = pi.proc_inst_id_ AND (TRUE)"
        );
    }

    #[test]
    fn values_are_bound_after_prebound_parameters() {
        let mut b = SqlBuilder::new();
        b.push("INSERT INTO t SELECT ").bind("batch").push(", q.id FROM (");
        dto(json!({"businessKey": "x'; DROP TABLE t; --", "tenantIdIn": ["a", "b"]})).push_id_select(&mut b).unwrap();
        b.push(") q");
        assert!(b.sql().contains("pi.business_key_ = $2"), "{}", b.sql());
        assert!(b.sql().contains("pi.tenant_id_ IN (SELECT unnest(CAST($3 AS text[])))"), "{}", b.sql());
        assert!(!b.sql().contains("DROP"));
    }

    #[test]
    fn or_groups_are_or_ed_inside_and_anded_outside() {
        let b = id_select(&dto(json!({
            "businessKey": "k",
            "orQueries": [{"processDefinitionKey": "a", "tenantIdIn": ["t"], "orQueries": [{"businessKey": "ignored"}]}]
        })));
        assert!(
            b.sql().ends_with(
                "AND ((pi.business_key_ = $1) AND (((pd.key_ = $2) OR (pi.tenant_id_ IN (SELECT unnest(CAST($3 AS text[])))))))"
            ),
            "{}",
            b.sql()
        );
        assert_eq!(b.values().len(), 3);
    }

    #[test]
    fn empty_id_sets_are_rejected_also_in_or_groups() {
        let err = dto(json!({"processInstanceIds": []})).validate().unwrap_err().to_string();
        assert_eq!(err, "Set of process instance ids is empty");
        assert!(dto(json!({"orQueries": [{"processInstanceIds": []}]})).validate().is_err());
    }

    #[test]
    fn conflicting_hierarchy_filters_name_both_fields() {
        let err = dto(json!({"rootProcessInstances": true, "superProcessInstance": "x"})).validate().unwrap_err();
        assert!(err.to_string().contains("rootProcessInstances") && err.to_string().contains("superProcessInstance"));
        let err = dto(json!({"leafProcessInstances": true, "subProcessInstance": "x"})).validate().unwrap_err();
        assert!(err.to_string().contains("leafProcessInstances") && err.to_string().contains("subProcessInstance"));
        assert!(dto(json!({"rootProcessInstances": false, "superProcessInstance": "x"})).validate().is_ok());
    }

    #[test]
    fn bad_sorting_and_variables_fail_validation() {
        assert!(dto(json!({"sortBy": "instanceId"})).validate().is_err());
        assert!(dto(json!({"sortBy": "startTime", "sortOrder": "asc"})).validate().is_err());
        assert!(dto(json!({"variables": [{"name": "a", "operator": "notLike", "value": "x"}]})).validate().is_err());
        assert!(dto(json!({"sortBy": "businessKey", "sortOrder": "desc"})).validate().is_ok());
    }

    #[test]
    fn list_statements_page_with_bound_values() {
        let stmt = ProcessInstanceQueryDto::default()
            .list_statement(Paging { first_result: Some(5), max_results: Some(10) })
            .unwrap();
        assert!(stmt.sql.ends_with(" ORDER BY pi.id_ ASC LIMIT $1 OFFSET $2"), "{}", stmt.sql);
    }
}

//! `HistoricProcessInstanceQueryDto`: Camunda's historic process-instance query over
//! `ACT_HI_PROCINST`, as far as it selects process instances (no sorting, no listing). Related
//! history tables (`ACT_HI_INCIDENT`, `ACT_HI_VARINST`, `ACT_HI_ACTINST`) are reached with `EXISTS`.
//!
//! Accepted but without effect, because Sweep's schema lacks the tables they need:
//! `executedJobAfter`, `executedJobBefore` (job log); sorting fields are ignored as well.
//! `subCaseInstanceId` needs the historic case tables and matches nothing, so a query using it
//! selects fewer instances rather than more.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::variable::{self, VariableQueryParameterDto};
use super::{Conds, Level, SqlBuilder, check_like, check_size, id_set, non_empty, on, parse_field_date};
use crate::Error;

/// Camunda's `HistoricProcessInstanceQueryDto` (the selecting part). Unknown fields are
/// ignored and boolean flags act only when `true`. Dates use Camunda's format.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoricProcessInstanceQueryDto {
    /// Exact instance id.
    pub process_instance_id: Option<String>,
    /// Instance ids; an empty array is an error.
    pub process_instance_ids: Option<Vec<String>>,
    /// Instance ids to exclude.
    pub process_instance_id_not_in: Option<Vec<String>>,
    /// `ROOT_PROC_INST_ID_`.
    pub root_process_instance_id: Option<String>,
    /// Not called by another process instance.
    pub root_process_instances: Option<bool>,
    /// Definition id.
    pub process_definition_id: Option<String>,
    /// Definition key.
    pub process_definition_key: Option<String>,
    /// Definition keys, any of.
    pub process_definition_key_in: Option<Vec<String>>,
    /// Definition keys to exclude.
    pub process_definition_key_not_in: Option<Vec<String>>,
    /// Exact definition name.
    pub process_definition_name: Option<String>,
    /// Definition name `LIKE` pattern.
    pub process_definition_name_like: Option<String>,
    /// Exact business key.
    pub process_instance_business_key: Option<String>,
    /// Business key `LIKE` pattern.
    pub process_instance_business_key_like: Option<String>,
    /// Business keys, any of.
    pub process_instance_business_key_in: Option<Vec<String>>,
    /// Has ended.
    pub finished: Option<bool>,
    /// Has not ended.
    pub unfinished: Option<bool>,
    /// `STATE_ = 'ACTIVE'`.
    pub active: Option<bool>,
    /// `STATE_ = 'SUSPENDED'`.
    pub suspended: Option<bool>,
    /// `STATE_ = 'COMPLETED'`.
    pub completed: Option<bool>,
    /// `STATE_ = 'EXTERNALLY_TERMINATED'`.
    pub externally_terminated: Option<bool>,
    /// `STATE_ = 'INTERNALLY_TERMINATED'`.
    pub internally_terminated: Option<bool>,
    /// Has at least one incident.
    pub with_incidents: Option<bool>,
    /// Has at least one root-cause incident.
    pub with_root_incidents: Option<bool>,
    /// Has one of these incidents.
    pub incident_id_in: Option<Vec<String>>,
    /// Has an incident of this type.
    pub incident_type: Option<String>,
    /// Has an incident with exactly this message.
    pub incident_message: Option<String>,
    /// Has an incident whose message matches this `LIKE` pattern.
    pub incident_message_like: Option<String>,
    /// `open` (not ended) or `resolved`.
    pub incident_status: Option<String>,
    /// Has a job that failed and still has retries.
    pub with_jobs_retrying: Option<bool>,
    /// `START_TIME_ <=`.
    pub started_before: Option<String>,
    /// `START_TIME_ >=`.
    pub started_after: Option<String>,
    /// `END_TIME_ <=`.
    pub finished_before: Option<String>,
    /// `END_TIME_ >=`.
    pub finished_after: Option<String>,
    /// Some activity instance started or ended at or after this date.
    pub executed_activity_after: Option<String>,
    /// Some activity instance started or ended at or before this date.
    pub executed_activity_before: Option<String>,
    /// Has a finished activity instance of one of these activities.
    pub executed_activity_id_in: Option<Vec<String>>,
    /// Has an unfinished activity instance of one of these activities.
    pub active_activity_id_in: Option<Vec<String>>,
    /// Is active in, or has an open incident at, one of these activities.
    pub activity_id_in: Option<Vec<String>>,
    /// `START_USER_ID_`.
    pub started_by: Option<String>,
    /// Called by this process instance.
    pub super_process_instance_id: Option<String>,
    /// Called this process instance.
    pub sub_process_instance_id: Option<String>,
    /// Called by this case instance.
    pub super_case_instance_id: Option<String>,
    /// Called this case instance (matches nothing, see the module docs).
    pub sub_case_instance_id: Option<String>,
    /// `CASE_INST_ID_`.
    pub case_instance_id: Option<String>,
    /// Tenants, any of (`withoutTenantId` wins).
    pub tenant_id_in: Option<Vec<String>>,
    /// No tenant.
    pub without_tenant_id: Option<bool>,
    /// Conditions on historic variables, all of which must hold.
    pub variables: Option<Vec<VariableQueryParameterDto>>,
    /// Compare variable names case-insensitively.
    pub variable_names_ignore_case: Option<bool>,
    /// Compare string variable values case-insensitively.
    pub variable_values_ignore_case: Option<bool>,
    /// OR-groups, AND-ed with the rest.
    #[schema(no_recursion)]
    pub or_queries: Option<Vec<HistoricProcessInstanceQueryDto>>,
}

/// Dates of a DTO, parsed once.
struct Dates {
    started_before: Option<NaiveDateTime>,
    started_after: Option<NaiveDateTime>,
    finished_before: Option<NaiveDateTime>,
    finished_after: Option<NaiveDateTime>,
    executed_activity_after: Option<NaiveDateTime>,
    executed_activity_before: Option<NaiveDateTime>,
}

fn date(field: &str, value: &Option<String>) -> Result<Option<NaiveDateTime>, Error> {
    value.as_deref().map(|v| parse_field_date(field, v)).transpose()
}

impl HistoricProcessInstanceQueryDto {
    /// Checks every filter without touching the database.
    pub fn validate(&self) -> Result<(), Error> {
        self.check(Level::Top)
    }

    fn check(&self, level: Level) -> Result<(), Error> {
        if level == Level::Top {
            let groups = self.or_queries.as_deref().unwrap_or_default();
            let variables = std::iter::once(self).chain(groups).map(|q| q.variables.as_ref().map_or(0, Vec::len));
            check_size(variables.sum(), groups.len())?;
        }
        id_set(&self.process_instance_ids)?;
        check_like("processDefinitionNameLike", &self.process_definition_name_like)?;
        check_like("processInstanceBusinessKeyLike", &self.process_instance_business_key_like)?;
        check_like("incidentMessageLike", &self.incident_message_like)?;
        self.dates()?;
        self.incident_state()?;
        for v in self.variables.iter().flatten() {
            v.resolve(false)?;
        }
        if level == Level::Top {
            let states: Vec<&str> = self.states().iter().filter(|(f, _)| on(*f)).map(|(_, (name, _))| *name).collect();
            if states.len() > 1 {
                return Err(Error::invalid(format!(
                    "Invalid query usage: only one process instance state may be set, got: {}",
                    states.join(", ")
                )));
            }
            for group in self.or_queries.iter().flatten() {
                group.check(Level::OrGroup)?;
            }
        }
        Ok(())
    }

    fn dates(&self) -> Result<Dates, Error> {
        Ok(Dates {
            started_before: date("startedBefore", &self.started_before)?,
            started_after: date("startedAfter", &self.started_after)?,
            finished_before: date("finishedBefore", &self.finished_before)?,
            finished_after: date("finishedAfter", &self.finished_after)?,
            executed_activity_after: date("executedActivityAfter", &self.executed_activity_after)?,
            executed_activity_before: date("executedActivityBefore", &self.executed_activity_before)?,
        })
    }

    /// The `incidentStatus` condition on `hinc`.
    fn incident_state(&self) -> Result<Option<&'static str>, Error> {
        match self.incident_status.as_deref() {
            None => Ok(None),
            Some("open") => Ok(Some("hinc.end_time_ IS NULL")),
            Some("resolved") => Ok(Some("hinc.incident_state_ = 1")),
            Some(other) => {
                Err(Error::invalid(format!("Cannot set query parameter 'incidentStatus' to value '{other}'")))
            }
        }
    }

    fn states(&self) -> [(Option<bool>, (&'static str, &'static str)); 5] {
        [
            (self.active, ("active", "ACTIVE")),
            (self.suspended, ("suspended", "SUSPENDED")),
            (self.completed, ("completed", "COMPLETED")),
            (self.externally_terminated, ("externallyTerminated", "EXTERNALLY_TERMINATED")),
            (self.internally_terminated, ("internallyTerminated", "INTERNALLY_TERMINATED")),
        ]
    }

    /// Appends one `SELECT h.proc_inst_id_ AS id FROM act_hi_procinst h …` statement (no
    /// trailing semicolon) selecting each matching process-instance id once, values bound.
    pub fn push_id_select(&self, b: &mut SqlBuilder) -> Result<(), Error> {
        self.check(Level::Top)?;
        b.push("SELECT h.proc_inst_id_ AS id FROM act_hi_procinst h WHERE ");
        self.push_conds(b, Level::Top)?;
        b.check_parameter_count()
    }

    fn push_conds(&self, b: &mut SqlBuilder, level: Level) -> Result<(), Error> {
        let dates = self.dates()?;
        let mut c = Conds::open(b, level.joiner());
        eq(&mut c, "h.proc_inst_id_", &self.process_instance_id);
        if let Some(ids) = id_set(&self.process_instance_ids)? {
            in_list(&mut c, "h.proc_inst_id_ IN ", ids);
        }
        if let Some(ids) = non_empty(&self.process_instance_id_not_in) {
            in_list(&mut c, "h.proc_inst_id_ NOT IN ", ids);
        }
        eq(&mut c, "h.root_proc_inst_id_", &self.root_process_instance_id);
        if on(self.root_process_instances) {
            raw(&mut c, "h.super_process_instance_id_ IS NULL");
        }
        eq(&mut c, "h.proc_def_id_", &self.process_definition_id);
        eq(&mut c, "h.proc_def_key_", &self.process_definition_key);
        if let Some(keys) = non_empty(&self.process_definition_key_in) {
            in_list(&mut c, "h.proc_def_key_ IN ", keys);
        }
        if let Some(keys) = non_empty(&self.process_definition_key_not_in) {
            in_list(&mut c, "h.proc_def_key_ NOT IN ", keys);
        }
        for (op, value) in [(" = ", &self.process_definition_name), (" LIKE ", &self.process_definition_name_like)] {
            if let Some(v) = value {
                c.add(|b| {
                    b.push("EXISTS (SELECT 1 FROM act_re_procdef pd WHERE pd.id_ = h.proc_def_id_ AND pd.name_")
                        .push(op)
                        .bind(v.clone())
                        .push(")");
                });
            }
        }
        eq(&mut c, "h.business_key_", &self.process_instance_business_key);
        if let Some(v) = &self.process_instance_business_key_like {
            c.add(|b| {
                b.push("h.business_key_ LIKE ").bind(v.clone());
            });
        }
        if let Some(keys) = non_empty(&self.process_instance_business_key_in) {
            in_list(&mut c, "h.business_key_ IN ", keys);
        }
        if on(self.finished) {
            raw(&mut c, "h.end_time_ IS NOT NULL");
        }
        if on(self.unfinished) {
            raw(&mut c, "h.end_time_ IS NULL");
        }
        for (flag, (_, state)) in self.states() {
            if on(flag) {
                c.add(|b| {
                    b.push("h.state_ = '").push(state).push("'");
                });
            }
        }
        self.push_incident_conds(&mut c, level)?;
        if on(self.with_jobs_retrying) {
            raw(
                &mut c,
                "EXISTS (SELECT 1 FROM act_ru_job j WHERE j.process_instance_id_ = h.proc_inst_id_ AND j.retries_ > 0 \
                 AND (j.exception_msg_ IS NOT NULL OR j.exception_stack_id_ IS NOT NULL))",
            );
        }
        cmp(&mut c, "h.start_time_ <= ", dates.started_before);
        cmp(&mut c, "h.start_time_ >= ", dates.started_after);
        cmp(&mut c, "h.end_time_ <= ", dates.finished_before);
        cmp(&mut c, "h.end_time_ >= ", dates.finished_after);
        for (op, d) in [(" >= ", dates.executed_activity_after), (" <= ", dates.executed_activity_before)] {
            if let Some(d) = d {
                c.add(|b| {
                    b.push("EXISTS (SELECT 1 FROM act_hi_actinst a WHERE a.proc_inst_id_ = h.proc_inst_id_ AND (a.start_time_")
                        .push(op)
                        .bind(d)
                        .push(" OR a.end_time_")
                        .push(op)
                        .bind(d)
                        .push("))");
                });
            }
        }
        for (ended, list) in [("IS NOT NULL", &self.executed_activity_id_in), ("IS NULL", &self.active_activity_id_in)]
        {
            if let Some(acts) = non_empty(list) {
                c.add(|b| {
                    b.push("EXISTS (SELECT 1 FROM act_hi_actinst a WHERE a.proc_inst_id_ = h.proc_inst_id_ AND a.end_time_ ")
                        .push(ended)
                        .push(" AND a.act_id_ IN ")
                        .bind_list(acts.iter().cloned())
                        .push(")");
                });
            }
        }
        if let Some(acts) = non_empty(&self.activity_id_in) {
            c.add(|b| {
                b.push("EXISTS (SELECT 1 FROM act_hi_actinst a WHERE a.proc_inst_id_ = h.proc_inst_id_ AND a.end_time_ IS NULL AND a.act_id_ IN ")
                    .bind_list(acts.iter().cloned())
                    .push(") OR EXISTS (SELECT 1 FROM act_hi_incident hinc WHERE hinc.proc_inst_id_ = h.proc_inst_id_ AND hinc.end_time_ IS NULL AND hinc.activity_id_ IN ")
                    .bind_list(acts.iter().cloned())
                    .push(")");
            });
        }
        eq(&mut c, "h.start_user_id_", &self.started_by);
        eq(&mut c, "h.super_process_instance_id_", &self.super_process_instance_id);
        if let Some(id) = &self.sub_process_instance_id {
            c.add(|b| {
                b.push("EXISTS (SELECT 1 FROM act_hi_procinst hs WHERE hs.super_process_instance_id_ = h.proc_inst_id_ AND hs.proc_inst_id_ = ")
                    .bind(id.clone())
                    .push(")");
            });
        }
        eq(&mut c, "h.super_case_instance_id_", &self.super_case_instance_id);
        if self.sub_case_instance_id.is_some() {
            raw(&mut c, "FALSE");
        }
        eq(&mut c, "h.case_inst_id_", &self.case_instance_id);
        if on(self.without_tenant_id) {
            raw(&mut c, "h.tenant_id_ IS NULL");
        } else if let Some(tenants) = non_empty(&self.tenant_id_in) {
            in_list(&mut c, "h.tenant_id_ IN ", tenants);
        }
        let (names_ic, values_ic) = (on(self.variable_names_ignore_case), on(self.variable_values_ignore_case));
        for v in self.variables.iter().flatten() {
            let cond = v.resolve(false)?;
            c.add(|b| cond.push(b, &variable::HISTORIC, "h.proc_inst_id_", names_ic, values_ic));
        }
        if level == Level::Top {
            for group in self.or_queries.iter().flatten() {
                let mut result = Ok(());
                c.add(|b| result = group.push_conds(b, Level::OrGroup));
                result?;
            }
        }
        c.close();
        Ok(())
    }

    /// Incident filters: one incident satisfies all of them at the top level; in an or-group
    /// each is its own alternative.
    fn push_incident_conds(&self, c: &mut Conds<'_>, level: Level) -> Result<(), Error> {
        enum P<'a> {
            Raw(&'static str),
            Eq(&'static str, &'a str),
            In(&'a [String]),
        }
        let mut preds: Vec<P<'_>> = Vec::new();
        if on(self.with_root_incidents) {
            preds.push(P::Raw("hinc.id_ = hinc.root_cause_incident_id_"));
        }
        if let Some(ids) = non_empty(&self.incident_id_in) {
            preds.push(P::In(ids));
        }
        for (sql, v) in [
            ("hinc.incident_type_ = ", &self.incident_type),
            ("hinc.incident_msg_ = ", &self.incident_message),
            ("hinc.incident_msg_ LIKE ", &self.incident_message_like),
        ] {
            if let Some(v) = v {
                preds.push(P::Eq(sql, v));
            }
        }
        if let Some(state) = self.incident_state()? {
            preds.push(P::Raw(state));
        }
        let exists = |b: &mut SqlBuilder, preds: &[P<'_>]| {
            b.push("EXISTS (SELECT 1 FROM act_hi_incident hinc WHERE hinc.proc_inst_id_ = h.proc_inst_id_");
            for p in preds {
                b.push(" AND ");
                match p {
                    P::Raw(sql) => b.push(sql),
                    P::Eq(sql, v) => b.push(sql).bind(v.to_string()),
                    P::In(ids) => b.push("hinc.id_ IN ").bind_list(ids.iter().cloned()),
                };
            }
            b.push(")");
        };
        match level {
            Level::Top => {
                if on(self.with_incidents) || !preds.is_empty() {
                    c.add(|b| exists(b, &preds));
                }
            }
            Level::OrGroup => {
                if on(self.with_incidents) {
                    c.add(|b| exists(b, &[]));
                }
                for p in &preds {
                    c.add(|b| exists(b, std::slice::from_ref(p)));
                }
            }
        }
        Ok(())
    }
}

fn eq(c: &mut Conds<'_>, column: &str, value: &Option<String>) {
    if let Some(v) = value {
        c.add(|b| {
            b.push(column).push(" = ").bind(v.clone());
        });
    }
}

fn in_list(c: &mut Conds<'_>, prefix: &str, items: &[String]) {
    c.add(|b| {
        b.push(prefix).bind_list(items.iter().cloned());
    });
}

fn cmp(c: &mut Conds<'_>, prefix: &str, value: Option<NaiveDateTime>) {
    if let Some(d) = value {
        c.add(|b| {
            b.push(prefix).bind(d);
        });
    }
}

fn raw(c: &mut Conds<'_>, sql: &'static str) {
    c.add(|b| {
        b.push(sql);
    });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn dto(body: serde_json::Value) -> HistoricProcessInstanceQueryDto {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn two_states_outside_an_or_group_are_rejected() {
        let err = dto(json!({"active": true, "completed": true})).validate().unwrap_err().to_string();
        assert!(err.contains("active") && err.contains("completed"), "{err}");
        assert!(dto(json!({"orQueries": [{"active": true, "completed": true}]})).validate().is_ok());
        assert!(dto(json!({"active": true, "completed": false})).validate().is_ok());
    }

    #[test]
    fn bad_dates_and_incident_status_name_the_field() {
        let err = dto(json!({"startedBefore": "yesterday"})).validate().unwrap_err().to_string();
        assert!(err.contains("'startedBefore'"), "{err}");
        let err = dto(json!({"incidentStatus": "closed"})).validate().unwrap_err().to_string();
        assert!(err.contains("'incidentStatus'"), "{err}");
        assert!(dto(json!({"processInstanceIds": []})).validate().is_err());
    }

    #[test]
    fn id_select_binds_every_value() {
        let mut b = SqlBuilder::new();
        dto(json!({"unfinished": true, "startedBefore": "2020-01-01T00:00:00.000+0000", "processDefinitionKeyIn": ["a"]}))
            .push_id_select(&mut b)
            .unwrap();
        assert!(b.sql().starts_with("SELECT h.proc_inst_id_ AS id FROM act_hi_procinst h WHERE ("), "{}", b.sql());
        assert_eq!(b.values().len(), 2);
    }
}

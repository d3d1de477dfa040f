//! The Camunda 7 tables the generator writes, as row types and column buffers, and how a
//! batch of them becomes one statement. Only the columns the generator sets are listed; the others
//! keep their schema default (NULL).

use chrono::NaiveDateTime;
use sea_orm::Statement;

use super::columns::{combine, table};

table!(DeploymentRow, Deployments, "act_re_deployment" {
    id_: String,
    name_: String,
    deploy_time_: NaiveDateTime,
    source_: String,
    tenant_id_: Option<String>,
});

table!(ProcDefRow, ProcDefs, "act_re_procdef" {
    id_: String,
    rev_: i32,
    category_: String,
    name_: String,
    key_: String,
    version_: i32,
    deployment_id_: String,
    resource_name_: String,
    has_start_form_key_: bool,
    suspension_state_: i32,
    tenant_id_: Option<String>,
    version_tag_: Option<String>,
    history_ttl_: Option<i32>,
    startable_: bool,
});

table!(JobDefRow, JobDefs, "act_ru_jobdef" {
    id_: String,
    rev_: i32,
    proc_def_id_: String,
    proc_def_key_: String,
    act_id_: String,
    job_type_: String,
    job_configuration_: String,
    suspension_state_: i32,
    tenant_id_: Option<String>,
    deployment_id_: String,
});

table!(ByteArrayRow, ByteArrays, "act_ge_bytearray" {
    id_: String,
    rev_: i32,
    name_: String,
    bytes_: Vec<u8>,
    generated_: bool,
    tenant_id_: Option<String>,
    type_: i32,
    create_time_: NaiveDateTime,
    root_proc_inst_id_: String,
});

table!(ExecutionRow, Executions, "act_ru_execution" {
    id_: String,
    rev_: i32,
    root_proc_inst_id_: String,
    proc_inst_id_: String,
    business_key_: Option<String>,
    parent_id_: Option<String>,
    proc_def_id_: String,
    super_exec_: Option<String>,
    act_id_: Option<String>,
    act_inst_id_: String,
    is_active_: bool,
    is_concurrent_: bool,
    is_scope_: bool,
    is_event_scope_: bool,
    suspension_state_: i32,
    cached_ent_state_: i32,
    sequence_counter_: i64,
    tenant_id_: Option<String>,
    proc_def_key_: String,
});

table!(TaskRow, Tasks, "act_ru_task" {
    id_: String,
    rev_: i32,
    execution_id_: String,
    proc_inst_id_: String,
    proc_def_id_: String,
    name_: String,
    task_def_key_: String,
    assignee_: Option<String>,
    priority_: i32,
    create_time_: NaiveDateTime,
    due_date_: Option<NaiveDateTime>,
    suspension_state_: i32,
    tenant_id_: Option<String>,
    task_state_: String,
});

table!(IdentityLinkRow, IdentityLinks, "act_ru_identitylink" {
    id_: String,
    rev_: i32,
    group_id_: String,
    type_: String,
    task_id_: String,
    tenant_id_: Option<String>,
});

table!(VariableRow, Variables, "act_ru_variable" {
    id_: String,
    rev_: i32,
    type_: String,
    name_: String,
    execution_id_: String,
    proc_inst_id_: String,
    proc_def_id_: String,
    bytearray_id_: Option<String>,
    double_: Option<f64>,
    long_: Option<i64>,
    text_: Option<String>,
    text2_: Option<String>,
    var_scope_: String,
    sequence_counter_: i64,
    is_concurrent_local_: bool,
    tenant_id_: Option<String>,
});

table!(JobRow, Jobs, "act_ru_job" {
    id_: String,
    rev_: i32,
    type_: String,
    exclusive_: bool,
    execution_id_: String,
    root_proc_inst_id_: String,
    process_instance_id_: String,
    process_def_id_: String,
    process_def_key_: String,
    retries_: i32,
    exception_stack_id_: Option<String>,
    exception_msg_: Option<String>,
    failed_act_id_: Option<String>,
    duedate_: NaiveDateTime,
    handler_type_: String,
    handler_cfg_: String,
    deployment_id_: String,
    suspension_state_: i32,
    job_def_id_: String,
    priority_: i64,
    sequence_counter_: i64,
    tenant_id_: Option<String>,
    create_time_: NaiveDateTime,
});

table!(EventSubscrRow, EventSubscrs, "act_ru_event_subscr" {
    id_: String,
    rev_: i32,
    event_type_: String,
    event_name_: String,
    execution_id_: String,
    proc_inst_id_: String,
    activity_id_: String,
    created_: NaiveDateTime,
    tenant_id_: Option<String>,
});

table!(ExtTaskRow, ExtTasks, "act_ru_ext_task" {
    id_: String,
    rev_: i32,
    topic_name_: String,
    retries_: Option<i32>,
    error_msg_: Option<String>,
    error_details_id_: Option<String>,
    create_time_: NaiveDateTime,
    suspension_state_: i32,
    execution_id_: String,
    proc_inst_id_: String,
    proc_def_id_: String,
    proc_def_key_: String,
    act_id_: String,
    act_inst_id_: String,
    tenant_id_: Option<String>,
    priority_: i64,
});

table!(IncidentRow, Incidents, "act_ru_incident" {
    id_: String,
    rev_: i32,
    incident_timestamp_: NaiveDateTime,
    incident_msg_: Option<String>,
    incident_type_: String,
    execution_id_: String,
    activity_id_: String,
    failed_activity_id_: String,
    proc_inst_id_: String,
    proc_def_id_: String,
    cause_incident_id_: String,
    root_cause_incident_id_: String,
    configuration_: Option<String>,
    tenant_id_: Option<String>,
    job_def_id_: Option<String>,
});

table!(HiProcInstRow, HiProcInsts, "act_hi_procinst" {
    id_: String,
    proc_inst_id_: String,
    business_key_: Option<String>,
    proc_def_key_: String,
    proc_def_id_: String,
    start_time_: NaiveDateTime,
    start_user_id_: Option<String>,
    start_act_id_: String,
    super_process_instance_id_: Option<String>,
    root_proc_inst_id_: String,
    tenant_id_: Option<String>,
    state_: String,
});

table!(HiActInstRow, HiActInsts, "act_hi_actinst" {
    id_: String,
    parent_act_inst_id_: String,
    proc_def_key_: String,
    proc_def_id_: String,
    root_proc_inst_id_: String,
    proc_inst_id_: String,
    execution_id_: String,
    act_id_: String,
    task_id_: Option<String>,
    call_proc_inst_id_: Option<String>,
    act_name_: String,
    act_type_: String,
    assignee_: Option<String>,
    start_time_: NaiveDateTime,
    end_time_: Option<NaiveDateTime>,
    duration_: Option<i64>,
    act_inst_state_: i32,
    sequence_counter_: i64,
    tenant_id_: Option<String>,
});

table!(HiTaskInstRow, HiTaskInsts, "act_hi_taskinst" {
    id_: String,
    task_def_key_: String,
    proc_def_key_: String,
    proc_def_id_: String,
    root_proc_inst_id_: String,
    proc_inst_id_: String,
    execution_id_: String,
    act_inst_id_: String,
    name_: String,
    assignee_: Option<String>,
    start_time_: NaiveDateTime,
    priority_: i32,
    due_date_: Option<NaiveDateTime>,
    tenant_id_: Option<String>,
    task_state_: String,
});

table!(HiVarInstRow, HiVarInsts, "act_hi_varinst" {
    id_: String,
    proc_def_key_: String,
    proc_def_id_: String,
    root_proc_inst_id_: String,
    proc_inst_id_: String,
    execution_id_: String,
    act_inst_id_: String,
    name_: String,
    var_type_: String,
    create_time_: NaiveDateTime,
    rev_: i32,
    double_: Option<f64>,
    long_: Option<i64>,
    text_: Option<String>,
    text2_: Option<String>,
    tenant_id_: Option<String>,
    state_: String,
});

table!(HiIncidentRow, HiIncidents, "act_hi_incident" {
    id_: String,
    proc_def_key_: String,
    proc_def_id_: String,
    root_proc_inst_id_: String,
    proc_inst_id_: String,
    execution_id_: String,
    create_time_: NaiveDateTime,
    incident_msg_: Option<String>,
    incident_type_: String,
    activity_id_: String,
    failed_activity_id_: String,
    cause_incident_id_: String,
    root_cause_incident_id_: String,
    configuration_: Option<String>,
    incident_state_: i32,
    tenant_id_: Option<String>,
    job_def_id_: Option<String>,
});

/// The definition rows: deployments, process definitions and their timer job definitions.
#[derive(Debug, Default)]
pub(crate) struct DefinitionRows {
    pub(crate) deployments: Deployments,
    pub(crate) procdefs: ProcDefs,
    pub(crate) jobdefs: JobDefs,
}

impl DefinitionRows {
    /// One statement inserting them; existing definitions are kept, so every run can include
    /// them whatever was generated before.
    pub(crate) fn statement(self) -> Option<Statement> {
        let mut params = Vec::new();
        let inserts =
            [self.deployments.insert(&mut params), self.procdefs.insert(&mut params), self.jobdefs.insert(&mut params)];
        let inserts = inserts.into_iter().flatten().map(|insert| insert + " ON CONFLICT DO NOTHING").collect();
        combine(inserts, params)
    }
}

/// Every instance row of one batch of roots, column by column.
#[derive(Debug, Default)]
pub(crate) struct InstanceRows {
    pub(crate) bytearrays: ByteArrays,
    pub(crate) executions: Executions,
    pub(crate) tasks: Tasks,
    pub(crate) identity_links: IdentityLinks,
    pub(crate) variables: Variables,
    pub(crate) jobs: Jobs,
    pub(crate) event_subscrs: EventSubscrs,
    pub(crate) ext_tasks: ExtTasks,
    pub(crate) incidents: Incidents,
    pub(crate) hi_procinsts: HiProcInsts,
    pub(crate) hi_actinsts: HiActInsts,
    pub(crate) hi_taskinsts: HiTaskInsts,
    pub(crate) hi_varinsts: HiVarInsts,
    pub(crate) hi_incidents: HiIncidents,
}

/// Row counts of a batch (or a whole run), split as the deletion cost model splits them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowCounts {
    pub(crate) runtime: u64,
    pub(crate) history: u64,
}

impl std::ops::AddAssign for RowCounts {
    fn add_assign(&mut self, other: Self) {
        self.runtime += other.runtime;
        self.history += other.history;
    }
}

impl InstanceRows {
    /// How many runtime (`act_ru_*`, `act_ge_bytearray`) and history rows are buffered.
    pub(crate) fn counts(&self) -> RowCounts {
        let runtime = self.bytearrays.len()
            + self.executions.len()
            + self.tasks.len()
            + self.identity_links.len()
            + self.variables.len()
            + self.jobs.len()
            + self.event_subscrs.len()
            + self.ext_tasks.len()
            + self.incidents.len();
        let history = self.hi_procinsts.len()
            + self.hi_actinsts.len()
            + self.hi_taskinsts.len()
            + self.hi_varinsts.len()
            + self.hi_incidents.len();
        RowCounts { runtime: runtime as u64, history: history as u64 }
    }

    /// One statement inserting every buffered row. Foreign keys are checked when it ends, so
    /// the order only follows the references for the reader: byte arrays, executions, what
    /// hangs off them, then history (which has no foreign keys).
    pub(crate) fn statement(self) -> Option<Statement> {
        let mut params = Vec::new();
        let inserts = [
            self.bytearrays.insert(&mut params),
            self.executions.insert(&mut params),
            self.tasks.insert(&mut params),
            self.identity_links.insert(&mut params),
            self.variables.insert(&mut params),
            self.jobs.insert(&mut params),
            self.event_subscrs.insert(&mut params),
            self.ext_tasks.insert(&mut params),
            self.incidents.insert(&mut params),
            self.hi_procinsts.insert(&mut params),
            self.hi_actinsts.insert(&mut params),
            self.hi_taskinsts.insert(&mut params),
            self.hi_varinsts.insert(&mut params),
            self.hi_incidents.insert(&mut params),
        ];
        combine(inserts.into_iter().flatten().collect(), params)
    }
}

//! What a generated process instance looks like: the definitions it runs on and the rows of
//! one root instance tree (runtime and history), drawn from a seeded RNG. Pure: no database
//! access here, `mod.rs` inserts what this module buffers.

use chrono::{Duration, NaiveDateTime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::GenerateOptions;
use super::tables::*;

/// Start times are spread over this many days before the window end.
const WINDOW_DAYS: i64 = 90;

/// `ACT_RU_EXECUTION.CACHED_ENT_STATE_` bits, as the engine sets them: which kinds of child
/// entities hang off an execution.
mod cached {
    pub const EVENT_SUBSCRIPTIONS: i32 = 1 << 1;
    pub const TASKS: i32 = 1 << 2;
    pub const JOBS: i32 = 1 << 3;
    pub const INCIDENTS: i32 = 1 << 4;
    pub const VARIABLES: i32 = 1 << 5;
    pub const SUB_PROCESS_INSTANCE: i32 = 1 << 6;
    pub const EXTERNAL_TASKS: i32 = 1 << 8;
}

const ACTIVE: i32 = 1;
const SUSPENDED: i32 = 2;

/// The activities of one BPMN model, by id and name.
struct Layout {
    key: &'static str,
    start: (&'static str, &'static str),
    user_task: (&'static str, &'static str),
    candidate_groups: &'static [&'static str],
    /// Where the second child execution waits, and its activity type.
    wait: (&'static str, &'static str, &'static str),
    /// The timer catch event (behind the event-based gateway, or the wait activity itself).
    timer: &'static str,
    /// A message catch event behind the gateway: activity id and message name.
    message: Option<(&'static str, &'static str)>,
    external_task: (&'static str, &'static str, &'static str),
    call: (&'static str, &'static str),
}

/// The root processes: review, then wait for payment (message or timeout) in parallel, maybe
/// an external invoice task and a stock check as a call activity.
const ROOT: Layout = Layout {
    key: "demo-process",
    start: ("orderReceived", "Order received"),
    user_task: ("reviewOrder", "Review order"),
    candidate_groups: &["accounting", "sales", "management"],
    wait: ("awaitPayment", "Await payment", "eventBasedGateway"),
    timer: "paymentTimeout",
    message: Some(("paymentReceived", "PaymentReceived")),
    external_task: ("createInvoice", "Create invoice", "invoice-creation"),
    call: ("callSubprocess", "Check stock"),
};

/// The called stock check, which may itself call the supplier request.
const SUB: Layout = Layout {
    key: "demo-subprocess",
    start: ("stockCheckRequested", "Stock check requested"),
    user_task: ("confirmStock", "Confirm stock"),
    candidate_groups: &["warehouse"],
    wait: ("waitForSupplier", "Wait for supplier", "intermediateTimer"),
    timer: "waitForSupplier",
    message: None,
    external_task: ("", "", ""),
    call: ("callSubSubprocess", "Request supplier"),
};

/// The supplier request, two levels below the root.
const SUB_SUB: Layout = Layout {
    key: "demo-subsubprocess",
    start: ("supplierRequested", "Supplier requested"),
    user_task: ("contactSupplier", "Contact supplier"),
    candidate_groups: &["purchasing"],
    wait: ("waitForReply", "Wait for reply", "intermediateTimer"),
    timer: "waitForReply",
    message: None,
    external_task: ("", "", ""),
    call: ("", ""),
};

/// One deployed process definition.
#[derive(Debug)]
pub(crate) struct Definition {
    id: String,
    key: String,
    deployment_id: String,
    tenant: Option<String>,
    /// Index into the per-tenant sub-process definitions.
    tenant_index: usize,
    job_def_id: String,
}

/// All definitions a run uses. Their ids depend only on key and tenant, so runs with other
/// seeds find and reuse them.
#[derive(Debug)]
pub(crate) struct Catalog {
    roots: Vec<Definition>,
    /// One per tenant (or one without tenant), as call activities resolve the called
    /// definition within the caller's tenant.
    subs: Vec<Definition>,
    sub_subs: Vec<Definition>,
}

impl Catalog {
    /// The definitions for `options` and the rows deploying them.
    pub(crate) fn new(options: &GenerateOptions, deploy_time: NaiveDateTime) -> (Self, DefinitionRows) {
        let mut rows = DefinitionRows::default();
        let tenant = |index: usize| match options.tenants {
            0 => (None, 0),
            n => (Some(format!("tenant-{}", index % n as usize + 1)), index % n as usize),
        };
        let roots = (0..options.definitions as usize)
            .map(|n| {
                let key = format!("{}-{}", ROOT.key, n + 1);
                let name = format!("Demo order process {}", n + 1);
                // Every other definition has a history time to live, as in a mixed estate.
                let ttl = (n % 2 == 0).then_some(30 * (n as i32 % 6 + 1));
                define(&mut rows, &key, &name, &ROOT, tenant(n), ttl, deploy_time)
            })
            .collect();
        let tenants = options.tenants.max(1) as usize;
        let subs = (0..tenants)
            .map(|k| define(&mut rows, SUB.key, "Demo stock check", &SUB, tenant(k), Some(30), deploy_time))
            .collect();
        let sub_subs = (0..tenants)
            .map(|k| define(&mut rows, SUB_SUB.key, "Demo supplier request", &SUB_SUB, tenant(k), None, deploy_time))
            .collect();
        (Self { roots, subs, sub_subs }, rows)
    }
}

fn define(
    rows: &mut DefinitionRows,
    key: &str,
    name: &str,
    layout: &Layout,
    (tenant, tenant_index): (Option<String>, usize),
    history_ttl: Option<i32>,
    deploy_time: NaiveDateTime,
) -> Definition {
    let scope = format!("{key}|{}", tenant.as_deref().unwrap_or(""));
    let deployment_id = stable_id(&format!("deployment|{scope}"));
    let id = format!("{key}:1:{}", stable_id(&format!("procdef|{scope}")));
    let job_def_id = stable_id(&format!("jobdef|{scope}"));
    rows.deployments.push(DeploymentRow {
        id_: deployment_id.clone(),
        name_: key.to_owned(),
        deploy_time_: deploy_time,
        source_: "sweep demo".into(),
        tenant_id_: tenant.clone(),
    });
    rows.procdefs.push(ProcDefRow {
        id_: id.clone(),
        rev_: 1,
        category_: "http://bpmn.io/schema/bpmn".into(),
        name_: name.to_owned(),
        key_: key.to_owned(),
        version_: 1,
        deployment_id_: deployment_id.clone(),
        resource_name_: format!("{key}.bpmn"),
        has_start_form_key_: false,
        suspension_state_: ACTIVE,
        tenant_id_: tenant.clone(),
        version_tag_: Some("1.0".into()),
        history_ttl_: history_ttl,
        startable_: true,
    });
    rows.jobdefs.push(JobDefRow {
        id_: job_def_id.clone(),
        rev_: 1,
        proc_def_id_: id.clone(),
        proc_def_key_: key.to_owned(),
        act_id_: layout.timer.to_owned(),
        job_type_: "timer-intermediate-transition".into(),
        job_configuration_: layout.timer.to_owned(),
        suspension_state_: ACTIVE,
        tenant_id_: tenant.clone(),
        deployment_id_: deployment_id.clone(),
    });
    Definition { id, key: key.to_owned(), deployment_id, tenant, tenant_index, job_def_id }
}

/// A UUID-shaped id that depends only on `name` (two FNV-1a hashes), for definition rows that
/// must be the same in every run.
fn stable_id(name: &str) -> String {
    let hash = |offset: u64| name.bytes().fold(offset, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hash(0xcbf2_9ce4_8422_2325).to_be_bytes());
    bytes[8..].copy_from_slice(&hash(0x6c62_272e_07bb_0142).to_be_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

/// How an instance fails, when it holds the root cause of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Job,
    ExternalTask,
}

/// An incident created in a called instance, to be propagated to its caller.
struct RaisedIncident {
    id: String,
    root_cause_id: String,
    incident_type: String,
}

/// Everything decided about one process instance before its rows are written.
struct Plan<'c> {
    layout: &'static Layout,
    def: &'c Definition,
    id: String,
    root_id: String,
    business_key: Option<String>,
    super_exec: Option<String>,
    super_instance: Option<String>,
    start: NaiveDateTime,
    start_user: Option<String>,
    suspension: i32,
    external_task: bool,
    /// Levels of call activities below this instance (0, 1 or 2).
    calls: u8,
    /// The root cause of an incident lives in the deepest instance of the tree.
    failure: Option<Failure>,
}

/// What one batch contained, beyond its rows.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct BatchStats {
    pub(crate) roots: u64,
    pub(crate) sub_instances: u64,
}

/// Draws instance trees from the seeded RNG. The RNG is consumed in one fixed order, so the
/// data depends only on the seed and the options, never on batch size or timing.
pub(crate) struct Generator<'c> {
    rng: ChaCha8Rng,
    ids: Ids,
    options: &'c GenerateOptions,
    catalog: &'c Catalog,
    window_end: NaiveDateTime,
    next_root: u64,
}

impl<'c> Generator<'c> {
    /// A generator whose instances start within the 90 days before `window_end`.
    pub(crate) fn new(options: &'c GenerateOptions, catalog: &'c Catalog, window_end: NaiveDateTime) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let ids = Ids::new(&mut rng);
        Self { rng, ids, options, catalog, window_end, next_root: 0 }
    }

    /// The id the first root instance will get: if it exists, this seed was used before.
    pub(crate) fn first_root_id(&self) -> String {
        self.ids.clone().next()
    }

    /// The rows of the next `roots` root instance trees.
    pub(crate) fn batch(&mut self, roots: u64) -> (InstanceRows, BatchStats) {
        let mut rows = InstanceRows::default();
        let mut stats = BatchStats { roots, sub_instances: 0 };
        for _ in 0..roots {
            stats.sub_instances += self.root(&mut rows);
        }
        (rows, stats)
    }

    /// One root tree; returns the number of called sub-instances in it.
    fn root(&mut self, out: &mut InstanceRows) -> u64 {
        // The id comes first: `first_root_id` relies on it.
        let id = self.ids.next();
        let catalog = self.catalog;
        let options = self.options;
        let def = &catalog.roots[self.rng.random_range(0..catalog.roots.len())];
        let start = self.window_end - Duration::milliseconds(self.rng.random_range(0..WINDOW_DAYS * 86_400_000));
        let suspended = self.rng.random_bool(options.suspended_share);
        let external_task = self.rng.random_bool(options.external_task_share);
        let calls = match self.rng.random_bool(options.call_share) {
            false => 0,
            true if self.rng.random_bool(1.0 / 3.0) => 2,
            true => 1,
        };
        let failure = self.rng.random_bool(options.incident_share).then(|| {
            if calls == 0 && external_task && self.rng.random_bool(0.5) { Failure::ExternalTask } else { Failure::Job }
        });
        let start_user = self.rng.random_bool(0.6).then(|| user(&mut self.rng));
        self.next_root += 1;
        let plan = Plan {
            layout: &ROOT,
            def,
            root_id: id.clone(),
            id,
            business_key: Some(format!("order-{}-{}", options.seed, self.next_root)),
            super_exec: None,
            super_instance: None,
            start,
            start_user,
            suspension: if suspended { SUSPENDED } else { ACTIVE },
            external_task,
            calls,
            failure,
        };
        self.instance(plan, out);
        u64::from(calls)
    }

    /// Writes one process instance (and, recursively, what it calls); returns the incident
    /// raised in it, if any, so the caller can chain its own to it.
    fn instance(&mut self, p: Plan<'c>, out: &mut InstanceRows) -> Option<RaisedIncident> {
        let l = p.layout;
        let def = p.def;
        let tenant = &def.tenant;
        let rng = &mut self.rng;
        let ids = &mut self.ids;

        // Child executions: concurrent branches under the process-instance execution.
        let task_exec = ids.next();
        let wait_exec = ids.next();
        let ext_exec = p.external_task.then(|| ids.next());
        let call_exec = (p.calls > 0).then(|| ids.next());
        let task_act_inst = act_inst(ids, l.user_task.0);
        let wait_act_inst = act_inst(ids, l.wait.0);
        let ext_act_inst = p.external_task.then(|| act_inst(ids, l.external_task.0));
        let call_act_inst = (p.calls > 0).then(|| act_inst(ids, l.call.0));
        // The forking happens a moment after the start event.
        let forked = p.start + Duration::milliseconds(rng.random_range(20..2_000));
        let here = p.calls == 0;
        let job_fails = here && p.failure == Some(Failure::Job);
        let ext_fails = here && p.failure == Some(Failure::ExternalTask);
        let sub_fails = !here && p.failure.is_some();

        let exec = |id: &str, act: Option<&str>, act_inst: &str, parent: Option<&str>, cached: i32| ExecutionRow {
            id_: id.to_owned(),
            rev_: 1,
            root_proc_inst_id_: p.root_id.clone(),
            proc_inst_id_: p.id.clone(),
            business_key_: if parent.is_none() { p.business_key.clone() } else { None },
            parent_id_: parent.map(str::to_owned),
            proc_def_id_: def.id.clone(),
            super_exec_: if parent.is_none() { p.super_exec.clone() } else { None },
            act_id_: act.map(str::to_owned),
            act_inst_id_: act_inst.to_owned(),
            // The instance execution only waits for its concurrent children.
            is_active_: parent.is_some(),
            is_concurrent_: parent.is_some(),
            is_scope_: parent.is_none(),
            is_event_scope_: false,
            suspension_state_: p.suspension,
            cached_ent_state_: cached,
            sequence_counter_: 1,
            tenant_id_: tenant.clone(),
            proc_def_key_: def.key.clone(),
        };
        out.executions.push(exec(&p.id, None, &p.id, None, cached::VARIABLES));
        out.executions.push(exec(&task_exec, Some(l.user_task.0), &task_act_inst, Some(&p.id), cached::TASKS));
        let wait_cached = cached::JOBS
            | if l.message.is_some() { cached::EVENT_SUBSCRIPTIONS } else { 0 }
            | if job_fails { cached::INCIDENTS } else { 0 };
        out.executions.push(exec(&wait_exec, Some(l.wait.0), &wait_act_inst, Some(&p.id), wait_cached));
        if let (Some(e), Some(a)) = (&ext_exec, &ext_act_inst) {
            let cached = cached::EXTERNAL_TASKS | if ext_fails { cached::INCIDENTS } else { 0 };
            out.executions.push(exec(e, Some(l.external_task.0), a, Some(&p.id), cached));
        }
        if let (Some(e), Some(a)) = (&call_exec, &call_act_inst) {
            let cached = cached::SUB_PROCESS_INSTANCE | if sub_fails { cached::INCIDENTS } else { 0 };
            out.executions.push(exec(e, Some(l.call.0), a, Some(&p.id), cached));
        }

        self.variables(&p, out);
        let rng = &mut self.rng;
        let ids = &mut self.ids;

        // The user task with its candidate group.
        let task_id = ids.next();
        let assignee = rng.random_bool(0.4).then(|| user(rng));
        let due = rng.random_bool(0.5).then(|| p.start + Duration::days(rng.random_range(3..15)));
        let group = l.candidate_groups[rng.random_range(0..l.candidate_groups.len())];
        out.tasks.push(TaskRow {
            id_: task_id.clone(),
            rev_: 1,
            execution_id_: task_exec.clone(),
            proc_inst_id_: p.id.clone(),
            proc_def_id_: def.id.clone(),
            name_: l.user_task.1.to_owned(),
            task_def_key_: l.user_task.0.to_owned(),
            assignee_: assignee.clone(),
            priority_: 50,
            create_time_: forked,
            due_date_: due,
            suspension_state_: p.suspension,
            tenant_id_: tenant.clone(),
            task_state_: "Created".into(),
        });
        out.identity_links.push(IdentityLinkRow {
            id_: ids.next(),
            rev_: 1,
            group_id_: group.to_owned(),
            type_: "candidate".into(),
            task_id_: task_id.clone(),
            tenant_id_: tenant.clone(),
        });

        // The timer, failing for good (no retries left) when the incident's root cause is here.
        let job_id = ids.next();
        let due_date = p.start + Duration::hours(rng.random_range(24..14 * 24));
        let job_exception =
            job_fails.then(|| failure_bytes(ids, out, &p, "job.exceptionByteArray", forked, JOB_STACK_TRACE));
        out.jobs.push(JobRow {
            id_: job_id.clone(),
            rev_: if job_fails { 4 } else { 1 },
            type_: "timer".into(),
            exclusive_: true,
            execution_id_: wait_exec.clone(),
            root_proc_inst_id_: p.root_id.clone(),
            process_instance_id_: p.id.clone(),
            process_def_id_: def.id.clone(),
            process_def_key_: def.key.clone(),
            retries_: if job_fails { 0 } else { 3 },
            exception_stack_id_: job_exception.clone(),
            exception_msg_: job_fails.then(|| JOB_FAILURE.to_owned()),
            failed_act_id_: job_fails.then(|| l.timer.to_owned()),
            duedate_: due_date,
            handler_type_: "timer-intermediate-transition".into(),
            handler_cfg_: l.timer.to_owned(),
            deployment_id_: def.deployment_id.clone(),
            suspension_state_: p.suspension,
            job_def_id_: def.job_def_id.clone(),
            priority_: 0,
            sequence_counter_: 1,
            tenant_id_: tenant.clone(),
            create_time_: forked,
        });

        if let Some((activity, message)) = l.message {
            out.event_subscrs.push(EventSubscrRow {
                id_: ids.next(),
                rev_: 1,
                event_type_: "message".into(),
                event_name_: message.to_owned(),
                execution_id_: wait_exec.clone(),
                proc_inst_id_: p.id.clone(),
                activity_id_: activity.to_owned(),
                created_: forked,
                tenant_id_: tenant.clone(),
            });
        }

        let ext_task_id = ext_exec.as_ref().map(|_| ids.next());
        if let (Some(ext_id), Some(e), Some(a)) = (&ext_task_id, &ext_exec, &ext_act_inst) {
            let details = ext_fails
                .then(|| failure_bytes(ids, out, &p, "externalTask.exceptionByteArray", forked, EXT_TASK_DETAILS));
            out.ext_tasks.push(ExtTaskRow {
                id_: ext_id.clone(),
                rev_: if ext_fails { 4 } else { 1 },
                topic_name_: l.external_task.2.to_owned(),
                retries_: ext_fails.then_some(0),
                error_msg_: ext_fails.then(|| EXT_TASK_FAILURE.to_owned()),
                error_details_id_: details,
                create_time_: forked,
                suspension_state_: p.suspension,
                execution_id_: e.clone(),
                proc_inst_id_: p.id.clone(),
                proc_def_id_: def.id.clone(),
                proc_def_key_: def.key.clone(),
                act_id_: l.external_task.0.to_owned(),
                act_inst_id_: a.clone(),
                tenant_id_: tenant.clone(),
                priority_: if rng.random_bool(0.2) { 100 } else { 0 },
            });
        }

        // The called instance: same root, its own definition, started by the call activity.
        let mut sub_id = None;
        let mut raised = None;
        if let Some(call_exec) = &call_exec {
            let catalog = self.catalog;
            let (layout, defs) = if l.key == ROOT.key { (&SUB, &catalog.subs) } else { (&SUB_SUB, &catalog.sub_subs) };
            let id = self.ids.next();
            sub_id = Some(id.clone());
            let plan = Plan {
                layout,
                def: &defs[def.tenant_index],
                id,
                root_id: p.root_id.clone(),
                business_key: p.business_key.clone(),
                super_exec: Some(call_exec.clone()),
                super_instance: Some(p.id.clone()),
                start: forked + Duration::milliseconds(5),
                start_user: None,
                // Suspending an instance leaves the instances it called running.
                suspension: ACTIVE,
                external_task: false,
                calls: p.calls - 1,
                failure: p.failure,
            };
            raised = self.instance(plan, out);
        }
        let ids = &mut self.ids;

        // Incidents: the root cause where the failure is, one per calling level above it
        // pointing down the chain, as the engine creates them.
        let incident_at = |id: String, execution: &str, activity: &str| IncidentRow {
            id_: id,
            rev_: 1,
            incident_timestamp_: forked + Duration::milliseconds(100),
            incident_msg_: None,
            incident_type_: String::new(),
            execution_id_: execution.to_owned(),
            activity_id_: activity.to_owned(),
            failed_activity_id_: activity.to_owned(),
            proc_inst_id_: p.id.clone(),
            proc_def_id_: def.id.clone(),
            cause_incident_id_: String::new(),
            root_cause_incident_id_: String::new(),
            configuration_: None,
            tenant_id_: tenant.clone(),
            job_def_id_: None,
        };
        let incident = if job_fails {
            let id = ids.next();
            Some(IncidentRow {
                incident_msg_: Some(JOB_FAILURE.to_owned()),
                incident_type_: "failedJob".into(),
                cause_incident_id_: id.clone(),
                root_cause_incident_id_: id.clone(),
                configuration_: Some(job_id.clone()),
                job_def_id_: Some(def.job_def_id.clone()),
                ..incident_at(id, &wait_exec, l.timer)
            })
        } else if let (true, Some(ext_id), Some(e)) = (ext_fails, &ext_task_id, &ext_exec) {
            let id = ids.next();
            Some(IncidentRow {
                incident_msg_: Some(EXT_TASK_FAILURE.to_owned()),
                incident_type_: "failedExternalTask".into(),
                cause_incident_id_: id.clone(),
                root_cause_incident_id_: id.clone(),
                configuration_: Some(ext_id.clone()),
                ..incident_at(id, e, l.external_task.0)
            })
        } else if let (Some(cause), Some(e)) = (&raised, &call_exec) {
            Some(IncidentRow {
                incident_type_: cause.incident_type.clone(),
                cause_incident_id_: cause.id.clone(),
                root_cause_incident_id_: cause.root_cause_id.clone(),
                ..incident_at(ids.next(), e, l.call.0)
            })
        } else {
            None
        };

        // History: the instance, the finished start event, the open activities, the open
        // task, the variables (written by `variables`) and the open incidents.
        out.hi_procinsts.push(HiProcInstRow {
            id_: p.id.clone(),
            proc_inst_id_: p.id.clone(),
            business_key_: p.business_key.clone(),
            proc_def_key_: def.key.clone(),
            proc_def_id_: def.id.clone(),
            start_time_: p.start,
            start_user_id_: p.start_user.clone(),
            start_act_id_: l.start.0.to_owned(),
            super_process_instance_id_: p.super_instance.clone(),
            root_proc_inst_id_: p.root_id.clone(),
            tenant_id_: tenant.clone(),
            state_: if p.suspension == SUSPENDED { "SUSPENDED" } else { "ACTIVE" }.into(),
        });
        let mut sequence = 0;
        let mut activity = |id: String, execution: &str, (act_id, act_name): (&str, &str), act_type: &str, start| {
            sequence += 1;
            HiActInstRow {
                id_: id,
                parent_act_inst_id_: p.id.clone(),
                proc_def_key_: def.key.clone(),
                proc_def_id_: def.id.clone(),
                root_proc_inst_id_: p.root_id.clone(),
                proc_inst_id_: p.id.clone(),
                execution_id_: execution.to_owned(),
                act_id_: act_id.to_owned(),
                task_id_: None,
                call_proc_inst_id_: None,
                act_name_: act_name.to_owned(),
                act_type_: act_type.to_owned(),
                assignee_: None,
                start_time_: start,
                end_time_: None,
                duration_: None,
                act_inst_state_: 0,
                sequence_counter_: sequence,
                tenant_id_: tenant.clone(),
            }
        };
        let started = activity(act_inst(ids, l.start.0), &p.id, l.start, "startEvent", p.start);
        out.hi_actinsts.push(HiActInstRow { end_time_: Some(p.start), duration_: Some(0), ..started });
        let task_activity = activity(task_act_inst.clone(), &task_exec, l.user_task, "userTask", forked);
        out.hi_actinsts.push(HiActInstRow {
            task_id_: Some(task_id.clone()),
            assignee_: assignee.clone(),
            ..task_activity
        });
        out.hi_actinsts.push(activity(wait_act_inst, &wait_exec, (l.wait.0, l.wait.1), l.wait.2, forked));
        if let (Some(e), Some(a)) = (&ext_exec, &ext_act_inst) {
            let ext = (l.external_task.0, l.external_task.1);
            out.hi_actinsts.push(activity(a.clone(), e, ext, "serviceTask", forked));
        }
        if let (Some(e), Some(a)) = (&call_exec, &call_act_inst) {
            let call = activity(a.clone(), e, l.call, "callActivity", forked);
            out.hi_actinsts.push(HiActInstRow { call_proc_inst_id_: sub_id, ..call });
        }
        out.hi_taskinsts.push(HiTaskInstRow {
            id_: task_id,
            task_def_key_: l.user_task.0.to_owned(),
            proc_def_key_: def.key.clone(),
            proc_def_id_: def.id.clone(),
            root_proc_inst_id_: p.root_id.clone(),
            proc_inst_id_: p.id.clone(),
            execution_id_: task_exec,
            act_inst_id_: task_act_inst,
            name_: l.user_task.1.to_owned(),
            assignee_: assignee,
            start_time_: forked,
            priority_: 50,
            due_date_: due,
            tenant_id_: tenant.clone(),
            task_state_: "Created".into(),
        });

        let incident = incident?;
        out.hi_incidents.push(HiIncidentRow {
            id_: incident.id_.clone(),
            proc_def_key_: def.key.clone(),
            proc_def_id_: def.id.clone(),
            root_proc_inst_id_: p.root_id.clone(),
            proc_inst_id_: p.id.clone(),
            execution_id_: incident.execution_id_.clone(),
            create_time_: incident.incident_timestamp_,
            incident_msg_: incident.incident_msg_.clone(),
            incident_type_: incident.incident_type_.clone(),
            activity_id_: incident.activity_id_.clone(),
            failed_activity_id_: incident.failed_activity_id_.clone(),
            cause_incident_id_: incident.cause_incident_id_.clone(),
            root_cause_incident_id_: incident.root_cause_incident_id_.clone(),
            configuration_: incident.configuration_.clone(),
            incident_state_: 0,
            tenant_id_: tenant.clone(),
            job_def_id_: incident.job_def_id_.clone(),
        });
        let raised = RaisedIncident {
            id: incident.id_.clone(),
            root_cause_id: incident.root_cause_incident_id_.clone(),
            incident_type: incident.incident_type_.clone(),
        };
        out.incidents.push(incident);
        Some(raised)
    }

    /// The instance's variables (runtime and history), all on the process-instance scope. A
    /// root has a customer id, an order total, a serialized document in a byte array and half
    /// the time a flag or a discount; a called instance has an item and a quantity.
    fn variables(&mut self, p: &Plan<'_>, out: &mut InstanceRows) {
        let rng = &mut self.rng;
        let ids = &mut self.ids;
        let created = p.start;
        let mut values: Vec<(&str, &str, VarValue)> = Vec::with_capacity(4);
        if p.layout.key == ROOT.key {
            values.push((
                "customerId",
                "string",
                VarValue::Text(format!("customer-{:05}", rng.random_range(0..50_000))),
            ));
            let total = rng.random_range(500..500_000);
            values.push(("orderTotal", "long", VarValue::Long(total)));
            let document = if rng.random_bool(0.5) {
                let json = format!(
                    r#"{{"order":"{}","lines":{},"currency":"EUR"}}"#,
                    p.business_key.as_deref().unwrap_or_default(),
                    rng.random_range(1..20)
                );
                ("object", VarValue::Bytes(json.into_bytes(), Some("com.example.shop.Order")))
            } else {
                let mut bytes = vec![0u8; 48];
                rng.fill(&mut bytes[..]);
                ("bytes", VarValue::Bytes(bytes, None))
            };
            values.push(("orderDocument", document.0, document.1));
            match rng.random_range(0..4) {
                0 => values.push(("express", "boolean", VarValue::Bool(rng.random_bool(0.5)))),
                1 => values.push(("discount", "double", VarValue::Double(f64::from(rng.random_range(1..30)) / 100.0))),
                _ => {}
            }
        } else {
            values.push(("item", "string", VarValue::Text(format!("sku-{:06}", rng.random_range(0..1_000_000)))));
            values.push(("quantity", "long", VarValue::Long(rng.random_range(1..100))));
        }

        for (name, type_, value) in values {
            let id = ids.next();
            let mut row = VariableRow {
                id_: id.clone(),
                rev_: 1,
                type_: type_.to_owned(),
                name_: name.to_owned(),
                execution_id_: p.id.clone(),
                proc_inst_id_: p.id.clone(),
                proc_def_id_: p.def.id.clone(),
                var_scope_: p.id.clone(),
                sequence_counter_: 1,
                is_concurrent_local_: false,
                tenant_id_: p.def.tenant.clone(),
                ..Default::default()
            };
            match value {
                VarValue::Text(text) => row.text_ = Some(text),
                // The engine keeps the decimal text of a long beside the number.
                VarValue::Long(n) => (row.long_, row.text_) = (Some(n), Some(n.to_string())),
                VarValue::Bool(b) => row.long_ = Some(i64::from(b)),
                VarValue::Double(d) => row.double_ = Some(d),
                VarValue::Bytes(bytes, object_type) => {
                    let bytearray = ids.next();
                    out.bytearrays.push(ByteArrayRow {
                        id_: bytearray.clone(),
                        rev_: 1,
                        name_: name.to_owned(),
                        bytes_: bytes,
                        generated_: false,
                        tenant_id_: p.def.tenant.clone(),
                        type_: RUNTIME_BYTEARRAY,
                        create_time_: created,
                        root_proc_inst_id_: p.root_id.clone(),
                    });
                    row.bytearray_id_ = Some(bytearray);
                    // Serialized objects record their Java type and data format.
                    if let Some(object_type) = object_type {
                        row.text_ = Some(object_type.to_owned());
                        row.text2_ = Some("application/json".into());
                    }
                }
            }
            out.hi_varinsts.push(HiVarInstRow {
                id_: id,
                proc_def_key_: p.def.key.clone(),
                proc_def_id_: p.def.id.clone(),
                root_proc_inst_id_: p.root_id.clone(),
                proc_inst_id_: p.id.clone(),
                execution_id_: p.id.clone(),
                act_inst_id_: p.id.clone(),
                name_: name.to_owned(),
                var_type_: type_.to_owned(),
                create_time_: created,
                rev_: 0,
                double_: row.double_,
                long_: row.long_,
                text_: row.text_.clone(),
                text2_: row.text2_.clone(),
                tenant_id_: p.def.tenant.clone(),
                state_: "CREATED".into(),
            });
            out.variables.push(row);
        }
    }
}

/// A variable value before it is spread over the typed columns.
enum VarValue {
    Text(String),
    Long(i64),
    Bool(bool),
    Double(f64),
    /// Bytes, and the Java type when they are a serialized object.
    Bytes(Vec<u8>, Option<&'static str>),
}

/// `ACT_GE_BYTEARRAY.TYPE_` of runtime byte arrays.
const RUNTIME_BYTEARRAY: i32 = 2;

const JOB_FAILURE: &str = "I/O error: connection to stock-service refused";
const JOB_STACK_TRACE: &str = "java.net.ConnectException: Connection refused\n\tat java.base/sun.nio.ch.Net.connect0(Native Method)\n\tat com.example.shop.StockClient.reserve(StockClient.java:88)\n\tat com.example.shop.PaymentTimeoutDelegate.execute(PaymentTimeoutDelegate.java:31)\n";
const EXT_TASK_FAILURE: &str = "Invoice service answered 503 Service Unavailable";
const EXT_TASK_DETAILS: &str = "HTTP 503 from https://invoices.example.com/api/invoices\nRetry-After: 120\n";

/// Stores a failure's details in a runtime byte array; returns its id.
fn failure_bytes(
    ids: &mut Ids,
    out: &mut InstanceRows,
    p: &Plan<'_>,
    name: &str,
    at: NaiveDateTime,
    text: &str,
) -> String {
    let id = ids.next();
    out.bytearrays.push(ByteArrayRow {
        id_: id.clone(),
        rev_: 1,
        name_: name.to_owned(),
        bytes_: text.as_bytes().to_vec(),
        generated_: false,
        tenant_id_: p.def.tenant.clone(),
        type_: RUNTIME_BYTEARRAY,
        create_time_: at,
        root_proc_inst_id_: p.root_id.clone(),
    });
    id
}

/// Ids shaped like the engine's time-based (version 1) UUIDs: a tick counter in the time
/// fields, clock sequence and node drawn from the seed. Like the engine's, consecutive ids
/// sort next to each other, so a batch's index inserts land on a few pages instead of all
/// over every index; the seed-drawn node keeps runs with other seeds apart.
#[derive(Debug, Clone)]
struct Ids {
    ticks: u64,
    clock_seq: u16,
    node: u64,
}

impl Ids {
    fn new(rng: &mut ChaCha8Rng) -> Self {
        // Start low enough in the 60-bit timestamp never to wrap.
        Self { ticks: rng.random::<u64>() >> 8, clock_seq: rng.random(), node: rng.random::<u64>() >> 16 }
    }

    fn next(&mut self) -> String {
        self.ticks += 1;
        let t = self.ticks;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            t as u32,
            (t >> 32) as u16,
            ((t >> 48) as u16 & 0x0fff) | 0x1000,
            (self.clock_seq & 0x3fff) | 0x8000,
            self.node
        )
    }
}

/// An activity-instance id in the engine's `activityId:uuid` form.
fn act_inst(ids: &mut Ids, activity: &str) -> String {
    format!("{activity}:{}", ids.next())
}

fn user(rng: &mut ChaCha8Rng) -> String {
    format!("demo-user-{}", rng.random_range(1..=25))
}

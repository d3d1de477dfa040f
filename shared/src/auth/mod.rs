//! Who is calling, and what Camunda's authorizations let them do. Authentication itself (HTTP
//! Basic, bearer tokens) lives in the API; this module owns the principal, the permission and
//! resource codes of `ACT_RU_AUTHORIZATION`, and the SQL that evaluates them the way Camunda
//! does — inside the statements that select, never row by row in Rust.
//!
//! Evaluation order (Camunda's `authCheck`, first match wins): the user's grant, then revoke, on
//! the specific resource id; the same on `*`; then the same four for the user's groups; then for
//! global authorizations; otherwise denied. Members of the admin group pass every check, and
//! tenant checks only apply to authenticated users who are not admins.

pub mod password;

use sea_orm::{ConnectionTrait, DbErr};

use crate::query::SqlBuilder;

/// `ACT_RU_AUTHORIZATION.RESOURCE_TYPE_` values Sweep checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// 6; the resource id is the definition **key**.
    ProcessDefinition,
    /// 8; the resource id is the instance id.
    ProcessInstance,
    /// 13; the resource id is the batch id.
    Batch,
}

impl Resource {
    /// The stored code.
    pub fn code(self) -> i32 {
        match self {
            Resource::ProcessDefinition => 6,
            Resource::ProcessInstance => 8,
            Resource::Batch => 13,
        }
    }

    /// Camunda's name, as in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Resource::ProcessDefinition => "ProcessDefinition",
            Resource::ProcessInstance => "ProcessInstance",
            Resource::Batch => "Batch",
        }
    }
}

/// Permission bits of `PERMS_` Sweep checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// 2
    Read,
    /// 4
    Update,
    /// 8
    Create,
    /// 16
    Delete,
    /// 512 on a process definition: read its instances.
    ReadInstance,
    /// 2048 on a process definition: delete its instances.
    DeleteInstance,
    /// 4096
    ReadHistory,
    /// 8192
    DeleteHistory,
    /// 256 on BATCH.
    CreateBatchDeleteRunningProcessInstances,
}

impl Permission {
    /// The permission's bit.
    pub fn bits(self) -> i32 {
        match self {
            Permission::Read => 2,
            Permission::Update => 4,
            Permission::Create => 8,
            Permission::Delete => 16,
            Permission::ReadInstance => 512,
            Permission::DeleteInstance => 2048,
            Permission::ReadHistory => 4096,
            Permission::DeleteHistory => 8192,
            Permission::CreateBatchDeleteRunningProcessInstances => 256,
        }
    }

    /// Camunda's name, as in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Permission::Read => "READ",
            Permission::Update => "UPDATE",
            Permission::Create => "CREATE",
            Permission::Delete => "DELETE",
            Permission::ReadInstance => "READ_INSTANCE",
            Permission::DeleteInstance => "DELETE_INSTANCE",
            Permission::ReadHistory => "READ_HISTORY",
            Permission::DeleteHistory => "DELETE_HISTORY",
            Permission::CreateBatchDeleteRunningProcessInstances => "CREATE_BATCH_DELETE_RUNNING_PROCESS_INSTANCES",
        }
    }
}

/// The process instance whose visibility a statement checks.
#[derive(Debug, Clone, Copy)]
pub enum Instance<'a> {
    /// An id expression (e.g. a column of a list of ids), looked up in `act_ru_execution`.
    Id(&'a str),
    /// A row of the statement known to be a process instance: running, or one in history.
    Row(InstanceRow<'a>),
}

/// The columns of a running process instance in a statement.
#[derive(Debug, Clone, Copy)]
pub struct InstanceRow<'a> {
    /// Its id.
    pub id: &'a str,
    /// Its `TENANT_ID_`.
    pub tenant_id: &'a str,
    /// Its `PROC_DEF_ID_`.
    pub definition_id: &'a str,
    /// Its columns are an `act_ru_execution` row's, so that a tenant test on every running
    /// execution covers it ([`Principal::push_instance_visible`]).
    pub runtime: bool,
}

impl InstanceRow<'static> {
    /// An `act_ru_execution` row aliased `pi`, joined to its definition aliased `pd`. The
    /// definition is named by `pd.id_`: a check then refers to both rows, and PostgreSQL tests
    /// it on joined rows only. Named `pi.proc_def_id_`, it was tested during the scan of the
    /// executions, where reading `TENANT_ID_`, near the end of the row, for every execution
    /// (not only for the selected instances) cost a selection of many instances a fifth of its
    /// time.
    pub const EXECUTION_PI: Self =
        Self { id: "pi.id_", tenant_id: "pi.tenant_id_", definition_id: "pd.id_", runtime: true };
    const EXECUTION_E: Self =
        Self { id: "e.id_", tenant_id: "e.tenant_id_", definition_id: "e.proc_def_id_", runtime: true };
}

/// The caller of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principal {
    /// The authenticated user; `None` when authentication is off.
    pub user_id: Option<String>,
    /// The user's groups.
    pub groups: Vec<String>,
    /// The user's tenants, directly and through groups.
    pub tenants: Vec<String>,
    /// Authorization checks apply (`auth.authorization` on, and the user is not an admin).
    pub authorization: bool,
    /// Tenant checks apply (authenticated, and the user is not an admin).
    pub tenant_check: bool,
    /// Known, from a read at the start of the request ([`Principal::check_narrowing`]), to be
    /// concerned by no authorization of a single process instance: instance checks then leave
    /// out their per-instance branches. `false` (the default) keeps them.
    pub no_instance_authorizations: bool,
}

impl Principal {
    /// Nobody in particular: authentication is off, nothing is checked.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// An authenticated user with `groups` and `tenants`; `admin_group` members are exempt from
    /// checks, and `authorization` says whether checks are on at all.
    pub fn user(
        user_id: String,
        groups: Vec<String>,
        tenants: Vec<String>,
        admin_group: &str,
        authorization: bool,
    ) -> Self {
        let admin = groups.iter().any(|g| g == admin_group);
        Self {
            user_id: Some(user_id),
            groups,
            tenants,
            authorization: authorization && !admin,
            tenant_check: !admin,
            no_instance_authorizations: false,
        }
    }

    /// The placeholder of the user id in `sql`, bound once per statement.
    fn user_param(&self, sql: &mut SqlBuilder) -> String {
        sql.named_param("principal.user", || self.user_id.clone().unwrap_or_default().into())
    }

    /// The placeholder of the groups (`varchar[]`) in `sql`, bound once per statement.
    fn groups_param(&self, sql: &mut SqlBuilder) -> String {
        let groups = sql.named_param("principal.groups", || self.groups.clone().into());
        format!("{groups}::varchar[]")
    }

    /// The placeholder of the tenants (`varchar[]`) in `sql`, bound once per statement.
    fn tenants_param(&self, sql: &mut SqlBuilder) -> String {
        let tenants = sql.named_param("principal.tenants", || self.tenants.clone().into());
        format!("{tenants}::varchar[]")
    }

    /// Appends a boolean SQL expression: the principal holds `permission` on `resource` with id
    /// `id_expr` (an SQL expression, e.g. a column; `None` for the resource as a whole, which
    /// only `*` authorizations match). One indexed lookup per evaluation, Camunda's order.
    pub fn push_permitted(
        &self,
        sql: &mut SqlBuilder,
        resource: Resource,
        permission: Permission,
        id_expr: Option<&str>,
    ) {
        if !self.authorization {
            sql.push("true");
            return;
        }
        let (r, p) = (resource.code(), permission.bits());
        let ids = match id_expr {
            Some(id) => format!("a.resource_id_ IN ({id}, '*')"),
            None => "a.resource_id_ = '*'".to_owned(),
        };
        let (user, groups) = (self.user_param(sql), self.groups_param(sql));
        sql.push(&format!(
            "coalesce((SELECT a.type_ <> 2 AND (a.perms_ & {p}) = {p} FROM act_ru_authorization a
                 WHERE a.resource_type_ = {r} AND {ids} AND (a.type_ = 0 OR a.user_id_ = {user} OR a.group_id_ = ANY({groups}))
                   AND CASE WHEN a.type_ = 2 THEN (a.perms_ & {p}) <> {p} ELSE true END
                 ORDER BY CASE WHEN a.type_ = 0 THEN 2 WHEN a.user_id_ IS NOT NULL THEN 0 ELSE 1 END,
                          a.resource_id_ = '*',
                          NOT (a.type_ <> 2 AND (a.perms_ & {p}) = {p})
                 LIMIT 1), false)"
        ));
    }

    /// Appends ` AND …` restricting `tenant_expr` to the principal's tenants or none.
    pub fn push_tenant_check(&self, sql: &mut SqlBuilder, tenant_expr: &str) {
        if self.tenant_check {
            let tenants = self.tenants_param(sql);
            sql.push(&format!(" AND ({tenant_expr} IS NULL OR {tenant_expr} = ANY({tenants}))"));
        }
    }

    /// Appends ` AND …` keeping the batch aliased `b` only when visible: the principal belongs to
    /// its tenant and to every tenant of its instances, and holds `permission` on it.
    pub fn push_batch_visible(&self, sql: &mut SqlBuilder, permission: Permission) {
        self.push_tenant_check(sql, "b.tenant_id_");
        if self.tenant_check {
            let tenants = self.tenants_param(sql);
            sql.push(&format!(" AND b.tenant_ids_ <@ {tenants}"));
        }
        if self.authorization {
            sql.push(" AND ");
            self.push_permitted(sql, Resource::Batch, permission, Some("b.id_"));
        }
    }

    /// Appends ` AND …` keeping `instance` only when it is a running process instance of the
    /// principal's tenants (or none) that the principal may read — READ on the instance or
    /// READ_INSTANCE on its definition key; READ_HISTORY on the definition key when selected by a
    /// `historic` query — and, with `delete`, may delete: DELETE on the instance or
    /// DELETE_INSTANCE on its definition key.
    ///
    /// Every check is a probe into a set the statement computes once, whatever the number of
    /// rows: an instance without authorizations of its own (nearly all) needs its definition in
    /// the set of definitions whose key passes every check, with the instance-level `*`
    /// authorizations folded in; the few instances with authorizations of their own are checked
    /// against the sets of definitions and of instances granted each permission. Correlated
    /// lookups per row would also be correct, but they make PostgreSQL plan the whole selection
    /// as if each row cost a query.
    ///
    /// When the checks can pass for the whole database at once, the statement first asks,
    /// once, whether they do ([`Principal::push_all_pass`]): then no row is tested.
    pub fn push_instance_visible(&self, sql: &mut SqlBuilder, instance: Instance<'_>, historic: bool, delete: bool) {
        if !self.authorization && !self.tenant_check {
            return;
        }
        let row = match instance {
            Instance::Row(row) => row,
            Instance::Id(id) => {
                sql.push(&format!(
                    " AND EXISTS (SELECT 1 FROM act_ru_execution e WHERE e.id_ = {id} AND e.proc_inst_id_ = e.id_"
                ));
                InstanceRow::EXECUTION_E
            }
        };
        // Whole-database answers exist for running instances (whose tenants an index on the
        // executions lists) checked by definition alone.
        let at_once = row.runtime && (!self.authorization || self.no_instance_authorizations);
        sql.push(" AND ");
        if at_once {
            sql.push("CASE WHEN ");
            self.push_all_pass(sql, historic, delete);
            sql.push(" THEN true ELSE ");
        }
        self.push_instance_checks(sql, row, historic, delete);
        if at_once {
            sql.push(" END");
        }
        if matches!(instance, Instance::Id(_)) {
            sql.push(")");
        }
    }

    /// The checks of [`Principal::push_instance_visible`] on one `row`, as a boolean expression.
    fn push_instance_checks(&self, sql: &mut SqlBuilder, row: InstanceRow<'_>, historic: bool, delete: bool) {
        // With both checks, the tenant test guards the authorization sets inside one
        // expression: PostgreSQL orders a row's conditions by their estimated cost, and on its
        // own the cheap-looking tenant test went before the row's other conditions (the root
        // test of a selection), so it ran on every execution row, not only on the instances.
        let tenant_test = self.tenant_check.then(|| {
            let (t, tenants) = (row.tenant_id, self.tenants_param(sql));
            format!("({t} IS NULL OR {t} = ANY({tenants}))")
        });
        if !self.authorization {
            sql.push(tenant_test.as_deref().unwrap_or("true"));
            return;
        }
        if let Some(test) = &tenant_test {
            sql.push(&format!("CASE WHEN {test} THEN "));
        }
        let checks = Self::instance_permissions(historic, delete);
        if self.no_instance_authorizations {
            // No instance has authorizations of its own for the principal: the definition's
            // key and `*` on instances decide, the same for every instance of a definition.
            self.push_permitted_definitions(sql, row.definition_id, &checks);
        } else {
            sql.push(&format!("(({} NOT IN (", row.id));
            self.push_instances_with_own_authorizations(sql);
            sql.push(") AND ");
            self.push_permitted_definitions(sql, row.definition_id, &checks);
            sql.push(&format!(") OR ({} IN (", row.id));
            self.push_instances_with_own_authorizations(sql);
            sql.push(")");
            for (on_definition, on_instance) in &checks {
                sql.push(&format!(" AND ({} IN (SELECT d.id_ FROM act_re_procdef d WHERE ", row.definition_id));
                self.push_permitted(sql, Resource::ProcessDefinition, *on_definition, Some("d.key_"));
                sql.push(")");
                if let Some(on_instance) = on_instance {
                    sql.push(&format!(" OR {} IN (SELECT o.id FROM (", row.id));
                    self.push_instances_with_own_authorizations(sql);
                    sql.push(") o(id) WHERE ");
                    self.push_permitted(sql, Resource::ProcessInstance, *on_instance, Some("o.id"));
                    sql.push(")");
                }
                sql.push(")");
            }
            sql.push("))");
        }
        if tenant_test.is_some() {
            sql.push(" ELSE false END");
        }
    }

    /// The permissions an instance check needs: (on the definition key, alternatively on the
    /// instance).
    fn instance_permissions(historic: bool, delete: bool) -> Vec<(Permission, Option<Permission>)> {
        let mut checks = vec![if historic {
            (Permission::ReadHistory, None)
        } else {
            (Permission::ReadInstance, Some(Permission::Read))
        }];
        if delete {
            checks.push((Permission::DeleteInstance, Some(Permission::Delete)));
        }
        checks
    }

    /// Appends a boolean expression without a reference to any row, which PostgreSQL evaluates
    /// once per statement: every running execution's tenant is the principal's (or none), and
    /// every definition passes the checks of [`Principal::instance_permissions`] — so every
    /// running instance passes [`Principal::push_instance_checks`] unless it has authorizations
    /// of its own, which only a principal known to have none may leave out. The tenants are
    /// walked in the order of the executions' tenant index, one probe per tenant, stopping at
    /// the first that is not the principal's; the definitions stop at the first that fails.
    /// Both answers are read in the statement's own snapshot, so an instance of another tenant
    /// or definition started meanwhile is tested as a row.
    fn push_all_pass(&self, sql: &mut SqlBuilder, historic: bool, delete: bool) {
        sql.push("(true");
        if self.tenant_check {
            let tenants = self.tenants_param(sql);
            sql.push(&format!(
                " AND (WITH RECURSIVE t(tenant) AS (
                     SELECT min(tenant_id_) FROM act_ru_execution
                     UNION ALL
                     SELECT (SELECT min(e.tenant_id_) FROM act_ru_execution e WHERE e.tenant_id_ > t.tenant)
                       FROM t WHERE t.tenant = ANY({tenants}))
                   SELECT bool_and(t.tenant IS NULL OR t.tenant = ANY({tenants})) FROM t)"
            ));
        }
        if self.authorization {
            sql.push(" AND NOT EXISTS (SELECT 1 FROM act_re_procdef d WHERE NOT ");
            self.push_definition_passes(sql, &Self::instance_permissions(historic, delete));
            sql.push(")");
        }
        sql.push(")");
    }

    /// Appends `definition_id IN (…)`: the definitions whose key passes every check, a check
    /// being (permission on the definition key, alternative permission on `*` instances).
    fn push_permitted_definitions(
        &self,
        sql: &mut SqlBuilder,
        definition_id: &str,
        checks: &[(Permission, Option<Permission>)],
    ) {
        sql.push(&format!("{definition_id} IN (SELECT d.id_ FROM act_re_procdef d WHERE "));
        self.push_definition_passes(sql, checks);
        sql.push(")");
    }

    /// Appends a boolean expression: the definition aliased `d` passes every check of
    /// [`Principal::push_permitted_definitions`].
    fn push_definition_passes(&self, sql: &mut SqlBuilder, checks: &[(Permission, Option<Permission>)]) {
        sql.push("(");
        for (i, (on_definition, on_instance)) in checks.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { " AND (" });
            self.push_permitted(sql, Resource::ProcessDefinition, *on_definition, Some("d.key_"));
            if let Some(on_instance) = on_instance {
                sql.push(" OR ");
                self.push_permitted(sql, Resource::ProcessInstance, *on_instance, None);
            }
            sql.push(")");
        }
        sql.push(")");
    }

    /// The ids of process instances with authorizations of their own that concern the
    /// principal (its user, its groups, or global ones), as a subquery.
    fn push_instances_with_own_authorizations(&self, sql: &mut SqlBuilder) {
        let (user, groups) = (self.user_param(sql), self.groups_param(sql));
        sql.push(&format!(
            "SELECT a.resource_id_ FROM act_ru_authorization a
              WHERE a.resource_type_ = {} AND a.resource_id_ <> '*' AND (a.type_ = 0 OR a.user_id_ = {user} OR a.group_id_ = ANY({groups}))",
            Resource::ProcessInstance.code()
        ));
    }

    /// Whether the principal holds one of `alternatives`; `Ok(None)` when it does, otherwise
    /// the missing authorizations for Camunda's `AuthorizationException`.
    pub async fn check(
        &self,
        db: &impl ConnectionTrait,
        alternatives: &[(Permission, Resource, Option<&str>)],
    ) -> Result<Option<Denied>, DbErr> {
        Ok(self.check_narrowing(db, alternatives).await?.0)
    }

    /// [`Principal::check`], and in the same round trip whether any authorization of a single
    /// process instance concerns the principal: the principal returned knows when none does
    /// ([`Principal::no_instance_authorizations`]), so that the statements it then checks
    /// instances in stay small. An authorization added after this read and before those
    /// statements is one the request did not see, as if it had come a moment later.
    pub async fn check_narrowing(
        &self,
        db: &impl ConnectionTrait,
        alternatives: &[(Permission, Resource, Option<&str>)],
    ) -> Result<(Option<Denied>, Principal), DbErr> {
        if !self.authorization {
            return Ok((None, self.clone()));
        }
        let mut sql = SqlBuilder::new();
        sql.push("SELECT ");
        for (i, (permission, resource, id)) in alternatives.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            let id = id.map(|id| format!("{}::varchar", sql.param(id.to_owned())));
            self.push_permitted(&mut sql, *resource, *permission, id.as_deref());
        }
        sql.push(" AS permitted, EXISTS (");
        self.push_instances_with_own_authorizations(&mut sql);
        sql.push(") AS instance_authorizations");
        let row = db.query_one_raw(sql.into_statement()).await?;
        let (permitted, instance_authorizations): (bool, bool) = match row {
            Some(r) => (r.try_get("", "permitted")?, r.try_get("", "instance_authorizations")?),
            None => (false, true),
        };
        let narrowed = Principal { no_instance_authorizations: !instance_authorizations, ..self.clone() };
        let denied = (!permitted).then(|| Denied {
            user_id: self.user_id.clone().unwrap_or_default(),
            missing: alternatives
                .iter()
                .map(|(p, r, id)| MissingAuthorization {
                    permission: p.name(),
                    resource: r.name(),
                    resource_id: id.map(str::to_owned),
                })
                .collect(),
        });
        Ok((denied, narrowed))
    }
}

/// An authorization Camunda's `AuthorizationException` names as missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingAuthorization {
    /// e.g. `CREATE`.
    pub permission: &'static str,
    /// e.g. `Batch`.
    pub resource: &'static str,
    /// The resource id, or `None` for the resource type as a whole.
    pub resource_id: Option<String>,
}

/// A refused operation: the user and every alternative that would have allowed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The user.
    pub user_id: String,
    /// The alternatives, any one of which would have sufficed.
    pub missing: Vec<MissingAuthorization>,
}

impl Denied {
    /// Camunda's message text for this refusal.
    pub fn message(&self) -> String {
        let one = |m: &MissingAuthorization| match &m.resource_id {
            Some(id) => format!("'{}' permission on resource '{id}' of type '{}'", m.permission, m.resource),
            None => format!("'{}' permission on resource '{}'", m.permission, m.resource),
        };
        match self.missing.as_slice() {
            [single] => format!("The user with id '{}' does not have {}.", self.user_id, one(single)),
            several => format!(
                "The user with id '{}' does not have one of the following permissions: {}",
                self.user_id,
                several.iter().map(one).collect::<Vec<_>>().join(" or ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_camundas() {
        let denied = Denied {
            user_id: "U".into(),
            missing: vec![
                MissingAuthorization { permission: "CREATE", resource: "Batch", resource_id: None },
                MissingAuthorization {
                    permission: "CREATE_BATCH_DELETE_RUNNING_PROCESS_INSTANCES",
                    resource: "Batch",
                    resource_id: None,
                },
            ],
        };
        assert_eq!(
            denied.message(),
            "The user with id 'U' does not have one of the following permissions: 'CREATE' permission on resource \
             'Batch' or 'CREATE_BATCH_DELETE_RUNNING_PROCESS_INSTANCES' permission on resource 'Batch'"
        );
        let one = Denied {
            user_id: "U".into(),
            missing: vec![MissingAuthorization {
                permission: "UPDATE",
                resource: "Batch",
                resource_id: Some("b1".into()),
            }],
        };
        assert_eq!(
            one.message(),
            "The user with id 'U' does not have 'UPDATE' permission on resource 'b1' of type 'Batch'."
        );
    }

    #[test]
    fn admins_and_disabled_checks_permit_everything() {
        let admin = Principal::user("a".into(), vec!["camunda-admin".into()], vec![], "camunda-admin", true);
        assert!(!admin.authorization && !admin.tenant_check);
        let user = Principal::user("u".into(), vec!["g".into()], vec![], "camunda-admin", false);
        assert!(!user.authorization && user.tenant_check);
    }
}

//! Camunda's identity tables (`ACT_ID_USER`, `ACT_ID_GROUP`, `ACT_ID_MEMBERSHIP`,
//! `ACT_ID_TENANT`, `ACT_ID_TENANT_MEMBER`): read to authenticate, written for login throttling
//! (as Camunda's engine does) and by `sweep-api user add`.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement, Value};

use crate::settings::AuthSettings;

/// What a password check needs of a user.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Credentials {
    /// `{ALGORITHM}hash`.
    pub pwd: Option<String>,
    /// Base64 salt.
    pub salt: Option<String>,
    /// Locked: too many failed attempts, or a lock that has not expired.
    pub locked: bool,
}

/// The credentials of `user_id`, if such a user exists.
pub async fn credentials(
    db: &impl ConnectionTrait,
    user_id: &str,
    settings: &AuthSettings,
) -> Result<Option<Credentials>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pwd_ AS pwd, salt_ AS salt,
                    coalesce(attempts_, 0) >= $2 OR coalesce(lock_exp_time_ > localtimestamp, false) AS locked
               FROM act_id_user WHERE id_ = $1",
            [user_id.into(), settings.login_max_attempts.into()],
        ))
        .await?;
    row.map(|r| Credentials::from_query_result(&r, "")).transpose()
}

/// Counts a failed login of `user_id` and locks the user for `base × factor^(attempts − 1)`
/// seconds, at most `login_delay_max`, as Camunda does.
pub async fn record_failed_login(
    db: &impl ConnectionTrait,
    user_id: &str,
    settings: &AuthSettings,
) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE act_id_user
            SET attempts_ = coalesce(attempts_, 0) + 1,
                lock_exp_time_ = localtimestamp
                    + make_interval(secs => least($2::float8 * power($3::float8, coalesce(attempts_, 0)), $4::float8))
          WHERE id_ = $1",
        [
            user_id.into(),
            (settings.login_delay_base as f64).into(),
            (settings.login_delay_factor as f64).into(),
            (settings.login_delay_max as f64).into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Clears failed attempts after a successful login (only when there are any: no write per
/// request).
pub async fn reset_failed_logins(db: &impl ConnectionTrait, user_id: &str) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE act_id_user SET attempts_ = 0, lock_exp_time_ = NULL
          WHERE id_ = $1 AND (coalesce(attempts_, 0) > 0 OR lock_exp_time_ IS NOT NULL)",
        [user_id.into()],
    ))
    .await?;
    Ok(())
}

#[derive(FromQueryResult)]
struct Memberships {
    groups: Vec<String>,
    tenants: Vec<String>,
}

/// The groups of `user_id` (plus `extra_groups`, e.g. from a token) and its tenants, directly
/// and through those groups, in one statement.
pub async fn memberships(
    db: &impl ConnectionTrait,
    user_id: &str,
    extra_groups: &[String],
) -> Result<(Vec<String>, Vec<String>), DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "WITH g AS (SELECT group_id_ AS id FROM act_id_membership WHERE user_id_ = $1
                        UNION SELECT unnest($2::varchar[]))
             SELECT coalesce((SELECT array_agg(id ORDER BY id) FROM g), '{}')::varchar[] AS groups,
                    coalesce((SELECT array_agg(DISTINCT tenant_id_ ORDER BY tenant_id_) FROM act_id_tenant_member
                               WHERE user_id_ = $1 OR group_id_ IN (SELECT id FROM g)), '{}')::varchar[] AS tenants",
            [user_id.into(), Value::from(extra_groups.to_vec())],
        ))
        .await?;
    let m = row.map(|r| Memberships::from_query_result(&r, "")).transpose()?;
    Ok(m.map_or_else(Default::default, |m| (m.groups, m.tenants)))
}

/// Creates (or replaces the password of) user `id` in Camunda's format, with its groups and
/// tenants, which are created when missing. Call in a transaction.
pub async fn upsert_user(
    txn: &impl ConnectionTrait,
    id: &str,
    password: &str,
    groups: &[String],
    tenants: &[String],
) -> Result<(), DbErr> {
    let (pwd, salt) = crate::auth::password::hash_new(password);
    let statements: [(&str, Vec<Value>); 5] = [
        (
            "INSERT INTO act_id_user (id_, rev_, pwd_, salt_, attempts_) VALUES ($1, 1, $2, $3, 0)
             ON CONFLICT (id_) DO UPDATE SET pwd_ = $2, salt_ = $3, rev_ = act_id_user.rev_ + 1,
                 attempts_ = 0, lock_exp_time_ = NULL",
            vec![id.into(), pwd.into(), salt.into()],
        ),
        (
            "INSERT INTO act_id_group (id_, rev_, name_, type_)
             SELECT g, 1, g, CASE WHEN g = 'camunda-admin' THEN 'SYSTEM' ELSE 'WORKFLOW' END FROM unnest($1::varchar[]) g
             ON CONFLICT (id_) DO NOTHING",
            vec![Value::from(groups.to_vec())],
        ),
        (
            "INSERT INTO act_id_membership (user_id_, group_id_) SELECT $1, g FROM unnest($2::varchar[]) g
             ON CONFLICT DO NOTHING",
            vec![id.into(), Value::from(groups.to_vec())],
        ),
        (
            "INSERT INTO act_id_tenant (id_, rev_, name_) SELECT t, 1, t FROM unnest($1::varchar[]) t
             ON CONFLICT (id_) DO NOTHING",
            vec![Value::from(tenants.to_vec())],
        ),
        (
            "INSERT INTO act_id_tenant_member (id_, tenant_id_, user_id_)
             SELECT gen_random_uuid()::varchar, t, $1 FROM unnest($2::varchar[]) t
             ON CONFLICT DO NOTHING",
            vec![id.into(), Value::from(tenants.to_vec())],
        ),
    ];
    for (sql, values) in statements {
        txn.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    }
    Ok(())
}

//! Who may call Sweep and what they may do: HTTP Basic against Camunda's identity tables with
//! its password format and login throttling, Camunda's authorizations and tenant checks applied
//! inside the selecting SQL, and the user operation log each action writes.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use system_tests::fixtures::seed_instances;
use system_tests::{ApiClient, DrivenWorker, TestApi, TestDb, eventually};

/// ALL permissions, as Camunda stores them.
const ALL: i64 = i32::MAX as i64;

/// A user with `password` in `groups` and `tenants`.
async fn user(db: &TestDb, id: &str, groups: &[&str], tenants: &[&str]) -> &'static str {
    let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    shared::db::identity::upsert_user(&db.db, id, "pw", &own(groups), &own(tenants)).await.unwrap();
    "pw"
}

/// One `ACT_RU_AUTHORIZATION` row: `kind` 0 global, 1 grant, 2 revoke; `who` is `user:u`,
/// `group:g` or `*`.
async fn authorize(db: &TestDb, kind: i32, who: &str, resource_type: i32, resource_id: &str, perms: i64) {
    let (user, group) = match who.split_once(':') {
        Some(("user", u)) => (format!("'{u}'"), "NULL".to_owned()),
        Some(("group", g)) => ("NULL".to_owned(), format!("'{g}'")),
        _ => ("'*'".to_owned(), "NULL".to_owned()),
    };
    db.exec(&format!(
        "INSERT INTO act_ru_authorization (id_, rev_, type_, user_id_, group_id_, resource_type_, resource_id_, perms_)
         VALUES (gen_random_uuid()::varchar, 1, {kind}, {user}, {group}, {resource_type}, '{resource_id}', {perms})"
    ))
    .await;
}

async fn spawn(db: &TestDb, extra: &[(&str, &str)]) -> TestApi {
    TestApi::spawn(db.settings(extra)).await
}

async fn status_and_challenge(api: &ApiClient, path: &str) -> (u16, Option<String>, String) {
    let resp = api.request(Method::GET, path).send().await.unwrap();
    let status = resp.status().as_u16();
    let challenge = resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    (status, challenge, resp.text().await.unwrap())
}

#[tokio::test]
async fn requests_without_valid_credentials_get_401_with_a_basic_challenge_and_health_stays_open() {
    let db = TestDb::new().await;
    let pw = user(&db, "alice", &[], &[]).await;
    user(&db, "mallory", &[], &[]).await;
    let api = spawn(&db, &[]).await;
    assert_eq!(api.as_user("alice", pw).get("/batch").await.0, 200);
    // (A wrong password locks its user for a few seconds: mallory's, not alice's.)
    for client in [api.anonymous(), api.as_user("mallory", "wrong"), api.as_user("nobody", pw)] {
        let (status, challenge, body) = status_and_challenge(&client, "/batch").await;
        assert_eq!(status, 401);
        assert_eq!(challenge.as_deref(), Some("Basic realm=\"default\""));
        assert_eq!(body, "", "Camunda answers 401 with an empty body");
    }
    let (status, _) = api.anonymous().post("/process-instance/delete", &json!({"processInstanceIds": ["x"]})).await;
    assert_eq!(status, 401, "nothing that changes data is reachable without a user");
    assert_eq!(api.anonymous().health("ready").await, Some(200));
    assert_eq!(api.as_user("alice", pw).get("/batch").await.0, 200, "alice is not affected");
    // A bearer token is not a Basic credential.
    let bearer = api.anonymous().request(Method::GET, "/batch").bearer_auth("token").send().await.unwrap();
    assert_eq!(bearer.status(), 401);
}

#[tokio::test]
async fn failed_logins_lock_the_user_even_for_the_right_password_until_the_lock_expires() {
    let db = TestDb::new().await;
    let pw = user(&db, "bob", &[], &[]).await;
    let api = spawn(
        &db,
        &[
            ("SWEEP__AUTH__LOGIN_DELAY_BASE", "1"),
            ("SWEEP__AUTH__LOGIN_DELAY_FACTOR", "1"),
            ("SWEEP__AUTH__LOGIN_DELAY_MAX", "1"),
            ("SWEEP__AUTH__LOGIN_MAX_ATTEMPTS", "3"),
        ],
    )
    .await;
    let bob = api.as_user("bob", pw);
    assert_eq!(bob.get("/batch").await.0, 200);
    assert_eq!(api.as_user("bob", "guess").get("/batch").await.0, 401);
    assert_eq!(db.scalar("SELECT attempts_ FROM act_id_user WHERE id_ = 'bob'").await, 1);
    assert_eq!(bob.get("/batch").await.0, 401, "locked for a second: the right password is refused, not cached");
    eventually(Duration::from_secs(5), || async { (bob.get("/batch").await.0 == 200).then_some(()) }).await;
    assert_eq!(db.scalar("SELECT attempts_ FROM act_id_user WHERE id_ = 'bob'").await, 0, "success resets");

    // At the maximum of attempts the lock is permanent.
    for _ in 0..3 {
        api.as_user("bob", "guess").get("/batch").await;
        db.exec("UPDATE act_id_user SET lock_exp_time_ = NULL WHERE id_ = 'bob'").await;
    }
    assert_eq!(db.scalar("SELECT attempts_ FROM act_id_user WHERE id_ = 'bob'").await, 3);
    assert_eq!(bob.get("/batch").await.0, 401);
}

#[tokio::test]
async fn a_password_changed_or_a_lock_set_elsewhere_is_refused_before_the_cache_ttl_ends() {
    let db = TestDb::new().await;
    let pw = user(&db, "erin", &[], &[]).await;
    user(&db, "finn", &[], &[]).await;
    let ttl = Duration::from_secs(2);
    let api = spawn(
        &db,
        &[
            ("SWEEP__AUTH__CACHE_TTL", "2s"),
            ("SWEEP__AUTH__LOGIN_DELAY_BASE", "1"),
            ("SWEEP__AUTH__LOGIN_DELAY_MAX", "1"),
        ],
    )
    .await;
    let (erin, finn) = (api.as_user("erin", pw), api.as_user("finn", pw));
    let verified = std::time::Instant::now();
    assert_eq!(erin.get("/batch").await.0, 200);
    assert_eq!(finn.get("/batch").await.0, 200);
    // Changed behind Sweep's back: a new password for erin, a lock for finn.
    shared::db::identity::upsert_user(&db.db, "erin", "new", &[], &[]).await.unwrap();
    db.exec("UPDATE act_id_user SET lock_exp_time_ = localtimestamp + interval '1 hour' WHERE id_ = 'finn'").await;
    assert_eq!(erin.get("/batch").await.0, 200, "verified credentials are trusted for a while");
    // A request past half the TTL is answered from the cache and verified again meanwhile, so
    // the refusal comes before the entry would have expired.
    for client in [&erin, &finn] {
        eventually(ttl * 3, || async { (client.get("/batch").await.0 == 401).then_some(()) }).await;
    }
    assert!(verified.elapsed() < ttl, "refused within the TTL, after {:?}", verified.elapsed());
    // The old password counted as a failed login (a lock of a second); the new one works.
    let renewed = api.as_user("erin", "new");
    eventually(Duration::from_secs(5), || async { (renewed.get("/batch").await.0 == 200).then_some(()) }).await;
    assert_eq!(finn.get("/batch").await.0, 401, "still locked");
}

#[tokio::test]
async fn legacy_unsalted_sha_passwords_are_accepted() {
    let db = TestDb::new().await;
    // {SHA} + Base64(SHA-1("demo")), as Camunda 7.6 and older stored it.
    db.exec("INSERT INTO act_id_user (id_, rev_, pwd_) VALUES ('old', 1, '{SHA}ieSV55Qc+eQOaYDRSha/AjzNTJE=')").await;
    let api = spawn(&db, &[]).await;
    assert_eq!(api.as_user("old", "demo").get("/batch").await.0, 200);
    assert_eq!(api.as_user("old", "demo2").get("/batch").await.0, 401);
}

#[tokio::test]
async fn creating_a_batch_needs_batch_create_and_a_revoke_beats_a_global_grant() {
    let db = TestDb::new().await;
    seed_instances(&db, 4).await;
    let pw = user(&db, "carol", &["ops"], &[]).await;
    let api = spawn(&db, &[]).await;
    let carol = api.as_user("carol", pw);
    let body = json!({"processInstanceIds": ["pi-2"]});

    let (status, denied) = carol.post("/process-instance/delete", &body).await;
    assert_eq!(status, 403, "{denied}");
    assert_eq!(denied["type"], "AuthorizationException");
    assert_eq!(denied["userId"], "carol");
    assert_eq!(
        denied["message"],
        "The user with id 'carol' does not have one of the following permissions: 'CREATE' permission on resource \
         'Batch' or 'CREATE_BATCH_DELETE_RUNNING_PROCESS_INSTANCES' permission on resource 'Batch'"
    );
    assert_eq!(
        denied["missingAuthorizations"],
        json!([
            {"permissionName": "CREATE", "resourceName": "Batch", "resourceId": null},
            {"permissionName": "CREATE_BATCH_DELETE_RUNNING_PROCESS_INSTANCES", "resourceName": "Batch", "resourceId": null}
        ])
    );
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_hi_batch").await, 0, "nothing was created");

    // A global grant of CREATE, but a revoke of both permissions for carol herself: refused.
    authorize(&db, 0, "*", 13, "*", 8).await;
    authorize(&db, 2, "user:carol", 13, "*", ALL & !8 & !256).await;
    // Reading and deleting instances is granted globally, so only batch creation is at stake.
    authorize(&db, 0, "*", 6, "*", 512 | 2048).await;
    assert_eq!(carol.post("/process-instance/delete", &body).await.0, 403);

    // Her group's grant comes before the global one, but after her own revoke: still refused.
    authorize(&db, 1, "group:ops", 13, "*", 256).await;
    assert_eq!(carol.post("/process-instance/delete", &body).await.0, 403);
    db.exec("DELETE FROM act_ru_authorization WHERE type_ = 2").await;
    let (status, batch) = carol.post("/process-instance/delete", &body).await;
    assert_eq!(status, 200, "the group grant of CREATE_BATCH_DELETE_RUNNING_PROCESS_INSTANCES suffices: {batch}");
    assert_eq!(batch["createUserId"], "carol");
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_hi_batch WHERE create_user_id_ = 'carol'").await, 1);
}

#[tokio::test]
async fn the_selection_keeps_only_instances_the_user_may_read_and_delete() {
    let db = TestDb::new().await;
    seed_instances(&db, 10).await;
    let pw = user(&db, "dave", &[], &[]).await;
    authorize(&db, 1, "user:dave", 13, "*", 8).await;
    // Instances of definition `p` may be read and deleted; of `other`, read only.
    authorize(&db, 1, "user:dave", 6, "p", 512 | 2048).await;
    authorize(&db, 1, "user:dave", 6, "other", 512).await;
    let api = spawn(&db, &[]).await;
    let dave = api.as_user("dave", pw);

    let (status, batch) = dave.post("/process-instance/delete", &json!({"processInstanceQuery": {}})).await;
    assert_eq!(status, 200, "{batch}");
    let id = batch["id"].as_str().unwrap();
    let selected =
        db.strings(&format!("SELECT proc_inst_id_ FROM sweep_batch_item WHERE batch_id_ = '{id}' ORDER BY 1")).await;
    assert_eq!(selected, ["c-1", "pi-10", "pi-2", "pi-4", "pi-6", "pi-8"], "only definition p's instances");

    // An explicit id of the other definition is not found, and nothing is created.
    let before = db.scalar("SELECT count(*) FROM sweep_hi_batch").await;
    let (status, body) = dave.post("/process-instance/delete", &json!({"processInstanceIds": ["pi-3"]})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("'pi-3'"), "{body}");
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_hi_batch").await, before);

    // Queries show what may be read: both definitions, not more.
    let (_, count) = dave.get("/process-instance/count").await;
    assert_eq!(count["count"], 11);
    db.exec("DELETE FROM act_ru_authorization WHERE resource_id_ = 'other'").await;
    let (_, count) = dave.get("/process-instance/count").await;
    assert_eq!(count["count"], 6);
}

#[tokio::test]
async fn authorizations_on_single_instances_grant_and_revoke_within_the_selection() {
    let db = TestDb::new().await;
    seed_instances(&db, 6).await;
    let pw = user(&db, "ivy", &[], &[]).await;
    user(&db, "jay", &[], &[]).await;
    authorize(&db, 0, "*", 13, "*", 8).await;
    // Every instance may be read and deleted by everyone, but ivy may not read pi-5.
    authorize(&db, 0, "*", 8, "*", 2 | 16).await;
    authorize(&db, 2, "user:ivy", 8, "pi-5", 2).await;
    let api = spawn(&db, &[]).await;
    let (ivy, jay) = (api.as_user("ivy", pw), api.as_user("jay", pw));
    let selected = |id: String| {
        let db = &db;
        async move {
            db.strings(&format!("SELECT proc_inst_id_ FROM sweep_batch_item WHERE batch_id_ = '{id}' ORDER BY 1")).await
        }
    };

    let id = ivy.start_deletion(&json!({"processInstanceQuery": {}})).await;
    assert_eq!(selected(id).await, ["c-1", "pi-1", "pi-2", "pi-3", "pi-4", "pi-6"], "the revoke hides pi-5");
    let (status, body) = ivy.post("/process-instance/delete", &json!({"processInstanceIds": ["pi-5"]})).await;
    assert_eq!(status, 400, "{body}");
    // ivy's revoke is no concern of jay's: no instance has an authorization for jay, so its
    // selection is decided by the `*` grants alone.
    let id = jay.start_deletion(&json!({"processInstanceQuery": {}})).await;
    assert_eq!(selected(id).await, ["c-1", "pi-1", "pi-2", "pi-3", "pi-4", "pi-5", "pi-6"]);

    // Without the global grant, jay's own grant on pi-3 is all there is: READ lists it, and
    // deleting needs DELETE too.
    db.exec("DELETE FROM act_ru_authorization WHERE resource_type_ = 8").await;
    authorize(&db, 1, "user:jay", 8, "pi-3", 2).await;
    assert_eq!(jay.get("/process-instance/count").await.1["count"], 1);
    let (status, body) = jay.post("/process-instance/delete", &json!({"processInstanceQuery": {}})).await;
    assert_eq!((status, body["message"].clone()), (400, json!("processInstanceIds is empty")), "{body}");
    db.exec("UPDATE act_ru_authorization SET perms_ = 2 | 16 WHERE user_id_ = 'jay'").await;
    let id = jay.start_deletion(&json!({"processInstanceQuery": {}})).await;
    assert_eq!(selected(id).await, ["pi-3"]);
}

/// Nine instances: pi-1..3 of tenant A, pi-4..6 of tenant B, the rest (and c-1) of none.
async fn tenant_instances() -> TestDb {
    let db = TestDb::new().await;
    seed_instances(&db, 9).await;
    db.exec(
        "UPDATE act_ru_execution SET tenant_id_ = 'A' WHERE proc_inst_id_ IN ('pi-1', 'pi-2', 'pi-3');
         UPDATE act_ru_execution SET tenant_id_ = 'B' WHERE proc_inst_id_ IN ('pi-4', 'pi-5', 'pi-6');",
    )
    .await;
    db
}

#[tokio::test]
async fn a_tenant_user_selects_sees_and_deletes_only_its_tenant_and_tenantless_instances() {
    let db = tenant_instances().await;
    let pw = user(&db, "erin", &[], &["A"]).await;
    authorize(&db, 0, "*", 13, "*", ALL).await;
    authorize(&db, 0, "*", 6, "*", ALL).await;
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let erin = api.as_user("erin", pw);

    let (_, listed) = erin.get("/process-instance?sortBy=instanceId&sortOrder=asc").await;
    let ids: Vec<&str> = listed.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["c-1", "pi-1", "pi-2", "pi-3", "pi-7", "pi-8", "pi-9"]);
    assert_eq!(erin.get("/process-instance/pi-4").await.0, 404, "tenant B's instance does not exist for A");

    let (status, batch) = erin.post("/process-instance/delete", &json!({"processInstanceQuery": {}})).await;
    assert_eq!(status, 200, "{batch}");
    let id = batch["id"].as_str().unwrap().to_owned();
    assert_eq!(db.scalar(&format!("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = '{id}'")).await, 7);
    let (status, _) = erin.post("/process-instance/delete", &json!({"processInstanceIds": ["pi-5"]})).await;
    assert_eq!(status, 400, "tenant B's instance is not found");

    DrivenWorker::connect(settings).await.drain().await;
    let left = |tenant: &str| {
        format!(
            "SELECT count(*) FROM act_ru_execution WHERE tenant_id_ {tenant} AND parent_id_ IS NULL AND super_exec_ IS NULL"
        )
    };
    assert_eq!(db.scalar(&left("= 'A'")).await, 0, "A's instances are deleted");
    assert_eq!(db.scalar(&left("IS NULL")).await, 0, "and those without a tenant");
    assert_eq!(db.scalar(&left("= 'B'")).await, 3, "B's instances are untouched");
}

/// When every running instance passes a user's checks, the selection learns it once per
/// statement and tests no row; the moment one does not, every row is tested again.
#[tokio::test]
async fn checks_answered_for_the_whole_database_still_exclude_whatever_fails_them() {
    let db = TestDb::new().await;
    seed_instances(&db, 6).await;
    db.exec("UPDATE act_ru_execution SET tenant_id_ = 'A' WHERE proc_inst_id_ IN ('pi-1', 'pi-2')").await;
    let pw = user(&db, "erin", &[], &["A"]).await;
    authorize(&db, 0, "*", 13, "*", ALL).await;
    authorize(&db, 0, "*", 6, "*", ALL).await;
    let api = spawn(&db, &[]).await;
    let erin = api.as_user("erin", pw);
    let selected = |id: String| {
        let db = &db;
        async move {
            db.strings(&format!("SELECT proc_inst_id_ FROM sweep_batch_item WHERE batch_id_ = '{id}' ORDER BY 1")).await
        }
    };
    let everything = ["c-1", "pi-1", "pi-2", "pi-3", "pi-4", "pi-5", "pi-6"];

    // Only erin's tenant and none, every definition permitted: all pass.
    assert_eq!(erin.get("/process-instance/count").await.1["count"], 7);
    let id = erin.start_deletion(&json!({"processInstanceQuery": {}, "deleteReason": "one"})).await;
    assert_eq!(selected(id).await, everything);

    // An instance of another tenant: it alone is left out.
    db.exec("UPDATE act_ru_execution SET tenant_id_ = 'B' WHERE proc_inst_id_ = 'pi-3'").await;
    assert_eq!(erin.get("/process-instance/count").await.1["count"], 6);
    let id = erin.start_deletion(&json!({"processInstanceQuery": {}, "deleteReason": "two"})).await;
    assert_eq!(selected(id).await, ["c-1", "pi-1", "pi-2", "pi-4", "pi-5", "pi-6"]);
    let (status, body) = erin.post("/process-instance/delete", &json!({"processInstanceIds": ["pi-3"]})).await;
    assert_eq!(status, 400, "{body}");

    // Back to one tenant, but a revoke of reading definition `other`'s instances (a revoke
    // stores the permissions it leaves): its instances are left out, definition `p`'s are not.
    db.exec("UPDATE act_ru_execution SET tenant_id_ = NULL WHERE proc_inst_id_ = 'pi-3'").await;
    authorize(&db, 2, "user:erin", 6, "other", ALL ^ 512).await;
    assert_eq!(erin.get("/process-instance/count").await.1["count"], 4);
    let id = erin.start_deletion(&json!({"processInstanceQuery": {}, "deleteReason": "three"})).await;
    assert_eq!(selected(id).await, ["c-1", "pi-2", "pi-4", "pi-6"]);
}

#[tokio::test]
async fn a_batch_is_visible_only_to_users_of_every_tenant_of_its_instances() {
    let db = tenant_instances().await;
    let pw = user(&db, "erin", &[], &["A"]).await;
    user(&db, "bob", &[], &["B"]).await;
    authorize(&db, 0, "*", 13, "*", ALL).await;
    authorize(&db, 0, "*", 6, "*", ALL).await;
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let (erin, bob) = (api.as_user("erin", pw), api.as_user("bob", pw));
    let deletion = |ids: &[&str]| json!({"processInstanceIds": ids});
    let of_a = erin.start_deletion(&deletion(&["pi-1", "pi-7"])).await;
    let of_b = bob.start_deletion(&deletion(&["pi-4"])).await;
    let mixed = api.start_deletion(&deletion(&["pi-2", "pi-5"])).await;
    let tenantless = api.start_deletion(&deletion(&["pi-8"])).await;

    let listed = |client: &ApiClient, path: &'static str| {
        let client = client.clone();
        async move {
            let (status, body) = client.get(path).await;
            assert_eq!(status, 200, "{path}: {body}");
            let mut ids: Vec<String> =
                body.as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_owned()).collect();
            ids.sort();
            ids
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let erin_sees = sorted(vec![of_a.clone(), tenantless.clone()]);
    assert_eq!(listed(&erin, "/batch").await, erin_sees);
    assert_eq!(listed(&erin, "/batch/statistics").await, erin_sees);
    assert_eq!(erin.get("/batch/count").await.1["count"], 2);
    assert_eq!(listed(&bob, "/batch").await, sorted(vec![of_b.clone(), tenantless.clone()]));
    assert_eq!(listed(&api, "/batch").await.len(), 4, "an admin sees every batch");
    let (_, shown) = erin.get(&format!("/batch/{of_a}")).await;
    assert_eq!(shown["tenantId"], serde_json::Value::Null, "tenantId stays null, as Camunda leaves it");
    // A hidden batch answers as one that does not exist.
    for hidden in [&of_b, &mixed] {
        assert_eq!(erin.get(&format!("/batch/{hidden}")).await.0, 404);
        assert_eq!(erin.get(&format!("/batch/{hidden}/items")).await.0, 404);
        let (status, body) = erin.put(&format!("/batch/{hidden}/suspended"), &json!({"suspended": true})).await;
        assert_eq!(
            (status, body["message"].clone()),
            (400, json!(format!("Unable to suspend batch with id '{hidden}'")))
        );
        let (status, body) = erin.delete(&format!("/batch/{hidden}")).await;
        assert_eq!(
            (status, body["message"].clone()),
            (400, json!(format!("Unable to delete batch with id '{hidden}'")))
        );
    }
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch WHERE suspended_").await, 0, "nothing changed");

    let worker = DrivenWorker::connect(settings).await;
    for _ in 0..4 {
        assert!(worker.step().await, "a seed to handle");
    }
    assert_eq!(db.scalar("SELECT count(DISTINCT batch_id_) FROM sweep_batch_job").await, 4, "the seeds ran");
    let (_, jobs) = erin.get("/job").await;
    let job_batches: Vec<String> = sorted(
        jobs.as_array()
            .unwrap()
            .iter()
            .map(|j| j["batchId"].as_str().unwrap().to_owned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
    );
    assert_eq!(job_batches, erin_sees, "the jobs of visible batches only");
    worker.drain().await;
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_hi_batch WHERE end_time_ IS NOT NULL").await, 4);
    assert_eq!(listed(&erin, "/history/batch").await, erin_sees);
    assert_eq!(erin.get("/history/batch/count").await.1["count"], 2);
    for hidden in [&of_b, &mixed] {
        assert_eq!(erin.get(&format!("/history/batch/{hidden}")).await.0, 404);
        let (status, body) = erin.delete(&format!("/history/batch/{hidden}")).await;
        let unknown = json!(format!("Unable to delete historic batch with id '{hidden}'"));
        assert_eq!((status, body["message"].clone()), (400, unknown));
    }
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_hi_batch").await, 4, "no historic batch deleted");
    assert_eq!(bob.delete(&format!("/history/batch/{of_b}")).await.0, 204, "bob's own is his to delete");
}

#[tokio::test]
async fn batches_are_listed_only_with_read_permission_and_actions_need_theirs() {
    let db = TestDb::new().await;
    seed_instances(&db, 4).await;
    let api = spawn(&db, &[]).await;
    let id = api.start_deletion(&json!({"processInstanceIds": ["pi-2"]})).await;
    let pw = user(&db, "frank", &[], &[]).await;
    let frank = api.as_user("frank", pw);

    let (_, list) = frank.get("/batch").await;
    assert_eq!(list, json!([]), "no READ on batches: nothing listed");
    assert_eq!(frank.get(&format!("/batch/{id}")).await.0, 404);
    let (_, historic) = frank.get("/history/batch").await;
    assert_eq!(historic, json!([]));

    authorize(&db, 1, "user:frank", 13, &id, 2 | 4096).await;
    assert_eq!(frank.get("/batch").await.1.as_array().unwrap().len(), 1);
    assert_eq!(frank.get(&format!("/batch/{id}")).await.0, 200);
    assert_eq!(frank.get("/history/batch").await.1.as_array().unwrap().len(), 1);

    let (status, denied) = frank.put(&format!("/batch/{id}/suspended"), &json!({"suspended": true})).await;
    assert_eq!(status, 403, "{denied}");
    assert_eq!(
        denied["message"],
        format!("The user with id 'frank' does not have 'UPDATE' permission on resource '{id}' of type 'Batch'.")
    );
    assert_eq!(denied["permissionName"], "UPDATE");
    assert_eq!(denied["resourceId"], id.as_str());
    assert_eq!(frank.delete(&format!("/batch/{id}")).await.0, 403);
    assert_eq!(frank.delete(&format!("/history/batch/{id}")).await.0, 403);
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch WHERE NOT suspended_").await, 1, "nothing changed");

    db.exec("UPDATE act_ru_authorization SET perms_ = perms_ | 4 | 16 WHERE user_id_ = 'frank'").await;
    assert_eq!(frank.put(&format!("/batch/{id}/suspended"), &json!({"suspended": true})).await.0, 204);
    assert_eq!(frank.delete(&format!("/batch/{id}")).await.0, 204);
}

/// The operation log rows of `operation`, as `property=value` sorted, with the user.
async fn op_log(db: &TestDb, operation: &str, entity: &str) -> Vec<String> {
    db.strings(&format!(
        "SELECT user_id_ || ' ' || coalesce(property_, '-') || '=' || coalesce(new_value_, '-')
              || ' batch=' || coalesce(batch_id_, '-') || ' ' || category_
           FROM act_hi_op_log WHERE operation_type_ = '{operation}' AND entity_type_ = '{entity}'
            AND proc_inst_id_ IS NULL ORDER BY property_"
    ))
    .await
}

#[tokio::test]
async fn every_action_writes_camundas_operation_log_and_each_deleted_instance_a_row_of_its_own() {
    let db = TestDb::new().await;
    seed_instances(&db, 6).await;
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let user = system_tests::TEST_USER.0;
    let (_, batch) = api
        .post("/process-instance/delete", &json!({"processInstanceIds": ["pi-1", "pi-2"], "deleteReason": "gdpr"}))
        .await;
    let id = batch["id"].as_str().unwrap().to_owned();
    assert_eq!(
        op_log(&db, "Delete", "ProcessInstance").await,
        [
            format!("{user} async=true batch=- Operator"),
            format!("{user} deleteReason=gdpr batch=- Operator"),
            format!("{user} nrOfInstances=2 batch=- Operator"),
        ]
    );
    assert_eq!(
        db.scalar("SELECT count(DISTINCT operation_id_) FROM act_hi_op_log WHERE proc_inst_id_ IS NULL").await,
        1,
        "one operation id for the three rows"
    );

    api.put(&format!("/batch/{id}/suspended"), &json!({"suspended": true})).await;
    api.put(&format!("/batch/{id}/suspended"), &json!({"suspended": false})).await;
    assert_eq!(
        op_log(&db, "SuspendBatch", "Batch").await,
        [format!("{user} suspensionState=suspended batch={id} Operator")]
    );
    assert_eq!(
        op_log(&db, "ActivateBatch", "Batch").await,
        [format!("{user} suspensionState=active batch={id} Operator")]
    );

    let worker = DrivenWorker::connect(settings.clone()).await;
    worker.drain().await;
    let rows = db
        .strings(&format!(
            "SELECT proc_inst_id_ || ' ' || proc_def_id_ || ' ' || coalesce(root_proc_inst_id_, '-') || ' ' || user_id_
               FROM act_hi_op_log WHERE batch_id_ = '{id}' AND entity_type_ = 'ProcessInstance'
                AND operation_type_ = 'Delete' AND proc_inst_id_ IS NOT NULL ORDER BY 1"
        ))
        .await;
    // pi-1 took its called instance c-1 along: three instances, three rows.
    assert_eq!(rows, [format!("c-1 pd1 - {user}"), format!("pi-1 pd1 - {user}"), format!("pi-2 pd1 - {user}")]);

    let (_, second) = api.post("/process-instance/delete", &json!({"processInstanceIds": ["pi-4"]})).await;
    let second = second["id"].as_str().unwrap().to_owned();
    api.delete(&format!("/batch/{second}?cascade=false")).await;
    api.delete(&format!("/history/batch/{second}")).await;
    assert_eq!(
        op_log(&db, "Delete", "Batch").await,
        [format!("{user} cascadeToHistory=false batch={second} Operator")]
    );
    assert_eq!(op_log(&db, "DeleteHistory", "Batch").await, [format!("{user} -=- batch={second} Operator")]);
}

#[tokio::test]
async fn each_instance_of_a_thousand_instance_batch_gets_one_operation_log_row_with_its_deletion() {
    let db = TestDb::new().await;
    seed_instances(&db, 1000).await;
    db.exec(
        "UPDATE act_hi_procinst SET proc_def_key_ = 'p', tenant_id_ = 'T' WHERE id_ = 'pi-7';
         UPDATE act_hi_procinst SET root_proc_inst_id_ = 'pi-1' WHERE id_ = 'c-1';",
    )
    .await;
    let settings = db.settings(&[]);
    let api = TestApi::spawn(settings.clone()).await;
    let id = api.start_deletion(&json!({"processInstanceQuery": {}, "deleteReason": "retention"})).await;
    DrivenWorker::connect(settings).await.drain().await;

    let user = system_tests::TEST_USER.0;
    let of_batch = format!("FROM act_hi_op_log WHERE batch_id_ = '{id}' AND proc_inst_id_ IS NOT NULL");
    // 1 000 requested instances and the one pi-1 calls.
    assert_eq!(db.scalar(&format!("SELECT count(*) {of_batch}")).await, 1001);
    assert_eq!(db.scalar(&format!("SELECT count(DISTINCT proc_inst_id_) {of_batch}")).await, 1001);
    assert_eq!(
        db.scalar(&format!("SELECT count(DISTINCT operation_id_) {of_batch}")).await,
        1001,
        "one operation each"
    );
    let odd = format!(
        "SELECT count(*) {of_batch} AND NOT (user_id_ = '{user}' AND operation_type_ = 'Delete'
            AND entity_type_ = 'ProcessInstance' AND category_ = 'Operator' AND property_ IS NULL AND id_ <> operation_id_)"
    );
    assert_eq!(db.scalar(&odd).await, 0, "every row names the creator, as Camunda's row for one deletion");
    // Each row is the instance's deletion: the same moment as its history's end, and its definition.
    let mismatched = format!(
        "SELECT count(*) {of_batch} AND NOT EXISTS (
            SELECT 1 FROM act_hi_procinst h
             WHERE h.id_ = act_hi_op_log.proc_inst_id_ AND h.state_ = 'EXTERNALLY_TERMINATED'
               AND h.delete_reason_ = 'retention' AND h.end_time_ = act_hi_op_log.timestamp_
               AND h.proc_def_id_ = act_hi_op_log.proc_def_id_
               AND h.proc_def_key_ IS NOT DISTINCT FROM act_hi_op_log.proc_def_key_
               AND h.tenant_id_ IS NOT DISTINCT FROM act_hi_op_log.tenant_id_)"
    );
    assert_eq!(db.scalar(&mismatched).await, 0);
    assert_eq!(
        db.strings(&format!("SELECT proc_def_key_ || '/' || tenant_id_ {of_batch} AND proc_inst_id_ = 'pi-7'")).await,
        ["p/T"]
    );
    assert_eq!(
        db.strings(&format!("SELECT root_proc_inst_id_ {of_batch} AND proc_inst_id_ = 'c-1'")).await,
        ["pi-1"],
        "a called instance's row names its root"
    );
    // Ids are time-ordered UUIDs (version 7: the first 48 bits are the Unix milliseconds of
    // the insert), so consecutive rows append to the primary key's index.
    let untimed = format!(
        "SELECT count(*) {of_batch} AND NOT (
            id_ ~ '^[0-9a-f]{{8}}-[0-9a-f]{{4}}-7[0-9a-f]{{3}}-[89ab][0-9a-f]{{3}}-[0-9a-f]{{12}}$'
            AND abs(('x' || lpad(replace(left(id_, 13), '-', ''), 16, '0'))::bit(64)::bigint
                    - (extract(epoch from timestamp_) * 1000)::bigint) < 60000)"
    );
    assert_eq!(db.scalar(&untimed).await, 0, "every id carries the moment of its insert");
}

#[tokio::test]
async fn without_per_instance_audit_only_the_batch_operations_are_logged() {
    let db = TestDb::new().await;
    seed_instances(&db, 5).await;
    let settings = db.settings(&[("SWEEP__AUDIT__PER_INSTANCE", "false")]);
    let api = TestApi::spawn(settings.clone()).await;
    api.start_deletion(&json!({"processInstanceQuery": {}})).await;
    DrivenWorker::connect(settings).await.drain().await;
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_execution").await, 0, "all deleted");
    assert_eq!(db.scalar("SELECT count(*) FROM act_hi_op_log WHERE proc_inst_id_ IS NOT NULL").await, 0);
    assert_eq!(db.scalar("SELECT count(*) FROM act_hi_op_log WHERE proc_inst_id_ IS NULL").await, 3);
}

#[tokio::test]
async fn in_oidc_mode_a_valid_bearer_token_works_and_anything_else_gets_401() {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    let db = TestDb::new().await;
    seed_instances(&db, 2).await;
    let key = |kid: &str| {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        let key = EncodingKey::from_ec_der(pkcs8.as_ref());
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        (key, jwk)
    };
    let (signing, jwk) = key("k1");
    let (stranger, _) = key("k1");
    let jwks = std::env::temp_dir().join(format!("sweep-jwks-{}.json", uuid::Uuid::new_v4().simple()));
    std::fs::write(&jwks, json!({ "keys": [jwk] }).to_string()).unwrap();
    let api = spawn(
        &db,
        &[
            ("SWEEP__AUTH__MODE", "oidc"),
            ("SWEEP__AUTH__OIDC__JWKS", jwks.to_str().unwrap()),
            ("SWEEP__AUTH__OIDC__ISSUER", "https://idp.test/realms/sweep"),
            ("SWEEP__AUTH__OIDC__AUDIENCE", "sweep"),
        ],
    )
    .await;
    let now = jsonwebtoken::get_current_timestamp();
    let claims = |field: &str, value: serde_json::Value| {
        let mut c = json!({"iss": "https://idp.test/realms/sweep", "aud": "sweep", "sub": "gina",
                           "groups": ["camunda-admin"], "exp": now + 600});
        c[field] = value;
        c
    };
    let sign = |key: &EncodingKey, claims: &serde_json::Value| {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k1".to_owned());
        jsonwebtoken::encode(&header, claims, key).unwrap()
    };
    let with_token = |token: String| {
        let api = api.anonymous();
        async move {
            let resp = api
                .request(Method::POST, "/process-instance/delete")
                .bearer_auth(token)
                .json(&json!({"processInstanceIds": ["pi-2"]}))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let challenge = resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
            (status, challenge, resp.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };

    let (status, _, batch) = with_token(sign(&signing, &claims("sub", json!("gina")))).await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch["createUserId"], "gina", "the user comes from the token");

    let unsigned = {
        use base64::Engine;
        let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.", b64(json!({"alg": "none", "typ": "JWT"})), b64(claims("sub", json!("gina"))))
    };
    for (why, token) in [
        ("expired", sign(&signing, &claims("exp", json!(now - 3600)))),
        ("wrong issuer", sign(&signing, &claims("iss", json!("https://evil.test")))),
        ("wrong audience", sign(&signing, &claims("aud", json!("someone-else")))),
        ("another key", sign(&stranger, &claims("sub", json!("gina")))),
        ("alg none", unsigned),
    ] {
        let (status, challenge, _) = with_token(token).await;
        assert_eq!(status, 401, "{why}");
        assert_eq!(challenge.as_deref(), Some("Bearer"), "{why}");
    }
    // Basic credentials are refused in OIDC mode.
    assert_eq!(api.get("/batch").await.0, 401);
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_hi_batch").await, 1, "only the valid token created a batch");
    std::fs::remove_file(jwks).ok();
}

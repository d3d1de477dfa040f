//! The process-instance query language end to end: every runtime filter against a fixture of
//! Camunda 7 rows (each case includes some instances and excludes others), GET converters,
//! paging and sorting, Camunda error bodies, the historic query's id selection, and embedding
//! a query after caller-bound parameters.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use shared::query::{HistoricProcessInstanceQueryDto, ProcessInstanceQueryDto, SqlBuilder};
use system_tests::{TestApi, TestDb};

const ALL: &[&str] = &["pi1", "pi2", "pi3", "pi4", "pi5", "pi6"];

fn def(id: &str, key: &str, name: &str, version: i32, deployment: &str, tenant: Option<&str>) -> String {
    format!(
        "INSERT INTO act_re_procdef (id_, rev_, key_, name_, version_, deployment_id_, tenant_id_, suspension_state_) \
         VALUES ('{id}', 1, '{key}', '{name}', {version}, '{deployment}', {}, 1);\n",
        opt(tenant)
    )
}

fn opt(v: Option<&str>) -> String {
    v.map_or("NULL".into(), |v| format!("'{v}'"))
}

/// A process-instance row plus one child execution in `activity`.
struct Pi<'a> {
    id: &'a str,
    def: &'a str,
    key: &'a str,
    business_key: Option<&'a str>,
    tenant: Option<&'a str>,
    suspension: i32,
    root: &'a str,
    super_exec: Option<&'a str>,
    case_inst: Option<&'a str>,
    super_case_exec: Option<&'a str>,
}

impl Pi<'_> {
    fn sql(&self) -> String {
        let Pi { id, def, key, root, suspension, .. } = self;
        format!(
            "INSERT INTO act_ru_execution (id_, rev_, root_proc_inst_id_, proc_inst_id_, business_key_, parent_id_, \
             proc_def_id_, super_exec_, super_case_exec_, case_inst_id_, act_id_, is_active_, is_concurrent_, is_scope_, \
             is_event_scope_, suspension_state_, tenant_id_, proc_def_key_) VALUES ('{id}', 1, '{root}', '{id}', {}, NULL, \
             '{def}', {}, {}, {}, NULL, false, false, true, false, {suspension}, {}, '{key}');\n",
            opt(self.business_key),
            opt(self.super_exec),
            opt(self.super_case_exec),
            opt(self.case_inst),
            opt(self.tenant),
        )
    }
}

fn child(id: &str, pi: &str, def: &str, activity: &str, event_scope: bool) -> String {
    format!(
        "INSERT INTO act_ru_execution (id_, rev_, root_proc_inst_id_, proc_inst_id_, parent_id_, proc_def_id_, act_id_, \
         is_active_, is_concurrent_, is_scope_, is_event_scope_, suspension_state_) \
         VALUES ('{id}', 1, '{pi}', '{pi}', '{pi}', '{def}', '{activity}', true, false, false, {event_scope}, 1);\n"
    )
}

/// A variable; `value` is the SQL for `(text_, long_, double_)`.
fn var(id: &str, pi: &str, name: &str, ty: &str, value: &str, task: Option<&str>) -> String {
    format!(
        "INSERT INTO act_ru_variable (id_, rev_, type_, name_, execution_id_, proc_inst_id_, task_id_, text_, long_, \
         double_, var_scope_) VALUES ('{id}', 1, '{ty}', '{name}', '{pi}', '{pi}', {}, {value}, '{id}');\n",
        opt(task)
    )
}

fn incident(id: &str, pi: &str, def: &str, ty: &str, msg: &str) -> String {
    format!(
        "INSERT INTO act_ru_incident (id_, rev_, incident_timestamp_, incident_msg_, incident_type_, execution_id_, \
         proc_inst_id_, proc_def_id_, root_cause_incident_id_) \
         VALUES ('{id}', 1, now(), '{msg}', '{ty}', '{pi}', '{pi}', '{def}', '{id}');\n"
    )
}

/// 2020-01-01T00:00:00Z in epoch milliseconds.
const NEW_YEAR_2020_MS: i64 = 1_577_836_800_000;

async fn runtime_fixture(db: &TestDb) {
    let mut sql = String::new();
    sql += &def("d_order1", "order", "Order", 1, "dep1", None);
    sql += &def("d_order2", "order", "Order", 2, "dep2", None);
    sql += &def("d_invoice", "invoice", "Invoice", 1, "dep1", Some("t1"));
    sql += &def("d_sub", "sub", "Sub", 1, "dep2", Some("t2"));
    let base = Pi {
        id: "",
        def: "d_order1",
        key: "order",
        business_key: None,
        tenant: None,
        suspension: 1,
        root: "",
        super_exec: None,
        case_inst: None,
        super_case_exec: None,
    };
    sql += &Pi { id: "pi1", root: "pi1", business_key: Some("bk-1"), ..base }.sql();
    sql += &child("ex1a", "pi1", "d_order1", "taskA", false);
    sql += &Pi { id: "pi2", root: "pi2", def: "d_order2", business_key: Some("bk-2"), suspension: 2, ..base }.sql();
    sql += &child("ex2a", "pi2", "d_order2", "taskB", false);
    sql += &Pi {
        id: "pi3",
        root: "pi3",
        def: "d_invoice",
        key: "invoice",
        business_key: Some("other-3"),
        tenant: Some("t1"),
        ..base
    }
    .sql();
    sql += &child("ex3a", "pi3", "d_invoice", "taskA", true);
    sql += &child("ex3b", "pi3", "d_invoice", "callSub", false);
    sql +=
        &Pi { id: "pi4", root: "pi3", def: "d_sub", key: "sub", tenant: Some("t2"), super_exec: Some("ex3b"), ..base }
            .sql();
    sql += &child("ex4a", "pi4", "d_sub", "subTask", false);
    sql += &Pi { id: "pi5", root: "pi5", case_inst: Some("case1"), super_case_exec: Some("case1"), ..base }.sql();
    sql += &Pi { id: "pi6", root: "pi6", case_inst: Some("case2"), super_case_exec: Some("caseExec9"), ..base }.sql();

    sql += &var("v1a", "pi1", "amount", "long", "NULL, 10, NULL", None);
    sql += &var("v1b", "pi1", "name", "string", "'Alice', NULL, NULL", None);
    sql += &var("v1c", "pi1", "flag", "boolean", "NULL, 1, NULL", None);
    sql += &var("v1d", "pi1", "score", "double", "NULL, NULL, 2.5", None);
    sql += &var("v1e", "pi1", "nothing", "null", "NULL, NULL, NULL", None);
    sql += &var("v1f", "pi1", "code", "string", "'2020-01-01T00:00:00.000+0000', NULL, NULL", None);
    sql += &var("v2a", "pi2", "amount", "integer", "NULL, 20, NULL", None);
    sql += &var("v2b", "pi2", "name", "string", "'bob', NULL, NULL", None);
    sql += &var("v2c", "pi2", "flag", "boolean", "NULL, 0, NULL", None);
    sql += &var("v2d", "pi2", "score", "double", "NULL, NULL, 10.0", None);
    sql += &var("v2e", "pi2", "code", "date", &format!("NULL, {NEW_YEAR_2020_MS}, NULL"), None);
    sql += &var("v3a", "pi3", "amount", "double", "NULL, NULL, 10.0", None);
    sql += &var("v3b", "pi3", "name", "string", "'ALICE', NULL, NULL", None);
    // A task variable does not count as a process variable.
    sql += &var("v4a", "pi4", "amount", "long", "NULL, 10, NULL", Some("task-1"));
    sql += &var("v5a", "pi5", "amount", "string", "'15', NULL, NULL", None);

    sql += &incident("inc1", "pi1", "d_order1", "failedJob", "boom");
    sql += &incident("inc3", "pi3", "d_invoice", "failedExternalTask", "timeout happened");
    db.exec(&sql).await;
}

async fn sorted_ids(api: &TestApi, body: &Value) -> Vec<String> {
    let (status, list) = api.post("/process-instance", body).await;
    assert_eq!(status, 200, "{body}: {list}");
    let mut ids: Vec<String> = list.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

fn ids_of(list: &Value) -> Vec<&str> {
    list.as_array().unwrap_or_else(|| panic!("not a list: {list}")).iter().map(|p| p["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn every_runtime_filter_includes_its_matches_and_excludes_the_rest() {
    let db = TestDb::new().await;
    runtime_fixture(&db).await;
    let api = TestApi::spawn(db.settings(&[])).await;
    let v = |name: &str, op: &str, value: Value| json!({"name": name, "operator": op, "value": value});
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), ALL.to_vec()),
        (json!({"processInstanceIds": ["pi1", "pi3", "nope", "ex1a"]}), vec!["pi1", "pi3"]),
        (json!({"businessKey": "bk-1"}), vec!["pi1"]),
        (json!({"businessKeyLike": "bk-%"}), vec!["pi1", "pi2"]),
        (json!({"caseInstanceId": "case1"}), vec!["pi5"]),
        (json!({"processDefinitionId": "d_order2"}), vec!["pi2"]),
        (json!({"processDefinitionKey": "order"}), vec!["pi1", "pi2", "pi5", "pi6"]),
        (json!({"processDefinitionKeyIn": ["invoice", "sub"]}), vec!["pi3", "pi4"]),
        (json!({"processDefinitionKeyIn": []}), ALL.to_vec()),
        (json!({"processDefinitionKeyNotIn": ["order"]}), vec!["pi3", "pi4"]),
        (json!({"deploymentId": "dep2"}), vec!["pi2", "pi4"]),
        (json!({"superProcessInstance": "pi3"}), vec!["pi4"]),
        (json!({"subProcessInstance": "pi4"}), vec!["pi3"]),
        (json!({"superCaseInstance": "case1"}), vec!["pi5"]),
        (json!({"superCaseInstance": "case2"}), vec!["pi6"]),
        (json!({"subCaseInstance": "case1"}), vec![]),
        (json!({"active": true}), vec!["pi1", "pi3", "pi4", "pi5", "pi6"]),
        (json!({"active": false}), ALL.to_vec()),
        (json!({"suspended": true}), vec!["pi2"]),
        (json!({"suspended": true, "active": true}), vec!["pi2"]),
        (json!({"withIncident": true}), vec!["pi1", "pi3"]),
        (json!({"incidentId": "inc3"}), vec!["pi3"]),
        (json!({"incidentType": "failedJob"}), vec!["pi1"]),
        (json!({"incidentMessage": "boom"}), vec!["pi1"]),
        (json!({"incidentMessageLike": "%timeout%"}), vec!["pi3"]),
        // Top-level incident filters must hold for the same incident.
        (json!({"incidentType": "failedJob", "incidentMessage": "timeout happened"}), vec![]),
        (json!({"rootProcessInstanceId": "pi3"}), vec!["pi3", "pi4"]),
        (json!({"rootProcessInstances": true}), vec!["pi1", "pi2", "pi3", "pi5", "pi6"]),
        (json!({"leafProcessInstances": true}), vec!["pi1", "pi2", "pi4", "pi5", "pi6"]),
        (json!({"tenantIdIn": ["t1"]}), vec!["pi3"]),
        (json!({"tenantIdIn": ["t1", "t2"]}), vec!["pi3", "pi4"]),
        (json!({"withoutTenantId": true}), vec!["pi1", "pi2", "pi5", "pi6"]),
        (json!({"processDefinitionWithoutTenantId": true}), vec!["pi1", "pi2", "pi5", "pi6"]),
        (json!({"activityIdIn": ["taskA"]}), vec!["pi1"]),
        (json!({"activityIdIn": ["taskB", "callSub"]}), vec!["pi2", "pi3"]),
        // Numbers meet across long, integer and double storage; task variables do not count.
        (json!({"variables": [v("amount", "eq", json!(10))]}), vec!["pi1", "pi3"]),
        (json!({"variables": [v("amount", "eq", json!(10.0))]}), vec!["pi1", "pi3"]),
        (json!({"variables": [v("amount", "neq", json!(10))]}), vec!["pi2"]),
        (json!({"variables": [v("amount", "gt", json!(15))]}), vec!["pi2"]),
        (json!({"variables": [v("amount", "gteq", json!(10))]}), vec!["pi1", "pi2", "pi3"]),
        (json!({"variables": [v("amount", "lt", json!(20))]}), vec!["pi1", "pi3"]),
        (json!({"variables": [v("amount", "lteq", json!(20))]}), vec!["pi1", "pi2", "pi3"]),
        (json!({"variables": [v("score", "gt", json!(3))]}), vec!["pi2"]),
        (json!({"variables": [v("score", "lt", json!(3))]}), vec!["pi1"]),
        // A string "15" is not the number 15, but `like` compares text whatever the value.
        (json!({"variables": [v("amount", "eq", json!(15))]}), vec![]),
        (json!({"variables": [v("amount", "eq", json!("15"))]}), vec!["pi5"]),
        (json!({"variables": [v("amount", "like", json!(15))]}), vec!["pi5"]),
        (json!({"variables": [v("amount", "like", json!("1%"))]}), vec!["pi5"]),
        (json!({"variables": [v("name", "eq", json!("Alice"))]}), vec!["pi1"]),
        (json!({"variables": [v("name", "eq", json!("alice"))], "variableValuesIgnoreCase": true}), vec!["pi1", "pi3"]),
        (json!({"variables": [v("name", "neq", json!("Alice"))]}), vec!["pi2", "pi3"]),
        (json!({"variables": [v("name", "like", json!("A%"))]}), vec!["pi1", "pi3"]),
        (json!({"variables": [v("name", "like", json!("a%"))], "variableValuesIgnoreCase": true}), vec!["pi1", "pi3"]),
        (json!({"variables": [v("name", "gt", json!("B"))]}), vec!["pi2"]),
        (json!({"variables": [v("NAME", "eq", json!("Alice"))]}), vec![]),
        (json!({"variables": [v("NAME", "eq", json!("Alice"))], "variableNamesIgnoreCase": true}), vec!["pi1"]),
        (json!({"variables": [v("flag", "eq", json!(true))]}), vec!["pi1"]),
        (json!({"variables": [v("flag", "eq", json!(false))]}), vec!["pi2"]),
        (json!({"variables": [v("flag", "neq", json!(true))]}), vec!["pi2"]),
        (json!({"variables": [v("nothing", "eq", Value::Null)]}), vec!["pi1"]),
        (json!({"variables": [v("flag", "neq", Value::Null)]}), vec!["pi1", "pi2"]),
        (json!({"variables": [v("amount", "eq", json!(10)), v("name", "eq", json!("Alice"))]}), vec!["pi1"]),
        // The REST list reads date-formatted strings as dates.
        (json!({"variables": [v("code", "gt", json!("2019-12-31T00:00:00.000+0000"))]}), vec!["pi2"]),
        (json!({"variables": [v("code", "eq", json!("2020-01-01T00:00:00.000+0000"))]}), vec!["pi2"]),
        // orQueries: predicates OR-ed inside a group, groups AND-ed with the rest.
        (json!({"orQueries": [{"businessKey": "bk-1", "tenantIdIn": ["t1"]}]}), vec!["pi1", "pi3"]),
        (
            json!({"processDefinitionKey": "order", "orQueries": [{"businessKey": "bk-1", "tenantIdIn": ["t1"]}]}),
            vec!["pi1"],
        ),
        (
            json!({"orQueries": [{"businessKeyLike": "bk-%", "tenantIdIn": ["t2"]}, {"suspended": true, "withIncident": true}]}),
            vec!["pi1", "pi2"],
        ),
        (json!({"orQueries": [{}]}), ALL.to_vec()),
        (
            json!({"orQueries": [{"incidentType": "failedJob", "incidentMessage": "timeout happened"}]}),
            vec!["pi1", "pi3"],
        ),
        (
            json!({"orQueries": [{"variables": [v("amount", "eq", json!(20)), v("name", "eq", json!("Alice"))]}]}),
            vec!["pi1", "pi2"],
        ),
        (json!({"orQueries": [{"businessKey": "bk-1", "orQueries": [{"businessKey": "bk-2"}]}]}), vec!["pi1"]),
        (json!({"orQueries": [{"businessKey": "bk-1", "sortBy": "nonsense"}]}), vec!["pi1"]),
    ];
    for (body, expected) in cases {
        assert_eq!(sorted_ids(&api, &body).await, expected, "{body}");
        let (status, count) = api.post("/process-instance/count", &body).await;
        assert_eq!((status, count["count"].as_u64()), (200, Some(expected.len() as u64)), "{body}");
    }
    // Integer and float values alternate over the same pooled connections and cached statements.
    for value in [json!(10), json!(10.0)].iter().cycle().take(12) {
        let body = json!({"variables": [v("amount", "eq", value.clone())]});
        assert_eq!(sorted_ids(&api, &body).await, ["pi1", "pi3"], "{body}");
    }
}

#[tokio::test]
async fn get_converts_query_parameters_like_camunda() {
    let db = TestDb::new().await;
    runtime_fixture(&db).await;
    let api = TestApi::spawn(db.settings(&[])).await;
    let cases: &[(&str, &[&str])] = &[
        ("processDefinitionKey=order&active=true", &["pi1", "pi5", "pi6"]),
        ("tenantIdIn=t1,t2", &["pi3", "pi4"]),
        ("processInstanceIds=pi2,pi4", &["pi2", "pi4"]),
        ("processDefinitionKeyIn=&unknownParam=1", ALL),
        ("suspended=false", ALL),
        ("withIncident=true&incidentType=failedJob", &["pi1"]),
        ("variables=amount_eq_15", &["pi5"]),
        ("variables=name_like_A%25,name_neq_ALICE", &["pi1"]),
        ("variables=NAME_eq_alice&variableNamesIgnoreCase=true&variableValuesIgnoreCase=true", &["pi1", "pi3"]),
        ("activityIdIn=taskB,callSub&rootProcessInstances=true", &["pi2", "pi3"]),
        ("superProcessInstance=pi3", &["pi4"]),
        ("leafProcessInstances=true&withoutTenantId=true&businessKeyLike=bk%25", &["pi1", "pi2"]),
    ];
    for (qs, expected) in cases {
        let (status, list) = api.get(&format!("/process-instance?{qs}")).await;
        assert_eq!(status, 200, "{qs}: {list}");
        let mut ids = ids_of(&list);
        ids.sort();
        assert_eq!(ids, *expected, "{qs}");
        let (status, count) = api.get(&format!("/process-instance/count?{qs}")).await;
        assert_eq!((status, count), (200, json!({"count": expected.len()})), "{qs}");
    }
}

#[tokio::test]
async fn lists_page_and_sort_by_one_or_several_keys() {
    let db = TestDb::new().await;
    runtime_fixture(&db).await;
    let api = TestApi::spawn(db.settings(&[])).await;
    let get = |qs: &'static str| {
        let api = &api;
        async move {
            let (status, list) = api.get(&format!("/process-instance{qs}")).await;
            assert_eq!(status, 200, "{qs}: {list}");
            ids_of(&list).into_iter().map(str::to_owned).collect::<Vec<_>>()
        }
    };
    assert_eq!(get("").await, ALL);
    assert_eq!(get("?sortBy=instanceId&sortOrder=desc").await, ["pi6", "pi5", "pi4", "pi3", "pi2", "pi1"]);
    assert_eq!(get("?maxResults=2").await, ["pi1", "pi2"]);
    assert_eq!(get("?firstResult=2&maxResults=2").await, ["pi3", "pi4"]);
    assert_eq!(get("?firstResult=5").await, ["pi6"]);
    assert_eq!(get("?maxResults=0").await, Vec::<String>::new());
    assert_eq!(get("?sortBy=businessKey&sortOrder=desc&maxResults=3").await, ["pi4", "pi5", "pi6"]);
    assert_eq!(get("?sortBy=definitionKey&sortOrder=asc").await, ["pi3", "pi1", "pi2", "pi5", "pi6", "pi4"]);
    assert_eq!(get("?sortBy=tenantId&sortOrder=asc").await, ["pi3", "pi4", "pi1", "pi2", "pi5", "pi6"]);
    assert_eq!(get("?sortBy=definitionId&sortOrder=desc").await, ["pi4", "pi2", "pi1", "pi5", "pi6", "pi3"]);

    // POST: top-level pair first, then the `sorting` entries; paging stays in the query string.
    let body = json!({"sortBy": "definitionKey", "sortOrder": "desc",
                      "sorting": [{"sortBy": "businessKey", "sortOrder": "desc"}]});
    let (status, list) = api.post("/process-instance", &body).await;
    assert_eq!(status, 200, "{list}");
    // PostgreSQL puts NULLs first when descending, as Camunda's SQL on PostgreSQL does.
    assert_eq!(ids_of(&list), ["pi4", "pi5", "pi6", "pi2", "pi1", "pi3"]);
    let body = json!({"sorting": [{"sortBy": "definitionId", "sortOrder": "asc"}, {"sortBy": "instanceId", "sortOrder": "desc"}]});
    let (_, list) = api.post("/process-instance?firstResult=1&maxResults=3", &body).await;
    assert_eq!(ids_of(&list), ["pi6", "pi5", "pi1"]);
}

#[tokio::test]
async fn single_instances_are_found_by_id_or_answer_404() {
    let db = TestDb::new().await;
    runtime_fixture(&db).await;
    let api = TestApi::spawn(db.settings(&[])).await;
    let (status, pi) = api.get("/process-instance/pi2").await;
    assert_eq!(status, 200);
    assert_eq!(
        pi,
        json!({"id": "pi2", "definitionId": "d_order2", "definitionKey": "order", "businessKey": "bk-2",
               "caseInstanceId": null, "ended": false, "suspended": true, "tenantId": null, "links": []})
    );
    let (_, list) = api.get("/process-instance?processInstanceIds=pi5").await;
    assert_eq!(list[0]["caseInstanceId"], "case1");
    assert_eq!(list[0]["suspended"], false);
    for id in ["nope", "ex1a"] {
        let (status, body) = api.get(&format!("/process-instance/{id}")).await;
        assert_eq!(status, 404);
        assert_eq!(
            body,
            json!({"type": "InvalidRequestException", "message": format!("Process instance with id {id} does not exist"), "code": null})
        );
    }
}

#[tokio::test]
async fn bad_input_answers_400_with_a_camunda_body() {
    let db = TestDb::new().await;
    runtime_fixture(&db).await;
    let api = TestApi::spawn(db.settings(&[])).await;
    let bad_gets: &[(&str, &str)] = &[
        (
            "?active=yes",
            "Cannot set query parameter 'active' to value 'yes': Cannot convert value yes to java type java.lang.Boolean",
        ),
        ("/count?withIncident=1", "Cannot set query parameter 'withIncident' to value '1'"),
        ("?variables=amount_eq", "variable query parameter has to have format KEY_OPERATOR_VALUE."),
        ("?variables=a_b_c_d", "variable query parameter has to have format KEY_OPERATOR_VALUE."),
        ("?variables=amount_notLike_x", "Invalid variable comparator specified: notLike"),
        ("?maxResults=ten", "Cannot set query parameter 'maxResults' to value 'ten'"),
        ("?firstResult=-1", "Cannot set query parameter 'firstResult' to value '-1'"),
        ("?sortBy=nope&sortOrder=asc", "Cannot set query parameter 'sortBy' to value 'nope'"),
        ("?sortBy=instanceId&sortOrder=up", "Cannot set query parameter 'sortOrder' to value 'up'"),
        ("?sortBy=instanceId", "Only a single sorting parameter specified. sortBy and sortOrder required"),
        ("?sortOrder=asc", "Only a single sorting parameter specified. sortBy and sortOrder required"),
        ("?processInstanceIds=", "Set of process instance ids is empty"),
        ("?rootProcessInstances=true&superProcessInstance=pi3", "rootProcessInstances and superProcessInstance"),
    ];
    for (path, message) in bad_gets {
        let (status, body) = api.get(&format!("/process-instance{path}")).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["type"], "InvalidRequestException", "{path}");
        assert_eq!(body["code"], Value::Null, "{path}");
        assert!(body["message"].as_str().unwrap().contains(message), "{path}: {body}");
    }
    let v = |op: &str, value: Value| json!({"variables": [{"name": "amount", "operator": op, "value": value}]});
    let bad_posts: Vec<(Value, &str)> = vec![
        (v("notLike", json!("x")), "Invalid variable comparator specified: notLike"),
        (v("gt", json!(true)), "'amount'"),
        (v("lteq", Value::Null), "'amount'"),
        (v("eq", json!({"nested": 1})), "'amount'"),
        (json!({"processInstanceIds": []}), "Set of process instance ids is empty"),
        (json!({"orQueries": [{"processInstanceIds": []}]}), "Set of process instance ids is empty"),
        (
            json!({"rootProcessInstances": true, "superProcessInstance": "pi3"}),
            "rootProcessInstances and superProcessInstance",
        ),
        (
            json!({"leafProcessInstances": true, "subProcessInstance": "pi4"}),
            "leafProcessInstances and subProcessInstance",
        ),
        (json!({"sortBy": "instanceId"}), "Only a single sorting parameter specified"),
        (
            json!({"sortBy": "startTime", "sortOrder": "asc"}),
            "Cannot set query parameter 'sortBy' to value 'startTime'",
        ),
        (json!({"sorting": [{"sortBy": "instanceId", "sortOrder": "sideways"}]}), "'sortOrder' to value 'sideways'"),
        (json!({"sorting": [{"sortBy": "instanceId"}]}), "sortBy and sortOrder required"),
        (json!({"active": "yes"}), ""),
        (json!({"tenantIdIn": "t1"}), ""),
    ];
    for (body, message) in bad_posts {
        for path in ["/process-instance", "/process-instance/count"] {
            let (status, resp) = api.post(path, &body).await;
            assert_eq!(status, 400, "{path} {body}: {resp}");
            assert_eq!(resp["type"], "InvalidRequestException", "{body}");
            assert!(resp["message"].as_str().unwrap().contains(message), "{body}: {resp}");
        }
    }
    let (status, resp) = api.post_raw("/process-instance", "application/json", "{not json").await;
    assert_eq!((status, resp["type"].as_str()), (400, Some("InvalidRequestException")));
    let (status, _) = api.post("/process-instance?maxResults=x", &json!({})).await;
    assert_eq!(status, 400);
    // Nothing was touched.
    assert_eq!(db.scalar("SELECT count(*) FROM act_ru_execution WHERE id_ = proc_inst_id_").await, 6);
}

async fn select_ids(db: &TestDb, b: SqlBuilder) -> Vec<String> {
    let rows = db.db.query_all_raw(b.into_statement()).await.expect("query runs");
    let mut ids: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "id").unwrap()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn runtime_id_select_compares_date_like_strings_as_strings() {
    let db = TestDb::new().await;
    runtime_fixture(&db).await;
    let query: ProcessInstanceQueryDto = serde_json::from_value(json!({
        "variables": [{"name": "code", "operator": "eq", "value": "2020-01-01T00:00:00.000+0000"}]
    }))
    .unwrap();
    let mut b = SqlBuilder::new();
    query.push_id_select(&mut b).unwrap();
    assert_eq!(select_ids(&db, b).await, ["pi1"]);
}

async fn historic_fixture(db: &TestDb) {
    let hi = |id: &str, key: &str, def: &str, state: &str, start: &str, end: Option<&str>, extra: &str| {
        format!(
            "INSERT INTO act_hi_procinst (id_, proc_inst_id_, proc_def_key_, proc_def_id_, start_time_, end_time_, state_, \
             root_proc_inst_id_, business_key_, start_user_id_, super_process_instance_id_, tenant_id_, case_inst_id_, \
             super_case_instance_id_) VALUES ('{id}', '{id}', '{key}', '{def}', '{start}', {}, '{state}', {extra});\n",
            opt(end)
        )
    };
    let mut sql = String::new();
    sql += &def("d_order1", "order", "Order", 1, "dep1", None);
    sql += &def("d_invoice", "invoice", "Invoice", 1, "dep1", Some("t1"));
    sql += &hi(
        "h1",
        "order",
        "d_order1",
        "ACTIVE",
        "2020-01-01 00:00:00",
        None,
        "'h1', 'bk-1', 'alice', NULL, NULL, NULL, NULL",
    );
    sql += &hi(
        "h2",
        "order",
        "d_order1",
        "SUSPENDED",
        "2020-06-01 00:00:00",
        None,
        "'h2', 'bk-2', 'bob', NULL, NULL, 'case1', NULL",
    );
    sql += &hi(
        "h7",
        "invoice",
        "d_invoice",
        "COMPLETED",
        "2020-12-01 00:00:00",
        Some("2021-01-01 00:00:00"),
        "'h7', 'inv-7', 'alice', NULL, 't1', NULL, 'case9'",
    );
    sql += &hi(
        "h8",
        "invoice",
        "d_invoice",
        "EXTERNALLY_TERMINATED",
        "2020-12-15 00:00:00",
        Some("2021-02-01 00:00:00"),
        "'h7', 'inv-8', 'bob', 'h7', 't2', NULL, NULL",
    );
    sql += "INSERT INTO act_hi_incident (id_, proc_inst_id_, create_time_, end_time_, incident_msg_, incident_type_, \
            activity_id_, root_cause_incident_id_, incident_state_) VALUES \
            ('hinc1', 'h1', now(), NULL, 'boom', 'failedJob', 'taskA', 'hinc1', 0), \
            ('hinc7', 'h7', now(), now(), 'timeout', 'failedExternalTask', 'taskX', 'hinc1', 1);\n";
    sql += "INSERT INTO act_hi_varinst (id_, proc_inst_id_, name_, var_type_, long_, text_, state_) VALUES \
            ('hv1', 'h1', 'amount', 'long', 5, NULL, 'CREATED'), \
            ('hv7', 'h7', 'amount', 'long', 99, NULL, 'CREATED'), \
            ('hv7b', 'h7', 'name', 'string', NULL, 'Zed', 'CREATED'), \
            ('hv8', 'h8', 'amount', 'long', 99, NULL, 'DELETED');\n";
    sql += "INSERT INTO act_hi_actinst (id_, proc_def_id_, proc_inst_id_, execution_id_, act_id_, act_type_, start_time_, end_time_) VALUES \
            ('a1', 'd_order1', 'h1', 'h1', 'taskA', 'userTask', '2020-01-01 00:00:01', NULL), \
            ('a7', 'd_invoice', 'h7', 'h7', 'taskA', 'userTask', '2020-12-01 00:00:01', '2020-12-31 00:00:00'), \
            ('a8', 'd_invoice', 'h8', 'h8', 'taskY', 'userTask', '2020-12-15 00:00:01', NULL);\n";
    sql += "INSERT INTO act_ru_job (id_, rev_, type_, process_instance_id_, retries_, exception_msg_, suspension_state_, priority_) \
            VALUES ('j1', 1, 'message', 'h2', 2, 'failed once', 1, 0), ('j2', 1, 'message', 'h1', 0, 'failed', 1, 0);\n";
    db.exec(&sql).await;
}

#[tokio::test]
async fn historic_id_select_selects_the_matching_instances() {
    let db = TestDb::new().await;
    historic_fixture(&db).await;
    let v = |name: &str, op: &str, value: Value| json!({"name": name, "operator": op, "value": value});
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["h1", "h2", "h7", "h8"]),
        (json!({"processInstanceId": "h2"}), vec!["h2"]),
        (json!({"processInstanceIds": ["h1", "h8", "nope"]}), vec!["h1", "h8"]),
        (json!({"processInstanceIdNotIn": ["h1", "h8"]}), vec!["h2", "h7"]),
        (json!({"rootProcessInstanceId": "h7"}), vec!["h7", "h8"]),
        (json!({"rootProcessInstances": true}), vec!["h1", "h2", "h7"]),
        (json!({"processDefinitionId": "d_invoice"}), vec!["h7", "h8"]),
        (json!({"processDefinitionKey": "order"}), vec!["h1", "h2"]),
        (json!({"processDefinitionKeyIn": ["invoice"]}), vec!["h7", "h8"]),
        (json!({"processDefinitionKeyNotIn": ["invoice"]}), vec!["h1", "h2"]),
        (json!({"processDefinitionName": "Invoice"}), vec!["h7", "h8"]),
        (json!({"processDefinitionNameLike": "Ord%"}), vec!["h1", "h2"]),
        (json!({"processInstanceBusinessKey": "bk-2"}), vec!["h2"]),
        (json!({"processInstanceBusinessKeyLike": "inv-%"}), vec!["h7", "h8"]),
        (json!({"processInstanceBusinessKeyIn": ["bk-1", "inv-8"]}), vec!["h1", "h8"]),
        (json!({"finished": true}), vec!["h7", "h8"]),
        (json!({"unfinished": true}), vec!["h1", "h2"]),
        (json!({"active": true}), vec!["h1"]),
        (json!({"suspended": true}), vec!["h2"]),
        (json!({"completed": true}), vec!["h7"]),
        (json!({"externallyTerminated": true}), vec!["h8"]),
        (json!({"internallyTerminated": true}), vec![]),
        (json!({"withIncidents": true}), vec!["h1", "h7"]),
        (json!({"withRootIncidents": true}), vec!["h1"]),
        (json!({"incidentIdIn": ["hinc7"]}), vec!["h7"]),
        (json!({"incidentType": "failedJob"}), vec!["h1"]),
        (json!({"incidentMessage": "timeout"}), vec!["h7"]),
        (json!({"incidentMessageLike": "bo%"}), vec!["h1"]),
        (json!({"incidentStatus": "open"}), vec!["h1"]),
        (json!({"incidentStatus": "resolved"}), vec!["h7"]),
        (json!({"withJobsRetrying": true}), vec!["h2"]),
        (json!({"startedBefore": "2020-06-01T00:00:00.000+0000"}), vec!["h1", "h2"]),
        (json!({"startedAfter": "2020-06-01T00:00:00.000+0000"}), vec!["h2", "h7", "h8"]),
        (
            json!({"startedAfter": "2020-06-01T02:00:00.000+0200", "startedBefore": "2020-12-01T00:00:00.000+0000"}),
            vec!["h2", "h7"],
        ),
        (json!({"finishedBefore": "2021-01-15T00:00:00.000+0000"}), vec!["h7"]),
        (json!({"finishedAfter": "2021-01-15T00:00:00.000+0000"}), vec!["h8"]),
        (json!({"executedActivityAfter": "2020-12-10T00:00:00.000+0000"}), vec!["h7", "h8"]),
        (json!({"executedActivityBefore": "2020-06-01T00:00:00.000+0000"}), vec!["h1"]),
        (json!({"executedActivityIdIn": ["taskA"]}), vec!["h7"]),
        (json!({"activeActivityIdIn": ["taskA", "taskY"]}), vec!["h1", "h8"]),
        (json!({"activityIdIn": ["taskA"]}), vec!["h1"]),
        (json!({"startedBy": "alice"}), vec!["h1", "h7"]),
        (json!({"superProcessInstanceId": "h7"}), vec!["h8"]),
        (json!({"subProcessInstanceId": "h8"}), vec!["h7"]),
        (json!({"superCaseInstanceId": "case9"}), vec!["h7"]),
        (json!({"subCaseInstanceId": "case9"}), vec![]),
        (json!({"caseInstanceId": "case1"}), vec!["h2"]),
        (json!({"tenantIdIn": ["t1", "t2"]}), vec!["h7", "h8"]),
        (json!({"withoutTenantId": true}), vec!["h1", "h2"]),
        (json!({"variables": [v("amount", "eq", json!(99))]}), vec!["h7"]),
        (json!({"variables": [v("amount", "lt", json!(10))]}), vec!["h1"]),
        (
            json!({"variables": [v("NAME", "eq", json!("zed"))], "variableNamesIgnoreCase": true, "variableValuesIgnoreCase": true}),
            vec!["h7"],
        ),
        (
            json!({"executedJobAfter": "2020-01-01T00:00:00.000+0000", "sortBy": "startTime"}),
            vec!["h1", "h2", "h7", "h8"],
        ),
        (json!({"orQueries": [{"active": true, "completed": true}]}), vec!["h1", "h7"]),
        (json!({"unfinished": true, "orQueries": [{"startedBy": "bob", "withIncidents": true}]}), vec!["h1", "h2"]),
        (json!({"orQueries": [{"incidentType": "failedJob", "incidentMessage": "timeout"}]}), vec!["h1", "h7"]),
    ];
    for (body, expected) in cases {
        let query: HistoricProcessInstanceQueryDto = serde_json::from_value(body.clone()).unwrap();
        let mut b = SqlBuilder::new();
        query.push_id_select(&mut b).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(select_ids(&db, b).await, expected, "{body}");
    }
    for bad in [
        json!({"active": true, "suspended": true}),
        json!({"processInstanceIds": []}),
        json!({"finishedAfter": "last week"}),
        json!({"incidentStatus": "deleted"}),
        json!({"variables": [{"name": "a", "operator": "contains", "value": 1}]}),
    ] {
        let query: HistoricProcessInstanceQueryDto = serde_json::from_value(bad.clone()).unwrap();
        let mut b = SqlBuilder::new();
        let err = query.push_id_select(&mut b).unwrap_err();
        assert!(matches!(err, shared::Error::InvalidRequest(_)), "{bad}: {err}");
    }
}

#[tokio::test]
async fn a_built_query_embeds_after_caller_bound_parameters() {
    let db = TestDb::new().await;
    runtime_fixture(&db).await;
    historic_fixture_rows_only(&db).await;
    db.exec("CREATE TABLE snapshot (batch_id text NOT NULL, proc_inst_id text NOT NULL, PRIMARY KEY (batch_id, proc_inst_id))").await;

    let runtime: ProcessInstanceQueryDto = serde_json::from_value(
        json!({"processDefinitionKey": "order", "orQueries": [{"suspended": true, "businessKey": "bk-1"}]}),
    )
    .unwrap();
    let mut b = SqlBuilder::new();
    b.push("INSERT INTO snapshot (batch_id, proc_inst_id) SELECT ").bind("batch-1").push(", q.id FROM (");
    runtime.push_id_select(&mut b).unwrap();
    b.push(") q");
    db.db.execute_raw(b.into_statement()).await.expect("insert runs");

    let historic: HistoricProcessInstanceQueryDto = serde_json::from_value(json!({"unfinished": true})).unwrap();
    let mut b = SqlBuilder::with_values(vec!["batch-2".into()]);
    b.push("INSERT INTO snapshot (batch_id, proc_inst_id) SELECT $1, q.id FROM (");
    historic.push_id_select(&mut b).unwrap();
    b.push(") q");
    db.db.execute_raw(b.into_statement()).await.expect("insert runs");

    assert_eq!(
        db.strings("SELECT batch_id || ':' || proc_inst_id FROM snapshot ORDER BY 1").await,
        ["batch-1:pi1", "batch-1:pi2", "batch-2:hx"]
    );
    // A bad query fails before anything is appended, so the caller's statement is never run.
    let bad: ProcessInstanceQueryDto = serde_json::from_value(json!({"processInstanceIds": []})).unwrap();
    let mut b = SqlBuilder::new();
    assert!(bad.push_id_select(&mut b).is_err());
    assert_eq!(b.sql(), "");
}

async fn historic_fixture_rows_only(db: &TestDb) {
    db.exec(
        "INSERT INTO act_hi_procinst (id_, proc_inst_id_, proc_def_id_, start_time_, state_) VALUES \
         ('hx', 'hx', 'd_order1', now(), 'ACTIVE'); \
         INSERT INTO act_hi_procinst (id_, proc_inst_id_, proc_def_id_, start_time_, end_time_, state_) VALUES \
         ('hy', 'hy', 'd_order1', now(), now(), 'COMPLETED');",
    )
    .await;
}

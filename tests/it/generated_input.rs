//! Generated input over every endpoint, and the NUL / invalid UTF-8 cases one by one.
//!
//! [`garbage_never_gets_a_5xx_and_creates_nothing`] sends proptest-generated requests to one
//! API: every route of `api/src/routes/*.rs` with its method or a wrong one, unknown paths,
//! random path segments, query parameters with known and random names and values, JSON bodies
//! that follow the DTOs' field names with values of right and wrong types (NUL strings, LIKE
//! patterns ending in a backslash, dates beyond PostgreSQL's range, huge numbers, huge arrays),
//! junk JSON, non-JSON bytes, odd content types and header values. Requests go over a plain TCP
//! connection, written byte for byte: an HTTP client would normalise `..` and refuse much of
//! the garbage. The run is deterministic (a fixed seed and case count); a failure is shrunk to
//! a small request and printed.
//!
//! Property: every request is answered within [`ANSWER_TIMEOUT`] with a status below 500.
//! Afterwards the only batches in the database are those a request answered as created.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{Value, json};
use system_tests::fixtures::seed_instances;
use system_tests::{TestApi, TestDb, eventually};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Generated requests per run: about 7 s alone on the 2-core machine, 15 s amid the suite.
/// `GENERATED_INPUT_CASES` overrides it for a longer (or a quicker) run.
const CASES: u32 = 3000;
/// The run's seed; `GENERATED_INPUT_SEED` (any text) varies it for exploring.
const SEED: [u8; 32] = *b"sweep: garbage in, 4xx out. 2026";
/// Longest wait for one answer; waiting longer counts as a hang.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// `http.body_limit_bytes` of the API under test, so bodies over it are cheap to send.
const BODY_LIMIT: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Requests and how they are sent
// ---------------------------------------------------------------------------------------------

/// One request exactly as written on the wire.
#[derive(Clone)]
struct RawRequest {
    method: String,
    /// Request target: path and query, as sent (percent-encoding included).
    target: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
}

fn lossy(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}… ({} bytes)", &text[..end], bytes.len()),
        None => text.into_owned(),
    }
}

impl fmt::Debug for RawRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, lossy(&self.target, 300))?;
        for (name, value) in &self.headers {
            write!(f, "\n{name}: {}", lossy(value, 100))?;
        }
        if let Some(body) = &self.body {
            write!(f, "\n\n{}", lossy(body, 600))?;
        }
        Ok(())
    }
}

impl RawRequest {
    /// The path part of the target.
    fn path(&self) -> &[u8] {
        self.target.split(|b| *b == b'?').next().unwrap_or_default()
    }

    fn wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.as_ref().map_or(0, Vec::len));
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&self.target);
        out.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if let Some(body) = &self.body {
            out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            out.extend_from_slice(body);
        } else {
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

/// Sends `request` on a connection of its own; the answer's status and body.
async fn send(addr: SocketAddr, request: &RawRequest) -> Result<(u16, Vec<u8>), String> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    let (mut reader, mut writer) = stream.into_split();
    let wire = request.wire();
    // Write and read at once: the server may answer (413, 400) before it has read everything.
    // The write half stays open until the answer is in: a half-close would end the request.
    let write = async move {
        let _ = writer.write_all(&wire).await;
        writer
    };
    // Until the server closes, or, for an event stream (which stays open), its headers.
    let read = async {
        let mut answer = Vec::new();
        let mut chunk = [0u8; 8192];
        let result = loop {
            match reader.read(&mut chunk).await {
                Ok(0) => break Ok(answer.len()),
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
                Err(e) => break Err(e),
            }
            if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
                if head.contains("content-type: text/event-stream") {
                    break Ok(answer.len());
                }
            }
        };
        (answer, result)
    };
    let (_writer, (answer, result)) = tokio::join!(write, read);
    let status = answer
        .strip_prefix(b"HTTP/1.1 ")
        .and_then(|rest| std::str::from_utf8(rest.get(..3)?).ok()?.parse::<u16>().ok())
        .ok_or_else(|| format!("no HTTP answer ({result:?}): {}", lossy(&answer, 200)))?;
    let body = answer.windows(4).position(|w| w == b"\r\n\r\n").map_or(Vec::new(), |i| answer[i + 4..].to_vec());
    Ok((status, body))
}

// ---------------------------------------------------------------------------------------------
// What to send: the route table and value pools
// ---------------------------------------------------------------------------------------------

/// The body a route reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dto {
    None,
    Query,
    Delete,
    Suspended,
    Retries,
    Steering,
    Priority,
}

/// Every route the API serves (`api/src/routes/*.rs`): method, path (`{id}` for a path
/// parameter; under the base path unless it starts with `!`), body.
pub(crate) const ROUTES: &[(&str, &str, Dto)] = &[
    ("GET", "/process-instance", Dto::None),
    ("POST", "/process-instance", Dto::Query),
    ("GET", "/process-instance/count", Dto::None),
    ("POST", "/process-instance/count", Dto::Query),
    ("GET", "/process-instance/{id}", Dto::None),
    ("POST", "/process-instance/delete", Dto::Delete),
    ("POST", "/process-instance/delete-historic-query-based", Dto::Delete),
    ("GET", "/batch", Dto::None),
    ("GET", "/batch/count", Dto::None),
    ("GET", "/batch/statistics", Dto::None),
    ("GET", "/batch/statistics/count", Dto::None),
    ("GET", "/batch/{id}", Dto::None),
    ("DELETE", "/batch/{id}", Dto::None),
    ("PUT", "/batch/{id}/suspended", Dto::Suspended),
    ("PATCH", "/batch/{id}", Dto::Steering),
    ("GET", "/batch/{id}/items", Dto::None),
    ("GET", "/batch/{id}/events", Dto::None),
    ("GET", "/batch/{id}/items/count", Dto::None),
    ("POST", "/batch/{id}/retry-failed-items", Dto::None),
    ("GET", "/batch/{id}/manifest", Dto::None),
    ("GET", "/history/batch", Dto::None),
    ("GET", "/history/batch/count", Dto::None),
    ("GET", "/history/batch/{id}", Dto::None),
    ("DELETE", "/history/batch/{id}", Dto::None),
    ("GET", "/history/job-log", Dto::None),
    ("GET", "/history/job-log/count", Dto::None),
    ("GET", "/incident", Dto::None),
    ("GET", "/incident/count", Dto::None),
    ("GET", "/history/batch/{id}/manifest", Dto::None),
    ("GET", "/job", Dto::None),
    ("GET", "/job/count", Dto::None),
    ("GET", "/job/{id}", Dto::None),
    ("DELETE", "/job/{id}", Dto::None),
    ("PUT", "/job/{id}/retries", Dto::Retries),
    ("GET", "/job-definition", Dto::None),
    ("GET", "/job-definition/count", Dto::None),
    ("GET", "/job-definition/{id}", Dto::None),
    ("PUT", "/job-definition/{id}/retries", Dto::Retries),
    ("GET", "/engine", Dto::None),
    ("PUT", "/job/{id}/priority", Dto::Priority),
    ("PUT", "/job-definition/{id}/jobPriority", Dto::Priority),
    ("GET", "/openapi.json", Dto::None),
    ("GET", "!/docs/", Dto::None),
    ("GET", "!/docs/{id}", Dto::None),
    ("GET", "!/health/live", Dto::None),
    ("GET", "!/health/ready", Dto::None),
    ("GET", "!/metrics", Dto::None),
];

/// A few of the named-engine paths, which forward to the same router (and are not documented
/// one by one), with known and unknown engine names in `{id}`.
const NAMED_ENGINE_ROUTES: &[(&str, &str, Dto)] = &[
    ("GET", "/engine/{id}/batch", Dto::None),
    ("GET", "/engine/{id}/job", Dto::None),
    ("POST", "/engine/{id}/process-instance/delete", Dto::Delete),
    ("PUT", "/engine/{id}/job/x/retries", Dto::Retries),
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "BREW"];

/// The type of a DTO field or query parameter, to generate values of that type most of the time.
#[derive(Debug, Clone, Copy)]
enum T {
    Str,
    /// A `LIKE` pattern.
    Like,
    /// A date (a string).
    Date,
    Bool,
    Int,
    Strs,
    /// Strings and nulls (`processInstanceIds` of the delete request).
    NullableStrs,
    /// Variable conditions (`name_op_value,…` in a query string).
    Vars,
    /// `sorting` entries (`sortBy`, `sortOrder` in a query string).
    Sorting,
    Query,
    Historic,
    /// `orQueries` of a runtime query.
    QueryOr,
    /// `orQueries` of a historic query.
    HistoricOr,
}

/// Every query parameter some endpoint reads (`params.rs` callers), with its type.
const PARAMS: &[(&str, T)] = &[
    ("batchId", T::Str),
    ("type", T::Str),
    ("tenantIdIn", T::Strs),
    ("withoutTenantId", T::Bool),
    ("suspended", T::Bool),
    ("createdBy", T::Str),
    ("startedBefore", T::Date),
    ("startedAfter", T::Date),
    ("withFailures", T::Bool),
    ("withoutFailures", T::Bool),
    ("sortBy", T::Sorting),
    ("sortOrder", T::Sorting),
    ("firstResult", T::Int),
    ("maxResults", T::Int),
    ("cascade", T::Bool),
    ("dryRun", T::Bool),
    ("state", T::Str),
    ("completed", T::Bool),
    ("processInstanceId", T::Str),
    ("processInstanceIds", T::Strs),
    ("executionId", T::Str),
    ("processDefinitionId", T::Str),
    ("processDefinitionKey", T::Str),
    ("activityId", T::Str),
    ("failedActivityId", T::Str),
    ("timers", T::Bool),
    ("messages", T::Bool),
    ("includeJobsWithoutTenantId", T::Bool),
    ("jobId", T::Str),
    ("jobIds", T::Strs),
    ("jobDefinitionId", T::Str),
    ("withRetriesLeft", T::Bool),
    ("executable", T::Bool),
    ("noRetriesLeft", T::Bool),
    ("withException", T::Bool),
    ("exceptionMessage", T::Str),
    ("active", T::Bool),
    ("businessKey", T::Str),
    ("businessKeyLike", T::Like),
    ("caseInstanceId", T::Str),
    ("processDefinitionKeyIn", T::Strs),
    ("processDefinitionKeyNotIn", T::Strs),
    ("deploymentId", T::Str),
    ("superProcessInstance", T::Str),
    ("subProcessInstance", T::Str),
    ("superCaseInstance", T::Str),
    ("subCaseInstance", T::Str),
    ("withIncident", T::Bool),
    ("incidentId", T::Str),
    ("incidentType", T::Str),
    ("incidentMessage", T::Str),
    ("incidentMessageLike", T::Like),
    ("rootProcessInstanceId", T::Str),
    ("rootProcessInstances", T::Bool),
    ("leafProcessInstances", T::Bool),
    ("processDefinitionWithoutTenantId", T::Bool),
    ("activityIdIn", T::Strs),
    ("variables", T::Vars),
    ("variables", T::Vars),
    ("variableNamesIgnoreCase", T::Bool),
    ("variableValuesIgnoreCase", T::Bool),
    ("jobDefinitionIdIn", T::Strs),
    ("jobType", T::Str),
    ("jobConfiguration", T::Str),
    ("withOverridingJobPriority", T::Bool),
    ("includeJobDefinitionsWithoutTenantId", T::Bool),
    ("incidentTimestampBefore", T::Date),
    ("incidentTimestampAfter", T::Date),
    ("causeIncidentId", T::Str),
    ("rootCauseIncidentId", T::Str),
    ("configuration", T::Str),
    ("logId", T::Str),
    ("jobExceptionMessage", T::Str),
    ("jobDefinitionType", T::Str),
    ("jobDefinitionConfiguration", T::Str),
    ("jobPriorityLowerThanOrEquals", T::Int),
    ("jobPriorityHigherThanOrEquals", T::Int),
    ("creationLog", T::Bool),
    ("failureLog", T::Bool),
    ("successLog", T::Bool),
    ("deletionLog", T::Bool),
];

/// `LIKE` patterns: PostgreSQL refuses one that ends in its escape character `\`.
const LIKES: &[&str] = &["%", "a%", "_", "%_", "bk-%", "%\\", "a%\\", "\\", "%\\\\", "\\%", "%\\\\\\", "[a]%", "%%"];

/// Dates, valid and not: beyond chrono's and PostgreSQL's ranges (4713 BC to 294276 AD).
const DATES: &[&str] = &[
    "2016-04-12T15:29:33.000+0200",
    "2016-04-12T15:29:33Z",
    "2016-04-12T15:29:33.000Z",
    "9999-12-31T23:59:59.999+1400",
    "0001-01-01T00:00:00.000-1400",
    "0000-01-01T00:00:00.000+0000",
    "+10000-01-01T00:00:00.000+0000",
    "+275760-09-13T00:00:00.000+0000",
    "-271821-04-20T00:00:00.000+0000",
    "+262143-12-31T23:59:59.999+0000",
    "-262143-01-01T00:00:00.000+0000",
    "-4713-11-24T00:00:00.000+0000",
    "-4714-11-23T23:59:59.999+0000",
    "+294276-12-31T23:59:59.999+0000",
    "+294277-01-01T00:00:00.000+0000",
    "2016-13-01T00:00:00.000+0000",
    "2016-02-30T00:00:00.000+0000",
    "2016-04-12T15:29:33.000+9999",
    "2016-04-12T15:29:60.000+0000",
    "\"2016-04-12T15:29:33.000+0200\"",
    "yesterday",
    "",
];

/// Words `sortBy` and `sortOrder` take, and some they do not.
const SORT_WORDS: &[&str] = &[
    "asc",
    "desc",
    "batchId",
    "tenantId",
    "startTime",
    "endTime",
    "jobId",
    "jobRetries",
    "jobPriority",
    "instanceId",
    "definitionKey",
    "businessKey",
    "jobType",
    "jobDefinitionId",
    "incidentTimestamp",
    "timestamp",
    "color",
    "",
];

const BOOLS: &[&str] = &["true", "false", "TRUE", "1", "yes", ""];

const OPERATORS: &[&str] = &["eq", "neq", "gt", "gteq", "lt", "lteq", "like", "near", "", "EQ"];

/// Parameter values, unencoded (they are percent-encoded when sent).
const PARAM_VALUES: &[&str] = &[
    "true",
    "false",
    "TRUE",
    "0",
    "1",
    "10",
    "-1",
    "",
    " ",
    "2147483647",
    "2147483648",
    "-2147483649",
    "99999999999999999999999",
    "1e3",
    "0x10",
    "asc",
    "desc",
    "batchId",
    "tenantId",
    "startTime",
    "endTime",
    "jobId",
    "jobRetries",
    "instanceId",
    "businessKey",
    "pending",
    "deleted",
    "skipped",
    "failed",
    "running",
    "instance-deletion",
    "pi-1",
    "pi-2",
    "c-1",
    "p",
    "other",
    "pd1",
    "bk-2",
    "a,b",
    ",",
    ",,",
    "%",
    "a%",
    "_",
    "\\",
    "a\\",
    "\\\\",
    "a%\\",
    "x_eq_val",
    "x_like_va%",
    "x_like_a\\",
    "x_gt_1",
    "x_near_1",
    "x_eq",
    "x_eq_2016-04-12T15:29:33.000+0200",
    "a_b_c_d",
    "2016-04-12T15:29:33.000+0200",
    "2016-04-12T15:29:33Z",
    "\"2016-04-12T15:29:33.000+0200\"",
    "+275760-09-13T00:00:00.000+0000",
    "-271821-04-20T00:00:00.000+0000",
    "+262143-12-31T23:59:59.999+0000",
    "-4714-11-23T00:00:00.000+0000",
    "0000-01-01T00:00:00.000+0000",
    "2016-02-30T00:00:00.000+0000",
    "yesterday",
    "ü✓😀",
    "'; DROP TABLE sweep_batch; --",
    "\u{0}",
    "a\u{0}b",
];

/// Query-string pieces sent as they are: bad percent-encoding, NUL, invalid UTF-8.
const RAW_QUERY_PIECES: &[&str] = &[
    "%00",
    "a%00b",
    "%FF",
    "%C3",
    "%C3%28",
    "%ED%A0%80",
    "%F4%90%80%80",
    "%",
    "%zz",
    "%F",
    "+",
    "%2B",
    "%26",
    "%3D",
    "=",
    "==",
    "&",
    "%E2%9C%93",
    "%C0%AF",
    "%2e%2e",
];

/// Path segments sent as they are.
const RAW_SEGMENTS: &[&str] = &[
    "%00",
    "a%00",
    "%FF",
    "%C3%28",
    "%ED%A0%80",
    "%E2%9C%93",
    "..",
    ".",
    "%2e%2e",
    "%2E",
    "%2F",
    "%2f..%2f",
    "%",
    "%zz",
    "%F",
    "",
    "~",
    "a;b",
    "a:b",
    ":0",
    "%20",
    "+",
    "%5C",
    "*",
    "@",
    "!$&'()*+,;=",
];

/// Strings for JSON string fields.
const TEXTS: &[&str] = &[
    "pi-1",
    "pi-2",
    "c-1",
    "ghost",
    "p",
    "other",
    "pd1",
    "bk-2",
    "x",
    "val",
    "",
    " ",
    "%",
    "a%",
    "_",
    "%_",
    "\\",
    "a\\",
    "\\\\",
    "a\\\\\\",
    "%\\",
    "\\%",
    "asc",
    "desc",
    "instanceId",
    "businessKey",
    "eq",
    "like",
    "open",
    "resolved",
    "deleted",
    "2016-04-12T15:29:33.000+0200",
    "2016-04-12T15:29:33Z",
    "9999-12-31T23:59:59.999+1400",
    "0001-01-01T00:00:00.000-1400",
    "+275760-09-13T00:00:00.000+0000",
    "-271821-04-20T00:00:00.000+0000",
    "+262143-12-31T23:59:59.999+0000",
    "-262143-01-01T00:00:00.000+0000",
    "-4714-11-23T23:59:59.999+0000",
    "+294277-01-01T00:00:00.000+0000",
    "2016-13-01T00:00:00.000+0000",
    "yesterday",
    "ü✓😀",
    "\u{feff}",
    "'; DROP TABLE sweep_batch; --",
    "\u{0}",
    "a\u{0}b",
    "\u{1}\u{7f}",
];

/// JSON numbers, as text (some beyond what a 64-bit number holds).
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "100",
    "100000",
    "100001",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "123456789012345678901234567890",
    "1.5",
    "-0",
    "0.0",
    "1e2",
    "1E-7",
    "1e308",
    "1e400",
    "-1e400",
];

/// JSON fragments that are not valid JSON values, or edge cases of the parser.
const RAW_JSON: &[&str] = &[
    "\"\\ud800\"",
    "\"\\udc00x\"",
    "\"a\u{0}b\"",
    "\"\\u0000\"",
    "\"\\\\u0000\"",
    "NaN",
    "Infinity",
    "'x'",
    "\"\u{1}\"",
    "01",
    "+1",
    ".5",
    "\"\\x41\"",
    "tru",
    "nul",
];

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// Percent-encodes every byte but the unreserved ones.
fn encode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

fn long_text() -> impl Strategy<Value = String> {
    (1usize..9000).prop_map(|n| "x".repeat(n))
}

/// One path segment, as sent.
fn segment(known: &[String]) -> BoxedStrategy<Vec<u8>> {
    let known: Vec<Vec<u8>> = known.iter().map(|k| encode(k.as_bytes())).collect();
    prop_oneof![
        16 => select(known),
        12 => "[A-Za-z0-9._~-]{0,24}".prop_map(String::into_bytes),
        12 => select(RAW_SEGMENTS).prop_map(|s| s.as_bytes().to_vec()),
        8 => prop::collection::vec(any::<u8>(), 0..24).prop_map(|b| encode(&b)),
        8 => any::<String>().prop_map(|s| encode(s.as_bytes())),
        4 => prop::collection::vec(0x80u8..=0xFF, 1..6),
        2 => long_text().prop_map(String::into_bytes),
        1 => Just(b"x".repeat(70_000)),
    ]
    .boxed()
}

/// A query-parameter value of type `t`, unencoded.
fn param_text(t: T) -> BoxedStrategy<String> {
    let pick = |pool: &'static [&'static str]| select(pool).prop_map(str::to_owned).boxed();
    match t {
        T::Like => pick(LIKES),
        T::Date => pick(DATES),
        T::Bool => pick(BOOLS),
        T::Int => pick(NUMBERS),
        T::Sorting => pick(SORT_WORDS),
        T::Strs => prop::collection::vec(text(), 0..5).prop_map(|v| v.join(",")).boxed(),
        T::Vars => {
            let operand = prop_oneof![4 => pick(TEXTS), 2 => pick(NUMBERS), 1 => pick(DATES), 2 => pick(LIKES)];
            let condition =
                (pick(&["x", "a_b", "", "ü"]), pick(OPERATORS), operand).prop_map(|(n, o, v)| format!("{n}_{o}_{v}"));
            prop::collection::vec(condition, 0..4).prop_map(|v| v.join(",")).boxed()
        }
        _ => text(),
    }
}

/// A query string (without `?`), possibly empty.
fn query() -> BoxedStrategy<Vec<u8>> {
    let typed = Union::new(PARAMS.iter().map(|(name, t)| {
        (prop_oneof![6 => param_text(*t), 1 => select(PARAM_VALUES).prop_map(str::to_owned)])
            .prop_map(move |v| {
                let mut pair = encode(name.as_bytes());
                pair.push(b'=');
                pair.extend(encode(v.as_bytes()));
                pair
            })
            .boxed()
    }));
    let name = prop_oneof![
        1 => select(PARAMS).prop_map(|(s, _)| s.as_bytes().to_vec()),
        1 => select(RAW_QUERY_PIECES).prop_map(|s| s.as_bytes().to_vec()),
        1 => any::<String>().prop_map(|s| encode(s.as_bytes())),
    ];
    let value = prop_oneof![
        2 => select(PARAM_VALUES).prop_map(|s| encode(s.as_bytes())),
        2 => select(RAW_QUERY_PIECES).prop_map(|s| s.as_bytes().to_vec()),
        2 => any::<String>().prop_map(|s| encode(s.as_bytes())),
        1 => prop::collection::vec(any::<u8>(), 0..16).prop_map(|b| encode(&b)),
        1 => long_text().prop_map(String::into_bytes),
    ];
    let pair = prop_oneof![
        12 => typed,
        4 => (name.clone(), value).prop_map(|(mut n, v)| {
            n.push(b'=');
            n.extend(v);
            n
        }),
        1 => name,
        1 => select(RAW_QUERY_PIECES).prop_map(|s| s.as_bytes().to_vec()),
    ];
    prop_oneof![
        3 => Just(Vec::new()),
        7 => prop::collection::vec(pair, 1..7).prop_map(|pairs| pairs.join(&b'&')),
    ]
    .boxed()
}

/// Header lines besides `Host`, `Connection` and `Content-Length`.
fn headers(content_type: bool) -> BoxedStrategy<Vec<(String, Vec<u8>)>> {
    let printable = "[ -~]{0,40}".prop_map(String::into_bytes);
    // Anything but CR and LF, which would end the header line.
    let bytes = prop::collection::vec(any::<u8>().prop_filter("no line break", |b| *b != b'\r' && *b != b'\n'), 0..40);
    let known = select(vec![
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-zz".to_owned(),
        "00-00000000000000000000000000000000-b7ad6b7169203331-01".to_owned(),
        "00-0af7651916cd43dd8448eb211c80319c".to_owned(),
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra".to_owned(),
        "key-1".to_owned(),
        String::new(),
        "k".repeat(256),
        "k".repeat(5000),
    ])
    .prop_map(String::into_bytes);
    let value = prop_oneof![3 => known, 3 => printable, 2 => bytes];
    let name = select(&["Idempotency-Key", "traceparent", "Accept", "X-Garbage", "Content-Encoding", "tracestate"][..]);
    let others = prop::collection::vec((name.prop_map(str::to_owned), value), 0..3);
    let content_types = prop_oneof![
        6 => Just(b"application/json".to_vec()),
        1 => Just(b"application/json; charset=utf-8".to_vec()),
        1 => Just(b"Application/JSON;charset=latin1".to_vec()),
        1 => Just(b"application/vnd.api+json".to_vec()),
        1 => Just(b"application/json;".to_vec()),
        1 => Just(b"text/plain".to_vec()),
        1 => Just(b"application/x-www-form-urlencoded".to_vec()),
        1 => Just(b"multipart/form-data; boundary=x".to_vec()),
        1 => "[ -~]{0,30}".prop_map(String::into_bytes),
    ];
    let content_type = if content_type {
        prop_oneof![9 => content_types.prop_map(Some), 1 => Just(None)].boxed()
    } else {
        prop_oneof![1 => content_types.prop_map(Some), 4 => Just(None)].boxed()
    };
    (content_type, others)
        .prop_map(|(content_type, mut others)| {
            if let Some(ct) = content_type {
                others.push(("Content-Type".to_owned(), ct));
            }
            others
        })
        .boxed()
}

/// A JSON document with full control over its text (numbers beyond `f64`, duplicate keys,
/// invalid fragments).
#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Raw(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn render(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) | J::Raw(n) => out.push_str(n),
            J::Str(s) => out.push_str(&serde_json::to_string(s).unwrap()),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.render(out);
                }
                out.push(']');
            }
            J::Obj(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(key).unwrap());
                    out.push(':');
                    value.render(out);
                }
                out.push('}');
            }
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        self.render(&mut out);
        out
    }
}

const QUERY_FIELDS: &[(&str, T)] = &[
    ("processInstanceIds", T::Strs),
    ("businessKey", T::Str),
    ("businessKeyLike", T::Like),
    ("caseInstanceId", T::Str),
    ("processDefinitionId", T::Str),
    ("processDefinitionKey", T::Str),
    ("processDefinitionKeyIn", T::Strs),
    ("processDefinitionKeyNotIn", T::Strs),
    ("deploymentId", T::Str),
    ("superProcessInstance", T::Str),
    ("subProcessInstance", T::Str),
    ("superCaseInstance", T::Str),
    ("subCaseInstance", T::Str),
    ("active", T::Bool),
    ("suspended", T::Bool),
    ("withIncident", T::Bool),
    ("incidentId", T::Str),
    ("incidentType", T::Str),
    ("incidentMessage", T::Str),
    ("incidentMessageLike", T::Like),
    ("rootProcessInstanceId", T::Str),
    ("rootProcessInstances", T::Bool),
    ("leafProcessInstances", T::Bool),
    ("tenantIdIn", T::Strs),
    ("withoutTenantId", T::Bool),
    ("processDefinitionWithoutTenantId", T::Bool),
    ("activityIdIn", T::Strs),
    ("variables", T::Vars),
    ("variables", T::Vars),
    ("variableNamesIgnoreCase", T::Bool),
    ("variableValuesIgnoreCase", T::Bool),
    ("orQueries", T::QueryOr),
    ("sortBy", T::Str),
    ("sortOrder", T::Str),
    ("sorting", T::Sorting),
];

const HISTORIC_FIELDS: &[(&str, T)] = &[
    ("processInstanceId", T::Str),
    ("processInstanceIds", T::Strs),
    ("processInstanceIdNotIn", T::Strs),
    ("rootProcessInstanceId", T::Str),
    ("rootProcessInstances", T::Bool),
    ("processDefinitionId", T::Str),
    ("processDefinitionKey", T::Str),
    ("processDefinitionKeyIn", T::Strs),
    ("processDefinitionKeyNotIn", T::Strs),
    ("processDefinitionName", T::Str),
    ("processDefinitionNameLike", T::Like),
    ("processInstanceBusinessKey", T::Str),
    ("processInstanceBusinessKeyLike", T::Like),
    ("processInstanceBusinessKeyIn", T::Strs),
    ("finished", T::Bool),
    ("unfinished", T::Bool),
    ("active", T::Bool),
    ("suspended", T::Bool),
    ("completed", T::Bool),
    ("externallyTerminated", T::Bool),
    ("internallyTerminated", T::Bool),
    ("withIncidents", T::Bool),
    ("withRootIncidents", T::Bool),
    ("incidentIdIn", T::Strs),
    ("incidentType", T::Str),
    ("incidentMessage", T::Str),
    ("incidentMessageLike", T::Like),
    ("incidentStatus", T::Str),
    ("withJobsRetrying", T::Bool),
    ("startedBefore", T::Date),
    ("startedAfter", T::Date),
    ("finishedBefore", T::Date),
    ("finishedAfter", T::Date),
    ("executedActivityAfter", T::Date),
    ("executedActivityBefore", T::Date),
    ("executedActivityIdIn", T::Strs),
    ("activeActivityIdIn", T::Strs),
    ("activityIdIn", T::Strs),
    ("startedBy", T::Str),
    ("superProcessInstanceId", T::Str),
    ("subProcessInstanceId", T::Str),
    ("superCaseInstanceId", T::Str),
    ("subCaseInstanceId", T::Str),
    ("caseInstanceId", T::Str),
    ("tenantIdIn", T::Strs),
    ("withoutTenantId", T::Bool),
    ("variables", T::Vars),
    ("variableNamesIgnoreCase", T::Bool),
    ("variableValuesIgnoreCase", T::Bool),
    ("orQueries", T::HistoricOr),
];

const DELETE_FIELDS: &[(&str, T)] = &[
    ("processInstanceIds", T::NullableStrs),
    ("processInstanceIds", T::NullableStrs),
    ("processInstanceQuery", T::Query),
    ("processInstanceQuery", T::Query),
    ("historicProcessInstanceQuery", T::Historic),
    ("historicProcessInstanceQuery", T::Historic),
    ("deleteReason", T::Str),
    ("skipCustomListeners", T::Bool),
    ("skipSubprocesses", T::Bool),
    ("skipIoMappings", T::Bool),
    ("failIfNotExists", T::Bool),
    ("invocationsPerBatchJob", T::Int),
    ("batchJobsPerSeed", T::Int),
    ("maxInstancesPerSecond", T::Int),
    ("maxConcurrentJobs", T::Int),
    ("priority", T::Int),
];

const SUSPENDED_FIELDS: &[(&str, T)] = &[("suspended", T::Bool)];
const RETRIES_FIELDS: &[(&str, T)] = &[("retries", T::Int), ("dueDate", T::Date)];
const STEERING_FIELDS: &[(&str, T)] =
    &[("maxInstancesPerSecond", T::Int), ("maxConcurrentJobs", T::Int), ("priority", T::Int), ("runWindow", T::Str)];
const PRIORITY_FIELDS: &[(&str, T)] = &[("priority", T::Int), ("includeJobs", T::Bool)];

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        6 => select(TEXTS).prop_map(str::to_owned),
        2 => "\\PC{0,16}",
        1 => any::<String>(),
        1 => long_text(),
    ]
    .boxed()
}

/// Any JSON leaf, including fragments that are not JSON.
fn leaf() -> BoxedStrategy<J> {
    prop_oneof![
        1 => Just(J::Null),
        1 => any::<bool>().prop_map(J::Bool),
        2 => select(NUMBERS).prop_map(|n| J::Num(n.to_owned())),
        1 => any::<i64>().prop_map(|n| J::Num(n.to_string())),
        3 => text().prop_map(J::Str),
        1 => select(RAW_JSON).prop_map(|r| J::Raw(r.to_owned())),
    ]
    .boxed()
}

/// Any JSON, a few levels deep, with keys the DTOs know among random ones.
fn junk() -> BoxedStrategy<J> {
    let keys: Vec<&str> = QUERY_FIELDS.iter().chain(HISTORIC_FIELDS).chain(DELETE_FIELDS).map(|(k, _)| *k).collect();
    let key = prop_oneof![3 => select(keys).prop_map(str::to_owned), 1 => "\\PC{0,8}", 1 => Just("a\u{0}".to_owned())];
    leaf()
        .prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(J::Arr),
                prop::collection::vec((key.clone(), inner), 0..6).prop_map(J::Obj),
            ]
        })
        .boxed()
}

/// A value for a field of type `t`: of that type nine times in ten.
fn value(t: T, depth: u32) -> BoxedStrategy<J> {
    let typed = match t {
        T::Str => text().prop_map(J::Str).boxed(),
        T::Like => select(LIKES).prop_map(|s| J::Str(s.to_owned())).boxed(),
        T::Date => select(DATES).prop_map(|s| J::Str(s.to_owned())).boxed(),
        T::Bool => any::<bool>().prop_map(J::Bool).boxed(),
        T::Int => prop_oneof![3 => select(NUMBERS).prop_map(|n| J::Num(n.to_owned())), 1 => (1i64..200).prop_map(|n| J::Num(n.to_string()))].boxed(),
        T::Strs => prop::collection::vec(text().prop_map(J::Str), 0..5).prop_map(J::Arr).boxed(),
        T::NullableStrs => prop::collection::vec(prop_oneof![8 => text().prop_map(J::Str), 1 => Just(J::Null)], 0..5)
            .prop_map(J::Arr)
            .boxed(),
        T::Vars => {
            let operator = prop_oneof![
                6 => select(&["eq", "neq", "gt", "gteq", "lt", "lteq", "like"][..]).prop_map(|s| J::Str(s.to_owned())),
                1 => select(&["near", "", "EQ", "notLike"][..]).prop_map(|s| J::Str(s.to_owned())),
                1 => leaf(),
            ];
            let field = prop_oneof![
                text().prop_map(|v| ("name".to_owned(), J::Str(v))),
                operator.prop_map(|v| ("operator".to_owned(), v)),
                prop_oneof![3 => leaf(), 1 => junk()].prop_map(|v| ("value".to_owned(), v)),
            ];
            let operand = prop_oneof![
                4 => leaf(),
                1 => select(LIKES).prop_map(|s| J::Str(s.to_owned())),
                1 => select(DATES).prop_map(|s| J::Str(s.to_owned())),
            ];
            let variable = prop_oneof![
                8 => (text(), select(OPERATORS), operand).prop_map(|(n, o, v)| {
                    J::Obj(vec![("name".into(), J::Str(n)), ("operator".into(), J::Str(o.into())), ("value".into(), v)])
                }),
                2 => prop::collection::vec(field, 0..4).prop_map(J::Obj),
            ];
            prop::collection::vec(variable, 0..4).prop_map(J::Arr).boxed()
        }
        T::Sorting => {
            let entry = (
                select(&["instanceId", "definitionKey", "definitionId", "tenantId", "businessKey", "color"][..]),
                select(&["asc", "desc", "up"][..]),
                prop::option::of(junk()),
            )
                .prop_map(|(by, order, parameters)| {
                    let mut fields = vec![("sortBy".to_owned(), J::Str(by.into())), ("sortOrder".to_owned(), J::Str(order.into()))];
                    fields.extend(parameters.map(|p| ("parameters".to_owned(), p)));
                    J::Obj(fields)
                });
            prop::collection::vec(prop_oneof![4 => entry, 1 => junk()], 0..3).prop_map(J::Arr).boxed()
        }
        T::Query | T::QueryOr | T::Historic | T::HistoricOr if depth == 0 => junk(),
        T::Query => object(QUERY_FIELDS, depth - 1),
        T::Historic => object(HISTORIC_FIELDS, depth - 1),
        T::QueryOr => prop::collection::vec(object(QUERY_FIELDS, depth - 1), 0..3).prop_map(J::Arr).boxed(),
        T::HistoricOr => prop::collection::vec(object(HISTORIC_FIELDS, depth - 1), 0..3).prop_map(J::Arr).boxed(),
    };
    prop_oneof![9 => typed, 1 => junk()].boxed()
}

/// An object with some of `fields` (and now and then an unknown one).
fn object(fields: &'static [(&'static str, T)], depth: u32) -> BoxedStrategy<J> {
    let field =
        Union::new(fields.iter().map(|(name, t)| value(*t, depth).prop_map(move |v| ((*name).to_owned(), v)).boxed()));
    let unknown = ("\\PC{0,10}", junk());
    prop_oneof![
        9 => prop::collection::vec(field.clone(), 0..6),
        1 => (prop::collection::vec(field, 0..4), unknown).prop_map(|(mut f, u)| {
            f.push(u);
            f
        }),
    ]
    .prop_map(J::Obj)
    .boxed()
}

/// Bodies built once: deep nesting, huge arrays, a body over the limit.
fn big_bodies() -> Vec<Vec<u8>> {
    const SORT_KEYS: [&str; 3] = ["definitionId", "businessKey", "instanceId"];
    let many = |prefix: &str, n: usize| -> Vec<String> { (0..n).map(|i| format!("{prefix}{i}")).collect() };
    let ids = many("g-", 70_000);
    vec![
        format!("{}{}", "[".repeat(100), "]".repeat(100)).into_bytes(),
        format!("{}{}", "[".repeat(200), "]".repeat(200)).into_bytes(),
        format!("{}1{}", "{\"a\":".repeat(120), "}".repeat(120)).into_bytes(),
        b"[".repeat(100_000),
        json!({"processInstanceIds": ids}).to_string().into_bytes(),
        json!({"processInstanceIds": ids, "failIfNotExists": false}).to_string().into_bytes(),
        json!({"processInstanceQuery": {"processInstanceIds": ids}}).to_string().into_bytes(),
        json!({"processInstanceQuery": {"tenantIdIn": ids, "processDefinitionKeyIn": ["p"]}}).to_string().into_bytes(),
        json!({"historicProcessInstanceQuery": {"processInstanceIds": ids}}).to_string().into_bytes(),
        json!({"historicProcessInstanceQuery": {"incidentIdIn": ids}}).to_string().into_bytes(),
        json!({"processInstanceIds": ids[..100].to_vec(), "tenantIdIn": many("t-", 40_000), "activityIdIn": many("a-", 40_000)})
            .to_string()
            .into_bytes(),
        json!({"variables": (0..3000).map(|i| json!({"name": "x", "operator": "eq", "value": i})).collect::<Vec<_>>()})
            .to_string()
            .into_bytes(),
        json!({"processInstanceQuery": {"orQueries": (0..2000).map(|_| json!({"businessKey": "x"})).collect::<Vec<_>>()}})
            .to_string()
            .into_bytes(),
        // At the limits of a query: the slowest bodies PostgreSQL is asked to plan.
        json!({"variables": (0..50).map(|i| json!({"name": "x", "operator": "eq", "value": i})).collect::<Vec<_>>()})
            .to_string()
            .into_bytes(),
        json!({"processInstanceQuery": {"orQueries": (0..50).map(|i| json!({
            "variables": [{"name": "x", "operator": "like", "value": format!("v{i}%")}],
            "incidentMessageLike": "%", "superProcessInstance": "pi-1", "activityIdIn": ["a"], "incidentType": "t"
        })).collect::<Vec<_>>()}})
        .to_string()
        .into_bytes(),
        json!({"sorting": (0..5000).map(|i| json!({"sortBy": SORT_KEYS[i % 3], "sortOrder": "asc"})).collect::<Vec<_>>()})
            .to_string()
            .into_bytes(),
        json!({"deleteReason": "x".repeat(BODY_LIMIT)}).to_string().into_bytes(),
    ]
}

/// A body for a route reading `dto`.
fn body(dto: Dto, big: &[Vec<u8>]) -> BoxedStrategy<Option<Vec<u8>>> {
    let fields: &'static [(&'static str, T)] = match dto {
        Dto::Delete => DELETE_FIELDS,
        Dto::Suspended => SUSPENDED_FIELDS,
        Dto::Retries => RETRIES_FIELDS,
        Dto::Steering => STEERING_FIELDS,
        Dto::Priority => PRIORITY_FIELDS,
        Dto::Query | Dto::None => QUERY_FIELDS,
    };
    let small = prop_oneof![
        8 => object(fields, 2).prop_map(|j| j.text().into_bytes()),
        2 => junk().prop_map(|j| j.text().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => object(fields, 1).prop_map(|j| {
            // Truncated JSON.
            let text = j.text().into_bytes();
            text[..text.len() / 2].to_vec()
        }),
        1 => object(fields, 1).prop_map(|j| {
            // Invalid UTF-8 inside a string.
            let mut text = j.text().into_bytes();
            if let Some(at) = text.iter().position(|b| *b == b'"') {
                text.insert(at + 1, 0xFF);
            }
            text
        }),
    ];
    let weights = if dto == Dto::None { (1, 6, 1) } else { (12, 1, 1) };
    prop_oneof![
        weights.0 => small.prop_map(Some),
        weights.1 => Just(None),
        weights.2 => select(big.to_vec()).prop_map(Some),
    ]
    .boxed()
}

/// Requests to every route, with its method or another one, and to unknown paths. Every
/// strategy is built once here: building them per case would cost more than sending.
fn request(known: &[String]) -> BoxedStrategy<RawRequest> {
    let big = big_bodies();
    let bodies: Vec<(Dto, BoxedStrategy<Option<Vec<u8>>>)> =
        [Dto::None, Dto::Query, Dto::Delete, Dto::Suspended, Dto::Retries, Dto::Steering, Dto::Priority]
            .into_iter()
            .map(|d| (d, body(d, &big)))
            .collect();
    let body_of = |dto: Dto| bodies.iter().find(|(d, _)| *d == dto).map(|(_, s)| s.clone()).unwrap();
    let (with_body, without_body) = (headers(true), headers(false));
    let segment = segment(known);
    let query = query();
    let finish = |(method, mut target, query, headers, body): (String, Vec<u8>, Vec<u8>, _, _)| {
        if !query.is_empty() {
            target.push(b'?');
            target.extend(query);
        }
        RawRequest { method, target, headers, body }
    };
    let mut choices: Vec<(u32, BoxedStrategy<RawRequest>)> = Vec::new();
    for &(own, template, dto) in ROUTES.iter().chain(NAMED_ENGINE_ROUTES) {
        let (root, template) = match template.strip_prefix('!') {
            Some(t) => (true, t),
            None => (false, template),
        };
        let method = prop_oneof![6 => Just(own.to_owned()), 1 => select(METHODS).prop_map(str::to_owned)];
        let target = (segment.clone(), prop::option::weighted(0.1, segment.clone())).prop_map(move |(id, extra)| {
            let mut target = if root { Vec::new() } else { b"/engine-rest".to_vec() };
            match template.split_once("{id}") {
                Some((before, after)) => {
                    target.extend_from_slice(before.as_bytes());
                    target.extend(id);
                    target.extend_from_slice(after.as_bytes());
                }
                None => target.extend_from_slice(template.as_bytes()),
            }
            // Now and then a route with one more segment: unknown paths next to real ones.
            if let Some(segment) = extra {
                target.push(b'/');
                target.extend(segment);
            }
            target
        });
        let headers = if dto == Dto::None { without_body.clone() } else { with_body.clone() };
        choices.push((1, (method, target, query.clone(), headers, body_of(dto)).prop_map(finish).boxed()));
    }
    let words = select(&["batch", "job", "history", "process-instance", "engine-rest", "count"][..]);
    let elsewhere =
        (prop::bool::ANY, prop::collection::vec(prop_oneof![words.prop_map(|s| s.as_bytes().to_vec()), segment], 0..5))
            .prop_map(|(under_base, segments)| {
                let mut target = if under_base { b"/engine-rest".to_vec() } else { Vec::new() };
                for s in segments {
                    target.push(b'/');
                    target.extend(s);
                }
                if target.is_empty() {
                    target.push(b'/');
                }
                target
            });
    let method = select(METHODS).prop_map(str::to_owned);
    choices.push((3, (method, elsewhere, query, with_body, body_of(Dto::Query)).prop_map(finish).boxed()));
    Union::new_weighted(choices).boxed()
}

// ---------------------------------------------------------------------------------------------
// The generated test
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    by_status: BTreeMap<u16, u32>,
    /// Batches a request answered as created (and the fixture).
    created: BTreeSet<String>,
    slowest: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_gets_a_5xx_and_creates_nothing() {
    let started = Instant::now();
    let db = TestDb::new().await;
    seed_instances(&db, 6).await;
    let limit = BODY_LIMIT.to_string();
    let api = TestApi::spawn(db.settings(&[("SWEEP__HTTP__BODY_LIMIT_BYTES", &limit)])).await;
    // One batch made on purpose, so the batch routes also meet an existing batch.
    let (status, fixture) =
        api.post("/process-instance/delete", &json!({"processInstanceIds": ["pi-1", "pi-2"]})).await;
    assert_eq!(status, 200, "{fixture}");
    let id = |key: &str| fixture[key].as_str().unwrap().to_owned();
    let known = vec![
        id("id"),
        format!("{}:0", id("id")),
        id("batchJobDefinitionId"),
        id("seedJobDefinitionId"),
        "pi-1".to_owned(),
        "pi-3".to_owned(),
        "c-1".to_owned(),
        "ghost".to_owned(),
        "default".to_owned(),
    ];
    let tally = RefCell::new(Tally { created: BTreeSet::from([id("id")]), ..Default::default() });
    // Where a batch may be created: both deletion endpoints, also under the named engine.
    let creates = |path: &[u8]| {
        let path = path.strip_prefix(b"/engine-rest").unwrap_or_default();
        let path = path.strip_prefix(b"/engine/default").unwrap_or(path);
        path == b"/process-instance/delete" || path == b"/process-instance/delete-historic-query-based"
    };

    let addr = api.addr;
    let handle = tokio::runtime::Handle::current();
    let strategy = request(&known);
    let cases = std::env::var("GENERATED_INPUT_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(CASES);
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        max_shrink_time: 30_000,
        ..Config::default()
    };
    let result = tokio::task::block_in_place(|| {
        let mut seed = SEED;
        for (i, b) in std::env::var("GENERATED_INPUT_SEED").unwrap_or_default().bytes().enumerate() {
            seed[i % seed.len()] ^= b;
        }
        let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
        runner.run(&strategy, |request| {
            let sent = Instant::now();
            let answer = handle.block_on(tokio::time::timeout(ANSWER_TIMEOUT, send(addr, &request)));
            let took = sent.elapsed();
            let (status, body) = match answer {
                Err(_) => return Err(TestCaseError::fail(format!("no answer within {ANSWER_TIMEOUT:?}"))),
                Ok(Err(e)) => return Err(TestCaseError::fail(e)),
                Ok(Ok(answer)) => answer,
            };
            let mut tally = tally.borrow_mut();
            *tally.by_status.entry(status).or_default() += 1;
            tally.slowest = tally.slowest.max(took);
            if status >= 500 {
                return Err(TestCaseError::fail(format!("answered {status}: {}", lossy(&body, 500))));
            }
            if status == 200 && request.method == "POST" && creates(request.path()) {
                let batch: Value = serde_json::from_slice(&body).unwrap_or_default();
                let created = batch["id"].as_str().ok_or_else(|| TestCaseError::fail("a 200 without a batch id"))?;
                tally.created.insert(created.to_owned());
            }
            Ok(())
        })
    });
    let tally = tally.into_inner();
    eprintln!(
        "{cases} generated requests in {:?}; answers by status: {:?}; slowest {:?}; batches created: {}",
        started.elapsed(),
        tally.by_status,
        tally.slowest,
        tally.created.len()
    );
    if let Err(e) = result {
        panic!("{e}");
    }

    // Nothing but answered creations is in the database.
    for (table, column) in [("sweep_batch", "id_"), ("sweep_hi_batch", "id_"), ("sweep_batch_item", "batch_id_")] {
        for id in db.strings(&format!("SELECT DISTINCT {column} FROM {table}")).await {
            assert!(tally.created.contains(&id), "{table} holds batch {id}, which no request answered as created");
        }
    }
    // (A generated DELETE may have removed some of them, the fixture included.)
    let created = tally.created.len() as i64;
    for table in ["sweep_batch", "sweep_hi_batch"] {
        let rows = db.scalar(&format!("SELECT count(*) FROM {table}")).await;
        assert!(rows <= created, "{table} holds {rows} batches, {created} were created");
    }
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_batch_job").await, 0, "no worker ran, so no job exists");
    eventually(Duration::from_secs(10), || async {
        (db.scalar("SELECT count(*) FROM sweep_outbox").await == 0).then_some(())
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// NUL and invalid UTF-8, one case at a time
// ---------------------------------------------------------------------------------------------

/// An API over a database with instances `pi-1..pi-4`.
async fn api_with_instances() -> (TestDb, TestApi) {
    let db = TestDb::new().await;
    seed_instances(&db, 4).await;
    let api = TestApi::spawn(db.settings(&[])).await;
    (db, api)
}

/// Asserts a Camunda 400 with exactly `message`, and that the database holds no batch, item
/// or outbox row.
async fn assert_refused(db: &TestDb, (status, body): (u16, Value), message: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body, json!({"type": "InvalidRequestException", "message": message, "code": null}));
    for table in ["sweep_batch", "sweep_hi_batch", "sweep_batch_item", "sweep_outbox"] {
        assert_eq!(db.scalar(&format!("SELECT count(*) FROM {table}")).await, 0, "{table}");
    }
}

#[tokio::test]
async fn a_nul_in_process_instance_ids_is_refused_naming_the_element_and_creates_nothing() {
    let (db, api) = api_with_instances().await;
    let answer = api.post("/process-instance/delete", &json!({"processInstanceIds": ["pi-1", "pi-\u{0}2"]})).await;
    assert_refused(&db, answer, "processInstanceIds[1] must not contain a NUL character").await;
}

#[tokio::test]
async fn a_nul_in_the_delete_reason_is_refused_naming_it_and_creates_nothing() {
    let (db, api) = api_with_instances().await;
    let body = json!({"processInstanceIds": ["pi-1"], "deleteReason": "end\u{0}"});
    let answer = api.post("/process-instance/delete", &body).await;
    assert_refused(&db, answer, "deleteReason must not contain a NUL character").await;
}

#[tokio::test]
async fn a_nul_in_a_nested_query_field_is_refused_naming_its_path_and_creates_nothing() {
    let (db, api) = api_with_instances().await;
    let body = json!({"processInstanceQuery": {"businessKey": "bk-\u{0}"}});
    let answer = api.post("/process-instance/delete", &body).await;
    assert_refused(&db, answer, "processInstanceQuery.businessKey must not contain a NUL character").await;
    let body = json!({"historicProcessInstanceQuery": {"orQueries": [{}, {"processDefinitionKeyIn": ["p", "\u{0}"]}]}});
    let answer = api.post("/process-instance/delete", &body).await;
    let message =
        "historicProcessInstanceQuery.orQueries[1].processDefinitionKeyIn[1] must not contain a NUL character";
    assert_refused(&db, answer, message).await;
}

#[tokio::test]
async fn a_nul_in_a_variable_value_is_refused_naming_its_path_and_creates_nothing() {
    let (db, api) = api_with_instances().await;
    let variables = json!([{"name": "x", "operator": "eq", "value": "val\u{0}"}]);
    let answer = api.post("/process-instance/delete", &json!({"processInstanceQuery": {"variables": variables}})).await;
    assert_refused(&db, answer, "processInstanceQuery.variables[0].value must not contain a NUL character").await;
    // The same through the Json extractor of the query endpoints.
    let answer = api.post("/process-instance/count", &json!({"variables": variables})).await;
    assert_refused(&db, answer, "variables[0].value must not contain a NUL character").await;
}

#[tokio::test]
async fn a_nul_in_a_query_parameter_of_get_batch_is_refused_naming_the_parameter() {
    let (db, api) = api_with_instances().await;
    let answer = api.get("/batch?type=instance-deletion&batchId=b%00").await;
    assert_refused(&db, answer, "query parameter 'batchId' must not contain a NUL character").await;
}

#[tokio::test]
async fn a_nul_in_a_path_segment_of_get_batch_is_refused_naming_the_segment() {
    let (db, api) = api_with_instances().await;
    let answer = api.get("/batch/b%00").await;
    assert_refused(&db, answer, "path segment 'b%00' must not contain a NUL character").await;
}

#[tokio::test]
async fn invalid_utf8_in_a_query_parameter_is_refused_naming_the_parameter() {
    let (db, api) = api_with_instances().await;
    let answer = api.get("/process-instance?businessKey=bk%FF").await;
    assert_refused(&db, answer, "query parameter 'businessKey' must be valid UTF-8").await;
}

// ---------------------------------------------------------------------------------------------
// What the generated test found, one case at a time
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn inputs_postgresql_used_to_refuse_answer_400_or_work_and_create_nothing() {
    let (db, api) = api_with_instances().await;
    // A LIKE pattern ending in the escape character (PostgreSQL: "LIKE pattern must not end with
    // escape character", once a row reaches the comparison).
    let answer = api.get("/process-instance?businessKeyLike=bk-%25%5C").await;
    let message = "businessKeyLike must not end with the escape character '\\' (write '\\\\' for a backslash)";
    assert_refused(&db, answer, message).await;
    let like = json!({"processInstanceQuery": {"variables": [{"name": "x", "operator": "like", "value": "v%\\"}]}});
    let answer = api.post("/process-instance/delete", &like).await;
    let message = "Invalid value for variable 'x': a like pattern must not end with the escape character '\\'";
    assert_refused(&db, answer, message).await;
    // A date chrono reads but PostgreSQL refuses ("timestamp out of range").
    let (status, body) = api.get("/batch/statistics?startedBefore=-4714-11-23T23:59:59.999%2B0000").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("Cannot set query parameter 'startedBefore'"), "{body}");
    let historic = json!({"historicProcessInstanceQuery": {"startedAfter": "-4714-11-23T23:59:59.999+0000"}});
    let (status, body) = api.post("/process-instance/delete", &historic).await;
    assert_eq!(status, 400, "{body}");
    // More ids than a statement has parameters (PostgreSQL takes 65 535) now bind as one array.
    let mut ids: Vec<String> = (0..70_000).map(|i| format!("g-{i}")).collect();
    ids.push("pi-2".into());
    let (status, body) = api.post("/process-instance/count", &json!({"processInstanceIds": ids})).await;
    assert_eq!((status, body), (200, json!({"count": 1})));
    let query = json!({"processInstanceQuery": {"processInstanceIds": ids}, "historicProcessInstanceQuery": {"processInstanceIds": ids}});
    let (status, batch) = api.post("/process-instance/delete", &query).await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch["totalJobs"], 1);
    let created =
        format!("SELECT count(*) FROM sweep_batch_item WHERE batch_id_ = '{}'", batch["id"].as_str().unwrap());
    assert_eq!(db.scalar(&created).await, 1);
    db.exec("DELETE FROM sweep_batch_item; DELETE FROM sweep_batch; DELETE FROM sweep_hi_batch").await;
    // A NUL next to a lone surrogate in an unknown field: the DTO skips that field undecoded, so
    // only a full parse finds the body is not JSON.
    let body = r#"{"processInstanceIds": ["\u0000"], "": "\ud800"}"#;
    let (status, answer) = api.post_raw("/process-instance/delete", "application/json", body).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["message"].as_str().unwrap().starts_with("The request body is not valid JSON: "), "{answer}");
    let (status, answer) = api.post_raw("/process-instance/count", "application/json", body).await;
    assert_eq!(status, 400, "{answer}");
    // So many variable conditions that PostgreSQL plans for minutes.
    let variables: Vec<Value> = (0..51).map(|i| json!({"name": "x", "operator": "eq", "value": i})).collect();
    let answer = api.post("/process-instance/count", &json!({"variables": variables})).await;
    let message = "Too many variable conditions: a query may have at most 50 (its orQueries included), this one has 51";
    assert_refused(&db, answer, message).await;
    let groups: Vec<Value> = (0..51).map(|_| json!({"businessKey": "bk-1"})).collect();
    let answer = api.post("/process-instance/delete", &json!({"processInstanceQuery": {"orQueries": groups}})).await;
    assert_refused(&db, answer, "Too many orQueries: a query may have at most 50, this one has 51").await;
}

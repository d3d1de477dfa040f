//! An OTLP/HTTP receiver inside the test process ([`Collector`]), and the process's telemetry
//! pointed at it.
//!
//! A process has one tracing subscriber and one tracer provider, whoever installs them first,
//! and tests may share a process. So there is one collector per process, started on first use
//! by [`Collector::global`], which also installs the telemetry — JSON logs kept for
//! [`Collector::log_lines`] (and echoed to stdout), spans exported to the collector — before
//! any API or worker of the test does. Tests tell their spans apart by trace id: each starts
//! its deletion with a `traceparent` of its own ([`new_traceparent`]).

use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::http::{StatusCode, header};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;

/// A span as the collector received it.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// `service.name` of the resource that sent it.
    pub service: String,
    /// The span.
    pub span: opentelemetry_proto::tonic::trace::v1::Span,
}

impl ReceivedSpan {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.span.name
    }

    /// Its trace id, in hex.
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// Its span id, in hex.
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    /// Its parent's span id, in hex (empty for a root).
    pub fn parent_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }

    /// Its kind.
    pub fn kind(&self) -> SpanKind {
        SpanKind::try_from(self.span.kind).unwrap_or(SpanKind::Unspecified)
    }

    /// Attribute `key` as text (numbers and booleans formatted), if present.
    pub fn attribute(&self, key: &str) -> Option<String> {
        attribute(&self.span.attributes, key)
    }

    /// The (trace id, span id) of every link, in hex.
    pub fn links(&self) -> Vec<(String, String)> {
        self.span.links.iter().map(|l| (hex(&l.trace_id), hex(&l.span_id))).collect()
    }
}

/// Receives `POST /v1/traces` (protobuf) and keeps every span; see the module documentation.
#[derive(Debug)]
pub struct Collector {
    endpoint: String,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    logs: Arc<Mutex<Vec<u8>>>,
}

impl Collector {
    /// The process's collector, started (with the process's telemetry) on first use. Panics if
    /// telemetry was installed before, without it: such a test needs a process of its own, as
    /// `cargo nextest` gives every test.
    pub fn global() -> &'static Collector {
        static COLLECTOR: OnceLock<Collector> = OnceLock::new();
        let collector = COLLECTOR.get_or_init(Collector::start);
        assert!(
            shared::trace::exporting(),
            "telemetry was installed before the collector (several tests in one process?): \
             run this test in a process of its own, as cargo nextest does"
        );
        collector
    }

    /// Its base URL, for `telemetry.otlp_endpoint`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().unwrap().clone()
    }

    /// Every JSON log line written in this process so far (other lines skipped).
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        let logs = self.logs.lock().unwrap();
        String::from_utf8_lossy(&logs).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    fn start() -> Collector {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the OTLP receiver");
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let received = spans.clone();
        // A runtime of its own: it outlives the runtime of the test that started it.
        std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(async move {
                    let app = axum::Router::new().route(
                        "/v1/traces",
                        axum::routing::post(move |body: Bytes| async move { receive(&received, &body) }),
                    );
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    axum::serve(listener, app).await.unwrap();
                });
            })
            .expect("start the OTLP receiver");

        let logs = Arc::new(Mutex::new(Vec::new()));
        let kept = logs.clone();
        let mut env = crate::settings_env("postgres://unused", &[]);
        env.insert("SWEEP__TELEMETRY__FORMAT".into(), "json".into());
        env.insert("SWEEP__TELEMETRY__OTLP_ENDPOINT".into(), endpoint.clone());
        let settings = shared::Settings::load_from(env).expect("telemetry settings");
        shared::telemetry::init_with_writer("sweep-test", &settings.telemetry, move || Tee(kept.clone()));
        Collector { endpoint, spans, logs }
    }
}

fn receive(
    into: &Mutex<Vec<ReceivedSpan>>,
    body: &[u8],
) -> (StatusCode, [(header::HeaderName, &'static str); 1], Vec<u8>) {
    let protobuf = [(header::CONTENT_TYPE, "application/x-protobuf")];
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, protobuf, Vec::new());
    };
    let mut spans = into.lock().unwrap();
    for resource_spans in request.resource_spans {
        let service =
            resource_spans.resource.as_ref().and_then(|r| attribute(&r.attributes, "service.name")).unwrap_or_default();
        for scope in resource_spans.scope_spans {
            spans.extend(scope.spans.into_iter().map(|span| ReceivedSpan { service: service.clone(), span }));
        }
    }
    (StatusCode::OK, protobuf, ExportTraceServiceResponse::default().encode_to_vec())
}

/// Log output kept in memory and echoed to stdout.
struct Tee(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        std::io::stdout().write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush()
    }
}

/// A `traceparent` with a fresh, random trace id, for a test to find its spans by.
pub fn new_traceparent() -> String {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace}-{span}-01")
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    text(value)
}

fn text(value: &AnyValue) -> Option<String> {
    Some(match value.value.as_ref()? {
        Value::StringValue(s) => s.clone(),
        Value::IntValue(i) => i.to_string(),
        Value::BoolValue(b) => b.to_string(),
        Value::DoubleValue(d) => d.to_string(),
        other => format!("{other:?}"),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

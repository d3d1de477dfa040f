//! Logs and traces through `tracing`: JSON lines in production, human-readable lines on a
//! terminal, each with the `trace_id` and `span_id` of the work it belongs to; and, when
//! `telemetry.otlp_endpoint` is set, OpenTelemetry spans exported over OTLP/HTTP (protobuf).
//! [`crate::trace`] says what a trace contains.
//!
//! Without an endpoint no OpenTelemetry layer is installed at all: logging costs what it did.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::{Format, Full, Json, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer, fmt as tfmt, prelude::*};

use crate::settings::{LogFormat, TelemetrySettings};

/// The process's tracer provider, once [`init`] installed an exporter.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The AMQP client warns of every message the broker returns unroutable, with the whole message
/// in the line. Sweep expects those (a deletion event probes whether anyone listens: it comes
/// back when nobody does, once per job) and reports any other itself, so the warning is dropped
/// unless a filter names its target.
const QUIET_RETURNS: &str = "lapin::returned_messages";

/// Installs the global subscriber, logging to stdout. `RUST_LOG`, when set, overrides
/// `telemetry.filter`. Calling it twice (as tests may) keeps the first subscriber.
pub fn init(service: &'static str, settings: &TelemetrySettings) {
    init_with_writer(service, settings, std::io::stdout);
}

/// [`init`] with log lines going to `writer`.
///
/// The filter applies to the log lines only. Spans are exported from level INFO whatever it
/// says: a filter at `warn` must not cut traces apart (nor leave log lines without ids).
pub fn init_with_writer<W>(service: &'static str, settings: &TelemetrySettings, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let mut filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    if !filter.to_string().contains(QUIET_RETURNS) {
        filter = filter.add_directive(format!("{QUIET_RETURNS}=error").parse().expect("a valid directive"));
    }
    let logs = match settings.format {
        LogFormat::Json => {
            tfmt::layer().json().event_format(WithTraceIds::json()).with_writer(writer).with_filter(filter).boxed()
        }
        // Without colours: the ids are added to a line formatted apart, which has none.
        LogFormat::Human => tfmt::layer()
            .with_ansi(false)
            .event_format(WithTraceIds::human())
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
    };
    let provider = (!settings.otlp_endpoint.is_empty()).then(|| provider(service, settings)).flatten();
    let spans = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service)).with_filter(LevelFilter::INFO));
    match tracing_subscriber::registry().with(logs).with(spans).try_init() {
        Ok(()) => {
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            if let Some(provider) = provider {
                opentelemetry::global::set_tracer_provider(provider.clone());
                let _ = PROVIDER.set(provider);
                crate::trace::set_exporting();
                tracing::info!(service, endpoint = %settings.otlp_endpoint, "exporting traces over OTLP/HTTP");
            }
            tracing::debug!(service, "telemetry initialised");
        }
        Err(_) => {
            // Another subscriber came first; this provider's spans would go nowhere.
            if let Some(provider) = provider {
                let _ = provider.shutdown();
            }
        }
    }
}

/// Exports every finished span now (tests; the batch processor otherwise sends every few
/// seconds). Nothing without an exporter.
pub fn flush() {
    if let Some(provider) = PROVIDER.get()
        && let Err(e) = provider.force_flush()
    {
        tracing::warn!(error = %e, "flushing spans failed");
    }
}

/// Exports what is left and stops exporting; call it once, as the process ends, outside any
/// async runtime (it blocks). Nothing without an exporter.
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && let Err(e) = provider.shutdown()
    {
        eprintln!("shutting down the span exporter failed: {e}");
    }
}

/// The tracer provider of `service`, exporting to `telemetry.otlp_endpoint`; `None` (after
/// saying why on stderr) if the endpoint is unusable — Sweep then runs without traces rather
/// than not at all.
fn provider(service: &'static str, settings: &TelemetrySettings) -> Option<SdkTracerProvider> {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url(&settings.otlp_endpoint))
        .with_timeout(settings.otlp_timeout)
        .with_http_client(ExportClient::new(settings.otlp_timeout))
        .build();
    match exporter {
        Ok(exporter) => Some(
            SdkTracerProvider::builder()
                .with_resource(Resource::builder().with_service_name(service).build())
                .with_batch_exporter(exporter)
                .build(),
        ),
        Err(e) => {
            eprintln!("telemetry.otlp_endpoint = {}: {e}; running without traces", settings.otlp_endpoint);
            None
        }
    }
}

/// The OTLP/HTTP traces URL of a collector: `<endpoint>/v1/traces`, unless the endpoint
/// names that path already.
fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") { base.to_owned() } else { format!("{base}/v1/traces") }
}

/// The exporter's HTTP client. The SDK's batch processor exports from a thread of its own,
/// outside any async runtime, which the async `reqwest` client needs; so each request runs on
/// a small runtime kept for exporting, which lives as long as the process (tests start and end
/// many runtimes while one exporter serves them all).
#[derive(Debug, Clone)]
struct ExportClient {
    client: reqwest::Client,
}

impl ExportClient {
    fn new(timeout: Duration) -> Self {
        let client = reqwest::Client::builder().timeout(timeout).build().unwrap_or_default();
        Self { client }
    }

    fn runtime() -> &'static tokio::runtime::Runtime {
        static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        RUNTIME.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("otlp-export")
                .enable_all()
                .build()
                .expect("starting the span export runtime")
        })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for ExportClient {
    async fn send_bytes(
        &self,
        request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> Result<opentelemetry_http::Response<opentelemetry_http::Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        Self::runtime().spawn(async move { client.send_bytes(request).await }).await?
    }
}

/// Formats events as `inner` does, adding `trace_id` and `span_id` ([`crate::trace::log_ids`]):
/// the first fields of a JSON line, the last ones of a human line.
struct WithTraceIds<F> {
    inner: F,
    json: bool,
}

impl WithTraceIds<Format<Json>> {
    fn json() -> Self {
        Self { inner: tfmt::format().json().with_current_span(true).flatten_event(true), json: true }
    }
}

impl WithTraceIds<Format<Full>> {
    fn human() -> Self {
        Self { inner: tfmt::format(), json: false }
    }
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let Some((trace_id, span_id)) = crate::trace::log_ids() else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::with_capacity(256);
        self.inner.format_event(ctx, Writer::new(&mut line), event)?;
        if self.json && line.starts_with('{') {
            let close = if line[1..].trim_start().starts_with('}') { "" } else { "," };
            write!(writer, "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\"{close}{}", &line[1..])
        } else {
            let body = line.trim_end_matches('\n');
            writeln!(writer, "{body} trace_id={trace_id} span_id={span_id}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_added_once() {
        assert_eq!(traces_url("http://collector:4318"), "http://collector:4318/v1/traces");
        assert_eq!(traces_url("http://collector:4318/"), "http://collector:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/v1/traces"), "http://c:4318/v1/traces");
    }
}

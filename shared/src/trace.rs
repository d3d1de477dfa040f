//! W3C trace context, the one place that knows how Sweep follows a deletion across processes.
//!
//! The API starts (or continues) a trace per request; every message it causes carries a
//! `traceparent` (stored with its outbox row, so a relay republishing the row keeps it), and
//! workers continue it in the messages they publish. Parsing and formatting `traceparent` is
//! the [`TraceContextPropagator`]'s job; this module decides what a unit of work continues.
//!
//! It works in one of two modes, chosen once per process by [`crate::telemetry::init`]:
//!
//! - **Exporting** (`telemetry.otlp_endpoint` set): the context is the active OpenTelemetry
//!   span's. A request span continues the caller's `traceparent`; publishing opens a `send`
//!   span per outbox row whose context goes into the AMQP headers; a seed message is
//!   processed in a child of its sender's span, while a job or monitor message starts a trace
//!   of its own that *links* to its sender's, so a batch of 10 000 jobs is not one trace.
//! - **Logs only** (the default): no spans are exported and none are added. The context is a
//!   task-local [`SpanContext`] set by [`in_context`]: each request and each message gets a
//!   new span id in the trace it was handed, and everything stays in one trace per batch.
//!
//! Either way, [`log_ids`] names the current trace and span id, which every log line carries
//! as `trace_id` and `span_id`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header (HTTP and AMQP) that carries the trace context.
pub const TRACEPARENT: &str = "traceparent";

static EXPORTING: AtomicBool = AtomicBool::new(false);

tokio::task_local! {
    /// The context of the unit of work being run, in the logs-only mode.
    static CURRENT: SpanContext;
}

/// Whether spans are exported (set once by [`crate::telemetry::init`]).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

pub(crate) fn set_exporting() {
    EXPORTING.store(true, Ordering::Relaxed);
}

/// How a unit of work relates to the trace context it was handed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// Part of the sender's trace: a request, a seed message.
    Child,
    /// A trace of its own, linked to the sender's: a job or monitor message. In the logs-only
    /// mode it stays in the sender's trace, as every message did before spans were exported.
    Link,
}

/// Runs `work` in `span`, in the trace context `traceparent` (from a request or a message
/// header; absent or invalid: a new trace) as `relation` says.
///
/// `span` must be fresh: its parent is set here, before anything can start it.
pub fn in_context<F: Future>(
    span: tracing::Span,
    traceparent: Option<&str>,
    relation: Relation,
    work: F,
) -> impl Future<Output = F::Output> {
    let remote = extract(traceparent);
    let local = if exporting() {
        let parent = match relation {
            Relation::Child if remote.is_valid() => Context::new().with_remote_span_context(remote.clone()),
            // A root of its own (not whatever context the caller happens to be in).
            _ => Context::new(),
        };
        if let Err(e) = span.set_parent(parent) {
            tracing::debug!(error = %e, "span not traced");
        }
        if relation == Relation::Link && remote.is_valid() {
            span.add_link(remote);
        }
        // Not needed: the OpenTelemetry span is the context.
        SpanContext::empty_context()
    } else {
        child_of(&remote)
    };
    CURRENT.scope(local, work).instrument(span)
}

/// The `traceparent` for a message the current unit of work is about to write: the active
/// span's when exporting, else a child of the task-local context; `None` outside any.
pub fn current_traceparent() -> Option<String> {
    let context = if exporting() {
        Context::map_current(|cx| cx.span().span_context().clone())
    } else {
        CURRENT.try_with(child_of).ok()?
    };
    format(&context)
}

/// Opens the PRODUCER span of publishing one message (`send <exchange>`), as a child of the
/// `traceparent` it was stored with, and answers the `traceparent` to send it with: the span's
/// when exporting (the span is `None` otherwise), else the stored one unchanged.
pub fn send_span(stored: Option<&str>, exchange: &str, routing_key: &str) -> (tracing::Span, Option<String>) {
    if !exporting() {
        return (tracing::Span::none(), stored.map(str::to_owned));
    }
    let span = tracing::info_span!(
        "send",
        otel.name = format!("send {}", if exchange.is_empty() { "amq.default" } else { exchange }),
        otel.kind = "producer",
        messaging.system = "rabbitmq",
        messaging.operation.type = "send",
        messaging.destination.name = exchange,
        messaging.rabbitmq.destination.routing_key = routing_key,
    );
    let remote = extract(stored);
    let parent = if remote.is_valid() { Context::new().with_remote_span_context(remote) } else { Context::new() };
    let _ = span.set_parent(parent);
    let traceparent = format(&span.context().span().span_context().clone()).or_else(|| stored.map(str::to_owned));
    (span, traceparent)
}

/// Marks `span` as failed with `error` when exporting; nothing otherwise.
pub fn failed(span: &tracing::Span, error: &dyn std::fmt::Display) {
    if exporting() {
        span.set_status(opentelemetry::trace::Status::error(error.to_string()));
    }
}

/// Adds an attribute to the active span when exporting (e.g. `batch.id` once a request has
/// created its batch); nothing otherwise.
pub fn annotate(key: &'static str, value: impl Into<opentelemetry::Value>) {
    if exporting() {
        Context::map_current(|cx| cx.span().set_attribute(KeyValue::new(key, value)));
    }
}

/// The trace and span id of the current unit of work (32 and 16 lower-case hex digits), for
/// log lines: the active span's when exporting, else the task-local context's.
pub fn log_ids() -> Option<(String, String)> {
    let context = if exporting() {
        Context::map_current(|cx| cx.span().span_context().clone())
    } else {
        CURRENT.try_with(Clone::clone).ok()?
    };
    context.is_valid().then(|| (context.trace_id().to_string(), context.span_id().to_string()))
}

/// The trace id part of a `traceparent` (empty if it has none).
pub fn trace_id(traceparent: &str) -> &str {
    traceparent.split('-').nth(1).unwrap_or("")
}

/// The context a `traceparent` names; invalid (never [`SpanContext::is_valid`]) for anything but
/// a valid one.
fn extract(traceparent: Option<&str>) -> SpanContext {
    struct Header<'a>(Option<&'a str>);
    impl Extractor for Header<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.filter(|_| key == TRACEPARENT)
        }
        fn keys(&self) -> Vec<&str> {
            vec![TRACEPARENT]
        }
    }
    let cx = TraceContextPropagator::new().extract(&Header(traceparent));
    cx.span().span_context().clone()
}

/// `context` as a `traceparent`; `None` if it is not valid.
fn format(context: &SpanContext) -> Option<String> {
    struct Header(Option<String>);
    impl Injector for Header {
        fn set(&mut self, key: &str, value: String) {
            if key == TRACEPARENT {
                self.0 = Some(value);
            }
        }
    }
    let mut header = Header(None);
    let cx = Context::new().with_remote_span_context(context.clone());
    TraceContextPropagator::new().inject_context(&cx, &mut header);
    header.0
}

/// A new span id in `parent`'s trace (with its flags); a new trace if `parent` is not valid.
fn child_of(parent: &SpanContext) -> SpanContext {
    let ids = RandomIdGenerator::default();
    if parent.is_valid() {
        SpanContext::new(
            parent.trace_id(),
            ids.new_span_id(),
            parent.trace_flags(),
            false,
            parent.trace_state().clone(),
        )
    } else {
        let sampled = opentelemetry::trace::TraceFlags::SAMPLED;
        SpanContext::new(ids.new_trace_id(), ids.new_span_id(), sampled, false, Default::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALLER: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    async fn traceparent_in(incoming: Option<&str>) -> Option<String> {
        in_context(tracing::Span::none(), incoming, Relation::Child, async { current_traceparent() }).await
    }

    #[tokio::test]
    async fn work_continues_the_callers_trace_with_a_span_of_its_own() {
        let child = traceparent_in(Some(CALLER)).await.unwrap();
        assert_eq!(child.len(), 55);
        assert_eq!(trace_id(&child), trace_id(CALLER));
        assert_ne!(child, CALLER);
        assert!(child.ends_with("-01"), "{child}");
        let unsampled = CALLER.replace("-01", "-00");
        assert!(traceparent_in(Some(&unsampled)).await.unwrap().ends_with("-00"));
    }

    #[tokio::test]
    async fn anything_but_a_valid_traceparent_starts_a_new_trace() {
        for garbage in [
            None,
            Some("garbage"),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-zz"),
            Some("00-00000000000000000000000000000000-b7ad6b7169203331-01"),
            Some("00-0af7651916cd43dd8448eb211c8031é-b7ad6b7169203331-01"),
        ] {
            let fresh = traceparent_in(garbage).await.unwrap();
            assert_eq!(trace_id(&fresh).len(), 32, "{garbage:?} → {fresh}");
            assert_ne!(trace_id(&fresh), trace_id(CALLER));
            assert_ne!(trace_id(&fresh), "00000000000000000000000000000000");
        }
    }

    #[tokio::test]
    async fn logs_name_the_context_of_the_work() {
        assert_eq!(current_traceparent(), None);
        assert_eq!(log_ids(), None);
        let (tp, (trace, span)) = in_context(tracing::Span::none(), Some(CALLER), Relation::Link, async {
            (current_traceparent().unwrap(), log_ids().unwrap())
        })
        .await;
        assert_eq!(trace, trace_id(CALLER));
        assert_eq!(span.len(), 16);
        assert_ne!(span, "b7ad6b7169203331");
        assert_eq!(trace_id(&tp), trace);
    }

    #[test]
    fn without_an_exporter_a_message_is_sent_with_its_stored_traceparent() {
        let (span, tp) = send_span(Some(CALLER), "sweep.work", "job");
        assert!(span.is_none());
        assert_eq!(tp.as_deref(), Some(CALLER));
    }
}

//! One consumer per queue: prefetch-bounded, one task per delivery, manual acks. A delivery is
//! acked only after its handler's transaction committed; a message that cannot be decoded is
//! rejected without requeue, which dead-letters it (poison messages never loop).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use shared::messages::{WORK_ROUTES, WorkMessage};
use shared::metrics::{self, MessageOutcome};
use shared::trace::{self, Relation};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{Ctx, Disposition, dispatch};

/// Consumes `queue` until `stop` is cancelled; returns an error if the broker ends the consumer.
pub async fn consume(
    ctx: Arc<Ctx>,
    channel: Channel,
    route: &'static str,
    stop: CancellationToken,
    tracker: TaskTracker,
) -> Result<(), shared::Error> {
    let queue = ctx.topology().queue(route);
    let failed = |what: &str| {
        let context = format!("{what} {queue}");
        move |e: lapin::Error| shared::Error::amqp(context, e)
    };
    // Per-consumer limit: bounds the deliveries (and so DB connections) in flight. The job
    // consumer holds `lookahead` more than it runs at once (`Ctx::running`).
    let amqp = &ctx.settings.amqp;
    let prefetch =
        if route == shared::messages::ROUTE_JOB { amqp.prefetch.saturating_add(amqp.lookahead) } else { amqp.prefetch };
    channel.basic_qos(prefetch, BasicQosOptions { global: false }).await.map_err(failed("setting the prefetch of"))?;
    let tag = format!("{queue}.{}", std::process::id());
    let mut consumer = channel
        .basic_consume(queue.clone().into(), tag.clone().into(), BasicConsumeOptions::default(), FieldTable::default())
        .await
        .map_err(failed("consuming"))?;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    let ctx = ctx.clone();
                    tracker.spawn(async move { process(&ctx, delivery).await });
                }
                Some(Err(e)) => return Err(failed("the consumer failed on")(e)),
                None => return Err(shared::Error::broker(format!("the broker cancelled the consumer of {queue}"))),
            }
        }
    }
    // Stop deliveries; unacked ones go back to the queue when the channel closes.
    channel.basic_cancel(tag.into(), BasicCancelOptions::default()).await.ok();
    Ok(())
}

fn traceparent(delivery: &Delivery) -> Option<String> {
    let headers = delivery.properties.headers().as_ref()?;
    headers.inner().iter().find(|(k, _)| k.as_str() == trace::TRACEPARENT).and_then(|(_, v)| match v {
        AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok().map(str::to_owned),
        _ => None,
    })
}

/// Handles one delivery from any work queue, however it was received (consumed, or fetched with
/// `basic.get` by a test driving the worker step by step): decode, dispatch, then ack (after the
/// handler's commit) and publish what the handler committed to the outbox, dead-letter, or
/// requeue. Errors are logged here, once.
///
/// It runs in a CONSUMER span (`process <queue>`): a seed continues its sender's trace, a job or
/// monitor message starts a trace of its own linked to its sender's ([`trace::Relation`]).
pub async fn process(ctx: &Ctx, delivery: Delivery) {
    let route = route_of(&delivery);
    if delivery.redelivered {
        metrics::redelivered(route);
    }
    let _in_flight = (route == shared::messages::ROUTE_JOB).then(metrics::job_in_flight);
    let message: WorkMessage = match serde_json::from_slice(&delivery.data) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(amqp.routing_key = %delivery.routing_key, error = %e, "Undecodable message dead-lettered");
            metrics::message(route, MessageOutcome::DeadLettered);
            delivery.reject(BasicRejectOptions { requeue: false }).await.ok();
            return;
        }
    };
    let (relation, job_id) = match &message {
        WorkMessage::SeedV1 { .. } => (Relation::Child, None),
        WorkMessage::DeleteProcessInstancesV1 { batch_id, job_seq } => {
            (Relation::Link, Some(format!("{batch_id}:{job_seq}")))
        }
        WorkMessage::MonitorV1 { .. } => (Relation::Link, None),
    };
    let queue = ctx.topology().queue(route);
    let span = tracing::info_span!(
        "message",
        otel.name = format!("process {queue}"),
        otel.kind = "consumer",
        messaging.system = "rabbitmq",
        messaging.operation.type = "process",
        messaging.destination.name = %queue,
        messaging.rabbitmq.destination.routing_key = %delivery.routing_key,
        messaging.rabbitmq.message.delivery_tag = delivery.delivery_tag,
        batch.id = %message.batch_id(),
        job.id = job_id,
        redelivered = delivery.redelivered,
    );
    let parent = traceparent(&delivery);
    trace::in_context(span, parent.as_deref(), relation, handle(ctx, route, &message, delivery)).await;
}

/// Dispatches `message` and tells the broker the outcome.
async fn handle(ctx: &Ctx, route: &'static str, message: &WorkMessage, delivery: Delivery) {
    let result = match dispatch(ctx, message).await {
        Ok(Disposition::Ack(messages)) => {
            metrics::message(route, MessageOutcome::Acked);
            let acked = delivery.ack(BasicAckOptions::default()).await;
            ctx.publisher.publish_committed(&ctx.db, &messages).await;
            acked
        }
        Ok(Disposition::DeadLetter) => {
            metrics::message(route, MessageOutcome::DeadLettered);
            delivery.reject(BasicRejectOptions { requeue: false }).await
        }
        Err(e) => {
            // The database or broker failed before anything was committed: try again later.
            tracing::warn!(error = %e, "Handler failed; message requeued");
            trace::failed(&tracing::Span::current(), &e);
            metrics::message(route, MessageOutcome::Requeued);
            // A short pause, so a database outage is not met with a hot redelivery loop.
            tokio::time::sleep(Duration::from_secs(1)).await;
            delivery.nack(BasicNackOptions { requeue: true, multiple: false }).await
        }
    };
    if let Err(e) = result {
        // The broker redelivers an unacknowledged message; handlers are idempotent.
        tracing::warn!(error = %e, "acknowledgement failed; the message will be redelivered");
    }
}

/// The work route a delivery came through, as a metric label (`job` for retries that came back
/// from a delay queue, whose routing key is `job` again).
fn route_of(delivery: &Delivery) -> &'static str {
    WORK_ROUTES.into_iter().find(|r| *r == delivery.routing_key.as_str()).unwrap_or("other")
}

//! Confirm-mode publishing of outbox rows. A message counts as published only when the broker
//! has confirmed it and did not return it as unroutable. Every message carries a stable
//! `message_id` (`<outbox row id>.<part>`), the same however often its row is published, so
//! consumers can deduplicate: delivery is at least once.

use std::time::Duration;

use deadpool_lapin::Pool;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};
use sea_orm::DatabaseConnection;
use tokio::sync::Mutex;

use crate::Error;
use crate::db::outbox::{self, StoredMessage};
use crate::{metrics, trace};

/// Publishes with publisher confirms over one long-lived channel, reopened after an error.
pub struct Publisher {
    pool: Pool,
    channel: Mutex<Option<Channel>>,
    /// Exchanges where an unroutable message is fine (the events exchange: nobody may listen).
    optional: Vec<String>,
    /// A publish that has not been confirmed by then is abandoned; it must end well inside the
    /// outbox claim lease, so that nobody else publishes the rows meanwhile.
    timeout: Duration,
}

impl Publisher {
    /// A publisher over `pool` giving up on a publish after `timeout`.
    pub fn new(pool: Pool, timeout: Duration) -> Self {
        Self { pool, channel: Mutex::new(None), optional: Vec::new(), timeout }
    }

    /// Messages to `exchange` may be unroutable without counting as a failure.
    pub fn with_optional_exchange(mut self, exchange: String) -> Self {
        self.optional.push(exchange);
        self
    }

    /// The underlying pool (for health checks).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Publishes `messages` (persistent, mandatory) and waits for every confirm, for at most the
    /// publish timeout.
    pub async fn publish(&self, messages: &[StoredMessage]) -> Result<(), Error> {
        if messages.is_empty() {
            return Ok(());
        }
        let mut guard = self.channel.lock().await;
        let attempt = async {
            let channel = match guard.as_ref().filter(|c| c.status().connected()) {
                Some(c) => c.clone(),
                None => {
                    let conn = self.pool.get().await.map_err(|e| Error::amqp("no AMQP connection", e))?;
                    let channel = conn.create_channel().await.map_err(|e| Error::amqp("opening a channel", e))?;
                    channel
                        .confirm_select(ConfirmSelectOptions::default())
                        .await
                        .map_err(|e| Error::amqp("enabling publisher confirms", e))?;
                    *guard = Some(channel.clone());
                    channel
                }
            };
            publish_on(&channel, messages, &self.optional).await
        };
        let result = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(Error::broker(format!("no confirm within {:?}", self.timeout))),
        };
        if result.is_err() {
            // The channel's state is unknown: start afresh next time.
            *guard = None;
        }
        result
    }

    /// Publishes rows the caller just committed (and holds the claim of) and removes them from
    /// the outbox. A failure is logged and left to the relay, which publishes them once their
    /// claim expires.
    pub async fn publish_committed(&self, db: &DatabaseConnection, messages: &[StoredMessage]) {
        if messages.is_empty() {
            return;
        }
        match self.publish(messages).await {
            Ok(()) => {
                let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
                if let Err(e) = outbox::remove_published(db, &ids).await {
                    tracing::warn!(error = %e, "published messages stay in the outbox; the relay will resend them");
                }
            }
            Err(e) => {
                metrics::outbox_publish_failed();
                tracing::warn!(error = %e, count = messages.len(), "publish failed; the outbox relay will retry")
            }
        }
    }
}

/// One AMQP message to send: a row, or one part of a split row.
struct Outgoing {
    row: usize,
    part: usize,
    payload: Vec<u8>,
}

async fn publish_on(channel: &Channel, messages: &[StoredMessage], optional: &[String]) -> Result<(), Error> {
    let mut outgoing = Vec::new();
    for (row, stored) in messages.iter().enumerate() {
        let m = &stored.message;
        if m.split {
            let parts = outbox::packed::unpack(&m.payload)?;
            outgoing.extend(parts.into_iter().enumerate().map(|(part, payload)| Outgoing { row, part, payload }));
        } else {
            outgoing.push(Outgoing { row, part: 0, payload: m.payload.clone() });
        }
    }
    // One PRODUCER span per row (a row's parts share it), ended once all its confirms are in.
    let rows: Vec<(tracing::Span, FieldTable)> = messages
        .iter()
        .map(|stored| {
            let m = &stored.message;
            let (span, traceparent) = trace::send_span(m.traceparent.as_deref(), &m.exchange, &m.routing_key);
            let mut headers = FieldTable::default();
            if let Some(tp) = traceparent {
                headers.insert(trace::TRACEPARENT.into(), AMQPValue::LongString(tp.into()));
            }
            (span, headers)
        })
        .collect();
    // Nobody may listen on an optional exchange. A row of many events there first sends one of
    // them alone and waits for its confirm: when the broker could route it nowhere, no queue is
    // bound for the row's routing key, and the rest of the row is not sent, as the broker would
    // drop it too. A queue bound later gets the events of rows published after its binding.
    let probes: Vec<usize> = messages
        .iter()
        .enumerate()
        .filter(|(_, s)| s.message.split && optional.contains(&s.message.exchange))
        .filter_map(|(row, _)| outgoing.iter().position(|o| o.row == row))
        .collect();
    let mut skipped_rows = Vec::new();
    for &probe in &probes {
        let row = outgoing[probe].row;
        if send(channel, messages, &rows, &outgoing[probe..=probe], optional, true).await? == 1 {
            skipped_rows.push(row);
            tracing::debug!(outbox.row = messages[row].id, "events nobody listens to are not sent");
        }
    }
    let rest: Vec<Outgoing> = outgoing
        .into_iter()
        .enumerate()
        .filter(|(i, o)| !probes.contains(i) && !skipped_rows.contains(&o.row))
        .map(|(_, o)| o)
        .collect();
    send(channel, messages, &rows, &rest, optional, false).await.map(|_| ())
}

/// Publishes `outgoing` (parts of `messages`, whose spans and headers are `rows`) and waits for
/// every confirm. Messages to an `optional` exchange may be unroutable, unless `probe`: then
/// every message is mandatory, and the number that came back unroutable is returned.
async fn send(
    channel: &Channel,
    messages: &[StoredMessage],
    rows: &[(tracing::Span, FieldTable)],
    outgoing: &[Outgoing],
    optional: &[String],
    probe: bool,
) -> Result<usize, Error> {
    // Build every publish first and drive them together: lapin then writes the frames in one
    // go instead of one socket round of its I/O thread per message.
    let mut publishes = Vec::with_capacity(outgoing.len());
    for o in outgoing {
        let m = &messages[o.row].message;
        let exchange = crate::mq::topology::short(&m.exchange)?;
        let routing_key = crate::mq::topology::short(&m.routing_key)?;
        let optional = !probe && optional.contains(&m.exchange);
        // mandatory: an unroutable message comes back instead of vanishing
        let options = BasicPublishOptions { mandatory: !optional, ..Default::default() };
        let properties = BasicProperties::default()
            .with_delivery_mode(2) // persistent
            .with_content_type("application/json".into())
            .with_message_id(format!("{}.{}", messages[o.row].id, o.part).into())
            .with_headers(rows[o.row].1.clone());
        let payload = &o.payload;
        publishes.push(async move { channel.basic_publish(exchange, routing_key, options, payload, properties).await });
    }
    let confirmed = async {
        let confirms = futures_util::future::try_join_all(publishes).await.map_err(|e| Error::amqp("publishing", e))?;
        let mut unroutable = 0;
        for confirm in confirms {
            let confirmation = confirm.await.map_err(|e| Error::amqp("waiting for a confirm", e))?;
            if !confirmation.is_ack() {
                return Err(Error::broker("broker nacked a message"));
            }
            if let Some(returned) = confirmation.take_message() {
                if probe {
                    unroutable += 1;
                    continue;
                }
                return Err(Error::broker(format!(
                    "message to {} / {} was unroutable ({})",
                    returned.delivery.exchange, returned.delivery.routing_key, returned.reply_text
                )));
            }
        }
        Ok(unroutable)
    }
    .await;
    if let Err(e) = &confirmed {
        outgoing.iter().for_each(|o| trace::failed(&rows[o.row].0, e));
    }
    confirmed
}

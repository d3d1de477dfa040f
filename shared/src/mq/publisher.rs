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

async fn publish_on(channel: &Channel, messages: &[StoredMessage], optional: &[String]) -> Result<(), Error> {
    // Build every publish first and drive them together: lapin then writes the frames in one
    // go instead of one socket round of its I/O thread per message.
    let mut outgoing = Vec::with_capacity(messages.len());
    // One PRODUCER span per row (a row's parts share it), ended once its confirm is in.
    let mut spans = Vec::with_capacity(messages.len());
    for stored in messages {
        let m = &stored.message;
        let parts: Vec<Vec<u8>> = if m.split {
            let items: Vec<serde_json::Value> = serde_json::from_slice(&m.payload)?;
            items.iter().map(serde_json::to_vec).collect::<Result<_, _>>()?
        } else {
            vec![m.payload.clone()]
        };
        let (span, traceparent) = trace::send_span(m.traceparent.as_deref(), &m.exchange, &m.routing_key);
        spans.push(span);
        let mut headers = FieldTable::default();
        if let Some(tp) = traceparent {
            headers.insert(trace::TRACEPARENT.into(), AMQPValue::LongString(tp.into()));
        }
        let exchange = crate::mq::topology::short(&m.exchange)?;
        let routing_key = crate::mq::topology::short(&m.routing_key)?;
        // mandatory: an unroutable message comes back instead of vanishing
        let options = BasicPublishOptions { mandatory: !optional.contains(&m.exchange), ..Default::default() };
        for (i, payload) in parts.into_iter().enumerate() {
            let properties = BasicProperties::default()
                .with_delivery_mode(2) // persistent
                .with_content_type("application/json".into())
                .with_message_id(format!("{}.{i}", stored.id).into())
                .with_headers(headers.clone());
            let (exchange, routing_key) = (exchange.clone(), routing_key.clone());
            outgoing
                .push(async move { channel.basic_publish(exchange, routing_key, options, &payload, properties).await });
        }
    }
    let confirmed = async {
        let confirms = futures_util::future::try_join_all(outgoing).await.map_err(|e| Error::amqp("publishing", e))?;
        for confirm in confirms {
            let confirmation = confirm.await.map_err(|e| Error::amqp("waiting for a confirm", e))?;
            if !confirmation.is_ack() {
                return Err(Error::broker("broker nacked a message"));
            }
            if let Some(returned) = confirmation.take_message() {
                return Err(Error::broker(format!(
                    "message to {} / {} was unroutable ({})",
                    returned.delivery.exchange, returned.delivery.routing_key, returned.reply_text
                )));
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = &confirmed {
        spans.iter().for_each(|span| trace::failed(span, e));
    }
    confirmed
}

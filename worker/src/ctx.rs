//! What every handler needs: the database, the publisher, the topology and the settings.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use sea_orm::DatabaseConnection;
use shared::mq::{Publisher, Topology};
use shared::outbox::OutboxMessage;

/// Shared by all deliveries of one worker process.
pub struct Ctx {
    /// Connection pool.
    pub db: DatabaseConnection,
    /// AMQP connection pool.
    pub amqp: deadpool_lapin::Pool,
    /// Publisher of outbox rows.
    pub publisher: Arc<Publisher>,
    /// Names.
    pub topology: Topology,
    /// Settings.
    pub settings: shared::Settings,
    /// Set when shutdown begins; readiness then fails.
    pub shutting_down: AtomicBool,
}

impl Ctx {
    /// Connects to both services and declares the topology.
    pub async fn connect(settings: shared::Settings) -> Result<Self, shared::Error> {
        let db = shared::db::connect(&settings.database, "sweep-worker").await?;
        let (amqp, publisher, topology) = shared::mq::setup::connect_and_declare(&settings, "sweep-worker").await?;
        Ok(Self { db, amqp, publisher, topology, settings, shutting_down: AtomicBool::new(false) })
    }

    /// An outbox message for the work exchange.
    pub fn work(&self, message: &shared::messages::WorkMessage) -> OutboxMessage {
        OutboxMessage {
            exchange: self.topology.work_exchange(),
            routing_key: message.routing_key().to_owned(),
            payload: serde_json::to_vec(message).expect("work messages serialise"),
            traceparent: shared::trace::current_child(),
            split: false,
        }
    }

    /// An outbox message for the events exchange.
    pub fn event(&self, routing_key: &str, body: &impl serde::Serialize) -> OutboxMessage {
        OutboxMessage {
            exchange: self.topology.events_exchange(),
            routing_key: routing_key.to_owned(),
            payload: serde_json::to_vec(body).expect("events serialise"),
            traceparent: shared::trace::current_child(),
            split: false,
        }
    }

    /// A few outbox rows for many events of the same kind, each event published as a message
    /// of its own.
    pub fn events<T: serde::Serialize>(&self, routing_key: &str, bodies: &[T]) -> Vec<OutboxMessage> {
        shared::outbox::split_payloads(bodies)
            .expect("events serialise")
            .into_iter()
            .map(|payload| OutboxMessage { split: true, payload, ..self.event(routing_key, &()) })
            .collect()
    }
}

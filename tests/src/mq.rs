//! RabbitMQ as the tests see it: the events Sweep announces ([`EventTap`]) and copies of the
//! work messages it publishes ([`TestMq`]).

use crate::amqp_url;

/// A queue bound to the events exchange (`#`) that collects what Sweep announces.
pub struct EventTap {
    channel: lapin::Channel,
    queue: String,
    _conn: lapin::Connection,
}

/// One captured event.
#[derive(Debug, Clone)]
pub struct CapturedEvent {
    /// Routing key, e.g. `process-instance.deleted`.
    pub routing_key: String,
    /// JSON body.
    pub body: serde_json::Value,
    /// `traceparent` header.
    pub traceparent: Option<String>,
}

impl EventTap {
    /// Binds a fresh exclusive queue to `<prefix>.events`; the exchange must exist (start the
    /// API or a worker first).
    pub async fn bind(settings: &shared::Settings) -> Self {
        use lapin::options::{QueueBindOptions, QueueDeclareOptions};
        let conn =
            lapin::Connection::connect(&settings.amqp.url, lapin::ConnectionProperties::default()).await.expect("amqp");
        let channel = conn.create_channel().await.unwrap();
        let queue = format!("{}.tap.{}", settings.amqp.prefix, uuid::Uuid::new_v4().simple());
        channel
            .queue_declare(
                queue.clone().into(),
                QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() },
                Default::default(),
            )
            .await
            .unwrap();
        channel
            .queue_bind(
                queue.clone().into(),
                format!("{}.events", settings.amqp.prefix).into(),
                "#".into(),
                QueueBindOptions::default(),
                Default::default(),
            )
            .await
            .unwrap();
        Self { channel, queue, _conn: conn }
    }

    /// Takes every event queued so far.
    pub async fn drain(&self) -> Vec<CapturedEvent> {
        use lapin::options::{BasicAckOptions, BasicGetOptions};
        let mut out = Vec::new();
        while let Some(msg) =
            self.channel.basic_get(self.queue.clone().into(), BasicGetOptions::default()).await.unwrap()
        {
            let delivery = msg.delivery;
            let traceparent = delivery.properties.headers().as_ref().and_then(|h| {
                h.inner().iter().find(|(k, _)| k.as_str() == "traceparent").and_then(|(_, v)| match v {
                    lapin::types::AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok().map(str::to_owned),
                    _ => None,
                })
            });
            out.push(CapturedEvent {
                routing_key: delivery.routing_key.to_string(),
                body: serde_json::from_slice(&delivery.data).unwrap_or(serde_json::Value::Null),
                traceparent,
            });
            delivery.ack(BasicAckOptions::default()).await.unwrap();
        }
        out
    }
}

/// A RabbitMQ namespace of one test: a unique prefix, its topology declared, and exclusive tap
/// queues bound to the work exchange (`seed`, `job`, `monitor`) that receive a copy of every
/// work message. Sweep's queues expire ten minutes after the test stops using them.
pub struct TestMq {
    /// Prefix of every exchange and queue name.
    pub prefix: String,
    /// Names under the prefix.
    pub topology: shared::mq::Topology,
    /// A channel for the test's own inspection.
    pub channel: lapin::Channel,
    _connection: lapin::Connection,
}

impl TestMq {
    /// Settings entries that put a process on `prefix` with expiring queues.
    pub fn env(prefix: &str) -> [(&'static str, &str); 2] {
        [("SWEEP__AMQP__PREFIX", prefix), ("SWEEP__AMQP__QUEUE_EXPIRES", "5m")]
    }

    /// Declares the topology `settings` describe, as both binaries do at start.
    pub async fn declare(settings: &shared::Settings) -> Self {
        let connection = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
            .await
            .expect("connect to the test RabbitMQ");
        let channel = connection.create_channel().await.expect("channel");
        let topology = shared::mq::Topology::from_settings(settings);
        topology.declare(&channel).await.expect("declare topology");
        for route in shared::messages::WORK_ROUTES {
            // Copies, so the test reads what was published without taking it from Sweep's
            // queues (and with quorum queues too, whose single-active-consumer monitor queue
            // refuses basic.get).
            let tap = format!("{}.tap.{route}", settings.amqp.prefix);
            let options =
                lapin::options::QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
            channel.queue_declare(tap.as_str().into(), options, Default::default()).await.expect("declare tap");
            channel
                .queue_bind(
                    tap.into(),
                    topology.work_exchange().into(),
                    route.into(),
                    Default::default(),
                    Default::default(),
                )
                .await
                .expect("bind tap");
        }
        Self { prefix: settings.amqp.prefix.clone(), topology, channel, _connection: connection }
    }

    /// Takes every work message published with routing key `route` since the last call.
    pub async fn drain(&self, route: &str) -> Vec<serde_json::Value> {
        let mut bodies = Vec::new();
        let queue = format!("{}.tap.{route}", self.prefix);
        while let Some(message) = self
            .channel
            .basic_get(queue.as_str().into(), lapin::options::BasicGetOptions { no_ack: true })
            .await
            .expect("basic_get")
        {
            bodies.push(serde_json::from_slice(&message.delivery.data).expect("JSON message"));
        }
        bodies
    }
}

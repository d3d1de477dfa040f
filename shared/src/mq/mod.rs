//! RabbitMQ: topology names and declaration, and the confirm-mode publisher. Every name takes
//! the `amqp.prefix` setting, so several installations (or tests) share one broker.

pub mod publisher;
pub mod relay;
pub mod setup;
pub mod topology;

pub use publisher::Publisher;
pub use topology::Topology;

use deadpool_lapin::{Config, Pool, Runtime};
use lapin::ConnectionProperties;

use crate::settings::AmqpSettings;

/// A connection pool for `amqp.url`. Create it inside the tokio runtime that will use it.
pub fn pool(settings: &AmqpSettings, name: &'static str) -> Result<Pool, crate::Error> {
    Config { url: Some(settings.url.clone()), ..Default::default() }
        .create_pool(move || connection_properties(name), Runtime::Tokio1)
        .map_err(|e| crate::Error::amqp("creating the AMQP pool", e))
}

/// Connection properties used by every Sweep connection.
pub fn connection_properties(name: &str) -> ConnectionProperties {
    // Auto-recovery replays topology, consumers and QoS after a dropped connection; handlers are
    // idempotent, so the redeliveries it causes are harmless.
    ConnectionProperties::default().enable_auto_recover().with_connection_name(name.into())
}

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

/// Messages ready in `queue`, from a passive declare on a channel of its own (a passive
/// declare of a missing queue closes its channel).
pub async fn queue_depth(pool: &Pool, queue: &str) -> Result<u32, crate::Error> {
    let conn = pool.get().await.map_err(|e| crate::Error::amqp("connecting to amqp.url", e))?;
    let channel = conn.create_channel().await.map_err(|e| crate::Error::amqp("opening a channel", e))?;
    let options = lapin::options::QueueDeclareOptions { passive: true, ..Default::default() };
    let declared = channel
        .queue_declare(queue.into(), options, Default::default())
        .await
        .map_err(|e| crate::Error::amqp(format!("inspecting {queue}"), e))?;
    channel.close(200, "inspected".into()).await.ok();
    Ok(declared.message_count())
}

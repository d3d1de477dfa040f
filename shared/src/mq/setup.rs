//! Start-up glue shared by both binaries: connect to the broker and declare the topology.

use std::sync::Arc;

use crate::Error;
use crate::mq::{Publisher, Topology};
use crate::settings::Settings;

/// Creates the connection pool and publisher for `settings`, and declares the topology.
pub async fn connect_and_declare(
    settings: &Settings,
    name: &'static str,
) -> Result<(deadpool_lapin::Pool, Arc<Publisher>, Topology), Error> {
    let pool = crate::mq::pool(&settings.amqp, name)?;
    let topology = Topology::from_settings(settings);
    let conn = pool.get().await.map_err(|e| Error::amqp("connecting to amqp.url", e))?;
    let channel = conn.create_channel().await.map_err(|e| Error::amqp("opening a channel", e))?;
    topology.declare(&channel).await.map_err(|e| Error::amqp("declaring the topology", e))?;
    channel.close(200, "declared".into()).await.ok();
    drop(conn);
    let publisher = Publisher::new(pool.clone(), settings.outbox.publish_timeout)
        .with_optional_exchange(topology.events_exchange());
    Ok((pool, Arc::new(publisher), topology))
}

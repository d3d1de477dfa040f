//! One handler per message kind. Each is idempotent: it re-reads the database, acts only if
//! the state still calls for it, commits, publishes what it wrote to the outbox, then returns
//! `Ack`. Redelivery is normal.

pub mod delete_process_instances;
pub mod monitor;
pub mod seed;

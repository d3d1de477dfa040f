//! The one integration-test binary: every module runs against real PostgreSQL (and, where the
//! pipeline is involved, real RabbitMQ) on 127.0.0.1.

mod batch_api;
mod deletion;
mod health;
mod schema;

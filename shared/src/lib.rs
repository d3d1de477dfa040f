//! Sweep's shared library: settings, telemetry, the database schema and migrations, the
//! process-instance query language, the set-based deletion core and the demo-data generator.
//! Both binaries (`sweep-api`, `sweep-worker`) stand on it; it knows nothing about HTTP.

#![warn(missing_docs)]

pub mod auth;
pub mod batch;
pub mod camunda;
pub mod control;
pub mod db;
pub mod deletion;
pub mod demo;
pub mod error;
pub mod health;
pub mod messages;
pub mod metrics;
pub mod mq;
pub mod query;
pub mod settings;
pub mod telemetry;
pub mod trace;

pub use error::Error;
pub use settings::Settings;

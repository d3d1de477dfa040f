//! The one integration-test binary: every module runs against real PostgreSQL (and, where the
//! pipeline is involved, real RabbitMQ) on 127.0.0.1.

mod auth;
mod batch_api;
mod batch_endpoints;
mod cli;
mod deletion;
mod demo;
mod end_to_end;
mod fidelity;
mod generated_input;
mod health;
mod invariants;
mod live;
mod metrics;
mod openapi;
mod outbox;
mod pipeline;
mod process_instance_delete;
mod process_instance_query;
mod scale;
mod schema;
mod steering;
mod traces;
mod ui;
mod unavailable;

/// The test builds of the binaries, for tests that run them as processes.
pub const WORKER_BIN: &str = env!("CARGO_BIN_EXE_sweep-worker-it");
/// See [`WORKER_BIN`].
pub const API_BIN: &str = env!("CARGO_BIN_EXE_sweep-api-it");
/// See [`WORKER_BIN`].
pub const CLI_BIN: &str = env!("CARGO_BIN_EXE_sweep-it");

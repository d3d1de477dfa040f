//! Deletion batches as the API changes them: creation ([`create`]) and control of a running
//! batch ([`control`]: suspension, deletion, retries). Each operation runs in one transaction
//! and returns the committed outbox rows its caller publishes. The rows themselves and every
//! statement on them live in [`crate::db`].

pub mod control;
pub mod create;

pub use crate::db::batch::{Batch, BatchInfo, TYPE_INSTANCE_DELETION};

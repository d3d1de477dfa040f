//! One exhaustive match from message to handler.

use shared::db::outbox::StoredMessage;
use shared::messages::WorkMessage;

use crate::{Ctx, handlers};

/// What to tell the broker about a handled delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Handled and committed (or nothing to do): acknowledge, then publish these committed
    /// outbox rows. Acking first frees the consumer's prefetch slot for the next delivery while
    /// the messages go out; they are in the outbox already, so the relay sends them should this
    /// process die first.
    Ack(Vec<StoredMessage>),
    /// The message can never be handled: dead-letter it.
    DeadLetter,
}

impl Disposition {
    /// Nothing to do and nothing to publish.
    pub const DONE: Disposition = Disposition::Ack(Vec::new());
}

/// Runs the handler of `message`. `Err` means nothing was committed and the message should be
/// redelivered later.
pub async fn dispatch(ctx: &Ctx, message: &WorkMessage) -> Result<Disposition, shared::Error> {
    match message {
        WorkMessage::SeedV1 { batch_id, jobs_created } => handlers::seed::handle(ctx, batch_id, *jobs_created).await,
        WorkMessage::DeleteProcessInstancesV1 { batch_id, job_seq } => {
            handlers::delete_process_instances::handle(ctx, batch_id, *job_seq).await
        }
        WorkMessage::MonitorV1 { batch_id } => handlers::monitor::handle(ctx, batch_id).await,
    }
}

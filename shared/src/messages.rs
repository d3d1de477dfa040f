//! The message contract between `sweep-api` and `sweep-worker` replicas. A message names rows;
//! it never carries their truth: handlers re-read the database. Changing a variant's fields
//! means adding a new versioned variant, so mixed-version replicas keep working during a
//! rolling deploy.

use serde::{Deserialize, Serialize};

/// A message on the work exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkMessage {
    /// Create the next jobs of a batch. Acts only while the batch's `jobsCreated` still equals
    /// `jobs_created`, so a redelivered seed is a no-op.
    SeedV1 {
        /// Batch id.
        batch_id: String,
        /// `jobsCreated` the sender saw.
        jobs_created: i32,
    },
    /// Delete the items of one batch job.
    DeleteProcessInstancesV1 {
        /// Batch id.
        batch_id: String,
        /// Job number within the batch, from 1.
        job_seq: i32,
    },
    /// Re-check a batch's progress; completes it when every job is done.
    MonitorV1 {
        /// Batch id.
        batch_id: String,
    },
}

impl WorkMessage {
    /// Routing key on the work exchange (and name suffix of its queue).
    pub fn routing_key(&self) -> &'static str {
        match self {
            WorkMessage::SeedV1 { .. } => ROUTE_SEED,
            WorkMessage::DeleteProcessInstancesV1 { .. } => ROUTE_JOB,
            WorkMessage::MonitorV1 { .. } => ROUTE_MONITOR,
        }
    }

    /// The batch the message is about.
    pub fn batch_id(&self) -> &str {
        match self {
            WorkMessage::SeedV1 { batch_id, .. }
            | WorkMessage::DeleteProcessInstancesV1 { batch_id, .. }
            | WorkMessage::MonitorV1 { batch_id } => batch_id,
        }
    }
}

/// Routing key of seed messages.
pub const ROUTE_SEED: &str = "seed";
/// Routing key of job messages.
pub const ROUTE_JOB: &str = "job";
/// Routing key of monitor messages.
pub const ROUTE_MONITOR: &str = "monitor";

/// Every routing key of the work exchange, each with a queue of the same suffix. The topology
/// declares, the worker consumes and the tests tap exactly these.
pub const WORK_ROUTES: [&str; 3] = [ROUTE_SEED, ROUTE_JOB, ROUTE_MONITOR];

/// Routing key of the per-instance deletion event on the events exchange.
pub const EVENT_PROCESS_INSTANCE_DELETED: &str = "process-instance.deleted";
/// Routing key of the batch-completed event.
pub const EVENT_BATCH_COMPLETED: &str = "batch.completed";

/// Body of a `process-instance.deleted` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessInstanceDeletedEvent {
    /// Deleted process instance.
    pub process_instance_id: String,
    /// Key of its definition.
    pub process_definition_key: Option<String>,
    /// Business key.
    pub business_key: Option<String>,
    /// Tenant.
    pub tenant_id: Option<String>,
    /// Delete reason of the batch.
    pub delete_reason: Option<String>,
    /// The batch that deleted it.
    pub batch_id: String,
    /// The requested instance whose deletion took this called one along, if any.
    pub deleted_with: Option<String>,
}

/// Body of a `batch.completed` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchCompletedEvent {
    /// Batch id.
    pub batch_id: String,
    /// Items selected.
    pub total: i64,
    /// Items deleted.
    pub deleted: i64,
    /// Items skipped.
    pub skipped: i64,
    /// Items failed.
    pub failed: i64,
    /// Camunda-formatted end time.
    pub end_time: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_their_wire_form() {
        let m = WorkMessage::DeleteProcessInstancesV1 { batch_id: "b".into(), job_seq: 3 };
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"type":"delete_process_instances_v1","batch_id":"b","job_seq":3}"#);
        assert_eq!(serde_json::from_str::<WorkMessage>(&json).unwrap(), m);
        assert!(serde_json::from_str::<WorkMessage>(r#"{"type":"unknown_v9"}"#).is_err());
    }
}

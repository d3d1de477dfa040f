//! Camunda 7 REST wire types shared by the API and the tests: the date format, the error body
//! and the DTOs whose field names Camunda fixes. Field names here are part of the contract.

use chrono::{DateTime, Datelike, FixedOffset, Local, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Camunda's date pattern `yyyy-MM-dd'T'HH:mm:ss.SSSZ`, e.g. `2016-04-12T15:29:33.000+0200`.
pub const DATE_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3f%z";

/// Formats a UTC instant the way Camunda does, in the server's local offset.
pub fn format_date(at: DateTime<Utc>) -> String {
    at.with_timezone(&Local).format(DATE_FORMAT).to_string()
}

/// Formats a `timestamp without time zone` column value, which Camunda writes in the
/// server's local time (Sweep writes UTC; see [`now_naive`]).
pub fn format_naive(at: NaiveDateTime) -> String {
    format_date(Utc.from_utc_datetime(&at))
}

/// The instant to store in a Camunda `timestamp` column: UTC without offset.
pub fn now_naive() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// Parses a Camunda date (`2016-04-12T15:29:33.000+0200`); also accepts RFC 3339. Only years 1
/// to 9999, the four digits of Camunda's `yyyy`: chrono also reads signed years from -262143 on,
/// which PostgreSQL refuses as parameters (its timestamps start in 4713 BC).
pub fn parse_date(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_str(text, DATE_FORMAT)
        .ok()
        .or_else(|| DateTime::parse_from_rfc3339(text).ok())
        .filter(|d| (1..=9999).contains(&d.year()))
}

/// Camunda's error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExceptionDto {
    /// Simple class name of the exception, e.g. `InvalidRequestException`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Human-readable message.
    pub message: String,
    /// Engine error code, or null.
    pub code: Option<i32>,
}

/// Camunda's `AuthorizationExceptionDto`, the body of a 403. The deprecated single-valued fields
/// are filled only when exactly one authorization is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationExceptionDto {
    /// `AuthorizationException`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `The user with id 'U' does not have …`.
    pub message: String,
    /// Always null.
    pub code: Option<i32>,
    /// The refused user.
    pub user_id: String,
    /// Deprecated: the permission, when exactly one authorization is missing.
    pub permission_name: Option<String>,
    /// Deprecated: the resource, when exactly one authorization is missing.
    pub resource_name: Option<String>,
    /// Deprecated: the resource id, when exactly one authorization is missing.
    pub resource_id: Option<String>,
    /// Any one of these would have allowed the action.
    pub missing_authorizations: Vec<MissingAuthorizationDto>,
}

/// One missing authorization of an [`AuthorizationExceptionDto`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MissingAuthorizationDto {
    /// E.g. `READ`.
    pub permission_name: String,
    /// E.g. `Batch`.
    pub resource_name: String,
    /// The resource id, or null for a global check.
    pub resource_id: Option<String>,
}

/// `{"count": n}`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CountResultDto {
    /// Number of matches.
    pub count: i64,
}

/// A runtime process instance as `GET /process-instance` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessInstanceDto {
    /// Process-instance id.
    pub id: String,
    /// Id of its process definition.
    pub definition_id: Option<String>,
    /// Key of its process definition.
    pub definition_key: Option<String>,
    /// Business key.
    pub business_key: Option<String>,
    /// Case instance that started it, if any.
    pub case_instance_id: Option<String>,
    /// Always false for a runtime instance.
    pub ended: bool,
    /// Whether it is suspended.
    pub suspended: bool,
    /// Tenant.
    pub tenant_id: Option<String>,
    /// Hypermedia links; always empty in lists.
    pub links: Vec<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_camunda_format() {
        let at = Utc.with_ymd_and_hms(2016, 4, 12, 13, 29, 33).unwrap();
        let text = format_date(at);
        assert_eq!(text.len(), "2016-04-12T15:29:33.000+0200".len(), "{text}");
        assert_eq!(parse_date(&text).unwrap().with_timezone(&Utc), at);
        assert_eq!(
            parse_date("2016-04-12T15:29:33.000+0200").unwrap().with_timezone(&Utc),
            Utc.with_ymd_and_hms(2016, 4, 12, 13, 29, 33).unwrap()
        );
        assert!(parse_date("12.04.2016").is_none());
    }

    #[test]
    fn dates_have_four_digit_years() {
        assert!(parse_date("9999-12-31T23:59:59.999+0000").is_some());
        assert!(parse_date("0001-01-01T00:00:00.000+0000").is_some());
        for text in ["-4714-11-23T23:59:59.999+0000", "+10000-01-01T00:00:00.000+0000", "0000-01-01T00:00:00.000+0000"]
        {
            assert!(parse_date(text).is_none(), "{text}");
        }
    }
}

/// A runtime batch (`GET /batch/{id}`, the answer of `POST /process-instance/delete`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchDto {
    /// Batch id.
    pub id: String,
    /// `instance-deletion`.
    #[serde(rename = "type")]
    pub kind: String,
    /// ceil(selected instances / invocationsPerBatchJob).
    pub total_jobs: i32,
    /// Jobs created so far.
    pub jobs_created: i32,
    /// Jobs created per seed run.
    pub batch_jobs_per_seed: i32,
    /// Instances per job.
    pub invocations_per_batch_job: i32,
    /// Id of the seed job definition.
    pub seed_job_definition_id: String,
    /// Id of the monitor job definition.
    pub monitor_job_definition_id: String,
    /// Id of the batch job definition (the execution jobs).
    pub batch_job_definition_id: String,
    /// Whether the batch is suspended.
    pub suspended: bool,
    /// Always null for deletion batches.
    pub tenant_id: Option<String>,
    /// Creating user, if known.
    pub create_user_id: Option<String>,
    /// Creation time.
    pub start_time: Option<String>,
    /// When the first job started.
    pub execution_start_time: Option<String>,
    /// Sweep extension: instances deleted per second at most, over all workers; null: unlimited.
    #[serde(default)]
    pub max_instances_per_second: Option<f64>,
    /// Sweep extension: jobs of this batch running at once at most; null: only its fair share
    /// of the cluster-wide limit.
    #[serde(default)]
    pub max_concurrent_jobs: Option<i32>,
    /// Sweep extension: larger is more urgent (weighs its share of the cluster-wide limit); also
    /// the priority of the batch-job definition, so of the jobs created from now on.
    #[serde(default)]
    pub priority: i64,
    /// Sweep extension: the daily window jobs run in; null: always.
    #[serde(default)]
    pub run_window: Option<crate::control::RunWindow>,
    /// Sweep extension: true while the batch waits for its run window to open.
    #[serde(default)]
    pub waiting_for_window: bool,
}

/// A runtime batch with its progress (`GET /batch/statistics`): Camunda's job counters, then
/// Sweep's instance counters, which always add up: `totalInstances = pendingInstances +
/// runningInstances + deletedInstances + skippedInstances + failedInstances`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchStatisticsDto {
    /// The batch itself.
    #[serde(flatten)]
    pub batch: BatchDto,
    /// Jobs not done (pending, running, failed) plus jobs not yet created.
    pub remaining_jobs: i32,
    /// `totalJobs - remainingJobs`.
    pub completed_jobs: i32,
    /// Jobs without retries left.
    pub failed_jobs: i32,
    /// Sweep extension: instances selected.
    pub total_instances: i64,
    /// Sweep extension: instances not processed yet.
    pub pending_instances: i64,
    /// Sweep extension: instances in jobs a worker is running (or was interrupted in).
    pub running_instances: i64,
    /// Sweep extension: instances deleted.
    pub deleted_instances: i64,
    /// Sweep extension: instances not found (`failIfNotExists=false`).
    pub skipped_instances: i64,
    /// Sweep extension: instances that failed.
    pub failed_instances: i64,
}

/// A historic batch (`GET /history/batch/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoricBatchDto {
    /// Batch id.
    pub id: String,
    /// `instance-deletion`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Jobs the batch needed.
    pub total_jobs: i32,
    /// Jobs created per seed run.
    pub batch_jobs_per_seed: i32,
    /// Instances per job.
    pub invocations_per_batch_job: i32,
    /// Id of the seed job definition.
    pub seed_job_definition_id: String,
    /// Id of the monitor job definition.
    pub monitor_job_definition_id: String,
    /// Id of the batch job definition.
    pub batch_job_definition_id: String,
    /// Always null for deletion batches.
    pub tenant_id: Option<String>,
    /// Creating user, if known.
    pub create_user_id: Option<String>,
    /// Creation time.
    pub start_time: String,
    /// Completion or deletion time.
    pub end_time: Option<String>,
    /// When history cleanup may remove it.
    pub removal_time: Option<String>,
    /// When the first job started.
    pub execution_start_time: Option<String>,
}

/// A batch job (execution, seed or monitor job) as Camunda's job API shows it (`GET /job`).
/// Sweep's jobs belong to no process instance, so those fields are always null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobDto {
    /// `<batchId>:<seq>`, or `<batchId>:seed` / `<batchId>:monitor`.
    pub id: String,
    /// The batch's `batchJobDefinitionId` (seed and monitor jobs: their own definitions).
    pub job_definition_id: String,
    /// Not worked before this moment; null (the usual case) is due at once.
    pub due_date: Option<String>,
    /// Always null.
    pub process_instance_id: Option<String>,
    /// Always null.
    pub execution_id: Option<String>,
    /// Always null.
    pub process_definition_id: Option<String>,
    /// Always null.
    pub process_definition_key: Option<String>,
    /// Retries left.
    pub retries: i32,
    /// Message of the last failure, if any.
    pub exception_message: Option<String>,
    /// Always null.
    pub failed_activity_id: Option<String>,
    /// Whether its batch is suspended.
    pub suspended: bool,
    /// Larger runs first within its batch (`PUT /job/{id}/priority`); the batch's priority when created.
    pub priority: i64,
    /// The batch's tenant (always null).
    pub tenant_id: Option<String>,
    /// When the seed created it.
    pub create_time: Option<String>,
    /// The batch it belongs to.
    pub batch_id: String,
}

/// Body of `PUT /job/{id}/retries` and `PUT /job-definition/{id}/retries`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetriesDto {
    /// Retries to set; required, at least 0.
    #[schema(required = true, minimum = 0)]
    pub retries: Option<i32>,
    /// The job's new due date (Camunda 7.20+), in Camunda's date format: it is not worked
    /// before then. Absent: the due date stays; `null`: due at once.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_date: Option<Option<String>>,
}

/// Tells a field given as `null` (`Some(None)`) from an absent one (`None`, by `default`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Body of `PUT /batch/{id}/suspended`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SuspensionStateDto {
    /// `true` suspends, `false` or absent activates.
    pub suspended: Option<bool>,
}

/// Sweep extension: one entry of a batch's item ledger (`GET /batch/{id}/items`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemDto {
    /// The selected process instance.
    pub process_instance_id: String,
    /// `pending`, `deleted`, `skipped` or `failed`.
    pub state: String,
    /// Why it failed, if it did.
    pub reason: Option<String>,
    /// Position in the batch, from 1.
    pub seq: i64,
}

/// Sweep extension: answer of `POST /process-instance/delete?dryRun=true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletionPreviewDto {
    /// Instances the real call would snapshot now (unknown explicit ids with
    /// `failIfNotExists=false` included: they would become skipped items).
    pub instances: i64,
    /// Instances the selected ones call, transitively, that are not selected themselves and would
    /// be deleted with their callers; 0 with `skipSubprocesses`.
    pub called_instances: i64,
    /// Selected running instances per process-definition key.
    pub by_process_definition_key: std::collections::BTreeMap<String, i64>,
    /// Up to 20 selected ids, in id order.
    pub sample: Vec<String>,
    /// Jobs the batch would have: `ceil(instances / invocationsPerBatchJob)`.
    pub total_jobs: i64,
    /// Whole seconds the deletion would take at the rate of recently ended batches; `null`
    /// without such history.
    pub eta_seconds: Option<i64>,
}

/// Sweep extension: answer of `POST /batch/{id}/retry-failed-items`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryFailedItemsResultDto {
    /// Items put back to pending.
    pub retried_items: i64,
    /// Jobs put back to pending and re-enqueued.
    pub retried_jobs: i64,
}

/// A job definition as Camunda's job-definition API shows it (`GET /job-definition`). Each
/// runtime batch has three: its seed, its monitor and its execution jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobDefinitionDto {
    /// The batch's `seedJobDefinitionId`, `monitorJobDefinitionId` or `batchJobDefinitionId`.
    pub id: String,
    /// Always null: batch job definitions belong to no process definition.
    pub process_definition_id: Option<String>,
    /// Always null.
    pub process_definition_key: Option<String>,
    /// Always null.
    pub activity_id: Option<String>,
    /// `batch-seed-job`, `batch-monitor-job` or the batch type (`instance-deletion`).
    pub job_type: String,
    /// The batch id.
    pub job_configuration: String,
    /// Whether its batch is suspended.
    pub suspended: bool,
    /// The overriding priority of its jobs (null: none).
    pub overriding_job_priority: Option<i64>,
    /// The batch's tenant (always null).
    pub tenant_id: Option<String>,
    /// Always null: no deployment owns a deletion batch.
    pub deployment_id: Option<String>,
}

/// An incident as Camunda's incident API shows it (`GET /incident`): Sweep's only incidents
/// are the `failedJob` incidents of batch jobs out of retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IncidentDto {
    /// Incident id (`<jobId>:failedJob`).
    pub id: String,
    /// Always null.
    pub process_definition_id: Option<String>,
    /// Always null.
    pub process_instance_id: Option<String>,
    /// Always null.
    pub execution_id: Option<String>,
    /// When the job ran out of retries.
    pub incident_timestamp: Option<String>,
    /// `failedJob`.
    pub incident_type: String,
    /// Always null.
    pub activity_id: Option<String>,
    /// Always null.
    pub failed_activity_id: Option<String>,
    /// The incident itself: it has no cause.
    pub cause_incident_id: String,
    /// The incident itself.
    pub root_cause_incident_id: String,
    /// The failed job's id.
    pub configuration: String,
    /// The batch's tenant (always null).
    pub tenant_id: Option<String>,
    /// The job's exception message.
    pub incident_message: Option<String>,
    /// The batch's `batchJobDefinitionId`.
    pub job_definition_id: String,
    /// Always null.
    pub annotation: Option<String>,
}

/// An entry of a batch job's log, as Camunda's `GET /history/job-log` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoricJobLogDto {
    /// Entry id.
    pub id: String,
    /// When it happened.
    pub timestamp: String,
    /// Always null: historic batches are removed explicitly.
    pub removal_time: Option<String>,
    /// The job.
    pub job_id: String,
    /// The job's due date at that moment.
    pub job_due_date: Option<String>,
    /// The job's retries at that moment.
    pub job_retries: i32,
    /// The job's priority.
    pub job_priority: i64,
    /// The failure's message (failure entries).
    pub job_exception_message: Option<String>,
    /// Always null.
    pub failed_activity_id: Option<String>,
    /// The job's definition.
    pub job_definition_id: String,
    /// `batch-seed-job`, `batch-monitor-job` or `instance-deletion`.
    pub job_definition_type: String,
    /// The batch id.
    pub job_definition_configuration: String,
    /// Always null.
    pub activity_id: Option<String>,
    /// Always null.
    pub execution_id: Option<String>,
    /// Always null.
    pub process_instance_id: Option<String>,
    /// Always null.
    pub process_definition_id: Option<String>,
    /// Always null.
    pub process_definition_key: Option<String>,
    /// Always null.
    pub deployment_id: Option<String>,
    /// Always null.
    pub root_process_instance_id: Option<String>,
    /// The batch's tenant (always null).
    pub tenant_id: Option<String>,
    /// The host of the process that wrote the entry.
    pub hostname: Option<String>,
    /// The batch.
    pub batch_id: String,
    /// A creation entry.
    pub creation_log: bool,
    /// A failure entry.
    pub failure_log: bool,
    /// A success entry.
    pub success_log: bool,
    /// A deletion entry.
    pub deletion_log: bool,
}

//! The limits of one batch as an operator sets them — on `POST /process-instance/delete` or
//! later with `PATCH /batch/{id}` — and their validation. Every problem is a message naming
//! the field; nothing is stored until all fields are valid.

use chrono::NaiveTime;
use serde_json::Value;

use super::window::RunWindow;
use crate::settings::ControlSettings;

/// Largest `maxInstancesPerSecond`: far beyond what one database deletes, small enough that
/// the rate limiter's arithmetic stays exact.
pub const MAX_RATE: f64 = 1e9;
/// Smallest `maxInstancesPerSecond` (one instance every 1000 s): below it a job's booking would
/// overflow PostgreSQL's intervals.
pub const MIN_RATE: f64 = 0.001;
/// Largest `maxConcurrentJobs`.
pub const MAX_CONCURRENT_JOBS: i64 = 10_000;
/// Largest priority magnitude (Camunda's priorities are longs; Sweep keeps them to 32 bits).
pub const MAX_PRIORITY: i64 = i32::MAX as i64;

/// A batch's limits, complete, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Steering {
    /// Instances per second over all workers; `None`: unlimited.
    pub max_rate: Option<f64>,
    /// Jobs of the batch running at once; `None`: only the fair share limits them.
    pub max_concurrent_jobs: Option<i32>,
    /// Larger is more urgent; also the priority of the batch's new jobs.
    pub priority: i64,
    /// Daily window `(start, end, zone)`; `None`: always.
    pub window: Option<(NaiveTime, NaiveTime, String)>,
}

impl Steering {
    /// The limits of a new batch: what the request sets, the settings' defaults otherwise.
    pub fn for_new_batch(
        defaults: &ControlSettings,
        max_rate: Option<f64>,
        max_concurrent_jobs: Option<i64>,
        priority: Option<i64>,
        window: Option<&RunWindow>,
    ) -> Result<Self, String> {
        let max_rate = match max_rate {
            Some(r) => Some(rate(r)?),
            None => {
                (defaults.default_max_instances_per_second > 0.0).then_some(defaults.default_max_instances_per_second)
            }
        };
        let max_concurrent_jobs = match max_concurrent_jobs {
            Some(n) => Some(concurrency(n)?),
            None => (defaults.default_max_concurrent_jobs > 0).then_some(defaults.default_max_concurrent_jobs as i32),
        };
        let priority = priority.map_or(Ok(defaults.default_priority), checked_priority)?;
        let window = window.map(zoned).transpose()?;
        Ok(Self { max_rate, max_concurrent_jobs, priority, window })
    }
}

/// What a `PATCH /batch/{id}` changes: `None` leaves a field as it is, `Some(None)` clears it
/// (unlimited, no window; for `priority` the default of `control.default_priority`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SteeringPatch {
    /// `maxInstancesPerSecond`
    pub max_rate: Option<Option<f64>>,
    /// `maxConcurrentJobs`
    pub max_concurrent_jobs: Option<Option<i32>>,
    /// `priority`
    pub priority: Option<Option<i64>>,
    /// `runWindow`
    pub window: Option<Option<(NaiveTime, NaiveTime, String)>>,
}

impl SteeringPatch {
    /// Reads a PATCH body; unknown fields are ignored, as everywhere in the API.
    pub fn parse(body: &Value) -> Result<Self, String> {
        let Some(object) = body.as_object() else {
            return Err("The body must be a JSON object".to_owned());
        };
        let mut patch = Self::default();
        if let Some(v) = object.get("maxInstancesPerSecond") {
            patch.max_rate = Some(match v {
                Value::Null => None,
                Value::Number(n) => Some(rate(n.as_f64().unwrap_or(f64::NAN))?),
                _ => return Err(rate_error(v)),
            });
        }
        if let Some(v) = object.get("maxConcurrentJobs") {
            patch.max_concurrent_jobs = Some(match v {
                Value::Null => None,
                _ => Some(concurrency(v.as_i64().ok_or_else(|| concurrency_error(v))?)?),
            });
        }
        if let Some(v) = object.get("priority") {
            patch.priority = Some(priority_value(v)?);
        }
        if let Some(v) = object.get("runWindow") {
            patch.window = Some(match v {
                Value::Null => None,
                Value::Object(_) => {
                    let window: RunWindow = serde_json::from_value(v.clone()).map_err(|_| window_error())?;
                    Some(zoned(&window)?)
                }
                _ => return Err(window_error()),
            });
        }
        if patch == Self::default() {
            return Err(
                "The body must set at least one of maxInstancesPerSecond, maxConcurrentJobs, priority, runWindow"
                    .to_owned(),
            );
        }
        Ok(patch)
    }
}

/// Reads a `priority` field: an integer, or null for "no override".
pub fn priority_value(v: &Value) -> Result<Option<i64>, String> {
    match v {
        Value::Null => Ok(None),
        _ => v.as_i64().map(checked_priority).transpose()?.map(Some).ok_or_else(|| priority_error(v)),
    }
}

fn rate(r: f64) -> Result<f64, String> {
    if r.is_finite() && (MIN_RATE..=MAX_RATE).contains(&r) {
        Ok(r)
    } else {
        Err(format!("maxInstancesPerSecond must be a number from {MIN_RATE} to {MAX_RATE:e}, or null; got {r}"))
    }
}

fn rate_error(v: &Value) -> String {
    format!("maxInstancesPerSecond must be a number from {MIN_RATE} to {MAX_RATE:e}, or null; got {}", shown(v))
}

fn concurrency(n: i64) -> Result<i32, String> {
    if (1..=MAX_CONCURRENT_JOBS).contains(&n) {
        Ok(n as i32)
    } else {
        Err(format!("maxConcurrentJobs must be an integer between 1 and {MAX_CONCURRENT_JOBS}, or null; got {n}"))
    }
}

fn concurrency_error(v: &Value) -> String {
    format!("maxConcurrentJobs must be an integer between 1 and {MAX_CONCURRENT_JOBS}, or null; got {}", shown(v))
}

fn checked_priority(p: i64) -> Result<i64, String> {
    if (-MAX_PRIORITY..=MAX_PRIORITY).contains(&p) {
        Ok(p)
    } else {
        Err(format!("priority must be an integer between -{MAX_PRIORITY} and {MAX_PRIORITY}; got {p}"))
    }
}

fn priority_error(v: &Value) -> String {
    format!("priority must be an integer between -{MAX_PRIORITY} and {MAX_PRIORITY}, or null; got {}", shown(v))
}

fn window_error() -> String {
    "runWindow must be null or {\"start\": \"HH:MM\", \"end\": \"HH:MM\", \"timeZone\": \"Area/City\"}".to_owned()
}

fn zoned(window: &RunWindow) -> Result<(NaiveTime, NaiveTime, String), String> {
    let (start, end) = window.times()?;
    Ok((start, end, window.time_zone.clone()))
}

fn shown(v: &Value) -> String {
    v.to_string().chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_patch_reads_set_cleared_and_absent_fields() {
        let p = SteeringPatch::parse(&json!({"maxInstancesPerSecond": 50, "maxConcurrentJobs": null})).unwrap();
        assert_eq!(p.max_rate, Some(Some(50.0)));
        assert_eq!(p.max_concurrent_jobs, Some(None));
        assert_eq!(p.priority, None);
        assert_eq!(p.window, None);
        let p =
            SteeringPatch::parse(&json!({"runWindow": {"start": "23:00", "end": "01:00", "timeZone": "UTC"}})).unwrap();
        assert!(matches!(p.window, Some(Some((_, _, ref z))) if z == "UTC"));
        assert_eq!(SteeringPatch::parse(&json!({"priority": -3})).unwrap().priority, Some(Some(-3)));
    }

    #[test]
    fn bad_values_are_refused_with_the_field_named() {
        for (body, field) in [
            (json!({"maxInstancesPerSecond": 0}), "maxInstancesPerSecond"),
            (json!({"maxInstancesPerSecond": -1.5}), "maxInstancesPerSecond"),
            (json!({"maxInstancesPerSecond": 1e10}), "maxInstancesPerSecond"),
            (json!({"maxInstancesPerSecond": "NaN"}), "maxInstancesPerSecond"),
            (json!({"maxConcurrentJobs": 0}), "maxConcurrentJobs"),
            (json!({"maxConcurrentJobs": 2.5}), "maxConcurrentJobs"),
            (json!({"maxConcurrentJobs": 10_001}), "maxConcurrentJobs"),
            (json!({"priority": "high"}), "priority"),
            (json!({"priority": 1e12}), "priority"),
            (json!({"priority": i64::MAX}), "priority"),
            (json!({"priority": i64::MIN}), "priority"),
            (json!({"maxInstancesPerSecond": 5e-324}), "maxInstancesPerSecond"),
            (json!({"runWindow": "01:00-05:00"}), "runWindow"),
            (json!({"runWindow": {"start": "25:00", "end": "05:00", "timeZone": "UTC"}}), "runWindow.start"),
            (json!({"runWindow": {"start": "01:00", "timeZone": "UTC"}}), "runWindow"),
            (json!({}), "at least one"),
            (json!([1]), "JSON object"),
        ] {
            let err = SteeringPatch::parse(&body).unwrap_err();
            assert!(err.contains(field), "{body}: {err}");
        }
    }

    #[test]
    fn a_new_batch_takes_the_defaults_it_does_not_set() {
        let mut defaults: ControlSettings = crate::Settings::load_from(Default::default()).unwrap().control;
        let s = Steering::for_new_batch(&defaults, None, None, None, None).unwrap();
        assert_eq!(s, Steering { max_rate: None, max_concurrent_jobs: None, priority: 0, window: None });
        defaults.default_max_instances_per_second = 100.0;
        defaults.default_max_concurrent_jobs = 2;
        defaults.default_priority = 5;
        let s = Steering::for_new_batch(&defaults, None, None, None, None).unwrap();
        assert_eq!((s.max_rate, s.max_concurrent_jobs, s.priority), (Some(100.0), Some(2), 5));
        let s = Steering::for_new_batch(&defaults, Some(7.5), Some(1), Some(-1), None).unwrap();
        assert_eq!((s.max_rate, s.max_concurrent_jobs, s.priority), (Some(7.5), Some(1), -1));
        assert!(Steering::for_new_batch(&defaults, Some(f64::NAN), None, None, None).is_err());
    }
}

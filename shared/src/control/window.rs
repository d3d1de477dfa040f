//! The daily run window of a batch: `{"start":"01:00","end":"05:00","timeZone":"Europe/Berlin"}`.
//! A window whose end is before its start spans midnight. Whether a batch is inside its window
//! is decided by PostgreSQL (`now() AT TIME ZONE …`), which knows every IANA zone and its
//! daylight-saving rules, so no time-zone table ships with Sweep; the same database checks a
//! zone's name when a window is set.

use chrono::NaiveTime;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use serde::{Deserialize, Serialize};

/// A run window as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunWindow {
    /// Local time the window opens, `HH:MM`.
    #[schema(example = "01:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start: String,
    /// Local time the window closes, `HH:MM` (before `start`: the window spans midnight).
    #[schema(example = "05:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub end: String,
    /// IANA time zone of both times.
    #[schema(example = "Europe/Berlin")]
    pub time_zone: String,
}

impl RunWindow {
    /// The window of stored columns, when all are set.
    pub fn from_columns(start: Option<NaiveTime>, end: Option<NaiveTime>, zone: Option<&str>) -> Option<Self> {
        Some(Self {
            start: start?.format("%H:%M").to_string(),
            end: end?.format("%H:%M").to_string(),
            time_zone: zone?.to_owned(),
        })
    }

    /// Start and end as times; `Err` names what is wrong. The zone is checked by
    /// [`zone_known`].
    pub fn times(&self) -> Result<(NaiveTime, NaiveTime), String> {
        let start = parse_time("runWindow.start", &self.start)?;
        let end = parse_time("runWindow.end", &self.end)?;
        if start == end {
            return Err("runWindow.start and runWindow.end must differ".to_owned());
        }
        if self.time_zone.is_empty() || self.time_zone.len() > 64 {
            return Err("runWindow.timeZone must name a time zone, e.g. 'Europe/Berlin'".to_owned());
        }
        Ok((start, end))
    }
}

fn parse_time(field: &str, text: &str) -> Result<NaiveTime, String> {
    let valid = text.len() == 5 && text.as_bytes()[2] == b':';
    valid
        .then(|| NaiveTime::parse_from_str(text, "%H:%M").ok())
        .flatten()
        .ok_or_else(|| format!("{field} must be a time 'HH:MM' (00:00 to 23:59), got '{}'", truncated(text)))
}

fn truncated(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Whether PostgreSQL knows time zone `name` (an IANA name such as `Europe/Berlin`, or `UTC`).
pub async fn zone_known(db: &impl ConnectionTrait, name: &str) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1) AS known",
            [name.into()],
        ))
        .await?;
    row.map_or(Ok(false), |r| r.try_get("", "known"))
}

/// SQL: whether the batch aliased `b` is inside its run window now (true without a window).
macro_rules! window_open_sql {
    () => {
        "(b.window_start_ IS NULL OR CASE WHEN b.window_start_ < b.window_end_ \
           THEN (now() AT TIME ZONE b.window_tz_)::time >= b.window_start_ \
            AND (now() AT TIME ZONE b.window_tz_)::time < b.window_end_ \
           ELSE (now() AT TIME ZONE b.window_tz_)::time >= b.window_start_ \
             OR (now() AT TIME ZONE b.window_tz_)::time < b.window_end_ END)"
    };
}
pub(crate) use window_open_sql;

/// SQL: seconds until the window of the batch aliased `b` opens next (0 without a window). A
/// daylight-saving change in between shifts it by an hour; the worker checks again when it
/// comes back.
macro_rules! window_opens_in_sql {
    () => {
        "coalesce(mod(extract(epoch FROM b.window_start_ - (now() AT TIME ZONE b.window_tz_)::time) + 86400, 86400), 0)::float8"
    };
}
pub(crate) use window_opens_in_sql;

#[cfg(test)]
mod tests {
    use super::*;

    fn window(start: &str, end: &str) -> RunWindow {
        RunWindow { start: start.into(), end: end.into(), time_zone: "UTC".into() }
    }

    #[test]
    fn times_are_hours_and_minutes() {
        assert!(window("01:00", "05:00").times().is_ok());
        assert!(window("23:00", "01:30").times().is_ok(), "a window may span midnight");
        for bad in ["1:00", "24:00", "01:60", "01:00:00", "", "aa:bb", "01-00", "+1:00"] {
            let err = window(bad, "05:00").times().unwrap_err();
            assert!(err.contains("runWindow.start"), "{bad}: {err}");
        }
        assert!(window("02:00", "02:00").times().unwrap_err().contains("differ"));
        let long = RunWindow { time_zone: "x".repeat(65), ..window("01:00", "02:00") };
        assert!(long.times().is_err());
    }

    #[test]
    fn stored_columns_make_a_window_only_when_complete() {
        let t = NaiveTime::from_hms_opt(1, 5, 0);
        assert_eq!(RunWindow::from_columns(t, t, Some("UTC")).unwrap().start, "01:05");
        assert!(RunWindow::from_columns(None, t, Some("UTC")).is_none());
    }
}

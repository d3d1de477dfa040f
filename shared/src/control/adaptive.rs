//! The adaptive cluster-wide concurrency limit (`control.adaptive`): additive increase while
//! the database is healthy, multiplicative decrease when it is not — a job's statements slower
//! than `control.target_latency`, statements waiting on locks longer than that, or (when
//! `control.replica_lag_query` is set) replica lag beyond `control.max_replica_lag`. The limit
//! lives in `SWEEP_CONTROL` (`crate::db::control`), so every worker applies the same one and a
//! restarted worker loses nothing; this module holds only the rule.

use std::time::Duration;

use crate::settings::ControlSettings;

/// What one worker observed since its last adjustment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Signals {
    /// Slowest deletion of a job this worker finished, if any.
    pub max_latency: Option<Duration>,
    /// Statements of this database waiting on a lock for longer than the target latency.
    pub lock_waits: i64,
    /// Replica lag in seconds, when a query for it is configured.
    pub replica_lag: Option<f64>,
}

/// Which way the limit moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    /// Healthy: one more.
    Increase,
    /// Unhealthy: halve it, for this reason (a metric label: `latency`, `lock_wait`,
    /// `replica_lag`).
    Decrease(&'static str),
}

impl Adjustment {
    /// `increase` or `decrease`, the metric label.
    pub fn direction(self) -> &'static str {
        match self {
            Adjustment::Increase => "increase",
            Adjustment::Decrease(_) => "decrease",
        }
    }

    /// Why, the metric label (`healthy` for an increase).
    pub fn reason(self) -> &'static str {
        match self {
            Adjustment::Increase => "healthy",
            Adjustment::Decrease(reason) => reason,
        }
    }

    /// The limit after this adjustment of `limit`, within `1..=ceiling`.
    pub fn apply(self, limit: i32, ceiling: i32) -> i32 {
        let next = match self {
            Adjustment::Increase => limit.saturating_add(1),
            Adjustment::Decrease(_) => limit / 2,
        };
        next.clamp(1, ceiling.max(1))
    }
}

/// The rule: any sign of trouble decreases, otherwise increase.
pub fn decide(signals: &Signals, settings: &ControlSettings) -> Adjustment {
    if signals.lock_waits > 0 {
        return Adjustment::Decrease("lock_wait");
    }
    if signals.max_latency.is_some_and(|l| l > settings.target_latency) {
        return Adjustment::Decrease("latency");
    }
    if signals.replica_lag.is_some_and(|lag| lag > settings.max_replica_lag.as_secs_f64()) {
        return Adjustment::Decrease("replica_lag");
    }
    Adjustment::Increase
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trouble_halves_the_limit_and_health_adds_one_within_bounds() {
        let settings = crate::Settings::load_from(Default::default()).unwrap().control;
        let slow = Signals { max_latency: Some(settings.target_latency * 2), ..Default::default() };
        let waits = Signals { lock_waits: 1, ..Default::default() };
        let lag = Signals { replica_lag: Some(settings.max_replica_lag.as_secs_f64() + 1.0), ..Default::default() };
        assert_eq!(decide(&slow, &settings), Adjustment::Decrease("latency"));
        assert_eq!(decide(&waits, &settings), Adjustment::Decrease("lock_wait"));
        assert_eq!(decide(&lag, &settings), Adjustment::Decrease("replica_lag"));
        assert_eq!(decide(&Signals::default(), &settings), Adjustment::Increase);
        let fast = Signals { max_latency: Some(Duration::from_millis(1)), ..Default::default() };
        assert_eq!(decide(&fast, &settings), Adjustment::Increase);

        assert_eq!(Adjustment::Decrease("latency").apply(8, 8), 4);
        assert_eq!(Adjustment::Decrease("latency").apply(1, 8), 1, "never below one");
        assert_eq!(Adjustment::Increase.apply(8, 8), 8, "never above the ceiling");
        assert_eq!(Adjustment::Increase.apply(3, 8), 4);
        assert_eq!(Adjustment::Increase.apply(12, 8), 8, "a lowered ceiling applies at once");
    }
}

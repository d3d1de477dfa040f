//! Steering of running batches: the limits an operator sets on a batch (rate, concurrency,
//! priority, run window), their validation, the fair share of the cluster-wide concurrency
//! limit, and the AIMD rule that adapts that limit to the database's health. What is stored
//! lives in `crate::db::batch_control` (batch columns) and `crate::db::control` (the limit);
//! the worker applies it all as gates before a job's deletion transaction.

pub mod adaptive;
pub mod slots;
pub mod steering;
pub mod window;

pub use steering::{Steering, SteeringPatch};
pub use window::RunWindow;

/// Priorities beyond this magnitude weigh as much as this one.
const WEIGHT_CLAMP: i64 = 10;

/// The weight of a batch of `priority` in the fair share: `2^priority`, clamped to
/// `[-10, 10]`, so each step of priority doubles a batch's share (0 → 1, 3 → 8, -1 → ½).
pub fn weight(priority: i64) -> f64 {
    2f64.powi(priority.clamp(-WEIGHT_CLAMP, WEIGHT_CLAMP) as i32)
}

/// The jobs of one batch that may run at once under the global `limit`, when the runnable
/// batches weigh `total` together and this one `weight`: its proportional part, rounded down,
/// but at least one slot, so no runnable batch starves.
pub fn share(limit: i32, weight: f64, total: f64) -> i32 {
    if total <= 0.0 || weight >= total {
        return limit.max(1);
    }
    let part = (f64::from(limit) * weight / total).floor();
    (part as i32).clamp(1, limit.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_priority_step_doubles_the_weight() {
        assert_eq!(weight(0), 1.0);
        assert_eq!(weight(3), 8.0);
        assert_eq!(weight(-1), 0.5);
        assert_eq!(weight(1_000_000), weight(10));
        assert_eq!(weight(i64::MIN), weight(-10));
    }

    #[test]
    fn shares_follow_the_weights_and_never_starve() {
        // Alone, a batch has the whole limit.
        assert_eq!(share(8, 1.0, 1.0), 8);
        // Priority 4 against priority 0 under a limit of 4: 3 and 1.
        let total = weight(4) + weight(0);
        assert_eq!(share(4, weight(4), total), 3);
        assert_eq!(share(4, weight(0), total), 1);
        // Many equal batches: each keeps one slot even when the limit is smaller.
        assert_eq!(share(2, 1.0, 10.0), 1);
        assert_eq!(share(1, 1.0, 1.0), 1);
    }
}

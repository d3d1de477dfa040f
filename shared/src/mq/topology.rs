//! Exchange and queue names, and their idempotent declaration at start-up.
//!
//! - `<p>.work` (direct) routes `seed`, `job` and `monitor` to the quorum queues of the same
//!   suffix; `<p>.monitor` has a single active consumer, so completion is decided once.
//! - `<p>.delay.<n>` (one per retry attempt) hold a failed job's retry message for the n-th
//!   back-off delay, then dead-letter it back to `<p>.work` with routing key `job`.
//! - `<p>.park.<n>` (three, of `control.park_delay` × 1, 10, 60) hold a job message that may
//!   not run yet (a limit, its run window, a job of higher priority), then dead-letter it back
//!   to `<p>.work` with routing key `job`, like the delay queues.
//! - `<p>.dead` (fanout exchange and queue) receives poison messages.
//! - `<p>.events` (topic) carries `process-instance.deleted` and `batch.completed` for other
//!   systems to bind to.

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, ExchangeKind};

use crate::messages::{ROUTE_JOB, ROUTE_MONITOR, WORK_ROUTES};
use crate::settings::QueueType;

/// All names derived from one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// The prefix.
    pub prefix: String,
    /// Quorum queues expire after this long unused (tests and ephemeral setups only).
    pub queue_expires: Option<Duration>,
    /// Back-off delays of job retries, one per attempt.
    pub retry_delays: Vec<Duration>,
    /// Queue type of every queue.
    pub queue_type: QueueType,
    /// Delays of the park queues, shortest first.
    pub park_delays: Vec<Duration>,
}

impl Topology {
    /// Names for `prefix`.
    pub fn new(prefix: &str, queue_expires: Option<Duration>, retry_delays: Vec<Duration>) -> Self {
        Self {
            prefix: prefix.to_owned(),
            queue_expires,
            retry_delays,
            queue_type: QueueType::Quorum,
            park_delays: vec![Duration::from_secs(1), Duration::from_secs(10), Duration::from_secs(60)],
        }
    }

    /// The names and options `settings` describe.
    pub fn from_settings(settings: &crate::Settings) -> Self {
        Self {
            queue_type: settings.amqp.queue_type,
            park_delays: settings.control.park_delays(),
            ..Self::new(&settings.amqp.prefix, settings.amqp.queue_expires, settings.worker.retry_delays())
        }
    }

    /// The work exchange.
    pub fn work_exchange(&self) -> String {
        format!("{}.work", self.prefix)
    }
    /// The events exchange.
    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.prefix)
    }
    /// The dead-letter exchange (and queue).
    pub fn dead_letter(&self) -> String {
        format!("{}.dead", self.prefix)
    }
    /// The queue consuming routing key `route` of the work exchange.
    pub fn queue(&self, route: &str) -> String {
        format!("{}.{route}", self.prefix)
    }
    /// The delay queue of retry attempt `attempt` (1-based; clamped to the last one).
    pub fn delay_queue(&self, attempt: usize) -> String {
        let n = attempt.clamp(1, self.retry_delays.len().max(1));
        format!("{}.delay.{n}", self.prefix)
    }

    /// The park queue for a job that wants to wait `wanted`, and how long it will wait there:
    /// the longest park delay not beyond `wanted` (at least the shortest one).
    pub fn park_queue(&self, wanted: Duration) -> (String, Duration) {
        let (n, delay) = self
            .park_delays
            .iter()
            .enumerate()
            .rfind(|(i, d)| *i == 0 || **d <= wanted)
            .map_or((0, Duration::from_secs(1)), |(i, d)| (i, *d));
        (format!("{}.park.{}", self.prefix, n + 1), delay)
    }

    /// Declares everything; safe to call from every replica at every start.
    pub async fn declare(&self, channel: &Channel) -> Result<(), lapin::Error> {
        // Exchanges outlive their queues unless auto-deleted; ephemeral setups want them gone too.
        let exchange_options =
            ExchangeDeclareOptions { durable: true, auto_delete: self.queue_expires.is_some(), ..Default::default() };
        for (name, kind) in [
            (self.work_exchange(), ExchangeKind::Direct),
            (self.events_exchange(), ExchangeKind::Topic),
            (self.dead_letter(), ExchangeKind::Fanout),
        ] {
            channel.exchange_declare(name.into(), kind, exchange_options, FieldTable::default()).await?;
        }

        let dead = self.dead_letter();
        let dead_args = self.base_args();
        channel.queue_declare(dead.clone().into(), QueueDeclareOptions::durable(), dead_args).await?;
        channel
            .queue_bind(
                dead.clone().into(),
                dead.clone().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;

        for route in WORK_ROUTES {
            let mut args = self.base_args();
            // Rejected (poison) messages go to the dead-letter queue instead of looping.
            args.insert("x-dead-letter-exchange".into(), AMQPValue::LongString(dead.clone().into()));
            if self.queue_type == QueueType::Quorum {
                // A message that crashes its consumer again and again ends there too.
                args.insert("x-delivery-limit".into(), AMQPValue::LongInt(50));
            }
            if route == ROUTE_MONITOR {
                // One consumer at a time decides completion, so it happens exactly once.
                args.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
            }
            let queue = self.queue(route);
            channel.queue_declare(queue.clone().into(), QueueDeclareOptions::durable(), args).await?;
            channel
                .queue_bind(
                    queue.into(),
                    self.work_exchange().into(),
                    route.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }

        for (i, delay) in self.retry_delays.iter().enumerate() {
            let mut args = self.base_args();
            args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(delay.as_millis() as i64));
            args.insert("x-dead-letter-exchange".into(), AMQPValue::LongString(self.work_exchange().into()));
            args.insert("x-dead-letter-routing-key".into(), AMQPValue::LongString(ROUTE_JOB.into()));
            channel.queue_declare(self.delay_queue(i + 1).into(), QueueDeclareOptions::durable(), args).await?;
        }
        for delay in &self.park_delays {
            let mut args = self.base_args();
            args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(delay.as_millis() as i64));
            args.insert("x-dead-letter-exchange".into(), AMQPValue::LongString(self.work_exchange().into()));
            args.insert("x-dead-letter-routing-key".into(), AMQPValue::LongString(ROUTE_JOB.into()));
            channel.queue_declare(self.park_queue(*delay).0.into(), QueueDeclareOptions::durable(), args).await?;
        }
        Ok(())
    }

    fn base_args(&self) -> FieldTable {
        let mut args = FieldTable::default();
        let kind = match self.queue_type {
            QueueType::Quorum => "quorum",
            QueueType::Classic => "classic",
        };
        args.insert("x-queue-type".into(), AMQPValue::LongString(kind.into()));
        if let Some(expires) = self.queue_expires {
            args.insert("x-expires".into(), AMQPValue::LongLongInt(expires.as_millis() as i64));
        }
        args
    }
}

/// A name for lapin, checked against AMQP's 255-byte limit instead of panicking.
pub fn short(name: &str) -> Result<ShortString, crate::Error> {
    if name.len() > 255 {
        return Err(crate::Error::Internal(format!("AMQP name longer than 255 bytes: {name}")));
    }
    Ok(name.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_park_takes_the_longest_queue_that_does_not_overshoot() {
        let t = Topology::new("p", None, vec![]);
        assert_eq!(t.park_queue(Duration::ZERO), ("p.park.1".to_owned(), Duration::from_secs(1)));
        assert_eq!(t.park_queue(Duration::from_secs(9)).0, "p.park.1");
        assert_eq!(t.park_queue(Duration::from_secs(30)), ("p.park.2".to_owned(), Duration::from_secs(10)));
        assert_eq!(t.park_queue(Duration::from_secs(7200)).0, "p.park.3");
    }
}

//! Live progress of batches for `GET /batch/{id}/events`: one poller per watched batch, shared
//! by every stream of that batch through a `tokio::sync::watch` channel, so a hundred streams of
//! one batch cost one progress read per interval, not a hundred, and each stream holds only its
//! receiver and a counter.
//!
//! The poller starts with the first stream of a batch and stops when the last one leaves (seen
//! at its next tick) or when the batch ends; it then publishes the final frame and removes itself,
//! under the same lock a new stream subscribes under, so no stream misses the end or watches a
//! poller that has stopped.
//!
//! Frames:
//! - `progress`: the batch's `BatchStatisticsDto` (as `GET /batch/statistics` answers it) plus
//!   `instancesPerSecond` (instances processed per second over the last [`RATE_WINDOW`]) and
//!   `etaSeconds` (pending and running instances at that rate, rounded up; `null` while the rate
//!   is 0);
//! - `completed` (every item done, none failed), `failed` (ended with failed items, or stalled:
//!   every job not done has failed and waits for a retry) or `deleted` (the runtime batch was
//!   deleted before it finished), with the last statistics plus `endTime`; when nothing is left
//!   of the batch (deleted with `cascade=true`), the last statistics seen, or `{"id"}`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use shared::camunda::{BatchStatisticsDto, format_date};
use shared::db::batch::{self, BatchFilter};
use shared::db::listing::BatchFilterCore;
use shared::db::{batch_item, historic_batch};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often a poller reads its batch's progress.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The window of `instancesPerSecond`.
pub const RATE_WINDOW: Duration = Duration::from_secs(10);

/// What a frame says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// The batch runs.
    Progress,
    /// Every item done, none failed.
    Completed,
    /// Ended with failed items, or stalled on failed jobs.
    Failed,
    /// The runtime batch was deleted before it finished.
    Deleted,
}

impl FrameKind {
    /// The SSE event name.
    pub fn event(self) -> &'static str {
        match self {
            FrameKind::Progress => "progress",
            FrameKind::Completed => "completed",
            FrameKind::Failed => "failed",
            FrameKind::Deleted => "deleted",
        }
    }

    /// Whether the stream ends with this frame.
    pub fn is_final(self) -> bool {
        self != FrameKind::Progress
    }
}

/// One observation of a batch, shared by all its streams.
#[derive(Debug, Clone)]
pub struct Frame {
    /// What it says.
    pub kind: FrameKind,
    /// The event's data, serialised once.
    pub data: Arc<str>,
}

type Feed = watch::Sender<Option<Frame>>;

/// The pollers of the batches being watched.
pub struct Live {
    db: DatabaseConnection,
    feeds: Mutex<HashMap<String, Feed>>,
    shutdown: CancellationToken,
}

impl Live {
    /// No batch watched yet.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db, feeds: Mutex::new(HashMap::new()), shutdown: CancellationToken::new() }
    }

    /// Ends every stream and poller (graceful shutdown must not wait for streams that never end).
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Cancelled when the server shuts down.
    pub fn stopping(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Batches with a poller now.
    pub fn watched(&self) -> usize {
        self.feeds.lock().expect("feeds lock").len()
    }

    /// A receiver of batch `id`'s frames, starting its poller if it has none. The current frame,
    /// if any, is marked seen: read it with `borrow_and_update` first.
    pub fn subscribe(self: &Arc<Self>, id: &str) -> watch::Receiver<Option<Frame>> {
        let mut feeds = self.feeds.lock().expect("feeds lock");
        if let Some(feed) = feeds.get(id) {
            return feed.subscribe();
        }
        let (feed, receiver) = watch::channel(None);
        feeds.insert(id.to_owned(), feed.clone());
        tokio::spawn(poll(self.clone(), id.to_owned(), feed));
        receiver
    }

    /// Removes `feed` if it still is batch `id`'s and, unless `force`, nobody listens; says
    /// whether it did.
    fn retire(&self, id: &str, feed: &Feed, force: bool) -> bool {
        let mut feeds = self.feeds.lock().expect("feeds lock");
        if !force && feed.receiver_count() > 0 {
            return false;
        }
        if feeds.get(id).is_some_and(|f| f.same_channel(feed)) {
            feeds.remove(id);
        }
        true
    }
}

/// The poller of batch `id`.
async fn poll(live: Arc<Live>, id: String, feed: Feed) {
    let mut ticker = tokio::time::interval(POLL_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut rate = Rate::default();
    let mut last: Option<Value> = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = live.shutdown.cancelled() => {
                live.retire(&id, &feed, true);
                return;
            }
        }
        if live.retire(&id, &feed, false) {
            return;
        }
        shared::metrics::batch_event_poll();
        let frame = match observe(&live.db, &id, &mut rate, &mut last).await {
            Ok(frame) => frame,
            Err(e) => {
                // The next tick tries again; the streams keep their last frame meanwhile.
                tracing::warn!(batch.id = %id, error = %e, "reading the progress of a watched batch failed");
                continue;
            }
        };
        if frame.kind.is_final() {
            // Retired first, under the lock: a stream subscribing from now on starts a new poller,
            // which finds the batch ended at once.
            live.retire(&id, &feed, true);
            feed.send_replace(Some(frame));
            return;
        }
        feed.send_replace(Some(frame));
    }
}

/// Processed instances over time, for `instancesPerSecond`.
#[derive(Default)]
struct Rate {
    samples: VecDeque<(Instant, i64)>,
}

impl Rate {
    /// Records `processed` at `now` and answers the rate over the window.
    fn record(&mut self, now: Instant, processed: i64) -> f64 {
        self.samples.push_back((now, processed));
        // Keep the newest sample at or beyond the window's start, so the window is covered.
        while self.samples.len() > 2 && now.duration_since(self.samples[1].0) >= RATE_WINDOW {
            self.samples.pop_front();
        }
        let (since, before) = self.samples[0];
        let elapsed = now.duration_since(since).as_secs_f64();
        if elapsed <= 0.0 { 0.0 } else { ((processed - before).max(0) as f64 / elapsed * 100.0).round() / 100.0 }
    }
}

fn with_live_fields(stats: &BatchStatisticsDto, per_second: f64, eta: Option<i64>) -> Value {
    let mut value = serde_json::to_value(stats).unwrap_or_else(|_| json!({}));
    if let Some(object) = value.as_object_mut() {
        object.insert("instancesPerSecond".into(), json!(per_second));
        object.insert("etaSeconds".into(), json!(eta));
    }
    value
}

fn frame(kind: FrameKind, data: &Value) -> Frame {
    Frame { kind, data: data.to_string().into() }
}

/// Reads batch `id` once: its progress while it runs, its end otherwise.
async fn observe(
    db: &DatabaseConnection,
    id: &str,
    rate: &mut Rate,
    last: &mut Option<Value>,
) -> Result<Frame, shared::Error> {
    let filter = BatchFilter {
        core: BatchFilterCore { batch_id: Some(id.to_owned()), ..Default::default() },
        ..Default::default()
    };
    let running = batch::list_with_progress(db, &filter, None, Default::default()).await?.into_iter().next();
    if let Some((batch, progress)) = running {
        let stats = batch::statistics_dto(&batch, &progress);
        let per_second = rate.record(Instant::now(), progress.deleted + progress.skipped + progress.failed);
        let left = progress.pending + progress.running;
        let eta = (per_second > 0.0 && !batch.suspended).then(|| shared::batch::create::eta_seconds(left, per_second));
        let data = with_live_fields(&stats, per_second, eta);
        *last = Some(data.clone());
        let stalled = progress.failed_jobs > 0 && progress.remaining_jobs == progress.failed_jobs;
        return Ok(frame(if stalled { FrameKind::Failed } else { FrameKind::Progress }, &data));
    }
    let Some(ended) = historic_batch::find(db, id).await? else {
        // Nothing is left of it: deleted with its history.
        let data = last.take().unwrap_or_else(|| json!({ "id": id }));
        return Ok(frame(FrameKind::Deleted, &data));
    };
    let progress = batch_item::ended_progress(db, id, ended.info.total_items, ended.info.invocations_per_job).await?;
    let kind = if progress.pending > 0 {
        FrameKind::Deleted
    } else if progress.failed > 0 {
        FrameKind::Failed
    } else {
        FrameKind::Completed
    };
    let per_second = last.as_ref().and_then(|l| l["instancesPerSecond"].as_f64()).unwrap_or(0.0);
    let mut data = with_live_fields(&ended.statistics_dto(&progress), per_second, None);
    data["endTime"] = json!(ended.end_time.map(format_date));
    Ok(frame(kind, &data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_covers_the_last_ten_seconds() {
        let start = Instant::now();
        let mut rate = Rate::default();
        assert_eq!(rate.record(start, 0), 0.0);
        for i in 1..=20u64 {
            // 10 per second for 10 s, then 100 per second.
            let processed = if i <= 10 { i * 10 } else { 100 + (i - 10) * 100 } as i64;
            let r = rate.record(start + Duration::from_secs(i), processed);
            if i == 5 {
                assert_eq!(r, 10.0);
            }
            if i == 20 {
                assert_eq!(r, 100.0, "only the last 10 s count");
            }
        }
        assert!(rate.samples.len() <= 12);
    }
}

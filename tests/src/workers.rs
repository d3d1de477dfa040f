//! Workers under test: in-process and consuming ([`TestWorker`]), or driven by the test one
//! message at a time ([`DrivenWorker`]).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// A worker running in-process; stopped (gracefully) when dropped or by [`TestWorker::stop`].
pub struct TestWorker {
    stop: CancellationToken,
    handle: Option<tokio::task::JoinHandle<Result<(), shared::Error>>>,
}

impl TestWorker {
    /// Starts `worker::run` with `settings` (use the same settings as the API so prefixes match).
    pub async fn spawn(settings: shared::Settings) -> Self {
        shared::telemetry::init("sweep-worker", &settings.telemetry);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let stop = CancellationToken::new();
        let token = stop.clone();
        let handle =
            tokio::spawn(async move { worker::run(settings, listener, async move { token.cancelled().await }).await });
        Self { stop, handle: Some(handle) }
    }

    /// Stops it and waits until in-flight work is finished.
    pub async fn stop(mut self) -> Result<(), shared::Error> {
        self.stop.cancel();
        self.handle.take().expect("running").await.expect("worker task")
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A worker the test drives itself, one message at a time, instead of a consumer taking
/// deliveries as they come: [`DrivenWorker::drain`] hands every queued work message to
/// `worker::process` (the code path of a consuming worker) and returns once nothing is left
/// to do, so a test can assert that "nothing happens" without waiting for it.
///
/// Messages are fetched with `basic.get` and acked manually by `worker::process`, which also
/// publishes what the handler committed, with publisher confirms: once it returns, follow-up
/// messages are in their queues.
///
/// The monitor queue is declared with `x-single-active-consumer`. On a classic queue (the
/// tests' default, `SWEEP__AMQP__QUEUE_TYPE=classic`) `basic.get` works on it all the same; a
/// quorum queue refuses it (`RESOURCE_LOCKED … basic.get operations are not supported by quorum
/// queues with single active consumer`, checked against RabbitMQ 3.10), so a driven worker
/// requires classic queues and says so at once instead of failing on the first monitor message.
pub struct DrivenWorker {
    /// The context `worker::run` would build from the same settings.
    pub ctx: worker::Ctx,
    channel: lapin::Channel,
    _connection: lapin::Connection,
}

/// How often [`DrivenWorker::drain`] looks at the delay queues while only they hold messages.
const DELAY_POLL: Duration = Duration::from_millis(20);

impl DrivenWorker {
    /// Connects as a worker with `settings` (use the API's settings, so the prefixes match) and
    /// declares the topology. No consumer is started.
    pub async fn connect(settings: shared::Settings) -> Self {
        assert_eq!(
            settings.amqp.queue_type,
            shared::settings::QueueType::Classic,
            "a DrivenWorker needs classic queues: RabbitMQ refuses basic.get on the monitor queue \
             (single active consumer) when it is a quorum queue"
        );
        shared::telemetry::init("sweep-worker", &settings.telemetry);
        let ctx = worker::Ctx::connect(settings).await.expect("connect as a worker");
        let connection = lapin::Connection::connect(&ctx.settings.amqp.url, lapin::ConnectionProperties::default())
            .await
            .expect("connect to the test RabbitMQ");
        let channel = connection.create_channel().await.expect("channel");
        Self { ctx, channel, _connection: connection }
    }

    /// Handles at most one message, the first found in the seed, job and monitor queues (in
    /// that order); says whether there was one. Messages waiting in the retry delay queues are
    /// not looked at.
    pub async fn step(&self) -> bool {
        for route in shared::messages::WORK_ROUTES {
            if self.step_route(route).await {
                return true;
            }
        }
        false
    }

    /// Handles the next message of `route`'s queue, if there is one; says whether there was.
    pub async fn step_route(&self, route: &str) -> bool {
        use lapin::options::BasicGetOptions;
        let queue = self.ctx.topology().queue(route);
        let message = self
            .channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .unwrap_or_else(|e| panic!("basic.get on {queue}: {e}"));
        match message {
            Some(message) => {
                worker::process(&self.ctx, message.delivery).await;
                true
            }
            None => false,
        }
    }

    /// Handles messages until the work queues and the retry delay queues are all empty, and
    /// returns how many it handled. While only delay queues hold messages (a failed job's
    /// retry, waiting out its back-off), it polls them until the message moves on to the job
    /// queue; it panics if that takes far longer than the longest back-off.
    pub async fn drain(&self) -> usize {
        let longest = self.ctx.topology().retry_delays.iter().max().copied().unwrap_or_default();
        let patience = longest + Duration::from_secs(10);
        let mut handled = 0;
        let mut waiting_since = None;
        loop {
            // Counted before the round: a message leaving a delay queue after this count is in
            // the job queue before the round looks there, so an empty round and no delayed
            // message mean that nothing is left anywhere.
            let delayed = self.delayed().await;
            let mut round = 0;
            while self.step().await {
                round += 1;
            }
            handled += round;
            match (round, delayed) {
                (0, 0) => return handled,
                (0, _) => {
                    let since = *waiting_since.get_or_insert_with(tokio::time::Instant::now);
                    assert!(
                        since.elapsed() < patience,
                        "drain: {delayed} retry message(s) did not leave the delay queues within {patience:?}"
                    );
                    tokio::time::sleep(DELAY_POLL).await;
                }
                _ => waiting_since = None,
            }
        }
    }

    /// Messages waiting in the retry delay queues.
    async fn delayed(&self) -> u32 {
        let mut total = 0;
        for attempt in 1..=self.ctx.topology().retry_delays.len() {
            let queue = self.ctx.topology().delay_queue(attempt);
            let options = lapin::options::QueueDeclareOptions { passive: true, ..Default::default() };
            let declared = self
                .channel
                .queue_declare(queue.as_str().into(), options, Default::default())
                .await
                .unwrap_or_else(|e| panic!("inspect {queue}: {e}"));
            total += declared.message_count();
        }
        total
    }
}

//! Workers under test.

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

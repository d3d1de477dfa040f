//! The API under test: in-process on an ephemeral port.

use std::net::SocketAddr;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The API running in-process on an ephemeral port; stopped when dropped.
pub struct TestApi {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Base URL including the engine path, e.g. `http://127.0.0.1:1234/engine-rest`.
    pub base: String,
    /// HTTP client.
    pub client: reqwest::Client,
    stop: CancellationToken,
}

impl TestApi {
    /// Starts the API with the given settings.
    pub async fn spawn(settings: shared::Settings) -> Self {
        // Logs show up for failing tests (nextest prints their output) and with --no-capture.
        shared::telemetry::init("sweep-api", &settings.telemetry);
        let listener = tokio::net::TcpListener::bind(settings.http.bind).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}{}", settings.http.base_path);
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            if let Err(e) = api::run(settings, listener, async move { token.cancelled().await }).await {
                eprintln!("api stopped with error: {e}");
            }
        });
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        // Wait until it answers.
        for _ in 0..100 {
            if client.get(format!("http://{addr}/health/live")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self { addr, base, client, stop }
    }

    /// `GET {base}{path}`, returning status and JSON body (`Null` when the body is not JSON).
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let resp = self.client.get(format!("{}{path}", self.base)).send().await.expect("request");
        read(resp).await
    }

    /// `POST {base}{path}` with a JSON body.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let resp = self.client.post(format!("{}{path}", self.base)).json(body).send().await.expect("request");
        read(resp).await
    }

    /// `POST {base}{path}` with a raw body and content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, serde_json::Value) {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        read(resp).await
    }
}

async fn read(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

impl Drop for TestApi {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl TestApi {
    /// `PUT {base}{path}` with a JSON body.
    pub async fn put(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let resp = self.client.put(format!("{}{path}", self.base)).json(body).send().await.expect("request");
        read(resp).await
    }

    /// `DELETE {base}{path}`.
    pub async fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        let resp = self.client.delete(format!("{}{path}", self.base)).send().await.expect("request");
        read(resp).await
    }
}

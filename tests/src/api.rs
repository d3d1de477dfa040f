//! The API under test: one HTTP client for it however it runs ([`ApiClient`]), and the API
//! in-process on an ephemeral port ([`TestApi`]).

use std::net::SocketAddr;
use std::ops::Deref;
use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::eventually;

/// An HTTP client of one Sweep API, in-process ([`TestApi`] derefs to one) or a process
/// ([`ApiClient::new`] from its address). Every call answers the status and the JSON body
/// (`Null` when the body is not JSON); requests that fail to get an answer panic.
#[derive(Debug, Clone)]
pub struct ApiClient {
    /// `http://host:port`, where `/health/*` is served.
    pub origin: String,
    /// Base URL including the engine path, e.g. `http://127.0.0.1:1234/engine-rest`.
    pub base: String,
    /// HTTP client.
    pub client: reqwest::Client,
    /// Basic credentials sent with every request (by default the template's admin,
    /// [`TEST_USER`]); `None` sends none.
    pub credentials: Option<(String, String)>,
}

/// The user every test database has (in group `camunda-admin`), and its password.
pub const TEST_USER: (&str, &str) = ("sweep-test", "sweep-test-password");

impl ApiClient {
    /// A client of the API listening on `addr` under `base_path` (`http.base_path`).
    pub fn new(addr: SocketAddr, base_path: &str) -> Self {
        let origin = format!("http://{addr}");
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("HTTP client");
        let credentials = Some((TEST_USER.0.to_owned(), TEST_USER.1.to_owned()));
        Self { base: format!("{origin}{base_path}"), origin, client, credentials }
    }

    /// The same API as user `user` with `password`.
    pub fn as_user(&self, user: &str, password: &str) -> Self {
        Self { credentials: Some((user.to_owned(), password.to_owned())), ..self.clone() }
    }

    /// The same API without credentials.
    pub fn anonymous(&self) -> Self {
        Self { credentials: None, ..self.clone() }
    }

    /// A client of the API a process started with `settings` serves (`http.bind` must name a
    /// port, not 0).
    pub fn for_settings(settings: &shared::Settings) -> Self {
        assert_ne!(settings.http.bind.port(), 0, "http.bind must name the port the API process listens on");
        Self::new(settings.http.bind, &settings.http.base_path)
    }

    /// A request to `{base}{path}`, for headers the helpers below do not set; run it with
    /// [`ApiClient::send`].
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match &self.credentials {
            Some((user, password)) => request.basic_auth(user, Some(password)),
            None => request,
        }
    }

    /// Sends `request`, returning status and JSON body.
    pub async fn send(&self, request: RequestBuilder) -> (u16, Value) {
        let resp = request.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `GET {base}{path}`.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.request(Method::GET, path)).await
    }

    /// `POST {base}{path}` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    /// `POST {base}{path}` with a raw body and content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        self.send(self.request(Method::POST, path).header("content-type", content_type).body(body)).await
    }

    /// `PUT {base}{path}` with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(self.request(Method::PUT, path).json(body)).await
    }

    /// `PUT {base}{path}` with a raw body and content type.
    pub async fn put_raw(&self, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        self.send(self.request(Method::PUT, path).header("content-type", content_type).body(body)).await
    }

    /// `DELETE {base}{path}`.
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.request(Method::DELETE, path)).await
    }

    /// The status of `GET {origin}/health/{probe}` (`live` or `ready`); `None` while nothing
    /// answers.
    pub async fn health(&self, probe: &str) -> Option<u16> {
        let resp = self.client.get(format!("{}/health/{probe}", self.origin)).send().await.ok()?;
        Some(resp.status().as_u16())
    }

    /// Waits until `/health/ready` answers 200 (panics after `timeout`).
    pub async fn wait_ready(&self, timeout: Duration) {
        eventually(timeout, || async { (self.health("ready").await == Some(200)).then_some(()) }).await;
    }

    /// `POST /process-instance/delete` with `body`, which must succeed; returns the batch id.
    pub async fn start_deletion(&self, body: &Value) -> String {
        let (status, batch) = self.post("/process-instance/delete", body).await;
        assert_eq!(status, 200, "{batch}");
        batch["id"].as_str().expect("batch id").to_owned()
    }

    /// The statistics of runtime batch `id` (`GET /batch/statistics?batchId=`, which must
    /// succeed); `None` once the batch is gone from the runtime.
    pub async fn batch_statistics(&self, id: &str) -> Option<Value> {
        let (status, body) = self.get(&format!("/batch/statistics?batchId={id}")).await;
        assert_eq!(status, 200, "{body}");
        body.as_array().expect("a list of statistics").first().cloned()
    }
}

/// The API running in-process on an ephemeral port; stopped when dropped. Derefs to its
/// [`ApiClient`].
pub struct TestApi {
    /// Where it listens.
    pub addr: SocketAddr,
    http: ApiClient,
    stop: CancellationToken,
}

impl TestApi {
    /// Starts the API with the given settings and waits until it is live.
    pub async fn spawn(settings: shared::Settings) -> Self {
        // Logs show up for failing tests (nextest prints their output) and with --no-capture.
        shared::telemetry::init("sweep-api", &settings.telemetry);
        let listener = tokio::net::TcpListener::bind(settings.http.bind).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let http = ApiClient::new(addr, &settings.http.base_path);
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            if let Err(e) = api::run(settings, listener, async move { token.cancelled().await }).await {
                eprintln!("api stopped with error: {e}");
            }
        });
        eventually(Duration::from_secs(10), || async { http.health("live").await.map(|_| ()) }).await;
        Self { addr, http, stop }
    }
}

impl Deref for TestApi {
    type Target = ApiClient;

    fn deref(&self) -> &ApiClient {
        &self.http
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

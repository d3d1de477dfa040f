//! A client of Sweep's Server-Sent Events (`GET /batch/{id}/events`): it reads the response
//! as it arrives and parses the frames itself, so tests see exactly what was sent.

use std::time::Duration;

use serde_json::Value;

use crate::ApiClient;

/// One event as the stream carried it.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    /// `id:`
    pub id: Option<u64>,
    /// `event:` (`message` when absent).
    pub event: String,
    /// `data:` lines, joined with newlines, as JSON (`Null` when not JSON).
    pub data: Value,
}

/// An open event stream.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
    /// Comment lines seen (heartbeats).
    pub comments: usize,
    ended: bool,
}

impl EventStream {
    /// Opens `GET {base}/batch/{id}/events` (with `Last-Event-ID` if given): the stream, or the
    /// status and body of a refusal. Streams have no overall timeout; reads have deadlines.
    pub async fn open(api: &ApiClient, batch_id: &str, last_event_id: Option<&str>) -> Result<Self, (u16, Value)> {
        let client = reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).build().expect("client");
        let mut request = client.get(format!("{}/batch/{batch_id}/events", api.base));
        if let Some((user, password)) = &api.credentials {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        if status != 200 {
            let text = response.text().await.unwrap_or_default();
            return Err((status, serde_json::from_str(&text).unwrap_or(Value::Null)));
        }
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(content_type.starts_with("text/event-stream"), "content type {content_type}");
        Ok(Self { response, buffer: String::new(), comments: 0, ended: false })
    }

    /// The next event; `None` once the server ended the stream. Panics when nothing arrives
    /// within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = self.parse(&frame) {
                    return Some(event);
                }
                continue;
            }
            if self.ended {
                assert!(self.buffer.trim().is_empty(), "stream ended inside a frame: {:?}", self.buffer);
                return None;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no event within {within:?}"))
                .expect("reading the stream");
            match chunk {
                Some(bytes) => self.buffer.push_str(std::str::from_utf8(&bytes).expect("UTF-8")),
                None => self.ended = true,
            }
        }
    }

    /// Events until the stream ends, each within `within` of the previous one.
    pub async fn rest(&mut self, within: Duration) -> Vec<SseEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.next(within).await {
            events.push(event);
        }
        events
    }

    /// An event of one frame, or `None` for a frame of comments only.
    fn parse(&mut self, frame: &str) -> Option<SseEvent> {
        let (mut id, mut event, mut data, mut fields) = (None, None, Vec::new(), 0);
        for line in frame.lines() {
            if line.starts_with(':') {
                self.comments += 1;
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            fields += 1;
            match field {
                "id" => id = Some(value.parse().unwrap_or_else(|_| panic!("id {value:?} is no number"))),
                "event" => event = Some(value.to_owned()),
                "data" => data.push(value.to_owned()),
                _ => {}
            }
        }
        (fields > 0).then(|| SseEvent {
            id,
            event: event.unwrap_or_else(|| "message".into()),
            data: serde_json::from_str(&data.join("\n")).unwrap_or(Value::Null),
        })
    }
}

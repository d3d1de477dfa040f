//! Following a batch through `GET /batch/{id}/events` (server-sent events): `progress` events
//! while it runs, then one final `completed`, `failed` or `deleted` event. A dropped connection
//! is re-established with `Last-Event-ID`, so the stream resumes where it stopped.

use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::ACCEPT;

use super::http::{Api, describe, encode};

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `id:`, if the event had one.
    pub id: Option<String>,
    /// `event:` (`message` when absent).
    pub name: String,
    /// `data:` lines, joined by newlines.
    pub data: String,
}

impl Event {
    /// Whether this is the last event of a batch: `completed`, `failed` or `deleted`.
    pub fn is_final(&self) -> bool {
        matches!(self.name.as_str(), "completed" | "failed" | "deleted")
    }
}

/// An incremental `text/event-stream` parser: feed it chunks as they arrive.
#[derive(Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    name: Option<String>,
    data: Option<String>,
    id: Option<String>,
}

impl Parser {
    /// The events completed by `chunk`.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        for &byte in chunk {
            if byte == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if let Some(event) = self.line_done(&String::from_utf8_lossy(&line)) {
                    events.push(event);
                }
            } else {
                self.line.push(byte);
            }
        }
        events
    }

    fn line_done(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            let name = self.name.take();
            let id = self.id.take();
            let data = self.data.take()?;
            return Some(Event { id, name: name.unwrap_or_else(|| "message".into()), data });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.name = Some(value.to_owned()),
            "id" => self.id = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
        None
    }
}

/// What [`follow`] reports while it runs.
#[derive(Debug)]
pub enum Notice<'a> {
    /// An event arrived (the final one included).
    Event(&'a Event),
    /// The connection broke (why); trying again.
    Reconnecting(&'a str),
}

/// How long [`follow`] keeps trying to reach the stream before it gives up.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// Follows batch `id` until its final event, which it returns; every event and every reconnect
/// goes to `notice` first.
pub async fn follow(api: &Api, id: &str, mut notice: impl FnMut(Notice<'_>)) -> anyhow::Result<Event> {
    let path = format!("/batch/{}/events", encode(id));
    let mut last_id: Option<String> = None;
    let mut failing_since: Option<Instant> = None;
    let mut delay = Duration::from_millis(250);
    loop {
        let mut request = api.request(Method::GET, &path).header(ACCEPT, "text/event-stream");
        if let Some(last) = &last_id {
            request = request.header("Last-Event-ID", last);
        }
        let why = match api.send(request).await {
            Ok(mut response) => {
                let is_stream = response
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("text/event-stream"));
                anyhow::ensure!(
                    is_stream,
                    "{} answered {path} without an event stream: is it a Sweep API with batch events?",
                    api.base()
                );
                let mut parser = Parser::default();
                loop {
                    match response.chunk().await {
                        Ok(Some(bytes)) => {
                            for event in parser.push(&bytes) {
                                if event.id.is_some() {
                                    last_id.clone_from(&event.id);
                                }
                                failing_since = None;
                                delay = Duration::from_millis(250);
                                notice(Notice::Event(&event));
                                if event.is_final() {
                                    return Ok(event);
                                }
                            }
                        }
                        Ok(None) => break "the API closed the event stream".to_owned(),
                        Err(e) => break describe(&e),
                    }
                }
            }
            Err(failure) if failure.is_transient() => failure.to_string(),
            Err(failure) => return Err(failure.into()),
        };
        let since = *failing_since.get_or_insert_with(Instant::now);
        if since.elapsed() > GIVE_UP_AFTER {
            anyhow::bail!("lost the event stream of batch {id} for {}s: {why}", GIVE_UP_AFTER.as_secs());
        }
        notice(Notice::Reconnecting(&why));
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_parsed_across_chunk_boundaries() {
        let mut parser = Parser::default();
        assert!(parser.push(b": hello\n\nid: 1\nevent: progress\nda").is_empty());
        let events = parser.push(b"ta: {\"a\":1}\r\n\r\nevent: completed\ndata: x\ndata:y\n\n");
        assert_eq!(
            events,
            vec![
                Event { id: Some("1".into()), name: "progress".into(), data: "{\"a\":1}".into() },
                Event { id: None, name: "completed".into(), data: "x\ny".into() },
            ]
        );
        assert!(events[1].is_final() && !events[0].is_final());
    }

    #[test]
    fn an_event_without_data_is_not_dispatched() {
        let mut parser = Parser::default();
        assert!(parser.push(b"event: progress\n\n").is_empty());
        assert_eq!(parser.push(b"data: 1\n\n")[0].name, "message");
    }
}

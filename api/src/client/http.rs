//! The HTTP side of `sweep`: one client with the caller's credentials, and errors that read
//! like Camunda's: `400 Bad Request: processInstanceIds is empty`.

use std::fmt;
use std::io::IsTerminal;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

/// How a request is authenticated.
#[derive(Clone)]
pub enum Credentials {
    /// No `Authorization` header (`auth.mode = none`).
    None,
    /// HTTP Basic.
    Basic {
        /// User id.
        user: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer …`.
    Bearer(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::None => f.write_str("none"),
            Credentials::Basic { user, .. } => write!(f, "basic({user})"),
            Credentials::Bearer(_) => f.write_str("bearer"),
        }
    }
}

impl Credentials {
    /// From `--user`/`SWEEP_USER` with `SWEEP_PASSWORD` (asked for on a terminal when unset),
    /// or `--token`/`SWEEP_TOKEN`.
    pub fn resolve(user: Option<String>, token: Option<String>) -> anyhow::Result<Self> {
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            return Ok(Credentials::Bearer(token));
        }
        let Some(user) = user.filter(|u| !u.is_empty()) else { return Ok(Credentials::None) };
        let password = match std::env::var("SWEEP_PASSWORD") {
            Ok(password) => password,
            Err(_) if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() => {
                rpassword::prompt_password(format!("Password for {user}: "))
                    .map_err(|e| anyhow::anyhow!("reading the password: {e}"))?
            }
            Err(_) => anyhow::bail!("no password for user '{user}': set SWEEP_PASSWORD (or use --token)"),
        };
        Ok(Credentials::Basic { user, password })
    }
}

/// A failed call: the status and Camunda's `message`, or why no answer came.
#[derive(Debug)]
pub enum ApiFailure {
    /// The API answered with an error status.
    Status {
        /// The status.
        status: StatusCode,
        /// Camunda's `message`, or an explanation when the body has none.
        message: String,
    },
    /// No answer: connection refused, timeout, a broken connection.
    Unreachable(String),
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiFailure::Status { status, message } => write!(f, "{status}: {message}"),
            ApiFailure::Unreachable(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ApiFailure {}

impl ApiFailure {
    /// Whether trying again later may help (no answer, or 502/503/504).
    pub fn is_transient(&self) -> bool {
        match self {
            ApiFailure::Unreachable(_) => true,
            ApiFailure::Status { status, .. } => matches!(status.as_u16(), 502..=504),
        }
    }

    /// The status, when the API answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ApiFailure::Status { status, .. } => Some(*status),
            ApiFailure::Unreachable(_) => None,
        }
    }
}

/// `reqwest`'s error with its causes, on one line ("error sending request for url (…):
/// client error (Connect): tcp connect error: Connection refused").
pub fn describe(error: &reqwest::Error) -> String {
    let mut source = std::error::Error::source(error);
    // "error sending request for url (…)" says nothing its causes do not say better.
    let mut text = match source {
        Some(cause) if error.is_request() || error.is_connect() => {
            source = cause.source();
            cause.to_string()
        }
        _ => error.to_string(),
    };
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A client of one API.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    client: reqwest::Client,
    credentials: Credentials,
}

/// How long an ordinary request may take (the event stream has no such limit).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

impl Api {
    /// A client of the API at `base` (`http://host:port/engine-rest`).
    pub fn new(base: &str, credentials: Credentials) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // The event stream sends at least one event a second while a batch runs: a silent
            // connection this long is dead, and is reconnected.
            .read_timeout(Duration::from_secs(30))
            .user_agent(concat!("sweep/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {}", describe(&e)))?;
        Ok(Self { base: base.trim_end_matches('/').to_owned(), client, credentials })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request to `{base}{path}` with the credentials.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match &self.credentials {
            Credentials::None => request,
            Credentials::Basic { user, password } => request.basic_auth(user, Some(password)),
            Credentials::Bearer(token) => request.bearer_auth(token),
        }
    }

    /// Sends `request`; an error status becomes an [`ApiFailure`] with Camunda's message.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, ApiFailure> {
        let response = request
            .send()
            .await
            .map_err(|e| ApiFailure::Unreachable(format!("cannot reach {}: {}", self.base, describe(&e))))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        Err(ApiFailure::Status { status, message: self.explain(status, &body) })
    }

    /// Sends `request` and reads a JSON answer (`Null` for an empty one, as 204 has).
    pub async fn json(&self, request: RequestBuilder) -> Result<Value, ApiFailure> {
        let response = self.send(request.timeout(REQUEST_TIMEOUT)).await?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| ApiFailure::Unreachable(format!("reading the answer of {}: {}", self.base, describe(&e))))?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text)
            .map_err(|_| ApiFailure::Status { status, message: format!("the answer is not JSON: {}", shorten(&text)) })
    }

    /// `GET {base}{path}` as JSON.
    pub async fn get(&self, path: &str) -> Result<Value, ApiFailure> {
        self.json(self.request(Method::GET, path)).await
    }

    fn explain(&self, status: StatusCode, body: &str) -> String {
        let message = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned));
        match (status, message) {
            (_, Some(message)) => message,
            (StatusCode::UNAUTHORIZED, None) => match &self.credentials {
                Credentials::None => "the API needs credentials: --user with SWEEP_PASSWORD, or --token".to_owned(),
                Credentials::Basic { user, .. } => format!(
                    "user '{user}' was not let in: wrong password, unknown user, or locked after failed logins \
                     (check --user and SWEEP_PASSWORD)"
                ),
                Credentials::Bearer(_) => "the bearer token was refused (expired, or not for this API?)".to_owned(),
            },
            (StatusCode::NOT_FOUND, None) => format!("nothing at this path: is {} a Sweep API (--url)?", self.base),
            (_, None) if body.trim().is_empty() => "no details in the answer".to_owned(),
            (_, None) => shorten(body),
        }
    }
}

/// At most 200 characters of `text`, on one line.
fn shorten(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// Percent-encodes one path segment or query value.
pub fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

//! Text a caller sends must be text PostgreSQL can store: no NUL character (PostgreSQL rejects
//! it in `text` and `jsonb`) and valid UTF-8. Both are checked once per kind of input, at the
//! edge, so no handler and no query ever sees such a string:
//!
//! - the URL: [`reject_bad_text`], a middleware over every route, percent-decodes each path
//!   segment and each query parameter (name and value, `+` as a space) and answers 400 naming
//!   the path segment or the parameter;
//! - JSON bodies: [`check_json`], called by [`crate::extract::Json`] and by the hand-parsed
//!   `POST /process-instance/delete`, answers 400 naming the JSON path of the string (invalid
//!   UTF-8 and lone surrogates are already syntax errors of the JSON parser);
//! - headers: the only ones Sweep reads are `Idempotency-Key` (visible ASCII, else 400) and
//!   `traceparent` (anything but a valid one is ignored); the HTTP parser itself refuses NUL
//!   in header values.

use std::borrow::Cow;
use std::fmt::Write as _;

use axum::extract::Request;
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode;

use crate::ApiError;

/// Answers 400 when the path or the query string decodes to NUL or invalid UTF-8; otherwise
/// runs the request.
pub async fn reject_bad_text(request: Request, next: Next) -> Response {
    match check_uri(request.uri()) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// What is wrong with a decoded string, if anything.
fn fault(bytes: &[u8]) -> Option<&'static str> {
    if bytes.contains(&0) {
        Some("must not contain a NUL character")
    } else if std::str::from_utf8(bytes).is_err() {
        Some("must be valid UTF-8")
    } else {
        None
    }
}

/// Checks every path segment and every query parameter of `uri`.
pub fn check_uri(uri: &Uri) -> Result<(), ApiError> {
    for segment in uri.path().split('/') {
        if let Some(fault) = fault(&percent_decode(segment.as_bytes()).collect::<Vec<u8>>()) {
            // The raw segment is ASCII as sent (the URI grammar allows nothing else).
            return Err(ApiError::InvalidRequest(format!("path segment '{}' {fault}", shown(segment))));
        }
    }
    for pair in uri.query().unwrap_or_default().split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name_bytes = form_decode(name);
        if let Some(fault) = fault(&name_bytes) {
            return Err(ApiError::InvalidRequest(format!("query parameter name '{}' {fault}", shown(name))));
        }
        if let Some(fault) = fault(&form_decode(value)) {
            let name = String::from_utf8_lossy(&name_bytes);
            return Err(ApiError::InvalidRequest(format!("query parameter '{}' {fault}", shown(&name))));
        }
    }
    Ok(())
}

/// `application/x-www-form-urlencoded` decoding, as the query extractor does it, but to bytes.
fn form_decode(text: &str) -> Vec<u8> {
    let text: Cow<'_, str> = if text.contains('+') { text.replace('+', " ").into() } else { text.into() };
    percent_decode(text.as_bytes()).collect()
}

/// At most 100 characters of `text`, for a message.
fn shown(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(100) {
        Some((end, _)) => format!("{}…", &text[..end]).into(),
        None => text.into(),
    }
}

/// Answers 400 naming the JSON path (`a.b[2].c`, as deserialisation errors name fields) of
/// the first string, or object key, in `body` that contains a NUL character.
///
/// Callers check a body after it deserialised into their DTO, so a body that does not keeps the
/// usual error message. A DTO skips the fields it does not know without decoding them, so a
/// body it accepts may still not be JSON (a lone surrogate `\ud800` in an unknown field): when
/// such a body holds a NUL, it is refused as not JSON.
pub fn check_json(body: &[u8]) -> Result<(), ApiError> {
    // JSON can only carry NUL as the escape `\u0000`; most bodies need no second parse.
    if !body.windows(6).any(|w| w == b"\\u0000") {
        return Ok(());
    }
    let document = serde_json::from_slice::<serde_json::Value>(body)
        .map_err(|e| ApiError::InvalidRequest(format!("The request body is not valid JSON: {e}")))?;
    let mut path = String::new();
    match nul_at(&document, &mut path) {
        None => Ok(()),
        Some(Place::Value) if path.is_empty() => {
            Err(ApiError::InvalidRequest("The request body must not contain a NUL character".into()))
        }
        Some(Place::Value) => Err(ApiError::InvalidRequest(format!("{path} must not contain a NUL character"))),
        Some(Place::Key(key)) => {
            let within = if path.is_empty() { "the request body".to_owned() } else { path };
            Err(ApiError::InvalidRequest(format!(
                "{within} has a field name that must not contain a NUL character: {}",
                key.escape_debug()
            )))
        }
    }
}

/// Where the NUL was found: in a string value (at the path) or in a key of the object there.
enum Place {
    Value,
    Key(String),
}

/// Depth-first search for a NUL; on a hit, `path` names the value (or the object whose key it is).
fn nul_at(value: &serde_json::Value, path: &mut String) -> Option<Place> {
    match value {
        serde_json::Value::String(s) => s.contains('\0').then_some(Place::Value),
        serde_json::Value::Array(items) => {
            let len = path.len();
            for (i, item) in items.iter().enumerate() {
                let _ = write!(path, "[{i}]");
                if let Some(place) = nul_at(item, path) {
                    return Some(place);
                }
                path.truncate(len);
            }
            None
        }
        serde_json::Value::Object(fields) => {
            if let Some(key) = fields.keys().find(|k| k.contains('\0')) {
                return Some(Place::Key(key.clone()));
            }
            let len = path.len();
            for (key, field) in fields {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                if let Some(place) = nul_at(field, path) {
                    return Some(place);
                }
                path.truncate(len);
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri_error(uri: &str) -> String {
        check_uri(&uri.parse().unwrap()).unwrap_err().to_string()
    }

    fn json_error(body: &str) -> String {
        check_json(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn clean_urls_pass() {
        for uri in ["/engine-rest/batch?batchId=a%20b&x=+&&flag", "/engine-rest/batch/%E2%9C%93", "/", "/a?%zz=%4"] {
            assert!(check_uri(&uri.parse().unwrap()).is_ok(), "{uri}");
        }
    }

    #[test]
    fn nul_and_invalid_utf8_in_the_query_name_the_parameter() {
        assert_eq!(
            uri_error("/engine-rest/batch?type=x&batchId=a%00b"),
            "query parameter 'batchId' must not contain a NUL character"
        );
        assert_eq!(uri_error("/engine-rest/batch?batchId=%FF"), "query parameter 'batchId' must be valid UTF-8");
        assert_eq!(
            uri_error("/engine-rest/batch?a%00=1"),
            "query parameter name 'a%00' must not contain a NUL character"
        );
    }

    #[test]
    fn nul_and_invalid_utf8_in_the_path_name_the_segment() {
        assert_eq!(uri_error("/engine-rest/batch/a%00"), "path segment 'a%00' must not contain a NUL character");
        assert_eq!(uri_error("/engine-rest/batch/%C3%28"), "path segment '%C3%28' must be valid UTF-8");
    }

    #[test]
    fn json_nul_names_its_path() {
        assert!(check_json(br#"{"a": "\\u0000"}"#).is_ok());
        assert!(check_json(br#"{"a": 1}"#).is_ok());
        let err = json_error(r#"{"ids": ["\u0000"], "unknown": "\ud800"}"#);
        assert!(err.starts_with("The request body is not valid JSON: "), "{err}");
        assert_eq!(
            json_error(r#"{"processInstanceQuery": {"businessKey": "a\u0000"}}"#),
            "processInstanceQuery.businessKey must not contain a NUL character"
        );
        assert_eq!(
            json_error(r#"{"processInstanceIds": ["ok", "\u0000"]}"#),
            "processInstanceIds[1] must not contain a NUL character"
        );
        assert_eq!(json_error(r#"[{"v": [1, {"x": "\u0000"}]}]"#), "[0].v[1].x must not contain a NUL character");
        assert_eq!(json_error(r#""\u0000""#), "The request body must not contain a NUL character");
        assert_eq!(
            json_error(r#"{"q": {"a\u0000": 1}}"#),
            "q has a field name that must not contain a NUL character: a\\0"
        );
    }
}

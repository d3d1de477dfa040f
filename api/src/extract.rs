//! Extractors whose rejections become Camunda error bodies instead of axum's plain text.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// `axum::Json` with Camunda-style rejections: malformed JSON and wrong types are 400,
/// an oversized body 413, a missing JSON content type 415, and a string containing NUL
/// anywhere in the document 400 naming its path ([`crate::sanitize::check_json`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        // axum's checks in axum's order (content type, size, contents), then NUL.
        if !json_content_type(request.headers()) {
            return Err(unsupported_media_type());
        }
        let body = Bytes::from_request(request, state).await.map_err(|e| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
            _ => ApiError::InvalidRequest(e.body_text()),
        })?;
        let axum::Json(value) = axum::Json::<T>::from_bytes(&body)?;
        crate::sanitize::check_json(&body)?;
        Ok(Self(value))
    }
}

/// axum's test for a JSON content type: `application/json` or `application/*+json`.
fn json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == "application" && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
        })
}

fn payload_too_large() -> ApiError {
    ApiError::PayloadTooLarge("Request body exceeds the size limit".into())
}

fn unsupported_media_type() -> ApiError {
    ApiError::UnsupportedMediaType("Expected request with `Content-Type: application/json`".into())
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => unsupported_media_type(),
            _ => ApiError::InvalidRequest(rejection.body_text()),
        }
    }
}

/// `axum::extract::Query` with Camunda-style 400 rejections.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::InvalidRequest(rejection.body_text())
    }
}

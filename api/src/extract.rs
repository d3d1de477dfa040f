//! Extractors whose rejections become Camunda error bodies instead of axum's plain text.

use axum::extract::FromRequest;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;

use crate::ApiError;

/// `axum::Json` with Camunda-style rejections: malformed JSON and wrong types are 400,
/// an oversized body 413, a missing JSON content type 415.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge("Request body exceeds the size limit".into()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ApiError::UnsupportedMediaType("Expected request with `Content-Type: application/json`".into())
            }
            _ => ApiError::InvalidRequest(rejection.body_text()),
        }
    }
}

/// `axum::extract::Query` with Camunda-style 400 rejections.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

use axum::extract::FromRequestParts;

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::InvalidRequest(rejection.body_text())
    }
}

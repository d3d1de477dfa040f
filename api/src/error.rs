//! Error policy of the HTTP layer. Every failure a caller can cause becomes a Camunda error body
//! `{"type", "message", "code"}` with a 4xx status and changes nothing; anything else is
//! logged once here and answered with 500 without internal details. This is the only module
//! that knows HTTP status codes and Camunda exception names.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::camunda::ExceptionDto;

/// An error answered to an HTTP caller.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `InvalidRequestException`: the request is malformed or names something invalid.
    #[error("{0}")]
    InvalidRequest(String),
    /// 400 `InvalidRequestException` with code 0: Camunda's answer when an engine command
    /// behind the endpoint refused the request (e.g. suspending an unknown batch).
    #[error("{0}")]
    EngineRefused(String),
    /// 404 `InvalidRequestException`: the addressed resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 405 `RestException`.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409 `InvalidRequestException`.
    #[error("{0}")]
    Conflict(String),
    /// 413 `InvalidRequestException`: the body exceeds `http.body_limit_bytes`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415 `InvalidRequestException`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 500: a failure the caller cannot fix.
    #[error(transparent)]
    Internal(shared::Error),
}

impl From<shared::Error> for ApiError {
    fn from(e: shared::Error) -> Self {
        match e {
            shared::Error::InvalidRequest(m) => ApiError::InvalidRequest(m),
            shared::Error::Conflict(m) => ApiError::Conflict(m),
            other => ApiError::Internal(other),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::Internal(shared::Error::Db(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Camunda reports code 0 when the REST exception wraps an engine exception, else null.
        let code = matches!(self, ApiError::EngineRefused(_)).then_some(0);
        let (status, kind, message) = match self {
            ApiError::InvalidRequest(m) => (StatusCode::BAD_REQUEST, "InvalidRequestException", m),
            ApiError::EngineRefused(m) => (StatusCode::BAD_REQUEST, "InvalidRequestException", m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "InvalidRequestException", m),
            ApiError::MethodNotAllowed(m) => (StatusCode::METHOD_NOT_ALLOWED, "RestException", m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "InvalidRequestException", m),
            ApiError::PayloadTooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "InvalidRequestException", m),
            ApiError::UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "InvalidRequestException", m),
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "ProcessEngineException", "Internal server error".to_owned())
            }
        };
        (status, Json(ExceptionDto { kind: kind.to_owned(), message, code })).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause() {
        let resp = ApiError::Internal(shared::Error::Schema("secret detail".into())).into_response();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn invalid_requests_are_400() {
        assert_eq!(ApiError::InvalidRequest("x".into()).into_response().status(), StatusCode::BAD_REQUEST);
    }
}

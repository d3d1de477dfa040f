//! Error policy of the HTTP layer (the library's own policy is atop `shared::error`):
//! - every failure a caller can cause becomes a Camunda error body `{"type", "message", "code"}`
//!   with a 4xx status, and changes nothing;
//! - a database out of reach (pool exhausted, connection lost) answers 503 with `Retry-After`:
//!   the same request may well succeed a moment later;
//! - anything else is Sweep's fault: logged once here, answered 500 without internal details.
//!
//! This is the only module that knows HTTP status codes and Camunda exception names.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::camunda::{AuthorizationExceptionDto, ExceptionDto, MissingAuthorizationDto};

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
    /// 403 `AuthorizationException` with the missing authorizations.
    #[error("{}", .0.message())]
    Forbidden(shared::auth::Denied),
    /// 503 with `Retry-After`: the database is out of reach for now.
    #[error(transparent)]
    Unavailable(shared::Error),
    /// 500: a failure the caller cannot fix.
    #[error(transparent)]
    Internal(shared::Error),
}

/// Seconds a caller is asked to wait after a 503.
const RETRY_AFTER_SECONDS: &str = "1";

impl From<shared::Error> for ApiError {
    fn from(e: shared::Error) -> Self {
        match e {
            shared::Error::InvalidRequest(m) => ApiError::InvalidRequest(m),
            shared::Error::Conflict(m) => ApiError::Conflict(m),
            shared::Error::Forbidden(denied) => ApiError::Forbidden(denied),
            e if e.is_unavailable() => ApiError::Unavailable(e),
            other => ApiError::Internal(other),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        shared::Error::Db(e).into()
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
            ApiError::Forbidden(denied) => return forbidden(&denied),
            ApiError::Unavailable(e) => {
                tracing::warn!(error = %e, "request failed: database unavailable");
                let body = ExceptionDto {
                    kind: "ProcessEngineException".to_owned(),
                    message: "The database is unavailable at the moment; retry later".to_owned(),
                    code: None,
                };
                let headers = [(header::RETRY_AFTER, RETRY_AFTER_SECONDS)];
                return (StatusCode::SERVICE_UNAVAILABLE, headers, Json(body)).into_response();
            }
            ApiError::Internal(e) => {
                tracing::error!(error = %e, error.source = ?std::error::Error::source(&e).map(ToString::to_string), "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "ProcessEngineException", "Internal server error".to_owned())
            }
        };
        (status, Json(ExceptionDto { kind: kind.to_owned(), message, code })).into_response()
    }
}

/// Camunda's `AuthorizationExceptionDto`.
fn forbidden(denied: &shared::auth::Denied) -> Response {
    let single = (denied.missing.len() == 1).then(|| &denied.missing[0]);
    let body = AuthorizationExceptionDto {
        kind: "AuthorizationException".to_owned(),
        message: denied.message(),
        code: None,
        user_id: denied.user_id.clone(),
        permission_name: single.map(|m| m.permission.to_owned()),
        resource_name: single.map(|m| m.resource.to_owned()),
        resource_id: single.and_then(|m| m.resource_id.clone()),
        missing_authorizations: denied
            .missing
            .iter()
            .map(|m| MissingAuthorizationDto {
                permission_name: m.permission.to_owned(),
                resource_name: m.resource.to_owned(),
                resource_id: m.resource_id.clone(),
            })
            .collect(),
    };
    (StatusCode::FORBIDDEN, Json(body)).into_response()
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
    fn an_exhausted_pool_answers_503_with_retry_after() {
        let e = sea_orm::DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout);
        let resp = ApiError::from(e).into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers().get(header::RETRY_AFTER).unwrap(), "1");
    }

    #[test]
    fn invalid_requests_are_400() {
        assert_eq!(ApiError::InvalidRequest("x".into()).into_response().status(), StatusCode::BAD_REQUEST);
    }
}

//! The library's error type. HTTP status codes and Camunda exception names live in the API
//! crate; here errors only say what went wrong.

/// An error raised by library code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// The broker refused or failed an operation.
    #[error("broker error: {0}")]
    Amqp(String),
    /// A caller-supplied value is invalid; the message names the offending field.
    #[error("{0}")]
    InvalidRequest(String),
    /// The request conflicts with an earlier one (e.g. a reused `Idempotency-Key`).
    #[error("{0}")]
    Conflict(String),
    /// The attached database lacks something Sweep needs.
    #[error("schema check failed: {0}")]
    Schema(String),
    /// A message or document could not be (de)serialised.
    #[error("invalid document: {0}")]
    Decode(#[from] serde_json::Error),
}

impl Error {
    /// Shorthand for [`Error::InvalidRequest`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidRequest(message.into())
    }
}

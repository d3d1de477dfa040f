//! The library's error type, and the error policy both binaries follow.
//!
//! - A variant says *whose* fault it is, never how to answer: the caller's
//!   ([`Error::InvalidRequest`], [`Error::Conflict`], [`Error::Forbidden`]), a service's that may recover by itself
//!   ([`Error::Db`] when [`Error::is_unavailable`], [`Error::Amqp`]), or Sweep's own
//!   ([`Error::Internal`], [`Error::Schema`], other database errors). HTTP status codes and
//!   Camunda exception names live in the API crate (`api::error`), AMQP dispositions in the
//!   worker's dispatch.
//! - Sources are kept (`#[source]`), so the one place that logs an error logs its whole chain.
//! - An error is logged once, where it is handled: the HTTP error mapper or the worker's
//!   delivery handler. Library code returns errors and does not log them.

/// A boxed error source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error raised by library code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// The broker refused or failed an operation; `context` says which.
    #[error("broker error: {context}")]
    Amqp {
        /// What Sweep was doing.
        context: String,
        /// lapin's or the connection pool's error, if there is one (a nack has none).
        #[source]
        source: Option<BoxError>,
    },
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
    /// The caller lacks an authorization; answered as Camunda's `AuthorizationException`.
    #[error("{}", .0.message())]
    Forbidden(crate::auth::Denied),
    /// A fault of Sweep itself, not of the caller (a broken invariant, a failed server task).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for [`Error::InvalidRequest`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidRequest(message.into())
    }

    /// A broker error with its source.
    pub fn amqp(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Amqp { context: context.into(), source: Some(source.into()) }
    }

    /// A broker error without a source (a nack, an unroutable message, a timeout).
    pub fn broker(context: impl Into<String>) -> Self {
        Self::Amqp { context: context.into(), source: None }
    }

    /// The database is out of reach for now — no pooled connection within the acquire
    /// timeout, or the connection was lost — so the same request may succeed later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Db(e) if db_unavailable(e))
    }
}

/// See [`Error::is_unavailable`].
pub fn db_unavailable(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, SqlxError};
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => matches!(
            e.as_ref(),
            SqlxError::Io(_) | SqlxError::PoolTimedOut | SqlxError::PoolClosed | SqlxError::WorkerCrashed
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnAcquireErr, DbErr};

    use super::*;

    #[test]
    fn pool_timeouts_and_lost_connections_are_unavailable_others_not() {
        assert!(Error::Db(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)).is_unavailable());
        assert!(Error::Db(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)).is_unavailable());
        assert!(!Error::Db(DbErr::RecordNotFound("x".into())).is_unavailable());
        assert!(!Error::invalid("x").is_unavailable());
    }

    #[test]
    fn broker_errors_keep_their_source() {
        let e = Error::amqp("connecting", std::io::Error::other("refused"));
        assert_eq!(std::error::Error::source(&e).map(|s| s.to_string()).as_deref(), Some("refused"));
    }
}

//! Authentication of API callers.

pub mod oidc;

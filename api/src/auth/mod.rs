//! Authentication of every request under the base path (health and metrics stay open):
//! HTTP Basic against Camunda's `ACT_ID_USER` (`auth.mode = basic`, the default), bearer JWTs
//! (`oidc`), or nobody (`none`, an explicit opt-out). The result is a [`Principal`] in the
//! request's extensions; a request without valid credentials gets 401 with an empty body and
//! `WWW-Authenticate`, as Camunda's REST filter answers.
//!
//! Bearer tokens are checked on every request ([`oidc`]); only the user's tenants (a database
//! round trip) are cached. Verified Basic credentials are cached for `auth.cache_ttl` (seconds), keyed by user and a
//! digest of the password, so a client polling every second costs neither a database round trip
//! nor a hash per request. A failed login evicts the user's entries at once, so a lock or a
//! wrong password is never answered from the cache; a password changed or a lock set elsewhere
//! takes effect within the TTL.
//!
//! An entry past half its TTL is still answered, once verified again in the background: a
//! client that keeps calling never waits for a verification (which would otherwise land on
//! one of its requests every TTL), and nothing older than the TTL is ever trusted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};
use shared::auth::Principal;
use shared::auth::password;
use shared::db::identity;
use shared::settings::{AuthMode, AuthSettings};

use crate::AppState;

pub mod oidc;

/// Entries kept at most; the cache is cleared when it grows beyond (a flood of distinct
/// credentials must not grow memory).
const MAX_CACHED: usize = 10_000;

/// A user and the SHA-256 of a password that was verified for it.
type CacheKey = (String, [u8; 32]);

/// A verified principal, when it was verified, and whether it is being verified again.
struct Cached {
    principal: Principal,
    verified: Instant,
    refreshing: bool,
}

/// What the cache holds for a key.
enum Lookup {
    /// Verified less than half the TTL ago.
    Fresh(Principal),
    /// Verified between half the TTL and the TTL ago: answer it, and verify it again in the
    /// background (the caller is the one to do so; others see it `Fresh` meanwhile).
    Refresh(Principal),
    /// Nothing usable: verify before answering.
    Miss,
}

/// Turns credentials into principals.
pub struct Authenticator {
    settings: AuthSettings,
    cache: Mutex<HashMap<CacheKey, Cached>>,
    oidc: Option<oidc::OidcVerifier>,
}

/// Why a request is not authenticated (logged at debug level, never answered in detail).
#[derive(Debug, thiserror::Error)]
pub enum Unauthenticated {
    /// No or malformed credentials, or credentials of the other mode.
    #[error("no usable credentials")]
    Missing,
    /// A bearer token that does not verify.
    #[error("bearer token refused: {0}")]
    Token(#[from] oidc::OidcError),
    /// Unknown user, wrong password, or a locked user.
    #[error("invalid credentials for user '{0}'")]
    Invalid(String),
    /// The database could not be asked.
    #[error(transparent)]
    Store(#[from] sea_orm::DbErr),
}

impl Authenticator {
    /// An authenticator for `settings`; with `auth.mode = oidc` it loads the JWKS first, and
    /// fails naming `auth.oidc.jwks` when it cannot.
    pub async fn new(settings: AuthSettings) -> Result<Self, oidc::OidcError> {
        let oidc = match settings.mode {
            AuthMode::Oidc => Some(oidc::OidcVerifier::new(&settings.oidc).await?),
            _ => None,
        };
        Ok(Self { settings, cache: Mutex::new(HashMap::new()), oidc })
    }

    /// The principal behind `headers`.
    pub async fn authenticate(
        self: &Arc<Self>,
        db: &DatabaseConnection,
        headers: &HeaderMap,
    ) -> Result<Principal, Unauthenticated> {
        match self.settings.mode {
            AuthMode::None => Ok(Principal::anonymous()),
            AuthMode::Basic => {
                let (user, pass) = basic_credentials(headers).ok_or(Unauthenticated::Missing)?;
                let key = (user.clone(), Sha256::digest(pass.as_bytes()).into());
                self.cached_or(key, db, move |this, db, key| async move { this.basic(&db, key, user, pass).await })
                    .await
            }
            AuthMode::Oidc => {
                let token = bearer_token(headers).ok_or(Unauthenticated::Missing)?;
                let verifier = self.oidc.as_ref().ok_or(Unauthenticated::Missing)?;
                let identity = verifier.verify(token).await?;
                let key = (identity.user_id.clone(), Sha256::digest(identity.groups.join("\n").as_bytes()).into());
                self.cached_or(key, db, move |this, db, key| async move { this.token_user(&db, key, identity).await })
                    .await
            }
        }
    }

    /// The cached principal of `key`, or the one `verify` finds (and caches under `key`). An entry past
    /// half its TTL is answered while `verify` runs again in a task of its own.
    async fn cached_or<F, Fut>(
        self: &Arc<Self>,
        key: CacheKey,
        db: &DatabaseConnection,
        verify: F,
    ) -> Result<Principal, Unauthenticated>
    where
        F: FnOnce(Arc<Self>, DatabaseConnection, CacheKey) -> Fut,
        Fut: Future<Output = Result<Principal, Unauthenticated>> + Send + 'static,
    {
        match self.lookup(&key) {
            Lookup::Fresh(principal) => Ok(principal),
            Lookup::Refresh(principal) => {
                let again = verify(self.clone(), db.clone(), key.clone());
                let this = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = again.await {
                        // A refused login has evicted the user already; anything else leaves
                        // the entry to expire, or to be verified again by the next request.
                        tracing::debug!(error = %e, "cached credentials not verified again");
                        this.refresh_failed(&key);
                    }
                });
                Ok(principal)
            }
            Lookup::Miss => verify(self.clone(), db.clone(), key).await,
        }
    }

    /// The principal of a verified token: its groups plus the user's groups and tenants from
    /// the identity tables, cached per user for the TTL (the token itself is checked every time).
    async fn token_user(
        &self,
        db: &DatabaseConnection,
        key: CacheKey,
        identity: oidc::OidcIdentity,
    ) -> Result<Principal, Unauthenticated> {
        let (groups, tenants) = identity::memberships(db, &identity.user_id, &identity.groups).await?;
        let principal =
            Principal::user(identity.user_id, groups, tenants, &self.settings.admin_group, self.settings.authorization);
        self.remember(key, principal.clone());
        Ok(principal)
    }

    /// Verifies `user`'s password against the identity tables, as Camunda does, and caches the
    /// principal; a refused login evicts the user's entries.
    async fn basic(
        &self,
        db: &DatabaseConnection,
        key: CacheKey,
        user: String,
        pass: String,
    ) -> Result<Principal, Unauthenticated> {
        let Some(creds) = identity::credentials(db, &user, &self.settings).await? else {
            self.evict(&user);
            return Err(Unauthenticated::Invalid(user));
        };
        let matches = creds.pwd.as_deref().is_some_and(|pwd| password::verify(&pass, pwd, creds.salt.as_deref()));
        if creds.locked || !matches {
            self.evict(&user);
            if !creds.locked {
                identity::record_failed_login(db, &user, &self.settings).await?;
            }
            return Err(Unauthenticated::Invalid(user));
        }
        identity::reset_failed_logins(db, &user).await?;
        let (groups, tenants) = identity::memberships(db, &user, &[]).await?;
        let principal = Principal::user(user, groups, tenants, &self.settings.admin_group, self.settings.authorization);
        self.remember(key, principal.clone());
        Ok(principal)
    }

    fn lookup(&self, key: &CacheKey) -> Lookup {
        let ttl = self.settings.cache_ttl;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = cache.get_mut(key).filter(|e| e.verified.elapsed() < ttl) else {
            return Lookup::Miss;
        };
        if entry.refreshing || entry.verified.elapsed() < ttl / 2 {
            return Lookup::Fresh(entry.principal.clone());
        }
        entry.refreshing = true;
        Lookup::Refresh(entry.principal.clone())
    }

    /// A background verification of `key` ended without a verdict: the next request past half
    /// the TTL tries again.
    fn refresh_failed(&self, key: &CacheKey) {
        if let Some(entry) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get_mut(key) {
            entry.refreshing = false;
        }
    }

    fn remember(&self, key: CacheKey, principal: Principal) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(key, Cached { principal, verified: Instant::now(), refreshing: false });
    }

    fn evict(&self, user: &str) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).retain(|(u, _), _| u != user);
    }

    /// The challenge a 401 carries.
    fn challenge(&self) -> HeaderValue {
        match self.settings.mode {
            AuthMode::Oidc => HeaderValue::from_static("Bearer"),
            _ => HeaderValue::from_static("Basic realm=\"default\""),
        }
    }
}

/// `Authorization: Bearer <token>`, if present.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// `Authorization: Basic base64(user:password)`, if present and well-formed.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    (!user.is_empty() && !user.contains('\0')).then(|| (user.to_owned(), pass.to_owned()))
}

/// Middleware: authenticates the request, or answers 401 (503 when the database is away).
pub async fn require_user(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    match state.auth.authenticate(&state.db, request.headers()).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(Unauthenticated::Store(e)) => crate::ApiError::from(e).into_response(),
        Err(e) => {
            tracing::debug!(error = %e, "request not authenticated");
            (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, state.auth.challenge())]).into_response()
        }
    }
}

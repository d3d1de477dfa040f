//! OpenID Connect bearer tokens (`auth.mode = oidc`): this module owns the identity provider's
//! signing keys and the verification of a token against them. It loads the JWKS named by
//! `auth.oidc.jwks` (a file or an `http(s)://` URL), keeps it in memory, re-reads it every
//! `auth.oidc.jwks_refresh` and when a token names an unknown `kid` (at most every
//! [`UNKNOWN_KID_REFRESH_INTERVAL`]), and checks a token's signature (asymmetric algorithms only,
//! matching the key), `iss`, `aud`, `exp` and `nbf`, then reads the user id and groups from the
//! configured claims into an [`OidcIdentity`]. It knows nothing of HTTP: the authentication
//! middleware hands over the token from `Authorization: Bearer …` and answers 401 on any
//! [`OidcError`].

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use shared::settings::OidcSettings;
use tokio::runtime::Handle;
use tokio::task::AbortHandle;

/// Clock skew tolerated on `exp` and `nbf`, in seconds: the IdP's clock and ours drift a little,
/// and a token is often presented within a second of being issued.
const LEEWAY_SECS: u64 = 30;

/// However many tokens name unknown key ids, the JWKS is fetched for them at most this often, so
/// a flood of bogus `kid`s cannot hammer the IdP. A key rotated in by the IdP is still picked up
/// within this time of its first token.
pub const UNKNOWN_KID_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// A JWKS fetch (connect, request, body) that takes longer than this fails.
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest accepted JWKS document; real ones are a few kilobytes.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Longest accepted token. Real ones are a few kilobytes; this bounds the work an attacker can
/// cause before the signature check.
const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// The only algorithms ever accepted, whatever the JWKS says: asymmetric signatures. `none` and
/// the HMAC family (`HS*`, where a public key could be misused as the shared secret) are absent.
const ALLOWED_ALGORITHMS: [(&str, Algorithm); 9] = [
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("PS384", Algorithm::PS384),
    ("PS512", Algorithm::PS512),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("EdDSA", Algorithm::EdDSA),
];

const RSA_ALGORITHMS: [Algorithm; 6] =
    [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::PS384, Algorithm::PS512];

/// Who a verified token says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    /// The value of the `auth.oidc.user_claim` claim (a non-empty string).
    pub user_id: String,
    /// The values of the `auth.oidc.groups_claim` claim; empty when the token has no such claim.
    pub groups: Vec<String>,
}

/// Why a token was refused, or why the verifier could not be created. The texts are fit for a
/// log line: they never contain the token, and values taken from it (`kid`, `alg`) are shortened
/// and stripped of anything but printable ASCII.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// A setting of `[auth.oidc]` is unusable ([`OidcVerifier::new`] only).
    #[error("invalid setting `{key}`: {reason}")]
    Config {
        /// The setting, e.g. `auth.oidc.issuer`.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The JWKS could not be read or holds no usable signing key ([`OidcVerifier::new`] only;
    /// later refreshes that fail keep the previous keys).
    #[error("auth.oidc.jwks: {0}")]
    Jwks(String),
    /// The token is longer than any real one.
    #[error("bearer token too large ({len} bytes, at most {max})")]
    TooLarge {
        /// The token's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The token is not a well-formed compact JWS with JSON header and claims.
    #[error("malformed bearer token: {0}")]
    Malformed(&'static str),
    /// The header names an algorithm that is never accepted (`none`, `HS*`, unknown ones).
    #[error("bearer token algorithm `{0}` is not allowed")]
    AlgorithmNotAllowed(String),
    /// The token has no `kid`, and the JWKS does not hold exactly one signing key.
    #[error("bearer token has no `kid` and the JWKS holds {keys} signing keys")]
    MissingKid {
        /// How many signing keys the JWKS holds.
        keys: usize,
    },
    /// No signing key has the token's `kid`, even after reading the JWKS again (or the last
    /// read was too recent to read it again).
    #[error("no signing key with kid `{0}` in the JWKS")]
    UnknownKid(String),
    /// The key the token names cannot be used with the token's algorithm (another key type,
    /// another curve, or another `alg` in the JWKS).
    #[error("signing key `{kid}` does not fit the bearer token's algorithm {alg}")]
    KeyMismatch {
        /// The key's id (`-` when the token names none).
        kid: String,
        /// The token's algorithm.
        alg: String,
    },
    /// The signature does not verify with the key.
    #[error("bearer token signature is invalid")]
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    #[error("bearer token has expired")]
    Expired,
    /// `nbf` is still ahead (beyond the leeway).
    #[error("bearer token is not valid yet (nbf)")]
    NotYetValid,
    /// `iss` is not `auth.oidc.issuer`.
    #[error("bearer token issuer is not auth.oidc.issuer")]
    WrongIssuer,
    /// `aud` does not contain `auth.oidc.audience`.
    #[error("bearer token audience does not include auth.oidc.audience")]
    WrongAudience,
    /// A required claim is absent (`exp`, `iss`, `aud`, or the user claim).
    #[error("bearer token lacks the `{0}` claim")]
    MissingClaim(String),
    /// A claim has the wrong type or value.
    #[error("bearer token claim `{claim}` {reason}")]
    InvalidClaim {
        /// The claim's name.
        claim: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Verifies bearer tokens against the IdP's JWKS. Cheap to clone: clones share one key cache.
/// The periodic JWKS refresh runs on a Tokio task that ends with the last clone.
#[derive(Clone)]
pub struct OidcVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    source: JwksSource,
    issuer: String,
    user_claim: String,
    groups_claim: String,
    /// Checks `iss`, `aud`, `exp` and `nbf`; cloned per token with that token's algorithm.
    validation: Validation,
    keys: RwLock<Arc<KeySet>>,
    /// When the JWKS was last read (or tried); held while reading, so reads never overlap.
    last_read: tokio::sync::Mutex<Instant>,
    unknown_kid_interval: Duration,
    runtime: Handle,
    refresher: OnceLock<AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.refresher.get() {
            task.abort();
        }
    }
}

impl fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("jwks", &self.inner.source.to_string())
            .field("issuer", &self.inner.issuer)
            .field("keys", &self.inner.current().keys.len())
            .finish_non_exhaustive()
    }
}

impl OidcVerifier {
    /// Checks `settings` and loads the JWKS once; must be called inside a Tokio runtime, on
    /// which the periodic refresh then runs. An unreadable file or URL, or a document that is
    /// not a JWKS with at least one usable signing key, is an [`OidcError::Jwks`] naming
    /// `auth.oidc.jwks`.
    pub async fn new(settings: &OidcSettings) -> Result<Self, OidcError> {
        Self::build(settings, UNKNOWN_KID_REFRESH_INTERVAL).await
    }

    async fn build(settings: &OidcSettings, unknown_kid_interval: Duration) -> Result<Self, OidcError> {
        let bad = |key: &'static str, reason: &str| OidcError::Config { key, reason: reason.to_owned() };
        for (key, value) in [
            ("auth.oidc.jwks", &settings.jwks),
            ("auth.oidc.issuer", &settings.issuer),
            ("auth.oidc.audience", &settings.audience),
            ("auth.oidc.user_claim", &settings.user_claim),
            ("auth.oidc.groups_claim", &settings.groups_claim),
        ] {
            if value.is_empty() {
                return Err(bad(key, "must be set when auth.mode = oidc"));
            }
        }
        if settings.jwks_refresh.is_zero() {
            return Err(bad("auth.oidc.jwks_refresh", "must be positive"));
        }
        let runtime = Handle::try_current()
            .map_err(|_| OidcError::Jwks("the verifier must be created inside a Tokio runtime".into()))?;
        let source = JwksSource::from_setting(&settings.jwks)?;
        let keys = source.load(&runtime).await.map_err(OidcError::Jwks)?;
        tracing::info!(jwks = %source, keys = keys.keys.len(), "auth.oidc.jwks: signing keys loaded");

        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);

        let inner = Arc::new(Inner {
            source,
            issuer: settings.issuer.clone(),
            user_claim: settings.user_claim.clone(),
            groups_claim: settings.groups_claim.clone(),
            validation,
            keys: RwLock::new(Arc::new(keys)),
            last_read: tokio::sync::Mutex::new(Instant::now()),
            unknown_kid_interval,
            runtime: runtime.clone(),
            refresher: OnceLock::new(),
        });
        let weak = Arc::downgrade(&inner);
        // Capped, so that an absurd setting cannot overflow the timer's instant arithmetic.
        let every = settings.jwks_refresh.min(Duration::from_secs(365 * 24 * 3600));
        let task = runtime.spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                inner.refresh_scheduled().await;
            }
        });
        let _ = inner.refresher.set(task.abort_handle());
        Ok(Self { inner })
    }

    /// Verifies `token` (the compact JWS, without `Bearer `) and returns who it identifies.
    /// Never panics: every failure is an [`OidcError`].
    pub async fn verify(&self, token: &str) -> Result<OidcIdentity, OidcError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(OidcError::TooLarge { len: token.len(), max: MAX_TOKEN_BYTES });
        }
        let header = parse_header(token)?;
        let alg = allowed_algorithm(&header.alg)?;
        let kid = header.kid.as_deref();

        let mut keys = self.inner.current();
        let mut selected = keys.select(kid, alg);
        if matches!(selected, Err(OidcError::UnknownKid(_))) {
            keys = self.inner.refresh_for_unknown_kid(keys).await;
            selected = keys.select(kid, alg);
        }
        let key = &keys.keys[selected?];

        let mut validation = self.inner.validation.clone();
        validation.algorithms = vec![alg];
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|e| map_jwt_error(&e, kid, alg))?
            .claims;
        self.inner.identity(&claims)
    }
}

impl Inner {
    fn current(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Reads the JWKS again for a token whose `kid` is not in `seen`, unless another task
    /// already replaced `seen` or the last read is too recent. Returns the keys to look in.
    async fn refresh_for_unknown_kid(&self, seen: Arc<KeySet>) -> Arc<KeySet> {
        let mut last_read = self.last_read.lock().await;
        let current = self.current();
        if !Arc::ptr_eq(&current, &seen) {
            return current;
        }
        if last_read.elapsed() < self.unknown_kid_interval {
            tracing::debug!(jwks = %self.source, "auth.oidc.jwks: unknown kid, but the JWKS was read too recently");
            return current;
        }
        *last_read = Instant::now();
        self.reload("a token names an unknown kid").await;
        self.current()
    }

    async fn refresh_scheduled(&self) {
        let mut last_read = self.last_read.lock().await;
        *last_read = Instant::now();
        self.reload("scheduled refresh").await;
    }

    async fn reload(&self, reason: &'static str) {
        match self.source.load(&self.runtime).await {
            Ok(keys) => {
                tracing::debug!(jwks = %self.source, keys = keys.keys.len(), reason, "auth.oidc.jwks: signing keys re-read");
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
            }
            Err(error) => tracing::warn!(
                jwks = %self.source,
                reason,
                %error,
                "auth.oidc.jwks: re-reading the signing keys failed; keeping the previous ones"
            ),
        }
    }

    /// Reads the identity from claims whose signature and registered claims are verified.
    fn identity(&self, claims: &Map<String, Value>) -> Result<OidcIdentity, OidcError> {
        // jsonwebtoken also accepts an array `iss` containing the issuer; OIDC says it is one string.
        match claims.get("iss") {
            Some(Value::String(iss)) if *iss == self.issuer => {}
            _ => return Err(OidcError::WrongIssuer),
        }
        let user_id = match claims.get(&self.user_claim) {
            None | Some(Value::Null) => return Err(OidcError::MissingClaim(self.user_claim.clone())),
            Some(Value::String(user)) if !user.is_empty() => user.clone(),
            Some(_) => {
                return Err(OidcError::InvalidClaim {
                    claim: self.user_claim.clone(),
                    reason: "must be a non-empty string",
                });
            }
        };
        let not_strings =
            || OidcError::InvalidClaim { claim: self.groups_claim.clone(), reason: "must be an array of strings" };
        let groups = match claims.get(&self.groups_claim) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|g| g.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(not_strings)?,
            Some(_) => return Err(not_strings()),
        };
        Ok(OidcIdentity { user_id, groups })
    }
}

/// The part of a token header needed to pick the key; jsonwebtoken checks the rest.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

fn parse_header(token: &str) -> Result<RawHeader, OidcError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_claims), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(OidcError::Malformed("not three dot-separated parts"));
    };
    let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| OidcError::Malformed("header is not base64url"))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| OidcError::Malformed("header is not a JSON object with a string `alg` and `kid`"))
}

fn allowed_algorithm(name: &str) -> Result<Algorithm, OidcError> {
    ALLOWED_ALGORITHMS
        .iter()
        .find(|(allowed, _)| *allowed == name)
        .map(|(_, alg)| *alg)
        .ok_or_else(|| OidcError::AlgorithmNotAllowed(for_log(name)))
}

fn map_jwt_error(error: &jsonwebtoken::errors::Error, kid: Option<&str>, alg: Algorithm) -> OidcError {
    match error.kind() {
        ErrorKind::InvalidSignature => OidcError::BadSignature,
        ErrorKind::ExpiredSignature => OidcError::Expired,
        ErrorKind::ImmatureSignature => OidcError::NotYetValid,
        ErrorKind::InvalidIssuer => OidcError::WrongIssuer,
        ErrorKind::InvalidAudience => OidcError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => OidcError::MissingClaim(claim.clone()),
        ErrorKind::InvalidClaimFormat(claim) => {
            OidcError::InvalidClaim { claim: claim.clone(), reason: "has the wrong type" }
        }
        ErrorKind::InvalidAlgorithm
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => {
            OidcError::KeyMismatch { kid: kid.map_or_else(|| "-".to_owned(), for_log), alg: format!("{alg:?}") }
        }
        ErrorKind::Base64(_) => OidcError::Malformed("a part is not base64url"),
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
            OidcError::Malformed("header or claims are not the JSON a JWT requires")
        }
        _ => OidcError::Malformed("not a valid JWS"),
    }
}

/// A value taken from a token, fit for a log line: at most 64 characters of printable ASCII.
fn for_log(value: &str) -> String {
    const MAX_CHARS: usize = 64;
    let mut out: String =
        value.chars().take(MAX_CHARS).map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect();
    if value.chars().nth(MAX_CHARS).is_some() {
        out.push_str("...");
    }
    out
}

/// The usable signing keys of one JWKS read.
struct KeySet {
    keys: Vec<VerifyKey>,
}

struct VerifyKey {
    kid: Option<String>,
    /// The algorithms this key may verify: its type's (and curve's), narrowed by the JWK's `alg`.
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

impl KeySet {
    /// Parses a JWKS document, skipping keys that cannot verify signatures here (encryption
    /// keys, symmetric keys, unsupported types and curves).
    fn parse(bytes: &[u8]) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<Value>,
        }
        let document: Document =
            serde_json::from_slice(bytes).map_err(|e| format!("not a JWKS document (an object with `keys`): {e}"))?;
        let total = document.keys.len();
        let mut keys = Vec::with_capacity(total);
        for (index, value) in document.keys.into_iter().enumerate() {
            match VerifyKey::from_jwk(value) {
                Ok(key) => keys.push(key),
                Err(why) => tracing::debug!(index, why, "auth.oidc.jwks: key skipped"),
            }
        }
        if keys.is_empty() {
            return Err(format!("none of its {total} keys is a usable signing key (RSA, EC P-256/P-384 or Ed25519)"));
        }
        Ok(Self { keys })
    }

    /// The index of the key to verify a token with `kid` and `alg`.
    fn select(&self, kid: Option<&str>, alg: Algorithm) -> Result<usize, OidcError> {
        let mismatch =
            || OidcError::KeyMismatch { kid: kid.map_or_else(|| "-".to_owned(), for_log), alg: format!("{alg:?}") };
        match kid {
            Some(kid) => {
                let mut named = self.keys.iter().enumerate().filter(|(_, k)| k.kid.as_deref() == Some(kid)).peekable();
                if named.peek().is_none() {
                    return Err(OidcError::UnknownKid(for_log(kid)));
                }
                named.find(|(_, k)| k.algorithms.contains(&alg)).map(|(i, _)| i).ok_or_else(mismatch)
            }
            None if self.keys.len() == 1 => {
                if self.keys[0].algorithms.contains(&alg) {
                    Ok(0)
                } else {
                    Err(mismatch())
                }
            }
            None => Err(OidcError::MissingKid { keys: self.keys.len() }),
        }
    }
}

impl VerifyKey {
    fn from_jwk(value: Value) -> Result<Self, &'static str> {
        let jwk: Jwk = serde_json::from_value(value).map_err(|_| "not a JWK")?;
        if jwk.common.public_key_use.as_ref().is_some_and(|u| *u != PublicKeyUse::Signature) {
            return Err("not a signing key (`use`)");
        }
        if jwk.common.key_operations.as_ref().is_some_and(|ops| !ops.contains(&KeyOperations::Verify)) {
            return Err("not a verification key (`key_ops`)");
        }
        let of_type: &[Algorithm] = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => &RSA_ALGORITHMS,
            AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                EllipticCurve::P256 => &[Algorithm::ES256],
                EllipticCurve::P384 => &[Algorithm::ES384],
                _ => return Err("unsupported EC curve"),
            },
            AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
                EllipticCurve::Ed25519 => &[Algorithm::EdDSA],
                _ => return Err("unsupported OKP curve"),
            },
            AlgorithmParameters::OctetKey(_) => return Err("symmetric keys are never accepted"),
            _ => return Err("unsupported key type"),
        };
        let algorithms = match jwk.common.key_algorithm {
            None => of_type.to_vec(),
            Some(named) => match Algorithm::try_from(named) {
                Ok(alg) if of_type.contains(&alg) => vec![alg],
                _ => return Err("its `alg` is not an allowed algorithm of its key type"),
            },
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| "unusable key material")?;
        Ok(Self { kid: jwk.common.key_id, algorithms, key })
    }
}

/// Where the JWKS is read from.
enum JwksSource {
    File(PathBuf),
    Url { url: reqwest::Url, client: reqwest::Client },
}

impl fmt::Display for JwksSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Url { url, .. } => write!(f, "{url}"),
        }
    }
}

impl JwksSource {
    fn from_setting(setting: &str) -> Result<Self, OidcError> {
        let lower = setting.get(..8).unwrap_or(setting).to_ascii_lowercase();
        if !lower.starts_with("http://") && !lower.starts_with("https://") {
            return Ok(Self::File(PathBuf::from(setting)));
        }
        let url = reqwest::Url::parse(setting).map_err(|e| OidcError::Jwks(format!("not a valid URL: {e}")))?;
        let client = reqwest::Client::builder()
            .timeout(JWKS_FETCH_TIMEOUT)
            .connect_timeout(JWKS_FETCH_TIMEOUT)
            .build()
            .map_err(|e| OidcError::Jwks(format!("cannot create an HTTP client: {}", error_chain(&e))))?;
        Ok(Self::Url { url, client })
    }

    async fn load(&self, runtime: &Handle) -> Result<KeySet, String> {
        let bytes = match self {
            Self::File(path) => {
                let path = path.clone();
                runtime.spawn_blocking(move || read_file(&path)).await.map_err(|e| format!("reading failed: {e}"))??
            }
            Self::Url { url, client } => fetch(client, url).await?,
        };
        KeySet::parse(&bytes).map_err(|e| format!("{self}: {e}"))
    }
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(MAX_JWKS_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() > MAX_JWKS_BYTES {
        return Err(format!("{} is larger than {MAX_JWKS_BYTES} bytes", path.display()));
    }
    Ok(bytes)
}

async fn fetch(client: &reqwest::Client, url: &reqwest::Url) -> Result<Vec<u8>, String> {
    let failed = |e: reqwest::Error| format!("GET {url} failed: {}", error_chain(&e.without_url()));
    let mut response =
        client.get(url.clone()).header(reqwest::header::ACCEPT, "application/json").send().await.map_err(failed)?;
    if !response.status().is_success() {
        return Err(format!("GET {url} answered HTTP {}", response.status()));
    }
    let too_large = || format!("GET {url}: the JWKS is larger than {MAX_JWKS_BYTES} bytes");
    if response.content_length().is_some_and(|len| len > MAX_JWKS_BYTES as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An error and its sources, `: `-separated (reqwest's own text says little).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
    use axum::http::StatusCode;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;

    const ISSUER: &str = "https://idp.example.test/realms/sweep";
    const AUDIENCE: &str = "sweep";

    struct TestKey {
        kid: String,
        alg: Algorithm,
        encoding: EncodingKey,
        jwk: Value,
    }

    impl TestKey {
        fn new(kid: &str, alg: Algorithm, encoding: EncodingKey) -> Self {
            let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
            jwk.common.key_id = Some(kid.to_owned());
            Self { kid: kid.to_owned(), alg, encoding, jwk: serde_json::to_value(&jwk).unwrap() }
        }

        fn rsa(kid: &str) -> Self {
            Self::rsa_with(kid, Algorithm::RS256)
        }

        /// jsonwebtoken signs RSA with a PKCS#1 `RSAPrivateKey`; aws-lc-rs writes PKCS#8, whose
        /// last element (an OCTET STRING) is exactly that.
        fn rsa_with(kid: &str, alg: Algorithm) -> Self {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
            let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
            let (_, info, _) = der(pkcs8.as_ref());
            let (_, _version, rest) = der(info);
            let (_, _algorithm, rest) = der(rest);
            let (tag, pkcs1, _) = der(rest);
            assert_eq!(tag, 0x04);
            Self::new(kid, alg, EncodingKey::from_rsa_der(pkcs1))
        }

        fn ec(kid: &str) -> Self {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
            Self::new(kid, Algorithm::ES256, EncodingKey::from_ec_der(pkcs8.as_ref()))
        }

        fn ed(kid: &str) -> Self {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new()).unwrap();
            Self::new(kid, Algorithm::EdDSA, EncodingKey::from_ed_der(pkcs8.as_ref()))
        }

        fn sign(&self, claims: &Value) -> String {
            self.sign_as(Some(&self.kid), self.alg, claims)
        }

        fn sign_as(&self, kid: Option<&str>, alg: Algorithm, claims: &Value) -> String {
            let mut header = Header::new(alg);
            header.kid = kid.map(str::to_owned);
            jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
        }
    }

    /// One DER TLV: tag, contents, the bytes after it.
    fn der(bytes: &[u8]) -> (u8, &[u8], &[u8]) {
        let (len, header) = match bytes[1] {
            short @ 0..0x80 => (usize::from(short), 2),
            long => {
                let n = usize::from(long & 0x7f);
                (bytes[2..2 + n].iter().fold(0, |acc, b| acc << 8 | usize::from(*b)), 2 + n)
            }
        };
        (bytes[0], &bytes[header..header + len], &bytes[header + len..])
    }

    fn jwks(keys: &[&TestKey]) -> Value {
        json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn claims() -> Value {
        json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "alice",
            "groups": ["camunda-admin", "accounting"],
            "iat": now(),
            "exp": now() + 600,
        })
    }

    fn with(mut claims: Value, key: &str, value: Value) -> Value {
        claims[key] = value;
        claims
    }

    fn without(mut claims: Value, key: &str) -> Value {
        claims.as_object_mut().unwrap().remove(key);
        claims
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A JWKS file that is deleted when the test ends.
    struct JwksFile(PathBuf);

    impl JwksFile {
        fn new(jwks: &Value) -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let name = format!("sweep-oidc-{}-{}.json", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
            let file = Self(std::env::temp_dir().join(name));
            file.write(jwks);
            file
        }

        fn write(&self, jwks: &Value) {
            std::fs::write(&self.0, serde_json::to_vec(jwks).unwrap()).unwrap();
        }

        fn path(&self) -> String {
            self.0.to_str().unwrap().to_owned()
        }
    }

    impl Drop for JwksFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn settings(jwks: &str) -> OidcSettings {
        OidcSettings {
            jwks: jwks.to_owned(),
            issuer: ISSUER.to_owned(),
            audience: AUDIENCE.to_owned(),
            user_claim: "sub".to_owned(),
            groups_claim: "groups".to_owned(),
            jwks_refresh: Duration::from_secs(300),
        }
    }

    async fn verifier_for(keys: &[&TestKey]) -> (OidcVerifier, JwksFile) {
        let file = JwksFile::new(&jwks(keys));
        (OidcVerifier::new(&settings(&file.path())).await.unwrap(), file)
    }

    /// A JWKS endpoint on 127.0.0.1 whose answer the test changes, counting requests.
    struct JwksServer {
        url: String,
        answer: Arc<Mutex<(StatusCode, String)>>,
        hits: Arc<AtomicUsize>,
    }

    impl JwksServer {
        async fn start(jwks: &Value) -> Self {
            let answer = Arc::new(Mutex::new((StatusCode::OK, jwks.to_string())));
            let hits = Arc::new(AtomicUsize::new(0));
            let (a, h) = (answer.clone(), hits.clone());
            let app = axum::Router::new().route(
                "/jwks",
                axum::routing::get(move || async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = a.lock().unwrap().clone();
                    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body)
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/jwks", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            Self { url, answer, hits }
        }

        fn set(&self, status: StatusCode, body: String) {
            *self.answer.lock().unwrap() = (status, body);
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    #[track_caller]
    fn assert_err(result: Result<OidcIdentity, OidcError>, expected: impl Fn(&OidcError) -> bool, token: &str) {
        match result {
            Err(e) => {
                assert!(expected(&e), "unexpected error: {e:?}");
                let text = e.to_string();
                assert!(token.len() < 8 || !text.contains(token), "error text contains the token: {text}");
            }
            Ok(identity) => panic!("accepted: {identity:?}"),
        }
    }

    #[test]
    fn verifier_is_cheap_to_share() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<OidcVerifier>();
    }

    #[tokio::test]
    async fn a_valid_token_yields_user_and_groups() {
        let key = TestKey::rsa("k1");
        let (verifier, _file) = verifier_for(&[&key]).await;
        let identity = verifier.verify(&key.sign(&claims())).await.unwrap();
        assert_eq!(
            identity,
            OidcIdentity { user_id: "alice".into(), groups: vec!["camunda-admin".into(), "accounting".into()] }
        );
        // aud as an array containing ours, a missing groups claim, and a clone sharing the keys.
        let token = key.sign(&without(with(claims(), "aud", json!(["other", AUDIENCE])), "groups"));
        let identity = verifier.clone().verify(&token).await.unwrap();
        assert_eq!(identity, OidcIdentity { user_id: "alice".into(), groups: vec![] });
    }

    #[tokio::test]
    async fn every_asymmetric_key_type_verifies() {
        let (rsa, ps, ec, ed) =
            (TestKey::rsa("rsa"), TestKey::rsa_with("ps", Algorithm::PS256), TestKey::ec("ec"), TestKey::ed("ed"));
        let (verifier, _file) = verifier_for(&[&rsa, &ps, &ec, &ed]).await;
        for key in [&rsa, &ps, &ec, &ed] {
            let identity = verifier.verify(&key.sign(&claims())).await;
            assert_eq!(identity.unwrap().user_id, "alice", "{}", key.kid);
        }
        // A JWK without `alg` serves every RSA algorithm.
        let mut bare = TestKey::rsa("bare");
        bare.jwk.as_object_mut().unwrap().remove("alg");
        let (verifier, _file) = verifier_for(&[&bare]).await;
        for alg in RSA_ALGORITHMS {
            assert!(verifier.verify(&bare.sign_as(Some("bare"), alg, &claims())).await.is_ok(), "{alg:?}");
        }
    }

    #[tokio::test]
    async fn custom_user_and_groups_claims() {
        let key = TestKey::ec("k1");
        let file = JwksFile::new(&jwks(&[&key]));
        let mut s = settings(&file.path());
        s.user_claim = "preferred_username".into();
        s.groups_claim = "https://sweep.example/groups".into();
        let verifier = OidcVerifier::new(&s).await.unwrap();
        let c = with(claims(), "preferred_username", json!("bob"));
        let c = with(c, "https://sweep.example/groups", json!(["ops"]));
        let identity = verifier.verify(&key.sign(&c)).await.unwrap();
        assert_eq!(identity, OidcIdentity { user_id: "bob".into(), groups: vec!["ops".into()] });

        // The default claims are no longer read.
        let token = key.sign(&claims());
        assert_err(
            verifier.verify(&token).await,
            |e| matches!(e, OidcError::MissingClaim(c) if c == "preferred_username"),
            &token,
        );
    }

    #[tokio::test]
    async fn user_and_groups_claims_must_have_the_right_types() {
        let key = TestKey::rsa("k1");
        let (verifier, _file) = verifier_for(&[&key]).await;
        let invalid = |claim: &'static str| move |e: &OidcError| matches!(e, OidcError::InvalidClaim { claim: c, .. } if c == claim);
        for (c, sub_ok) in [
            (without(claims(), "sub"), false),
            (with(claims(), "sub", json!("")), false),
            (with(claims(), "sub", json!(42)), false),
            (with(claims(), "groups", json!("camunda-admin")), true),
            (with(claims(), "groups", json!(["a", 1])), true),
            (with(claims(), "groups", json!({"a": "b"})), true),
        ] {
            let token = key.sign(&c);
            let result = verifier.verify(&token).await;
            if sub_ok {
                assert_err(result, invalid("groups"), &token);
            } else {
                assert_err(
                    result,
                    |e| matches!(e, OidcError::MissingClaim(_) | OidcError::InvalidClaim { .. }),
                    &token,
                );
            }
        }
        let token = key.sign(&with(claims(), "groups", Value::Null));
        assert_eq!(verifier.verify(&token).await.unwrap().groups, Vec::<String>::new());
    }

    #[tokio::test]
    async fn time_claims_are_checked_with_leeway() {
        let key = TestKey::rsa("k1");
        let (verifier, _file) = verifier_for(&[&key]).await;
        let token = key.sign(&with(claims(), "exp", json!(now() - 3600)));
        assert_err(verifier.verify(&token).await, |e| matches!(e, OidcError::Expired), &token);
        let token = key.sign(&without(claims(), "exp"));
        assert_err(verifier.verify(&token).await, |e| matches!(e, OidcError::MissingClaim(c) if c == "exp"), &token);
        // jsonwebtoken reports an `exp` of the wrong type as missing.
        let token = key.sign(&with(claims(), "exp", json!("tomorrow")));
        assert_err(verifier.verify(&token).await, |e| matches!(e, OidcError::MissingClaim(c) if c == "exp"), &token);
        let token = key.sign(&with(claims(), "nbf", json!(now() + 3600)));
        assert_err(verifier.verify(&token).await, |e| matches!(e, OidcError::NotYetValid), &token);
        // Within the leeway both ways.
        let token = key.sign(&with(with(claims(), "exp", json!(now() - 5)), "nbf", json!(now() + 5)));
        assert!(verifier.verify(&token).await.is_ok());
    }

    #[tokio::test]
    async fn issuer_must_match() {
        let key = TestKey::rsa("k1");
        let (verifier, _file) = verifier_for(&[&key]).await;
        for c in [
            with(claims(), "iss", json!("https://evil.example.test")),
            with(claims(), "iss", json!(format!("{ISSUER}/"))),
            with(claims(), "iss", json!([ISSUER])),
            without(claims(), "iss"),
        ] {
            let token = key.sign(&c);
            assert_err(
                verifier.verify(&token).await,
                |e| matches!(e, OidcError::WrongIssuer | OidcError::MissingClaim(_) | OidcError::InvalidClaim { .. }),
                &token,
            );
        }
    }

    #[tokio::test]
    async fn audience_must_contain_ours() {
        let key = TestKey::rsa("k1");
        let (verifier, _file) = verifier_for(&[&key]).await;
        for c in [
            with(claims(), "aud", json!("other")),
            with(claims(), "aud", json!(["other", "another"])),
            with(claims(), "aud", json!([])),
            without(claims(), "aud"),
        ] {
            let token = key.sign(&c);
            assert_err(
                verifier.verify(&token).await,
                |e| matches!(e, OidcError::WrongAudience | OidcError::MissingClaim(_)),
                &token,
            );
        }
    }

    #[tokio::test]
    async fn a_token_signed_by_another_key_is_refused() {
        let (key, impostor) = (TestKey::rsa("k1"), TestKey::rsa("k1"));
        let (verifier, _file) = verifier_for(&[&key]).await;
        let token = impostor.sign(&claims());
        assert_err(verifier.verify(&token).await, |e| matches!(e, OidcError::BadSignature), &token);
        // A valid token with its claims swapped for others.
        let good = key.sign(&claims());
        let parts: Vec<&str> = good.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(&serde_json::to_vec(&with(claims(), "sub", json!("mallory"))).unwrap()),
            parts[2]
        );
        assert_err(verifier.verify(&forged).await, |e| matches!(e, OidcError::BadSignature), &forged);
    }

    #[tokio::test]
    async fn alg_none_is_refused() {
        let key = TestKey::rsa("k1");
        let (verifier, _file) = verifier_for(&[&key]).await;
        let payload = b64(&serde_json::to_vec(&claims()).unwrap());
        for header in
            [json!({"alg": "none", "kid": "k1"}), json!({"alg": "none"}), json!({"alg": "None", "typ": "JWT"})]
        {
            let token = format!("{}.{payload}.", b64(header.to_string().as_bytes()));
            assert_err(verifier.verify(&token).await, |e| matches!(e, OidcError::AlgorithmNotAllowed(_)), &token);
        }
    }

    #[tokio::test]
    async fn hmac_is_refused_even_with_an_oct_key_in_the_jwks() {
        let key = TestKey::rsa("k1");
        let secret = b"a shared secret that the JWKS publishes";
        let mut document = jwks(&[&key]);
        document["keys"]
            .as_array_mut()
            .unwrap()
            .push(json!({"kty": "oct", "kid": "hmac", "alg": "HS256", "k": b64(secret)}));
        let file = JwksFile::new(&document);
        let verifier = OidcVerifier::new(&settings(&file.path())).await.unwrap();
        for (kid, secret) in [("hmac", &secret[..]), ("k1", key.jwk["n"].as_str().unwrap().as_bytes())] {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(kid.into());
            let token = jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(secret).unwrap()).unwrap();
            assert_err(
                verifier.verify(&token).await,
                |e| matches!(e, OidcError::AlgorithmNotAllowed(a) if a == "HS256"),
                &token,
            );
        }
        // A JWKS of symmetric keys only is refused at start.
        let file = JwksFile::new(&json!({"keys": [{"kty": "oct", "kid": "hmac", "k": b64(secret)}]}));
        let error = OidcVerifier::new(&settings(&file.path())).await.unwrap_err();
        assert!(error.to_string().contains("auth.oidc.jwks"), "{error}");
    }

    #[tokio::test]
    async fn the_algorithm_must_fit_the_key() {
        let (rsa, ec) = (TestKey::rsa("rsa"), TestKey::ec("ec"));
        let (verifier, _file) = verifier_for(&[&rsa, &ec]).await;
        let mismatch = |e: &OidcError| matches!(e, OidcError::KeyMismatch { .. });
        // The RSA JWK says RS256: PS256 with the same key is refused, as are EC algorithms.
        let token = rsa.sign_as(Some("rsa"), Algorithm::PS256, &claims());
        assert_err(verifier.verify(&token).await, mismatch, &token);
        let token = ec.sign_as(Some("rsa"), Algorithm::ES256, &claims());
        assert_err(verifier.verify(&token).await, mismatch, &token);
        // A P-256 key verifies ES256 only.
        let header = b64(json!({"alg": "ES384", "kid": "ec"}).to_string().as_bytes());
        let token = format!("{header}.{}.AAAA", b64(claims().to_string().as_bytes()));
        assert_err(verifier.verify(&token).await, mismatch, &token);
        let token = rsa.sign_as(Some("ec"), Algorithm::RS256, &claims());
        assert_err(verifier.verify(&token).await, mismatch, &token);
    }

    #[tokio::test]
    async fn a_token_without_kid_needs_a_single_key() {
        let (k1, k2) = (TestKey::rsa("k1"), TestKey::ed("k2"));
        let (verifier, _file) = verifier_for(&[&k1]).await;
        assert!(verifier.verify(&k1.sign_as(None, Algorithm::RS256, &claims())).await.is_ok());
        let (verifier, _file) = verifier_for(&[&k1, &k2]).await;
        let token = k1.sign_as(None, Algorithm::RS256, &claims());
        assert_err(verifier.verify(&token).await, |e| matches!(e, OidcError::MissingKid { keys: 2 }), &token);
    }

    #[tokio::test]
    async fn an_unknown_kid_rereads_the_file() {
        let (k1, k2) = (TestKey::rsa("k1"), TestKey::ec("k2"));
        let file = JwksFile::new(&jwks(&[&k1]));
        let verifier = OidcVerifier::build(&settings(&file.path()), Duration::ZERO).await.unwrap();
        let token = k2.sign(&claims());
        assert_err(verifier.verify(&token).await, |e| matches!(e, OidcError::UnknownKid(k) if k == "k2"), &token);
        file.write(&jwks(&[&k1, &k2]));
        assert!(verifier.verify(&token).await.is_ok());
    }

    #[tokio::test]
    async fn jwks_over_http_picks_up_a_new_key_through_the_unknown_kid_refresh() {
        let (k1, k2) = (TestKey::rsa("k1"), TestKey::ed("k2"));
        let server = JwksServer::start(&jwks(&[&k1])).await;
        let verifier = OidcVerifier::build(&settings(&server.url), Duration::ZERO).await.unwrap();
        assert_eq!(server.hits(), 1);
        assert!(verifier.verify(&k1.sign(&claims())).await.is_ok());
        assert_eq!(server.hits(), 1, "a known kid is served from memory");

        let token = k2.sign(&claims());
        assert_err(verifier.verify(&token).await, |e| matches!(e, OidcError::UnknownKid(_)), &token);
        assert_eq!(server.hits(), 2, "the unknown kid made the verifier read the JWKS again");

        server.set(StatusCode::OK, jwks(&[&k1, &k2]).to_string());
        assert_eq!(verifier.verify(&token).await.unwrap().user_id, "alice");
        assert_eq!(server.hits(), 3);
        assert!(verifier.verify(&k1.sign(&claims())).await.is_ok());
        assert_eq!(server.hits(), 3);
    }

    #[tokio::test]
    async fn unknown_kids_reread_the_jwks_at_most_every_ten_seconds() {
        let (k1, k2) = (TestKey::rsa("k1"), TestKey::rsa("k2"));
        let server = JwksServer::start(&jwks(&[&k1])).await;
        let verifier = OidcVerifier::new(&settings(&server.url)).await.unwrap();
        server.set(StatusCode::OK, jwks(&[&k1, &k2]).to_string());
        let results = concurrently((0..50).map(|i| {
            let verifier = verifier.clone();
            let token = k1.sign_as(Some(&format!("bogus-{i}")), Algorithm::RS256, &claims());
            async move { verifier.verify(&token).await }
        }))
        .await;
        assert!(results.iter().all(|r| matches!(r, Err(OidcError::UnknownKid(_)))));
        let token = k2.sign(&claims());
        assert_err(verifier.verify(&token).await, |e| matches!(e, OidcError::UnknownKid(_)), &token);
        assert_eq!(server.hits(), 1, "the load at start was too recent to read again");
    }

    /// Runs the futures concurrently on the test's runtime.
    async fn concurrently<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let tasks: Vec<_> = futures.map(tokio::spawn).collect();
        let mut out = Vec::with_capacity(tasks.len());
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_the_previous_keys() {
        let key = TestKey::rsa("k1");
        let server = JwksServer::start(&jwks(&[&key])).await;
        let verifier = OidcVerifier::build(&settings(&server.url), Duration::ZERO).await.unwrap();
        let bogus = key.sign_as(Some("bogus"), Algorithm::RS256, &claims());
        for (status, body) in [
            (StatusCode::INTERNAL_SERVER_ERROR, String::new()),
            (StatusCode::OK, "<html>".to_owned()),
            (StatusCode::OK, r#"{"keys": []}"#.to_owned()),
            (StatusCode::OK, r#"{"keys": [{"kty": "RSA", "kid": "k1", "n": 5}]}"#.to_owned()),
        ] {
            server.set(status, body);
            let hits = server.hits();
            assert!(verifier.verify(&bogus).await.is_err());
            assert_eq!(server.hits(), hits + 1);
            assert!(verifier.verify(&key.sign(&claims())).await.is_ok());
        }
    }

    #[tokio::test]
    async fn the_jwks_is_reread_every_jwks_refresh() {
        let (k1, k2) = (TestKey::rsa("k1"), TestKey::ec("k2"));
        let file = JwksFile::new(&jwks(&[&k1]));
        let mut s = settings(&file.path());
        s.jwks_refresh = Duration::from_millis(100);
        let verifier = OidcVerifier::build(&s, Duration::from_secs(3600)).await.unwrap();
        file.write(&jwks(&[&k2]));
        let token = k2.sign(&claims());
        let deadline = Instant::now() + Duration::from_secs(10);
        while verifier.verify(&token).await.is_err() {
            assert!(Instant::now() < deadline, "the new key was never picked up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The rotated-out key is gone.
        let token = k1.sign(&claims());
        assert_err(verifier.verify(&token).await, |e| matches!(e, OidcError::UnknownKid(_)), &token);
    }

    #[tokio::test]
    async fn a_bad_jwks_setting_is_an_error_naming_it() {
        let server = JwksServer::start(&json!({})).await;
        server.set(StatusCode::NOT_FOUND, String::new());
        let files = [
            JwksFile::new(&json!({"keys": []})),
            JwksFile::new(&json!({"keys": [{"kty": "RSA", "kid": "k1", "use": "enc", "n": "AQAB", "e": "AQAB"}]})),
            JwksFile::new(&json!([1, 2, 3])),
        ];
        std::fs::write(&files[2].0, b"{ not json").unwrap();
        let missing = std::env::temp_dir().join("sweep-oidc-does-not-exist.json");
        let mut sources = vec![
            missing.to_str().unwrap().to_owned(),
            "http://127.0.0.1:1/jwks".to_owned(),
            "http://".to_owned(),
            server.url.clone(),
        ];
        sources.extend(files.iter().map(JwksFile::path));
        for source in sources {
            let error = OidcVerifier::new(&settings(&source)).await.unwrap_err();
            assert!(matches!(error, OidcError::Jwks(_)), "{source}: {error:?}");
            assert!(error.to_string().starts_with("auth.oidc.jwks: "), "{source}: {error}");
        }
        let key = TestKey::rsa("k1");
        let file = JwksFile::new(&jwks(&[&key]));
        for (setting, change) in [
            ("auth.oidc.issuer", (|s: &mut OidcSettings| s.issuer.clear()) as fn(&mut OidcSettings)),
            ("auth.oidc.audience", |s| s.audience.clear()),
            ("auth.oidc.user_claim", |s| s.user_claim.clear()),
            ("auth.oidc.jwks_refresh", |s| s.jwks_refresh = Duration::ZERO),
        ] {
            let mut s = settings(&file.path());
            change(&mut s);
            let error = OidcVerifier::new(&s).await.unwrap_err();
            assert!(error.to_string().contains(setting), "{error}");
        }
    }

    #[tokio::test]
    async fn garbage_is_refused_without_panicking() {
        let key = TestKey::rsa("k1");
        let (verifier, _file) = verifier_for(&[&key]).await;
        let valid = key.sign(&claims());
        let (header, payload) =
            valid.split_once('.').map(|(h, rest)| (h.to_owned(), rest.split('.').next().unwrap().to_owned())).unwrap();
        // Signed properly, but with claims that are not a JSON object.
        let signed = |payload: &[u8]| {
            let message = format!("{header}.{}", b64(payload));
            let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key.encoding, Algorithm::RS256).unwrap();
            format!("{message}.{signature}")
        };
        let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
        let weird_kid = format!(
            "{}.{payload}.AAAA",
            b64(json!({"alg": "RS256", "kid": "\u{1b}[31m\n".repeat(500)}).to_string().as_bytes())
        );
        let mut tokens = vec![
            String::new(),
            ".".into(),
            "..".into(),
            "...".into(),
            "garbage".into(),
            "Bearer x.y.z".into(),
            "a.b.c".into(),
            "a.b.c.d.e".into(),
            "ключ.ключ.ключ".into(),
            "\0.\0.\0".into(),
            format!("{valid}."),
            format!("{valid}x"),
            format!("{header}={payload}"),
            format!("{header}.{payload}.!!!"),
            format!("{header}..{}", valid.rsplit('.').next().unwrap()),
            format!("{}.{payload}.AAAA", b64(b"[]")),
            format!("{}.{payload}.AAAA", b64(b"{}")),
            format!("{}.{payload}.AAAA", b64(br#"{"alg": 5}"#)),
            format!("{}.{payload}.AAAA", b64(br#"{"alg": "RS256", "kid": 7}"#)),
            format!("{}.{payload}.AAAA", b64(br#"{"alg": "RS256", "alg": "none", "kid": "k1"}"#)),
            format!("{}.{payload}.AAAA", b64(br#"{"alg": "RS256", "kid": "k1", "crit": ["exp"]}"#)),
            format!("{}.{payload}.AAAA", b64(br#"{"alg": "RS256", "kid": "k1", "typ": 1}"#)),
            format!("{}.{payload}.AAAA", b64("{\"alg\": \"RS256\u{0}\"}".as_bytes())),
            weird_kid.clone(),
            signed(b"not json"),
            signed(b"[1, 2]"),
            signed(b"\"a string\""),
            signed(b"null"),
            signed(&[0xff, 0xfe]),
            signed(deep.as_bytes()),
            signed(br#"{"exp": 1e400, "iss": 1, "aud": {}}"#),
            signed(br#"{"exp": -1}"#),
            "a".repeat(10 * 1024 * 1024),
            format!("{header}.{}.AAAA", "A".repeat(MAX_TOKEN_BYTES)),
        ];
        tokens.push(tokens.iter().take(10).cloned().collect::<Vec<_>>().join("."));
        for token in &tokens {
            let result = verifier.verify(token).await;
            let shown = token.chars().take(80).collect::<String>();
            match result {
                Ok(identity) => panic!("accepted {shown:?}: {identity:?}"),
                Err(e) => {
                    let text = e.to_string();
                    assert!(text.len() < 200, "{shown:?}: {text}");
                    assert!(!text.chars().any(|c| c.is_control()), "{shown:?}: {text:?}");
                    assert!(!text.contains(&payload), "{shown:?}: {text}");
                }
            }
        }
        assert!(matches!(verifier.verify(&weird_kid).await, Err(OidcError::UnknownKid(k)) if k.len() <= 67));
        // The verifier still works afterwards.
        assert!(verifier.verify(&valid).await.is_ok());
    }
}

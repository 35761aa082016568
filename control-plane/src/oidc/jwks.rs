//! OIDC token verification: discovery (`{issuer}/.well-known/openid-configuration` →
//! `jwks_uri`), a cache of the issuer's signing keys, and signature / `iss` / `aud` / `exp` /
//! `nbf` checks. Only RS256 and ES256 are accepted.
//!
//! Keys are fetched when a token names a key the cache does not hold (a rotation) or when the
//! cache is older than [`MAX_KEY_AGE`], but at most once per `min_refetch` (30 s by default),
//! so tokens with made-up `kid`s cannot make the server hammer the issuer.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use promptgate::upstream::client::{ClientFactory, ClientKey, HttpClient};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

/// Least time between two fetches of the issuer's keys.
pub const DEFAULT_MIN_REFETCH: Duration = Duration::from_secs(30);
/// Cached keys older than this are refreshed before use (still rate-limited).
pub const MAX_KEY_AGE: Duration = Duration::from_secs(3600);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

/// `--oidc-issuer` and `--oidc-audience`.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: String,
    pub audience: String,
}

/// What a verified token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    pub email: String,
}

#[derive(Clone)]
struct SigningKey {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

#[derive(Default)]
struct KeyCache {
    keys: Vec<SigningKey>,
    fetched_at: Option<Instant>,
}

#[derive(Default)]
struct FetchState {
    last_attempt: Option<Instant>,
    jwks_uri: Option<String>,
}

pub struct OidcVerifier {
    config: OidcConfig,
    http: HttpClient,
    min_refetch: Duration,
    cache: RwLock<KeyCache>,
    fetch: Mutex<FetchState>,
}

#[derive(Deserialize)]
struct Claims {
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<Value>,
}

impl OidcVerifier {
    pub fn new(config: OidcConfig) -> Result<OidcVerifier, String> {
        let http = ClientFactory::new().client(ClientKey {
            connect_timeout_ms: 5_000,
            http2_prior_knowledge: false,
        })?;
        Ok(OidcVerifier {
            config,
            http,
            min_refetch: DEFAULT_MIN_REFETCH,
            cache: RwLock::new(KeyCache::default()),
            fetch: Mutex::new(FetchState::default()),
        })
    }

    /// Changes the least time between key fetches (tests use a short one).
    pub fn with_min_refetch(mut self, min_refetch: Duration) -> OidcVerifier {
        self.min_refetch = min_refetch;
        self
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Checks `token` and returns its holder's email; the error says why, without the token.
    pub async fn verify(&self, token: &str) -> Result<OidcIdentity, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| "malformed token")?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err("only RS256 and ES256 tokens are accepted".into());
        }
        if self.keys_stale() {
            self.refresh().await;
        }
        let key = match self.find_key(&header) {
            Some(key) => key,
            None => {
                self.refresh().await;
                self.find_key(&header)
                    .ok_or("the token's signing key is not in the issuer's JWKS")?
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|e| describe(&e))?;
        let unverified = matches!(data.claims.email_verified, Some(Value::Bool(false)))
            || matches!(&data.claims.email_verified, Some(Value::String(s)) if s == "false");
        if unverified {
            return Err("the token's email is not verified".into());
        }
        let email = data
            .claims
            .email
            .filter(|e| !e.is_empty())
            .ok_or("the token has no email claim")?;
        Ok(OidcIdentity { email })
    }

    fn keys_stale(&self) -> bool {
        self.cache
            .read()
            .map(|c| c.fetched_at.is_none_or(|t| t.elapsed() > MAX_KEY_AGE))
            .unwrap_or(true)
    }

    /// The cached key for the token: by `kid`, or the only key of its algorithm when the
    /// token names none.
    fn find_key(&self, header: &Header) -> Option<SigningKey> {
        let cache = self.cache.read().ok()?;
        let mut candidates = cache.keys.iter().filter(|k| k.alg == header.alg);
        match &header.kid {
            Some(kid) => candidates.find(|k| k.kid.as_deref() == Some(kid)).cloned(),
            None => {
                let first = candidates.next()?;
                candidates.next().is_none().then(|| first.clone())
            }
        }
    }

    /// Fetches the issuer's keys unless that happened less than `min_refetch` ago. Failures
    /// keep the old keys and are logged.
    async fn refresh(&self) {
        let mut state = self.fetch.lock().await;
        if state
            .last_attempt
            .is_some_and(|t| t.elapsed() < self.min_refetch)
        {
            return;
        }
        state.last_attempt = Some(Instant::now());
        match self.fetch_keys(&mut state).await {
            Ok(keys) => {
                if let Ok(mut cache) = self.cache.write() {
                    *cache = KeyCache {
                        keys,
                        fetched_at: Some(Instant::now()),
                    };
                }
            }
            Err(error) => {
                tracing::warn!(issuer = %self.config.issuer, %error, "fetching the OIDC issuer's keys failed");
            }
        }
    }

    async fn fetch_keys(&self, state: &mut FetchState) -> Result<Vec<SigningKey>, String> {
        let jwks_uri = match &state.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let uri = self.discover().await?;
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let jwks = fetch_json(&self.http, &jwks_uri).await?;
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the JWKS has no keys array")?;
        Ok(keys.iter().filter_map(signing_key).collect())
    }

    async fn discover(&self) -> Result<String, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let doc = fetch_json(&self.http, &url).await?;
        let issuer = doc.get("issuer").and_then(Value::as_str);
        if issuer != Some(self.config.issuer.as_str()) {
            return Err(format!(
                "the discovery document's issuer {issuer:?} is not the configured issuer"
            ));
        }
        doc.get("jwks_uri")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| "the discovery document has no jwks_uri".into())
    }
}

/// A JWK usable for signatures: RSA (RS256) or EC P-256 (ES256); others are skipped.
fn signing_key(jwk: &Value) -> Option<SigningKey> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    if field("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let (alg, key) = match field("kty")? {
        "RSA" => (
            Algorithm::RS256,
            DecodingKey::from_rsa_components(field("n")?, field("e")?).ok()?,
        ),
        "EC" if field("crv") == Some("P-256") => (
            Algorithm::ES256,
            DecodingKey::from_ec_components(field("x")?, field("y")?).ok()?,
        ),
        _ => return None,
    };
    let declared = field("alg");
    if declared.is_some_and(|a| Some(a) != alg_name(alg)) {
        return None;
    }
    Some(SigningKey {
        kid: field("kid").map(str::to_owned),
        alg,
        key,
    })
}

fn alg_name(alg: Algorithm) -> Option<&'static str> {
    match alg {
        Algorithm::RS256 => Some("RS256"),
        Algorithm::ES256 => Some("ES256"),
        _ => None,
    }
}

fn describe(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        ErrorKind::InvalidAudience => "the token is for another audience".into(),
        ErrorKind::InvalidIssuer => "the token is from another issuer".into(),
        ErrorKind::InvalidSignature => "bad signature".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no {claim} claim"),
        _ => "the token could not be verified".into(),
    }
}

async fn fetch_json(http: &HttpClient, url: &str) -> Result<Value, String> {
    let request = axum::http::Request::get(url)
        .header("accept", "application/json")
        .body(Full::new(Bytes::new()))
        .map_err(|e| format!("bad URL {url}: {e}"))?;
    let response = tokio::time::timeout(FETCH_TIMEOUT, http.request(request))
        .await
        .map_err(|_| format!("{url} timed out"))?
        .map_err(|e| format!("{url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES);
    let bytes = tokio::time::timeout(FETCH_TIMEOUT, body.collect())
        .await
        .map_err(|_| format!("{url} timed out"))?
        .map_err(|e| format!("{url}: {e}"))?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| format!("{url} is not JSON: {e}"))
}

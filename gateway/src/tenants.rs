//! Tenants: virtual keys, per-key rate limits and budgets (FR-015, spec 15.3).
//!
//! # Configuration reference
//!
//! ```yaml
//! auth:
//!   required: false          # default false; true refuses every request without a valid key
//! redis_url: redis://127.0.0.1:6379   # optional: share limits across replicas
//! virtual_keys:
//!   - name: team-a           # shown in metrics and errors; never the secret
//!     key_sha256: 9f86d0...  # lowercase or uppercase hex SHA-256 of the key clients send
//!     allowed_models: [gpt-4o-mini]   # optional; empty or absent = every route
//!     rpm: 60                # optional: requests per minute
//!     tpm: 100000            # optional: tokens per minute (prompt + completion, counted
//!                            # from the recorded usage after each request)
//!     budget_usd_per_day: 5.0       # optional: spend per UTC day, from the recorded cost
//!     budget_usd_per_month: 100.0   # optional: spend per UTC calendar month
//! ```
//!
//! Generate a hash with `printf %s "$KEY" | sha256sum`. Keys are only ever stored and
//! compared as hashes (in constant time) and never logged.
//!
//! # Behaviour
//!
//! * With no `virtual_keys` and `auth.required: false` the gateway is open, as before.
//!   Otherwise every LLM, `/api/v1/generate`, `/v1/models` and passthrough request must carry
//!   `Authorization: Bearer <key>` matching one entry, else **401** `invalid_api_key`.
//! * A model outside `allowed_models` gets **403** `permission_error` / `model_not_allowed`.
//!   403 (not 404) was chosen so operators see a permission problem, not a routing one; it
//!   is answered before the route is looked up, so it does not reveal whether a route exists.
//!   `GET /v1/models` lists every route whatever the key.
//! * Over `rpm` or `tpm`: **429** `rate_limit_error` / `rate_limit_exceeded` with
//!   `Retry-After` (seconds until the current minute window ends). Over a budget: **429**
//!   `insufficient_quota` with `Retry-After` until the next UTC day or month.
//! * Windows are fixed: the UTC minute, day and calendar month. `tpm` and budgets are checked
//!   at admission against what earlier requests recorded, so one request may overshoot them.
//!   Rate limits apply to LLM and generate requests only.
//! * With `redis_url`, counters live in Redis (keys `promptgate:<name>:...`, one Lua script
//!   per admission and per record) so replicas share them. Each Redis call is bounded by
//!   50 ms; on any failure the in-process limiter answers instead and Redis is not tried for
//!   1 s. `promptgate_ratelimit_backend{backend}` shows which one answered last and
//!   `promptgate_ratelimit_redis_errors_total` counts failures. Redis never fails a request.
//! * `promptgate_ratelimited_total{key,reason}` counts refusals (`reason` is `rpm`, `tpm`,
//!   `budget_day` or `budget_month`).

pub mod limiter;
pub mod local;
pub mod shared;
pub mod window;

use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::raw::{RawAuth, RawVirtualKey};
use crate::error::GatewayError;

/// One configured virtual key, compiled.
pub struct VirtualKey {
    pub name: String,
    hash: [u8; 32],
    allowed_models: Vec<String>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub budget_usd_per_day: Option<f64>,
    pub budget_usd_per_month: Option<f64>,
}

impl std::fmt::Debug for VirtualKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl VirtualKey {
    /// Whether this key may call `model`.
    pub fn allows(&self, model: &str) -> bool {
        self.allowed_models.is_empty() || self.allowed_models.iter().any(|m| m == model)
    }

    /// Whether any limit needs counting for this key.
    pub fn is_limited(&self) -> bool {
        self.rpm.is_some() || self.is_metered()
    }

    /// Whether requests of this key must record their tokens or cost.
    pub fn is_metered(&self) -> bool {
        self.tpm.is_some()
            || self.budget_usd_per_day.is_some()
            || self.budget_usd_per_month.is_some()
    }
}

/// The compiled `auth` and `virtual_keys` sections.
#[derive(Default)]
pub struct Tenants {
    required: bool,
    keys: Vec<Arc<VirtualKey>>,
}

impl Tenants {
    pub fn compile(auth: &RawAuth, raw: &[RawVirtualKey]) -> Result<Tenants, String> {
        let mut keys: Vec<Arc<VirtualKey>> = Vec::with_capacity(raw.len());
        for (i, k) in raw.iter().enumerate() {
            let at = |e: &str| format!("virtual_keys[{i}] ({}): {e}", k.name);
            if k.name.is_empty() {
                return Err(format!("virtual_keys[{i}].name must not be empty"));
            }
            let hash =
                parse_hash(&k.key_sha256).ok_or_else(|| at("key_sha256 must be 64 hex digits"))?;
            if keys.iter().any(|o| o.name == k.name) {
                return Err(at("duplicate name"));
            }
            if keys.iter().any(|o| o.hash == hash) {
                return Err(at("duplicate key_sha256"));
            }
            for (field, v) in [
                ("budget_usd_per_day", k.budget_usd_per_day),
                ("budget_usd_per_month", k.budget_usd_per_month),
            ] {
                if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
                    return Err(at(&format!("{field} must be a non-negative number")));
                }
            }
            keys.push(Arc::new(VirtualKey {
                name: k.name.clone(),
                hash,
                allowed_models: k.allowed_models.clone(),
                rpm: k.rpm,
                tpm: k.tpm,
                budget_usd_per_day: k.budget_usd_per_day,
                budget_usd_per_month: k.budget_usd_per_month,
            }));
        }
        Ok(Tenants {
            required: auth.required,
            keys,
        })
    }

    /// Whether requests must authenticate.
    pub fn enabled(&self) -> bool {
        self.required || !self.keys.is_empty()
    }

    /// The key an `Authorization` header value names; `Ok(None)` when auth is off.
    pub fn authenticate(
        &self,
        authorization: Option<&[u8]>,
    ) -> Result<Option<Arc<VirtualKey>>, GatewayError> {
        if !self.enabled() {
            return Ok(None);
        }
        let secret = authorization
            .and_then(bearer_token)
            .ok_or(GatewayError::InvalidApiKey)?;
        let hash: [u8; 32] = Sha256::digest(secret).into();
        // Every entry is compared, in constant time, whatever matches first.
        let mut found: Option<&Arc<VirtualKey>> = None;
        for key in &self.keys {
            if bool::from(key.hash.ct_eq(&hash)) {
                found = Some(key);
            }
        }
        found.cloned().map(Some).ok_or(GatewayError::InvalidApiKey)
    }
}

fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

fn parse_hash(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim().as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi << 4 | lo) as u8;
    }
    Some(out)
}

/// The lowercase hex SHA-256 of a key, as `key_sha256` expects it.
pub fn sha256_hex(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &str, key: &str, models: &[&str]) -> RawVirtualKey {
        RawVirtualKey {
            name: name.into(),
            key_sha256: sha256_hex(key),
            allowed_models: models.iter().map(|m| (*m).to_owned()).collect(),
            rpm: None,
            tpm: None,
            budget_usd_per_day: None,
            budget_usd_per_month: None,
        }
    }

    fn tenants() -> Tenants {
        let keys = [raw("a", "sk-a", &[]), raw("b", "sk-b", &["m1"])];
        Tenants::compile(&RawAuth::default(), &keys).unwrap()
    }

    #[test]
    fn known_hash_of_a_key() {
        assert_eq!(
            sha256_hex("test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        assert!(parse_hash(&sha256_hex("x").to_uppercase()).is_some());
        assert!(parse_hash("abc").is_none());
        assert!(parse_hash(&"zz".repeat(32)).is_none());
    }

    #[test]
    fn bearer_keys_match_their_entry_only() {
        let t = tenants();
        let a = t.authenticate(Some(b"Bearer sk-a")).unwrap().unwrap();
        assert_eq!(a.name, "a");
        let b = t.authenticate(Some(b"bearer  sk-b ")).unwrap().unwrap();
        assert_eq!(b.name, "b");
        for bad in [
            None,
            Some(&b"Bearer sk-c"[..]),
            Some(b"sk-a"),
            Some(b"Basic sk-a"),
            Some(b"Bearer "),
        ] {
            assert!(matches!(
                t.authenticate(bad),
                Err(GatewayError::InvalidApiKey)
            ));
        }
    }

    #[test]
    fn open_unless_keys_or_required() {
        let open = Tenants::default();
        assert!(open.authenticate(None).unwrap().is_none());
        let required = Tenants::compile(&RawAuth { required: true }, &[]).unwrap();
        assert!(required.authenticate(Some(b"Bearer x")).is_err());
    }

    #[test]
    fn allowed_models() {
        let t = tenants();
        let a = t.authenticate(Some(b"Bearer sk-a")).unwrap().unwrap();
        let b = t.authenticate(Some(b"Bearer sk-b")).unwrap().unwrap();
        assert!(a.allows("anything"));
        assert!(b.allows("m1"));
        assert!(!b.allows("m2"));
    }

    #[test]
    fn invalid_entries_are_rejected() {
        let dup = [raw("a", "k", &[]), raw("a", "j", &[])];
        assert!(Tenants::compile(&RawAuth::default(), &dup).is_err());
        let same_key = [raw("a", "k", &[]), raw("b", "k", &[])];
        assert!(Tenants::compile(&RawAuth::default(), &same_key).is_err());
        let mut neg = raw("a", "k", &[]);
        neg.budget_usd_per_day = Some(-1.0);
        assert!(Tenants::compile(&RawAuth::default(), &[neg]).is_err());
    }
}

//! Bring your own key: clients of a route with `byok: true` may send their own provider key.
//!
//! ```yaml
//! routes:
//!   - model: gpt-4o
//!     byok: true                 # default false
//!     targets: [ { provider: openai } ]
//! default_route: { byok: true, targets: [ { provider: openai } ] }
//! ```
//!
//! The provider key of a request on a byok route is, in order of precedence:
//! 1. the header `x-promptgate-provider-key: <key>`;
//! 2. the `Authorization: Bearer <key>` token, only when no tenant auth is configured (no
//!    `virtual_keys`, `auth.required: false`): that is how OpenAI SDK users pass a key; with
//!    tenant auth the bearer token is the virtual key and is never forwarded;
//! 3. the provider's configured key (`api_key_env`), as on any other route;
//! 4. none: the upstream answers 401 as it would without a configured key.
//!
//! The key goes upstream in the provider's own scheme (OpenAI `Authorization: Bearer`,
//! Anthropic `x-api-key`, Gemini `x-goog-api-key`, Azure `api-key`); the mock provider ignores
//! it. Clients never choose the upstream URL. On a route without `byok` the header is refused
//! (400, code `byok_not_allowed`) rather than silently ignored; the bearer token is never
//! forwarded there.
//!
//! A client key belongs to one account at one vendor, so every target of a byok route (and
//! every candidate of its `policy`) must use **one provider**; anything else is rejected when
//! the config loads. This is stricter than "one provider type": two `openai`-type providers
//! may be OpenAI and a third-party compatible server, which must not see each other's keys.
//! A request-chosen policy (body `policy` / `x-promptgate-policy`) on a byok route with a
//! client key only tries that provider's candidates.
//!
//! Other `/v1/*` paths (passthrough) follow the default route's `byok`: the client key
//! replaces the configured one as `Authorization: Bearer` (passthrough only exists for
//! `openai`-type providers).
//!
//! Without tenant auth, any bearer token is taken as a provider key on a byok route: clients
//! that send a placeholder (`api_key="unused"`) must use routes without `byok`.
//!
//! The key is held as a sensitive header value and is never logged, traced, put in metrics
//! labels or error messages; an upstream error body that echoes it is redacted.

use std::fmt;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use crate::config::{Route, Target};
use crate::error::GatewayError;

/// The request header carrying a client's provider key.
pub const PROVIDER_KEY_HEADER: HeaderName = HeaderName::from_static("x-promptgate-provider-key");

/// Longest key accepted (real provider keys are far shorter).
const MAX_KEY_BYTES: usize = 4096;

/// A provider key a client supplied. Never printed: `Debug` shows no part of it.
#[derive(Clone)]
pub struct ClientKey {
    /// The key alone (`x-api-key`, `api-key`, `x-goog-api-key`), marked sensitive.
    plain: HeaderValue,
    /// `Bearer <key>`, marked sensitive.
    bearer: HeaderValue,
}

impl ClientKey {
    /// A key of visible ASCII characters (no spaces), at most 4 KiB; `None` otherwise.
    pub fn new(key: &[u8]) -> Option<ClientKey> {
        if key.is_empty() || key.len() > MAX_KEY_BYTES || !key.iter().all(|b| b.is_ascii_graphic())
        {
            return None;
        }
        let mut plain = HeaderValue::from_bytes(key).ok()?;
        plain.set_sensitive(true);
        let mut with_scheme = Vec::with_capacity(key.len() + 7);
        with_scheme.extend_from_slice(b"Bearer ");
        with_scheme.extend_from_slice(key);
        let mut bearer = HeaderValue::from_bytes(&with_scheme).ok()?;
        bearer.set_sensitive(true);
        Some(ClientKey { plain, bearer })
    }

    /// The key as a header value of its own.
    pub fn plain(&self) -> HeaderValue {
        self.plain.clone()
    }

    /// `Bearer <key>`.
    pub fn bearer(&self) -> HeaderValue {
        self.bearer.clone()
    }

    /// `body` with every occurrence of the key replaced by `[redacted]`.
    pub fn redact(&self, body: Bytes) -> Bytes {
        let key = self.plain.as_bytes();
        if memchr::memmem::find(&body, key).is_none() {
            return body;
        }
        let mut out = Vec::with_capacity(body.len());
        let mut rest: &[u8] = &body;
        while let Some(i) = memchr::memmem::find(rest, key) {
            out.extend_from_slice(&rest[..i]);
            out.extend_from_slice(b"[redacted]");
            rest = &rest[i + key.len()..];
        }
        out.extend_from_slice(rest);
        Bytes::from(out)
    }
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientKey(<redacted>)")
    }
}

/// The provider keys a client offered with a request: the `x-promptgate-provider-key`
/// header and, when no tenant auth is configured, its bearer token.
/// Borrowed from the request: nothing is copied unless a byok route uses the key.
#[derive(Default)]
pub struct OfferedKey<'a> {
    header: Option<&'a HeaderValue>,
    bearer: Option<&'a HeaderValue>,
}

impl<'a> OfferedKey<'a> {
    /// `tenant_auth` says whether virtual keys are configured (then the bearer token is the
    /// virtual key, never a provider key).
    pub fn new(
        header: Option<&'a HeaderValue>,
        authorization: Option<&'a HeaderValue>,
        tenant_auth: bool,
    ) -> OfferedKey<'a> {
        OfferedKey {
            header,
            bearer: if tenant_auth { None } else { authorization },
        }
    }

    pub fn has_header(&self) -> bool {
        self.header.is_some()
    }

    /// The client key to use on `route`: `None` means the provider's configured key. The
    /// header on a route without `byok` is refused, and so is a malformed header value.
    pub fn for_route(&self, route: &Route) -> Result<Option<ClientKey>, GatewayError> {
        if route.byok_provider.is_none() {
            return match self.header {
                Some(_) => Err(not_allowed(&route.name)),
                None => Ok(None),
            };
        }
        if let Some(header) = self.header {
            return ClientKey::new(header.as_bytes()).map(Some).ok_or_else(|| {
                GatewayError::InvalidRequest {
                    message: format!(
                        "The {PROVIDER_KEY_HEADER} header must be a key of visible ASCII characters."
                    ),
                    param: None,
                    code: Some("invalid_provider_key"),
                }
            });
        }
        let token = self.bearer.and_then(|v| {
            let value = v.as_bytes();
            let (scheme, token) = value.split_at(value.len().min(7));
            scheme
                .eq_ignore_ascii_case(b"bearer ")
                .then(|| token.trim_ascii())
        });
        Ok(token.and_then(ClientKey::new))
    }
}

/// With a client key, only the targets on the route's byok provider (a request-chosen
/// policy may name others); without one, all of them.
pub fn restrict<'s>(
    targets: Vec<&'s Target>,
    route: &Route,
    client_key: Option<&ClientKey>,
) -> Result<Vec<&'s Target>, GatewayError> {
    let (Some(_), Some(provider)) = (client_key, route.byok_provider.as_deref()) else {
        return Ok(targets);
    };
    let kept: Vec<&Target> = targets
        .into_iter()
        .filter(|t| t.provider.name() == provider)
        .collect();
    if kept.is_empty() {
        return Err(GatewayError::InvalidRequest {
            message: format!(
                "This policy has no candidate on `{provider}`, the only provider the route `{}` sends client keys to.",
                route.name
            ),
            param: Some("policy".into()),
            code: Some("byok_not_allowed"),
        });
    }
    Ok(kept)
}

/// The 400 for a provider key sent to a route that does not accept one.
pub fn not_allowed(route: &str) -> GatewayError {
    GatewayError::InvalidRequest {
        message: format!(
            "The route `{route}` does not accept client provider keys (no `byok: true`); remove the {PROVIDER_KEY_HEADER} header."
        ),
        param: None,
        code: Some("byok_not_allowed"),
    }
}

/// The one provider a byok route may send client keys to, from the providers its targets and
/// policy candidates use; an error names two different ones.
pub fn single_provider<'a>(mut names: impl Iterator<Item = &'a str>) -> Result<String, String> {
    let first = names
        .next()
        .ok_or_else(|| "byok: the route has no target".to_owned())?;
    match names.find(|name| *name != first) {
        None => Ok(first.to_owned()),
        Some(other) => Err(format!(
            "byok: every target and policy candidate must use one provider (a client key belongs to one vendor account), found `{first}` and `{other}`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_validated_and_never_printed() {
        let key = ClientKey::new(b"sk-client-123").unwrap();
        assert_eq!(key.plain().as_bytes(), b"sk-client-123");
        assert_eq!(key.bearer().as_bytes(), b"Bearer sk-client-123");
        assert!(key.plain().is_sensitive() && key.bearer().is_sensitive());
        assert!(!format!("{key:?}").contains("sk-client"));
        assert!(!format!("{:?}", key.bearer()).contains("sk-client"));
        for bad in [
            &b""[..],
            b"two words",
            b"new\nline",
            &[b'k'; MAX_KEY_BYTES + 1],
        ] {
            assert!(ClientKey::new(bad).is_none());
        }
    }

    #[test]
    fn redacts_echoed_keys() {
        let key = ClientKey::new(b"sk-abc").unwrap();
        let body = Bytes::from_static(b"{\"message\":\"bad key sk-abc, sk-abc!\"}");
        assert_eq!(
            key.redact(body).as_ref(),
            b"{\"message\":\"bad key [redacted], [redacted]!\"}"
        );
        let clean = Bytes::from_static(b"nothing here");
        assert_eq!(key.redact(clean.clone()), clean);
    }

    #[test]
    fn one_provider_per_byok_route() {
        assert_eq!(single_provider(["a", "a"].into_iter()).unwrap(), "a");
        let err = single_provider(["a", "a", "b"].into_iter()).unwrap_err();
        assert!(err.contains("`a` and `b`"), "{err}");
        assert!(single_provider(std::iter::empty()).is_err());
    }
}

//! What every HTTP provider takes from its raw config, resolved once: the expanded base URL,
//! its secret read from the named environment variable, a pooled client and its timeouts.

use std::time::Duration;

use http::header::{HeaderName, HeaderValue};

use super::env::expand;
use super::raw::RawTimeouts;
use crate::providers::Timeouts;
use crate::upstream::client::{ClientFactory, ClientKey, HttpClient};

pub struct HttpProviderSettings {
    pub base_url: String,
    pub client: HttpClient,
    pub timeouts: Timeouts,
}

impl HttpProviderSettings {
    pub fn resolve(
        base_url: &str,
        timeouts: RawTimeouts,
        http2_prior_knowledge: bool,
        clients: &ClientFactory,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let base_url = expand(base_url, env).map_err(|e| format!("base_url: {e}"))?;
        let t = timeouts;
        if t.connect_ms == 0 || t.first_byte_ms == 0 || t.idle_ms == 0 {
            return Err("timeouts must be greater than 0".into());
        }
        let client = clients.client(ClientKey {
            connect_timeout_ms: t.connect_ms,
            http2_prior_knowledge,
        })?;
        Ok(HttpProviderSettings {
            base_url,
            client,
            timeouts: Timeouts {
                first_byte: Duration::from_millis(t.first_byte_ms),
                idle: Duration::from_millis(t.idle_ms),
            },
        })
    }
}

/// The value of a secret's environment variable; unset or empty means calling without it
/// (a warning names the variable, never a value).
pub fn secret(provider: &str, var: &str, env: &impl Fn(&str) -> Option<String>) -> Option<String> {
    let value = env(var).filter(|v| !v.is_empty());
    if value.is_none() {
        tracing::warn!(provider, variable = %var, "credential variable is not set; calling without credentials");
    }
    value
}

/// A header carrying a secret, marked sensitive so it is never printed.
pub fn sensitive_header(
    name: HeaderName,
    value: String,
) -> Result<(HeaderName, HeaderValue), String> {
    let mut value = HeaderValue::try_from(value)
        .map_err(|_| "the credential contains characters not allowed in a header".to_owned())?;
    value.set_sensitive(true);
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_and_validates() {
        let clients = ClientFactory::default();
        let env = |name: &str| (name == "HOST").then(|| "h.test".to_owned());
        let ok = HttpProviderSettings::resolve(
            "http://${HOST}/v1",
            RawTimeouts::default(),
            false,
            &clients,
            &env,
        )
        .unwrap();
        assert_eq!(ok.base_url, "http://h.test/v1");
        let zero = RawTimeouts {
            idle_ms: 0,
            ..RawTimeouts::default()
        };
        assert!(HttpProviderSettings::resolve("http://x", zero, false, &clients, &env).is_err());
        assert_eq!(secret("p", "HOST", &env).as_deref(), Some("h.test"));
        assert!(secret("p", "NOPE", &env).is_none());
        let (_, value) =
            sensitive_header(HeaderName::from_static("x-api-key"), "k".into()).unwrap();
        assert!(value.is_sensitive());
        assert!(sensitive_header(HeaderName::from_static("x-api-key"), "bad\nkey".into()).is_err());
    }
}

//! A gateway whose config reads the Azure test credentials from a fixed environment.
//! (The fake Azure resource itself is the shared `support::Upstream`, which records each
//! request's path and query, headers and body.)

use std::sync::Arc;

use promptgate::pipeline::Gateway;

/// A gateway whose config reads `AZ_KEY` and `AZ_TOKEN` from a fixed environment.
pub fn gateway(yaml: &str) -> Arc<Gateway> {
    crate::support::gateway_with_env(yaml, |var: &str| match var {
        "AZ_KEY" => Some("test-azure-key".to_owned()),
        "AZ_TOKEN" => Some("entra-token".to_owned()),
        _ => None,
    })
}

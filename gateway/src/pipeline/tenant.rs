//! The tenant stage: authenticate the virtual key, admit the request under its limits, and
//! afterwards record what it used. With no keys configured it does nothing.

use std::sync::Arc;

use http::HeaderValue;

use super::record::RequestRecord;
use super::{ApiRoute, Gateway, GatewayRequest};
use crate::config::Snapshot;
use crate::error::GatewayError;
use crate::tenants::window::Windows;
use crate::tenants::VirtualKey;

/// A refusal with its `Retry-After`.
pub struct Refusal {
    pub error: GatewayError,
    pub retry_after: Option<HeaderValue>,
}

impl From<GatewayError> for Refusal {
    fn from(error: GatewayError) -> Self {
        Refusal {
            error,
            retry_after: None,
        }
    }
}

/// Authenticates `req` and, for LLM and generate requests, admits it under its key's limits.
pub async fn admit(
    gw: &Gateway,
    snapshot: &Snapshot,
    req: &GatewayRequest,
) -> Result<Option<Arc<VirtualKey>>, Refusal> {
    if matches!(req.route, ApiRoute::NotFound | ApiRoute::MethodNotAllowed) {
        return Ok(None);
    }
    let key = snapshot
        .tenants
        .authenticate(req.authorization.as_ref().map(HeaderValue::as_bytes))?;
    let Some(key) = key else { return Ok(None) };
    if let ApiRoute::GetModel(id) = &req.route {
        if !key.allows(id) {
            return Err(GatewayError::ModelNotAllowed(id.clone()).into());
        }
    }
    if matches!(req.route, ApiRoute::Llm(_) | ApiRoute::Generate) {
        if let Err(denial) = gw.limiter.admit(&key, Windows::now(), &gw.metrics).await {
            return Err(Refusal {
                error: denial.to_error(&key),
                retry_after: Some(HeaderValue::from(denial.retry_after)),
            });
        }
    }
    Ok(Some(key))
}

/// Records the tokens and cost of a finished request against its key.
pub async fn settle(gw: &Gateway, rec: &RequestRecord) {
    let Some(key) = &rec.tenant else { return };
    let tokens = rec
        .usage
        .map_or(0, |u| u.prompt_tokens + u.completion_tokens);
    let cost = rec.cost_usd.unwrap_or(0.0);
    gw.limiter
        .record(key, Windows::now(), tokens, cost, &gw.metrics)
        .await;
}

//! The request pipeline: plain Rust that the Pingora shell hands every owned request to.
//! It never touches a socket directly; it writes through a [`Downstream`].

pub mod downstream;
pub mod exchange;
pub mod generate;
pub mod prepared;
pub mod prompted;
pub mod record;
pub mod respond;
pub mod stream;
pub mod tenant;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{HeaderValue, Method};

use crate::byok::OfferedKey;
use crate::config::Snapshot;
use crate::error::GatewayError;
use crate::managed::traces::TraceSink;
use crate::metrics::Metrics;
use crate::providers::Endpoint;
use crate::routing::health::HealthRegistry;
use crate::tenants::limiter::Limiter;
use crate::upstream::client::ClientFactory;
use crate::upstream::retry::RetryBudget;
use downstream::Downstream;
use record::RequestRecord;

/// Long-lived gateway state shared by every request.
pub struct Gateway {
    snapshot: ArcSwap<Snapshot>,
    budget: ArcSwap<RetryBudget>,
    pub metrics: Metrics,
    pub clients: Arc<ClientFactory>,
    /// Passive health of upstream targets; outlives snapshots.
    pub health: HealthRegistry,
    ready: AtomicBool,
    /// False while a managed gateway has no snapshot yet (neither fetched nor persisted).
    configured: AtomicBool,
    /// Virtual-key rate limits and budgets; outlives config reloads.
    pub limiter: Limiter,
    /// Managed mode: where finished requests go to become trace records.
    pub traces: OnceLock<TraceSink>,
}

impl Gateway {
    pub fn new(snapshot: Snapshot, clients: Arc<ClientFactory>) -> Result<Self, prometheus::Error> {
        let metrics = Metrics::new()?;
        metrics.set_config_version(&snapshot.version);
        let budget = RetryBudget::new(snapshot.budget_ratio, snapshot.min_retries_per_second);
        let limiter = Limiter::default();
        limiter.set_redis(snapshot.redis_url.as_deref());
        Ok(Gateway {
            snapshot: ArcSwap::from_pointee(snapshot),
            budget: ArcSwap::from_pointee(budget),
            metrics,
            clients,
            health: HealthRegistry::default(),
            ready: AtomicBool::new(true),
            configured: AtomicBool::new(true),
            limiter,
            traces: OnceLock::new(),
        })
    }

    /// The current snapshot; a request keeps the one it started with.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Replaces the snapshot in one atomic swap.
    pub fn swap(&self, snapshot: Snapshot) {
        let old = self.snapshot.load();
        if old.budget_ratio != snapshot.budget_ratio
            || old.min_retries_per_second != snapshot.min_retries_per_second
        {
            self.budget.store(Arc::new(RetryBudget::new(
                snapshot.budget_ratio,
                snapshot.min_retries_per_second,
            )));
        }
        self.limiter.set_redis(snapshot.redis_url.as_deref());
        self.metrics.set_config_version(&snapshot.version);
        self.snapshot.store(Arc::new(snapshot));
    }

    pub fn budget(&self) -> Arc<RetryBudget> {
        self.budget.load_full()
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed) && self.configured.load(Ordering::Relaxed)
    }

    /// Whether the gateway has a real config (a managed gateway starts without one when
    /// the control plane is down and nothing was persisted).
    pub fn set_configured(&self, configured: bool) {
        self.configured.store(configured, Ordering::Relaxed);
    }

    /// Hands a finished request to the trace shipper, if this gateway ships traces. Never
    /// waits: a full queue drops the record and counts it.
    pub fn finish(&self, rec: RequestRecord) {
        if let Some(sink) = self.traces.get() {
            sink.offer(rec, &self.metrics.traces_dropped);
        }
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}

/// What a request path is, decided from the method and path alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiRoute {
    Llm(Endpoint),
    ListModels,
    GetModel(String),
    Generate,
    /// Any other `/v1/*` path: proxied unchanged to the default route's upstream.
    Passthrough,
    NotFound,
    MethodNotAllowed,
}

impl ApiRoute {
    pub fn classify(method: &Method, path: &str) -> ApiRoute {
        let llm = match path {
            "/v1/chat/completions" => Some(Endpoint::ChatCompletions),
            "/v1/completions" => Some(Endpoint::Completions),
            "/v1/embeddings" => Some(Endpoint::Embeddings),
            "/v1/responses" => Some(Endpoint::Responses),
            _ => None,
        };
        if let Some(endpoint) = llm {
            return if method == Method::POST {
                ApiRoute::Llm(endpoint)
            } else {
                ApiRoute::MethodNotAllowed
            };
        }
        if path == "/api/v1/generate" {
            return if method == Method::POST {
                ApiRoute::Generate
            } else {
                ApiRoute::MethodNotAllowed
            };
        }
        if path == "/v1/models" {
            return if method == Method::GET {
                ApiRoute::ListModels
            } else {
                ApiRoute::MethodNotAllowed
            };
        }
        if let Some(id) = path.strip_prefix("/v1/models/") {
            if method == Method::GET && !id.is_empty() {
                return ApiRoute::GetModel(percent_decode(id));
            }
        }
        if path.starts_with("/v1/") {
            return ApiRoute::Passthrough;
        }
        ApiRoute::NotFound
    }

    /// Whether the pipeline needs the request body.
    pub fn reads_body(&self) -> bool {
        matches!(self, ApiRoute::Llm(_) | ApiRoute::Generate)
    }

    pub fn label(&self) -> &'static str {
        match self {
            ApiRoute::Llm(e) => e.label(),
            ApiRoute::ListModels | ApiRoute::GetModel(_) => "models",
            ApiRoute::Generate => "generate",
            ApiRoute::Passthrough => "passthrough",
            ApiRoute::NotFound | ApiRoute::MethodNotAllowed => "other",
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// One request the pipeline owns, body already read.
pub struct GatewayRequest {
    pub started: Instant,
    pub route: ApiRoute,
    pub method: Method,
    pub path: String,
    pub body: Bytes,
    pub trace_id: String,
    /// The client's `Authorization` header (a virtual key), marked sensitive.
    pub authorization: Option<HeaderValue>,
    /// The client's `x-promptgate-policy` header, if any (only this header is kept: copying
    /// the whole header map would cost every request).
    pub policy_header: Option<http::HeaderValue>,
    /// The client's `x-promptgate-provider-key` header (see [`crate::byok`]), marked
    /// sensitive.
    pub provider_key: Option<HeaderValue>,
    /// The client's `x-promptgate-subject` header: what a prompt canary split sticks to.
    pub subject_header: Option<HeaderValue>,
}

impl GatewayRequest {
    /// The provider keys this request offers, under `snapshot`'s tenant auth.
    pub fn offered_key(&self, snapshot: &Snapshot) -> OfferedKey<'_> {
        OfferedKey::new(
            self.provider_key.as_ref(),
            self.authorization.as_ref(),
            snapshot.tenants.enabled(),
        )
    }
}

/// Runs one request to completion and returns what it recorded.
pub async fn handle<D: Downstream>(
    gw: &Gateway,
    req: GatewayRequest,
    down: &mut D,
) -> RequestRecord {
    let snapshot = gw.snapshot();
    let mut rec = RequestRecord::new(req.started, req.trace_id.clone(), req.route.label());
    if gw.traces.get().is_some() {
        rec.request_body = Some(req.body.clone());
        rec.capture_payloads = snapshot.capture_payloads;
    }
    match tenant::admit(gw, &snapshot, &req).await {
        Ok(key) => rec.tenant = key,
        Err(refusal) => {
            respond::error(down, &mut rec, &refusal.error, refusal.retry_after).await;
            return rec;
        }
    }
    let result = match &req.route {
        ApiRoute::Llm(endpoint) => {
            gw.budget().deposit();
            exchange::run(gw, &snapshot, *endpoint, &req, down, &mut rec).await
        }
        ApiRoute::Generate => {
            gw.budget().deposit();
            generate::run(gw, &snapshot, &req, down, &mut rec).await
        }
        ApiRoute::ListModels => {
            respond::json(
                down,
                &mut rec,
                http::StatusCode::OK,
                snapshot.models_body.clone(),
                &[],
            )
            .await;
            Ok(())
        }
        ApiRoute::GetModel(id) => get_model(&snapshot, id, down, &mut rec).await,
        ApiRoute::MethodNotAllowed => Err(GatewayError::MethodNotAllowed {
            method: req.method.to_string(),
            path: req.path.clone(),
        }),
        ApiRoute::Passthrough => Err(passthrough_refusal(&snapshot, &req)),
        ApiRoute::NotFound => Err(GatewayError::NotFound(req.path.clone())),
    };
    if let Err(err) = result {
        respond::error(down, &mut rec, &err, None).await;
    }
    tenant::settle(gw, &rec).await;
    rec
}

/// Why a passthrough request reached the pipeline instead of being proxied: a provider key
/// the default route does not accept, or no passthrough upstream.
fn passthrough_refusal(snapshot: &Snapshot, req: &GatewayRequest) -> GatewayError {
    if let Some(route) = snapshot.default_route() {
        if let Err(refused) = req.offered_key(snapshot).for_route(route) {
            return refused;
        }
    }
    GatewayError::NotFound(req.path.clone())
}

async fn get_model<D: Downstream>(
    snapshot: &Snapshot,
    id: &str,
    down: &mut D,
    rec: &mut RequestRecord,
) -> Result<(), GatewayError> {
    if !snapshot.has_route(id) {
        return Err(GatewayError::ModelNotFound(id.to_owned()));
    }
    let body =
        serde_json::json!({"id": id, "object": "model", "created": 0, "owned_by": "promptgate"});
    let body =
        Bytes::from(serde_json::to_vec(&body).map_err(|e| GatewayError::Internal(e.to_string()))?);
    respond::json(down, rec, http::StatusCode::OK, body, &[]).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        let post = Method::POST;
        let get = Method::GET;
        assert_eq!(
            ApiRoute::classify(&post, "/v1/chat/completions"),
            ApiRoute::Llm(Endpoint::ChatCompletions)
        );
        assert_eq!(
            ApiRoute::classify(&get, "/v1/chat/completions"),
            ApiRoute::MethodNotAllowed
        );
        assert_eq!(ApiRoute::classify(&get, "/v1/models"), ApiRoute::ListModels);
        assert_eq!(
            ApiRoute::classify(&get, "/v1/models/a%2Fb"),
            ApiRoute::GetModel("a/b".into())
        );
        assert_eq!(
            ApiRoute::classify(&post, "/v1/files"),
            ApiRoute::Passthrough
        );
        assert_eq!(
            ApiRoute::classify(&post, "/api/v1/generate"),
            ApiRoute::Generate
        );
        assert_eq!(ApiRoute::classify(&get, "/"), ApiRoute::NotFound);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("é%é"), "é%é");
    }
}

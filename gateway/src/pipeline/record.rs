//! What the gateway learned about one request, recorded once when it ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::prompted::PromptUse;
use crate::openai::usage::Usage;
use crate::routing::RoutingDecision;
use crate::tenants::VirtualKey;

#[derive(Debug)]
pub struct RequestRecord {
    pub started: Instant,
    pub trace_id: String,
    pub endpoint: &'static str,
    pub route: Option<String>,
    pub provider_kind: Option<&'static str>,
    pub upstream_model: Option<String>,
    pub status: u16,
    pub attempts: u32,
    pub usage: Option<Usage>,
    pub cost_usd: Option<f64>,
    /// Time spent waiting on the upstream (headers and body).
    pub upstream_time: Duration,
    pub time_to_first_token: Option<Duration>,
    pub error: Option<&'static str>,
    pub client_disconnected: bool,
    /// The virtual key the request authenticated with, if auth is on.
    pub tenant: Option<Arc<VirtualKey>>,
    /// Why the targets were tried in this order (policies, skipped breakers).
    pub decision: Option<RoutingDecision>,
    /// The prompt release the request rendered, if its route binds one.
    pub prompt: Option<PromptUse>,
    /// The client's body, kept (without a copy) when traces are shipped; it is queued with
    /// the trace only when the snapshot allows payloads.
    pub request_body: Option<Bytes>,
    /// The body sent to the client, kept when the snapshot allows payloads in traces.
    pub response_body: Option<Bytes>,
    /// Whether the snapshot the request ran on allows payloads in traces.
    pub capture_payloads: bool,
}

impl RequestRecord {
    pub fn new(started: Instant, trace_id: String, endpoint: &'static str) -> Self {
        RequestRecord {
            started,
            trace_id,
            endpoint,
            route: None,
            provider_kind: None,
            upstream_model: None,
            status: 0,
            attempts: 0,
            usage: None,
            cost_usd: None,
            upstream_time: Duration::ZERO,
            time_to_first_token: None,
            error: None,
            client_disconnected: false,
            tenant: None,
            decision: None,
            prompt: None,
            request_body: None,
            response_body: None,
            capture_payloads: false,
        }
    }
}

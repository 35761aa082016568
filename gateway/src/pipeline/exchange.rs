//! The upstream exchange of an LLM endpoint: choose targets, retry and fall back before the
//! first byte reaches the client, then relay a whole body or a stream and account for it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::downstream::Downstream;
pub use super::prepared::{PreparedRequest, POLICY_HEADER};
use super::record::RequestRecord;
use super::respond::{self, COST};
use super::{Gateway, GatewayRequest};
use crate::accounting::format_cost;
use crate::byok::{self, OfferedKey};
use crate::config::prompts::BoundPrompt;
use crate::config::{Snapshot, Target};
use crate::error::GatewayError;
use crate::openai::usage::Usage;
use crate::providers::{AttemptError, Endpoint, ProviderCall, ProviderResponse};
use crate::routing::health::Admission;
use crate::routing::plan::target_key;
use crate::routing::{self, RequestFacts};
use crate::tenants::VirtualKey;
use crate::upstream::body::BodyError;
use crate::upstream::retry::retry_after;

/// Upstream response headers worth passing to the client.
const FORWARDED_HEADERS: [HeaderName; 4] = [
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("request-id"),
    HeaderName::from_static("openai-processing-ms"),
    HeaderName::from_static("openai-version"),
];

pub async fn run<D: Downstream>(
    gw: &Gateway,
    snapshot: &Snapshot,
    endpoint: Endpoint,
    req: &GatewayRequest,
    down: &mut D,
    rec: &mut RequestRecord,
) -> Result<(), GatewayError> {
    let tenant = rec.tenant.as_deref();
    let (mut prepared, prompt) = PreparedRequest::parse_with_prompt(
        endpoint,
        req.body.clone(),
        |model| permitted_prompt(snapshot, tenant, model),
        req.subject_header.as_ref(),
    )?;
    rec.prompt = prompt;
    if prepared.policy.is_none() {
        prepared.policy = req
            .policy_header
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
    }
    let offered = req.offered_key(snapshot);
    match send_with_retries(gw, snapshot, &prepared, &offered, rec).await {
        Ok(success) => relay(snapshot, &prepared, success, down, rec).await,
        Err(failure) => {
            respond::error(down, rec, &failure.error, failure.retry_after).await;
            Ok(())
        }
    }
}

/// The prompt bound to the route `model`, if the request's virtual key may use that route: a
/// key that may not is refused (403) by [`send_with_retries`] before anything is rendered, so
/// it never learns a template's variables from a 400.
pub(super) fn permitted_prompt<'s>(
    snapshot: &'s Snapshot,
    tenant: Option<&VirtualKey>,
    model: &str,
) -> Option<&'s Arc<BoundPrompt>> {
    snapshot
        .bound_prompt(model)
        .filter(|_| tenant.is_none_or(|key| key.allows(model)))
}

/// A 2xx response from a target, body not yet read.
pub struct Success<'s> {
    pub target: &'s Target,
    pub upstream_model: String,
    pub response: ProviderResponse,
    /// For streams: the first body chunk, read before anything reached the client so that a
    /// target failing before its first event can still be retried.
    pub first_chunk: Option<Bytes>,
}

pub struct Failure {
    pub error: GatewayError,
    pub retry_after: Option<HeaderValue>,
}

/// Tries the route's targets in order until one answers 2xx, within the retry budget.
/// `offered` holds the client's own provider key, used on byok routes only.
pub async fn send_with_retries<'s>(
    gw: &Gateway,
    snapshot: &'s Snapshot,
    prepared: &PreparedRequest,
    offered: &OfferedKey<'_>,
    rec: &mut RequestRecord,
) -> Result<Success<'s>, Failure> {
    let fail = |error| Failure {
        error,
        retry_after: None,
    };
    if let Some(key) = &rec.tenant {
        if !key.allows(&prepared.model) {
            return Err(fail(GatewayError::ModelNotAllowed(prepared.model.clone())));
        }
    }
    let route = snapshot
        .route(&prepared.model)
        .ok_or_else(|| fail(GatewayError::ModelNotFound(prepared.model.clone())))?;
    rec.route = Some(route.name.clone());
    let client_key = offered.for_route(route).map_err(fail)?;
    let routing_policy = match prepared.policy.as_deref() {
        Some(name) => Some(snapshot.policy(name).map(|p| p.as_ref()).ok_or_else(|| {
            fail(GatewayError::InvalidRequest {
                message: format!("Unknown routing policy `{name}`."),
                param: Some("policy".into()),
                code: Some("unknown_policy"),
            })
        })?),
        None => route.policy.as_deref(),
    };
    let policy = snapshot.retry;
    let facts = RequestFacts {
        model: &prepared.model,
        body: &prepared.body,
        max_tokens: prepared.max_tokens,
    };
    // One target and no policy leaves nothing to choose (the ejection cap would try it even
    // with an open breaker): skip planning and health bookkeeping on this hot path.
    let tracked = routing_policy.is_some() || route.targets().nth(1).is_some();
    let plan = if tracked {
        routing::plan(
            &gw.health,
            &snapshot.health,
            snapshot,
            route,
            routing_policy,
            facts,
            policy.max_attempts as usize,
            Instant::now(),
        )
    } else {
        Ok(routing::plan::Plan {
            targets: route.attempt_order(policy.max_attempts as usize),
            forced: true,
            decision: None,
        })
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(rejected) => {
            let (error, decision) = *rejected;
            tracing::debug!(?decision, "routing decision: no candidate");
            rec.decision = Some(decision);
            return Err(fail(error));
        }
    };
    rec.decision = plan.decision;
    let targets = byok::restrict(plan.targets, route, client_key.as_ref()).map_err(fail)?;
    let health = |key: (&str, &str), ok: bool, latency: Option<Duration>| {
        if !tracked {
            return;
        }
        let view = gw
            .health
            .record(key, &snapshot.health, ok, latency, Instant::now());
        if let Some(view) = view {
            gw.metrics.upstream_health(key.0, key.1, &view);
        }
    };
    let trace_id = Bytes::copy_from_slice(rec.trace_id.as_bytes());
    let mut last: Option<Failure> = None;
    let mut last_provider: Option<&str> = None;
    let mut last_retry_after: Option<Duration> = None;
    let mut attempt: u32 = 0;
    for target in targets {
        let key = target_key(target, &prepared.model);
        if !plan.forced {
            match gw.health.admit(key, &snapshot.health, Instant::now()) {
                Admission::Allowed => {}
                Admission::Probe => {
                    if let Some(view) = gw.health.view(key) {
                        gw.metrics.upstream_health(key.0, key.1, &view);
                    }
                }
                // Opened since the plan was made, or another request holds the probe.
                Admission::Rejected => continue,
            }
        }
        if attempt > 0 {
            let same_provider = last_provider == Some(target.provider.name());
            if same_provider {
                if let Some(wait) = last_retry_after {
                    if wait > policy.max_retry_after {
                        break;
                    }
                }
            }
            if !gw.budget().try_withdraw() {
                gw.metrics.retry_budget_exhausted.inc();
                break;
            }
            if same_provider {
                let backoff = policy.backoff(attempt);
                let wait = last_retry_after.map_or(backoff, |ra| ra.max(backoff));
                tokio::time::sleep(wait).await;
            }
        }
        let upstream_model = target
            .model
            .clone()
            .unwrap_or_else(|| prepared.model.clone());
        let body = prepared.body_for(target.model.as_deref()).map_err(fail)?;
        rec.attempts += 1;
        attempt += 1;
        rec.provider_kind = Some(target.provider.kind());
        rec.upstream_model = Some(upstream_model.clone());
        last_provider = Some(target.provider.name());
        last_retry_after = None;
        let call = ProviderCall {
            endpoint: prepared.endpoint,
            body,
            stream: prepared.stream,
            trace_id: trace_id.clone(),
            client_key: client_key.clone(),
        };
        let sent_at = Instant::now();
        let response = target.provider.send(call).await;
        let head_latency = sent_at.elapsed();
        rec.upstream_time += head_latency;
        match response {
            Err(AttemptError::Unsupported(message)) => {
                return Err(fail(GatewayError::Unsupported(message)));
            }
            Err(err) => {
                let (kind, latency) = match err {
                    AttemptError::Timeout(_) => ("timeout", Some(head_latency)),
                    _ => ("transport", None),
                };
                health(key, false, latency);
                gw.metrics.upstream_error(target.provider.name(), kind);
                tracing::debug!(provider = target.provider.name(), error = %err, "upstream attempt failed");
                let error = match err {
                    AttemptError::Timeout(_) => GatewayError::UpstreamTimeout(err.to_string()),
                    _ => GatewayError::UpstreamUnavailable(err.to_string()),
                };
                last = Some(fail(error));
            }
            Ok(mut response) if response.status.is_success() => {
                let mut first_chunk = None;
                if prepared.stream && is_sse(&response.headers) {
                    let wait = target.provider.timeouts().first_byte;
                    let started = Instant::now();
                    let first = response.body.next_chunk(wait).await;
                    rec.upstream_time += started.elapsed();
                    match first {
                        Ok(chunk) => first_chunk = chunk,
                        Err(err) => {
                            health(key, false, None);
                            gw.metrics
                                .upstream_error(target.provider.name(), "stream_start");
                            last = Some(fail(GatewayError::UpstreamUnavailable(err.to_string())));
                            continue;
                        }
                    }
                }
                health(key, true, Some(sent_at.elapsed()));
                if let Some(decision) = rec.decision.as_mut() {
                    decision.chosen = Some(format!("{}/{}", key.0, key.1));
                    tracing::debug!(?decision, "routing decision");
                }
                return Ok(Success {
                    target,
                    upstream_model,
                    response,
                    first_chunk,
                });
            }
            Ok(response) => {
                let status = response.status;
                gw.metrics
                    .upstream_error(target.provider.name(), status.as_str());
                let retry_after_header = response.headers.get(http::header::RETRY_AFTER).cloned();
                last_retry_after = retry_after(&response.headers);
                let idle = target.provider.timeouts().idle;
                let body = response
                    .body
                    .collect(idle, 1024 * 1024)
                    .await
                    .unwrap_or_default();
                let mut mapped = target.provider.map_error(status, body);
                if let Some(key) = &client_key {
                    mapped.body = key.redact(mapped.body);
                }
                // A client error says nothing about the target's health.
                health(key, !mapped.retryable, Some(head_latency));
                let failure = Failure {
                    error: GatewayError::Upstream {
                        status: mapped.status,
                        body: mapped.body,
                    },
                    retry_after: retry_after_header,
                };
                if !mapped.retryable {
                    return Err(failure);
                }
                last = Some(failure);
            }
        }
    }
    Err(last.unwrap_or_else(|| {
        fail(GatewayError::UpstreamUnavailable(
            "no target could be tried".into(),
        ))
    }))
}

/// Relays a successful response to the client.
async fn relay<D: Downstream>(
    snapshot: &Snapshot,
    prepared: &PreparedRequest,
    success: Success<'_>,
    down: &mut D,
    rec: &mut RequestRecord,
) -> Result<(), GatewayError> {
    if prepared.stream && is_sse(&success.response.headers) {
        super::stream::relay(snapshot, prepared, success, down, rec).await;
        return Ok(());
    }
    let whole = read_whole(snapshot, prepared.endpoint, success, rec).await?;
    if snapshot.capture_payloads {
        rec.response_body = Some(whole.body.clone());
    }
    let mut extra = whole.forwarded;
    if let Some(cost) = rec.cost_usd {
        if let Ok(v) = HeaderValue::from_str(&format_cost(cost)) {
            extra.push((COST, v));
        }
    }
    respond::json(down, rec, whole.status, whole.body, &extra).await;
    Ok(())
}

pub struct WholeResponse {
    pub status: StatusCode,
    pub body: Bytes,
    pub forwarded: Vec<(HeaderName, HeaderValue)>,
}

/// Reads a whole successful body, translates it and accounts its usage.
pub async fn read_whole(
    snapshot: &Snapshot,
    endpoint: Endpoint,
    success: Success<'_>,
    rec: &mut RequestRecord,
) -> Result<WholeResponse, GatewayError> {
    let provider = &success.target.provider;
    let idle = provider.timeouts().idle;
    let forwarded = forwarded_headers(&success.response.headers);
    let status = success.response.status;
    let started = Instant::now();
    let body = success
        .response
        .body
        .collect(idle, snapshot.max_response_bytes)
        .await;
    rec.upstream_time += started.elapsed();
    let body = body.map_err(|e| match e {
        BodyError::Idle(_) => GatewayError::UpstreamTimeout(e.to_string()),
        _ => GatewayError::UpstreamUnavailable(e.to_string()),
    })?;
    let body = provider.translate_body(endpoint, body);
    if let Some(usage) = Usage::from_body(&body) {
        account(snapshot, rec, &success.upstream_model, usage);
    }
    Ok(WholeResponse {
        status,
        body,
        forwarded,
    })
}

fn is_sse(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"))
}

pub(super) fn account(
    snapshot: &Snapshot,
    rec: &mut RequestRecord,
    upstream_model: &str,
    usage: Usage,
) {
    rec.usage = Some(usage);
    rec.cost_usd = snapshot.price(upstream_model).map(|p| p.cost(&usage));
}

pub(super) fn forwarded_headers(headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    for name in FORWARDED_HEADERS {
        if let Some(v) = headers.get(&name) {
            out.push((name, v.clone()));
        }
    }
    out
}

pub(super) fn stream_error_event(message: &str) -> Bytes {
    let err = GatewayError::UpstreamUnavailable(message.to_owned());
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&err.to_body());
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

//! Writing whole responses and errors to the client, with the gateway's headers.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};

use super::downstream::{Downstream, ResponseHead};
use super::record::RequestRecord;
use crate::error::GatewayError;

pub const TRACE_ID: HeaderName = HeaderName::from_static("x-promptgate-trace-id");
pub const ROUTE: HeaderName = HeaderName::from_static("x-promptgate-route");
pub const COST: HeaderName = HeaderName::from_static("x-promptgate-cost-usd");
pub const DECISION: HeaderName = HeaderName::from_static("x-promptgate-decision");
pub const PROMPT_VERSION: HeaderName = HeaderName::from_static("x-promptgate-prompt-version");
pub const VARIANT: HeaderName = HeaderName::from_static("x-promptgate-variant");

/// Headers every response carries: the trace id and, once known, the route.
pub fn gateway_headers(rec: &RequestRecord) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = Vec::with_capacity(8);
    if let Ok(v) = HeaderValue::from_str(&rec.trace_id) {
        headers.push((TRACE_ID, v));
    }
    if let Some(route) = &rec.route {
        if let Ok(v) = HeaderValue::from_str(route) {
            headers.push((ROUTE, v));
        }
    }
    if let Some(decision) = &rec.decision {
        if let Ok(v) = HeaderValue::from_str(&decision.header_value()) {
            headers.push((DECISION, v));
        }
    }
    if let Some(prompt) = &rec.prompt {
        headers.push((PROMPT_VERSION, HeaderValue::from(prompt.used.version)));
        headers.push((VARIANT, HeaderValue::from_static(prompt.variant())));
    }
    headers
}

/// Writes a whole JSON body.
pub async fn json<D: Downstream>(
    down: &mut D,
    rec: &mut RequestRecord,
    status: StatusCode,
    body: Bytes,
    extra: &[(HeaderName, HeaderValue)],
) {
    let mut headers = gateway_headers(rec);
    headers.extend(extra.iter().cloned());
    rec.status = status.as_u16();
    let head = ResponseHead {
        status,
        content_type: "application/json",
        content_length: Some(body.len()),
        headers,
    };
    if down.send_head(head).await.is_err() || down.send_body(body, true).await.is_err() {
        rec.client_disconnected = true;
    }
}

/// Writes an error in the OpenAI shape.
pub async fn error<D: Downstream>(
    down: &mut D,
    rec: &mut RequestRecord,
    err: &GatewayError,
    retry_after: Option<HeaderValue>,
) {
    rec.error = Some(err.metric_label());
    let extra: Vec<_> = retry_after
        .map(|v| (http::header::RETRY_AFTER, v))
        .into_iter()
        .collect();
    json(down, rec, err.status(), err.to_body(), &extra).await;
}

//! The thin Pingora shell: each phase hands the request to the pipeline.
//!
//! LLM endpoints are answered by the pipeline itself (`request_filter` returns `Ok(true)`);
//! every other `/v1/*` path is proxied unchanged by Pingora to the default route's upstream.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::modules::http::HttpModules;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};

use crate::byok::{OfferedKey, PROVIDER_KEY_HEADER};
use crate::error::GatewayError;
use crate::pipeline::downstream::{ClientGone, Downstream, ResponseHead};
use crate::pipeline::exchange::POLICY_HEADER;
use crate::pipeline::prompted::SUBJECT_HEADER;
use crate::pipeline::record::RequestRecord;
use crate::pipeline::{self, respond, ApiRoute, Gateway, GatewayRequest};
use crate::providers::PassthroughBase;
use crate::trace_id;

pub struct GatewayProxy {
    pub gateway: Arc<Gateway>,
}

/// Per-request state of the Pingora shell (the pipeline keeps its own).
#[derive(Default)]
pub struct ProxyCtx {
    passthrough: Option<PassthroughBase>,
    record: Option<RequestRecord>,
}

#[async_trait]
impl ProxyHttp for GatewayProxy {
    type CTX = ProxyCtx;

    fn new_ctx(&self) -> ProxyCtx {
        ProxyCtx::default()
    }

    fn init_downstream_modules(&self, _modules: &mut HttpModules) {
        // No compression module: responses are passed as the upstream produced them.
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut ProxyCtx) -> Result<bool> {
        let started = Instant::now();
        let header = session.req_header();
        let route = ApiRoute::classify(&header.method, header.uri.path());
        let trace_id = trace_id::from_headers(&header.headers);
        let method = header.method.clone();
        let policy_header = header.headers.get(POLICY_HEADER).cloned();
        let subject_header = header.headers.get(SUBJECT_HEADER).cloned();
        let path = header.uri.path().to_owned();
        let gw = &self.gateway;
        gw.metrics.inflight.inc();
        let mut authorization = header.headers.get(http::header::AUTHORIZATION).cloned();
        if let Some(v) = authorization.as_mut() {
            v.set_sensitive(true);
        }
        let mut provider_key = header.headers.get(PROVIDER_KEY_HEADER).cloned();
        if let Some(v) = provider_key.as_mut() {
            v.set_sensitive(true);
        }
        // Unauthenticated passthrough requests go to the pipeline, which refuses them.
        let authorized = || {
            gw.snapshot()
                .tenants
                .authenticate(authorization.as_ref().map(|v| v.as_bytes()))
                .is_ok()
        };
        if route == ApiRoute::Passthrough && authorized() {
            // A refused provider key goes on to the pipeline, which answers 400.
            if let Some(base) = passthrough_base(gw, provider_key.as_ref(), authorization.as_ref())
            {
                let mut rec = RequestRecord::new(started, trace_id, route.label());
                rec.route = Some("passthrough".into());
                ctx.record = Some(rec);
                ctx.passthrough = Some(base);
                return Ok(false);
            }
        }
        let body = if route.reads_body() {
            match read_body(session, gw.snapshot().max_body_bytes).await {
                Ok(body) => body,
                Err(err) => {
                    let mut rec = RequestRecord::new(started, trace_id, route.label());
                    // The rest of the body is unread: the connection cannot be reused.
                    session.set_keepalive(None);
                    respond::error(&mut PingoraDownstream { session }, &mut rec, &err, None).await;
                    gw.metrics.record(&rec);
                    gw.metrics.inflight.dec();
                    gw.finish(rec);
                    return Ok(true);
                }
            }
        } else {
            Bytes::new()
        };
        let request = GatewayRequest {
            started,
            route,
            method,
            path,
            body,
            trace_id,
            authorization,
            policy_header,
            provider_key,
            subject_header,
        };
        let rec = pipeline::handle(gw, request, &mut PingoraDownstream { session }).await;
        if rec.client_disconnected {
            session.set_keepalive(None);
        }
        gw.metrics.record(&rec);
        gw.metrics.inflight.dec();
        gw.finish(rec);
        Ok(true)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut ProxyCtx,
    ) -> Result<Box<HttpPeer>> {
        let base = ctx
            .passthrough
            .as_ref()
            .ok_or_else(|| Error::explain(ErrorType::InternalError, "no passthrough upstream"))?;
        let addr = tokio::net::lookup_host((base.host.as_str(), base.port))
            .await
            .map_err(|e| {
                Error::because(
                    ErrorType::ConnectNoRoute,
                    "resolving passthrough upstream",
                    e,
                )
            })?
            .next()
            .ok_or_else(|| {
                Error::explain(
                    ErrorType::ConnectNoRoute,
                    "passthrough upstream has no address",
                )
            })?;
        let mut peer = HttpPeer::new(addr, base.tls, base.host.clone());
        peer.options.tcp_keepalive = None;
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut ProxyCtx,
    ) -> Result<()> {
        let Some(base) = &ctx.passthrough else {
            return Ok(());
        };
        // Clients never choose the upstream; their credentials go only where byok allows
        // (already in `base.authorization`).
        upstream.remove_header("authorization");
        upstream.remove_header("api-key");
        upstream.remove_header(&PROVIDER_KEY_HEADER);
        if let Some(auth) = &base.authorization {
            upstream.insert_header("authorization", auth.clone())?;
        }
        let default_port = if base.tls { 443 } else { 80 };
        let host = if base.port == default_port {
            base.host.clone()
        } else {
            format!("{}:{}", base.host, base.port)
        };
        upstream.insert_header("host", host)?;
        let path = upstream.uri.path();
        let rest = path.strip_prefix("/v1").unwrap_or(path);
        let mut new_path = String::with_capacity(base.path.len() + rest.len() + 32);
        new_path.push_str(&base.path);
        new_path.push_str(rest);
        if let Some(query) = upstream.uri.query() {
            new_path.push('?');
            new_path.push_str(query);
        }
        let uri = new_path.parse().map_err(|e| {
            Error::because(ErrorType::InternalError, "rewriting passthrough path", e)
        })?;
        upstream.set_uri(uri);
        Ok(())
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut ProxyCtx) {
        // Only passthrough requests reach here with a record; pipeline requests record theirs.
        if let Some(mut rec) = ctx.record.take() {
            rec.status = session
                .response_written()
                .map_or(502, |r| r.status.as_u16());
            self.gateway.metrics.record(&rec);
            self.gateway.metrics.inflight.dec();
            self.gateway.finish(rec);
        }
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        _ctx: &mut ProxyCtx,
    ) -> FailToProxy {
        let error = match e.esource() {
            ErrorSource::Upstream => {
                GatewayError::UpstreamUnavailable(e.etype().as_str().to_owned())
            }
            _ => GatewayError::Internal(e.etype().as_str().to_owned()),
        };
        let status = error.status();
        let body = error.to_body();
        let mut head = ResponseHeader::build(status, Some(2)).ok();
        if let Some(h) = head.as_mut() {
            let _ = h.insert_header(CONTENT_TYPE, "application/json");
            let _ = h.insert_header(CONTENT_LENGTH, body.len());
        }
        let sent = match head {
            Some(h) if session.response_written().is_none() => {
                session
                    .write_response_header(Box::new(h), false)
                    .await
                    .is_ok()
                    && session.write_response_body(Some(body), true).await.is_ok()
            }
            _ => false,
        };
        FailToProxy {
            error_code: if sent { status.as_u16() } else { 0 },
            can_reuse_downstream: false,
        }
    }
}

/// The upstream that passthrough paths go to: the default route's first HTTP provider, with
/// the client's provider key as credentials when the default route is byok. `None` also when
/// the client sent a provider key the default route does not accept.
fn passthrough_base(
    gw: &Gateway,
    provider_key: Option<&HeaderValue>,
    authorization: Option<&HeaderValue>,
) -> Option<PassthroughBase> {
    let snapshot = gw.snapshot();
    let route = snapshot.default_route()?;
    let offered = OfferedKey::new(provider_key, authorization, snapshot.tenants.enabled());
    let client_key = offered.for_route(route).ok()?;
    let mut base = route
        .targets()
        .find_map(|t| t.provider.passthrough_base().cloned())?;
    if let Some(key) = client_key {
        base.authorization = Some(key.bearer());
    }
    Some(base)
}

/// Reads the whole request body, refusing more than `limit` bytes.
async fn read_body(
    session: &mut Session,
    limit: usize,
) -> std::result::Result<Bytes, GatewayError> {
    let declared = session
        .req_header()
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(GatewayError::BodyTooLarge { limit });
    }
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    loop {
        let chunk = session.read_request_body().await.map_err(|e| {
            GatewayError::invalid(format!(
                "could not read the request body: {}",
                e.etype().as_str()
            ))
        })?;
        let Some(chunk) = chunk else { break };
        let total = first.as_ref().map_or(0, Bytes::len)
            + rest.as_ref().map_or(0, BytesMut::len)
            + chunk.len();
        if total > limit {
            return Err(GatewayError::BodyTooLarge { limit });
        }
        match (&mut first, &mut rest) {
            (None, _) => first = Some(chunk),
            (Some(f), None) => {
                let mut buf = BytesMut::with_capacity(declared.unwrap_or(total).max(total));
                buf.extend_from_slice(f);
                buf.extend_from_slice(&chunk);
                rest = Some(buf);
            }
            (Some(_), Some(buf)) => buf.extend_from_slice(&chunk),
        }
    }
    Ok(match rest {
        Some(buf) => buf.freeze(),
        None => first.unwrap_or_default(),
    })
}

/// The pipeline's view of a Pingora session.
struct PingoraDownstream<'a> {
    session: &'a mut Session,
}

impl Downstream for PingoraDownstream<'_> {
    async fn send_head(&mut self, head: ResponseHead) -> std::result::Result<(), ClientGone> {
        let mut resp = ResponseHeader::build(head.status, Some(head.headers.len() + 2))
            .map_err(|e| ClientGone(e.to_string()))?;
        let framing = resp
            .insert_header(CONTENT_TYPE, head.content_type)
            .and_then(|()| match head.content_length {
                Some(len) => resp.insert_header(CONTENT_LENGTH, len),
                None => resp.insert_header(TRANSFER_ENCODING, "chunked"),
            });
        framing.map_err(|e| ClientGone(e.to_string()))?;
        for (name, value) in head.headers {
            resp.append_header(name, value)
                .map_err(|e| ClientGone(e.to_string()))?;
        }
        self.session
            .write_response_header(Box::new(resp), false)
            .await
            .map_err(|e| ClientGone(e.to_string()))
    }

    async fn send_body(&mut self, chunk: Bytes, end: bool) -> std::result::Result<(), ClientGone> {
        self.session
            .write_response_body(Some(chunk), end)
            .await
            .map_err(|e| ClientGone(e.to_string()))
    }
}

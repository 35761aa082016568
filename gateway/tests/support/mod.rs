//! Test helpers: an in-process OpenAI-like upstream on port 0 whose behaviour each test
//! scripts, and a gateway built from YAML.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod control_plane;
pub mod process;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use promptgate::byok::PROVIDER_KEY_HEADER;
use promptgate::config::load::load_str;
use promptgate::pipeline::downstream::BufferedDownstream;
use promptgate::pipeline::exchange::POLICY_HEADER;
use promptgate::pipeline::record::RequestRecord;
use promptgate::pipeline::{handle, ApiRoute, Gateway, GatewayRequest};
use promptgate::providers::Endpoint;
use promptgate::upstream::client::ClientFactory;

/// What the scripted upstream answers to one request.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    /// Body chunks, each written after its delay.
    pub chunks: Vec<(Duration, Bytes)>,
    /// Delay before the response head.
    pub head_delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            chunks: vec![(Duration::ZERO, Bytes::copy_from_slice(body.as_bytes()))],
            head_delay: Duration::ZERO,
        }
    }

    pub fn sse(chunks: Vec<(Duration, Bytes)>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type", "text/event-stream".into())],
            chunks,
            head_delay: Duration::ZERO,
        }
    }
}

/// A request the upstream received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub path_and_query: String,
    pub authorization: Option<String>,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

type Script = dyn Fn(usize, &Received) -> Reply + Send + Sync;

pub struct Upstream {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl Upstream {
    /// Starts an upstream answering request number `n` (from 0) with `script(n, request)`.
    pub async fn start(
        script: impl Fn(usize, &Received) -> Reply + Send + Sync + 'static,
    ) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let log = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let script = script.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let script = script.clone();
                        let log = log.clone();
                        async move { Ok::<_, Infallible>(serve(req, &script, &log).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Upstream { addr, received }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://host:port`, for providers whose base URL has no `/v1`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn serve(
    req: Request<Incoming>,
    script: &Arc<Script>,
    log: &Arc<Mutex<Vec<Received>>>,
) -> Response<BoxBody<Bytes, Infallible>> {
    let path = req.uri().path().to_owned();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |p| p.to_string());
    let headers = req.headers().clone();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let received = Received {
        path,
        path_and_query,
        authorization,
        headers,
        body,
    };
    let n = {
        let mut log = log.lock().unwrap();
        log.push(received.clone());
        log.len() - 1
    };
    let reply = script(n, &received);
    tokio::time::sleep(reply.head_delay).await;
    let mut builder = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        builder = builder.header(*name, value);
    }
    builder
        .body(BoxBody::new(chunked_body(reply.chunks)))
        .unwrap()
}

fn chunked_body(
    chunks: Vec<(Duration, Bytes)>,
) -> impl hyper::body::Body<Data = Bytes, Error = Infallible> + Send {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
    tokio::spawn(async move {
        for (delay, chunk) in chunks {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if tx.send(Ok(Frame::data(chunk))).await.is_err() {
                return;
            }
        }
    });
    ChannelBody { rx }
}

struct ChannelBody {
    rx: tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, Infallible>>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx)
    }
}

/// A gateway built from YAML text whose config reads environment variables through `env`.
pub fn gateway_with_env(yaml: &str, env: impl Fn(&str) -> Option<String>) -> Arc<Gateway> {
    let clients = ClientFactory::new();
    let raw = promptgate::config::load::parse_yaml(yaml).unwrap_or_else(|e| panic!("{e}"));
    let snapshot = promptgate::config::snapshot::compile(raw, "test".into(), &clients, env)
        .unwrap_or_else(|e| panic!("{e}"));
    Arc::new(Gateway::new(snapshot, clients).unwrap())
}

/// A gateway built from YAML text.
pub fn gateway(yaml: &str) -> Arc<Gateway> {
    let clients = ClientFactory::new();
    let snapshot = load_str("test.yaml", yaml, &clients).unwrap_or_else(|e| panic!("{e}"));
    Arc::new(Gateway::new(snapshot, clients).unwrap())
}

/// Sends one request through the pipeline and returns what the client saw.
pub async fn call(
    gw: &Gateway,
    endpoint: Endpoint,
    body: impl Into<Bytes>,
) -> (BufferedDownstream, RequestRecord) {
    call_with(gw, endpoint, body, BufferedDownstream::default()).await
}

pub async fn call_with(
    gw: &Gateway,
    endpoint: Endpoint,
    body: impl Into<Bytes>,
    down: BufferedDownstream,
) -> (BufferedDownstream, RequestRecord) {
    call_full(gw, endpoint, body, None, http::HeaderMap::new(), down).await
}

/// Like [`call_with`], with an `Authorization: Bearer <key>` header when `key` is set.
pub async fn call_as(
    gw: &Gateway,
    endpoint: Endpoint,
    body: impl Into<Bytes>,
    key: Option<&str>,
    down: BufferedDownstream,
) -> (BufferedDownstream, RequestRecord) {
    call_full(gw, endpoint, body, key, http::HeaderMap::new(), down).await
}

/// Like [`call_with`], with client request headers.
pub async fn call_with_headers(
    gw: &Gateway,
    endpoint: Endpoint,
    body: impl Into<Bytes>,
    headers: http::HeaderMap,
    down: BufferedDownstream,
) -> (BufferedDownstream, RequestRecord) {
    call_full(gw, endpoint, body, None, headers, down).await
}

pub async fn call_full(
    gw: &Gateway,
    endpoint: Endpoint,
    body: impl Into<Bytes>,
    key: Option<&str>,
    headers: http::HeaderMap,
    mut down: BufferedDownstream,
) -> (BufferedDownstream, RequestRecord) {
    let request = GatewayRequest {
        started: std::time::Instant::now(),
        route: ApiRoute::Llm(endpoint),
        method: http::Method::POST,
        path: endpoint.path().to_owned(),
        body: body.into(),
        trace_id: promptgate::trace_id::new_trace_id(),
        authorization: key.map(|k| http::HeaderValue::from_str(&format!("Bearer {k}")).unwrap()),
        policy_header: headers.get(POLICY_HEADER).cloned(),
        provider_key: headers.get(PROVIDER_KEY_HEADER).cloned(),
        subject_header: headers.get("x-promptgate-subject").cloned(),
    };
    let rec = handle(gw, request, &mut down).await;
    (down, rec)
}

pub fn status(down: &BufferedDownstream) -> u16 {
    down.head.as_ref().map_or(0, |h| h.status.as_u16())
}

pub const CHAT_OK: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}"#;

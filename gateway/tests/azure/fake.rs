//! A fake Azure OpenAI resource that records each request whole (the shared test upstream
//! keeps only the path and `authorization`; Azure's `api-key` header and `api-version` query
//! matter here), and a gateway whose config reads a fixed environment.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::support::Reply;
use promptgate::config::load::parse_yaml;
use promptgate::config::snapshot::compile;
use promptgate::pipeline::Gateway;
use promptgate::upstream::client::ClientFactory;

/// A request the fake resource received.
#[derive(Clone)]
pub struct Seen {
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

pub struct FakeAzure {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeAzure {
    /// Answers request number `n` (from 0) with `script(n)`, the body in one write.
    pub async fn start(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> FakeAzure {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script = Arc::new(script);
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (script, log) = (script.clone(), log.clone());
                let service = service_fn(move |req: Request<Incoming>| {
                    let (script, log) = (script.clone(), log.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let n = {
                            let mut log = log.lock().unwrap();
                            log.push(Seen {
                                path_and_query: parts.uri.path_and_query().unwrap().to_string(),
                                headers: parts.headers,
                                body,
                            });
                            log.len() - 1
                        };
                        let reply = script(n);
                        let mut response = Response::builder().status(reply.status);
                        for (name, value) in &reply.headers {
                            response = response.header(*name, value);
                        }
                        let body: Vec<u8> =
                            reply.chunks.iter().flat_map(|(_, c)| c.to_vec()).collect();
                        Ok::<_, Infallible>(response.body(Full::new(Bytes::from(body))).unwrap())
                    }
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        FakeAzure { addr, seen }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A gateway whose config reads `AZ_KEY` and `AZ_TOKEN` from a fixed environment.
pub fn gateway(yaml: &str) -> Gateway {
    let clients = ClientFactory::new();
    let env = |var: &str| match var {
        "AZ_KEY" => Some("test-azure-key".to_owned()),
        "AZ_TOKEN" => Some("entra-token".to_owned()),
        _ => None,
    };
    let snapshot = compile(parse_yaml(yaml).unwrap(), "v".into(), &clients, env)
        .unwrap_or_else(|e| panic!("{e}"));
    Gateway::new(snapshot, clients).unwrap()
}

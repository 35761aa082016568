//! An in-process fake control plane (hyper on port 0) speaking the snapshot and trace
//! contract: `ETag`, `If-None-Match`, long-poll `wait`, 404 before any config, 401 for a
//! wrong key, 202 for trace batches; `set_down(true)` makes it answer 503 to everything.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use promptgate::managed::{ManagedSnapshot, TraceBatch, TraceRecord, SNAPSHOT_SCHEMA};

pub const GATEWAY_KEY: &str = "pk-gateway-test-key";

#[derive(Default)]
struct State {
    snapshot: Mutex<Option<ManagedSnapshot>>,
    traces: Mutex<Vec<TraceRecord>>,
    batches: Mutex<Vec<(String, String, String)>>,
    down: AtomicBool,
    snapshot_requests: AtomicUsize,
}

pub struct FakeControlPlane {
    pub addr: SocketAddr,
    state: Arc<State>,
    changed: watch::Sender<u64>,
}

/// A snapshot of `config` YAML for project `p`, environment `prod`.
pub fn snapshot(version: &str, config: &str) -> ManagedSnapshot {
    ManagedSnapshot {
        schema: SNAPSHOT_SCHEMA,
        version: version.into(),
        project: "p".into(),
        environment: "prod".into(),
        config: config.into(),
        policies: vec![],
        prompts: Default::default(),
        capture_payloads: false,
    }
}

impl FakeControlPlane {
    pub async fn start() -> FakeControlPlane {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state: Arc<State> = Arc::default();
        let (changed, _) = watch::channel(0u64);
        let plane = FakeControlPlane {
            addr,
            state: state.clone(),
            changed: changed.clone(),
        };
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                let changed = changed.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let state = state.clone();
                        let changed = changed.subscribe();
                        async move { Ok::<_, Infallible>(serve(req, &state, changed).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        plane
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn publish(&self, snapshot: ManagedSnapshot) {
        *self.state.snapshot.lock().unwrap() = Some(snapshot);
        self.changed.send_modify(|n| *n += 1);
    }

    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    pub fn traces(&self) -> Vec<TraceRecord> {
        self.state.traces.lock().unwrap().clone()
    }

    /// (project, environment, gateway) of each batch received.
    pub fn batches(&self) -> Vec<(String, String, String)> {
        self.state.batches.lock().unwrap().clone()
    }

    pub fn snapshot_requests(&self) -> usize {
        self.state.snapshot_requests.load(Ordering::SeqCst)
    }
}

fn reply(status: u16, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

fn error(status: u16, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}});
    reply(status, &body.to_string())
}

async fn serve(
    req: Request<Incoming>,
    state: &State,
    mut changed: watch::Receiver<u64>,
) -> Response<Full<Bytes>> {
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {GATEWAY_KEY}"));
    if !authorized {
        return error(401, "invalid API key");
    }
    if state.down.load(Ordering::SeqCst) {
        return error(503, "down for the test");
    }
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let known = req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_matches('"').to_owned());
    match path.as_str() {
        "/api/v1/gateway/snapshot" => {
            // A panic here would only drop the connection (retried by the watcher); a 400
            // is refused for good, so a gateway asking for the wrong snapshot fails the test.
            if !(query.contains("project=p") && query.contains("environment=prod")) {
                return error(400, &format!("unexpected snapshot query {query}"));
            }
            state.snapshot_requests.fetch_add(1, Ordering::SeqCst);
            let wait: u64 = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("wait="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            changed.borrow_and_update();
            let current = |state: &State| state.snapshot.lock().unwrap().clone();
            let mut snapshot = current(state);
            if snapshot.is_some() && snapshot.as_ref().map(|s| &s.version) == known.as_ref() {
                let waited =
                    tokio::time::timeout(Duration::from_secs(wait.min(60)), changed.changed())
                        .await;
                if waited.is_err() {
                    return reply(304, "");
                }
                snapshot = current(state);
            }
            match snapshot {
                None => error(404, "environment_not_configured"),
                Some(s) => {
                    let mut response = reply(200, &serde_json::to_string(&s).unwrap());
                    response
                        .headers_mut()
                        .insert("etag", format!("\"{}\"", s.version).parse().unwrap());
                    response
                }
            }
        }
        "/api/v1/traces" => {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let batch: TraceBatch = match serde_json::from_slice(&body) {
                Ok(batch) => batch,
                Err(e) => return error(400, &e.to_string()),
            };
            let accepted = batch.records.len();
            state
                .batches
                .lock()
                .unwrap()
                .push((batch.project, batch.environment, batch.gateway));
            state.traces.lock().unwrap().extend(batch.records);
            reply(202, &format!(r#"{{"accepted":{accepted},"duplicates":0}}"#))
        }
        _ => error(404, "not found"),
    }
}

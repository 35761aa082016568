//! Trace shipping: each finished request goes into a bounded queue with `try_send` (the
//! request path never waits; a full queue drops the record and counts it). A background
//! task turns records into [`TraceRecord`]s, batches them (at most [`MAX_BATCH`] or one
//! second) and posts them to the control plane with retries and exponential backoff.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use prometheus::IntCounter;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::control::{ControlPlane, PostReply};
use super::redact::redact_payload;
use super::trace_record::{TraceBatch, TraceRecord, TraceStatus};
use crate::civil_time::rfc3339;
use crate::openai::request::RequestDoc;
use crate::pipeline::record::RequestRecord;
use crate::pipeline::Gateway;
use crate::upstream::retry::equal_jitter_backoff;

/// Records per POST.
pub const MAX_BATCH: usize = 500;
/// How long the first record of a batch waits for company.
const BATCH_WINDOW: Duration = Duration::from_secs(1);
/// Attempts per batch before it is dropped.
const MAX_ATTEMPTS: u32 = 5;
const BASE_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// Decoding parameters copied into traces (chat/completions fields).
const DECODING_FIELDS: [&str; 10] = [
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "seed",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "n",
];

/// A request as it finished, waiting to become a trace record. The client's body stays
/// only when the snapshot allows payloads; otherwise what the record needs of it (stream
/// flag, decoding parameters) is taken out first, so a backed-up queue holds no bodies.
pub struct Finished {
    rec: RequestRecord,
    latency: Duration,
    ended_at: SystemTime,
    stream: bool,
    decoding: Option<Value>,
}

/// The request path's end of the queue.
pub struct TraceSink {
    tx: mpsc::Sender<Finished>,
}

impl TraceSink {
    pub fn channel(capacity: usize) -> (TraceSink, mpsc::Receiver<Finished>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (TraceSink { tx }, rx)
    }

    /// Queues the record without waiting; counts it in `dropped` when the queue is full.
    /// Called once the response is complete, so it adds nothing to the request's latency.
    pub fn offer(&self, mut rec: RequestRecord, dropped: &IntCounter) {
        let latency = rec.started.elapsed();
        let doc = rec
            .request_body
            .as_deref()
            .and_then(|body| RequestDoc::parse(body).ok());
        let stream = doc
            .as_ref()
            .and_then(|d| d.get::<bool>("stream").ok().flatten())
            .unwrap_or(false);
        let decoding = doc.as_ref().and_then(|doc| decoding(doc, rec.endpoint));
        drop(doc);
        if !rec.capture_payloads {
            rec.request_body = None;
        }
        let finished = Finished {
            latency,
            ended_at: SystemTime::now(),
            stream,
            decoding,
            rec,
        };
        if self.tx.try_send(finished).is_err() {
            dropped.inc();
        }
    }
}

/// Who the batches are from.
#[derive(Debug, Clone)]
pub struct ShipperIdentity {
    pub project: String,
    pub environment: String,
    pub gateway: String,
}

pub struct TraceShipper {
    pub gateway: Arc<Gateway>,
    pub control: Arc<ControlPlane>,
    pub identity: ShipperIdentity,
    queue: Mutex<Option<mpsc::Receiver<Finished>>>,
}

impl TraceShipper {
    pub fn new(
        gateway: Arc<Gateway>,
        control: Arc<ControlPlane>,
        identity: ShipperIdentity,
        queue: mpsc::Receiver<Finished>,
    ) -> Self {
        TraceShipper {
            gateway,
            control,
            identity,
            queue: Mutex::new(Some(queue)),
        }
    }

    /// Posts one batch, retrying with backoff; counts it shipped or dropped.
    async fn ship(&self, records: Vec<TraceRecord>) {
        let count = records.len() as u64;
        let batch = TraceBatch {
            project: self.identity.project.clone(),
            environment: self.identity.environment.clone(),
            gateway: self.identity.gateway.clone(),
            records,
        };
        let metrics = &self.gateway.metrics;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                let wait = equal_jitter_backoff(BASE_BACKOFF, MAX_BACKOFF, attempt - 1);
                tokio::time::sleep(wait).await;
            }
            match self.control.post_traces(&batch).await {
                Ok(PostReply::Accepted) => {
                    metrics.traces_shipped.inc_by(count);
                    return;
                }
                Ok(PostReply::Rejected { status, message }) => {
                    tracing::error!(%status, error = %message, count, "control plane refused a trace batch; dropped");
                    metrics.traces_dropped.inc_by(count);
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt = attempt + 1, count, "shipping traces failed");
                }
            }
        }
        tracing::error!(count, "trace batch dropped after {MAX_ATTEMPTS} attempts");
        metrics.traces_dropped.inc_by(count);
    }
}

#[async_trait]
impl BackgroundService for TraceShipper {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let queue = self.queue.lock().ok().and_then(|mut q| q.take());
        let Some(mut queue) = queue else {
            return;
        };
        loop {
            let first = tokio::select! {
                _ = shutdown.changed() => return,
                first = queue.recv() => first,
            };
            let Some(first) = first else { return };
            let mut batch = vec![trace_record(first)];
            let window = tokio::time::sleep(BATCH_WINDOW);
            tokio::pin!(window);
            while batch.len() < MAX_BATCH {
                tokio::select! {
                    () = &mut window => break,
                    next = queue.recv() => match next {
                        Some(next) => batch.push(trace_record(next)),
                        None => break,
                    },
                }
            }
            self.ship(batch).await;
        }
    }
}

/// The trace record of a finished request.
pub fn trace_record(finished: Finished) -> TraceRecord {
    let Finished {
        rec,
        latency,
        ended_at,
        stream,
        decoding,
    } = finished;
    let usage = rec.usage.unwrap_or_default();
    let status = if rec.client_disconnected {
        TraceStatus::Cancelled
    } else if rec.error.is_some() || rec.status >= 400 || rec.status == 0 {
        TraceStatus::Error
    } else {
        TraceStatus::Ok
    };
    let payload = |body: &Option<bytes::Bytes>| {
        body.as_deref()
            .filter(|_| rec.capture_payloads)
            .map(redact_payload)
    };
    TraceRecord {
        trace_id: rec.trace_id.clone(),
        started_at: rfc3339(ended_at.checked_sub(latency).unwrap_or(ended_at)),
        route: rec.route.clone().unwrap_or_default(),
        endpoint: endpoint_path(rec.endpoint).to_owned(),
        prompt: rec.prompt.as_ref().map(|p| p.prompt.name.clone()),
        prompt_version: rec.prompt.as_ref().map(|p| p.used.version),
        prompt_label: rec.prompt.as_ref().map(|p| p.prompt.label.clone()),
        variant: rec.prompt.as_ref().map(|p| p.variant().to_owned()),
        provider: rec.provider_kind.map(str::to_owned),
        model: rec.upstream_model.clone(),
        decoding,
        stream,
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        cached_tokens: usage.cached_tokens,
        reasoning_tokens: usage.reasoning_tokens,
        cost_usd: rec.cost_usd.unwrap_or(0.0),
        latency_ms: latency.as_secs_f64() * 1000.0,
        ttft_ms: rec.time_to_first_token.map(|d| d.as_secs_f64() * 1000.0),
        cache: "off".to_owned(),
        status,
        http_status: rec.status,
        error: rec.error.map(str::to_owned),
        request: payload(&rec.request_body),
        response: payload(&rec.response_body),
    }
}

fn decoding(doc: &RequestDoc<'_>, endpoint: &str) -> Option<Value> {
    if endpoint == "generate" {
        return doc.get::<Value>("decoding").ok().flatten();
    }
    let mut out = Map::new();
    for field in DECODING_FIELDS {
        if let Ok(Some(value)) = doc.get::<Value>(field) {
            out.insert(field.to_owned(), value);
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// The client path of a request's endpoint label.
fn endpoint_path(label: &str) -> &'static str {
    match label {
        "chat" => "/v1/chat/completions",
        "completions" => "/v1/completions",
        "embeddings" => "/v1/embeddings",
        "responses" => "/v1/responses",
        "models" => "/v1/models",
        "generate" => "/api/v1/generate",
        "passthrough" => "/v1/*",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn full_queue_drops_and_counts() {
        let (sink, _rx) = TraceSink::channel(2);
        let dropped = IntCounter::new("d", "d").unwrap();
        for _ in 0..5 {
            sink.offer(
                RequestRecord::new(Instant::now(), "t".into(), "chat"),
                &dropped,
            );
        }
        assert_eq!(dropped.get(), 3);
    }

    #[test]
    fn record_fields_and_payload_rules() {
        let mut rec = RequestRecord::new(Instant::now(), "trace-1".into(), "chat");
        rec.route = Some("support".into());
        rec.status = 200;
        rec.request_body = Some(bytes::Bytes::from_static(
            br#"{"model":"support","temperature":0.2,"stream":true,"messages":[{"role":"user","content":"me@x.org"}]}"#,
        ));
        rec.response_body = Some(bytes::Bytes::from_static(br#"{"ok":"call 555-123-4567"}"#));
        let (sink, mut rx) = TraceSink::channel(4);
        let dropped = IntCounter::new("d", "d").unwrap();
        sink.offer(rec, &dropped);
        let finished = rx.try_recv().unwrap();
        assert!(
            finished.rec.request_body.is_none(),
            "no body waits in the queue when payloads are off"
        );
        let record = trace_record(finished);
        assert_eq!(record.endpoint, "/v1/chat/completions");
        assert_eq!(record.route, "support");
        assert!(record.stream);
        assert_eq!(record.decoding.unwrap()["temperature"], 0.2);
        assert_eq!(record.status, TraceStatus::Ok);
        assert!(record.request.is_none() && record.response.is_none());

        let mut rec = RequestRecord::new(Instant::now(), "trace-2".into(), "chat");
        rec.status = 400;
        rec.error = Some("invalid_request_error");
        rec.capture_payloads = true;
        rec.request_body = Some(bytes::Bytes::from_static(br#"{"content":"me@x.org"}"#));
        sink.offer(rec, &dropped);
        let record = trace_record(rx.try_recv().unwrap());
        assert_eq!(record.status, TraceStatus::Error);
        assert_eq!(record.request.unwrap()["content"], "[REDACTED_EMAIL]");
    }
}

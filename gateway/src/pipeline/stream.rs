//! Relaying a server-sent-event stream: events go to the client as they arrive (those that
//! arrived together in one write), usage is read on the way and finalised at the end or when
//! the client goes away (estimated when the provider never reported it).

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use super::downstream::{Downstream, ResponseHead};
use super::exchange::{account, forwarded_headers, stream_error_event, PreparedRequest, Success};
use super::record::RequestRecord;
use super::respond::gateway_headers;
use crate::config::Snapshot;
use crate::openai::sse::{SseEvent, SseSplitter};
use crate::openai::usage::Usage;
use crate::providers::StreamTranslator;

/// Parses upstream bytes into events and translates them into client bytes.
struct EventPump {
    splitter: SseSplitter,
    events: Vec<SseEvent>,
    translator: Box<dyn StreamTranslator>,
    usage: Option<Usage>,
}

impl EventPump {
    /// Appends the client bytes for `chunk` to `out`; false when the upstream sent an event
    /// too large to buffer.
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> bool {
        self.events.clear();
        if self.splitter.push(chunk, &mut self.events).is_err() {
            return false;
        }
        for event in &self.events {
            self.translator.on_event(event, out, &mut self.usage);
        }
        true
    }
}

/// How reading the upstream ended.
enum End {
    Complete,
    Failed(String),
}

pub async fn relay<D: Downstream>(
    snapshot: &Snapshot,
    prepared: &PreparedRequest,
    success: Success<'_>,
    down: &mut D,
    rec: &mut RequestRecord,
) {
    let provider = success.target.provider.clone();
    let idle = provider.timeouts().idle;
    let mut pump = EventPump {
        splitter: SseSplitter::new(),
        events: Vec::with_capacity(8),
        translator: provider.stream_translator(prepared.endpoint, prepared.inject_usage),
        usage: None,
    };
    let mut body = success.response.body;
    let mut headers = gateway_headers(rec);
    headers.extend(forwarded_headers(&success.response.headers));
    headers.push((
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    ));
    let head = ResponseHead {
        status: StatusCode::OK,
        content_type: "text/event-stream",
        content_length: None,
        headers,
    };
    rec.status = 200;
    if down.send_head(head).await.is_err() {
        rec.client_disconnected = true;
    }
    let mut next = success.first_chunk.map(|c| Ok(Some(c)));
    let mut end = None;
    while end.is_none() && !rec.client_disconnected {
        let waited = std::time::Instant::now();
        let chunk = match next.take() {
            Some(ready) => ready,
            None => body.next_chunk(idle).await,
        };
        rec.upstream_time += waited.elapsed();
        let mut out = Vec::with_capacity(1024);
        // This chunk, then whatever else has already arrived, go out in one write.
        let mut current = chunk;
        loop {
            match current {
                Ok(Some(chunk)) => {
                    if !pump.push(&chunk, &mut out) {
                        end = Some(End::Failed("upstream event too large".into()));
                        break;
                    }
                }
                Ok(None) => {
                    end = Some(End::Complete);
                    break;
                }
                Err(err) => {
                    end = Some(End::Failed(err.to_string()));
                    break;
                }
            }
            // Let the connection task read what the upstream has already sent.
            tokio::task::yield_now().await;
            match body.ready_chunk() {
                Some(ready) => current = ready,
                None => break,
            }
        }
        if let Some(End::Failed(message)) = &end {
            tracing::warn!(provider = provider.name(), error = %message, "upstream stream failed");
            rec.error = Some("upstream_stream");
            out.extend_from_slice(&stream_error_event(message));
        }
        let last = end.is_some();
        if last {
            // An unterminated last event is forwarded as it came.
            out.extend_from_slice(pump.splitter.pending());
        }
        if !out.is_empty() || last {
            if !out.is_empty() && rec.time_to_first_token.is_none() {
                rec.time_to_first_token = Some(rec.started.elapsed());
            }
            // The last bytes and the end of the body go out in one write.
            if down.send_body(Bytes::from(out), last).await.is_err() {
                rec.client_disconnected = true;
            }
        }
    }
    let usage = pump.usage.unwrap_or_else(|| Usage {
        // The provider never reported usage (client left or stream cut): estimate it from
        // the request size (~4 bytes a token) and the content events relayed (~1 token each).
        prompt_tokens: (prepared.body.len() as u64).div_ceil(4),
        completion_tokens: pump.translator.content_events(),
        estimated: true,
        ..Usage::default()
    });
    account(snapshot, rec, &success.upstream_model, usage);
}

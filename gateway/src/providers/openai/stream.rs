//! OpenAI streams pass through byte for byte; the translator only reads usage and, when the
//! gateway asked for usage the client did not, strips it back out.

use bytes::Bytes;

use crate::openai::sse::SseEvent;
use crate::openai::usage::Usage;
use crate::providers::{Endpoint, StreamTranslator};

pub struct PassThrough {
    endpoint: Endpoint,
    strip_usage: bool,
    content_events: u64,
}

impl PassThrough {
    pub fn new(endpoint: Endpoint, strip_usage: bool) -> Self {
        PassThrough {
            endpoint,
            strip_usage,
            content_events: 0,
        }
    }
}

impl StreamTranslator for PassThrough {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>, usage: &mut Option<Usage>) {
        if event.data.is_empty() || event.is_done() {
            out.extend_from_slice(&event.raw);
            return;
        }
        if let Some(found) = Usage::from_stream_event(&event.data) {
            *usage = Some(found);
            if self.strip_usage && has_empty_choices(&event.data) {
                return;
            }
        } else if !has_empty_choices(&event.data) {
            // Chunks with empty `choices` (Azure's prompt-filter results) carry no content.
            self.content_events += 1;
        }
        if self.strip_usage && self.endpoint.has_stream_usage_option() {
            if let Some(stripped) = strip_usage_null(&event.raw) {
                out.extend_from_slice(&stripped);
                return;
            }
        }
        out.extend_from_slice(&event.raw);
    }

    fn content_events(&self) -> u64 {
        self.content_events
    }
}

/// The final usage chunk of a chat stream (and Azure's prompt-filter chunk) has empty `choices`.
fn has_empty_choices(data: &[u8]) -> bool {
    memchr::memmem::find(data, b"\"choices\":[]").is_some()
        || memchr::memmem::find(data, b"\"choices\": []").is_some()
}

/// With `include_usage`, every chunk carries `"usage":null`; remove it so the client sees
/// what it would have seen without the option.
fn strip_usage_null(raw: &Bytes) -> Option<Vec<u8>> {
    for needle in [
        &b",\"usage\":null"[..],
        b", \"usage\": null",
        b"\"usage\":null,",
    ] {
        if let Some(pos) = memchr::memmem::find(raw, needle) {
            let mut out = Vec::with_capacity(raw.len());
            out.extend_from_slice(&raw[..pos]);
            out.extend_from_slice(&raw[pos + needle.len()..]);
            return Some(out);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::sse::SseSplitter;

    fn run(strip: bool, stream: &[u8]) -> (Vec<u8>, Option<Usage>, u64) {
        let mut splitter = SseSplitter::new();
        let mut events = Vec::new();
        splitter.push(stream, &mut events).unwrap();
        let mut t = PassThrough::new(Endpoint::ChatCompletions, strip);
        let mut out = Vec::new();
        let mut usage = None;
        for e in &events {
            t.on_event(e, &mut out, &mut usage);
        }
        (out, usage, t.content_events())
    }

    const WITH_USAGE: &[u8] =
        b"data: {\"id\":\"1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n\
data: {\"id\":\"1\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n\
data: [DONE]\n\n";

    #[test]
    fn client_asked_for_usage_sees_everything() {
        let (out, usage, events) = run(false, WITH_USAGE);
        assert_eq!(out, WITH_USAGE);
        assert_eq!(usage.unwrap().prompt_tokens, 3);
        assert_eq!(events, 1);
    }

    #[test]
    fn injected_usage_is_recorded_and_stripped() {
        let (out, usage, _) = run(true, WITH_USAGE);
        assert_eq!(usage.unwrap().completion_tokens, 1);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "data: {\"id\":\"1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n"
        );
    }
}

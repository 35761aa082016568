//! Tests of the Anthropic provider against the documented wire format (fixtures/).

mod config;
mod error;
mod request;
mod response;
mod stream;

use serde_json::Value;

use crate::openai::sse::SseSplitter;
use crate::openai::usage::Usage;
use crate::providers::StreamTranslator;

const MESSAGE_TEXT: &str = include_str!("fixtures/message_text.json");
const MESSAGE_TOOL_USE: &str = include_str!("fixtures/message_tool_use.json");
const MESSAGE_JSON_TOOL: &str = include_str!("fixtures/message_json_tool.json");
const STREAM_TEXT: &str = include_str!("fixtures/stream_text.sse");
const STREAM_TOOL_USE: &str = include_str!("fixtures/stream_tool_use.sse");
const STREAM_JSON_TOOL: &str = include_str!("fixtures/stream_json_tool.sse");
const STREAM_OVERLOADED: &str = include_str!("fixtures/stream_overloaded.sse");
const ERROR_RATE_LIMIT: &str = include_str!("fixtures/error_rate_limit.json");
const ERROR_OVERLOADED: &str = include_str!("fixtures/error_overloaded.json");
const ERROR_PROMPT_TOO_LONG: &str = include_str!("fixtures/error_prompt_too_long.json");
const ERROR_INVALID_REQUEST: &str = include_str!("fixtures/error_invalid_request.json");
const ERROR_AUTHENTICATION: &str = include_str!("fixtures/error_authentication.json");
const ERROR_NOT_FOUND: &str = include_str!("fixtures/error_not_found.json");

/// What a client gets from a translated stream.
struct Streamed {
    /// The raw client bytes.
    text: String,
    /// The data of every event, `[DONE]` as the string "[DONE]".
    events: Vec<Value>,
    usage: Option<Usage>,
    content_events: u64,
}

/// Feeds `upstream` to a translator in pieces split at `cuts`.
fn stream_with_cuts(upstream: &str, strip_usage: bool, cuts: &[usize]) -> Streamed {
    let mut translator = super::stream::Translator::new(strip_usage);
    let mut splitter = SseSplitter::new();
    let mut out = Vec::new();
    let mut usage = None;
    let mut start = 0;
    for end in cuts.iter().copied().chain([upstream.len()]) {
        let mut events = Vec::new();
        splitter
            .push(&upstream.as_bytes()[start..end], &mut events)
            .unwrap();
        for event in &events {
            translator.on_event(event, &mut out, &mut usage);
        }
        start = end;
    }
    let text = String::from_utf8(out).unwrap();
    let events = text
        .split_terminator("\n\n")
        .map(|event| {
            let data = event
                .strip_prefix("data: ")
                .expect("every event is one data line");
            if data == "[DONE]" {
                Value::String(data.into())
            } else {
                serde_json::from_str(data).unwrap()
            }
        })
        .collect();
    Streamed {
        text,
        events,
        usage,
        content_events: translator.content_events(),
    }
}

fn stream(upstream: &str, strip_usage: bool) -> Streamed {
    stream_with_cuts(upstream, strip_usage, &[])
}

//! Streamed chat completions: `chat.completion.chunk` events, one per memory chunk.

use bytes::Bytes;
use serde_json::{json, Value};

use super::chat::{self, Answer, Chat};
use super::request::{self, Ctx};
use super::text;

/// Bytes of tool-call arguments per streamed fragment.
const ARGUMENT_FRAGMENT: usize = 8;

/// The SSE events of a streamed chat completion, `data: [DONE]` included.
pub(super) fn chat(chat: &Chat, ctx: &Ctx<'_>) -> Vec<Bytes> {
    let id = format!("chatcmpl-mock-{}", ctx.hash);
    let chunk = |choice: Value| {
        let mut chunk = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": ctx.created,
            "model": chat.model,
            "system_fingerprint": "fp_mock",
            "choices": [choice],
        });
        if chat.include_usage {
            chunk["usage"] = Value::Null;
        }
        request::sse(&chunk)
    };
    let choice = |index: usize, delta: Value, logprobs: Value| json!({"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": null});
    let mut events = Vec::new();
    let first_content = match chat.answer {
        Answer::Text { .. } => json!(""),
        Answer::Tools(_) => Value::Null,
    };
    for index in 0..chat.n {
        let delta = json!({"role": "assistant", "content": first_content});
        events.push(chunk(choice(index, delta, Value::Null)));
    }
    match &chat.answer {
        Answer::Text { content, .. } => {
            let words = text::words(content);
            for group in words.chunks(ctx.words_per_chunk.max(1)) {
                let delta = json!({"content": group.concat()});
                let logprobs = match chat.logprobs {
                    Some(top) => chat::logprobs(group, top),
                    None => Value::Null,
                };
                for index in 0..chat.n {
                    events.push(chunk(choice(index, delta.clone(), logprobs.clone())));
                }
            }
        }
        Answer::Tools(calls) => {
            for (i, call) in calls.iter().enumerate() {
                let head = json!({"tool_calls": [{
                    "index": i,
                    "id": format!("call_mock_{i}"),
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }]});
                for index in 0..chat.n {
                    events.push(chunk(choice(index, head.clone(), Value::Null)));
                }
                for fragment in text::fragments(&call.arguments, ARGUMENT_FRAGMENT) {
                    let delta = json!({"tool_calls": [{
                        "index": i,
                        "function": {"arguments": fragment},
                    }]});
                    for index in 0..chat.n {
                        events.push(chunk(choice(index, delta.clone(), Value::Null)));
                    }
                }
            }
        }
    }
    for index in 0..chat.n {
        events.push(chunk(json!({
            "index": index,
            "delta": {},
            "logprobs": null,
            "finish_reason": chat.finish_reason(),
        })));
    }
    if chat.include_usage {
        events.push(request::sse(&json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": ctx.created,
            "model": chat.model,
            "system_fingerprint": "fp_mock",
            "choices": [],
            "usage": chat.usage(),
        })));
    }
    events.push(request::done());
    events
}

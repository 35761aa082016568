use serde_json::{json, Value};

use super::fixture;
use crate::openai::sse::SseSplitter;
use crate::openai::usage::Usage;
use crate::providers::gemini::stream::GeminiStream;
use crate::providers::StreamTranslator;

/// What a client receives for a Gemini stream.
struct Seen {
    chunks: Vec<Value>,
    done: bool,
    usage: Option<Usage>,
    content_events: u64,
}

/// Runs Gemini's SSE bytes through the translator, split at `split` to show that an event
/// cut across reads is handled.
fn run(include_usage: bool, stream: &[u8], split: usize) -> Seen {
    let mut splitter = SseSplitter::new();
    let mut translator = GeminiStream::new(include_usage);
    let mut out = Vec::new();
    let mut usage = None;
    for piece in [&stream[..split], &stream[split..]] {
        let mut events = Vec::new();
        splitter.push(piece, &mut events).unwrap();
        for e in &events {
            translator.on_event(e, &mut out, &mut usage);
        }
    }
    let text = String::from_utf8(out).unwrap();
    let mut chunks = Vec::new();
    let mut done = false;
    for event in text.split("\n\n").filter(|e| !e.is_empty()) {
        let data = event.strip_prefix("data: ").unwrap();
        assert!(!done, "nothing follows [DONE]");
        if data == "[DONE]" {
            done = true;
        } else {
            chunks.push(serde_json::from_str(data).unwrap());
        }
    }
    Seen {
        chunks,
        done,
        usage,
        content_events: translator.content_events(),
    }
}

fn sse(events: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        out.extend_from_slice(format!("data: {e}\r\n\r\n").as_bytes());
    }
    out
}

#[test]
fn text_stream_gives_openai_chunks_usage_and_done() {
    let stream = fixture("text_stream.sse").as_bytes();
    for split in [0, 7, stream.len() / 2, stream.len()] {
        let seen = run(true, stream, split);
        assert!(seen.done);
        let created = seen.chunks[0]["created"].clone();
        let chunk = |choices: Value, usage: Value| {
            json!({"id": "chatcmpl-IZI2acSKMoWl0-kPmYj2yQc", "object": "chat.completion.chunk",
                "created": created, "model": "gemini-2.5-flash", "choices": choices, "usage": usage})
        };
        let delta = |delta: Value, finish: Value| {
            chunk(
                json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]),
                Value::Null,
            )
        };
        assert_eq!(
            seen.chunks,
            vec![
                delta(json!({"role": "assistant", "content": ""}), Value::Null),
                delta(json!({"content": "Okay, here is a haiku"}), Value::Null),
                delta(
                    json!({"content": " about the sea:\n\nWaves fold into foam,"}),
                    Value::Null
                ),
                delta(
                    json!({"content": "\nsalt wind carries gull voices,\ntide keeps its own time."}),
                    Value::Null
                ),
                delta(json!({}), json!("stop")),
                chunk(
                    json!([]),
                    json!({"prompt_tokens": 4, "completion_tokens": 31 + 2042, "total_tokens": 2077,
                        "prompt_tokens_details": {"cached_tokens": 0},
                        "completion_tokens_details": {"reasoning_tokens": 2042}})
                ),
            ],
            "split at {split}"
        );
        let usage = seen.usage.unwrap();
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.reasoning_tokens
            ),
            (4, 2073, 2042)
        );
        assert_eq!(seen.content_events, 3);
    }
}

#[test]
fn usage_is_recorded_but_not_shown_unless_asked() {
    let seen = run(false, fixture("text_stream.sse").as_bytes(), 0);
    assert!(seen.done);
    assert!(seen.chunks.iter().all(|c| c.get("usage").is_none()));
    assert!(seen
        .chunks
        .iter()
        .all(|c| !c["choices"].as_array().unwrap().is_empty()));
    assert_eq!(seen.usage.unwrap().prompt_tokens, 4);
}

#[test]
fn function_calls_stream_as_openai_tool_call_deltas() {
    let seen = run(false, fixture("function_call_stream.sse").as_bytes(), 0);
    assert!(seen.done);
    let deltas: Vec<&Value> = seen
        .chunks
        .iter()
        .map(|c| &c["choices"][0]["delta"])
        .collect();
    assert_eq!(deltas[0], &json!({"role": "assistant", "content": ""}));
    let calls: Vec<&Value> = deltas[1..5].iter().map(|d| &d["tool_calls"][0]).collect();
    let id = calls[0]["id"].as_str().unwrap();
    assert!(id.starts_with("call_"), "{id}");
    assert_eq!(
        calls[0],
        &json!({"index": 0, "id": id, "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
            "extra_content": {"google": {"thought_signature": "CikBcsjafFK168IbtVtoxVV0Tsn8O+eU45rzJahzwuKGmMbdMdfpmNpg"}}})
    );
    assert_eq!(
        calls[1],
        &json!({"index": 0, "function": {"arguments": "{\"location\":\"Tokyo\"}"}})
    );
    assert_eq!(calls[2]["index"], 1);
    assert_eq!(calls[2]["function"]["name"], "get_time");
    assert_ne!(calls[2]["id"], calls[0]["id"]);
    assert_eq!(
        calls[3],
        &json!({"index": 1, "function": {"arguments": "{\"timezone\":\"Asia/Tokyo\"}"}})
    );
    let last = seen.chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(seen.usage.unwrap().completion_tokens, 14 + 104);
}

#[test]
fn several_candidates_end_when_all_finished() {
    let events = [
        json!({"candidates": [
            {"content": {"parts": [{"text": "a"}], "role": "model"}, "index": 0},
            {"content": {"parts": [{"text": "b"}], "role": "model"}, "index": 1}]}),
        json!({"candidates": [
            {"content": {"parts": [{"text": "!"}], "role": "model"}, "finishReason": "STOP", "index": 0},
            {"content": {"parts": [{"text": "?"}], "role": "model"}, "index": 1}]}),
        json!({"candidates": [
            {"content": {"parts": [], "role": "model"}, "finishReason": "MAX_TOKENS", "index": 1}],
            "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 4, "totalTokenCount": 5}}),
    ];
    let seen = run(false, &sse(&events), 0);
    assert!(seen.done);
    let roles = seen
        .chunks
        .iter()
        .filter(|c| c["choices"][0]["delta"]["role"] == "assistant")
        .count();
    assert_eq!(roles, 2);
    let finishes: Vec<(u64, &str)> = seen
        .chunks
        .iter()
        .filter_map(|c| {
            let choice = &c["choices"][0];
            choice["finish_reason"]
                .as_str()
                .map(|r| (choice["index"].as_u64().unwrap(), r))
        })
        .collect();
    assert_eq!(finishes, vec![(0, "stop"), (1, "length")]);
    assert_eq!(seen.usage.unwrap().total_tokens(), 5);
}

#[test]
fn blocked_prompt_is_a_content_filter_finish() {
    let blocked: Value = serde_json::from_str(fixture("blocked.json")).unwrap();
    let seen = run(true, &sse(&[blocked]), 0);
    assert!(seen.done);
    assert_eq!(seen.chunks.len(), 3);
    assert_eq!(
        seen.chunks[1]["choices"][0]["finish_reason"],
        "content_filter"
    );
    assert_eq!(seen.chunks[2]["usage"]["prompt_tokens"], 12);
}

#[test]
fn an_error_event_ends_the_stream_without_done() {
    let error: Value = serde_json::from_str(fixture("error_503.json")).unwrap();
    let events = [
        json!({"candidates": [{"content": {"parts": [{"text": "a"}], "role": "model"}, "index": 0}]}),
        error,
        json!({"candidates": [{"content": {"parts": [{"text": "ignored"}], "role": "model"}, "index": 0}]}),
    ];
    let seen = run(true, &sse(&events), 0);
    assert!(!seen.done);
    assert!(seen.usage.is_none());
    let error = seen.chunks.last().unwrap();
    assert_eq!(
        error["error"]["message"],
        "The model is overloaded. Please try again later."
    );
    assert_eq!(error["error"]["type"], "server_error");
    assert!(seen
        .chunks
        .iter()
        .all(|c| c["choices"][0]["delta"]["content"] != "ignored"));
}

#[test]
fn a_cut_stream_reports_no_usage_and_no_done() {
    let stream = fixture("text_stream.sse").as_bytes();
    let first_event = stream.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let seen = run(true, &stream[..first_event], 0);
    assert!(!seen.done);
    assert!(
        seen.usage.is_none(),
        "usage is final only once every choice finished"
    );
    assert_eq!(seen.content_events, 1);
    // Text that merely mentions "error" is content, not an error event.
    let events = [
        json!({"candidates": [{"content": {"parts": [{"text": "an \"error\" here"}]}, "finishReason": "STOP"}]}),
    ];
    let seen = run(false, &sse(&events), 0);
    assert!(seen.done);
    assert_eq!(
        seen.chunks[1]["choices"][0]["delta"]["content"],
        "an \"error\" here"
    );
}

use serde_json::{json, Value};

use super::{
    stream, stream_with_cuts, STREAM_JSON_TOOL, STREAM_OVERLOADED, STREAM_TEXT, STREAM_TOOL_USE,
};
use crate::openai::usage::Usage;

/// The event with the id, object, created and model fields every chunk shares checked and
/// removed.
fn choices_and_usage(event: &Value, id: &str, model: &str) -> Value {
    assert_eq!(event["id"], id);
    assert_eq!(event["object"], "chat.completion.chunk");
    assert_eq!(event["model"], model);
    assert!(event["created"].as_u64().unwrap() > 1_700_000_000);
    let mut rest = event.clone();
    for key in ["id", "object", "created", "model"] {
        rest.as_object_mut().unwrap().remove(key);
    }
    rest
}

#[test]
fn text_stream_with_usage_for_the_client() {
    let out = stream(STREAM_TEXT, false);
    let id = "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY";
    let model = "claude-sonnet-4-5-20250929";
    let rest: Vec<Value> = out.events[..out.events.len() - 1]
        .iter()
        .map(|e| choices_and_usage(e, id, model))
        .collect();
    let choice = |delta: Value, finish: Value| json!({"choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}], "usage": null});
    assert_eq!(
        rest,
        vec![
            choice(json!({"role": "assistant", "content": ""}), Value::Null),
            choice(json!({"content": "Hello"}), Value::Null),
            choice(json!({"content": ", \"world\"!\n"}), Value::Null),
            choice(json!({}), json!("stop")),
            json!({"choices": [], "usage": {
                "prompt_tokens": 335, "completion_tokens": 15, "total_tokens": 350,
                "prompt_tokens_details": {"cached_tokens": 300},
                "completion_tokens_details": {"reasoning_tokens": 0}
            }}),
        ]
    );
    assert_eq!(out.events.last().unwrap(), "[DONE]");
    assert!(out.text.ends_with("data: [DONE]\n\n"));
    assert_eq!(
        out.usage.unwrap(),
        Usage {
            prompt_tokens: 335,
            completion_tokens: 15,
            cached_tokens: 300,
            reasoning_tokens: 0,
            estimated: false
        }
    );
    assert_eq!(out.content_events, 2);
    // The pipeline reads the same usage back from the client bytes.
    let usage_chunk = serde_json::to_vec(&out.events[out.events.len() - 2]).unwrap();
    assert_eq!(Usage::from_stream_event(&usage_chunk), out.usage);
}

#[test]
fn usage_the_client_did_not_ask_for_is_recorded_not_sent() {
    let out = stream(STREAM_TEXT, true);
    assert_eq!(out.events.len(), 5, "{}", out.text);
    assert!(!out.text.contains("usage"));
    assert_eq!(out.events[3]["choices"][0]["finish_reason"], "stop");
    assert_eq!(out.usage.unwrap().prompt_tokens, 335);
}

#[test]
fn tool_call_deltas_as_openai_streams_them() {
    let out = stream(STREAM_TOOL_USE, true);
    let deltas: Vec<Value> = out
        .events
        .iter()
        .filter(|e| e.is_object())
        .map(|e| e["choices"][0]["delta"].clone())
        .collect();
    assert_eq!(
        deltas,
        vec![
            json!({"role": "assistant", "content": ""}),
            json!({"content": "Okay, let me check"}),
            json!({"content": " the weather."}),
            json!({"tool_calls": [{"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
                "function": {"name": "get_weather", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"location\":"}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": " \"San Francisco, CA\"}"}}]}),
            json!({"tool_calls": [{"index": 1, "id": "toolu_01PZ4dCUhYQf2pqZBS8JXYJP", "type": "function",
                "function": {"name": "get_time", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 1, "function": {"arguments": "{\"timezone\": \"America/Los_Angeles\"}"}}]}),
            json!({}),
        ]
    );
    assert_eq!(
        out.events[out.events.len() - 2]["choices"][0]["finish_reason"],
        "tool_calls"
    );
    assert_eq!(out.events.last().unwrap(), "[DONE]");
    let usage = out.usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (472, 89));
    assert_eq!(out.content_events, 5);
}

#[test]
fn json_tool_streams_as_content() {
    let out = stream(STREAM_JSON_TOOL, true);
    let content: String = out
        .events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "{\"answer\": \"Paris\"}");
    assert!(!out.text.contains("tool_calls"));
    assert_eq!(
        out.events[out.events.len() - 2]["choices"][0]["finish_reason"],
        "stop"
    );
}

#[test]
fn error_event_becomes_an_openai_error_event() {
    let out = stream(STREAM_OVERLOADED, true);
    let last = out.events.last().unwrap();
    assert_eq!(
        last,
        &json!({"error": {"message": "Overloaded", "type": "server_error", "param": null, "code": "overloaded"}})
    );
    assert!(!out.text.contains("[DONE]"));
    // Cut short: the prompt tokens are Anthropic's, the completion an estimate.
    let usage = out.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.estimated
        ),
        (30, 1, true)
    );
}

#[test]
fn every_split_point_gives_the_same_bytes() {
    for upstream in [STREAM_TEXT, STREAM_TOOL_USE] {
        let whole = stream(upstream, false);
        for cut in 1..upstream.len() {
            let split = stream_with_cuts(upstream, false, &[cut]);
            // `created` is a clock reading: compare what does not depend on it.
            assert_eq!(split.events.len(), whole.events.len(), "cut at {cut}");
            for (a, b) in split.events.iter().zip(&whole.events) {
                assert_eq!(a.get("choices"), b.get("choices"), "cut at {cut}");
            }
            assert_eq!(split.usage, whole.usage);
        }
    }
}

#[test]
fn unknown_and_malformed_events_are_skipped() {
    let upstream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":3}}}\n\n\
: comment\n\n\
data: not json\n\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hmm\"}}\n\n\
data: {\"type\":\"content_block_delta\",\"index\":7,\"delta\":{\"type\":\"text_delta\",\"text\":\"orphan\"}}\n\n\
data: {\"type\":\"brand_new_event\",\"x\":1}\n\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{\"output_tokens\":4}}\n\n\
data: {\"type\":\"message_stop\"}\n\n";
    let out = stream(upstream, true);
    assert_eq!(out.events.len(), 3, "{}", out.text);
    assert_eq!(out.events[1]["choices"][0]["finish_reason"], "length");
    let usage = out.usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (3, 4));
}

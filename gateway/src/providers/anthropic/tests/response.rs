use serde_json::{json, Value};

use super::{MESSAGE_JSON_TOOL, MESSAGE_TEXT, MESSAGE_TOOL_USE};
use crate::openai::usage::Usage;
use crate::providers::anthropic::response::translate;

fn openai(anthropic: &str) -> Value {
    serde_json::from_slice(&translate(anthropic.as_bytes()).unwrap()).unwrap()
}

#[test]
fn text_message_with_cache_usage() {
    let out = openai(MESSAGE_TEXT);
    assert!(out["created"].as_u64().unwrap() > 1_700_000_000);
    let mut expected = json!({
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "object": "chat.completion",
        "model": "claude-sonnet-4-5-20250929",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help you today?", "refusal": null},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": 2160, "completion_tokens": 11, "total_tokens": 2171,
            "prompt_tokens_details": {"cached_tokens": 2048},
            "completion_tokens_details": {"reasoning_tokens": 0}
        }
    });
    expected["created"] = out["created"].clone();
    assert_eq!(out, expected);
    let body = translate(MESSAGE_TEXT.as_bytes()).unwrap();
    assert_eq!(
        Usage::from_body(&body).unwrap(),
        Usage {
            prompt_tokens: 2160,
            completion_tokens: 11,
            cached_tokens: 2048,
            reasoning_tokens: 0,
            estimated: false
        }
    );
}

#[test]
fn tool_use_becomes_tool_calls() {
    let out = openai(MESSAGE_TOOL_USE);
    let choice = &out["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(
        choice["message"]["content"],
        "I'll check the weather in both cities."
    );
    assert_eq!(
        choice["message"]["tool_calls"],
        json!([
            {"id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"location\": \"San Francisco, CA\", \"unit\": \"celsius\"}"}},
            {"id": "toolu_01B18r81rx81mr826946mr8", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"location\": \"New York, NY\", \"unit\": \"celsius\"}"}}
        ])
    );
    let args: Value = serde_json::from_str(
        choice["message"]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(args["unit"], "celsius");
    assert_eq!(out["usage"]["prompt_tokens"], 472);
}

#[test]
fn json_tool_call_is_the_content() {
    let out = openai(MESSAGE_JSON_TOOL);
    let choice = &out["choices"][0];
    assert_eq!(choice["finish_reason"], "stop");
    assert!(choice["message"].get("tool_calls").is_none());
    let content: Value =
        serde_json::from_str(choice["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(content, json!({"answer": "Paris", "confidence": 0.98}));
}

#[test]
fn stop_reasons() {
    for (stop_reason, finish) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
    ] {
        let body = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "c",
            "content": [], "stop_reason": stop_reason, "stop_sequence": null,
            "usage": {"input_tokens": 1, "output_tokens": 0}});
        let out = openai(&body.to_string());
        assert_eq!(out["choices"][0]["finish_reason"], finish, "{stop_reason}");
        assert_eq!(out["choices"][0]["message"]["content"], "");
    }
}

#[test]
fn only_tool_calls_means_null_content_and_bad_bodies_are_errors() {
    let body = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "c",
        "content": [{"type": "thinking", "thinking": "hmm", "signature": "x"},
                    {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 2}});
    let out = openai(&body.to_string());
    assert_eq!(out["choices"][0]["message"]["content"], Value::Null);
    assert_eq!(
        out["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        "{}"
    );
    assert!(translate(b"<html>").is_err());
    assert!(translate(br#"{"type":"error"}"#).is_err());
}

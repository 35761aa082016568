use serde_json::{json, Value};

use super::{fixture, json};
use crate::openai::usage::Usage;
use crate::providers::gemini::response::translate;

fn openai(gemini: &str) -> Value {
    json(&translate(gemini.as_bytes()).unwrap())
}

#[test]
fn text_answer_with_usage() {
    let out = openai(fixture("text.json"));
    assert!(out["created"].as_u64().unwrap() > 0);
    let created = out["created"].clone();
    assert_eq!(
        out,
        json!({
            "id": "chatcmpl-qJA2aYTDIMWZvr0PlLSQyAs",
            "object": "chat.completion",
            "created": created,
            "model": "gemini-2.5-flash",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "The capital of France is **Paris**.", "refusal": null},
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": {
                "prompt_tokens": 8, "completion_tokens": 37, "total_tokens": 45,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 28}
            }
        })
    );
    let usage = Usage::from_body(&serde_json::to_vec(&out).unwrap()).unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.reasoning_tokens
        ),
        (8, 37, 28)
    );
}

#[test]
fn function_calls_become_tool_calls() {
    let out = openai(fixture("function_call.json"));
    let choice = &out["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"location": "Tokyo", "unit": "celsius"}));
    assert!(calls[0]["extra_content"]["google"]["thought_signature"]
        .as_str()
        .unwrap()
        .starts_with("CikBcsja"));
    assert!(calls[1].get("extra_content").is_none());
    let (a, b) = (
        calls[0]["id"].as_str().unwrap(),
        calls[1]["id"].as_str().unwrap(),
    );
    assert!(a.starts_with("call_") && a.ends_with("_0"), "{a}");
    assert!(b.starts_with("call_") && b.ends_with("_1"), "{b}");
    assert_eq!(out["usage"]["prompt_tokens_details"]["cached_tokens"], 64);
    assert_eq!(out["usage"]["completion_tokens"], 14 + 104);
    // Ids differ between responses, so several turns never reuse one.
    let again = openai(fixture("function_call.json"));
    assert_ne!(again["choices"][0]["message"]["tool_calls"][0]["id"], a);
}

#[test]
fn thoughts_are_left_out() {
    let out = openai(
        r#"{"candidates":[{"content":{"parts":[{"text":"**Planning**","thought":true},{"text":"Hi"}],"role":"model"},"finishReason":"STOP","index":0}]}"#,
    );
    assert_eq!(out["choices"][0]["message"]["content"], "Hi");
    assert!(out.get("usage").is_none());
}

#[test]
fn finish_reasons() {
    for (gemini, reason) in [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("OTHER", "stop"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
    ] {
        let body = json!({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": gemini}]});
        let out = openai(&body.to_string());
        assert_eq!(out["choices"][0]["finish_reason"], reason, "{gemini}");
    }
    // A safety stop may have no content at all.
    let out = openai(r#"{"candidates":[{"finishReason":"SAFETY","index":0}]}"#);
    assert_eq!(out["choices"][0]["message"]["content"], "");
}

#[test]
fn several_candidates_are_choices() {
    let out = openai(
        r#"{"candidates":[
        {"content":{"parts":[{"text":"a"}],"role":"model"},"finishReason":"STOP","index":0},
        {"content":{"parts":[{"text":"b"}],"role":"model"},"finishReason":"MAX_TOKENS","index":1}]}"#,
    );
    assert_eq!(out["choices"][1]["index"], 1);
    assert_eq!(out["choices"][1]["message"]["content"], "b");
    assert_eq!(out["choices"][1]["finish_reason"], "length");
}

#[test]
fn blocked_prompt_is_a_content_filter_choice() {
    let out = openai(fixture("blocked.json"));
    assert_eq!(out["choices"].as_array().unwrap().len(), 1);
    assert_eq!(out["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(out["choices"][0]["message"]["content"], "");
    assert_eq!(out["usage"]["prompt_tokens"], 12);
    assert_eq!(out["usage"]["completion_tokens"], 0);
    assert_eq!(out["id"], "chatcmpl-8JM2aarWBcKHvr0P2ePsoAs");
}

#[test]
fn non_gemini_bodies_are_left_alone() {
    assert!(translate(b"not json").is_none());
    assert!(translate(b"\"text\"").is_none());
}

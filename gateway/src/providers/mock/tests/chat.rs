use serde_json::{json, Value};

use super::tools::weather_tools;
use super::*;

#[test]
fn echo_answers_the_last_user_message_like_openai() {
    let body = json!({"model": "gpt-test", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "Hello there, world"}
    ]});
    let answer = chat(&body);
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type(), "application/json");
    let v = answer.json();
    let id = v["id"].as_str().unwrap();
    let hash = id.strip_prefix("chatcmpl-mock-").unwrap();
    assert_eq!(hash.len(), 16);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        answer.headers["x-request-id"],
        format!("req_mock_{hash}").as_str()
    );
    assert_eq!(v["object"], "chat.completion");
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["model"], "gpt-test");
    assert_eq!(v["system_fingerprint"], "fp_mock");
    let choices = v["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 1);
    assert_eq!(choices[0]["index"], 0);
    assert_eq!(
        choices[0]["message"],
        json!({"role": "assistant", "content": "Hello there, world", "refusal": null})
    );
    assert!(choices[0]["logprobs"].is_null());
    assert_eq!(choices[0]["finish_reason"], "stop");
    // (3 + 3) + (3 + 2) + (3 + 1) + (3 + 5)
    let prompt = 6 + 5 + 4 + 8;
    assert_eq!(
        v["usage"],
        json!({
            "prompt_tokens": prompt, "completion_tokens": 3, "total_tokens": prompt + 3,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0}
        })
    );
    // Same request, same id; another request, another id.
    assert_eq!(chat(&body).json()["id"], v["id"]);
    assert_ne!(chat(&user("other")).json()["id"], v["id"]);
}

#[test]
fn array_content_counts_images_and_fixed_mode_answers_its_text() {
    let body = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is"},
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
        {"type": "text", "text": " this?"}
    ]}]});
    let v = chat(&body).json();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "What is this? [1 image]"
    );

    let fixed = MockProvider::new(
        "f".into(),
        &raw(MockResponseMode::Fixed, Some("Fixed reply here."), None),
    );
    let v = ask(&fixed, Endpoint::ChatCompletions, &body).json();
    assert_eq!(v["choices"][0]["message"]["content"], "Fixed reply here.");
    let default = MockProvider::new("f".into(), &raw(MockResponseMode::Fixed, None, None));
    let v = ask(&default, Endpoint::ChatCompletions, &body).json();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "This is a mock response."
    );
}

#[test]
fn n_choices_and_max_tokens_truncation() {
    let mut body = user("one two three four five");
    body["n"] = json!(3);
    body["max_tokens"] = json!(2);
    let v = chat(&body).json();
    let choices = v["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 3);
    for (i, choice) in choices.iter().enumerate() {
        assert_eq!(choice["index"], i);
        assert_eq!(choice["message"]["content"], "one two");
        assert_eq!(choice["finish_reason"], "length");
    }
    assert_eq!(v["usage"]["completion_tokens"], 6);

    body["max_completion_tokens"] = json!(10);
    let v = chat(&body).json();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "one two three four five"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["completion_tokens"], 15);
}

#[test]
fn logprobs_have_one_entry_per_word() {
    let mut body = user("alpha beta  gamma");
    body["logprobs"] = json!(true);
    body["top_logprobs"] = json!(2);
    let v = chat(&body).json();
    let content = v["choices"][0]["logprobs"]["content"].as_array().unwrap();
    assert_eq!(content.len(), 3);
    let joined: String = content
        .iter()
        .map(|e| e["token"].as_str().unwrap())
        .collect();
    assert_eq!(joined, "alpha beta  gamma");
    for entry in content {
        assert_eq!(entry["logprob"], 0.0);
        let bytes: Vec<u8> = serde_json::from_value(entry["bytes"].clone()).unwrap();
        assert_eq!(bytes, entry["token"].as_str().unwrap().as_bytes());
        let top = entry["top_logprobs"].as_array().unwrap();
        assert_eq!(top.len(), 2);
        assert_eq!(top[0]["token"], entry["token"]);
    }
}

#[test]
fn json_modes() {
    let mut body = user("make it json");
    body["response_format"] = json!({"type": "json_object"});
    let v = chat(&body).json();
    let content: Value =
        serde_json::from_str(v["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(content, json!({"response": "make it json"}));

    let schema = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "minItems": 2, "uniqueItems": true},
            "address": {"$ref": "#/$defs/address"}
        },
        "required": ["name", "tags", "address"],
        "additionalProperties": false,
        "$defs": {"address": {"type": "object", "properties": {"zip": {"type": "string", "minLength": 5}}, "required": ["zip"]}}
    });
    body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "x", "strict": true, "schema": schema}});
    body["max_tokens"] = json!(1);
    let v = chat(&body).json();
    let text = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(!text.contains(' '), "compact JSON: {text}");
    assert_valid(&schema, &serde_json::from_str(text).unwrap());
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
}

#[test]
fn bad_chat_requests_are_openai_400s() {
    let p = echo();
    let cases: Vec<(Bytes, Value)> = vec![
        (Bytes::from_static(b"not json"), Value::Null),
        (Bytes::from_static(b"[1,2]"), Value::Null),
        (json!({"model": "m"}).to_string().into(), json!("messages")),
        (
            json!({"model": "m", "messages": "hi"}).to_string().into(),
            json!("messages"),
        ),
        (
            json!({"model": "m", "messages": []}).to_string().into(),
            json!("messages"),
        ),
        (
            json!({"model": "m", "messages": [{"content": "x"}]})
                .to_string()
                .into(),
            json!("messages[0].role"),
        ),
        (
            json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]})
                .to_string()
                .into(),
            json!("messages[0].role"),
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": 5}]})
                .to_string()
                .into(),
            json!("messages[0].content"),
        ),
        (
            json!({"model": 5, "messages": [{"role": "user", "content": "x"}]})
                .to_string()
                .into(),
            json!("model"),
        ),
    ];
    for (body, param) in cases {
        let answer = ask_raw(&p, Endpoint::ChatCompletions, body.clone());
        assert_eq!(answer.bad_request(), param, "{body:?}");
        assert!(answer.headers.contains_key("x-request-id"));
    }
    let params = [
        ("n", json!(0)),
        ("n", json!(129)),
        ("max_tokens", json!("many")),
        ("max_tokens", json!(-1)),
        ("logprobs", json!("yes")),
        ("top_logprobs", json!(21)),
        ("stream", json!(1)),
        ("stream_options", json!(true)),
        ("response_format", json!({"type": "xml"})),
        ("tools", json!({})),
        ("tool_choice", json!("sometimes")),
    ];
    for (key, value) in params {
        let mut body = user("x");
        body[key] = value.clone();
        body["tools"] = body.get("tools").cloned().unwrap_or_else(weather_tools);
        let param = chat(&body).bad_request();
        assert!(
            param.as_str().unwrap().starts_with(key),
            "{key}={value}: {param}"
        );
    }
    let mut body = user("x");
    body["tools"] = weather_tools();
    body["tool_choice"] = json!({"type": "function", "function": {"name": "missing"}});
    assert_eq!(chat(&body).bad_request(), "tool_choice");
}

#[test]
fn responses_endpoint_is_not_implemented() {
    let answer = ask(
        &echo(),
        Endpoint::Responses,
        &json!({"model": "m", "input": "hi"}),
    );
    assert_eq!(answer.bad_request(), Value::Null);
    let message = answer.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("Responses API"), "{message}");
}

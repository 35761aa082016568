use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;

fn streamed(provider: &MockProvider, mut body: Value) -> (Vec<Value>, Value) {
    body["stream"] = json!(false);
    let whole = ask(provider, Endpoint::ChatCompletions, &body).json();
    body["stream"] = json!(true);
    let events = ask(provider, Endpoint::ChatCompletions, &body).events();
    // The id hashes the body, so it differs from the whole answer's but not between chunks.
    assert!(events[0]["id"]
        .as_str()
        .unwrap()
        .starts_with("chatcmpl-mock-"));
    for event in &events {
        assert_eq!(event["id"], events[0]["id"]);
        assert_eq!(event["created"], events[0]["created"]);
        assert_eq!(event["object"], "chat.completion.chunk");
        assert_eq!(event["model"], whole["model"]);
        assert_eq!(event["system_fingerprint"], "fp_mock");
    }
    (events, whole)
}

/// Concatenated content deltas per choice index.
fn contents(events: &[Value]) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    for event in events {
        for choice in event["choices"].as_array().unwrap() {
            let text: &mut String = out.entry(choice["index"].as_u64().unwrap()).or_default();
            if let Some(piece) = choice["delta"]["content"].as_str() {
                text.push_str(piece);
            }
        }
    }
    out
}

#[test]
fn streamed_deltas_concatenate_to_the_whole_answer() {
    let text = "  The quick\tbrown fox\n jumps over the lazy dog  ";
    for words in [1, 3, 100] {
        let provider =
            MockProvider::new("m".into(), &raw(MockResponseMode::Echo, None, Some(words)));
        let (events, whole) = streamed(&provider, user(text));
        assert_eq!(
            events[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        let whole_text = whole["choices"][0]["message"]["content"].as_str().unwrap();
        assert_eq!(whole_text, text);
        assert_eq!(contents(&events)[&0], text);
        // role + ceil(9 words / words) content chunks + final
        assert_eq!(events.len(), 2 + 9usize.div_ceil(words));
        let last = events.last().unwrap();
        assert_eq!(last["choices"][0]["delta"], json!({}));
        assert_eq!(last["choices"][0]["finish_reason"], "stop");
        for event in &events[..events.len() - 1] {
            assert!(event["choices"][0]["finish_reason"].is_null());
            assert!(event.get("usage").is_none(), "no usage unless asked");
        }
    }
}

#[test]
fn n_choices_interleave_and_truncate_like_the_whole_answer() {
    let mut body = user("a b c d");
    body["n"] = json!(2);
    body["max_tokens"] = json!(3);
    let (events, whole) = streamed(&echo(), body);
    let indexes: Vec<u64> = events
        .iter()
        .map(|e| e["choices"][0]["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    let by_choice = contents(&events);
    assert_eq!(by_choice.len(), 2);
    for text in by_choice.values() {
        assert_eq!(text, "a b c");
        assert_eq!(whole["choices"][0]["message"]["content"], "a b c");
    }
    assert_eq!(events[8]["choices"][0]["finish_reason"], "length");
}

#[test]
fn include_usage_adds_a_final_usage_chunk() {
    let mut body = user("count these words");
    body["stream_options"] = json!({"include_usage": true});
    let (events, whole) = streamed(&echo(), body.clone());
    let last = events.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"], whole["usage"]);
    assert_eq!(last["usage"]["completion_tokens"], 3);
    for event in &events[..events.len() - 1] {
        assert!(event["usage"].is_null() && event.as_object().unwrap().contains_key("usage"));
    }
    body["stream_options"] = json!({"include_usage": false});
    let (events, _) = streamed(&echo(), body);
    assert!(events.iter().all(|e| e.get("usage").is_none()));
}

#[test]
fn streamed_logprobs_follow_the_content() {
    let mut body = user("one two three");
    body["logprobs"] = json!(true);
    let (events, _) = streamed(&echo(), body);
    let mut tokens = String::new();
    for event in &events[1..events.len() - 1] {
        let entries = event["choices"][0]["logprobs"]["content"]
            .as_array()
            .unwrap();
        let piece: String = entries
            .iter()
            .map(|e| e["token"].as_str().unwrap())
            .collect();
        assert_eq!(
            piece,
            event["choices"][0]["delta"]["content"].as_str().unwrap()
        );
        tokens.push_str(&piece);
    }
    assert_eq!(tokens, "one two three");
}

#[test]
fn streamed_tool_calls_reassemble_into_the_whole_calls() {
    let mut body = user("weather?");
    body["tools"] = json!([
        {"type": "function", "function": {"name": "lookup", "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "minLength": 30}, "limit": {"type": "integer", "minimum": 5},
                           "filters": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}}},
            "required": ["query"]
        }}},
        {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}
    ]);
    let (events, whole) = streamed(&echo(), body);
    assert_eq!(events[0]["choices"][0]["delta"]["role"], "assistant");
    let mut calls: BTreeMap<u64, (Value, String)> = BTreeMap::new();
    for event in &events[1..events.len() - 1] {
        let delta = &event["choices"][0]["delta"];
        let call = &delta["tool_calls"][0];
        let index = call["index"].as_u64().unwrap();
        if let Some(id) = call.get("id") {
            assert_eq!(call["type"], "function");
            assert_eq!(call["function"]["arguments"], "");
            let head = json!({"id": id, "name": call["function"]["name"]});
            assert!(calls.insert(index, (head, String::new())).is_none());
        } else {
            assert_eq!(
                call.as_object().unwrap().len(),
                2,
                "only index and function: {call}"
            );
            assert_eq!(call["function"].as_object().unwrap().len(), 1);
            let fragment = call["function"]["arguments"].as_str().unwrap();
            assert!(fragment.len() <= 10);
            calls.get_mut(&index).unwrap().1.push_str(fragment);
        }
    }
    let expected = whole["choices"][0]["message"]["tool_calls"]
        .as_array()
        .unwrap();
    assert_eq!(calls.len(), expected.len());
    for (i, call) in expected.iter().enumerate() {
        let (head, arguments) = &calls[&(i as u64)];
        assert_eq!(head["id"], call["id"]);
        assert_eq!(head["name"], call["function"]["name"]);
        assert_eq!(arguments, call["function"]["arguments"].as_str().unwrap());
        let _: Value = serde_json::from_str(arguments).unwrap();
    }
    assert!(calls[&0].1.len() > 40, "arguments span several fragments");
    assert_eq!(
        events.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[test]
fn the_call_flag_alone_streams() {
    let mut request = call(Endpoint::ChatCompletions, user("hi").to_string());
    request.stream = true;
    let response = echo().respond(&request);
    assert_eq!(response.headers["content-type"], "text/event-stream");
}

#[test]
fn completions_stream() {
    let body = json!({"model": "m", "prompt": ["one two", "three"], "stream": true,
                      "stream_options": {"include_usage": true}});
    let events = ask(&echo(), Endpoint::Completions, &body).events();
    let mut texts: BTreeMap<u64, String> = BTreeMap::new();
    let mut finishes = 0;
    for event in &events[..events.len() - 1] {
        assert_eq!(event["object"], "text_completion");
        assert!(event["usage"].is_null() && event.as_object().unwrap().contains_key("usage"));
        let choice = &event["choices"][0];
        assert!(choice["logprobs"].is_null());
        texts
            .entry(choice["index"].as_u64().unwrap())
            .or_default()
            .push_str(choice["text"].as_str().unwrap());
        if choice["finish_reason"] == "stop" {
            finishes += 1;
        }
    }
    assert_eq!(finishes, 2);
    assert_eq!(texts[&0], "one two");
    assert_eq!(texts[&1], "three");
    let last = events.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["completion_tokens"], 3);
}

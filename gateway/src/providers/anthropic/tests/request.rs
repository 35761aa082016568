use serde_json::{json, Value};

use crate::providers::anthropic::request::{translate, JSON_TOOL};

fn anthropic(openai: Value) -> Value {
    let body = serde_json::to_vec(&openai).unwrap();
    let out = translate(&body, false, 4096).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&out).unwrap()
}

fn refused(openai: Value) -> String {
    let body = serde_json::to_vec(&openai).unwrap();
    translate(&body, false, 4096).unwrap_err()
}

fn user(content: Value) -> Value {
    json!({"model": "claude", "messages": [{"role": "user", "content": content}]})
}

#[test]
fn system_turns_and_sampling_parameters() {
    let out = anthropic(json!({
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Bonjour !"},
            {"role": "user", "content": "Weather?"},
            {"role": "user", "content": [{"type": "text", "text": "In Paris."}]}
        ],
        "stop": "END", "temperature": 1.6, "top_p": 0.9, "user": "user-42",
        "seed": 7, "presence_penalty": 0.5, "stream_options": {"include_usage": true}, "n": 1
    }));
    assert_eq!(
        out,
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 4096,
            "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Answer in French."}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Bonjour !"}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "Weather?"}, {"type": "text", "text": "In Paris."}
                ]}
            ],
            "stop_sequences": ["END"],
            "temperature": 1.0,
            "top_p": 0.9,
            "metadata": {"user_id": "user-42"}
        })
    );
}

#[test]
fn max_tokens_stop_list_and_stream() {
    let body = br#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":50,"max_completion_tokens":70,"stop":["a","b"]}"#;
    let out: Value = serde_json::from_slice(&translate(body, true, 4096).unwrap()).unwrap();
    assert_eq!(out["max_tokens"], 70);
    assert_eq!(out["stop_sequences"], json!(["a", "b"]));
    assert_eq!(out["stream"], true);
    let body = br#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":50}"#;
    let out: Value = serde_json::from_slice(&translate(body, false, 4096).unwrap()).unwrap();
    assert_eq!(out["max_tokens"], 50);
    assert!(out.get("stream").is_none());
    let body = br#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#;
    let out: Value = serde_json::from_slice(&translate(body, false, 1000).unwrap()).unwrap();
    assert_eq!(out["max_tokens"], 1000);
}

#[test]
fn images_and_pdfs() {
    let out = anthropic(user(json!([
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}}
    ])));
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"type": "text", "text": "Compare"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}}
        ])
    );
    // An escaped URL (owned after parsing) splits the same way.
    let body = br#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image\/gif;base64,R0lG\/w=="}}]}]}"#;
    let out: Value = serde_json::from_slice(&translate(body, false, 1).unwrap()).unwrap();
    assert_eq!(
        out["messages"][0]["content"][0]["source"],
        json!({"type": "base64", "media_type": "image/gif", "data": "R0lG/w=="})
    );
}

#[test]
fn tools_and_tool_choice() {
    let tools = json!([
        {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
        {"type": "function", "function": {"name": "now"}}
    ]);
    let with = |extra: Value| {
        let mut req = user(json!("hi"));
        req["tools"] = tools.clone();
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        anthropic(req)
    };
    let out = with(json!({}));
    assert_eq!(
        out["tools"],
        json!([
            {"name": "get_weather", "description": "Weather of a city",
             "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
            {"name": "now", "input_schema": {"type": "object", "properties": {}}}
        ])
    );
    assert!(out.get("tool_choice").is_none(), "auto is the default");
    let cases = [
        (json!({"tool_choice": "auto"}), Value::Null),
        (json!({"tool_choice": "none"}), json!({"type": "none"})),
        (json!({"tool_choice": "required"}), json!({"type": "any"})),
        (
            json!({"tool_choice": {"type": "function", "function": {"name": "now"}}}),
            json!({"type": "tool", "name": "now"}),
        ),
        (
            json!({"parallel_tool_calls": false}),
            json!({"type": "auto", "disable_parallel_tool_use": true}),
        ),
        (
            json!({"tool_choice": "required", "parallel_tool_calls": false}),
            json!({"type": "any", "disable_parallel_tool_use": true}),
        ),
    ];
    for (extra, expected) in cases {
        let out = with(extra.clone());
        assert_eq!(
            out.get("tool_choice").cloned().unwrap_or(Value::Null),
            expected,
            "{extra}"
        );
    }
    let mut no_tools = user(json!("hi"));
    no_tools["tool_choice"] = json!("none");
    assert!(anthropic(no_tools).get("tool_choice").is_none());
}

#[test]
fn tool_calls_and_merged_tool_results() {
    let out = anthropic(json!({
        "model": "m",
        "messages": [
            {"role": "user", "content": "Weather in SF and NYC?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"SF\"}"}},
                {"id": "toolu_2", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
            ]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "15C"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "20C"}]},
            {"role": "user", "content": "Thanks; which is warmer?"}
        ]
    }));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Weather in SF and NYC?"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "SF"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "15C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "20C"}]},
                {"type": "text", "text": "Thanks; which is warmer?"}
            ]}
        ])
    );
}

#[test]
fn response_format_json_schema_forces_a_tool() {
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]});
    let mut req = user(json!("Capital of France?"));
    req["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "a", "schema": schema, "strict": true}});
    let out = anthropic(req.clone());
    assert_eq!(out["tools"][0]["name"], JSON_TOOL);
    assert_eq!(out["tools"][0]["input_schema"], schema);
    assert_eq!(
        out["tool_choice"],
        json!({"type": "tool", "name": JSON_TOOL, "disable_parallel_tool_use": true})
    );
    assert!(out.get("system").is_none());
    // With tools of its own, or a schema that is not an object: an instruction instead.
    req["tools"] = json!([{"type": "function", "function": {"name": "f"}}]);
    let out = anthropic(req);
    assert_eq!(out["tools"].as_array().unwrap().len(), 1);
    let instruction = out["system"][0]["text"].as_str().unwrap();
    assert!(instruction.contains("JSON Schema") && instruction.contains("\"answer\""));
    let mut req = user(json!("List"));
    req["response_format"] =
        json!({"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "array"}}});
    assert!(anthropic(req).get("tools").is_none());
    let mut req = user(json!("x"));
    req["response_format"] = json!({"type": "json_object"});
    assert!(anthropic(req)["system"][0]["text"]
        .as_str()
        .unwrap()
        .contains("JSON object"));
    let mut req = user(json!("x"));
    req["response_format"] = json!({"type": "text"});
    assert!(anthropic(req).get("system").is_none());
}

#[test]
fn what_anthropic_cannot_express_is_refused() {
    let with = |key: &str, value: Value| {
        let mut req = user(json!("hi"));
        req[key] = value;
        refused(req)
    };
    assert!(with("n", json!(2)).contains("`n`"));
    assert!(with("logprobs", json!(true)).contains("logprobs"));
    assert!(with("modalities", json!(["text", "audio"])).contains("audio"));
    assert!(with("functions", json!([{"name": "f"}])).contains("functions"));
    assert!(with(
        "tools",
        json!([{"type": "custom", "custom": {"name": "x"}}])
    )
    .contains("custom"));
    assert!(with(
        "tools",
        json!([{"type": "function", "function": {"name": JSON_TOOL}}])
    )
    .contains("reserved"));
    assert!(with("tool_choice", json!("sometimes")).contains("sometimes"));
    assert!(with("response_format", json!({"type": "yaml"})).contains("yaml"));
    let audio = refused(user(
        json!([{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]),
    ));
    assert!(
        audio.contains("messages[0]") && audio.contains("audio"),
        "{audio}"
    );
    assert!(refused(user(
        json!([{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}])
    ))
    .contains("http"));
    assert!(refused(user(
        json!([{"type": "image_url", "image_url": {"url": "data:image/png,abc"}}])
    ))
    .contains("base64"));
    let unknown = refused(user(json!([{"type": "video", "video": {}}])));
    assert!(
        unknown.contains("messages[0].content") && unknown.contains("video"),
        "{unknown}"
    );
    let bad_args = refused(
        json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [
        {"id": "t", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]}),
    );
    assert!(bad_args.contains("not a JSON object"), "{bad_args}");
    assert!(refused(json!({"model": "m"})).contains("messages"));
    assert!(translate(b"not json", false, 1).is_err());
}

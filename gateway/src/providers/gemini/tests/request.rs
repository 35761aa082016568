use serde_json::{json, Value};

use super::json;
use crate::providers::gemini::request::{translate, SKIP_SIGNATURE};

fn gemini(req: Value) -> (String, Value) {
    let t = translate(req.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    (t.model, json(&t.body))
}

fn refused(req: Value) -> String {
    translate(req.to_string().as_bytes()).unwrap_err()
}

#[test]
fn roles_system_and_merging() {
    let (model, body) = gemini(json!({
        "model": "models/gemini-2.5-flash",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "user", "content": [{"type": "text", "text": "there"}]},
            {"role": "assistant", "content": "Hello!"},
            {"role": "developer", "content": [{"type": "text", "text": "No emoji."}]},
            {"role": "user", "content": "Bye"}
        ]
    }));
    assert_eq!(model, "gemini-2.5-flash");
    assert_eq!(
        body,
        json!({
            "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "No emoji."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Hi"}, {"text": "there"}]},
                {"role": "model", "parts": [{"text": "Hello!"}]},
                {"role": "user", "parts": [{"text": "Bye"}]}
            ]
        })
    );
}

#[test]
fn images_audio_and_files() {
    let (_, body) = gemini(json!({
        "model": "g",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.JPG?x=1"}},
            {"type": "image_url", "image_url": "gs://bucket/blob"},
            {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "mp3"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"}}
        ]}]
    }));
    assert_eq!(
        body["contents"][0]["parts"],
        json!([
            {"text": "What is this?"},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0K"}},
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.JPG?x=1"}},
            {"fileData": {"fileUri": "gs://bucket/blob"}},
            {"inlineData": {"mimeType": "audio/mp3", "data": "UklGR"}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBER"}}
        ])
    );
}

#[test]
fn tool_round_trip() {
    let (_, body) = gemini(json!({
        "model": "g",
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"},
                 "extra_content": {"google": {"thought_signature": "c2lnbmF0dXJl"}}},
                {"id": "call_b", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_a", "content": "{\"temp\":21}"},
            {"role": "tool", "tool_call_id": "call_b", "content": "sunny"},
            {"role": "assistant", "tool_calls": [
                {"id": "call_c", "type": "function", "function": {"name": "time", "arguments": ""}}
            ]},
            {"role": "tool", "tool_call_id": "call_c", "content": [{"type": "text", "text": "noon"}]}
        ],
        "tools": [
            {"type": "function", "function": {"name": "weather", "description": "Weather now",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                    "required": ["city"], "additionalProperties": false, "$schema": "x"}, "strict": true}},
            {"type": "function", "function": {"name": "time", "parameters": {"type": "object", "properties": {}}}}
        ],
        "tool_choice": "required",
        "parallel_tool_calls": true
    }));
    assert_eq!(
        body["contents"][1],
        json!({"role": "model", "parts": [
            {"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2lnbmF0dXJl"},
            {"functionCall": {"name": "weather", "args": {"city": "Rome"}}}
        ]})
    );
    assert_eq!(
        body["contents"][2],
        json!({"role": "user", "parts": [
            {"functionResponse": {"name": "weather", "response": {"temp": 21}}},
            {"functionResponse": {"name": "weather", "response": {"output": "sunny"}}}
        ]})
    );
    assert_eq!(
        body["contents"][3]["parts"][0],
        json!({"functionCall": {"name": "time", "args": {}}, "thoughtSignature": SKIP_SIGNATURE})
    );
    assert_eq!(
        body["contents"][4]["parts"][0]["functionResponse"],
        json!({"name": "time", "response": {"output": "noon"}})
    );
    assert_eq!(
        body["tools"],
        json!([{"functionDeclarations": [
            {"name": "weather", "description": "Weather now", "parameters":
                {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
            {"name": "time"}
        ]}])
    );
    assert_eq!(
        body["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY"}})
    );
}

#[test]
fn tool_choice_forms() {
    let tools = json!([
        {"type": "function", "function": {"name": "a"}},
        {"type": "function", "function": {"name": "b"}}
    ]);
    let with = |choice: Value| {
        gemini(
            json!({"model": "g", "messages": [{"role": "user", "content": "x"}],
            "tools": tools, "tool_choice": choice}),
        )
        .1
    };
    let calling = |choice: Value| with(choice)["toolConfig"]["functionCallingConfig"].clone();
    assert_eq!(calling(json!("none")), json!({"mode": "NONE"}));
    assert_eq!(calling(json!("auto")), json!({"mode": "AUTO"}));
    assert_eq!(
        calling(json!({"type": "function", "function": {"name": "b"}})),
        json!({"mode": "ANY", "allowedFunctionNames": ["b"]})
    );
    let body = with(
        json!({"type": "allowed_tools", "allowed_tools": {"mode": "auto",
        "tools": [{"type": "function", "function": {"name": "a"}}]}}),
    );
    assert_eq!(
        body["tools"][0]["functionDeclarations"],
        json!([{"name": "a"}])
    );
    assert_eq!(
        body["toolConfig"]["functionCallingConfig"],
        json!({"mode": "AUTO"})
    );
    assert_eq!(
        calling(
            json!({"type": "allowed_tools", "allowed_tools": {"mode": "required",
            "tools": [{"type": "function", "function": {"name": "a"}}]}})
        ),
        json!({"mode": "ANY", "allowedFunctionNames": ["a"]})
    );
    let (_, body) = gemini(
        json!({"model": "g", "messages": [{"role": "user", "content": "x"}], "tool_choice": "auto"}),
    );
    assert!(body.get("toolConfig").is_none() && body.get("tools").is_none());
}

#[test]
fn generation_config_and_response_format() {
    let (_, body) = gemini(json!({
        "model": "g", "messages": [{"role": "user", "content": "x"}],
        "temperature": 0.5, "top_p": 0.9, "max_tokens": 10, "max_completion_tokens": 20,
        "stop": "END", "n": 2, "seed": 7, "presence_penalty": 0.1, "frequency_penalty": 0.2,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "strict": true,
            "schema": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}}},
        "user": "u1", "logprobs": true, "stream": true, "stream_options": {"include_usage": true}
    }));
    assert_eq!(
        body["generationConfig"],
        json!({
            "temperature": 0.5, "topP": 0.9, "maxOutputTokens": 20, "stopSequences": ["END"],
            "candidateCount": 2, "seed": 7, "presencePenalty": 0.1, "frequencyPenalty": 0.2,
            "responseMimeType": "application/json",
            "responseJsonSchema": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}
        })
    );
    let (_, body) = gemini(json!({
        "model": "g", "messages": [{"role": "user", "content": "x"}],
        "stop": ["a", "b"], "max_tokens": 5, "response_format": {"type": "json_object"}
    }));
    assert_eq!(
        body["generationConfig"],
        json!({"maxOutputTokens": 5, "stopSequences": ["a", "b"], "responseMimeType": "application/json"})
    );
}

#[test]
fn reasoning_effort_is_a_budget_or_a_level() {
    let thinking = |model: &str, effort: &str| {
        let (_, body) = gemini(
            json!({"model": model, "messages": [{"role": "user", "content": "x"}],
            "reasoning_effort": effort}),
        );
        body["generationConfig"]["thinkingConfig"].clone()
    };
    assert_eq!(
        thinking("gemini-2.5-flash", "none"),
        json!({"thinkingBudget": 0})
    );
    assert_eq!(
        thinking("gemini-2.5-pro", "low"),
        json!({"thinkingBudget": 1024})
    );
    assert_eq!(
        thinking("gemini-2.5-pro", "medium"),
        json!({"thinkingBudget": 8192})
    );
    assert_eq!(
        thinking("gemini-2.5-pro", "high"),
        json!({"thinkingBudget": 24576})
    );
    assert_eq!(
        thinking("gemini-3-pro-preview", "low"),
        json!({"thinkingLevel": "low"})
    );
    assert_eq!(
        thinking("gemini-3-flash-preview", "none"),
        json!({"thinkingLevel": "minimal"})
    );
}

#[test]
fn requests_gemini_cannot_express_are_refused_with_the_field() {
    let user = json!([{"role": "user", "content": "x"}]);
    let cases = [
        (json!({"messages": user}), "model"),
        (json!({"model": "a/b", "messages": user}), "a/b"),
        (json!({"model": "g"}), "messages"),
        (
            json!({"model": "g", "messages": [{"role": "system", "content": "x"}]}),
            "system messages only",
        ),
        (
            json!({"model": "g", "messages": [{"role": "wizard", "content": "x"}]}),
            "wizard",
        ),
        (
            json!({"model": "g", "messages": [{"role": "user", "content": [{"type": "video_url"}]}]}),
            "video_url",
        ),
        (
            json!({"model": "g", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,abc"}}]}]}),
            "base64",
        ),
        (
            json!({"model": "g", "messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}]}),
            "file_id",
        ),
        (
            json!({"model": "g", "messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]}),
            "nope",
        ),
        (
            json!({"model": "g", "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1]"}}]}]}),
            "messages[0].tool_calls[0]",
        ),
        (
            json!({"model": "g", "messages": user, "tools": [{"type": "custom", "custom": {"name": "x"}}]}),
            "tools[0]",
        ),
        (
            json!({"model": "g", "messages": user, "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "sometimes"}),
            "sometimes",
        ),
        (
            json!({"model": "g", "messages": user, "temperature": "hot"}),
            "temperature",
        ),
        (json!({"model": "g", "messages": user, "stop": 5}), "stop"),
        (
            json!({"model": "g", "messages": user, "response_format": {"type": "yaml"}}),
            "response_format",
        ),
        (
            json!({"model": "g", "messages": user, "reasoning_effort": "max"}),
            "reasoning_effort",
        ),
    ];
    for (req, needle) in cases {
        let err = refused(req.clone());
        assert!(err.contains(needle), "{req}: {err}");
    }
    assert!(translate(b"[1]").is_err());
    assert!(translate(b"{").is_err());
}

use serde_json::{json, Value};

use super::*;

pub(super) fn weather_tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
            },
            "required": ["city", "unit"],
            "additionalProperties": false
        }}},
        {"type": "function", "function": {"name": "get_time", "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string", "minLength": 3}, "offset": {"type": "integer", "minimum": 2}},
            "required": ["zone"]
        }}},
        {"type": "function", "function": {"name": "no_params"}}
    ])
}

fn tool_calls(v: &Value) -> Vec<(String, Value)> {
    let message = &v["choices"][0]["message"];
    assert!(message["content"].is_null());
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    message["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, call)| {
            assert_eq!(call["id"], format!("call_mock_{i}"));
            assert_eq!(call["type"], "function");
            let arguments =
                serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
            (
                call["function"]["name"].as_str().unwrap().to_owned(),
                arguments,
            )
        })
        .collect()
}

#[test]
fn tools_auto_calls_every_function_with_valid_arguments() {
    let tools = weather_tools();
    let mut body = user("weather?");
    body["tools"] = tools.clone();
    let calls = tool_calls(&chat(&body).json());
    let names: Vec<&str> = calls.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["get_weather", "get_time", "no_params"]);
    for (i, (_, arguments)) in calls.iter().enumerate() {
        let schema = tools[i]["function"]
            .get("parameters")
            .cloned()
            .unwrap_or(json!({}));
        assert_valid(&schema, arguments);
    }
    assert_eq!(calls[0].1, json!({"city": "string", "unit": "celsius"}));
    assert_eq!(calls[2].1, json!({}));

    body["tool_choice"] = json!("required");
    assert_eq!(tool_calls(&chat(&body).json()).len(), 3);
}

#[test]
fn tools_parallel_false_named_none_and_after_a_tool_result() {
    let mut body = user("weather?");
    body["tools"] = weather_tools();
    body["parallel_tool_calls"] = json!(false);
    let calls = tool_calls(&chat(&body).json());
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "get_weather");

    body["parallel_tool_calls"] = json!(true);
    body["tool_choice"] = json!({"type": "function", "function": {"name": "get_time"}});
    let calls = tool_calls(&chat(&body).json());
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "get_time");
    assert_eq!(calls[0].1, json!({"offset": 2, "zone": "string"}));

    body["tool_choice"] = json!("none");
    let v = chat(&body).json();
    assert_eq!(v["choices"][0]["message"]["content"], "weather?");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");

    body["tool_choice"] = json!("auto");
    body["messages"] = json!([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_mock_0", "type": "function",
            "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_mock_0", "content": "sunny"}
    ]);
    let v = chat(&body).json();
    assert_eq!(v["choices"][0]["message"]["content"], "weather?");
    assert!(v["choices"][0]["message"].get("tool_calls").is_none());
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
}

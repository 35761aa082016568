use crate::providers::gemini::schema::{function_parameters, MAX_REF_DEPTH};
use serde_json::json;

#[test]
fn strips_rejected_keywords_everywhere() {
    let schema = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "city": {"type": "string", "description": "City", "format": "uri", "minLength": 1},
            "tags": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                "properties": {"k": {"type": "string", "const": "x"}}, "required": ["k", "ghost"]}},
            "n": {"type": "integer", "exclusiveMinimum": 0, "format": "int32", "multipleOf": 2}
        },
        "required": ["city"],
        "strict": true
    });
    let out = function_parameters(&schema).unwrap();
    assert_eq!(
        out,
        json!({
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City", "minLength": 1},
                "tags": {"type": "array", "items": {"type": "object",
                    "properties": {"k": {"type": "string", "enum": ["x"]}}, "required": ["k"]}},
                "n": {"type": "integer", "format": "int32"}
            },
            "required": ["city"]
        })
    );
}

#[test]
fn nullable_types_and_unions() {
    let schema = json!({"type": "object", "properties": {
        "a": {"type": ["string", "null"]},
        "b": {"anyOf": [{"type": "integer"}, {"type": "null"}], "description": "B"},
        "c": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
        "d": {"type": ["integer", "string"]},
        "e": {"enum": [1, 2], "type": "integer"}
    }});
    let out = function_parameters(&schema).unwrap();
    let p = &out["properties"];
    assert_eq!(p["a"], json!({"type": "string", "nullable": true}));
    assert_eq!(
        p["b"],
        json!({"type": "integer", "nullable": true, "description": "B"})
    );
    assert_eq!(
        p["c"],
        json!({"anyOf": [{"type": "integer"}, {"type": "string"}]})
    );
    assert_eq!(
        p["d"],
        json!({"anyOf": [{"type": "integer"}, {"type": "string"}]})
    );
    assert_eq!(p["e"], json!({"type": "integer"}));
}

#[test]
fn refs_are_inlined_and_recursion_is_cut() {
    let schema = json!({
        "type": "object",
        "$defs": {
            "Point": {"type": "object", "properties": {"x": {"type": "number"}}, "additionalProperties": false},
            "Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}
        },
        "definitions": {"Color": {"type": "string", "enum": ["red", "blue"]}},
        "properties": {
            "p": {"$ref": "#/$defs/Point", "description": "where"},
            "c": {"$ref": "#/definitions/Color"},
            "n": {"$ref": "#/$defs/Node"},
            "missing": {"$ref": "#/$defs/Nope"}
        }
    });
    let out = function_parameters(&schema).unwrap();
    let p = &out["properties"];
    assert_eq!(
        p["p"],
        json!({"type": "object", "properties": {"x": {"type": "number"}}, "description": "where"})
    );
    assert_eq!(p["c"], json!({"type": "string", "enum": ["red", "blue"]}));
    assert_eq!(p["missing"], json!({"type": "object"}));
    assert!(out.get("$defs").is_none() && out.get("definitions").is_none());
    let mut depth = 0;
    let mut node = &p["n"];
    while let Some(next) = node.pointer("/properties/next") {
        node = next;
        depth += 1;
    }
    assert!(depth <= MAX_REF_DEPTH + 1, "{depth}");
}

#[test]
fn all_of_is_merged() {
    let schema = json!({"allOf": [
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
        {"properties": {"b": {"type": "number"}}, "required": ["b"]}
    ]});
    let out = function_parameters(&schema).unwrap();
    assert_eq!(out["type"], "object");
    assert_eq!(out["properties"]["b"]["type"], "number");
    assert_eq!(out["required"], json!(["a", "b"]));
}

#[test]
fn objects_without_properties_declare_no_parameters() {
    assert!(function_parameters(&json!({"type": "object", "properties": {}})).is_none());
    assert!(
        function_parameters(&json!({"type": "object", "additionalProperties": false})).is_none()
    );
    assert!(function_parameters(&json!(true)).is_none());
}

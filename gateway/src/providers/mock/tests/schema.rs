use proptest::prelude::*;
use serde_json::{json, Value};

use super::assert_valid;
use crate::providers::mock::schema::synthesize;

fn check(schema: Value) -> Value {
    let value = synthesize(&schema);
    assert_valid(&schema, &value);
    value
}

#[test]
fn scalars_respect_their_constraints() {
    assert_eq!(check(json!({"type": "string"})), "string");
    assert_eq!(
        check(json!({"type": "string", "minLength": 10})),
        "stringxxxx"
    );
    assert_eq!(check(json!({"type": "string", "maxLength": 3})), "str");
    assert_eq!(check(json!({"type": "string", "enum": ["b", "a"]})), "b");
    assert_eq!(check(json!({"const": 42})), 42);
    assert_eq!(check(json!({"type": "integer"})), 0);
    assert_eq!(check(json!({"type": "integer", "minimum": 3})), 3);
    assert_eq!(check(json!({"type": "integer", "exclusiveMinimum": 3})), 4);
    assert_eq!(check(json!({"type": "integer", "maximum": -2})), -2);
    assert_eq!(
        check(json!({"type": "integer", "minimum": 7, "multipleOf": 5})),
        10
    );
    assert_eq!(check(json!({"type": "number", "minimum": 1.5})), 1.5);
    check(json!({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.1}));
    assert_eq!(check(json!({"type": "boolean"})), true);
    assert_eq!(check(json!({"type": "null"})), Value::Null);
    assert_eq!(check(json!({"type": ["null", "string"]})), "string");
    for format in [
        "date-time",
        "date",
        "time",
        "email",
        "uri",
        "uuid",
        "ipv4",
        "ipv6",
        "hostname",
    ] {
        let schema = json!({"type": "string", "format": format});
        let value = synthesize(&schema);
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        assert!(validator.is_valid(&value), "{format}: {value}");
    }
}

#[test]
fn nested_objects_and_arrays() {
    let value = check(json!({
        "type": "object",
        "properties": {
            "user": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "age": {"type": "integer", "minimum": 18, "maximum": 99},
                    "emails": {"type": "array", "items": {"type": "string", "format": "email"}, "minItems": 2, "uniqueItems": true}
                },
                "required": ["name", "age"],
                "additionalProperties": false
            },
            "scores": {"type": "array", "items": {"type": "number"}, "maxItems": 0},
            "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false},
            "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}, "minItems": 3}}
        },
        "required": ["user", "scores", "pair", "matrix"]
    }));
    assert_eq!(value["user"]["age"], 18);
    assert_eq!(value["scores"], json!([]));
    assert_eq!(value["pair"], json!(["string", 0]));
    assert_eq!(value["matrix"], json!([[0, 0, 0]]));
    check(
        json!({"type": "array", "items": {"type": "integer"}, "minItems": 5, "uniqueItems": true}),
    );
    check(
        json!({"type": "array", "items": {"type": "boolean"}, "minItems": 2, "uniqueItems": true}),
    );
    check(
        json!({"type": "array", "items": {"enum": ["x", "y", "z"]}, "minItems": 3, "uniqueItems": true}),
    );
    check(
        json!({"type": "object", "required": ["free"], "additionalProperties": {"type": "integer"}, "minProperties": 3}),
    );
}

#[test]
fn refs_and_combinators() {
    let value = check(json!({
        "type": "object",
        "properties": {
            "home": {"$ref": "#/$defs/address"},
            "work": {"$ref": "#/definitions/address"},
            "choice": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 1}]},
            "kind": {"oneOf": [{"const": "circle"}, {"const": "square"}]},
            "merged": {"allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "integer", "minimum": 2}}, "required": ["b"]}
            ]}
        },
        "required": ["home", "work", "choice", "kind", "merged"],
        "$defs": {"address": {"type": "object", "properties": {"street": {"type": "string"}}, "required": ["street"]}},
        "definitions": {"address": {"$ref": "#/$defs/address"}}
    }));
    assert_eq!(value["choice"], 1);
    assert_eq!(value["kind"], "circle");
    assert_eq!(value["merged"], json!({"a": "string", "b": 2}));
    check(json!({"allOf": [{"type": ["string", "integer"]}, {"type": ["integer", "null"]}]}));
    check(json!({"allOf": [{"type": "number"}, {"type": "integer", "minimum": 1.5}]}));
}

#[test]
fn recursive_and_pathological_schemas_terminate() {
    let tree = json!({
        "$ref": "#/$defs/node",
        "$defs": {"node": {"type": "object", "properties": {
            "value": {"type": "integer"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}
        }, "required": ["value", "children"]}}
    });
    check(tree);
    let linked = json!({
        "$defs": {"list": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"next": {"$ref": "#/$defs/list"}}}]}},
        "$ref": "#/$defs/list"
    });
    check(linked);
    // A self-reference and a doubling fan-out give something, quickly.
    synthesize(&json!({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}));
    let mut fan = json!({"type": "array", "items": {"type": "integer"}, "minItems": 1000000000});
    for _ in 0..12 {
        fan = json!({"type": "object", "properties": {"l": fan, "r": fan}, "required": ["l", "r"], "minProperties": 99999});
    }
    let _ = synthesize(&fan);
    let _ = synthesize(&json!({"type": "string", "minLength": 1u64 << 40}));
}

#[test]
fn schemaless_and_boolean_schemas() {
    assert_eq!(check(json!({})), json!({}));
    assert_eq!(check(json!(true)), json!({}));
    assert_eq!(
        check(json!({"properties": {"x": {"minimum": 4}}, "required": ["x"]})),
        json!({"x": 4})
    );
    assert_eq!(synthesize(&json!(false)), Value::Null);
}

/// Satisfiable schemas built from the supported keywords.
fn schemas() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(json!({"type": "string"})),
        (0u64..12, 0u64..12).prop_map(|(a, b)| {
            json!({"type": "string", "minLength": a.min(b), "maxLength": a.max(b)})
        }),
        (-50i64..50, 0i64..20, 1i64..6).prop_map(|(lo, span, m)| {
            json!({"type": "integer", "minimum": lo, "maximum": lo + m + span, "multipleOf": m})
        }),
        (-10.0f64..10.0, 0.1f64..5.0).prop_map(|(lo, width)| {
            json!({"type": "number", "exclusiveMinimum": lo, "exclusiveMaximum": lo + width})
        }),
        Just(json!({"type": "boolean"})),
        Just(json!({"type": ["null", "integer"]})),
        prop::collection::vec("[a-z]{1,4}", 1..4).prop_map(|e| json!({"enum": e})),
        Just(json!({"const": {"x": [1, 2]}})),
    ];
    leaf.prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            (prop::collection::btree_map("[a-z]{1,3}", inner.clone(), 0..4), any::<bool>())
                .prop_map(|(props, strict)| {
                    let required: Vec<&String> = props.keys().collect();
                    json!({"type": "object", "properties": props, "required": required,
                           "additionalProperties": !strict})
                }),
            (inner.clone(), 0u64..3, prop::option::of(3u64..5)).prop_map(|(items, min, max)| {
                json!({"type": "array", "items": items, "minItems": min, "maxItems": max.unwrap_or(9)})
            }),
            prop::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({"anyOf": v})),
            (inner.clone(), inner).prop_map(|(a, b)| json!({"allOf": [
                {"type": "object", "properties": {"a": a}, "required": ["a"]},
                {"properties": {"b": b}, "required": ["b"]}
            ]})),
        ]
    })
}

proptest! {
    #[test]
    fn synthesised_values_validate(schema in schemas(), wrap in any::<bool>()) {
        let schema = if wrap {
            json!({"$defs": {"d": schema, "unused": {"type": "string"}}, "$ref": "#/$defs/d"})
        } else {
            schema
        };
        let value = synthesize(&schema);
        let validator = jsonschema::validator_for(&schema).unwrap();
        prop_assert!(validator.is_valid(&value), "{} does not match {}", value, schema);
    }
}

//! JSON Schema → the OpenAPI subset that Gemini's `FunctionDeclaration.parameters` accepts.
//!
//! Gemini parses `parameters` as its `Schema` message: a keyword it has no field for
//! (`additionalProperties`, `$schema`, `const`, ...) fails the whole request with "Invalid
//! JSON payload received. Unknown name ...". This keeps the keywords `Schema` has and
//! rewrites the common JSON Schema forms it lacks:
//!
//! - local `$ref`s (`#/$defs/x`, `#/definitions/x`) are inlined, recursive ones down to a
//!   fixed depth, below which the reference becomes a bare `{"type": "object"}`;
//! - `oneOf` → `anyOf`; `allOf` members are merged into the schema;
//! - `const: "x"` → `enum: ["x"]`; enums that are not all strings are dropped (Gemini enums
//!   are strings);
//! - `"type": ["string", "null"]` → `"type": "string", "nullable": true` (several non-null
//!   types → `anyOf`); an `anyOf` branch `{"type": "null"}` → `nullable: true`;
//! - `format` is kept only when Gemini knows it (`date-time`, `enum`, `int32`, `int64`,
//!   `float`, `double`);
//! - `required` keeps only names that are in `properties`;
//! - everything else is dropped.

use serde_json::{Map, Value};

/// Keywords copied as they are.
const KEPT: &[&str] = &[
    "title",
    "description",
    "nullable",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minProperties",
    "maxProperties",
    "example",
    "default",
    "propertyOrdering",
];

const FORMATS: &[&str] = &["date-time", "enum", "int32", "int64", "float", "double"];

/// How deep `$ref`s are followed (recursive schemas are cut there).
pub(super) const MAX_REF_DEPTH: usize = 8;

/// Converts a function's `parameters`. `None` when nothing is left to declare (a schema
/// that is not an object, or an object without properties).
pub fn function_parameters(schema: &Value) -> Option<Value> {
    let root = schema.as_object()?;
    let converted = Converter { root }.convert(schema, 0)?;
    let no_properties = converted
        .get("properties")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty);
    let is_object = converted.get("type").and_then(Value::as_str) == Some("object");
    if is_object && no_properties {
        return None;
    }
    Some(converted)
}

struct Converter<'a> {
    root: &'a Map<String, Value>,
}

impl Converter<'_> {
    /// A Gemini schema for `schema`; `None` when it is not an object (e.g. `true`).
    fn convert(&self, schema: &Value, depth: usize) -> Option<Value> {
        let obj = schema.as_object()?;
        if let Some(target) = obj.get("$ref").and_then(Value::as_str) {
            let mut resolved = if depth >= MAX_REF_DEPTH {
                None
            } else {
                self.resolve(target)
                    .and_then(|s| self.convert(s, depth + 1))
            }
            .unwrap_or_else(|| serde_json::json!({"type": "object"}));
            // A description next to the `$ref` describes this use of it.
            if let (Some(desc), Some(map)) = (obj.get("description"), resolved.as_object_mut()) {
                map.insert("description".into(), desc.clone());
            }
            return Some(resolved);
        }
        let mut out = Map::new();
        for key in KEPT {
            if let Some(v) = obj.get(*key) {
                out.insert((*key).to_owned(), v.clone());
            }
        }
        if let Some(format) = obj.get("format").and_then(Value::as_str) {
            if FORMATS.contains(&format) {
                out.insert("format".into(), Value::from(format));
            }
        }
        match obj.get("type") {
            Some(Value::String(t)) if t == "null" => {
                out.insert("nullable".into(), Value::Bool(true));
            }
            Some(Value::String(t)) => {
                out.insert("type".into(), Value::from(t.as_str()));
            }
            Some(Value::Array(types)) => {
                let named: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
                let non_null: Vec<&str> = named.iter().copied().filter(|t| *t != "null").collect();
                if non_null.len() < named.len() {
                    out.insert("nullable".into(), Value::Bool(true));
                }
                match non_null.as_slice() {
                    [] => {}
                    [one] => {
                        out.insert("type".into(), Value::from(*one));
                    }
                    many => {
                        let branches = many
                            .iter()
                            .map(|t| serde_json::json!({"type": t}))
                            .collect();
                        out.insert("anyOf".into(), Value::Array(branches));
                    }
                }
            }
            _ => {}
        }
        if let Some(values) = obj.get("enum").and_then(Value::as_array) {
            if !values.is_empty() && values.iter().all(Value::is_string) {
                out.insert("enum".into(), Value::Array(values.clone()));
            }
        } else if let Some(Value::String(c)) = obj.get("const") {
            out.insert("enum".into(), Value::Array(vec![Value::from(c.as_str())]));
        }
        if let Some(Value::Object(props)) = obj.get("properties") {
            let mut converted = Map::new();
            for (name, prop) in props {
                let prop = self
                    .convert(prop, depth)
                    .unwrap_or_else(|| Value::Object(Map::new()));
                converted.insert(name.clone(), prop);
            }
            out.insert("properties".into(), Value::Object(converted));
        }
        if let Some(items) = obj.get("items").and_then(|i| self.convert(i, depth)) {
            out.insert("items".into(), items);
        }
        let branches = obj
            .get("anyOf")
            .or_else(|| obj.get("oneOf"))
            .and_then(Value::as_array);
        if let Some(branches) = branches {
            let mut kept = Vec::with_capacity(branches.len());
            for branch in branches {
                if branch.get("type").and_then(Value::as_str) == Some("null") {
                    out.insert("nullable".into(), Value::Bool(true));
                    continue;
                }
                if let Some(converted) = self.convert(branch, depth) {
                    kept.push(converted);
                }
            }
            match kept.len() {
                0 => {}
                // One branch left (`T | null`): the schema itself, no `anyOf`.
                1 => merge_into(&mut out, kept.swap_remove(0)),
                _ => {
                    out.insert("anyOf".into(), Value::Array(kept));
                }
            }
        }
        if let Some(members) = obj.get("allOf").and_then(Value::as_array) {
            for member in members {
                if let Some(converted) = self.convert(member, depth) {
                    merge_into(&mut out, converted);
                }
            }
        }
        if let Some(required) = obj.get("required").and_then(Value::as_array) {
            let props = out.get("properties").and_then(Value::as_object);
            let kept: Vec<Value> = required
                .iter()
                .filter(|r| {
                    r.as_str()
                        .is_some_and(|name| props.is_some_and(|p| p.contains_key(name)))
                })
                .cloned()
                .collect();
            if !kept.is_empty() {
                merge_into(&mut out, serde_json::json!({ "required": kept }));
            }
        }
        if !out.contains_key("type") && out.contains_key("properties") {
            out.insert("type".into(), Value::from("object"));
        }
        Some(Value::Object(out))
    }

    /// `#/$defs/name` or `#/definitions/name` (or any JSON pointer into the root).
    fn resolve(&self, target: &str) -> Option<&Value> {
        let pointer = target.strip_prefix('#')?;
        if pointer.is_empty() {
            return None;
        }
        let mut current: Option<&Value> = None;
        for (i, token) in pointer.trim_start_matches('/').split('/').enumerate() {
            let token = token.replace("~1", "/").replace("~0", "~");
            current = if i == 0 {
                self.root.get(&token)
            } else {
                match current? {
                    Value::Object(map) => map.get(&token),
                    Value::Array(items) => token.parse::<usize>().ok().and_then(|n| items.get(n)),
                    _ => None,
                }
            };
        }
        current
    }
}

/// Merges `from` into `into`: properties and required lists are unioned, other keys are
/// set when `into` lacks them.
fn merge_into(into: &mut Map<String, Value>, from: Value) {
    let Value::Object(from) = from else {
        return;
    };
    for (key, value) in from {
        match (key.as_str(), into.get_mut(&key), value) {
            ("properties", Some(Value::Object(mine)), Value::Object(theirs)) => {
                for (name, prop) in theirs {
                    mine.entry(name).or_insert(prop);
                }
            }
            ("required", Some(Value::Array(mine)), Value::Array(theirs)) => {
                for name in theirs {
                    if !mine.contains(&name) {
                        mine.push(name);
                    }
                }
            }
            (_, Some(_), _) => {}
            (_, None, value) => {
                into.insert(key, value);
            }
        }
    }
}

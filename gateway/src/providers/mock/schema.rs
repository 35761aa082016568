//! A JSON value synthesised from a JSON Schema, for structured outputs and tool arguments.
//!
//! The value validates against the schema for the keywords that matter in practice: `type`
//! (arrays of types pick the first non-null one), `const`, `enum`, `properties`/`required`,
//! `additionalProperties`, `minProperties`, `items`/`prefixItems`, `minItems`/`maxItems`,
//! `uniqueItems`, `minLength`/`maxLength`, `format` (common formats), `minimum`/`maximum`,
//! `exclusiveMinimum`/`exclusiveMaximum`, `multipleOf`, `allOf` (merged), `anyOf`/`oneOf`
//! (the first branch that is not just `null`) and local `$ref`s (`#`, `#/$defs/..`,
//! `#/definitions/..`, any `#/` pointer). `pattern`, `not`, `if`/`then`/`else` and
//! remote `$ref`s are ignored. Recursion is bounded: past a few levels only required properties
//! and `minItems` items are generated, and a total work budget caps pathological schemas.

mod scalar;

use serde_json::{Map, Value};

use scalar::{number, string};

/// Nesting past which only what the schema requires is generated.
const SOFT_DEPTH: usize = 6;
/// Nesting past which `null` is generated.
const HARD_DEPTH: usize = 40;
/// Schemas (and `$ref`/`allOf`/`anyOf` hops) visited per request, at most.
const BUDGET: usize = 20_000;
/// Subschemas merged into one view, at most.
const MAX_SOURCES: usize = 256;
const MAX_ITEMS: u64 = 256;
const MAX_STRING: u64 = 4096;

/// A value for `schema`; local `$ref`s resolve against `schema` itself.
pub(super) fn synthesize(schema: &Value) -> Value {
    let mut synth = Synth {
        root: schema,
        budget: BUDGET,
    };
    synth.value(&[schema], 0, 0)
}

struct Synth<'a> {
    root: &'a Value,
    budget: usize,
}

/// Every keyword of a schema after `$ref`, `allOf` and `anyOf`/`oneOf` were followed.
#[derive(Default)]
struct View<'a> {
    impossible: bool,
    keywords: Vec<(&'a str, &'a Value)>,
}

impl<'a> View<'a> {
    fn all(&self, key: &'a str) -> impl Iterator<Item = &'a Value> + '_ {
        self.keywords
            .iter()
            .filter(move |(k, _)| *k == key)
            .map(|(_, v)| *v)
    }

    fn first(&self, key: &'a str) -> Option<&'a Value> {
        self.all(key).next()
    }

    fn has(&self, keys: &[&str]) -> bool {
        self.keywords.iter().any(|(k, _)| keys.contains(k))
    }

    fn max_u64(&self, key: &'a str) -> Option<u64> {
        self.all(key).filter_map(Value::as_u64).max()
    }

    fn min_u64(&self, key: &'a str) -> Option<u64> {
        self.all(key).filter_map(Value::as_u64).min()
    }

    /// Every subschema given for `key` (`items`, `additionalProperties`, ...).
    fn schemas(&self, key: &'a str) -> Vec<&'a Value> {
        self.all(key)
            .filter(|v| v.is_object() || v.is_boolean())
            .collect()
    }

    /// The chosen type: the intersection of every `type`, first non-null member first.
    fn kind(&self) -> &'a str {
        let mut types: Option<Vec<&'a str>> = None;
        for t in self.all("type") {
            let list: Vec<&'a str> = match t {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => continue,
            };
            types = Some(match types {
                None => list,
                Some(current) => {
                    let both: Vec<&'a str> = current
                        .iter()
                        .copied()
                        .filter_map(|c| {
                            if list.contains(&c) {
                                Some(c)
                            } else if (c == "number" && list.contains(&"integer"))
                                || (c == "integer" && list.contains(&"number"))
                            {
                                Some("integer")
                            } else {
                                None
                            }
                        })
                        .collect();
                    if both.is_empty() {
                        current
                    } else {
                        both
                    }
                }
            });
        }
        if let Some(types) = types {
            if let Some(t) = types.iter().find(|t| **t != "null").or(types.first()) {
                return t;
            }
        }
        if self.has(&[
            "properties",
            "required",
            "additionalProperties",
            "minProperties",
        ]) {
            "object"
        } else if self.has(&[
            "items",
            "prefixItems",
            "minItems",
            "maxItems",
            "uniqueItems",
        ]) {
            "array"
        } else if self.has(&["minLength", "maxLength", "pattern", "format"]) {
            "string"
        } else if self.has(&["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]) {
            "number"
        } else if self.has(&["multipleOf"]) {
            "integer"
        } else {
            "object"
        }
    }
}

/// The branch of an `anyOf`/`oneOf` to follow: the first that is not only `{"type":"null"}`.
fn pick_branch(branches: &[Value]) -> Option<&Value> {
    let is_null = |b: &Value| b.get("type").and_then(Value::as_str) == Some("null");
    branches.iter().find(|b| !is_null(b)).or(branches.first())
}

impl<'a> Synth<'a> {
    fn resolve(&self, reference: &str) -> Option<&'a Value> {
        let pointer = reference.strip_prefix('#')?;
        if pointer.is_empty() {
            return Some(self.root);
        }
        self.root.pointer(pointer)
    }

    fn flatten(&mut self, schemas: &[&'a Value]) -> View<'a> {
        let mut view = View::default();
        let mut stack: Vec<(&'a Value, usize)> = schemas.iter().rev().map(|s| (*s, 0)).collect();
        let mut visited = 0;
        while let Some((schema, hops)) = stack.pop() {
            visited += 1;
            if visited > MAX_SOURCES || hops > HARD_DEPTH || self.budget == 0 {
                break;
            }
            self.budget -= 1;
            let Value::Object(map) = schema else {
                view.impossible |= schema == &Value::Bool(false);
                continue;
            };
            for (key, value) in map {
                match key.as_str() {
                    "$ref" => {
                        if let Some(target) = value.as_str().and_then(|r| self.resolve(r)) {
                            stack.push((target, hops + 1));
                        }
                    }
                    "allOf" => {
                        for member in value.as_array().into_iter().flatten().rev() {
                            stack.push((member, hops + 1));
                        }
                    }
                    "anyOf" | "oneOf" => {
                        if let Some(branch) = value.as_array().and_then(|b| pick_branch(b)) {
                            stack.push((branch, hops + 1));
                        }
                    }
                    _ => view.keywords.push((key.as_str(), value)),
                }
            }
        }
        view
    }

    /// A value valid against every schema in `schemas`; `variant` > 0 asks for a different one.
    fn value(&mut self, schemas: &[&'a Value], depth: usize, variant: usize) -> Value {
        if depth > HARD_DEPTH || self.budget == 0 {
            return Value::Null;
        }
        let view = self.flatten(schemas);
        if view.impossible {
            return Value::Null;
        }
        if let Some(value) = view.first("const") {
            return value.clone();
        }
        if let Some(options) = view.first("enum").and_then(Value::as_array) {
            if !options.is_empty() {
                return options[variant % options.len()].clone();
            }
        }
        match view.kind() {
            "null" => Value::Null,
            "boolean" => Value::Bool(variant & 1 == 0),
            "string" => Value::String(string(&view, variant)),
            "integer" => number(&view, variant, true),
            "number" => number(&view, variant, false),
            "array" => self.array(&view, depth, variant),
            _ => self.object(&view, depth, variant),
        }
    }

    fn object(&mut self, view: &View<'a>, depth: usize, variant: usize) -> Value {
        let minimal = depth >= SOFT_DEPTH;
        let required: Vec<&'a str> = view
            .all("required")
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut properties: Vec<(&'a str, Vec<&'a Value>)> = Vec::new();
        for props in view.all("properties").filter_map(Value::as_object) {
            for (name, schema) in props {
                match properties.iter_mut().find(|(n, _)| *n == name.as_str()) {
                    Some((_, list)) => list.push(schema),
                    None => properties.push((name.as_str(), vec![schema])),
                }
            }
        }
        let extra = view.schemas("additionalProperties");
        let mut out = Map::new();
        for (name, schemas) in &properties {
            if !minimal || required.contains(name) {
                let value = self.value(schemas, depth + 1, variant);
                out.insert((*name).to_owned(), value);
            }
        }
        for name in &required {
            if !out.contains_key(*name) {
                let value = self.value(&extra, depth + 1, variant);
                out.insert((*name).to_owned(), value);
            }
        }
        let min = view.max_u64("minProperties").unwrap_or(0).min(MAX_ITEMS);
        let mut k = 0;
        while (out.len() as u64) < min && self.budget > 0 {
            k += 1;
            let value = self.value(&extra, depth + 1, variant);
            out.insert(format!("property_{k}"), value);
        }
        Value::Object(out)
    }

    fn array(&mut self, view: &View<'a>, depth: usize, variant: usize) -> Value {
        let minimal = depth >= SOFT_DEPTH;
        // 2020-12 `prefixItems`, or a draft-4..7 tuple `items` followed by `additionalItems`.
        let tuple_items = view.all("items").find_map(Value::as_array);
        let prefix: Vec<&'a Value> = view
            .first("prefixItems")
            .and_then(Value::as_array)
            .or(tuple_items)
            .map(|p| p.iter().collect())
            .unwrap_or_default();
        let rest = if tuple_items.is_some() {
            view.schemas("additionalItems")
        } else {
            view.schemas("items")
        };
        let open = !rest.is_empty() && !rest.iter().any(|s| **s == Value::Bool(false));
        let min = view.max_u64("minItems").unwrap_or(0).min(MAX_ITEMS);
        let mut count = min;
        if !minimal {
            count = count.max(prefix.len() as u64).max(u64::from(open));
        }
        if let Some(max) = view.min_u64("maxItems") {
            count = count.min(max.max(min));
        }
        let unique = view.all("uniqueItems").any(|u| u == &Value::Bool(true));
        let mut out = Vec::new();
        for i in 0..count as usize {
            if self.budget == 0 {
                break;
            }
            let item_variant = if unique { variant + i } else { variant };
            let value = match prefix.get(i) {
                Some(schema) => self.value(&[*schema], depth + 1, item_variant),
                None => self.value(&rest, depth + 1, item_variant),
            };
            out.push(value);
        }
        Value::Array(out)
    }
}

//! Tool calls: which functions of `tools` the mock calls, and their synthesised arguments.

use serde_json::Value;

use super::request::{self, BadRequest, Req, Result};
use super::schema;

/// The schema of a function that gives no `parameters`: anything goes.
static ANY: Value = Value::Bool(true);

pub(super) struct ToolCall {
    pub name: String,
    /// Compact JSON synthesised from the function's `parameters`.
    pub arguments: String,
}

/// The calls to make when `tools` asks for some; `None` when the answer is text.
pub(super) fn tool_calls(req: &Req) -> Result<Option<Vec<ToolCall>>> {
    let tools = match req.get("tools") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(tools)) => tools,
        Some(_) => {
            return Err(BadRequest::new(
                "Invalid type for 'tools': expected an array.",
                Some("tools"),
            ))
        }
    };
    let mut functions: Vec<(&str, &Value)> = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        if tool.get("type").and_then(Value::as_str) != Some("function") {
            continue;
        }
        let function = tool.get("function");
        let Some(name) = function.and_then(|f| f.get("name")).and_then(Value::as_str) else {
            let param = format!("tools[{i}].function.name");
            return Err(BadRequest::new(
                format!("Missing required parameter: '{param}'."),
                Some(&param),
            ));
        };
        let parameters = function.and_then(|f| f.get("parameters"));
        functions.push((name, parameters.unwrap_or(&ANY)));
    }
    let bad_choice = || {
        BadRequest::new(
            "Invalid 'tool_choice': expected 'none', 'auto', 'required' or a function.",
            Some("tool_choice"),
        )
    };
    let named = match req.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(Value::String(choice)) => match choice.as_str() {
            "none" => return Ok(None),
            "auto" | "required" => None,
            _ => return Err(bad_choice()),
        },
        Some(Value::Object(choice)) => match choice.get("type").and_then(Value::as_str) {
            Some("function") => {
                let name = choice.get("function").and_then(|f| f.get("name"));
                let name = name.and_then(Value::as_str).ok_or_else(bad_choice)?;
                if !functions.iter().any(|(n, _)| *n == name) {
                    return Err(BadRequest::new(
                        format!("Invalid 'tool_choice': function '{name}' is not in 'tools'."),
                        Some("tool_choice"),
                    ));
                }
                Some(name)
            }
            Some("allowed_tools") => None,
            _ => return Err(bad_choice()),
        },
        Some(_) => return Err(bad_choice()),
    };
    let parallel = request::opt_bool(req, "parallel_tool_calls")?.unwrap_or(true);
    let selected: Vec<(&str, &Value)> = match named {
        Some(name) => functions
            .into_iter()
            .filter(|(n, _)| *n == name)
            .take(1)
            .collect(),
        None if !parallel => functions.into_iter().take(1).collect(),
        None => functions,
    };
    if selected.is_empty() {
        return Ok(None);
    }
    let calls = selected
        .into_iter()
        .map(|(name, parameters)| ToolCall {
            name: name.to_owned(),
            arguments: schema::synthesize(parameters).to_string(),
        })
        .collect();
    Ok(Some(calls))
}

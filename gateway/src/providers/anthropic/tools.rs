//! OpenAI `tools`, `tool_choice` and `parallel_tool_calls` → Anthropic `tools` and
//! `tool_choice`: function tools become `{name, description, input_schema}` (an empty object
//! schema when `parameters` is absent); `auto` / `none` / `required` / a named function become
//! `auto` / `none` / `any` / `tool`, and `parallel_tool_calls: false` sets
//! `disable_parallel_tool_use`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::request::JSON_TOOL;

#[derive(Deserialize)]
pub(super) struct ChatTool<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    function: Option<FunctionDef<'a>>,
}

#[derive(Deserialize)]
struct FunctionDef<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    description: Option<Cow<'a, str>>,
    #[serde(borrow)]
    parameters: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum ChatToolChoice<'a> {
    Mode(#[serde(borrow)] Cow<'a, str>),
    Function {
        #[serde(borrow)]
        function: NamedFunction<'a>,
    },
}

#[derive(Deserialize)]
pub(super) struct NamedFunction<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

#[derive(Serialize)]
pub(super) struct ToolDef<'a> {
    pub name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'a, str>>,
    pub input_schema: Cow<'a, RawValue>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ToolChoice<'a> {
    Auto {
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        disable_parallel_tool_use: bool,
    },
    Any {
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        disable_parallel_tool_use: bool,
    },
    Tool {
        name: Cow<'a, str>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        disable_parallel_tool_use: bool,
    },
    None,
}

pub(super) fn tools(tools: Option<Vec<ChatTool<'_>>>) -> Result<Vec<ToolDef<'_>>, String> {
    let tools = tools.unwrap_or_default();
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.into_iter().enumerate() {
        let function = match (tool.kind.as_ref(), tool.function) {
            ("function", Some(function)) => function,
            (kind, _) => {
                return Err(format!(
                    "tools[{i}]: only `function` tools are supported, not `{kind}`"
                ))
            }
        };
        if function.name == JSON_TOOL {
            return Err(format!(
                "tools[{i}]: the tool name `{JSON_TOOL}` is reserved"
            ));
        }
        out.push(ToolDef {
            name: function.name,
            description: function.description,
            input_schema: match function.parameters {
                Some(schema) => Cow::Borrowed(schema),
                None => Cow::Owned(empty_object_schema()?),
            },
        });
    }
    Ok(out)
}

fn empty_object_schema() -> Result<Box<RawValue>, String> {
    RawValue::from_string(r#"{"type":"object","properties":{}}"#.to_owned())
        .map_err(|e| e.to_string())
}

pub(super) fn tool_choice(
    choice: Option<ChatToolChoice<'_>>,
    disable_parallel_tool_use: bool,
) -> Result<Option<ToolChoice<'_>>, String> {
    let choice = match choice {
        None => ToolChoice::Auto {
            disable_parallel_tool_use,
        },
        Some(ChatToolChoice::Mode(mode)) => match mode.as_ref() {
            "auto" => ToolChoice::Auto {
                disable_parallel_tool_use,
            },
            "required" => ToolChoice::Any {
                disable_parallel_tool_use,
            },
            "none" => ToolChoice::None,
            other => return Err(format!("unknown `tool_choice` `{other}`")),
        },
        Some(ChatToolChoice::Function { function }) => ToolChoice::Tool {
            name: function.name,
            disable_parallel_tool_use,
        },
    };
    // `auto` without options is Anthropic's default: leave it out.
    let default = matches!(
        choice,
        ToolChoice::Auto {
            disable_parallel_tool_use: false
        }
    );
    Ok((!default).then_some(choice))
}

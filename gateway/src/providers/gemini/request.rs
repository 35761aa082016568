//! OpenAI chat completion requests → Gemini `generateContent` bodies.
//!
//! The OpenAI request is parsed into borrowed wire types; the Gemini request borrows from
//! them, so text and base64 data are copied once, into the outgoing body. A request Gemini
//! cannot express is an `Err` with a message for the client.

mod messages;
mod parts;

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::schema;
use super::wire::{
    FunctionCallingConfig, FunctionDeclaration, GenerateContentRequest, GenerationConfig,
    ThinkingConfig, Tool, ToolConfig,
};
pub use messages::SKIP_SIGNATURE;
use messages::{conversation, Message};

/// The OpenAI fields the translation reads; the others are ignored (see the module docs).
#[derive(Deserialize)]
struct ChatRequest<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
    #[serde(borrow)]
    messages: Vec<Message<'a>>,
    #[serde(default, borrow)]
    tools: Option<Vec<ToolDef<'a>>>,
    #[serde(default, borrow)]
    tool_choice: Option<ToolChoice<'a>>,
    #[serde(default)]
    response_format: Option<ResponseFormat>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    max_completion_tokens: Option<u64>,
    #[serde(default, borrow)]
    stop: Option<Stop<'a>>,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    seed: Option<i64>,
    #[serde(default)]
    presence_penalty: Option<f64>,
    #[serde(default)]
    frequency_penalty: Option<f64>,
    #[serde(default)]
    reasoning_effort: Option<ReasoningEffort>,
}

#[derive(Deserialize)]
struct ToolDef<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    function: Option<FunctionDef<'a>>,
}

#[derive(Deserialize)]
struct FunctionDef<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default, borrow)]
    description: Option<Cow<'a, str>>,
    #[serde(default)]
    parameters: Option<Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ToolChoice<'a> {
    Mode(#[serde(borrow)] Cow<'a, str>),
    Function {
        #[serde(borrow)]
        function: NamedFunction<'a>,
    },
    Allowed {
        #[serde(borrow)]
        allowed_tools: AllowedTools<'a>,
    },
}

#[derive(Deserialize)]
struct NamedFunction<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

#[derive(Deserialize)]
struct AllowedTools<'a> {
    #[serde(borrow)]
    mode: Cow<'a, str>,
    #[serde(borrow)]
    tools: Vec<AllowedTool<'a>>,
}

#[derive(Deserialize)]
struct AllowedTool<'a> {
    #[serde(borrow)]
    function: NamedFunction<'a>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchema },
}

#[derive(Deserialize)]
struct JsonSchema {
    #[serde(default)]
    schema: Option<Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Stop<'a> {
    One(#[serde(borrow)] Cow<'a, str>),
    Many(#[serde(borrow)] Vec<Cow<'a, str>>),
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ReasoningEffort {
    None,
    Minimal,
    Low,
    Medium,
    High,
    Xhigh,
}

/// A translated request: the model for the URL path and the Gemini JSON body.
#[derive(Debug)]
pub struct Translated {
    pub model: String,
    pub body: Vec<u8>,
}

/// Translates an OpenAI chat completion body.
pub fn translate(body: &[u8]) -> Result<Translated, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let req: ChatRequest = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| format!("Invalid request for Gemini: {}: {}", e.path(), e.inner()))?;
    let model = model_name(&req.model)?;
    let (system_instruction, contents) = conversation(&req.messages)?;
    if contents.is_empty() {
        return Err(
            "'messages' must contain a user or assistant message with content; \
                    Gemini does not accept a conversation of system messages only."
                .into(),
        );
    }
    let (tools, tool_config) = tools(&req)?;
    let gemini = GenerateContentRequest {
        contents,
        system_instruction,
        tools,
        tool_config,
        generation_config: generation_config(&req, model),
    };
    let body = serde_json::to_vec(&gemini).map_err(|e| e.to_string())?;
    Ok(Translated {
        model: model.to_owned(),
        body,
    })
}

/// The `model` as it goes into the URL path (`models/x` → `x`).
pub fn model_name(model: &str) -> Result<&str, String> {
    let model = model.strip_prefix("models/").unwrap_or(model);
    let valid = !model.is_empty()
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(model)
    } else {
        Err(format!(
            "The model `{model}` is not a valid Gemini model name."
        ))
    }
}

/// `tools` → `functionDeclarations`, `tool_choice` → `functionCallingConfig`.
fn tools<'r>(req: &'r ChatRequest) -> Result<(Vec<Tool<'r>>, Option<ToolConfig<'r>>), String> {
    let mut declarations = Vec::new();
    for (i, tool) in req.tools.iter().flatten().enumerate() {
        let function = match (tool.kind.as_ref(), &tool.function) {
            ("function", Some(function)) => function,
            _ => {
                return Err(format!(
                    "tools[{i}]: only `function` tools are supported by Gemini, not `{}`.",
                    tool.kind
                ))
            }
        };
        declarations.push(FunctionDeclaration {
            name: &function.name,
            description: function.description.as_deref(),
            parameters: function
                .parameters
                .as_ref()
                .and_then(schema::function_parameters),
        });
    }
    let (mode, allowed) = match &req.tool_choice {
        None => (None, None),
        Some(ToolChoice::Mode(mode)) => match mode.as_ref() {
            "none" => (Some("NONE"), None),
            "auto" => (Some("AUTO"), None),
            "required" => (Some("ANY"), None),
            other => return Err(format!("'tool_choice' `{other}` is not supported.")),
        },
        Some(ToolChoice::Function { function }) => (Some("ANY"), Some(vec![&*function.name])),
        Some(ToolChoice::Allowed { allowed_tools }) => {
            let names: Vec<&str> = allowed_tools
                .tools
                .iter()
                .map(|t| &*t.function.name)
                .collect();
            if allowed_tools.mode == "required" {
                (Some("ANY"), Some(names))
            } else {
                // Gemini limits names in ANY mode only; in AUTO mode the declarations are
                // narrowed instead.
                declarations.retain(|d| names.contains(&d.name));
                (Some("AUTO"), None)
            }
        }
    };
    if declarations.is_empty() {
        // Without functions there is nothing to configure.
        return Ok((Vec::new(), None));
    }
    let config = mode.map(|mode| ToolConfig {
        function_calling_config: FunctionCallingConfig {
            mode,
            allowed_function_names: allowed,
        },
    });
    let tools = vec![Tool {
        function_declarations: declarations,
    }];
    Ok((tools, config))
}

fn generation_config<'r>(req: &'r ChatRequest, model: &str) -> GenerationConfig<'r> {
    let stop_sequences = match &req.stop {
        None => None,
        Some(Stop::One(s)) => Some(vec![s.as_ref()]),
        Some(Stop::Many(all)) if all.is_empty() => None,
        Some(Stop::Many(all)) => Some(all.iter().map(AsRef::as_ref).collect()),
    };
    let (response_mime_type, response_json_schema) = match &req.response_format {
        None | Some(ResponseFormat::Text) => (None, None),
        Some(ResponseFormat::JsonObject) => (Some("application/json"), None),
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            (Some("application/json"), json_schema.schema.as_ref())
        }
    };
    GenerationConfig {
        temperature: req.temperature,
        top_p: req.top_p,
        max_output_tokens: req.max_completion_tokens.or(req.max_tokens),
        stop_sequences,
        candidate_count: req.n,
        seed: req.seed,
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        response_mime_type,
        response_json_schema,
        thinking_config: req.reasoning_effort.map(|e| thinking(e, model)),
    }
}

/// `reasoning_effort` → a token budget for Gemini 2.x models (the budgets Google's own OpenAI
/// endpoint uses; `none` turns thinking off), a thinking level for later ones (which cannot
/// turn thinking off: `none` is `minimal`).
fn thinking(effort: ReasoningEffort, model: &str) -> ThinkingConfig {
    use ReasoningEffort::*;
    if model.starts_with("gemini-2") {
        return ThinkingConfig::ThinkingBudget(match effort {
            None => 0,
            Minimal | Low => 1024,
            Medium => 8192,
            High | Xhigh => 24576,
        });
    }
    ThinkingConfig::ThinkingLevel(match effort {
        None | Minimal => "minimal",
        Low => "low",
        Medium => "medium",
        High | Xhigh => "high",
    })
}

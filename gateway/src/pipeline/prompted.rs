//! Rendering a route's prompt into a chat request: the request's `variables` (sent by
//! OpenAI SDKs through `extra_body`) fill the release's template, and the rendered message
//! prefixes or replaces the client's messages. `variables` never reaches the upstream.

use std::sync::Arc;

use http::{HeaderName, HeaderValue};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::config::prompts::BoundPrompt;
use crate::error::GatewayError;
use crate::openai::request::RequestDoc;
use crate::prompt::{PromptMode, PromptVersionRef, RenderError};
use crate::providers::Endpoint;

/// The request header that names the subject a canary split sticks to (the body's `user`
/// field wins).
pub const SUBJECT_HEADER: HeaderName = HeaderName::from_static("x-promptgate-subject");

/// Which prompt and version a request rendered.
#[derive(Debug, Clone)]
pub struct PromptUse {
    pub prompt: Arc<BoundPrompt>,
    pub used: PromptVersionRef,
}

impl PromptUse {
    pub fn variant(&self) -> &'static str {
        if self.used.canary {
            "canary"
        } else {
            "stable"
        }
    }
}

/// Renders `bound` into `doc` (a chat request) and takes `variables` out.
pub fn apply(
    doc: &mut RequestDoc<'_>,
    endpoint: Endpoint,
    bound: &Arc<BoundPrompt>,
    subject_header: Option<&HeaderValue>,
) -> Result<PromptUse, GatewayError> {
    if endpoint != Endpoint::ChatCompletions {
        return Err(GatewayError::invalid(format!(
            "This route renders prompt `{}`; call /v1/chat/completions or /api/v1/generate.",
            bound.name
        )));
    }
    let mut variables: Map<String, Value> = doc.get("variables")?.unwrap_or_default();
    for (name, value) in &bound.variables {
        if !variables.contains_key(name) {
            variables.insert(name.clone(), value.clone());
        }
    }
    let user: Option<String> = doc.get("user").ok().flatten();
    let subject = user
        .as_deref()
        .or_else(|| subject_header.and_then(|v| v.to_str().ok()));
    let (version, used) = bound.choose(subject);
    let rendered = version.prompt.render(&variables).map_err(render_error)?;
    let first = serde_json::json!({"role": rendered.role.as_str(), "content": rendered.content});
    let mut messages = String::with_capacity(256);
    messages.push('[');
    messages.push_str(&first.to_string());
    if version.prompt.template().mode == PromptMode::Prefix {
        let client: Vec<Box<RawValue>> = doc.get("messages")?.unwrap_or_default();
        for message in &client {
            messages.push(',');
            messages.push_str(message.get());
        }
    }
    messages.push(']');
    let messages = RawValue::from_string(messages)
        .map_err(|e| GatewayError::Internal(format!("rendered messages: {e}")))?;
    doc.set_raw("messages", messages);
    doc.remove("variables");
    Ok(PromptUse {
        prompt: bound.clone(),
        used,
    })
}

/// A 400 naming the variable (`param` = `variables.<name>`) when one is to blame.
fn render_error(err: RenderError) -> GatewayError {
    let param = match &err.variable {
        Some(name) => format!("variables.{name}"),
        None => "variables".to_owned(),
    };
    GatewayError::InvalidRequest {
        message: err.message,
        param: Some(param),
        code: Some("invalid_prompt_variables"),
    }
}

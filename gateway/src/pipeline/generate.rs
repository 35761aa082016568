//! `POST /api/v1/generate`, the native endpoint of the product spec (section 11.2):
//! variables and a template in, `{output, metrics{latency_ms, tokens, cost_usd}, trace_id}` out.
//!
//! Standalone gateways take the template inline (`prompt`, minijinja, strict variables) or
//! ready `messages`; `prompt_version_id` and `retrieval` need the control plane and are
//! refused with a clear error rather than ignored.

use bytes::Bytes;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::downstream::Downstream;
use super::exchange::{permitted_prompt, read_whole, send_with_retries, PreparedRequest};
use super::record::RequestRecord;
use super::respond;
use super::{Gateway, GatewayRequest};
use crate::config::Snapshot;
use crate::error::GatewayError;
use crate::providers::Endpoint;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateRequest {
    #[serde(default)]
    #[allow(dead_code)]
    project_id: Option<String>,
    #[serde(default)]
    prompt_version_id: Option<Value>,
    /// The route; `policy.route` is accepted too.
    #[serde(default)]
    model: Option<String>,
    /// A minijinja template rendered with `variables` into the user message.
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    messages: Option<Vec<Value>>,
    #[serde(default)]
    variables: Map<String, Value>,
    #[serde(default)]
    retrieval: Option<Value>,
    #[serde(default)]
    schema: Option<Value>,
    #[serde(default)]
    decoding: Decoding,
    #[serde(default)]
    policy: Option<Policy>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Decoding {
    temperature: Option<f64>,
    top_p: Option<f64>,
    max_tokens: Option<u32>,
    seed: Option<i64>,
    stop: Option<Value>,
    presence_penalty: Option<f64>,
    frequency_penalty: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Policy {
    route: Option<String>,
}

pub async fn run<D: Downstream>(
    gw: &Gateway,
    snapshot: &Snapshot,
    req: &GatewayRequest,
    down: &mut D,
    rec: &mut RequestRecord,
) -> Result<(), GatewayError> {
    let request: GenerateRequest = serde_json::from_slice(&req.body)
        .map_err(|e| GatewayError::invalid(format!("Invalid generate request: {e}")))?;
    let bound = request
        .model
        .as_deref()
        .or(request.policy.as_ref().and_then(|p| p.route.as_deref()))
        .is_some_and(|model| snapshot.bound_prompt(model).is_some());
    let (chat_body, schema) = build_chat_request(request, bound)?;
    let tenant = rec.tenant.as_deref();
    let (prepared, prompt) = PreparedRequest::parse_with_prompt(
        Endpoint::ChatCompletions,
        chat_body,
        |model| permitted_prompt(snapshot, tenant, model),
        req.subject_header.as_ref(),
    )?;
    rec.prompt = prompt;
    let offered = req.offered_key(snapshot);
    let success = match send_with_retries(gw, snapshot, &prepared, &offered, rec).await {
        Ok(success) => success,
        Err(failure) => {
            respond::error(down, rec, &failure.error, failure.retry_after).await;
            return Ok(());
        }
    };
    let whole = read_whole(snapshot, Endpoint::ChatCompletions, success, rec).await?;
    if snapshot.capture_payloads {
        rec.response_body = Some(whole.body.clone());
    }
    let output = extract_output(&whole.body, schema.as_ref())?;
    let usage = rec.usage.unwrap_or_default();
    let body = json!({
        "output": output,
        "metrics": {
            "latency_ms": rec.started.elapsed().as_millis() as u64,
            "tokens": {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens},
            "cost_usd": rec.cost_usd,
        },
        "trace_id": rec.trace_id,
    });
    let body = serde_json::to_vec(&body).map_err(|e| GatewayError::Internal(e.to_string()))?;
    respond::json(
        down,
        rec,
        StatusCode::OK,
        Bytes::from(body),
        &whole.forwarded,
    )
    .await;
    Ok(())
}

/// The chat request for a generate call. On a route that binds a prompt (`bound`), the
/// prompt is rendered later from `variables` and the client sends no `prompt` of its own.
fn build_chat_request(
    req: GenerateRequest,
    bound: bool,
) -> Result<(Bytes, Option<Value>), GatewayError> {
    if req.prompt_version_id.is_some() {
        return Err(GatewayError::invalid_param(
            "prompt_version_id needs a gateway managed by the control plane; send `prompt` (a template) or `messages`",
            "prompt_version_id",
        ));
    }
    if req.retrieval.is_some() {
        return Err(GatewayError::invalid_param(
            "retrieval is not configured on this gateway",
            "retrieval",
        ));
    }
    let model = req
        .model
        .or(req.policy.and_then(|p| p.route))
        .ok_or_else(|| {
            GatewayError::invalid_param("`model` (or `policy.route`) is required", "model")
        })?;
    let mut messages = Vec::new();
    if let Some(system) = req.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    match (req.prompt, req.messages) {
        (Some(_), _) if bound => {
            return Err(GatewayError::invalid_param(
                "this route renders its own prompt; send `variables` (and optionally `messages`), not `prompt`",
                "prompt",
            ))
        }
        (None, None) if bound => {}
        (Some(_), Some(_)) => {
            return Err(GatewayError::invalid(
                "send either `prompt` or `messages`, not both",
            ))
        }
        (Some(template), None) => {
            let text = render(&template, &req.variables)?;
            messages.push(json!({"role": "user", "content": text}));
        }
        (None, Some(given)) => messages.extend(given),
        (None, None) => {
            return Err(GatewayError::invalid_param(
                "`prompt` or `messages` is required",
                "prompt",
            ))
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), Value::String(model));
    body.insert("messages".into(), Value::Array(messages));
    if bound {
        body.insert("variables".into(), Value::Object(req.variables));
    }
    let d = req.decoding;
    let decoding = [
        ("temperature", d.temperature.map(Value::from)),
        ("top_p", d.top_p.map(Value::from)),
        ("max_tokens", d.max_tokens.map(Value::from)),
        ("seed", d.seed.map(Value::from)),
        ("stop", d.stop),
        ("presence_penalty", d.presence_penalty.map(Value::from)),
        ("frequency_penalty", d.frequency_penalty.map(Value::from)),
    ];
    for (key, value) in decoding {
        if let Some(value) = value {
            body.insert(key.into(), value);
        }
    }
    if let Some(schema) = &req.schema {
        jsonschema::validator_for(schema).map_err(|e| {
            GatewayError::invalid_param(format!("invalid JSON schema: {e}"), "schema")
        })?;
        body.insert(
            "response_format".into(),
            json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": true}}),
        );
    }
    let bytes = serde_json::to_vec(&body).map_err(|e| GatewayError::Internal(e.to_string()))?;
    Ok((Bytes::from(bytes), req.schema))
}

/// Renders a template; an undefined variable is an error naming it, never an empty string.
fn render(template: &str, variables: &Map<String, Value>) -> Result<String, GatewayError> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.render_str(template, variables)
        .map_err(|e| GatewayError::invalid_param(format!("prompt template: {e}"), "variables"))
}

fn extract_output(body: &[u8], schema: Option<&Value>) -> Result<Value, GatewayError> {
    let response: Value = serde_json::from_slice(body).map_err(|e| {
        GatewayError::UpstreamUnavailable(format!("upstream sent invalid JSON: {e}"))
    })?;
    let content = response
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(schema) = schema else {
        return Ok(Value::String(content.to_owned()));
    };
    let output: Value = serde_json::from_str(content)
        .map_err(|e| GatewayError::OutputInvalid(format!("not JSON: {e}")))?;
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| GatewayError::invalid_param(format!("invalid JSON schema: {e}"), "schema"))?;
    if let Some(error) = validator.iter_errors(&output).next() {
        return Err(GatewayError::OutputInvalid(error.to_string()));
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<(Bytes, Option<Value>), GatewayError> {
        build_chat_request(serde_json::from_value(v).unwrap(), false)
    }

    #[test]
    fn renders_template_and_decoding() {
        let (body, _) = parse(json!({
            "model": "r", "prompt": "Q: {{ question }}", "variables": {"question": "why?"},
            "decoding": {"temperature": 0.2, "max_tokens": 5}
        }))
        .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["messages"][0]["content"], "Q: why?");
        assert_eq!(body["temperature"], 0.2);
        assert_eq!(body["max_tokens"], 5);
    }

    #[test]
    fn missing_variable_is_an_error_not_empty() {
        let err = parse(json!({"model": "r", "prompt": "Q: {{ question }}"})).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(
            err.to_string().contains("question") || err.to_string().contains("undefined"),
            "{err}"
        );
    }

    #[test]
    fn refuses_what_needs_the_control_plane() {
        assert!(parse(json!({"model": "r", "prompt": "x", "prompt_version_id": 4})).is_err());
        assert!(
            parse(json!({"model": "r", "prompt": "x", "retrieval": {"index_id": "i"}})).is_err()
        );
        assert!(parse(json!({"prompt": "x"})).is_err());
        assert!(parse(json!({"model": "r", "prompt": "x", "schema": {"type": 5}})).is_err());
    }

    #[test]
    fn policy_route_and_schema() {
        let (body, schema) = parse(json!({
            "policy": {"route": "quality"}, "messages": [{"role": "user", "content": "hi"}],
            "schema": {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
        }))
        .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["model"], "quality");
        assert_eq!(body["response_format"]["type"], "json_schema");
        let schema = schema.unwrap();
        let ok = br#"{"choices":[{"message":{"content":"{\"answer\":\"yes\"}"}}]}"#;
        assert_eq!(extract_output(ok, Some(&schema)).unwrap()["answer"], "yes");
        let bad = br#"{"choices":[{"message":{"content":"{\"nope\":1}"}}]}"#;
        assert_eq!(
            extract_output(bad, Some(&schema)).unwrap_err().status(),
            502
        );
    }
}

//! A client's OpenAI request parsed once and rewritten per target: model rename, usage
//! injection for streams, and the gateway's own `policy` field removed.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde_json::value::RawValue;

use super::prompted::{self, PromptUse};
use crate::config::prompts::BoundPrompt;
use crate::error::GatewayError;
use crate::openai::request::RequestDoc;
use crate::providers::Endpoint;

/// The request header naming a routing policy.
pub const POLICY_HEADER: HeaderName = HeaderName::from_static("x-promptgate-policy");

/// A parsed OpenAI request ready to be sent to targets.
pub struct PreparedRequest {
    pub endpoint: Endpoint,
    pub model: String,
    pub stream: bool,
    /// True when the gateway added `stream_options.include_usage` and must strip usage again.
    pub inject_usage: bool,
    /// The body as sent upstream (the gateway's own `policy` field removed).
    pub body: Bytes,
    /// The routing policy the request names (body field `policy` or `x-promptgate-policy`).
    pub policy: Option<String>,
    /// The output token limit the request sets, for cost estimates.
    pub max_tokens: Option<u64>,
}

impl PreparedRequest {
    pub fn parse(endpoint: Endpoint, body: Bytes) -> Result<Self, GatewayError> {
        Self::parse_with_prompt(endpoint, body, |_| None, None).map(|(prepared, _)| prepared)
    }

    /// Like [`Self::parse`]; when `prompt_of(model)` names a bound prompt, renders it into
    /// the body in the same pass (see [`super::prompted`]). Unbound requests pay nothing more.
    pub fn parse_with_prompt<'s>(
        endpoint: Endpoint,
        body: Bytes,
        prompt_of: impl FnOnce(&str) -> Option<&'s Arc<BoundPrompt>>,
        subject_header: Option<&HeaderValue>,
    ) -> Result<(Self, Option<PromptUse>), GatewayError> {
        let doc = RequestDoc::parse(&body)?;
        let model = doc.model()?.into_owned();
        let stream = endpoint != Endpoint::Embeddings && doc.stream()?;
        let inject_usage = stream && endpoint.has_stream_usage_option() && !doc.include_usage()?;
        let mut max_tokens = None;
        for key in ["max_tokens", "max_completion_tokens", "max_output_tokens"] {
            if let Ok(Some(n)) = doc.get::<u64>(key) {
                max_tokens = Some(n);
                break;
            }
        }
        let policy: Option<String> = doc.get("policy")?;
        let bound = prompt_of(&model);
        let mut prompt = None;
        let body = if policy.is_some() || bound.is_some() {
            let mut doc = doc;
            doc.remove("policy");
            if let Some(bound) = bound {
                prompt = Some(prompted::apply(&mut doc, endpoint, bound, subject_header)?);
            }
            Bytes::from(doc.to_bytes(body.len()))
        } else {
            body.clone()
        };
        let prepared = PreparedRequest {
            endpoint,
            model,
            stream,
            inject_usage,
            body,
            policy,
            max_tokens,
        };
        Ok((prepared, prompt))
    }

    /// The body for one target: the original bytes unless the model or stream options change.
    pub(super) fn body_for(&self, target_model: Option<&str>) -> Result<Bytes, GatewayError> {
        let rename = target_model.filter(|m| *m != self.model);
        if rename.is_none() && !self.inject_usage {
            return Ok(self.body.clone());
        }
        let mut doc = RequestDoc::parse(&self.body)?;
        if let Some(model) = rename {
            doc.set_str("model", model);
        }
        if self.inject_usage {
            let mut options = match doc.raw("stream_options") {
                Some(raw) => {
                    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw.get())
                        .unwrap_or_default()
                }
                None => serde_json::Map::new(),
            };
            options.insert("include_usage".into(), serde_json::Value::Bool(true));
            let raw: Box<RawValue> = serde_json::value::to_raw_value(&options)
                .map_err(|e| GatewayError::Internal(e.to_string()))?;
            doc.set_raw("stream_options", raw);
        }
        Ok(Bytes::from(doc.to_bytes(self.body.len())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_field_is_taken_out_and_output_limit_read() {
        let body =
            r#"{"model":"m","policy":"cost_first","max_completion_tokens":64,"messages":[]}"#;
        let p = PreparedRequest::parse(Endpoint::ChatCompletions, Bytes::from(body)).unwrap();
        assert_eq!(p.policy.as_deref(), Some("cost_first"));
        assert_eq!(p.max_tokens, Some(64));
        assert_eq!(
            p.body.as_ref(),
            br#"{"model":"m","max_completion_tokens":64,"messages":[]}"#
        );
        let plain = r#"{"model":"m","messages":[]}"#;
        let p = PreparedRequest::parse(Endpoint::ChatCompletions, Bytes::from(plain)).unwrap();
        assert_eq!((p.policy, p.max_tokens), (None, None));
        assert_eq!(p.body.as_ref(), plain.as_bytes());
        let bad = r#"{"model":"m","policy":3}"#;
        assert!(PreparedRequest::parse(Endpoint::ChatCompletions, Bytes::from(bad)).is_err());
    }
}

//! Where an Azure request goes: the deployment serving the upstream model, the path and query
//! below the resource endpoint, and the body (unchanged except the Responses API's `model`).

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;

use crate::openai::request::RequestDoc;
use crate::providers::{AttemptError, Endpoint};

/// The deployment map and API version of one Azure provider.
#[derive(Debug)]
pub struct Deployments {
    by_model: HashMap<String, String>,
    /// `?api-version=...`, appended to every deployment URL.
    query: String,
}

impl Deployments {
    /// Checks that the API version and every deployment name can go into a URL as they are.
    pub fn new(api_version: &str, by_model: &BTreeMap<String, String>) -> Result<Self, String> {
        check_url_safe(api_version).map_err(|e| format!("api_version: {e}"))?;
        for (model, deployment) in by_model {
            check_url_safe(deployment).map_err(|e| format!("deployments.{model}: {e}"))?;
        }
        Ok(Deployments {
            by_model: by_model
                .iter()
                .map(|(m, d)| (m.clone(), d.clone()))
                .collect(),
            query: format!("?api-version={api_version}"),
        })
    }

    /// The deployment serving `model`: its mapping, else the model name itself.
    pub fn deployment<'a>(&'a self, model: &'a str) -> Result<&'a str, AttemptError> {
        if let Some(deployment) = self.by_model.get(model) {
            return Ok(deployment);
        }
        check_url_safe(model).map_err(|e| {
            AttemptError::Unsupported(format!(
                "The model `{model}` has no Azure deployment mapping and is not a valid deployment name: {e}"
            ))
        })?;
        Ok(model)
    }

    /// The path-and-query and body for one call.
    ///
    /// Chat, completions and embeddings go to the deployment's URL with the configured
    /// `api-version`, body untouched (Azure ignores `model` there). Azure serves the
    /// Responses API on its v1 surface only, `/openai/v1/responses`, which takes no dated
    /// `api-version` (v1 is the default) and picks the deployment from the body's `model`.
    pub fn target(&self, endpoint: Endpoint, body: Bytes) -> Result<(String, Bytes), AttemptError> {
        let mut doc = RequestDoc::parse(&body).map_err(unreadable)?;
        let model = doc.model().map_err(unreadable)?.into_owned();
        let deployment = self.deployment(&model)?;
        if endpoint == Endpoint::Responses {
            if deployment == model {
                return Ok(("/openai/v1/responses".to_owned(), body.clone()));
            }
            doc.set_str("model", deployment);
            let body = Bytes::from(doc.to_bytes(body.len()));
            return Ok(("/openai/v1/responses".to_owned(), body));
        }
        let path = format!(
            "/openai/deployments/{deployment}{}{}",
            endpoint.path(),
            self.query
        );
        Ok((path, body.clone()))
    }
}

/// The pipeline already parsed this body, so this only happens when it changed in between.
fn unreadable(err: crate::error::GatewayError) -> AttemptError {
    AttemptError::Unsupported(err.to_string())
}

/// Deployment names and API versions go into URLs as they are: letters, digits, `.`, `_`, `-`.
pub fn check_url_safe(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    match value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        Some(c) => Err(format!(
            "`{value}` contains `{c}`; only letters, digits, `.`, `_` and `-` are allowed"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployments() -> Deployments {
        let map = BTreeMap::from([("gpt-4o".to_owned(), "prod-4o".to_owned())]);
        Deployments::new("2024-10-21", &map).unwrap()
    }

    fn target(endpoint: Endpoint, body: &str) -> (String, String) {
        let (path, body) = deployments()
            .target(endpoint, Bytes::copy_from_slice(body.as_bytes()))
            .unwrap();
        (path, String::from_utf8(body.to_vec()).unwrap())
    }

    #[test]
    fn deployment_endpoints_keep_the_body_and_add_the_version() {
        let body = r#"{"model":"gpt-4o","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#;
        assert_eq!(
            target(Endpoint::ChatCompletions, body),
            (
                "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21".to_owned(),
                body.to_owned()
            )
        );
        let (path, _) = target(Endpoint::Completions, r#"{"model":"davinci-002"}"#);
        assert_eq!(
            path, "/openai/deployments/davinci-002/completions?api-version=2024-10-21",
            "an unmapped model is its own deployment"
        );
        let (path, _) = target(
            Endpoint::Embeddings,
            r#"{"model":"text-embedding-3-small"}"#,
        );
        assert_eq!(
            path,
            "/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21"
        );
    }

    #[test]
    fn responses_use_the_v1_surface_with_the_deployment_as_model() {
        assert_eq!(
            target(Endpoint::Responses, r#"{"model":"gpt-4o","input":"hi"}"#),
            (
                "/openai/v1/responses".to_owned(),
                r#"{"model":"prod-4o","input":"hi"}"#.to_owned()
            )
        );
        let unmapped = r#"{"input":"hi", "model" : "o4-mini"}"#;
        assert_eq!(
            target(Endpoint::Responses, unmapped).1,
            unmapped,
            "no mapping: the body is untouched"
        );
    }

    #[test]
    fn unsafe_names_are_refused() {
        let err = Deployments::new("2024-10-21&x=1", &BTreeMap::new()).unwrap_err();
        assert!(
            err.starts_with("api_version:") && err.contains('&'),
            "{err}"
        );
        let map = BTreeMap::from([("m".to_owned(), "a/b".to_owned())]);
        let err = Deployments::new("2024-10-21", &map).unwrap_err();
        assert!(
            err.starts_with("deployments.m:") && err.contains('/'),
            "{err}"
        );
        assert!(Deployments::new("", &BTreeMap::new()).is_err());
        let err = deployments()
            .target(
                Endpoint::ChatCompletions,
                Bytes::from_static(br#"{"model":"a b?"}"#),
            )
            .unwrap_err();
        assert!(
            matches!(&err, AttemptError::Unsupported(m) if m.contains("a b?")),
            "{err}"
        );
        for ok in ["2025-04-01-preview", "gpt-4.1_mini-prod", "v1"] {
            assert!(check_url_safe(ok).is_ok(), "{ok}");
        }
    }
}

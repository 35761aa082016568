//! Turning a managed snapshot into the gateway's config document, and the whole check a
//! gateway runs before swapping a snapshot in. The control plane runs [`validate`] before it
//! accepts a change, so a gateway never receives a snapshot it would reject.

use super::snapshot::{ManagedSnapshot, SNAPSHOT_SCHEMA};
use crate::config::load::parse_yaml;
use crate::config::policy_files::merge_documents;
use crate::config::raw::RawConfig;
use crate::config::snapshot::compile;
use crate::upstream::client::ClientFactory;

/// Stands in for the gateway's environment variables (base URLs, keys) when the control
/// plane validates: they live on the gateway, never in the snapshot.
const PLACEHOLDER_ENV_VALUE: &str = "http://placeholder.invalid";

/// The config document with the policy documents merged in (in name order) and the
/// deployed prompts added; a route's prompt without a label binds the snapshot's
/// environment's label.
pub fn raw_config(snapshot: &ManagedSnapshot) -> Result<RawConfig, String> {
    if snapshot.schema != SNAPSHOT_SCHEMA {
        return Err(format!(
            "snapshot schema {} is not supported (this gateway reads schema {SNAPSHOT_SCHEMA})",
            snapshot.schema
        ));
    }
    let mut raw = parse_yaml(&snapshot.config).map_err(|e| format!("config: {e}"))?;
    if !raw.policy_files.is_empty() {
        return Err(
            "config: policy_files is not allowed in a managed snapshot; push the policies to \
             the control plane instead"
                .into(),
        );
    }
    let mut documents: Vec<_> = snapshot.policies.iter().collect();
    documents.sort_by(|a, b| a.name.cmp(&b.name));
    let documents = documents
        .into_iter()
        .map(|d| (format!("policy `{}`", d.name), d.yaml.as_str()));
    merge_documents(&mut raw, "config", documents).map_err(|e| e.to_string())?;
    for (name, labels) in &snapshot.prompts {
        let merged = raw.prompts.entry(name.clone()).or_default();
        for (label, release) in labels {
            if merged.insert(label.clone(), release.clone()).is_some() {
                return Err(format!(
                    "config: prompt `{name}` label `{label}` is deployed and also written \
                     inline under `prompts`; remove the inline copy"
                ));
            }
        }
    }
    for route in &mut raw.routes {
        if let Some(binding) = &mut route.prompt {
            binding
                .label
                .get_or_insert_with(|| snapshot.environment.clone());
        }
    }
    Ok(raw)
}

/// Checks a snapshot whole: config and policies compile, every prompt release compiles.
pub fn validate(snapshot: &ManagedSnapshot) -> Result<(), String> {
    let raw = raw_config(snapshot)?;
    for (name, labels) in &snapshot.prompts {
        for (label, release) in labels {
            release
                .validate()
                .map_err(|e| format!("prompt `{name}` label `{label}`: {e}"))?;
        }
    }
    let clients = ClientFactory::new();
    compile(raw, snapshot.version.clone(), &clients, |_| {
        Some(PLACEHOLDER_ENV_VALUE.to_owned())
    })
    .map(|_| ())
    .map_err(|e| format!("config: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managed::PolicyDocument;

    fn snapshot(config: &str, policies: &[(&str, &str)]) -> ManagedSnapshot {
        ManagedSnapshot {
            schema: SNAPSHOT_SCHEMA,
            version: "v1".into(),
            project: "p".into(),
            environment: "prod".into(),
            config: config.into(),
            policies: policies
                .iter()
                .map(|(name, yaml)| PolicyDocument {
                    name: (*name).into(),
                    yaml: (*yaml).into(),
                })
                .collect(),
            prompts: Default::default(),
            capture_payloads: false,
        }
    }

    const CONFIG: &str = "
providers:
  mock: {type: mock}
  oai: {type: openai, base_url: '${OPENAI_BASE_URL}', api_key_env: OPENAI_API_KEY}
routes:
  - model: chat
    targets: [{provider: mock, model: m}]
";

    #[test]
    fn valid_snapshot_with_policy_passes() {
        let policy = "
policies:
  - name: cheap
    objective: min_cost
    candidates: [{provider: mock, model: m}]
";
        validate(&snapshot(CONFIG, &[("routing", policy)])).unwrap();
    }

    #[test]
    fn invalid_parts_are_named() {
        let err = validate(&snapshot("providers: {x: {type: nope}}", &[])).unwrap_err();
        assert!(err.starts_with("config:"), "{err}");
        let err = validate(&snapshot(CONFIG, &[("routing", "policies: [{name: 5}]")])).unwrap_err();
        assert!(err.contains("policy `routing`"), "{err}");
        let files = format!("{CONFIG}\npolicy_files: [a.yaml]\n");
        assert!(validate(&snapshot(&files, &[]))
            .unwrap_err()
            .contains("policy_files"));
        let mut future = snapshot(CONFIG, &[]);
        future.schema = SNAPSHOT_SCHEMA + 1;
        assert!(validate(&future).is_err());
    }

    #[test]
    fn invalid_prompt_is_named() {
        let mut s = snapshot(CONFIG, &[]);
        let release: crate::prompt::PromptRelease = serde_json::from_value(
            serde_json::json!({"version": 1, "template": {"body": "{{ x }}"}}),
        )
        .unwrap();
        s.prompts
            .entry("support".into())
            .or_default()
            .insert("prod".into(), release);
        let err = validate(&s).unwrap_err();
        assert!(err.contains("prompt `support` label `prod`"), "{err}");
    }

    fn release(body: &str) -> crate::prompt::PromptRelease {
        serde_json::from_value(serde_json::json!({"version": 3, "template": {"body": body}}))
            .unwrap()
    }

    #[test]
    fn route_binding_defaults_to_the_environment_label_and_must_exist() {
        let bound = format!("{CONFIG}  - model: support\n    targets: [{{provider: mock}}]\n    prompt: {{name: support}}\n");
        let mut s = snapshot(&bound, &[]);
        let err = validate(&s).unwrap_err();
        assert!(
            err.contains("prompt `support`") && err.contains("`prod`"),
            "{err}"
        );
        s.prompts
            .entry("support".into())
            .or_default()
            .insert("staging".into(), release("hi"));
        let err = validate(&s).unwrap_err();
        assert!(err.contains("label `prod`"), "{err}");
        s.prompts
            .entry("support".into())
            .or_default()
            .insert("prod".into(), release("hi"));
        validate(&s).unwrap();
        let raw = raw_config(&s).unwrap();
        assert_eq!(
            raw.routes[1].prompt.as_ref().unwrap().label.as_deref(),
            Some("prod")
        );
    }
}

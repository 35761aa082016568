//! Prompt releases compiled once per snapshot, and the routes that bind them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::raw::RawRoute;
use crate::prompt::{goes_to_canary, CompiledPrompt, PromptRelease, PromptVersionRef};

/// The release a route renders: the stable version and an optional canary, compiled.
#[derive(Debug)]
pub struct BoundPrompt {
    pub name: String,
    pub label: String,
    pub stable: CompiledVersion,
    pub canary: Option<(u8, CompiledVersion)>,
    /// The route's environment values for variables the request leaves out (empty for most
    /// routes: then nothing is merged).
    pub variables: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug)]
pub struct CompiledVersion {
    pub version: i64,
    pub prompt: CompiledPrompt,
}

impl BoundPrompt {
    /// The version a request renders: the canary for its share of subjects (sticky per
    /// subject, random without one), the stable version otherwise.
    pub fn choose(&self, subject: Option<&str>) -> (&CompiledVersion, PromptVersionRef) {
        if let Some((percent, canary)) = &self.canary {
            if goes_to_canary(*percent, subject) {
                let used = PromptVersionRef {
                    version: canary.version,
                    canary: true,
                };
                return (canary, used);
            }
        }
        let used = PromptVersionRef {
            version: self.stable.version,
            canary: false,
        };
        (&self.stable, used)
    }
}

type Releases = BTreeMap<String, BTreeMap<String, PromptRelease>>;

/// Compiles every release (so an unbound but broken release is rejected too) and binds
/// the routes that name one; errors name the prompt and label.
pub fn bind(
    releases: &Releases,
    routes: &[RawRoute],
) -> Result<HashMap<String, Arc<BoundPrompt>>, String> {
    let mut compiled: HashMap<(&str, &str), Arc<BoundPrompt>> = HashMap::new();
    for (name, labels) in releases {
        for (label, release) in labels {
            let bound = compile_release(name, label, release)
                .map_err(|e| format!("prompts.{name}.{label}: {e}"))?;
            compiled.insert((name, label), Arc::new(bound));
        }
    }
    let mut by_route = HashMap::new();
    for (i, route) in routes.iter().enumerate() {
        let Some(binding) = &route.prompt else {
            continue;
        };
        let label = binding.label.as_deref().ok_or_else(|| {
            format!(
                "routes[{i}] ({}): prompt `{}` needs a `label` (only managed gateways default \
                 it to their environment)",
                route.model, binding.name
            )
        })?;
        let bound = compiled
            .get(&(binding.name.as_str(), label))
            .ok_or_else(|| {
                format!(
                    "routes[{i}] ({}): prompt `{}` has no release for label `{label}`",
                    route.model, binding.name
                )
            })?;
        let bound = if binding.variables.is_empty() {
            bound.clone()
        } else {
            let release = releases
                .get(&binding.name)
                .and_then(|labels| labels.get(label))
                .ok_or_else(|| format!("prompts.{}.{label}: missing", binding.name))?;
            let mut own = compile_release(&binding.name, label, release)?;
            check_overrides(&own, &binding.variables).map_err(|e| {
                format!(
                    "routes[{i}] ({}): prompt `{}`: {e}",
                    route.model, binding.name
                )
            })?;
            own.variables = binding.variables.clone();
            Arc::new(own)
        };
        by_route.insert(route.model.clone(), bound);
    }
    Ok(by_route)
}

/// Every environment value must be declared, with the declared type, by each version the
/// route may render (stable and canary).
fn check_overrides(
    bound: &BoundPrompt,
    values: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    let versions = std::iter::once(&bound.stable).chain(bound.canary.as_ref().map(|(_, c)| c));
    for version in versions {
        let declared = &version.prompt.template().variables;
        for (name, value) in values {
            let spec = declared.get(name).ok_or_else(|| {
                format!(
                    "`variables.{name}`: version {} declares no variable `{name}`",
                    version.version
                )
            })?;
            if !spec.kind().accepts(value) {
                return Err(format!(
                    "`variables.{name}` must be {} (version {})",
                    spec.kind().name(),
                    version.version
                ));
            }
        }
    }
    Ok(())
}

fn compile_release(
    name: &str,
    label: &str,
    release: &PromptRelease,
) -> Result<BoundPrompt, String> {
    if let Some(canary) = release.canary.as_ref().filter(|c| c.percent > 100) {
        return Err(format!(
            "canary percent must be 0..=100, got {}",
            canary.percent
        ));
    }
    let stable = CompiledVersion {
        version: release.version,
        prompt: release
            .template
            .compile()
            .map_err(|e| format!("version {}: {e}", release.version))?,
    };
    let canary = match &release.canary {
        Some(canary) if canary.percent > 0 => Some((
            canary.percent,
            CompiledVersion {
                version: canary.version,
                prompt: canary
                    .template
                    .compile()
                    .map_err(|e| format!("canary version {}: {e}", canary.version))?,
            },
        )),
        _ => None,
    };
    Ok(BoundPrompt {
        name: name.to_owned(),
        label: label.to_owned(),
        stable,
        canary,
        variables: serde_json::Map::new(),
    })
}

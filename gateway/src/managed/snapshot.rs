//! What the control plane serves to the gateways of one project and environment.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::prompt::PromptRelease;

/// Bumped when the snapshot's shape changes incompatibly.
pub const SNAPSHOT_SCHEMA: u32 = 1;

/// A complete, self-contained gateway configuration. The gateway validates it whole before
/// swapping it in; an invalid snapshot is rejected and the previous one keeps serving.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedSnapshot {
    pub schema: u32,
    /// Opaque; changes whenever anything in the snapshot changes. Served as the `ETag`.
    pub version: String,
    pub project: String,
    pub environment: String,
    /// The gateway config document in the YAML format of `--config` (providers, routes,
    /// prices, health, ...). Provider secrets are never in it: providers name the environment
    /// variables that hold them on the gateway. `policy_files` is not allowed here.
    pub config: String,
    /// Routing policy documents of the project (YAML with a `policies` list), merged into
    /// the config in name order.
    #[serde(default)]
    pub policies: Vec<PolicyDocument>,
    /// Deployed prompts: prompt name → label → release.
    #[serde(default)]
    pub prompts: BTreeMap<String, BTreeMap<String, PromptRelease>>,
    /// Whether traces may carry request and response payloads (PII-redacted).
    #[serde(default)]
    pub capture_payloads: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    pub name: String,
    /// YAML: `policies: [...]`, optionally `health: {...}`, as in `policies/routing.yaml`.
    pub yaml: String,
}

//! The YAML document exactly as users write it. Unknown fields are rejected everywhere.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::prompt::PromptRelease;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub retry: RawRetry,
    pub providers: BTreeMap<String, RawProvider>,
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    /// Where a `model` that names no route goes; without it such requests get 404.
    #[serde(default)]
    pub default_route: Option<RawDefaultRoute>,
    /// USD prices per million tokens, keyed by the upstream model name.
    #[serde(default)]
    pub prices: BTreeMap<String, RawPrice>,
    /// Client authentication; see [`crate::tenants`].
    #[serde(default)]
    pub auth: RawAuth,
    /// Virtual keys with their limits; see [`crate::tenants`].
    #[serde(default)]
    pub virtual_keys: Vec<RawVirtualKey>,
    /// Redis shared by replicas for rate limits and budgets, e.g. `redis://host:6379`.
    #[serde(default)]
    pub redis_url: Option<String>,
    /// Passive health and circuit breakers of upstream targets (see `routing`); set here or
    /// in one policy file, defaults otherwise.
    #[serde(default)]
    pub health: Option<RawHealth>,
    /// Named routing policies (see `routing`).
    #[serde(default)]
    pub policies: Vec<RawPolicy>,
    /// Files holding more `policies` (and optionally `health`), relative to this file's
    /// directory; see [`super::policy_files`].
    #[serde(default)]
    pub policy_files: Vec<String>,
    /// Prompt releases routes may bind to: prompt name → label → release. A managed
    /// gateway gets them from its snapshot; `--config` users write them inline.
    #[serde(default)]
    pub prompts: BTreeMap<String, BTreeMap<String, PromptRelease>>,
}

/// A route's prompt: the release of `label` of prompt `name` is rendered into each request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPromptBinding {
    pub name: String,
    /// Defaults to the managed gateway's environment; required with `--config`.
    #[serde(default)]
    pub label: Option<String>,
    /// This environment's values for declared variables: used when a request does not send
    /// them (they override the template's defaults here; a request's own value wins).
    #[serde(default)]
    pub variables: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// Refuse requests without a valid virtual key even when none is configured.
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVirtualKey {
    pub name: String,
    /// Hex SHA-256 of the key; the key itself never appears in config.
    pub key_sha256: String,
    #[serde(default)]
    pub allowed_models: Vec<String>,
    #[serde(default)]
    pub rpm: Option<u64>,
    #[serde(default)]
    pub tpm: Option<u64>,
    #[serde(default)]
    pub budget_usd_per_day: Option<f64>,
    #[serde(default)]
    pub budget_usd_per_month: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLimits {
    pub max_body_bytes: usize,
    pub max_response_bytes: usize,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_body_bytes: 32 * 1024 * 1024,
            max_response_bytes: 256 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRetry {
    /// Upstream attempts per request, the first included.
    pub max_attempts: u32,
    /// Retries allowed as a fraction of requests.
    pub budget_ratio: f64,
    /// Retries always allowed per second, whatever the ratio.
    pub min_retries_per_second: u32,
    pub base_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// A `Retry-After` longer than this is not waited for.
    pub max_retry_after_ms: u64,
}

impl Default for RawRetry {
    fn default() -> Self {
        RawRetry {
            max_attempts: 3,
            budget_ratio: 0.2,
            min_retries_per_second: 10,
            base_backoff_ms: 25,
            max_backoff_ms: 1000,
            max_retry_after_ms: 5000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "snake_case")]
pub enum RawProvider {
    /// OpenAI and every OpenAI-compatible server (vLLM, Ollama, llama.cpp, ...).
    Openai(RawHttpProvider),
    /// The built-in deterministic provider; needs no network and no key.
    Mock(RawMockProvider),
    /// Azure OpenAI: the OpenAI wire format, addressed by deployment.
    Azure(RawAzureProvider),
    /// Anthropic's Messages API (`POST {base_url}/messages`), translated from and to OpenAI.
    Anthropic(RawAnthropicProvider),
    /// Google's Gemini API, translated to and from the OpenAI shape.
    Gemini(RawGeminiProvider),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttpProvider {
    /// e.g. `https://api.openai.com/v1`; `${VAR}` and `${VAR:-default}` are expanded.
    pub base_url: String,
    /// The environment variable holding the API key (never the key itself).
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub timeouts: RawTimeouts,
    /// Speak HTTP/2 without TLS negotiation (h2c), e.g. for a vLLM behind an h2c proxy.
    #[serde(default)]
    pub http2_prior_knowledge: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAzureProvider {
    /// The resource endpoint, e.g. `https://my-resource.openai.azure.com` (without `/openai`);
    /// `${VAR}` and `${VAR:-default}` are expanded.
    pub base_url: String,
    /// The environment variable holding the resource key, sent as `api-key`.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Instead of a key: the environment variable holding a Microsoft Entra ID token, sent as
    /// `Authorization: Bearer` (read when the config is loaded, never refreshed).
    #[serde(default)]
    pub bearer_token_env: Option<String>,
    /// The dated `api-version` of deployment URLs, e.g. `2024-10-21`.
    pub api_version: String,
    /// Upstream model name → deployment name; a model not listed is its own deployment.
    #[serde(default)]
    pub deployments: BTreeMap<String, String>,
    #[serde(default)]
    pub timeouts: RawTimeouts,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnthropicProvider {
    /// Defaults to `https://api.anthropic.com/v1`; `${VAR}` and `${VAR:-default}` are expanded.
    #[serde(default = "default_anthropic_base_url")]
    pub base_url: String,
    /// The environment variable holding the API key (sent as `x-api-key`).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The `anthropic-version` header.
    #[serde(default = "default_anthropic_version")]
    pub api_version: String,
    /// `max_tokens` when the request sets neither `max_tokens` nor `max_completion_tokens`
    /// (Anthropic requires one).
    #[serde(default = "default_anthropic_max_tokens")]
    pub default_max_tokens: u32,
    #[serde(default)]
    pub timeouts: RawTimeouts,
}

fn default_anthropic_base_url() -> String {
    "https://api.anthropic.com/v1".to_owned()
}

fn default_anthropic_version() -> String {
    "2023-06-01".to_owned()
}

fn default_anthropic_max_tokens() -> u32 {
    4096
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGeminiProvider {
    /// Defaults to `https://generativelanguage.googleapis.com/v1beta`; `${VAR}` and
    /// `${VAR:-default}` are expanded.
    #[serde(default = "default_gemini_base_url")]
    pub base_url: String,
    /// The environment variable holding the API key (never the key itself), sent as
    /// `x-goog-api-key`.
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub timeouts: RawTimeouts,
}
fn default_gemini_base_url() -> String {
    "https://generativelanguage.googleapis.com/v1beta".to_owned()
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTimeouts {
    pub connect_ms: u64,
    /// From sending the request to the response headers (and, for streams, the first event).
    pub first_byte_ms: u64,
    /// Longest silence between two body chunks.
    pub idle_ms: u64,
}

impl Default for RawTimeouts {
    fn default() -> Self {
        RawTimeouts {
            connect_ms: 5_000,
            first_byte_ms: 120_000,
            idle_ms: 60_000,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMockProvider {
    /// `echo` (default) repeats the last user message; `fixed` answers `text`.
    #[serde(default)]
    pub response: MockResponseMode,
    #[serde(default)]
    pub text: Option<String>,
    /// Words per streamed chunk.
    #[serde(default)]
    pub words_per_chunk: Option<usize>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MockResponseMode {
    #[default]
    Echo,
    Fixed,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// The `model` name clients send.
    pub model: String,
    /// May be empty when `policy` is set.
    #[serde(default)]
    pub targets: Vec<RawTarget>,
    /// A policy applied to every request of this route (its candidates first, then the
    /// route's own targets as fallback).
    #[serde(default)]
    pub policy: Option<String>,
    /// Bring your own key: clients may send their provider key (`x-promptgate-provider-key`,
    /// or the bearer token when no tenant auth is configured); all targets and policy
    /// candidates must then use one provider. See [`crate::byok`].
    #[serde(default)]
    pub byok: bool,
    /// A prompt rendered with the request's `variables` (see [`crate::pipeline::prompted`]).
    #[serde(default)]
    pub prompt: Option<RawPromptBinding>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefaultRoute {
    pub targets: Vec<RawTarget>,
    /// As for routes; also decides whether passthrough paths (other `/v1/*`) accept client
    /// keys.
    #[serde(default)]
    pub byok: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub provider: String,
    /// The upstream model name; defaults to the model the client sent.
    #[serde(default)]
    pub model: Option<String>,
    /// Share of traffic among targets of the same priority.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Lower is tried first; defaults to the target's position, so a plain list is a
    /// fallback chain.
    #[serde(default)]
    pub priority: Option<u32>,
}

fn default_weight() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    pub input_per_million: f64,
    pub output_per_million: f64,
    /// Price of prompt tokens served from the provider's cache; defaults to the input price.
    #[serde(default)]
    pub cached_input_per_million: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHealth {
    pub consecutive_failures: u32,
    pub open_ms: u64,
    /// Latency samples kept per target for the p95.
    pub window: usize,
    pub ewma_alpha: f64,
}

impl Default for RawHealth {
    fn default() -> Self {
        RawHealth {
            consecutive_failures: 5,
            open_ms: 10_000,
            window: 100,
            ewma_alpha: 0.3,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    MinCost,
    MinLatency,
    MaxQuality,
    Weighted,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub name: String,
    /// Where the policy was written, for errors (`policies[i]` of the main config when unset);
    /// never read from YAML.
    #[serde(skip)]
    pub origin: Option<String>,
    pub objective: Objective,
    #[serde(default)]
    pub constraints: RawConstraints,
    pub candidates: Vec<RawCandidate>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConstraints {
    #[serde(default)]
    pub max_p95_latency_ms: Option<f64>,
    #[serde(default)]
    pub min_quality_score: Option<f64>,
    #[serde(default)]
    pub max_cost_per_request_usd: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCandidate {
    pub provider: String,
    /// The upstream model (needed to price the candidate).
    pub model: String,
    /// 0.0..=1.0; defaults to 0.5.
    #[serde(default)]
    pub quality: Option<f64>,
    /// For the `weighted` objective.
    #[serde(default = "default_weight")]
    pub weight: u32,
}

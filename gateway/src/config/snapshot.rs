//! The compiled, immutable configuration that requests read.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::env::expand;
use super::http_provider::{secret, HttpProviderSettings};
use super::prompts::{bind, BoundPrompt};
use super::raw::{RawConfig, RawHealth, RawPrice, RawProvider, RawTarget};
use crate::accounting::Price;
use crate::providers::anthropic::AnthropicProvider;
use crate::providers::azure::AzureProvider;
use crate::providers::gemini::GeminiProvider;
use crate::providers::mock::MockProvider;
use crate::providers::openai::OpenAiProvider;
use crate::providers::Provider;
use crate::routing::health::HealthConfig;
use crate::routing::policy::Policy;
use crate::tenants::Tenants;
use crate::upstream::client::ClientFactory;
use crate::upstream::retry::RetryPolicy;

/// Everything a request needs, pinned for its whole life.
pub struct Snapshot {
    pub version: String,
    pub max_body_bytes: usize,
    pub max_response_bytes: usize,
    pub retry: RetryPolicy,
    pub budget_ratio: f64,
    pub min_retries_per_second: u32,
    routes: HashMap<String, Arc<Route>>,
    default_route: Option<Arc<Route>>,
    prices: HashMap<String, Price>,
    providers: Vec<Arc<dyn Provider>>,
    /// The `GET /v1/models` body, built once.
    pub models_body: Bytes,
    /// Virtual keys and whether requests must authenticate.
    pub tenants: Tenants,
    /// Redis for limits shared across replicas.
    pub redis_url: Option<String>,
    pub health: HealthConfig,
    policies: HashMap<String, Arc<Policy>>,
    /// Whether any route binds a prompt: when none does, requests skip the prompt lookup.
    pub has_prompt_routes: bool,
    /// Whether traces may carry (redacted) payloads; set by the managed snapshot.
    pub capture_payloads: bool,
}

pub struct Route {
    /// The route name (`default` for the default route).
    pub name: String,
    /// Targets grouped by priority, lowest first.
    tiers: Vec<Vec<Target>>,
    /// The policy applied to every request of this route.
    pub policy: Option<Arc<Policy>>,
    /// With `byok: true`, the one provider that client keys may go to.
    pub byok_provider: Option<String>,
    /// The prompt this route renders into each request.
    pub prompt: Option<Arc<BoundPrompt>>,
}

pub struct Target {
    pub provider: Arc<dyn Provider>,
    /// The upstream model; `None` keeps the client's.
    pub model: Option<String>,
    pub weight: u32,
}

impl Snapshot {
    /// The route for a client's `model`, or the default route.
    pub fn route(&self, model: &str) -> Option<&Arc<Route>> {
        self.routes.get(model).or(self.default_route.as_ref())
    }

    pub fn has_route(&self, model: &str) -> bool {
        self.routes.contains_key(model)
    }

    pub fn price(&self, upstream_model: &str) -> Option<Price> {
        self.prices.get(upstream_model).copied()
    }

    pub fn providers(&self) -> &[Arc<dyn Provider>] {
        &self.providers
    }

    pub fn default_route(&self) -> Option<&Arc<Route>> {
        self.default_route.as_ref()
    }

    pub fn route_names(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }

    pub fn policy(&self, name: &str) -> Option<&Arc<Policy>> {
        self.policies.get(name)
    }

    pub fn policy_names(&self) -> impl Iterator<Item = &str> {
        self.policies.keys().map(String::as_str)
    }

    /// The prompt bound to the route named `model` (never the default route's), found
    /// without a lookup when no route binds one.
    pub fn bound_prompt(&self, model: &str) -> Option<&Arc<BoundPrompt>> {
        if !self.has_prompt_routes {
            return None;
        }
        self.routes.get(model)?.prompt.as_ref()
    }
}

impl Route {
    /// The targets to try, in order, for at most `max_attempts` attempts: each priority tier
    /// in a weighted random order, lower tiers first, cycling when attempts exceed targets.
    pub fn attempt_order(&self, max_attempts: usize) -> Vec<&Target> {
        let mut order = self.ordered_targets();
        let distinct = order.len();
        if distinct == 0 {
            return order;
        }
        let mut i = 0;
        while order.len() < max_attempts {
            order.push(order[i % distinct]);
            i += 1;
        }
        order.truncate(max_attempts.max(1));
        order
    }

    /// Each target once: each priority tier in a weighted random order, lower tiers first.
    pub fn ordered_targets(&self) -> Vec<&Target> {
        let mut order: Vec<&Target> = Vec::with_capacity(4);
        for tier in &self.tiers {
            weighted_shuffle_into(tier, &mut order);
        }
        order
    }

    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.tiers.iter().flatten()
    }
}

fn weighted_shuffle_into<'a>(tier: &'a [Target], out: &mut Vec<&'a Target>) {
    if tier.len() == 1 {
        out.push(&tier[0]);
        return;
    }
    let mut left: Vec<&Target> = tier.iter().filter(|t| t.weight > 0).collect();
    while !left.is_empty() {
        let total: u64 = left.iter().map(|t| u64::from(t.weight)).sum();
        let mut pick = fastrand::u64(0..total.max(1));
        let mut index = 0;
        for (i, t) in left.iter().enumerate() {
            let w = u64::from(t.weight);
            if pick < w {
                index = i;
                break;
            }
            pick -= w;
        }
        out.push(left.swap_remove(index));
    }
}

/// Validates a raw config and builds the snapshot; errors name the offending field.
pub fn compile(
    raw: RawConfig,
    version: String,
    clients: &ClientFactory,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Snapshot, String> {
    if raw.limits.max_body_bytes == 0 {
        return Err("limits.max_body_bytes must be greater than 0".into());
    }
    if raw.retry.max_attempts == 0 || raw.retry.max_attempts > 10 {
        return Err("retry.max_attempts must be between 1 and 10".into());
    }
    if !(0.0..=10.0).contains(&raw.retry.budget_ratio) {
        return Err("retry.budget_ratio must be between 0 and 10".into());
    }
    let mut providers: HashMap<String, Arc<dyn Provider>> = HashMap::new();
    for (name, provider) in &raw.providers {
        let built = build_provider(name, provider, clients, &env)
            .map_err(|e| format!("providers.{name}: {e}"))?;
        providers.insert(name.clone(), built);
    }
    if !raw.policy_files.is_empty() {
        return Err("policy_files must be read by the config loader (config::load)".into());
    }
    let health = check_health(raw.health.as_ref().unwrap_or(&RawHealth::default()))?;
    let mut policies = HashMap::new();
    for (i, policy) in raw.policies.iter().enumerate() {
        let at = policy
            .origin
            .clone()
            .unwrap_or_else(|| format!("policies[{i}]"));
        let built = Policy::compile(policy, &providers)
            .map_err(|e| format!("{at} ({}): {e}", policy.name))?;
        if policies
            .insert(policy.name.clone(), Arc::new(built))
            .is_some()
        {
            return Err(format!("{at}: duplicate policy `{}`", policy.name));
        }
    }
    let mut bound_prompts = bind(&raw.prompts, &raw.routes)?;
    let has_prompt_routes = !bound_prompts.is_empty();
    let mut routes = HashMap::new();
    for (i, route) in raw.routes.iter().enumerate() {
        if route.model.is_empty() {
            return Err(format!("routes[{i}].model must not be empty"));
        }
        let policy = match &route.policy {
            Some(name) => Some(policies.get(name).cloned().ok_or_else(|| {
                format!("routes[{i}] ({}): unknown policy `{name}`", route.model)
            })?),
            None => None,
        };
        let mut built = build_route(&route.model, &route.targets, &providers, policy.is_some())
            .map_err(|e| format!("routes[{i}] ({}): {e}", route.model))?;
        built.policy = policy;
        built.prompt = bound_prompts.remove(&route.model);
        if route.byok {
            built.byok_provider = Some(
                byok_provider(&built).map_err(|e| format!("routes[{i}] ({}): {e}", route.model))?,
            );
        }
        if routes
            .insert(route.model.clone(), Arc::new(built))
            .is_some()
        {
            return Err(format!(
                "routes[{i}]: duplicate route for model `{}`",
                route.model
            ));
        }
    }
    let default_route = match &raw.default_route {
        Some(d) => {
            let mut built = build_route("default", &d.targets, &providers, false)
                .map_err(|e| format!("default_route: {e}"))?;
            if d.byok {
                built.byok_provider =
                    Some(byok_provider(&built).map_err(|e| format!("default_route: {e}"))?);
            }
            Some(Arc::new(built))
        }
        None => None,
    };
    let mut prices = HashMap::new();
    for (model, price) in &raw.prices {
        prices.insert(
            model.clone(),
            check_price(price).map_err(|e| format!("prices.{model}: {e}"))?,
        );
    }
    let tenants = Tenants::compile(&raw.auth, &raw.virtual_keys)?;
    let redis_url = match &raw.redis_url {
        Some(url) => {
            let url = expand(url, &env).map_err(|e| format!("redis_url: {e}"))?;
            redis::Client::open(url.as_str()).map_err(|e| format!("redis_url: {e}"))?;
            Some(url)
        }
        None => None,
    };
    let mut names: Vec<&str> = routes.keys().map(String::as_str).collect();
    names.sort_unstable();
    let models_body = models_list_body(&names);
    let mut provider_list: Vec<Arc<dyn Provider>> = providers.into_values().collect();
    provider_list.sort_by(|a, b| a.name().cmp(b.name()));
    Ok(Snapshot {
        version,
        max_body_bytes: raw.limits.max_body_bytes,
        max_response_bytes: raw.limits.max_response_bytes,
        retry: RetryPolicy {
            max_attempts: raw.retry.max_attempts,
            base_backoff: Duration::from_millis(raw.retry.base_backoff_ms),
            max_backoff: Duration::from_millis(raw.retry.max_backoff_ms),
            max_retry_after: Duration::from_millis(raw.retry.max_retry_after_ms),
        },
        budget_ratio: raw.retry.budget_ratio,
        min_retries_per_second: raw.retry.min_retries_per_second,
        routes,
        default_route,
        prices,
        providers: provider_list,
        models_body,
        tenants,
        redis_url,
        health,
        policies,
        has_prompt_routes,
        capture_payloads: false,
    })
}

fn build_provider(
    name: &str,
    raw: &RawProvider,
    clients: &ClientFactory,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Provider>, String> {
    match raw {
        RawProvider::Mock(mock) => Ok(Arc::new(MockProvider::new(name.to_owned(), mock))),
        RawProvider::Azure(azure) => Ok(Arc::new(AzureProvider::from_config(
            name, azure, clients, env,
        )?)),
        RawProvider::Anthropic(raw) => Ok(Arc::new(AnthropicProvider::from_config(
            name, raw, clients, env,
        )?)),
        RawProvider::Gemini(gemini) => {
            let http = HttpProviderSettings::resolve(
                &gemini.base_url,
                gemini.timeouts,
                false,
                clients,
                env,
            )?;
            let api_key = gemini
                .api_key_env
                .as_deref()
                .and_then(|var| secret(name, var, env));
            Ok(Arc::new(GeminiProvider::new(
                name.to_owned(),
                &http.base_url,
                api_key,
                http.client,
                http.timeouts,
            )?))
        }
        RawProvider::Openai(raw) => {
            let http = HttpProviderSettings::resolve(
                &raw.base_url,
                raw.timeouts,
                raw.http2_prior_knowledge,
                clients,
                env,
            )?;
            let api_key = raw
                .api_key_env
                .as_deref()
                .and_then(|var| secret(name, var, env));
            Ok(Arc::new(OpenAiProvider::new(
                name.to_owned(),
                &http.base_url,
                api_key,
                http.client,
                http.timeouts,
            )?))
        }
    }
}

fn build_route(
    name: &str,
    targets: &[RawTarget],
    providers: &HashMap<String, Arc<dyn Provider>>,
    has_policy: bool,
) -> Result<Route, String> {
    if targets.is_empty() && !has_policy {
        return Err("a route needs at least one target".into());
    }
    let mut tiers: Vec<(u32, Vec<Target>)> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let provider = providers
            .get(&t.provider)
            .ok_or_else(|| format!("targets[{i}]: unknown provider `{}`", t.provider))?
            .clone();
        if t.model.as_deref() == Some("") {
            return Err(format!("targets[{i}].model must not be empty"));
        }
        let priority = t.priority.unwrap_or(i as u32);
        let target = Target {
            provider,
            model: t.model.clone(),
            weight: t.weight,
        };
        match tiers.iter_mut().find(|(p, _)| *p == priority) {
            Some((_, tier)) => tier.push(target),
            None => tiers.push((priority, vec![target])),
        }
    }
    tiers.sort_by_key(|(p, _)| *p);
    for (priority, tier) in &tiers {
        if tier.iter().all(|t| t.weight == 0) {
            return Err(format!("targets of priority {priority} all have weight 0"));
        }
    }
    Ok(Route {
        name: name.to_owned(),
        tiers: tiers.into_iter().map(|(_, t)| t).collect(),
        policy: None,
        byok_provider: None,
        prompt: None,
    })
}

/// The one provider a byok route's targets and policy candidates use.
fn byok_provider(route: &Route) -> Result<String, String> {
    let candidates = route.policy.iter().flat_map(|p| p.candidates.iter());
    crate::byok::single_provider(
        route
            .targets()
            .chain(candidates.map(|c| &c.target))
            .map(|t| t.provider.name()),
    )
}

fn check_health(raw: &RawHealth) -> Result<HealthConfig, String> {
    if raw.consecutive_failures == 0 {
        return Err("health.consecutive_failures must be greater than 0".into());
    }
    if raw.window == 0 {
        return Err("health.window must be greater than 0".into());
    }
    if !(raw.ewma_alpha > 0.0 && raw.ewma_alpha <= 1.0) {
        return Err("health.ewma_alpha must be in (0, 1]".into());
    }
    Ok(HealthConfig {
        consecutive_failures: raw.consecutive_failures,
        open: Duration::from_millis(raw.open_ms),
        window: raw.window,
        ewma_alpha: raw.ewma_alpha,
    })
}

fn check_price(raw: &RawPrice) -> Result<Price, String> {
    let cached = raw
        .cached_input_per_million
        .unwrap_or(raw.input_per_million);
    for v in [raw.input_per_million, raw.output_per_million, cached] {
        if !v.is_finite() || v < 0.0 {
            return Err("prices must be finite and not negative".into());
        }
    }
    Ok(Price {
        input_per_million: raw.input_per_million,
        output_per_million: raw.output_per_million,
        cached_input_per_million: cached,
    })
}

fn models_list_body(names: &[&str]) -> Bytes {
    let data: Vec<serde_json::Value> = names
        .iter()
        .map(|id| {
            serde_json::json!({"id": id, "object": "model", "created": 0, "owned_by": "promptgate"})
        })
        .collect();
    let body = serde_json::json!({"object": "list", "data": data});
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::parse_yaml;

    fn compile_yaml(text: &str) -> Result<Snapshot, String> {
        let raw = parse_yaml(text)?;
        compile(raw, "v1".into(), &ClientFactory::default(), |name| {
            (name == "BASE").then(|| "http://127.0.0.1:1/v1".to_owned())
        })
    }

    const CONFIG: &str = "
providers:
  a: { type: mock }
  b: { type: openai, base_url: '${BASE}' }
routes:
  - model: chain
    targets: [ { provider: a }, { provider: b, model: real } ]
  - model: split
    targets:
      - { provider: a, priority: 0, weight: 3 }
      - { provider: b, priority: 0, weight: 1 }
default_route:
  targets: [ { provider: b } ]
prices:
  real: { input_per_million: 1.0, output_per_million: 2.0 }
";

    #[test]
    fn plain_list_is_a_fallback_chain() {
        let snap = compile_yaml(CONFIG).unwrap();
        let route = snap.route("chain").unwrap();
        let order: Vec<_> = route
            .attempt_order(3)
            .iter()
            .map(|t| t.provider.name())
            .collect();
        assert_eq!(order, vec!["a", "b", "a"]);
        assert_eq!(route.attempt_order(1).len(), 1);
    }

    #[test]
    fn same_priority_splits_by_weight() {
        let snap = compile_yaml(CONFIG).unwrap();
        let route = snap.route("split").unwrap();
        let firsts = (0..4000)
            .filter(|_| route.attempt_order(2)[0].provider.name() == "a")
            .count();
        assert!((2700..3300).contains(&firsts), "{firsts}");
    }

    #[test]
    fn unknown_model_uses_default_route_and_models_lists_routes() {
        let snap = compile_yaml(CONFIG).unwrap();
        assert_eq!(snap.route("anything").unwrap().name, "default");
        assert!(!snap.has_route("anything"));
        let models: serde_json::Value = serde_json::from_slice(&snap.models_body).unwrap();
        assert_eq!(models["data"][0]["id"], "chain");
        assert_eq!(models["data"][1]["id"], "split");
        assert!(snap.price("real").is_some());
    }

    #[test]
    fn invalid_configs_are_rejected_with_the_field() {
        let cases = [
            ("providers: {}\nroutes: [ { model: x, targets: [ { provider: nope } ] } ]", "unknown provider"),
            ("providers: { a: { type: mock } }\nroutes: [ { model: x, targets: [] } ]", "at least one target"),
            ("providers: { b: { type: openai, base_url: '${UNSET_VAR}' } }", "UNSET_VAR"),
            ("providers: { b: { type: openai, base_url: 'ftp://x' } }", "http"),
            ("providers: { a: { type: mock } }\nroutes: [ { model: x, targets: [ { provider: a } ] }, { model: x, targets: [ { provider: a } ] } ]", "duplicate"),
            ("providers: { a: { type: mock } }\nprices: { m: { input_per_million: -1, output_per_million: 1 } }", "prices.m"),
            ("providers: { a: { type: mock } }\nretry: { max_attempts: 0 }", "max_attempts"),
        ];
        for (text, needle) in cases {
            let err = compile_yaml(text).err().unwrap_or_default();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}

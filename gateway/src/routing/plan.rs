//! The attempt plan of one request: policy ordering, then circuit breakers with the
//! ejection cap, and the decision that explains it.

use std::time::Instant;

use super::health::{Admission, HealthConfig, HealthRegistry};
use super::policy::{estimate_cost, Considered, Facts, Policy};
use crate::config::{Route, Snapshot, Target};
use crate::error::GatewayError;

/// What is known about the request before the call.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// The model the client sent.
    pub model: &'a str,
    /// The body as sent upstream, for the prompt's token count.
    pub body: &'a [u8],
    pub max_tokens: Option<u64>,
}

/// Why the targets are tried in this order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutingDecision {
    pub policy: Option<String>,
    pub considered: Vec<Considered>,
    /// `provider/model` of the target that answered.
    pub chosen: Option<String>,
}

impl RoutingDecision {
    /// The compact `x-promptgate-decision` value.
    pub fn header_value(&self) -> String {
        let mut out = format!("policy={}", self.policy.as_deref().unwrap_or("-"));
        out.push_str(";chosen=");
        out.push_str(self.chosen.as_deref().unwrap_or("-"));
        let skipped: Vec<String> = self
            .considered
            .iter()
            .filter_map(|c| {
                let reason = c.skipped.as_deref()?;
                Some(format!("{}/{}({reason})", c.provider, c.model))
            })
            .collect();
        if !skipped.is_empty() {
            out.push_str(";skipped=");
            out.push_str(&skipped.join(","));
        }
        out
    }

    /// Every candidate and why it was skipped, for error messages.
    pub fn explain(&self) -> String {
        let parts: Vec<String> = self
            .considered
            .iter()
            .map(|c| {
                let reason = c.skipped.as_deref().unwrap_or("eligible");
                format!("{}/{} ({reason})", c.provider, c.model)
            })
            .collect();
        parts.join(", ")
    }
}

/// The targets to try, in order.
pub struct Plan<'s> {
    pub targets: Vec<&'s Target>,
    /// True when every target's breaker is open and they are tried anyway (ejection cap);
    /// otherwise each attempt must still be admitted (a half-open breaker lets one through).
    pub forced: bool,
    pub decision: Option<RoutingDecision>,
}

/// The health key of a target for a request.
pub fn target_key<'a>(target: &'a Target, client_model: &'a str) -> (&'a str, &'a str) {
    (
        target.provider.name(),
        target.model.as_deref().unwrap_or(client_model),
    )
}

/// Plans the attempts of one request for at most `max_attempts` attempts.
#[allow(clippy::too_many_arguments)] // each input is distinct; a bag struct would only rename them
pub fn plan<'s>(
    health: &HealthRegistry,
    config: &HealthConfig,
    snapshot: &'s Snapshot,
    route: &'s Route,
    policy: Option<&'s Policy>,
    request: RequestFacts<'_>,
    max_attempts: usize,
    now: Instant,
) -> Result<Plan<'s>, Box<(GatewayError, RoutingDecision)>> {
    let mut ordered: Vec<&'s Target> = Vec::new();
    let mut decision = None;
    if let Some(policy) = policy {
        let prompt_tokens = policy
            .weighs_cost()
            .then(|| super::tokens::prompt_tokens(request.body));
        let facts: Vec<Facts> = policy
            .candidates
            .iter()
            .map(|c| {
                let view = health.view((c.target.provider.name(), &c.model));
                Facts {
                    estimated_cost_usd: prompt_tokens.and_then(|tokens| {
                        estimate_cost(snapshot.price(&c.model), tokens, request.max_tokens)
                    }),
                    p95_ms: view.as_ref().and_then(|v| v.p95_ms),
                    ewma_ms: view.as_ref().and_then(|v| v.ewma_ms),
                }
            })
            .collect();
        let (order, considered) = policy.evaluate(&facts);
        let d = RoutingDecision {
            policy: Some(policy.name.clone()),
            considered,
            chosen: None,
        };
        if order.is_empty() {
            let message = format!(
                "Routing policy `{}`: no candidate satisfies its constraints: {}",
                policy.name,
                d.explain()
            );
            return Err(Box::new((GatewayError::NoCandidate(message), d)));
        }
        ordered.extend(order.into_iter().map(|i| &policy.candidates[i].target));
        decision = Some(d);
    }
    for target in route.ordered_targets() {
        let key = target_key(target, request.model);
        if !ordered.iter().any(|t| target_key(t, request.model) == key) {
            ordered.push(target);
        }
    }
    let mut admitted: Vec<&'s Target> = Vec::with_capacity(ordered.len());
    let mut rejected: Vec<&'s Target> = Vec::new();
    for target in &ordered {
        match health.peek(target_key(target, request.model), config, now) {
            Admission::Allowed | Admission::Probe => admitted.push(target),
            Admission::Rejected => rejected.push(target),
        }
    }
    let forced = admitted.is_empty();
    if forced {
        // Ejection cap: never skip every target; the least recently failed goes first.
        rejected.sort_by_key(|t| {
            health
                .view(target_key(t, request.model))
                .and_then(|v| v.last_failure)
        });
        admitted = rejected;
    } else if !rejected.is_empty() {
        let d = decision.get_or_insert_with(RoutingDecision::default);
        for target in &rejected {
            let (provider, model) = target_key(target, request.model);
            let entry = d
                .considered
                .iter_mut()
                .find(|c| c.provider == provider && c.model == model);
            match entry {
                Some(c) => c.skipped = Some("breaker_open".into()),
                None => d.considered.push(Considered {
                    provider: provider.to_owned(),
                    model: model.to_owned(),
                    estimated_cost_usd: None,
                    p95_ms: None,
                    quality: super::policy::DEFAULT_QUALITY,
                    skipped: Some("breaker_open".into()),
                }),
            }
        }
    }
    let distinct = admitted.len();
    let mut targets = admitted;
    let mut i = 0;
    while targets.len() < max_attempts && distinct > 0 {
        targets.push(targets[i % distinct]);
        i += 1;
    }
    targets.truncate(max_attempts.max(1));
    Ok(Plan {
        targets,
        forced,
        decision,
    })
}

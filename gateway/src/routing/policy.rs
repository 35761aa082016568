//! Compiled routing policies: constraint filtering and objective ordering over facts known
//! before the call (estimated cost, p95 latency, configured quality). Pure functions.

use std::collections::HashMap;
use std::sync::Arc;

use crate::accounting::Price;
use crate::config::raw::{Objective, RawPolicy};
use crate::config::Target;
use crate::openai::usage::Usage;
use crate::providers::Provider;

/// Output tokens assumed when the request sets no `max_tokens`.
pub const DEFAULT_OUTPUT_TOKENS: u64 = 256;
/// Quality of a candidate without a `quality` score.
pub const DEFAULT_QUALITY: f64 = 0.5;

pub struct Policy {
    pub name: String,
    pub objective: Objective,
    pub max_p95_ms: Option<f64>,
    pub min_quality: Option<f64>,
    pub max_cost_usd: Option<f64>,
    pub candidates: Vec<Candidate>,
}

impl Policy {
    /// True when the decision depends on the estimated cost (objective or constraint), so
    /// the prompt's tokens must be counted.
    pub fn weighs_cost(&self) -> bool {
        self.objective == Objective::MinCost || self.max_cost_usd.is_some()
    }
}

pub struct Candidate {
    /// `target.model` is always set.
    pub target: Target,
    pub model: String,
    pub quality: f64,
}

/// What is known about one candidate before the call.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Facts {
    pub estimated_cost_usd: Option<f64>,
    pub p95_ms: Option<f64>,
    pub ewma_ms: Option<f64>,
}

/// One candidate as the decision saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Considered {
    pub provider: String,
    pub model: String,
    pub estimated_cost_usd: Option<f64>,
    pub p95_ms: Option<f64>,
    pub quality: f64,
    /// Why it was not tried, e.g. `p95>1200ms`, `breaker_open`.
    pub skipped: Option<String>,
}

/// The cost estimate before the call: the prompt's tokens (see [`super::tokens`]) and
/// `max_tokens` or [`DEFAULT_OUTPUT_TOKENS`] output tokens. `None` when the model has no price.
pub fn estimate_cost(
    price: Option<Price>,
    prompt_tokens: u64,
    max_tokens: Option<u64>,
) -> Option<f64> {
    let usage = Usage {
        prompt_tokens,
        completion_tokens: max_tokens.unwrap_or(DEFAULT_OUTPUT_TOKENS),
        ..Usage::default()
    };
    price.map(|p| p.cost(&usage))
}

impl Policy {
    pub fn compile(
        raw: &RawPolicy,
        providers: &HashMap<String, Arc<dyn Provider>>,
    ) -> Result<Policy, String> {
        if raw.name.is_empty() {
            return Err("name must not be empty".into());
        }
        if raw.candidates.is_empty() {
            return Err("a policy needs at least one candidate".into());
        }
        let c = raw.constraints;
        for v in [
            c.max_p95_latency_ms,
            c.min_quality_score,
            c.max_cost_per_request_usd,
        ]
        .into_iter()
        .flatten()
        {
            if !v.is_finite() || v < 0.0 {
                return Err("constraints must be finite and not negative".into());
            }
        }
        let mut candidates = Vec::with_capacity(raw.candidates.len());
        for (i, rc) in raw.candidates.iter().enumerate() {
            let provider = providers
                .get(&rc.provider)
                .ok_or_else(|| format!("candidates[{i}]: unknown provider `{}`", rc.provider))?
                .clone();
            let quality = rc.quality.unwrap_or(DEFAULT_QUALITY);
            if !(0.0..=1.0).contains(&quality) {
                return Err(format!("candidates[{i}].quality must be between 0 and 1"));
            }
            if rc.model.is_empty() {
                return Err(format!("candidates[{i}].model must not be empty"));
            }
            if raw.objective == Objective::Weighted && rc.weight == 0 && raw.candidates.len() == 1 {
                return Err(format!("candidates[{i}].weight must be greater than 0"));
            }
            candidates.push(Candidate {
                target: Target {
                    provider,
                    model: Some(rc.model.clone()),
                    weight: rc.weight,
                },
                model: rc.model.clone(),
                quality,
            });
        }
        let policy = Policy {
            name: raw.name.clone(),
            objective: raw.objective,
            max_p95_ms: c.max_p95_latency_ms,
            min_quality: c.min_quality_score,
            max_cost_usd: c.max_cost_per_request_usd,
            candidates,
        };
        if policy.weighs_cost() {
            super::tokens::preload();
        }
        Ok(policy)
    }

    /// Why a candidate violates a constraint; unknown facts never violate.
    fn violation(&self, c: &Candidate, f: &Facts) -> Option<String> {
        if let (Some(max), Some(p95)) = (self.max_p95_ms, f.p95_ms) {
            if p95 > max {
                return Some(format!("p95>{max}ms"));
            }
        }
        if let Some(min) = self.min_quality {
            if c.quality < min {
                return Some(format!("quality<{min}"));
            }
        }
        if let (Some(max), Some(cost)) = (self.max_cost_usd, f.estimated_cost_usd) {
            if cost > max {
                return Some(format!("cost>{max}usd"));
            }
        }
        None
    }

    /// The candidates to try, best first (indices into `candidates`), and every candidate
    /// with its facts and, for those left out, the reason. `facts[i]` belongs to candidate i.
    pub fn evaluate(&self, facts: &[Facts]) -> (Vec<usize>, Vec<Considered>) {
        let mut considered = Vec::with_capacity(self.candidates.len());
        let mut eligible = Vec::with_capacity(self.candidates.len());
        for (i, c) in self.candidates.iter().enumerate() {
            let f = facts.get(i).copied().unwrap_or_default();
            let skipped = self.violation(c, &f);
            if skipped.is_none() {
                eligible.push(i);
            }
            considered.push(Considered {
                provider: c.target.provider.name().to_owned(),
                model: c.model.clone(),
                estimated_cost_usd: f.estimated_cost_usd,
                p95_ms: f.p95_ms,
                quality: c.quality,
                skipped,
            });
        }
        let fact = |i: usize| facts.get(i).copied().unwrap_or_default();
        match self.objective {
            // Unpriced candidates go last.
            Objective::MinCost => eligible.sort_by(|&a, &b| {
                let key = |i| fact(i).estimated_cost_usd.unwrap_or(f64::INFINITY);
                key(a).total_cmp(&key(b))
            }),
            // Unknown latency sorts first so that a new target gets measured.
            Objective::MinLatency => eligible.sort_by(|&a, &b| {
                let key = |i| {
                    let f = fact(i);
                    f.p95_ms.or(f.ewma_ms).unwrap_or(0.0)
                };
                key(a).total_cmp(&key(b))
            }),
            Objective::MaxQuality => eligible.sort_by(|&a, &b| {
                self.candidates[b]
                    .quality
                    .total_cmp(&self.candidates[a].quality)
            }),
            Objective::Weighted => {
                eligible = weighted_order(&eligible, |i| self.candidates[i].target.weight);
            }
        }
        (eligible, considered)
    }
}

/// A weighted random permutation; zero weights go last.
fn weighted_order(items: &[usize], weight: impl Fn(usize) -> u32) -> Vec<usize> {
    let mut left: Vec<usize> = items.iter().copied().filter(|&i| weight(i) > 0).collect();
    let mut out = Vec::with_capacity(items.len());
    while !left.is_empty() {
        let total: u64 = left.iter().map(|&i| u64::from(weight(i))).sum();
        let mut pick = fastrand::u64(0..total.max(1));
        let mut index = left.len() - 1;
        for (n, &i) in left.iter().enumerate() {
            let w = u64::from(weight(i));
            if pick < w {
                index = n;
                break;
            }
            pick -= w;
        }
        out.push(left.remove(index));
    }
    out.extend(items.iter().copied().filter(|&i| weight(i) == 0));
    out
}

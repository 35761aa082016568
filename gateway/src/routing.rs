//! Routing: which targets a request tries, in which order, and why.
//!
//! # Passive health and circuit breakers
//!
//! Every upstream attempt is recorded per target (provider name + upstream model; the state
//! lives in the gateway and survives config reloads): consecutive failures, an EWMA of the
//! latency to the response head and its p95 over the last `window` samples. A failure is a
//! transport error, a timeout or a retryable status (429, 5xx); a non-retryable client
//! error (400, 401, ...) counts as healthy. Each target has a circuit breaker:
//!
//! * **closed** → **open** after `consecutive_failures` failures in a row;
//! * **open** → **half-open** after `open_ms`: exactly one probe request is let through
//!   (a probe that never reports back expires after another `open_ms`);
//! * **half-open** → **closed** when the probe succeeds, → **open** again when it fails.
//!
//! At most 4096 targets are tracked (a default route passes client-chosen model names
//! through); further ones are always admitted and not exported.
//!
//! Targets whose breaker is open are skipped. Ejection is capped: when every target of a
//! request is open, all of them are tried anyway, least recently failed first.
//!
//! ```yaml
//! health:                      # all optional; these are the defaults
//!   consecutive_failures: 5
//!   open_ms: 10000
//!   window: 100                # latency samples kept for the p95
//!   ewma_alpha: 0.3            # weight of the newest latency sample
//! ```
//!
//! Exported as `promptgate_upstream_health{provider,model}` (0 closed, 1 half-open, 2 open;
//! updated when a request touches the target) and
//! `promptgate_upstream_latency_ewma_seconds{provider,model}`, and per target in the
//! `upstreams` list of the admin `/readyz` JSON (`state`, `consecutive_failures`, `ewma_ms`,
//! `p95_ms`).
//!
//! # Routing policies
//!
//! Policies are listed in the main config under `policies:` or in policy files it names
//! (`policy_files: [ ../policies/routing.yaml ]`, see `config::policy_files`; the file
//! `policies/routing.yaml` at the repository root is an example):
//!
//! ```yaml
//! policies:
//!   - name: cost_first
//!     objective: min_cost       # min_cost | min_latency | max_quality | weighted
//!     constraints:              # all optional
//!       max_p95_latency_ms: 1200
//!       min_quality_score: 0.7
//!       max_cost_per_request_usd: 0.01
//!     candidates:
//!       - { provider: openai, model: gpt-4o-mini, quality: 0.75 }   # quality defaults to 0.5
//!       - { provider: anthropic, model: claude-3-5-haiku, quality: 0.8, weight: 1 }
//! routes:
//!   - model: smart
//!     policy: cost_first        # `targets` may then be omitted
//! ```
//!
//! A policy applies when the route names one (`policy:`) or the request does: the body field
//! `"policy": "<name>"` (removed before the body goes upstream) or the header
//! `x-promptgate-policy` (the body field wins). An unknown name is a 400 with
//! `param: policy`. The route still comes from `model`.
//!
//! Before the call each candidate gets: an estimated cost from `prices` (prompt tokens
//! counted with the `o200k_base` encoding as in [`tokens`], output tokens = `max_tokens` /
//! `max_completion_tokens` / `max_output_tokens`, or 256; only for a policy whose objective
//! or constraints involve cost), its p95 from health, and its configured quality.
//! Candidates violating a constraint are skipped with a reason; an unknown fact (no price,
//! no latency samples yet) never violates. The objective orders the rest: `min_cost`
//! cheapest first (unpriced last); `min_latency` lowest p95 (else EWMA) first, unmeasured
//! first so they get measured; `max_quality` highest first; `weighted` a weighted random
//! order (`weight`, default 1). The ordered candidates are the fallback chain, then the
//! route's own `targets` (not constrained). Breakers apply to candidates as to targets.
//!
//! When constraints eliminate every candidate the request fails with 503 and code
//! `no_candidate`, whose message lists each candidate and why it was skipped; the gateway
//! never silently ignores a constraint.
//!
//! # Explainable decisions
//!
//! A [`RoutingDecision`] (policy, every candidate considered with its estimated cost, p95,
//! quality and skip reason, and the chosen target) is stored on the request record, logged
//! at debug level and sent to the client as `x-promptgate-decision`, e.g.
//! `policy=cost_first;chosen=openai/gpt-4o-mini;skipped=anthropic/claude(p95>1200ms)`.
//! Requests without a policy carry it only when a breaker made a target be skipped.

pub mod health;
pub mod plan;
pub mod policy;
pub mod tokens;

pub use plan::{plan, Plan, RequestFacts, RoutingDecision};

#[cfg(test)]
mod tests;

//! The limiter requests go through: Redis when configured and healthy, else in-process.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

use super::local::LocalLimiter;
use super::shared::SharedLimiter;
use super::window::Windows;
use super::VirtualKey;
use crate::error::GatewayError;
use crate::metrics::Metrics;

/// Why a request was refused, and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denial {
    /// `rpm`, `tpm`, `budget_day` or `budget_month`.
    pub reason: &'static str,
    /// Seconds until the window frees.
    pub retry_after: u64,
    /// A budget (`insufficient_quota`) rather than a rate limit.
    pub quota: bool,
}

impl Denial {
    pub fn rate(reason: &'static str, retry_after: u64) -> Denial {
        Denial {
            reason,
            retry_after,
            quota: false,
        }
    }

    pub fn budget(reason: &'static str, retry_after: u64) -> Denial {
        Denial {
            reason,
            retry_after,
            quota: true,
        }
    }

    pub fn to_error(self, key: &VirtualKey) -> GatewayError {
        if self.quota {
            GatewayError::QuotaExceeded {
                key: key.name.clone(),
                period: if self.reason == "budget_day" {
                    "daily"
                } else {
                    "monthly"
                },
            }
        } else {
            GatewayError::RateLimited {
                key: key.name.clone(),
                limit: self.reason,
                retry_after: self.retry_after,
            }
        }
    }
}

/// Long-lived limiter state; survives config reloads.
#[derive(Default)]
pub struct Limiter {
    local: LocalLimiter,
    shared: ArcSwapOption<SharedLimiter>,
}

impl Limiter {
    /// Uses Redis at `url` from now on (none: local only). An unchanged URL keeps the
    /// connection; an invalid one is logged and leaves the local limiter in charge.
    pub fn set_redis(&self, url: Option<&str>) {
        let current = self.shared.load();
        if current.as_ref().map(|s| s.url.as_str()) == url {
            return;
        }
        let next = url.and_then(|u| match SharedLimiter::new(u) {
            Ok(s) => Some(Arc::new(s)),
            Err(e) => {
                tracing::warn!(error = %e, "invalid redis_url; limits stay local");
                None
            }
        });
        self.shared.store(next);
    }

    /// Admits one request of `key` at `now` (Unix seconds).
    pub async fn admit(&self, key: &VirtualKey, now: u64, metrics: &Metrics) -> Result<(), Denial> {
        if !key.is_limited() {
            return Ok(());
        }
        let w = Windows::at(now);
        let verdict = match self.shared.load_full() {
            Some(shared) => match shared.admit(key, &w).await {
                Ok(verdict) => {
                    metrics.tenants.backend_used(true);
                    Some(verdict)
                }
                Err(e) => {
                    redis_failed(metrics, &e);
                    None
                }
            },
            None => None,
        };
        let verdict = verdict.unwrap_or_else(|| self.local.admit(key, &w));
        if let Err(denial) = verdict {
            metrics
                .tenants
                .ratelimited
                .with_label_values(&[key.name.as_str(), denial.reason])
                .inc();
        }
        verdict
    }

    /// Records what one finished request of `key` used.
    pub async fn record(
        &self,
        key: &VirtualKey,
        now: u64,
        tokens: u64,
        cost_usd: f64,
        metrics: &Metrics,
    ) {
        if !key.is_metered() || (tokens == 0 && cost_usd <= 0.0) {
            return;
        }
        let w = Windows::at(now);
        if let Some(shared) = self.shared.load_full() {
            match shared.record(key, &w, tokens, cost_usd).await {
                Ok(()) => {
                    metrics.tenants.backend_used(true);
                    return;
                }
                Err(e) => redis_failed(metrics, &e),
            }
        }
        self.local.record(key, &w, tokens, cost_usd);
    }
}

fn redis_failed(metrics: &Metrics, e: &super::shared::SharedError) {
    if !matches!(e, super::shared::SharedError::Resting) {
        tracing::warn!(error = %e, "rate limit redis failed; using local limits");
        metrics.tenants.redis_errors.inc();
    }
    metrics.tenants.backend_used(false);
}

/// The limiter's metrics, registered with the gateway's others.
pub struct LimiterMetrics {
    pub ratelimited: IntCounterVec,
    pub backend: IntGaugeVec,
    pub redis_errors: IntCounter,
}

impl LimiterMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let ratelimited = IntCounterVec::new(
            Opts::new(
                "promptgate_ratelimited_total",
                "Requests refused by a virtual key's rate limit or budget",
            ),
            &["key", "reason"],
        )?;
        let backend = IntGaugeVec::new(
            Opts::new(
                "promptgate_ratelimit_backend",
                "1 for the limiter backend that answered last (redis or local)",
            ),
            &["backend"],
        )?;
        let redis_errors = IntCounter::new(
            "promptgate_ratelimit_redis_errors_total",
            "Redis limiter calls that failed or timed out (local limits answered instead)",
        )?;
        registry.register(Box::new(ratelimited.clone()))?;
        registry.register(Box::new(backend.clone()))?;
        registry.register(Box::new(redis_errors.clone()))?;
        backend.with_label_values(&["local"]).set(1);
        backend.with_label_values(&["redis"]).set(0);
        Ok(LimiterMetrics {
            ratelimited,
            backend,
            redis_errors,
        })
    }

    pub fn backend_used(&self, redis: bool) {
        self.backend
            .with_label_values(&["redis"])
            .set(i64::from(redis));
        self.backend
            .with_label_values(&["local"])
            .set(i64::from(!redis));
    }
}

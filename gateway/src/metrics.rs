//! Prometheus metrics, recorded once per request from its [`RequestRecord`].
//!
//! Names follow `promptgate_*` for gateway concepts and the OpenTelemetry GenAI semantic
//! conventions (`gen_ai_client_*`, dots as underscores) for model-call measurements.

use prometheus::{
    CounterVec, Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

mod series;

use std::sync::atomic::{AtomicU64, Ordering};

use series::{Series, SeriesKey};

use crate::pipeline::record::RequestRecord;
use crate::routing::health::HealthView;
use crate::tenants::limiter::LimiterMetrics;

pub struct Metrics {
    /// Tells this instance's cached series apart from another instance's.
    id: u64,
    registry: Registry,
    requests: IntCounterVec,
    request_errors: IntCounterVec,
    duration: HistogramVec,
    overhead: Histogram,
    ttft: HistogramVec,
    tokens: IntCounterVec,
    cost: CounterVec,
    upstream_errors: IntCounterVec,
    retries: IntCounterVec,
    pub retry_budget_exhausted: IntCounter,
    usage_estimated: IntCounter,
    pub inflight: IntGauge,
    config_info: IntGaugeVec,
    pub config_reloads: IntCounterVec,
    genai_duration: HistogramVec,
    genai_tokens: HistogramVec,
    /// Virtual-key limits ([`crate::tenants`]).
    pub tenants: LimiterMetrics,
    upstream_health: IntGaugeVec,
    upstream_latency_ewma: prometheus::GaugeVec,
    /// Managed mode: 1 while the control plane answers the snapshot watch.
    pub control_plane_connected: IntGauge,
    /// Managed mode: trace records sent to the control plane, and dropped (queue full or
    /// retries exhausted).
    pub traces_shipped: IntCounter,
    pub traces_dropped: IntCounter,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];
const OVERHEAD_BUCKETS: &[f64] = &[
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05,
];
const TOKEN_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
];

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "promptgate_requests_total",
                "Client requests by route, endpoint and status",
            ),
            &["route", "endpoint", "status"],
        )?;
        let request_errors = IntCounterVec::new(
            Opts::new(
                "promptgate_request_errors_total",
                "Requests that ended in an error, by kind (streams cut after a 200 included)",
            ),
            &["route", "endpoint", "kind"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "promptgate_request_duration_seconds",
                "Total request duration",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route", "endpoint"],
        )?;
        let overhead = Histogram::with_opts(
            HistogramOpts::new(
                "promptgate_gateway_overhead_seconds",
                "Time spent in the gateway itself: total minus time waiting on the upstream",
            )
            .buckets(OVERHEAD_BUCKETS.to_vec()),
        )?;
        let ttft = HistogramVec::new(
            HistogramOpts::new(
                "promptgate_time_to_first_token_seconds",
                "Streams: time from request to the first event sent to the client",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )?;
        let tokens = IntCounterVec::new(
            Opts::new(
                "promptgate_tokens_total",
                "Tokens by route, upstream model and type",
            ),
            &["route", "model", "type"],
        )?;
        let cost = CounterVec::new(
            Opts::new(
                "promptgate_cost_usd_total",
                "Cost in USD by route and upstream model",
            ),
            &["route", "model"],
        )?;
        let upstream_errors = IntCounterVec::new(
            Opts::new(
                "promptgate_upstream_errors_total",
                "Failed upstream attempts",
            ),
            &["provider", "kind"],
        )?;
        let retries = IntCounterVec::new(
            Opts::new(
                "promptgate_retries_total",
                "Upstream attempts after the first",
            ),
            &["route"],
        )?;
        let retry_budget_exhausted = IntCounter::new(
            "promptgate_retry_budget_exhausted_total",
            "Retries not made because the retry budget was spent",
        )?;
        let usage_estimated = IntCounter::new(
            "promptgate_usage_estimated_total",
            "Requests whose usage was estimated (stream cut before the provider reported it)",
        )?;
        let inflight = IntGauge::new("promptgate_inflight_requests", "Requests in flight")?;
        let config_info = IntGaugeVec::new(
            Opts::new(
                "promptgate_config_version",
                "The loaded config version (value is 1)",
            ),
            &["version"],
        )?;
        let config_reloads = IntCounterVec::new(
            Opts::new(
                "promptgate_config_reloads_total",
                "Config reloads by result",
            ),
            &["result"],
        )?;
        let genai_duration = HistogramVec::new(
            HistogramOpts::new(
                "gen_ai_client_operation_duration_seconds",
                "GenAI operation duration (OpenTelemetry GenAI semantic conventions)",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &[
                "gen_ai_operation_name",
                "gen_ai_provider_name",
                "gen_ai_request_model",
            ],
        )?;
        let genai_tokens = HistogramVec::new(
            HistogramOpts::new(
                "gen_ai_client_token_usage",
                "Tokens per GenAI operation (OpenTelemetry GenAI semantic conventions)",
            )
            .buckets(TOKEN_BUCKETS.to_vec()),
            &[
                "gen_ai_operation_name",
                "gen_ai_provider_name",
                "gen_ai_request_model",
                "gen_ai_token_type",
            ],
        )?;
        let upstream_health = IntGaugeVec::new(
            Opts::new(
                "promptgate_upstream_health",
                "Circuit breaker state per upstream target: 0 closed, 1 half-open, 2 open",
            ),
            &["provider", "model"],
        )?;
        let upstream_latency_ewma = prometheus::GaugeVec::new(
            Opts::new(
                "promptgate_upstream_latency_ewma_seconds",
                "EWMA of the latency to the response head per upstream target",
            ),
            &["provider", "model"],
        )?;
        let control_plane_connected = IntGauge::new(
            "promptgate_control_plane_connected",
            "Managed gateways: 1 while the control plane answers, 0 otherwise",
        )?;
        let traces_shipped = IntCounter::new(
            "promptgate_traces_shipped_total",
            "Trace records accepted by the control plane",
        )?;
        let traces_dropped = IntCounter::new(
            "promptgate_traces_dropped_total",
            "Trace records dropped: queue full, or the control plane refused or was unreachable",
        )?;
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(control_plane_connected.clone()),
            Box::new(traces_shipped.clone()),
            Box::new(traces_dropped.clone()),
            Box::new(request_errors.clone()),
            Box::new(duration.clone()),
            Box::new(overhead.clone()),
            Box::new(ttft.clone()),
            Box::new(tokens.clone()),
            Box::new(cost.clone()),
            Box::new(upstream_errors.clone()),
            Box::new(retries.clone()),
            Box::new(retry_budget_exhausted.clone()),
            Box::new(usage_estimated.clone()),
            Box::new(inflight.clone()),
            Box::new(config_info.clone()),
            Box::new(config_reloads.clone()),
            Box::new(genai_duration.clone()),
            Box::new(genai_tokens.clone()),
            Box::new(upstream_health.clone()),
            Box::new(upstream_latency_ewma.clone()),
        ] {
            registry.register(c)?;
        }
        let tenants = LimiterMetrics::register(&registry)?;
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Ok(Metrics {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            registry,
            requests,
            request_errors,
            duration,
            overhead,
            ttft,
            tokens,
            cost,
            upstream_errors,
            retries,
            retry_budget_exhausted,
            usage_estimated,
            inflight,
            config_info,
            config_reloads,
            genai_duration,
            genai_tokens,
            tenants,
            upstream_health,
            upstream_latency_ewma,
            control_plane_connected,
            traces_shipped,
            traces_dropped,
        })
    }

    pub fn set_config_version(&self, version: &str) {
        self.config_info.reset();
        self.config_info.with_label_values(&[version]).set(1);
    }

    pub fn upstream_error(&self, provider: &str, kind: &str) {
        self.upstream_errors
            .with_label_values(&[provider, kind])
            .inc();
    }

    /// Exports one target's health after an attempt.
    pub fn upstream_health(&self, provider: &str, model: &str, view: &HealthView) {
        self.upstream_health
            .with_label_values(&[provider, model])
            .set(view.state.gauge());
        if let Some(ms) = view.ewma_ms {
            self.upstream_latency_ewma
                .with_label_values(&[provider, model])
                .set(ms / 1000.0);
        }
    }

    pub fn record(&self, rec: &RequestRecord) {
        let endpoint = rec.endpoint;
        let route = rec.route.as_deref().unwrap_or("");
        if let Some(kind) = rec.error {
            self.request_errors
                .with_label_values(&[route, endpoint, kind])
                .inc();
        }
        let total = rec.started.elapsed();
        self.overhead
            .observe(total.saturating_sub(rec.upstream_time).as_secs_f64());
        let usage = rec.usage.filter(|_| rec.upstream_model.is_some());
        if usage.is_some_and(|u| u.estimated) {
            self.usage_estimated.inc();
        }
        let key = SeriesKey {
            owner: self.id,
            route,
            endpoint,
            status: rec.status,
            provider: rec.provider_kind.unwrap_or(""),
            model: usage.and(rec.upstream_model.as_deref()),
        };
        Series::with(self, &key, |s| {
            s.requests.inc();
            s.duration.observe(total.as_secs_f64());
            if let Some(ttft) = rec.time_to_first_token {
                s.ttft(self, &key).observe(ttft.as_secs_f64());
            }
            if rec.attempts > 1 {
                s.retries(self, &key).inc_by(u64::from(rec.attempts - 1));
            }
            let (Some(usage), Some(m), Some(model)) = (usage, &s.model, key.model) else {
                return;
            };
            if usage.prompt_tokens > 0 {
                m.prompt_tokens(self, &key, model)
                    .inc_by(usage.prompt_tokens);
            }
            if usage.completion_tokens > 0 {
                let n = usage.completion_tokens;
                m.completion_tokens(self, &key, model).inc_by(n);
                m.genai_output(self, &key, model).observe(n as f64);
            }
            m.genai_input.observe(usage.prompt_tokens as f64);
            m.genai_duration.observe(total.as_secs_f64());
            if let Some(cost) = rec.cost_usd {
                m.cost(self, &key, model).inc_by(cost);
            }
        });
        let Some(model) = key.model else {
            return;
        };
        for (kind, n) in [
            ("cached", usage.map_or(0, |u| u.cached_tokens)),
            ("reasoning", usage.map_or(0, |u| u.reasoning_tokens)),
        ] {
            if n > 0 {
                self.tokens
                    .with_label_values(&[route, model, kind])
                    .inc_by(n);
            }
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 * 1024);
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

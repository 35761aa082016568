//! Passive health of each upstream target (provider + upstream model), learned from the
//! outcome of real requests: consecutive failures, EWMA and p95 latency, and a circuit
//! breaker. Every function takes `now` so the state machine is tested without sleeping.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The compiled `health:` config section.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthConfig {
    /// Consecutive failures that open a closed breaker.
    pub consecutive_failures: u32,
    /// How long a breaker stays open before one probe is let through.
    pub open: Duration,
    /// Latency samples kept for the p95.
    pub window: usize,
    /// Weight of the newest sample in the EWMA (0 < alpha ≤ 1).
    pub ewma_alpha: f64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            consecutive_failures: 5,
            open: Duration::from_millis(10_000),
            window: 100,
            ewma_alpha: 0.3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    HalfOpen,
    Open,
}

impl BreakerState {
    /// The value of the `promptgate_upstream_health` gauge.
    pub fn gauge(self) -> i64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::HalfOpen => "half_open",
            BreakerState::Open => "open",
        }
    }
}

/// Whether a target may be sent a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// The one request a half-open breaker lets through.
    Probe,
    Rejected,
}

/// A read-only view of one target's health.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthView {
    pub state: BreakerState,
    pub consecutive_failures: u32,
    pub ewma_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub last_failure: Option<Instant>,
}

/// Provider name and upstream model.
pub type TargetKey = (String, String);

#[derive(Debug)]
struct TargetHealth {
    state: BreakerState,
    consecutive_failures: u32,
    /// When the breaker opened, or when the current probe was let through.
    since: Instant,
    last_failure: Option<Instant>,
    ewma_ms: Option<f64>,
    samples: VecDeque<f64>,
    /// The p95 of `samples`, computed when first asked for after a new sample (`None`:
    /// stale), so routes that never read it do not pay for it on every attempt.
    p95_ms: Option<Option<f64>>,
}

impl TargetHealth {
    fn new(now: Instant) -> Self {
        TargetHealth {
            state: BreakerState::Closed,
            consecutive_failures: 0,
            since: now,
            last_failure: None,
            ewma_ms: None,
            samples: VecDeque::new(),
            p95_ms: None,
        }
    }

    fn admit(&mut self, config: &HealthConfig, now: Instant) -> Admission {
        match self.state {
            BreakerState::Closed => Admission::Allowed,
            // A probe whose outcome never came back (request abandoned) expires after `open`.
            BreakerState::Open | BreakerState::HalfOpen
                if now.saturating_duration_since(self.since) >= config.open =>
            {
                self.state = BreakerState::HalfOpen;
                self.since = now;
                Admission::Probe
            }
            BreakerState::Open | BreakerState::HalfOpen => Admission::Rejected,
        }
    }

    fn record(&mut self, config: &HealthConfig, ok: bool, latency: Option<Duration>, now: Instant) {
        if let Some(latency) = latency {
            let ms = latency.as_secs_f64() * 1000.0;
            self.ewma_ms = Some(match self.ewma_ms {
                Some(old) => old + config.ewma_alpha * (ms - old),
                None => ms,
            });
            self.samples.push_back(ms);
            while self.samples.len() > config.window.max(1) {
                self.samples.pop_front();
            }
            self.p95_ms = None;
        }
        if ok {
            self.consecutive_failures = 0;
            self.state = BreakerState::Closed;
            return;
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.last_failure = Some(now);
        let trips = self.state == BreakerState::HalfOpen
            || self.consecutive_failures >= config.consecutive_failures.max(1);
        if trips {
            self.state = BreakerState::Open;
            self.since = now;
        }
    }

    fn view(&mut self) -> HealthView {
        let p95_ms = *self.p95_ms.get_or_insert_with(|| p95(&self.samples));
        HealthView {
            p95_ms,
            ..self.view_without_p95()
        }
    }

    fn view_without_p95(&self) -> HealthView {
        HealthView {
            state: self.state,
            consecutive_failures: self.consecutive_failures,
            ewma_ms: self.ewma_ms,
            p95_ms: None,
            last_failure: self.last_failure,
        }
    }
}

/// The 95th percentile (nearest rank) of the samples.
fn p95(samples: &VecDeque<f64>) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut values: Vec<f64> = samples.iter().copied().collect();
    let rank = ((values.len() as f64) * 0.95).ceil() as usize;
    let index = rank.saturating_sub(1).min(values.len() - 1);
    // Selection, not a full sort.
    let (_, nth, _) = values.select_nth_unstable_by(index, f64::total_cmp);
    Some(*nth)
}

/// Targets tracked at most: a default route passes client-chosen model names through, and
/// those must not grow memory (or metric labels) without bound. Later targets are untracked:
/// always admitted, never exported.
pub const MAX_TRACKED_TARGETS: usize = 4096;

/// Health of every target seen, kept in the long-lived gateway across config reloads.
/// Keyed provider → upstream model so that lookups need no allocation.
#[derive(Debug, Default)]
pub struct HealthRegistry {
    targets: Mutex<Targets>,
}

#[derive(Debug, Default)]
struct Targets {
    by_provider: HashMap<String, HashMap<String, TargetHealth>>,
    count: usize,
}

impl HealthRegistry {
    fn with<R>(
        &self,
        key: (&str, &str),
        now: Instant,
        f: impl FnOnce(&mut TargetHealth) -> R,
    ) -> Option<R> {
        let mut guard = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        let targets = &mut *guard;
        if let Some(t) = targets
            .by_provider
            .get_mut(key.0)
            .and_then(|m| m.get_mut(key.1))
        {
            return Some(f(t));
        }
        if targets.count >= MAX_TRACKED_TARGETS {
            return None;
        }
        targets.count += 1;
        let t = targets
            .by_provider
            .entry(key.0.to_owned())
            .or_default()
            .entry(key.1.to_owned())
            .or_insert_with(|| TargetHealth::new(now));
        Some(f(t))
    }

    fn get(&self, key: (&str, &str), f: impl FnOnce(&TargetHealth) -> Admission) -> Admission {
        let guard = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        match guard.by_provider.get(key.0).and_then(|m| m.get(key.1)) {
            Some(t) => f(t),
            None => Admission::Allowed,
        }
    }

    /// What [`HealthRegistry::admit`] would answer, without taking a probe.
    pub fn peek(&self, key: (&str, &str), config: &HealthConfig, now: Instant) -> Admission {
        self.get(key, |t| match t.state {
            BreakerState::Closed => Admission::Allowed,
            _ if now.saturating_duration_since(t.since) >= config.open => Admission::Probe,
            _ => Admission::Rejected,
        })
    }

    /// Decides whether `key` may be tried now; a half-open breaker admits one probe.
    pub fn admit(&self, key: (&str, &str), config: &HealthConfig, now: Instant) -> Admission {
        self.with(key, now, |t| t.admit(config, now))
            .unwrap_or(Admission::Allowed)
    }

    /// Records one attempt's outcome; `latency` is `None` when no timing is meaningful.
    /// `None` when the target is not tracked ([`MAX_TRACKED_TARGETS`]).
    pub fn record(
        &self,
        key: (&str, &str),
        config: &HealthConfig,
        ok: bool,
        latency: Option<Duration>,
        now: Instant,
    ) -> Option<HealthView> {
        self.with(key, now, |t| {
            t.record(config, ok, latency, now);
            // The gauges need only the state and EWMA.
            t.view_without_p95()
        })
    }

    pub fn view(&self, key: (&str, &str)) -> Option<HealthView> {
        let mut guard = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .by_provider
            .get_mut(key.0)
            .and_then(|m| m.get_mut(key.1))
            .map(TargetHealth::view)
    }

    /// Every target seen, sorted by provider then model.
    pub fn views(&self) -> Vec<(TargetKey, HealthView)> {
        let mut guard = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = guard
            .by_provider
            .iter_mut()
            .flat_map(|(p, models)| {
                models
                    .iter_mut()
                    .map(move |(m, t)| ((p.clone(), m.clone()), t.view()))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: (&str, &str) = ("a", "m");

    fn config() -> HealthConfig {
        HealthConfig {
            consecutive_failures: 3,
            open: Duration::from_millis(100),
            window: 20,
            ewma_alpha: 0.5,
        }
    }

    #[test]
    fn breaker_opens_probes_and_closes() {
        let (reg, cfg, t0) = (HealthRegistry::default(), config(), Instant::now());
        for _ in 0..2 {
            reg.record(K, &cfg, false, None, t0);
        }
        assert_eq!(reg.admit(K, &cfg, t0), Admission::Allowed);
        let view = reg.record(K, &cfg, false, None, t0).unwrap();
        assert_eq!(
            (view.state, view.consecutive_failures),
            (BreakerState::Open, 3)
        );
        assert_eq!(
            reg.admit(K, &cfg, t0 + Duration::from_millis(99)),
            Admission::Rejected
        );
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(reg.admit(K, &cfg, t1), Admission::Probe);
        assert_eq!(
            reg.admit(K, &cfg, t1),
            Admission::Rejected,
            "exactly one probe"
        );
        assert_eq!(reg.view(K).unwrap().state, BreakerState::HalfOpen);
        let view = reg
            .record(K, &cfg, true, Some(Duration::from_millis(10)), t1)
            .unwrap();
        assert_eq!(
            (view.state, view.consecutive_failures),
            (BreakerState::Closed, 0)
        );
        assert_eq!(reg.admit(K, &cfg, t1), Admission::Allowed);
    }

    #[test]
    fn failed_probe_reopens_and_abandoned_probe_expires() {
        let (reg, cfg, t0) = (HealthRegistry::default(), config(), Instant::now());
        for _ in 0..3 {
            reg.record(K, &cfg, false, None, t0);
        }
        let t1 = t0 + Duration::from_millis(150);
        assert_eq!(reg.admit(K, &cfg, t1), Admission::Probe);
        assert_eq!(
            reg.record(K, &cfg, false, None, t1).unwrap().state,
            BreakerState::Open
        );
        assert_eq!(
            reg.admit(K, &cfg, t1 + Duration::from_millis(50)),
            Admission::Rejected
        );
        let t2 = t1 + Duration::from_millis(100);
        assert_eq!(reg.admit(K, &cfg, t2), Admission::Probe);
        // The probe never reports back: another is allowed once `open` has passed again.
        assert_eq!(
            reg.admit(K, &cfg, t2 + Duration::from_millis(100)),
            Admission::Probe
        );
    }

    #[test]
    fn success_resets_the_failure_count() {
        let (reg, cfg, t0) = (HealthRegistry::default(), config(), Instant::now());
        reg.record(K, &cfg, false, None, t0);
        reg.record(K, &cfg, false, None, t0);
        reg.record(K, &cfg, true, None, t0);
        reg.record(K, &cfg, false, None, t0);
        assert_eq!(reg.view(K).unwrap().state, BreakerState::Closed);
    }

    #[test]
    fn ewma_and_p95() {
        let (reg, cfg, t0) = (HealthRegistry::default(), config(), Instant::now());
        reg.record(K, &cfg, true, Some(Duration::from_millis(100)), t0);
        reg.record(K, &cfg, true, Some(Duration::from_millis(200)), t0);
        let view = reg.view(K).unwrap();
        assert!((view.ewma_ms.unwrap() - 150.0).abs() < 1e-9);
        for ms in 1..=40u64 {
            reg.record(K, &cfg, true, Some(Duration::from_millis(ms)), t0);
        }
        // The window keeps the last 20 samples (21..=40): nearest-rank p95 is the 19th.
        assert!((reg.view(K).unwrap().p95_ms.unwrap() - 39.0).abs() < 1e-6);
        assert_eq!(p95(&VecDeque::new()), None);
        assert_eq!(reg.views().len(), 1);
    }

    #[test]
    fn tracking_is_capped() {
        let (reg, cfg, t0) = (HealthRegistry::default(), config(), Instant::now());
        for i in 0..MAX_TRACKED_TARGETS {
            assert!(reg
                .record(("a", &i.to_string()), &cfg, false, None, t0)
                .is_some());
        }
        assert!(reg.record(("a", "new"), &cfg, false, None, t0).is_none());
        assert_eq!(reg.admit(("a", "new"), &cfg, t0), Admission::Allowed);
        assert_eq!(reg.views().len(), MAX_TRACKED_TARGETS);
    }
}

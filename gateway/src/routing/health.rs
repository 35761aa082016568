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
    /// The latency window in arrival order, and the same samples sorted, so the p95 is
    /// read in O(1) and a new sample costs two binary searches.
    samples: VecDeque<f64>,
    sorted: Vec<f64>,
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
            sorted: Vec::new(),
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
            let at = self.sorted.partition_point(|x| x.total_cmp(&ms).is_lt());
            self.sorted.insert(at, ms);
            while self.samples.len() > config.window.max(1) {
                if let Some(old) = self.samples.pop_front() {
                    if let Ok(at) = self.sorted.binary_search_by(|x| x.total_cmp(&old)) {
                        self.sorted.remove(at);
                    }
                }
            }
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

    fn view(&self) -> HealthView {
        HealthView {
            state: self.state,
            consecutive_failures: self.consecutive_failures,
            ewma_ms: self.ewma_ms,
            p95_ms: p95(&self.sorted),
            last_failure: self.last_failure,
        }
    }
}

/// The 95th percentile (nearest rank) of sorted samples.
fn p95(sorted: &[f64]) -> Option<f64> {
    let rank = ((sorted.len() as f64) * 0.95).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied()
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
            t.view()
        })
    }

    pub fn view(&self, key: (&str, &str)) -> Option<HealthView> {
        let guard = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .by_provider
            .get(key.0)
            .and_then(|m| m.get(key.1))
            .map(TargetHealth::view)
    }

    /// Every target seen, sorted by provider then model.
    pub fn views(&self) -> Vec<(TargetKey, HealthView)> {
        let guard = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = guard
            .by_provider
            .iter()
            .flat_map(|(p, models)| {
                models
                    .iter()
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
        assert_eq!(p95(&[]), None);
        assert_eq!(reg.views().len(), 1);
    }

    #[test]
    fn sliding_p95_matches_a_full_sort() {
        let (reg, cfg, t0) = (HealthRegistry::default(), config(), Instant::now());
        let mut window = VecDeque::new();
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..500 {
            // Few distinct values, so duplicates enter and leave the window.
            let ms = rng.u64(1..30);
            reg.record(K, &cfg, true, Some(Duration::from_millis(ms)), t0);
            window.push_back(ms as f64);
            if window.len() > cfg.window {
                window.pop_front();
            }
            let mut all: Vec<f64> = window.iter().copied().collect();
            all.sort_by(f64::total_cmp);
            assert_eq!(reg.view(K).unwrap().p95_ms, p95(&all));
        }
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

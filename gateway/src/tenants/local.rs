//! The in-process limiter: counters per key name in fixed windows, behind one mutex.
//! Every function takes the instant as an argument so tests control the clock.

use std::collections::HashMap;
use std::sync::Mutex;

use super::limiter::Denial;
use super::window::Windows;
use super::VirtualKey;

#[derive(Debug, Default)]
struct Counters {
    minute: u64,
    requests: u64,
    tokens: u64,
    day: u64,
    day_usd: f64,
    month: u64,
    month_usd: f64,
}

impl Counters {
    /// Starts new windows when `w` is past the ones counted.
    fn roll(&mut self, w: &Windows) {
        if self.minute != w.minute {
            self.minute = w.minute;
            self.requests = 0;
            self.tokens = 0;
        }
        if self.day != w.day {
            self.day = w.day;
            self.day_usd = 0.0;
        }
        if self.month != w.month {
            self.month = w.month;
            self.month_usd = 0.0;
        }
    }
}

#[derive(Default)]
pub struct LocalLimiter {
    keys: Mutex<HashMap<String, Counters>>,
}

impl LocalLimiter {
    /// Admits one request of `key` at `w`, counting it against `rpm`.
    pub fn admit(&self, key: &VirtualKey, w: &Windows) -> Result<(), Denial> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let c = keys.entry(key.name.clone()).or_default();
        c.roll(w);
        check(
            key,
            w,
            Spent {
                requests: c.requests,
                tokens: c.tokens,
                day_usd: c.day_usd,
                month_usd: c.month_usd,
            },
        )?;
        c.requests += 1;
        Ok(())
    }

    /// Adds what a finished request used.
    pub fn record(&self, key: &VirtualKey, w: &Windows, tokens: u64, cost_usd: f64) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let c = keys.entry(key.name.clone()).or_default();
        c.roll(w);
        c.tokens += tokens;
        c.day_usd += cost_usd;
        c.month_usd += cost_usd;
    }
}

/// What a key has used in the current windows, before this request.
#[derive(Debug, Default, Clone, Copy)]
pub struct Spent {
    pub requests: u64,
    pub tokens: u64,
    pub day_usd: f64,
    pub month_usd: f64,
}

/// The admission rule both backends share: budgets first, then tokens, then requests.
pub fn check(key: &VirtualKey, w: &Windows, spent: Spent) -> Result<(), Denial> {
    if key.budget_usd_per_day.is_some_and(|b| spent.day_usd >= b) {
        return Err(Denial::budget("budget_day", w.day_left));
    }
    if key
        .budget_usd_per_month
        .is_some_and(|b| spent.month_usd >= b)
    {
        return Err(Denial::budget("budget_month", w.month_left));
    }
    if key.tpm.is_some_and(|t| spent.tokens >= t) {
        return Err(Denial::rate("tpm", w.minute_left));
    }
    if key.rpm.is_some_and(|r| spent.requests >= r) {
        return Err(Denial::rate("rpm", w.minute_left));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::{RawAuth, RawVirtualKey};
    use crate::tenants::{sha256_hex, Tenants};
    use std::sync::Arc;

    fn key(edit: impl FnOnce(&mut RawVirtualKey)) -> Arc<VirtualKey> {
        let mut raw = RawVirtualKey {
            name: "k".into(),
            key_sha256: sha256_hex("sk"),
            allowed_models: vec![],
            rpm: None,
            tpm: None,
            budget_usd_per_day: None,
            budget_usd_per_month: None,
        };
        edit(&mut raw);
        let t = Tenants::compile(&RawAuth::default(), &[raw]).unwrap();
        t.authenticate(Some(b"Bearer sk")).unwrap().unwrap()
    }

    // 2026-11-30T10:00:00Z
    const T0: u64 = 1_796_032_800;

    #[test]
    fn rpm_window_refuses_then_frees_at_the_next_minute() {
        let k = key(|r| r.rpm = Some(3));
        let l = LocalLimiter::default();
        for s in 0..3 {
            l.admit(&k, &Windows::at(T0 + s)).unwrap();
        }
        let d = l.admit(&k, &Windows::at(T0 + 20)).unwrap_err();
        assert_eq!((d.reason, d.retry_after, d.quota), ("rpm", 40, false));
        l.admit(&k, &Windows::at(T0 + 60)).unwrap();
    }

    #[test]
    fn tpm_counts_recorded_tokens() {
        let k = key(|r| r.tpm = Some(100));
        let l = LocalLimiter::default();
        let w = Windows::at(T0);
        l.admit(&k, &w).unwrap();
        l.record(&k, &w, 60, 0.0);
        l.admit(&k, &w).unwrap();
        l.record(&k, &w, 60, 0.0);
        assert_eq!(l.admit(&k, &w).unwrap_err().reason, "tpm");
        l.admit(&k, &Windows::at(T0 + 60)).unwrap();
    }

    #[test]
    fn day_budget_rolls_over_at_utc_midnight() {
        let k = key(|r| r.budget_usd_per_day = Some(0.01));
        let l = LocalLimiter::default();
        let late = Windows::at(T0 + 13 * 3600 + 59 * 60); // 23:59
        l.admit(&k, &late).unwrap();
        l.record(&k, &late, 10, 0.02);
        let d = l.admit(&k, &late).unwrap_err();
        assert_eq!((d.reason, d.retry_after, d.quota), ("budget_day", 60, true));
        l.admit(&k, &Windows::at(T0 + 14 * 3600)).unwrap();
    }

    #[test]
    fn month_budget_outlives_the_day() {
        let k = key(|r| r.budget_usd_per_month = Some(1.0));
        let l = LocalLimiter::default();
        let mid = T0 - 20 * 86_400; // 2026-11-10
        l.record(&k, &Windows::at(mid), 0, 1.5);
        let next_day = Windows::at(mid + 86_400);
        assert_eq!(l.admit(&k, &next_day).unwrap_err().reason, "budget_month");
        // 2026-12-01T00:00:00Z starts a new month.
        l.admit(&k, &Windows::at(T0 + 14 * 3600)).unwrap();
    }
}

//! When to retry: which outcomes are retryable, how long to back off, and a budget that keeps
//! retries to a fraction of traffic so a failing upstream is not hammered.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode};

/// Retry settings of a snapshot.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    pub max_retry_after: Duration,
}

/// Whether an upstream status is worth another attempt.
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(
        status.as_u16(),
        408 | 409 | 429 | 500 | 502 | 503 | 504 | 529
    )
}

impl RetryPolicy {
    /// Full-jitter exponential backoff before attempt number `attempt` (1 = first retry).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max_backoff);
        cap.mul_f64(fastrand::f64())
    }
}

/// Exponential backoff with "equal jitter": a random delay in [d/2, d] where
/// d = `base` × 2^`doublings`, capped at `max`. Never near zero, for links to one peer
/// (the control plane) that should not be hammered while it is down.
pub fn equal_jitter_backoff(base: Duration, max: Duration, doublings: u32) -> Duration {
    let ceiling = base.saturating_mul(1u32 << doublings.min(16)).min(max);
    let half = ceiling / 2;
    half + half.mul_f64(fastrand::f64())
}

/// The delay a `Retry-After` (or `retry-after-ms`) header asks for, if any.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        return (ms.is_finite() && ms >= 0.0).then(|| Duration::from_secs_f64(ms / 1000.0));
    }
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate_to_unix(value)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(when.saturating_sub(now)))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) into Unix seconds.
fn httpdate_to_unix(value: &str) -> Option<u64> {
    let mut parts = value.split_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let (h, m, s): (u64, u64, u64) = (
        hms.next()?.parse().ok()?,
        hms.next()?.parse().ok()?,
        hms.next()?.parse().ok()?,
    );
    // Days from civil (Howard Hinnant's algorithm).
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days)
        .ok()
        .map(|d| d * 86_400 + h * 3600 + m * 60 + s)
}

/// Retries may be at most `ratio` of requests, plus `min_per_second` always.
///
/// Lock-free: a balance in thousandths of a retry grows with every request and each retry
/// withdraws a whole one; a per-second counter grants the floor.
pub struct RetryBudget {
    ratio_milli: i64,
    cap_milli: i64,
    min_per_second: u64,
    balance_milli: AtomicI64,
    /// High 32 bits: the current second; low 32 bits: floor retries used in it.
    floor: AtomicU64,
}

impl RetryBudget {
    pub fn new(ratio: f64, min_per_second: u32) -> Self {
        let ratio_milli = (ratio.clamp(0.0, 10.0) * 1000.0) as i64;
        RetryBudget {
            ratio_milli,
            // Never bank more than ~100 retries: a quiet period must not fund a storm.
            cap_milli: 100_000,
            min_per_second: u64::from(min_per_second),
            balance_milli: AtomicI64::new(0),
            floor: AtomicU64::new(0),
        }
    }

    /// Called once per client request.
    pub fn deposit(&self) {
        let cap = self.cap_milli;
        let add = self.ratio_milli;
        let _ = self
            .balance_milli
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some((b + add).min(cap))
            });
    }

    /// Takes one retry from the budget; false when none is left.
    pub fn try_withdraw(&self) -> bool {
        let took = self
            .balance_milli
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                (b >= 1000).then_some(b - 1000)
            })
            .is_ok();
        took || self.take_floor(unix_seconds())
    }

    fn take_floor(&self, now: u64) -> bool {
        let now = now & 0xffff_ffff;
        self.floor
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |packed| {
                let (second, used) = (packed >> 32, packed & 0xffff_ffff);
                let used = if second == now { used } else { 0 };
                (used < self.min_per_second).then_some((now << 32) | (used + 1))
            })
            .is_ok()
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_limits_retries_to_ratio_plus_floor() {
        let budget = RetryBudget::new(0.2, 0);
        let mut retries = 0;
        for _ in 0..1000 {
            budget.deposit();
            if budget.try_withdraw() {
                retries += 1;
            }
        }
        assert!((195..=200).contains(&retries), "{retries}");
    }

    #[test]
    fn floor_allows_a_few_per_second_without_traffic() {
        let budget = RetryBudget::new(0.2, 3);
        let granted = (0..10).filter(|_| budget.take_floor(42)).count();
        assert_eq!(granted, 3);
        assert!(budget.take_floor(43), "a new second refills the floor");
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
            max_retry_after: Duration::from_secs(1),
        };
        for attempt in 1..20 {
            assert!(policy.backoff(attempt) <= Duration::from_millis(300));
        }
        assert!(policy.backoff(1) <= Duration::from_millis(100));
    }

    #[test]
    fn retry_after_forms() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(150)));
        let mut headers = HeaderMap::new();
        headers.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(
            retry_after(&headers),
            Some(Duration::ZERO),
            "a past date means now"
        );
        assert_eq!(
            httpdate_to_unix("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(1_445_412_480)
        );
        headers.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn retryable_statuses() {
        for code in [429, 500, 502, 503, 504, 529] {
            assert!(is_retryable_status(StatusCode::from_u16(code).unwrap()));
        }
        for code in [400, 401, 403, 404, 413, 422] {
            assert!(!is_retryable_status(StatusCode::from_u16(code).unwrap()));
        }
    }
}

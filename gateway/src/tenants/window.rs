//! The fixed UTC windows limits count in: the minute, the day and the calendar month.

use crate::civil_time::civil_from_days;

/// The windows containing one instant (Unix seconds), with the seconds left in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub minute: u64,
    pub minute_left: u64,
    /// Days since the Unix epoch.
    pub day: u64,
    pub day_left: u64,
    /// `year * 100 + month`, e.g. `202611`.
    pub month: u64,
    pub month_left: u64,
}

impl Windows {
    pub fn at(now: u64) -> Windows {
        let day = now / 86_400;
        let month = year_month(day);
        let mut next = day + 1;
        while year_month(next) == month {
            next += 1;
        }
        Windows {
            minute: now / 60,
            minute_left: 60 - now % 60,
            day,
            day_left: 86_400 - now % 86_400,
            month,
            month_left: next * 86_400 - now,
        }
    }

    /// The current time in Unix seconds.
    pub fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// `year * 100 + month` of a day since the epoch.
fn year_month(day: u64) -> u64 {
    let (year, month, _) = civil_from_days(day as i64);
    year as u64 * 100 + u64::from(month)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_of_known_instants() {
        // 2024-02-29T23:59:30Z
        let w = Windows::at(1_709_251_170);
        assert_eq!(w.month, 202_402);
        assert_eq!(w.minute_left, 30);
        assert_eq!(w.day_left, 30);
        assert_eq!(w.month_left, 30);
        let next = Windows::at(1_709_251_170 + 30);
        assert_eq!(next.month, 202_403);
        assert_eq!(next.day, w.day + 1);
        assert_eq!(next.month_left, 31 * 86_400);
        assert_eq!(Windows::at(0).month, 197_001);
        // 2026-12-31T12:00:00Z rolls into January of the next year.
        let dec = Windows::at(1_798_718_400);
        assert_eq!(dec.month, 202_612);
        assert_eq!(Windows::at(1_798_718_400 + dec.month_left).month, 202_701);
    }
}

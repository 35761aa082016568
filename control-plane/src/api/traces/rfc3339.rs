//! RFC 3339 timestamps from gateways and query strings, normalised to the store's form
//! (UTC, milliseconds, fixed width) so text comparison in SQL is time comparison.

use crate::store::format_rfc3339;

/// `2026-01-02T03:04:05Z`, `...05.123456+02:00`, ... → `2026-01-02T01:04:05.123Z`.
/// Sub-millisecond digits are truncated. `None` when `s` is not RFC 3339.
pub fn normalize(s: &str) -> Option<String> {
    let (secs, millis) = parse(s)?;
    Some(format_rfc3339(secs, millis))
}

/// Seconds since the Unix epoch and milliseconds.
pub fn parse(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let mut scaled = 0u32;
        for (i, c) in frac.bytes().take(3).enumerate() {
            if c.is_ascii_digit() {
                scaled += u32::from(c - b'0') * 10u32.pow(2 - i as u32);
            }
        }
        millis = scaled;
        rest = &frac[digits..];
    }
    let offset_secs = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                return None;
            }
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            let sign = if rb[0] == b'-' { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
    };
    // A leap second (60) is read as the next second's start.
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    Some((secs, millis))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (inverse of the store's
/// `civil_from_days`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_offsets_and_fractions() {
        assert_eq!(
            normalize("2026-01-02T03:04:05Z").as_deref(),
            Some("2026-01-02T03:04:05.000Z")
        );
        assert_eq!(
            normalize("2026-01-02T03:04:05.123456+02:00").as_deref(),
            Some("2026-01-02T01:04:05.123Z")
        );
        assert_eq!(
            normalize("2000-02-29T23:30:00.5-01:00").as_deref(),
            Some("2000-03-01T00:30:00.500Z")
        );
        assert_eq!(
            normalize("1970-01-01T00:00:00Z").as_deref(),
            Some("1970-01-01T00:00:00.000Z")
        );
    }

    #[test]
    fn rejects_what_is_not_rfc3339() {
        for bad in [
            "",
            "yesterday",
            "2026-01-02",
            "2026-01-02T03:04:05",
            "2026-13-02T03:04:05Z",
            "2026-02-30T03:04:05Z",
            "2026-01-02T24:04:05Z",
            "2026-01-02T03:04:05.Z",
            "2026-01-02T03:04:05+0200",
            "2026-01-02T03:04:05Zjunk",
            "+026-01-02T03:04:05Z",
            "2026-01-02T03:04:05é",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }
}

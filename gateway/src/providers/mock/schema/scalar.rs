//! Strings and numbers synthesised from their schema keywords.

use serde_json::{Number, Value};

use super::{View, MAX_STRING};

pub(super) fn string(view: &View<'_>, variant: usize) -> String {
    let suffix = if variant == 0 {
        String::new()
    } else {
        variant.to_string()
    };
    let mut s = match view.first("format").and_then(Value::as_str) {
        Some("date-time") => "2024-01-01T00:00:00Z".to_owned(),
        Some("date") => "2024-01-01".to_owned(),
        Some("time") => "00:00:00Z".to_owned(),
        Some("email") | Some("idn-email") => format!("mock{suffix}@example.com"),
        Some("uri") | Some("url") | Some("iri") => format!("https://example.com/{suffix}"),
        Some("hostname") | Some("idn-hostname") => format!("mock{suffix}.example.com"),
        Some("uuid") => format!("00000000-0000-0000-0000-{:012x}", variant),
        Some("ipv4") => format!("127.0.0.{}", variant % 256),
        Some("ipv6") => format!("::{:x}", variant % 65536),
        _ => format!("string{suffix}"),
    };
    let min = view.max_u64("minLength").unwrap_or(0).min(MAX_STRING) as usize;
    let len = s.chars().count();
    if len < min {
        s.extend(std::iter::repeat_n('x', min - len));
    }
    if let Some(max) = view.min_u64("maxLength") {
        let max = usize::try_from(max).unwrap_or(usize::MAX).max(min);
        if let Some((cut, _)) = s.char_indices().nth(max) {
            s.truncate(cut);
        }
    }
    s
}

pub(super) fn number(view: &View<'_>, variant: usize, integer: bool) -> Value {
    let nums = |key| view.all(key).filter_map(Value::as_f64);
    // Draft 4 spells exclusive bounds as booleans next to `minimum`/`maximum`.
    let draft4_open = |key| view.all(key).any(|v| v == &Value::Bool(true));
    let (mut lo, mut lo_open) = (f64::NEG_INFINITY, false);
    for m in nums("minimum") {
        if m > lo {
            (lo, lo_open) = (m, draft4_open("exclusiveMinimum"));
        }
    }
    for e in nums("exclusiveMinimum") {
        if e >= lo {
            (lo, lo_open) = (e, true);
        }
    }
    let (mut hi, mut hi_open) = (f64::INFINITY, false);
    for m in nums("maximum") {
        if m < hi {
            (hi, hi_open) = (m, draft4_open("exclusiveMaximum"));
        }
    }
    for e in nums("exclusiveMaximum") {
        if e <= hi {
            (hi, hi_open) = (e, true);
        }
    }
    if integer {
        lo = if lo_open { lo.floor() + 1.0 } else { lo.ceil() };
        hi = if hi_open { hi.ceil() - 1.0 } else { hi.floor() };
    } else {
        let gap = if lo.is_finite() && hi.is_finite() {
            ((hi - lo) / 2.0).min(1.0)
        } else {
            1.0
        };
        if lo_open {
            lo += gap;
        }
        if hi_open {
            hi -= gap;
        }
    }
    let step = nums("multipleOf")
        .find(|m| m.is_finite() && *m > 0.0)
        .unwrap_or(if integer { 1.0 } else { 0.0 });
    let mut v = if lo > 0.0 {
        lo
    } else if hi < 0.0 {
        hi
    } else {
        0.0
    };
    if step > 0.0 {
        v = (v / step).ceil() * step;
        if v > hi {
            v = (hi / step).floor() * step;
        }
    }
    let shifted = v + variant as f64 * if step > 0.0 { step } else { 1.0 };
    if variant > 0 && shifted <= hi {
        v = shifted;
    }
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::from(v as i64)
    } else {
        Number::from_f64(v).map_or(Value::from(0), Value::Number)
    }
}

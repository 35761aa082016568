//! The labelled series one request touches, resolved once per label combination and kept
//! per thread, so that recording a request costs one hash lookup instead of one
//! `with_label_values` (hash, lock, map lookup) per metric.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

use prometheus::{Counter, Histogram, IntCounter};

use super::Metrics;

/// Label combinations kept per thread; the cache starts over beyond this (client-chosen
/// model names on a default route are unbounded).
const MAX_ENTRIES: usize = 1024;

/// The labels of one request's series.
#[derive(Hash, PartialEq, Eq)]
pub(super) struct SeriesKey<'a> {
    /// Tells apart the [`Metrics`] instances of one process (tests run several).
    pub owner: u64,
    pub route: &'a str,
    pub endpoint: &'static str,
    pub status: u16,
    pub provider: &'static str,
    pub model: Option<&'a str>,
}

/// The children of a request's labelled metrics. Those not every request touches are
/// created on first use, so that a series appears in `/metrics` only once it has a value.
pub(super) struct Series {
    pub requests: IntCounter,
    pub duration: Histogram,
    ttft: OnceCell<Histogram>,
    retries: OnceCell<IntCounter>,
    pub model: Option<ModelSeries>,
}

/// The children that carry the upstream model.
pub(super) struct ModelSeries {
    prompt_tokens: OnceCell<IntCounter>,
    completion_tokens: OnceCell<IntCounter>,
    pub genai_input: Histogram,
    genai_output: OnceCell<Histogram>,
    pub genai_duration: Histogram,
    cost: OnceCell<Counter>,
}

impl Series {
    pub fn ttft(&self, m: &Metrics, k: &SeriesKey<'_>) -> &Histogram {
        self.ttft
            .get_or_init(|| m.ttft.with_label_values(&[k.route]))
    }

    pub fn retries(&self, m: &Metrics, k: &SeriesKey<'_>) -> &IntCounter {
        self.retries
            .get_or_init(|| m.retries.with_label_values(&[k.route]))
    }
}

impl ModelSeries {
    pub fn prompt_tokens(&self, m: &Metrics, k: &SeriesKey<'_>, model: &str) -> &IntCounter {
        self.prompt_tokens
            .get_or_init(|| m.tokens.with_label_values(&[k.route, model, "prompt"]))
    }

    pub fn completion_tokens(&self, m: &Metrics, k: &SeriesKey<'_>, model: &str) -> &IntCounter {
        self.completion_tokens
            .get_or_init(|| m.tokens.with_label_values(&[k.route, model, "completion"]))
    }

    pub fn genai_output(&self, m: &Metrics, k: &SeriesKey<'_>, model: &str) -> &Histogram {
        self.genai_output.get_or_init(|| {
            m.genai_tokens
                .with_label_values(&[k.endpoint, k.provider, model, "output"])
        })
    }

    pub fn cost(&self, m: &Metrics, k: &SeriesKey<'_>, model: &str) -> &Counter {
        self.cost
            .get_or_init(|| m.cost.with_label_values(&[k.route, model]))
    }
}

struct Entry {
    route: Box<str>,
    model: Option<Box<str>>,
    owner: u64,
    endpoint: &'static str,
    status: u16,
    provider: &'static str,
    series: Series,
}

impl Entry {
    fn matches(&self, key: &SeriesKey<'_>) -> bool {
        self.owner == key.owner
            && self.status == key.status
            && self.endpoint == key.endpoint
            && self.provider == key.provider
            && *self.route == *key.route
            && self.model.as_deref() == key.model
    }
}

thread_local! {
    /// Hash of the key → the entry; a colliding key replaces the entry.
    static CACHE: RefCell<HashMap<u64, Entry>> = RefCell::new(HashMap::new());
}

impl Series {
    fn resolve(m: &Metrics, k: &SeriesKey<'_>) -> Series {
        let status = k.status.to_string();
        Series {
            requests: m
                .requests
                .with_label_values(&[k.route, k.endpoint, &status]),
            duration: m.duration.with_label_values(&[k.route, k.endpoint]),
            ttft: OnceCell::new(),
            retries: OnceCell::new(),
            model: k.model.map(|model| {
                let (endpoint, provider) = (k.endpoint, k.provider);
                ModelSeries {
                    prompt_tokens: OnceCell::new(),
                    completion_tokens: OnceCell::new(),
                    genai_input: m
                        .genai_tokens
                        .with_label_values(&[endpoint, provider, model, "input"]),
                    genai_output: OnceCell::new(),
                    genai_duration: m
                        .genai_duration
                        .with_label_values(&[endpoint, provider, model]),
                    cost: OnceCell::new(),
                }
            }),
        }
    }

    /// Runs `f` on the series of `key`, resolving them on first use in this thread.
    pub(super) fn with<R>(m: &Metrics, key: &SeriesKey<'_>, f: impl FnOnce(&Series) -> R) -> R {
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        CACHE.with_borrow_mut(|cache| {
            if let Some(entry) = cache.get(&hash).filter(|e| e.matches(key)) {
                return f(&entry.series);
            }
            if cache.len() >= MAX_ENTRIES {
                cache.clear();
            }
            let entry = Entry {
                route: key.route.into(),
                model: key.model.map(Into::into),
                owner: key.owner,
                endpoint: key.endpoint,
                status: key.status,
                provider: key.provider,
                series: Series::resolve(m, key),
            };
            let entry = cache.entry(hash).insert_entry(entry).into_mut();
            f(&entry.series)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use crate::metrics::Metrics;
    use crate::openai::usage::Usage;
    use crate::pipeline::record::RequestRecord;

    fn request(route: &str, status: u16, model: Option<&str>) -> RequestRecord {
        let mut rec = RequestRecord::new(Instant::now(), "t".into(), "chat");
        rec.route = Some(route.into());
        rec.status = status;
        rec.provider_kind = Some("openai");
        rec.upstream_model = model.map(Into::into);
        rec.usage = Some(Usage {
            prompt_tokens: 7,
            completion_tokens: 5,
            cached_tokens: 2,
            ..Usage::default()
        });
        rec.cost_usd = Some(0.5);
        rec.attempts = 2;
        rec
    }

    fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in\n{text}"))
    }

    #[test]
    fn cached_series_count_per_instance_and_label_set() {
        let (one, two) = (Metrics::new().unwrap(), Metrics::new().unwrap());
        for _ in 0..3 {
            one.record(&request("r", 200, Some("m")));
        }
        one.record(&request("r", 429, None));
        one.record(&request("other", 200, Some("m2")));
        two.record(&request("r", 200, Some("m")));
        let text = String::from_utf8(one.render()).unwrap();
        let requests = r#"promptgate_requests_total{endpoint="chat",route="r",status="#;
        assert!(line(&text, requests).ends_with(r#""200"} 3"#), "{text}");
        assert!(text.contains(&format!(r#"{requests}"429"}} 1"#)), "{text}");
        let tokens = r#"promptgate_tokens_total{model="m",route="r",type="prompt"}"#;
        assert_eq!(line(&text, tokens), format!("{tokens} 21"));
        let cached = r#"promptgate_tokens_total{model="m",route="r",type="cached"}"#;
        assert_eq!(line(&text, cached), format!("{cached} 6"));
        assert!(
            text.contains(r#"model="m2",route="other",type="completion"} 5"#),
            "{text}"
        );
        let retries = r#"promptgate_retries_total{route="r"}"#;
        assert_eq!(line(&text, retries), format!("{retries} 4"));
        // Series appear only once they have a value: no retries, no TTFT, no cost here.
        let mut quiet = request("quiet", 200, Some("m"));
        (quiet.attempts, quiet.cost_usd) = (1, None);
        one.record(&quiet);
        let text = String::from_utf8(one.render()).unwrap();
        assert!(text.contains(r#"route="quiet",status="200"} 1"#), "{text}");
        for absent in [
            "retries_total{route=\"quiet\"}",
            "first_token_seconds_count{route=\"quiet\"}",
            "cost_usd_total{model=\"m\",route=\"quiet\"}",
        ] {
            assert!(!text.contains(absent), "{absent} in\n{text}");
        }
        let other = String::from_utf8(two.render()).unwrap();
        assert!(line(&other, requests).ends_with(r#""200"} 1"#), "{other}");
    }
}

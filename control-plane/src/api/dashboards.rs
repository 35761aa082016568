//! `GET /api/v1/dashboards/metrics`: per (route, prompt, prompt version) request count,
//! success rate, P50/P95 latency, cost per call and cache hit rate over a project's traces.
//!
//! Percentiles are computed in Rust over the matching rows, newest first, reading at most
//! [`MAX_SCANNED_ROWS`] of them; when more match, the answer covers the newest ones and says
//! so with `truncated: true` (narrow the window with `since`/`until`).

use std::collections::BTreeMap;

use axum::Json;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use super::traces::filter::Filter;
use super::State;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;

/// Most trace rows one metrics request reads.
pub const MAX_SCANNED_ROWS: i64 = 100_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsQuery {
    pub project_id: i64,
    pub environment: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// One (route, prompt, prompt version) group.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct MetricsRow {
    pub route: String,
    pub prompt: Option<String>,
    pub prompt_version: Option<i64>,
    pub requests: u64,
    /// Share of requests with status `ok` (0..1).
    pub success_rate: f64,
    pub p50_latency_ms: f64,
    pub p95_latency_ms: f64,
    pub cost_per_call_usd: f64,
    pub total_cost_usd: f64,
    /// Cache hits over requests that consulted the cache (`hit` or `miss`); 0 when none did.
    pub cache_hit_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Metrics {
    pub data: Vec<MetricsRow>,
    /// Trace rows read.
    pub scanned_rows: u64,
    /// More rows matched than were read (the newest were used).
    pub truncated: bool,
}

/// One trace as the aggregation sees it.
#[derive(Debug, Clone)]
pub struct Sample {
    pub ok: bool,
    pub cache: String,
    pub latency_ms: f64,
    pub cost_usd: f64,
}

/// Nearest-rank percentile of sorted values (`p` in 0..=1); 0 for no values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

type GroupKey = (String, Option<String>, Option<i64>);

/// Folds samples into one row per group, in (route, prompt, version) order.
pub fn aggregate(groups: BTreeMap<GroupKey, Vec<Sample>>) -> Vec<MetricsRow> {
    groups
        .into_iter()
        .map(|((route, prompt, prompt_version), samples)| {
            let n = samples.len() as f64;
            let mut latencies: Vec<f64> = samples.iter().map(|s| s.latency_ms).collect();
            latencies.sort_by(f64::total_cmp);
            let total_cost: f64 = samples.iter().map(|s| s.cost_usd).sum();
            let hits = samples.iter().filter(|s| s.cache == "hit").count();
            let consulted = samples
                .iter()
                .filter(|s| s.cache == "hit" || s.cache == "miss")
                .count();
            MetricsRow {
                route,
                prompt,
                prompt_version,
                requests: samples.len() as u64,
                success_rate: samples.iter().filter(|s| s.ok).count() as f64 / n,
                p50_latency_ms: percentile(&latencies, 0.50),
                p95_latency_ms: percentile(&latencies, 0.95),
                cost_per_call_usd: total_cost / n,
                total_cost_usd: total_cost,
                cache_hit_rate: if consulted == 0 {
                    0.0
                } else {
                    hits as f64 / consulted as f64
                },
            }
        })
        .collect()
}

/// `GET /api/v1/dashboards/metrics?project_id=&environment=&since=&until=` (viewer).
pub async fn metrics(
    state: State,
    caller: Caller,
    ApiQuery(q): ApiQuery<MetricsQuery>,
) -> ApiResult<Json<Metrics>> {
    caller.authorize(
        q.project_id,
        Role::Viewer,
        ApiError::not_found("project", q.project_id),
    )?;
    let mut f = Filter::project(q.project_id);
    f.text_eq("environment", q.environment.as_deref());
    f.time_window(q.since.as_deref(), q.until.as_deref())?;
    let limit = f.extra_int(MAX_SCANNED_ROWS + 1);
    let sql = format!(
        "SELECT route, prompt, prompt_version, status, cache, latency_ms, cost_usd FROM traces {} \
         ORDER BY started_at DESC, id DESC LIMIT {limit}",
        f.where_sql()
    );
    let rows = f.bind(&sql).fetch_all(&state.store.pool).await?;
    let truncated = rows.len() as i64 > MAX_SCANNED_ROWS;
    let mut groups: BTreeMap<GroupKey, Vec<Sample>> = BTreeMap::new();
    for row in rows.iter().take(MAX_SCANNED_ROWS as usize) {
        let key = (
            row.try_get("route")?,
            row.try_get("prompt")?,
            row.try_get("prompt_version")?,
        );
        groups.entry(key).or_default().push(Sample {
            ok: row.try_get::<String, _>("status")? == "ok",
            cache: row.try_get("cache")?,
            latency_ms: row.try_get("latency_ms")?,
            cost_usd: row.try_get("cost_usd")?,
        });
    }
    let scanned_rows = rows.len().min(MAX_SCANNED_ROWS as usize) as u64;
    Ok(Json(Metrics {
        data: aggregate(groups),
        scanned_rows,
        truncated,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ok: bool, cache: &str, latency_ms: f64, cost_usd: f64) -> Sample {
        Sample {
            ok,
            cache: cache.into(),
            latency_ms,
            cost_usd,
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.50), 50.0);
        assert_eq!(percentile(&v, 0.95), 95.0);
        assert_eq!(percentile(&[7.0], 0.95), 7.0);
        assert_eq!(percentile(&[1.0, 2.0], 0.5), 1.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn groups_by_route_and_version() {
        let mut groups = BTreeMap::new();
        groups.insert(
            ("chat".to_owned(), Some("p".to_owned()), Some(2)),
            vec![
                sample(true, "hit", 30.0, 0.0),
                sample(true, "miss", 10.0, 0.02),
                sample(false, "off", 20.0, 0.01),
                sample(true, "miss", 40.0, 0.03),
            ],
        );
        groups.insert(
            ("embed".to_owned(), None, None),
            vec![sample(true, "off", 5.0, 0.5)],
        );
        let rows = aggregate(groups);
        assert_eq!(rows.len(), 2);
        let chat = &rows[0];
        assert_eq!(chat.requests, 4);
        assert_eq!(chat.success_rate, 0.75);
        assert_eq!(chat.p50_latency_ms, 20.0);
        assert_eq!(chat.p95_latency_ms, 40.0);
        assert!((chat.total_cost_usd - 0.06).abs() < 1e-12);
        assert!((chat.cost_per_call_usd - 0.015).abs() < 1e-12);
        assert!((chat.cache_hit_rate - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(rows[1].route, "embed");
        assert_eq!(rows[1].cache_hit_rate, 0.0);
    }
}

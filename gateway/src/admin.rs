//! The admin listener: `/healthz`, `/readyz`, `/metrics` and `/config`.

use std::sync::Arc;

use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::json;

use crate::pipeline::Gateway;

pub struct AdminApp {
    pub gateway: Arc<Gateway>,
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_owned();
        let (status, content_type, body) = self.route(&path);
        Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, content_type)
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(body)
            .unwrap_or_default()
    }
}

impl AdminApp {
    fn route(&self, path: &str) -> (StatusCode, &'static str, Vec<u8>) {
        let gw = &self.gateway;
        match path {
            "/healthz" => (StatusCode::OK, "text/plain", b"ok\n".to_vec()),
            "/readyz" => {
                let snapshot = gw.snapshot();
                let ready = gw.is_ready();
                let providers: Vec<_> = snapshot
                    .providers()
                    .iter()
                    .map(|p| json!({"name": p.name(), "type": p.kind()}))
                    .collect();
                let upstreams: Vec<_> = gw
                    .health
                    .views()
                    .into_iter()
                    .map(|((provider, model), v)| {
                        json!({
                            "provider": provider,
                            "model": model,
                            "state": v.state.label(),
                            "consecutive_failures": v.consecutive_failures,
                            "ewma_ms": v.ewma_ms,
                            "p95_ms": v.p95_ms,
                        })
                    })
                    .collect();
                let body = json!({
                    "ready": ready,
                    "config_version": snapshot.version,
                    "providers": providers,
                    "upstreams": upstreams,
                });
                let status = if ready {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                (status, "application/json", body.to_string().into_bytes())
            }
            "/metrics" => (
                StatusCode::OK,
                "text/plain; version=0.0.4",
                gw.metrics.render(),
            ),
            "/config" => {
                let snapshot = gw.snapshot();
                let mut routes: Vec<&str> = snapshot.route_names().collect();
                routes.sort_unstable();
                let mut policies: Vec<&str> = snapshot.policy_names().collect();
                policies.sort_unstable();
                let body = json!({
                    "version": snapshot.version,
                    "routes": routes,
                    "policies": policies,
                    "default_route": snapshot.default_route().is_some(),
                });
                (
                    StatusCode::OK,
                    "application/json",
                    body.to_string().into_bytes(),
                )
            }
            _ => (StatusCode::NOT_FOUND, "text/plain", b"not found\n".to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::load_str;
    use crate::upstream::client::ClientFactory;
    use std::time::{Duration, Instant};

    #[test]
    fn readyz_lists_upstream_health() {
        let clients = ClientFactory::new();
        let yaml = "providers: { a: { type: mock } }\nhealth: { consecutive_failures: 1 }\n";
        let snapshot = load_str("t.yaml", yaml, &clients).unwrap();
        let gateway = Arc::new(Gateway::new(snapshot, clients).unwrap());
        let config = gateway.snapshot().health;
        let now = Instant::now();
        let key = ("a", "m");
        gateway
            .health
            .record(key, &config, true, Some(Duration::from_millis(40)), now);
        gateway.health.record(key, &config, false, None, now);
        let (status, _, body) = AdminApp { gateway }.route("/readyz");
        assert_eq!(status, StatusCode::OK);
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let up = &body["upstreams"][0];
        assert_eq!(
            (up["provider"].as_str(), up["model"].as_str()),
            (Some("a"), Some("m"))
        );
        assert_eq!(up["state"], "open");
        assert_eq!(up["consecutive_failures"], 1);
        assert_eq!(up["ewma_ms"], 40.0);
        assert_eq!(up["p95_ms"], 40.0);
    }
}

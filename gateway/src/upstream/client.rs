//! Pooled HTTP/1.1 + HTTP/2 clients over rustls, shared across config reloads so that
//! connection pools survive a snapshot swap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Client settings that need a separate connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey {
    pub connect_timeout_ms: u64,
    pub http2_prior_knowledge: bool,
}

/// Hands out one client per distinct [`ClientKey`], built once and reused by every snapshot.
#[derive(Default)]
pub struct ClientFactory {
    clients: Mutex<HashMap<ClientKey, HttpClient>>,
}

impl ClientFactory {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn client(&self, key: ClientKey) -> Result<HttpClient, String> {
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| "client factory lock poisoned".to_owned())?;
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = build_client(key)?;
        clients.insert(key, client.clone());
        Ok(client)
    }
}

fn build_client(key: ClientKey) -> Result<HttpClient, String> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_millis(key.connect_timeout_ms)));
    http.set_keepalive(Some(Duration::from_secs(60)));
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS setup failed: {e}"))?
    .with_root_certificates(rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    })
    .with_no_client_auth();
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(http);
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .pool_timer(TokioTimer::new())
        .http2_only(key.http2_prior_knowledge)
        .http2_adaptive_window(true);
    Ok(builder.build(connector))
}

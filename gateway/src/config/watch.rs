//! Reloads the config file when it changes (polled) or on SIGHUP. A new snapshot is built
//! completely before one atomic swap; an invalid file is rejected whole and the running
//! snapshot keeps serving.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use super::load::load_file;
use crate::pipeline::Gateway;

pub struct ConfigWatcher {
    pub gateway: Arc<Gateway>,
    pub path: PathBuf,
    pub poll_interval: Duration,
}

impl ConfigWatcher {
    /// Loads the file and swaps it in when valid and different. Returns whether it swapped.
    pub fn reload(&self, reason: &str) -> bool {
        match load_file(&self.path, &self.gateway.clients) {
            Ok(snapshot) => {
                if snapshot.version == self.gateway.snapshot().version {
                    return false;
                }
                let version = snapshot.version.clone();
                self.gateway.swap(snapshot);
                self.gateway
                    .metrics
                    .config_reloads
                    .with_label_values(&["ok"])
                    .inc();
                tracing::info!(%version, reason, "config reloaded");
                true
            }
            Err(err) => {
                self.gateway
                    .metrics
                    .config_reloads
                    .with_label_values(&["rejected"])
                    .inc();
                tracing::error!(error = %err, reason, "config rejected; still serving the previous version");
                false
            }
        }
    }

    fn stamp(&self) -> Option<(SystemTime, u64)> {
        let meta = std::fs::metadata(&self.path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }
}

#[async_trait]
impl BackgroundService for ConfigWatcher {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; reload on file change only");
                None
            }
        };
        let mut last = self.stamp();
        let mut tick = tokio::time::interval(self.poll_interval);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => {
                    last = self.stamp();
                    self.reload("SIGHUP");
                }
                _ = tick.tick() => {
                    let now = self.stamp();
                    if now.is_some() && now != last {
                        last = now;
                        self.reload("file changed");
                    }
                }
            }
        }
    }
}

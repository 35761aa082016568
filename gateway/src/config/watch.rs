//! Reloads the config file when it or one of its policy files changes (polled) or on SIGHUP.
//! A new snapshot is built completely before one atomic swap; an invalid file is rejected
//! whole and the running snapshot keeps serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use super::load::load_file;
use super::policy_files::watched_files;
use crate::pipeline::Gateway;

pub struct ConfigWatcher {
    pub gateway: Arc<Gateway>,
    pub path: PathBuf,
    pub poll_interval: Duration,
    /// The watched files' stamps, taken by [`ConfigWatcher::new`] on the caller's thread: the
    /// first heap allocation on the watcher's own thread costs ~2 MB of resident memory
    /// (the allocator's per-thread heap), which an idle gateway should not pay before its
    /// first reload.
    initial: std::sync::Mutex<Option<Vec<(PathBuf, Stamp)>>>,
}

impl ConfigWatcher {
    pub fn new(gateway: Arc<Gateway>, path: PathBuf, poll_interval: Duration) -> Self {
        let initial = stamps(&path);
        ConfigWatcher {
            gateway,
            path,
            poll_interval,
            initial: std::sync::Mutex::new(Some(initial)),
        }
    }

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
}

type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The config and the policy files it names, each with its current stamp.
fn stamps(config: &Path) -> Vec<(PathBuf, Stamp)> {
    watched_files(config)
        .into_iter()
        .map(|path| {
            let stamp = stamp(&path);
            (path, stamp)
        })
        .collect()
}

/// Whether any watched file changed since `last` (a missing config is not a change: it is
/// being replaced).
fn changed(last: &[(PathBuf, Stamp)]) -> bool {
    last.iter().enumerate().any(|(i, (path, before))| {
        let now = stamp(path);
        (i > 0 || now.is_some()) && now != *before
    })
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
        // Stamped before each reload, so a write during the reload is seen on the next tick.
        let initial = self.initial.lock().ok().and_then(|mut i| i.take());
        let mut last = initial.unwrap_or_else(|| stamps(&self.path));
        let mut tick = tokio::time::interval(self.poll_interval);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => {
                    last = stamps(&self.path);
                    self.reload("SIGHUP");
                }
                _ = tick.tick() => {
                    if changed(&last) {
                        last = stamps(&self.path);
                        self.reload("file changed");
                    }
                }
            }
        }
    }
}

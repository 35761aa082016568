//! The managed gateway's config loop: long-poll the control plane for the snapshot of its
//! project and environment, validate it whole, build the same immutable runtime snapshot
//! `--config` builds, swap it in atomically (in-flight requests keep theirs) and persist it.
//! An invalid snapshot is logged, counted and skipped; the previous one keeps serving.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use super::control::{ControlPlane, SnapshotReply};
use super::snapshot::ManagedSnapshot;
use super::state;
use super::validate::raw_config;
use crate::config::snapshot::{compile, Snapshot};
use crate::pipeline::Gateway;
use crate::upstream::client::ClientFactory;
use crate::upstream::retry::equal_jitter_backoff;

/// Where a managed gateway gets its config, and where it keeps the last good one.
#[derive(Debug, Clone)]
pub struct ManagedSettings {
    pub project: String,
    pub environment: String,
    pub state_dir: PathBuf,
    /// How long one long-poll may wait for a change.
    pub wait: Duration,
}

impl ManagedSettings {
    pub fn state_file(&self) -> PathBuf {
        state::snapshot_path(&self.state_dir, &self.project, &self.environment)
    }
}

/// Builds the runtime snapshot, reading provider settings from the gateway's environment.
pub fn build(snapshot: &ManagedSnapshot, clients: &ClientFactory) -> Result<Snapshot, String> {
    let raw = raw_config(snapshot)?;
    let mut built = compile(raw, snapshot.version.clone(), clients, |name| {
        std::env::var(name).ok()
    })
    .map_err(|e| format!("config: {e}"))?;
    built.capture_payloads = snapshot.capture_payloads;
    Ok(built)
}

/// The persisted snapshot, built, if there is a valid one; problems are logged.
pub fn restore(settings: &ManagedSettings, clients: &ClientFactory) -> Option<Snapshot> {
    let path = settings.state_file();
    let saved = match state::load(&path) {
        Ok(saved) => saved?,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the persisted snapshot; ignoring it");
            return None;
        }
    };
    match check_scope(settings, &saved).and_then(|()| build(&saved, clients)) {
        Ok(built) => Some(built),
        Err(e) => {
            tracing::error!(error = %e, file = %path.display(), "persisted snapshot is invalid; ignoring it");
            None
        }
    }
}

fn check_scope(settings: &ManagedSettings, snapshot: &ManagedSnapshot) -> Result<(), String> {
    if snapshot.environment != settings.environment {
        return Err(format!(
            "snapshot is for environment `{}`, this gateway serves `{}`",
            snapshot.environment, settings.environment
        ));
    }
    Ok(())
}

pub struct SnapshotWatcher {
    pub gateway: Arc<Gateway>,
    pub control: Arc<ControlPlane>,
    pub settings: ManagedSettings,
}

const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A 304 faster than this (a control plane ignoring `wait`) is followed by a pause.
const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);

impl SnapshotWatcher {
    /// Validates and builds `snapshot`, swaps it in and persists it.
    pub fn apply(&self, snapshot: &ManagedSnapshot) -> Result<(), String> {
        check_scope(&self.settings, snapshot)?;
        let built = build(snapshot, &self.gateway.clients)?;
        self.gateway.swap(built);
        self.gateway.set_configured(true);
        let path = self.settings.state_file();
        if let Err(e) = state::persist(&path, snapshot) {
            tracing::warn!(error = %e, file = %path.display(), "cannot persist the snapshot");
        }
        Ok(())
    }

    /// One long-poll; `known` is the last version seen (applied or rejected).
    async fn poll(&self, known: &mut Option<String>, wait: Duration) -> Result<(), String> {
        let started = Instant::now();
        let reply = self
            .control
            .snapshot(
                &self.settings.project,
                &self.settings.environment,
                known.as_deref(),
                wait,
            )
            .await?;
        let metrics = &self.gateway.metrics;
        match reply {
            SnapshotReply::Changed(snapshot) => {
                metrics.control_plane_connected.set(1);
                match self.apply(&snapshot) {
                    Ok(()) => {
                        metrics.config_reloads.with_label_values(&["ok"]).inc();
                        tracing::info!(version = %snapshot.version, "snapshot applied");
                    }
                    Err(e) => {
                        metrics
                            .config_reloads
                            .with_label_values(&["rejected"])
                            .inc();
                        tracing::error!(version = %snapshot.version, error = %e, "snapshot rejected; still serving the previous one");
                    }
                }
                *known = Some(snapshot.version.clone());
                Ok(())
            }
            SnapshotReply::NotModified => {
                metrics.control_plane_connected.set(1);
                if started.elapsed() < MIN_POLL_INTERVAL {
                    tokio::time::sleep(MIN_POLL_INTERVAL).await;
                }
                Ok(())
            }
            SnapshotReply::Refused { status, message } => Err(format!(
                "control plane refused the snapshot ({status}): {message}"
            )),
        }
    }
}

/// The wait after `failures` failed polls in a row: in [d/2, d], d doubling per failure.
fn backoff(failures: u32) -> Duration {
    equal_jitter_backoff(MIN_BACKOFF, MAX_BACKOFF, failures)
}

#[async_trait]
impl BackgroundService for SnapshotWatcher {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        // The first poll does not wait: a restored snapshot may be stale.
        let mut known = Some(self.gateway.snapshot().version.clone()).filter(|v| !v.is_empty());
        let mut wait = Duration::ZERO;
        let mut failures = 0u32;
        loop {
            let result = tokio::select! {
                _ = shutdown.changed() => return,
                result = self.poll(&mut known, wait) => result,
            };
            match result {
                Ok(()) => {
                    failures = 0;
                    wait = self.settings.wait;
                }
                Err(e) => {
                    self.gateway.metrics.control_plane_connected.set(0);
                    let delay = backoff(failures);
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "control plane snapshot watch failed");
                    tokio::select! {
                        _ = shutdown.changed() => return,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let ms = |d: Duration| d.as_millis();
        for _ in 0..50 {
            let first = ms(backoff(0));
            assert!((250..=500).contains(&first), "{first}");
            let third = ms(backoff(2));
            assert!((1000..=2000).contains(&third), "{third}");
            let capped = ms(backoff(40));
            assert!((5000..=10_000).contains(&capped), "{capped}");
        }
    }
}

//! Policy files: routing policies kept apart from the main config.
//!
//! ```yaml
//! # main config
//! policy_files: [ ../policies/routing.yaml ]   # relative to this file's directory
//! ```
//!
//! Each file holds `policies:` and optionally `health:`, exactly as they would be written
//! inline (unknown fields are rejected; errors name the file, the field path and the line).
//! Their policies join the inline ones; a policy name defined twice (in two files, or in a
//! file and inline) is an error naming both places, and so is `health` set in more than one
//! place. The files are part of the config: their contents change its version, and the
//! watcher and `SIGHUP` reload them like the main file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::load::{parse_yaml_as, ConfigError};
use super::raw::{RawConfig, RawHealth, RawPolicy};

/// One policy file as users write it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicyFile {
    #[serde(default)]
    pub health: Option<RawHealth>,
    #[serde(default)]
    pub policies: Vec<RawPolicy>,
}

/// Only the `policy_files` key of a main config (everything else ignored), for the watcher.
#[derive(Debug, Default, Deserialize)]
struct PolicyFilesOnly {
    #[serde(default)]
    policy_files: Vec<String>,
}

/// A policy file as read: its path and its text.
pub struct PolicyFileText {
    pub path: PathBuf,
    pub text: String,
}

/// The paths of the policy files a config names, resolved against `dir` (the config's
/// directory).
pub fn resolve(dir: &Path, names: &[String]) -> Vec<PathBuf> {
    names.iter().map(|name| dir.join(name)).collect()
}

/// The config file and the policy files it currently names (best effort: a config that
/// cannot be read or parsed names none). The watcher polls these.
pub fn watched_files(config: &Path) -> Vec<PathBuf> {
    let mut files = vec![config.to_path_buf()];
    let named = std::fs::read_to_string(config)
        .ok()
        .and_then(|text| serde_norway::from_str::<PolicyFilesOnly>(&text).ok())
        .unwrap_or_default();
    files.extend(resolve(config_dir(config), &named.policy_files));
    files
}

/// The directory policy file paths are relative to.
pub fn config_dir(config: &Path) -> &Path {
    config.parent().unwrap_or(Path::new(""))
}

/// Reads the policy files `raw.policy_files` names (relative to `dir`) and merges their
/// policies and health into `raw`, which then names no policy files. `file` is the main
/// config's name, for errors. Returns the files read, in order.
pub fn merge(
    raw: &mut RawConfig,
    file: &str,
    dir: &Path,
) -> Result<Vec<PolicyFileText>, ConfigError> {
    let paths = resolve(dir, &std::mem::take(&mut raw.policy_files));
    let mut read = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            file: path.display().to_string(),
            source,
        })?;
        read.push(PolicyFileText { path, text });
    }
    let documents = read
        .iter()
        .map(|f| (f.path.display().to_string(), f.text.as_str()));
    merge_documents(raw, file, documents)?;
    Ok(read)
}

/// Merges policy documents (name for errors, YAML text) into `raw`: their policies are
/// appended (names must stay unique) and at most one of them, or `raw`, sets `health`.
pub fn merge_documents<'a>(
    raw: &mut RawConfig,
    file: &str,
    documents: impl IntoIterator<Item = (String, &'a str)>,
) -> Result<(), ConfigError> {
    let mut seen: HashMap<String, String> = HashMap::new();
    for (i, policy) in raw.policies.iter().enumerate() {
        seen.entry(policy.name.clone())
            .or_insert_with(|| format!("{file}: policies[{i}]"));
    }
    let mut health_from = raw.health.as_ref().map(|_| format!("{file}: health"));
    for (name, text) in documents {
        let parsed: RawPolicyFile = parse_yaml_as(text).map_err(|message| ConfigError::Parse {
            file: name.clone(),
            message,
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            file: name.clone(),
            message,
        };
        if let Some(health) = parsed.health {
            if let Some(other) = &health_from {
                return Err(invalid(format!("health: already set in {other}")));
            }
            health_from = Some(format!("{name}: health"));
            raw.health = Some(health);
        }
        for (j, mut policy) in parsed.policies.into_iter().enumerate() {
            let here = format!("{name}: policies[{j}]");
            if let Some(other) = seen.get(&policy.name) {
                return Err(invalid(format!(
                    "policies[{j}]: duplicate policy `{}`, also defined in {other}",
                    policy.name
                )));
            }
            seen.insert(policy.name.clone(), here.clone());
            policy.origin = Some(here);
            raw.policies.push(policy);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::{file_version, load_file_with_env, ConfigError};
    use crate::upstream::client::ClientFactory;

    const MAIN: &str = "
providers:
  a: { type: mock }
  b: { type: mock }
policy_files: [ policies/one.yaml, two.yaml ]
routes:
  - { model: smart, policy: cheap }
";
    const ONE: &str = "
health: { consecutive_failures: 2 }
policies:
  - name: cheap
    objective: min_cost
    candidates: [ { provider: a, model: x } ]
";
    const TWO: &str = "
policies:
  - name: fast
    objective: min_latency
    candidates: [ { provider: b, model: y } ]
";

    fn write(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir.join("main.yaml")
    }

    fn load(config: &Path) -> Result<crate::config::Snapshot, String> {
        load_file_with_env(config, &ClientFactory::default(), |_| None).map_err(|e| e.to_string())
    }

    fn load_err(config: &Path) -> String {
        load(config).err().unwrap_or_default()
    }

    #[test]
    fn policy_files_are_merged_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let config = write(
            dir.path(),
            &[
                ("main.yaml", MAIN),
                ("policies/one.yaml", ONE),
                ("two.yaml", TWO),
            ],
        );
        let snapshot = load(&config).unwrap();
        assert!(snapshot.policy("cheap").is_some());
        assert!(snapshot.policy("fast").is_some());
        assert_eq!(snapshot.health.consecutive_failures, 2);
        assert_eq!(snapshot.version, file_version(&config).unwrap());
        assert_eq!(watched_files(&config).len(), 3);
        assert_eq!(watched_files(&config)[2], dir.path().join("two.yaml"));
    }

    #[test]
    fn editing_a_policy_file_changes_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let config = write(
            dir.path(),
            &[
                ("main.yaml", MAIN),
                ("policies/one.yaml", ONE),
                ("two.yaml", TWO),
            ],
        );
        let before = load(&config).unwrap().version;
        write(
            dir.path(),
            &[("two.yaml", &TWO.replace("min_latency", "min_cost"))],
        );
        let after = load(&config).unwrap().version;
        assert_ne!(before, after);
        // Without policy files the version is the fingerprint of the config text alone.
        let plain = write(dir.path(), &[("main.yaml", "providers: {}\n")]);
        assert_eq!(
            load(&plain).unwrap().version,
            crate::config::load::content_version(b"providers: {}\n")
        );
    }

    #[test]
    fn duplicate_policies_name_both_places() {
        let dir = tempfile::tempdir().unwrap();
        let inline = format!("{MAIN}policies:\n  - {{ name: fast, objective: min_cost, candidates: [ {{ provider: a, model: x }} ] }}\n");
        let config = write(
            dir.path(),
            &[
                ("main.yaml", &inline),
                ("policies/one.yaml", ONE),
                ("two.yaml", TWO),
            ],
        );
        let err = load_err(&config);
        assert!(err.contains("two.yaml"), "{err}");
        assert!(err.contains("duplicate policy `fast`"), "{err}");
        assert!(err.contains("main.yaml: policies[0]"), "{err}");
        // Across two files.
        let again = ONE.replace("health: { consecutive_failures: 2 }\n", "");
        write(dir.path(), &[("main.yaml", MAIN), ("two.yaml", &again)]);
        let err = load_err(&config);
        assert!(err.contains("duplicate policy `cheap`"), "{err}");
        assert!(err.contains("one.yaml: policies[0]"), "{err}");
    }

    #[test]
    fn health_set_twice_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let main = format!("{MAIN}health: {{ open_ms: 5 }}\n");
        let config = write(
            dir.path(),
            &[
                ("main.yaml", &main),
                ("policies/one.yaml", ONE),
                ("two.yaml", TWO),
            ],
        );
        let err = load_err(&config);
        assert!(err.contains("one.yaml: health: already set in"), "{err}");
    }

    #[test]
    fn errors_name_the_policy_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let typo = TWO.replace("objective", "objectiv");
        let config = write(
            dir.path(),
            &[
                ("main.yaml", MAIN),
                ("policies/one.yaml", ONE),
                ("two.yaml", &typo),
            ],
        );
        let err = load_err(&config);
        assert!(err.contains("two.yaml: policies[0]"), "{err}");
        assert!(err.contains("objectiv"), "{err}");
        assert!(err.contains("line 4"), "{err}");
        // A field that only the main config has is unknown in a policy file.
        let stray = format!("{TWO}routes: []\n");
        write(dir.path(), &[("two.yaml", &stray)]);
        let err = load_err(&config);
        assert!(err.contains("two.yaml") && err.contains("routes"), "{err}");
        // Invalid content names the file and the policy.
        let unknown = TWO.replace("provider: b", "provider: nope");
        write(dir.path(), &[("two.yaml", &unknown)]);
        let err = load_err(&config);
        assert!(err.contains("two.yaml: policies[0] (fast)"), "{err}");
        assert!(err.contains("nope"), "{err}");
        // A missing file is named.
        std::fs::remove_file(dir.path().join("two.yaml")).unwrap();
        match load_file_with_env(&config, &ClientFactory::default(), |_| None) {
            Err(ConfigError::Read { file, .. }) => assert!(file.ends_with("two.yaml"), "{file}"),
            other => panic!("{:?}", other.err()),
        }
        assert_eq!(watched_files(&config).len(), 3);
    }
}

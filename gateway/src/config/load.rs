//! Reading a YAML config file (and the policy files it names) into a compiled [`Snapshot`],
//! with errors that name the file, the field path and the line.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::policy_files::{self, config_dir};
use super::raw::RawConfig;
use super::snapshot::{compile, Snapshot};
use crate::upstream::client::ClientFactory;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

/// Parses YAML text into the raw document; errors carry the field path and line.
pub fn parse_yaml(text: &str) -> Result<RawConfig, String> {
    parse_yaml_as(text)
}

/// Parses YAML text into any raw document type; errors carry the field path and line.
pub fn parse_yaml_as<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let de = serde_norway::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.inner();
        let location = inner
            .location()
            .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
            .unwrap_or_default();
        // serde_norway appends its own " at line X column Y"; keep one copy of the position.
        let message = inner.to_string();
        let message = match message.find(" at line ") {
            Some(i) if !location.is_empty() => message[..i].to_owned(),
            _ => message,
        };
        if path == "." || path.is_empty() {
            format!("{message}{location}")
        } else {
            format!("{path}: {message}{location}")
        }
    })
}

/// Reads, parses and compiles a config file and its policy files.
pub fn load_file(path: &Path, clients: &ClientFactory) -> Result<Snapshot, ConfigError> {
    load_file_with_env(path, clients, |name| std::env::var(name).ok())
}

/// Like [`load_file`], with environment variables looked up through `env`.
pub fn load_file_with_env(
    path: &Path,
    clients: &ClientFactory,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Snapshot, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: file.clone(),
        source,
    })?;
    load_text(&file, &text, config_dir(path), clients, env)
}

/// Compiles config text; policy files it names are relative to the directory of `file`.
pub fn load_str(file: &str, text: &str, clients: &ClientFactory) -> Result<Snapshot, ConfigError> {
    load_text(file, text, config_dir(Path::new(file)), clients, |name| {
        std::env::var(name).ok()
    })
}

fn load_text(
    file: &str,
    text: &str,
    dir: &Path,
    clients: &ClientFactory,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Snapshot, ConfigError> {
    let (raw, version) = read_text(file, text, dir)?;
    compile(raw, version, clients, env).map_err(|message| ConfigError::Invalid {
        file: file.to_owned(),
        message,
    })
}

/// Parses config text and merges the policy files it names; returns the raw document and
/// the config version (a fingerprint of the config text and of every policy file).
pub fn read_text(file: &str, text: &str, dir: &Path) -> Result<(RawConfig, String), ConfigError> {
    let mut raw = parse_yaml(text).map_err(|message| ConfigError::Parse {
        file: file.to_owned(),
        message,
    })?;
    let policy_files = policy_files::merge(&mut raw, file, dir)?;
    if policy_files.is_empty() {
        return Ok((raw, content_version(text.as_bytes())));
    }
    let mut all = text.as_bytes().to_vec();
    for policy_file in &policy_files {
        // Separators keep moving text from one file to the next a change of version.
        all.extend_from_slice(b"\0");
        all.extend_from_slice(policy_file.path.display().to_string().as_bytes());
        all.extend_from_slice(b"\0");
        all.extend_from_slice(policy_file.text.as_bytes());
    }
    Ok((raw, content_version(&all)))
}

/// The version a config file has right now (with its policy files), without compiling it.
pub fn file_version(path: &Path) -> Result<String, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: file.clone(),
        source,
    })?;
    read_text(&file, &text, config_dir(path)).map(|(_, version)| version)
}

/// A short, stable fingerprint of the config text (FNV-1a 64), used as its version.
pub fn content_version(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a(bytes))
}

/// FNV-1a 64: stable across processes and releases, unlike std's keyed SipHash.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_names_path_and_line() {
        let text = "providers:\n  m:\n    type: mock\nroutes:\n  - model: a\n    targets:\n      - provider: m\n        wieght: 3\n";
        let err = parse_yaml(text).unwrap_err();
        assert!(err.contains("routes[0].targets[0]"), "{err}");
        assert!(err.contains("wieght"), "{err}");
        assert!(err.contains("line 8"), "{err}");
    }

    #[test]
    fn wrong_type_names_path() {
        let text = "providers: {}\nlimits:\n  max_body_bytes: lots\n";
        let err = parse_yaml(text).unwrap_err();
        assert!(err.contains("limits.max_body_bytes"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn syntax_error_has_line() {
        let err = parse_yaml("providers:\n  - [unclosed\n").unwrap_err();
        assert!(err.contains("line"), "{err}");
    }

    #[test]
    fn version_changes_with_content() {
        assert_ne!(content_version(b"a"), content_version(b"b"));
        assert_eq!(content_version(b"a"), content_version(b"a"));
    }
}

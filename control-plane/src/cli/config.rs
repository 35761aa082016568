//! The client's saved settings: `url`, `api_key` and `project`, as TOML basic strings in
//! `$XDG_CONFIG_HOME/promptctl/config.toml` (or `~/.config/promptctl/config.toml`), written
//! with mode 0600 because it holds a secret. Only this flat `key = "value"` subset of TOML is
//! read and written, which is all the file ever holds.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::CliError;

/// What `promptctl login` saves.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SavedConfig {
    pub url: Option<String>,
    pub api_key: Option<String>,
    pub project: Option<String>,
}

/// The config file to use: `--config`/`PROMPTCTL_CONFIG`, else the XDG location.
pub fn config_path(explicit: Option<&Path>) -> Result<PathBuf, CliError> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let base = match (non_empty("XDG_CONFIG_HOME"), non_empty("HOME")) {
        (Some(xdg), _) => PathBuf::from(xdg),
        (None, Some(home)) => PathBuf::from(home).join(".config"),
        (None, None) => {
            return Err(CliError::Usage(
                "cannot locate the config file: set HOME, XDG_CONFIG_HOME or --config".into(),
            ))
        }
    };
    Ok(base.join("promptctl").join("config.toml"))
}

/// Reads the file; a missing file is an empty config.
pub fn load(path: &Path) -> Result<SavedConfig, CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SavedConfig::default()),
        Err(e) => return Err(CliError::Local(format!("reading {}: {e}", path.display()))),
    };
    parse(&text).map_err(|e| CliError::Local(format!("{}: {e}", path.display())))
}

/// Writes the file (and its directory) readable by the owner only.
pub fn save(path: &Path, config: &SavedConfig) -> Result<(), CliError> {
    let fail = |e: std::io::Error| CliError::Local(format!("writing {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    // An older file keeps its mode on open: tighten it before the secret goes in.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(fail)?;
    file.write_all(render(config).as_bytes()).map_err(fail)
}

fn render(config: &SavedConfig) -> String {
    let mut out = String::from("# promptctl settings (written by `promptctl login`)\n");
    for (key, value) in [
        ("url", &config.url),
        ("api_key", &config.api_key),
        ("project", &config.project),
    ] {
        if let Some(v) = value {
            out.push_str(&format!("{key} = {}\n", quote(v)));
        }
    }
    out
}

fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn parse(text: &str) -> Result<SavedConfig, String> {
    let mut config = SavedConfig::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: &str| format!("line {}: {what}", n + 1);
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| bad("expected key = \"value\""))?;
        let value = unquote(value.trim()).ok_or_else(|| bad("expected a quoted string"))?;
        match key.trim() {
            "url" => config.url = Some(value),
            "api_key" => config.api_key = Some(value),
            "project" => config.project = Some(value),
            other => return Err(bad(&format!("unknown setting {other:?}"))),
        }
    }
    Ok(config)
}

/// A TOML basic string (`"..."` with escapes), optionally followed by a comment.
fn unquote(raw: &str) -> Option<String> {
    let mut chars = raw.strip_prefix('"')?.chars();
    let mut out = String::new();
    loop {
        match chars.next()? {
            '"' => break,
            '\\' => match chars.next()? {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
    let rest = chars.as_str().trim();
    (rest.is_empty() || rest.starts_with('#')).then_some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_awkward_values() {
        let config = SavedConfig {
            url: Some("http://127.0.0.1:7070".into()),
            api_key: Some("pgk_ab\"c\\d\u{1}".into()),
            project: None,
        };
        assert_eq!(parse(&render(&config)).unwrap(), config);
    }

    #[test]
    fn rejects_malformed_lines_with_their_number() {
        let err = parse("url = \"x\"\napi_key = x\n").unwrap_err();
        assert!(err.starts_with("line 2"), "{err}");
        assert!(parse("colour = \"red\"").unwrap_err().contains("unknown"));
        assert_eq!(
            parse("url = \"a\" # note").unwrap().url.as_deref(),
            Some("a")
        );
    }

    #[test]
    fn saved_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("config.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let config = SavedConfig {
            api_key: Some("k".into()),
            ..SavedConfig::default()
        };
        save(&path, &config).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load(&path).unwrap(), config);
        assert_eq!(
            load(&dir.path().join("missing")).unwrap(),
            SavedConfig::default()
        );
    }
}

//! The last good snapshot on disk, so a gateway restarted while the control plane is down
//! serves what it served before. Written atomically: a temporary file, then a rename.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::snapshot::ManagedSnapshot;

/// `<dir>/snapshot-<project>-<environment>.json`, with characters unsafe in file names
/// replaced by `_`.
pub fn snapshot_path(dir: &Path, project: &str, environment: &str) -> PathBuf {
    dir.join(format!(
        "snapshot-{}-{}.json",
        file_safe(project),
        file_safe(environment)
    ))
}

fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes the snapshot next to its final path and renames it over the old one.
pub fn persist(path: &Path, snapshot: &ManagedSnapshot) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let body = serde_json::to_vec_pretty(snapshot)?;
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".tmp-{}", std::process::id()));
    let temp = PathBuf::from(temp);
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(&body)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// The persisted snapshot, if there is a readable one.
pub fn load(path: &Path) -> Result<Option<ManagedSnapshot>, String> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managed::SNAPSHOT_SCHEMA;

    #[test]
    fn persists_and_loads_back_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = snapshot_path(&dir.path().join("state"), "my proj/x", "prod");
        assert!(path.ends_with("snapshot-my_proj_x-prod.json"));
        assert_eq!(load(&path).unwrap(), None);
        let snapshot = ManagedSnapshot {
            schema: SNAPSHOT_SCHEMA,
            version: "abc".into(),
            project: "p".into(),
            environment: "prod".into(),
            config: "providers: {}".into(),
            policies: vec![],
            prompts: Default::default(),
            capture_payloads: true,
        };
        persist(&path, &snapshot).unwrap();
        persist(&path, &snapshot).unwrap();
        assert_eq!(load(&path).unwrap(), Some(snapshot));
        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1);
        std::fs::write(&path, b"{").unwrap();
        assert!(load(&path).is_err());
    }
}

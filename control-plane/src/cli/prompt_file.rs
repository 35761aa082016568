//! Prompt files for `promptctl prompts push`: YAML (`name`, `body`, `variables`, `role`,
//! `mode`, `notes`), or markdown (`.md`) whose YAML front matter holds the same fields and
//! whose body follows the closing `---`.

use std::path::Path;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::CliError;

/// One prompt version as written in a file.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PromptFile {
    pub name: String,
    #[serde(default)]
    pub body: Option<String>,
    /// Declared variables: name → type (`string`, ...) or `{type, required, default}`.
    #[serde(default)]
    pub variables: Option<Map<String, Value>>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

impl PromptFile {
    pub fn read(path: &Path) -> Result<PromptFile, CliError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::Local(format!("reading {}: {e}", path.display())))?;
        let markdown = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"));
        let parsed = if markdown {
            parse_markdown(&text)
        } else {
            parse_yaml(&text)
        };
        parsed.map_err(|e| CliError::Local(format!("{}: {e}", path.display())))
    }

    /// The body of `POST /prompts/{id}/versions`; `role`, `mode` and `notes` only when set.
    pub fn version_request(&self) -> Value {
        let mut req = json!({"body": self.body(), "variables": self.variables()});
        for (key, value) in [
            ("role", &self.role),
            ("mode", &self.mode),
            ("notes", &self.notes),
        ] {
            if let Some(v) = value {
                req[key] = json!(v);
            }
        }
        req
    }

    pub fn body(&self) -> &str {
        self.body.as_deref().unwrap_or_default()
    }

    /// The declared variables as the server stores them (absent = none).
    pub fn variables(&self) -> Value {
        Value::Object(self.variables.clone().unwrap_or_default())
    }

    /// True when `version` (a server version object) already holds this file's content.
    pub fn matches(&self, version: &Value) -> bool {
        let same_setting = |key: &str, mine: &Option<String>| match mine {
            Some(m) => version[key].as_str().is_none_or(|theirs| theirs == m),
            None => true,
        };
        version["body"].as_str() == Some(self.body())
            && version["variables"] == self.variables()
            && same_setting("role", &self.role)
            && same_setting("mode", &self.mode)
    }
}

fn parse_yaml(text: &str) -> Result<PromptFile, String> {
    let file: PromptFile =
        serde_norway::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    check(file)
}

fn parse_markdown(text: &str) -> Result<PromptFile, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    if lines.next().map(str::trim_end) != Some("---") {
        return Err("a markdown prompt starts with a `---` line, then YAML front matter".into());
    }
    let mut front = String::new();
    let mut closed = false;
    for line in lines.by_ref() {
        if line.trim_end() == "---" {
            closed = true;
            break;
        }
        front.push_str(line);
    }
    if !closed {
        return Err("the front matter has no closing `---` line".into());
    }
    let mut file: PromptFile =
        serde_norway::from_str(&front).map_err(|e| format!("invalid front matter: {e}"))?;
    if file.body.is_some() {
        return Err("`body` goes after the front matter, not inside it".into());
    }
    let body: String = lines.collect();
    file.body = Some(body.trim_start_matches(['\n', '\r']).to_owned());
    check(file)
}

fn check(file: PromptFile) -> Result<PromptFile, String> {
    if file.name.trim().is_empty() {
        return Err("`name` is empty".into());
    }
    if file.body().trim().is_empty() {
        return Err("the prompt body is empty".into());
    }
    Ok(file)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_markdown_give_the_same_prompt() {
        let yaml = "name: support\nrole: system\nvariables:\n  product: string\nbody: |\n  Help with {{ product }}.\n";
        let md = "---\nname: support\nrole: system\nvariables:\n  product: string\n---\n\nHelp with {{ product }}.\n";
        let a = parse_yaml(yaml).unwrap();
        assert_eq!(a, parse_markdown(md).unwrap());
        assert_eq!(a.body(), "Help with {{ product }}.\n");
        let req = a.version_request();
        assert_eq!(req["variables"], json!({"product": "string"}));
        assert_eq!(req["role"], "system");
        assert!(req.get("mode").is_none() && req.get("notes").is_none());
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        assert!(parse_yaml("name: x\nbody: b\ncolour: red\n")
            .unwrap_err()
            .contains("colour"));
        assert!(parse_yaml("name: x\n").unwrap_err().contains("empty"));
        assert!(parse_markdown("name: x\n").unwrap_err().contains("---"));
        assert!(parse_markdown("---\nname: x\nbody\n")
            .unwrap_err()
            .contains("closing"));
        assert!(parse_markdown("---\nname: x\nbody: b\n---\nz\n")
            .unwrap_err()
            .contains("after the front matter"));
    }

    #[test]
    fn matches_compares_body_variables_and_set_options() {
        let file = parse_yaml("name: x\nbody: hi\nmode: replace\n").unwrap();
        let stored = json!({"body": "hi", "variables": {}, "mode": "replace"});
        assert!(file.matches(&stored));
        assert!(!file.matches(&json!({"body": "hi", "variables": {}, "mode": "prefix"})));
        assert!(!file.matches(&json!({"body": "hi ", "variables": {}})));
        assert!(!file.matches(&json!({"body": "hi", "variables": {"a": "string"}})));
    }
}

//! What every client command starts from: the connection, the output mode, and lookups of
//! projects, prompts and versions by the names people type.

use serde_json::Value;

use super::config::{self, SavedConfig};
use super::http::{encode, ControlPlane};
use super::output::items;
use super::{CliError, CliResult, ClientArgs};

pub const DEFAULT_URL: &str = "http://127.0.0.1:7070";

pub struct Context {
    pub api: ControlPlane,
    pub json: bool,
    /// `--project` / `PROMPTCTL_PROJECT` / the saved one.
    project: Option<String>,
    /// The caller's key, to find its own user (`keys create` without `--user`).
    key: String,
}

impl Context {
    pub fn new(args: &ClientArgs) -> CliResult<Context> {
        let saved = saved_config(args)?;
        let url = args
            .url
            .clone()
            .or(saved.url)
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        let key = args.api_key.clone().or(saved.api_key).ok_or_else(|| {
            CliError::Usage(
                "no API key: run `promptctl login`, or pass --api-key / set PROMPTCTL_API_KEY"
                    .into(),
            )
        })?;
        Ok(Context {
            api: ControlPlane::new(&url, Some(key.clone()))?,
            json: args.json,
            project: args.project.clone().or(saved.project),
            key,
        })
    }

    /// The project named by `--project` (name or id); without one, the only project the key
    /// can see.
    pub async fn project_id(&self) -> CliResult<i64> {
        self.resolve_project(self.project.as_deref()).await
    }

    /// The project named `explicit` (name or id), else the only one the key can see.
    pub async fn resolve_project(&self, explicit: Option<&str>) -> CliResult<i64> {
        let explicit = explicit.map(str::trim);
        if let Some(id) = explicit.and_then(|p| p.parse::<i64>().ok()) {
            return Ok(id);
        }
        let answer = self.api.get("/api/v1/projects").await?;
        let projects = items(&answer)?;
        let id = match explicit {
            Some(name) => projects
                .iter()
                .find(|p| p["name"] == name)
                .ok_or_else(|| CliError::Usage(format!("no project named {name:?} visible to this key")))?["id"]
                .as_i64(),
            None => match projects {
                [only] => only["id"].as_i64(),
                [] => return Err(CliError::Usage("this key sees no project".into())),
                _ => {
                    return Err(CliError::Usage(
                        "this key sees several projects: pass --project NAME (or set PROMPTCTL_PROJECT)"
                            .into(),
                    ))
                }
            },
        };
        id.ok_or_else(|| CliError::Local("a project without an id in the answer".into()))
    }

    /// The prompt called `name` in the project (its JSON, with `id` and `labels`).
    pub async fn prompt(&self, name: &str) -> CliResult<Value> {
        let project = self.project_id().await?;
        let answer = self
            .api
            .get(&format!("/api/v1/projects/{project}/prompts"))
            .await?;
        items(&answer)?
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .ok_or_else(|| CliError::Usage(format!("no prompt named {name:?} in this project")))
    }

    pub async fn versions(&self, prompt_id: i64) -> CliResult<Vec<Value>> {
        let answer = self
            .api
            .get(&format!("/api/v1/prompts/{prompt_id}/versions"))
            .await?;
        Ok(items(&answer)?.to_vec())
    }

    /// Version number `number` of prompt `name`: `(prompt, version)` JSON.
    pub async fn version(&self, name: &str, number: i64) -> CliResult<(Value, Value)> {
        let prompt = self.prompt(name).await?;
        let version = self
            .versions(id_of(&prompt)?)
            .await?
            .into_iter()
            .find(|v| v["version"] == number)
            .ok_or_else(|| CliError::Usage(format!("prompt {name:?} has no version {number}")))?;
        Ok((prompt, version))
    }

    /// The user owning the caller's key, when it is a key of project `project`.
    pub async fn own_user(&self, project: i64) -> CliResult<Option<i64>> {
        let Some(prefix) = self
            .key
            .strip_prefix("pgk_")
            .and_then(|rest| rest.split_once('_'))
            .map(|(prefix, _)| prefix)
        else {
            return Ok(None);
        };
        let answer = self
            .api
            .get(&format!("/api/v1/projects/{project}/api_keys"))
            .await?;
        Ok(items(&answer)?
            .iter()
            .find(|k| k["prefix"] == prefix)
            .and_then(|k| k["user_id"].as_i64()))
    }
}

fn saved_config(args: &ClientArgs) -> CliResult<SavedConfig> {
    config::load(&config::config_path(args.config.as_deref())?)
}

/// The `id` field of a server object.
pub fn id_of(object: &Value) -> CliResult<i64> {
    object["id"]
        .as_i64()
        .ok_or_else(|| CliError::Local("the control plane answered an object without an id".into()))
}

/// `/api/v1/prompts/{id}/labels/{label}` and friends need the label as one path segment.
pub fn segment(s: &str) -> String {
    encode(s)
}

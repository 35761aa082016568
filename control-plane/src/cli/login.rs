//! `promptctl login`: checks a key against the control plane, then saves URL, key and
//! project to the config file (mode 0600).

use std::io::{BufRead, IsTerminal, Write};

use super::config::{self, SavedConfig};
use super::context::DEFAULT_URL;
use super::http::ControlPlane;
use super::output::{emit, items};
use super::{CliError, CliResult, ClientArgs};

pub async fn login(args: &ClientArgs) -> CliResult<()> {
    let path = config::config_path(args.config.as_deref())?;
    let saved = config::load(&path)?;
    let url = args
        .url
        .clone()
        .or(saved.url)
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let key = match &args.api_key {
        Some(k) => k.trim().to_owned(),
        None => read_key()?,
    };
    let api = ControlPlane::new(&url, Some(key.clone()))?;
    let projects = match api.get("/api/v1/projects").await {
        Ok(answer) => items(&answer)?.len(),
        Err(CliError::Api {
            status: 401,
            message,
        }) => {
            return Err(CliError::Usage(format!(
                "the control plane at {} rejected this key: {message}",
                api.base()
            )))
        }
        Err(e) => return Err(e),
    };
    let config = SavedConfig {
        url: Some(api.base().to_owned()),
        api_key: Some(key),
        project: args.project.clone(),
    };
    config::save(&path, &config)?;
    emit(&format!(
        "logged in to {} ({projects} project(s) visible); saved to {}\n",
        api.base(),
        path.display()
    ));
    Ok(())
}

/// One line from stdin, with a prompt when a person is typing.
fn read_key() -> CliResult<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("API key: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Local(format!("reading the API key from stdin: {e}")))?;
    let key = line.trim();
    if key.is_empty() {
        return Err(CliError::Usage(
            "no API key given (pass --api-key or type it on stdin)".into(),
        ));
    }
    Ok(key.to_owned())
}

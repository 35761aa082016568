//! Every shipped example config parses and compiles (with placeholder environment values).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use promptgate::config::load::{content_version, parse_yaml};
use promptgate::config::snapshot::compile;
use promptgate::upstream::client::ClientFactory;

fn placeholder_env(name: &str) -> Option<String> {
    if name.ends_with("_BASE_URL") {
        Some("http://127.0.0.1:9/v1".to_owned())
    } else if name.ends_with("_ENDPOINT") {
        Some("http://127.0.0.1:9".to_owned())
    } else {
        Some(format!("placeholder-{name}"))
    }
}

#[test]
fn every_example_config_compiles() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let raw = parse_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        compile(
            raw,
            content_version(text.as_bytes()),
            &ClientFactory::default(),
            placeholder_env,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        checked += 1;
    }
    assert!(checked >= 3, "found only {checked} example configs");
}

#[test]
fn policies_example_compiles_inside_the_multi_provider_example() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let base = std::fs::read_to_string(format!("{root}/examples/multi-provider.yaml")).unwrap();
    let policies = std::fs::read_to_string(format!("{root}/policies/routing.yaml")).unwrap();
    let text = format!("{base}\n{policies}");
    let snapshot = compile(
        parse_yaml(&text).unwrap(),
        content_version(text.as_bytes()),
        &ClientFactory::default(),
        placeholder_env,
    )
    .unwrap();
    assert!(snapshot.policy("cost_first").is_some());
    assert!(snapshot.policy("quality_first").is_some());
}

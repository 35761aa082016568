//! Every shipped example config parses and compiles (with placeholder environment values),
//! policy files included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use promptgate::config::load::load_file_with_env;
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
        load_file_with_env(&path, &ClientFactory::default(), placeholder_env)
            .unwrap_or_else(|e| panic!("{e}"));
        checked += 1;
    }
    assert!(checked >= 3, "found only {checked} example configs");
}

#[test]
fn the_multi_provider_example_loads_its_policy_file() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let path = std::path::Path::new(root).join("examples/multi-provider.yaml");
    let snapshot = load_file_with_env(&path, &ClientFactory::default(), placeholder_env).unwrap();
    let cost_first = snapshot.policy("cost_first").unwrap();
    assert!(snapshot.policy("quality_first").is_some());
    let smart = snapshot.route("smart").unwrap();
    assert!(std::ptr::eq(
        smart.policy.as_deref().unwrap(),
        cost_first.as_ref()
    ));
    assert_eq!(
        snapshot.version,
        promptgate::config::load::file_version(&path).unwrap()
    );
}

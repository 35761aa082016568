//! The gateway snapshot: ETag / 304, long-poll wake-ups (same process and another replica),
//! validation of configs and policies before anything is applied; on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::deploy::{configure, gateway_key, snapshot, CONFIG, POLICY};
use support::fixtures::team;
use support::{assert_error_shape, Api, TestDb};

on_both_backends!(
    etag_304_and_long_poll_wake,
    another_replica_change_wakes_within_two_seconds,
    invalid_config_or_policy_is_rejected_and_nothing_applied
);

async fn etag_304_and_long_poll_wake(db: &TestDb) {
    let api = Arc::new(Api::start(db).await);
    let t = team(&api, "shop", 1).await;
    let gw = gateway_key(&api, &t).await;

    let (s, _, e) = snapshot(&api, &gw, "shop", "prod", None, 0).await;
    assert_eq!(s, 404, "{e}");
    assert_eq!(e["error"]["code"], "environment_not_configured");
    assert_error_shape(&e);
    configure(&api, &t, "prod", CONFIG).await;

    let (s, etag, snap) = snapshot(&api, &gw, "shop", "prod", None, 0).await;
    assert_eq!(s, 200, "{snap}");
    let version = etag.unwrap();
    assert_eq!(snap["version"], version.as_str());
    assert_eq!(version.len(), 32);
    assert_eq!(snap["schema"], 1);
    assert_eq!(snap["project"], "shop");
    assert_eq!(snap["environment"], "prod");
    assert_eq!(snap["config"], CONFIG);
    assert_eq!(snap["capture_payloads"], false);
    // The numeric id names the project too; a member viewer may read it.
    let by_id = snapshot(&api, &t.viewer, &t.project.to_string(), "prod", None, 0).await;
    assert_eq!((by_id.0, by_id.1.as_deref()), (200, Some(version.as_str())));

    // Same version → 304 (at once with wait=0, after the wait otherwise).
    let (s, etag, body) = snapshot(&api, &gw, "shop", "prod", Some(&version), 0).await;
    assert_eq!((s, etag.as_deref()), (304, Some(version.as_str())));
    assert!(body.is_null());
    let started = Instant::now();
    let (s, _, _) = snapshot(&api, &gw, "shop", "prod", Some(&version), 1).await;
    assert_eq!(s, 304);
    assert!(started.elapsed() >= Duration::from_millis(900));
    // A stale version → 200 at once.
    let (s, _, _) = snapshot(&api, &gw, "shop", "prod", Some("0123"), 30).await;
    assert_eq!(s, 200);

    // A change during the wait answers 200 at once.
    let poll = {
        let (api, gw, version) = (api.clone(), gw.clone(), version.clone());
        tokio::spawn(async move {
            let r = snapshot(&api, &gw, "shop", "prod", Some(&version), 20).await;
            (r, Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !poll.is_finished(),
        "the long-poll waits while nothing changes"
    );
    api.ok(
        "PATCH",
        &format!("/api/v1/projects/{}", t.project),
        &t.admin,
        Some(json!({"capture_payloads": true})),
        200,
    )
    .await;
    let changed_at = Instant::now();
    let ((s, etag, snap), answered_at) = poll.await.unwrap();
    assert_eq!(s, 200, "{snap}");
    assert!(answered_at.duration_since(changed_at) < Duration::from_secs(1));
    assert_eq!(snap["capture_payloads"], true);
    assert_ne!(etag.as_deref(), Some(version.as_str()));
    assert_eq!(snap["version"], etag.unwrap().as_str());

    // wait is capped, not an error; other projects and bad keys are refused.
    let b = team(&api, "other", 1).await;
    let gw_b = gateway_key(&api, &b).await;
    let (s, _, e) = snapshot(&api, &gw_b, "shop", "prod", None, 0).await;
    assert_eq!(s, 404, "{e}");
    let (s, _, _) = snapshot(&api, &b.admin, "shop", "prod", None, 0).await;
    assert_eq!(s, 404);
    let (s, _, _) = snapshot(&api, "pgk_000000000000_nope", "shop", "prod", None, 0).await;
    assert_eq!(s, 401);
    let (s, _, _) = snapshot(&api, &gw, "nope", "prod", None, 0).await;
    assert_eq!(s, 404);
    let (s, _, _) = snapshot(&api, &gw, "shop", "Prod!", None, 0).await;
    assert!(s == 422 || s == 400, "{s}");
}

async fn another_replica_change_wakes_within_two_seconds(db: &TestDb) {
    let api = Arc::new(Api::start(db).await);
    let t = team(&api, "replicas", 1).await;
    configure(&api, &t, "prod", CONFIG).await;
    // A second control plane on the same database: its changes never notify this one.
    let replica = Api {
        router: control_plane::app(db.store().await),
        admin: api.admin.clone(),
    };
    let (_, etag, _) = snapshot(&api, &t.viewer, "replicas", "prod", None, 0).await;
    let version = etag.unwrap();
    let poll = {
        let (api, key, version) = (api.clone(), t.viewer.clone(), version.clone());
        tokio::spawn(async move {
            let r = snapshot(&api, &key, "replicas", "prod", Some(&version), 20).await;
            (r, Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !poll.is_finished(),
        "the long-poll waits while nothing changes"
    );
    replica
        .ok(
            "POST",
            "/api/v1/policies",
            &t.editor,
            Some(json!({"project_id": t.project, "name": "routing", "yaml": POLICY})),
            201,
        )
        .await;
    let changed_at = Instant::now();
    let ((s, etag, snap), answered_at) = poll.await.unwrap();
    assert_eq!(s, 200);
    assert!(answered_at.duration_since(changed_at) < Duration::from_secs(2));
    assert_ne!(etag.unwrap(), version);
    assert_eq!(snap["policies"][0]["name"], "routing");
}

async fn invalid_config_or_policy_is_rejected_and_nothing_applied(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "strict", 1).await;

    // Without any environment a policy document must still parse.
    let (s, e) = api
        .call(
            "POST",
            "/api/v1/policies",
            Some(&t.editor),
            Some(
                json!({"project_id": t.project, "name": "broken", "yaml": "policies: [{name: 5}]"}),
            ),
        )
        .await;
    assert_eq!(s.as_u16(), 422, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("broken"),
        "{e}"
    );

    configure(&api, &t, "prod", CONFIG).await;
    let (_, before, _) = snapshot(&api, &t.viewer, "strict", "prod", None, 0).await;
    let before = before.unwrap();

    // A policy naming an unknown provider: 422 with the gateway's message, nothing stored.
    let bad_policy = "
policies:
  - name: pricey
    objective: min_cost
    candidates: [{provider: nowhere, model: m}]
";
    let (s, e) = api
        .call(
            "POST",
            "/api/v1/policies",
            Some(&t.editor),
            Some(json!({"project_id": t.project, "name": "bad", "yaml": bad_policy})),
        )
        .await;
    assert_eq!(s.as_u16(), 422, "{e}");
    assert_error_shape(&e);
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("environment `prod`") && msg.contains("nowhere"),
        "{msg}"
    );
    let listed = api
        .ok(
            "GET",
            &format!("/api/v1/projects/{}/policies", t.project),
            &t.viewer,
            None,
            200,
        )
        .await;
    assert!(listed["data"].as_array().unwrap().is_empty());
    let (_, after, _) = snapshot(&api, &t.viewer, "strict", "prod", None, 0).await;
    assert_eq!(after.unwrap(), before, "snapshot unchanged");

    // Invalid configs: unknown provider type, policy_files, a route naming a missing policy.
    let config_path = format!("/api/v1/projects/{}/environments/prod/config", t.project);
    for bad in [
        "providers: {x: {type: nope}}".to_owned(),
        format!("{CONFIG}policy_files: [a.yaml]\n"),
        format!("{CONFIG}  - model: smart\n    policy: cheap\n"),
        "not: [yaml".to_owned(),
    ] {
        let (s, e) = api
            .call(
                "PUT",
                &config_path,
                Some(&t.admin),
                Some(json!({"yaml": bad})),
            )
            .await;
        assert_eq!(s.as_u16(), 422, "{bad}: {e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("environment `prod`: "),
            "{e}"
        );
    }
    let got = api.ok("GET", &config_path, &t.viewer, None, 200).await;
    assert_eq!(got["yaml"], CONFIG);
    let (_, after, _) = snapshot(&api, &t.viewer, "strict", "prod", None, 0).await;
    assert_eq!(after.unwrap(), before, "snapshot unchanged");

    // A valid policy, then a route using it; deleting the policy would break the route.
    let policy = api
        .ok(
            "POST",
            "/api/v1/policies",
            &t.editor,
            Some(json!({"project_id": t.project, "name": "routing", "yaml": POLICY})),
            201,
        )
        .await;
    let with_route = format!("{CONFIG}  - model: smart\n    policy: cheap\n");
    configure(&api, &t, "prod", &with_route).await;
    let (s, e) = api
        .call(
            "DELETE",
            &format!("/api/v1/policies/{}", policy["id"]),
            Some(&t.editor),
            None,
        )
        .await;
    assert_eq!(s.as_u16(), 422, "{e}");
    let (_, _, snap) = snapshot(&api, &t.viewer, "strict", "prod", None, 0).await;
    assert_eq!(snap["policies"][0]["yaml"], POLICY);
    configure(&api, &t, "prod", CONFIG).await;
    api.ok(
        "DELETE",
        &format!("/api/v1/policies/{}", policy["id"]),
        &t.editor,
        None,
        204,
    )
    .await;

    // The environments and providers overviews.
    configure(
        &api,
        &t,
        "dev",
        &with_route.replace("  - model: smart\n    policy: cheap\n", ""),
    )
    .await;
    let envs = api
        .ok(
            "GET",
            &format!("/api/v1/projects/{}/environments", t.project),
            &t.viewer,
            None,
            200,
        )
        .await;
    let names: Vec<_> = envs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["environment"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dev", "prod"]);
    let providers = api
        .ok(
            "GET",
            &format!("/api/v1/models/providers?project_id={}", t.project),
            &t.viewer,
            None,
            200,
        )
        .await;
    let prod = &providers["data"][1];
    assert_eq!(prod["environment"], "prod");
    assert_eq!(
        prod["providers"][0],
        json!({"name": "mock", "type": "mock"})
    );
    assert_eq!(prod["routes"][0]["model"], "chat");
    let (s, e) = api
        .call(
            "GET",
            &format!("/api/v1/projects/{}/environments/qa/config", t.project),
            Some(&t.viewer),
            None,
        )
        .await;
    assert_eq!(s.as_u16(), 404);
    assert_eq!(e["error"]["code"], "environment_not_configured");
}

//! API key lifecycle and the audit chain, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use serde_json::json;
use support::fixtures::{approved_version, new_prompt, team};
use support::{Api, TestDb};

on_both_backends!(
    api_keys_rotate_revoke_and_scope,
    audit_chain_detects_tampering
);

async fn api_keys_rotate_revoke_and_scope(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "keys", 1).await;
    let pa = t.project;
    let viewer_id = api.new_user("keys-vic").await;
    let vkey = api.member_key(pa, viewer_id, "viewer").await;
    // A key cannot exceed its user's membership.
    api.ok(
        "POST",
        &format!("/api/v1/projects/{pa}/api_keys"),
        &t.admin,
        Some(json!({"name": "up", "user_id": viewer_id, "role": "admin"})),
        422,
    )
    .await;
    let outsider = api.new_user("keys-out").await;
    api.ok(
        "POST",
        &format!("/api/v1/projects/{pa}/api_keys"),
        &t.admin,
        Some(json!({"name": "x", "user_id": outsider, "role": "viewer"})),
        422,
    )
    .await;

    let listed = api
        .ok(
            "GET",
            &format!("/api/v1/projects/{pa}/api_keys"),
            &t.admin,
            None,
            200,
        )
        .await;
    let text = listed.to_string();
    assert!(
        !text.contains(&vkey) && !text.contains(&t.admin),
        "listing must not show secrets"
    );
    let vk = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["user_id"] == viewer_id)
        .unwrap()["id"]
        .as_i64()
        .unwrap();

    let rotated = api
        .ok(
            "POST",
            &format!("/api/v1/api_keys/{vk}/rotate"),
            &t.admin,
            None,
            201,
        )
        .await;
    let new_key = rotated["key"].as_str().unwrap();
    api.ok("GET", &format!("/api/v1/projects/{pa}"), &vkey, None, 401)
        .await;
    api.ok("GET", &format!("/api/v1/projects/{pa}"), new_key, None, 200)
        .await;
    let new_id = rotated["id"].as_i64().unwrap();
    api.ok(
        "POST",
        &format!("/api/v1/api_keys/{new_id}/revoke"),
        &t.admin,
        None,
        200,
    )
    .await;
    api.ok("GET", &format!("/api/v1/projects/{pa}"), new_key, None, 401)
        .await;
    api.ok(
        "POST",
        &format!("/api/v1/api_keys/{new_id}/revoke"),
        &t.admin,
        None,
        409,
    )
    .await;
    // Lowering a membership lowers the key's effective role; removing it disables the key.
    let editor = api.member_key(pa, viewer_id, "editor").await;
    api.ok(
        "POST",
        &format!("/api/v1/projects/{pa}/prompts"),
        &editor,
        Some(json!({"name": "e1"})),
        201,
    )
    .await;
    api.ok(
        "PUT",
        &format!("/api/v1/projects/{pa}/members/{viewer_id}"),
        &t.admin,
        Some(json!({"role": "viewer"})),
        200,
    )
    .await;
    api.ok(
        "POST",
        &format!("/api/v1/projects/{pa}/prompts"),
        &editor,
        Some(json!({"name": "e2"})),
        403,
    )
    .await;
    api.ok(
        "DELETE",
        &format!("/api/v1/projects/{pa}/members/{viewer_id}"),
        &t.admin,
        None,
        204,
    )
    .await;
    api.ok("GET", &format!("/api/v1/projects/{pa}"), &editor, None, 403)
        .await;
    // Secrets never reach the audit log.
    let audit = api
        .ok(
            "GET",
            "/api/v1/audit?limit=1000",
            &api.admin.clone(),
            None,
            200,
        )
        .await
        .to_string();
    for secret in [&vkey, &editor, &new_key.to_owned(), &t.admin] {
        let tail = &secret[secret.len() - 64..];
        assert!(!audit.contains(tail));
    }

    // Expiry: bounded at creation, enforced at authentication.
    let body = |days: i64| {
        Some(
            json!({"name": "exp", "user_id": t.editor_id, "role": "viewer", "expires_in_days": days}),
        )
    };
    let path = format!("/api/v1/projects/{pa}/api_keys");
    api.ok("POST", &path, &t.admin, body(0), 422).await;
    let exp = api.ok("POST", &path, &t.admin, body(30), 201).await;
    assert!(exp["expires_at"].as_str().unwrap() > "2025");
    let exp_key = exp["key"].as_str().unwrap();
    api.ok("GET", &format!("/api/v1/projects/{pa}"), exp_key, None, 200)
        .await;
    let store = db.store().await;
    sqlx::query("UPDATE api_keys SET expires_at = '2000-01-01T00:00:00.000Z' WHERE id = $1")
        .bind(exp["id"].as_i64().unwrap())
        .execute(&store.pool)
        .await
        .unwrap();
    api.ok("GET", &format!("/api/v1/projects/{pa}"), exp_key, None, 401)
        .await;
}

async fn audit_chain_detects_tampering(db: &TestDb) {
    use control_plane::audit::{verify, verify_with_anchor, VerifyError};
    let api = Api::start(db).await;
    let t = team(&api, "aud", 1).await;
    let prompt = new_prompt(&api, &t, "p").await;
    approved_version(&api, &t, prompt, "x {{ y }}").await;
    let store = db.store().await;
    let head = verify(&store.pool).await.unwrap();
    assert!(
        head.records > 10 && head.seq == head.records as i64,
        "{head:?}"
    );
    let anchor = format!("{}:{}", head.seq, head.hash);
    assert_eq!(promptctl_verify(&db.url, None), Some(0));
    assert_eq!(promptctl_verify(&db.url, Some(&anchor)), Some(0));
    assert_eq!(
        promptctl_verify(&db.url, Some(&format!("{}:00", head.seq))),
        Some(2)
    );

    // Truncating the tail keeps the remaining chain valid; only the anchor reveals it.
    sqlx::query("DELETE FROM audit_log WHERE seq = $1")
        .bind(head.seq)
        .execute(&store.pool)
        .await
        .unwrap();
    assert!(verify(&store.pool).await.is_ok());
    match verify_with_anchor(&store.pool, Some((head.seq, &head.hash))).await {
        Err(VerifyError::Broken { seq, .. }) => assert_eq!(seq, head.seq),
        other => panic!("truncation not detected: {other:?}"),
    }
    assert_eq!(promptctl_verify(&db.url, Some(&anchor)), Some(2));

    // Altering any record breaks the chain at that record.
    sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3")
        .execute(&store.pool)
        .await
        .unwrap();
    match verify(&store.pool).await {
        Err(VerifyError::Broken { seq, .. }) => assert_eq!(seq, 3),
        other => panic!("tampering not detected: {other:?}"),
    }
    assert_eq!(promptctl_verify(&db.url, None), Some(2));
}

/// Runs `promptctl audit verify [--anchor A]` against `url` and returns its exit code.
fn promptctl_verify(url: &str, anchor: Option<&str>) -> Option<i32> {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_promptctl"));
    cmd.args(["audit", "verify"]);
    if let Some(a) = anchor {
        cmd.args(["--anchor", a]);
    }
    cmd.env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
        .status
        .code()
}

//! `POST /api/v1/auth/token` (OAuth2 client credentials over API keys), on SQLite and
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sqlx::Row;
use support::fixtures::team;
use support::{Api, TestDb};
use tower::ServiceExt;

on_both_backends!(
    tokens_act_as_their_key,
    token_request_errors_use_the_oauth_shape,
    revoking_the_key_ends_its_tokens,
    expired_and_forged_tokens_are_refused,
);

fn prefix_of(key: &str) -> String {
    key.split('_').nth(1).unwrap().to_owned()
}

/// Raw call returning status, headers and JSON body.
async fn raw(
    api: &Api,
    content_type: &str,
    authorization: Option<String>,
    body: String,
) -> (u16, axum::http::HeaderMap, Value) {
    let mut req = Request::builder()
        .method("POST")
        .uri("/api/v1/auth/token")
        .header("content-type", content_type);
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let resp = api
        .router
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

async fn exchange(api: &Api, key: &str) -> String {
    let (s, headers, v) = raw(
        api,
        "application/json",
        None,
        json!({"grant_type": "client_credentials", "client_id": prefix_of(key), "client_secret": key})
            .to_string(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 900);
    assert_eq!(headers["cache-control"], "no-store");
    let token = v["access_token"].as_str().unwrap().to_owned();
    assert!(!token.contains(key), "the token must not carry the key");
    token
}

async fn tokens_act_as_their_key(db: &TestDb) {
    let api = Api::start(db).await;
    let a = team(&api, "alpha", 1).await;
    let b = team(&api, "beta", 1).await;
    let editor = exchange(&api, &a.editor).await;
    let viewer = exchange(&api, &a.viewer).await;
    let pa = a.project;
    api.ok("GET", &format!("/api/v1/projects/{pa}"), &editor, None, 200)
        .await;
    api.ok(
        "POST",
        &format!("/api/v1/projects/{pa}/prompts"),
        &editor,
        Some(json!({"name": "p"})),
        201,
    )
    .await;
    api.ok(
        "POST",
        &format!("/api/v1/projects/{pa}/prompts"),
        &viewer,
        Some(json!({"name": "q"})),
        403,
    )
    .await;
    api.ok(
        "GET",
        &format!("/api/v1/projects/{}", b.project),
        &editor,
        None,
        404,
    )
    .await;
    // The org-wide admin key's token is an org admin too.
    let root = exchange(&api, &api.admin.clone()).await;
    api.ok(
        "POST",
        "/api/v1/users",
        &root,
        Some(json!({"name": "zed"})),
        201,
    )
    .await;
    // Form-encoded body and HTTP Basic credentials are accepted as well.
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        prefix_of(&a.viewer),
        a.viewer
    );
    let (s, _, v) = raw(&api, "application/x-www-form-urlencoded", None, form).await;
    assert_eq!(s, 200, "{v}");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        prefix_of(&a.viewer),
        a.viewer
    ));
    let (s, _, v) = raw(
        &api,
        "application/x-www-form-urlencoded",
        Some(format!("Basic {basic}")),
        "grant_type=client_credentials".into(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    api.ok(
        "GET",
        &format!("/api/v1/projects/{pa}"),
        v["access_token"].as_str().unwrap(),
        None,
        200,
    )
    .await;
    // Tokens survive a restart: the signing secret is the installation's, in the database.
    let restarted = Api {
        router: control_plane::app(db.store().await),
        admin: api.admin.clone(),
    };
    restarted
        .ok("GET", &format!("/api/v1/projects/{pa}"), &editor, None, 200)
        .await;
}

async fn token_request_errors_use_the_oauth_shape(db: &TestDb) {
    let api = Api::start(db).await;
    let a = team(&api, "alpha", 1).await;
    let id = prefix_of(&a.editor);
    let other = team(&api, "beta", 1).await;
    let cases = [
        (
            json!({"grant_type": "password", "client_id": id, "client_secret": a.editor}),
            400,
            "unsupported_grant_type",
        ),
        (
            json!({"client_id": id, "client_secret": a.editor}),
            400,
            "invalid_request",
        ),
        (
            json!({"grant_type": "client_credentials", "client_id": id}),
            400,
            "invalid_request",
        ),
        (
            json!({"grant_type": "client_credentials", "client_id": id, "client_secret": format!("{}x", a.editor)}),
            401,
            "invalid_client",
        ),
        (
            json!({"grant_type": "client_credentials", "client_id": prefix_of(&other.editor), "client_secret": a.editor}),
            401,
            "invalid_client",
        ),
        (
            json!({"grant_type": "client_credentials", "client_id": "abc", "client_secret": "pgk_abc_def"}),
            401,
            "invalid_client",
        ),
    ];
    for (body, status, error) in cases {
        let (s, headers, v) = raw(&api, "application/json", None, body.to_string()).await;
        assert_eq!(
            (s, v["error"].as_str()),
            (status, Some(error)),
            "{body}: {v}"
        );
        assert!(v["error_description"].is_string(), "{v}");
        assert_eq!(headers["cache-control"], "no-store");
        let text = v.to_string();
        assert!(!text.contains(&a.editor), "the secret is echoed: {text}");
    }
    let (s, _, v) = raw(&api, "application/json", None, "{not json".into()).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")));
    let (s, _, v) = raw(
        &api,
        "application/json",
        Some("Basic !!!".into()),
        json!({"grant_type": "client_credentials"}).to_string(),
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
}

async fn revoking_the_key_ends_its_tokens(db: &TestDb) {
    let api = Api::start(db).await;
    let a = team(&api, "alpha", 1).await;
    let key = a.editor.clone();
    let token = exchange(&api, &key).await;
    let path = format!("/api/v1/projects/{}", a.project);
    api.ok("GET", &path, &token, None, 200).await;
    let keys = api
        .ok(
            "GET",
            &format!("/api/v1/projects/{}/api_keys", a.project),
            &a.admin,
            None,
            200,
        )
        .await;
    let key_id = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["prefix"] == prefix_of(&key))
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    api.ok(
        "POST",
        &format!("/api/v1/api_keys/{key_id}/revoke"),
        &a.admin,
        None,
        200,
    )
    .await;
    let (s, e) = api.call("GET", &path, Some(&token), None).await;
    assert_eq!(s.as_u16(), 401, "{e}");
    let (s, _, v) = raw(
        &api,
        "application/json",
        None,
        json!({"grant_type": "client_credentials", "client_id": prefix_of(&key), "client_secret": key})
            .to_string(),
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
}

async fn expired_and_forged_tokens_are_refused(db: &TestDb) {
    let api = Api::start(db).await;
    let a = team(&api, "alpha", 1).await;
    let token = exchange(&api, &a.editor).await;
    let path = format!("/api/v1/projects/{}", a.project);
    // Re-sign the token's own claims with the installation secret, but expired.
    let store = db.store().await;
    let secret: String = sqlx::query("SELECT value FROM installation_secrets")
        .fetch_one(&store.pool)
        .await
        .unwrap()
        .try_get("value")
        .unwrap();
    let secret = hex::decode(secret).unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let mut claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let sign = |c: &Value, secret: &[u8]| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            c,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    };
    api.ok("GET", &path, &sign(&claims, &secret), None, 200)
        .await;
    let exp = claims["exp"].as_u64().unwrap();
    claims["exp"] = json!(exp - 3600);
    claims["iat"] = json!(exp - 4600);
    let (s, e) = api
        .call("GET", &path, Some(&sign(&claims, &secret)), None)
        .await;
    assert_eq!(s.as_u16(), 401, "expired: {e}");
    claims["exp"] = json!(exp);
    let (s, _) = api
        .call(
            "GET",
            &path,
            Some(&sign(&claims, b"another installation")),
            None,
        )
        .await;
    assert_eq!(s.as_u16(), 401, "foreign secret");
    // Pointing a token at another key needs the secret; with it, the key row still rules.
    claims["aud"] = json!("someone-else");
    let (s, _) = api
        .call("GET", &path, Some(&sign(&claims, &secret)), None)
        .await;
    assert_eq!(s.as_u16(), 401, "wrong audience");
}

//! OIDC bearer tokens against an in-process issuer (discovery + JWKS on port 0), signed with
//! the TEST-ONLY keys in `tests/fixtures/test_only_oidc_keys.json`; SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::Json;
use base64::Engine;
use control_plane::oidc::{OidcConfig, OidcVerifier};
use control_plane::{app_with, AppState, Store};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use support::fixtures::team;
use support::{assert_error_shape, Api, TestDb};

on_both_backends!(
    oidc_users_act_with_their_memberships,
    bad_tokens_are_refused,
    unknown_kid_refetch_is_rate_limited,
    rotated_keys_are_picked_up,
);

const AUDIENCE: &str = "promptctl-tests";

fn keys() -> Value {
    serde_json::from_str(include_str!("fixtures/test_only_oidc_keys.json")).unwrap()
}

fn der(key: &Value, field: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(key[field].as_str().unwrap())
        .unwrap()
}

fn public_jwk(key: &Value) -> Value {
    if key["alg"] == "ES256" {
        json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": key["kid"],
            "x": key["x"], "y": key["y"]})
    } else {
        json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": key["kid"], "n": key["n"],
            "e": key["e"]})
    }
}

/// A fake issuer: serves discovery and a JWKS that tests can change, counting JWKS fetches.
struct Issuer {
    url: String,
    jwks: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

impl Issuer {
    async fn start(initial: Vec<Value>) -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let jwks = Arc::new(Mutex::new(json!({"keys": initial})));
        let fetches = Arc::new(AtomicUsize::new(0));
        let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/keys")});
        let (served, counter) = (jwks.clone(), fetches.clone());
        let router = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let d = discovery.clone();
                    async move { Json(d) }
                }),
            )
            .route(
                "/keys",
                get(move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let body = served.lock().unwrap().clone();
                    async move { Json(body) }
                }),
            );
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Issuer { url, jwks, fetches }
    }

    fn publish(&self, keys: Vec<Value>) {
        *self.jwks.lock().unwrap() = json!({"keys": keys});
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Signs `claims` with a fixture key (`rsa`, `rsa_rotated`, `ec`).
fn sign(key_name: &str, claims: &Value) -> String {
    let key = &keys()[key_name];
    let (alg, encoding) = if key["alg"] == "ES256" {
        (
            Algorithm::ES256,
            EncodingKey::from_ec_der(&der(key, "private_pkcs8_der_base64")),
        )
    } else {
        (
            Algorithm::RS256,
            EncodingKey::from_rsa_der(&der(key, "private_pkcs1_der_base64")),
        )
    };
    let mut header = Header::new(alg);
    header.kid = Some(key["kid"].as_str().unwrap().to_owned());
    jsonwebtoken::encode(&header, claims, &encoding).unwrap()
}

fn claims(issuer: &Issuer, email: &str) -> Value {
    json!({"iss": issuer.url, "aud": AUDIENCE, "sub": "u-1", "email": email,
        "email_verified": true, "iat": now(), "exp": now() + 300})
}

async fn start(db: &TestDb, issuer: &Issuer, min_refetch: Option<Duration>) -> Api {
    let store = Store::connect(&db.url).await.unwrap();
    let admin = store.bootstrap().await.unwrap().unwrap();
    let mut verifier = OidcVerifier::new(OidcConfig {
        issuer: issuer.url.clone(),
        audience: AUDIENCE.into(),
    })
    .unwrap();
    if let Some(d) = min_refetch {
        verifier = verifier.with_min_refetch(d);
    }
    Api {
        router: app_with(AppState::new(store).with_oidc(verifier)),
        admin,
    }
}

async fn user_with_email(api: &Api, name: &str, email: &str) -> i64 {
    let admin = api.admin.clone();
    let v = api
        .ok(
            "POST",
            "/api/v1/users",
            &admin,
            Some(json!({"name": name, "email": email})),
            201,
        )
        .await;
    v["id"].as_i64().unwrap()
}

async fn add_member(api: &Api, project: i64, user: i64, role: &str) {
    let admin = api.admin.clone();
    api.ok(
        "PUT",
        &format!("/api/v1/projects/{project}/members/{user}"),
        &admin,
        Some(json!({"role": role})),
        200,
    )
    .await;
}

async fn oidc_users_act_with_their_memberships(db: &TestDb) {
    let k = keys();
    let issuer = Issuer::start(vec![public_jwk(&k["rsa"]), public_jwk(&k["ec"])]).await;
    let api = start(db, &issuer, None).await;
    let a = team(&api, "alpha", 1).await;
    let b = team(&api, "beta", 1).await;
    let c = team(&api, "gamma", 1).await;
    let erin = user_with_email(&api, "erin", "Erin@Example.com").await;
    add_member(&api, a.project, erin, "viewer").await;
    add_member(&api, b.project, erin, "editor").await;

    for key in ["rsa", "ec"] {
        let token = sign(key, &claims(&issuer, "erin@example.com"));
        let listed = api.ok("GET", "/api/v1/projects", &token, None, 200).await;
        let ids: Vec<i64> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [a.project, b.project], "{key}");
        api.ok(
            "GET",
            &format!("/api/v1/projects/{}", a.project),
            &token,
            None,
            200,
        )
        .await;
        api.ok(
            "POST",
            &format!("/api/v1/projects/{}/prompts", b.project),
            &token,
            Some(json!({"name": format!("by-{key}")})),
            201,
        )
        .await;
        let (s, e) = api
            .call(
                "POST",
                &format!("/api/v1/projects/{}/prompts", a.project),
                Some(&token),
                Some(json!({"name": "nope"})),
            )
            .await;
        assert_eq!(s.as_u16(), 403, "viewer in alpha: {e}");
        let (s, e) = api
            .call(
                "GET",
                &format!("/api/v1/projects/{}", c.project),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(s.as_u16(), 404, "not a member of gamma: {e}");
    }
    // Mutations are audited under the OIDC user.
    let audit = api
        .ok("GET", "/api/v1/audit", &api.admin.clone(), None, 200)
        .await;
    let erin_actor = format!("user:{erin}/oidc");
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["actor"] == erin_actor),
        "{audit}"
    );
    // Removing the membership takes effect at the next request.
    let admin = api.admin.clone();
    api.ok(
        "DELETE",
        &format!("/api/v1/projects/{}/members/{erin}", b.project),
        &admin,
        None,
        204,
    )
    .await;
    let token = sign("rsa", &claims(&issuer, "erin@example.com"));
    let (s, _) = api
        .call(
            "GET",
            &format!("/api/v1/projects/{}", b.project),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s.as_u16(), 404);
    // A user of exactly one project acts in it like its key would, audit log included.
    let frank = user_with_email(&api, "frank", "frank@example.com").await;
    add_member(&api, c.project, frank, "admin").await;
    let token = sign("ec", &claims(&issuer, "frank@example.com"));
    let audit = api.ok("GET", "/api/v1/audit", &token, None, 200).await;
    assert!(audit
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["project_id"] == c.project));
}

async fn bad_tokens_are_refused(db: &TestDb) {
    let k = keys();
    let issuer = Issuer::start(vec![public_jwk(&k["rsa"]), public_jwk(&k["ec"])]).await;
    let api = start(db, &issuer, None).await;
    let t = team(&api, "alpha", 1).await;
    let erin = user_with_email(&api, "erin", "erin@example.com").await;
    add_member(&api, t.project, erin, "admin").await;
    let path = format!("/api/v1/projects/{}", t.project);
    let good = claims(&issuer, "erin@example.com");
    api.ok("GET", &path, &sign("rsa", &good), None, 200).await;

    let with = |field: &str, value: Value| {
        let mut c = good.clone();
        c[field] = value;
        c
    };
    let mut no_exp = good.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut no_email = good.clone();
    no_email.as_object_mut().unwrap().remove("email");
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong audience",
            sign("rsa", &with("aud", json!("someone-else"))),
        ),
        (
            "wrong issuer",
            sign("rsa", &with("iss", json!("http://evil.example"))),
        ),
        ("expired", sign("rsa", &with("exp", json!(now() - 3600)))),
        (
            "not yet valid",
            sign("rsa", &with("nbf", json!(now() + 3600))),
        ),
        ("no exp", sign("rsa", &no_exp)),
        (
            "unknown email",
            sign("rsa", &with("email", json!("mallory@example.com"))),
        ),
        ("no email", sign("rsa", &no_email)),
        (
            "unverified email",
            sign("rsa", &with("email_verified", json!(false))),
        ),
        ("key not in the JWKS", sign("rsa_rotated", &good)),
        ("tampered payload", {
            let token = sign("rsa", &good);
            let parts: Vec<&str> = token.split('.').collect();
            let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(with("email", json!("root@example.com")).to_string());
            format!("{}.{forged}.{}", parts[0], parts[2])
        }),
        ("HS256 with a guessed secret", {
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &good,
                &EncodingKey::from_secret(b"guess"),
            )
            .unwrap()
        }),
        ("alg none", {
            let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(r#"{"alg":"none","typ":"JWT"}"#);
            let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(good.to_string());
            format!("{header}.{body}.")
        }),
        ("RS384", {
            let key = &k["rsa"];
            let mut header = Header::new(Algorithm::RS384);
            header.kid = Some("test-rsa-1".into());
            jsonwebtoken::encode(
                &header,
                &good,
                &EncodingKey::from_rsa_der(&der(key, "private_pkcs1_der_base64")),
            )
            .unwrap()
        }),
        ("garbage", "not.a.token".into()),
    ];
    for (what, token) in cases {
        let (s, e) = api.call("GET", &path, Some(&token), None).await;
        assert_eq!(s.as_u16(), 401, "{what}: {e}");
        assert_error_shape(&e);
        let message = e["error"]["message"].as_str().unwrap();
        assert!(!message.contains(&token), "{what}: the token is echoed");
    }
    // Without --oidc-issuer, OIDC tokens are refused.
    let plain = Api {
        router: control_plane::app(db.store().await),
        admin: api.admin.clone(),
    };
    let (s, e) = plain
        .call("GET", &path, Some(&sign("rsa", &good)), None)
        .await;
    assert_eq!(s.as_u16(), 401, "{e}");
}

async fn unknown_kid_refetch_is_rate_limited(db: &TestDb) {
    let k = keys();
    let issuer = Issuer::start(vec![public_jwk(&k["rsa"])]).await;
    let api = start(db, &issuer, None).await;
    let t = team(&api, "alpha", 1).await;
    let erin = user_with_email(&api, "erin", "erin@example.com").await;
    add_member(&api, t.project, erin, "viewer").await;
    let path = format!("/api/v1/projects/{}", t.project);
    let good = claims(&issuer, "erin@example.com");
    api.ok("GET", &path, &sign("rsa", &good), None, 200).await;
    assert_eq!(issuer.fetches(), 1);
    for _ in 0..5 {
        api.ok("GET", &path, &sign("rsa", &good), None, 200).await;
    }
    assert_eq!(issuer.fetches(), 1, "known keys are served from the cache");
    // Tokens naming unknown keys cause at most one fetch per 30 s.
    for _ in 0..10 {
        let (s, _) = api
            .call("GET", &path, Some(&sign("rsa_rotated", &good)), None)
            .await;
        assert_eq!(s.as_u16(), 401);
    }
    assert_eq!(
        issuer.fetches(),
        1,
        "no refetch within 30 s of the last one"
    );
}

async fn rotated_keys_are_picked_up(db: &TestDb) {
    let k = keys();
    let issuer = Issuer::start(vec![public_jwk(&k["rsa"])]).await;
    let api = start(db, &issuer, Some(Duration::from_millis(200))).await;
    let t = team(&api, "alpha", 1).await;
    let erin = user_with_email(&api, "erin", "erin@example.com").await;
    add_member(&api, t.project, erin, "viewer").await;
    let path = format!("/api/v1/projects/{}", t.project);
    let good = claims(&issuer, "erin@example.com");
    api.ok("GET", &path, &sign("rsa", &good), None, 200).await;
    // The issuer rotates to a new key; a token signed with it triggers one refetch.
    issuer.publish(vec![public_jwk(&k["rsa_rotated"])]);
    tokio::time::sleep(Duration::from_millis(250)).await;
    api.ok("GET", &path, &sign("rsa_rotated", &good), None, 200)
        .await;
    assert_eq!(issuer.fetches(), 2);
    api.ok("GET", &path, &sign("rsa_rotated", &good), None, 200)
        .await;
    assert_eq!(issuer.fetches(), 2);
}

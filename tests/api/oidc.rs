//! Sign-in with OpenID Connect (issue 16), browser-free, against a real provider: the npm
//! package `oidc-provider` (tests/oidc/provider.mjs), set up as Pro Santé Connect is for a
//! service. The test drives what a browser would: `/auth/login` sends it to the provider with a
//! PKCE challenge; the provider's login and consent forms are posted; the callback exchanges the
//! code and sets the session cookie. Then the session acts under its grant, a state-changing
//! request without the CSRF token is refused, another grant of the same identity can be chosen,
//! a replayed callback and an identity without a grant are refused, a revoked grant ends the
//! session at once, and sign-out clears it.
//!
//! Needs Node.js (`node`, `npm`): with `CI=true` its absence is a failure; locally the test
//! says it skips. `npm ci` runs in tests/oidc when its node_modules is missing.

use crate::helpers::{Backend, TestApp, assert_problem};
use cpts::domain::Role;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CLIENT_ID: &str = "cpts-test";
const CLIENT_SECRET: &str = "a-test-client-secret-of-some-length";
/// A GP of Nancy, signing in with his RPPS.
const RPPS: &str = "10000000009";
/// A professional no grant names.
const STRANGER: &str = "10123456781";

mod round_trip {
    #[tokio::test]
    async fn sqlite() {
        super::round_trip(crate::helpers::Backend::Sqlite).await;
    }
    #[tokio::test]
    async fn postgres() {
        super::round_trip(crate::helpers::Backend::Postgres).await;
    }
}

/// The provider, stopped (by its PID) when dropped.
struct Provider {
    child: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn oidc_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// Whether Node.js can run the provider; installs its packages once (`npm ci`).
fn node_ready() -> bool {
    crate::helpers::node_packages(
        "oidc",
        "oidc-provider",
        "the OpenID provider of tests/api/oidc.rs",
    )
}

/// A free loopback port (taken back by the OS at once; the process that needs it binds it
/// right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_provider(redirect_uri: &str) -> Provider {
    let mut child = Command::new("node")
        .arg("provider.mjs")
        .current_dir(oidc_dir())
        .env("CLIENT_ID", CLIENT_ID)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .env("REDIRECT_URI", redirect_uri)
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(issuer) = line.strip_prefix("issuer ") {
                let _ = tx.send(issuer.to_owned());
            }
        }
    });
    let issuer = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the provider prints its issuer within 30 s");
    Provider { child, issuer }
}

/// The browser: follows redirects itself, keeps the provider's cookies, and ours apart.
struct Browser {
    client: reqwest::Client,
    /// The provider's cookies (`name=value`).
    provider_cookies: Vec<String>,
}

impl Browser {
    fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            provider_cookies: Vec::new(),
        }
    }

    fn keep_cookies(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all(SET_COOKIE) {
            let pair = v.to_str().unwrap().split(';').next().unwrap().to_owned();
            let name = pair.split('=').next().unwrap().to_owned();
            self.provider_cookies
                .retain(|c| c.split('=').next() != Some(name.as_str()));
            self.provider_cookies.push(pair);
        }
    }

    async fn provider_request(
        &mut self,
        method: Method,
        url: &str,
        form: Option<&[(&str, &str)]>,
    ) -> reqwest::Response {
        let mut req = self.client.request(method, url);
        if !self.provider_cookies.is_empty() {
            req = req.header(COOKIE, self.provider_cookies.join("; "));
        }
        if let Some(form) = form {
            req = req.form(form);
        }
        let r = req.send().await.unwrap();
        self.keep_cookies(&r);
        r
    }

    /// From our `/auth/login` answer to the callback URL the provider sends back to, logging
    /// in as `login` and consenting on the provider's forms.
    async fn sign_in_at_provider(&mut self, issuer: &str, start: &str, login: &str) -> String {
        let mut next = start.to_owned();
        for _ in 0..12 {
            if !next.starts_with(issuer) {
                return next;
            }
            let r = self.provider_request(Method::GET, &next, None).await;
            if let Some(location) = r.headers().get(LOCATION) {
                next = absolute(issuer, location.to_str().unwrap());
                continue;
            }
            assert_eq!(r.status(), StatusCode::OK, "the provider shows a form");
            let page = r.text().await.unwrap();
            let form: Vec<(&str, &str)> = if page.contains(r#"name="prompt" value="login""#) {
                vec![("prompt", "login"), ("login", login), ("password", "any")]
            } else {
                assert!(page.contains(r#"name="prompt" value="consent""#), "{page}");
                vec![("prompt", "consent")]
            };
            let r = self
                .provider_request(Method::POST, &next, Some(&form))
                .await;
            let location = r.headers().get(LOCATION).expect("the form redirects");
            next = absolute(issuer, location.to_str().unwrap());
        }
        panic!("the provider did not send the browser back within 12 steps");
    }
}

fn absolute(issuer: &str, location: &str) -> String {
    if location.starts_with("http") {
        location.to_owned()
    } else {
        format!("{issuer}{location}")
    }
}

/// `cpts_session=…` from a callback's answer.
fn session_cookie(r: &reqwest::Response) -> String {
    let set = r
        .headers()
        .get(SET_COOKIE)
        .expect("the callback sets the session cookie")
        .to_str()
        .unwrap()
        .to_owned();
    for part in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(part), "{set} lacks {part}");
    }
    assert!(!set.contains("Secure"), "plain HTTP here: {set}");
    set.split(';').next().unwrap().to_owned()
}

/// A request of the signed-in browser to our service.
async fn as_session(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", app.address))
        .header(COOKIE, cookie);
    if let Some(csrf) = csrf {
        req = req.header("X-CSRF-Token", csrf);
    }
    req
}

/// Our `/auth/login`, then the provider, up to the callback URL.
async fn login(app: &TestApp, browser: &mut Browser, issuer: &str, who: &str) -> String {
    let r = browser
        .client
        .get(format!("{}/auth/login?return_to=/garde/plans", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to_provider = r.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(to_provider.starts_with(issuer), "{to_provider}");
    for part in [
        "code_challenge_method=S256",
        "code_challenge=",
        "scope=openid+scope_all",
        "acr_values=eidas1",
        "nonce=",
        "state=",
    ] {
        assert!(to_provider.contains(part), "{to_provider} lacks {part}");
    }
    browser.sign_in_at_provider(issuer, &to_provider, who).await
}

async fn round_trip(backend: Backend) {
    if !node_ready() {
        return;
    }
    let port = free_port();
    let provider = start_provider(&format!("http://127.0.0.1:{port}/auth/callback"));
    let issuer = provider.issuer.clone();
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.bind = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        c.public_url = Some(format!("http://127.0.0.1:{port}"));
        c.oidc_issuer = Some(issuer.clone());
        c.oidc_client_id = Some(CLIENT_ID.to_owned());
        c.oidc_client_secret = Some(cpts::config::Secret::new(CLIENT_SECRET));
    })
    .await
    else {
        return;
    };
    let outcome = tokio::spawn(scenario(std::sync::Arc::new(app), provider.issuer.clone()));
    let result = outcome.await;
    drop(provider);
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn scenario(app: std::sync::Arc<TestApp>, issuer: String) {
    // The admin grants the GP two roles: coordinator of his CPTS first, médecin then.
    let admin = app.token(Role::Admin, None).await;
    let mut grants = Vec::new();
    for (role, scope) in [
        ("coordinateur", "cpts:grand_nancy"),
        ("medecin", "national"),
    ] {
        let r = app
            .request(Method::POST, "/grants", Some(&admin))
            .json(&json!({"identity": format!("rpps:{RPPS}"), "role": role, "scope": scope}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        grants.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // A médecin grant to another identity is refused, naming the field.
    let r = app
        .request(Method::POST, "/grants", Some(&admin))
        .json(&json!({"identity": "sub:alice", "role": "medecin", "scope": "national"}))
        .send()
        .await
        .unwrap();
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(p["errors"][0]["pointer"], "#/identity", "{p}");

    // The code flow with PKCE, up to the callback.
    let mut browser = Browser::new();
    let callback = login(&app, &mut browser, &issuer, RPPS).await;
    assert!(
        callback.starts_with(&format!("{}/auth/callback?", app.address)),
        "{callback}"
    );
    assert!(callback.contains("code="), "{callback}");
    let r = browser.client.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/garde/plans");
    let cookie = session_cookie(&r);
    // The callback is good once: replayed, its state is unknown.
    let r = browser.client.get(&callback).send().await.unwrap();
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(p["errors"][0]["parameter"], "state", "{p}");

    // Who is signed in: the RPPS from SubjectNameID, under the oldest of his grants (both were
    // made within the same second here: either).
    let me: Value = as_session(&app, Method::GET, "/auth/session", &cookie, None)
        .await
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["identity"], format!("rpps:{RPPS}"), "{me}");
    assert_eq!(me["grants"].as_array().unwrap().len(), 2, "{me}");
    assert!(
        grants.iter().any(|g| me["grant"]["grant_id"] == g.as_str()),
        "{me}"
    );
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();
    if me["grant"]["role"] != "coordinateur" {
        let r = as_session(
            &app,
            Method::POST,
            "/auth/session/grant",
            &cookie,
            Some(&csrf),
        )
        .await
        .json(&json!({"grant_id": grants[0]}))
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }

    // The session acts as the coordinator: reads, and writes with its CSRF token only.
    let r = as_session(&app, Method::GET, "/cabinets", &cookie, None)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cabinet = json!({"cabinet_id": "OIDC-1", "name": "Cabinet OIDC", "lat": 48.6921,
                         "lon": 6.1844, "insee": "54395", "need": 1});
    let r = as_session(&app, Method::POST, "/cabinets", &cookie, None)
        .await
        .json(&cabinet)
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::FORBIDDEN, "/problems/csrf").await;
    let r = as_session(
        &app,
        Method::POST,
        "/cabinets",
        &cookie,
        Some("0".repeat(64).as_str()),
    )
    .await
    .json(&cabinet)
    .send()
    .await
    .unwrap();
    assert_problem(r, StatusCode::FORBIDDEN, "/problems/csrf").await;
    let r = as_session(&app, Method::POST, "/cabinets", &cookie, Some(&csrf))
        .await
        .json(&cabinet)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // The audit names the grant the session acted under.
    let auditor = app.token(Role::Auditeur, None).await;
    let audit: Value = app
        .get(&format!("/audit?actor={}", grants[0]), Some(&auditor))
        .await
        .json()
        .await
        .unwrap();
    let text = audit.to_string();
    assert!(
        text.contains("OIDC-1"),
        "the cabinet's creation is audited under the grant: {text}"
    );

    // The same person acts as médecin once he chooses that grant (CSRF-protected too).
    let r = as_session(&app, Method::POST, "/auth/session/grant", &cookie, None)
        .await
        .json(&json!({"grant_id": grants[1]}))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::FORBIDDEN, "/problems/csrf").await;
    let r = as_session(
        &app,
        Method::POST,
        "/auth/session/grant",
        &cookie,
        Some(&csrf),
    )
    .await
    .json(&json!({"grant_id": grants[1]}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = as_session(&app, Method::GET, "/proposals", &cookie, None)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "a médecin reads his proposals");
    let r = as_session(&app, Method::GET, "/cabinets", &cookie, None)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a médecin lists no cabinets"
    );

    // Sign-out ends the session and clears the cookie.
    let r = as_session(&app, Method::POST, "/auth/logout", &cookie, Some(&csrf))
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(
        r.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let r = as_session(&app, Method::GET, "/auth/session", &cookie, None)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A revoked grant ends the sessions under it at once.
    let callback = login(&app, &mut browser, &issuer, RPPS).await;
    let r = browser.client.get(&callback).send().await.unwrap();
    let cookie = session_cookie(&r);
    let me: Value = as_session(&app, Method::GET, "/auth/session", &cookie, None)
        .await
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let acting = me["grant"]["grant_id"].as_str().unwrap().to_owned();
    let r = app
        .request(Method::DELETE, &format!("/grants/{acting}"), Some(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = as_session(&app, Method::GET, "/auth/session", &cookie, None)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A professional without a grant signs in at the provider, and is refused here.
    let mut other = Browser::new();
    let callback = login(&app, &mut other, &issuer, STRANGER).await;
    let r = other.client.get(&callback).send().await.unwrap();
    let p = assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
    assert!(
        p["detail"].as_str().unwrap().contains("no role is granted"),
        "{p}"
    );
    println!(
        "OIDC round trip: code flow with PKCE (S256) against oidc-provider, session cookie HttpOnly SameSite=Lax, CSRF refused without the token, grant switch, replayed callback refused, revoked grant → 401, no grant → 403, sign-out"
    );
}

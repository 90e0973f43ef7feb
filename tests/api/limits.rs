//! Limits (issue 8): body sizes (a CSV import streamed and cut at its limit), page sizes,
//! request timeouts and a graceful shutdown that drains open requests under a timeout.

use crate::helpers::{Backend, TestApp, assert_problem, both_backends, only_error};
use crate::imports::PATIENTS;
use cpts::config::Config;
use cpts::domain::Role;
use cpts::startup::Application;
use cpts::store::Store;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

both_backends!(pages_larger_than_the_maximum_are_refused);

/// `patients.csv` with `n` valid rows.
fn patients(n: usize) -> String {
    let mut out = String::from("patient_id,lat,lon,insee,age,ald,css,max_km\n");
    for i in 0..n {
        out.push_str(&format!("L{i:07},48.69,6.18,54395,40,0,0,\n"));
    }
    out
}

async fn pages_larger_than_the_maximum_are_refused(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    let regulateur = app.token(Role::Regulateur, None).await;
    let auditeur = app.token(Role::Auditeur, None).await;
    for (path, token, max) in [
        ("/batches/b/assignments?limit=1001", &cpam, 1000),
        ("/batches/b/unmatched?limit=1001", &cpam, 1000),
        (
            "/slots?insee=54395&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&limit=501",
            &regulateur,
            500,
        ),
        ("/audit?limit=1001", &auditeur, 1000),
    ] {
        let r = app.get(path, Some(token)).await;
        let body = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        let e = only_error(&body);
        assert_eq!(e["parameter"], "limit", "{path}: {body}");
        assert!(
            e["detail"].as_str().unwrap().contains(&max.to_string()),
            "{path}: {body}"
        );
    }
}

/// A SQLite app with a change to its configuration.
async fn sqlite_app(tweak: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, tweak).await.unwrap()
}

#[tokio::test]
async fn bodies_over_their_limit_are_413_and_imports_stream_up_to_theirs() {
    let app = sqlite_app(|c| {
        c.max_body_bytes = 1024;
        c.max_import_bytes = 64 * 1024;
    })
    .await;
    let cpam = app.token(Role::Cpam, None).await;
    // 1,500 rows (about 50 KiB) fit: read as a stream, stored.
    let fits = patients(1500);
    assert!(fits.len() < 64 * 1024);
    let r = app.import_csv(Some(&cpam), "patients", &fits).await;
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["inserted"], 1500);
    // 3,000 rows (about 100 KiB) do not: 413, nothing stored (the file is all or nothing).
    let r = app
        .import_csv(Some(&cpam), "patients", &patients(3000))
        .await;
    assert_problem(
        r,
        StatusCode::PAYLOAD_TOO_LARGE,
        "/problems/payload-too-large",
    )
    .await;
    let communes = ["54395".parse().unwrap()];
    assert_eq!(app.store.patients_in(&communes).await.unwrap().len(), 1500);
    // A JSON body over max_body_bytes.
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let r = app
        .post_cabinet(
            Some(&coordinateur),
            &json!({"cabinet_id": "C", "name": "x".repeat(2000), "lat": 48.6, "lon": 6.1,
                    "insee": "54395", "need": 1}),
        )
        .await;
    assert_problem(
        r,
        StatusCode::PAYLOAD_TOO_LARGE,
        "/problems/payload-too-large",
    )
    .await;
    // A small import still works with the default route limits.
    let r = app.import_csv(Some(&cpam), "patients", PATIENTS).await;
    assert_eq!(r.status(), StatusCode::OK);
    app.teardown().await;
}

/// Sends the head of a `POST /imports/patients` announcing `length` bytes and only the first
/// `sent` of them, and returns the open connection.
async fn slow_import(address: &str, token: &str, body: &str, sent: usize) -> TcpStream {
    let host = address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST /imports/patients HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: text/csv\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..sent]).await.unwrap();
    stream.flush().await.unwrap();
    stream
}

/// The status line and the body of the answer on `stream`, read to its end.
async fn answer(stream: &mut TcpStream) -> (String, String) {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.lines().next().unwrap_or("").to_owned();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

#[tokio::test]
async fn a_request_over_the_timeout_is_a_503_problem() {
    let app = sqlite_app(|c| {
        c.request_timeout_seconds = 1;
        c.import_timeout_seconds = 1;
    })
    .await;
    let cpam = app.token(Role::Cpam, None).await;
    let started = Instant::now();
    // Half a body, then nothing: the handler waits for the rest until the timeout.
    let body = patients(10);
    let mut stream = slow_import(&app.address, &cpam, &body, body.len() / 2).await;
    let (status, problem) = answer(&mut stream).await;
    assert!(status.contains(" 503 "), "{status}");
    assert!(problem.contains("/problems/timeout"), "{problem}");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(20),
        "{elapsed:?}"
    );
    // Nothing was stored, and the service still answers.
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    let communes = ["54395".parse().unwrap()];
    assert!(app.store.patients_in(&communes).await.unwrap().is_empty());
    app.teardown().await;
}

/// An application on a fresh SQLite file, run until `stop` fires; returns its address, a
/// CPAM token, the stop sender and the server task.
async fn standalone(
    dir: &tempfile::TempDir,
    grace: u64,
) -> (
    String,
    String,
    Store,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cpts.db").display());
    let mut config = Config::for_database(&url);
    config.shutdown_grace_seconds = grace;
    let app = Application::build(&config).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let store = Store::connect(&url).await.unwrap();
    let key = cpts::tokens::TokenKey::new(config.token_key_bytes());
    let token = cpts::tokens::create(
        &store,
        &key,
        Role::Cpam,
        None,
        "dep:54".parse().unwrap(),
        "t",
    )
    .await
    .unwrap()
    .token;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    (address, token, store, stop, server)
}

#[tokio::test]
async fn stopping_drains_open_requests_then_refuses_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (address, token, store, stop, server) = standalone(&dir, 30).await;
    let body = patients(200);
    let half = body.len() / 2;
    let mut open = slow_import(&address, &token, &body, half).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Stopped: no new connection is served…
    let refused = reqwest::Client::new()
        .get(format!("{address}/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(refused.is_err(), "a new request was served: {refused:?}");
    // …but the open request finishes and is stored.
    open.write_all(&body.as_bytes()[half..]).await.unwrap();
    let (status, answer_body) = answer(&mut open).await;
    assert!(status.contains(" 200 "), "{status} {answer_body}");
    assert!(answer_body.contains("\"inserted\":200"), "{answer_body}");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops once drained")
        .unwrap()
        .unwrap();
    let communes = ["54395".parse().unwrap()];
    assert_eq!(store.patients_in(&communes).await.unwrap().len(), 200);
}

#[tokio::test]
async fn a_request_still_open_after_the_grace_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (address, token, store, stop, server) = standalone(&dir, 1).await;
    let body = patients(50);
    let mut open = slow_import(&address, &token, &body, 10).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(15), server)
        .await
        .expect("the server stops after its grace")
        .unwrap()
        .unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    // The request never completed: nothing stored.
    let _ = open.write_all(&body.as_bytes()[10..]).await;
    let communes = ["54395".parse().unwrap()];
    assert!(store.patients_in(&communes).await.unwrap().is_empty());
}

#[test]
fn cpts_serve_stops_on_sigterm() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cpts.db").display());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cpts"))
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("CPTS_BIND", "127.0.0.1:0")
        .env_remove("REDIS_URL")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let listening = lines.next().unwrap().unwrap();
    assert!(
        listening.starts_with("cpts serve: listening on"),
        "{listening}"
    );
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}: {rest:?}");
    assert_eq!(rest.last().map(String::as_str), Some("cpts serve: stopped"));
}

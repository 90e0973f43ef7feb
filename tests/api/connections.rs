//! Bounded resources (issue 15): the accept loop's header read timeout, idle timeout and
//! per-peer connection cap, the cap on event streams, and the headers every answer carries.
//! Each test here failed on the service as `axum::serve` ran it: nothing was ever closed.

use crate::helpers::{Backend, TestApp, assert_problem};
use cpts::config::Config;
use cpts::domain::Role;
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

async fn sqlite_app(tweak: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, tweak).await.unwrap()
}

fn host(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (or resets it); the bytes read. Panics if it
/// stays open for `limit`.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0_u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the connection is still open after {limit:?}"),
        }
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = sqlite_app(|c| c.header_read_timeout_seconds = 1).await;
    let mut stream = TcpStream::connect(host(&app)).await.unwrap();
    let started = Instant::now();
    // Slow-loris: a request head that never ends.
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1")
        .await
        .unwrap();
    until_closed(&mut stream, Duration::from_secs(10)).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "{took:?}");
    // A client that sends nothing at all is closed the same way.
    let mut silent = TcpStream::connect(host(&app)).await.unwrap();
    until_closed(&mut silent, Duration::from_secs(10)).await;
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    app.teardown().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = sqlite_app(|c| {
        c.request_timeout_seconds = 1;
        c.idle_timeout_seconds = 2;
        c.header_read_timeout_seconds = 30;
    })
    .await;
    let mut stream = TcpStream::connect(host(&app)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0_u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Kept alive, then nothing: closed after 6 s of quiet (the idle timeout is never below the
    // request timeout plus 5 s; the header timeout is 30 s).
    let started = Instant::now();
    until_closed(&mut stream, Duration::from_secs(15)).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(5500), "{took:?}");
    app.teardown().await;
}

#[tokio::test]
async fn one_peer_cannot_take_every_connection() {
    let app = sqlite_app(|c| c.max_connections_per_ip = 4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(host(&app)).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The fifth from 127.0.0.1 is closed at once, without an answer.
    let mut fifth = TcpStream::connect(host(&app)).await.unwrap();
    let _ = fifth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let answer = until_closed(&mut fifth, Duration::from_secs(5)).await;
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    // Another peer (127.0.0.2, also loopback) is served.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = socket.connect(host(&app).parse().unwrap()).await.unwrap();
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut other, Duration::from_secs(5)).await;
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // Places come back when the held connections go.
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    app.teardown().await;
}

#[tokio::test]
async fn event_streams_are_capped_per_token_with_retry_after() {
    let app = sqlite_app(|c| c.max_event_streams_per_token = 2).await;
    if !app.has_redis() {
        app.teardown().await;
        return;
    }
    let token = app.token(Role::Regulateur, None).await;
    let other = app.token(Role::Regulateur, None).await;
    let area = "insee=54395";
    let first = app.slot_events(Some(&token), area, None).await;
    let second = app.slot_events(Some(&token), area, None).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK);
    let third = app.slot_events(Some(&token), area, None).await;
    assert_eq!(third.headers()["retry-after"], "30");
    assert_problem(
        third,
        StatusCode::TOO_MANY_REQUESTS,
        "/problems/too-many-streams",
    )
    .await;
    // Another token is not affected.
    let theirs = app.slot_events(Some(&other), area, None).await;
    assert_eq!(theirs.status(), StatusCode::OK);
    // A stream that ends gives its place back.
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        let r = app.slot_events(Some(&token), area, None).await;
        if r.status() == StatusCode::OK {
            again = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        again.is_some(),
        "the place of a closed stream did not come back"
    );
    drop((second, theirs, again));
    app.teardown().await;
}

#[tokio::test]
async fn compressed_bodies_are_refused_and_answers_carry_a_policy() {
    let app = sqlite_app(|_| {}).await;
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let r = app
        .request(reqwest::Method::POST, "/cabinets", Some(&coordinateur))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0])
        .send()
        .await
        .unwrap();
    assert_problem(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "/problems/unsupported-media-type",
    )
    .await;
    assert!(app.store.cabinets(None).await.unwrap().is_empty());
    let r = app.get("/healthz", None).await;
    assert_eq!(
        r.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    // The docs page loads nothing from another host, under its own policy.
    let r = app.get("/docs", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let policy = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    let page = r.text().await.unwrap();
    assert!(page.contains("/slots/{slot_id}/booking") || page.contains("/slots"));
    assert!(!page.contains("<script"), "no script on /docs");
    assert!(!page.contains("https://"), "nothing from another host");
    app.teardown().await;
}

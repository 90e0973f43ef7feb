//! Strict input (issue 15): every probe below got a 5xx, or was stored, on the landed service.
//! Each is now a 422 (or 409) naming the field, and nothing is stored.

use crate::helpers::{TestApp, assert_problem, both_backends, only_error};
use cpts::domain::{MatchingDoctor, Role, Rpps};
use cpts::geo::Coordinates;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

both_backends!(
    cabinet_names_and_communes_are_checked,
    ids_and_query_parameters_refuse_control_characters,
    availability_windows_are_bounded_distinct_and_readable,
    capacities_and_distances_are_bounded,
    duplicate_json_keys_are_refused,
    a_batch_on_an_unknown_commune_is_refused,
);

fn gp() -> Rpps {
    "10000000009".parse().unwrap()
}

async fn seed_gp(app: &TestApp) -> String {
    app.seed_doctors(&[MatchingDoctor {
        rpps: gp(),
        name: "Dr Test".to_owned(),
        coords: Coordinates::new(48.6921, 6.1844).unwrap(),
        insee: "54395".parse().unwrap(),
        capacity: 5,
        max_km: None,
    }])
    .await;
    app.medecin(&gp()).await
}

fn cabinet(name: &str, lat: f64, lon: f64, insee: &str) -> Value {
    json!({"cabinet_id": "C1", "name": name, "lat": lat, "lon": lon, "insee": insee, "need": 1})
}

async fn cabinet_names_and_communes_are_checked(app: Arc<TestApp>) {
    let token = app.token(Role::Coordinateur, None).await;
    for (body, pointer) in [
        (cabinet("Cabinet\u{0}", 48.69, 6.18, "54395"), "#/name"),
        (cabinet("abc\u{202E}def", 48.69, 6.18, "54395"), "#/name"),
        (cabinet(&"é".repeat(201), 48.69, 6.18, "54395"), "#/name"),
        (cabinet("  ", 48.69, 6.18, "54395"), "#/name"),
        // 54999 looks like an INSEE code but names no commune.
        (cabinet("Cabinet", 48.69, 6.18, "54999"), "#/insee"),
        // Nancy's code on coordinates in Marseille.
        (cabinet("Cabinet", 43.2965, 5.3698, "54395"), "#/insee"),
    ] {
        let r = app.post_cabinet(Some(&token), &body).await;
        let p = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(only_error(&p)["pointer"], pointer, "{body}: {p}");
    }
    assert!(app.store.cabinets(None).await.unwrap().is_empty());
    let r = app
        .post_cabinet(
            Some(&token),
            &cabinet("Maison de santé « Les Tilleuls »", 48.69, 6.18, "54395"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

async fn ids_and_query_parameters_refuse_control_characters(app: Arc<TestApp>) {
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let auditeur = app.token(Role::Auditeur, None).await;
    let cpam = app.token(Role::Cpam, None).await;
    for (path, token, parameter) in [
        ("/cabinets/C%00", &coordinateur, "path"),
        ("/jobs/j%00b", &cpam, "path"),
        ("/batches/b%01/assignments", &cpam, "path"),
        ("/audit?actor=a%00b", &auditeur, "actor"),
    ] {
        let r = app.get(path, Some(token)).await;
        let p = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(only_error(&p)["parameter"], parameter, "{path}: {p}");
    }
    // `.` and `..` are not ids (sent raw: an HTTP client would resolve them away).
    for id in [".", ".."] {
        let status = raw_status(&app, &format!("GET /cabinets/{id}"), &coordinateur).await;
        assert!(status.contains(" 422 "), "{id}: {status}");
    }
}

/// The status line of `request_line` sent as is, with `token`.
async fn raw_status(app: &TestApp, request_line: &str, token: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!(
        "{request_line} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

async fn availability_windows_are_bounded_distinct_and_readable(app: Arc<TestApp>) {
    let token = seed_gp(&app).await;
    let me = gp();
    for (start, end, pointer) in [
        ("1999-12-31T18:00:00", "2000-01-01T20:00:00", "#/start"),
        ("2099-12-31T18:00:00", "2100-01-01T20:00:00", "#/end"),
        ("2026-01-01T18:00:00", "2027-01-03T18:00:00", "#/end"),
    ] {
        let r = app
            .post_window(
                Some(&token),
                me.as_str(),
                &json!({"start": start, "end": end}),
            )
            .await;
        let p = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(only_error(&p)["pointer"], pointer, "{start}–{end}: {p}");
    }
    let w = json!({"start": "2026-03-09T17:30:00", "end": "2026-03-09T20:30:00"});
    let r = app.post_window(Some(&token), me.as_str(), &w).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = r.json().await.unwrap();
    // The Location answers GET.
    let r = app.get(&location, Some(&token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let read: Value = r.json().await.unwrap();
    assert_eq!(read, created);
    // The same window again: 409, one window stands.
    let r = app.post_window(Some(&token), me.as_str(), &w).await;
    assert_problem(r, StatusCode::CONFLICT, "/problems/conflict").await;
    let list: Vec<Value> = app
        .list_windows(Some(&token), me.as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    // Ids are not sequential: a second window's id is not the first's plus one.
    let r = app
        .post_window(
            Some(&token),
            me.as_str(),
            &json!({"start": "2026-03-10T17:30:00", "end": "2026-03-10T20:30:00"}),
        )
        .await;
    let second: Value = r.json().await.unwrap();
    let (a, b) = (
        created["id"].as_i64().unwrap(),
        second["id"].as_i64().unwrap(),
    );
    assert_ne!(b, a + 1, "ids {a} then {b}");
    assert!(a > 0 && b > 0 && a < (1 << 53) && b < (1 << 53));
}

async fn capacities_and_distances_are_bounded(app: Arc<TestApp>) {
    let token = seed_gp(&app).await;
    let me = gp();
    for (body, pointer) in [
        (json!({"capacity": 10_001}), "#/capacity"),
        (json!({"capacity": 10, "max_km": 200.5}), "#/max_km"),
    ] {
        let r = app.put_capacity(Some(&token), me.as_str(), &body).await;
        let p = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(only_error(&p)["pointer"], pointer, "{body}: {p}");
    }
    let r = app
        .put_garde_limits(
            Some(&token),
            me.as_str(),
            &json!({"max_shifts": 3, "max_km": 500}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .put_capacity(
            Some(&token),
            me.as_str(),
            &json!({"capacity": 10_000, "max_km": 200}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

async fn duplicate_json_keys_are_refused(app: Arc<TestApp>) {
    let token = seed_gp(&app).await;
    let r = app
        .request(
            Method::PUT,
            &format!("/doctors/{}/capacity", gp()),
            Some(&token),
        )
        .header("content-type", "application/json")
        .body(r#"{"capacity": 5, "capacity": 9000}"#)
        .send()
        .await
        .unwrap();
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(only_error(&p)["pointer"], "#/capacity", "{p}");
    let stored = app.store.doctor(&gp()).await.unwrap().unwrap();
    assert_eq!(stored.doctor.capacity, 5);
}

async fn a_batch_on_an_unknown_commune_is_refused(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    let r = app
        .request(Method::POST, "/batches", Some(&cpam))
        .json(&json!({"territory": {"insee": ["54395", "54999"]}}))
        .send()
        .await
        .unwrap();
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(only_error(&p)["pointer"], "#/territory/insee/1", "{p}");
    let r = app
        .request(Method::POST, "/batches", Some(&cpam))
        .json(&json!({"territory": {"insee": ["54395"]}, "default_max_km": 250}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

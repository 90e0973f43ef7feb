//! The web app in a real browser (issue 20): tests/browser/journeys.mjs drives Debian's
//! chromium (playwright-core) through one journey per role, against this service seeded with
//! the nancy fixture, a batch's doctor and a computed garde plan. It checks each page with
//! axe-core, reads each page's Navigation Timing, and writes one screenshot per role under
//! `target/browser/`. Its report (timings, axe results) is printed.
//!
//! Needs Node.js and chromium (`CHROMIUM`, else `/usr/bin/chromium`): with `CI=true` their
//! absence is a failure; locally the test says it skips. `npm ci` runs in tests/browser when its
//! node_modules is missing.

use crate::helpers::{Backend, TestApp, is_ci, run};
use crate::scenario::fixture;
use chrono::Datelike;
use cpts::domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

#[tokio::test]
async fn every_role_does_its_job_in_a_real_browser() {
    run(Backend::Sqlite, journeys).await;
}

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// The browser and Node.js, if both are here; installs the script's packages once.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !path.exists() || !node {
        assert!(
            !is_ci(),
            "CI=true but the browser tests cannot run: chromium at {} exists: {}, node runs: {node}",
            path.display(),
            path.exists()
        );
        eprintln!("skipping the browser journeys: chromium or Node.js is not installed");
        return None;
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(browser_dir())
            .status()
            .expect("npm runs");
        assert!(status.success(), "npm ci in tests/browser failed");
    }
    Some(path)
}

async fn post(app: &TestApp, token: &str, path: &str, body: &Value) -> Value {
    let r = app
        .request(Method::POST, path, Some(token))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn journeys(app: Arc<TestApp>) {
    let Some(chromium) = chromium() else { return };
    // The matching side: the nancy fixture, and a first batch over the Grand Nancy CPTS, as the
    // CPAM journey will launch it again: its first assignment names the GP who will be
    // proposed patients.
    let cpam = app.token(Role::Cpam, None).await;
    for kind in ["patients", "doctors"] {
        let r = app
            .import_csv(Some(&cpam), kind, &fixture(&format!("{kind}.csv")))
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{kind}");
    }
    let cpts: Value = app
        .get("/territories/grand_nancy", Some(&cpam))
        .await
        .json()
        .await
        .unwrap();
    let job = app
        .run_batch(&cpam, &json!({"territory": {"insee": cpts["communes"]}}))
        .await;
    let id = job["id"].as_str().unwrap();
    let first: Value = app
        .get(&format!("/batches/{id}/assignments?limit=1"), Some(&cpam))
        .await
        .json()
        .await
        .unwrap();
    let doctor = first["items"][0]["rpps"].as_str().unwrap().to_owned();

    // The garde side: ten GPs available for two weeks from the Monday at least a week away,
    // two shifts each at most; three cabinets of Nancy need more than that, so some positions
    // stay empty and the calendar shows why.
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let today = chrono::Utc::now().date_naive();
    let start = (1..=14)
        .map(|d| today + chrono::Days::new(d + 6))
        .find(|d| d.weekday() == chrono::Weekday::Mon)
        .unwrap();
    let end = start + chrono::Days::new(12);
    let doctors = fixture("doctors.csv");
    for line in doctors.lines().skip(1).take(10) {
        let rpps = line.split(',').next().unwrap();
        let medecin = app.medecin(&rpps.parse().unwrap()).await;
        let r = app
            .request(
                Method::PUT,
                &format!("/doctors/{rpps}/garde"),
                Some(&medecin),
            )
            .json(&json!({"max_shifts": 2, "max_km": 15}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        post(
            &app,
            &medecin,
            &format!("/doctors/{rpps}/availability"),
            &json!({"start": format!("{start}T08:00:00"),
                    "end": format!("{}T00:00:00", end + chrono::Days::new(1))}),
        )
        .await;
    }
    for (id, name, lat, lon, insee) in [
        (
            "NANCY-CENTRE",
            "Maison médicale de garde de Nancy",
            48.6921,
            6.1844,
            "54395",
        ),
        (
            "VANDOEUVRE",
            "Cabinet de garde de Vandœuvre",
            48.6566,
            6.1700,
            "54547",
        ),
        (
            "LAXOU",
            "Cabinet de garde de Laxou",
            48.6840,
            6.1490,
            "54304",
        ),
    ] {
        post(
            &app,
            &coordinateur,
            "/cabinets",
            &json!({"cabinet_id": id, "name": name, "lat": lat, "lon": lon, "insee": insee,
                    "need": 1, "phone": "03 83 00 00 00",
                    "address": {"line": "1 rue de la Garde", "city": "Nancy", "postcode": "54000"}}),
        )
        .await;
    }
    let plan = app
        .run_plan(
            &coordinateur,
            &json!({"period": {"start": start.to_string(), "end": end.to_string()}}),
        )
        .await;

    let mut tokens = serde_json::Map::new();
    tokens.insert("cpam".into(), cpam.into());
    tokens.insert("coordinateur".into(), coordinateur.into());
    tokens.insert(
        "medecin".into(),
        app.medecin(&doctor.parse().unwrap()).await.into(),
    );
    for (name, role) in [
        ("regulateur", Role::Regulateur),
        ("regulateur2", Role::Regulateur),
        ("auditeur", Role::Auditeur),
        ("admin", Role::Admin),
    ] {
        tokens.insert(name.into(), app.token(role, None).await.into());
    }
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    let address = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("journeys.mjs")
            .current_dir(browser_dir())
            .env("BASE_URL", address)
            .env("TOKENS", Value::Object(tokens).to_string())
            .env("PLAN", plan)
            .env("DOCTOR", doctor)
            .env("OUT", &out)
            .env("CHROMIUM", chromium)
            .output()
            .expect("node starts")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the browser journeys failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).expect("the journeys print their report");
    assert_eq!(
        report["journeys"].as_array().map(Vec::len),
        Some(6),
        "{report}"
    );
}

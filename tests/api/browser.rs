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
use std::process::Command;
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
    if !path.exists() {
        assert!(
            !is_ci(),
            "CI=true but the browser tests cannot run: no chromium at {}",
            path.display()
        );
        eprintln!("skipping the browser journeys: chromium is not installed");
        return None;
    }
    crate::helpers::node_packages("browser", "playwright-core", "the browser journeys")
        .then_some(path)
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
    let report = run_journeys(
        &app,
        chromium,
        tokens,
        vec![("PLAN", plan), ("DOCTOR", doctor)],
    )
    .await;
    assert_eq!(
        report["journeys"].as_array().map(Vec::len),
        Some(6),
        "{report}"
    );
}

/// Runs tests/browser/journeys.mjs against `app` with these tokens and variables; its report.
async fn run_journeys(
    app: &TestApp,
    chromium: PathBuf,
    tokens: serde_json::Map<String, Value>,
    vars: Vec<(&'static str, String)>,
) -> Value {
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    let address = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("journeys.mjs")
            .current_dir(browser_dir())
            .env("BASE_URL", address)
            .env("TOKENS", Value::Object(tokens).to_string())
            .envs(vars)
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
    serde_json::from_str(&stdout).expect("the journeys print their report")
}

/// Issue 20's scale check, opt-in (a few minutes, a few GB):
/// `cargo test --test api -- --ignored browser::a_million --nocapture`. The Grand Est instance
/// of `cpts fixtures --area grand-est --patients 1000000 --doctors 12500` is imported through
/// the API and matched in one batch over its 5,106 communes; the batch page then draws one
/// circle per commune, never one marker per patient, and its first render is timed.
#[tokio::test]
#[ignore = "minutes: a batch of 1,000,000 patients"]
async fn a_million_patient_batch_maps_by_commune() {
    run(Backend::Sqlite, million).await;
}

async fn million(app: Arc<TestApp>) {
    let Some(chromium) = chromium() else { return };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let spec = cpts::fixtures::area::Spec {
        area: cpts::fixtures::Area::GrandEst,
        patients: 1_000_000,
        doctors: 12_500,
        capacity_pct: 50,
        accepting_pct: 40,
        seed: 54395,
    };
    cpts::fixtures::area::write(&root.join("fixtures/data"), dir.path(), &spec).unwrap();
    let cpam = app.token(Role::Cpam, None).await;
    let began = std::time::Instant::now();
    let mut communes = std::collections::BTreeSet::new();
    for kind in ["patients", "doctors"] {
        let csv = std::fs::read_to_string(dir.path().join(format!("{kind}.csv"))).unwrap();
        if kind == "patients" {
            for line in csv.lines().skip(1) {
                communes.insert(line.split(',').nth(3).unwrap().to_owned());
            }
        }
        // The tests' client gives up after 30 s; an import of a million rows takes longer.
        let r = reqwest::Client::new()
            .post(format!("{}/imports/{kind}", app.address))
            .bearer_auth(&cpam)
            .header("content-type", "text/csv")
            .timeout(std::time::Duration::from_secs(1800))
            .body(csv)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{kind}");
    }
    let imported = began.elapsed();
    let communes: Vec<String> = communes.into_iter().collect();
    let job = app
        .run_batch(&cpam, &json!({"territory": {"insee": communes}}))
        .await;
    let batch = job["id"].as_str().unwrap().to_owned();
    println!(
        "1,000,000 patients and 12,500 doctors imported in {:.1} s; batch {batch} over {} communes done {:.1} s later",
        imported.as_secs_f64(),
        communes.len(),
        (began.elapsed() - imported).as_secs_f64()
    );
    // The aggregate the page draws: its size and how long the API takes to answer it.
    let asked = std::time::Instant::now();
    let map: Value = app
        .get(&format!("/batches/{batch}/map"), Some(&cpam))
        .await
        .json()
        .await
        .unwrap();
    println!(
        "GET /batches/{batch}/map: {} communes, {} doctors, {} bytes of JSON, in {} ms",
        map["communes"].as_array().unwrap().len(),
        map["doctors"].as_array().unwrap().len(),
        map.to_string().len(),
        asked.elapsed().as_millis()
    );
    let mut tokens = serde_json::Map::new();
    tokens.insert("cpam".into(), cpam.into());
    let report = run_journeys(&app, chromium, tokens, vec![("SCALE_BATCH", batch)]).await;
    let shown = report["scale"]["communes_on_map"].as_u64().unwrap();
    let markers = report["scale"]["markers_on_map"].as_u64().unwrap();
    // One circle per commune and a square per doctor with places left, never one marker per
    // patient.
    assert!(shown > 4000 && shown as usize <= communes.len(), "{report}");
    assert!(markers >= shown && markers <= shown + 12_500, "{report}");
}

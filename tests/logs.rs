//! Nothing personal in the logs (issue 8). The real `cpts serve` binary runs with
//! `RUST_LOG=debug` (every crate: ours, sqlx, tower-http, hyper…) on SQLite, its whole stderr
//! captured, while the full scenario goes through its HTTP API: import the nancy fixture
//! (13,000 patients, 250 doctors), a matching batch over the Métropole du Grand Nancy, garde
//! limits and availability of ten GPs, two cabinets, a garde plan and its publication, a slot
//! search and a booking (plus a refused second booking, a refused import and an audit read).
//!
//! Then it checks that no line of the log contains:
//!
//! 1. any `patient_id` of the imported `patients.csv` (13,000 ids, as whole words), nor the
//!    pseudonymous `patient_ref` sent with the bookings;
//! 2. any patient coordinate as written in the CSV (`lat` and `lon` cells, 6 decimals, as
//!    whole words);
//! 3. a patient age: a field named `age` followed by a number (`age=63`, `"age":63`,
//!    `age: 63`); bare small numbers are everywhere in logs (durations, counts), so only the
//!    named field is meaningful;
//! 4. a NIR-shaped string: a run of 13 or 15 digits (with 2A/2B allowed at the 7th place,
//!    `cpts::domain::ids::is_nir_shaped`);
//! 5. any bearer token used in the scenario, whole or its secret part, nor its stored keyed
//!    hash (HMAC hex), nor the server's token key.
//!
//! It also checks the log is not empty of what it should hold (debug lines of `cpts` and
//! `sqlx`, request lines), so a silent logger cannot pass.
#![allow(clippy::unwrap_used)]

#[path = "common/server.rs"]
mod server;

use cpts::tokens::TokenKey;
use serde_json::{Value, json};
use server::Process;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const KEY: &str = "log-test-token-key-0123456789abcdef0123456789";

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/nancy")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

fn cli_token(url: &str, role: &str, rpps: Option<&str>) -> String {
    server::token(url, role, rpps, &[("CPTS_TOKEN_KEY", KEY)])
}

/// `cpts serve` at debug level for every crate, its whole stderr captured.
fn serve(url: &str) -> Process {
    Process::serve(
        url,
        &[
            ("CPTS_TOKEN_KEY", KEY),
            ("RUST_LOG", "debug"),
            ("NO_COLOR", "1"),
        ],
    )
}

struct Api {
    client: reqwest::Client,
    address: String,
}

impl Api {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(token)
    }

    async fn ok(&self, r: reqwest::RequestBuilder, expected: u16) -> (Value, Option<String>) {
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, expected, "{body}");
        (body, location)
    }

    async fn wait_job(&self, location: &str, token: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let (job, _) = self
                .ok(self.send(reqwest::Method::GET, location, token).await, 200)
                .await;
            match job["status"].as_str() {
                Some("succeeded") => return job,
                Some("failed") => panic!("{job}"),
                _ => {}
            }
            assert!(Instant::now() < deadline, "job still running: {job}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn run_scenario(api: &Api, url: &str, tokens: &mut Vec<String>) {
    use chrono::Datelike;
    use reqwest::Method;
    let cpam = cli_token(url, "cpam", None);
    tokens.push(cpam.clone());
    for file in ["patients", "doctors"] {
        let r = api
            .send(Method::POST, &format!("/imports/{file}"), &cpam)
            .await
            .header("content-type", "text/csv")
            .body(fixture(&format!("{file}.csv")));
        api.ok(r, 200).await;
    }
    // A refused file: its errors are answered, and must not be logged with their values.
    let bad = "patient_id,lat,lon,insee,age,ald,css\n1850575123456,48.1,6.1,54395,200,0,0\n";
    let r = api
        .send(Method::POST, "/imports/patients", &cpam)
        .await
        .header("content-type", "text/csv")
        .body(bad);
    api.ok(r, 422).await;

    let r = api
        .send(Method::POST, "/batches", &cpam)
        .await
        .json(&json!({"territory": {"epci": "245400676"}}));
    let (_, location) = api.ok(r, 202).await;
    let job = api.wait_job(&location.unwrap(), &cpam).await;
    let id = job["id"].as_str().unwrap();
    for part in ["assignments", "unmatched"] {
        let r = api
            .send(
                Method::GET,
                &format!("/batches/{id}/{part}?limit=50"),
                &cpam,
            )
            .await;
        api.ok(r, 200).await;
    }

    let today = chrono::Utc::now().date_naive();
    let start = (1..=14)
        .map(|d| today + chrono::Days::new(d + 6))
        .find(|d| d.weekday() == chrono::Weekday::Mon)
        .unwrap();
    let end = start + chrono::Days::new(12);
    let doctors = fixture("doctors.csv");
    for rpps in doctors
        .lines()
        .skip(1)
        .take(10)
        .map(|l| l.split(',').next().unwrap())
    {
        let medecin = cli_token(url, "medecin", Some(rpps));
        tokens.push(medecin.clone());
        let r = api
            .send(Method::PUT, &format!("/doctors/{rpps}/garde"), &medecin)
            .await
            .json(&json!({"max_shifts": 4, "max_km": 15}));
        api.ok(r, 200).await;
        let r = api
            .send(
                Method::POST,
                &format!("/doctors/{rpps}/availability"),
                &medecin,
            )
            .await
            .json(&json!({
                "start": format!("{start}T08:00:00"),
                "end": format!("{}T00:00:00", end + chrono::Days::new(1)),
            }));
        api.ok(r, 201).await;
    }

    let coordinateur = cli_token(url, "coordinateur", None);
    tokens.push(coordinateur.clone());
    for (id, lat, lon, insee) in [
        ("NANCY-CENTRE", 48.6921, 6.1844, "54395"),
        ("VANDOEUVRE", 48.6566, 6.1700, "54547"),
    ] {
        let r = api
            .send(Method::POST, "/cabinets", &coordinateur)
            .await
            .json(
                &json!({"cabinet_id": id, "name": id, "lat": lat, "lon": lon, "insee": insee,
                    "need": 1}),
            );
        api.ok(r, 201).await;
    }
    let r = api
        .send(Method::POST, "/garde/plans", &coordinateur)
        .await
        .json(&json!({"period": {"start": start.to_string(), "end": end.to_string()}}));
    let (_, location) = api.ok(r, 202).await;
    let plan = api.wait_job(&location.unwrap(), &coordinateur).await;
    let plan = plan["id"].as_str().unwrap();
    let r = api
        .send(
            Method::POST,
            &format!("/garde/plans/{plan}/publish"),
            &coordinateur,
        )
        .await;
    api.ok(r, 200).await;

    let regulateur = cli_token(url, "regulateur", None);
    tokens.push(regulateur.clone());
    // A search around a patient's own coordinates: they are in the URI, never in the log.
    let patients = fixture("patients.csv");
    let first = patients.lines().nth(1).unwrap();
    let cells: Vec<&str> = first.split(',').collect();
    let from = format!("{start}T00:00:00Z");
    let to = format!("{}T00:00:00Z", start + chrono::Days::new(7));
    let r = api
        .send(
            Method::GET,
            &format!(
                "/slots?lat={}&lon={}&radius_km=20&from={from}&to={to}",
                cells[1], cells[2]
            ),
            &regulateur,
        )
        .await;
    let (found, _) = api.ok(r, 200).await;
    let slot = found["items"][0]["slot_id"].as_i64().unwrap();
    let r = api
        .send(
            Method::POST,
            &format!("/slots/{slot}/bookings"),
            &regulateur,
        )
        .await
        .json(&json!({"patient_ref": cells[0]}));
    api.ok(r, 201).await;
    let r = api
        .send(
            Method::POST,
            &format!("/slots/{slot}/bookings"),
            &regulateur,
        )
        .await
        .json(&json!({"patient_ref": "PSEUDO-LOGTEST-2"}));
    api.ok(r, 409).await;

    let auditeur = cli_token(url, "auditeur", None);
    tokens.push(auditeur.clone());
    let r = api.send(Method::GET, "/audit?limit=1000", &auditeur).await;
    api.ok(r, 200).await;
}

/// The words of a line: maximal runs of `[A-Za-z0-9._-]`.
fn words(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .filter(|w| !w.is_empty())
}

/// Runs of digits (and A/B, for 2A/2B) shaped like a NIR.
fn nir_shaped(line: &str) -> Option<&str> {
    line.split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| cpts::domain::ids::is_nir_shaped(w))
}

/// A field named `age` with a number: `age=63`, `age: 63`, `"age":63`.
fn age_field(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.match_indices("age").any(|(i, _)| {
        let before_ok = lower[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_');
        let rest = lower[i + 3..].trim_start_matches(['"', '\'', ' ', '=', ':']);
        before_ok
            && lower[i + 3..].starts_with(['"', '\'', ' ', '=', ':'])
            && rest.starts_with(|c: char| c.is_ascii_digit())
    })
}

#[tokio::test]
async fn the_full_scenario_at_debug_level_logs_nothing_personal() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cpts.db").display());
    let mut tokens = Vec::new();
    let mut server = serve(&url);
    let api = Api {
        client: reqwest::Client::new(),
        address: server.address.clone(),
    };
    run_scenario(&api, &url, &mut tokens).await;
    server.kill();
    let log: Vec<String> = server
        .log()
        .into_iter()
        .map(|l| l.replace('\u{1b}', " "))
        .collect();

    // The forbidden sets, from the fixture itself.
    let patients = fixture("patients.csv");
    let mut ids = HashSet::new();
    let mut coordinates = HashSet::new();
    for line in patients.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        ids.insert(cells[0].to_owned());
        coordinates.insert(cells[1].to_owned());
        coordinates.insert(cells[2].to_owned());
    }
    ids.insert("PSEUDO-LOGTEST-2".to_owned());
    let key = TokenKey::new(KEY.as_bytes().to_vec());
    let mut secrets: Vec<String> = vec![KEY.to_owned()];
    for t in &tokens {
        secrets.push(t.clone());
        secrets.push(t.rsplit_once('_').unwrap().1.to_owned());
        secrets.push(key.hash(t));
    }
    assert_eq!(tokens.len(), 14);

    let mut leaks = Vec::new();
    for (n, line) in log.iter().enumerate() {
        let mut why = Vec::new();
        if let Some(w) = words(line).find(|w| ids.contains(w.trim_matches('.'))) {
            why.push(format!("patient id {w}"));
        }
        if let Some(w) = words(line).find(|w| coordinates.contains(w.trim_matches('.'))) {
            why.push(format!("patient coordinate {w}"));
        }
        if age_field(line) {
            why.push("an age field".to_owned());
        }
        if let Some(w) = nir_shaped(line) {
            why.push(format!("NIR-shaped {w}"));
        }
        if secrets.iter().any(|s| line.contains(s.as_str())) {
            why.push("a token, its secret, its hash or the key".to_owned());
        }
        if !why.is_empty() {
            leaks.push(format!("line {n}: {}: {line}", why.join(", ")));
        }
    }
    assert!(
        leaks.is_empty(),
        "{} log lines leak:\n{}",
        leaks.len(),
        leaks
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    // The log did capture the scenario at debug level.
    let has = |needle: &str| log.iter().any(|l| l.contains(needle));
    assert!(log.len() > 100, "only {} log lines", log.len());
    assert!(has("DEBUG"), "no debug line");
    assert!(has("sqlx"), "no sqlx line");
    assert!(has("patients imported"), "no import line");
    assert!(has("slot booked"), "no booking line");
    eprintln!("{} log lines checked", log.len());
}

#[test]
fn the_detectors_detect() {
    assert!(age_field("x age=63 y"));
    assert!(age_field(r#"{"age":63}"#));
    assert!(age_field("age: 7"));
    assert!(!age_field("page=2"));
    assert!(!age_field("usage: 5"));
    assert!(!age_field("stage=\"solve\""));
    assert_eq!(nir_shaped("id 1850575123456 x"), Some("1850575123456"));
    assert_eq!(nir_shaped("2A: 185052A123456"), Some("185052A123456"));
    assert_eq!(nir_shaped("rpps 10540000014 at 1767225600"), None);
    assert_eq!(
        words("patient=P000001, at 48.615476.").collect::<Vec<_>>(),
        ["patient", "P000001", "at", "48.615476."]
    );
}

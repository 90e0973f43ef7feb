//! End to end (issue 6), through the HTTP API only: import the nancy fixture, match its
//! territory, declare garde availabilities, create cabinets, plan and publish a garde; a
//! régulateur searches and books a slot, and a second booking of it gets 409.

use crate::helpers::{TestApp, assert_problem, both_backends};
use chrono::Datelike;
use cpts::domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

both_backends!(nancy_from_import_to_a_booked_slot);

/// The text of `fixtures/nancy/<name>`.
pub(crate) fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/nancy")
        .join(name);
    std::fs::read_to_string(&path).unwrap()
}

async fn nancy_from_import_to_a_booked_slot(app: Arc<TestApp>) {
    // 1. The CPAM imports the nancy fixture.
    let cpam = app.token(Role::Cpam, None).await;
    let r = app
        .import_csv(Some(&cpam), "patients", &fixture("patients.csv"))
        .await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["inserted"], 13_000);
    let doctors = fixture("doctors.csv");
    let r = app.import_csv(Some(&cpam), "doctors", &doctors).await;
    assert_eq!(r.status(), StatusCode::OK);

    // 2. A batch over the Métropole du Grand Nancy: the objective of `cpts match
    //    fixtures/nancy` (README: 1366, 2531, 5203 matched per tier, 3,684,573 m).
    let job = app
        .run_batch(&cpam, &json!({"territory": {"epci": "245400676"}}))
        .await;
    let summary = &job["result"];
    assert_eq!(summary["objective"]["matched"], json!([1366, 2531, 5203]));
    assert_eq!(summary["objective"]["metres"], 3_684_573);
    assert_eq!(summary["unmatched"]["capacity_exhausted"], 3900);
    let id = job["id"].as_str().unwrap();
    let page: Value = app
        .get(&format!("/batches/{id}/unmatched?limit=1000"), Some(&cpam))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 3900);
    assert_eq!(page["items"].as_array().unwrap().len(), 1000);

    // 3. Ten GPs declare their garde limits and their availability for two weeks starting
    //    on the Monday at least a week from now (a booking needs slots in the future).
    let today = chrono::Utc::now().date_naive();
    let start = (1..=14)
        .map(|d| today + chrono::Days::new(d + 6))
        .find(|d| d.weekday() == chrono::Weekday::Mon)
        .unwrap();
    let end = start + chrono::Days::new(12); // the second Saturday
    let rpps: Vec<String> = doctors
        .lines()
        .skip(1)
        .take(10)
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect();
    for r in &rpps {
        let medecin = app.medecin(&r.parse().unwrap()).await;
        let resp = app
            .request(Method::PUT, &format!("/doctors/{r}/garde"), Some(&medecin))
            .json(&json!({"max_shifts": 4, "max_km": 15}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "{}",
            resp.text().await.unwrap()
        );
        let resp = app
            .request(
                Method::POST,
                &format!("/doctors/{r}/availability"),
                Some(&medecin),
            )
            .json(&json!({
                "start": format!("{start}T08:00:00"),
                "end": format!("{}T00:00:00", end + chrono::Days::new(1)),
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "{}",
            resp.text().await.unwrap()
        );
    }

    // 4. The coordinator creates two cabinets, plans the garde and publishes it.
    let coordinateur = app.token(Role::Coordinateur, None).await;
    for (id, lat, lon, insee) in [
        ("NANCY-CENTRE", 48.6921, 6.1844, "54395"),
        ("VANDOEUVRE", 48.6566, 6.1700, "54547"),
    ] {
        let resp = app
            .request(Method::POST, "/cabinets", Some(&coordinateur))
            .json(
                &json!({"cabinet_id": id, "name": id, "lat": lat, "lon": lon,
                          "insee": insee, "need": 1}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "{}",
            resp.text().await.unwrap()
        );
    }
    let plan = app
        .run_plan(
            &coordinateur,
            &json!({"period": {"start": start.to_string(), "end": end.to_string()}}),
        )
        .await;
    let job: Value = app
        .get(&format!("/jobs/{plan}"), Some(&coordinateur))
        .await
        .json()
        .await
        .unwrap();
    // 10 doctors × 4 shifts cover the ≤ 24 positions of two cabinets over two weeks.
    let positions = &job["result"]["counts"]["positions"];
    assert_eq!(&job["result"]["objective"]["filled"], positions, "{job}");
    let roster: Value = app
        .get(&format!("/garde/plans/{plan}/roster"), Some(&coordinateur))
        .await
        .json()
        .await
        .unwrap();
    let entries = roster["items"].as_array().unwrap();
    assert_eq!(Some(entries.len() as u64), positions.as_u64());
    // 8 slots per weekday evening, 16 per Saturday morning (FORMATS.md §4).
    let expected: u64 = entries
        .iter()
        .map(|e| {
            let d: chrono::NaiveDate = e["date"].as_str().unwrap().parse().unwrap();
            if d.weekday() == chrono::Weekday::Sat {
                16
            } else {
                8
            }
        })
        .sum();
    let r = app.publish_plan(Some(&coordinateur), &plan).await;
    assert_eq!(r.status(), StatusCode::OK);
    let published: Value = r.json().await.unwrap();
    assert_eq!(published["slots"], expected);

    // 5. A régulateur searches the slots near Nancy over the plan's first week and books
    //    the first one.
    let regulateur = app.token(Role::Regulateur, None).await;
    let from = format!("{start}T00:00:00Z");
    let to = format!("{}T00:00:00Z", start + chrono::Days::new(7));
    let r = app
        .get(
            &format!("/slots?insee=54395&from={from}&to={to}"),
            Some(&regulateur),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let found: Value = r.json().await.unwrap();
    let first = &found["items"][0];
    let slot = first["slot_id"].as_i64().unwrap();
    let r = app
        .request(
            Method::POST,
            &format!("/slots/{slot}/bookings"),
            Some(&regulateur),
        )
        .json(&json!({"patient_ref": "PSEUDO-0001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    // 6. A second booking of the same slot, by another régulateur, is refused.
    let other = app.token(Role::Regulateur, None).await;
    let r = app
        .request(
            Method::POST,
            &format!("/slots/{slot}/bookings"),
            Some(&other),
        )
        .json(&json!({"patient_ref": "PSEUDO-0002"}))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::CONFLICT, "/problems/slot-taken").await;
}

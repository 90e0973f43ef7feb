//! Repair of a published roster (issue 18): a doctor falls ill; the coordinator takes him off
//! the shift, his slots leave searches and refuse bookings, the booking on one of them is
//! flagged for the régulateurs; a plan over that day fills the hole with a colleague (the diff
//! says who gains which shift), and publishing it moves the booking to the colleague's slot at
//! the same time, so the patient's appointment stands. A régulateur listening to the area hears
//! `withdrawn` for each of A's slots (the booked one with its booking, now flagged) and `moved`
//! for the booking's new slot.

use crate::helpers::{TestApp, assert_problem, both_backends};
use crate::holds::SseReader;
use crate::imports::DOCTORS;
use cpts::domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

both_backends!(a_doctor_taken_off_a_shift_is_replaced_and_the_booking_follows);

const A: &str = "10000000009";
const B: &str = "10123456781";

/// The free slots at NANCY-1 on `date` (Europe/Paris), as `(slot_id, rpps, start)`.
async fn free_on(app: &TestApp, token: &str, date: &str) -> Vec<(i64, String, String)> {
    let query = format!(
        "lat=48.6921&lon=6.1844&radius_km=5&from={date}T00:00:00%2B01:00&to={date}T23:59:00%2B01:00&limit=100"
    );
    let r = app.search_slots(Some(token), &query).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page: Value = r.json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["slot_id"].as_i64().unwrap(),
                s["rpps"].as_str().unwrap().to_owned(),
                s["start"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn a_doctor_taken_off_a_shift_is_replaced_and_the_booking_follows(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    assert_eq!(
        app.import_csv(Some(&cpam), "doctors", DOCTORS)
            .await
            .status(),
        StatusCode::OK
    );
    app.seed_cabinet("NANCY-1", 48.6921, 6.1844, "54395").await;
    for rpps in [A, B] {
        app.seed_garde_doctor(rpps, 6, "2037-03-02T08:00:00", "2037-03-08T00:00:00")
            .await;
    }
    // A wants Tuesday 3 March: he gets it.
    let a = app.medecin(&A.parse().unwrap()).await;
    let r = app
        .request(
            Method::PUT,
            &format!("/doctors/{A}/garde/preferences/2037-03-03"),
            Some(&a),
        )
        .json(&json!({"preference": "prefer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let week = app
        .run_plan(
            &coordinateur,
            &json!({"period": {"start": "2037-03-02", "end": "2037-03-07"}}),
        )
        .await;
    assert_eq!(
        app.publish_plan(Some(&coordinateur), &week).await.status(),
        StatusCode::OK
    );
    let day = "2037-03-03";
    let regulateur = app.token(Role::Regulateur, None).await;
    let before = free_on(&app, &regulateur, day).await;
    assert_eq!(before.len(), 8, "A's eight evening slots");
    assert!(before.iter().all(|(_, rpps, _)| rpps == A));
    let (booked_slot, _, booked_start) = before[2].clone();
    let r = app
        .book(Some(&regulateur), &booked_slot.to_string(), "C15-REPAIR-1")
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let booking = r.json::<Value>().await.unwrap()["booking_id"].to_string();
    let mut listener = if app.has_redis() {
        let r = app
            .slot_events(
                Some(&regulateur),
                "lat=48.6921&lon=6.1844&radius_km=5",
                None,
            )
            .await;
        let mut l = SseReader::new(r);
        assert_eq!(l.expect().await.event, "ready");
        Some(l)
    } else {
        None
    };

    // A falls ill: bad input first, then the withdrawal.
    let withdraw = |body: Value| {
        let app = app.clone();
        let coordinateur = coordinateur.clone();
        async move {
            app.request(Method::POST, "/garde/withdrawals", Some(&coordinateur))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let p = assert_problem(
        withdraw(json!({"cabinet_id": "NANCY-1", "date": day, "rpps": A, "reason": "flu"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(p["errors"][0]["pointer"], "#/reason", "{p}");
    // B holds no position that day: nothing to take him off.
    let r = withdraw(json!({"cabinet_id": "NANCY-1", "date": day, "rpps": B, "reason": "illness"}))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = withdraw(json!({"cabinet_id": "NANCY-1", "date": day, "rpps": A, "reason": "illness"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["slots_withdrawn"], 8, "{done}");
    assert_eq!(done["withdrawal"]["bookings_flagged"], 1, "{done}");
    if let Some(l) = listener.as_mut() {
        let mut withdrawn = Vec::new();
        while withdrawn.len() < 8 {
            let e = l.expect().await;
            if e.event == "withdrawn" {
                withdrawn.push(e.data);
            }
        }
        assert!(
            withdrawn
                .iter()
                .all(|e| e["withdrawal_id"] == done["withdrawal"]["id"]),
            "{withdrawn:?}"
        );
        let flagged: Vec<&Value> = withdrawn
            .iter()
            .filter(|e| e.get("booking_id").is_some())
            .collect();
        assert_eq!(flagged.len(), 1, "{withdrawn:?}");
        assert_eq!(flagged[0]["slot_id"], booked_slot);
        assert_eq!(flagged[0]["booking_id"].to_string(), booking);
    }

    // His slots leave the searches (the board reloads) and refuse bookings.
    app.load_board().await;
    assert_eq!(free_on(&app, &regulateur, day).await, []);
    let r = app
        .book(Some(&regulateur), &before[3].0.to_string(), "C15-REPAIR-2")
        .await;
    assert_problem(r, StatusCode::CONFLICT, "/problems/slot-withdrawn").await;
    let flagged: Value = app
        .get("/bookings/flagged", Some(&regulateur))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(flagged.as_array().unwrap().len(), 1, "{flagged}");
    assert_eq!(flagged[0]["booking_id"].to_string(), booking);
    assert_eq!(flagged[0]["patient_ref"], "C15-REPAIR-1");

    // The repair plan: that day, every other position pinned, A kept off the shift.
    let repair = app
        .run_plan(
            &coordinateur,
            &json!({"period": {"start": day, "end": day}}),
        )
        .await;
    let diff: Value = app
        .get(&format!("/garde/plans/{repair}/diff"), Some(&coordinateur))
        .await
        .json()
        .await
        .unwrap();
    let gains = diff["items"].as_array().unwrap();
    assert_eq!(gains.len(), 1, "{diff}");
    assert_eq!(gains[0]["rpps"], B, "{diff}");
    assert_eq!(gains[0]["date"], day, "{diff}");
    assert_eq!(gains[0]["replaces"], json!([A]), "{diff}");
    let r = app.publish_plan(Some(&coordinateur), &repair).await;
    assert_eq!(r.status(), StatusCode::OK);
    let published: Value = r.json().await.unwrap();
    assert_eq!(published["bookings_moved"], 1, "{published}");
    if let Some(l) = listener.as_mut() {
        let moved = loop {
            let e = l.expect().await;
            if e.event == "moved" {
                break e.data;
            }
        };
        assert_eq!(moved["booking_id"].to_string(), booking, "{moved}");
        assert_eq!(moved["from_slot_id"], booked_slot, "{moved}");
        assert_eq!(moved["start"], booked_start.as_str(), "{moved}");
    }

    // The appointment stands: same booking, same time, B's slot.
    let moved: Value = app
        .get(&format!("/bookings/{booking}"), Some(&regulateur))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(moved["slot"]["rpps"], B, "{moved}");
    assert_eq!(moved["slot"]["start"], booked_start.as_str(), "{moved}");
    assert!(moved["cancelled_at"].is_null(), "{moved}");
    let flagged: Value = app
        .get("/bookings/flagged", Some(&regulateur))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(flagged, json!([]));
    app.load_board().await;
    let after = free_on(&app, &regulateur, day).await;
    assert_eq!(after.len(), 7, "B's slots but the booked one");
    assert!(after.iter().all(|(_, rpps, _)| rpps == B));
    let list: Value = app
        .get(
            "/garde/withdrawals?from=2037-03-01&to=2037-03-31",
            Some(&coordinateur),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["bookings_flagged"], 0, "{list}");
    assert_eq!(list[0]["reason"], "illness");
    // Twice: he no longer holds the shift.
    let r = withdraw(json!({"cabinet_id": "NANCY-1", "date": day, "rpps": A, "reason": "illness"}))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

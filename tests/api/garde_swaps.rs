//! The bourse aux gardes (issue 18): A offers a published shift; the eligible colleagues see
//! it (not one without availability); two take it at once and one wins; the position, its slots
//! and the booking on one of them move to the taker in one transaction; a direct offer names
//! its taker; where the CPTS requires it, the coordinator approves before anything moves. The
//! régulateurs listening to the area hear `swapped` for each slot that changed doctor. A direct
//! exchange swaps two shifts of one day at once, and one that would put a doctor on duty twice
//! a day is refused.

use crate::helpers::{TestApp, assert_problem, both_backends};
use crate::holds::SseReader;
use cpts::domain::Role;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

both_backends!(
    a_shift_is_offered_taken_once_and_moves_with_its_slots_and_bookings,
    a_direct_exchange_swaps_two_shifts_at_once_with_their_bookings,
);

const A: &str = "10000000009";
const B: &str = "10123456781";
/// C has no availability: he never sees nor takes the offers.
const C: &str = "10000000017";
/// D is available like B: the two race for the same offer.
const D: &str = "10000000025";

async fn post(app: &TestApp, path: &str, token: &str, body: Option<Value>) -> Response {
    let mut req = app.request(Method::POST, path, Some(token));
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

/// The published doctor of NANCY-1 on `date`, from the médecin's garde views.
async fn holder(app: &TestApp, tokens: &[(&str, String)], date: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (rpps, token) in tokens {
        let garde: Value = app
            .get(&format!("/doctors/{rpps}/garde"), Some(token))
            .await
            .json()
            .await
            .unwrap();
        if garde["shifts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["start"].as_str().unwrap().starts_with(date))
        {
            out.push((*rpps).to_owned());
        }
    }
    out
}

async fn a_shift_is_offered_taken_once_and_moves_with_its_slots_and_bookings(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    let doctors = format!(
        "rpps,name,lat,lon,insee,capacity,max_km\n{A},Dr A,48.6930,6.1850,54395,0,\n\
         {B},Dr B,48.7010,6.1990,54547,0,\n{C},Dr C,48.6950,6.1800,54395,0,\n\
         {D},Dr D,48.6900,6.1900,54395,0,\n"
    );
    assert_eq!(
        app.import_csv(Some(&cpam), "doctors", &doctors)
            .await
            .status(),
        StatusCode::OK
    );
    app.seed_cabinet("NANCY-1", 48.6921, 6.1844, "54395").await;
    // A alone is available when the week is planned: he gets the six shifts.
    app.seed_garde_doctor(A, 6, "2037-03-02T08:00:00", "2037-03-08T00:00:00")
        .await;
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
    // B and D declare the week afterwards; C declares nothing.
    for rpps in [B, D] {
        app.seed_garde_doctor(rpps, 6, "2037-03-02T08:00:00", "2037-03-08T00:00:00")
            .await;
    }
    let tok = |r: &str| {
        let app = app.clone();
        let r = r.to_owned();
        async move { app.medecin(&r.parse().unwrap()).await }
    };
    let (a, b, c, d) = (tok(A).await, tok(B).await, tok(C).await, tok(D).await);
    let all = [
        (A, a.clone()),
        (B, b.clone()),
        (C, c.clone()),
        (D, d.clone()),
    ];

    // A régulateur books one of A's Tuesday slots.
    let regulateur = app.token(Role::Regulateur, None).await;
    let page: Value = app
        .search_slots(
            Some(&regulateur),
            "lat=48.6921&lon=6.1844&radius_km=5&from=2037-03-03T00:00:00%2B01:00&to=2037-03-03T23:59:00%2B01:00",
        )
        .await
        .json()
        .await
        .unwrap();
    let slot = page["items"][0]["slot_id"].as_i64().unwrap();
    let r = app
        .book(Some(&regulateur), &slot.to_string(), "C15-SWAP-1")
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let booking = r.json::<Value>().await.unwrap()["booking_id"].to_string();
    // A régulateur listens to the area from now on.
    let mut listener = listen(&app, &regulateur).await;

    // A offers his Tuesday. Bad input, someone else's shift, a duplicate: refused.
    let tuesday = json!({"cabinet_id": "NANCY-1", "date": "2037-03-03"});
    let p = assert_problem(
        post(
            &app,
            "/garde/offers",
            &a,
            Some(json!({"cabinet_id": "NANCY-1", "date": "03/03/2037"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(p["errors"][0]["pointer"], "#/date", "{p}");
    let r = post(&app, "/garde/offers", &b, Some(tuesday.clone())).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = post(&app, "/garde/offers", &a, Some(tuesday.clone())).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let offer: Value = r.json().await.unwrap();
    assert_eq!(offer["state"], "open");
    let r = post(&app, "/garde/offers", &a, Some(tuesday.clone())).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let id = offer["id"].to_string();

    // B and D see it; C (no availability) does not; A sees it among his own.
    let seen = |token: String| {
        let app = app.clone();
        async move {
            let v: Value = app
                .get("/garde/offers", Some(&token))
                .await
                .json()
                .await
                .unwrap();
            v
        }
    };
    assert_eq!(seen(b.clone()).await["available"][0]["id"].to_string(), id);
    assert_eq!(seen(d.clone()).await["available"][0]["id"].to_string(), id);
    assert_eq!(seen(c.clone()).await["available"], json!([]));
    assert_eq!(seen(a.clone()).await["offers"][0]["id"].to_string(), id);
    let r = post(&app, &format!("/garde/offers/{id}/take"), &c, None).await;
    let p = assert_problem(r, StatusCode::CONFLICT, "/problems/conflict").await;
    assert!(
        p["detail"].as_str().unwrap().contains("availability"),
        "{p}"
    );

    // B and D take it at the same moment: one wins, the other is told it is taken.
    let take_path = format!("/garde/offers/{id}/take");
    let (rb, rd) = tokio::join!(
        post(&app, &take_path, &b, None),
        post(&app, &take_path, &d, None)
    );
    let mut statuses = [rb.status().as_u16(), rd.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
    let (winner, winner_token) = if rb.status() == StatusCode::OK {
        (B, b.clone())
    } else {
        (D, d.clone())
    };
    // The position, the slots and the booking moved together.
    assert_eq!(holder(&app, &all, "2037-03-03").await, [winner]);
    let moved: Value = app
        .get(&format!("/bookings/{booking}"), Some(&regulateur))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(moved["slot"]["rpps"], winner, "{moved}");
    assert_eq!(moved["slot"]["slot_id"], slot, "{moved}");
    app.load_board().await;
    let page: Value = app
        .search_slots(
            Some(&regulateur),
            "lat=48.6921&lon=6.1844&radius_km=5&from=2037-03-03T00:00:00%2B01:00&to=2037-03-03T23:59:00%2B01:00",
        )
        .await
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 7);
    assert!(items.iter().all(|s| s["rpps"] == winner), "{page}");
    // The listener heard each of the 8 slots change doctor, the booked one with its booking.
    if let Some(l) = listener.as_mut() {
        let swapped = swapped_events(l, 8).await;
        assert!(
            swapped
                .iter()
                .all(|e| e["rpps"] == winner && e["offer_id"] == offer["id"]),
            "{swapped:?}"
        );
        let booked: Vec<&Value> = swapped
            .iter()
            .filter(|e| e.get("booking_id").is_some())
            .collect();
        assert_eq!(booked.len(), 1, "{swapped:?}");
        assert_eq!(booked[0]["slot_id"], slot);
        assert_eq!(booked[0]["booking_id"].to_string(), booking);
    }
    // Done offers cannot be taken again, nor cancelled.
    let r = post(&app, &format!("/garde/offers/{id}/take"), &c, None).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = app
        .request(Method::DELETE, &format!("/garde/offers/{id}"), Some(&a))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The CPTS now requires approval; A offers his Thursday to the winner only.
    let admin = app.token(Role::Admin, None).await;
    let cpts: Value = app
        .get("/territories/grand_nancy", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let r = app
        .request(Method::PUT, "/territories/grand_nancy", Some(&admin))
        .json(&json!({"name": cpts["name"], "communes": cpts["communes"],
                      "swap_approval": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["swap_approval"], true);
    let r = post(
        &app,
        "/garde/offers",
        &a,
        Some(json!({"cabinet_id": "NANCY-1", "date": "2037-03-05", "to_rpps": winner})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let thursday = r.json::<Value>().await.unwrap()["id"].to_string();
    let other = if winner == B { d.clone() } else { b.clone() };
    let r = post(
        &app,
        &format!("/garde/offers/{thursday}/take"),
        &other,
        None,
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "offered to the winner only"
    );
    let r = post(
        &app,
        &format!("/garde/offers/{thursday}/take"),
        &winner_token,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "taken");
    assert_eq!(
        holder(&app, &all, "2037-03-05").await,
        [A],
        "nothing moved yet"
    );
    let r = post(
        &app,
        &format!("/garde/offers/{thursday}/approve"),
        &coordinateur,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "done");
    assert_eq!(holder(&app, &all, "2037-03-05").await, [winner]);
    let r = post(
        &app,
        &format!("/garde/offers/{thursday}/approve"),
        &coordinateur,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // A cancels an offer of his Friday.
    let r = post(
        &app,
        "/garde/offers",
        &a,
        Some(json!({"cabinet_id": "NANCY-1", "date": "2037-03-06"})),
    )
    .await;
    let friday = r.json::<Value>().await.unwrap()["id"].to_string();
    let r = app
        .request(Method::DELETE, &format!("/garde/offers/{friday}"), Some(&a))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(seen(b.clone()).await["available"], json!([]));
}

/// A listener of `/slots/events` around NANCY-1, past its `ready` (none without Redis).
async fn listen(app: &TestApp, regulateur: &str) -> Option<SseReader> {
    if !app.has_redis() {
        return None;
    }
    let r = app
        .slot_events(Some(regulateur), "lat=48.6921&lon=6.1844&radius_km=5", None)
        .await;
    let mut l = SseReader::new(r);
    assert_eq!(l.expect().await.event, "ready");
    Some(l)
}

/// The data of the next `n` `swapped` events (others skipped), each within 5 s.
async fn swapped_events(listener: &mut SseReader, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        let e = listener.expect().await;
        if e.event == "swapped" {
            out.push(e.data);
        }
    }
    out
}

/// The cabinets where `rpps` holds a published shift on `date`.
async fn shifts_of(app: &TestApp, rpps: &str, token: &str, date: &str) -> Vec<String> {
    let garde: Value = app
        .get(&format!("/doctors/{rpps}/garde"), Some(token))
        .await
        .json()
        .await
        .unwrap();
    garde["shifts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["start"].as_str().unwrap().starts_with(date))
        .map(|s| s["cabinet_id"].as_str().unwrap().to_owned())
        .collect()
}

/// A holds every shift of NANCY-1 in a week, B every shift of NANCY-2. A offers his Tuesday to
/// B in exchange for B's Tuesday: both on one day, which only a swap of both at once allows.
/// Then A asks B's Thursday for his own Wednesday: A would be on duty twice on Thursday, so B's
/// take is refused and nothing moves.
async fn a_direct_exchange_swaps_two_shifts_at_once_with_their_bookings(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    let doctors = format!(
        "rpps,name,lat,lon,insee,capacity,max_km\n{A},Dr A,48.6930,6.1850,54395,0,\n\
         {B},Dr B,48.7010,6.1990,54547,0,\n"
    );
    assert_eq!(
        app.import_csv(Some(&cpam), "doctors", &doctors)
            .await
            .status(),
        StatusCode::OK
    );
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let week = json!({"period": {"start": "2037-03-02", "end": "2037-03-07"}});
    app.seed_cabinet("NANCY-1", 48.6921, 6.1844, "54395").await;
    app.seed_garde_doctor(A, 6, "2037-03-02T08:00:00", "2037-03-08T00:00:00")
        .await;
    let first = app.run_plan(&coordinateur, &week).await;
    assert_eq!(
        app.publish_plan(Some(&coordinateur), &first).await.status(),
        StatusCode::OK
    );
    // A is on duty every day of the week now: NANCY-2 goes to B.
    app.seed_cabinet("NANCY-2", 48.6990, 6.1960, "54547").await;
    app.seed_garde_doctor(B, 6, "2037-03-02T08:00:00", "2037-03-08T00:00:00")
        .await;
    let second = app.run_plan(&coordinateur, &week).await;
    assert_eq!(
        app.publish_plan(Some(&coordinateur), &second)
            .await
            .status(),
        StatusCode::OK
    );
    let a = app.medecin(&A.parse().unwrap()).await;
    let b = app.medecin(&B.parse().unwrap()).await;
    assert_eq!(shifts_of(&app, A, &a, "2037-03-03").await, ["NANCY-1"]);
    assert_eq!(shifts_of(&app, B, &b, "2037-03-03").await, ["NANCY-2"]);

    // Bookings on both doctors' Tuesday slots.
    let regulateur = app.token(Role::Regulateur, None).await;
    let page: Value = app
        .search_slots(
            Some(&regulateur),
            "lat=48.6921&lon=6.1844&radius_km=5&from=2037-03-03T00:00:00%2B01:00&to=2037-03-03T23:59:00%2B01:00",
        )
        .await
        .json()
        .await
        .unwrap();
    let first_of = |rpps: &str| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["rpps"] == rpps)
            .map(|s| s["slot_id"].as_i64().unwrap())
            .unwrap()
    };
    let (slot_a, slot_b) = (first_of(A), first_of(B));
    let mut bookings = Vec::new();
    for (slot, patient) in [(slot_a, "C15-X-1"), (slot_b, "C15-X-2")] {
        let r = app
            .book(Some(&regulateur), &slot.to_string(), patient)
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        bookings.push(r.json::<Value>().await.unwrap()["booking_id"].to_string());
    }
    let mut listener = listen(&app, &regulateur).await;

    // Bad exchanges: without naming the colleague; the offered shift itself; a shift B does
    // not hold.
    let p = assert_problem(
        post(
            &app,
            "/garde/offers",
            &a,
            Some(json!({"cabinet_id": "NANCY-1", "date": "2037-03-03",
                        "in_exchange_for": {"cabinet_id": "NANCY-2", "date": "2037-03-03"}})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(p["errors"][0]["pointer"], "#/to_rpps", "{p}");
    let p = assert_problem(
        post(
            &app,
            "/garde/offers",
            &a,
            Some(
                json!({"cabinet_id": "NANCY-1", "date": "2037-03-03", "to_rpps": B,
                        "in_exchange_for": {"cabinet_id": "NANCY-1", "date": "2037-03-03"}}),
            ),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(p["errors"][0]["pointer"], "#/in_exchange_for", "{p}");
    let r = post(
        &app,
        "/garde/offers",
        &a,
        Some(
            json!({"cabinet_id": "NANCY-1", "date": "2037-03-03", "to_rpps": B,
                    "in_exchange_for": {"cabinet_id": "NANCY-1", "date": "2037-03-04"}}),
        ),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "B holds no NANCY-1 shift"
    );

    // The same-day exchange: offered by A, seen and taken by B, done at once.
    let r = post(
        &app,
        "/garde/offers",
        &a,
        Some(
            json!({"cabinet_id": "NANCY-1", "date": "2037-03-03", "to_rpps": B,
                    "in_exchange_for": {"cabinet_id": "NANCY-2", "date": "2037-03-03"}}),
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let offer: Value = r.json().await.unwrap();
    assert_eq!(offer["in_exchange_for"]["cabinet_id"], "NANCY-2", "{offer}");
    let id = offer["id"].to_string();
    let seen: Value = app
        .get("/garde/offers", Some(&b))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["available"][0]["id"].to_string(), id, "{seen}");
    let r = post(&app, &format!("/garde/offers/{id}/take"), &b, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "done");
    assert_eq!(shifts_of(&app, A, &a, "2037-03-03").await, ["NANCY-2"]);
    assert_eq!(shifts_of(&app, B, &b, "2037-03-03").await, ["NANCY-1"]);
    // Each booking stayed on its slot, which changed doctor with its shift.
    for (booking, slot, now_with) in [(&bookings[0], slot_a, B), (&bookings[1], slot_b, A)] {
        let v: Value = app
            .get(&format!("/bookings/{booking}"), Some(&regulateur))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["slot"]["slot_id"], slot, "{v}");
        assert_eq!(v["slot"]["rpps"], now_with, "{v}");
    }
    // 8 slots of each shift changed doctor, and the listener heard all 16.
    if let Some(l) = listener.as_mut() {
        let swapped = swapped_events(l, 16).await;
        let to_b = swapped.iter().filter(|e| e["rpps"] == B).count();
        assert_eq!(to_b, 8, "{swapped:?}");
        assert_eq!(
            swapped
                .iter()
                .filter(|e| e.get("booking_id").is_some())
                .count(),
            2
        );
    }

    // A's Wednesday for B's Thursday would put A twice on duty on Thursday.
    let r = post(
        &app,
        "/garde/offers",
        &a,
        Some(
            json!({"cabinet_id": "NANCY-1", "date": "2037-03-04", "to_rpps": B,
                    "in_exchange_for": {"cabinet_id": "NANCY-2", "date": "2037-03-05"}}),
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].to_string();
    let r = post(&app, &format!("/garde/offers/{id}/take"), &b, None).await;
    let p = assert_problem(r, StatusCode::CONFLICT, "/problems/conflict").await;
    assert!(
        p["detail"].as_str().unwrap().contains("already on duty"),
        "{p}"
    );
    assert_eq!(shifts_of(&app, A, &a, "2037-03-04").await, ["NANCY-1"]);
    assert_eq!(shifts_of(&app, B, &b, "2037-03-05").await, ["NANCY-2"]);
}

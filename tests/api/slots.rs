//! `GET /slots`, `POST /slots/{slot_id}/bookings`, `GET|DELETE /bookings/{booking_id}`.

use crate::helpers::{TestApp, assert_problem, both_backends, only_error};
use cpts::domain::Role;
use cpts::geo::{Coordinates, cost_m, haversine_m};
use cpts::store::{CabinetRow, NewSlot};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::Executor;
use std::sync::Arc;

both_backends!(
    a_regulateur_finds_free_slots_by_start_then_distance,
    a_commune_search_starts_from_its_centroid_and_pages_are_linked,
    a_search_reads_on_past_many_slots_in_the_box_but_out_of_range,
    a_slot_is_booked_once_and_a_cancellation_frees_it,
    two_simultaneous_bookings_of_one_slot_give_one_201_and_one_409,
    slots_and_bookings_are_for_regulateurs_only,
    invalid_searches_and_bookings_are_422,
    unknown_slots_and_bookings_are_404_and_ended_slots_409,
);

/// Where the searches start: Place Stanislas, Nancy.
pub const NANCY: (f64, f64) = (48.6936, 6.1832);

impl TestApp {
    /// `GET /slots?{query}`.
    pub async fn search_slots(&self, token: Option<&str>, query: &str) -> Response {
        self.get(&format!("/slots?{query}"), token).await
    }

    /// `POST /slots/{slot}/bookings`.
    pub async fn book(&self, token: Option<&str>, slot: &str, patient_ref: &str) -> Response {
        self.request(Method::POST, &format!("/slots/{slot}/bookings"), token)
            .json(&json!({ "patient_ref": patient_ref }))
            .send()
            .await
            .unwrap()
    }

    /// `DELETE /bookings/{id}`.
    pub async fn cancel_booking(&self, token: Option<&str>, id: &str) -> Response {
        self.request(Method::DELETE, &format!("/bookings/{id}"), token)
            .send()
            .await
            .unwrap()
    }
}

/// Unix seconds `m` minutes from now, on a whole minute.
pub fn in_minutes(m: i64) -> i64 {
    let now = chrono::Utc::now().timestamp();
    now - now.rem_euclid(60) + 60 * m
}

/// Stores a cabinet (need 1, 15-minute slots) through the store.
pub async fn store_cabinet(app: &TestApp, id: &str, lat: f64, lon: f64) {
    app.store
        .create_cabinet(
            &CabinetRow {
                id: id.parse().unwrap(),
                name: format!("Cabinet {id}"),
                coords: Coordinates::new(lat, lon).unwrap(),
                insee: "54395".parse().unwrap(),
                need: 1,
                slot_minutes: 15,
                phone: None,
                address: None,
            },
            &"grand_nancy".parse().unwrap(),
        )
        .await
        .unwrap();
}

/// Stores a garde plan row (the plan endpoints belong to another part of the issue), its
/// roster left empty.
pub async fn seed_plan(app: &TestApp, id: &str, published: bool) {
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    let published_at = if published { "1" } else { "NULL" };
    pool.execute(
        format!(
            "INSERT INTO garde_plans (id, period_start, period_end, created_at, published_at) \
             VALUES ('{id}', '2026-01-01', '2026-12-31', 0, {published_at})"
        )
        .as_str(),
    )
    .await
    .unwrap();
    pool.close().await;
}

/// Stores 15-minute slots `(cabinet, rpps, start)` of plan `plan` through the store; returns
/// their ids, in the same order.
pub async fn seed_slots(app: &TestApp, plan: &str, slots: &[(&str, &str, i64)]) -> Vec<i64> {
    let new: Vec<NewSlot> = slots
        .iter()
        .map(|&(c, r, s)| NewSlot {
            cabinet_id: c.to_owned(),
            rpps: r.to_owned(),
            start_at: s,
            end_at: s + 900,
        })
        .collect();
    assert_eq!(
        app.store.insert_slots(plan, &new).await.unwrap(),
        slots.len() as u64
    );
    // Written beside the API, as a publication would: the server's board loads them.
    app.load_board().await;
    let bbox = cpts::store::BoundingBox {
        lat: (-90.0, 90.0),
        lon: None,
    };
    let stored = app
        .store
        .free_slots(i64::MIN / 2, i64::MAX / 2, bbox, None, 100_000)
        .await
        .unwrap();
    slots
        .iter()
        .map(|&(c, r, s)| {
            stored
                .iter()
                .find(|f| {
                    f.slot.cabinet_id.as_str() == c
                        && f.slot.rpps.as_str() == r
                        && f.slot.start_at == s
                })
                .unwrap()
                .slot
                .id
        })
        .collect()
}

/// Three cabinets: NANCY-1 (300 m from the search point), VANDOEUVRE (about 4 km) and
/// PONT-A-MOUSSON (about 26 km: outside the default 20 km); slots of one plan.
async fn seed(app: &TestApp) -> Vec<i64> {
    store_cabinet(app, "NANCY-1", 48.6921, 6.1844).await;
    store_cabinet(app, "VANDOEUVRE", 48.6580, 6.1690).await;
    store_cabinet(app, "PONT-A-MOUSSON", 48.9050, 6.0550).await;
    seed_plan(app, "plan-1", true).await;
    let (a, b) = ("10000000009", "10123456781");
    seed_slots(
        app,
        "plan-1",
        &[
            ("NANCY-1", a, in_minutes(120)),        // 0: later
            ("VANDOEUVRE", b, in_minutes(60)),      // 1: same start, farther
            ("NANCY-1", a, in_minutes(60)),         // 2: same start, nearer
            ("PONT-A-MOUSSON", b, in_minutes(30)),  // 3: outside 20 km
            ("NANCY-1", a, in_minutes(49 * 60)),    // 4: beyond 48 h
            ("NANCY-1", b, in_minutes(-60)),        // 5: started an hour ago
            ("VANDOEUVRE", a, in_minutes(47 * 60)), // 6: last within 48 h
        ],
    )
    .await
}

fn metres(lat: f64, lon: f64) -> u64 {
    let p = Coordinates::new(NANCY.0, NANCY.1).unwrap();
    u64::from(cost_m(haversine_m(p, Coordinates::new(lat, lon).unwrap())))
}

pub fn slot_ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["slot_id"].as_i64().unwrap())
        .collect()
}

async fn a_regulateur_finds_free_slots_by_start_then_distance(app: Arc<TestApp>) {
    let ids = seed(&app).await;
    let token = app.token(Role::Regulateur, None).await;
    let near = format!("lat={}&lon={}", NANCY.0, NANCY.1);
    let r = app.search_slots(Some(&token), &near).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page: Value = r.json().await.unwrap();
    assert_eq!(slot_ids(&page), [ids[2], ids[1], ids[0], ids[6]], "{page}");
    assert_eq!(page["radius_km"], 20.0);
    assert!(page["next"].is_null());
    let first = &page["items"][0];
    assert_eq!(first["cabinet"]["cabinet_id"], "NANCY-1");
    assert_eq!(first["rpps"], "10000000009");
    assert_eq!(first["distance_m"], metres(48.6921, 6.1844));
    assert_eq!(page["items"][1]["distance_m"], metres(48.6580, 6.1690));
    // Start and end carry the Europe/Paris offset.
    let start = first["start"].as_str().unwrap();
    let end = first["end"].as_str().unwrap();
    assert!(
        start.ends_with("+01:00") || start.ends_with("+02:00"),
        "{start}"
    );
    let span = chrono::DateTime::parse_from_rfc3339(end).unwrap()
        - chrono::DateTime::parse_from_rfc3339(start).unwrap();
    assert_eq!(span.num_minutes(), 15);

    // A wider radius reaches Pont-à-Mousson, whose slot starts first.
    let r = app
        .search_slots(Some(&token), &format!("{near}&radius_km=30"))
        .await;
    let page: Value = r.json().await.unwrap();
    assert_eq!(slot_ids(&page)[0], ids[3]);
    // A later window, given with an encoded offset.
    let from = chrono::DateTime::from_timestamp(in_minutes(40 * 60), 0)
        .unwrap()
        .with_timezone(&chrono_tz::Europe::Paris)
        .to_rfc3339()
        .replace('+', "%2B");
    let r = app
        .search_slots(Some(&token), &format!("{near}&from={from}"))
        .await;
    let page: Value = r.json().await.unwrap();
    assert_eq!(slot_ids(&page), [ids[6], ids[4]], "{page}");

    // A booked slot is no longer free.
    let r = app
        .book(Some(&token), &ids[2].to_string(), "C15-0001")
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let page: Value = app
        .search_slots(Some(&token), &near)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(slot_ids(&page), [ids[1], ids[0], ids[6]]);
}

async fn a_commune_search_starts_from_its_centroid_and_pages_are_linked(app: Arc<TestApp>) {
    let ids = seed(&app).await;
    let token = app.token(Role::Regulateur, None).await;
    let r = app.search_slots(Some(&token), "insee=54395&limit=2").await;
    assert_eq!(r.status(), StatusCode::OK);
    let page: Value = r.json().await.unwrap();
    // communes_france.csv: Nancy's centroid is (48.6881, 6.1734).
    assert_eq!(
        (page["lat"].as_f64(), page["lon"].as_f64()),
        (Some(48.6881), Some(6.1734))
    );
    assert_eq!(slot_ids(&page), [ids[2], ids[1]]);
    let next = page["next"].as_str().unwrap().to_owned();
    let page: Value = app.get(&next, Some(&token)).await.json().await.unwrap();
    assert_eq!(slot_ids(&page), [ids[0], ids[6]]);
    assert_eq!(page["offset"], 2);
    assert!(page["next"].is_null());
}

async fn a_search_reads_on_past_many_slots_in_the_box_but_out_of_range(app: Arc<TestApp>) {
    let ids = seed(&app).await;
    // In the 20 km search's bounding box, about 23 km away: 300 earlier slots (one per
    // minute), read and dropped in several batches before the first slot in range.
    store_cabinet(&app, "CORNER", NANCY.0 + 0.15, NANCY.1 + 0.22).await;
    let far: Vec<(&str, &str, i64)> = (0..300)
        .map(|m| ("CORNER", "10000000009", in_minutes(2 + m)))
        .collect();
    seed_slots(&app, "plan-1", &far).await;
    let token = app.token(Role::Regulateur, None).await;
    let near = format!("lat={}&lon={}", NANCY.0, NANCY.1);
    let page: Value = app
        .search_slots(Some(&token), &format!("{near}&limit=3"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(slot_ids(&page), [ids[2], ids[1], ids[0]], "{page}");
    assert!(page["next"].is_string());
    let page: Value = app
        .search_slots(Some(&token), &format!("{near}&offset=3"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(slot_ids(&page), [ids[6]]);
    assert!(page["next"].is_null());
}

async fn a_slot_is_booked_once_and_a_cancellation_frees_it(app: Arc<TestApp>) {
    let ids = seed(&app).await;
    let token = app.token(Role::Regulateur, None).await;
    let slot = ids[0].to_string();
    let r = app.book(Some(&token), &slot, "C15-2026-000123").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let booking: Value = r.json().await.unwrap();
    assert_eq!(location, format!("/bookings/{}", booking["booking_id"]));
    assert_eq!(booking["slot"]["slot_id"], ids[0]);
    assert_eq!(booking["slot"]["cabinet_id"], "NANCY-1");
    assert_eq!(booking["patient_ref"], "C15-2026-000123");
    assert!(booking["cancelled_at"].is_null());
    let read: Value = app.get(&location, Some(&token)).await.json().await.unwrap();
    assert_eq!(read, booking);

    let r = app.book(Some(&token), &slot, "C15-2026-000124").await;
    assert_problem(r, StatusCode::CONFLICT, "/problems/slot-taken").await;

    let id = booking["booking_id"].to_string();
    let r = app.cancel_booking(Some(&token), &id).await;
    assert_eq!(r.status(), StatusCode::OK);
    let cancelled: Value = r.json().await.unwrap();
    assert!(cancelled["cancelled_at"].as_str().unwrap().ends_with('Z'));
    let r = app.cancel_booking(Some(&token), &id).await;
    assert_problem(r, StatusCode::CONFLICT, "/problems/already-cancelled").await;

    // Free again: found by a search, and booked anew.
    let page: Value = app
        .search_slots(Some(&token), &format!("lat={}&lon={}", NANCY.0, NANCY.1))
        .await
        .json()
        .await
        .unwrap();
    assert!(slot_ids(&page).contains(&ids[0]));
    let r = app.book(Some(&token), &slot, "C15-2026-000124").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let stored = app
        .store
        .booking(booking["booking_id"].as_i64().unwrap(), None)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.cancelled_at.is_some() && stored.cancelled_by.is_some());
}

async fn two_simultaneous_bookings_of_one_slot_give_one_201_and_one_409(app: Arc<TestApp>) {
    let ids = seed(&app).await;
    let (t1, t2) = (
        app.token(Role::Regulateur, None).await,
        app.token(Role::Regulateur, None).await,
    );
    for id in [ids[0], ids[1], ids[2]] {
        let slot = id.to_string();
        let (a, b) = tokio::join!(
            app.book(Some(&t1), &slot, "C15-A"),
            app.book(Some(&t2), &slot, "C15-B")
        );
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
        let loser = if a.status() == StatusCode::CONFLICT {
            a
        } else {
            b
        };
        assert_problem(loser, StatusCode::CONFLICT, "/problems/slot-taken").await;
    }
}

async fn slots_and_bookings_are_for_regulateurs_only(app: Arc<TestApp>) {
    let ids = seed(&app).await;
    let slot = ids[0].to_string();
    let regulateur = app.token(Role::Regulateur, None).await;
    let booking: Value = app
        .book(Some(&regulateur), &slot, "C15-1")
        .await
        .json()
        .await
        .unwrap();
    let booking = booking["booking_id"].to_string();
    let q = "insee=54395";
    for token in [None, Some("garbage")] {
        for r in [
            app.search_slots(token, q).await,
            app.book(token, &ids[1].to_string(), "C15-2").await,
            app.get(&format!("/bookings/{booking}"), token).await,
            app.cancel_booking(token, &booking).await,
        ] {
            assert_problem(r, StatusCode::UNAUTHORIZED, "/problems/unauthenticated").await;
        }
    }
    let gp = app.medecin(&"10000000009".parse().unwrap()).await;
    let cpam = app.token(Role::Cpam, None).await;
    let coordinateur = app.token(Role::Coordinateur, None).await;
    for token in [gp, cpam, coordinateur] {
        for r in [
            // A 403 comes before the 422 of a bad query.
            app.search_slots(Some(&token), "radius_km=-1").await,
            app.book(Some(&token), &ids[1].to_string(), "C15-2").await,
            app.get(&format!("/bookings/{booking}"), Some(&token)).await,
            app.cancel_booking(Some(&token), &booking).await,
        ] {
            assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
        }
    }
    // Nothing changed: slot 1 still free, the booking still active.
    let b = app
        .store
        .booking(booking.parse().unwrap(), None)
        .await
        .unwrap()
        .unwrap();
    assert!(b.cancelled_at.is_none());
    let page: Value = app
        .search_slots(Some(&regulateur), q)
        .await
        .json()
        .await
        .unwrap();
    assert!(slot_ids(&page).contains(&ids[1]));
}

async fn invalid_searches_and_bookings_are_422(app: Arc<TestApp>) {
    let ids = seed(&app).await;
    let token = app.token(Role::Regulateur, None).await;
    for (query, parameter) in [
        ("", "lat"),
        ("lat=48.69", "lon"),
        ("lat=95&lon=6.18", "lat"),
        ("lat=48.69&lon=east", "lon"),
        ("insee=5439", "insee"),
        ("insee=54999", "insee"),
        ("insee=54395&lat=48.69&lon=6.18", "insee"),
        ("insee=54395&radius_km=0", "radius_km"),
        ("insee=54395&radius_km=500", "radius_km"),
        ("insee=54395&from=yesterday", "from"),
        (
            "insee=54395&from=2026-03-02T18:00:00Z&to=2026-03-01T18:00:00Z",
            "to",
        ),
        ("insee=54395&limit=0", "limit"),
        ("insee=54395&offset=-1", "offset"),
        ("insee=54395&radius=5", "radius"),
    ] {
        let r = app.search_slots(Some(&token), query).await;
        let p = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(only_error(&p)["parameter"], parameter, "{query}: {p}");
    }
    let slot = ids[0].to_string();
    for (patient_ref, pointer) in [
        (json!("1850775123456"), "#/patient_ref"), // a NIR shape
        (json!("a b"), "#/patient_ref"),
        (json!(""), "#/patient_ref"),
        (json!(42), "#/patient_ref"),
    ] {
        let r = app
            .request(
                Method::POST,
                &format!("/slots/{slot}/bookings"),
                Some(&token),
            )
            .json(&json!({ "patient_ref": patient_ref }))
            .send()
            .await
            .unwrap();
        let p = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(only_error(&p)["pointer"], pointer, "{p}");
    }
    for (r, parameter) in [
        (app.book(Some(&token), "abc", "C15-1").await, "slot_id"),
        (app.book(Some(&token), "0", "C15-1").await, "slot_id"),
        (app.cancel_booking(Some(&token), "x").await, "booking_id"),
        (app.get("/bookings/-3", Some(&token)).await, "booking_id"),
    ] {
        let p = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(only_error(&p)["parameter"], parameter, "{p}");
    }
    // Nothing was booked.
    let page: Value = app
        .search_slots(Some(&token), "insee=54395")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(slot_ids(&page).len(), 4);
}

async fn unknown_slots_and_bookings_are_404_and_ended_slots_409(app: Arc<TestApp>) {
    let ids = seed(&app).await;
    let token = app.token(Role::Regulateur, None).await;
    for r in [
        app.book(Some(&token), "999999", "C15-1").await,
        app.get("/bookings/999999", Some(&token)).await,
        app.cancel_booking(Some(&token), "999999").await,
    ] {
        assert_problem(r, StatusCode::NOT_FOUND, "/problems/not-found").await;
    }
    // Slot 5 started an hour ago and ended 45 minutes ago.
    let r = app.book(Some(&token), &ids[5].to_string(), "C15-1").await;
    assert_problem(r, StatusCode::CONFLICT, "/problems/slot-ended").await;
}

//! Bookings a régulateur can trust (issue 15): `Idempotency-Key` on booking and cancelling,
//! `GET /bookings`, ids that are not sequential.

use crate::helpers::{TestApp, assert_problem, both_backends};
use crate::slots::{in_minutes, seed_plan, seed_slots, store_cabinet};
use cpts::domain::Role;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

both_backends!(
    a_retried_booking_with_its_key_gets_the_first_answer,
    concurrent_retries_with_one_key_book_once,
    a_retried_cancellation_with_its_key_gets_the_first_answer,
    bookings_are_listed_by_patient_and_ids_are_not_sequential,
);

async fn slots(app: &TestApp, n: usize) -> Vec<i64> {
    store_cabinet(app, "NANCY-1", 48.6921, 6.1844).await;
    seed_plan(app, "plan-1", true).await;
    let rows: Vec<(&str, &str, i64)> = (0..n)
        .map(|i| ("NANCY-1", "10000000009", in_minutes(60 + 15 * i as i64)))
        .collect();
    seed_slots(app, "plan-1", &rows).await
}

impl TestApp {
    async fn book_with_key(&self, token: &str, slot: i64, patient: &str, key: &str) -> Response {
        self.request(
            Method::POST,
            &format!("/slots/{slot}/bookings"),
            Some(token),
        )
        .header("idempotency-key", key)
        .json(&json!({ "patient_ref": patient }))
        .send()
        .await
        .unwrap()
    }

    async fn cancel_with_key(&self, token: &str, booking: i64, key: &str) -> Response {
        self.request(Method::DELETE, &format!("/bookings/{booking}"), Some(token))
            .header("idempotency-key", key)
            .send()
            .await
            .unwrap()
    }

    async fn active_bookings(&self, slot: i64) -> i64 {
        let rows = self
            .store
            .bookings(None, None, 0, i64::MAX, 1000, 0)
            .await
            .unwrap();
        rows.iter()
            .filter(|b| b.slot.id == slot && b.cancelled_at.is_none())
            .count() as i64
    }
}

async fn a_retried_booking_with_its_key_gets_the_first_answer(app: Arc<TestApp>) {
    let ids = slots(&app, 2).await;
    let token = app.token(Role::Regulateur, None).await;
    let first = app.book_with_key(&token, ids[0], "C15-1", "k-1").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    let first: Value = first.json().await.unwrap();
    // The answer was lost; the régulateur sends it again: the same booking, not a 409.
    let again = app.book_with_key(&token, ids[0], "C15-1", "k-1").await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"].to_str().unwrap(), location);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first);
    assert_eq!(app.active_bookings(ids[0]).await, 1);
    // The same key for another request: 422, nothing booked.
    let other = app.book_with_key(&token, ids[1], "C15-1", "k-1").await;
    let p = assert_problem(
        other,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(p["errors"][0]["parameter"], "Idempotency-Key", "{p}");
    assert_eq!(app.active_bookings(ids[1]).await, 0);
    // Keys are per token: another régulateur's k-1 is its own (and the slot is taken).
    let colleague = app.token(Role::Regulateur, None).await;
    let r = app.book_with_key(&colleague, ids[0], "C15-1", "k-1").await;
    assert_problem(r, StatusCode::CONFLICT, "/problems/slot-taken").await;
}

async fn concurrent_retries_with_one_key_book_once(app: Arc<TestApp>) {
    let ids = slots(&app, 1).await;
    let token = app.token(Role::Regulateur, None).await;
    let (a, b, c) = tokio::join!(
        app.book_with_key(&token, ids[0], "C15-9", "same"),
        app.book_with_key(&token, ids[0], "C15-9", "same"),
        app.book_with_key(&token, ids[0], "C15-9", "same"),
    );
    let mut created = 0;
    for r in [a, b, c] {
        match r.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                let p = assert_problem(r, StatusCode::CONFLICT, "/problems/conflict").await;
                assert!(
                    p["detail"].as_str().unwrap().contains("still running"),
                    "{p}"
                );
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(created >= 1);
    assert_eq!(app.active_bookings(ids[0]).await, 1);
}

async fn a_retried_cancellation_with_its_key_gets_the_first_answer(app: Arc<TestApp>) {
    let ids = slots(&app, 1).await;
    let token = app.token(Role::Regulateur, None).await;
    let booked: Value = app
        .book_with_key(&token, ids[0], "C15-2", "b-1")
        .await
        .json()
        .await
        .unwrap();
    let id = booked["booking_id"].as_i64().unwrap();
    let first = app.cancel_with_key(&token, id, "c-1").await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    let again = app.cancel_with_key(&token, id, "c-1").await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    // Without the key, a second cancellation says what happened.
    let r = app.cancel_booking(Some(&token), &id.to_string()).await;
    assert_problem(r, StatusCode::CONFLICT, "/problems/already-cancelled").await;
}

async fn bookings_are_listed_by_patient_and_ids_are_not_sequential(app: Arc<TestApp>) {
    let ids = slots(&app, 3).await;
    let token = app.token(Role::Regulateur, None).await;
    let mut booking_ids = Vec::new();
    for (slot, patient) in [(ids[0], "P-A"), (ids[1], "P-B"), (ids[2], "P-A")] {
        let r = app.book(Some(&token), &slot.to_string(), patient).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let b: Value = r.json().await.unwrap();
        booking_ids.push(b["booking_id"].as_i64().unwrap());
    }
    assert!(
        booking_ids.windows(2).any(|w| w[1] != w[0] + 1),
        "sequential ids: {booking_ids:?}"
    );
    let page: Value = app
        .get("/bookings?patient_ref=P-A", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    assert!(items.iter().all(|b| b["patient_ref"] == "P-A"));
    let page: Value = app
        .get("/bookings?limit=2", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["next"], 2);
    let r = app.get("/bookings?from=yesterday", Some(&token)).await;
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(p["errors"][0]["parameter"], "from");
    let cpam = app.token(Role::Cpam, None).await;
    assert_eq!(
        app.get("/bookings", Some(&cpam)).await.status(),
        StatusCode::FORBIDDEN
    );
}

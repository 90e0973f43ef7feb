//! `POST|DELETE /slots/{slot_id}/hold`, holds seen in searches and bookings, `GET
//! /slots/events` (Server-Sent Events, with `Last-Event-ID`), and the per-token rate limit.
//!
//! Holds, events and the rate limit live in Redis: without `TEST_REDIS_URL` (locally) these
//! tests say they skip; with `CI=true` the app refuses to start without it.

use crate::helpers::{TestApp, assert_problem, both_backends_with};
use crate::slots::{in_minutes, seed_plan, seed_slots, store_cabinet};
use cpts::config::Config;
use cpts::domain::Role;
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

both_backends_with!(
    default_config;
    a_hold_keeps_a_slot_for_its_holder_only_until_booked,
    a_released_hold_frees_the_slot_for_everyone,
    listeners_hear_changes_in_their_area_and_resume_after_last_event_id,
);
both_backends_with!(one_second_holds; a_hold_expires_and_listeners_hear_it);
both_backends_with!(without_redis; without_redis_holds_and_events_are_503_and_bookings_work);
both_backends_with!(three_requests_a_minute; past_the_limit_a_token_gets_429_with_retry_after);

fn default_config(_: &mut Config) {}

fn one_second_holds(c: &mut Config) {
    c.hold_seconds = 1;
}

fn without_redis(c: &mut Config) {
    c.redis_url = None;
}

fn three_requests_a_minute(c: &mut Config) {
    c.rate_limit = 3;
}

impl TestApp {
    /// `POST /slots/{slot}/hold`.
    pub async fn hold(&self, token: Option<&str>, slot: i64) -> Response {
        self.request(Method::POST, &format!("/slots/{slot}/hold"), token)
            .send()
            .await
            .unwrap()
    }

    /// `DELETE /slots/{slot}/hold`.
    pub async fn release(&self, token: Option<&str>, slot: i64) -> Response {
        self.request(Method::DELETE, &format!("/slots/{slot}/hold"), token)
            .send()
            .await
            .unwrap()
    }

    /// `GET /slots/events?{query}`, with `Last-Event-ID` when given.
    pub async fn slot_events(
        &self,
        token: Option<&str>,
        query: &str,
        last_event_id: Option<&str>,
    ) -> Response {
        let mut r = self.request(Method::GET, &format!("/slots/events?{query}"), token);
        if let Some(id) = last_event_id {
            r = r.header("Last-Event-ID", id);
        }
        r.send().await.unwrap()
    }
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub id: String,
    pub event: String,
    pub data: Value,
}

/// Reads the events of an open `text/event-stream` response.
pub struct SseReader {
    response: Response,
    buffer: String,
}

impl SseReader {
    pub fn new(response: Response) -> Self {
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (comments skipped), or `None` when none comes within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if !event.is_empty() {
                    return Some(Sse {
                        id,
                        event,
                        data: serde_json::from_str(&data).unwrap(),
                    });
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event, which must come within 5 s.
    pub async fn expect(&mut self) -> Sse {
        self.next(Duration::from_secs(5))
            .await
            .expect("an event within 5 s")
    }
}

/// Two cabinets: NANCY-1, near Place Stanislas, and PONT-A-MOUSSON, 26 km away; two slots at
/// each, in an hour.
async fn seed(app: &TestApp) -> Vec<i64> {
    store_cabinet(app, "NANCY-1", 48.6921, 6.1844).await;
    store_cabinet(app, "PONT-A-MOUSSON", 48.9050, 6.0550).await;
    seed_plan(app, "plan-1", true).await;
    let (a, b) = ("10000000009", "10123456781");
    seed_slots(
        app,
        "plan-1",
        &[
            ("NANCY-1", a, in_minutes(60)),
            ("NANCY-1", b, in_minutes(60)),
            ("PONT-A-MOUSSON", a, in_minutes(60)),
            ("PONT-A-MOUSSON", b, in_minutes(60)),
        ],
    )
    .await
}

const NEAR_NANCY: &str = "lat=48.6936&lon=6.1832&radius_km=10";

/// `held` and `held_by_you` of `slot` in `token`'s search near Nancy.
async fn seen_as(app: &TestApp, token: &str, slot: i64) -> (bool, bool) {
    let r = app.search_slots(Some(token), NEAR_NANCY).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page: Value = r.json().await.unwrap();
    let item = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["slot_id"] == slot)
        .unwrap_or_else(|| panic!("slot {slot} is not in {page}"));
    (
        item["held"].as_bool().unwrap(),
        item["held_by_you"].as_bool().unwrap(),
    )
}

async fn a_hold_keeps_a_slot_for_its_holder_only_until_booked(app: Arc<TestApp>) {
    if !app.has_redis() {
        eprintln!("skipping: holds need TEST_REDIS_URL");
        return;
    }
    let ids = seed(&app).await;
    let (alice, bob) = (
        app.token(Role::Regulateur, None).await,
        app.token(Role::Regulateur, None).await,
    );
    let slot = ids[0];

    let r = app.hold(Some(&alice), slot).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["location"], format!("/slots/{slot}/hold"));
    let hold: Value = r.json().await.unwrap();
    assert_eq!(hold["slot_id"], slot);
    assert_eq!(hold["renewed"], false);
    assert!(hold["expires_at"].as_str().unwrap().ends_with('Z'));

    // Everyone sees it held; only Alice as hers.
    assert_eq!(seen_as(&app, &alice, slot).await, (true, true));
    assert_eq!(seen_as(&app, &bob, slot).await, (true, false));
    assert_eq!(seen_as(&app, &bob, ids[1]).await, (false, false));

    // Bob can neither hold, book nor release it.
    assert_problem(
        app.hold(Some(&bob), slot).await,
        StatusCode::CONFLICT,
        "/problems/slot-held",
    )
    .await;
    assert_problem(
        app.book(Some(&bob), &slot.to_string(), "P-BOB").await,
        StatusCode::CONFLICT,
        "/problems/slot-held",
    )
    .await;
    assert_problem(
        app.release(Some(&bob), slot).await,
        StatusCode::CONFLICT,
        "/problems/slot-held",
    )
    .await;

    // Alice renews it, then books it; the booking ends the hold.
    let r = app.hold(Some(&alice), slot).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["renewed"], true);
    let r = app.book(Some(&alice), &slot.to_string(), "P-ALICE").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let booking: Value = r.json().await.unwrap();
    assert_problem(
        app.release(Some(&alice), slot).await,
        StatusCode::NOT_FOUND,
        "/problems/not-found",
    )
    .await;
    // Booked now: no hold for anyone.
    assert_problem(
        app.hold(Some(&bob), slot).await,
        StatusCode::CONFLICT,
        "/problems/slot-taken",
    )
    .await;
    let stored = app
        .store
        .booking(booking["booking_id"].as_i64().unwrap(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.slot.id, slot);
    assert_eq!(stored.patient_ref.as_str(), "P-ALICE");

    // Other refusals: unknown slot, ended slot, wrong role, no token.
    assert_problem(
        app.hold(Some(&alice), 999_999).await,
        StatusCode::NOT_FOUND,
        "/problems/not-found",
    )
    .await;
    let cpam = app.token(Role::Cpam, None).await;
    assert_problem(
        app.hold(Some(&cpam), ids[1]).await,
        StatusCode::FORBIDDEN,
        "/problems/forbidden",
    )
    .await;
    assert_problem(
        app.hold(None, ids[1]).await,
        StatusCode::UNAUTHORIZED,
        "/problems/unauthenticated",
    )
    .await;
    let body = assert_problem(
        app.request(Method::POST, "/slots/x/hold", Some(&alice))
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(body["errors"][0]["parameter"], "slot_id");
}

async fn a_released_hold_frees_the_slot_for_everyone(app: Arc<TestApp>) {
    if !app.has_redis() {
        eprintln!("skipping: holds need TEST_REDIS_URL");
        return;
    }
    let ids = seed(&app).await;
    let (alice, bob) = (
        app.token(Role::Regulateur, None).await,
        app.token(Role::Regulateur, None).await,
    );
    assert_eq!(
        app.hold(Some(&alice), ids[1]).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.release(Some(&alice), ids[1]).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(seen_as(&app, &bob, ids[1]).await, (false, false));
    assert_eq!(
        app.hold(Some(&bob), ids[1]).await.status(),
        StatusCode::CREATED
    );
    // A booking without a hold is refused while Bob holds the slot, then goes through once
    // he has released it.
    assert_problem(
        app.book(Some(&alice), &ids[1].to_string(), "P-1").await,
        StatusCode::CONFLICT,
        "/problems/slot-held",
    )
    .await;
    assert_eq!(
        app.release(Some(&bob), ids[1]).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.book(Some(&alice), &ids[1].to_string(), "P-1")
            .await
            .status(),
        StatusCode::CREATED
    );
    // A booking without a hold leaves no hold behind.
    assert_problem(
        app.release(Some(&alice), ids[1]).await,
        StatusCode::NOT_FOUND,
        "/problems/not-found",
    )
    .await;
}

async fn a_hold_expires_and_listeners_hear_it(app: Arc<TestApp>) {
    if !app.has_redis() {
        eprintln!("skipping: holds need TEST_REDIS_URL");
        return;
    }
    let ids = seed(&app).await;
    let (alice, bob) = (
        app.token(Role::Regulateur, None).await,
        app.token(Role::Regulateur, None).await,
    );
    let mut events = SseReader::new(app.slot_events(Some(&bob), NEAR_NANCY, None).await);
    assert_eq!(events.expect().await.event, "ready");
    assert_eq!(
        app.hold(Some(&alice), ids[0]).await.status(),
        StatusCode::CREATED
    );
    assert_problem(
        app.hold(Some(&bob), ids[0]).await,
        StatusCode::CONFLICT,
        "/problems/slot-held",
    )
    .await;
    let held = events.expect().await;
    assert_eq!(
        (held.event.as_str(), &held.data["slot_id"]),
        ("held", &ids[0].into())
    );
    // One second later the hold is gone: its event says so, and Bob may hold the slot.
    let expired = events.expect().await;
    assert_eq!(expired.event, "released");
    assert_eq!(expired.data["reason"], "expired");
    assert_eq!(expired.data["slot_id"], ids[0]);
    assert_eq!(seen_as(&app, &bob, ids[0]).await, (false, false));
    assert_eq!(
        app.hold(Some(&bob), ids[0]).await.status(),
        StatusCode::CREATED
    );
    assert_problem(
        app.release(Some(&alice), ids[0]).await,
        StatusCode::CONFLICT,
        "/problems/slot-held",
    )
    .await;
}

async fn listeners_hear_changes_in_their_area_and_resume_after_last_event_id(app: Arc<TestApp>) {
    if !app.has_redis() {
        eprintln!("skipping: events need TEST_REDIS_URL");
        return;
    }
    let ids = seed(&app).await;
    let alice = app.token(Role::Regulateur, None).await;
    let listener = app.token(Role::Regulateur, None).await;
    let mut events = SseReader::new(app.slot_events(Some(&listener), NEAR_NANCY, None).await);
    let ready = events.expect().await;
    assert_eq!(ready.event, "ready");

    // Pont-à-Mousson is outside the 10 km area: its hold is not heard.
    assert_eq!(
        app.hold(Some(&alice), ids[2]).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.hold(Some(&alice), ids[0]).await.status(),
        StatusCode::CREATED
    );
    let held = events.expect().await;
    assert_eq!(held.event, "held");
    assert_eq!(held.data["slot_id"], ids[0]);
    assert_eq!(held.data["cabinet_id"], "NANCY-1");
    assert!(held.data["held_until"].is_string());
    assert!(held.data.get("patient_ref").is_none());

    let r = app.book(Some(&alice), &ids[0].to_string(), "P-1").await;
    let booking = r.json::<Value>().await.unwrap()["booking_id"].clone();
    let booked = events.expect().await;
    assert_eq!(
        (booked.event.as_str(), &booked.data["booking_id"]),
        ("booked", &booking)
    );
    assert!(
        booked.data.get("patient_ref").is_none(),
        "{:?}",
        booked.data
    );
    let last_seen = booked.id.clone();
    drop(events);

    // While the listener is away: a cancellation and a hold released.
    assert_eq!(
        app.cancel_booking(Some(&alice), &booking.to_string())
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.hold(Some(&alice), ids[1]).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.release(Some(&alice), ids[1]).await.status(),
        StatusCode::NO_CONTENT
    );

    // Back with Last-Event-ID: the missed events, in order, then live ones.
    let mut events = SseReader::new(
        app.slot_events(Some(&listener), NEAR_NANCY, Some(&last_seen))
            .await,
    );
    assert_eq!(events.expect().await.event, "ready");
    let missed: Vec<(String, Value)> = [
        events.expect().await,
        events.expect().await,
        events.expect().await,
    ]
    .into_iter()
    .map(|e| (e.event, e.data["slot_id"].clone()))
    .collect();
    assert_eq!(
        missed,
        [
            ("freed".to_owned(), ids[0].into()),
            ("held".to_owned(), ids[1].into()),
            ("released".to_owned(), ids[1].into()),
        ]
    );
    assert_eq!(
        app.hold(Some(&alice), ids[1]).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(events.expect().await.event, "held");
    assert!(events.next(Duration::from_millis(300)).await.is_none());

    // A listener names its area; a médecin may not listen; a bad id is a 422.
    let body = assert_problem(
        app.slot_events(Some(&listener), "radius_km=5", None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(body["errors"][0]["parameter"], "lat");
    assert_problem(
        app.slot_events(Some(&listener), NEAR_NANCY, Some("yesterday"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    let cpam = app.token(Role::Cpam, None).await;
    assert_problem(
        app.slot_events(Some(&cpam), NEAR_NANCY, None).await,
        StatusCode::FORBIDDEN,
        "/problems/forbidden",
    )
    .await;
    // A coordinator may listen, by commune.
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let mut events = SseReader::new(
        app.slot_events(Some(&coordinateur), "insee=54395&radius_km=5", None)
            .await,
    );
    assert_eq!(events.expect().await.event, "ready");
}

async fn without_redis_holds_and_events_are_503_and_bookings_work(app: Arc<TestApp>) {
    let ids = seed(&app).await;
    let token = app.token(Role::Regulateur, None).await;
    assert_problem(
        app.hold(Some(&token), ids[0]).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "/problems/needs-redis",
    )
    .await;
    assert_problem(
        app.slot_events(Some(&token), NEAR_NANCY, None).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "/problems/needs-redis",
    )
    .await;
    assert_eq!(seen_as(&app, &token, ids[0]).await, (false, false));
    assert_eq!(
        app.book(Some(&token), &ids[0].to_string(), "P-1")
            .await
            .status(),
        StatusCode::CREATED
    );
}

async fn past_the_limit_a_token_gets_429_with_retry_after(app: Arc<TestApp>) {
    if !app.has_redis() {
        eprintln!("skipping: the rate limit needs TEST_REDIS_URL");
        return;
    }
    let (alice, bob) = (
        app.token(Role::Regulateur, None).await,
        app.token(Role::Regulateur, None).await,
    );
    for _ in 0..3 {
        let r = app.search_slots(Some(&alice), NEAR_NANCY).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = app.search_slots(Some(&alice), NEAR_NANCY).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS, "/problems/rate-limited").await;
    // Another token has its own allowance; requests without a token are not counted.
    assert_eq!(
        app.search_slots(Some(&bob), NEAR_NANCY).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.search_slots(None, NEAR_NANCY).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

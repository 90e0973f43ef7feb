//! The slot board (`slots::board`) in a running server: searches read it instead of the
//! database, so it must give the database's answer, and hear of the bookings made elsewhere.
//! Its index, loads and staleness also have unit tests without axum, in `src/slots/board/`.

use crate::helpers::{TestApp, both_backends, both_backends_with};
use crate::holds::SseReader;
use crate::slots::{NANCY, in_minutes, seed_plan, seed_slots, slot_ids, store_cabinet};
use cpts::cache::EventKind;
use cpts::config::Config;
use cpts::domain::Role;
use cpts::geo::Coordinates;
use cpts::slots::{self as room, HORIZON_DAYS, LOOKBACK_SECONDS, SlotQuery, Snapshot};
use cpts::store::{BookOutcome, CancelOutcome};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

both_backends!(the_board_and_the_database_give_the_same_pages);
both_backends_with!(
    loaded_once_an_hour;
    bookings_heard_on_the_slot_stream_reach_the_board,
    a_cabinet_changed_elsewhere_reaches_the_board,
);
both_backends_with!(
    loaded_every_second_without_redis;
    without_redis_the_periodic_load_shows_other_processes_bookings
);

fn loaded_once_an_hour(c: &mut Config) {
    c.slot_board_seconds = 3600;
}

fn loaded_every_second_without_redis(c: &mut Config) {
    c.redis_url = None;
    c.slot_board_seconds = 1;
}

fn patient(k: usize) -> cpts::domain::PatientId {
    format!("P-{k}").parse().unwrap()
}

/// 20 cabinets around Nancy, up to 2,400 slots over four days, a third of them booked (some
/// cancelled, some of those booked again); 300 random searches, read from a snapshot loaded as
/// the board loads it and from the database, give the same settled pages.
async fn the_board_and_the_database_give_the_same_pages(app: Arc<TestApp>) {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    for c in 0..20 {
        let lat = NANCY.0 + rng.random_range(-0.25..0.25);
        let lon = NANCY.1 + rng.random_range(-0.35..0.35);
        store_cabinet(&app, &format!("CAB-{c:02}"), lat, lon).await;
    }
    seed_plan(&app, "p", true).await;
    let names: Vec<String> = (0..20).map(|c| format!("CAB-{c:02}")).collect();
    let doctors = ["10000000009", "10123456781"];
    let mut wanted = BTreeSet::new();
    for _ in 0..2400 {
        wanted.insert((
            rng.random_range(0..20usize),
            rng.random_range(0..2usize),
            in_minutes(15 * rng.random_range(-8..384i64)),
        ));
    }
    let slots: Vec<(&str, &str, i64)> = wanted
        .iter()
        .map(|&(c, d, s)| (names[c].as_str(), doctors[d], s))
        .collect();
    let ids = seed_slots(&app, "p", &slots).await;

    let token = app.token(Role::Regulateur, None).await;
    let by = cpts::tokens::id_of(&token).unwrap().to_owned();
    let mut booked = 0;
    for (k, &id) in ids.iter().enumerate() {
        if !rng.random_bool(0.35) {
            continue;
        }
        let BookOutcome::Booked(b) = app
            .store
            .book_slot(id, &patient(k), &by, "dep:54")
            .await
            .unwrap()
        else {
            continue; // ended slots stay free
        };
        booked += 1;
        if rng.random_bool(0.3) {
            let r = app.store.cancel_booking(b.id, &by, None).await.unwrap();
            assert!(matches!(r, CancelOutcome::Cancelled(_)));
            if rng.random_bool(0.5) {
                app.store
                    .book_slot(id, &patient(k), &by, "dep:54")
                    .await
                    .unwrap();
            }
        }
    }
    assert!(booked > 500, "{booked} bookings");

    let now = chrono::Utc::now().timestamp();
    let (from, to) = (now - LOOKBACK_SECONDS, now + HORIZON_DAYS * 86_400);
    let cabinets = app.store.cabinets(None).await.unwrap();
    let rows = app.store.board_slots(from, to).await.unwrap();
    let snapshot = Snapshot::new(
        from,
        to,
        cabinets.into_iter().map(|c| (c.id, c.name, c.coords)),
        rows,
    );
    assert_eq!(snapshot.len(), ids.len());
    app.load_board().await;

    let mut nonempty = 0;
    let mut through_the_server = 0;
    for _ in 0..300 {
        let start = now + 60 * rng.random_range(-180..72 * 60i64);
        let q = SlotQuery {
            from: start,
            to: start + 60 * rng.random_range(15..72 * 60i64),
            center: Coordinates::new(
                NANCY.0 + rng.random_range(-0.3..0.3),
                NANCY.1 + rng.random_range(-0.4..0.4),
            )
            .unwrap(),
            radius_m: 1000.0 * rng.random_range(0.3..40.0),
            need: rng.random_range(0..40usize) + rng.random_range(1..60usize) + 1,
        };
        assert!(snapshot.covers(&q));
        let memory = room::settle(snapshot.search(&q), q.need);
        let database = room::settle(
            room::search_in_database(&app.store, &q).await.unwrap(),
            q.need,
        );
        assert_eq!(memory, database, "{q:?}");
        if let Some(found) = app.board.as_ref().and_then(|b| b.search(&q)) {
            assert_eq!(room::settle(found, q.need), database, "{q:?}");
            through_the_server += 1;
        }
        nonempty += usize::from(!database.is_empty());
    }
    assert!(nonempty > 200, "only {nonempty} searches found slots");
    assert!(
        through_the_server > 0,
        "the server's board answered no search"
    );
}

/// Slot ids of a search around Nancy.
async fn listed(app: &TestApp, token: &str) -> Vec<i64> {
    let page: Value = app
        .search_slots(Some(token), &format!("lat={}&lon={}", NANCY.0, NANCY.1))
        .await
        .json()
        .await
        .unwrap();
    slot_ids(&page)
}

/// Polls `listed` until `test` holds, for at most `within`; panics with `what` otherwise.
async fn eventually(
    app: &TestApp,
    token: &str,
    within: Duration,
    what: &str,
    test: impl Fn(&[i64]) -> bool,
) {
    let deadline = Instant::now() + within;
    loop {
        let ids = listed(app, token).await;
        if test(&ids) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Another process books and cancels (the database, then its event on the slot stream): this
/// server's board, loaded only once an hour here, follows within a second. An event alone
/// (no such booking in the database) shows that the board, not the database, answered.
async fn bookings_heard_on_the_slot_stream_reach_the_board(app: Arc<TestApp>) {
    let Some(cache) = app.cache() else {
        return; // with CI=true, TestApp refuses to start without Redis
    };
    store_cabinet(&app, "NANCY-1", 48.6921, 6.1844).await;
    seed_plan(&app, "p", true).await;
    let ids = seed_slots(
        &app,
        "p",
        &[
            ("NANCY-1", "10000000009", in_minutes(60)),
            ("NANCY-1", "10000000009", in_minutes(90)),
        ],
    )
    .await;
    let (a, b) = (ids[0], ids[1]);
    let token = app.token(Role::Regulateur, None).await;
    let by = cpts::tokens::id_of(&token).unwrap().to_owned();
    let second = Duration::from_secs(1);

    let BookOutcome::Booked(booking) = app
        .store
        .book_slot(a, &patient(1), &by, "dep:54")
        .await
        .unwrap()
    else {
        panic!("not booked");
    };
    let event =
        |slot: i64, booking: i64| json!({"slot_id": slot, "booking_id": booking}).to_string();
    cache
        .append_event(EventKind::Booked, &event(a, booking.id))
        .await
        .unwrap();
    eventually(
        &app,
        &token,
        second,
        "booked elsewhere, still listed",
        |l| !l.contains(&a) && l.contains(&b),
    )
    .await;
    app.store
        .cancel_booking(booking.id, &by, None)
        .await
        .unwrap();
    cache
        .append_event(EventKind::Freed, &event(a, booking.id))
        .await
        .unwrap();
    eventually(&app, &token, second, "freed elsewhere, not listed", |l| {
        l.contains(&a)
    })
    .await;

    // An event the database knows nothing of: only the board can hide the slot.
    cache
        .append_event(EventKind::Booked, &event(b, booking.id + 1000))
        .await
        .unwrap();
    eventually(
        &app,
        &token,
        second,
        "the board did not hear the event",
        |l| !l.contains(&b),
    )
    .await;
    // An older booking's late event changes nothing.
    cache
        .append_event(EventKind::Freed, &event(b, booking.id + 999))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!listed(&app, &token).await.contains(&b));
}

/// Without Redis, another process's booking and cancellation show after the next load.
async fn without_redis_the_periodic_load_shows_other_processes_bookings(app: Arc<TestApp>) {
    store_cabinet(&app, "NANCY-1", 48.6921, 6.1844).await;
    seed_plan(&app, "p", true).await;
    let ids = seed_slots(&app, "p", &[("NANCY-1", "10000000009", in_minutes(60))]).await;
    let token = app.token(Role::Regulateur, None).await;
    let by = cpts::tokens::id_of(&token).unwrap().to_owned();
    let BookOutcome::Booked(booking) = app
        .store
        .book_slot(ids[0], &patient(1), &by, "dep:54")
        .await
        .unwrap()
    else {
        panic!("not booked");
    };
    let within = Duration::from_secs(3);
    eventually(
        &app,
        &token,
        within,
        "booked elsewhere, still listed",
        |l| l.is_empty(),
    )
    .await;
    app.store
        .cancel_booking(booking.id, &by, None)
        .await
        .unwrap();
    eventually(&app, &token, within, "freed elsewhere, not listed", |l| {
        l == [ids[0]]
    })
    .await;
}

/// Another process renames and moves a cabinet (the database, then its event): this server's
/// board, loaded only once an hour here, shows the change within a second; a listener of
/// `/slots/events` does not hear that event.
async fn a_cabinet_changed_elsewhere_reaches_the_board(app: Arc<TestApp>) {
    let Some(cache) = app.cache() else {
        return;
    };
    store_cabinet(&app, "NANCY-1", 48.6921, 6.1844).await;
    seed_plan(&app, "p", true).await;
    let ids = seed_slots(&app, "p", &[("NANCY-1", "10000000009", in_minutes(60))]).await;
    let token = app.token(Role::Regulateur, None).await;
    let near = format!("lat={}&lon={}", NANCY.0, NANCY.1);
    let mut events = SseReader::new(app.slot_events(Some(&token), &near, None).await);
    assert_eq!(events.expect().await.event, "ready");
    let first: Value = app
        .search_slots(Some(&token), &near)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["items"][0]["cabinet"]["name"], "Cabinet NANCY-1");

    let mut row = app
        .store
        .cabinet(&"NANCY-1".parse().unwrap(), None)
        .await
        .unwrap()
        .unwrap();
    // Its name only: a cabinet with slots still to come keeps its place (issue 15).
    row.name = "Maison médicale de garde".to_owned();
    assert_eq!(
        app.store.update_cabinet(&row, None).await.unwrap(),
        cpts::store::CabinetUpdate::Updated
    );
    cache
        .append_event(
            EventKind::CabinetChanged,
            &json!({"cabinet_id": "NANCY-1"}).to_string(),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let page: Value = app
            .search_slots(Some(&token), &near)
            .await
            .json()
            .await
            .unwrap();
        let cabinet = &page["items"][0]["cabinet"];
        if cabinet["name"] == "Maison médicale de garde" {
            assert_eq!(cabinet["lat"], 48.6921);
            break;
        }
        assert!(Instant::now() < deadline, "still {cabinet}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The listener's next event is the hold made after the change, not the change.
    assert_eq!(
        app.hold(Some(&token), ids[0]).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(events.expect().await.event, "held");
}

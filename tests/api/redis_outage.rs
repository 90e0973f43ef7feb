//! Redis is an accelerator, not a dependency: with the test's own Redis SIGKILLed, searches
//! (from the slot board, reloaded every second meanwhile) and bookings (the database) answer,
//! holds and events answer 503 `needs-redis`, and another process's booking shows within about
//! a second; once Redis is back, holds work again and the board is right.

use crate::helpers::{Backend, TestApp, assert_problem};
use crate::own_redis::{self, OwnRedis};
use crate::slots::{in_minutes, seed_plan, seed_slots, slot_ids, store_cabinet};
use cpts::config::Secret;
use cpts::domain::Role;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant};

const NEAR_NANCY: &str = "lat=48.6936&lon=6.1832&radius_km=10";

#[tokio::test]
async fn sqlite() {
    outage(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres() {
    outage(Backend::Postgres).await;
}

/// The free slot ids of a search near Nancy (which must answer 200).
async fn free(app: &TestApp, token: &str) -> Vec<i64> {
    let r = app.search_slots(Some(token), NEAR_NANCY).await;
    assert_eq!(r.status(), StatusCode::OK);
    slot_ids(&r.json::<Value>().await.unwrap())
}

/// The free slot ids the board itself gives near Nancy over the next day, sorted; `None` when
/// it cannot answer (then a search would read the database).
fn board_free(app: &TestApp) -> Option<Vec<i64>> {
    let board = app.board.as_ref().expect("the server has a board");
    let q = cpts::slots::SlotQuery {
        from: in_minutes(0),
        to: in_minutes(24 * 60),
        center: cpts::geo::Coordinates::new(48.6936, 6.1832).unwrap(),
        radius_m: 10_000.0,
        need: 10,
    };
    board.search(&q).map(|found| {
        let mut got: Vec<i64> = found.into_iter().map(|(_, f)| f.slot.id).collect();
        got.sort_unstable();
        got
    })
}

/// Polls `check` every 50 ms until it holds, for at most 20 s (a generous bound, not a
/// timing assertion); returns how long it took.
async fn eventually<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(20) {
        if check().await {
            return began.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within 20 s");
}

async fn outage(backend: Backend) {
    if !own_redis::available() {
        return;
    }
    let mut redis = OwnRedis::start();
    let url = redis.url();
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.redis_url = Some(Secret::new(url));
        // No periodic load comes to the rescue: only the outage's reloads (every second) and
        // Redis's return reload the board.
        c.slot_board_seconds = 3600;
    })
    .await
    else {
        return;
    };
    store_cabinet(&app, "NANCY-1", 48.6921, 6.1844).await;
    seed_plan(&app, "plan-1", true).await;
    let (a, b) = ("10000000009", "10123456781");
    let ids = seed_slots(
        &app,
        "plan-1",
        &[
            ("NANCY-1", a, in_minutes(60)),
            ("NANCY-1", b, in_minutes(60)),
            ("NANCY-1", a, in_minutes(75)),
            ("NANCY-1", b, in_minutes(75)),
        ],
    )
    .await;
    let token = app.token(Role::Regulateur, None).await;
    assert_eq!(
        app.hold(Some(&token), ids[0]).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(free(&app, &token).await, ids);

    redis.kill();
    // The first request to meet the dead Redis opens the circuit; every one answers.
    let began = Instant::now();
    assert_eq!(free(&app, &token).await, ids);
    let r = app
        .book(Some(&token), &ids[1].to_string(), "P-OUTAGE")
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "booked from the database");
    let booking_ms = began.elapsed().as_millis();
    let began = Instant::now();
    assert_problem(
        app.hold(Some(&token), ids[2]).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "/problems/needs-redis",
    )
    .await;
    let hold_ms = began.elapsed().as_millis();
    assert_problem(
        app.slot_events(Some(&token), NEAR_NANCY, None).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "/problems/needs-redis",
    )
    .await;
    // The same slot twice: the database's unique index still decides.
    let r = app.book(Some(&token), &ids[1].to_string(), "P-OTHER").await;
    assert_problem(r, StatusCode::CONFLICT, "/problems/slot-taken").await;
    // Another process books during the outage: its announcement is lost with Redis.
    let elsewhere = app.token(Role::Regulateur, None).await;
    let other = app
        .store
        .book_slot(
            ids[3],
            &"P-ELSEWHERE".parse().unwrap(),
            cpts::tokens::id_of(&elsewhere).unwrap(),
            "dep:54",
        )
        .await
        .unwrap();
    assert!(matches!(other, cpts::store::BookOutcome::Booked(_)));
    // The board still answers, and its outage reloads bring the other process's booking.
    let seen = eventually("the other process's booking on the board", || async {
        board_free(&app).is_some_and(|got| got == [ids[0], ids[2]])
    })
    .await;
    assert_eq!(free(&app, &token).await, [ids[0], ids[2]]);
    eprintln!(
        "Redis down: search+booking {booking_ms} ms, hold 503 {hold_ms} ms, \
         another process's booking on the board after {} ms",
        seen.as_millis()
    );

    redis.restart();
    let back = eventually("a hold after Redis's return", || async {
        app.hold(Some(&token), ids[2]).await.status() == StatusCode::CREATED
    })
    .await;
    // The board (not the database: Redis is up) answers, with the outage's bookings.
    let reloaded = eventually("the board after Redis's return", || async {
        board_free(&app).is_some_and(|got| got == [ids[0], ids[2]])
    })
    .await;
    assert_eq!(free(&app, &token).await, [ids[0], ids[2]]);
    eprintln!(
        "Redis back: holds after {} ms, board reloaded after {} ms",
        back.as_millis(),
        reloaded.as_millis()
    );
    app.teardown().await;
}

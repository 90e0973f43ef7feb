//! `POST|GET /doctors/{rpps}/availability`, `DELETE /doctors/{rpps}/availability/{id}`,
//! `PUT /doctors/{rpps}/garde`.

use crate::helpers::{TestApp, assert_problem, both_backends, only_error};
use crate::slots::{seed_plan, store_cabinet};
use cpts::domain::{MatchingDoctor, Role, Rpps};
use cpts::geo::Coordinates;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::Executor;
use std::sync::Arc;

both_backends!(
    a_gp_declares_lists_and_withdraws_its_windows,
    wall_times_follow_europe_paris_across_dst,
    a_window_on_a_published_roster_cannot_be_withdrawn,
    a_gp_declares_its_garde_limits,
    windows_are_the_gp_s_own,
    invalid_windows_are_422_with_a_pointer,
    unknown_doctors_and_windows_are_404,
);

fn gp() -> Rpps {
    "10000000009".parse().unwrap()
}
fn other_gp() -> Rpps {
    "10123456781".parse().unwrap()
}

fn doctor(rpps: Rpps) -> MatchingDoctor {
    MatchingDoctor {
        rpps,
        name: "Dr Test".to_owned(),
        coords: Coordinates::new(48.6921, 6.1844).unwrap(),
        insee: "54395".parse().unwrap(),
        capacity: 5,
        max_km: None,
    }
}

impl TestApp {
    /// `POST /doctors/{rpps}/availability`.
    pub async fn post_window(&self, token: Option<&str>, rpps: &str, body: &Value) -> Response {
        self.request(
            Method::POST,
            &format!("/doctors/{rpps}/availability"),
            token,
        )
        .json(body)
        .send()
        .await
        .unwrap()
    }

    /// `GET /doctors/{rpps}/availability`.
    pub async fn list_windows(&self, token: Option<&str>, rpps: &str) -> Response {
        self.get(&format!("/doctors/{rpps}/availability"), token)
            .await
    }

    /// `DELETE /doctors/{rpps}/availability/{id}`.
    pub async fn delete_window(&self, token: Option<&str>, rpps: &str, id: &str) -> Response {
        self.request(
            Method::DELETE,
            &format!("/doctors/{rpps}/availability/{id}"),
            token,
        )
        .send()
        .await
        .unwrap()
    }

    /// `PUT /doctors/{rpps}/garde`.
    pub async fn put_garde_limits(
        &self,
        token: Option<&str>,
        rpps: &str,
        body: &Value,
    ) -> Response {
        self.request(Method::PUT, &format!("/doctors/{rpps}/garde"), token)
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

async fn seeded(app: &TestApp) -> String {
    app.seed_doctors(&[doctor(gp()), doctor(other_gp())]).await;
    app.medecin(&gp()).await
}

fn window(start: &str, end: &str) -> Value {
    json!({ "start": start, "end": end })
}

async fn a_gp_declares_lists_and_withdraws_its_windows(app: Arc<TestApp>) {
    let token = seeded(&app).await;
    let me = gp();
    let r = app
        .post_window(
            Some(&token),
            me.as_str(),
            &window("2026-03-09T17:30:00", "2026-03-09T20:30"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let later: Value = r.json().await.unwrap();
    assert_eq!(
        location,
        format!("/doctors/{me}/availability/{}", later["id"])
    );
    // Wall time without an offset is Europe/Paris (winter: +01:00).
    assert_eq!(later["start"], "2026-03-09T17:30:00+01:00");
    assert_eq!(later["end"], "2026-03-09T20:30:00+01:00");
    assert!(later["withdrawn_at"].is_null());
    // With an offset, an instant, shown in Paris time.
    let r = app
        .post_window(
            Some(&token),
            me.as_str(),
            &window("2026-03-02T16:00:00Z", "2026-03-02T21:00:00+01:00"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let earlier: Value = r.json().await.unwrap();
    assert_eq!(earlier["start"], "2026-03-02T17:00:00+01:00");

    let r = app.list_windows(Some(&token), me.as_str()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let list: Value = r.json().await.unwrap();
    assert_eq!(list, json!([earlier, later]));

    let r = app
        .delete_window(Some(&token), me.as_str(), &earlier["id"].to_string())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let withdrawn: Value = r.json().await.unwrap();
    assert!(withdrawn["withdrawn_at"].as_str().unwrap().ends_with('Z'));
    let list: Value = app
        .list_windows(Some(&token), me.as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!([later]));
    let stored = app.store.availability_of(&me).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, later["id"].as_i64().unwrap());

    let r = app
        .delete_window(Some(&token), me.as_str(), &earlier["id"].to_string())
        .await;
    assert_problem(r, StatusCode::CONFLICT, "/problems/already-cancelled").await;
}

async fn wall_times_follow_europe_paris_across_dst(app: Arc<TestApp>) {
    let token = seeded(&app).await;
    // 2026: clocks go forward on 29 March at 02:00, back on 25 October at 03:00.
    let r = app
        .post_window(
            Some(&token),
            gp().as_str(),
            &window("2026-10-25T02:30:00", "2026-10-25T12:00:00"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let w: Value = r.json().await.unwrap();
    assert_eq!(
        w["start"], "2026-10-25T02:30:00+02:00",
        "the first occurrence"
    );
    assert_eq!(w["end"], "2026-10-25T12:00:00+01:00");

    let r = app
        .post_window(
            Some(&token),
            gp().as_str(),
            &window("2026-03-29T02:30:00", "2026-03-29T12:00:00"),
        )
        .await;
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    let e = only_error(&p);
    assert_eq!(e["pointer"], "#/start");
    assert!(
        e["detail"].as_str().unwrap().contains("does not exist"),
        "{p}"
    );
    assert_eq!(app.store.availability_of(&gp()).await.unwrap().len(), 1);
}

async fn a_window_on_a_published_roster_cannot_be_withdrawn(app: Arc<TestApp>) {
    let token = seeded(&app).await;
    let me = gp();
    store_cabinet(&app, "NANCY-1", 48.6921, 6.1844).await;
    let mut ids = Vec::new();
    for day in ["2026-03-02", "2026-03-03"] {
        let r = app
            .post_window(
                Some(&token),
                me.as_str(),
                &window(&format!("{day}T17:00"), &format!("{day}T21:00")),
            )
            .await;
        let w: Value = r.json().await.unwrap();
        ids.push(w["id"].to_string());
    }
    // Monday 2 March 18:00–20:00 (+01:00) on a published plan, Tuesday 3 on a draft.
    seed_plan(&app, "published", true).await;
    seed_plan(&app, "draft", false).await;
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    for (plan, start) in [("published", 1_772_470_800_i64), ("draft", 1_772_557_200)] {
        pool.execute(
            format!(
                "INSERT INTO roster_entries (plan_id, cabinet_id, shift_start, shift_end, rpps, \
                 distance_m) VALUES ('{plan}', 'NANCY-1', {start}, {}, '{me}', 0)",
                start + 7200
            )
            .as_str(),
        )
        .await
        .unwrap();
    }
    // A publication places the published plan's row among the published positions (the
    // roster's truth once published: a repair may take a doctor off).
    pool.execute(
        format!(
            "INSERT INTO published_positions (cabinet_id, shift_start, position, need, \
             shift_day, rpps, plan_id) VALUES ('NANCY-1', 1772470800, 0, 1, '2026-03-02', \
             '{me}', 'published')"
        )
        .as_str(),
    )
    .await
    .unwrap();
    pool.close().await;

    let r = app.delete_window(Some(&token), me.as_str(), &ids[0]).await;
    let p = assert_problem(
        r,
        StatusCode::CONFLICT,
        "/problems/availability-on-published-roster",
    )
    .await;
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("NANCY-1"), "{detail}");
    assert!(detail.contains("2026-03-02T18:00:00+01:00"), "{detail}");
    assert_eq!(app.store.availability_of(&me).await.unwrap().len(), 2);

    // A draft roster does not hold the window.
    let r = app.delete_window(Some(&token), me.as_str(), &ids[1]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.store.availability_of(&me).await.unwrap().len(), 1);
}

async fn a_gp_declares_its_garde_limits(app: Arc<TestApp>) {
    let token = seeded(&app).await;
    let r = app
        .put_garde_limits(
            Some(&token),
            gp().as_str(),
            &json!({"max_shifts": 4, "max_km": 12.5}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"max_shifts": 4, "max_km": 12.5})
    );
    // What a garde plan reads.
    app.post_window(
        Some(&token),
        gp().as_str(),
        &window("2026-03-02T17:00", "2026-03-02T21:00"),
    )
    .await;
    let (doctors, windows) = app
        .store
        .garde_availability(1_772_000_000, 1_773_000_000)
        .await
        .unwrap();
    assert_eq!(windows.len(), 1);
    assert_eq!(doctors.len(), 1);
    assert_eq!(doctors[0].max_shifts, Some(4));
    assert_eq!(doctors[0].garde_max_km.map(|k| k.km()), Some(12.5));

    for (body, pointer) in [
        (json!({"max_shifts": 4, "max_km": 0}), "#/max_km"),
        (json!({"max_shifts": -1, "max_km": 5}), "#/max_shifts"),
        (json!({"max_shifts": 100001, "max_km": 5}), "#/max_shifts"),
        (json!({"max_km": 5}), "#/max_shifts"),
    ] {
        let r = app
            .put_garde_limits(Some(&token), gp().as_str(), &body)
            .await;
        let p = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(only_error(&p)["pointer"], pointer, "{p}");
    }
}

async fn windows_are_the_gp_s_own(app: Arc<TestApp>) {
    let mine = seeded(&app).await;
    let theirs = app.medecin(&other_gp()).await;
    let w: Value = app
        .post_window(
            Some(&mine),
            gp().as_str(),
            &window("2026-03-02T17:00", "2026-03-02T21:00"),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = w["id"].to_string();
    let body = window("2026-03-03T17:00", "2026-03-03T21:00");
    let limits = json!({"max_shifts": 1, "max_km": 1});
    for token in [None, Some("garbage")] {
        for r in [
            app.post_window(token, gp().as_str(), &body).await,
            app.list_windows(token, gp().as_str()).await,
            app.delete_window(token, gp().as_str(), &id).await,
            app.put_garde_limits(token, gp().as_str(), &limits).await,
        ] {
            assert_problem(r, StatusCode::UNAUTHORIZED, "/problems/unauthenticated").await;
        }
    }
    let mut forbidden = vec![theirs.clone()];
    for role in [Role::Cpam, Role::Coordinateur, Role::Regulateur] {
        forbidden.push(app.token(role, None).await);
    }
    for token in &forbidden {
        for r in [
            // A 403 comes before the 422 of a bad body.
            app.post_window(Some(token), gp().as_str(), &json!({"start": 1}))
                .await,
            app.delete_window(Some(token), gp().as_str(), &id).await,
            app.put_garde_limits(Some(token), gp().as_str(), &json!({}))
                .await,
        ] {
            assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
        }
    }
    // Reading: the médecin itself, and the coordinator of a CPTS it serves (issue 16); a
    // coordinator of another territory does not see that the doctor exists.
    for token in [&forbidden[0], &forbidden[1], &forbidden[3]] {
        let r = app.list_windows(Some(token), gp().as_str()).await;
        assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
    }
    let r = app.list_windows(Some(&forbidden[2]), gp().as_str()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let elsewhere = app
        .token_in(Role::Coordinateur, None, "cpts:territoire_messin")
        .await;
    let r = app.list_windows(Some(&elsewhere), gp().as_str()).await;
    assert_problem(r, StatusCode::NOT_FOUND, "/problems/not-found").await;
    // Another GP's window through its own RPPS: not found, not withdrawn.
    let r = app
        .delete_window(Some(&theirs), other_gp().as_str(), &id)
        .await;
    assert_problem(r, StatusCode::NOT_FOUND, "/problems/not-found").await;
    assert_eq!(app.store.availability_of(&gp()).await.unwrap().len(), 1);
}

async fn invalid_windows_are_422_with_a_pointer(app: Arc<TestApp>) {
    let token = seeded(&app).await;
    for (body, pointer) in [
        (window("2026-03-02", "2026-03-02T21:00"), "#/start"),
        (window("2026-03-02T17:00", "tomorrow"), "#/end"),
        (window("2026-03-02T17:00", "2026-03-02T17:00"), "#/end"),
        (
            window("2026-03-02T18:00+01:00", "2026-03-02T17:30"),
            "#/end",
        ),
        (
            window("2026-03-02T17:00+25:00", "2026-03-02T21:00"),
            "#/start",
        ),
        (json!({"start": "2026-03-02T17:00"}), "#/end"),
        (
            json!({"start": "2026-03-02T17:00", "end": "2026-03-02T21:00", "rpps": "x"}),
            "#/rpps",
        ),
    ] {
        let r = app.post_window(Some(&token), gp().as_str(), &body).await;
        let p = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(only_error(&p)["pointer"], pointer, "{body}: {p}");
    }
    // Both dates bad: both listed.
    let r = app
        .post_window(Some(&token), gp().as_str(), &window("x", "y"))
        .await;
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(p["errors"].as_array().unwrap().len(), 2);
    for (r, parameter) in [
        (app.list_windows(Some(&token), "10000000008").await, "rpps"),
        (
            app.delete_window(Some(&token), gp().as_str(), "abc").await,
            "id",
        ),
    ] {
        let p = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(only_error(&p)["parameter"], parameter, "{p}");
    }
    assert!(app.store.availability_of(&gp()).await.unwrap().is_empty());
}

async fn unknown_doctors_and_windows_are_404(app: Arc<TestApp>) {
    // A médecin token whose RPPS the CPAM never imported.
    let token = app.medecin(&gp()).await;
    let body = window("2026-03-02T17:00", "2026-03-02T21:00");
    for r in [
        app.post_window(Some(&token), gp().as_str(), &body).await,
        app.list_windows(Some(&token), gp().as_str()).await,
        app.delete_window(Some(&token), gp().as_str(), "1").await,
        app.put_garde_limits(
            Some(&token),
            gp().as_str(),
            &json!({"max_shifts": 1, "max_km": 1}),
        )
        .await,
    ] {
        assert_problem(r, StatusCode::NOT_FOUND, "/problems/not-found").await;
    }
}

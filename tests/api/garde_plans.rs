//! `POST /garde/plans`, `GET /garde/plans/{id}/roster|unfilled`, `POST …/publish`.

use crate::helpers::{TestApp, assert_problem, both_backends, only_error};
use crate::imports::DOCTORS;
use chrono::NaiveDate;
use cpts::domain::Role;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

both_backends!(
    plans_are_listed_and_a_doctor_reads_its_garde,
    an_overlapping_plan_cannot_double_staff_a_shift,
    racing_publishes_of_overlapping_plans_publish_one,
    a_period_that_has_ended_is_not_planned,
    a_new_plan_of_a_published_period_keeps_the_published_rows,
    a_plan_is_computed_read_and_published_once,
    plans_need_the_coordinateur_role,
    invalid_plans_are_422_with_a_pointer,
    unknown_plans_are_404,
);

impl TestApp {
    /// `POST /garde/plans`.
    pub async fn create_plan(&self, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::POST, "/garde/plans", token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `POST /garde/plans/{id}/publish`.
    pub async fn publish_plan(&self, token: Option<&str>, id: &str) -> Response {
        self.request(Method::POST, &format!("/garde/plans/{id}/publish"), token)
            .send()
            .await
            .unwrap()
    }

    /// `POST /cabinets` (a coordinator's token), need 1 and 15-minute slots.
    pub async fn seed_cabinet(&self, id: &str, lat: f64, lon: f64, insee: &str) {
        let coordinateur = self.token(Role::Coordinateur, None).await;
        let r = self
            .request(Method::POST, "/cabinets", Some(&coordinateur))
            .json(
                &json!({"cabinet_id": id, "name": format!("Cabinet {id}"), "lat": lat,
                          "lon": lon, "insee": insee, "need": 1}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }

    /// `PUT /doctors/{rpps}/garde` and `POST /doctors/{rpps}/availability` (Europe/Paris
    /// wall times), as the médecin.
    pub async fn seed_garde_doctor(&self, rpps: &str, max_shifts: u32, start: &str, end: &str) {
        let medecin = self.medecin(&rpps.parse().unwrap()).await;
        let r = self
            .request(
                Method::PUT,
                &format!("/doctors/{rpps}/garde"),
                Some(&medecin),
            )
            .json(&json!({"max_shifts": max_shifts, "max_km": 20}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = self
            .request(
                Method::POST,
                &format!("/doctors/{rpps}/availability"),
                Some(&medecin),
            )
            .json(&json!({"start": start, "end": end}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }

    /// Launches a plan, waits for the jobs, and returns the plan's id (asserting success).
    pub async fn run_plan(&self, coordinateur: &str, body: &Value) -> String {
        let r = self.create_plan(Some(coordinateur), body).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        self.run_jobs_until_idle().await;
        let job: Value = self
            .get(&location, Some(coordinateur))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["kind"], "garde_plan");
        job["id"].as_str().unwrap().to_owned()
    }
}

/// Two doctors (DOCTORS), both available all week of Monday 2 March 2037 (the calendar of 2026: same weekdays, Easter and DST dates; a plan of an ended period is refused); A takes at most
/// 3 shifts and B 2, so one of the 6 shifts (5 evenings, 1 Saturday morning) stays empty.
async fn seed(app: &TestApp) {
    let cpam = app.token(Role::Cpam, None).await;
    let r = app.import_csv(Some(&cpam), "doctors", DOCTORS).await;
    assert_eq!(r.status(), StatusCode::OK);
    app.seed_cabinet("NANCY-1", 48.6921, 6.1844, "54395").await;
    for (rpps, max_shifts) in [("10000000009", 3), ("10123456781", 2)] {
        app.seed_garde_doctor(
            rpps,
            max_shifts,
            "2037-03-02T08:00:00",
            "2037-03-08T00:00:00",
        )
        .await;
    }
}

fn week() -> Value {
    json!({"period": {"start": "2037-03-02", "end": "2037-03-08"}})
}

async fn a_plan_is_computed_read_and_published_once(app: Arc<TestApp>) {
    seed(&app).await;
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let id = app.run_plan(&coordinateur, &week()).await;
    let job: Value = app
        .get(&format!("/jobs/{id}"), Some(&coordinateur))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(job["result"]["objective"]["filled"], 5, "{job}");
    assert_eq!(job["result"]["counts"]["positions"], 6, "{job}");
    // Fairness: loads 3 and 2.
    assert_eq!(job["result"]["objective"]["sum_load_sq"], 13);

    let r = app
        .get(&format!("/garde/plans/{id}/roster"), Some(&coordinateur))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let roster: Value = r.json().await.unwrap();
    let entries = roster["items"].as_array().unwrap();
    assert_eq!(entries.len(), 5);
    assert!(roster["published_at"].is_null());
    assert_eq!(entries[0]["cabinet_id"], "NANCY-1");
    let first = &entries[0];
    assert!(
        first["start"].as_str().unwrap().ends_with("+01:00"),
        "{first}"
    );
    let r = app
        .get(&format!("/garde/plans/{id}/unfilled"), Some(&coordinateur))
        .await;
    let unfilled: Value = r.json().await.unwrap();
    assert_eq!(unfilled["items"].as_array().unwrap().len(), 1);
    assert_eq!(unfilled["items"][0]["reason"], "doctors_at_max_shifts");
    assert_eq!(unfilled["items"][0]["missing"], 1);

    // Slots: 8 per weekday evening, 16 per Saturday morning at 15 minutes (FORMATS.md §4).
    let expected: u64 = entries
        .iter()
        .map(|e| {
            let d = NaiveDate::parse_from_str(e["date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
            if chrono::Datelike::weekday(&d) == chrono::Weekday::Sat {
                16
            } else {
                8
            }
        })
        .sum();
    // With Redis, a régulateur listening near the cabinet hears each new slot.
    let listener = app.token(Role::Regulateur, None).await;
    let mut events = if app.has_redis() {
        let query = "lat=48.6936&lon=6.1832&radius_km=10";
        let mut reader =
            crate::holds::SseReader::new(app.slot_events(Some(&listener), query, None).await);
        assert_eq!(reader.expect().await.event, "ready");
        Some(reader)
    } else {
        None
    };
    let r = app.publish_plan(Some(&coordinateur), &id).await;
    assert_eq!(r.status(), StatusCode::OK);
    let published: Value = r.json().await.unwrap();
    assert_eq!(published["slots"], expected, "{published}");
    if let Some(events) = events.as_mut() {
        let mut slots = std::collections::BTreeSet::new();
        for _ in 0..expected {
            let e = events.expect().await;
            assert_eq!(e.event, "published");
            assert_eq!(e.data["plan_id"], id.as_str());
            assert_eq!(e.data["cabinet_id"], "NANCY-1");
            slots.insert(e.data["slot_id"].as_i64().unwrap());
        }
        assert_eq!(slots.len() as u64, expected);
    }
    let r = app.publish_plan(Some(&coordinateur), &id).await;
    let p = assert_problem(r, StatusCode::CONFLICT, "/problems/conflict").await;
    assert_eq!(p["detail"], "this garde plan is already published");
    let roster: Value = app
        .get(&format!("/garde/plans/{id}/roster"), Some(&coordinateur))
        .await
        .json()
        .await
        .unwrap();
    assert!(roster["published_at"].as_str().unwrap().ends_with('Z'));
}

async fn plans_need_the_coordinateur_role(app: Arc<TestApp>) {
    seed(&app).await;
    let r = app.create_plan(None, &week()).await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "/problems/unauthenticated").await;
    let cpam = app.token(Role::Cpam, None).await;
    let regulateur = app.token(Role::Regulateur, None).await;
    for token in [&cpam, &regulateur] {
        let r = app.create_plan(Some(token), &week()).await;
        assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
    }
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let id = app.run_plan(&coordinateur, &week()).await;
    for token in [&cpam, &regulateur] {
        for list in ["roster", "unfilled"] {
            let r = app
                .get(&format!("/garde/plans/{id}/{list}"), Some(token))
                .await;
            assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
        }
        let r = app.publish_plan(Some(token), &id).await;
        assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
        // CPAM staff read jobs, but not a plan of a CPTS (issue 16); a régulateur reads none.
        let r = app.get(&format!("/jobs/{id}"), Some(token)).await;
        let status = if *token == cpam {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(r.status(), status);
    }
    let r = app.publish_plan(None, &id).await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "/problems/unauthenticated").await;
}

async fn invalid_plans_are_422_with_a_pointer(app: Arc<TestApp>) {
    let coordinateur = app.token(Role::Coordinateur, None).await;
    // No cabinet stored yet.
    let r = app.create_plan(Some(&coordinateur), &week()).await;
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(only_error(&p)["pointer"], "#/cabinets");
    seed(&app).await;
    let cases = [
        (
            json!({"period": {"start": "2037-03-08", "end": "2037-03-02"}}),
            "#/period/end",
        ),
        (
            json!({"period": {"start": "2037-01-01", "end": "2038-06-01"}}),
            "#/period/end",
        ),
        (
            json!({"period": {"start": "2037-02-30", "end": "2037-03-02"}}),
            "#/period/start",
        ),
        (json!({"period": {"start": "2037-03-02"}}), "#/period/end"),
        (
            json!({"period": {"start": "2037-03-02", "end": "2037-03-08"}, "cabinets": ["NANCY-1", "NOPE"]}),
            "#/cabinets/1",
        ),
        (
            json!({"period": {"start": "2037-03-02", "end": "2037-03-08"}, "cabinets": ["bad id!"]}),
            "#/cabinets/0",
        ),
        (
            json!({"period": {"start": "2037-03-02", "end": "2037-03-08"}, "cabinets": []}),
            "#/cabinets",
        ),
    ];
    for (body, pointer) in cases {
        let r = app.create_plan(Some(&coordinateur), &body).await;
        let p = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(only_error(&p)["pointer"], pointer, "{body}: {p}");
    }
    assert_eq!(app.store.active_jobs().await.unwrap(), 0);
}

async fn unknown_plans_are_404(app: Arc<TestApp>) {
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let unknown = "0123456789abcdef0123456789abcdef";
    for path in ["roster", "unfilled"] {
        let r = app
            .get(
                &format!("/garde/plans/{unknown}/{path}"),
                Some(&coordinateur),
            )
            .await;
        assert_problem(r, StatusCode::NOT_FOUND, "/problems/not-found").await;
    }
    let r = app.publish_plan(Some(&coordinateur), unknown).await;
    assert_problem(r, StatusCode::NOT_FOUND, "/problems/not-found").await;
    // A batch's id is no garde plan.
    let cpam = app.token(Role::Cpam, None).await;
    let r = app
        .create_batch(Some(&cpam), &json!({"territory": {"insee": ["54395"]}}))
        .await;
    let batch: Value = r.json().await.unwrap();
    app.run_jobs_until_idle().await;
    let r = app
        .publish_plan(Some(&coordinateur), batch["id"].as_str().unwrap())
        .await;
    assert_problem(r, StatusCode::NOT_FOUND, "/problems/not-found").await;
}

/// Doctors A (10000000009) and B (10123456781) for the Monday 2 March 2037 shift of a need-1
/// cabinet: plan 1 is computed while only A is available, plan 2 once A withdrew and B
/// declared. Both are computed before either is published.
async fn two_plans_for_one_shift(app: &TestApp, coordinateur: &str) -> (String, String) {
    let cpam = app.token(Role::Cpam, None).await;
    let r = app.import_csv(Some(&cpam), "doctors", DOCTORS).await;
    assert_eq!(r.status(), StatusCode::OK);
    app.seed_cabinet("NANCY-1", 48.6921, 6.1844, "54395").await;
    let monday = json!({"period": {"start": "2037-03-02", "end": "2037-03-02"}});
    let (a, b) = ("10000000009", "10123456781");
    app.seed_garde_doctor(a, 1, "2037-03-02T17:00:00", "2037-03-02T21:00:00")
        .await;
    let first = app.run_plan(coordinateur, &monday).await;
    let medecin_a = app.medecin(&a.parse().unwrap()).await;
    let windows: Vec<Value> = app
        .get(&format!("/doctors/{a}/availability"), Some(&medecin_a))
        .await
        .json()
        .await
        .unwrap();
    let id = windows[0]["id"].as_i64().unwrap().to_string();
    let r = app.delete_window(Some(&medecin_a), a, &id).await;
    assert_eq!(r.status(), StatusCode::OK);
    app.seed_garde_doctor(b, 1, "2037-03-02T17:00:00", "2037-03-02T21:00:00")
        .await;
    let second = app.run_plan(coordinateur, &monday).await;
    for (plan, rpps) in [(&first, a), (&second, b)] {
        let roster: Value = app
            .get(&format!("/garde/plans/{plan}/roster"), Some(coordinateur))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(roster["items"][0]["rpps"], rpps, "{roster}");
    }
    (first, second)
}

/// Doctors per (cabinet, shift start) on the published slots: at most the need (1).
async fn doctors_per_shift(app: &TestApp) -> Vec<i64> {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
        .await
        .unwrap();
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT COUNT(DISTINCT rpps) FROM slots GROUP BY cabinet_id, start_at")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    rows.into_iter().map(|(n,)| n).collect()
}

async fn an_overlapping_plan_cannot_double_staff_a_shift(app: Arc<TestApp>) {
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let (first, second) = two_plans_for_one_shift(&app, &coordinateur).await;
    let r = app.publish_plan(Some(&coordinateur), &first).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.publish_plan(Some(&coordinateur), &second).await;
    let p = assert_problem(r, StatusCode::CONFLICT, "/problems/roster-conflict").await;
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("NANCY-1") && detail.contains("2037-03-02"),
        "{p}"
    );
    assert!(doctors_per_shift(&app).await.iter().all(|&n| n == 1));
    // Nothing of the refused plan was published.
    let plan: Value = app
        .get(&format!("/garde/plans/{second}"), Some(&coordinateur))
        .await
        .json()
        .await
        .unwrap();
    assert!(plan["published_at"].is_null(), "{plan}");
}

async fn racing_publishes_of_overlapping_plans_publish_one(app: Arc<TestApp>) {
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let (first, second) = two_plans_for_one_shift(&app, &coordinateur).await;
    let (a, b) = tokio::join!(
        app.publish_plan(Some(&coordinateur), &first),
        app.publish_plan(Some(&coordinateur), &second)
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    assert!(doctors_per_shift(&app).await.iter().all(|&n| n == 1));
}

async fn a_period_that_has_ended_is_not_planned(app: Arc<TestApp>) {
    seed(&app).await;
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let r = app
        .create_plan(
            Some(&coordinateur),
            &json!({"period": {"start": "2026-03-02", "end": "2026-03-08"}}),
        )
        .await;
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(only_error(&p)["pointer"], "#/period/end", "{p}");
}

async fn a_new_plan_of_a_published_period_keeps_the_published_rows(app: Arc<TestApp>) {
    seed(&app).await;
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let first = app.run_plan(&coordinateur, &week()).await;
    assert_eq!(
        app.publish_plan(Some(&coordinateur), &first).await.status(),
        StatusCode::OK
    );
    // The same week again: the published rows are pinned, the plan publishes without conflict.
    let again = app.run_plan(&coordinateur, &week()).await;
    let rows = |plan: String| {
        let app = Arc::clone(&app);
        let coordinateur = coordinateur.clone();
        async move {
            let roster: Value = app
                .get(&format!("/garde/plans/{plan}/roster"), Some(&coordinateur))
                .await
                .json()
                .await
                .unwrap();
            let mut rows: Vec<String> = roster["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| format!("{} {} {}", r["cabinet_id"], r["start"], r["rpps"]))
                .collect();
            rows.sort();
            rows
        }
    };
    assert_eq!(rows(again.clone()).await, rows(first).await);
    assert_eq!(
        app.publish_plan(Some(&coordinateur), &again).await.status(),
        StatusCode::OK
    );
    assert!(doctors_per_shift(&app).await.iter().all(|&n| n == 1));
}

async fn plans_are_listed_and_a_doctor_reads_its_garde(app: Arc<TestApp>) {
    seed(&app).await;
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let first = app.run_plan(&coordinateur, &week()).await;
    let page: Value = app
        .get("/garde/plans", Some(&coordinateur))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["id"], first.as_str(), "{page}");
    assert_eq!(page["items"][0]["status"], "succeeded");
    let page: Value = app
        .get("/jobs?status=failed", Some(&coordinateur))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 0, "{page}");
    let r = app.get("/jobs?status=done", Some(&coordinateur)).await;
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(only_error(&p)["parameter"], "status");
    // CPAM staff see batches, not plans.
    let cpam = app.token(Role::Cpam, None).await;
    let page: Value = app.get("/jobs", Some(&cpam)).await.json().await.unwrap();
    assert!(page["items"].as_array().unwrap().is_empty(), "{page}");
    assert_eq!(
        app.get("/garde/plans", Some(&cpam)).await.status(),
        StatusCode::FORBIDDEN
    );
    // Published, the shifts reach the doctor's own garde view (today 405 before).
    assert_eq!(
        app.publish_plan(Some(&coordinateur), &first).await.status(),
        StatusCode::OK
    );
    let medecin = app.medecin(&"10000000009".parse().unwrap()).await;
    let garde: Value = app
        .get("/doctors/10000000009/garde", Some(&medecin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(garde["max_shifts"], 3, "{garde}");
    assert_eq!(garde["max_km"], 20.0, "{garde}");
    let shifts = garde["shifts"].as_array().unwrap();
    assert_eq!(shifts.len(), 3, "{garde}");
    assert!(
        shifts[0]["start"]
            .as_str()
            .unwrap()
            .starts_with("2037-03-0"),
        "{garde}"
    );
    assert_eq!(shifts[0]["plan_id"], first.as_str());
}

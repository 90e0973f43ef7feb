//! Garde wishes and fairness over the year (issue 18): a médecin records `prefer` / `avoid` per
//! date, its coordinator reads them, and a plan scores them (objective level 3); the published
//! shifts of the CPTS's reference year before a period count as prior shifts (level 2).

use crate::helpers::{TestApp, assert_problem, both_backends};
use crate::imports::DOCTORS;
use cpts::domain::Role;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

both_backends!(
    a_medecin_records_reads_and_clears_its_wishes,
    a_plan_gives_each_doctor_the_dates_it_prefers,
    published_shifts_of_the_reference_year_count_as_prior_shifts,
);

const A: &str = "10000000009";
const B: &str = "10123456781";

impl TestApp {
    /// `PUT /doctors/{rpps}/garde/preferences/{date}`.
    async fn put_wish(&self, token: &str, rpps: &str, date: &str, body: &Value) -> Response {
        self.request(
            Method::PUT,
            &format!("/doctors/{rpps}/garde/preferences/{date}"),
            Some(token),
        )
        .json(body)
        .send()
        .await
        .unwrap()
    }
}

async fn seed_doctors(app: &TestApp) {
    let cpam = app.token(Role::Cpam, None).await;
    let r = app.import_csv(Some(&cpam), "doctors", DOCTORS).await;
    assert_eq!(r.status(), StatusCode::OK);
}

async fn a_medecin_records_reads_and_clears_its_wishes(app: Arc<TestApp>) {
    seed_doctors(&app).await;
    let a = app.medecin(&A.parse().unwrap()).await;
    let b = app.medecin(&B.parse().unwrap()).await;
    let r = app
        .put_wish(&a, A, "2037-03-02", &json!({"preference": "avoid"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"date": "2037-03-02", "preference": "avoid"})
    );
    // The same date again: replaced, not doubled.
    let r = app
        .put_wish(&a, A, "2037-03-02", &json!({"preference": "prefer"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .put_wish(&a, A, "2037-03-09", &json!({"preference": "avoid"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let list = "/doctors/10000000009/garde/preferences?from=2037-03-01&to=2037-03-31";
    let want = json!([
        {"date": "2037-03-02", "preference": "prefer"},
        {"date": "2037-03-09", "preference": "avoid"}
    ]);
    let r = app.get(list, Some(&a)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), want);
    // Its coordinator reads them; another médecin neither reads nor writes them.
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let r = app.get(list, Some(&coordinateur)).await;
    assert_eq!(r.json::<Value>().await.unwrap(), want);
    assert_eq!(
        app.get(list, Some(&b)).await.status(),
        StatusCode::FORBIDDEN
    );
    let r = app
        .put_wish(&b, A, "2037-03-03", &json!({"preference": "avoid"}))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Bad input names its field; nothing is stored.
    let p = assert_problem(
        app.put_wish(&a, A, "2037-03-03", &json!({"preference": "maybe"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(p["errors"][0]["pointer"], "#/preference", "{p}");
    for date in ["2020-01-06", "2037-02-30", "03-03-2037", "2137-03-03"] {
        let p = assert_problem(
            app.put_wish(&a, A, date, &json!({"preference": "avoid"}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(p["errors"][0]["parameter"], "date", "{date}: {p}");
    }
    for query in [
        "from=2037-03-31&to=2037-03-01",
        "from=2037-01-01&to=2038-06-01",
        "when=x",
    ] {
        let r = app
            .get(
                &format!("/doctors/10000000009/garde/preferences?{query}"),
                Some(&a),
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
    }
    let r = app.get(list, Some(&a)).await;
    assert_eq!(r.json::<Value>().await.unwrap(), want);

    // The médecin's garde view lists its wishes of the coming year.
    let soon = (chrono::Utc::now() + chrono::Duration::days(10))
        .date_naive()
        .to_string();
    let r = app
        .put_wish(&a, A, &soon, &json!({"preference": "prefer"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let garde: Value = app
        .get("/doctors/10000000009/garde", Some(&a))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        garde["preferences"],
        json!([{"date": soon, "preference": "prefer"}]),
        "{garde}"
    );

    // Cleared: gone (and clearing again is fine).
    for _ in 0..2 {
        let r = app
            .request(
                Method::DELETE,
                "/doctors/10000000009/garde/preferences/2037-03-02",
                Some(&a),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    let r = app.get(list, Some(&a)).await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!([{"date": "2037-03-09", "preference": "avoid"}])
    );
}

/// Shifts per doctor of a plan's roster, by date.
async fn roster_of(app: &TestApp, coordinateur: &str, plan: &str) -> BTreeMap<String, String> {
    let r = app
        .get(&format!("/garde/plans/{plan}/roster"), Some(coordinateur))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let roster: Value = r.json().await.unwrap();
    roster["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["start"].as_str().unwrap()[..10].to_owned(),
                e["rpps"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// NANCY-1 (one doctor a shift) and both doctors, each available all week of Monday 2 March
/// 2037 (5 evenings and a Saturday morning) and allowed all six shifts.
async fn seed_week(app: &TestApp) -> String {
    seed_doctors(app).await;
    app.seed_cabinet("NANCY-1", 48.6921, 6.1844, "54395").await;
    for rpps in [A, B] {
        app.seed_garde_doctor(rpps, 6, "2037-03-02T08:00:00", "2037-03-08T00:00:00")
            .await;
    }
    app.token(Role::Coordinateur, None).await
}

const WEEK: &str = r#"{"period": {"start": "2037-03-02", "end": "2037-03-07"}}"#;

async fn a_plan_gives_each_doctor_the_dates_it_prefers(app: Arc<TestApp>) {
    let coordinateur = seed_week(&app).await;
    // Fairness gives each three shifts, and distance cannot tell which: the wishes decide.
    let a = app.medecin(&A.parse().unwrap()).await;
    let b = app.medecin(&B.parse().unwrap()).await;
    for (token, rpps, dates, word) in [
        (&a, A, ["2037-03-05", "2037-03-06", "2037-03-07"], "prefer"),
        (&a, A, ["2037-03-02", "2037-03-03", "2037-03-04"], "avoid"),
        (&b, B, ["2037-03-02", "2037-03-03", "2037-03-04"], "prefer"),
    ] {
        for date in dates {
            let r = app
                .put_wish(token, rpps, date, &json!({ "preference": word }))
                .await;
            assert_eq!(r.status(), StatusCode::OK);
        }
    }
    let week: Value = serde_json::from_str(WEEK).unwrap();
    let plan = app.run_plan(&coordinateur, &week).await;
    let roster = roster_of(&app, &coordinateur, &plan).await;
    let want: BTreeMap<String, String> = [
        ("2037-03-02", B),
        ("2037-03-03", B),
        ("2037-03-04", B),
        ("2037-03-05", A),
        ("2037-03-06", A),
        ("2037-03-07", A),
    ]
    .into_iter()
    .map(|(d, r)| (d.to_owned(), r.to_owned()))
    .collect();
    assert_eq!(roster, want);
    let job: Value = app
        .get(&format!("/jobs/{plan}"), Some(&coordinateur))
        .await
        .json()
        .await
        .unwrap();
    let objective = &job["result"]["objective"];
    assert_eq!(objective["filled"], 6, "{job}");
    assert_eq!(objective["sum_load_sq"], 18, "{job}");
    assert_eq!(objective["preference_score"], -6, "{job}");
}

async fn published_shifts_of_the_reference_year_count_as_prior_shifts(app: Arc<TestApp>) {
    let coordinateur = seed_week(&app).await;
    // The week before (Monday 23 February to Saturday 28 February 2037): A alone, six shifts,
    // published.
    app.seed_garde_doctor(A, 6, "2037-02-23T08:00:00", "2037-03-01T00:00:00")
        .await;
    let before = app
        .run_plan(
            &coordinateur,
            &json!({"period": {"start": "2037-02-23", "end": "2037-02-28"}}),
        )
        .await;
    assert_eq!(
        roster_of(&app, &coordinateur, &before).await.len(),
        6,
        "A took the six shifts"
    );
    let r = app.publish_plan(Some(&coordinateur), &before).await;
    assert_eq!(r.status(), StatusCode::OK);

    // The calendar year counts them: Σ(prior + load)² is least when B takes the whole week
    // (6² + 6² = 72, against 9² + 3² = 90 for three each).
    let week: Value = serde_json::from_str(WEEK).unwrap();
    let plan = app.run_plan(&coordinateur, &week).await;
    let roster = roster_of(&app, &coordinateur, &plan).await;
    assert_eq!(roster.len(), 6);
    assert!(roster.values().all(|r| r == B), "{roster:?}");
    let job: Value = app
        .get(&format!("/jobs/{plan}"), Some(&coordinateur))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(job["result"]["objective"]["sum_load_sq"], 72, "{job}");

    // The CPTS's reference year now starts in March: February no longer counts, three each.
    let admin = app.token(Role::Admin, None).await;
    let cpts: Value = app
        .get("/territories/grand_nancy", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cpts["garde_year_start"], 1);
    let r = app
        .request(Method::PUT, "/territories/grand_nancy", Some(&admin))
        .json(&json!({"name": cpts["name"], "communes": cpts["communes"],
                      "garde_year_start": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["garde_year_start"], 3);
    let r = app
        .request(Method::PUT, "/territories/grand_nancy", Some(&admin))
        .json(&json!({"name": cpts["name"], "communes": cpts["communes"],
                      "garde_year_start": 13}))
        .send()
        .await
        .unwrap();
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(p["errors"][0]["pointer"], "#/garde_year_start", "{p}");
    let plan = app.run_plan(&coordinateur, &week).await;
    let roster = roster_of(&app, &coordinateur, &plan).await;
    let a_shifts = roster.values().filter(|r| *r == A).count();
    assert_eq!((a_shifts, roster.len()), (3, 6), "{roster:?}");
}

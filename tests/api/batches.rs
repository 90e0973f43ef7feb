//! `POST /batches`, `GET /jobs/{id}`, `GET /batches/{id}/assignments|unmatched`.

use crate::helpers::{TestApp, assert_problem, both_backends, only_error};
use crate::imports::{DOCTORS, PATIENTS};
use cpts::domain::Role;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

both_backends!(
    a_batch_runs_as_a_job_and_its_results_read_as_json_and_csv,
    a_batch_over_an_epci_takes_its_communes,
    batches_and_their_jobs_need_the_cpam_role,
    invalid_batches_are_422_with_a_pointer,
    unknown_batches_and_jobs_are_404,
);

impl TestApp {
    /// `POST /batches`.
    pub async fn create_batch(&self, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::POST, "/batches", token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `GET /jobs/{id}`.
    pub async fn get_job(&self, token: Option<&str>, id: &str) -> Response {
        self.get(&format!("/jobs/{id}"), token).await
    }

    /// Launches a batch, waits for the jobs, and returns the job (asserting it succeeded).
    pub async fn run_batch(&self, cpam: &str, body: &Value) -> Value {
        let r = self.create_batch(Some(cpam), body).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let accepted: Value = r.json().await.unwrap();
        assert_eq!(
            location,
            format!("/jobs/{}", accepted["id"].as_str().unwrap())
        );
        assert_eq!(accepted["kind"], "matching_batch");
        self.run_jobs_until_idle().await;
        let r = self.get(&location, Some(cpam)).await;
        assert_eq!(r.status(), StatusCode::OK);
        let job: Value = r.json().await.unwrap();
        assert_eq!(job["status"], "succeeded", "{job}");
        job
    }
}

/// PATIENTS plus one patient 40 km away from every doctor.
fn patients_with_a_far_one() -> String {
    format!("{PATIENTS}P9,49.0500,6.1844,54395,50,0,0,\n")
}

async fn seed(app: &TestApp, cpam: &str) {
    let r = app
        .import_csv(Some(cpam), "patients", &patients_with_a_far_one())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.import_csv(Some(cpam), "doctors", DOCTORS).await;
    assert_eq!(r.status(), StatusCode::OK);
}

async fn a_batch_runs_as_a_job_and_its_results_read_as_json_and_csv(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    seed(&app, &cpam).await;
    let job = app
        .run_batch(
            &cpam,
            &json!({"territory": {"insee": ["54395", "54547"]}, "default_max_km": 10}),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    assert_eq!(job["progress"], 1.0);
    assert_eq!(job["stage"], "done");
    let summary = &job["result"];
    // Three places for the three near patients (one per tier); P9 has nobody within 10 km.
    assert_eq!(
        summary["objective"]["matched"],
        json!([1, 1, 1]),
        "{summary}"
    );
    assert_eq!(summary["patients"], 4);
    assert_eq!(summary["unmatched"]["no_doctor_in_range"], 1);
    assert_eq!(summary["tiers"][2]["no_doctor_in_range"], 1);
    assert_eq!(
        job["links"]["assignments"],
        format!("/batches/{id}/assignments")
    );

    let r = app
        .get(&format!("/batches/{id}/assignments?limit=2"), Some(&cpam))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["total"], 3);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["patient_id"], "P1");
    let next = page["next"].as_str().unwrap();
    assert_eq!(next, format!("/batches/{id}/assignments?limit=2&offset=2"));
    let last: Value = app.get(next, Some(&cpam)).await.json().await.unwrap();
    assert_eq!(last["items"][0]["patient_id"], "P3");
    assert!(last["next"].is_null());

    let r = app
        .request(
            Method::GET,
            &format!("/batches/{id}/unmatched"),
            Some(&cpam),
        )
        .send()
        .await
        .unwrap();
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["items"][0]["patient_id"], "P9");
    assert_eq!(page["items"][0]["reason"], "no_doctor_in_range");
    assert!(
        page["items"][0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("nearest doctor with capacity: ")
    );

    let r = app
        .request(
            Method::GET,
            &format!("/batches/{id}/assignments"),
            Some(&cpam),
        )
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "patient_id,rpps,distance_m");
    assert_eq!(lines.len(), 4, "{csv}");
    // The batch is listed (issue 17), newest first.
    let page: Value = app.get("/batches", Some(&cpam)).await.json().await.unwrap();
    assert_eq!(page["items"][0]["id"], id, "{page}");
    assert_eq!(page["items"][0]["kind"], "matching_batch");
    // q-values are honoured (issue 15): CSV refused, or preferred less, is JSON; both refused: 406.
    for accept in [
        "text/csv;q=0, application/json",
        "text/csv;q=0.2, application/json;q=0.9",
    ] {
        let r = app
            .request(
                Method::GET,
                &format!("/batches/{id}/assignments"),
                Some(&cpam),
            )
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{accept}");
        let kind = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(kind.starts_with("application/json"), "{accept}: {kind}");
    }
    let r = app
        .request(
            Method::GET,
            &format!("/batches/{id}/assignments"),
            Some(&cpam),
        )
        .header("accept", "text/csv;q=0, application/json;q=0")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::NOT_ACCEPTABLE, "/problems/not-acceptable").await;
    let r = app
        .request(
            Method::GET,
            &format!("/batches/{id}/unmatched"),
            Some(&cpam),
        )
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    let csv = r.text().await.unwrap();
    assert!(
        csv.starts_with("patient_id,tier,reason,detail\nP9,3,no_doctor_in_range,"),
        "{csv}"
    );
}

async fn a_batch_over_an_epci_takes_its_communes(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    seed(&app, &cpam).await;
    // Métropole du Grand Nancy: 54395 and 54547 are among its 20 communes.
    let job = app
        .run_batch(&cpam, &json!({"territory": {"epci": "245400676"}}))
        .await;
    assert_eq!(
        job["result"]["territory"],
        json!({"communes": 20, "epci": "245400676"})
    );
    assert_eq!(job["result"]["default_max_km"], 10.0);
    assert_eq!(job["result"]["matched"], 3);
}

async fn batches_and_their_jobs_need_the_cpam_role(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    seed(&app, &cpam).await;
    let body = json!({"territory": {"insee": ["54395"]}});
    let r = app.create_batch(None, &body).await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "/problems/unauthenticated").await;
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let regulateur = app.token(Role::Regulateur, None).await;
    for token in [&coordinateur, &regulateur] {
        let r = app.create_batch(Some(token), &body).await;
        assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
    }
    let job = app.run_batch(&cpam, &body).await;
    let id = job["id"].as_str().unwrap();
    let r = app.get_job(None, id).await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "/problems/unauthenticated").await;
    // A coordinator reads garde plans, not batches, and a batch of a territory it does not
    // cover is not found (issue 16); a régulateur reads no job.
    for (token, status) in [
        (&coordinateur, StatusCode::NOT_FOUND),
        (&regulateur, StatusCode::FORBIDDEN),
    ] {
        let r = app.get_job(Some(token), id).await;
        assert_eq!(r.status(), status);
        for list in ["assignments", "unmatched"] {
            let r = app.get(&format!("/batches/{id}/{list}"), Some(token)).await;
            assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
        }
    }
    let r = app.get(&format!("/batches/{id}/unmatched"), None).await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "/problems/unauthenticated").await;
}

async fn invalid_batches_are_422_with_a_pointer(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    let cases = [
        (
            json!({"territory": {"insee": ["54395", "9999"]}}),
            "#/territory/insee/1",
        ),
        (json!({"territory": {"insee": []}}), "#/territory/insee"),
        (
            json!({"territory": {"epci": "000000000"}}),
            "#/territory/epci",
        ),
        (json!({"territory": {"epci": "nancy"}}), "#/territory/epci"),
        (json!({"territory": {"region": "44"}}), "#/territory"),
        (
            json!({"territory": {"insee": ["54395"]}, "default_max_km": 0}),
            "#/default_max_km",
        ),
        (json!({"default_max_km": 5}), "#/territory"),
        (
            json!({"territory": {"insee": ["54395"]}, "colour": 1}),
            "#/colour",
        ),
    ];
    for (body, pointer) in cases {
        let r = app.create_batch(Some(&cpam), &body).await;
        let p = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(only_error(&p)["pointer"], pointer, "{body}: {p}");
    }
    assert_eq!(
        app.store.active_jobs().await.unwrap(),
        0,
        "nothing was queued"
    );

    seed(&app, &cpam).await;
    let job = app
        .run_batch(&cpam, &json!({"territory": {"insee": ["54395"]}}))
        .await;
    let id = job["id"].as_str().unwrap();
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("offset=-1", "offset"),
    ] {
        let r = app
            .get(&format!("/batches/{id}/assignments?{query}"), Some(&cpam))
            .await;
        let p = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(only_error(&p)["parameter"], parameter, "{query}");
    }
}

async fn unknown_batches_and_jobs_are_404(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    let r = app
        .get_job(Some(&cpam), "0123456789abcdef0123456789abcdef")
        .await;
    assert_problem(r, StatusCode::NOT_FOUND, "/problems/not-found").await;
    for list in ["assignments", "unmatched"] {
        let r = app.get(&format!("/batches/nope/{list}"), Some(&cpam)).await;
        assert_problem(r, StatusCode::NOT_FOUND, "/problems/not-found").await;
    }
}

//! The authorisation matrix of issue 16, generated from the OpenAPI document: every route and
//! method, for principals of two territories of each role, gets the status of
//! `cpts::api::authz::MATRIX` (the table beside the rules). A route without a row fails.
//! Territory A is Meurthe-et-Moselle (`dep:54`, CPTS Grand Nancy), B the Moselle (`dep:57`,
//! CPTS du territoire messin); every object the requests name belongs to A.

use crate::helpers::{TestApp, both_backends};
use crate::slots::{in_minutes, seed_plan, seed_slots};
use cpts::api::authz::{MATRIX, PRINCIPALS, Rule, expectation};
use cpts::domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

both_backends!(every_route_answers_each_principal_as_the_matrix_says);

const DOCTOR_A: &str = "10000000009";
const DOCTOR_B: &str = "10000005701";

/// The objects of territory A the requests name, and one token per principal.
struct Fixture {
    tokens: HashMap<&'static str, String>,
    batch: String,
    plan: String,
    window: String,
    slot: i64,
    held: i64,
    booking: String,
    proposal: String,
    feed: String,
    grant: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let mut tokens = HashMap::new();
    let scoped = [
        ("cpam_a", Role::Cpam, "dep:54"),
        ("cpam_b", Role::Cpam, "dep:57"),
        ("regulateur_a", Role::Regulateur, "dep:54"),
        ("regulateur_b", Role::Regulateur, "dep:57"),
        ("coordinateur_a", Role::Coordinateur, "cpts:grand_nancy"),
        (
            "coordinateur_b",
            Role::Coordinateur,
            "cpts:territoire_messin",
        ),
        ("auditeur_a", Role::Auditeur, "dep:54"),
        ("auditeur_b", Role::Auditeur, "dep:57"),
        ("admin", Role::Admin, "national"),
    ];
    for (name, role, scope) in scoped {
        tokens.insert(name, app.token_in(role, None, scope).await);
    }
    // Each CPAM imports the doctors of its département.
    let r = app
        .import_csv(
            Some(&tokens["cpam_a"]),
            "doctors",
            &format!("rpps,name,lat,lon,insee,capacity\n{DOCTOR_A},Dr A,48.6930,6.1850,54395,2\n"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .import_csv(
            Some(&tokens["cpam_b"]),
            "doctors",
            &format!("rpps,name,lat,lon,insee,capacity\n{DOCTOR_B},Dr B,49.1190,6.1757,57463,2\n"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    tokens.insert("medecin_a", app.medecin(&DOCTOR_A.parse().unwrap()).await);
    tokens.insert("medecin_b", app.medecin(&DOCTOR_B.parse().unwrap()).await);
    let r = app
        .import_csv(
            Some(&tokens["cpam_a"]),
            "patients",
            "patient_id,lat,lon,insee,age,ald,css\nP1,48.6921,6.1844,54395,75,1,0\n",
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let job = app
        .run_batch(
            &tokens["cpam_a"],
            &json!({"territory": {"insee": ["54395"]}}),
        )
        .await;
    let batch = job["id"].as_str().unwrap().to_owned();
    // Its assignment of P1 to doctor A becomes a proposal.
    let r = app
        .request(
            Method::POST,
            &format!("/batches/{batch}/commit"),
            Some(&tokens["cpam_a"]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let proposals: Value = app
        .get(
            &format!("/proposals?batch={batch}"),
            Some(&tokens["cpam_a"]),
        )
        .await
        .json()
        .await
        .unwrap();
    let proposal = proposals["items"][0]["id"].as_str().unwrap().to_owned();

    // Coordinator A's cabinet, doctor A's availability, and A's plan of a week of 2037.
    let r = app
        .request(Method::POST, "/cabinets", Some(&tokens["coordinateur_a"]))
        .json(
            &json!({"cabinet_id": "NANCY-1", "name": "Nancy 1", "lat": 48.6921,
                      "lon": 6.1844, "insee": "54395", "need": 1}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    app.seed_garde_doctor(DOCTOR_A, 3, "2037-03-02T08:00:00", "2037-03-08T00:00:00")
        .await;
    let windows: Value = app
        .get(
            &format!("/doctors/{DOCTOR_A}/availability"),
            Some(&tokens["medecin_a"]),
        )
        .await
        .json()
        .await
        .unwrap();
    let window = windows[0]["id"].to_string();
    // Monday 2 and Tuesday 3 March are two of A's three shifts (wishes decide among equals):
    // the published positions POST /garde/withdrawals takes him off and POST /garde/offers
    // offers.
    for day in ["2037-03-02", "2037-03-03"] {
        let r = app
            .request(
                Method::PUT,
                &format!("/doctors/{DOCTOR_A}/garde/preferences/{day}"),
                Some(&tokens["medecin_a"]),
            )
            .json(&json!({"preference": "prefer"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let plan = app
        .run_plan(
            &tokens["coordinateur_a"],
            &json!({"period": {"start": "2037-03-02", "end": "2037-03-08"}}),
        )
        .await;

    // Published slots at A's cabinet, one booked by SAS A.
    seed_plan(app, "plan-published", true).await;
    let slots = seed_slots(
        app,
        "plan-published",
        &[
            ("NANCY-1", DOCTOR_A, in_minutes(60)),
            ("NANCY-1", DOCTOR_A, in_minutes(120)),
            ("NANCY-1", DOCTOR_A, in_minutes(180)),
        ],
    )
    .await;
    let r = app
        .book(
            Some(&tokens["regulateur_a"]),
            &slots[0].to_string(),
            "C15-AUTHZ-1",
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let booking: Value = r.json().await.unwrap();
    // Doctor A's calendar feed.
    let r = app
        .request(
            Method::POST,
            &format!("/doctors/{DOCTOR_A}/calendar"),
            Some(&tokens["medecin_a"]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let feed_view: Value = r.json().await.unwrap();
    let feed = feed_view["path"]
        .as_str()
        .unwrap()
        .trim_start_matches("/calendar/")
        .to_owned();
    // A grant of a role to a person who signs in.
    let r = app
        .request(Method::POST, "/grants", Some(&tokens["admin"]))
        .json(&json!({"identity": "sub:authz-staff", "role": "cpam", "scope": "dep:54"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let grant = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Fixture {
        tokens,
        grant,
        batch,
        plan,
        window,
        slot: slots[1],
        held: slots[2],
        booking: booking["booking_id"].to_string(),
        proposal,
        feed,
    }
}

/// The concrete path of `rule`: every parameter names an object of territory A.
fn concrete(rule: &Rule, f: &Fixture) -> String {
    let id = match rule.path {
        p if p.starts_with("/territories/") && rule.method == "GET" => "grand_nancy".to_owned(),
        p if p.starts_with("/territories/") => "authz_test".to_owned(),
        p if p.starts_with("/batches/") || p.starts_with("/jobs/") => f.batch.clone(),
        p if p.starts_with("/garde/plans/") => f.plan.clone(),
        p if p.starts_with("/garde/offers/") => "1234567890123456".to_owned(),
        p if p.starts_with("/grants/") => f.grant.clone(),
        p if p.starts_with("/proposals/") => f.proposal.clone(),
        p if p.starts_with("/doctors/") => f.window.clone(),
        "/fhir/Slot/{id}" => f.slot.to_string(),
        // The shape of a Schedule id, naming none.
        "/fhir/Schedule/{id}" => format!("{DOCTOR_A}-0000000000000000"),
        _ => String::new(),
    };
    let slot = if rule.path.ends_with("/hold") {
        f.held
    } else {
        f.slot
    };
    rule.path
        .replace("{id}", &id)
        .replace("{rpps}", DOCTOR_A)
        .replace("{patient_id}", "P1")
        .replace("{cabinet_id}", "NANCY-1")
        .replace("{slot_id}", &slot.to_string())
        .replace("{booking_id}", &f.booking)
        .replace("{feed}", &f.feed)
        .replace("{file}", "Slot.ndjson")
        .replace(
            "{date}",
            &(chrono::Utc::now() + chrono::Duration::days(30))
                .date_naive()
                .to_string(),
        )
        + &match rule.path {
            "/garde/tableau" | "/garde/carence" => "?month=2037-03".to_owned(),
            "/fhir/Slot" => format!("?schedule.actor:Practitioner.identifier=8{DOCTOR_A}"),
            "/fhir/Practitioner" => format!("?identifier=8{DOCTOR_A}"),
            "/communes" => "?q=nancy".to_owned(),
            "/batches/{id}/map" => String::new(),
            _ => String::new(),
        }
}

/// A valid body for the writes, so that a 404 or 403 is never a 422 in disguise.
fn body(rule: &Rule) -> Option<(&'static str, String)> {
    let json = |v: Value| Some(("application/json", v.to_string()));
    match (rule.method, rule.path) {
        ("PUT", "/territories/{id}") => json(json!({"name": "Test authz", "communes": ["54395"]})),
        ("POST", "/grants") => json(
            json!({"identity": "rpps:10000000009", "role": "coordinateur",
                                           "scope": "cpts:grand_nancy"}),
        ),
        ("POST", "/imports/patients") => Some((
            "text/csv",
            "patient_id,lat,lon,insee,age,ald,css\nP2,48.6921,6.1844,54395,40,0,0\n".to_owned(),
        )),
        ("POST", "/imports/doctors") => Some((
            "text/csv",
            format!("rpps,name,lat,lon,insee,capacity\n{DOCTOR_A},Dr A,48.6930,6.1850,54395,2\n"),
        )),
        ("POST", "/imports/garde-doctors") => Some((
            "text/csv",
            format!(
                "rpps,name,lat,lon,insee,max_shifts,max_km\n{DOCTOR_A},Dr A,48.6930,6.1850,54395,3,20\n"
            ),
        )),
        ("POST", "/imports/availability") => Some((
            "text/csv",
            format!("rpps,start,end\n{DOCTOR_A},2037-05-04T17:00:00,2037-05-04T21:00:00\n"),
        )),
        ("POST", "/batches") => json(json!({"territory": {"insee": ["54395"]}})),
        ("POST", "/proposals/{id}/refuse") => json(json!({"reason": "distance"})),
        ("PUT", "/doctors/{rpps}/capacity") => json(json!({"capacity": 3})),
        ("POST", "/doctors/{rpps}/availability") => {
            json(json!({"start": "2037-04-06T17:00:00", "end": "2037-04-06T21:00:00"}))
        }
        ("PUT", "/doctors/{rpps}/garde") => json(json!({"max_shifts": 3, "max_km": 20})),
        ("PUT", "/doctors/{rpps}/garde/preferences/{date}") => json(json!({"preference": "avoid"})),
        ("POST", "/garde/offers") => json(json!({"cabinet_id": "NANCY-1", "date": "2037-03-03"})),
        ("POST", "/garde/withdrawals") => json(json!({"cabinet_id": "NANCY-1",
            "date": "2037-03-02", "rpps": DOCTOR_A, "reason": "illness"})),
        ("POST", "/cabinets") => json(json!({"cabinet_id": "AUTHZ-NEW", "name": "Nouveau",
            "lat": 48.6921, "lon": 6.1844, "insee": "54395", "need": 1})),
        ("PUT", "/cabinets/{cabinet_id}") => json(json!({"name": "Nancy 1", "lat": 48.6921,
            "lon": 6.1844, "insee": "54395", "need": 1})),
        ("POST", "/garde/plans") => {
            json(json!({"period": {"start": "2037-03-02", "end": "2037-03-08"}}))
        }
        ("POST", "/slots/{slot_id}/bookings") => json(json!({"patient_ref": "C15-AUTHZ-2"})),
        _ => None,
    }
}

async fn every_route_answers_each_principal_as_the_matrix_says(app: Arc<TestApp>) {
    let f = fixture(&app).await;
    // Writes that delete come last, so that nothing the other rows name is gone.
    let mut rules: Vec<&Rule> = MATRIX.iter().collect();
    rules.sort_by_key(|r| r.method == "DELETE");
    let mut failures = Vec::new();
    let mut checked = 0;
    for rule in rules {
        let path = concrete(rule, &f);
        let method: Method = rule.method.parse().unwrap();
        // Refused principals first, then the allowed ones; then no token at all.
        let mut order: Vec<usize> = (0..PRINCIPALS.len()).collect();
        order.sort_by_key(|&i| expectation(rule, i) == Some('o'));
        let mut calls: Vec<(String, Option<&str>, char)> = order
            .into_iter()
            .map(|i| {
                let name = PRINCIPALS[i];
                let want = expectation(rule, i).unwrap();
                (name.to_owned(), Some(f.tokens[name].as_str()), want)
            })
            .collect();
        calls.insert(
            0,
            (
                "no token".to_owned(),
                None,
                if rule.public { 'o' } else { 'u' },
            ),
        );
        for (who, token, want) in calls {
            // A hold is released by its holder: an allowed release first takes the hold, and
            // an allowed hold is released again, so that the next caller finds the slot free.
            let hold = rule.path.ends_with("/hold") && want == 'o';
            if hold && rule.method == "DELETE" {
                app.request(Method::POST, &path, token)
                    .send()
                    .await
                    .unwrap();
            }
            let mut request = app.request(method.clone(), &path, token);
            if let Some((content_type, text)) = body(rule) {
                request = request.header("content-type", content_type).body(text);
            }
            let status = request.send().await.unwrap().status();
            if hold && rule.method == "POST" {
                app.request(Method::DELETE, &path, token)
                    .send()
                    .await
                    .unwrap();
            }
            let ok = match want {
                'o' => {
                    !matches!(status.as_u16(), 401 | 403 | 404) && !status.is_server_error()
                        || (status == StatusCode::SERVICE_UNAVAILABLE
                            && !app.has_redis()
                            && (rule.path.contains("hold") || rule.path.ends_with("/events")))
                }
                'h' => status == StatusCode::NOT_FOUND,
                'f' => status == StatusCode::FORBIDDEN,
                _ => status == StatusCode::UNAUTHORIZED,
            };
            checked += 1;
            if !ok {
                failures.push(format!(
                    "{} {} as {who}: expected {want}, got {status}",
                    rule.method, rule.path
                ));
            }
        }
    }
    eprintln!(
        "authorisation matrix: {} routes × {} callers, {checked} requests, {} unexpected",
        MATRIX.len(),
        PRINCIPALS.len() + 1,
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

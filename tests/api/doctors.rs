//! `PUT /doctors/{rpps}/capacity` and `GET /doctors/{rpps}`.

use crate::helpers::{TestApp, assert_problem, both_backends, only_error};
use cpts::domain::{MatchingDoctor, Role, Rpps};
use cpts::geo::Coordinates;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

both_backends!(
    a_cpam_import_keeps_the_gp_s_own_declaration,
    a_gp_declares_its_capacity_and_reads_it_back,
    cpam_and_coordinators_read_a_doctor_but_not_a_regulateur,
    no_token_and_bad_tokens_get_the_same_401,
    a_revoked_token_is_refused,
    other_roles_and_other_gps_get_403,
    invalid_declarations_are_422_with_a_pointer,
    an_invalid_rpps_in_the_path_is_422_naming_the_parameter,
    malformed_or_non_json_bodies_are_refused,
    unknown_doctors_are_404,
    a_limit_can_come_after_a_declaration_without_one,
);

/// FORMATS.md §1 gives both as valid RPPS numbers.
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

async fn seeded(app: &TestApp) {
    app.seed_doctors(&[doctor(gp()), doctor(other_gp())]).await;
}

async fn a_gp_declares_its_capacity_and_reads_it_back(app: Arc<TestApp>) {
    seeded(&app).await;
    let token = app.medecin(&gp()).await;
    let r = app
        .put_capacity(
            Some(&token),
            gp().as_str(),
            &json!({"capacity": 12, "max_km": 7.5}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["rpps"], "10000000009");
    assert_eq!(body["capacity"], 12);
    assert_eq!(body["max_km"], 7.5);
    assert!(
        body["capacity_declared_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );

    let stored = app.store.doctor(&gp()).await.unwrap().unwrap();
    assert_eq!(stored.doctor.capacity, 12);
    assert_eq!(stored.doctor.max_km.map(|m| m.km()), Some(7.5));
    assert!(stored.capacity_updated_at.is_some());
    // The other doctor is untouched.
    let other = app.store.doctor(&other_gp()).await.unwrap().unwrap();
    assert_eq!(other.doctor.capacity, 5);
    assert_eq!(other.capacity_updated_at, None);

    let r = app.get_doctor(Some(&token), gp().as_str()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let read: Value = r.json().await.unwrap();
    assert_eq!(read, body);

    // Absent max_km: no doctor-side limit any more.
    let r = app
        .put_capacity(Some(&token), gp().as_str(), &json!({"capacity": 0}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let stored = app.store.doctor(&gp()).await.unwrap().unwrap();
    assert_eq!((stored.doctor.capacity, stored.doctor.max_km), (0, None));
}

async fn cpam_and_coordinators_read_a_doctor_but_not_a_regulateur(app: Arc<TestApp>) {
    seeded(&app).await;
    for role in [Role::Cpam, Role::Coordinateur] {
        let token = app.token(role, None).await;
        let r = app.get_doctor(Some(&token), gp().as_str()).await;
        assert_eq!(r.status(), StatusCode::OK, "{role}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["insee"], "54395");
    }
    let token = app.token(Role::Regulateur, None).await;
    let r = app.get_doctor(Some(&token), gp().as_str()).await;
    assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
}

async fn no_token_and_bad_tokens_get_the_same_401(app: Arc<TestApp>) {
    seeded(&app).await;
    let real = app.medecin(&gp()).await;
    // Same shape as a real token, unknown id; and a real id with a wrong secret.
    let unknown = format!("cpts_{}_{}", "0".repeat(16), "0".repeat(64));
    let (id_part, _) = real.rsplit_once('_').unwrap();
    let wrong_secret = format!("{id_part}_{}", "f".repeat(64));
    let body = json!({"capacity": 1});
    let mut bodies = Vec::new();
    for token in [
        None,
        Some("garbage"),
        Some(unknown.as_str()),
        Some(wrong_secret.as_str()),
    ] {
        let r = app.put_capacity(token, gp().as_str(), &body).await;
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        bodies.push(assert_problem(r, StatusCode::UNAUTHORIZED, "/problems/unauthenticated").await);
        let r = app.get_doctor(token, gp().as_str()).await;
        bodies.push(assert_problem(r, StatusCode::UNAUTHORIZED, "/problems/unauthenticated").await);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    // A non-Bearer scheme carrying a valid token is no better.
    let r = app
        .request(Method::GET, &format!("/doctors/{}", gp()), None)
        .header("authorization", format!("Basic {real}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_problem(r, StatusCode::UNAUTHORIZED, "/problems/unauthenticated").await,
        bodies[0]
    );
    // Nothing was written.
    assert_eq!(
        app.store
            .doctor(&gp())
            .await
            .unwrap()
            .unwrap()
            .doctor
            .capacity,
        5
    );
}

async fn a_revoked_token_is_refused(app: Arc<TestApp>) {
    seeded(&app).await;
    let token = app.medecin(&gp()).await;
    let r = app.get_doctor(Some(&token), gp().as_str()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let id = cpts::tokens::id_of(&token).unwrap();
    assert!(app.store.revoke_token(id).await.unwrap());
    assert!(
        !app.store.revoke_token(id).await.unwrap(),
        "already revoked"
    );
    // Refused within the server's token cache delay (one second in the tests).
    let r = app
        .refused_after_revoke(&token, &format!("/doctors/{}", gp().as_str()))
        .await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "/problems/unauthenticated").await;
}

async fn other_roles_and_other_gps_get_403(app: Arc<TestApp>) {
    seeded(&app).await;
    let body = json!({"capacity": 3, "max_km": 5});
    for role in [Role::Cpam, Role::Regulateur, Role::Coordinateur] {
        let token = app.token(role, None).await;
        let r = app.put_capacity(Some(&token), gp().as_str(), &body).await;
        let p = assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
        assert_eq!(p["detail"], "this requires the role medecin");
    }
    let other = app.medecin(&other_gp()).await;
    let r = app.put_capacity(Some(&other), gp().as_str(), &body).await;
    let p = assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
    assert_eq!(p["detail"], "a médecin acts only on its own RPPS");
    // The RPPS check comes before the body is read: an invalid body still gets the 403.
    let r = app
        .put_capacity(Some(&other), gp().as_str(), &json!({"capacity": -1}))
        .await;
    assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
    let r = app.get_doctor(Some(&other), gp().as_str()).await;
    assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
    assert_eq!(
        app.store
            .doctor(&gp())
            .await
            .unwrap()
            .unwrap()
            .doctor
            .capacity,
        5
    );
}

async fn invalid_declarations_are_422_with_a_pointer(app: Arc<TestApp>) {
    seeded(&app).await;
    let token = app.medecin(&gp()).await;
    let cases = [
        (json!({"capacity": 3, "max_km": 0}), "#/max_km"),
        (json!({"capacity": 3, "max_km": -2.5}), "#/max_km"),
        (json!({"capacity": 3, "max_km": "far"}), "#/max_km"),
        (json!({"capacity": -1, "max_km": 5}), "#/capacity"),
        (json!({"capacity": 1.5}), "#/capacity"),
        (json!({"max_km": 5}), "#/capacity"),
        (json!({"capacity": 3, "colour": "blue"}), "#/colour"),
        (json!("3 patients"), "#"),
    ];
    for (body, pointer) in cases {
        let r = app.put_capacity(Some(&token), gp().as_str(), &body).await;
        let p = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(p["detail"], "1 field is invalid");
        assert_eq!(only_error(&p)["pointer"], pointer, "{body}: {p}");
    }
    let r = app
        .put_capacity(
            Some(&token),
            gp().as_str(),
            &json!({"capacity": 3, "max_km": 0}),
        )
        .await;
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(
        only_error(&p)["detail"],
        "must be a finite number of kilometres greater than 0"
    );
    assert_eq!(
        app.store
            .doctor(&gp())
            .await
            .unwrap()
            .unwrap()
            .doctor
            .capacity,
        5
    );
}

async fn an_invalid_rpps_in_the_path_is_422_naming_the_parameter(app: Arc<TestApp>) {
    let token = app.token(Role::Cpam, None).await;
    for (rpps, detail) in [
        ("10000000008", "check digit does not match (Luhn)"),
        ("123", "expected exactly 11 digits"),
    ] {
        let r = app.get_doctor(Some(&token), rpps).await;
        let p = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(
            only_error(&p),
            &json!({"parameter": "rpps", "detail": detail})
        );
    }
    let medecin = app.medecin(&gp()).await;
    let r = app
        .put_capacity(Some(&medecin), "10000000008", &json!({"capacity": 1}))
        .await;
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(only_error(&p)["parameter"], "rpps");
}

async fn malformed_or_non_json_bodies_are_refused(app: Arc<TestApp>) {
    seeded(&app).await;
    let token = app.medecin(&gp()).await;
    let path = format!("/doctors/{}/capacity", gp());
    let r = app
        .request(Method::PUT, &path, Some(&token))
        .header("content-type", "application/json")
        .body("{\"capacity\": ")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST, "/problems/malformed-request").await;
    let r = app
        .request(Method::PUT, &path, Some(&token))
        .header("content-type", "text/plain")
        .body("capacity=3")
        .send()
        .await
        .unwrap();
    assert_problem(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "/problems/unsupported-media-type",
    )
    .await;
    let huge = format!(
        "{{\"capacity\": 1, \"pad\": \"{}\"}}",
        "x".repeat(1_100_000)
    );
    let r = app
        .request(Method::PUT, &path, Some(&token))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_problem(
        r,
        StatusCode::PAYLOAD_TOO_LARGE,
        "/problems/payload-too-large",
    )
    .await;
}

async fn unknown_doctors_are_404(app: Arc<TestApp>) {
    // Nobody imported: the RPPS is valid, the doctor unknown.
    let medecin = app.medecin(&gp()).await;
    let r = app
        .put_capacity(Some(&medecin), gp().as_str(), &json!({"capacity": 3}))
        .await;
    assert_problem(r, StatusCode::NOT_FOUND, "/problems/not-found").await;
    let cpam = app.token(Role::Cpam, None).await;
    let r = app.get_doctor(Some(&cpam), gp().as_str()).await;
    assert_problem(r, StatusCode::NOT_FOUND, "/problems/not-found").await;
    assert!(app.store.doctor(&gp()).await.unwrap().is_none());
}

/// A regression: sqlx's `any` driver once sent an absent `max_km` to PostgreSQL as a `float4`
/// parameter, and the cached statement then refused a real limit on the same connection.
async fn a_limit_can_come_after_a_declaration_without_one(app: Arc<TestApp>) {
    seeded(&app).await;
    let token = app.medecin(&gp()).await;
    for body in [
        json!({"capacity": 3}),
        json!({"capacity": 4, "max_km": 6.0}),
        json!({"capacity": 5, "max_km": null}),
        json!({"capacity": 6, "max_km": 2.5}),
    ] {
        let r = app.put_capacity(Some(&token), gp().as_str(), &body).await;
        assert_eq!(r.status(), StatusCode::OK, "{body}");
        let got: Value = r.json().await.unwrap();
        assert_eq!(got["capacity"], body["capacity"]);
        assert_eq!(
            got["max_km"],
            body.get("max_km").cloned().unwrap_or(Value::Null)
        );
    }
}

async fn a_cpam_import_keeps_the_gp_s_own_declaration(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    let r = app
        .import_csv(Some(&cpam), "doctors", crate::imports::DOCTORS)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Dr A (10000000009) declares 12 places within 7.5 km.
    let token = app.medecin(&gp()).await;
    let r = app
        .put_capacity(
            Some(&token),
            gp().as_str(),
            &json!({"capacity": 12, "max_km": 7.5}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // The next CPAM import says 2 places and no limit: Dr A's declaration stands; Dr B, who
    // declared nothing, takes the file's values.
    let next = "rpps,name,lat,lon,insee,capacity,max_km\n\
                10000000009,Dr A,48.6930,6.1850,54395,2,\n\
                10123456781,Dr B,48.7010,6.1990,54547,4,9\n";
    let r = app.import_csv(Some(&cpam), "doctors", next).await;
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["kept_declared"], 1, "{report}");
    assert_eq!(report["updated"], 2, "{report}");
    let a: Value = app
        .get_doctor(Some(&cpam), gp().as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["capacity"], 12, "{a}");
    assert_eq!(a["max_km"], 7.5, "{a}");
    assert!(a["capacity_declared_at"].is_string(), "{a}");
    assert_eq!(a["imported_capacity"], 2, "{a}");
    assert!(a["imported_max_km"].is_null(), "{a}");
    assert!(a["imported_at"].as_str().unwrap().ends_with('Z'), "{a}");
    let b = app.store.doctor(&other_gp()).await.unwrap().unwrap();
    assert_eq!(b.doctor.capacity, 4);
    assert_eq!(b.doctor.max_km.map(|m| m.km()), Some(9.0));
}

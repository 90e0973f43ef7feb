//! `POST /imports/patients` and `POST /imports/doctors`.

use crate::helpers::{TestApp, assert_problem, both_backends};
use cpts::domain::{InseeCode, Role};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

both_backends!(
    cpam_imports_patients_and_doctors_idempotently_by_id,
    imports_need_a_cpam_token,
    a_refused_file_is_422_with_line_column_and_field_and_stores_nothing,
    only_text_csv_is_accepted,
    unknown_import_kinds_are_404,
);

pub const PATIENTS: &str = "patient_id,lat,lon,insee,age,ald,css,max_km\n\
    P1,48.6921,6.1844,54395,75,0,0,\n\
    P2,48.6950,6.1800,54395,30,1,0,5\n\
    P3,48.7000,6.2000,54547,40,0,0,\n";

pub const DOCTORS: &str = "rpps,name,lat,lon,insee,capacity,max_km\n\
    10000000009,Dr A,48.6930,6.1850,54395,2,\n\
    10123456781,Dr B,48.7010,6.1990,54547,1,8\n";

impl TestApp {
    /// `POST /imports/{kind}` with a `text/csv` body.
    pub async fn import_csv(&self, token: Option<&str>, kind: &str, body: &str) -> Response {
        self.request(Method::POST, &format!("/imports/{kind}"), token)
            .header("content-type", "text/csv")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }
}

fn nancy_communes() -> Vec<InseeCode> {
    vec!["54395".parse().unwrap(), "54547".parse().unwrap()]
}

async fn cpam_imports_patients_and_doctors_idempotently_by_id(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    let r = app.import_csv(Some(&cpam), "patients", PATIENTS).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"file": "patients.csv", "rows": 3, "inserted": 3, "updated": 0})
    );
    let stored = app.store.patients_in(&nancy_communes()).await.unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[1].max_km.map(|m| m.km()), Some(5.0));
    assert!(stored[1].ald);

    // The same file again, one row changed and one added: upserts, nothing duplicated.
    let again =
        format!("{PATIENTS}P4,48.69,6.18,54395,20,0,1,\n").replace("P3,48.7000", "P3,48.7100");
    let r = app.import_csv(Some(&cpam), "patients", &again).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["inserted"].clone(), body["updated"].clone()),
        (json!(1), json!(3))
    );
    let stored = app.store.patients_in(&nancy_communes()).await.unwrap();
    assert_eq!(stored.len(), 4);
    assert_eq!(stored[2].coords.lat(), 48.71);

    let r = app.import_csv(Some(&cpam), "doctors", DOCTORS).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"file": "doctors.csv", "rows": 2, "inserted": 2, "updated": 0, "kept_declared": 0})
    );
    let d = app
        .store
        .doctor(&"10123456781".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (d.doctor.capacity, d.doctor.max_km.map(|m| m.km())),
        (1, Some(8.0))
    );
    let r = app.import_csv(Some(&cpam), "doctors", DOCTORS).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["inserted"].clone(), body["updated"].clone()),
        (json!(0), json!(2))
    );
}

async fn imports_need_a_cpam_token(app: Arc<TestApp>) {
    for kind in ["patients", "doctors"] {
        let r = app.import_csv(None, kind, PATIENTS).await;
        assert_problem(r, StatusCode::UNAUTHORIZED, "/problems/unauthenticated").await;
        let r = app.import_csv(Some("garbage"), kind, PATIENTS).await;
        assert_problem(r, StatusCode::UNAUTHORIZED, "/problems/unauthenticated").await;
        for role in [Role::Regulateur, Role::Coordinateur] {
            let token = app.token(role, None).await;
            let r = app.import_csv(Some(&token), kind, PATIENTS).await;
            assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
        }
        let medecin = app.medecin(&"10000000009".parse().unwrap()).await;
        let r = app.import_csv(Some(&medecin), kind, PATIENTS).await;
        assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
    }
    assert!(
        app.store
            .patients_in(&nancy_communes())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_refused_file_is_422_with_line_column_and_field_and_stores_nothing(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    // Line 3: latitude out of range (column 2); line 4: a NIR-shaped id (column 1). Lines 2
    // and 5 are valid, and are not stored either.
    let bad = "patient_id,lat,lon,insee,age,ald,css\n\
        P1,48.69,6.18,54395,42,0,0\n\
        P2,91.5,6.18,54395,42,0,0\n\
        1850175123456,48.69,6.18,54395,42,0,0\n\
        P5,48.69,6.18,54395,42,0,0\n";
    let r = app.import_csv(Some(&cpam), "patients", bad).await;
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(p["detail"], "patients.csv: 2 errors; nothing was imported");
    let errors = p["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{p}");
    assert_eq!(
        (
            &errors[0]["line"],
            &errors[0]["column"],
            &errors[0]["field"]
        ),
        (&json!(3), &json!(2), &json!("lat"))
    );
    assert_eq!(
        (
            &errors[1]["line"],
            &errors[1]["column"],
            &errors[1]["field"]
        ),
        (&json!(4), &json!(1), &json!("patient_id"))
    );
    // Health data: no cell value is echoed.
    assert!(!p.to_string().contains("1850175123456"), "{p}");
    assert!(!p.to_string().contains("91.5"), "{p}");
    assert!(
        app.store
            .patients_in(&nancy_communes())
            .await
            .unwrap()
            .is_empty()
    );

    // A missing column is an error on the header (line 1, column 0).
    let r = app
        .import_csv(Some(&cpam), "doctors", "rpps,name,lat,lon,insee\n")
        .await;
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(p["errors"][0]["line"], 1);
    assert_eq!(p["errors"][0]["column"], 0);
    assert_eq!(p["errors"][0]["field"], "capacity");
    let r = app
        .import_csv(
            Some(&cpam),
            "doctors",
            "rpps,name,lat,lon,insee,capacity\n10000000008,Dr X,48.69,6.18,54395,1\n",
        )
        .await;
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(
        p["errors"][0],
        json!({"line": 2, "column": 1, "field": "rpps", "detail": "check digit does not match (Luhn)"})
    );
}

async fn only_text_csv_is_accepted(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    let r = app
        .request(Method::POST, "/imports/patients", Some(&cpam))
        .json(&json!({"patients": []}))
        .send()
        .await
        .unwrap();
    assert_problem(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "/problems/unsupported-media-type",
    )
    .await;
    // A file above the 1 MiB JSON limit is fine for an import (nancy's is 537 kB; here 2 MB).
    // Some rows with a max_km after rows without: a regression of binding absent floats on
    // PostgreSQL (store::NULLABLE_FLOAT).
    let mut big = String::from("patient_id,lat,lon,insee,age,ald,css,max_km\n");
    for i in 0..60_000 {
        let km = if i % 700 == 699 { "5" } else { "" };
        big.push_str(&format!("Q{i:06},48.69,6.18,54395,42,0,0,{km}\n"));
    }
    assert!(big.len() > 1_100_000);
    let r = app.import_csv(Some(&cpam), "patients", &big).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["inserted"], 60_000);
}

async fn unknown_import_kinds_are_404(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    let r = app.import_csv(Some(&cpam), "cabinets-typo", PATIENTS).await;
    assert_problem(r, StatusCode::NOT_FOUND, "/problems/not-found").await;
}

both_backends!(a_patient_is_erased_with_its_batch_results_and_the_audit_keeps_no_id);

async fn a_patient_is_erased_with_its_batch_results_and_the_audit_keeps_no_id(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    assert_eq!(
        app.import_csv(Some(&cpam), "patients", PATIENTS)
            .await
            .status(),
        StatusCode::OK
    );
    let first = PATIENTS
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    let r = app
        .request(Method::DELETE, &format!("/patients/{first}"), Some(&cpam))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let erased: serde_json::Value = r.json().await.unwrap();
    assert_eq!(erased["patients"], 1, "{erased}");
    let communes = ["54395".parse().unwrap(), "54547".parse().unwrap()];
    let left = app.store.patients_in(&communes).await.unwrap();
    assert!(left.iter().all(|p| p.id.as_str() != first));
    // Again: nothing names it any more.
    let r = app
        .request(Method::DELETE, &format!("/patients/{first}"), Some(&cpam))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The audit trail has the erasure, with counts and without the id.
    let auditeur = app.token(Role::Auditeur, None).await;
    let page = app
        .get("/audit?limit=100", Some(&auditeur))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("patient.erase"), "{page}");
    assert!(
        !page.contains(&first),
        "the erased id is in the audit trail"
    );
    // Only CPAM staff erase.
    let regulateur = app.token(Role::Regulateur, None).await;
    let r = app
        .request(Method::DELETE, "/patients/P2", Some(&regulateur))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

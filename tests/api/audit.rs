//! The audit trail (issue 8): every write leaves a row in its own transaction, an auditeur
//! reads them filtered by actor, object and time, and the database refuses to change them.

use crate::helpers::{TestApp, assert_problem, both_backends, only_error};
use crate::imports::{DOCTORS, PATIENTS};
use crate::slots::{in_minutes, seed_plan, seed_slots, store_cabinet};
use cpts::domain::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Executor;
use std::sync::Arc;

both_backends!(
    writes_leave_rows_that_an_auditeur_filters,
    bookings_and_cancellations_are_audited_without_the_patient,
    only_an_auditeur_reads_the_trail,
    the_trail_refuses_updates_and_deletes,
    an_auditeur_of_a_territory_reads_the_rows_of_its_territory,
);

impl TestApp {
    /// `GET /audit?{query}`.
    pub async fn audit(&self, token: Option<&str>, query: &str) -> reqwest::Response {
        self.get(&format!("/audit?{query}"), token).await
    }

    /// The rows of `GET /audit?{query}` (asserting a 200).
    async fn audit_rows(&self, auditeur: &str, query: &str) -> Vec<Value> {
        let r = self.audit(Some(auditeur), query).await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        body["items"].as_array().unwrap().clone()
    }
}

fn actions(rows: &[Value]) -> Vec<&str> {
    rows.iter().map(|r| r["action"].as_str().unwrap()).collect()
}

/// The public id part of a `cpts_<id>_<secret>` token.
fn id_of(token: &str) -> String {
    cpts::tokens::id_of(token).unwrap().to_owned()
}

async fn writes_leave_rows_that_an_auditeur_filters(app: Arc<TestApp>) {
    let before = chrono::Utc::now().timestamp();
    let cpam = app.token(Role::Cpam, None).await;
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let auditeur = app.token(Role::Auditeur, None).await;
    assert_eq!(
        app.import_csv(Some(&cpam), "patients", PATIENTS)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.import_csv(Some(&cpam), "doctors", DOCTORS)
            .await
            .status(),
        StatusCode::OK
    );
    // A refused import writes nothing, and no audit row either.
    let bad = app
        .import_csv(Some(&cpam), "patients", "patient_id\nP1\n")
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let medecin = app.medecin(&"10000000009".parse().unwrap()).await;
    let r = app
        .put_capacity(Some(&medecin), "10000000009", &json!({"capacity": 5}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let cabinet = json!({"cabinet_id": "CAB-1", "name": "Cabinet", "lat": 48.69,
                         "lon": 6.18, "insee": "54395", "need": 1});
    assert_eq!(
        app.post_cabinet(Some(&coordinateur), &cabinet)
            .await
            .status(),
        StatusCode::CREATED
    );
    let mut changed = cabinet.clone();
    changed["need"] = json!(2);
    changed.as_object_mut().unwrap().remove("cabinet_id"); // the path names it
    assert_eq!(
        app.put_cabinet(Some(&coordinateur), "CAB-1", &changed)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.delete_cabinet(Some(&coordinateur), "CAB-1")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );

    // The CPAM's writes, under its token id and role, with counts and no patient id.
    let rows = app
        .audit_rows(&auditeur, &format!("actor={}", id_of(&cpam)))
        .await;
    assert_eq!(actions(&rows), ["patients.import", "doctors.import"]);
    assert_eq!(rows[0]["role"], "cpam");
    assert_eq!(rows[0]["object_kind"], "patients");
    assert_eq!(
        rows[0]["detail"],
        json!({"rows": 3, "inserted": 3, "updated": 0})
    );
    let text = serde_json::to_string(&rows).unwrap();
    for id in ["P1", "P2", "P3", "48.69"] {
        assert!(!text.contains(id), "{id} in {text}");
    }

    // By object: the cabinet's three writes, in order; kind alone; kind and id.
    let rows = app.audit_rows(&auditeur, "object=cabinet:CAB-1").await;
    assert_eq!(
        actions(&rows),
        ["cabinet.create", "cabinet.update", "cabinet.delete"]
    );
    assert!(
        rows.iter()
            .all(|r| r["token_id"] == id_of(&coordinateur).as_str())
    );
    assert_eq!(rows[1]["detail"]["need"], 2);
    let rows = app.audit_rows(&auditeur, "object=doctor").await;
    assert_eq!(actions(&rows), ["capacity.declare"]);
    assert_eq!(rows[0]["object_id"], "10000000009");
    assert_eq!(rows[0]["role"], "medecin");
    assert!(
        app.audit_rows(&auditeur, "object=cabinet:CAB-2")
            .await
            .is_empty()
    );

    // Tokens made outside the API (here as `cpts token create` makes them): no actor.
    let rows = app
        .audit_rows(&auditeur, &format!("object=token:{}", id_of(&auditeur)))
        .await;
    assert_eq!(actions(&rows), ["token.create"]);
    assert_eq!(rows[0]["token_id"], Value::Null);
    assert_eq!(rows[0]["detail"]["role"], "auditeur");

    // By time: everything since the start, nothing in the future, nothing before it.
    let at = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let all = app
        .audit_rows(&auditeur, &format!("from={}&limit=1000", at(before)))
        .await;
    assert_eq!(all.len(), 4 + 2 + 1 + 3); // 4 tokens, 2 imports, 1 capacity, 3 cabinet
    let later = at(chrono::Utc::now().timestamp() + 3600);
    assert!(
        app.audit_rows(&auditeur, &format!("from={later}"))
            .await
            .is_empty()
    );
    assert!(
        app.audit_rows(&auditeur, &format!("to={}", at(before - 1)))
            .await
            .is_empty()
    );

    // Pages of 3 by keyset, following `next` to the end.
    let mut seen = Vec::new();
    let mut path = "/audit?limit=3".to_owned();
    loop {
        let page: Value = app.get(&path, Some(&auditeur)).await.json().await.unwrap();
        seen.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, all);
}

async fn bookings_and_cancellations_are_audited_without_the_patient(app: Arc<TestApp>) {
    store_cabinet(&app, "CAB-1", 48.69, 6.18).await;
    seed_plan(&app, "PLAN-1", true).await;
    let slots = seed_slots(&app, "PLAN-1", &[("CAB-1", "10000000009", in_minutes(120))]).await;
    let regulateur = app.token(Role::Regulateur, None).await;
    let auditeur = app.token(Role::Auditeur, None).await;
    let r = app
        .book(Some(&regulateur), &slots[0].to_string(), "PSEUDO-4242")
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let booking: Value = r.json().await.unwrap();
    let id = booking["booking_id"].as_i64().unwrap();
    // A refused second booking leaves no row.
    let other = app.token(Role::Regulateur, None).await;
    let r = app
        .book(Some(&other), &slots[0].to_string(), "PSEUDO-4243")
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        app.cancel_booking(Some(&regulateur), &id.to_string())
            .await
            .status(),
        StatusCode::OK
    );
    let rows = app
        .audit_rows(&auditeur, &format!("object=booking:{id}"))
        .await;
    assert_eq!(actions(&rows), ["booking.create", "booking.cancel"]);
    assert_eq!(rows[0]["detail"], json!({"slot_id": slots[0]}));
    assert_eq!(rows[0]["role"], "regulateur");
    assert!(!serde_json::to_string(&rows).unwrap().contains("PSEUDO"));
    assert!(
        app.audit_rows(&auditeur, &format!("actor={}", id_of(&other)))
            .await
            .is_empty()
    );
}

async fn only_an_auditeur_reads_the_trail(app: Arc<TestApp>) {
    let r = app.audit(None, "").await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "/problems/unauthenticated").await;
    let r = app.audit(Some("cpts_nope"), "").await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "/problems/unauthenticated").await;
    for role in [Role::Cpam, Role::Regulateur, Role::Coordinateur] {
        let token = app.token(role, None).await;
        let r = app.audit(Some(&token), "").await;
        assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
    }
    let auditeur = app.token(Role::Auditeur, None).await;
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("actor=someone", "actor"),
        ("object=Cabinet", "object"),
        ("from=yesterday", "from"),
        ("after=x", "after"),
        ("sort=desc", "sort"),
    ] {
        let r = app.audit(Some(&auditeur), query).await;
        let body = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(only_error(&body)["parameter"], parameter, "{body}");
    }
    // An auditeur writes nothing: its token is refused elsewhere.
    let r = app.import_csv(Some(&auditeur), "patients", PATIENTS).await;
    assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
}

async fn the_trail_refuses_updates_and_deletes(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    assert_eq!(
        app.import_csv(Some(&cpam), "patients", PATIENTS)
            .await
            .status(),
        StatusCode::OK
    );
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    let count = || async {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM audit")
            .fetch_one(&pool)
            .await
            .unwrap();
        sqlx::Row::get::<i64, _>(&row, "n")
    };
    let rows = count().await;
    assert!(rows >= 2, "{rows}");
    let mut refused = vec![
        "UPDATE audit SET action = 'nothing'",
        "UPDATE audit SET detail = '{}' WHERE action = 'patients.import'",
        "DELETE FROM audit",
        "DELETE FROM audit WHERE action = 'token.create'",
    ];
    // Both backends carry the triggers; PostgreSQL refuses TRUNCATE too.
    if app.database_url.starts_with("postgres") {
        refused.push("TRUNCATE audit");
    }
    for sql in refused {
        let e = pool.execute(sql).await.unwrap_err();
        assert!(
            e.to_string().contains("append-only"),
            "{sql} was refused for another reason: {e}"
        );
    }
    assert_eq!(count().await, rows);
    pool.close().await;
}

/// Issue 16: every row names its author's territory; an auditeur bound to a département reads
/// the rows of that département's principals, a national one filters by territory.
async fn an_auditeur_of_a_territory_reads_the_rows_of_its_territory(app: Arc<TestApp>) {
    let nancy = app.token_in(Role::Cpam, None, "dep:54").await;
    let metz = app.token_in(Role::Cpam, None, "dep:57").await;
    let r = app
        .import_csv(
            Some(&nancy),
            "patients",
            "patient_id,lat,lon,insee,age,ald,css\nP1,48.6921,6.1844,54395,75,1,0\n",
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .import_csv(
            Some(&metz),
            "patients",
            "patient_id,lat,lon,insee,age,ald,css\nP2,49.1190,6.1757,57463,40,0,0\n",
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let of = |rows: &[Value]| -> Vec<String> {
        rows.iter()
            .filter(|r| r["action"] == "patients.import")
            .map(|r| r["territory"].as_str().unwrap().to_owned())
            .collect()
    };
    let auditeur_54 = app.token_in(Role::Auditeur, None, "dep:54").await;
    assert_eq!(of(&app.audit_rows(&auditeur_54, "").await), ["dep:54"]);
    let auditeur_57 = app.token_in(Role::Auditeur, None, "dep:57").await;
    assert_eq!(of(&app.audit_rows(&auditeur_57, "").await), ["dep:57"]);
    // Asking for another territory than its own leaves nothing.
    assert!(of(&app.audit_rows(&auditeur_57, "territory=dep:54").await).is_empty());
    let national = app.token_in(Role::Auditeur, None, "national").await;
    assert_eq!(
        of(&app.audit_rows(&national, "").await),
        ["dep:54", "dep:57"]
    );
    assert_eq!(
        of(&app.audit_rows(&national, "territory=dep:57").await),
        ["dep:57"]
    );
    let r = app.audit(Some(&national), "territory=region:44").await;
    assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    // A CPAM of Moselle cannot import a patient of Meurthe-et-Moselle: the cell is named.
    let r = app
        .import_csv(
            Some(&metz),
            "patients",
            "patient_id,lat,lon,insee,age,ald,css\nP3,48.6921,6.1844,54395,75,1,0\n",
        )
        .await;
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    let e = only_error(&p);
    assert_eq!(
        (e["line"].as_u64(), e["field"].as_str()),
        (Some(2), Some("insee")),
        "{p}"
    );
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains("outside this token's territory"),
        "{p}"
    );
}

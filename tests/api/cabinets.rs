//! `POST|GET /cabinets`, `GET|PUT|DELETE /cabinets/{cabinet_id}`.

use crate::helpers::{TestApp, assert_problem, both_backends, only_error};
use crate::slots::{in_minutes, seed_plan, seed_slots, store_cabinet};
use cpts::domain::Role;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

both_backends!(
    a_coordinator_creates_reads_replaces_and_deletes_a_cabinet,
    a_duplicate_cabinet_id_is_409,
    cabinets_are_for_coordinators_only,
    invalid_cabinets_are_422_with_a_pointer,
    unknown_cabinets_are_404,
    a_cabinet_with_slots_is_kept,
    a_cabinet_with_future_slots_keeps_its_place,
);

impl TestApp {
    /// `POST /cabinets`.
    pub async fn post_cabinet(&self, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::POST, "/cabinets", token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `GET /cabinets/{id}`.
    pub async fn get_cabinet(&self, token: Option<&str>, id: &str) -> Response {
        self.get(&format!("/cabinets/{id}"), token).await
    }

    /// `PUT /cabinets/{id}`.
    pub async fn put_cabinet(&self, token: Option<&str>, id: &str, body: &Value) -> Response {
        self.request(Method::PUT, &format!("/cabinets/{id}"), token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `DELETE /cabinets/{id}`.
    pub async fn delete_cabinet(&self, token: Option<&str>, id: &str) -> Response {
        self.request(Method::DELETE, &format!("/cabinets/{id}"), token)
            .send()
            .await
            .unwrap()
    }
}

fn nancy() -> Value {
    json!({"cabinet_id": "NANCY-1", "name": "Maison médicale de garde de Nancy",
           "lat": 48.6921, "lon": 6.1844, "insee": "54395", "need": 2})
}

async fn a_coordinator_creates_reads_replaces_and_deletes_a_cabinet(app: Arc<TestApp>) {
    let token = app.token(Role::Coordinateur, None).await;
    let r = app.post_cabinet(Some(&token), &nancy()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["location"], "/cabinets/NANCY-1");
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["slot_minutes"], 15, "the default of FORMATS.md §3");
    assert_eq!(created["need"], 2);

    let r = app.get_cabinet(Some(&token), "NANCY-1").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), created);

    let metz = json!({"cabinet_id": "METZ-1", "name": "MMG Metz", "lat": 49.1193,
                      "lon": 6.1757, "insee": "57463", "need": 1, "slot_minutes": 20});
    assert_eq!(
        app.post_cabinet(Some(&token), &metz).await.status(),
        StatusCode::CREATED
    );
    let list: Value = app
        .get("/cabinets", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cabinet_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["METZ-1", "NANCY-1"]);

    let r = app
        .put_cabinet(
            Some(&token),
            "NANCY-1",
            &json!({"name": "MMG Nancy", "lat": 48.69, "lon": 6.18, "insee": "54395",
                    "need": 3, "slot_minutes": 30}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let stored = app
        .store
        .cabinet(&"NANCY-1".parse().unwrap(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.need, stored.slot_minutes),
        ("MMG Nancy", 3, 30)
    );

    let r = app.delete_cabinet(Some(&token), "NANCY-1").await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(
        app.store
            .cabinet(&"NANCY-1".parse().unwrap(), None)
            .await
            .unwrap()
            .is_none()
    );
    let r = app.delete_cabinet(Some(&token), "NANCY-1").await;
    assert_problem(r, StatusCode::NOT_FOUND, "/problems/not-found").await;
}

async fn a_duplicate_cabinet_id_is_409(app: Arc<TestApp>) {
    let token = app.token(Role::Coordinateur, None).await;
    assert_eq!(
        app.post_cabinet(Some(&token), &nancy()).await.status(),
        StatusCode::CREATED
    );
    let mut again = nancy();
    again["name"] = json!("Another name");
    let r = app.post_cabinet(Some(&token), &again).await;
    let p = assert_problem(r, StatusCode::CONFLICT, "/problems/conflict").await;
    assert!(p["detail"].as_str().unwrap().contains("NANCY-1"), "{p}");
    let stored = app
        .store
        .cabinet(&"NANCY-1".parse().unwrap(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.name, "Maison médicale de garde de Nancy");
}

async fn cabinets_are_for_coordinators_only(app: Arc<TestApp>) {
    let coordinateur = app.token(Role::Coordinateur, None).await;
    app.post_cabinet(Some(&coordinateur), &nancy()).await;
    let gp = app.medecin(&"10000000009".parse().unwrap()).await;
    let body = json!({"name": "x", "lat": 48.0, "lon": 6.0, "insee": "54395", "need": 1});
    for token in [None, Some("garbage")] {
        for r in [
            app.post_cabinet(token, &nancy()).await,
            app.get("/cabinets", token).await,
            app.get_cabinet(token, "NANCY-1").await,
            app.put_cabinet(token, "NANCY-1", &body).await,
            app.delete_cabinet(token, "NANCY-1").await,
        ] {
            assert_problem(r, StatusCode::UNAUTHORIZED, "/problems/unauthenticated").await;
        }
    }
    for role in [Role::Cpam, Role::Regulateur] {
        let t = app.token(role, None).await;
        for token in [t.as_str(), gp.as_str()] {
            for r in [
                app.post_cabinet(Some(token), &nancy()).await,
                app.get("/cabinets", Some(token)).await,
                app.get_cabinet(Some(token), "NANCY-1").await,
                // A 403 comes before the 422 of a bad body or id.
                app.put_cabinet(Some(token), "bad id!", &json!({})).await,
                app.delete_cabinet(Some(token), "NANCY-1").await,
            ] {
                assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
            }
        }
    }
    assert_eq!(app.store.cabinets(None).await.unwrap().len(), 1);
}

async fn invalid_cabinets_are_422_with_a_pointer(app: Arc<TestApp>) {
    let token = app.token(Role::Coordinateur, None).await;
    let with = |field: &str, value: Value| {
        let mut b = nancy();
        b[field] = value;
        b
    };
    let mut missing = nancy();
    missing.as_object_mut().unwrap().remove("name");
    for (body, pointer) in [
        (with("lat", json!(91.0)), "#/lat"),
        (with("lon", json!(-181.0)), "#/lon"),
        (with("need", json!(0)), "#/need"),
        (with("need", json!(-1)), "#/need"),
        (with("slot_minutes", json!(7)), "#/slot_minutes"),
        (with("slot_minutes", json!(0)), "#/slot_minutes"),
        (with("insee", json!("99999")), "#/insee"),
        (with("insee", json!(54395)), "#/insee"),
        (with("cabinet_id", json!("bad id!")), "#/cabinet_id"),
        (with("name", json!("  ")), "#/name"),
        (with("colour", json!("blue")), "#/colour"),
        (missing, "#/name"),
    ] {
        let r = app.post_cabinet(Some(&token), &body).await;
        let p = assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(only_error(&p)["pointer"], pointer, "{p}");
    }
    // Rules checked after parsing are all listed.
    let mut two = with("need", json!(0));
    two["slot_minutes"] = json!(25);
    let r = app.post_cabinet(Some(&token), &two).await;
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    let pointers: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["#/need", "#/slot_minutes"]);
    // The id of a PUT is the path's.
    let r = app
        .put_cabinet(
            Some(&token),
            "bad id!",
            &json!({"name": "x", "lat": 48.0, "lon": 6.0, "insee": "54395", "need": 1}),
        )
        .await;
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(only_error(&p)["parameter"], "cabinet_id");
    assert!(app.store.cabinets(None).await.unwrap().is_empty());
}

async fn unknown_cabinets_are_404(app: Arc<TestApp>) {
    let token = app.token(Role::Coordinateur, None).await;
    let body = json!({"name": "x", "lat": 48.69, "lon": 6.18, "insee": "54395", "need": 1});
    for r in [
        app.get_cabinet(Some(&token), "NOPE").await,
        app.put_cabinet(Some(&token), "NOPE", &body).await,
        app.delete_cabinet(Some(&token), "NOPE").await,
    ] {
        assert_problem(r, StatusCode::NOT_FOUND, "/problems/not-found").await;
    }
    assert!(app.store.cabinets(None).await.unwrap().is_empty());
}

async fn a_cabinet_with_future_slots_keeps_its_place(app: Arc<TestApp>) {
    let token = app.token(Role::Coordinateur, None).await;
    store_cabinet(&app, "NANCY-1", 48.6921, 6.1844).await;
    seed_plan(&app, "plan-1", true).await;
    seed_slots(
        &app,
        "plan-1",
        &[("NANCY-1", "10000000009", in_minutes(60))],
    )
    .await;
    let before = app
        .store
        .cabinet(&"NANCY-1".parse().unwrap(), None)
        .await
        .unwrap()
        .unwrap();
    // Moved to Marseille, with slots still to come: 409, nothing changed.
    for body in [
        json!({"name": "x", "lat": 43.2965, "lon": 5.3698, "insee": "13055", "need": 1}),
        json!({"name": "x", "lat": before.coords.lat(), "lon": before.coords.lon(),
               "insee": "54395", "need": 3}),
        json!({"name": "x", "lat": before.coords.lat(), "lon": before.coords.lon(),
               "insee": "54395", "need": before.need, "slot_minutes": 30}),
    ] {
        let r = app.put_cabinet(Some(&token), "NANCY-1", &body).await;
        let p = assert_problem(r, StatusCode::CONFLICT, "/problems/conflict").await;
        assert!(p["detail"].as_str().unwrap().contains("NANCY-1"), "{p}");
    }
    let after = app
        .store
        .cabinet(&"NANCY-1".parse().unwrap(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, before);
    // Its name may change.
    let r = app
        .put_cabinet(
            Some(&token),
            "NANCY-1",
            &json!({"name": "Maison médicale de garde", "lat": before.coords.lat(),
                    "lon": before.coords.lon(), "insee": "54395", "need": before.need,
                    "slot_minutes": before.slot_minutes}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

async fn a_cabinet_with_slots_is_kept(app: Arc<TestApp>) {
    let token = app.token(Role::Coordinateur, None).await;
    store_cabinet(&app, "NANCY-1", 48.6921, 6.1844).await;
    seed_plan(&app, "plan-1", true).await;
    seed_slots(
        &app,
        "plan-1",
        &[("NANCY-1", "10000000009", in_minutes(60))],
    )
    .await;
    let r = app.delete_cabinet(Some(&token), "NANCY-1").await;
    let p = assert_problem(r, StatusCode::CONFLICT, "/problems/conflict").await;
    assert!(p["detail"].as_str().unwrap().contains("slots"), "{p}");
    assert_eq!(app.store.cabinets(None).await.unwrap().len(), 1);
}

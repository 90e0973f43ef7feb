//! `/healthz`, `/readyz`, `/openapi.json`, `/docs`, and answers to unknown routes.

use crate::helpers::{Backend, TestApp, assert_problem, both_backends};
use cpts::config::Secret;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::sync::Arc;

both_backends!(
    healthz_answers_while_the_process_is_up,
    readyz_checks_the_database_and_redis,
    openapi_json_is_openapi_3_1_and_lists_the_paths,
    docs_page_renders_the_openapi_document,
    metrics_count_requests_by_route_in_the_prometheus_format,
    unknown_routes_and_methods_are_problems,
);

async fn healthz_answers_while_the_process_is_up(app: Arc<TestApp>) {
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

async fn readyz_checks_the_database_and_redis(app: Arc<TestApp>) {
    let r = app.get("/readyz", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "ok");
    let redis = if app.has_redis() {
        "ok"
    } else {
        "not configured"
    };
    assert_eq!(body["redis"], redis);
}

#[tokio::test]
async fn readyz_is_503_while_redis_is_down() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.redis_url = Some(Secret::new("redis://127.0.0.1:1"));
    })
    .await
    .unwrap();
    let r = app.get("/readyz", None).await;
    let body = assert_problem(r, StatusCode::SERVICE_UNAVAILABLE, "/problems/unavailable").await;
    assert_eq!(body["detail"], "Redis is unavailable");
    // Liveness does not depend on Redis.
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    app.teardown().await;
}

async fn openapi_json_is_openapi_3_1_and_lists_the_paths(app: Arc<TestApp>) {
    let r = app.get("/openapi.json", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: Value = r.json().await.unwrap();
    let version = doc["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "{version}");
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/healthz",
        "/readyz",
        "/doctors/{rpps}",
        "/doctors/{rpps}/capacity",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} is missing from {:?}",
            paths.keys()
        );
    }
    let put = &doc["paths"]["/doctors/{rpps}/capacity"]["put"];
    assert_eq!(put["security"], serde_json::json!([{"bearer": []}]));
    assert!(put["responses"]["422"].is_object(), "{put}");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

async fn docs_page_renders_the_openapi_document(app: Arc<TestApp>) {
    let r = app.get("/docs", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("/openapi.json"), "{html}");
}

async fn metrics_count_requests_by_route_in_the_prometheus_format(app: Arc<TestApp>) {
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text().await.unwrap();
    for wanted in [
        r#"cpts_http_requests_total{method="GET",route="/healthz",status="200"}"#,
        r#"cpts_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="0.005"}"#,
        "# TYPE cpts_event_streams_open gauge",
        "cpts_connections_open ",
    ] {
        assert!(text.contains(wanted), "{wanted} not in\n{text}");
    }
    if app.has_redis() {
        assert!(text.contains("cpts_redis_circuit_open 0"), "{text}");
    }
    // Route templates only: no id from a path reaches a label.
    let _ = app.get("/jobs/secret-job-id-123", None).await;
    let text = app.get("/metrics", None).await.text().await.unwrap();
    assert!(!text.contains("secret-job-id-123"), "{text}");
}

async fn unknown_routes_and_methods_are_problems(app: Arc<TestApp>) {
    let r = app.get("/no/such/route", None).await;
    assert_problem(r, StatusCode::NOT_FOUND, "/problems/not-found").await;
    let r = app
        .request(Method::DELETE, "/healthz", None)
        .send()
        .await
        .unwrap();
    assert_problem(
        r,
        StatusCode::METHOD_NOT_ALLOWED,
        "/problems/method-not-allowed",
    )
    .await;
}

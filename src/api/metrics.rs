//! `GET /metrics` (the Prometheus text format, see `crate::metrics`), and the middleware that
//! counts every request by method, route template and status.

use super::{ApiError, AppState};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Counts and times the request (the time to its answer's head; a stream's body is not
/// counted).
pub(super) async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    crate::metrics::request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The metrics of this process, in the Prometheus text format (version 0.0.4). Open like
/// `/healthz`: it holds counts by route template, never an id.
pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    let Some(handle) = crate::metrics::handle() else {
        return ApiError::Unavailable {
            what: "metrics",
            source: "no metrics recorder in this process".into(),
        }
        .into_response();
    };
    if let Some(cache) = &state.cache {
        metrics::gauge!("cpts_redis_circuit_open").set(if cache.is_down() { 1.0 } else { 0.0 });
    }
    metrics::gauge!("cpts_event_streams_open").set(state.streams.open() as f64);
    metrics::gauge!("cpts_connections_open")
        .set(state.connections.open.load(Ordering::Relaxed) as f64);
    metrics::counter!("cpts_connections_refused_total")
        .absolute(state.connections.refused.load(Ordering::Relaxed));
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

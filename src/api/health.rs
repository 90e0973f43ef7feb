//! `/healthz` (the process answers) and `/readyz` (it can serve: database and Redis answer).

use super::{ApiError, AppState, Json, Problem};
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// Readiness, per backing service.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// Always `ready` (an unready service answers 503 instead).
    pub status: String,
    /// `ok`.
    pub database: String,
    /// `ok`, or `not configured` when `REDIS_URL` is unset (development).
    pub redis: String,
}

/// The process is up; checks nothing else.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process answers", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

/// The database answers and, when configured, Redis too.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "The database or Redis does not answer", body = Problem,
         content_type = "application/problem+json"),
    ))]
async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    state.store.ping().await?;
    let redis = match &state.cache {
        Some(cache) => {
            // Readiness says which dependency fails, not what needs it.
            cache.ping().await.map_err(|e| ApiError::Unavailable {
                what: "Redis",
                source: Box::new(e),
            })?;
            "ok"
        }
        None => "not configured",
    };
    Ok(Json(Readiness {
        status: "ready".to_owned(),
        database: "ok".to_owned(),
        redis: redis.to_owned(),
    }))
}

//! `GET /communes`: the commune list the binary carries (INSEE, COG 2026), searched by name.
//! What a régulateur's search box autocompletes, and what the web app's maps draw as their
//! base layer. Public reference data: every principal may read it.

use super::{ApiError, AppState, Caller, Json, Problem};
use axum::extract::RawQuery;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Default and largest number of communes in one answer (the largest département, Pas-de-Calais,
/// has fewer than 900).
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 2000;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}

/// A commune of the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommuneView {
    #[schema(example = "54395")]
    pub insee: String,
    #[schema(example = "Nancy")]
    pub name: String,
    #[schema(example = "54")]
    pub departement: String,
    /// Population municipale; absent for the uninhabited communes.
    pub population: Option<u64>,
    /// A point inside the commune (WGS84).
    pub lat: f64,
    pub lon: f64,
}

/// Filters of `GET /communes`.
#[derive(Debug, IntoParams)]
#[allow(dead_code)]
#[into_params(parameter_in = Query)]
pub struct CommunesQuery {
    /// The start of a name (accents, case and hyphens ignored), or of an INSEE code; empty:
    /// every commune of `departement`.
    pub q: Option<String>,
    /// A département code (`54`, `2A`, `971`).
    pub departement: Option<String>,
    /// 1 to 2000 (default 20).
    pub limit: Option<usize>,
}

/// Communes by name: exact names first, then the most populated.
#[utoipa::path(get, path = "/communes", tag = "territories",
    security(("bearer" = [])),
    params(CommunesQuery),
    responses(
        (status = 200, description = "The communes found, best first", body = Vec<CommuneView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad parameter (`parameter`), or neither `q` nor `departement`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn search(
    _caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<CommuneView>>, ApiError> {
    let (mut q, mut departement, mut limit) = (String::new(), None, DEFAULT_LIMIT);
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "q" => {
                if value.chars().count() > 100 {
                    return Err(ApiError::invalid_parameter("q", "at most 100 characters"));
                }
                q = value.into_owned();
            }
            "departement" => {
                let ok = (2..=3).contains(&value.len())
                    && value
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == 'A' || c == 'B');
                if !ok {
                    return Err(ApiError::invalid_parameter(
                        "departement",
                        "expected a département code: 54, 2A, 971",
                    ));
                }
                departement = Some(value.into_owned());
            }
            "limit" => {
                limit = usize::try_from(super::limit_param(&value, MAX_LIMIT as u64)?)
                    .unwrap_or(MAX_LIMIT)
            }
            _ => {}
        }
    }
    if q.trim().is_empty() && departement.is_none() {
        return Err(ApiError::invalid_parameter(
            "q",
            "give the start of a name, or a departement",
        ));
    }
    let found = crate::geo::search_communes(&q, departement.as_deref(), limit);
    Ok(Json(
        found
            .into_iter()
            .map(|c| CommuneView {
                insee: c.insee,
                name: c.name,
                departement: c.departement,
                population: c.population,
                lat: c.coords.lat(),
                lon: c.coords.lon(),
            })
            .collect(),
    ))
}

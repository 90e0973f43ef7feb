//! Territories (issue 16): the CPTS tokens and cabinets are bound to. Every caller may read
//! them (their names and communes are public); only an `admin` creates, replaces or deletes
//! one, and each change is audited. Départements need no management: a département is an
//! INSEE prefix.

use super::{Admin, ApiError, AppState, Caller, FieldError, Json, Path, Problem, parse_param};
use crate::domain::{CptsId, Finess, InseeCode};
use crate::store::{CptsDeletion, CptsRecord, NewCpts};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most communes of one CPTS.
pub const MAX_COMMUNES: usize = 2000;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_territories))
        .routes(routes!(get_territory, put_territory, delete_territory))
}

/// A CPTS.
#[derive(Debug, Serialize, ToSchema)]
pub struct CptsView {
    /// The id tokens name it by (`--territory cpts:<id>`).
    #[schema(example = "grand_nancy")]
    pub id: String,
    pub name: String,
    /// Its FINESS number, when known (the FHIR interface identifies it by it).
    pub finess: Option<String>,
    /// The INSEE codes of its communes, sorted.
    pub communes: Vec<String>,
    /// The départements its communes lie in.
    pub departements: Vec<String>,
    /// The month (1–12) its garde reference year starts on: a plan counts each doctor's
    /// published shifts from the first of that month to its period as prior shifts (fairness
    /// over the year). 1: the calendar year.
    pub garde_year_start: u32,
    /// Whether a swap of garde shifts (`/garde/offers`) needs the coordinator's approval.
    pub swap_approval: bool,
}

impl From<CptsRecord> for CptsView {
    fn from(c: CptsRecord) -> Self {
        Self {
            departements: c.departements().iter().map(ToString::to_string).collect(),
            id: c.id.into(),
            name: c.name,
            finess: c.finess.map(String::from),
            communes: c.communes.iter().map(ToString::to_string).collect(),
            garde_year_start: c.garde_year_start,
            swap_approval: c.swap_approval,
        }
    }
}

/// A CPTS to create or replace whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CptsFields {
    /// 1 to 200 characters.
    pub name: String,
    /// 9 characters (2A/2B allowed in second place); absent or null: none.
    #[schema(value_type = Option<String>, example = "540019832")]
    #[serde(default)]
    pub finess: Option<Finess>,
    /// 1 to 2000 INSEE codes of communes of the compiled commune list.
    #[schema(value_type = Vec<String>, example = json!(["54395", "54547"]))]
    pub communes: Vec<InseeCode>,
    /// The month (1–12) the garde reference year starts on; absent: kept (1 for a new CPTS).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 12, example = 1)]
    pub garde_year_start: Option<u32>,
    /// Whether swaps of garde shifts need the coordinator's approval; absent: kept (no for a
    /// new CPTS).
    #[serde(default)]
    pub swap_approval: Option<bool>,
}

fn unknown_cpts() -> ApiError {
    ApiError::NotFound("no CPTS with this id".to_owned())
}

/// Every CPTS, by id.
#[utoipa::path(get, path = "/territories", tag = "territories",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The CPTS, by id", body = Vec<CptsView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_territories(
    _caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<Vec<CptsView>>, ApiError> {
    let all = state.store.cpts_list().await?;
    Ok(Json(all.into_iter().map(CptsView::from).collect()))
}

/// One CPTS.
#[utoipa::path(get, path = "/territories/{id}", tag = "territories",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The CPTS id: 1–64 characters of [a-z0-9_]")),
    responses(
        (status = 200, description = "The CPTS", body = CptsView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No CPTS with this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a CPTS id (`parameter`: id)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_territory(
    _caller: Caller,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<CptsView>, ApiError> {
    let id: CptsId = parse_param("id", &raw)?;
    let c = state.store.cpts(&id).await?.ok_or_else(unknown_cpts)?;
    Ok(Json(c.into()))
}

/// Creates or replaces a CPTS (admin).
#[utoipa::path(put, path = "/territories/{id}", tag = "territories",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The CPTS id: 1–64 characters of [a-z0-9_]")),
    request_body = CptsFields,
    responses(
        (status = 200, description = "Replaced", body = CptsView),
        (status = 201, description = "Created", body = CptsView),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another CPTS has this FINESS number", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid field (`pointer`) or id (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn put_territory(
    Admin(caller): Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Json(body): Json<CptsFields>,
) -> Result<Response, ApiError> {
    let id: CptsId = parse_param("id", &raw)?;
    let mut errors = Vec::new();
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::at_pointer("#/name", "1 to 200 characters"));
    }
    if body.communes.is_empty() || body.communes.len() > MAX_COMMUNES {
        errors.push(FieldError::at_pointer(
            "#/communes",
            format!("1 to {MAX_COMMUNES} INSEE codes"),
        ));
    }
    for (i, c) in body.communes.iter().enumerate() {
        if crate::geo::commune_centroid(c.as_str()).is_none() {
            errors.push(FieldError::at_pointer(
                format!("#/communes/{i}"),
                format!("{c} is not a commune of the compiled commune list"),
            ));
        }
    }
    if body
        .garde_year_start
        .is_some_and(|m| !(1..=12).contains(&m))
    {
        errors.push(FieldError::at_pointer(
            "#/garde_year_start",
            "a month, 1 to 12",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let new = NewCpts {
        id: id.clone(),
        name,
        finess: body.finess,
        communes: body.communes,
        garde_year_start: body.garde_year_start,
        swap_approval: body.swap_approval,
    };
    let created = match caller.store(&state).put_cpts(&new).await {
        Ok(created) => created,
        Err(crate::store::Error::Conflict(_)) => {
            return Err(ApiError::Conflict(
                "another CPTS has this FINESS number".to_owned(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(cpts = %id, created, "CPTS stored");
    let stored = state.store.cpts(&id).await?.ok_or_else(unknown_cpts)?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(CptsView::from(stored))).into_response())
}

/// Deletes a CPTS no cabinet belongs to (admin). Tokens bound to it then see nothing.
#[utoipa::path(delete, path = "/territories/{id}", tag = "territories",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The CPTS id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No CPTS with this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Cabinets belong to it", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a CPTS id (`parameter`: id)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_territory(
    Admin(caller): Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: CptsId = parse_param("id", &raw)?;
    match caller.store(&state).delete_cpts(&id).await? {
        CptsDeletion::Deleted => Ok(StatusCode::NO_CONTENT),
        CptsDeletion::NotFound => Err(unknown_cpts()),
        CptsDeletion::InUse => Err(ApiError::Conflict(
            "cabinets belong to this CPTS; move or delete them first".to_owned(),
        )),
    }
}

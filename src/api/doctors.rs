//! GPs: a médecin declares its capacity for new médecin-traitant patients (FORMATS.md §2,
//! `capacity` and `max_km` of `doctors.csv`); CPAM staff and coordinators read doctors.
//!
//! The pattern for other resources (see the module doc of `api`).

use super::auth::OwnRpps;
use super::wire::rfc3339;
use super::{ApiError, AppState, Caller, Json, Path, Problem, parse_param};
use crate::domain::{MaxKm, Role, Rpps};
use crate::store::DoctorRecord;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_doctor))
        .routes(routes!(put_capacity))
}

/// What a GP declares. Replaces the previous declaration (or the imported values).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityDeclaration {
    /// New médecin-traitant patients accepted in the next batches (at most 10,000).
    #[schema(minimum = 0, maximum = 10000)]
    pub capacity: u32,
    /// Farthest a new patient may live, in km (> 0, at most 200). Absent or null: no limit of
    /// the doctor's own (the patient's limit and the batch default still apply).
    #[schema(value_type = Option<f64>, exclusive_minimum = 0.0, maximum = 200.0, example = 10.0)]
    pub max_km: Option<MaxKm>,
}

/// A GP as the service knows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DoctorView {
    #[schema(example = "10000000009")]
    pub rpps: String,
    pub name: String,
    /// The practice, WGS84 degrees.
    pub lat: f64,
    pub lon: f64,
    /// INSEE code of the practice's commune.
    #[schema(example = "54395")]
    pub insee: String,
    /// New médecin-traitant patients accepted.
    pub capacity: u32,
    /// Doctor-side distance limit in km; null: none.
    pub max_km: Option<f64>,
    /// When the doctor last declared its capacity (RFC 3339, UTC); null: the imported value.
    /// A declaration stands over later CPAM imports.
    pub capacity_declared_at: Option<String>,
    /// The capacity of the last CPAM import (null: no import brought this doctor).
    pub imported_capacity: Option<u32>,
    /// The max_km of the last CPAM import.
    pub imported_max_km: Option<f64>,
    /// When the last CPAM import brought these values (RFC 3339, UTC).
    pub imported_at: Option<String>,
}

impl From<DoctorRecord> for DoctorView {
    fn from(r: DoctorRecord) -> Self {
        let d = r.doctor;
        Self {
            rpps: d.rpps.into(),
            name: d.name,
            lat: d.coords.lat(),
            lon: d.coords.lon(),
            insee: d.insee.as_str().to_owned(),
            capacity: d.capacity,
            max_km: d.max_km.map(MaxKm::km),
            capacity_declared_at: r.capacity_updated_at.and_then(rfc3339),
            imported_capacity: r.imported.map(|(c, _, _)| c),
            imported_max_km: r.imported.and_then(|(_, km, _)| km),
            imported_at: r.imported.and_then(|(_, _, at)| rfc3339(at)),
        }
    }
}

fn unknown_doctor() -> ApiError {
    ApiError::NotFound("no doctor with this RPPS; doctors come from the CPAM's imports".to_owned())
}

/// A doctor: the médecin itself, CPAM staff or a coordinator.
#[utoipa::path(get, path = "/doctors/{rpps}", tag = "doctors",
    security(("bearer" = [])),
    params(("rpps" = String, Path, description = "RPPS number: 11 digits, Luhn check digit")),
    responses(
        (status = 200, description = "The doctor", body = DoctorView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Another médecin, or a régulateur", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No doctor with this RPPS in the caller's territory", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an RPPS number (`parameter`: rpps)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_doctor(
    caller: Caller,
    State(state): State<AppState>,
    Path(rpps): Path<String>,
) -> Result<Json<DoctorView>, ApiError> {
    let rpps: Rpps = parse_param("rpps", &rpps)?;
    match caller.role {
        Role::Medecin => caller.require_own_rpps(&rpps)?,
        Role::Cpam | Role::Coordinateur | Role::Regulateur | Role::Auditeur | Role::Admin => {
            caller.require(&[Role::Cpam, Role::Coordinateur])?;
        }
    }
    let record = state
        .store
        .doctor(&rpps)
        .await?
        .ok_or_else(unknown_doctor)?;
    if !super::auth::may_see_doctor(&state, &caller, &record.doctor.insee).await? {
        return Err(unknown_doctor());
    }
    Ok(Json(record.into()))
}

/// Declares the médecin's own capacity and distance limit.
#[utoipa::path(put, path = "/doctors/{rpps}/capacity", tag = "doctors",
    security(("bearer" = [])),
    params(("rpps" = String, Path, description = "The médecin's own RPPS")),
    request_body = CapacityDeclaration,
    responses(
        (status = 200, description = "Recorded; the doctor as now stored", body = DoctorView),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a médecin token, or another médecin's RPPS", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No doctor with this RPPS", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid field (`pointer`) or RPPS (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn put_capacity(
    OwnRpps(rpps, caller): OwnRpps,
    State(state): State<AppState>,
    Json(declaration): Json<CapacityDeclaration>,
) -> Result<Json<DoctorView>, ApiError> {
    if declaration.capacity > super::MAX_CAPACITY {
        return Err(ApiError::invalid_field(
            "#/capacity",
            format!("must be a whole number from 0 to {}", super::MAX_CAPACITY),
        ));
    }
    super::check_max_km("#/max_km", declaration.max_km)?;
    let record = caller
        .store(&state)
        .set_capacity(&rpps, declaration.capacity, declaration.max_km)
        .await?
        .ok_or_else(unknown_doctor)?;
    tracing::info!(rpps = %rpps, capacity = declaration.capacity, "capacity declared");
    Ok(Json(record.into()))
}

//! Cabinets de garde (FORMATS.md §3), managed by CPTS coordinators: create, list, read,
//! replace, delete. The rules of a cabinet (`need` ≥ 1, `slot_minutes` dividing the shift
//! lengths) are the garde core's ([`crate::garde::instance`]).

use super::{ApiError, AppState, Coordinateur, FieldError, Json, Path, Problem, parse_param};
use crate::domain::{Address, CabinetId, InseeCode};
use crate::garde::instance::{DEFAULT_SLOT_MINUTES, MAX_NEED, check_slot_minutes};

/// Farthest a cabinet may lie from the centre of the commune its INSEE code names, in km.
const MAX_KM_FROM_COMMUNE: f64 = 20.0;
use crate::geo::{Coordinates, CoordinatesError};
use crate::store::{CabinetDeletion, CabinetRow};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_cabinet, list_cabinets))
        .routes(routes!(get_cabinet, put_cabinet, delete_cabinet))
}

/// A new cabinet: its id, then the fields of [`CabinetFields`].
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCabinet {
    /// 1–64 characters of `[A-Za-z0-9_.-]`, unique.
    #[schema(value_type = String, example = "NANCY-1")]
    pub cabinet_id: CabinetId,
    /// Display only; not empty.
    pub name: String,
    /// WGS84 degrees.
    #[schema(example = 48.6921)]
    pub lat: f64,
    #[schema(example = 6.1844)]
    pub lon: f64,
    /// INSEE code of the commune (decides the Alsace-Moselle holidays).
    #[schema(value_type = String, example = "54395")]
    pub insee: InseeCode,
    /// Doctors per shift, 1 to 1000.
    #[schema(minimum = 1, maximum = 1000)]
    pub need: u32,
    /// Consultation length in minutes, dividing 120 (default 15).
    #[schema(example = 15)]
    pub slot_minutes: Option<u32>,
    /// The number the cabinet is reached at (10 French digits; spaces, dots, `+33` allowed);
    /// the tableau de garde names it. Editable while slots are published.
    #[schema(value_type = Option<String>, example = "03 83 12 34 56")]
    #[serde(default)]
    pub phone: Option<crate::domain::Phone>,
    /// Its postal address, all three parts or none; the SAS's FHIR Location shows it.
    /// Editable while slots are published.
    #[schema(value_type = Option<AddressView>)]
    #[serde(default)]
    pub address: Option<Address>,
}

/// Every field of a cabinet but its id (`PUT` replaces them all).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CabinetFields {
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    #[schema(value_type = String, example = "54395")]
    pub insee: InseeCode,
    #[schema(minimum = 1, maximum = 1000)]
    pub need: u32,
    /// Default 15.
    pub slot_minutes: Option<u32>,
    /// 10 French digits; absent or null: none.
    #[schema(value_type = Option<String>, example = "03 83 12 34 56")]
    #[serde(default)]
    pub phone: Option<crate::domain::Phone>,
    /// Absent or null: none.
    #[schema(value_type = Option<AddressView>)]
    #[serde(default)]
    pub address: Option<Address>,
}

/// A cabinet's postal address.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddressView {
    /// Number and street, one line of printable text (1–200 characters).
    #[schema(example = "12 rue Saint-Dizier")]
    pub line: String,
    #[schema(example = "Nancy")]
    pub city: String,
    /// Five digits, 01000 to 98999.
    #[schema(example = "54000")]
    pub postcode: String,
}

impl From<Address> for AddressView {
    fn from(a: Address) -> Self {
        Self {
            line: a.line.as_str().to_owned(),
            city: a.city.as_str().to_owned(),
            postcode: a.postcode.into(),
        }
    }
}

/// A cabinet de garde.
#[derive(Debug, Serialize, ToSchema)]
pub struct CabinetView {
    #[schema(example = "NANCY-1")]
    pub cabinet_id: String,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    #[schema(example = "54395")]
    pub insee: String,
    pub need: u32,
    pub slot_minutes: u32,
    /// `03 83 12 34 56`; null: none.
    pub phone: Option<String>,
    /// Null: none.
    pub address: Option<AddressView>,
}

impl From<CabinetRow> for CabinetView {
    fn from(c: CabinetRow) -> Self {
        Self {
            cabinet_id: c.id.into(),
            name: c.name,
            lat: c.coords.lat(),
            lon: c.coords.lon(),
            insee: c.insee.as_str().to_owned(),
            need: c.need,
            slot_minutes: c.slot_minutes,
            phone: c.phone.as_ref().map(crate::domain::Phone::grouped),
            address: c.address.map(AddressView::from),
        }
    }
}

impl CabinetFields {
    /// The row to store, or every invalid field at its pointer.
    fn into_row(self, id: CabinetId) -> Result<CabinetRow, ApiError> {
        let mut errors = Vec::new();
        let name = self
            .name
            .parse::<crate::domain::Name>()
            .map_err(|e| errors.push(FieldError::at_pointer("#/name", e.to_string())))
            .ok();
        let coords = Coordinates::new(self.lat, self.lon)
            .map_err(|e| {
                let at = match e {
                    CoordinatesError::Latitude => "#/lat",
                    CoordinatesError::Longitude => "#/lon",
                };
                errors.push(FieldError::at_pointer(at, e.to_string()));
            })
            .ok();
        if !(1..=MAX_NEED).contains(&self.need) {
            errors.push(FieldError::at_pointer(
                "#/need",
                format!("must be a whole number from 1 to {MAX_NEED}"),
            ));
        }
        // The INSEE code decides the holidays (Alsace-Moselle): it must name a real commune,
        // within MAX_KM_FROM_COMMUNE of the cabinet.
        match crate::geo::commune_centroid(self.insee.as_str()) {
            None => errors.push(FieldError::at_pointer(
                "#/insee",
                "not a commune of the compiled commune list",
            )),
            Some(centroid) => {
                if let Some(at) = coords {
                    let km = crate::geo::haversine_m(at, centroid) / 1000.0;
                    if km > MAX_KM_FROM_COMMUNE {
                        errors.push(FieldError::at_pointer(
                            "#/insee",
                            format!(
                                "the commune's centre is {km:.0} km from the cabinet's coordinates \
                                 (at most {MAX_KM_FROM_COMMUNE:.0} km)"
                            ),
                        ));
                    }
                }
            }
        }
        let slot_minutes = self.slot_minutes.unwrap_or(DEFAULT_SLOT_MINUTES);
        if let Err(m) = check_slot_minutes(slot_minutes) {
            errors.push(FieldError::at_pointer("#/slot_minutes", m));
        }
        match (coords, name) {
            (Some(coords), Some(name)) if errors.is_empty() => Ok(CabinetRow {
                id,
                name: name.into(),
                coords,
                insee: self.insee,
                need: self.need,
                slot_minutes,
                phone: self.phone,
                address: self.address,
            }),
            _ => Err(ApiError::Invalid(errors)),
        }
    }
}

fn unknown_cabinet() -> ApiError {
    ApiError::NotFound("no cabinet with this id".to_owned())
}

/// Creates a cabinet.
#[utoipa::path(post, path = "/cabinets", tag = "cabinets",
    security(("bearer" = [])),
    request_body = NewCabinet,
    responses(
        (status = 201, description = "Created; `Location` is the cabinet", body = CabinetView,
         headers(("location" = String, description = "/cabinets/{cabinet_id}"))),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinateur bound to a CPTS", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A cabinet with this id exists", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`pointer`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_cabinet(
    Coordinateur(caller): Coordinateur,
    State(state): State<AppState>,
    Json(body): Json<NewCabinet>,
) -> Result<Response, ApiError> {
    let id = body.cabinet_id;
    let row = CabinetFields {
        name: body.name,
        lat: body.lat,
        lon: body.lon,
        insee: body.insee,
        need: body.need,
        slot_minutes: body.slot_minutes,
        phone: body.phone,
        address: body.address,
    }
    .into_row(id)?;
    let cpts = caller.cpts().ok_or_else(|| {
        ApiError::Forbidden(
            "a cabinet belongs to a CPTS: use a coordinator token bound to one \
             (cpts token create --role coordinateur --territory cpts:<id>)"
                .to_owned(),
        )
    })?;
    match caller.store(&state).create_cabinet(&row, cpts).await {
        Ok(()) => {}
        Err(crate::store::Error::Conflict(_)) => {
            return Err(ApiError::Conflict(format!(
                "a cabinet with the id {} exists already",
                row.id
            )));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(cabinet = %row.id, "cabinet created");
    let location = format!("/cabinets/{}", row.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(CabinetView::from(row)),
    )
        .into_response())
}

/// The cabinets of the coordinator's CPTS, by id.
#[utoipa::path(get, path = "/cabinets", tag = "cabinets",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cabinets, by id", body = Vec<CabinetView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinateur", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_cabinets(
    Coordinateur(caller): Coordinateur,
    State(state): State<AppState>,
) -> Result<Json<Vec<CabinetView>>, ApiError> {
    let rows = state.store.cabinets(caller.cpts()).await?;
    Ok(Json(rows.into_iter().map(CabinetView::from).collect()))
}

/// One cabinet.
#[utoipa::path(get, path = "/cabinets/{cabinet_id}", tag = "cabinets",
    security(("bearer" = [])),
    params(("cabinet_id" = String, Path, description = "1–64 characters of [A-Za-z0-9_.-]")),
    responses(
        (status = 200, description = "The cabinet", body = CabinetView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinateur", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No cabinet with this id in the coordinator's CPTS", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a cabinet id (`parameter`: cabinet_id)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_cabinet(
    Coordinateur(caller): Coordinateur,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<CabinetView>, ApiError> {
    let id: CabinetId = parse_param("cabinet_id", &raw)?;
    let row = state
        .store
        .cabinet(&id, caller.cpts())
        .await?
        .ok_or_else(unknown_cabinet)?;
    Ok(Json(row.into()))
}

/// Replaces every field of a cabinet but its id. Slots already published keep their length.
#[utoipa::path(put, path = "/cabinets/{cabinet_id}", tag = "cabinets",
    security(("bearer" = [])),
    params(("cabinet_id" = String, Path, description = "1–64 characters of [A-Za-z0-9_.-]")),
    request_body = CabinetFields,
    responses(
        (status = 200, description = "Replaced; the cabinet as now stored", body = CabinetView),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinateur", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No cabinet with this id in the coordinator's CPTS", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The cabinet has published slots that have not ended: only its name may change (re-plan first)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`pointer`) or id (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn put_cabinet(
    Coordinateur(caller): Coordinateur,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Json(body): Json<CabinetFields>,
) -> Result<Json<CabinetView>, ApiError> {
    let id: CabinetId = parse_param("cabinet_id", &raw)?;
    let row = body.into_row(id)?;
    match caller
        .store(&state)
        .update_cabinet(&row, caller.cpts())
        .await?
    {
        crate::store::CabinetUpdate::Updated => {}
        crate::store::CabinetUpdate::NotFound => return Err(unknown_cabinet()),
        crate::store::CabinetUpdate::HasFutureSlots(n) => {
            return Err(ApiError::Conflict(format!(
                "cabinet {} has {n} published slots that have not ended: its position, \
                 commune, need and slot length cannot change until they end or are re-planned \
                 (its name can)",
                row.id
            )));
        }
    }
    tracing::info!(cabinet = %row.id, "cabinet updated");
    // Its name or position may have changed: this process's slot board, and through the
    // slot stream every other's, show them after a load.
    state
        .slots(state.store.clone())
        .cabinet_changed(&row.id)
        .await;
    Ok(Json(row.into()))
}

/// Deletes a cabinet no roster, unfilled report or slot refers to.
#[utoipa::path(delete, path = "/cabinets/{cabinet_id}", tag = "cabinets",
    security(("bearer" = [])),
    params(("cabinet_id" = String, Path, description = "1–64 characters of [A-Za-z0-9_.-]")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinateur", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No cabinet with this id in the coordinator's CPTS", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A garde plan or slots refer to it", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a cabinet id (`parameter`: cabinet_id)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_cabinet(
    Coordinateur(caller): Coordinateur,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: CabinetId = parse_param("cabinet_id", &raw)?;
    match caller
        .store(&state)
        .delete_cabinet(&id, caller.cpts())
        .await?
    {
        CabinetDeletion::Deleted => {
            tracing::info!(cabinet = %id, "cabinet deleted");
            Ok(StatusCode::NO_CONTENT)
        }
        CabinetDeletion::NotFound => Err(unknown_cabinet()),
        CabinetDeletion::InUse => Err(ApiError::Conflict(
            "a garde plan or its slots refer to this cabinet; it is kept".to_owned(),
        )),
    }
}

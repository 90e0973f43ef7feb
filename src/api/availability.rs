//! Garde availability (FORMATS.md §3): a médecin declares, lists and withdraws its own
//! windows, and declares its garde limits (`max_shifts`, `max_km`).
//!
//! Date-times are read by the garde core's parser ([`crate::import::garde::parse_datetime`]):
//! with an offset, an instant; without, Europe/Paris wall time, where a time in the spring gap
//! is refused and an ambiguous one is its first occurrence. A window that covers one of the
//! doctor's shifts on a published roster cannot be withdrawn (409
//! `/problems/availability-on-published-roster`, naming the shift).

use super::auth::{OwnRpps, ReadableRpps};
use super::wire::{paris, parse_id, utc};
use super::{ApiError, AppState, FieldError, Json, Path, Problem};
use crate::domain::MaxKm;
use crate::import::garde::parse_datetime;
use crate::store::{AvailabilityRecord, Withdrawal};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Datelike;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(declare_window, list_windows))
        .routes(routes!(get_window, withdraw_window))
        .routes(routes!(put_garde_limits, get_garde))
}

/// A window of garde availability: the doctor can take any shift lying entirely inside it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowDeclaration {
    /// ISO 8601. With an offset, an instant; without, Europe/Paris wall time.
    #[schema(example = "2026-03-02T17:30:00")]
    pub start: String,
    /// After `start`, same rules.
    #[schema(example = "2026-03-02T20:30:00+01:00")]
    pub end: String,
}

/// A declared window.
#[derive(Debug, Serialize, ToSchema)]
pub struct WindowView {
    pub id: i64,
    #[schema(example = "10000000009")]
    pub rpps: String,
    /// RFC 3339 with the Europe/Paris offset.
    #[schema(example = "2026-03-02T17:30:00+01:00")]
    pub start: String,
    #[schema(example = "2026-03-02T20:30:00+01:00")]
    pub end: String,
    /// RFC 3339, UTC.
    pub declared_at: String,
    /// RFC 3339, UTC; null while the window stands.
    pub withdrawn_at: Option<String>,
}

impl From<AvailabilityRecord> for WindowView {
    fn from(r: AvailabilityRecord) -> Self {
        Self {
            id: r.id,
            rpps: r.rpps.into(),
            start: paris(r.start_at),
            end: paris(r.end_at),
            declared_at: utc(r.created_at),
            withdrawn_at: r.withdrawn_at.map(utc),
        }
    }
}

/// Garde limits over a period (FORMATS.md §3, `doctors.csv` of a garde instance).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GardeLimits {
    /// Shifts over a plan's period, at most.
    #[schema(minimum = 0, maximum = 100000)]
    pub max_shifts: u32,
    /// Farthest cabinet, in km (> 0, at most 200).
    #[schema(value_type = f64, exclusive_minimum = 0.0, maximum = 200.0, example = 15.0)]
    pub max_km: MaxKm,
}

fn unknown_doctor() -> ApiError {
    ApiError::NotFound("no doctor with this RPPS; doctors come from the CPAM's imports".to_owned())
}

fn unknown_window() -> ApiError {
    ApiError::NotFound("this doctor has no availability window with this id".to_owned())
}

/// Years a window may touch.
const FIRST_YEAR: i32 = 2000;
const LAST_YEAR: i32 = 2099;
/// Longest window: a year.
const MAX_WINDOW_DAYS: i64 = 366;

/// `(start, end)` in Unix seconds, or every invalid field at its pointer.
fn window_bounds(w: &WindowDeclaration) -> Result<(i64, i64), ApiError> {
    let start = parse_datetime(&w.start).map_err(|m| FieldError::at_pointer("#/start", m));
    let end = parse_datetime(&w.end).map_err(|m| FieldError::at_pointer("#/end", m));
    let years = format!("must lie within the years {FIRST_YEAR} to {LAST_YEAR}");
    let start = match start {
        Ok(t) if !(FIRST_YEAR..=LAST_YEAR).contains(&t.year()) => {
            Err(FieldError::at_pointer("#/start", years.clone()))
        }
        other => other,
    };
    let end = match end {
        Ok(t) if !(FIRST_YEAR..=LAST_YEAR).contains(&t.year()) => {
            Err(FieldError::at_pointer("#/end", years))
        }
        other => other,
    };
    match (start, end) {
        (Ok(s), Ok(e)) if s < e && e - s > chrono::Duration::days(MAX_WINDOW_DAYS) => {
            Err(ApiError::invalid_field(
                "#/end",
                format!("a window lasts at most {MAX_WINDOW_DAYS} days"),
            ))
        }
        (Ok(s), Ok(e)) if s < e => Ok((s.timestamp(), e.timestamp())),
        (Ok(_), Ok(_)) => Err(ApiError::invalid_field("#/end", "must be after start")),
        (s, e) => Err(ApiError::Invalid(
            [s.err(), e.err()].into_iter().flatten().collect(),
        )),
    }
}

/// Declares a garde availability window of the médecin itself.
#[utoipa::path(post, path = "/doctors/{rpps}/availability", tag = "availability",
    security(("bearer" = [])),
    params(("rpps" = String, Path, description = "The médecin's own RPPS")),
    request_body = WindowDeclaration,
    responses(
        (status = 201, description = "Declared; `Location` is the window", body = WindowView,
         headers(("location" = String, description = "/doctors/{rpps}/availability/{id}"))),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a médecin token, or another médecin's RPPS", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No doctor with this RPPS", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`/problems/conflict`: an identical window is already declared", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A date-time that is malformed or does not exist in Europe/Paris, outside 2000–2099, `end` not after `start`, or a window longer than 366 days (`pointer`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn declare_window(
    OwnRpps(rpps, caller): OwnRpps,
    State(state): State<AppState>,
    Json(body): Json<WindowDeclaration>,
) -> Result<Response, ApiError> {
    let (start, end) = window_bounds(&body)?;
    let record = match caller
        .store(&state)
        .add_availability(&rpps, start, end)
        .await
    {
        Ok(Some(record)) => record,
        Ok(None) => return Err(unknown_doctor()),
        // The unique index of standing windows (migration 0008).
        Err(crate::store::Error::Conflict(_)) => {
            return Err(ApiError::Conflict(
                "an identical availability window is already declared".to_owned(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(rpps = %rpps, window = record.id, "availability declared");
    let location = format!("/doctors/{rpps}/availability/{}", record.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(WindowView::from(record)),
    )
        .into_response())
}

/// The médecin's windows that stand (not withdrawn), by start.
#[utoipa::path(get, path = "/doctors/{rpps}/availability", tag = "availability",
    security(("bearer" = [])),
    params(("rpps" = String, Path, description = "The médecin's RPPS (its own, or one serving the coordinator's CPTS)")),
    responses(
        (status = 200, description = "The windows, by start", body = Vec<WindowView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither the médecin itself nor a coordinator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No doctor with this RPPS (in the coordinator's territory)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an RPPS number (`parameter`: rpps)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_windows(
    ReadableRpps(rpps, _): ReadableRpps,
    State(state): State<AppState>,
) -> Result<Json<Vec<WindowView>>, ApiError> {
    if state.store.doctor(&rpps).await?.is_none() {
        return Err(unknown_doctor());
    }
    let windows = state.store.availability_of(&rpps).await?;
    Ok(Json(windows.into_iter().map(WindowView::from).collect()))
}

/// One of the médecin's windows, standing or withdrawn (the `Location` of a declaration).
#[utoipa::path(get, path = "/doctors/{rpps}/availability/{id}", tag = "availability",
    security(("bearer" = [])),
    params(
        ("rpps" = String, Path, description = "The médecin's RPPS (its own, or one serving the coordinator's CPTS)"),
        ("id" = i64, Path, description = "The window's id"),
    ),
    responses(
        (status = 200, description = "The window", body = WindowView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither the médecin itself nor a coordinator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "This doctor has no window with this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an RPPS or not an id (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_window(
    ReadableRpps(rpps, _): ReadableRpps,
    State(state): State<AppState>,
    Path((_, raw_id)): Path<(String, String)>,
) -> Result<Json<WindowView>, ApiError> {
    let id = parse_id("id", &raw_id)?;
    let window = state
        .store
        .availability_window(&rpps, id)
        .await?
        .ok_or_else(unknown_window)?;
    Ok(Json(window.into()))
}

/// Withdraws a window, unless it covers one of the médecin's shifts on a published roster.
#[utoipa::path(delete, path = "/doctors/{rpps}/availability/{id}", tag = "availability",
    security(("bearer" = [])),
    params(
        ("rpps" = String, Path, description = "The médecin's own RPPS"),
        ("id" = i64, Path, description = "The window's id"),
    ),
    responses(
        (status = 200, description = "Withdrawn; the window with its `withdrawn_at`", body = WindowView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a médecin token, or another médecin's RPPS", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "This doctor has no window with this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`/problems/availability-on-published-roster`: the window covers a shift of a published roster (named in `detail`); `/problems/already-cancelled`: withdrawn before", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an RPPS or not an id (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn withdraw_window(
    OwnRpps(rpps, caller): OwnRpps,
    State(state): State<AppState>,
    Path((_, raw_id)): Path<(String, String)>,
) -> Result<Json<WindowView>, ApiError> {
    let id = parse_id("id", &raw_id)?;
    match caller
        .store(&state)
        .withdraw_availability(&rpps, id)
        .await?
    {
        Withdrawal::Withdrawn(w) => {
            tracing::info!(rpps = %rpps, window = id, "availability withdrawn");
            Ok(Json(w.into()))
        }
        Withdrawal::NotFound => Err(unknown_window()),
        Withdrawal::AlreadyWithdrawn(w) => Err(ApiError::AlreadyCancelled(format!(
            "this window was withdrawn at {}",
            w.withdrawn_at.map(utc).unwrap_or_default()
        ))),
        Withdrawal::OnPublishedRoster(shift) => {
            Err(ApiError::AvailabilityOnPublishedRoster(format!(
                "this window covers your shift at cabinet {} from {} to {} on the published \
                 roster of plan {}; ask the CPTS coordinator to replace you first",
                shift.cabinet_id,
                paris(shift.shift_start),
                paris(shift.shift_end),
                shift.plan_id
            )))
        }
    }
}

/// A médecin's garde: its declared limits and its published shifts still to come.
#[derive(Debug, Serialize, ToSchema)]
pub struct GardeView {
    /// Shifts over a plan's period, at most; null: not declared (a plan then allows one a
    /// day).
    pub max_shifts: Option<i64>,
    /// Farthest cabinet, in km; null: not declared (30 km).
    pub max_km: Option<f64>,
    /// The published shifts that have not started yet, by start.
    pub shifts: Vec<ShiftView>,
    /// The wishes (`prefer`, `avoid`) from today for a year, by date
    /// (`/doctors/{rpps}/garde/preferences`).
    pub preferences: Vec<super::preferences::PreferenceView>,
}

/// One published shift of the médecin.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShiftView {
    pub cabinet_id: String,
    /// RFC 3339 with the Europe/Paris offset.
    #[schema(example = "2027-03-01T18:00:00+01:00")]
    pub start: String,
    #[schema(example = "2027-03-01T20:00:00+01:00")]
    pub end: String,
    pub plan_id: String,
}

/// The médecin's garde limits, its published shifts to come and its wishes.
#[utoipa::path(get, path = "/doctors/{rpps}/garde", tag = "availability",
    security(("bearer" = [])),
    params(("rpps" = String, Path, description = "The médecin's RPPS (its own, or one serving the coordinator's CPTS)")),
    responses(
        (status = 200, description = "Limits and shifts", body = GardeView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither the médecin itself nor a coordinator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No doctor with this RPPS (in the coordinator's territory)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an RPPS (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_garde(
    ReadableRpps(rpps, _): ReadableRpps,
    State(state): State<AppState>,
) -> Result<Json<GardeView>, ApiError> {
    let now = chrono::Utc::now().timestamp();
    let (max_shifts, max_km, shifts) = state
        .store
        .garde_of(&rpps, now)
        .await?
        .ok_or_else(unknown_doctor)?;
    let (from, to) = super::preferences::default_span();
    let preferences = state.store.garde_preferences_of(&rpps, from, to).await?;
    Ok(Json(GardeView {
        preferences: preferences.into_iter().map(Into::into).collect(),
        max_shifts,
        max_km,
        shifts: shifts
            .into_iter()
            .map(|(cabinet_id, start, end, plan_id)| ShiftView {
                cabinet_id,
                start: paris(start),
                end: paris(end),
                plan_id,
            })
            .collect(),
    }))
}

/// Declares the médecin's garde limits: shifts per period and farthest cabinet.
#[utoipa::path(put, path = "/doctors/{rpps}/garde", tag = "availability",
    security(("bearer" = [])),
    params(("rpps" = String, Path, description = "The médecin's own RPPS")),
    request_body = GardeLimits,
    responses(
        (status = 200, description = "Recorded", body = GardeLimits),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a médecin token, or another médecin's RPPS", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No doctor with this RPPS", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid field (`pointer`) or RPPS (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn put_garde_limits(
    OwnRpps(rpps, caller): OwnRpps,
    State(state): State<AppState>,
    Json(body): Json<GardeLimits>,
) -> Result<Json<GardeLimits>, ApiError> {
    const MAX_SHIFTS: u32 = 100_000;
    if body.max_shifts > MAX_SHIFTS {
        return Err(ApiError::invalid_field(
            "#/max_shifts",
            format!("must be a whole number from 0 to {MAX_SHIFTS}"),
        ));
    }
    super::check_max_km("#/max_km", Some(body.max_km))?;
    if !caller
        .store(&state)
        .set_garde_limits(&rpps, body.max_shifts, body.max_km)
        .await?
    {
        return Err(unknown_doctor());
    }
    tracing::info!(rpps = %rpps, max_shifts = body.max_shifts, "garde limits declared");
    Ok(Json(body))
}

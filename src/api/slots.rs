//! Consultation slots (FORMATS.md §4) for Centre 15 régulateurs, over HTTP: search the free
//! slots near a point or a commune, book one for a pseudonymous patient reference, read and
//! cancel a booking. This file parses the requests, calls the slot room ([`crate::slots`])
//! and shapes its answers; the room does the work.
//!
//! A search reads the slot board in memory ([`crate::slots::board`]) when it can answer, else
//! the database, by start in batches until the page is settled; both give the same slots, by
//! start, then integer distance, then slot id.
//!
//! A slot holds one booking: the store's unique index refuses the second one, which is 409
//! `/problems/slot-taken`. Cancelling frees the slot; cancelling twice is 409
//! `/problems/already-cancelled` (the booking still exists, so not 404).
//!
//! With Redis, a slot another régulateur holds (`holds.rs`) is shown `held` in searches and
//! refused to a booking (409 `/problems/slot-held`); see [`crate::slots::booking`] for the
//! sequence. A booking and a cancellation append `booked` and `freed` to the slot stream
//! (`events.rs`).

use super::idempotency;
use super::wire::{paris, parse_id, utc};
use super::{ApiError, AppState, FieldError, Json, Path, Problem, Regulateur};
use crate::domain::{InseeCode, PatientId};
use crate::geo::{Coordinates, commune_centroid};
use crate::slots::SlotQuery;
use crate::store::{BookingRecord, SlotRecord};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_slots))
        .routes(routes!(book_slot))
        .routes(routes!(get_booking, cancel_booking))
        .routes(routes!(list_bookings))
}

/// Default search radius (FORMATS.md §4).
pub const DEFAULT_RADIUS_KM: f64 = 20.0;
/// Largest search radius.
pub const MAX_RADIUS_KM: f64 = 200.0;
/// Default time window: the next 48 hours (FORMATS.md §4).
pub const DEFAULT_WINDOW_HOURS: i64 = 48;
/// Longest time window.
pub const MAX_WINDOW_DAYS: i64 = 31;
/// Slots per page by default, and at most.
pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 500;

/// The query of a search. Give `lat` and `lon`, or `insee`. Documents the parameters for
/// OpenAPI; [`SearchQuery::parse`] reads them, naming the parameter of each error.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Latitude of the patient, WGS84 degrees (with `lon`).
    pub lat: Option<f64>,
    /// Longitude of the patient (with `lat`).
    pub lon: Option<f64>,
    /// INSEE code of the patient's commune: the search starts from its centroid.
    #[param(value_type = Option<String>, example = "54395")]
    pub insee: Option<InseeCode>,
    /// Radius in km, > 0 and ≤ 200 (default 20).
    pub radius_km: Option<f64>,
    /// Slots starting at or after this instant, RFC 3339 (default now). Encode `+` as `%2B`.
    #[param(value_type = Option<String>, example = "2026-03-02T17:00:00%2B01:00")]
    pub from: Option<String>,
    /// Slots starting before this instant, RFC 3339 (default `from` + 48 h; at most 31 days
    /// after `from`).
    #[param(value_type = Option<String>)]
    pub to: Option<String>,
    /// Slots per page, 1 to 500 (default 50).
    pub limit: Option<usize>,
    /// Slots skipped, in the order of the results (default 0).
    pub offset: Option<usize>,
}

/// A search, parsed.
#[derive(Debug)]
struct Search {
    center: Coordinates,
    radius_km: f64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
    offset: usize,
}

/// A free slot near the patient.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotView {
    pub slot_id: i64,
    pub cabinet: CabinetRef,
    /// The doctor on duty.
    #[schema(example = "10000000009")]
    pub rpps: String,
    /// RFC 3339 with the Europe/Paris offset.
    #[schema(example = "2026-03-02T18:00:00+01:00")]
    pub start: String,
    #[schema(example = "2026-03-02T18:15:00+01:00")]
    pub end: String,
    /// Integer metres from the search point to the cabinet (FORMATS.md §1).
    pub distance_m: u32,
    /// A régulateur holds it (`POST /slots/{slot_id}/hold`): only the holder may book it.
    pub held: bool,
    /// The caller is the holder.
    pub held_by_you: bool,
}

/// Where a slot is.
#[derive(Debug, Serialize, ToSchema)]
pub struct CabinetRef {
    pub cabinet_id: String,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
}

/// One page of a search.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotPage {
    pub items: Vec<SlotView>,
    pub limit: usize,
    pub offset: usize,
    /// The next page (same window, frozen), when there is one.
    pub next: Option<String>,
    /// The search point: the given one, or the commune's centroid.
    pub lat: f64,
    pub lon: f64,
    pub radius_km: f64,
    /// The window searched, RFC 3339 UTC.
    pub from: String,
    pub to: String,
}

/// A booking request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    /// Pseudonymous patient reference: 1–64 characters of `[A-Za-z0-9_.-]`, never a NIR.
    #[schema(value_type = String, example = "C15-2026-000123")]
    pub patient_ref: PatientId,
}

/// A slot as a booking shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookedSlot {
    pub slot_id: i64,
    pub cabinet_id: String,
    pub rpps: String,
    /// RFC 3339 with the Europe/Paris offset.
    pub start: String,
    pub end: String,
}

/// A booking.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingView {
    pub booking_id: i64,
    pub slot: BookedSlot,
    pub patient_ref: String,
    /// RFC 3339, UTC.
    pub booked_at: String,
    /// RFC 3339, UTC; null while the booking stands.
    pub cancelled_at: Option<String>,
}

impl From<SlotRecord> for BookedSlot {
    fn from(s: SlotRecord) -> Self {
        Self {
            slot_id: s.id,
            cabinet_id: s.cabinet_id.into(),
            rpps: s.rpps.into(),
            start: paris(s.start_at),
            end: paris(s.end_at),
        }
    }
}

impl From<BookingRecord> for BookingView {
    fn from(b: BookingRecord) -> Self {
        Self {
            booking_id: b.id,
            slot: b.slot.into(),
            patient_ref: b.patient_ref.into(),
            booked_at: utc(b.created_at),
            cancelled_at: b.cancelled_at.map(utc),
        }
    }
}

/// RFC 3339; a `+` of the offset that arrived unencoded (decoded as a space) is taken back.
fn instant(raw: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(raw)
        .or_else(|e| match raw.rfind(' ') {
            Some(i) if i > 10 => {
                DateTime::parse_from_rfc3339(&format!("{}+{}", &raw[..i], &raw[i + 1..]))
            }
            _ => Err(e),
        })
        .map(|t| t.to_utc())
        .map_err(|_| {
            "expected an RFC 3339 instant such as 2026-03-02T17:00:00Z or \
             2026-03-02T18:00:00%2B01:00"
                .to_owned()
        })
}

impl SearchQuery {
    /// Reads the query string; every invalid or unknown parameter is listed, by name.
    fn parse(pairs: Vec<(String, String)>, now: DateTime<Utc>) -> Result<Search, ApiError> {
        let mut errors = Vec::new();
        let mut bad = |name: &str, detail: String| {
            errors.push(FieldError::at_parameter(name, detail));
        };
        let mut q = SearchQuery::default();
        // Given, valid or not: an invalid one is reported once, not as missing too.
        let given = |k: &str| pairs.iter().any(|(key, _)| key == k);
        let (has_lat, has_lon, has_insee) = (given("lat"), given("lon"), given("insee"));
        for (key, value) in pairs {
            match key.as_str() {
                "lat" | "lon" => match value.parse::<f64>() {
                    Ok(v) if v.is_finite() => {
                        if key == "lat" {
                            q.lat = Some(v);
                        } else {
                            q.lon = Some(v);
                        }
                    }
                    _ => bad(&key, "expected a number of degrees".to_owned()),
                },
                "insee" => match value.parse::<InseeCode>() {
                    Ok(c) => q.insee = Some(c),
                    Err(e) => bad("insee", e.to_string()),
                },
                "radius_km" => match value.parse::<f64>() {
                    Ok(r) if r.is_finite() && r > 0.0 && r <= MAX_RADIUS_KM => {
                        q.radius_km = Some(r);
                    }
                    _ => bad(
                        "radius_km",
                        format!("expected a number of kilometres > 0 and ≤ {MAX_RADIUS_KM}"),
                    ),
                },
                "from" | "to" => {
                    if key == "from" {
                        q.from = Some(value);
                    } else {
                        q.to = Some(value);
                    }
                }
                "limit" => match value.parse::<usize>() {
                    Ok(l) if (1..=MAX_PAGE).contains(&l) => q.limit = Some(l),
                    _ => bad("limit", format!("expected an integer from 1 to {MAX_PAGE}")),
                },
                "offset" => match value.parse::<usize>() {
                    Ok(o) => q.offset = Some(o),
                    Err(_) => bad("offset", "expected an integer ≥ 0".to_owned()),
                },
                other => bad(
                    other,
                    "unknown parameter; expected lat, lon, insee, radius_km, from, to, \
                     limit or offset"
                        .to_owned(),
                ),
            }
        }
        let center = match (has_lat, has_lon, has_insee) {
            (true, true, false) => match (q.lat, q.lon) {
                (Some(lat), Some(lon)) => Coordinates::new(lat, lon)
                    .map_err(|e| {
                        let name = match e {
                            crate::geo::CoordinatesError::Latitude => "lat",
                            crate::geo::CoordinatesError::Longitude => "lon",
                        };
                        bad(name, e.to_string());
                    })
                    .ok(),
                _ => None,
            },
            (false, false, true) => q.insee.as_ref().and_then(|code| {
                let c = commune_centroid(code.as_str());
                if c.is_none() {
                    bad("insee", "no commune has this INSEE code".to_owned());
                }
                c
            }),
            (_, _, true) => {
                bad(
                    "insee",
                    "give either lat and lon, or insee, not both".to_owned(),
                );
                None
            }
            (true, false, false) => {
                bad("lon", "lat needs lon".to_owned());
                None
            }
            (false, true, false) => {
                bad("lat", "lon needs lat".to_owned());
                None
            }
            (false, false, false) => {
                bad("lat", "give lat and lon, or insee".to_owned());
                None
            }
        };
        let from = match q.from.as_deref().map(instant) {
            None => Some(now),
            Some(Ok(t)) => Some(t),
            Some(Err(m)) => {
                bad("from", m);
                None
            }
        };
        let to = match q.to.as_deref().map(instant) {
            None => from.map(|f| f + chrono::Duration::hours(DEFAULT_WINDOW_HOURS)),
            Some(Ok(t)) => Some(t),
            Some(Err(m)) => {
                bad("to", m);
                None
            }
        };
        if let (Some(f), Some(t)) = (from, to) {
            if t <= f {
                bad("to", "must be after from".to_owned());
            } else if t - f > chrono::Duration::days(MAX_WINDOW_DAYS) {
                bad("to", format!("at most {MAX_WINDOW_DAYS} days after from"));
            }
        }
        match (center, from, to) {
            (Some(center), Some(from), Some(to)) if errors.is_empty() => Ok(Search {
                center,
                radius_km: q.radius_km.unwrap_or(DEFAULT_RADIUS_KM),
                from,
                to,
                limit: q.limit.unwrap_or(DEFAULT_PAGE),
                offset: q.offset.unwrap_or(0),
            }),
            _ => Err(ApiError::Invalid(errors)),
        }
    }
}

/// The free slots near a point or a commune, by start, then distance.
#[utoipa::path(get, path = "/slots", tag = "slots",
    security(("bearer" = [])),
    params(SearchQuery),
    responses(
        (status = 200, description = "A page of free slots, by start, then distance, then id", body = SlotPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a régulateur", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, missing or unknown parameters (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn search_slots(
    Regulateur(caller): Regulateur,
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<SlotPage>, ApiError> {
    let Query(pairs) = query.map_err(|e| ApiError::invalid_parameter("query", e.body_text()))?;
    let s = SearchQuery::parse(pairs, Utc::now())?;
    let q = SlotQuery {
        from: s.from.timestamp(),
        to: s.to.timestamp(),
        center: s.center,
        radius_m: s.radius_km * 1000.0,
        need: s.offset + s.limit + 1,
    };
    let room = state.slots(state.store.clone());
    let found = room.search(&q).await?;
    let has_next = found.len() > s.offset + s.limit;
    let items: Vec<SlotView> = found
        .into_iter()
        .skip(s.offset)
        .take(s.limit)
        .map(|(distance_m, f)| SlotView {
            slot_id: f.slot.id,
            cabinet: CabinetRef {
                cabinet_id: f.slot.cabinet_id.into(),
                name: f.cabinet_name,
                lat: f.cabinet_coords.lat(),
                lon: f.cabinet_coords.lon(),
            },
            rpps: f.slot.rpps.into(),
            start: paris(f.slot.start_at),
            end: paris(f.slot.end_at),
            distance_m,
            held: false,
            held_by_you: false,
        })
        .collect();
    let mut items = items;
    let ids: Vec<i64> = items.iter().map(|i| i.slot_id).collect();
    for (item, holder) in items.iter_mut().zip(room.holders(&ids).await?) {
        item.held = holder.is_some();
        item.held_by_you = holder.as_deref() == Some(caller.token_id.as_str());
    }
    let (from, to) = (utc(s.from.timestamp()), utc(s.to.timestamp()));
    let next = has_next.then(|| {
        format!(
            "/slots?lat={}&lon={}&radius_km={}&from={from}&to={to}&limit={}&offset={}",
            s.center.lat(),
            s.center.lon(),
            s.radius_km,
            s.limit,
            s.offset + s.limit
        )
    });
    Ok(Json(SlotPage {
        items,
        limit: s.limit,
        offset: s.offset,
        next,
        lat: s.center.lat(),
        lon: s.center.lon(),
        radius_km: s.radius_km,
        from,
        to,
    }))
}

/// Books a slot for a pseudonymous patient reference.
#[utoipa::path(post, path = "/slots/{slot_id}/bookings", tag = "slots",
    security(("bearer" = [])),
    params(("slot_id" = i64, Path, description = "The slot, from a search")),
    request_body = BookingRequest,
    responses(
        (status = 201, description = "Booked; `Location` is the booking. With an `Idempotency-Key` already used for this request in the last 24 h: the first answer again (`Idempotent-Replayed: true`)", body = BookingView,
         headers(("location" = String, description = "/bookings/{booking_id}"))),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a régulateur", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No slot with this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`/problems/slot-taken`: the slot holds a booking; `/problems/slot-held`: another régulateur holds it; `/problems/slot-ended`: it has ended; `/problems/slot-withdrawn`: its doctor was taken off the shift", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A NIR-shaped or malformed `patient_ref` (`pointer`), or a bad slot id (`parameter`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`/problems/unavailable`: the database or Redis does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
async fn book_slot(
    Regulateur(caller): Regulateur,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Json(body): Json<BookingRequest>,
) -> Result<Response, ApiError> {
    let slot_id = parse_id("slot_id", &raw)?;
    let hash = idempotency::request_hash(
        "POST",
        &format!("/slots/{slot_id}/bookings"),
        &serde_json::json!({ "patient_ref": body.patient_ref.as_str() }),
    );
    idempotency::once(&state, &caller, &headers, hash, || async {
        let b = state
            .slots(caller.store(&state))
            .book(slot_id, &body.patient_ref, &caller.token_id, &caller.sas())
            .await?;
        tracing::info!(booking = b.id, slot = slot_id, "slot booked");
        let location = format!("/bookings/{}", b.id);
        Ok((
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            Json(BookingView::from(b)),
        )
            .into_response())
    })
    .await
}

fn unknown_booking() -> ApiError {
    ApiError::NotFound("no booking with this id".to_owned())
}

/// A booking, cancelled or not.
#[utoipa::path(get, path = "/bookings/{booking_id}", tag = "slots",
    security(("bearer" = [])),
    params(("booking_id" = i64, Path, description = "The booking")),
    responses(
        (status = 200, description = "The booking", body = BookingView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a régulateur", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No booking with this id made by the caller's SAS", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an id (`parameter`: booking_id)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_booking(
    Regulateur(caller): Regulateur,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<BookingView>, ApiError> {
    let id = parse_id("booking_id", &raw)?;
    let b = state
        .store
        .booking(id, caller.sas_filter().as_deref())
        .await?
        .ok_or_else(unknown_booking)?;
    Ok(Json(b.into()))
}

/// Cancels a booking; its slot is free again.
#[utoipa::path(delete, path = "/bookings/{booking_id}", tag = "slots",
    security(("bearer" = [])),
    params(("booking_id" = i64, Path, description = "The booking")),
    responses(
        (status = 200, description = "Cancelled; the booking with its `cancelled_at`. With an `Idempotency-Key` already used for this cancellation: the first answer again (`Idempotent-Replayed: true`)", body = BookingView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a régulateur", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No booking with this id made by the caller's SAS", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`/problems/already-cancelled`: cancelled before", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an id (`parameter`: booking_id)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn cancel_booking(
    Regulateur(caller): Regulateur,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("booking_id", &raw)?;
    let hash = idempotency::request_hash(
        "DELETE",
        &format!("/bookings/{id}"),
        &serde_json::Value::Null,
    );
    idempotency::once(&state, &caller, &headers, hash, || async {
        let b = state
            .slots(caller.store(&state))
            .cancel(id, &caller.token_id, caller.sas_filter().as_deref())
            .await?;
        tracing::info!(booking = id, slot = b.slot.id, "booking cancelled");
        Ok(Json(BookingView::from(b)).into_response())
    })
    .await
}

/// The query of `GET /bookings`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BookingsQuery {
    /// Only this patient's bookings.
    #[param(value_type = Option<String>, example = "C15-2026-000123")]
    pub patient_ref: Option<String>,
    /// Booked at or after this instant (RFC 3339; default: 30 days ago).
    pub from: Option<String>,
    /// Booked before this instant (RFC 3339; default: now).
    pub to: Option<String>,
    /// 1 to 500 (default 50).
    pub limit: Option<String>,
    /// Bookings to skip (default 0).
    pub offset: Option<String>,
}

/// A page of bookings.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingsPage {
    pub items: Vec<BookingView>,
    pub limit: u64,
    pub offset: u64,
    /// The next page's `offset`; null on the last page.
    pub next: Option<u64>,
}

/// The bookings the régulateur can see, newest first: those of one patient with
/// `patient_ref`, within `from`–`to` (the time of booking).
#[utoipa::path(get, path = "/bookings", tag = "slots",
    security(("bearer" = [])),
    params(BookingsQuery),
    responses(
        (status = 200, description = "A page of bookings, newest first", body = BookingsPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a régulateur", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid parameter (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_bookings(
    Regulateur(caller): Regulateur,
    State(state): State<AppState>,
    query: Result<axum::extract::Query<BookingsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<BookingsPage>, ApiError> {
    let axum::extract::Query(q) =
        query.map_err(|e| ApiError::invalid_parameter("query", e.body_text()))?;
    let mut errors = Vec::new();
    let patient = match q.patient_ref.as_deref().map(str::parse::<PatientId>) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            errors.push(FieldError::at_parameter("patient_ref", e.to_string()));
            None
        }
        None => None,
    };
    let now = Utc::now();
    let instant =
        |name: &str, raw: Option<&str>, default: DateTime<Utc>, errors: &mut Vec<FieldError>| {
            match raw.map(DateTime::parse_from_rfc3339) {
                None => default.timestamp(),
                Some(Ok(t)) => t.timestamp(),
                Some(Err(_)) => {
                    errors.push(FieldError::at_parameter(
                        name,
                        "expected an RFC 3339 instant",
                    ));
                    0
                }
            }
        };
    let from = instant(
        "from",
        q.from.as_deref(),
        now - chrono::Duration::days(30),
        &mut errors,
    );
    let to = instant(
        "to",
        q.to.as_deref(),
        now + chrono::Duration::seconds(1),
        &mut errors,
    );
    let limit = q.limit.as_deref().map_or(Ok(DEFAULT_PAGE as u64), |raw| {
        super::limit_param(raw, MAX_PAGE as u64)
    });
    let offset = super::offset_param(q.offset.as_deref());
    // Every invalid parameter is named, not only the first.
    for e in [limit.as_ref().err(), offset.as_ref().err()]
        .into_iter()
        .flatten()
    {
        if let ApiError::Invalid(fields) = e {
            errors.extend(fields.iter().cloned());
        }
    }
    let (Ok(limit), Ok(offset)) = (limit, offset) else {
        return Err(ApiError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let rows = state
        .store
        .bookings(
            caller.sas_filter().as_deref(),
            patient.as_ref(),
            from,
            to,
            limit + 1,
            offset,
        )
        .await?;
    let more = rows.len() as u64 > limit;
    let items: Vec<BookingView> = rows
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(BookingView::from)
        .collect();
    Ok(Json(BookingsPage {
        next: more.then_some(offset + limit),
        items,
        limit,
        offset,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    fn now() -> DateTime<Utc> {
        "2026-03-02T12:00:00Z".parse().unwrap()
    }

    fn parameters(q: &str) -> Vec<String> {
        match SearchQuery::parse(pairs(q), now()) {
            Err(ApiError::Invalid(e)) => e.into_iter().filter_map(|e| e.parameter).collect(),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_20_km_and_the_next_48_hours() {
        let s = SearchQuery::parse(pairs("lat=48.69&lon=6.18"), now()).unwrap();
        assert_eq!(s.radius_km, 20.0);
        assert_eq!(s.from, now());
        assert_eq!((s.to - s.from).num_hours(), 48);
        assert_eq!((s.limit, s.offset), (DEFAULT_PAGE, 0));
    }

    #[test]
    fn a_commune_starts_from_its_centroid_and_an_unencoded_plus_is_forgiven() {
        let s = SearchQuery::parse(
            pairs("insee=54395&from=2026-03-02T18:00:00 01:00&to=2026-03-03T00:00:00Z"),
            now(),
        )
        .unwrap();
        assert!((s.center.lat() - 48.6881).abs() < 1e-9);
        assert_eq!(s.from.to_rfc3339(), "2026-03-02T17:00:00+00:00");
    }

    #[test]
    fn each_bad_parameter_is_named() {
        assert_eq!(parameters(""), ["lat"]);
        assert_eq!(parameters("lat=91&lon=6"), ["lat"]);
        assert_eq!(parameters("lat=48&lon=x"), ["lon"]);
        assert_eq!(parameters("lat=48"), ["lon"]);
        assert_eq!(parameters("insee=99999"), ["insee"]);
        assert_eq!(parameters("insee=54999"), ["insee"]);
        assert_eq!(parameters("insee=54395&lat=48&lon=6"), ["insee"]);
        assert_eq!(parameters("insee=54395&radius_km=0"), ["radius_km"]);
        assert_eq!(parameters("insee=54395&radius_km=NaN"), ["radius_km"]);
        assert_eq!(parameters("insee=54395&from=tomorrow"), ["from"]);
        assert_eq!(
            parameters("insee=54395&from=2026-03-03T00:00:00Z&to=2026-03-02T00:00:00Z"),
            ["to"]
        );
        assert_eq!(
            parameters("insee=54395&limit=0&radius=5"),
            ["limit", "radius"]
        );
    }
}

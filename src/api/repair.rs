//! Repairs of published garde rosters (issue 18). A doctor falls ill, or withdraws and the
//! coordinator approves: the coordinator takes him off the shift (`POST /garde/withdrawals`).
//! His slots of that shift leave searches and refuse bookings at once; their bookings are
//! flagged (`GET /bookings/flagged` lists a SAS's). A plan over the period is then the repair
//! plan: it pins every other published position and keeps him off that shift, so it fills the
//! hole at the optimum; `GET /garde/plans/{id}/diff` shows who gains which shift; publishing it
//! moves each flagged booking to the replacement's slot at the same cabinet and time.

use super::{ApiError, AppState, Coordinateur, Json, Problem, Regulateur};
use crate::domain::Rpps;
use crate::store::{FlaggedBooking, WithdrawOutcome, WithdrawalRecord};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(withdraw, list_withdrawals))
        .routes(routes!(flagged_bookings))
}

/// Why the doctor leaves the shift.
const REASONS: [&str; 3] = ["illness", "withdrawal", "other"];

/// A doctor to take off one of his published shifts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalRequest {
    #[schema(example = "NANCY-1")]
    pub cabinet_id: String,
    /// The shift's date, Europe/Paris (a cabinet has one shift a day).
    #[schema(example = "2027-03-02")]
    pub date: String,
    #[schema(example = "10000000009")]
    pub rpps: String,
    /// `illness` (the coordinator removes him), `withdrawal` (he asked, the coordinator
    /// approves) or `other`.
    #[schema(example = "illness")]
    pub reason: String,
}

/// A doctor taken off a published shift.
#[derive(Debug, Serialize, ToSchema)]
pub struct WithdrawalView {
    pub id: i64,
    pub cabinet_id: String,
    /// RFC 3339 with the Europe/Paris offset.
    pub start: String,
    pub end: String,
    pub rpps: String,
    /// The plan whose position it was.
    pub plan_id: String,
    pub reason: String,
    pub created_at: String,
    /// Active bookings still on his withdrawn slots of that shift (0 once a repair moved them).
    pub bookings_flagged: u64,
}

impl From<WithdrawalRecord> for WithdrawalView {
    fn from(w: WithdrawalRecord) -> Self {
        Self {
            id: w.id,
            cabinet_id: w.cabinet_id,
            start: super::wire::paris(w.shift_start),
            end: super::wire::paris(w.shift_end),
            rpps: w.rpps,
            plan_id: w.plan_id,
            reason: w.reason,
            created_at: super::wire::utc(w.created_at),
            bookings_flagged: w.bookings_flagged,
        }
    }
}

/// What a withdrawal did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Withdrawn {
    pub withdrawal: WithdrawalView,
    /// His slots of that shift, withdrawn from searches and bookings.
    pub slots_withdrawn: u64,
}

/// Takes a doctor off one of his published shifts that has not started.
#[utoipa::path(post, path = "/garde/withdrawals", tag = "garde",
    security(("bearer" = [])),
    request_body = WithdrawalRequest,
    responses(
        (status = 201, description = "Taken off; his slots of the shift withdrawn, their bookings flagged", body = Withdrawn),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No published position of this doctor at this cabinet of the CPTS that day", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The shift has started", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad field (`pointer`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn withdraw(
    Coordinateur(caller): Coordinateur,
    State(state): State<AppState>,
    Json(body): Json<WithdrawalRequest>,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    if body.cabinet_id.parse::<crate::domain::CabinetId>().is_err() {
        errors.push(super::FieldError::at_pointer(
            "#/cabinet_id",
            "1 to 64 characters among A-Z, a-z, 0-9, _ . -",
        ));
    }
    let date = super::wire::iso_date(&body.date);
    if date.is_none() {
        errors.push(super::FieldError::at_pointer(
            "#/date",
            "expected a date YYYY-MM-DD",
        ));
    }
    let rpps: Option<Rpps> = body.rpps.parse().ok();
    if rpps.is_none() {
        errors.push(super::FieldError::at_pointer(
            "#/rpps",
            "an RPPS number: 11 digits with a valid check digit",
        ));
    }
    if !REASONS.contains(&body.reason.as_str()) {
        errors.push(super::FieldError::at_pointer(
            "#/reason",
            "expected illness, withdrawal or other",
        ));
    }
    let (Some(date), Some(rpps), true) = (date, rpps, errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };
    let cpts = caller.cpts().map(|c| c.as_str().to_owned());
    let outcome = caller
        .store(&state)
        .withdraw_position(
            &body.cabinet_id,
            date,
            &rpps,
            &body.reason,
            cpts.as_deref(),
            chrono::Utc::now().timestamp(),
        )
        .await?;
    match outcome {
        WithdrawOutcome::Withdrawn { record, slots } => {
            let slots_withdrawn = slots.len() as u64;
            tracing::info!(
                withdrawal = record.id,
                slots_withdrawn,
                bookings_flagged = record.bookings_flagged,
                "doctor taken off a published shift"
            );
            // Every process's board drops the withdrawn slots (it reloads), and the régulateurs
            // listening to the area hear of them, with the bookings now flagged.
            state
                .slots(state.store.clone())
                .withdrawn(record.id, &slots)
                .await;
            let body = Withdrawn {
                withdrawal: record.into(),
                slots_withdrawn,
            };
            Ok((StatusCode::CREATED, Json(body)).into_response())
        }
        WithdrawOutcome::NotFound => Err(ApiError::NotFound(
            "no published position of this doctor at this cabinet of your CPTS that day".to_owned(),
        )),
        WithdrawOutcome::Started => Err(ApiError::Conflict(
            "this shift has started; it can no longer be repaired".to_owned(),
        )),
    }
}

/// The withdrawals of the coordinator's cabinets, for shifts in a span of dates (default: from
/// today, a year).
#[utoipa::path(get, path = "/garde/withdrawals", tag = "garde",
    security(("bearer" = [])),
    params(
        ("from" = Option<String>, Query, description = "First shift date, YYYY-MM-DD (default: today, Europe/Paris)"),
        ("to" = Option<String>, Query, description = "Last shift date, inclusive (default: 365 days after `from`)"),
    ),
    responses(
        (status = 200, description = "By shift start", body = Vec<WithdrawalView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad date (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_withdrawals(
    Coordinateur(caller): Coordinateur,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<WithdrawalView>>, ApiError> {
    let (from, to) = super::preferences::span(query.as_deref())?;
    let cpts = caller.cpts().map(|c| c.as_str().to_owned());
    let list = state.store.withdrawals(from, to, cpts.as_deref()).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

/// A booking whose slot's doctor was taken off the shift, until a repair moves it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlaggedView {
    pub booking_id: i64,
    pub slot_id: i64,
    pub cabinet_id: String,
    /// The doctor taken off the shift.
    pub rpps: String,
    pub start: String,
    pub end: String,
    /// The pseudonymous reference the SAS booked it for.
    pub patient_ref: String,
}

impl From<FlaggedBooking> for FlaggedView {
    fn from(f: FlaggedBooking) -> Self {
        Self {
            booking_id: f.booking_id,
            slot_id: f.slot_id,
            cabinet_id: f.cabinet_id,
            rpps: f.rpps,
            start: super::wire::paris(f.start_at),
            end: super::wire::paris(f.end_at),
            patient_ref: f.patient_ref,
        }
    }
}

/// The régulateur's SAS's bookings whose doctor was taken off the shift and that no repair has
/// moved yet: call the patient, or wait for the repair.
#[utoipa::path(get, path = "/bookings/flagged", tag = "slots",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "By start", body = Vec<FlaggedView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a régulateur token", body = Problem, content_type = "application/problem+json"),
    ))]
async fn flagged_bookings(
    Regulateur(caller): Regulateur,
    State(state): State<AppState>,
) -> Result<Json<Vec<FlaggedView>>, ApiError> {
    let list = state
        .store
        .flagged_bookings(caller.sas_filter().as_deref())
        .await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

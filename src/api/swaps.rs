//! The bourse aux gardes (issue 18): a médecin offers one of his published shifts, to any
//! eligible colleague or to one named colleague; an eligible colleague (available, in range,
//! free that day, under `max_shifts`) takes it; where the CPTS requires it (`swap_approval`),
//! its coordinator approves. A direct exchange is an offer to a named colleague with
//! `in_exchange_for`, one of his shifts: the offer is one doctor's agreement, the take the
//! other's, and both shifts change hands at once. On completion the positions, their slots and
//! their bookings move in one transaction (`src/store/offers.rs`); a `swapped` event per slot
//! reaches the boards (they reload) and the régulateurs listening to `/slots/events`. Offers
//! expire an hour before the (earlier) shift.

use super::auth::Caller;
use super::{ApiError, AppState, Coordinateur, Json, Medecin, Path, Problem};
use crate::domain::Rpps;
use crate::store::{OfferOutcome, OfferRecord, TakeOutcome};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(offer, list_offers))
        .routes(routes!(take))
        .routes(routes!(approve))
        .routes(routes!(cancel))
}

/// A shift to offer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferRequest {
    #[schema(example = "NANCY-1")]
    pub cabinet_id: String,
    /// The shift's date, Europe/Paris.
    #[schema(example = "2027-03-02")]
    pub date: String,
    /// A colleague's RPPS: only he may take it. Absent: any eligible colleague.
    #[serde(default)]
    pub to_rpps: Option<String>,
    /// A direct exchange: the shift of `to_rpps` (required) that the offerer takes in return,
    /// when the colleague accepts.
    #[serde(default)]
    pub in_exchange_for: Option<ShiftRequest>,
}

/// One published shift: a cabinet and a date.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftRequest {
    #[schema(example = "NANCY-2")]
    pub cabinet_id: String,
    /// The shift's date, Europe/Paris.
    #[schema(example = "2027-03-09")]
    pub date: String,
}

/// A shift asked in exchange.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShiftView {
    pub cabinet_id: String,
    /// RFC 3339 with the Europe/Paris offset.
    pub start: String,
    pub end: String,
}

/// An offer of a published shift.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfferView {
    pub id: i64,
    pub cabinet_id: String,
    /// RFC 3339 with the Europe/Paris offset.
    pub start: String,
    pub end: String,
    /// The doctor who offers it.
    pub from_rpps: String,
    /// The only colleague who may take it, if named.
    pub to_rpps: Option<String>,
    /// Who took it.
    pub taker_rpps: Option<String>,
    /// `open`, `taken` (waiting for the coordinator), `done` (moved), `cancelled` or `expired`.
    pub state: String,
    pub expires_at: String,
    /// A direct exchange: the shift of `to_rpps` that goes to `from_rpps` in return.
    pub in_exchange_for: Option<ShiftView>,
}

impl From<OfferRecord> for OfferView {
    fn from(o: OfferRecord) -> Self {
        Self {
            id: o.id,
            cabinet_id: o.cabinet_id,
            start: super::wire::paris(o.shift_start),
            end: super::wire::paris(o.shift_end),
            from_rpps: o.from_rpps,
            to_rpps: o.to_rpps,
            taker_rpps: o.taker_rpps,
            state: o.state,
            expires_at: super::wire::paris(o.expires_at),
            in_exchange_for: o.exchange.map(|x| ShiftView {
                cabinet_id: x.cabinet_id,
                start: super::wire::paris(x.shift_start),
                end: super::wire::paris(x.shift_end),
            }),
        }
    }
}

/// The offers a caller sees.
#[derive(Debug, Serialize, ToSchema)]
pub struct OffersView {
    /// A médecin's own offers; a coordinator's: every offer at its CPTS's cabinets.
    pub offers: Vec<OfferView>,
    /// For a médecin: the open offers he may take (eligible and in range).
    pub available: Vec<OfferView>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn parse_offer_id(raw: &str) -> Result<i64, ApiError> {
    super::wire::parse_id("id", raw)
}

/// Offers one of the médecin's published shifts (not starting within the hour).
#[utoipa::path(post, path = "/garde/offers", tag = "garde",
    security(("bearer" = [])),
    request_body = OfferRequest,
    responses(
        (status = 201, description = "Offered", body = OfferView),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a médecin token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "You hold no published shift at this cabinet that day, or (exchange) your colleague none at the one asked", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already offered, or the (earlier) shift starts within the hour", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad field (`pointer`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn offer(
    medecin: Medecin,
    State(state): State<AppState>,
    Json(body): Json<OfferRequest>,
) -> Result<Response, ApiError> {
    let (me, caller) = (medecin.rpps, medecin.caller);
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
    let to: Option<Rpps> = match &body.to_rpps {
        None => None,
        Some(raw) => match raw.parse::<Rpps>() {
            Ok(r) if r != me => Some(r),
            Ok(_) => {
                errors.push(super::FieldError::at_pointer(
                    "#/to_rpps",
                    "a colleague's RPPS, not yours",
                ));
                None
            }
            Err(_) => {
                errors.push(super::FieldError::at_pointer(
                    "#/to_rpps",
                    "an RPPS number: 11 digits with a valid check digit",
                ));
                None
            }
        },
    };
    let exchange = match &body.in_exchange_for {
        None => None,
        Some(back) => {
            if body.to_rpps.is_none() {
                errors.push(super::FieldError::at_pointer(
                    "#/to_rpps",
                    "an exchange names the colleague whose shift you take in return",
                ));
            }
            if back.cabinet_id.parse::<crate::domain::CabinetId>().is_err() {
                errors.push(super::FieldError::at_pointer(
                    "#/in_exchange_for/cabinet_id",
                    "1 to 64 characters among A-Z, a-z, 0-9, _ . -",
                ));
            }
            let back_date = super::wire::iso_date(&back.date);
            if back_date.is_none() {
                errors.push(super::FieldError::at_pointer(
                    "#/in_exchange_for/date",
                    "expected a date YYYY-MM-DD",
                ));
            }
            if back_date == date && back.cabinet_id == body.cabinet_id {
                errors.push(super::FieldError::at_pointer(
                    "#/in_exchange_for",
                    "the shift you offer; name another shift of your colleague",
                ));
            }
            back_date.map(|d| (back.cabinet_id.as_str(), d))
        }
    };
    let (Some(date), true) = (date, errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };
    match caller
        .store(&state)
        .offer_shift(&me, &body.cabinet_id, date, to.as_ref(), exchange, now())
        .await?
    {
        OfferOutcome::Offered(o) => {
            tracing::info!(offer = o.id, "garde shift offered");
            Ok((StatusCode::CREATED, Json(OfferView::from(o))).into_response())
        }
        OfferOutcome::NotFound => Err(ApiError::NotFound(
            "you hold no published shift at this cabinet that day".to_owned(),
        )),
        OfferOutcome::TooLate => Err(ApiError::Conflict(
            "this shift starts within the hour; ask the coordinator".to_owned(),
        )),
        OfferOutcome::Duplicate => Err(ApiError::Conflict(
            "this shift is already offered".to_owned(),
        )),
        OfferOutcome::NoCounterpart => Err(ApiError::NotFound(
            "your colleague holds no published shift at this cabinet that day".to_owned(),
        )),
    }
}

fn own_rpps(caller: &Caller) -> Result<Rpps, ApiError> {
    caller
        .rpps
        .clone()
        .ok_or_else(|| ApiError::Forbidden("a médecin token names its RPPS".to_owned()))
}

/// A médecin: his offers and those he may take. A coordinator: the offers of its CPTS.
#[utoipa::path(get, path = "/garde/offers", tag = "garde",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The offers, by shift", body = OffersView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither a médecin nor a coordinator", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_offers(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<OffersView>, ApiError> {
    match caller.role {
        crate::domain::Role::Medecin => {
            let me = own_rpps(&caller)?;
            let (mine, open) = state.store.offers_of_doctor(&me, now()).await?;
            Ok(Json(OffersView {
                offers: mine.into_iter().map(Into::into).collect(),
                available: open.into_iter().map(Into::into).collect(),
            }))
        }
        crate::domain::Role::Coordinateur => {
            let cpts = caller.cpts().map(|c| c.as_str().to_owned());
            let all = state.store.offers_in(cpts.as_deref(), now()).await?;
            Ok(Json(OffersView {
                offers: all.into_iter().map(Into::into).collect(),
                available: Vec::new(),
            }))
        }
        _ => Err(ApiError::Forbidden(
            "the bourse aux gardes is for médecins and coordinators".to_owned(),
        )),
    }
}

/// Maps a take or approval to its answer; a completed move is announced (`swapped`).
async fn answer(state: &AppState, outcome: TakeOutcome) -> Result<Json<OfferView>, ApiError> {
    match outcome {
        TakeOutcome::Done(o, slots) => {
            tracing::info!(
                offer = o.id,
                slots = slots.len(),
                "garde shift moved to its taker"
            );
            state.slots(state.store.clone()).swapped(o.id, &slots).await;
            Ok(Json(o.into()))
        }
        TakeOutcome::Pending(o) => Ok(Json(o.into())),
        TakeOutcome::NotFound => Err(ApiError::NotFound("no such offer".to_owned())),
        TakeOutcome::NotEligible(why) => Err(ApiError::Conflict(format!(
            "you cannot take this shift: {why}"
        ))),
        TakeOutcome::Conflict(state) => Err(ApiError::Conflict(format!("this offer is {state}"))),
    }
}

/// Takes an open offer: the shift moves now, or once the coordinator approves where the CPTS
/// requires it.
#[utoipa::path(post, path = "/garde/offers/{id}/take", tag = "garde",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The offer's id")),
    responses(
        (status = 200, description = "Taken: `done` (moved) or `taken` (waiting for approval)", body = OfferView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a médecin token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such offer (or offered to another doctor)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not eligible (why in `detail`), or no longer open (taken, cancelled, expired)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an id (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn take(
    medecin: Medecin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<OfferView>, ApiError> {
    let id = parse_offer_id(&raw)?;
    let (me, caller) = (medecin.rpps, medecin.caller);
    let outcome = caller.store(&state).take_offer(id, &me, now()).await?;
    answer(&state, outcome).await
}

/// Approves a taken offer of the coordinator's CPTS: the shift moves now.
#[utoipa::path(post, path = "/garde/offers/{id}/approve", tag = "garde",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The offer's id")),
    responses(
        (status = 200, description = "Moved", body = OfferView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such offer at the CPTS's cabinets", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not waiting for approval (open, done, cancelled, expired), or the move is refused", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an id (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn approve(
    Coordinateur(caller): Coordinateur,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<OfferView>, ApiError> {
    let id = parse_offer_id(&raw)?;
    let cpts = caller.cpts().map(|c| c.as_str().to_owned());
    let outcome = caller
        .store(&state)
        .approve_offer(id, cpts.as_deref(), now())
        .await?;
    answer(&state, outcome).await
}

/// Withdraws the médecin's own live offer.
#[utoipa::path(delete, path = "/garde/offers/{id}", tag = "garde",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The offer's id")),
    responses(
        (status = 204, description = "Cancelled"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a médecin token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No live offer of yours with this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an id (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn cancel(
    medecin: Medecin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_offer_id(&raw)?;
    let (me, caller) = (medecin.rpps, medecin.caller);
    if caller.store(&state).cancel_offer(id, &me, now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(
            "no live offer of yours with this id".to_owned(),
        ))
    }
}

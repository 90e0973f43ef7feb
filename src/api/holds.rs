//! Slot holds (IHE Scheduling's "hold"): a régulateur on the phone keeps a slot for
//! [`crate::config::Config::hold_seconds`] (120 s by default) while the patient decides.
//! Other régulateurs see it as held in their searches and cannot hold or book it (409
//! `/problems/slot-held`); the holder books it (`POST /slots/{id}/bookings`), releases it
//! (`DELETE /slots/{slot_id}/hold`), renews it (holding it again), or lets it expire.
//!
//! The hold lives in Redis (`cache::holds`), so it holds across API processes; the owner is
//! the token id. Without Redis (development) holds are 503 `/problems/needs-redis`.
//!
//! A hold is taken first, then the slot checked free in the database: a booking made without
//! a hold takes a silent hold for its duration (see `slots::booking`), so a hold and a booking
//! never both succeed on one slot.

use super::wire::{parse_id, utc};
use super::{ApiError, AppState, Path, Problem, Regulateur};
use crate::cache::{Cache, HoldAttempt, Release};
use crate::slots::{event_data, slot_info};
use crate::store::AuditEntry;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(hold_slot, release_slot))
}

/// A hold on a slot.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldView {
    pub slot_id: i64,
    /// The id of the token holding it (the caller's).
    pub held_by: String,
    /// When the hold ends unless renewed, released or turned into a booking; RFC 3339 UTC.
    pub expires_at: String,
    /// Whether this request renewed a hold the caller had already.
    pub renewed: bool,
}

fn cache(state: &AppState) -> Result<&Cache, ApiError> {
    state.cache.as_ref().ok_or(ApiError::NeedsRedis)
}

fn unknown_slot() -> ApiError {
    ApiError::NotFound("no slot with this id".to_owned())
}

/// Holds a slot for the caller (or renews the caller's hold).
#[utoipa::path(post, path = "/slots/{slot_id}/hold", tag = "slots",
    security(("bearer" = [])),
    params(("slot_id" = i64, Path, description = "The slot, from a search")),
    responses(
        (status = 201, description = "Held; nobody else may hold or book it until `expires_at`", body = HoldView,
         headers(("location" = String, description = "/slots/{slot_id}/hold"))),
        (status = 200, description = "The caller held it already; renewed for the full duration", body = HoldView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a régulateur", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No slot with this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`/problems/slot-held`: another régulateur holds it; `/problems/slot-taken`: booked; `/problems/slot-ended`: ended", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a slot id (`parameter`: slot_id)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`/problems/needs-redis`: this server runs without Redis; `/problems/unavailable`: Redis or the database does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
async fn hold_slot(
    Regulateur(caller): Regulateur,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let slot_id = parse_id("slot_id", &raw)?;
    let cache = cache(&state)?;
    let (slot, booked) = state
        .store
        .located_slot(slot_id)
        .await?
        .ok_or_else(unknown_slot)?;
    if slot.slot.end_at <= chrono::Utc::now().timestamp() {
        return Err(ApiError::SlotEnded);
    }
    if booked {
        return Err(ApiError::SlotTaken);
    }
    let owner = caller.token_id.as_str();
    let expires_at = utc(chrono::Utc::now().timestamp()
        + i64::try_from(cache.hold_ttl().as_secs()).unwrap_or(i64::MAX / 2));
    let view = |renewed| HoldView {
        slot_id,
        held_by: owner.to_owned(),
        expires_at: expires_at.clone(),
        renewed,
    };
    match cache.try_hold(slot_id, owner).await? {
        HoldAttempt::HeldByOther => Err(ApiError::SlotHeld),
        HoldAttempt::Renewed => Ok(super::Json(view(true)).into_response()),
        HoldAttempt::Acquired => {
            // Booked between the check above and the hold: a booking holds the slot while
            // it runs, so once the hold is ours, this read is final.
            let still_free = match state.store.located_slot(slot_id).await {
                Ok(found) => matches!(found, Some((_, false))),
                Err(e) => {
                    cache.drop_hold(slot_id, owner).await?;
                    return Err(e.into());
                }
            };
            if !still_free {
                cache.drop_hold(slot_id, owner).await?;
                return Err(ApiError::SlotTaken);
            }
            let info = slot_info(&slot);
            let event = event_data(&info, &[("held_until", expires_at.clone().into())]);
            match cache.announce_hold(&info, owner, &event).await? {
                Some(_) => {
                    tracing::info!(slot = slot_id, "slot held");
                    // The hold lives in Redis; its audit row follows it (a failure here is an
                    // error for the caller, and the hold lapses on its own).
                    caller
                        .store(&state)
                        .append_audit(&AuditEntry::new("hold", "slot", Some(slot_id.to_string())))
                        .await?;
                    Ok((
                        StatusCode::CREATED,
                        [(header::LOCATION, format!("/slots/{slot_id}/hold"))],
                        super::Json(view(false)),
                    )
                        .into_response())
                }
                // Our hold ended before it was announced (a hold shorter than this request).
                None => Err(ApiError::SlotHeld),
            }
        }
    }
}

/// Releases the caller's hold on a slot; the slot is free for everyone again.
#[utoipa::path(delete, path = "/slots/{slot_id}/hold", tag = "slots",
    security(("bearer" = [])),
    params(("slot_id" = i64, Path, description = "The held slot")),
    responses(
        (status = 204, description = "Released"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a régulateur", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The slot is not held (never, or the hold expired)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`/problems/slot-held`: another régulateur holds it", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a slot id (`parameter`: slot_id)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`/problems/needs-redis`: this server runs without Redis; `/problems/unavailable`: Redis does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
async fn release_slot(
    Regulateur(caller): Regulateur,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let slot_id = parse_id("slot_id", &raw)?;
    match cache(&state)?
        .release_hold(slot_id, &caller.token_id)
        .await?
    {
        Release::Released => {
            tracing::info!(slot = slot_id, "hold released");
            caller
                .store(&state)
                .append_audit(&AuditEntry::new(
                    "release",
                    "slot",
                    Some(slot_id.to_string()),
                ))
                .await?;
            Ok(StatusCode::NO_CONTENT)
        }
        Release::NotHeld => Err(ApiError::NotFound(
            "this slot is not held (the hold may have expired)".to_owned(),
        )),
        Release::HeldByOther => Err(ApiError::SlotHeld),
    }
}

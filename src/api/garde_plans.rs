//! Garde plans (coordinators): plan a period (a job) from the stored cabinets, doctors and
//! availability windows; read the roster and the unfilled positions (FORMATS.md §3); publish
//! the roster, which creates its consultation slots (FORMATS.md §4) in the same transaction.
//!
//! A plan's id is the id of the job that computes it.

use super::batches::accepted;
use super::jobs::{job_of_kind, require_succeeded};
use super::{ApiError, AppState, Caller, Coordinateur, FieldError, Json, Path, Problem};
use crate::domain::CabinetId;
use crate::garde::Period;
use crate::garde::calendar::paris_time;
use crate::jobs::{self, GardePlanParams, KIND_GARDE_PLAN};
use crate::store::{NewJob, PlanRecord, PublishOutcome, RosterEntryRow};
use axum::extract::State;
use axum::response::Response;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Longest period of one plan, in days.
pub const MAX_PERIOD_DAYS: i64 = 366;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_plan, list_plans))
        .routes(routes!(plan_roster))
        .routes(routes!(plan_diff))
        .routes(routes!(plan_unfilled))
        .routes(routes!(publish_plan))
}

/// The dates of a plan, both inclusive.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodRequest {
    #[schema(value_type = String, format = Date, example = "2026-03-02")]
    pub start: NaiveDate,
    #[schema(value_type = String, format = Date, example = "2026-03-29")]
    pub end: NaiveDate,
}

/// A garde period to plan.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    pub period: PeriodRequest,
    /// The cabinets to staff (ids); absent: every stored cabinet.
    #[schema(value_type = Option<Vec<String>>)]
    #[serde(default)]
    pub cabinets: Option<Vec<CabinetId>>,
}

/// The garde plans, newest first (their jobs: status, progress, summary).
#[utoipa::path(get, path = "/garde/plans", tag = "garde",
    security(("bearer" = [])),
    params(super::jobs::JobsQuery),
    responses(
        (status = 200, description = "A page of plans, newest first", body = super::jobs::JobsPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad `status`, `limit` or `offset` (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_plans(
    Coordinateur(caller): Coordinateur,
    State(state): State<AppState>,
    query: Result<
        axum::extract::Query<super::jobs::JobsQuery>,
        axum::extract::rejection::QueryRejection,
    >,
) -> Result<Json<super::jobs::JobsPage>, ApiError> {
    Ok(Json(
        super::jobs::list(&state, &caller, crate::jobs::KIND_GARDE_PLAN, query).await?,
    ))
}

/// Plans a garde period; poll the job at `Location`, then read the roster.
#[utoipa::path(post, path = "/garde/plans", tag = "garde",
    security(("bearer" = [])),
    request_body = PlanRequest,
    responses(
        (status = 202, description = "Queued; `Location: /jobs/{id}` (the plan's id is the job's)", body = super::jobs::JobView,
            headers(("Location" = String, description = "/jobs/{id}"))),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid field (`pointer`): the period (or a period that has ended, Europe/Paris), an unknown cabinet, no cabinet at all", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_plan(
    Coordinateur(caller): Coordinateur,
    State(state): State<AppState>,
    Json(request): Json<PlanRequest>,
) -> Result<Response, ApiError> {
    let (start, end) = (request.period.start, request.period.end);
    Period::new(start, end).map_err(|e| ApiError::invalid_field("#/period/end", e))?;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive();
    if end < today {
        return Err(ApiError::invalid_field(
            "#/period/end",
            format!("this period ended before today ({today}, Europe/Paris): nothing to plan"),
        ));
    }
    if (end - start).num_days() >= MAX_PERIOD_DAYS {
        return Err(ApiError::invalid_field(
            "#/period/end",
            format!("a plan covers at most {MAX_PERIOD_DAYS} days"),
        ));
    }
    let cabinets: Option<Vec<String>> = request
        .cabinets
        .map(|c| c.into_iter().map(String::from).collect());
    // Only the cabinets of the coordinator's CPTS: another CPTS's cabinet is unknown here.
    let stored = state
        .store
        .garde_cabinets(cabinets.as_deref(), caller.cpts())
        .await?;
    match &cabinets {
        Some(ids) if ids.is_empty() => {
            return Err(ApiError::invalid_field(
                "#/cabinets",
                "list at least one cabinet, or leave the field out for all",
            ));
        }
        Some(ids) => {
            let unknown: Vec<FieldError> = ids
                .iter()
                .enumerate()
                .filter(|(_, id)| !stored.iter().any(|c| c.id.as_str() == id.as_str()))
                .map(|(i, _)| FieldError::at_pointer(format!("#/cabinets/{i}"), "no such cabinet"))
                .collect();
            if !unknown.is_empty() {
                return Err(ApiError::Invalid(unknown));
            }
        }
        None if stored.is_empty() => {
            return Err(ApiError::invalid_field(
                "#/cabinets",
                "no cabinet is stored yet; create cabinets first",
            ));
        }
        None => {}
    }
    // The cabinets are fixed now: "every cabinet" means those of the CPTS today.
    let cabinets =
        Some(cabinets.unwrap_or_else(|| stored.iter().map(|c| c.id.as_str().to_owned()).collect()));
    let params = GardePlanParams {
        start,
        end,
        cabinets,
    };
    let id = jobs::new_id();
    let params_json =
        serde_json::to_string(&params).map_err(|e| ApiError::Internal(Box::new(e)))?;
    caller
        .store(&state)
        .create_garde_plan(
            &NewJob {
                id: &id,
                kind: KIND_GARDE_PLAN,
                params: &params_json,
                created_by: Some(&caller.token_id),
                territory: &caller.scope,
            },
            &start.to_string(),
            &end.to_string(),
        )
        .await?;
    state.wake_worker.notify_one();
    tracing::info!(plan = %id, token = %caller.token_id, "garde plan queued");
    accepted(&state, &id).await
}

/// A roster line (`roster.csv`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RosterEntryView {
    pub cabinet_id: String,
    /// The shift's date, Europe/Paris.
    #[schema(value_type = String, format = Date)]
    pub date: String,
    /// RFC 3339 with the Paris offset.
    pub start: String,
    pub end: String,
    pub rpps: String,
    pub distance_m: u64,
}

/// A shift with empty positions (`unfilled.csv`).
#[derive(Debug, Serialize, ToSchema)]
pub struct UnfilledView {
    pub cabinet_id: String,
    #[schema(value_type = String, format = Date)]
    pub date: String,
    pub start: String,
    pub end: String,
    pub missing: u32,
    /// `no_doctor_available`, `no_doctor_in_range`, `doctors_at_max_shifts` or
    /// `doctors_busy_that_day`.
    pub reason: String,
}

/// A plan and a list of its rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanList<T> {
    pub plan_id: String,
    #[schema(value_type = String, format = Date)]
    pub period_start: String,
    #[schema(value_type = String, format = Date)]
    pub period_end: String,
    /// RFC 3339; null until published.
    pub published_at: Option<String>,
    pub items: Vec<T>,
}

/// What publishing did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Published {
    pub plan_id: String,
    pub published_at: String,
    /// Consultation slots created.
    pub slots: u64,
    /// Bookings on the slots of doctors taken off a shift (`/garde/withdrawals`) moved to a
    /// new slot at the same cabinet and start: a repair kept the patient's appointment.
    pub bookings_moved: u64,
}

/// `(date, start, end)` in Europe/Paris of an instant pair.
fn paris(start: i64, end: i64) -> (String, String, String) {
    match (paris_time(start), paris_time(end)) {
        (Some(s), Some(_)) => (
            s.date_naive().to_string(),
            super::wire::paris(start),
            super::wire::paris(end),
        ),
        _ => Default::default(),
    }
}

/// The plan `id`, its job succeeded: 404, or 409 while it runs or after it failed.
async fn planned(state: &AppState, caller: &Caller, id: &str) -> Result<PlanRecord, ApiError> {
    let job = job_of_kind(state, caller, id, KIND_GARDE_PLAN, "garde plan").await?;
    require_succeeded(&job, "garde plan")?;
    state
        .store
        .garde_plan(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no garde plan with this id".to_owned()))
}

fn list<T>(plan: PlanRecord, items: Vec<T>) -> PlanList<T> {
    PlanList {
        plan_id: plan.id,
        period_start: plan.period_start,
        period_end: plan.period_end,
        published_at: plan.published_at.and_then(super::wire::rfc3339),
        items,
    }
}

/// The roster of a plan, by shift start, cabinet and RPPS.
#[utoipa::path(get, path = "/garde/plans/{id}/roster", tag = "garde",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The plan's id")),
    responses(
        (status = 200, description = "The roster", body = PlanList<RosterEntryView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan in the coordinator's CPTS", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The plan is not computed (yet)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn plan_roster(
    Coordinateur(caller): Coordinateur,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PlanList<RosterEntryView>>, ApiError> {
    let plan = planned(&state, &caller, &id).await?;
    let items = state
        .store
        .roster_entries(&id)
        .await?
        .into_iter()
        .map(roster_view)
        .collect();
    Ok(Json(list(plan, items)))
}

/// A roster row as the API shows it, in Europe/Paris.
fn roster_view(e: RosterEntryRow) -> RosterEntryView {
    let (date, start, end) = paris(e.shift_start, e.shift_end);
    RosterEntryView {
        cabinet_id: e.cabinet_id,
        date,
        start,
        end,
        rpps: e.rpps,
        distance_m: e.distance_m,
    }
}

/// A position a plan would add to the published rosters, and the withdrawals it repairs.
#[derive(Debug, Serialize, ToSchema)]
pub struct GainView {
    pub cabinet_id: String,
    /// The date, Europe/Paris.
    pub date: String,
    /// RFC 3339 with the Europe/Paris offset.
    pub start: String,
    pub end: String,
    /// The doctor who gains the shift.
    pub rpps: String,
    pub distance_m: u64,
    /// The doctors taken off this shift (`/garde/withdrawals`) it replaces.
    pub replaces: Vec<String>,
}

/// What publishing a plan would change: its positions not published yet (who gains which
/// shift), for a coordinator to check a repair plan before publishing it.
#[utoipa::path(get, path = "/garde/plans/{id}/diff", tag = "garde",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The plan's id")),
    responses(
        (status = 200, description = "The positions it adds, by shift", body = PlanList<GainView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan in the coordinator's CPTS", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The plan is not computed (yet)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn plan_diff(
    Coordinateur(caller): Coordinateur,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PlanList<GainView>>, ApiError> {
    let plan = planned(&state, &caller, &id).await?;
    let roster = state.store.roster_entries(&id).await?;
    let (Some(first), Some(last)) = (roster.first(), roster.last()) else {
        return Ok(Json(list(plan, Vec::new())));
    };
    let published: std::collections::HashSet<(String, i64, String)> = state
        .store
        .published_positions(first.shift_start, last.shift_start + 1)
        .await?
        .into_iter()
        .collect();
    let withdrawals = match (
        chrono::NaiveDate::parse_from_str(&plan.period_start, "%Y-%m-%d"),
        chrono::NaiveDate::parse_from_str(&plan.period_end, "%Y-%m-%d"),
    ) {
        (Ok(from), Ok(to)) => state.store.withdrawals(from, to, None).await?,
        _ => Vec::new(),
    };
    let items = roster
        .into_iter()
        .filter(|e| !published.contains(&(e.cabinet_id.clone(), e.shift_start, e.rpps.clone())))
        .map(|e| {
            let replaces = withdrawals
                .iter()
                .filter(|w| w.cabinet_id == e.cabinet_id && w.shift_start == e.shift_start)
                .map(|w| w.rpps.clone())
                .collect();
            let v = roster_view(e);
            GainView {
                cabinet_id: v.cabinet_id,
                date: v.date,
                start: v.start,
                end: v.end,
                rpps: v.rpps,
                distance_m: v.distance_m,
                replaces,
            }
        })
        .collect();
    Ok(Json(list(plan, items)))
}

/// The shifts of a plan with empty positions, and why.
#[utoipa::path(get, path = "/garde/plans/{id}/unfilled", tag = "garde",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The plan's id")),
    responses(
        (status = 200, description = "The unfilled positions", body = PlanList<UnfilledView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan in the coordinator's CPTS", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The plan is not computed (yet)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn plan_unfilled(
    Coordinateur(caller): Coordinateur,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PlanList<UnfilledView>>, ApiError> {
    let plan = planned(&state, &caller, &id).await?;
    let items = state
        .store
        .unfilled_positions(&id)
        .await?
        .into_iter()
        .map(|u| {
            let (date, start, end) = paris(u.shift_start, u.shift_end);
            UnfilledView {
                cabinet_id: u.cabinet_id,
                date,
                start,
                end,
                missing: u.missing,
                reason: u.reason,
            }
        })
        .collect();
    Ok(Json(list(plan, items)))
}

/// Publishes a plan's roster: creates its consultation slots, once.
#[utoipa::path(post, path = "/garde/plans/{id}/publish", tag = "garde",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The plan's id")),
    responses(
        (status = 200, description = "Published; slots created", body = Published),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan in the coordinator's CPTS", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`/problems/conflict`: already published, or not computed (yet); `/problems/roster-conflict`: a shift would get more doctors than its need, or a doctor two shifts of one date, counting every published plan (`detail` names the cabinet, the doctor and the date; nothing published)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn publish_plan(
    Coordinateur(caller): Coordinateur,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Published>, ApiError> {
    let plan = planned(&state, &caller, &id).await?;
    if plan.published_at.is_some() {
        return Err(already_published());
    }
    let roster = state.store.roster_entries(&id).await?;
    let mut ids: Vec<String> = roster.iter().map(|e| e.cabinet_id.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    let cabinets = state.store.garde_cabinets(Some(&ids), None).await?;
    let slots = jobs::slots_of(&roster, cabinets);
    match caller
        .store(&state)
        .publish_garde_plan(&id, &roster, &slots)
        .await?
    {
        PublishOutcome::Published { at, slots, rehomed } => {
            let moved = rehomed.len() as u64;
            tracing::info!(plan = %id, token = %caller.token_id, slots, bookings_moved = moved, "garde plan published");
            let room = state.slots(state.store.clone());
            room.published(&id).await;
            room.moved(&rehomed).await;
            Ok(Json(Published {
                plan_id: id,
                published_at: super::wire::utc(at),
                slots,
                bookings_moved: moved,
            }))
        }
        PublishOutcome::AlreadyPublished => Err(already_published()),
        PublishOutcome::ShiftFull {
            cabinet_id,
            shift_start,
        } => Err(ApiError::RosterConflict(format!(
            "the shift of cabinet {cabinet_id} on {} already has as many doctors as it needs \
             on a published roster; plan this period again (published rows are kept) and \
             publish the new plan",
            super::wire::paris(shift_start)
        ))),
        PublishOutcome::DoctorTaken {
            rpps,
            cabinet_id,
            shift_start,
        } => Err(ApiError::RosterConflict(format!(
            "doctor {rpps}, rostered at cabinet {cabinet_id} on {}, already holds a published \
             shift that day; plan this period again and publish the new plan",
            super::wire::paris(shift_start)
        ))),
        PublishOutcome::NotFound => {
            Err(ApiError::NotFound("no garde plan with this id".to_owned()))
        }
    }
}

fn already_published() -> ApiError {
    ApiError::Conflict("this garde plan is already published".to_owned())
}

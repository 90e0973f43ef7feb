//! From batch to médecin traitant (issue 17): CPAM staff commit a batch, each assignment
//! becomes a proposal to the GP; the GP accepts or refuses; CPAM staff record the patient's
//! refusal, the withdrawal and the déclaration; the list of patients and the attachment
//! report follow. The state machine is [`crate::domain::proposal`]; the store enforces it.
//!
//! Who sees what: a GP sees only the proposals addressed to him (the pseudonymous id, tier,
//! commune and distance); CPAM staff see those of the patients of their départements.
//! Anything else is 404, as a missing proposal.

use super::batches::PageView;
use super::jobs::{job_of_kind, require_succeeded};
use super::{ApiError, AppState, Caller, CpamStaff, Json, Path, Problem, query_pairs, wire};
use crate::domain::proposal::{DEFAULT_DEADLINE_DAYS, MAX_DEADLINE_DAYS};
use crate::domain::{
    Action, InseeCode, ProposalState, RefusalReason, RefusedBy, Role, Rpps, Territory,
};
use crate::jobs::{BatchParams, KIND_BATCH};
use crate::store::{
    CommitOutcome, CommuneReport, PATIENT_STATUSES, PatientStatus, ProposalFilter, ProposalRecord,
    Transition, Viewer,
};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const DEFAULT_PAGE: u64 = 100;
const MAX_PAGE: u64 = 1000;
const DAY: i64 = 86_400;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(commit_batch))
        .routes(routes!(batch_instance))
        .routes(routes!(list_proposals))
        .routes(routes!(proposal_events))
        .routes(routes!(get_proposal))
        .routes(routes!(accept_proposal))
        .routes(routes!(refuse_proposal))
        .routes(routes!(withdraw_proposal))
        .routes(routes!(attach_proposal))
        .routes(routes!(list_patients))
        .routes(routes!(attachment_report))
}

/// Publishes each proposal's new state on the event stream (`proposal` events), for the
/// screens of its GP and of CPAM staff. Best effort: without Redis, or with Redis down, the
/// change stands and screens see it on their next read.
pub async fn announce_proposals(cache: Option<&crate::cache::Cache>, proposals: &[ProposalRecord]) {
    let Some(cache) = cache else { return };
    if proposals.is_empty() {
        return;
    }
    let data: Vec<String> = proposals
        .iter()
        .map(|p| {
            serde_json::json!({
                "proposal_id": p.id,
                "batch": p.job_id,
                "rpps": p.rpps.as_str(),
                "insee": p.insee.as_str(),
                "state": p.state.as_str(),
            })
            .to_string()
        })
        .collect();
    if let Err(e) = cache
        .append_events(crate::cache::EventKind::Proposal, &data)
        .await
    {
        tracing::warn!(error = %e, events = data.len(), "cannot announce proposal changes");
    }
}

/// Expires the proposals whose deadline passed (by the state's clock) and announces them.
async fn expire_due(state: &AppState) -> Result<(), ApiError> {
    let expired = state.store.expire_proposals(state.clock.now()).await?;
    announce_proposals(state.cache.as_ref(), &expired).await;
    Ok(())
}

/// How a batch is committed.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitRequest {
    /// Days the GPs have to answer, 1 to 90 (default 15).
    #[schema(minimum = 1, maximum = 90, example = 15)]
    #[serde(default)]
    pub deadline_days: Option<u32>,
}

/// A committed batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommitView {
    pub batch: String,
    /// Proposals made, one per assignment.
    pub proposals: u64,
    /// Assignments of patients erased or withdrawn since the batch ran: not proposed.
    pub skipped: u64,
    /// When unanswered proposals expire (Europe/Paris).
    pub deadline: String,
}

/// Commits a batch: each of its assignments becomes a proposal to the GP (CPAM).
#[utoipa::path(post, path = "/batches/{id}/commit", tag = "proposals",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The batch's job id")),
    request_body(content = Option<CommitRequest>, description = "Optional; `{}` or no body: 15 days"),
    responses(
        (status = 201, description = "Committed; `Location: /proposals?batch={id}`", body = CommitView),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a CPAM token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such batch in the caller's départements", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not finished, committed already, or stale: a later commit took one of its patients or places (run a new batch)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad `deadline_days` (`pointer`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn commit_batch(
    CpamStaff(caller): CpamStaff,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: CommitRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CommitRequest::default()
    } else {
        super::json::from_bytes(&body)?
    };
    let days = request.deadline_days.unwrap_or(DEFAULT_DEADLINE_DAYS);
    if !(1..=MAX_DEADLINE_DAYS).contains(&days) {
        return Err(ApiError::invalid_field(
            "#/deadline_days",
            format!("expected 1 to {MAX_DEADLINE_DAYS} days"),
        ));
    }
    let job = job_of_kind(&state, &caller, &id, KIND_BATCH, "batch").await?;
    require_succeeded(&job, "batch")?;
    let params: crate::jobs::BatchParams =
        serde_json::from_str(&job.params).map_err(|e| ApiError::Internal(Box::new(e)))?;
    if !params.without.is_empty() {
        return Err(ApiError::Conflict(
            "this batch is a what-if (doctors left out): it cannot be committed".to_owned(),
        ));
    }
    let now = state.clock.now();
    let deadline_at = now + i64::from(days) * DAY;
    match caller
        .store(&state)
        .commit_batch(&job.id, deadline_at, now)
        .await?
    {
        CommitOutcome::Committed {
            proposals,
            skipped,
            deadline_at,
        } => {
            tracing::info!(batch = %job.id, proposals = proposals.len(), skipped, "batch committed");
            announce_proposals(state.cache.as_ref(), &proposals).await;
            let view = CommitView {
                batch: job.id.clone(),
                proposals: proposals.len() as u64,
                skipped,
                deadline: wire::paris(deadline_at),
            };
            Ok((
                StatusCode::CREATED,
                [(header::LOCATION, format!("/proposals?batch={}", job.id))],
                Json(view),
            )
                .into_response())
        }
        CommitOutcome::AlreadyCommitted => Err(ApiError::Conflict(
            "this batch is committed already; see /proposals?batch=".to_owned() + &job.id,
        )),
        CommitOutcome::Stale(what) => Err(ApiError::Conflict(format!(
            "a commit since this batch ran took one of its {}; run a new batch, which \
             starts from the proposals as they stand",
            if what == "patient" {
                "patients"
            } else {
                "doctors' places"
            }
        ))),
    }
}

/// The exact instance a batch solved, as a zip of `patients.csv`, `doctors.csv` (with the
/// places the doctors had left then as `capacity`), `exclusions.csv` and `README.txt` (the
/// `cpts match` command that gives the batch's objective).
#[utoipa::path(get, path = "/batches/{id}/instance", tag = "batches",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The batch's job id")),
    responses(
        (status = 200, description = "The instance (FORMATS.md §2)", content_type = "application/zip", body = Vec<u8>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a CPAM token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such batch in the caller's départements", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The batch has not succeeded", body = Problem, content_type = "application/problem+json"),
    ))]
async fn batch_instance(
    CpamStaff(caller): CpamStaff,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = job_of_kind(&state, &caller, &id, KIND_BATCH, "batch").await?;
    require_succeeded(&job, "batch")?;
    let params: BatchParams =
        serde_json::from_str(&job.params).map_err(|e| ApiError::Internal(Box::new(e)))?;
    let inst = state.store.batch_instance(&job.id).await?;
    let zip = tokio::task::spawn_blocking(move || instance_zip(&inst, params.default_max_km.km()))
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"batch-{}.zip\"", job.id),
            ),
        ],
        zip,
    )
        .into_response())
}

/// The zip of [`batch_instance`].
fn instance_zip(
    inst: &crate::store::BatchInstance,
    default_max_km: f64,
) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let text = |f: Option<f64>| f.map(|v| v.to_string()).unwrap_or_default();
    let mut patients = csv::Writer::from_writer(Vec::new());
    let mut doctors = csv::Writer::from_writer(Vec::new());
    let mut exclusions = csv::Writer::from_writer(Vec::new());
    let e = |e: csv::Error| e.to_string();
    patients
        .write_record([
            "patient_id",
            "lat",
            "lon",
            "insee",
            "age",
            "ald",
            "css",
            "max_km",
        ])
        .map_err(e)?;
    for p in &inst.patients {
        patients
            .write_record([
                p.id.to_string(),
                p.coords.lat().to_string(),
                p.coords.lon().to_string(),
                p.insee.to_string(),
                p.age.to_string(),
                u8::from(p.ald).to_string(),
                u8::from(p.css).to_string(),
                text(p.max_km.map(crate::domain::MaxKm::km)),
            ])
            .map_err(e)?;
    }
    doctors
        .write_record(["rpps", "name", "lat", "lon", "insee", "capacity", "max_km"])
        .map_err(e)?;
    for d in &inst.doctors {
        doctors
            .write_record([
                d.rpps.to_string(),
                d.name.clone(),
                d.coords.lat().to_string(),
                d.coords.lon().to_string(),
                d.insee.to_string(),
                d.capacity.to_string(),
                text(d.max_km.map(crate::domain::MaxKm::km)),
            ])
            .map_err(e)?;
    }
    exclusions.write_record(["patient_id", "rpps"]).map_err(e)?;
    for (p, d) in &inst.exclusions {
        exclusions
            .write_record([p.as_str(), d.as_str()])
            .map_err(e)?;
    }
    let readme = format!(
        "The instance this batch solved (FORMATS.md §2). Patients: {}. Doctors: {} (capacity = \
         the places they had left). Excluded pairs: {}.\n\nReproduce it:\n\n    \
         cpts match . --out out --default-max-km {default_max_km}\n    \
         cpts verify . out --default-max-km {default_max_km}\n",
        inst.patients.len(),
        inst.doctors.len(),
        inst.exclusions.len()
    );
    let files = [
        (
            "patients.csv",
            patients.into_inner().map_err(|e| e.to_string())?,
        ),
        (
            "doctors.csv",
            doctors.into_inner().map_err(|e| e.to_string())?,
        ),
        (
            "exclusions.csv",
            exclusions.into_inner().map_err(|e| e.to_string())?,
        ),
        ("README.txt", readme.into_bytes()),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        zip.start_file(name, options).map_err(|e| e.to_string())?;
        zip.write_all(&bytes).map_err(|e| e.to_string())?;
    }
    Ok(zip.finish().map_err(|e| e.to_string())?.into_inner())
}

/// A proposal, as its GP and CPAM staff see it: no personal data but the pseudonymous id.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalView {
    pub id: String,
    /// The batch it came from.
    pub batch: String,
    /// The pseudonymous patient id.
    pub patient_id: String,
    /// 1 (ALD), 2 (70+ or CSS), 3.
    pub tier: u8,
    /// The patient's commune (INSEE code).
    pub insee: String,
    /// Between the patient's home and the practice, rounded to the metre.
    pub distance_m: u64,
    pub rpps: String,
    /// `proposed`, `accepted`, `attached`, `refused`, `expired` or `withdrawn`.
    #[schema(value_type = String, example = "proposed")]
    pub state: ProposalState,
    /// When refused: `doctor` or `patient`.
    #[schema(value_type = Option<String>)]
    pub refused_by: Option<RefusedBy>,
    /// When refused: `capacity`, `distance`, `profile` or `other`.
    #[schema(value_type = Option<String>)]
    pub reason: Option<RefusalReason>,
    /// The GP answers before this (Europe/Paris, RFC 3339).
    pub deadline: String,
    pub created: String,
    pub answered: Option<String>,
    pub attached: Option<String>,
}

impl From<ProposalRecord> for ProposalView {
    fn from(p: ProposalRecord) -> Self {
        Self {
            id: p.id,
            batch: p.job_id,
            patient_id: p.patient.to_string(),
            tier: p.tier.number(),
            insee: p.insee.to_string(),
            distance_m: p.distance_m,
            rpps: p.rpps.to_string(),
            state: p.state,
            refused_by: p.refusal.map(|r| r.0),
            reason: p.refusal.map(|r| r.1),
            deadline: wire::paris(p.deadline_at),
            created: wire::paris(p.created_at),
            answered: p.answered_at.map(wire::paris),
            attached: p.attached_at.map(wire::paris),
        }
    }
}

/// A GP's places for new patients.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlacesView {
    /// His capacity (declared, else imported).
    pub declared: u32,
    /// Held by proposals pending or accepted, and by patients attached since he stated it.
    pub held: u32,
    /// Left for the next batch.
    pub left: u32,
}

/// A page of proposals; a GP's also shows his places.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalsPage {
    pub items: Vec<ProposalView>,
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
    pub next: Option<String>,
    /// The caller's places, for a GP.
    pub places: Option<PlacesView>,
}

/// Filters of `GET /proposals` (all optional).
#[derive(Debug, IntoParams)]
#[allow(dead_code)]
#[into_params(parameter_in = Query)]
pub struct ProposalsQuery {
    /// `proposed`, `accepted`, `attached`, `refused`, `expired` or `withdrawn`.
    pub state: Option<String>,
    /// The GP (CPAM staff only; a GP sees his own).
    pub rpps: Option<String>,
    /// The patient's commune.
    pub insee: Option<String>,
    /// The batch.
    pub batch: Option<String>,
    /// 1 to 1000 (default 100).
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// Whose proposals the caller reads: a GP his own, CPAM staff those of their départements.
fn viewer(caller: &Caller) -> Result<Viewer<'_>, ApiError> {
    match (caller.role, &caller.rpps) {
        (Role::Medecin, Some(rpps)) => Ok(Viewer::Doctor(rpps)),
        (Role::Cpam, _) => Ok(Viewer::Within(&caller.scope)),
        _ => Err(ApiError::Forbidden(
            "this requires the role medecin or cpam".to_owned(),
        )),
    }
}

/// `limit` and `offset` among `pairs`.
fn page_of(pairs: &[(String, String)]) -> Result<(u64, u64), ApiError> {
    let (mut limit, mut offset) = (DEFAULT_PAGE, 0);
    for (k, v) in pairs {
        match k.as_str() {
            "limit" => limit = super::limit_param(v, MAX_PAGE)?,
            "offset" => {
                offset = v.parse().map_err(|_| {
                    ApiError::invalid_parameter("offset", "expected an integer ≥ 0")
                })?;
            }
            _ => {}
        }
    }
    Ok((limit, offset))
}

fn next_link(
    path: &str,
    pairs: &[(String, String)],
    limit: u64,
    offset: u64,
    total: u64,
) -> Option<String> {
    (offset.saturating_add(limit) < total).then(|| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(k, _)| k != "limit" && k != "offset") {
            q.append_pair(k, v);
        }
        q.append_pair("limit", &limit.to_string());
        q.append_pair("offset", &(offset + limit).to_string());
        format!("{path}?{}", q.finish())
    })
}

/// The proposals the caller sees, pending first (GP: his own, with his places; CPAM staff:
/// those of their départements).
#[utoipa::path(get, path = "/proposals", tag = "proposals",
    security(("bearer" = [])),
    params(ProposalsQuery),
    responses(
        (status = 200, description = "A page of proposals: proposed, then accepted, then the others; by deadline", body = ProposalsPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a médecin or CPAM token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad parameter (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_proposals(
    caller: Caller,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<ProposalsPage>, ApiError> {
    let viewer = viewer(&caller)?;
    let pairs = query_pairs(
        query.as_deref(),
        &["state", "rpps", "insee", "batch", "limit", "offset"],
    )?;
    let (limit, offset) = page_of(&pairs)?;
    let mut filter = ProposalFilter::default();
    for (k, v) in &pairs {
        match k.as_str() {
            "state" => filter.state = Some(super::parse_param("state", v)?),
            "rpps" => filter.rpps = Some(super::parse_param::<Rpps>("rpps", v)?),
            "insee" => filter.insee = Some(super::parse_param::<InseeCode>("insee", v)?),
            "batch" => {
                // A job id: 32 hexadecimal digits. Anything else names no batch.
                if v.is_empty() || v.len() > 64 || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(ApiError::invalid_parameter("batch", "not a batch id"));
                }
                filter.job_id = Some(v.clone());
            }
            _ => {}
        }
    }
    expire_due(&state).await?;
    let page = state
        .store
        .proposals(viewer, &filter, limit, offset)
        .await?;
    let places = match viewer {
        Viewer::Doctor(rpps) => {
            state
                .store
                .doctor_places_held(rpps)
                .await?
                .map(|(declared, held)| PlacesView {
                    declared,
                    held,
                    left: declared.saturating_sub(held),
                })
        }
        Viewer::Within(_) => None,
    };
    Ok(Json(ProposalsPage {
        next: next_link("/proposals", &pairs, limit, offset, page.total),
        items: page.items.into_iter().map(ProposalView::from).collect(),
        total: page.total,
        limit,
        offset,
        places,
    }))
}

/// Server-Sent Events about the proposals the caller sees: `ready` (the starting id), then one
/// `proposal` event per change (`proposal_id`, `batch`, `rpps`, `insee`, `state`; never the
/// patient). A GP hears of his own; CPAM staff of their départements'. `Last-Event-ID`
/// resumes after that event.
#[utoipa::path(get, path = "/proposals/events", tag = "proposals",
    security(("bearer" = [])),
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id")),
    responses(
        (status = 200, content_type = "text/event-stream", body = String,
         description = "`ready`, then `proposal` events"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a médecin or CPAM token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad `Last-Event-ID` (`parameter`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`/problems/too-many-streams`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`/problems/needs-redis`: this server runs without Redis; `/problems/unavailable`: Redis does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
async fn proposal_events(
    caller: Caller,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<
    axum::response::sse::Sse<
        impl tokio_stream::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
    ApiError,
> {
    viewer(&caller)?;
    let from = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|t| t.parse::<crate::cache::StreamId>().ok())
                .ok_or_else(|| {
                    ApiError::invalid_parameter(
                        "Last-Event-ID",
                        "expected a stream id such as 1767225600000-0",
                    )
                })
        })
        .transpose()?;
    let cache = state.cache.clone().ok_or(ApiError::NeedsRedis)?;
    let place = state.streams.enter(&caller.token_id)?;
    let feed = cache.subscribe(from).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let (role, rpps, scope) = (caller.role, caller.rpps.clone(), caller.scope.clone());
    let pass = move |e: &crate::cache::SlotEvent, kind: crate::cache::EventKind| {
        kind == crate::cache::EventKind::Proposal
            && event_visible(&e.data, role, rpps.as_ref(), &scope)
    };
    tokio::spawn(super::events::forward(place, feed, pass, tx));
    Ok(
        axum::response::sse::Sse::new(tokio_stream::wrappers::ReceiverStream::new(rx))
            .keep_alive(axum::response::sse::KeepAlive::new().interval(super::events::KEEP_ALIVE)),
    )
}

/// Whether a `proposal` event's data is for this listener: his own as a GP, of his
/// départements as CPAM staff.
fn event_visible(
    data: &str,
    role: Role,
    rpps: Option<&Rpps>,
    scope: &crate::domain::Scope,
) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(data) else {
        return false;
    };
    match role {
        Role::Medecin => {
            rpps.is_some_and(|r| v.get("rpps").and_then(|x| x.as_str()) == Some(r.as_str()))
        }
        Role::Cpam => v
            .get("insee")
            .and_then(|x| x.as_str())
            .and_then(|i| i.parse::<InseeCode>().ok())
            .is_some_and(|i| scope.covers_commune(&i)),
        _ => false,
    }
}

/// One proposal.
#[utoipa::path(get, path = "/proposals/{id}", tag = "proposals",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The proposal's id")),
    responses(
        (status = 200, description = "The proposal", body = ProposalView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a médecin or CPAM token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such proposal for the caller", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_proposal(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProposalView>, ApiError> {
    let viewer = viewer(&caller)?;
    let id = proposal_id(&id)?;
    expire_due(&state).await?;
    let p = state
        .store
        .proposal(id, viewer)
        .await?
        .ok_or_else(unknown_proposal)?;
    Ok(Json(p.into()))
}

fn unknown_proposal() -> ApiError {
    ApiError::NotFound("no proposal with this id".to_owned())
}

/// A proposal id is 16 digits; any other text names none (404, as an unknown one).
fn proposal_id(raw: &str) -> Result<&str, ApiError> {
    if raw.len() <= 20 && !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        Ok(raw)
    } else {
        Err(unknown_proposal())
    }
}

/// Applies `action` for `caller` and answers the proposal as it now stands.
async fn act(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Action,
) -> Result<Json<ProposalView>, ApiError> {
    let viewer = viewer(caller)?;
    let id = proposal_id(id)?;
    let outcome = caller
        .store(state)
        .transition(id, action, viewer, state.clock.now())
        .await?;
    match outcome {
        Transition::Done(p) => {
            tracing::info!(proposal = %p.id, state = %p.state, "proposal changed");
            announce_proposals(state.cache.as_ref(), std::slice::from_ref(&p)).await;
            Ok(Json(p.into()))
        }
        Transition::NotFound => Err(unknown_proposal()),
        Transition::NotAllowed(now) => {
            let from: Vec<&str> = action.from_states().iter().map(|s| s.as_str()).collect();
            Err(ApiError::Conflict(format!(
                "the proposal is {now}; this is allowed only when it is {}",
                from.join(" or ")
            )))
        }
    }
}

/// The GP accepts the patient (before the deadline).
#[utoipa::path(post, path = "/proposals/{id}/accept", tag = "proposals",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The proposal's id")),
    responses(
        (status = 200, description = "Accepted", body = ProposalView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a médecin token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such proposal to this GP", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not `proposed` any more (answered, expired, withdrawn)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn accept_proposal(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProposalView>, ApiError> {
    caller.require(&[Role::Medecin])?;
    act(&state, &caller, &id, Action::Accept).await
}

/// Why a pairing is refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefuseRequest {
    /// `capacity`, `distance`, `profile` or `other`.
    #[schema(value_type = String, example = "distance")]
    pub reason: RefusalReason,
}

/// Refuses the pairing: the GP's answer (before the deadline), or, by CPAM staff, the
/// patient's refusal (while proposed or accepted). Either way the pair is never proposed again.
#[utoipa::path(post, path = "/proposals/{id}/refuse", tag = "proposals",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The proposal's id")),
    request_body = RefuseRequest,
    responses(
        (status = 200, description = "Refused", body = ProposalView),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a médecin or CPAM token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such proposal for the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not in a state it can be refused from", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad `reason` (`pointer`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn refuse_proposal(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(request): Json<RefuseRequest>,
) -> Result<Json<ProposalView>, ApiError> {
    let by = match caller.role {
        Role::Medecin => RefusedBy::Doctor,
        Role::Cpam => RefusedBy::Patient,
        _ => {
            return Err(ApiError::Forbidden(
                "this requires the role medecin or cpam".to_owned(),
            ));
        }
    };
    act(&state, &caller, &id, Action::Refuse(by, request.reason)).await
}

/// The patient found a doctor elsewhere, or left (CPAM): the proposal is withdrawn and the
/// patient leaves the list until an import brings it back.
#[utoipa::path(post, path = "/proposals/{id}/withdraw", tag = "proposals",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The proposal's id")),
    responses(
        (status = 200, description = "Withdrawn", body = ProposalView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a CPAM token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such proposal in the caller's départements", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Neither proposed nor accepted", body = Problem, content_type = "application/problem+json"),
    ))]
async fn withdraw_proposal(
    CpamStaff(caller): CpamStaff,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProposalView>, ApiError> {
    act(&state, &caller, &id, Action::Withdraw).await
}

/// Records the déclaration de médecin traitant of an accepted proposal (CPAM).
#[utoipa::path(post, path = "/proposals/{id}/attach", tag = "proposals",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The proposal's id")),
    responses(
        (status = 200, description = "Attached", body = ProposalView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a CPAM token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such proposal in the caller's départements", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not accepted", body = Problem, content_type = "application/problem+json"),
    ))]
async fn attach_proposal(
    CpamStaff(caller): CpamStaff,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProposalView>, ApiError> {
    act(&state, &caller, &id, Action::Attach).await
}

/// A patient of the list and its status.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientStatusView {
    pub patient_id: String,
    pub insee: String,
    pub tier: u8,
    /// `orphan`, `unmatched`, `proposed`, `accepted`, `attached` or `withdrawn`.
    pub status: String,
    /// For `unmatched`: `no_doctor_in_range` or `capacity_exhausted` (the last batch's).
    pub reason: Option<String>,
    /// The live proposal, if any.
    pub proposal: Option<String>,
}

impl From<PatientStatus> for PatientStatusView {
    fn from(p: PatientStatus) -> Self {
        Self {
            patient_id: p.patient.to_string(),
            insee: p.insee.to_string(),
            tier: p.tier.number(),
            status: p.status,
            reason: p.reason,
            proposal: p.proposal,
        }
    }
}

/// Filters of `GET /patients`.
#[derive(Debug, IntoParams)]
#[allow(dead_code)]
#[into_params(parameter_in = Query)]
pub struct PatientsQuery {
    /// `orphan`, `unmatched`, `proposed`, `accepted`, `attached` or `withdrawn`.
    pub status: Option<String>,
    /// A commune (INSEE code) of the caller's départements.
    pub insee: Option<String>,
    /// 1 to 1000 (default 100).
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// The patients of the caller's départements and where each stands, by `patient_id` (CPAM).
#[utoipa::path(get, path = "/patients", tag = "proposals",
    security(("bearer" = [])),
    params(PatientsQuery),
    responses(
        (status = 200, description = "A page of patients", body = PageView<PatientStatusView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a CPAM token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad parameter (`parameter`), or a commune outside the caller's départements", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_patients(
    CpamStaff(caller): CpamStaff,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<PageView<PatientStatusView>>, ApiError> {
    let pairs = query_pairs(query.as_deref(), &["status", "insee", "limit", "offset"])?;
    let (limit, offset) = page_of(&pairs)?;
    let mut status = None;
    let mut patterns = crate::store::departement_patterns(&caller.scope);
    for (k, v) in &pairs {
        match k.as_str() {
            "status" => {
                if !PATIENT_STATUSES.contains(&v.as_str()) {
                    return Err(ApiError::invalid_parameter(
                        "status",
                        format!("expected one of {}", PATIENT_STATUSES.join(", ")),
                    ));
                }
                status = Some(v.clone());
            }
            "insee" => {
                let code: InseeCode = super::parse_param("insee", v)?;
                if !caller.scope.covers_commune(&code) {
                    return Err(ApiError::invalid_parameter(
                        "insee",
                        format!(
                            "{code} lies outside this token's territory ({})",
                            caller.scope
                        ),
                    ));
                }
                patterns = Some(vec![code.to_string()]);
            }
            _ => {}
        }
    }
    expire_due(&state).await?;
    let page = state
        .store
        .patient_statuses(patterns.as_deref(), status.as_deref(), limit, offset)
        .await?;
    Ok(Json(PageView {
        next: next_link("/patients", &pairs, limit, offset, page.total),
        items: page.items.into_iter().map(Into::into).collect(),
        total: page.total,
        limit,
        offset,
    }))
}

/// One commune of the attachment report.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommuneReportView {
    pub insee: String,
    /// Its centroid, from the compiled commune list (absent for an unknown code).
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Patients on the list with no médecin traitant yet.
    pub orphans: u64,
    pub proposed: u64,
    pub accepted: u64,
    pub refused: u64,
    pub expired: u64,
    pub withdrawn: u64,
    /// Attached this calendar month (Europe/Paris), and in all.
    pub attached_this_month: u64,
    pub attached: u64,
    /// Unmatched by the last batch that took them, by reason.
    pub unmatched_no_doctor_in_range: u64,
    pub unmatched_capacity_exhausted: u64,
    /// The capacity of the commune's GPs, and what is left of it.
    pub places_declared: u64,
    pub places_left: u64,
}

impl From<CommuneReport> for CommuneReportView {
    fn from(r: CommuneReport) -> Self {
        let at = crate::geo::commune_centroid(&r.insee);
        let by = |s: ProposalState| {
            ProposalState::ALL
                .iter()
                .position(|x| *x == s)
                .map_or(0, |i| r.proposals[i])
        };
        Self {
            lat: at.map(|c| c.lat()),
            lon: at.map(|c| c.lon()),
            orphans: r.orphans,
            proposed: by(ProposalState::Proposed),
            accepted: by(ProposalState::Accepted),
            refused: by(ProposalState::Refused),
            expired: by(ProposalState::Expired),
            withdrawn: by(ProposalState::Withdrawn),
            attached_this_month: r.attached_this_month,
            attached: r.attached,
            unmatched_no_doctor_in_range: r.unmatched_no_doctor_in_range,
            unmatched_capacity_exhausted: r.unmatched_capacity_exhausted,
            places_declared: r.places_declared,
            places_left: r.places_left,
            insee: r.insee,
        }
    }
}

/// The attachment report.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentReport {
    /// The territory reported on (canonical), or `national`.
    pub territory: String,
    /// The first day of "this month" (Europe/Paris).
    pub month: String,
    /// Attachments per month over the last twelve (Europe/Paris), oldest first, this month
    /// last.
    pub by_month: Vec<MonthCount>,
    pub communes: Vec<CommuneReportView>,
}

/// The attachments of one month.
#[derive(Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct MonthCount {
    /// `YYYY-MM`.
    #[schema(example = "2026-12")]
    pub month: String,
    pub attached: u64,
}

/// The first days of the `n` months ending with the one of `now` (Europe/Paris), oldest
/// first, each with the instant (Unix seconds) of its midnight in Paris.
fn month_starts(now: i64, n: u32) -> Vec<(chrono::NaiveDate, i64)> {
    use chrono::{Datelike, Months, NaiveTime};
    let today = crate::garde::calendar::paris_time(now)
        .map_or_else(|| chrono::Utc::now().date_naive(), |t| t.date_naive());
    let first = today.with_day(1).unwrap_or(today);
    (0..n)
        .rev()
        .filter_map(|back| first.checked_sub_months(Months::new(back)))
        .map(|day| {
            // Midnight is never in Paris's spring gap (02:00–03:00).
            let start = crate::garde::calendar::paris_instant(day.and_time(NaiveTime::MIN))
                .map_or(now, |t| t.timestamp());
            (day, start)
        })
        .collect()
}

/// [`month_starts`] labelled `YYYY-MM`.
fn last_months(now: i64, n: u32) -> Vec<(String, i64)> {
    month_starts(now, n)
        .into_iter()
        .map(|(day, start)| (day.format("%Y-%m").to_string(), start))
        .collect()
}

/// `instants` counted by the month they fall in (`months` from [`last_months`]).
fn per_month(months: &[(String, i64)], instants: &[i64]) -> Vec<MonthCount> {
    let mut counts = vec![0_u64; months.len()];
    for &t in instants {
        if let Some(i) = months.iter().rposition(|(_, start)| t >= *start) {
            counts[i] += 1;
        }
    }
    months
        .iter()
        .zip(counts)
        .map(|((month, _), attached)| MonthCount {
            month: month.clone(),
            attached,
        })
        .collect()
}

/// Filters of `GET /reports/attachment`.
#[derive(Debug, IntoParams)]
#[allow(dead_code)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `dep:54` or `cpts:grand_nancy`, within the caller's départements (default: all of
    /// them).
    pub territory: Option<String>,
}

const REPORT_COLUMNS: [&str; 16] = [
    "insee",
    "lat",
    "lon",
    "orphans",
    "proposed",
    "accepted",
    "refused",
    "expired",
    "withdrawn",
    "attached_this_month",
    "attached",
    "unmatched_no_doctor_in_range",
    "unmatched_capacity_exhausted",
    "places_declared",
    "places_left",
    "month",
];

/// Per commune: orphans, proposals by state, attachments this month and in all, the unmatched
/// by reason, places declared and left (CPAM). JSON, CSV (`Accept: text/csv`) or GeoJSON
/// (`Accept: application/geo+json`: points at the commune centroids) for the map.
#[utoipa::path(get, path = "/reports/attachment", tag = "proposals",
    security(("bearer" = [])),
    params(ReportQuery),
    responses(
        (status = 200, description = "The report, by INSEE code", body = AttachmentReport,
            content(
                (AttachmentReport = "application/json"),
                (String = "text/csv"),
                (String = "application/geo+json"),
            )),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a CPAM token, or a territory outside its départements", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No CPTS with this id", body = Problem, content_type = "application/problem+json"),
        (status = 406, description = "None of JSON, CSV, GeoJSON is acceptable", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad `territory` (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn attachment_report(
    CpamStaff(caller): CpamStaff,
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let format = wire::negotiate(
        &headers,
        &["application/json", "text/csv", "application/geo+json"],
    )
    .ok_or(ApiError::NotAcceptable(
        "application/json, text/csv or application/geo+json",
    ))?;
    let pairs = query_pairs(query.as_deref(), &["territory"])?;
    let (label, patterns) = match pairs.first() {
        None => (
            caller.scope.to_string(),
            crate::store::departement_patterns(&caller.scope),
        ),
        Some((_, raw)) => {
            let t: Territory = super::parse_param("territory", raw)?;
            let patterns: Vec<String> = match &t {
                Territory::Dep(d) => vec![format!("{}%", d.as_str())],
                Territory::Cpts(id) => state
                    .store
                    .cpts(id)
                    .await?
                    .ok_or_else(|| ApiError::NotFound("no CPTS with this id".to_owned()))?
                    .communes
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            };
            let inside = patterns.iter().all(|p| {
                let code = p.trim_end_matches('%');
                caller.scope == crate::domain::Scope::National
                    || caller
                        .scope
                        .departements()
                        .any(|d| code.starts_with(d.as_str()))
            });
            if !inside {
                return Err(ApiError::Forbidden(format!(
                    "{t} lies outside this token's territory ({})",
                    caller.scope
                )));
            }
            (t.to_string(), Some(patterns))
        }
    };
    let (month, month_start) = month_start(state.clock.now());
    expire_due(&state).await?;
    let rows = state
        .store
        .attachment_report(patterns.as_deref(), month_start)
        .await?;
    let communes: Vec<CommuneReportView> = rows.into_iter().map(Into::into).collect();
    match format {
        "text/csv" => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let internal = |e: csv::Error| ApiError::Internal(Box::new(e));
            w.write_record(REPORT_COLUMNS).map_err(internal)?;
            for c in &communes {
                w.write_record(report_cells(c, &month)).map_err(internal)?;
            }
            let body = w
                .into_inner()
                .map_err(|e| ApiError::Internal(e.to_string().into()))?;
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response())
        }
        "application/geo+json" => {
            let features: Vec<serde_json::Value> = communes
                .iter()
                .filter_map(|c| {
                    let (lat, lon) = (c.lat?, c.lon?);
                    let mut properties = serde_json::to_value(c).ok()?;
                    if let Some(m) = properties.as_object_mut() {
                        m.remove("lat");
                        m.remove("lon");
                    }
                    Some(serde_json::json!({
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [lon, lat]},
                        "properties": properties,
                    }))
                })
                .collect();
            let doc = serde_json::json!({
                "type": "FeatureCollection",
                "features": features,
                "properties": {"territory": label, "month": month},
            });
            Ok((
                [(header::CONTENT_TYPE, "application/geo+json")],
                doc.to_string(),
            )
                .into_response())
        }
        _ => {
            let months = last_months(state.clock.now(), 12);
            let since = months.first().map_or(month_start, |(_, t)| *t);
            let instants = state
                .store
                .attachment_instants(patterns.as_deref(), since)
                .await?;
            Ok(Json(AttachmentReport {
                territory: label,
                month,
                by_month: per_month(&months, &instants),
                communes,
            })
            .into_response())
        }
    }
}

fn report_cells(c: &CommuneReportView, month: &str) -> Vec<String> {
    let f = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    vec![
        c.insee.clone(),
        f(c.lat),
        f(c.lon),
        c.orphans.to_string(),
        c.proposed.to_string(),
        c.accepted.to_string(),
        c.refused.to_string(),
        c.expired.to_string(),
        c.withdrawn.to_string(),
        c.attached_this_month.to_string(),
        c.attached.to_string(),
        c.unmatched_no_doctor_in_range.to_string(),
        c.unmatched_capacity_exhausted.to_string(),
        c.places_declared.to_string(),
        c.places_left.to_string(),
        month.to_owned(),
    ]
}

/// The first day of the Europe/Paris month of `now`, as a date and as Unix seconds.
fn month_start(now: i64) -> (String, i64) {
    month_starts(now, 1).pop().map_or_else(
        || (String::new(), now),
        |(day, start)| (day.to_string(), start),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_fall_in_their_paris_month_over_the_last_twelve() {
        // 2026-12-04T08:00:00Z.
        let months = last_months(1_796_371_200, 12);
        assert_eq!(months.len(), 12);
        assert_eq!(months[0].0, "2026-01");
        assert_eq!(months[11].0, "2026-12");
        // 2026-01-01T00:00:00+01:00.
        assert_eq!(months[0].1, 1_767_222_000);
        // Summer time: 2026-07-01T00:00:00+02:00.
        assert_eq!(months[6], ("2026-07".to_owned(), 1_782_856_800));
        // 2026-11-30T23:30:00Z is December in Paris; 23:30 UTC on 31 May is June.
        let counts = per_month(
            &months,
            &[1_796_081_400, 1_796_081_400 - 3600, 1_780_270_200, 1],
        );
        assert_eq!(counts[11].attached, 1);
        assert_eq!(counts[10].attached, 1);
        assert_eq!(
            counts[5],
            MonthCount {
                month: "2026-06".to_owned(),
                attached: 1
            }
        );
        assert_eq!(counts.iter().map(|c| c.attached).sum::<u64>(), 3);
    }

    #[test]
    fn the_month_begins_at_midnight_paris_time() {
        // 2026-12-04T08:00:00Z: December began at 2026-11-30T23:00:00Z.
        let (date, at) = month_start(1_796_371_200);
        assert_eq!(date, "2026-12-01");
        assert_eq!(at, 1_796_079_600);
    }

    #[test]
    fn a_proposal_event_reaches_its_gp_and_cpam_of_its_commune_only() {
        let data = r#"{"proposal_id":"1","batch":"b","rpps":"10000000009","insee":"54395","state":"accepted"}"#;
        let a: Rpps = "10000000009".parse().unwrap();
        let b: Rpps = "10000000017".parse().unwrap();
        let national = crate::domain::Scope::National;
        assert!(event_visible(data, Role::Medecin, Some(&a), &national));
        assert!(!event_visible(data, Role::Medecin, Some(&b), &national));
        let dep54: crate::domain::Scope = "dep:54".parse().unwrap();
        let dep57: crate::domain::Scope = "dep:57".parse().unwrap();
        assert!(event_visible(data, Role::Cpam, None, &dep54));
        assert!(!event_visible(data, Role::Cpam, None, &dep57));
        assert!(!event_visible(data, Role::Regulateur, None, &national));
        assert!(!event_visible("not json", Role::Cpam, None, &national));
    }

    #[test]
    fn unknown_and_repeated_parameters_are_named() {
        assert!(query_pairs(Some("state=proposed&limit=5"), &["state", "limit"]).is_ok());
        for bad in ["colour=red", "state=a&state=b"] {
            let Err(ApiError::Invalid(errors)) = query_pairs(Some(bad), &["state"]) else {
                panic!("{bad} accepted");
            };
            assert_eq!(errors.len(), 1);
        }
    }

    #[test]
    fn the_instance_zip_holds_the_three_files_and_the_command() {
        let zip = instance_zip(&crate::store::BatchInstance::default(), 10.0).unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        let mut names: Vec<String> = archive
            .file_names()
            .map(|n| n.unwrap().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "README.txt",
                "doctors.csv",
                "exclusions.csv",
                "patients.csv"
            ]
        );
        let mut text = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("exclusions.csv").unwrap(), &mut text)
            .unwrap();
        assert_eq!(text, "patient_id,rpps\n");
    }
}

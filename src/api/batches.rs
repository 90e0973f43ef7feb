//! Matching batches (CPAM staff): launch one over a territory (a job), then read its
//! assignments and unmatched patients (FORMATS.md §2 outputs), as paginated JSON or, with
//! `Accept: text/csv`, as the whole CSV file.
//!
//! A batch takes the stored patients living in the territory's communes and every stored
//! doctor with capacity (see `jobs::batch` for why all of them).

use super::jobs::{JobView, job_of_kind, require_succeeded};
use super::{ApiError, AppState, CpamStaff, Json, Path, Problem};
use crate::domain::Tier;
use crate::domain::{InseeCode, MaxKm};
use crate::jobs::{self, BatchParams, KIND_BATCH, TerritoryParams};
use crate::matching::DEFAULT_MAX_KM;
use crate::matching::territory::communes_of_epci;
use crate::store::{NewJob, UnmatchedFilter};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most communes in one batch's INSEE list.
pub const MAX_COMMUNES: usize = 40_000;
/// Default and largest page size of the result lists.
pub const DEFAULT_PAGE: u64 = 100;
pub const MAX_PAGE: u64 = 1000;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_batch, list_batches))
        .routes(routes!(batch_assignments))
        .routes(routes!(batch_unmatched))
        .routes(routes!(batch_map))
}

/// Where the batch's patients live.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Territory {
    /// INSEE codes of communes (1 to 40,000: every commune of France, overseas included).
    #[schema(value_type = Vec<String>, example = json!(["54395", "54547"]))]
    Insee(Vec<InseeCode>),
    /// The SIREN code (9 digits) of an EPCI: its communes, from the INSEE commune list.
    #[schema(example = "245400676")]
    Epci(String),
}

/// A batch to launch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// `{"insee": [...]}` or `{"epci": "245400676"}`.
    pub territory: Territory,
    /// Limit in km of patients without their own `max_km` (default 10, at most 200).
    #[schema(value_type = Option<f64>, exclusive_minimum = 0.0, maximum = 200.0, example = 10.0)]
    #[serde(default)]
    pub default_max_km: Option<MaxKm>,
    /// A what-if: leave these doctors (RPPS, at most 500) out, as if they retired, and see the
    /// shortfall. Such a batch cannot be committed.
    #[schema(value_type = Option<Vec<String>>)]
    #[serde(default)]
    pub without: Vec<crate::domain::Rpps>,
}

/// Most doctors a what-if leaves out.
pub const MAX_WITHOUT: usize = 500;

/// The matching batches, newest first (their jobs: status, progress, summary).
#[utoipa::path(get, path = "/batches", tag = "batches",
    security(("bearer" = [])),
    params(super::jobs::JobsQuery),
    responses(
        (status = 200, description = "A page of batches, newest first", body = super::jobs::JobsPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a CPAM token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad `status`, `limit` or `offset` (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_batches(
    CpamStaff(caller): CpamStaff,
    State(state): State<AppState>,
    query: Result<
        axum::extract::Query<super::jobs::JobsQuery>,
        axum::extract::rejection::QueryRejection,
    >,
) -> Result<Json<super::jobs::JobsPage>, ApiError> {
    Ok(Json(
        super::jobs::list(&state, &caller, crate::jobs::KIND_BATCH, query).await?,
    ))
}

/// Launches a matching batch over a territory; poll the job at `Location`.
#[utoipa::path(post, path = "/batches", tag = "batches",
    security(("bearer" = [])),
    request_body = BatchRequest,
    responses(
        (status = 202, description = "Queued; `Location: /jobs/{id}`", body = JobView,
            headers(("Location" = String, description = "/jobs/{id}"))),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a CPAM token, or a commune outside its départements (`detail` names the pointer)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid field (`pointer`): an INSEE code, an unknown EPCI, an empty list, max_km", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_batch(
    CpamStaff(caller): CpamStaff,
    State(state): State<AppState>,
    Json(request): Json<BatchRequest>,
) -> Result<Response, ApiError> {
    super::check_max_km("#/default_max_km", request.default_max_km)?;
    if request.without.len() > MAX_WITHOUT {
        return Err(ApiError::invalid_field(
            "#/without",
            format!("at most {MAX_WITHOUT} doctors"),
        ));
    }
    let epci_given = matches!(request.territory, Territory::Epci(_));
    let territory = match request.territory {
        Territory::Insee(codes) => {
            if codes.is_empty() || codes.len() > MAX_COMMUNES {
                return Err(ApiError::invalid_field(
                    "#/territory/insee",
                    format!("expected 1 to {MAX_COMMUNES} INSEE codes"),
                ));
            }
            if let Some((i, code)) = codes
                .iter()
                .enumerate()
                .find(|(_, c)| crate::geo::commune_centroid(c.as_str()).is_none())
            {
                return Err(ApiError::invalid_field(
                    &format!("#/territory/insee/{i}"),
                    format!("{code} is not a commune of the compiled commune list"),
                ));
            }
            let mut communes = codes;
            communes.sort_unstable();
            communes.dedup();
            TerritoryParams {
                communes,
                epci: None,
            }
        }
        Territory::Epci(code) => {
            if code.len() != 9 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::invalid_field(
                    "#/territory/epci",
                    "expected the 9-digit SIREN code of an EPCI",
                ));
            }
            let communes = communes_of_epci(&code).ok_or_else(|| {
                ApiError::invalid_field("#/territory/epci", "no commune belongs to this EPCI")
            })?;
            TerritoryParams {
                communes: communes.to_vec(),
                epci: Some(code),
            }
        }
    };
    let scope = batch_scope(&caller, &territory.communes, epci_given)?;
    let params = BatchParams {
        territory,
        default_max_km: request
            .default_max_km
            .unwrap_or(MaxKm::new(DEFAULT_MAX_KM).expect("the default limit is > 0")),
        without: {
            let mut without = request.without;
            without.sort_unstable();
            without.dedup();
            without
        },
    };
    let id = jobs::new_id();
    let params_json =
        serde_json::to_string(&params).map_err(|e| ApiError::Internal(Box::new(e)))?;
    caller
        .store(&state)
        .enqueue_job(&NewJob {
            id: &id,
            kind: KIND_BATCH,
            params: &params_json,
            created_by: Some(&caller.token_id),
            territory: &scope,
        })
        .await?;
    state.wake_worker.notify_one();
    tracing::info!(job = %id, token = %caller.token_id, communes = params.territory.communes.len(), "batch queued");
    accepted(&state, &id).await
}

/// The territory of a batch over `communes`: the départements they lie in, all of which must be
/// the caller's (403 naming the first commune outside, by its pointer). CPAM staff match the
/// patients of their own départements; the doctors they are matched to may live across a
/// border.
fn batch_scope(
    caller: &super::Caller,
    communes: &[InseeCode],
    epci: bool,
) -> Result<crate::domain::Scope, ApiError> {
    let mut deps = std::collections::BTreeSet::new();
    for (i, c) in communes.iter().enumerate() {
        if !caller.scope.covers_commune(c) {
            let at = if epci {
                "#/territory/epci".to_owned()
            } else {
                format!("#/territory/insee/{i}")
            };
            return Err(ApiError::Forbidden(format!(
                "{at}: commune {c} lies in département {}, outside this token's territory ({})",
                c.departement(),
                caller.scope
            )));
        }
        deps.insert(crate::domain::Territory::Dep(c.departement()));
    }
    Ok(crate::domain::Scope::Within(deps))
}

/// The 202 of a job just enqueued: `Location` and the job.
pub(super) async fn accepted(state: &AppState, id: &str) -> Result<Response, ApiError> {
    let job = state
        .store
        .job(id)
        .await?
        .ok_or_else(|| ApiError::Internal("a job vanished right after its creation".into()))?;
    let location = format!("/jobs/{id}");
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(JobView::from(job)),
    )
        .into_response())
}

/// `limit` and `offset` of a result list. The struct documents them for OpenAPI; they are
/// read by [`Pagination::parse`], whose rejections name the parameter (problem+json).
#[derive(Debug, IntoParams)]
#[allow(dead_code)]
#[into_params(parameter_in = Query)]
pub struct Pagination {
    /// Rows per page, 1 to 1000 (default 100). Ignored with `Accept: text/csv`.
    pub limit: Option<u64>,
    /// Rows skipped, in `patient_id` order (default 0).
    pub offset: Option<u64>,
}

impl Pagination {
    /// Reads `limit` and `offset` from a query string; other parameters are ignored.
    fn parse(query: Option<&str>) -> Result<(u64, u64), ApiError> {
        let (mut limit, mut offset) = (DEFAULT_PAGE, 0);
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "limit" => limit = super::limit_param(value, MAX_PAGE)?,
                "offset" => {
                    offset = value.parse().map_err(|_| {
                        ApiError::invalid_parameter("offset", "expected an integer ≥ 0")
                    })?;
                }
                _ => {}
            }
        }
        Ok((limit, offset))
    }
}

/// One page of a result list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageView<T> {
    pub items: Vec<T>,
    /// Rows in the whole list.
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
    /// The next page, when there is one.
    pub next: Option<String>,
}

/// Filters of `GET /batches/{id}/unmatched`.
#[derive(Debug, IntoParams)]
#[allow(dead_code)]
#[into_params(parameter_in = Query)]
pub struct UnmatchedQuery {
    /// Only this tier: 1 (ALD), 2 (70+ or CSS) or 3.
    pub tier: Option<u8>,
    /// Only this reason: `no_doctor_in_range` or `capacity_exhausted`.
    pub reason: Option<String>,
}

/// `tier` and `reason` of a query string; other parameters are ignored.
fn unmatched_filter(query: Option<&str>) -> Result<UnmatchedFilter, ApiError> {
    let mut filter = UnmatchedFilter::default();
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "tier" => {
                filter.tier = Some(
                    value
                        .parse::<u8>()
                        .ok()
                        .and_then(Tier::from_number)
                        .ok_or_else(|| ApiError::invalid_parameter("tier", "expected 1, 2 or 3"))?,
                );
            }
            "reason" => {
                if !matches!(value.as_ref(), "no_doctor_in_range" | "capacity_exhausted") {
                    return Err(ApiError::invalid_parameter(
                        "reason",
                        "expected no_doctor_in_range or capacity_exhausted",
                    ));
                }
                filter.reason = Some(value.into_owned());
            }
            _ => {}
        }
    }
    Ok(filter)
}

/// One commune of a batch's map.
#[derive(Debug, Serialize, ToSchema)]
pub struct MapCommuneView {
    pub insee: String,
    /// From the compiled commune list (absent for a code it lacks).
    pub name: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// The batch's patients living there.
    pub patients: u64,
    /// Of them, those left without a proposal.
    pub unmatched: u64,
    /// Of the unmatched, those of tier 1 (ALD).
    pub unmatched_tier1: u64,
}

/// One doctor of a batch's map: a GP with capacity, where he practises.
#[derive(Debug, Serialize, ToSchema)]
pub struct MapDoctorView {
    pub rpps: String,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub insee: String,
    /// His places at the batch.
    pub capacity: u64,
    /// The batch's patients assigned to him.
    pub assigned: u64,
}

/// A batch aggregated for a map: by commune, never by patient.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchMapView {
    pub communes: Vec<MapCommuneView>,
    pub doctors: Vec<MapDoctorView>,
}

/// A batch by commune (patients, unmatched) and its doctors with capacity, for its map.
#[utoipa::path(get, path = "/batches/{id}/map", tag = "batches",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The batch's job id")),
    responses(
        (status = 200, description = "The batch's communes and doctors", body = BatchMapView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a CPAM token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such batch in the caller's territory", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The batch has not succeeded (yet)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn batch_map(
    CpamStaff(caller): CpamStaff,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<BatchMapView>, ApiError> {
    let job = job_of_kind(&state, &caller, &id, KIND_BATCH, "batch").await?;
    require_succeeded(&job, "batch")?;
    let map = state.store.batch_map(&id).await?;
    let communes = map
        .communes
        .into_iter()
        .map(|c| {
            let found = crate::geo::commune_by_code(&c.insee);
            MapCommuneView {
                name: found.as_ref().map(|m| m.name.clone()),
                lat: found.as_ref().map(|m| m.coords.lat()),
                lon: found.as_ref().map(|m| m.coords.lon()),
                insee: c.insee,
                patients: c.patients,
                unmatched: c.unmatched,
                unmatched_tier1: c.unmatched_tier1,
            }
        })
        .collect();
    let doctors = map
        .doctors
        .into_iter()
        .map(|d| MapDoctorView {
            rpps: d.rpps,
            name: d.name,
            lat: d.lat,
            lon: d.lon,
            insee: d.insee,
            capacity: d.capacity,
            assigned: d.assigned,
        })
        .collect();
    Ok(Json(BatchMapView { communes, doctors }))
}

/// One line of `assignments.csv`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentView {
    pub patient_id: String,
    pub rpps: String,
    /// Integer metres (FORMATS.md §1).
    pub distance_m: u64,
}

/// One line of `unmatched.csv`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnmatchedView {
    pub patient_id: String,
    /// 1 (ALD), 2 (70+ or CSS), 3.
    pub tier: u8,
    /// `no_doctor_in_range` or `capacity_exhausted`.
    pub reason: String,
    /// The explanation: the nearest doctor with capacity, or the saturated doctors in reach
    /// and the tiers of the patients holding their places.
    pub detail: String,
}

/// Whether the `Accept` header prefers CSV to JSON (q-values honoured); 406 when it refuses both.
fn wants_csv(headers: &HeaderMap) -> Result<bool, ApiError> {
    match super::wire::negotiate(headers, &["application/json", "text/csv"]) {
        Some(chosen) => Ok(chosen == "text/csv"),
        None => Err(ApiError::NotAcceptable("application/json or text/csv")),
    }
}

fn csv_response(header_row: &[&str], rows: Vec<Vec<String>>) -> Result<Response, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header_row)
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    for r in rows {
        w.write_record(&r)
            .map_err(|e| ApiError::Internal(Box::new(e)))?;
    }
    let body = w
        .into_inner()
        .map_err(|e| ApiError::Internal(e.to_string().into()))?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response())
}

fn next_link(path: &str, limit: u64, offset: u64, total: u64) -> Option<String> {
    (offset + limit < total).then(|| format!("{path}?limit={limit}&offset={}", offset + limit))
}

/// The assignments of a batch, by `patient_id`.
#[utoipa::path(get, path = "/batches/{id}/assignments", tag = "batches",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The batch's job id"), Pagination),
    responses(
        (status = 200, description = "A page (JSON), or the whole `assignments.csv` with `Accept: text/csv`", 
            content((PageView<AssignmentView> = "application/json"), (String = "text/csv"))),
        (status = 406, description = "The Accept header refuses both JSON and CSV (q-values are honoured)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a CPAM token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such batch in the caller's territory", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The batch has not succeeded (yet)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid `limit` or `offset` (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn batch_assignments(
    CpamStaff(caller): CpamStaff,
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (limit, offset) = Pagination::parse(query.as_deref())?;
    let job = job_of_kind(&state, &caller, &id, KIND_BATCH, "batch").await?;
    require_succeeded(&job, "batch")?;
    if wants_csv(&headers)? {
        let page = state.store.batch_assignments(&id, u64::MAX, 0).await?;
        let rows = page
            .items
            .into_iter()
            .map(|a| vec![a.patient.into(), a.rpps.into(), a.distance_m.to_string()])
            .collect();
        return csv_response(&["patient_id", "rpps", "distance_m"], rows);
    }
    let page = state.store.batch_assignments(&id, limit, offset).await?;
    Ok(Json(PageView {
        next: next_link(
            &format!("/batches/{id}/assignments"),
            limit,
            offset,
            page.total,
        ),
        items: page
            .items
            .into_iter()
            .map(|a| AssignmentView {
                patient_id: a.patient.into(),
                rpps: a.rpps.into(),
                distance_m: a.distance_m,
            })
            .collect(),
        total: page.total,
        limit,
        offset,
    })
    .into_response())
}

/// The unmatched patients of a batch, with their reasons, by `patient_id`.
#[utoipa::path(get, path = "/batches/{id}/unmatched", tag = "batches",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The batch's job id"), Pagination, UnmatchedQuery),
    responses(
        (status = 200, description = "A page (JSON), or the whole `unmatched.csv` with `Accept: text/csv`, of the patients that pass the filters", 
            content((PageView<UnmatchedView> = "application/json"), (String = "text/csv"))),
        (status = 406, description = "The Accept header refuses both JSON and CSV (q-values are honoured)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a CPAM token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such batch in the caller's territory", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The batch has not succeeded (yet)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid `limit`, `offset`, `tier` or `reason` (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn batch_unmatched(
    CpamStaff(caller): CpamStaff,
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (limit, offset) = Pagination::parse(query.as_deref())?;
    let filter = unmatched_filter(query.as_deref())?;
    let job = job_of_kind(&state, &caller, &id, KIND_BATCH, "batch").await?;
    require_succeeded(&job, "batch")?;
    if wants_csv(&headers)? {
        let page = state
            .store
            .batch_unmatched(&id, &filter, u64::MAX, 0)
            .await?;
        let rows = page
            .items
            .into_iter()
            .map(|u| {
                vec![
                    u.patient.into(),
                    u.tier.number().to_string(),
                    u.reason,
                    u.detail,
                ]
            })
            .collect();
        return csv_response(&["patient_id", "tier", "reason", "detail"], rows);
    }
    let page = state
        .store
        .batch_unmatched(&id, &filter, limit, offset)
        .await?;
    let filters: String = [
        filter.tier.map(|t| format!("tier={}&", t.number())),
        filter.reason.as_ref().map(|r| format!("reason={r}&")),
    ]
    .into_iter()
    .flatten()
    .collect();
    Ok(Json(PageView {
        next: next_link(
            &format!("/batches/{id}/unmatched?{}", filters.trim_end_matches('&')),
            limit,
            offset,
            page.total,
        ),
        items: page
            .items
            .into_iter()
            .map(|u| UnmatchedView {
                patient_id: u.patient.into(),
                tier: u.tier.number(),
                reason: u.reason,
                detail: u.detail,
            })
            .collect(),
        total: page.total,
        limit,
        offset,
    })
    .into_response())
}

//! `GET /jobs/{id}`: the status, progress and, once done, the summary of a long job (a
//! matching batch for CPAM staff, a garde plan for coordinators); `GET /jobs` (and
//! `GET /batches`, `GET /garde/plans`): the caller's kind of jobs, newest first, paged.

use super::wire::rfc3339;
use super::{ApiError, AppState, Caller, Json, Path, Problem};
use crate::domain::Role;
use crate::jobs::{KIND_BATCH, KIND_GARDE_PLAN};
use crate::store::{JobRecord, JobStatus};
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_job))
        .routes(routes!(list_jobs))
}

/// The query of a job list: `status`, `limit` (1–500, default 50), `offset`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: Option<String>,
    /// 1 to 500 (default 50).
    pub limit: Option<String>,
    /// Jobs to skip (default 0).
    pub offset: Option<String>,
}

/// A page of jobs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobsPage {
    pub items: Vec<JobView>,
    pub limit: u64,
    pub offset: u64,
    /// The next page's `offset`; null on the last page.
    pub next: Option<u64>,
}

/// The jobs of `kind`, filtered and paged by `query`.
///
/// # Errors
/// 422 naming a bad parameter; 503 when the database does not answer.
pub(super) async fn list(
    state: &AppState,
    caller: &Caller,
    kind: &str,
    query: Result<axum::extract::Query<JobsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<JobsPage, ApiError> {
    let axum::extract::Query(q) =
        query.map_err(|e| ApiError::invalid_parameter("query", e.body_text()))?;
    let status = match q.status.as_deref() {
        None => None,
        Some("queued") => Some(JobStatus::Queued),
        Some("running") => Some(JobStatus::Running),
        Some("succeeded") => Some(JobStatus::Succeeded),
        Some("failed") => Some(JobStatus::Failed),
        Some(_) => {
            return Err(ApiError::invalid_parameter(
                "status",
                "expected queued, running, succeeded or failed",
            ));
        }
    };
    let limit = match q.limit.as_deref() {
        None => 50,
        Some(raw) => super::limit_param(raw, 500)?,
    };
    let offset = super::offset_param(q.offset.as_deref())?;
    let rows = state
        .store
        .jobs(kind, &caller.scope, status, limit + 1, offset)
        .await?;
    let more = rows.len() as u64 > limit;
    let items: Vec<JobView> = rows
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(JobView::from)
        .collect();
    Ok(JobsPage {
        next: more.then_some(offset + limit),
        items,
        limit,
        offset,
    })
}

/// The caller's jobs, newest first: matching batches for CPAM staff, garde plans for
/// coordinators.
#[utoipa::path(get, path = "/jobs", tag = "jobs",
    security(("bearer" = [])),
    params(JobsQuery),
    responses(
        (status = 200, description = "A page of jobs, newest first", body = JobsPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a CPAM or coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad `status`, `limit` or `offset` (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_jobs(
    caller: Caller,
    State(state): State<AppState>,
    query: Result<axum::extract::Query<JobsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<JobsPage>, ApiError> {
    caller.require(&[Role::Cpam, Role::Coordinateur])?;
    let kind = if caller.role == Role::Cpam {
        KIND_BATCH
    } else {
        KIND_GARDE_PLAN
    };
    Ok(Json(list(&state, &caller, kind, query).await?))
}

/// A job as its caller sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    /// `matching_batch` or `garde_plan`.
    #[schema(example = "matching_batch")]
    pub kind: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    #[schema(example = "running")]
    pub status: String,
    /// Fraction done, 0 to 1.
    pub progress: f64,
    /// What the job is doing (`loading`, `candidates`, `flow`, `explain`, `schedule`,
    /// `saving`, `done`…).
    pub stage: String,
    /// RFC 3339, UTC.
    pub created_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The summary once succeeded: for a batch, the objective vector (`objective.matched`
    /// per tier, `objective.metres`), counts per tier and per reason; for a garde plan, the
    /// objective (filled, Σ load², metres), counts and unfilled positions per reason.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// Where its results are.
    pub links: Links,
}

/// Related resources.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Links {
    #[serde(rename = "self")]
    pub this: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignments: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmatched: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unfilled: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish: Option<String>,
}

/// The links of a job of `kind`.
pub(super) fn links(id: &str, kind: &str) -> Links {
    let mut l = Links {
        this: format!("/jobs/{id}"),
        ..Links::default()
    };
    match kind {
        KIND_BATCH => {
            l.assignments = Some(format!("/batches/{id}/assignments"));
            l.unmatched = Some(format!("/batches/{id}/unmatched"));
        }
        KIND_GARDE_PLAN => {
            l.roster = Some(format!("/garde/plans/{id}/roster"));
            l.unfilled = Some(format!("/garde/plans/{id}/unfilled"));
            l.publish = Some(format!("/garde/plans/{id}/publish"));
        }
        _ => {}
    }
    l
}

impl From<JobRecord> for JobView {
    fn from(j: JobRecord) -> Self {
        Self {
            links: links(&j.id, &j.kind),
            status: j.status.as_str().to_owned(),
            progress: j.progress,
            stage: j.stage,
            created_at: rfc3339(j.created_at),
            started_at: j.started_at.and_then(rfc3339),
            finished_at: j.finished_at.and_then(rfc3339),
            result: j
                .result
                .filter(|_| j.status == JobStatus::Succeeded)
                .and_then(|r| serde_json::from_str(&r).ok()),
            error: j.error,
            id: j.id,
            kind: j.kind,
        }
    }
}

/// The role that may read jobs of `kind`.
pub(super) fn role_of(kind: &str) -> Option<Role> {
    match kind {
        KIND_BATCH => Some(Role::Cpam),
        KIND_GARDE_PLAN => Some(Role::Coordinateur),
        _ => None,
    }
}

/// The job `id` of `kind`, for a caller who already has `kind`'s role: 404 when no such job
/// (of this kind), or when it was launched on a territory outside the caller's scope.
pub(super) async fn job_of_kind(
    state: &AppState,
    caller: &Caller,
    id: &str,
    kind: &str,
    what: &str,
) -> Result<JobRecord, ApiError> {
    state
        .store
        .job(id)
        .await?
        .filter(|j| j.kind == kind && in_scope(caller, j))
        .ok_or_else(|| ApiError::NotFound(format!("no {what} with this id")))
}

/// True when the job's territory lies within the caller's scope.
fn in_scope(caller: &Caller, job: &JobRecord) -> bool {
    job.territory
        .parse::<crate::domain::Scope>()
        .is_ok_and(|t| caller.scope.covers(&t))
}

/// 409 unless the job has succeeded.
pub(super) fn require_succeeded(job: &JobRecord, what: &str) -> Result<(), ApiError> {
    match job.status {
        JobStatus::Succeeded => Ok(()),
        JobStatus::Queued | JobStatus::Running => Err(ApiError::Conflict(format!(
            "the {what} is not finished yet; see /jobs/{}",
            job.id
        ))),
        JobStatus::Failed => Err(ApiError::Conflict(format!(
            "the {what} failed; see /jobs/{}",
            job.id
        ))),
    }
}

/// A job: CPAM staff read batches, coordinators garde plans.
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The job's id (from the `Location` of a 202)")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a CPAM or coordinator token, or another role's job", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job in the caller's territory", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_job(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    caller.require(&[Role::Cpam, Role::Coordinateur])?;
    let job = state
        .store
        .job(&id)
        .await?
        .filter(|j| in_scope(&caller, j))
        .ok_or_else(|| ApiError::NotFound("no job with this id".to_owned()))?;
    if let Some(role) = role_of(&job.kind) {
        caller.require(&[role])?;
    }
    Ok(Json(job.into()))
}

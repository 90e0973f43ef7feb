//! CPAM imports: `patients.csv` and `doctors.csv` (FORMATS.md §2) as `text/csv` bodies.
//!
//! The same readers as `cpts match` (`crate::import`): a file with any error is refused whole
//! (422, every error listed with its line, column and field; never a patient's cell value) and
//! nothing is stored. An accepted file is stored in one transaction, upserted by id, so
//! sending it twice changes nothing the second time.

use super::auth::Coordinated::{All, Within};
use super::{ApiError, AppState, CpamStaff, FieldError, Json, Problem};
use crate::import;
use crate::store::ImportCounts;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequest, Request, State};
use axum::http::header;
use serde::Serialize;
use std::io::{self, Read};
use std::pin::Pin;
use tokio::sync::mpsc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest CSV body by default (`--max-import-bytes`): about 1.2 million patient rows.
pub const IMPORT_LIMIT: usize = 64 * 1024 * 1024;

/// Longest an import may take by default (`--import-timeout-seconds`).
pub const IMPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_patients))
        .routes(routes!(import_doctors))
        .routes(routes!(import_garde_doctors))
        .routes(routes!(import_availability))
        .routes(routes!(erase_patient))
}

/// A `text/csv` body (415 otherwise), not read yet: [`parse`] streams it into the CSV reader,
/// so a file is never held whole in memory.
pub struct Csv(pub Body);

impl<S: Send + Sync> FromRequest<S> for Csv {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let is_csv = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|e| e.trim().eq_ignore_ascii_case("text/csv"));
        if !is_csv {
            return Err(ApiError::UnsupportedMediaType("text/csv"));
        }
        Ok(Csv(req.into_body()))
    }
}

/// Frames of the body in flight between the request and the blocking CSV reader.
const FRAMES_IN_FLIGHT: usize = 16;

/// The blocking side of the stream: a [`Read`] over the frames the request task sends.
struct FrameReader {
    frames: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for FrameReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.frames.blocking_recv() {
                Some(frame) => self.current = frame?,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// Why the body stopped before its end.
enum BodyFault {
    TooLarge,
    Unreadable,
}

/// Streams `body` into `read` on a blocking thread, at most `limit` bytes (413 beyond); a
/// refused file is a 422 listing its errors. Only the parsed rows are kept in memory.
async fn parse<T: Send + 'static>(
    body: Body,
    limit: usize,
    file: &'static str,
    read: impl FnOnce(FrameReader, &str) -> Result<Vec<T>, import::Error> + Send + 'static,
) -> Result<Vec<T>, ApiError> {
    let (tx, rx) = mpsc::channel(FRAMES_IN_FLIGHT);
    let reader = FrameReader {
        frames: rx,
        current: Bytes::new(),
    };
    let parsing = tokio::task::spawn_blocking(move || read(reader, file));
    let mut body = body;
    let mut seen = 0usize;
    let mut fault = None;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = match frame.map(|f| f.into_data()) {
            Ok(Ok(data)) => data,
            Ok(Err(_trailers)) => continue,
            Err(_) => {
                fault = Some(BodyFault::Unreadable);
                break;
            }
        };
        seen = seen.saturating_add(frame.len());
        if seen > limit {
            fault = Some(BodyFault::TooLarge);
            break;
        }
        if tx.send(Ok(frame)).await.is_err() {
            break; // the reader stopped early (it reads no further than it must)
        }
    }
    if fault.is_some() {
        // The reader must not take a cut body for a whole one.
        let _ = tx
            .send(Err(io::Error::other("the body stopped before its end")))
            .await;
    }
    drop(tx);
    let parsed = parsing.await.map_err(|e| ApiError::Internal(Box::new(e)))?;
    match fault {
        Some(BodyFault::TooLarge) => return Err(ApiError::PayloadTooLarge),
        Some(BodyFault::Unreadable) => {
            return Err(ApiError::Malformed(
                "the CSV body cannot be read".to_owned(),
            ));
        }
        None => {}
    }
    parsed.map_err(|e| match e {
        import::Error::Invalid(errors) => ApiError::InvalidCsv {
            file: file.to_owned(),
            found: errors.found(),
            errors: errors.into_iter().map(FieldError::from).collect(),
        },
        import::Error::Io { .. } => ApiError::Malformed("the CSV body cannot be read".to_owned()),
    })
}

/// What an accepted import stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    /// `patients.csv`, `doctors.csv` or `garde_doctors.csv`.
    #[schema(example = "patients.csv")]
    pub file: &'static str,
    /// Rows in the file.
    pub rows: u64,
    /// Ids new to the service.
    pub inserted: u64,
    /// Ids already stored, replaced by the file's values.
    pub updated: u64,
    /// `doctors.csv` only: doctors whose own declared capacity and max_km stood over the
    /// file's values (issue 17).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_declared: Option<u64>,
}

impl ImportReport {
    fn new(file: &'static str, rows: usize, c: ImportCounts) -> Self {
        Self {
            file,
            rows: rows as u64,
            inserted: c.inserted,
            updated: c.updated,
            kept_declared: (file == "doctors.csv").then_some(c.kept_declared),
        }
    }
}

/// Imports orphan patients (FORMATS.md §2 `patients.csv`), upserted by `patient_id`.
#[utoipa::path(post, path = "/imports/patients", tag = "imports",
    security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv",
        description = "patients.csv: patient_id,lat,lon,insee,age,ald,css[,max_km]"),
    responses(
        (status = 200, description = "Stored, all rows in one transaction", body = ImportReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a CPAM token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 64 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not text/csv", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused whole; `errors[]` with line, column and field (a commune outside the token's départements is one)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn import_patients(
    CpamStaff(caller): CpamStaff,
    State(state): State<AppState>,
    Csv(body): Csv,
) -> Result<Json<ImportReport>, ApiError> {
    let scope = caller.scope.clone();
    let patients = parse(
        body,
        state.limits.import_bytes,
        "patients.csv",
        move |r, file| import::read_patients_within(r, file, &scope),
    )
    .await?;
    let counts = caller.store(&state).import_patients(&patients).await?;
    tracing::info!(
        token = %caller.token_id,
        rows = patients.len(),
        inserted = counts.inserted,
        updated = counts.updated,
        "patients imported"
    );
    Ok(Json(ImportReport::new(
        "patients.csv",
        patients.len(),
        counts,
    )))
}

/// Imports GPs (FORMATS.md §2 `doctors.csv`), upserted by `rpps`; the file's capacity
/// replaces any declared one.
#[utoipa::path(post, path = "/imports/doctors", tag = "imports",
    security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv",
        description = "doctors.csv: rpps,name,lat,lon,insee,capacity[,max_km]"),
    responses(
        (status = 200, description = "Stored, all rows in one transaction", body = ImportReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a CPAM token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 64 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not text/csv", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused whole; `errors[]` with line, column and field (a commune outside the token's départements is one)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn import_doctors(
    CpamStaff(caller): CpamStaff,
    State(state): State<AppState>,
    Csv(body): Csv,
) -> Result<Json<ImportReport>, ApiError> {
    let scope = caller.scope.clone();
    let doctors = parse(
        body,
        state.limits.import_bytes,
        "doctors.csv",
        move |r, file| import::read_doctors_within(r, file, &scope),
    )
    .await?;
    let counts = caller.store(&state).import_doctors(&doctors).await?;
    tracing::info!(
        token = %caller.token_id,
        rows = doctors.len(),
        inserted = counts.inserted,
        updated = counts.updated,
        "doctors imported"
    );
    Ok(Json(ImportReport::new(
        "doctors.csv",
        doctors.len(),
        counts,
    )))
}

/// Imports garde doctors (FORMATS.md §3 `doctors.csv`: `rpps,name,lat,lon,insee,max_shifts,max_km`,
/// no `capacity`): new doctors are stored with their garde limits, known ones get the file's
/// `max_shifts` and `max_km`. All or nothing.
#[utoipa::path(post, path = "/imports/garde-doctors", tag = "imports",
    security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv",
        description = "doctors.csv (garde): rpps,name,lat,lon,insee,max_shifts,max_km"),
    responses(
        (status = 200, description = "Stored, all rows in one transaction", body = ImportReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 64 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not text/csv", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused whole; `errors[]` with line, column and field (a commune outside the départements of the coordinator's CPTS is one)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn import_garde_doctors(
    super::Coordinateur(caller): super::Coordinateur,
    State(state): State<AppState>,
    Csv(body): Csv,
) -> Result<Json<ImportReport>, ApiError> {
    let deps = super::auth::coordinator_departements(&state, &caller).await?;
    let doctors = parse(
        body,
        state.limits.import_bytes,
        "garde_doctors.csv",
        move |r, file| {
            import::garde::read_garde_doctors_from(r, file, &|insee| match &deps {
                Within(deps) if !deps.contains(&insee.departement()) => Err(format!(
                    "département {} is outside the départements of this coordinator's CPTS",
                    insee.departement()
                )),
                _ => Ok(()),
            })
        },
    )
    .await?;
    let rows: Vec<crate::store::GardeDoctorImport> = doctors
        .into_iter()
        .map(|d| crate::store::GardeDoctorImport {
            rpps: d.rpps,
            name: d.name,
            coords: d.coords,
            insee: d.insee,
            max_shifts: d.max_shifts,
            max_km: d.max_km.km(),
        })
        .collect();
    let counts = caller.store(&state).import_garde_doctors(&rows).await?;
    tracing::info!(
        token = %caller.token_id,
        rows = rows.len(),
        inserted = counts.inserted,
        updated = counts.updated,
        "garde doctors imported"
    );
    Ok(Json(ImportReport::new(
        "garde_doctors.csv",
        rows.len(),
        counts,
    )))
}

/// What an availability import stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityImportReport {
    #[schema(example = "availability.csv")]
    pub file: &'static str,
    /// Rows in the file.
    pub rows: u64,
    /// Windows stored.
    pub inserted: u64,
    /// Windows the doctor had declared already (identical and standing): kept as they were.
    pub already_declared: u64,
}

/// Imports garde availability windows (FORMATS.md §3 `availability.csv`: `rpps,start,end`) of
/// stored doctors of the coordinator's territory, on their behalf. All or nothing; a window
/// already declared is kept as it was.
#[utoipa::path(post, path = "/imports/availability", tag = "imports",
    security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv",
        description = "availability.csv: rpps,start,end (ISO 8601; without an offset, Europe/Paris wall time)"),
    responses(
        (status = 200, description = "Stored, all rows in one transaction", body = AvailabilityImportReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 64 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not text/csv", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused whole; `errors[]` with line, column and field: an RPPS that is not a stored doctor of the coordinator's territory, a bad date-time, overlapping windows of one doctor", body = Problem, content_type = "application/problem+json"),
    ))]
async fn import_availability(
    super::Coordinateur(caller): super::Coordinateur,
    State(state): State<AppState>,
    Csv(body): Csv,
) -> Result<Json<AvailabilityImportReport>, ApiError> {
    let deps = super::auth::coordinator_departements(&state, &caller).await?;
    let places = state.store.doctor_places().await?;
    let known: std::collections::HashSet<crate::domain::Rpps> = places
        .into_iter()
        .filter(|(_, insee)| match &deps {
            All => true,
            Within(d) => d.contains(&insee.departement()),
        })
        .map(|(rpps, _)| rpps)
        .collect();
    let windows = parse(
        body,
        state.limits.import_bytes,
        "availability.csv",
        move |r, file| import::garde::read_windows_from(r, file, &|rpps| known.contains(rpps)),
    )
    .await?;
    let rows: Vec<(crate::domain::Rpps, i64, i64)> = windows
        .into_iter()
        .map(|(r, w)| (r, w.start.timestamp(), w.end.timestamp()))
        .collect();
    let counts = caller.store(&state).import_windows(&rows).await?;
    tracing::info!(
        token = %caller.token_id,
        rows = rows.len(),
        inserted = counts.inserted,
        "availability imported"
    );
    Ok(Json(AvailabilityImportReport {
        file: "availability.csv",
        rows: rows.len() as u64,
        inserted: counts.inserted,
        already_declared: counts.already_declared,
    }))
}

/// What erasing a patient removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Erased {
    /// 1 when the patient was on the list of orphans.
    pub patients: u64,
    /// Batch results naming it, as assigned and as unmatched.
    pub batch_assignments: u64,
    pub batch_unmatched: u64,
    /// Its proposals to GPs, whatever their state.
    pub proposals: u64,
}

/// Erases a patient (the right to erasure, RGPD art. 17): its row, every batch result and
/// batch instance row naming it, and its proposals are purged; the audit trail keeps the counts, never the id.
#[utoipa::path(delete, path = "/patients/{patient_id}", tag = "imports",
    security(("bearer" = [])),
    params(("patient_id" = String, Path, description = "The pseudonymous patient id")),
    responses(
        (status = 200, description = "Erased; what was removed", body = Erased),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a CPAM token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Nothing names this patient in the caller's départements", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a patient id (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn erase_patient(
    CpamStaff(caller): CpamStaff,
    State(state): State<AppState>,
    super::Path(raw): super::Path<String>,
) -> Result<Json<Erased>, ApiError> {
    let id: crate::domain::PatientId = super::parse_param("patient_id", &raw)?;
    let [patients, batch_assignments, batch_unmatched, proposals] = caller
        .store(&state)
        .erase_patient(&id, &caller.scope)
        .await?
        .ok_or_else(|| ApiError::NotFound("no patient with this id".to_owned()))?;
    // Never the id in the log (health data): counts only.
    tracing::info!(
        batch_assignments,
        batch_unmatched,
        proposals,
        "patient erased"
    );
    Ok(Json(Erased {
        patients,
        batch_assignments,
        batch_unmatched,
        proposals,
    }))
}

//! CPAM imports: `patients.csv` and `doctors.csv` (FORMATS.md §2) as `text/csv` bodies.
//!
//! The same readers as `cpts match` (`crate::import`): a file with any error is refused whole
//! (422, every error listed with its line, column and field; never a patient's cell value) and
//! nothing is stored. An accepted file is stored in one transaction, upserted by id, so
//! sending it twice changes nothing the second time.

use super::{ApiError, AppState, CpamStaff, FieldError, Json, Problem};
use crate::import::{self, ImportError};
use crate::store::ImportCounts;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::header;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest CSV body: about 1.2 million patient rows.
pub const IMPORT_LIMIT: usize = 64 * 1024 * 1024;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_patients))
        .routes(routes!(import_doctors))
        .layer(DefaultBodyLimit::max(IMPORT_LIMIT))
}

/// A `text/csv` body (415 otherwise; 413 beyond [`IMPORT_LIMIT`]).
pub struct Csv(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Csv {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_csv = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|e| e.trim().eq_ignore_ascii_case("text/csv"));
        if !is_csv {
            return Err(ApiError::UnsupportedMediaType("text/csv"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::Malformed(rejection.body_text())
            }
        })?;
        Ok(Csv(bytes))
    }
}

/// What an accepted import stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    /// `patients.csv` or `doctors.csv`.
    #[schema(example = "patients.csv")]
    pub file: &'static str,
    /// Rows in the file.
    pub rows: u64,
    /// Ids new to the service.
    pub inserted: u64,
    /// Ids already stored, replaced by the file's values.
    pub updated: u64,
}

impl ImportReport {
    fn new(file: &'static str, rows: usize, c: ImportCounts) -> Self {
        Self {
            file,
            rows: rows as u64,
            inserted: c.inserted,
            updated: c.updated,
        }
    }
}

/// Parses `bytes` with `read` on a blocking thread; a refused file is a 422 listing its errors.
async fn parse<T: Send + 'static>(
    bytes: Bytes,
    file: &'static str,
    read: fn(&[u8], &str) -> Result<Vec<T>, ImportError>,
) -> Result<Vec<T>, ApiError> {
    let parsed = tokio::task::spawn_blocking(move || read(&bytes, file))
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    parsed.map_err(|e| match e {
        ImportError::Invalid(errors) => ApiError::InvalidCsv {
            file: file.to_owned(),
            found: errors.found(),
            errors: errors.into_iter().map(FieldError::from).collect(),
        },
        ImportError::Io { .. } => ApiError::Malformed("the CSV body cannot be read".to_owned()),
    })
}

fn read_patients(b: &[u8], file: &str) -> Result<Vec<crate::domain::Patient>, ImportError> {
    import::read_patients_from(b, file)
}

fn read_doctors(b: &[u8], file: &str) -> Result<Vec<crate::domain::Doctor>, ImportError> {
    import::read_doctors_from(b, file)
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
        (status = 422, description = "Refused whole; `errors[]` with line, column and field", body = Problem, content_type = "application/problem+json"),
    ))]
async fn import_patients(
    CpamStaff(caller): CpamStaff,
    State(state): State<AppState>,
    Csv(bytes): Csv,
) -> Result<Json<ImportReport>, ApiError> {
    let patients = parse(bytes, "patients.csv", read_patients).await?;
    let counts = state.store.import_patients(&patients).await?;
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
        (status = 422, description = "Refused whole; `errors[]` with line, column and field", body = Problem, content_type = "application/problem+json"),
    ))]
async fn import_doctors(
    CpamStaff(caller): CpamStaff,
    State(state): State<AppState>,
    Csv(bytes): Csv,
) -> Result<Json<ImportReport>, ApiError> {
    let doctors = parse(bytes, "doctors.csv", read_doctors).await?;
    let counts = state.store.import_doctors(&doctors).await?;
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

//! The `patients` table: orphan patients as imported by the CPAM (FORMATS.md §2), and the
//! doctors' import with its counts (both are CSV imports: all rows or none, upsert by id).

use super::staging::Stage;
use super::{
    AuditEntry, Error, NULLABLE_FLOAT, Store, append_audit_in, float_or_absent, now,
    templated_values_clause, values_clause,
};
use crate::domain::{InseeCode, MatchingDoctor, MaxKm, Patient, PatientId};
use crate::geo::Coordinates;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// Rows per multi-row statement: 500 × 9 columns stays far below both databases' limits on
/// bound parameters (SQLite 32,766; PostgreSQL 65,535).
const CHUNK: usize = 500;

/// Placeholder templates of a patient row and of a doctor row.
const PATIENT_ROW: [&str; 9] = [
    "{}",
    "{}",
    "{}",
    "{}",
    "{}",
    "{}",
    "{}",
    NULLABLE_FLOAT,
    "{}",
];
const DOCTOR_ROW: [&str; 11] = [
    "{}",
    "{}",
    "{}",
    "{}",
    "{}",
    "{}",
    NULLABLE_FLOAT,
    "{}",
    "{}",
    NULLABLE_FLOAT,
    "{}",
];

/// What an import changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// Ids that were not stored before.
    pub inserted: u64,
    /// Ids already stored, whose row was replaced.
    pub updated: u64,
    /// Doctors whose own declaration (capacity, max_km) was kept over the file's values.
    pub kept_declared: u64,
}

/// A garde doctor of a coordinator's bulk import (FORMATS.md §3 `doctors.csv`).
#[derive(Clone, Debug, PartialEq)]
pub struct GardeDoctorImport {
    pub rpps: crate::domain::Rpps,
    pub name: String,
    pub coords: Coordinates,
    pub insee: InseeCode,
    pub max_shifts: u32,
    pub max_km: f64,
}

/// What an availability import stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowCounts {
    /// Windows stored.
    pub inserted: u64,
    /// Windows the doctor had declared already (identical and standing): kept as they were.
    pub already_declared: u64,
}

impl TryFrom<AnyRow> for Patient {
    type Error = Error;
    fn try_from(row: AnyRow) -> Result<Self, Error> {
        let id: String = row.try_get("patient_id")?;
        let insee: String = row.try_get("insee")?;
        let age: i64 = row.try_get("age")?;
        let ald: i64 = row.try_get("ald")?;
        let css: i64 = row.try_get("css")?;
        let max_km: Option<f64> = row.try_get("max_km")?;
        Ok(Patient {
            id: id
                .parse()
                .map_err(|_| Error::Corrupt("patients.patient_id"))?,
            coords: Coordinates::new(row.try_get("lat")?, row.try_get("lon")?)
                .map_err(|_| Error::Corrupt("patients.lat/lon"))?,
            insee: insee
                .parse()
                .map_err(|_| Error::Corrupt("patients.insee"))?,
            age: u8::try_from(age)
                .ok()
                .filter(|a| *a <= 130)
                .ok_or(Error::Corrupt("patients.age"))?,
            ald: ald == 1,
            css: css == 1,
            max_km: max_km
                .map(MaxKm::new)
                .transpose()
                .map_err(|_| Error::Corrupt("patients.max_km"))?,
        })
    }
}

/// How many of `ids` are already in `table` (`key` column), inside `tx`.
async fn count_existing(
    tx: &mut Transaction<'_, Any>,
    table: &str,
    key: &str,
    ids: &[&str],
    and: &str,
) -> Result<u64, Error> {
    let mut existing = 0u64;
    for chunk in ids.chunks(CHUNK) {
        let list = values_clause(chunk.len(), 1, 1).replace(['(', ')'], "");
        let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {key} IN ({list}){and}");
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(*id);
        }
        let n: i64 = q.fetch_one(&mut **tx).await?.try_get("n")?;
        existing += u64::try_from(n).unwrap_or(0);
    }
    Ok(existing)
}

/// How many rows of the staging table `stage` already have their `key` in `table`.
async fn count_staged(
    tx: &mut Transaction<'_, Any>,
    stage: &str,
    table: &str,
    key: &str,
) -> Result<u64, Error> {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM {stage} s WHERE EXISTS \
         (SELECT 1 FROM {table} t WHERE t.{key} = s.{key})"
    );
    let n: i64 = sqlx::query(&sql).fetch_one(&mut **tx).await?.try_get("n")?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The audit row of an import: counts only, never an id of the file.
fn import_entry(action: &'static str, kind: &'static str, c: ImportCounts) -> AuditEntry {
    let mut detail = serde_json::json!({
        "rows": c.inserted + c.updated,
        "inserted": c.inserted,
        "updated": c.updated,
    });
    if kind == "doctors" {
        detail["kept_declared"] = c.kept_declared.into();
    }
    AuditEntry::new(action, kind, None).with_detail(detail)
}

fn counts(total: usize, existing: u64) -> ImportCounts {
    ImportCounts {
        inserted: total as u64 - existing,
        updated: existing,
        kept_declared: 0,
    }
}

impl Store {
    /// Inserts or replaces patients by `patient_id`, all or none: staged, then merged in one
    /// short transaction ([`super::staging`]).
    ///
    /// # Errors
    /// [`Error::Unavailable`]; nothing is written on any error.
    pub async fn import_patients(&self, patients: &[Patient]) -> Result<ImportCounts, Error> {
        let mut stage = Stage::new(
            self,
            "stage_patients",
            "SELECT patient_id, lat, lon, insee, age, ald, css, max_km, updated_at \
             FROM patients WHERE 1 = 0",
        )
        .await?;
        let done = self.stage_and_merge_patients(&mut stage, patients).await;
        stage.finish().await;
        done
    }

    async fn stage_and_merge_patients(
        &self,
        stage: &mut Stage,
        patients: &[Patient],
    ) -> Result<ImportCounts, Error> {
        tracing::info!(kind = "patients", rows = patients.len(), "import staging");
        let at = now();
        for chunk in patients.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO stage_patients (patient_id, lat, lon, insee, age, ald, css, max_km, \
                 updated_at) VALUES {}",
                templated_values_clause(chunk.len(), &PATIENT_ROW, 1)
            );
            let mut q = sqlx::query(&sql);
            for p in chunk {
                q = q
                    .bind(p.id.as_str())
                    .bind(p.coords.lat())
                    .bind(p.coords.lon())
                    .bind(p.insee.as_str())
                    .bind(i64::from(p.age))
                    .bind(i64::from(p.ald))
                    .bind(i64::from(p.css))
                    .bind(float_or_absent(p.max_km.map(MaxKm::km)))
                    .bind(at);
            }
            q.execute(&mut **stage.conn()).await?;
        }
        // Counts only: the log never names a patient or a doctor.
        tracing::info!(
            kind = "patients",
            rows = patients.len(),
            "import staged; merging"
        );
        let began = std::time::Instant::now();
        let mut tx = stage.begin().await?;
        let existing = count_staged(&mut tx, "stage_patients", "patients", "patient_id").await?;
        sqlx::query(
            "INSERT INTO patients (patient_id, lat, lon, insee, age, ald, css, max_km, \
             updated_at) SELECT patient_id, lat, lon, insee, age, ald, css, max_km, updated_at \
             FROM stage_patients WHERE true \
             ON CONFLICT (patient_id) DO UPDATE SET lat = excluded.lat, \
             lon = excluded.lon, insee = excluded.insee, age = excluded.age, \
             ald = excluded.ald, css = excluded.css, max_km = excluded.max_km, \
             updated_at = excluded.updated_at, left_at = NULL",
        )
        .execute(&mut *tx)
        .await?;
        let done = counts(patients.len(), existing);
        append_audit_in(
            &mut tx,
            self.actor(),
            &import_entry("patients.import", "patients", done),
        )
        .await?;
        tx.commit().await?;
        crate::metrics::import_merged("patients", began.elapsed());
        Ok(done)
    }

    /// Every stored doctor's RPPS and commune.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn doctor_places(&self) -> Result<Vec<(crate::domain::Rpps, InseeCode)>, Error> {
        let rows = sqlx::query("SELECT rpps, insee FROM doctors")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let rpps: String = row.try_get("rpps")?;
                let insee: String = row.try_get("insee")?;
                Ok((
                    rpps.parse().map_err(|_| Error::Corrupt("doctors.rpps"))?,
                    insee.parse().map_err(|_| Error::Corrupt("doctors.insee"))?,
                ))
            })
            .collect()
    }

    /// Inserts garde doctors, or updates them by RPPS, from a coordinator's import, all or
    /// none (one transaction). A new doctor gets its name, place and garde limits, and no
    /// matching capacity (0: the CPAM's imports and the GP set it). A stored one keeps its
    /// name, place and capacity, and gets the file's garde limits (`max_shifts`, `max_km`).
    ///
    /// # Errors
    /// [`Error::Unavailable`]; nothing is written on any error.
    pub async fn import_garde_doctors(
        &self,
        doctors: &[GardeDoctorImport],
    ) -> Result<ImportCounts, Error> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let ids: Vec<&str> = doctors.iter().map(|d| d.rpps.as_str()).collect();
        let existing = count_existing(&mut tx, "doctors", "rpps", &ids, "").await?;
        for chunk in doctors.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO doctors (rpps, name, lat, lon, insee, max_shifts, garde_max_km, \
                 updated_at) VALUES {} \
                 ON CONFLICT (rpps) DO UPDATE SET max_shifts = excluded.max_shifts, \
                 garde_max_km = excluded.garde_max_km, updated_at = excluded.updated_at",
                values_clause(chunk.len(), 8, 1)
            );
            let mut q = sqlx::query(&sql);
            for d in chunk {
                q = q
                    .bind(d.rpps.as_str())
                    .bind(&d.name)
                    .bind(d.coords.lat())
                    .bind(d.coords.lon())
                    .bind(d.insee.as_str())
                    .bind(i64::from(d.max_shifts))
                    .bind(d.max_km)
                    .bind(at);
            }
            q.execute(&mut *tx).await?;
        }
        let done = counts(doctors.len(), existing);
        append_audit_in(
            &mut tx,
            self.actor(),
            &import_entry("garde_doctors.import", "garde_doctors", done),
        )
        .await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Stores availability windows `(rpps, start, end)` (Unix seconds) of a coordinator's
    /// import, all or none. A window the doctor already declared (identical and standing) is
    /// kept as it was: the unique index decides, no check first. Every RPPS must be stored.
    ///
    /// # Errors
    /// [`Error::Unavailable`]; [`Error::Other`] for an unknown RPPS (foreign key; the caller
    /// checks first, for its message); nothing is written on any error.
    pub async fn import_windows(
        &self,
        windows: &[(crate::domain::Rpps, i64, i64)],
    ) -> Result<WindowCounts, Error> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let mut inserted = 0u64;
        for chunk in windows.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO availability (id, rpps, start_at, end_at, created_at) VALUES {} \
                 ON CONFLICT DO NOTHING",
                values_clause(chunk.len(), 5, 1)
            );
            let mut q = sqlx::query(&sql);
            for (rpps, start, end) in chunk {
                q = q
                    .bind(super::random_id())
                    .bind(rpps.as_str())
                    .bind(*start)
                    .bind(*end)
                    .bind(at);
            }
            inserted += q.execute(&mut *tx).await?.rows_affected();
        }
        let done = WindowCounts {
            inserted,
            already_declared: windows.len() as u64 - inserted,
        };
        let entry = AuditEntry::new("availability.import", "availability", None).with_detail(
            serde_json::json!({ "rows": windows.len(), "inserted": done.inserted,
                                "already_declared": done.already_declared }),
        );
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Inserts or replaces doctors by RPPS from a CPAM import, all or none. The file's
    /// columns replace the stored ones, except `capacity` and `max_km` where the GP declared
    /// his own through the API (issue 17): those stand, and the file's values are kept beside
    /// them (`imported_capacity`, `imported_max_km`, `imported_at`); the counts say how many
    /// rows kept the GP's values. The garde columns (`max_shifts`, `garde_max_km`), which the
    /// file does not have, are kept.
    ///
    /// # Errors
    /// [`Error::Unavailable`]; nothing is written on any error.
    pub async fn import_doctors(&self, doctors: &[MatchingDoctor]) -> Result<ImportCounts, Error> {
        let mut stage = Stage::new(
            self,
            "stage_doctors",
            "SELECT rpps, name, lat, lon, insee, capacity, max_km, updated_at, \
             imported_capacity, imported_max_km, imported_at FROM doctors WHERE 1 = 0",
        )
        .await?;
        let done = self.stage_and_merge_doctors(&mut stage, doctors).await;
        stage.finish().await;
        done
    }

    async fn stage_and_merge_doctors(
        &self,
        stage: &mut Stage,
        doctors: &[MatchingDoctor],
    ) -> Result<ImportCounts, Error> {
        tracing::info!(kind = "doctors", rows = doctors.len(), "import staging");
        let at = now();
        for chunk in doctors.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO stage_doctors (rpps, name, lat, lon, insee, capacity, max_km, \
                 updated_at, imported_capacity, imported_max_km, imported_at) VALUES {}",
                templated_values_clause(chunk.len(), &DOCTOR_ROW, 1)
            );
            let mut q = sqlx::query(&sql);
            for d in chunk {
                q = q
                    .bind(d.rpps.as_str())
                    .bind(&d.name)
                    .bind(d.coords.lat())
                    .bind(d.coords.lon())
                    .bind(d.insee.as_str())
                    .bind(i64::from(d.capacity))
                    .bind(float_or_absent(d.max_km.map(MaxKm::km)))
                    .bind(at)
                    .bind(i64::from(d.capacity))
                    .bind(float_or_absent(d.max_km.map(MaxKm::km)))
                    .bind(at);
            }
            q.execute(&mut **stage.conn()).await?;
        }
        // Counts only: the log never names a patient or a doctor.
        tracing::info!(
            kind = "doctors",
            rows = doctors.len(),
            "import staged; merging"
        );
        let began = std::time::Instant::now();
        let mut tx = stage.begin().await?;
        let existing = count_staged(&mut tx, "stage_doctors", "doctors", "rpps").await?;
        let declared: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM stage_doctors s WHERE EXISTS (SELECT 1 FROM doctors d \
             WHERE d.rpps = s.rpps AND d.capacity_updated_at IS NOT NULL)",
        )
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        // The GP's own declaration stands (issue 17): the file's capacity and max_km apply only
        // where the GP has not declared; they are kept beside it, with their date.
        sqlx::query(
            "INSERT INTO doctors (rpps, name, lat, lon, insee, capacity, max_km, \
             updated_at, imported_capacity, imported_max_km, imported_at) \
             SELECT rpps, name, lat, lon, insee, capacity, max_km, updated_at, \
             imported_capacity, imported_max_km, imported_at FROM stage_doctors WHERE true \
             ON CONFLICT (rpps) DO UPDATE SET name = excluded.name, lat = excluded.lat, \
             lon = excluded.lon, insee = excluded.insee, \
             capacity = CASE WHEN doctors.capacity_updated_at IS NULL \
               THEN excluded.capacity ELSE doctors.capacity END, \
             max_km = CASE WHEN doctors.capacity_updated_at IS NULL \
               THEN excluded.max_km ELSE doctors.max_km END, \
             imported_capacity = excluded.imported_capacity, \
             imported_max_km = excluded.imported_max_km, \
             imported_at = excluded.imported_at, updated_at = excluded.updated_at",
        )
        .execute(&mut *tx)
        .await?;
        let mut done = counts(doctors.len(), existing);
        done.kept_declared = u64::try_from(declared).unwrap_or(0);
        append_audit_in(
            &mut tx,
            self.actor(),
            &import_entry("doctors.import", "doctors", done),
        )
        .await?;
        tx.commit().await?;
        crate::metrics::import_merged("doctors", began.elapsed());
        Ok(done)
    }

    /// Erases a patient (the right to erasure): its row, every batch result and instance row
    /// naming it, and its proposals, in one transaction. The audit row keeps the counts, never
    /// the id. `None` when nothing named this patient. Counts: patients, batch assignments,
    /// batch unmatched rows, proposals.
    ///
    /// # Errors
    /// [`Error::Unavailable`]; nothing is erased on any error.
    pub async fn erase_patient(
        &self,
        id: &PatientId,
        within: &crate::domain::Scope,
    ) -> Result<Option<[u64; 4]>, Error> {
        let mut tx = self.begin_write().await?;
        // A patient of another territory is not erased, and not told apart from an unknown
        // one: its row, and the results of batches launched elsewhere, are left alone.
        let insee: Option<String> =
            sqlx::query_scalar("SELECT insee FROM patients WHERE patient_id = $1")
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(insee) = insee {
            let insee: crate::domain::InseeCode = insee
                .parse()
                .map_err(|_| Error::Corrupt("patients.insee"))?;
            if !within.covers_commune(&insee) {
                tx.rollback().await?;
                return Ok(None);
            }
        }
        let counts = erase_in(&mut tx, id, within).await?;
        if counts == [0, 0, 0, 0] {
            tx.rollback().await?;
            return Ok(None);
        }
        append_audit_in(
            &mut tx,
            self.actor(),
            &erase_entry("patient.erase", counts, 1),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(counts))
    }

    /// The retention policy (`cpts purge`): erases, as [`Store::erase_patient`] does, every
    /// patient attached to a médecin traitant before `before` (Unix seconds). One audit row
    /// with the counts.
    ///
    /// # Errors
    /// [`Error::Unavailable`]; nothing is erased on any error.
    pub async fn purge_attached_before(&self, before: i64) -> Result<[u64; 4], Error> {
        let mut tx = self.begin_write().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT patient_id FROM proposals WHERE state = 'attached' AND attached_at < $1 \
             ORDER BY patient_id",
        )
        .bind(before)
        .fetch_all(&mut *tx)
        .await?;
        let mut total = [0u64; 4];
        for id in &ids {
            let id: PatientId = id
                .parse()
                .map_err(|_| Error::Corrupt("proposals.patient_id"))?;
            let c = erase_in(&mut tx, &id, &crate::domain::Scope::National).await?;
            for (t, n) in total.iter_mut().zip(c) {
                *t += n;
            }
        }
        append_audit_in(
            &mut tx,
            self.actor(),
            &erase_entry("patient.purge", total, ids.len() as u64)
                .with_detail_field("before", before),
        )
        .await?;
        tx.commit().await?;
        Ok(total)
    }

    /// The patients living in `communes`, by `patient_id`.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn patients_in(&self, communes: &[InseeCode]) -> Result<Vec<Patient>, Error> {
        self.patients_where(communes, "").await
    }

    /// The patients living in `communes` whose row (`p`) also passes `and` (SQL starting
    /// with ` AND`, or empty), by `patient_id`.
    pub(super) async fn patients_where(
        &self,
        communes: &[InseeCode],
        and: &str,
    ) -> Result<Vec<Patient>, Error> {
        let mut out = Vec::new();
        for chunk in communes.chunks(CHUNK) {
            let list = values_clause(chunk.len(), 1, 1).replace(['(', ')'], "");
            let sql = format!(
                "SELECT patient_id, lat, lon, insee, age, ald, css, max_km FROM patients p \
                 WHERE insee IN ({list}){and}"
            );
            let mut q = sqlx::query(&sql);
            for c in chunk {
                q = q.bind(c.as_str());
            }
            for row in q.fetch_all(&self.pool).await? {
                out.push(Patient::try_from(row)?);
            }
        }
        // Same input, same output: the solver breaks ties by index.
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}

/// Erases patient `id` inside `tx`: its row, and the rows of batches launched within
/// `within` and of its proposals. Counts as [`Store::erase_patient`] returns them.
async fn erase_in(
    tx: &mut Transaction<'_, Any>,
    id: &PatientId,
    within: &crate::domain::Scope,
) -> Result<[u64; 4], Error> {
    let mut counts = [0u64; 4];
    counts[0] = sqlx::query("DELETE FROM patients WHERE patient_id = $1")
        .bind(id.as_str())
        .execute(&mut **tx)
        .await?
        .rows_affected();
    let (covered, names) = super::covered_by("territory", within, 2);
    let tables = [
        "batch_assignments",
        "batch_unmatched",
        "batch_patients",
        "batch_exclusions",
    ];
    for (i, table) in tables.iter().enumerate() {
        let sql = format!(
            "DELETE FROM {table} WHERE patient_id = $1 \
             AND job_id IN (SELECT id FROM jobs WHERE {covered})"
        );
        let mut q = sqlx::query(&sql).bind(id.as_str());
        for n in &names {
            q = q.bind(n);
        }
        let n = q.execute(&mut **tx).await?.rows_affected();
        if i < 2 {
            counts[i + 1] = n;
        }
    }
    counts[3] = sqlx::query("DELETE FROM proposals WHERE patient_id = $1")
        .bind(id.as_str())
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(counts)
}

/// The audit row of an erasure: counts only.
fn erase_entry(action: &'static str, c: [u64; 4], patients_named: u64) -> AuditEntry {
    AuditEntry::new(action, "patient", None).with_detail(serde_json::json!({
        "patients_named": patients_named,
        "patients": c[0],
        "batch_assignments": c[1],
        "batch_unmatched": c[2],
        "proposals": c[3],
    }))
}

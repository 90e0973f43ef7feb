//! `batch_assignments` and `batch_unmatched`: the results of a matching batch (FORMATS.md §2,
//! `assignments.csv` and `unmatched.csv`), keyed by the batch's job id.

use super::jobs::succeed_in;
use super::{Error, Store, values_clause};
use crate::domain::{AssignmentRow, PatientId, Rpps, Tier, UnmatchedRow};
use sqlx::Row;

/// Rows per multi-row insert (5 columns at most).
const CHUNK: usize = 1000;

/// A page of rows, and how many there are in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// Which unmatched patients a list shows; `None` lets every one through.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnmatchedFilter {
    pub tier: Option<Tier>,
    /// `no_doctor_in_range` or `capacity_exhausted`.
    pub reason: Option<String>,
}

/// A batch aggregated for its map.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchMap {
    pub communes: Vec<CommuneCount>,
    pub doctors: Vec<DoctorPlaces>,
}

/// The patients of a batch in one commune.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommuneCount {
    pub insee: String,
    pub patients: u64,
    pub unmatched: u64,
    /// Of the unmatched, those of tier 1 (ALD).
    pub unmatched_tier1: u64,
}

/// A doctor of a batch with capacity, and the patients it assigned him.
#[derive(Clone, Debug, PartialEq)]
pub struct DoctorPlaces {
    pub rpps: String,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub insee: String,
    pub capacity: u64,
    pub assigned: u64,
}

impl Store {
    /// Stores the results of batch `job_id`, and the `instance` it solved, and marks the job succeeded with `summary`, in
    /// one transaction; `Ok(false)` (nothing written) when the job is no longer this
    /// attempt's.
    ///
    /// # Errors
    /// [`Error::Unavailable`]; nothing is written on any error.
    pub async fn finish_batch(
        &self,
        job_id: &str,
        attempt: i64,
        summary: &str,
        assignments: &[AssignmentRow],
        unmatched: &[UnmatchedRow],
        instance: &super::BatchInstance,
    ) -> Result<bool, Error> {
        let mut tx = self.begin_write().await?;
        super::proposals::store_instance(&mut tx, job_id, instance).await?;
        for table in ["batch_assignments", "batch_unmatched"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE job_id = $1"))
                .bind(job_id)
                .execute(&mut *tx)
                .await?;
        }
        for chunk in assignments.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO batch_assignments (job_id, patient_id, rpps, distance_m) VALUES {}",
                values_clause(chunk.len(), 4, 1)
            );
            let mut q = sqlx::query(&sql);
            for a in chunk {
                q = q
                    .bind(job_id)
                    .bind(a.patient.as_str())
                    .bind(a.rpps.as_str())
                    .bind(i64::try_from(a.distance_m).unwrap_or(i64::MAX));
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in unmatched.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO batch_unmatched (job_id, patient_id, tier, reason, detail) \
                 VALUES {}",
                values_clause(chunk.len(), 5, 1)
            );
            let mut q = sqlx::query(&sql);
            for u in chunk {
                q = q
                    .bind(job_id)
                    .bind(u.patient.as_str())
                    .bind(i64::from(u.tier.number()))
                    .bind(&u.reason)
                    .bind(&u.detail);
            }
            q.execute(&mut *tx).await?;
        }
        if !succeed_in(&mut tx, job_id, attempt, summary).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        let entry = super::AuditEntry::new("batch.finish", "batch", Some(job_id.to_owned()))
            .with_detail(serde_json::json!({
                "assigned": assignments.len(),
                "unmatched": unmatched.len(),
            }));
        super::append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Assignments of batch `job_id`, by `patient_id`, `limit` from `offset`.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn batch_assignments(
        &self,
        job_id: &str,
        limit: u64,
        offset: u64,
    ) -> Result<Page<AssignmentRow>, Error> {
        let total = self.count_rows("batch_assignments", job_id).await?;
        let rows = sqlx::query(
            "SELECT patient_id, rpps, distance_m FROM batch_assignments WHERE job_id = $1 \
             ORDER BY patient_id LIMIT $2 OFFSET $3",
        )
        .bind(job_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .into_iter()
            .map(|r| {
                let m: i64 = r.try_get("distance_m")?;
                let patient: String = r.try_get("patient_id")?;
                let rpps: String = r.try_get("rpps")?;
                Ok(AssignmentRow {
                    patient: PatientId::try_from(patient)
                        .map_err(|_| Error::Corrupt("batch_assignments.patient_id"))?,
                    rpps: Rpps::try_from(rpps)
                        .map_err(|_| Error::Corrupt("batch_assignments.rpps"))?,
                    distance_m: u64::try_from(m)
                        .map_err(|_| Error::Corrupt("batch_assignments.distance_m"))?,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Page { items, total })
    }

    /// Unmatched patients of batch `job_id` that pass `filter`, by `patient_id`, `limit` from
    /// `offset`.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn batch_unmatched(
        &self,
        job_id: &str,
        filter: &UnmatchedFilter,
        limit: u64,
        offset: u64,
    ) -> Result<Page<UnmatchedRow>, Error> {
        // NULL filters pass every row: one statement for every combination.
        const WHERE: &str = "WHERE job_id = $1 AND ($2 IS NULL OR tier = $2) \
                             AND ($3 IS NULL OR reason = $3)";
        let tier = filter.tier.map(|t| i64::from(t.number()));
        let n: i64 = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM batch_unmatched {WHERE}"
        ))
        .bind(job_id)
        .bind(tier)
        .bind(filter.reason.as_deref())
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        let total = u64::try_from(n).unwrap_or(0);
        let rows = sqlx::query(&format!(
            "SELECT patient_id, tier, reason, detail FROM batch_unmatched {WHERE} \
             ORDER BY patient_id LIMIT $4 OFFSET $5"
        ))
        .bind(job_id)
        .bind(tier)
        .bind(filter.reason.as_deref())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .into_iter()
            .map(|r| {
                let tier: i64 = r.try_get("tier")?;
                let patient: String = r.try_get("patient_id")?;
                Ok(UnmatchedRow {
                    patient: PatientId::try_from(patient)
                        .map_err(|_| Error::Corrupt("batch_unmatched.patient_id"))?,
                    tier: u8::try_from(tier)
                        .ok()
                        .and_then(Tier::from_number)
                        .ok_or(Error::Corrupt("batch_unmatched.tier"))?,
                    reason: r.try_get("reason")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Page { items, total })
    }

    /// Batch `job_id` by commune (its patients, and those left unmatched) and its doctors
    /// with capacity (and the patients assigned to each): what the batch's map draws. The
    /// patients are aggregated in SQL; none leaves the database one by one.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn batch_map(&self, job_id: &str) -> Result<BatchMap, Error> {
        let communes = sqlx::query(
            "SELECT p.insee, COUNT(*) AS patients, COUNT(u.patient_id) AS unmatched, \
             SUM(CASE WHEN u.tier = 1 THEN 1 ELSE 0 END) AS unmatched_tier1 \
             FROM batch_patients p LEFT JOIN batch_unmatched u \
               ON u.job_id = p.job_id AND u.patient_id = p.patient_id \
             WHERE p.job_id = $1 GROUP BY p.insee ORDER BY p.insee",
        )
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            let count = |c: &str| -> Result<u64, Error> {
                let n: Option<i64> = r.try_get(c)?;
                u64::try_from(n.unwrap_or(0)).map_err(|_| Error::Corrupt("batch_map count"))
            };
            Ok(CommuneCount {
                insee: r.try_get("insee")?,
                patients: count("patients")?,
                unmatched: count("unmatched")?,
                unmatched_tier1: count("unmatched_tier1")?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
        let doctors = sqlx::query(
            "SELECT d.rpps, d.name, d.lat, d.lon, d.insee, d.capacity, COALESCE(a.n, 0) AS assigned \
             FROM batch_doctors d LEFT JOIN (SELECT rpps, COUNT(*) AS n FROM batch_assignments \
               WHERE job_id = $1 GROUP BY rpps) a ON a.rpps = d.rpps \
             WHERE d.job_id = $1 AND d.capacity > 0 ORDER BY d.rpps",
        )
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            let capacity: i64 = r.try_get("capacity")?;
            let assigned: i64 = r.try_get("assigned")?;
            Ok(DoctorPlaces {
                rpps: r.try_get("rpps")?,
                name: r.try_get("name")?,
                lat: r.try_get("lat")?,
                lon: r.try_get("lon")?,
                insee: r.try_get("insee")?,
                capacity: u64::try_from(capacity).map_err(|_| Error::Corrupt("capacity"))?,
                assigned: u64::try_from(assigned).map_err(|_| Error::Corrupt("assigned"))?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
        Ok(BatchMap { communes, doctors })
    }

    async fn count_rows(&self, table: &str, job_id: &str) -> Result<u64, Error> {
        let n: i64 = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE job_id = $1"
        ))
        .bind(job_id)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

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

    /// Unmatched patients of batch `job_id`, by `patient_id`, `limit` from `offset`.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn batch_unmatched(
        &self,
        job_id: &str,
        limit: u64,
        offset: u64,
    ) -> Result<Page<UnmatchedRow>, Error> {
        let total = self.count_rows("batch_unmatched", job_id).await?;
        let rows = sqlx::query(
            "SELECT patient_id, tier, reason, detail FROM batch_unmatched WHERE job_id = $1 \
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

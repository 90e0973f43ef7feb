//! `calendar_feeds`: the secret URL of each doctor's iCalendar feed (issue 18), and the
//! published shifts the feed lists.

use super::{AuditEntry, Error, Store, append_audit_in, now};
use crate::domain::Rpps;
use sqlx::Row;

/// A published shift of a doctor, as his calendar shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct DoctorShift {
    pub cabinet_id: String,
    pub cabinet_name: String,
    pub insee: String,
    pub lat: f64,
    pub lon: f64,
    /// Unix seconds.
    pub shift_start: i64,
    /// The plan that published it.
    pub plan_id: String,
}

impl Store {
    /// Sets doctor `rpps`'s feed secret (its SHA-256, hex), replacing any previous one;
    /// `false` for an unknown doctor.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn renew_calendar(&self, rpps: &Rpps, secret_hash: &str) -> Result<bool, Error> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "INSERT INTO calendar_feeds (rpps, secret_hash, created_at) \
             SELECT rpps, $2, $3 FROM doctors WHERE rpps = $1 \
             ON CONFLICT (rpps) DO UPDATE SET secret_hash = excluded.secret_hash, \
             created_at = excluded.created_at",
        )
        .bind(rpps.as_str())
        .bind(secret_hash)
        .bind(now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let entry = AuditEntry::new("calendar.renew", "doctor", Some(rpps.to_string()));
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Revokes doctor `rpps`'s feed; `false` when he had none.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn revoke_calendar(&self, rpps: &Rpps) -> Result<bool, Error> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM calendar_feeds WHERE rpps = $1")
            .bind(rpps.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if done == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let entry = AuditEntry::new("calendar.revoke", "doctor", Some(rpps.to_string()));
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The doctor whose feed secret hashes to `secret_hash`.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn calendar_owner(&self, secret_hash: &str) -> Result<Option<Rpps>, Error> {
        let rpps: Option<String> =
            sqlx::query_scalar("SELECT rpps FROM calendar_feeds WHERE secret_hash = $1")
                .bind(secret_hash)
                .fetch_optional(&self.pool)
                .await?;
        rpps.map(|r| r.parse().map_err(|_| Error::Corrupt("calendar_feeds.rpps")))
            .transpose()
    }

    /// Doctor `rpps`'s published shifts starting at `from` (Unix seconds) or later, by start.
    /// A shift he withdrew from, or gave away, is no longer one of his published positions,
    /// so it leaves the list.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn doctor_shifts(&self, rpps: &Rpps, from: i64) -> Result<Vec<DoctorShift>, Error> {
        let rows = sqlx::query(
            "SELECT p.cabinet_id, c.name, c.insee, c.lat, c.lon, p.shift_start, p.plan_id \
             FROM published_positions p JOIN cabinets c ON c.cabinet_id = p.cabinet_id \
             WHERE p.rpps = $1 AND p.shift_start >= $2 ORDER BY p.shift_start, p.cabinet_id",
        )
        .bind(rpps.as_str())
        .bind(from)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(DoctorShift {
                    cabinet_id: r.try_get("cabinet_id")?,
                    cabinet_name: r.try_get("name")?,
                    insee: r.try_get("insee")?,
                    lat: r.try_get("lat")?,
                    lon: r.try_get("lon")?,
                    shift_start: r.try_get("shift_start")?,
                    plan_id: r.try_get("plan_id")?,
                })
            })
            .collect()
    }
}

/// One position of the tableau de garde.
#[derive(Clone, Debug, PartialEq)]
pub struct TableauRow {
    /// Unix seconds.
    pub shift_start: i64,
    pub cabinet_id: String,
    pub cabinet_name: String,
    pub insee: String,
    pub phone: Option<String>,
    pub rpps: String,
    pub doctor_name: String,
}

impl Store {
    /// The published positions of the cabinets of CPTS `cpts` (`None`: every cabinet) whose
    /// shift starts in `[from, to)` (Unix seconds), by start, cabinet and position.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn tableau(
        &self,
        cpts: Option<&crate::domain::CptsId>,
        from: i64,
        to: i64,
    ) -> Result<Vec<TableauRow>, Error> {
        let rows = sqlx::query(
            "SELECT p.shift_start, p.cabinet_id, c.name AS cabinet_name, c.insee, c.phone, \
             p.rpps, d.name AS doctor_name \
             FROM published_positions p JOIN cabinets c ON c.cabinet_id = p.cabinet_id \
             JOIN doctors d ON d.rpps = p.rpps \
             WHERE (CAST($1 AS TEXT) IS NULL OR c.cpts_id = $1) \
             AND p.shift_start >= $2 AND p.shift_start < $3 \
             ORDER BY p.shift_start, p.cabinet_id, p.position",
        )
        .bind(cpts.map(crate::domain::CptsId::as_str))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(TableauRow {
                    shift_start: r.try_get("shift_start")?,
                    cabinet_id: r.try_get("cabinet_id")?,
                    cabinet_name: r.try_get("cabinet_name")?,
                    insee: r.try_get("insee")?,
                    phone: r.try_get("phone")?,
                    rpps: r.try_get("rpps")?,
                    doctor_name: r.try_get("doctor_name")?,
                })
            })
            .collect()
    }
}

/// A shift of a published roster that still lacks doctors (the carence the ARS is told of).
#[derive(Clone, Debug, PartialEq)]
pub struct CarenceRow {
    /// Unix seconds.
    pub shift_start: i64,
    pub shift_end: i64,
    pub cabinet_id: String,
    pub cabinet_name: String,
    pub insee: String,
    pub phone: Option<String>,
    pub need: u32,
    /// Doctors published on it now, by any plan.
    pub staffed: u32,
    /// Why the plan that last published the shift could not fill it (FORMATS.md §3).
    pub reason: String,
}

impl Store {
    /// The shifts of the cabinets of CPTS `cpts` (`None`: every cabinet) starting in
    /// `[from, to)` that a published plan left unfilled and that still have fewer published
    /// doctors than their need, by start and cabinet. A shift two published plans left
    /// unfilled is listed once, with the reason of the later publication.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn carence(
        &self,
        cpts: Option<&crate::domain::CptsId>,
        from: i64,
        to: i64,
    ) -> Result<Vec<CarenceRow>, Error> {
        let rows = sqlx::query(
            "SELECT shift_start, shift_end, cabinet_id, cabinet_name, insee, phone, need, \
             staffed, reason FROM ( \
               SELECT u.shift_start, u.shift_end, u.cabinet_id, c.name AS cabinet_name, \
                 c.insee, c.phone, c.need, u.reason, \
                 (SELECT COUNT(*) FROM published_positions p WHERE p.cabinet_id = u.cabinet_id \
                  AND p.shift_start = u.shift_start) AS staffed, \
                 ROW_NUMBER() OVER (PARTITION BY u.cabinet_id, u.shift_start \
                   ORDER BY g.published_at DESC, g.id DESC) AS nth \
               FROM unfilled_positions u \
               JOIN garde_plans g ON g.id = u.plan_id AND g.published_at IS NOT NULL \
               JOIN cabinets c ON c.cabinet_id = u.cabinet_id \
               WHERE (CAST($1 AS TEXT) IS NULL OR c.cpts_id = $1) \
               AND u.shift_start >= $2 AND u.shift_start < $3 \
             ) AS listed WHERE nth = 1 AND staffed < need \
             ORDER BY shift_start, cabinet_id",
        )
        .bind(cpts.map(crate::domain::CptsId::as_str))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let need: i64 = r.try_get("need")?;
                let staffed: i64 = r.try_get("staffed")?;
                Ok(CarenceRow {
                    shift_start: r.try_get("shift_start")?,
                    shift_end: r.try_get("shift_end")?,
                    cabinet_id: r.try_get("cabinet_id")?,
                    cabinet_name: r.try_get("cabinet_name")?,
                    insee: r.try_get("insee")?,
                    phone: r.try_get("phone")?,
                    need: u32::try_from(need).map_err(|_| Error::Corrupt("cabinets.need"))?,
                    staffed: u32::try_from(staffed).unwrap_or(0),
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }
}

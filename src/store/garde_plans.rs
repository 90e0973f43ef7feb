//! `garde_plans`, `roster_entries`, `unfilled_positions`, and the slots a publication creates
//! (FORMATS.md §3–§4); plus the reads a plan needs from `cabinets`, `doctors` and
//! `availability` (those tables are written elsewhere).

use super::jobs::{NewJob, insert_job, succeed_in};
use super::{AuditEntry, Error, Store, append_audit_in, now, values_clause};
use crate::domain::{CabinetId, InseeCode, MaxKm, Rpps};
use crate::geo::Coordinates;
use sqlx::Row;
use sqlx::any::AnyRow;

const CHUNK: usize = 1000;

/// A stored garde plan. Its id is the id of the job that computes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanRecord {
    pub id: String,
    pub job_id: Option<String>,
    /// ISO dates, inclusive.
    pub period_start: String,
    pub period_end: String,
    pub created_at: i64,
    pub published_at: Option<i64>,
}

/// A cabinet as a plan reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct CabinetRow {
    pub id: CabinetId,
    pub name: String,
    pub coords: Coordinates,
    pub insee: InseeCode,
    pub need: u32,
    pub slot_minutes: u32,
    /// The number it is reached at (the tableau de garde names it).
    pub phone: Option<crate::domain::Phone>,
    /// Its postal address (the SAS's FHIR Location needs it), when known.
    pub address: Option<crate::domain::Address>,
}

/// A doctor with garde availability, as a plan reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct GardeDoctorRow {
    pub rpps: Rpps,
    pub name: String,
    pub coords: Coordinates,
    pub insee: InseeCode,
    /// `None`: not declared.
    pub max_shifts: Option<u32>,
    /// `None`: not declared.
    pub garde_max_km: Option<MaxKm>,
}

/// A declared, not withdrawn, availability window (Unix seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowRow {
    pub rpps: Rpps,
    pub start_at: i64,
    pub end_at: i64,
}

/// One line of `roster.csv`: a doctor on a cabinet's shift (instants in Unix seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterEntryRow {
    pub cabinet_id: String,
    pub shift_start: i64,
    pub shift_end: i64,
    pub rpps: String,
    pub distance_m: u64,
}

/// One line of `unfilled.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnfilledRow {
    pub cabinet_id: String,
    pub shift_start: i64,
    pub shift_end: i64,
    pub missing: u32,
    pub reason: String,
}

/// A consultation slot to create (FORMATS.md §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSlot {
    pub cabinet_id: String,
    pub rpps: String,
    pub start_at: i64,
    pub end_at: i64,
}

/// What publishing did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublishOutcome {
    /// Published now, with this many new slots; `rehomed`: the flagged bookings (on withdrawn
    /// slots) moved to a new slot at the same cabinet and start.
    Published {
        at: i64,
        slots: u64,
        rehomed: Vec<super::withdrawals::BookingMove>,
    },
    /// Published before; nothing changed.
    AlreadyPublished,
    /// No plan with this id.
    NotFound,
    /// The shift already has `need` doctors, counting every published plan: nothing written.
    ShiftFull {
        cabinet_id: String,
        shift_start: i64,
    },
    /// The doctor already holds a published shift on this date (Europe/Paris), in this plan
    /// or another: nothing written.
    DoctorTaken {
        rpps: String,
        cabinet_id: String,
        shift_start: i64,
    },
}

/// The lowest free position of a shift (0 when none is taken).
const FREE_POSITION: &str = "CASE WHEN NOT EXISTS (SELECT 1 FROM published_positions z \
     WHERE z.cabinet_id = $1 AND z.shift_start = $2 AND z.position = 0) THEN 0 \
     ELSE (SELECT MIN(p.position + 1) FROM published_positions p \
           WHERE p.cabinet_id = $1 AND p.shift_start = $2 AND NOT EXISTS \
             (SELECT 1 FROM published_positions q WHERE q.cabinet_id = $1 \
              AND q.shift_start = $2 AND q.position = p.position + 1)) END";

impl TryFrom<AnyRow> for PlanRecord {
    type Error = Error;
    fn try_from(row: AnyRow) -> Result<Self, Error> {
        Ok(Self {
            id: row.try_get("id")?,
            job_id: row.try_get("job_id")?,
            period_start: row.try_get("period_start")?,
            period_end: row.try_get("period_end")?,
            created_at: row.try_get("created_at")?,
            published_at: row.try_get("published_at")?,
        })
    }
}

impl TryFrom<AnyRow> for CabinetRow {
    type Error = Error;
    fn try_from(row: AnyRow) -> Result<Self, Error> {
        let id: String = row.try_get("cabinet_id")?;
        let insee: String = row.try_get("insee")?;
        let need: i64 = row.try_get("need")?;
        let slot_minutes: i64 = row.try_get("slot_minutes")?;
        Ok(Self {
            id: id
                .parse()
                .map_err(|_| Error::Corrupt("cabinets.cabinet_id"))?,
            name: row.try_get("name")?,
            coords: Coordinates::new(row.try_get("lat")?, row.try_get("lon")?)
                .map_err(|_| Error::Corrupt("cabinets.lat/lon"))?,
            insee: insee
                .parse()
                .map_err(|_| Error::Corrupt("cabinets.insee"))?,
            need: u32::try_from(need).map_err(|_| Error::Corrupt("cabinets.need"))?,
            slot_minutes: u32::try_from(slot_minutes)
                .map_err(|_| Error::Corrupt("cabinets.slot_minutes"))?,
            phone: match row.try_get::<Option<String>, _>("phone") {
                Ok(p) => p
                    .map(|p| p.parse())
                    .transpose()
                    .map_err(|_| Error::Corrupt("cabinets.phone"))?,
                // Queries of the plan read no phone.
                Err(sqlx::Error::ColumnNotFound(_)) => None,
                Err(e) => return Err(e.into()),
            },
            address: address_of(&row)?,
        })
    }
}

/// The address columns of a cabinet row: all three or none; `None` for queries that read no
/// address (a plan's).
pub(super) fn address_of(row: &AnyRow) -> Result<Option<crate::domain::Address>, Error> {
    let parts = (
        row.try_get::<Option<String>, _>("address_line"),
        row.try_get::<Option<String>, _>("address_city"),
        row.try_get::<Option<String>, _>("address_postcode"),
    );
    match parts {
        (Ok(Some(line)), Ok(Some(city)), Ok(Some(postcode))) => {
            crate::domain::Address::new(&line, &city, &postcode)
                .map(Some)
                .map_err(|_| Error::Corrupt("cabinets.address"))
        }
        (Ok(None), Ok(None), Ok(None)) => Ok(None),
        (Err(sqlx::Error::ColumnNotFound(_)), ..) => Ok(None),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => Err(e.into()),
        _ => Err(Error::Corrupt("cabinets.address")),
    }
}

impl TryFrom<AnyRow> for GardeDoctorRow {
    type Error = Error;
    fn try_from(row: AnyRow) -> Result<Self, Error> {
        let rpps: String = row.try_get("rpps")?;
        let insee: String = row.try_get("insee")?;
        let max_shifts: Option<i64> = row.try_get("max_shifts")?;
        let garde_max_km: Option<f64> = row.try_get("garde_max_km")?;
        Ok(Self {
            rpps: rpps.parse().map_err(|_| Error::Corrupt("doctors.rpps"))?,
            name: row.try_get("name")?,
            coords: Coordinates::new(row.try_get("lat")?, row.try_get("lon")?)
                .map_err(|_| Error::Corrupt("doctors.lat/lon"))?,
            insee: insee.parse().map_err(|_| Error::Corrupt("doctors.insee"))?,
            max_shifts: max_shifts
                .map(u32::try_from)
                .transpose()
                .map_err(|_| Error::Corrupt("doctors.max_shifts"))?,
            garde_max_km: garde_max_km
                .map(MaxKm::new)
                .transpose()
                .map_err(|_| Error::Corrupt("doctors.garde_max_km"))?,
        })
    }
}

/// `$first, …` for `n` ids.
fn id_list_from(first: usize, n: usize) -> String {
    values_clause(n, 1, first).replace(['(', ')'], "")
}

impl Store {
    /// Creates plan `job.id` over `[start, end]` (ISO dates) and its job, in one transaction.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the id is taken, [`Error::Unavailable`].
    pub async fn create_garde_plan(
        &self,
        job: &NewJob<'_>,
        period_start: &str,
        period_end: &str,
    ) -> Result<(), Error> {
        let at = now();
        let mut tx = self.begin_write().await?;
        insert_job(&mut tx, job, at).await?;
        sqlx::query(
            "INSERT INTO garde_plans (id, job_id, period_start, period_end, created_at) \
             VALUES ($1, $1, $2, $3, $4)",
        )
        .bind(job.id)
        .bind(period_start)
        .bind(period_end)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let entry = AuditEntry::new("garde_plan.create", "garde_plan", Some(job.id.to_owned()))
            .with_detail(serde_json::json!({ "start": period_start, "end": period_end }));
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The plan with this id.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn garde_plan(&self, id: &str) -> Result<Option<PlanRecord>, Error> {
        sqlx::query(
            "SELECT id, job_id, period_start, period_end, created_at, published_at \
             FROM garde_plans WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(PlanRecord::try_from)
        .transpose()
    }

    /// The cabinets with these ids (all cabinets when `ids` is `None`), by id.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn garde_cabinets(
        &self,
        ids: Option<&[String]>,
        within: Option<&crate::domain::CptsId>,
    ) -> Result<Vec<CabinetRow>, Error> {
        let base = "SELECT cabinet_id, name, lat, lon, insee, need, slot_minutes FROM cabinets \
                    WHERE (CAST($1 AS TEXT) IS NULL OR cpts_id = $1)";
        let within = within.map(crate::domain::CptsId::as_str);
        let mut out = Vec::new();
        match ids {
            None => {
                for row in sqlx::query(base).bind(within).fetch_all(&self.pool).await? {
                    out.push(CabinetRow::try_from(row)?);
                }
            }
            Some(ids) => {
                for chunk in ids.chunks(CHUNK) {
                    let sql = format!(
                        "{base} AND cabinet_id IN ({})",
                        id_list_from(2, chunk.len())
                    );
                    let mut q = sqlx::query(&sql).bind(within);
                    for id in chunk {
                        q = q.bind(id.as_str());
                    }
                    for row in q.fetch_all(&self.pool).await? {
                        out.push(CabinetRow::try_from(row)?);
                    }
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// The doctors with at least one availability window meeting `[from, to)` (Unix
    /// seconds), by RPPS, and those windows, by doctor then start.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn garde_availability(
        &self,
        from: i64,
        to: i64,
    ) -> Result<(Vec<GardeDoctorRow>, Vec<WindowRow>), Error> {
        let windows = sqlx::query(
            "SELECT rpps, start_at, end_at FROM availability \
             WHERE withdrawn_at IS NULL AND start_at < $2 AND end_at > $1 \
             ORDER BY rpps, start_at, end_at",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            let rpps: String = r.try_get("rpps")?;
            Ok(WindowRow {
                rpps: rpps
                    .parse()
                    .map_err(|_| Error::Corrupt("availability.rpps"))?,
                start_at: r.try_get("start_at")?,
                end_at: r.try_get("end_at")?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
        let doctors = sqlx::query(
            "SELECT rpps, name, lat, lon, insee, max_shifts, garde_max_km FROM doctors \
             WHERE rpps IN (SELECT rpps FROM availability \
                            WHERE withdrawn_at IS NULL AND start_at < $2 AND end_at > $1) \
             ORDER BY rpps",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(GardeDoctorRow::try_from)
        .collect::<Result<Vec<_>, Error>>()?;
        Ok((doctors, windows))
    }

    /// A doctor's garde limits (`max_shifts`, `garde_max_km`; `None` when not declared) and
    /// published shifts from `from` on (Unix seconds): `(cabinet_id, shift_start, shift_end,
    /// plan_id)` by start. `None` when no doctor has this RPPS.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    #[allow(clippy::type_complexity)]
    pub async fn garde_of(
        &self,
        rpps: &Rpps,
        from: i64,
    ) -> Result<Option<(Option<i64>, Option<f64>, Vec<(String, i64, i64, String)>)>, Error> {
        let Some(doctor) =
            sqlx::query("SELECT max_shifts, garde_max_km FROM doctors WHERE rpps = $1")
                .bind(rpps.as_str())
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(None);
        };
        let shifts = sqlx::query(
            "SELECT p.cabinet_id, p.shift_start, \
             (SELECT MAX(r.shift_end) FROM roster_entries r WHERE r.plan_id = p.plan_id \
              AND r.cabinet_id = p.cabinet_id AND r.shift_start = p.shift_start) AS shift_end, \
             p.plan_id FROM published_positions p \
             WHERE p.rpps = $1 AND p.shift_start >= $2 ORDER BY p.shift_start, p.cabinet_id",
        )
        .bind(rpps.as_str())
        .bind(from)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            Ok((
                r.try_get("cabinet_id")?,
                r.try_get("shift_start")?,
                r.try_get("shift_end")?,
                r.try_get("plan_id")?,
            ))
        })
        .collect::<Result<Vec<_>, Error>>()?;
        Ok(Some((
            doctor.try_get("max_shifts")?,
            doctor.try_get("garde_max_km")?,
            shifts,
        )))
    }

    /// Sets a doctor's garde limits (FORMATS.md §3: `max_shifts`, and `max_km` as
    /// `garde_max_km`); `false` when no doctor has this RPPS.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn set_garde_limits(
        &self,
        rpps: &Rpps,
        max_shifts: u32,
        garde_max_km: MaxKm,
    ) -> Result<bool, Error> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE doctors SET max_shifts = $1, garde_max_km = $2, updated_at = $3 \
             WHERE rpps = $4",
        )
        .bind(i64::from(max_shifts))
        .bind(garde_max_km.km())
        .bind(now())
        .bind(rpps.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let entry = AuditEntry::new("garde_limits.declare", "doctor", Some(rpps.to_string()))
            .with_detail(serde_json::json!({
                "max_shifts": max_shifts,
                "max_km": garde_max_km.km(),
            }));
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Stores the roster and unfilled report of plan `job_id` and marks its job succeeded
    /// with `summary`, in one transaction; `Ok(false)` (nothing written) when the job is no
    /// longer this attempt's.
    ///
    /// # Errors
    /// [`Error::Unavailable`]; nothing is written on any error.
    pub async fn finish_garde_plan(
        &self,
        job_id: &str,
        attempt: i64,
        summary: &str,
        roster: &[RosterEntryRow],
        unfilled: &[UnfilledRow],
    ) -> Result<bool, Error> {
        let mut tx = self.begin_write().await?;
        for table in ["roster_entries", "unfilled_positions"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE plan_id = $1"))
                .bind(job_id)
                .execute(&mut *tx)
                .await?;
        }
        for chunk in roster.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO roster_entries (plan_id, cabinet_id, shift_start, shift_end, rpps, \
                 distance_m) VALUES {}",
                values_clause(chunk.len(), 6, 1)
            );
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(job_id)
                    .bind(&e.cabinet_id)
                    .bind(e.shift_start)
                    .bind(e.shift_end)
                    .bind(&e.rpps)
                    .bind(i64::try_from(e.distance_m).unwrap_or(i64::MAX));
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in unfilled.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO unfilled_positions (plan_id, cabinet_id, shift_start, shift_end, \
                 missing, reason) VALUES {}",
                values_clause(chunk.len(), 6, 1)
            );
            let mut q = sqlx::query(&sql);
            for u in chunk {
                q = q
                    .bind(job_id)
                    .bind(&u.cabinet_id)
                    .bind(u.shift_start)
                    .bind(u.shift_end)
                    .bind(i64::from(u.missing))
                    .bind(&u.reason);
            }
            q.execute(&mut *tx).await?;
        }
        if !succeed_in(&mut tx, job_id, attempt, summary).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        let entry = AuditEntry::new("garde_plan.finish", "garde_plan", Some(job_id.to_owned()))
            .with_detail(serde_json::json!({
                "roster_entries": roster.len(),
                "unfilled": unfilled.len(),
            }));
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The roster of a plan, by shift start, cabinet and RPPS.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn roster_entries(&self, plan_id: &str) -> Result<Vec<RosterEntryRow>, Error> {
        sqlx::query(
            "SELECT cabinet_id, shift_start, shift_end, rpps, distance_m FROM roster_entries \
             WHERE plan_id = $1 ORDER BY shift_start, cabinet_id, rpps",
        )
        .bind(plan_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            let m: i64 = r.try_get("distance_m")?;
            Ok(RosterEntryRow {
                cabinet_id: r.try_get("cabinet_id")?,
                shift_start: r.try_get("shift_start")?,
                shift_end: r.try_get("shift_end")?,
                rpps: r.try_get("rpps")?,
                distance_m: u64::try_from(m)
                    .map_err(|_| Error::Corrupt("roster_entries.distance_m"))?,
            })
        })
        .collect()
    }

    /// The unfilled positions of a plan, by shift start and cabinet.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn unfilled_positions(&self, plan_id: &str) -> Result<Vec<UnfilledRow>, Error> {
        sqlx::query(
            "SELECT cabinet_id, shift_start, shift_end, missing, reason FROM unfilled_positions \
             WHERE plan_id = $1 ORDER BY shift_start, cabinet_id",
        )
        .bind(plan_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            let missing: i64 = r.try_get("missing")?;
            Ok(UnfilledRow {
                cabinet_id: r.try_get("cabinet_id")?,
                shift_start: r.try_get("shift_start")?,
                shift_end: r.try_get("shift_end")?,
                missing: u32::try_from(missing)
                    .map_err(|_| Error::Corrupt("unfilled_positions.missing"))?,
                reason: r.try_get("reason")?,
            })
        })
        .collect()
    }

    /// The published positions of shifts starting from `from` to `to` (Unix seconds), every
    /// plan: `(cabinet_id, shift_start, rpps)`.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn published_positions(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, i64, String)>, Error> {
        let rows = sqlx::query(
            "SELECT cabinet_id, shift_start, rpps FROM published_positions \
             WHERE shift_start >= $1 AND shift_start < $2 ORDER BY shift_start, cabinet_id, position",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.try_get("cabinet_id")?,
                    r.try_get("shift_start")?,
                    r.try_get("rpps")?,
                ))
            })
            .collect()
    }

    /// Publishes a plan: sets `published_at`, places each roster row in
    /// `published_positions`, and creates `slots`, in one transaction. A slot already created
    /// by another plan (same cabinet, doctor and start) is kept as it is; a position already
    /// published (the same doctor on the same shift) too.
    ///
    /// # Errors
    /// [`Error::Unavailable`]; nothing is written on any error.
    pub async fn publish_garde_plan(
        &self,
        plan_id: &str,
        roster: &[RosterEntryRow],
        slots: &[NewSlot],
    ) -> Result<PublishOutcome, Error> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE garde_plans SET published_at = $1 WHERE id = $2 AND published_at IS NULL",
        )
        .bind(at)
        .bind(plan_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            let exists = sqlx::query("SELECT id FROM garde_plans WHERE id = $1")
                .bind(plan_id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            tx.rollback().await?;
            return Ok(if exists {
                PublishOutcome::AlreadyPublished
            } else {
                PublishOutcome::NotFound
            });
        }
        // Each position, one row: the constraints of `published_positions` (migration 0010)
        // refuse a shift over its need and a doctor on two shifts of a date, across plans and
        // racing publishes. A position published before (a pinned one) is already there.
        for e in roster {
            let day = chrono::DateTime::from_timestamp(e.shift_start, 0)
                .ok_or(Error::Corrupt("roster_entries.shift_start"))?
                .with_timezone(&chrono_tz::Europe::Paris)
                .date_naive()
                .to_string();
            let placed = sqlx::query(&format!(
                "INSERT INTO published_positions \
                 (cabinet_id, shift_start, position, need, shift_day, rpps, plan_id) \
                 SELECT $1, $2, {FREE_POSITION}, c.need, $3, $4, $5 FROM cabinets c \
                 WHERE c.cabinet_id = $1 AND NOT EXISTS (SELECT 1 FROM published_positions x \
                   WHERE x.cabinet_id = $1 AND x.shift_start = $2 AND x.rpps = $4)"
            ))
            .bind(&e.cabinet_id)
            .bind(e.shift_start)
            .bind(&day)
            .bind(&e.rpps)
            .bind(plan_id)
            .execute(&mut *tx)
            .await;
            if let Err(sqlx::Error::Database(db)) = &placed {
                use sqlx::error::ErrorKind;
                let refused = matches!(
                    db.kind(),
                    ErrorKind::UniqueViolation | ErrorKind::CheckViolation
                );
                if refused {
                    let doctor = db.kind() == ErrorKind::UniqueViolation
                        && (db.message().contains("rpps")
                            || db.constraint().is_some_and(|c| c.contains("rpps")));
                    tx.rollback().await?;
                    return Ok(if doctor {
                        PublishOutcome::DoctorTaken {
                            rpps: e.rpps.clone(),
                            cabinet_id: e.cabinet_id.clone(),
                            shift_start: e.shift_start,
                        }
                    } else {
                        PublishOutcome::ShiftFull {
                            cabinet_id: e.cabinet_id.clone(),
                            shift_start: e.shift_start,
                        }
                    });
                }
            }
            placed?;
        }
        let created = super::slots::insert_slots_in(&mut tx, plan_id, slots).await?;
        let rehomed = super::withdrawals::rehome_flagged_in(&mut tx, self.actor()).await?;
        let entry = AuditEntry::new("garde_plan.publish", "garde_plan", Some(plan_id.to_owned()))
            .with_detail(serde_json::json!({ "slots": created, "bookings_moved": rehomed.len() }));
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(PublishOutcome::Published {
            at,
            slots: created,
            rehomed,
        })
    }
}

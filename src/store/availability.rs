//! The `availability` table: garde windows declared by GPs (FORMATS.md §3). A withdrawn
//! window keeps its row (`withdrawn_at`); one that covers a shift of a published roster stays.

use super::{Error, Store, now};
use crate::domain::Rpps;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A declared window, instants in Unix seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvailabilityRecord {
    pub id: i64,
    pub rpps: Rpps,
    pub start_at: i64,
    pub end_at: i64,
    pub created_at: i64,
    pub withdrawn_at: Option<i64>,
}

/// A shift of a published roster, in Unix seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedShift {
    pub plan_id: String,
    pub cabinet_id: String,
    pub shift_start: i64,
    pub shift_end: i64,
}

/// What withdrawing a window did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Withdrawal {
    Withdrawn(AvailabilityRecord),
    /// No window with this id for this doctor.
    NotFound,
    /// Withdrawn before; nothing changed.
    AlreadyWithdrawn(AvailabilityRecord),
    /// The window covers this shift (the earliest such) of a published roster, where the
    /// doctor is on duty: kept.
    OnPublishedRoster(PublishedShift),
}

const COLUMNS: &str = "id, rpps, start_at, end_at, created_at, withdrawn_at";

/// The published positions of the window's doctor whose shift lies inside it (FORMATS.md §3:
/// the window covers the shift), with their roster entries for the shift's end. The positions,
/// not the plans' rosters: a doctor taken off a shift (a repair) no longer holds it.
/// `availability` is the outer row.
const ON_PUBLISHED_ROSTER: &str = "SELECT p.plan_id, p.cabinet_id, p.shift_start, \
     (SELECT MAX(r.shift_end) FROM roster_entries r WHERE r.plan_id = p.plan_id \
      AND r.cabinet_id = p.cabinet_id AND r.shift_start = p.shift_start) AS shift_end \
     FROM published_positions p WHERE p.rpps = availability.rpps \
     AND p.shift_start >= availability.start_at \
     AND (SELECT MAX(r.shift_end) FROM roster_entries r WHERE r.plan_id = p.plan_id \
      AND r.cabinet_id = p.cabinet_id AND r.shift_start = p.shift_start) <= availability.end_at";

impl TryFrom<AnyRow> for AvailabilityRecord {
    type Error = Error;
    fn try_from(row: AnyRow) -> Result<Self, Error> {
        let rpps: String = row.try_get("rpps")?;
        Ok(Self {
            id: row.try_get("id")?,
            rpps: rpps
                .parse()
                .map_err(|_| Error::Corrupt("availability.rpps"))?,
            start_at: row.try_get("start_at")?,
            end_at: row.try_get("end_at")?,
            created_at: row.try_get("created_at")?,
            withdrawn_at: row.try_get("withdrawn_at")?,
        })
    }
}

/// The audit row of a window: its id, its doctor and its bounds.
fn window_entry(action: &'static str, rpps: &Rpps, w: &AvailabilityRecord) -> super::AuditEntry {
    super::AuditEntry::new(action, "availability", Some(w.id.to_string())).with_detail(
        serde_json::json!({ "rpps": rpps.as_str(), "start_at": w.start_at, "end_at": w.end_at }),
    )
}

impl Store {
    /// Declares a window `[start_at, end_at)` (Unix seconds, `start_at < end_at`) for a
    /// doctor; `None` when no doctor has this RPPS.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn add_availability(
        &self,
        rpps: &Rpps,
        start_at: i64,
        end_at: i64,
    ) -> Result<Option<AvailabilityRecord>, Error> {
        // One statement: the doctor's existence is the row source of the insert.
        let mut tx = self.begin_write().await?;
        // A random id (53 bits, safe in JavaScript): ids do not tell how many windows exist,
        // nor lead to the next one.
        let Some(row) = sqlx::query(&format!(
            "INSERT INTO availability (id, rpps, start_at, end_at, created_at) \
             SELECT $5, rpps, $2, $3, $4 FROM doctors WHERE rpps = $1 RETURNING {COLUMNS}"
        ))
        .bind(rpps.as_str())
        .bind(start_at)
        .bind(end_at)
        .bind(now())
        .bind(super::random_id())
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let record = AvailabilityRecord::try_from(row)?;
        let entry = window_entry("availability.declare", rpps, &record);
        super::append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(Some(record))
    }

    /// Window `id` of `rpps`, standing or withdrawn.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn availability_window(
        &self,
        rpps: &Rpps,
        id: i64,
    ) -> Result<Option<AvailabilityRecord>, Error> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM availability WHERE rpps = $1 AND id = $2"
        ))
        .bind(rpps.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(AvailabilityRecord::try_from)
        .transpose()
    }

    /// The windows of a doctor not withdrawn, by start.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn availability_of(&self, rpps: &Rpps) -> Result<Vec<AvailabilityRecord>, Error> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM availability WHERE rpps = $1 AND withdrawn_at IS NULL \
             ORDER BY start_at, end_at, id"
        ))
        .bind(rpps.as_str())
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(AvailabilityRecord::try_from)
        .collect()
    }

    /// Withdraws window `id` of `rpps`, unless it covers one of the doctor's shifts on a
    /// published roster: the check and the update are one statement.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn withdraw_availability(&self, rpps: &Rpps, id: i64) -> Result<Withdrawal, Error> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&format!(
            "UPDATE availability SET withdrawn_at = $1 \
             WHERE id = $2 AND rpps = $3 AND withdrawn_at IS NULL \
             AND NOT EXISTS ({ON_PUBLISHED_ROSTER}) RETURNING {COLUMNS}"
        ))
        .bind(now())
        .bind(id)
        .bind(rpps.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = done {
            let record = AvailabilityRecord::try_from(row)?;
            let entry = window_entry("availability.withdraw", rpps, &record);
            super::append_audit_in(&mut tx, self.actor(), &entry).await?;
            tx.commit().await?;
            return Ok(Withdrawal::Withdrawn(record));
        }
        tx.rollback().await?;
        // Why not: read-only, after the fact.
        let Some(window) = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM availability WHERE id = $1 AND rpps = $2"
        ))
        .bind(id)
        .bind(rpps.as_str())
        .fetch_optional(&self.pool)
        .await?
        .map(AvailabilityRecord::try_from)
        .transpose()?
        else {
            return Ok(Withdrawal::NotFound);
        };
        if window.withdrawn_at.is_some() {
            return Ok(Withdrawal::AlreadyWithdrawn(window));
        }
        let shift = sqlx::query(
            "SELECT p.plan_id, p.cabinet_id, p.shift_start, r.shift_end \
             FROM published_positions p JOIN roster_entries r ON r.plan_id = p.plan_id \
             AND r.cabinet_id = p.cabinet_id AND r.shift_start = p.shift_start \
             JOIN availability a ON a.rpps = p.rpps \
             WHERE a.id = $1 \
             AND p.shift_start >= a.start_at AND r.shift_end <= a.end_at \
             ORDER BY p.shift_start, p.cabinet_id LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match shift {
            Some(r) => Ok(Withdrawal::OnPublishedRoster(PublishedShift {
                plan_id: r.try_get("plan_id")?,
                cabinet_id: r.try_get("cabinet_id")?,
                shift_start: r.try_get("shift_start")?,
                shift_end: r.try_get("shift_end")?,
            })),
            // Not possible with the rows just read, unless they changed since: say not found.
            None => Ok(Withdrawal::NotFound),
        }
    }
}

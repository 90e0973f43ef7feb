//! Repairs of published garde rosters (issue 18, migration 0018): a coordinator takes a doctor
//! off a published shift; the doctor's slots of that shift are withdrawn and their bookings
//! flagged; a repair plan (a plan over the period, which pins every other published position and
//! keeps the doctor off that shift) fills the hole, and its publication moves each flagged
//! booking to a free slot of the replacement at the same cabinet and start
//! ([`rehome_flagged_in`]).

use super::{AuditEntry, Error, Store, append_audit_in, random_id};
use crate::domain::Rpps;
use chrono::NaiveDate;
use sqlx::Row;

/// A doctor taken off a published shift.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WithdrawalRecord {
    pub id: i64,
    pub cabinet_id: String,
    pub shift_start: i64,
    pub shift_end: i64,
    pub rpps: String,
    pub plan_id: String,
    pub reason: String,
    pub created_at: i64,
    /// Active bookings still on the withdrawn doctor's slots of that shift.
    pub bookings_flagged: u64,
}

/// What taking a doctor off a shift did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WithdrawOutcome {
    Withdrawn {
        record: WithdrawalRecord,
        /// The ids of the slots withdrawn.
        slots: Vec<i64>,
    },
    /// No published position of this doctor at this cabinet that day (in the caller's CPTS).
    NotFound,
    /// The shift has started: too late to repair.
    Started,
}

/// A flagged booking moved by a repair's publication to a slot at the same cabinet and start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookingMove {
    pub booking_id: i64,
    /// The withdrawn slot it was on.
    pub from_slot: i64,
    /// Its slot now.
    pub to_slot: i64,
}

/// A booking on a withdrawn slot, waiting for a repair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlaggedBooking {
    pub booking_id: i64,
    pub slot_id: i64,
    pub cabinet_id: String,
    pub rpps: String,
    pub start_at: i64,
    pub end_at: i64,
    pub patient_ref: String,
}

/// Cabinets of `cpts` (`$n`, NULL: every cabinet), as a SQL condition on `column`.
fn in_cpts(column: &str, n: usize) -> String {
    format!(
        "{column} IN (SELECT k.cabinet_id FROM cabinets k \
         WHERE CAST(${n} AS TEXT) IS NULL OR k.cpts_id = ${n})"
    )
}

impl Store {
    /// Takes `rpps` off its published shift at `cabinet_id` on `day` (a shift not started at
    /// `at`), in one transaction: the position leaves `published_positions`, the doctor's slots
    /// of the shift are withdrawn, the withdrawal and its audit row are written. `cpts`: only
    /// a cabinet of this CPTS.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn withdraw_position(
        &self,
        cabinet_id: &str,
        day: NaiveDate,
        rpps: &Rpps,
        reason: &str,
        cpts: Option<&str>,
        at: i64,
    ) -> Result<WithdrawOutcome, Error> {
        let mut tx = self.begin_write().await?;
        let removed = sqlx::query(&format!(
            "DELETE FROM published_positions WHERE cabinet_id = $1 AND shift_day = $2 \
             AND rpps = $3 AND shift_start > $4 AND {} RETURNING shift_start, plan_id",
            in_cpts("cabinet_id", 5)
        ))
        .bind(cabinet_id)
        .bind(day.to_string())
        .bind(rpps.as_str())
        .bind(at)
        .bind(cpts)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(removed) = removed else {
            let exists = sqlx::query(&format!(
                "SELECT 1 AS one FROM published_positions WHERE cabinet_id = $1 \
                 AND shift_day = $2 AND rpps = $3 AND {}",
                in_cpts("cabinet_id", 4)
            ))
            .bind(cabinet_id)
            .bind(day.to_string())
            .bind(rpps.as_str())
            .bind(cpts)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
            tx.rollback().await?;
            return Ok(if exists {
                WithdrawOutcome::Started
            } else {
                WithdrawOutcome::NotFound
            });
        };
        let shift_start: i64 = removed.try_get("shift_start")?;
        let plan_id: String = removed.try_get("plan_id")?;
        let shift_end = crate::garde::calendar::shift_end(shift_start)
            .ok_or(Error::Corrupt("published_positions.shift_start"))?;
        let slots: Vec<i64> = sqlx::query_scalar(
            "UPDATE slots SET withdrawn_at = $1 WHERE cabinet_id = $2 AND rpps = $3 \
             AND start_at >= $4 AND start_at < $5 AND withdrawn_at IS NULL RETURNING id",
        )
        .bind(at)
        .bind(cabinet_id)
        .bind(rpps.as_str())
        .bind(shift_start)
        .bind(shift_end)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO garde_withdrawals (id, cabinet_id, shift_start, shift_end, shift_day, \
             rpps, plan_id, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (cabinet_id, shift_start, rpps) DO UPDATE SET reason = excluded.reason, \
             created_at = excluded.created_at",
        )
        .bind(random_id())
        .bind(cabinet_id)
        .bind(shift_start)
        .bind(shift_end)
        .bind(day.to_string())
        .bind(rpps.as_str())
        .bind(&plan_id)
        .bind(reason)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(&format!(
            "SELECT {WITHDRAWAL_COLUMNS} FROM garde_withdrawals \
             WHERE cabinet_id = $1 AND shift_start = $2 AND rpps = $3"
        ))
        .bind(cabinet_id)
        .bind(shift_start)
        .bind(rpps.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let record = withdrawal_of(&row)?;
        let entry = AuditEntry::new(
            "garde.withdraw",
            "garde_withdrawal",
            Some(record.id.to_string()),
        )
        .with_detail(serde_json::json!({
            "cabinet_id": cabinet_id,
            "day": day.to_string(),
            "rpps": rpps.as_str(),
            "reason": reason,
            "slots": slots.len(),
            "bookings_flagged": record.bookings_flagged,
        }));
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(WithdrawOutcome::Withdrawn { record, slots })
    }

    /// The withdrawals of shifts dated `from` to `to` (inclusive), of `cpts`'s cabinets (None:
    /// every cabinet), by shift and cabinet.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn withdrawals(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        cpts: Option<&str>,
    ) -> Result<Vec<WithdrawalRecord>, Error> {
        let rows = sqlx::query(&format!(
            "SELECT {WITHDRAWAL_COLUMNS} FROM garde_withdrawals \
             WHERE shift_day >= $1 AND shift_day <= $2 AND {} \
             ORDER BY shift_start, cabinet_id, rpps",
            in_cpts("cabinet_id", 3)
        ))
        .bind(from.to_string())
        .bind(to.to_string())
        .bind(cpts)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(withdrawal_of).collect()
    }

    /// The active bookings on withdrawn slots made by `sas` (None: every SAS), by start.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn flagged_bookings(&self, sas: Option<&str>) -> Result<Vec<FlaggedBooking>, Error> {
        let rows = sqlx::query(
            "SELECT b.id AS booking_id, s.id AS slot_id, s.cabinet_id, s.rpps, s.start_at, \
             s.end_at, b.patient_ref FROM bookings b JOIN slots s ON s.id = b.slot_id \
             WHERE b.cancelled_at IS NULL AND s.withdrawn_at IS NOT NULL \
             AND (CAST($1 AS TEXT) IS NULL OR b.sas = $1) ORDER BY s.start_at, b.id",
        )
        .bind(sas)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FlaggedBooking {
                    booking_id: r.try_get("booking_id")?,
                    slot_id: r.try_get("slot_id")?,
                    cabinet_id: r.try_get("cabinet_id")?,
                    rpps: r.try_get("rpps")?,
                    start_at: r.try_get("start_at")?,
                    end_at: r.try_get("end_at")?,
                    patient_ref: r.try_get("patient_ref")?,
                })
            })
            .collect()
    }
}

const WITHDRAWAL_COLUMNS: &str = "id, cabinet_id, shift_start, shift_end, rpps, plan_id, reason, \
     created_at, (SELECT COUNT(*) FROM bookings b JOIN slots s ON s.id = b.slot_id \
     WHERE b.cancelled_at IS NULL AND s.withdrawn_at IS NOT NULL \
     AND s.cabinet_id = garde_withdrawals.cabinet_id AND s.rpps = garde_withdrawals.rpps \
     AND s.start_at >= garde_withdrawals.shift_start \
     AND s.start_at < garde_withdrawals.shift_end) AS flagged";

fn withdrawal_of(r: &sqlx::any::AnyRow) -> Result<WithdrawalRecord, Error> {
    let flagged: i64 = r.try_get("flagged")?;
    Ok(WithdrawalRecord {
        id: r.try_get("id")?,
        cabinet_id: r.try_get("cabinet_id")?,
        shift_start: r.try_get("shift_start")?,
        shift_end: r.try_get("shift_end")?,
        rpps: r.try_get("rpps")?,
        plan_id: r.try_get("plan_id")?,
        reason: r.try_get("reason")?,
        created_at: r.try_get("created_at")?,
        bookings_flagged: u64::try_from(flagged).unwrap_or(0),
    })
}

/// Moves each active booking on a withdrawn slot to a free, standing slot of the same cabinet
/// and start (the replacement's, just published, or a colleague's on duty at that time: the
/// patient is seen at the same place and time), one by one so that two never take the same
/// slot (the unique index `bookings_one_active_per_slot` would refuse it anyway). Returns the
/// moves; the others stay flagged.
pub(super) async fn rehome_flagged_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: Option<&super::Actor>,
) -> Result<Vec<BookingMove>, Error> {
    let flagged: Vec<(i64, i64)> = sqlx::query(
        "SELECT b.id, b.slot_id FROM bookings b JOIN slots s ON s.id = b.slot_id \
         WHERE b.cancelled_at IS NULL AND s.withdrawn_at IS NOT NULL ORDER BY b.id",
    )
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
    .collect::<Result<_, Error>>()?;
    let mut moves = Vec::new();
    for (booking, slot) in flagged {
        let target: Option<i64> = sqlx::query_scalar(
            "SELECT n.id FROM slots n JOIN slots o \
             ON n.cabinet_id = o.cabinet_id AND n.start_at = o.start_at \
             WHERE o.id = $1 AND n.withdrawn_at IS NULL AND NOT EXISTS \
               (SELECT 1 FROM bookings x WHERE x.slot_id = n.id AND x.cancelled_at IS NULL) \
             ORDER BY n.id LIMIT 1",
        )
        .bind(slot)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(target) = target else { continue };
        let moved = sqlx::query("UPDATE bookings SET slot_id = $1 WHERE id = $2")
            .bind(target)
            .bind(booking)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if moved == 1 {
            // Another slot, maybe another doctor: the SAS hears of it (INT_R03).
            super::outbox::touch_in(tx, booking).await?;
            moves.push(BookingMove {
                booking_id: booking,
                from_slot: slot,
                to_slot: target,
            });
        }
    }
    if !moves.is_empty() {
        let entry = AuditEntry::new("booking.rehome", "booking", None)
            .with_detail(serde_json::json!({ "moved": moves.len() }));
        append_audit_in(tx, actor, &entry).await?;
    }
    Ok(moves)
}

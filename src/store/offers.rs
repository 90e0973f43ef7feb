//! The bourse aux gardes (issue 18, migration 0019): offers of published shifts, their takers,
//! the coordinator's approval where the CPTS requires it, and the move of the position, its
//! slots and their bookings to the taker in one transaction ([`Store::complete_offer_in`]).
//!
//! A direct exchange (migration 0020) is an offer to one named colleague that asks for one of
//! his published shifts in return: the offer is the offerer's agreement, the colleague's take
//! his. On completion both positions, their slots and their bookings change hands in one
//! transaction ([`complete_exchange_in`]).
//!
//! What the database decides: one live offer per position (a partial unique index), one taker
//! per offer (each transition is one `UPDATE … WHERE state = …`), and the taker free that day
//! (`UNIQUE (rpps, shift_day)` of `published_positions`). Availability, distance and
//! `max_shifts` are read in the taking transaction. An exchange leaves both doctors' counts of
//! shifts as they were, so `max_shifts` does not apply to it.

use super::{AuditEntry, Error, Store, append_audit_in, random_id};
use crate::domain::Rpps;
use crate::geo::{Coordinates, haversine_m};
use chrono::NaiveDate;
use sqlx::Row;

/// An offer as stored; `state` is `expired` for a live one past its `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferRecord {
    pub id: i64,
    pub cabinet_id: String,
    pub shift_start: i64,
    pub shift_end: i64,
    pub from_rpps: String,
    pub to_rpps: Option<String>,
    pub taker_rpps: Option<String>,
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// A direct exchange: the shift of `to_rpps` asked in return.
    pub exchange: Option<ShiftRef>,
}

/// A published shift of one doctor: its cabinet and instants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShiftRef {
    pub cabinet_id: String,
    pub shift_start: i64,
    pub shift_end: i64,
}

/// What offering a shift did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OfferOutcome {
    Offered(OfferRecord),
    /// The doctor holds no published position at this cabinet that day.
    NotFound,
    /// Less than an hour before the shift.
    TooLate,
    /// A live offer of this position exists.
    Duplicate,
    /// The colleague holds no published shift at the cabinet and date asked in exchange.
    NoCounterpart,
}

/// What taking or approving an offer did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TakeOutcome {
    /// Taken and moved (no approval needed, or approved now), with the ids of the slots that
    /// changed doctor.
    Done(OfferRecord, Vec<i64>),
    /// Taken, waiting for the coordinator's approval.
    Pending(OfferRecord),
    /// No such offer (for this caller).
    NotFound,
    /// Not eligible: the reason.
    NotEligible(&'static str),
    /// Not in a state that allows it (taken by another, cancelled, expired, done): the state.
    Conflict(String),
}

/// An hour before its shift, an offer expires.
pub const OFFER_EXPIRES_BEFORE_SECONDS: i64 = 3600;

const COLUMNS: &str = "o.id, o.cabinet_id, o.shift_start, o.shift_end, o.from_rpps, o.to_rpps, \
     o.taker_rpps, o.state, o.created_at, o.expires_at, o.swap_cabinet_id, o.swap_shift_start, \
     o.swap_shift_end";

fn offer_of(r: &sqlx::any::AnyRow, now: i64) -> Result<OfferRecord, Error> {
    let state: String = r.try_get("state")?;
    let expires_at: i64 = r.try_get("expires_at")?;
    let live = state == "open" || state == "taken";
    Ok(OfferRecord {
        id: r.try_get("id")?,
        cabinet_id: r.try_get("cabinet_id")?,
        shift_start: r.try_get("shift_start")?,
        shift_end: r.try_get("shift_end")?,
        from_rpps: r.try_get("from_rpps")?,
        to_rpps: r.try_get("to_rpps")?,
        taker_rpps: r.try_get("taker_rpps")?,
        state: if live && expires_at <= now {
            "expired".to_owned()
        } else {
            state
        },
        created_at: r.try_get("created_at")?,
        expires_at,
        exchange: match (
            r.try_get::<Option<String>, _>("swap_cabinet_id")?,
            r.try_get::<Option<i64>, _>("swap_shift_start")?,
            r.try_get::<Option<i64>, _>("swap_shift_end")?,
        ) {
            (Some(cabinet_id), Some(shift_start), Some(shift_end)) => Some(ShiftRef {
                cabinet_id,
                shift_start,
                shift_end,
            }),
            _ => None,
        },
    })
}

/// Why `me` may not take offer `o` (the offer's alias), as SQL yielding a reason or NULL; the
/// distances are checked beside it ([`in_range`]). For an exchange, `me` gives back the shift
/// asked in return, so being on duty that day only counts outside it, both doctors need a
/// window over the shift they get, and `max_shifts` does not apply (the counts stay).
const INELIGIBLE: &str = "CASE \
     WHEN o.from_rpps = $1 THEN 'your own offer' \
     WHEN o.to_rpps IS NOT NULL AND o.to_rpps <> $1 THEN 'offered to another doctor' \
     WHEN NOT EXISTS (SELECT 1 FROM availability a WHERE a.rpps = $1 AND a.withdrawn_at IS NULL \
       AND a.start_at <= o.shift_start AND a.end_at >= o.shift_end) \
       THEN 'no availability window covers this shift' \
     WHEN o.swap_cabinet_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM published_positions p \
       WHERE p.rpps = $1 AND p.cabinet_id = o.swap_cabinet_id \
       AND p.shift_start = o.swap_shift_start) \
       THEN 'you no longer hold the shift asked in exchange' \
     WHEN o.swap_cabinet_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM availability a \
       WHERE a.rpps = o.from_rpps AND a.withdrawn_at IS NULL \
       AND a.start_at <= o.swap_shift_start AND a.end_at >= o.swap_shift_end) \
       THEN 'no availability window of your colleague covers your shift' \
     WHEN EXISTS (SELECT 1 FROM published_positions p WHERE p.rpps = $1 \
       AND p.shift_day = o.shift_day AND (o.swap_cabinet_id IS NULL \
         OR p.cabinet_id <> o.swap_cabinet_id OR p.shift_start <> o.swap_shift_start)) \
       THEN 'already on duty that day' \
     WHEN o.swap_cabinet_id IS NOT NULL AND EXISTS (SELECT 1 FROM published_positions p \
       WHERE p.rpps = o.from_rpps AND p.shift_day = o.swap_shift_day \
       AND (p.cabinet_id <> o.cabinet_id OR p.shift_start <> o.shift_start)) \
       THEN 'your colleague is already on duty on your shift''s day' \
     WHEN o.swap_cabinet_id IS NULL AND (SELECT COUNT(*) FROM published_positions p \
       JOIN garde_plans g ON g.id = o.plan_id \
       WHERE p.rpps = $1 AND p.shift_day >= g.period_start AND p.shift_day <= g.period_end) \
       >= (SELECT COALESCE(d.max_shifts, 1000000) FROM doctors d WHERE d.rpps = $1) \
       THEN 'at max_shifts over the plan''s period' \
     ELSE NULL END";

/// The reasons [`INELIGIBLE`] gives, as static text.
const REASONS: [&str; 8] = [
    "your own offer",
    "offered to another doctor",
    "no availability window covers this shift",
    "you no longer hold the shift asked in exchange",
    "no availability window of your colleague covers your shift",
    "already on duty that day",
    "your colleague is already on duty on your shift's day",
    "at max_shifts over the plan's period",
];

fn reason(why: &str) -> &'static str {
    REASONS
        .iter()
        .find(|r| **r == why)
        .copied()
        .unwrap_or("not eligible")
}

/// Whether the doctor at `doctor` with limit `max_km` reaches the cabinet at `cabinet`.
fn in_range(doctor: Coordinates, max_km: f64, cabinet: Coordinates) -> bool {
    haversine_m(doctor, cabinet) <= max_km * 1000.0
}

/// For an exchange: whether its offerer reaches the cabinet of the shift he gets in return
/// (his garde `max_km`, 30 km when not declared). `true` for a plain offer.
async fn offerer_reaches<'c, E>(conn: E, offer: &OfferRecord) -> Result<bool, Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let Some(back) = &offer.exchange else {
        return Ok(true);
    };
    let Some(r) = sqlx::query(
        "SELECT d.lat, d.lon, d.garde_max_km, c.lat AS cabinet_lat, c.lon AS cabinet_lon \
         FROM doctors d JOIN cabinets c ON c.cabinet_id = $2 WHERE d.rpps = $1",
    )
    .bind(&offer.from_rpps)
    .bind(&back.cabinet_id)
    .fetch_optional(conn)
    .await?
    else {
        return Ok(false);
    };
    let at = Coordinates::new(r.try_get("lat")?, r.try_get("lon")?)
        .map_err(|_| Error::Corrupt("doctors.lat/lon"))?;
    let cabinet = Coordinates::new(r.try_get("cabinet_lat")?, r.try_get("cabinet_lon")?)
        .map_err(|_| Error::Corrupt("cabinets.lat/lon"))?;
    let km: Option<f64> = r.try_get("garde_max_km")?;
    Ok(in_range(
        at,
        km.unwrap_or(crate::jobs::DEFAULT_GARDE_MAX_KM),
        cabinet,
    ))
}

impl Store {
    /// Offers `rpps`'s published shift at `cabinet_id` on `day`, to anyone eligible or to
    /// `to` only; with `exchange` (a cabinet and a date), in return for `to`'s published shift
    /// there (the caller makes sure `exchange` comes with `to`). The offer expires an hour
    /// before the earlier of the two shifts.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn offer_shift(
        &self,
        rpps: &Rpps,
        cabinet_id: &str,
        day: NaiveDate,
        to: Option<&Rpps>,
        exchange: Option<(&str, NaiveDate)>,
        now: i64,
    ) -> Result<OfferOutcome, Error> {
        let mut tx = self.begin_write().await?;
        let Some(p) = sqlx::query(
            "SELECT shift_start, plan_id FROM published_positions \
             WHERE cabinet_id = $1 AND shift_day = $2 AND rpps = $3",
        )
        .bind(cabinet_id)
        .bind(day.to_string())
        .bind(rpps.as_str())
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(OfferOutcome::NotFound);
        };
        let shift_start: i64 = p.try_get("shift_start")?;
        let plan_id: String = p.try_get("plan_id")?;
        let shift_end = crate::garde::calendar::shift_end(shift_start)
            .ok_or(Error::Corrupt("published_positions.shift_start"))?;
        let counterpart = match (exchange, to) {
            (Some((cabinet, date)), Some(colleague)) => {
                let start: Option<i64> = sqlx::query_scalar(
                    "SELECT shift_start FROM published_positions \
                     WHERE cabinet_id = $1 AND shift_day = $2 AND rpps = $3",
                )
                .bind(cabinet)
                .bind(date.to_string())
                .bind(colleague.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(start) = start else {
                    return Ok(OfferOutcome::NoCounterpart);
                };
                let end = crate::garde::calendar::shift_end(start)
                    .ok_or(Error::Corrupt("published_positions.shift_start"))?;
                Some((cabinet, start, end, date))
            }
            (Some(_), None) => return Ok(OfferOutcome::NoCounterpart),
            (None, _) => None,
        };
        let earliest = counterpart.map_or(shift_start, |(_, start, _, _)| start.min(shift_start));
        let expires_at = earliest - OFFER_EXPIRES_BEFORE_SECONDS;
        if expires_at <= now {
            return Ok(OfferOutcome::TooLate);
        }
        let id = random_id();
        let inserted = sqlx::query(
            "INSERT INTO garde_offers (id, cabinet_id, shift_start, shift_end, shift_day, plan_id, \
             from_rpps, to_rpps, state, created_at, expires_at, swap_cabinet_id, \
             swap_shift_start, swap_shift_end, swap_shift_day) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10, $11, $12, $13, $14)",
        )
        .bind(id)
        .bind(cabinet_id)
        .bind(shift_start)
        .bind(shift_end)
        .bind(day.to_string())
        .bind(&plan_id)
        .bind(rpps.as_str())
        .bind(to.map(Rpps::as_str))
        .bind(now)
        .bind(expires_at)
        .bind(counterpart.map(|(cabinet, _, _, _)| cabinet))
        .bind(counterpart.map(|(_, start, _, _)| start))
        .bind(counterpart.map(|(_, _, end, _)| end))
        .bind(counterpart.map(|(_, _, _, date)| date.to_string()))
        .execute(&mut *tx)
        .await
        .map_err(Error::from);
        match inserted {
            Ok(_) => {}
            Err(Error::Conflict(_)) => return Ok(OfferOutcome::Duplicate),
            Err(e) => return Err(e),
        }
        let entry = AuditEntry::new("garde.offer", "garde_offer", Some(id.to_string()))
            .with_detail(serde_json::json!({
                "cabinet_id": cabinet_id, "day": day.to_string(), "to": to.map(Rpps::as_str),
                "in_exchange_for": counterpart.map(|(cabinet, _, _, date)| {
                    serde_json::json!({ "cabinet_id": cabinet, "day": date.to_string() })
                }),
            }));
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        let offer = one_offer(&mut tx, id, now)
            .await?
            .ok_or(Error::Corrupt("offer"))?;
        tx.commit().await?;
        Ok(OfferOutcome::Offered(offer))
    }

    /// The offers `rpps` made, and the live ones it may take (eligible and in range), by shift.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn offers_of_doctor(
        &self,
        rpps: &Rpps,
        now: i64,
    ) -> Result<(Vec<OfferRecord>, Vec<OfferRecord>), Error> {
        let mine = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM garde_offers o WHERE o.from_rpps = $1 \
             AND o.shift_end > $2 ORDER BY o.shift_start, o.id"
        ))
        .bind(rpps.as_str())
        .bind(now)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| offer_of(r, now))
        .collect::<Result<Vec<_>, _>>()?;
        let Some((at, max_km)) = self.garde_place(rpps).await? else {
            return Ok((mine, Vec::new()));
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS}, c.lat, c.lon FROM garde_offers o \
             JOIN cabinets c ON c.cabinet_id = o.cabinet_id \
             WHERE o.state = 'open' AND o.expires_at > $2 AND ({INELIGIBLE}) IS NULL \
             ORDER BY o.shift_start, o.id"
        ))
        .bind(rpps.as_str())
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut open = Vec::new();
        for r in &rows {
            let cabinet = Coordinates::new(r.try_get("lat")?, r.try_get("lon")?)
                .map_err(|_| Error::Corrupt("cabinets.lat/lon"))?;
            let offer = offer_of(r, now)?;
            if in_range(at, max_km, cabinet) && offerer_reaches(&self.pool, &offer).await? {
                open.push(offer);
            }
        }
        Ok((mine, open))
    }

    /// The offers at the cabinets of `cpts` (None: every cabinet) of shifts not ended, by
    /// shift.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn offers_in(&self, cpts: Option<&str>, now: i64) -> Result<Vec<OfferRecord>, Error> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM garde_offers o JOIN cabinets c ON c.cabinet_id = o.cabinet_id \
             WHERE o.shift_end > $1 AND (CAST($2 AS TEXT) IS NULL OR c.cpts_id = $2) \
             ORDER BY o.shift_start, o.id"
        ))
        .bind(now)
        .bind(cpts)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| offer_of(r, now))
        .collect()
    }

    /// The doctor's place and garde distance limit (30 km when not declared).
    async fn garde_place(&self, rpps: &Rpps) -> Result<Option<(Coordinates, f64)>, Error> {
        let Some(r) = sqlx::query("SELECT lat, lon, garde_max_km FROM doctors WHERE rpps = $1")
            .bind(rpps.as_str())
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let at = Coordinates::new(r.try_get("lat")?, r.try_get("lon")?)
            .map_err(|_| Error::Corrupt("doctors.lat/lon"))?;
        let km: Option<f64> = r.try_get("garde_max_km")?;
        Ok(Some((at, km.unwrap_or(crate::jobs::DEFAULT_GARDE_MAX_KM))))
    }

    /// `rpps` takes offer `id`: at once when its CPTS requires no approval (the move is in the
    /// same transaction), else it waits for the coordinator.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn take_offer(&self, id: i64, rpps: &Rpps, now: i64) -> Result<TakeOutcome, Error> {
        let Some((at, max_km)) = self.garde_place(rpps).await? else {
            return Ok(TakeOutcome::NotEligible("no doctor with this RPPS"));
        };
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query(&format!(
            "SELECT {COLUMNS}, c.lat, c.lon, ({INELIGIBLE}) AS why, \
             (SELECT t.swap_approval FROM cpts t WHERE t.id = c.cpts_id) AS approval \
             FROM garde_offers o JOIN cabinets c ON c.cabinet_id = o.cabinet_id WHERE o.id = $2"
        ))
        .bind(rpps.as_str())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(TakeOutcome::NotFound);
        };
        let offer = offer_of(&row, now)?;
        if offer.to_rpps.as_deref().is_some_and(|t| t != rpps.as_str()) {
            return Ok(TakeOutcome::NotFound);
        }
        if offer.state != "open" {
            return Ok(TakeOutcome::Conflict(offer.state));
        }
        let why: Option<String> = row.try_get("why")?;
        if let Some(why) = why {
            return Ok(TakeOutcome::NotEligible(reason(&why)));
        }
        let cabinet = Coordinates::new(row.try_get("lat")?, row.try_get("lon")?)
            .map_err(|_| Error::Corrupt("cabinets.lat/lon"))?;
        if !in_range(at, max_km, cabinet) {
            return Ok(TakeOutcome::NotEligible(
                "the cabinet is beyond your max_km",
            ));
        }
        if !offerer_reaches(&mut *tx, &offer).await? {
            return Ok(TakeOutcome::NotEligible(
                "your shift's cabinet is beyond your colleague's max_km",
            ));
        }
        let approval: Option<i64> = row.try_get("approval")?;
        let next = if approval == Some(1) { "taken" } else { "done" };
        let done = sqlx::query(
            "UPDATE garde_offers SET state = $1, taker_rpps = $2, decided_at = $3 \
             WHERE id = $4 AND state = 'open' AND expires_at > $3",
        )
        .bind(next)
        .bind(rpps.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(TakeOutcome::Conflict("taken".to_owned()));
        }
        let entry = AuditEntry::new("garde.offer.take", "garde_offer", Some(id.to_string()))
            .with_detail(serde_json::json!({ "taker": rpps.as_str(), "state": next }));
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        let mut moved = Vec::new();
        if next == "done" {
            match complete_offer_in(&mut tx, &offer, rpps.as_str(), self.actor(), now).await? {
                Ok(slots) => moved = slots,
                Err(why) => {
                    tx.rollback().await?;
                    return Ok(TakeOutcome::Conflict(why.to_owned()));
                }
            }
        }
        let stored = one_offer(&mut tx, id, now)
            .await?
            .ok_or(Error::Corrupt("offer"))?;
        tx.commit().await?;
        Ok(if next == "done" {
            TakeOutcome::Done(stored, moved)
        } else {
            TakeOutcome::Pending(stored)
        })
    }

    /// The coordinator of `cpts` approves a taken offer: the move happens now.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn approve_offer(
        &self,
        id: i64,
        cpts: Option<&str>,
        now: i64,
    ) -> Result<TakeOutcome, Error> {
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM garde_offers o JOIN cabinets c ON c.cabinet_id = o.cabinet_id \
             WHERE o.id = $1 AND (CAST($2 AS TEXT) IS NULL OR c.cpts_id = $2)"
        ))
        .bind(id)
        .bind(cpts)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(TakeOutcome::NotFound);
        };
        let offer = offer_of(&row, now)?;
        let Some(taker) = offer.taker_rpps.clone().filter(|_| offer.state == "taken") else {
            return Ok(TakeOutcome::Conflict(offer.state));
        };
        let done = sqlx::query(
            "UPDATE garde_offers SET state = 'done', decided_at = $1 \
             WHERE id = $2 AND state = 'taken' AND expires_at > $1",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(TakeOutcome::Conflict("expired".to_owned()));
        }
        let entry = AuditEntry::new("garde.offer.approve", "garde_offer", Some(id.to_string()));
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        let moved = match complete_offer_in(&mut tx, &offer, &taker, self.actor(), now).await? {
            Ok(slots) => slots,
            Err(why) => {
                tx.rollback().await?;
                return Ok(TakeOutcome::Conflict(why.to_owned()));
            }
        };
        let stored = one_offer(&mut tx, id, now)
            .await?
            .ok_or(Error::Corrupt("offer"))?;
        tx.commit().await?;
        Ok(TakeOutcome::Done(stored, moved))
    }

    /// The offerer withdraws a live offer; `false` when it has none such.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn cancel_offer(&self, id: i64, rpps: &Rpps, now: i64) -> Result<bool, Error> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE garde_offers SET state = 'cancelled', decided_at = $1 \
             WHERE id = $2 AND from_rpps = $3 AND state IN ('open', 'taken')",
        )
        .bind(now)
        .bind(id)
        .bind(rpps.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let entry = AuditEntry::new("garde.offer.cancel", "garde_offer", Some(id.to_string()));
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(true)
    }
}

async fn one_offer(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: i64,
    now: i64,
) -> Result<Option<OfferRecord>, Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM garde_offers o WHERE o.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .as_ref()
    .map(|r| offer_of(r, now))
    .transpose()
}

/// Moves the offered position, its slots and (with them) their bookings to `taker`, inside the
/// caller's transaction; for an exchange, also the taker's shift asked in return to the
/// offerer ([`complete_exchange_in`]). Returns the ids of the slots that changed doctor.
/// `Ok(Err(why))` when the database refuses: the offerer no longer holds the position, or the
/// taker is on duty that day (`UNIQUE (rpps, shift_day)`).
async fn complete_offer_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    offer: &OfferRecord,
    taker: &str,
    actor: Option<&super::Actor>,
    now: i64,
) -> Result<Result<Vec<i64>, &'static str>, Error> {
    if let Some(back) = &offer.exchange {
        return complete_exchange_in(tx, offer, back, taker, actor, now).await;
    }
    let moved = sqlx::query(
        "UPDATE published_positions SET rpps = $1 \
         WHERE cabinet_id = $2 AND shift_start = $3 AND rpps = $4",
    )
    .bind(taker)
    .bind(&offer.cabinet_id)
    .bind(offer.shift_start)
    .bind(&offer.from_rpps)
    .execute(&mut **tx)
    .await
    .map_err(Error::from);
    match moved {
        Ok(done) if done.rows_affected() == 1 => {}
        Ok(_) => return Ok(Err("the offerer no longer holds this shift")),
        Err(Error::Conflict(_)) => return Ok(Err("the taker is already on duty that day")),
        Err(e) => return Err(e),
    }
    let slots = match move_slots_in(
        tx,
        &offer.cabinet_id,
        offer.shift_start,
        offer.shift_end,
        &offer.from_rpps,
        taker,
    )
    .await?
    {
        Ok(slots) => slots,
        Err(why) => return Ok(Err(why)),
    };
    let entry = AuditEntry::new("garde.swap", "garde_offer", Some(offer.id.to_string()))
        .with_detail(serde_json::json!({
            "cabinet_id": offer.cabinet_id, "shift_start": offer.shift_start,
            "from": offer.from_rpps, "to": taker, "slots": slots.len(),
        }));
    append_audit_in(tx, actor, &entry).await?;
    Ok(Ok(slots))
}

/// The standing slots of `from` in the shift at `cabinet_id` from `start` to `end` go to `to`;
/// their bookings follow them (they reference the slot). Returns their ids.
async fn move_slots_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    cabinet_id: &str,
    start: i64,
    end: i64,
    from: &str,
    to: &str,
) -> Result<Result<Vec<i64>, &'static str>, Error> {
    let moved = sqlx::query_scalar(
        "UPDATE slots SET rpps = $1 WHERE cabinet_id = $2 AND rpps = $3 \
         AND start_at >= $4 AND start_at < $5 AND withdrawn_at IS NULL RETURNING id",
    )
    .bind(to)
    .bind(cabinet_id)
    .bind(from)
    .bind(start)
    .bind(end)
    .fetch_all(&mut **tx)
    .await
    .map_err(Error::from);
    match moved {
        Ok(ids) => {
            // Their bookings now have another doctor: the SAS hears of it (INT_R03).
            super::outbox::touch_slots_in(tx, &ids).await?;
            Ok(Ok(ids))
        }
        Err(Error::Conflict(_)) => Ok(Err("the taker already has slots at that time")),
        Err(e) => Err(e),
    }
}

/// A direct exchange, inside the caller's transaction: the offerer's position goes to `taker`
/// and the taker's position `back` to the offerer, with their slots and bookings. Both rows
/// are deleted, then inserted with their doctors swapped, so that two shifts of one day can
/// change hands without `UNIQUE (rpps, shift_day)` seeing one doctor twice in between. Other
/// live offers of either position end (`cancelled`): it changed hands.
async fn complete_exchange_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    offer: &OfferRecord,
    back: &ShiftRef,
    taker: &str,
    actor: Option<&super::Actor>,
    now: i64,
) -> Result<Result<Vec<i64>, &'static str>, Error> {
    let mut rows = Vec::new();
    for (cabinet, start, holder, missing) in [
        (
            offer.cabinet_id.as_str(),
            offer.shift_start,
            offer.from_rpps.as_str(),
            "the offerer no longer holds this shift",
        ),
        (
            back.cabinet_id.as_str(),
            back.shift_start,
            taker,
            "you no longer hold the shift asked in exchange",
        ),
    ] {
        let row = sqlx::query(
            "DELETE FROM published_positions WHERE cabinet_id = $1 AND shift_start = $2 \
             AND rpps = $3 RETURNING position, need, shift_day, plan_id",
        )
        .bind(cabinet)
        .bind(start)
        .bind(holder)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else {
            return Ok(Err(missing));
        };
        let position: i64 = row.try_get("position")?;
        let need: i64 = row.try_get("need")?;
        let day: String = row.try_get("shift_day")?;
        let plan: String = row.try_get("plan_id")?;
        rows.push((cabinet, start, position, need, day, plan));
    }
    for ((cabinet, start, position, need, day, plan), new_holder) in
        rows.into_iter().zip([taker, offer.from_rpps.as_str()])
    {
        let inserted = sqlx::query(
            "INSERT INTO published_positions (cabinet_id, shift_start, position, need, \
             shift_day, rpps, plan_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(cabinet)
        .bind(start)
        .bind(position)
        .bind(need)
        .bind(day)
        .bind(new_holder)
        .bind(plan)
        .execute(&mut **tx)
        .await
        .map_err(Error::from);
        match inserted {
            Ok(_) => {}
            Err(Error::Conflict(_)) => {
                return Ok(Err(if new_holder == taker {
                    "the taker is already on duty that day"
                } else {
                    "the offerer is already on duty on the day of the shift asked in exchange"
                }));
            }
            Err(e) => return Err(e),
        }
    }
    // The two shifts differ (cabinet or start: an offer naming the colleague's own position
    // is refused), so moving one doctor's slots never catches those just moved.
    let mut slots = match move_slots_in(
        tx,
        &offer.cabinet_id,
        offer.shift_start,
        offer.shift_end,
        &offer.from_rpps,
        taker,
    )
    .await?
    {
        Ok(ids) => ids,
        Err(why) => return Ok(Err(why)),
    };
    match move_slots_in(
        tx,
        &back.cabinet_id,
        back.shift_start,
        back.shift_end,
        taker,
        &offer.from_rpps,
    )
    .await?
    {
        Ok(ids) => slots.extend(ids),
        Err(_) => return Ok(Err("the offerer already has slots at that time")),
    }
    sqlx::query(
        "UPDATE garde_offers SET state = 'cancelled', decided_at = $1 WHERE id <> $2 \
         AND state IN ('open', 'taken') \
         AND ((cabinet_id = $3 AND shift_start = $4 AND from_rpps = $7) \
           OR (cabinet_id = $5 AND shift_start = $6 AND from_rpps = $8) \
           OR (swap_cabinet_id = $3 AND swap_shift_start = $4 AND to_rpps = $7) \
           OR (swap_cabinet_id = $5 AND swap_shift_start = $6 AND to_rpps = $8))",
    )
    .bind(now)
    .bind(offer.id)
    .bind(&offer.cabinet_id)
    .bind(offer.shift_start)
    .bind(&back.cabinet_id)
    .bind(back.shift_start)
    .bind(&offer.from_rpps)
    .bind(taker)
    .execute(&mut **tx)
    .await?;
    let entry = AuditEntry::new("garde.exchange", "garde_offer", Some(offer.id.to_string()))
        .with_detail(serde_json::json!({
            "from": offer.from_rpps, "to": taker,
            "gives": { "cabinet_id": offer.cabinet_id, "shift_start": offer.shift_start },
            "gets": { "cabinet_id": back.cabinet_id, "shift_start": back.shift_start },
            "slots": slots.len(),
        }));
    append_audit_in(tx, actor, &entry).await?;
    Ok(Ok(slots))
}

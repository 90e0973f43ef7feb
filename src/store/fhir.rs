//! What the FHIR interface (`fhir`, `api::fhir`) reads beside the slot room: the cabinets of
//! the slots found with their CPTS, the doctors' names, one slot's state. Searching slots is
//! the slot room's ([`Store::free_slots_of`]).

use super::{CabinetRow, Error, SlotRecord, Store};
use crate::domain::{CabinetId, CptsId, Finess, Rpps};
use sqlx::Row;
use std::collections::HashMap;

/// A cabinet with the CPTS it belongs to (its id, name and FINESS), if any.
#[derive(Clone, Debug, PartialEq)]
pub struct PlaceRow {
    pub cabinet: CabinetRow,
    pub cpts: Option<CptsRef>,
}

/// A CPTS as a FHIR answer names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CptsRef {
    pub id: CptsId,
    pub name: String,
    pub finess: Option<Finess>,
}

/// A published slot as SMART Scheduling Links lists it (`fhir::bulk`): booked or not, and
/// withdrawn or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicSlotRow {
    pub slot: SlotRecord,
    pub booked: bool,
    pub withdrawn: bool,
}

/// `$first, $first+1, …` for `n` values.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// The cabinets of `ids` with their CPTS, by id; unknown ids are left out.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn places(&self, ids: &[CabinetId]) -> Result<Vec<PlaceRow>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT c.cabinet_id, c.name, c.lat, c.lon, c.insee, c.need, c.slot_minutes, \
             c.phone, c.address_line, c.address_city, c.address_postcode, \
             p.id AS cpts_key, p.name AS cpts_name, p.finess AS cpts_finess \
             FROM cabinets c LEFT JOIN cpts p ON p.id = c.cpts_id \
             WHERE c.cabinet_id IN ({}) ORDER BY c.cabinet_id",
            placeholders(1, ids.len())
        );
        let mut query = sqlx::query(&sql);
        for id in ids {
            query = query.bind(id.as_str());
        }
        query
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|row| {
                let key: Option<String> = row.try_get("cpts_key")?;
                let cpts = match key {
                    Some(key) => {
                        let finess: Option<String> = row.try_get("cpts_finess")?;
                        Some(CptsRef {
                            id: key.parse().map_err(|_| Error::Corrupt("cpts.id"))?,
                            name: row.try_get("cpts_name")?,
                            finess: finess
                                .map(|f| f.parse())
                                .transpose()
                                .map_err(|_| Error::Corrupt("cpts.finess"))?,
                        })
                    }
                    None => None,
                };
                Ok(PlaceRow {
                    cabinet: CabinetRow::try_from(row)?,
                    cpts,
                })
            })
            .collect()
    }

    /// The names of the doctors of `rpps` that the doctors table knows.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn doctor_names(&self, rpps: &[Rpps]) -> Result<HashMap<Rpps, String>, Error> {
        if rpps.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT rpps, name FROM doctors WHERE rpps IN ({})",
            placeholders(1, rpps.len())
        );
        let mut query = sqlx::query(&sql);
        for r in rpps {
            query = query.bind(r.as_str());
        }
        query
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|row| {
                let rpps: String = row.try_get("rpps")?;
                Ok((
                    rpps.parse().map_err(|_| Error::Corrupt("doctors.rpps"))?,
                    row.try_get("name")?,
                ))
            })
            .collect()
    }

    /// The slot with this id unless withdrawn, and whether it holds an active booking.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn slot_state(&self, id: i64) -> Result<Option<(SlotRecord, bool)>, Error> {
        let Some(row) = sqlx::query(
            "SELECT s.id, s.cabinet_id, s.rpps, s.start_at, s.end_at, \
             (SELECT COUNT(*) FROM bookings b \
              WHERE b.slot_id = s.id AND b.cancelled_at IS NULL) AS booked \
             FROM slots s WHERE s.id = $1 AND s.withdrawn_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let booked: i64 = row.try_get("booked")?;
        Ok(Some((SlotRecord::try_from(&row)?, booked > 0)))
    }

    /// Whether the doctor of `rpps` has a slot, withdrawn or not, at this cabinet: the
    /// Schedule of the pair exists.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn has_slots_at(&self, rpps: &Rpps, cabinet: &CabinetId) -> Result<bool, Error> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM slots WHERE rpps = $1 AND cabinet_id = $2 \
             LIMIT 1) one",
        )
        .bind(rpps.as_str())
        .bind(cabinet.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// The slots of published plans starting in `[from, to)`, by start and id. Without
    /// `since`: those not withdrawn. With it (Unix seconds): only those whose state changed
    /// at or after it (their plan published, a booking made or cancelled, the slot
    /// withdrawn), withdrawn ones included.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn public_slots(
        &self,
        from: i64,
        to: i64,
        since: Option<i64>,
    ) -> Result<Vec<PublicSlotRow>, Error> {
        let changed = if since.is_some() {
            "AND (p.published_at >= $3 OR s.withdrawn_at >= $3 OR EXISTS (SELECT 1 FROM \
             bookings b WHERE b.slot_id = s.id AND (b.created_at >= $3 OR b.cancelled_at >= $3)))"
        } else {
            "AND s.withdrawn_at IS NULL"
        };
        let sql = format!(
            "SELECT s.id, s.cabinet_id, s.rpps, s.start_at, s.end_at, s.withdrawn_at, \
             (SELECT COUNT(*) FROM bookings b \
              WHERE b.slot_id = s.id AND b.cancelled_at IS NULL) AS booked \
             FROM slots s JOIN garde_plans p ON p.id = s.plan_id \
             WHERE p.published_at IS NOT NULL AND s.start_at >= $1 AND s.start_at < $2 \
             {changed} ORDER BY s.start_at, s.id"
        );
        let mut query = sqlx::query(&sql).bind(from).bind(to);
        if let Some(since) = since {
            query = query.bind(since);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                let booked: i64 = row.try_get("booked")?;
                let withdrawn: Option<i64> = row.try_get("withdrawn_at")?;
                Ok(PublicSlotRow {
                    slot: SlotRecord::try_from(row)?,
                    booked: booked > 0,
                    withdrawn: withdrawn.is_some(),
                })
            })
            .collect()
    }

    /// The cabinets that have a slot of a published plan, not withdrawn, starting in
    /// `[from, to)`, by id.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn public_cabinets(&self, from: i64, to: i64) -> Result<Vec<CabinetId>, Error> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT s.cabinet_id FROM slots s JOIN garde_plans p ON p.id = s.plan_id \
             WHERE p.published_at IS NOT NULL AND s.start_at >= $1 AND s.start_at < $2 \
             AND s.withdrawn_at IS NULL ORDER BY s.cabinet_id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        ids.into_iter()
            .map(|id| id.parse().map_err(|_| Error::Corrupt("slots.cabinet_id")))
            .collect()
    }
}

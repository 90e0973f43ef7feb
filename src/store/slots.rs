//! `slots` and `bookings` (FORMATS.md §4): the free slots near a point, booking one, and
//! cancelling a booking.
//!
//! A slot holds at most one active booking: the partial UNIQUE index
//! `bookings_one_active_per_slot` refuses the second insert ([`BookOutcome::Taken`]); nothing
//! here checks first. A cancellation sets `cancelled_at`, which takes the booking out of that
//! index, so the slot is free again.

use super::{Error, NewSlot, Store, now, values_clause};
use crate::domain::{CabinetId, PatientId, Rpps};
use crate::geo::Coordinates;
use sqlx::Row;
use sqlx::any::AnyRow;

const CHUNK: usize = 1000;

/// A stored slot, instants in Unix seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotRecord {
    pub id: i64,
    pub cabinet_id: CabinetId,
    pub rpps: Rpps,
    pub start_at: i64,
    pub end_at: i64,
}

/// A slot with its cabinet's name and position, booked or not: what a search finds
/// ([`Store::free_slots`]), an event describes ([`Store::located_slot`], [`Store::plan_slots`])
/// and the slot board gives back.
#[derive(Clone, Debug, PartialEq)]
pub struct LocatedSlot {
    pub slot: SlotRecord,
    pub cabinet_name: String,
    pub cabinet_coords: Coordinates,
}

/// A slot as the slot board loads it: with its active booking, if any, and the latest of its
/// bookings, cancelled or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardSlotRow {
    pub slot: SlotRecord,
    pub active_booking: Option<i64>,
    pub last_booking: Option<i64>,
}

/// The rectangle of cabinets a search reads, in degrees; `lon: None` reads every longitude
/// (a box crossing the antimeridian, or near a pole).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoundingBox {
    pub lat: (f64, f64),
    pub lon: Option<(f64, f64)>,
}

/// A booking with its slot. `patient_ref` is pseudonymous; still, never log it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookingRecord {
    pub id: i64,
    pub slot: SlotRecord,
    pub patient_ref: PatientId,
    /// The id of the token that booked.
    pub booked_by: String,
    pub created_at: i64,
    pub cancelled_at: Option<i64>,
    /// The id of the token that cancelled.
    pub cancelled_by: Option<String>,
    /// The SAS that booked: its régulateurs' scope (`dep:54`); they alone see the booking.
    pub sas: String,
}

/// What booking a slot did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BookOutcome {
    Booked(BookingRecord),
    /// The slot holds an active booking (the unique index said so).
    Taken,
    /// The slot has ended.
    Ended,
    /// Its doctor was taken off the shift (a garde repair, migration 0018).
    Withdrawn,
    NoSuchSlot,
}

/// What cancelling a booking did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    Cancelled(BookingRecord),
    /// Cancelled before; nothing changed.
    AlreadyCancelled(BookingRecord),
    NotFound,
}

const SLOT_COLUMNS: &str = "s.id, s.cabinet_id, s.rpps, s.start_at, s.end_at";
const BOOKING_SELECT: &str = "SELECT b.id AS booking_id, b.patient_ref, b.booked_by, \
     b.created_at, b.cancelled_at, b.cancelled_by, b.sas, s.id, s.cabinet_id, s.rpps, s.start_at, \
     s.end_at FROM bookings b JOIN slots s ON s.id = b.slot_id";

/// What an INSERT or UPDATE of `bookings` returns to read a [`BookingRecord`] in the same
/// statement: the slot's columns by scalar subqueries (both databases allow them in RETURNING;
/// SQLite does not allow a joined table's columns there).
const BOOKING_RETURNING: &str = "id AS booking_id, patient_ref, booked_by, created_at, \
     cancelled_at, cancelled_by, sas, slot_id AS id, \
     (SELECT s.cabinet_id FROM slots s WHERE s.id = bookings.slot_id) AS cabinet_id, \
     (SELECT s.rpps FROM slots s WHERE s.id = bookings.slot_id) AS rpps, \
     (SELECT s.start_at FROM slots s WHERE s.id = bookings.slot_id) AS start_at, \
     (SELECT s.end_at FROM slots s WHERE s.id = bookings.slot_id) AS end_at";

impl TryFrom<&AnyRow> for SlotRecord {
    type Error = Error;
    fn try_from(row: &AnyRow) -> Result<Self, Error> {
        let cabinet: String = row.try_get("cabinet_id")?;
        let rpps: String = row.try_get("rpps")?;
        Ok(Self {
            id: row.try_get("id")?,
            cabinet_id: cabinet
                .parse()
                .map_err(|_| Error::Corrupt("slots.cabinet_id"))?,
            rpps: rpps.parse().map_err(|_| Error::Corrupt("slots.rpps"))?,
            start_at: row.try_get("start_at")?,
            end_at: row.try_get("end_at")?,
        })
    }
}

impl TryFrom<AnyRow> for BookingRecord {
    type Error = Error;
    fn try_from(row: AnyRow) -> Result<Self, Error> {
        let patient: String = row.try_get("patient_ref")?;
        Ok(Self {
            id: row.try_get("booking_id")?,
            slot: SlotRecord::try_from(&row)?,
            patient_ref: patient
                .parse()
                .map_err(|_| Error::Corrupt("bookings.patient_ref"))?,
            booked_by: row.try_get("booked_by")?,
            created_at: row.try_get("created_at")?,
            cancelled_at: row.try_get("cancelled_at")?,
            cancelled_by: row.try_get("cancelled_by")?,
            sas: row.try_get("sas")?,
        })
    }
}

impl Store {
    /// Creates the slots of plan `plan_id` (which must exist); a slot that exists already
    /// (same cabinet, doctor and start) is kept as it is. Returns how many were created.
    ///
    /// # Errors
    /// [`Error::Unavailable`]; nothing is written on any error (one transaction).
    pub async fn insert_slots(&self, plan_id: &str, slots: &[NewSlot]) -> Result<u64, Error> {
        let mut tx = self.begin_write().await?;
        let created = insert_slots_in(&mut tx, plan_id, slots).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// The slots without an active booking that start in `[from, to)` (Unix seconds) at a
    /// cabinet inside `bbox`, by start then id, after the slot `after` (`(start_at, id)`, a
    /// keyset), at most `limit`. The caller measures the exact distance and pages on: a search
    /// reads only the first starts of its window, through `slots_start`, and the partial
    /// unique index of bookings for the anti-join.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn free_slots(
        &self,
        from: i64,
        to: i64,
        bbox: BoundingBox,
        after: Option<(i64, i64)>,
        limit: usize,
    ) -> Result<Vec<LocatedSlot>, Error> {
        let (lon_min, lon_max) = bbox.lon.unwrap_or((-180.0, 180.0));
        // Before every slot of the window when there is no keyset yet.
        let (after_start, after_id) = after.unwrap_or((from - 1, i64::MAX));
        sqlx::query(&format!(
            "SELECT {SLOT_COLUMNS}, c.name, c.lat, c.lon FROM slots s \
             JOIN cabinets c ON c.cabinet_id = s.cabinet_id \
             WHERE s.start_at >= $5 AND s.start_at < $6 AND s.withdrawn_at IS NULL \
             AND (s.start_at > $7 OR (s.start_at = $7 AND s.id > $8)) \
             AND c.lat >= $1 AND c.lat <= $2 AND c.lon >= $3 AND c.lon <= $4 \
             AND NOT EXISTS (SELECT 1 FROM bookings b \
                             WHERE b.slot_id = s.id AND b.cancelled_at IS NULL) \
             ORDER BY s.start_at, s.id LIMIT $9"
        ))
        // Unnamed, so PostgreSQL plans it with this window's values every time: a cached
        // generic plan, blind to how many slots the window holds, walks every slot of every
        // cabinet of the box and sorts them (measured: 18 ms instead of 0.2 ms for 4,608
        // slots; examples/loadtest.rs).
        .persistent(false)
        .bind(bbox.lat.0)
        .bind(bbox.lat.1)
        .bind(lon_min)
        .bind(lon_max)
        .bind(from)
        .bind(to)
        .bind(after_start)
        .bind(after_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|row| {
            Ok(LocatedSlot {
                slot: SlotRecord::try_from(&row)?,
                cabinet_name: row.try_get("name")?,
                cabinet_coords: Coordinates::new(row.try_get("lat")?, row.try_get("lon")?)
                    .map_err(|_| Error::Corrupt("cabinets.lat/lon"))?,
            })
        })
        .collect()
    }

    /// The free slots of the doctors of `rpps` starting in `[from, to)`, with their cabinets,
    /// by start and id: published, not withdrawn, without an active booking (the slot room's
    /// search by doctor when its board cannot answer).
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn free_slots_of(
        &self,
        from: i64,
        to: i64,
        rpps: &[Rpps],
    ) -> Result<Vec<LocatedSlot>, Error> {
        if rpps.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {SLOT_COLUMNS}, c.name, c.lat, c.lon FROM slots s \
             JOIN cabinets c ON c.cabinet_id = s.cabinet_id \
             WHERE s.start_at >= $1 AND s.start_at < $2 AND s.withdrawn_at IS NULL \
             AND s.rpps IN ({}) \
             AND NOT EXISTS (SELECT 1 FROM bookings b \
                             WHERE b.slot_id = s.id AND b.cancelled_at IS NULL) \
             ORDER BY s.start_at, s.id",
            super::fhir::placeholders(3, rpps.len())
        );
        let mut query = sqlx::query(&sql).persistent(false).bind(from).bind(to);
        for r in rpps {
            query = query.bind(r.as_str());
        }
        query
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|row| {
                Ok(LocatedSlot {
                    slot: SlotRecord::try_from(&row)?,
                    cabinet_name: row.try_get("name")?,
                    cabinet_coords: Coordinates::new(row.try_get("lat")?, row.try_get("lon")?)
                        .map_err(|_| Error::Corrupt("cabinets.lat/lon"))?,
                })
            })
            .collect()
    }

    /// The slots starting in `[from, to)` with their booking state, by cabinet, start and id:
    /// what the slot board (`slots::board`) loads. One statement, so one snapshot of the data.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn board_slots(&self, from: i64, to: i64) -> Result<Vec<BoardSlotRow>, Error> {
        sqlx::query(&format!(
            "SELECT {SLOT_COLUMNS}, \
             (SELECT b.id FROM bookings b \
              WHERE b.slot_id = s.id AND b.cancelled_at IS NULL) AS active_booking, \
             (SELECT MAX(b.id) FROM bookings b WHERE b.slot_id = s.id) AS last_booking \
             FROM slots s WHERE s.start_at >= $1 AND s.start_at < $2 \
             AND s.withdrawn_at IS NULL ORDER BY s.cabinet_id, s.start_at, s.id"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(BoardSlotRow {
                slot: SlotRecord::try_from(row)?,
                active_booking: row.try_get("active_booking")?,
                last_booking: row.try_get("last_booking")?,
            })
        })
        .collect()
    }

    /// The slot with this id.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn slot(&self, id: i64) -> Result<Option<SlotRecord>, Error> {
        sqlx::query(&format!(
            "SELECT {SLOT_COLUMNS} FROM slots s WHERE s.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(SlotRecord::try_from)
        .transpose()
    }

    /// The slot with this id, with its cabinet's name and position, and whether it holds an
    /// active booking.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn located_slot(&self, id: i64) -> Result<Option<(LocatedSlot, bool)>, Error> {
        let Some(row) = sqlx::query(&format!(
            "SELECT {SLOT_COLUMNS}, c.name, c.lat, c.lon, \
             (SELECT COUNT(*) FROM bookings b \
              WHERE b.slot_id = s.id AND b.cancelled_at IS NULL) AS booked \
             FROM slots s JOIN cabinets c ON c.cabinet_id = s.cabinet_id WHERE s.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let booked: i64 = row.try_get("booked")?;
        Ok(Some((
            LocatedSlot {
                slot: SlotRecord::try_from(&row)?,
                cabinet_name: row.try_get("name")?,
                cabinet_coords: Coordinates::new(row.try_get("lat")?, row.try_get("lon")?)
                    .map_err(|_| Error::Corrupt("cabinets.lat/lon"))?,
            },
            booked > 0,
        )))
    }

    /// The slots of garde plan `plan_id`, with their cabinets, by id (for the `published`
    /// events).
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn plan_slots(&self, plan_id: &str) -> Result<Vec<LocatedSlot>, Error> {
        let rows = sqlx::query(&format!(
            "SELECT {SLOT_COLUMNS}, c.name, c.lat, c.lon \
             FROM slots s JOIN cabinets c ON c.cabinet_id = s.cabinet_id \
             WHERE s.plan_id = $1 ORDER BY s.id"
        ))
        .bind(plan_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(LocatedSlot {
                    slot: SlotRecord::try_from(row)?,
                    cabinet_name: row.try_get("name")?,
                    cabinet_coords: Coordinates::new(row.try_get("lat")?, row.try_get("lon")?)
                        .map_err(|_| Error::Corrupt("cabinets.lat/lon"))?,
                })
            })
            .collect()
    }

    /// Slots `ids` (in chunks of 500) with their cabinets and active booking, by id: for the
    /// events of a withdrawal, a swap or a moved booking.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn slots_by_id(&self, ids: &[i64]) -> Result<Vec<(LocatedSlot, Option<i64>)>, Error> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT {SLOT_COLUMNS}, c.name, c.lat, c.lon, \
                 (SELECT MIN(b.id) FROM bookings b \
                  WHERE b.slot_id = s.id AND b.cancelled_at IS NULL) AS booking_id \
                 FROM slots s JOIN cabinets c ON c.cabinet_id = s.cabinet_id \
                 WHERE s.id IN ({}) ORDER BY s.id",
                marks.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.pool).await? {
                out.push((
                    LocatedSlot {
                        slot: SlotRecord::try_from(&row)?,
                        cabinet_name: row.try_get("name")?,
                        cabinet_coords: Coordinates::new(row.try_get("lat")?, row.try_get("lon")?)
                            .map_err(|_| Error::Corrupt("cabinets.lat/lon"))?,
                    },
                    row.try_get("booking_id")?,
                ));
            }
        }
        out.sort_by_key(|(slot, _)| slot.slot.id);
        Ok(out)
    }

    /// Books slot `slot_id` for `patient_ref`, recording who booked (token id and SAS) and
    /// when in the same statement. A slot that has ended is refused; a slot with an active
    /// booking is refused by the unique index, never by a check first.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn book_slot(
        &self,
        slot_id: i64,
        patient_ref: &PatientId,
        booked_by: &str,
        sas: &str,
    ) -> Result<BookOutcome, Error> {
        let at = now();
        // The booking and its audit row are one transaction (all or nothing).
        let mut tx = self.begin_write().await?;
        // A random id (see `random_id`): booking ids tell no count and lead to no other.
        let inserted = sqlx::query(&format!(
            "INSERT INTO bookings (id, slot_id, patient_ref, booked_by, created_at, sas) \
             SELECT $5, id, $2, $3, $4, $6 FROM slots WHERE id = $1 AND end_at > $4 \
             AND withdrawn_at IS NULL \
             RETURNING {BOOKING_RETURNING}"
        ))
        .bind(slot_id)
        .bind(patient_ref.as_str())
        .bind(booked_by)
        .bind(at)
        .bind(super::random_id())
        .bind(sas)
        .fetch_optional(&mut *tx)
        .await
        .map_err(Error::from);
        match inserted {
            Ok(Some(row)) => {
                let booking = BookingRecord::try_from(row)?;
                // Never the patient_ref: the trail holds no personal data.
                let entry = super::AuditEntry::new(
                    "booking.create",
                    "booking",
                    Some(booking.id.to_string()),
                )
                .with_detail(serde_json::json!({ "slot_id": slot_id }));
                super::append_audit_in(&mut tx, self.actor(), &entry).await?;
                // The SAS hears of it (INT_R03) if and only if it is committed.
                super::outbox::touch_in(&mut tx, booking.id).await?;
                tx.commit().await?;
                Ok(BookOutcome::Booked(booking))
            }
            Ok(None) => {
                let withdrawn: Option<Option<i64>> =
                    sqlx::query_scalar("SELECT withdrawn_at FROM slots WHERE id = $1")
                        .bind(slot_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                Ok(match withdrawn {
                    Some(Some(_)) => BookOutcome::Withdrawn,
                    Some(None) => BookOutcome::Ended,
                    None => BookOutcome::NoSuchSlot,
                })
            }
            Err(Error::Conflict(_)) => Ok(BookOutcome::Taken),
            Err(e) => Err(e),
        }
    }

    /// The booking with this id, cancelled or not; `sas`: only one this SAS made.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn booking(
        &self,
        id: i64,
        sas: Option<&str>,
    ) -> Result<Option<BookingRecord>, Error> {
        sqlx::query(&format!(
            "{BOOKING_SELECT} WHERE b.id = $1 AND (CAST($2 AS TEXT) IS NULL OR b.sas = $2)"
        ))
        .bind(id)
        .bind(sas)
        .fetch_optional(&self.pool)
        .await?
        .map(BookingRecord::try_from)
        .transpose()
    }

    /// The bookings SAS `sas` made (`None`: any SAS) from `from` to `to` (Unix seconds,
    /// creation time), of `patient_ref` when given, newest first; at most `limit` after
    /// skipping `offset`.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn bookings(
        &self,
        sas: Option<&str>,
        patient_ref: Option<&PatientId>,
        from: i64,
        to: i64,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<BookingRecord>, Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows = sqlx::query(&format!(
            "{BOOKING_SELECT} WHERE (CAST($1 AS TEXT) IS NULL OR b.sas = $1) \
             AND (CAST($2 AS TEXT) IS NULL OR b.patient_ref = $2) \
             AND b.created_at >= $3 AND b.created_at < $4 \
             ORDER BY b.created_at DESC, b.id LIMIT $5 OFFSET $6"
        ))
        .bind(sas)
        .bind(patient_ref.map(PatientId::as_str))
        .bind(from)
        .bind(to)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(BookingRecord::try_from).collect()
    }

    /// Cancels a booking (`sas`: only one this SAS made; another is
    /// [`CancelOutcome::NotFound`]), which frees its slot; records who cancelled and when.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn cancel_booking(
        &self,
        id: i64,
        cancelled_by: &str,
        sas: Option<&str>,
    ) -> Result<CancelOutcome, Error> {
        let mut tx = self.begin_write().await?;
        let cancelled = sqlx::query(&format!(
            "UPDATE bookings SET cancelled_at = $1, cancelled_by = $2 \
             WHERE id = $3 AND cancelled_at IS NULL \
             AND (CAST($4 AS TEXT) IS NULL OR sas = $4) RETURNING {BOOKING_RETURNING}"
        ))
        .bind(now())
        .bind(cancelled_by)
        .bind(id)
        .bind(sas)
        .fetch_optional(&mut *tx)
        .await?
        .map(BookingRecord::try_from)
        .transpose()?;
        let Some(booking) = cancelled else {
            tx.rollback().await?;
            return Ok(match self.booking(id, sas).await? {
                Some(b) => CancelOutcome::AlreadyCancelled(b),
                None => CancelOutcome::NotFound,
            });
        };
        let entry = super::AuditEntry::new("booking.cancel", "booking", Some(id.to_string()));
        super::append_audit_in(&mut tx, self.actor(), &entry).await?;
        super::outbox::touch_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(CancelOutcome::Cancelled(booking))
    }
}

/// Inserts the slots of plan `plan_id` inside transaction `tx` (see [`Store::insert_slots`]);
/// publishing a plan calls it in its own transaction.
pub(super) async fn insert_slots_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    plan_id: &str,
    slots: &[NewSlot],
) -> Result<u64, Error> {
    let mut created = 0;
    for chunk in slots.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO slots (plan_id, cabinet_id, rpps, start_at, end_at) VALUES {} \
             ON CONFLICT (cabinet_id, rpps, start_at) DO NOTHING",
            values_clause(chunk.len(), 5, 1)
        );
        let mut q = sqlx::query(&sql);
        for s in chunk {
            q = q
                .bind(plan_id)
                .bind(&s.cabinet_id)
                .bind(&s.rpps)
                .bind(s.start_at)
                .bind(s.end_at);
        }
        created += q.execute(&mut **tx).await?.rows_affected();
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Executor;

    #[tokio::test]
    async fn a_slot_is_booked_once_until_cancelled_and_ended_slots_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let future = now() + 3600;
        for sql in [
            "INSERT INTO tokens (id, role, label, hash, created_at) \
             VALUES ('t1', 'regulateur', '', 'h', 0)"
                .to_owned(),
            "INSERT INTO cabinets (cabinet_id, name, lat, lon, insee, need, updated_at) \
             VALUES ('c1', 'C', 48.7, 6.2, '54395', 1, 0)"
                .to_owned(),
            "INSERT INTO garde_plans (id, period_start, period_end, created_at) \
             VALUES ('g1', '2026-01-01', '2026-01-31', 0)"
                .to_owned(),
        ] {
            store.pool.execute(sql.as_str()).await.unwrap();
        }
        let slot = |start: i64| NewSlot {
            cabinet_id: "c1".into(),
            rpps: "10000000009".into(),
            start_at: start,
            end_at: start + 900,
        };
        let created = store
            .insert_slots("g1", &[slot(future), slot(100), slot(future)])
            .await
            .unwrap();
        assert_eq!(created, 2, "the duplicate is kept once");
        let bbox = BoundingBox {
            lat: (48.0, 49.0),
            lon: Some((6.0, 7.0)),
        };
        let free = store
            .free_slots(0, future + 1, bbox, None, 100)
            .await
            .unwrap();
        assert_eq!(free.len(), 2);
        let open = free.iter().find(|f| f.slot.start_at == future).unwrap();
        let past = free.iter().find(|f| f.slot.start_at == 100).unwrap();
        let p: PatientId = "P1".parse().unwrap();

        let BookOutcome::Booked(b) = store
            .book_slot(open.slot.id, &p, "t1", "dep:54")
            .await
            .unwrap()
        else {
            panic!("expected a booking");
        };
        assert_eq!(b.slot, open.slot);
        assert_eq!(
            store
                .book_slot(open.slot.id, &p, "t1", "dep:54")
                .await
                .unwrap(),
            BookOutcome::Taken
        );
        assert_eq!(
            store
                .book_slot(past.slot.id, &p, "t1", "dep:54")
                .await
                .unwrap(),
            BookOutcome::Ended
        );
        assert_eq!(
            store.book_slot(999, &p, "t1", "dep:54").await.unwrap(),
            BookOutcome::NoSuchSlot
        );
        assert_eq!(
            store
                .free_slots(0, future + 1, bbox, None, 100)
                .await
                .unwrap()
                .len(),
            1
        );

        // Another SAS neither sees nor cancels it, and cannot tell it from no booking.
        assert_eq!(store.booking(b.id, Some("dep:57")).await.unwrap(), None);
        assert_eq!(
            store
                .cancel_booking(b.id, "t1", Some("dep:57"))
                .await
                .unwrap(),
            CancelOutcome::NotFound
        );
        assert_eq!(
            store
                .booking(b.id, Some("dep:54"))
                .await
                .unwrap()
                .map(|b| b.sas),
            Some("dep:54".to_owned())
        );
        assert!(matches!(
            store.cancel_booking(b.id, "t1", Some("dep:54")).await.unwrap(),
            CancelOutcome::Cancelled(c) if c.cancelled_by.as_deref() == Some("t1")
        ));
        assert!(matches!(
            store.cancel_booking(b.id, "t1", None).await.unwrap(),
            CancelOutcome::AlreadyCancelled(_)
        ));
        assert_eq!(
            store.cancel_booking(999, "t1", None).await.unwrap(),
            CancelOutcome::NotFound
        );
        assert_eq!(
            store
                .free_slots(0, future + 1, bbox, None, 100)
                .await
                .unwrap()
                .len(),
            2
        );
        assert!(matches!(
            store
                .book_slot(open.slot.id, &p, "t1", "dep:54")
                .await
                .unwrap(),
            BookOutcome::Booked(_)
        ));
    }
}

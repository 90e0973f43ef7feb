//! `appointment_outbox` (migration 0026): the appointment feedback to the SAS (INT_R03).
//!
//! Every change of a booking touches its row ([`touch_in`], [`touch_slots_in`]) inside the
//! transaction of the change, so a committed change is never lost and a rolled-back one never
//! sent. A sender ([`Store::claim_appointment`]) takes one due row under a lease: one
//! statement, with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so two processes never send the
//! same booking at once; a sender that died leaves its lease to expire.

use super::{Backend, Error, Store, now};
use crate::domain::Rpps;
use sqlx::{Any, Row, Transaction};

/// Records a change of booking `booking_id` inside the transaction that makes it: its outbox
/// row is created or its version bumped, and it is due at once.
pub(super) async fn touch_in(tx: &mut Transaction<'_, Any>, booking_id: i64) -> Result<(), Error> {
    let at = now();
    sqlx::query(
        "INSERT INTO appointment_outbox (booking_id, version, changed_at, next_at) \
         VALUES ($1, 1, $2, $2) \
         ON CONFLICT (booking_id) DO UPDATE SET version = appointment_outbox.version + 1, \
         changed_at = $2, next_at = $2, failures = 0",
    )
    .bind(booking_id)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// [`touch_in`] for the active bookings of slots `slot_ids` (their slot changed doctor).
pub(super) async fn touch_slots_in(
    tx: &mut Transaction<'_, Any>,
    slot_ids: &[i64],
) -> Result<(), Error> {
    for chunk in slot_ids.chunks(500) {
        let marks: Vec<String> = (2..chunk.len() + 2).map(|n| format!("${n}")).collect();
        let sql = format!(
            "INSERT INTO appointment_outbox (booking_id, version, changed_at, next_at) \
             SELECT b.id, 1, $1, $1 FROM bookings b \
             WHERE b.cancelled_at IS NULL AND b.slot_id IN ({}) \
             ON CONFLICT (booking_id) DO UPDATE SET version = appointment_outbox.version + 1, \
             changed_at = $1, next_at = $1, failures = 0",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(now());
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A row claimed by a sender: the version it covers and what the SAS already has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedAppointment {
    pub booking_id: i64,
    /// The version this send covers: the row's at the claim.
    pub version: i64,
    /// A create was sent before, acknowledged or not.
    pub create_tried: bool,
    /// The SAS acknowledged a create.
    pub created: bool,
    /// Sends of this row so far, this one included.
    pub attempts: i64,
    /// Failed sends in a row before this one (the backoff's exponent).
    pub failures: i64,
}

/// What a sender needs of a booking to describe it as a FHIR Appointment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppointmentRow {
    pub booking_id: i64,
    pub rpps: Rpps,
    pub start_at: i64,
    pub end_at: i64,
    pub created_at: i64,
    pub cancelled_at: Option<i64>,
    /// The token that booked.
    pub booked_by: String,
    /// Its identity when a person signed in (`rpps:…`, `sub:…`), if any.
    pub booked_by_identity: Option<String>,
}

/// The outbox in numbers: rows, rows not sent yet, sends, failed sends so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub rows: i64,
    pub pending: i64,
    pub attempts: i64,
    pub acknowledged_creates: i64,
}

impl Store {
    /// Claims the due row waiting longest (`next_at` passed, not leased or its lease over) for
    /// `owner` until `now + lease_s`; `None` when nothing is due.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn claim_appointment(
        &self,
        owner: &str,
        lease_s: i64,
    ) -> Result<Option<ClaimedAppointment>, Error> {
        let at = now();
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let row = sqlx::query(&format!(
            "UPDATE appointment_outbox SET lease_owner = $1, leased_until = $2, \
             attempts = attempts + 1 \
             WHERE booking_id = (SELECT booking_id FROM appointment_outbox \
                                 WHERE sent_version < version AND next_at <= $3 \
                                 AND (leased_until IS NULL OR leased_until < $3) \
                                 ORDER BY next_at, booking_id LIMIT 1{lock}) \
             AND (leased_until IS NULL OR leased_until < $3) \
             RETURNING booking_id, version, create_tried_at, create_acked_at, attempts, failures"
        ))
        .bind(owner)
        .bind(at + lease_s)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let tried: Option<i64> = row.try_get("create_tried_at")?;
        let created: Option<i64> = row.try_get("create_acked_at")?;
        Ok(Some(ClaimedAppointment {
            booking_id: row.try_get("booking_id")?,
            version: row.try_get("version")?,
            create_tried: tried.is_some(),
            created: created.is_some(),
            attempts: row.try_get("attempts")?,
            failures: row.try_get("failures")?,
        }))
    }

    /// Records, before sending it, that a create of `booking_id` leaves now: from then on its
    /// outcome is unknown until acknowledged, and only conditional updates follow. `false`
    /// when `owner` lost the lease (send nothing).
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn appointment_create_tried(
        &self,
        booking_id: i64,
        owner: &str,
    ) -> Result<bool, Error> {
        let done = sqlx::query(
            "UPDATE appointment_outbox SET create_tried_at = $1 \
             WHERE booking_id = $2 AND lease_owner = $3",
        )
        .bind(now())
        .bind(booking_id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The SAS acknowledged `version` of `booking_id` (a create or an update: either way it
    /// holds the appointment now); the lease ends. `false` when `owner` had lost the lease.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn appointment_sent(
        &self,
        booking_id: i64,
        owner: &str,
        version: i64,
    ) -> Result<bool, Error> {
        let at = now();
        let done = sqlx::query(
            "UPDATE appointment_outbox SET sent_version = $1, sent_at = $2, \
             create_acked_at = COALESCE(create_acked_at, $2), failures = 0, last_error = NULL, \
             lease_owner = NULL, leased_until = NULL \
             WHERE booking_id = $3 AND lease_owner = $4",
        )
        .bind(version)
        .bind(at)
        .bind(booking_id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A send of `booking_id` failed with `error` (no personal data in it): due again in
    /// `retry_in_s` seconds; the lease ends.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn appointment_failed(
        &self,
        booking_id: i64,
        owner: &str,
        retry_in_s: i64,
        error: &str,
    ) -> Result<(), Error> {
        sqlx::query(
            "UPDATE appointment_outbox SET failures = failures + 1, next_at = $1, \
             last_error = $2, lease_owner = NULL, leased_until = NULL \
             WHERE booking_id = $3 AND lease_owner = $4",
        )
        .bind(now() + retry_in_s)
        .bind(error)
        .bind(booking_id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Booking `booking_id` as the SAS's Appointment describes it, cancelled or not.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn appointment_row(&self, booking_id: i64) -> Result<Option<AppointmentRow>, Error> {
        let Some(row) = sqlx::query(
            "SELECT b.id, s.rpps, s.start_at, s.end_at, b.created_at, b.cancelled_at, \
             b.booked_by, t.oidc_subject FROM bookings b JOIN slots s ON s.id = b.slot_id \
             LEFT JOIN tokens t ON t.id = b.booked_by WHERE b.id = $1",
        )
        .bind(booking_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let rpps: String = row.try_get("rpps")?;
        Ok(Some(AppointmentRow {
            booking_id: row.try_get("id")?,
            rpps: rpps.parse().map_err(|_| Error::Corrupt("slots.rpps"))?,
            start_at: row.try_get("start_at")?,
            end_at: row.try_get("end_at")?,
            created_at: row.try_get("created_at")?,
            cancelled_at: row.try_get("cancelled_at")?,
            booked_by: row.try_get("booked_by")?,
            booked_by_identity: row.try_get("oidc_subject")?,
        }))
    }

    /// The outbox in numbers.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, Error> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, \
             COALESCE(SUM(CASE WHEN sent_version < version THEN 1 ELSE 0 END), 0) AS pending, \
             CAST(COALESCE(SUM(attempts), 0) AS BIGINT) AS attempts, \
             COALESCE(SUM(CASE WHEN create_acked_at IS NULL THEN 0 ELSE 1 END), 0) AS created \
             FROM appointment_outbox",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(OutboxCounts {
            rows: row.try_get("n")?,
            pending: row.try_get("pending")?,
            attempts: row.try_get("attempts")?,
            acknowledged_creates: row.try_get("created")?,
        })
    }
}

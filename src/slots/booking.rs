//! The booking sequence: claim the slot in Redis, store the booking, tell the board, announce
//! it. Cancelling: store the cancellation, tell the board, announce `freed`.
//!
//! A slot holds one booking: the store's unique index refuses the second one
//! ([`Error::Taken`]); nothing here checks first. Redis down (`cache::Error::is_outage`),
//! a booking goes on without the claim and its announcement is lost (the boards reload
//! when Redis returns). With Redis, a slot another régulateur holds
//! (`cache::holds`) is refused ([`Error::Held`]); a booking without a hold holds the slot
//! silently while it runs, so a hold never lands on a slot being booked.

use super::{Error, Slots};
use crate::cache::BookingClaim;
use crate::domain::PatientId;
use crate::store::{BookOutcome, BookingRecord, CancelOutcome};

impl Slots {
    /// Books slot `slot_id` for `patient_ref` on behalf of `owner` (a token id: the holder,
    /// if the slot is held) of SAS `sas`. The booking is recorded under this handle's store's
    /// actor.
    ///
    /// # Errors
    /// [`Error::Held`]: another régulateur holds the slot; [`Error::Taken`]: it holds a
    /// booking; [`Error::Ended`]; [`Error::NoSuchSlot`]; [`Error::Store`]: the database does
    /// not answer; [`Error::Cache`]: Redis answered something unexpected (Redis down is no
    /// error here). A booking stands once stored: a failure to
    /// announce it afterwards is logged, not returned.
    pub async fn book(
        &self,
        slot_id: i64,
        patient_ref: &PatientId,
        owner: &str,
        sas: &str,
    ) -> Result<BookingRecord, Error> {
        // Redis is an accelerator here: down, the booking goes on without a claim, and the
        // database's unique index decides between two bookings as it always does.
        let claim = match &self.cache {
            Some(cache) => match cache.claim_for_booking(slot_id, owner).await {
                Ok(claim) => Some(claim),
                Err(e) if e.is_outage() => {
                    tracing::debug!(error = %e, slot = slot_id, "booking without a claim: Redis is down");
                    None
                }
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        if claim == Some(BookingClaim::HeldByOther) {
            // A régulateur's hold refuses the booking. Another booking's silent claim does not:
            // the database's unique index decides between two bookings (one booked, one
            // taken), exactly as without Redis.
            let announced = match &self.cache {
                Some(cache) => match cache.hold_announced(slot_id).await {
                    Ok(announced) => announced,
                    Err(e) if e.is_outage() => false,
                    Err(e) => return Err(e.into()),
                },
                None => false,
            };
            if announced {
                return Err(Error::Held);
            }
        }
        let outcome = self.store.book_slot(slot_id, patient_ref, owner, sas).await;
        if let (Some(board), Ok(BookOutcome::Booked(b))) = (&self.board, &outcome) {
            board.booked(slot_id, b.id);
        }
        match &outcome {
            Ok(BookOutcome::Booked(b)) => {
                // The booking stands whatever happens next; a lost event is logged.
                if let Err(e) = self.announce_booking(slot_id, b.id, Some(owner)).await {
                    tracing::error!(error = %e, slot = slot_id, "booked, but the event was not written");
                }
            }
            _ if claim == Some(BookingClaim::Silent) => {
                if let Some(cache) = &self.cache
                    && let Err(e) = cache.drop_hold(slot_id, owner).await
                {
                    tracing::warn!(error = %e, slot = slot_id, "cannot drop a booking's hold; it expires");
                }
            }
            _ => {}
        }
        match outcome? {
            BookOutcome::Booked(b) => Ok(b),
            BookOutcome::Taken => Err(Error::Taken),
            BookOutcome::Ended => Err(Error::Ended),
            BookOutcome::Withdrawn => Err(Error::Withdrawn),
            BookOutcome::NoSuchSlot => Err(Error::NoSuchSlot),
        }
    }

    /// Cancels booking `booking_id` on behalf of `by` (a token id) of SAS `sas` (`None`:
    /// whoever booked it); its slot is free again.
    ///
    /// # Errors
    /// [`Error::NoSuchBooking`], also for another SAS's booking; [`Error::AlreadyCancelled`]
    /// (nothing changed); [`Error::Store`]. A failure to announce the cancellation is logged,
    /// not returned.
    pub async fn cancel(
        &self,
        booking_id: i64,
        by: &str,
        sas: Option<&str>,
    ) -> Result<BookingRecord, Error> {
        match self.store.cancel_booking(booking_id, by, sas).await? {
            CancelOutcome::Cancelled(b) => {
                if let Some(board) = &self.board {
                    board.freed(b.slot.id, booking_id);
                }
                if let Err(e) = self.announce_booking(b.slot.id, booking_id, None).await {
                    tracing::error!(error = %e, booking = booking_id, "cancelled, but the event was not written");
                }
                Ok(b)
            }
            CancelOutcome::AlreadyCancelled(b) => Err(Error::AlreadyCancelled {
                cancelled_at: b.cancelled_at,
            }),
            CancelOutcome::NotFound => Err(Error::NoSuchBooking),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::board::tests::{query, store_with_slots};
    use super::super::{Board, Slots};
    use super::*;
    use std::time::Duration;

    /// Without Redis: a booking shows on the board at once, a second one is refused by the
    /// database, and a cancellation frees the slot on the board.
    #[tokio::test]
    async fn a_booking_and_its_cancellation_reach_the_board() {
        let (_dir, store, slot_ids) = store_with_slots().await;
        let board = Board::new(store.clone(), Duration::from_secs(3600));
        board.load().await.expect("a load");
        let room = Slots::new(store, None, Some(board));
        let q = query(chrono::Utc::now().timestamp(), 10);
        let free = |found: Vec<super::super::Found>| -> Vec<i64> {
            found.into_iter().map(|(_, f)| f.slot.id).collect()
        };
        let p: PatientId = "P1".parse().expect("a patient ref");
        let b = room
            .book(slot_ids[0], &p, "t1", "dep:54")
            .await
            .expect("booked");
        assert_eq!(b.slot.id, slot_ids[0]);
        assert_eq!(
            free(room.search(&q).await.expect("a search")),
            slot_ids[1..]
        );
        assert!(matches!(
            room.book(slot_ids[0], &p, "t1", "dep:54").await,
            Err(Error::Taken)
        ));
        assert!(matches!(
            room.book(999_999, &p, "t1", "dep:54").await,
            Err(Error::NoSuchSlot)
        ));
        let c = room
            .cancel(b.id, "t1", Some("dep:54"))
            .await
            .expect("cancelled");
        assert!(c.cancelled_at.is_some());
        assert_eq!(free(room.search(&q).await.expect("a search")), slot_ids);
        assert!(matches!(
            room.cancel(b.id, "t1", Some("dep:54")).await,
            Err(Error::AlreadyCancelled {
                cancelled_at: Some(_)
            })
        ));
        assert!(matches!(
            room.cancel(999_999, "t1", Some("dep:54")).await,
            Err(Error::NoSuchBooking)
        ));
        assert_eq!(
            room.holders(&slot_ids).await.expect("no Redis"),
            [None, None, None]
        );
    }
}

//! What the slot room tells the other processes and the régulateurs' listeners: the events
//! it appends to the Redis slot stream ([`crate::cache::events`]), typed by [`EventKind`].
//!
//! Every event's data is a JSON object describing the slot ([`SlotInfo`]: `slot_id`,
//! `cabinet_id`, `lat`, `lon`, `start`, `end`) plus the fields of its kind (`booking_id`,
//! `held_until`, `plan_id`; for the living roster of issue 18, `withdrawal_id` on `withdrawn`,
//! `from_slot_id` on `moved`, `offer_id` and `rpps` on `swapped`); `cabinet_changed` carries
//! `cabinet_id` only. Holds append theirs
//! inside Redis's scripts (`cache::holds`), the rest is appended here. An event is sent after
//! its change is committed, and a failure to send it never undoes the change: it is logged,
//! and the boards' next load repairs what they missed.

pub use crate::cache::{EventKind, SlotInfo};

use super::{Error, Slots};
use crate::domain::CabinetId;
use crate::garde::calendar::paris_rfc3339;
use crate::store::{BookingMove, LocatedSlot};

/// What every event about `slot` says of it.
pub fn slot_info(slot: &LocatedSlot) -> SlotInfo {
    SlotInfo {
        slot_id: slot.slot.id,
        cabinet_id: slot.slot.cabinet_id.to_string(),
        lat: slot.cabinet_coords.lat(),
        lon: slot.cabinet_coords.lon(),
        start: paris_rfc3339(slot.slot.start_at),
        end: paris_rfc3339(slot.slot.end_at),
    }
}

/// The JSON data of an event: the slot's description and `extra` fields, keys sorted
/// (serde_json's map).
pub fn event_data(info: &SlotInfo, extra: &[(&str, serde_json::Value)]) -> String {
    let mut v = serde_json::to_value(info).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        for (k, x) in extra {
            map.insert((*k).to_owned(), x.clone());
        }
    }
    v.to_string()
}

impl Slots {
    /// The slot and its cabinet, booked or not: from the board when it holds them, else from
    /// the database.
    ///
    /// # Errors
    /// [`Error::NoSuchSlot`], [`Error::Store`].
    pub async fn located(&self, slot_id: i64) -> Result<LocatedSlot, Error> {
        if let Some(slot) = self.board.as_ref().and_then(|b| b.slot(slot_id)) {
            return Ok(slot);
        }
        let (slot, _) = self
            .store
            .located_slot(slot_id)
            .await?
            .ok_or(Error::NoSuchSlot)?;
        Ok(slot)
    }

    /// Appends `booked` to the slot stream, ending the hold of the booker `booked_by`, or,
    /// with `None`, `freed`: a cancelled booking's slot is free again. Nothing without Redis.
    ///
    /// # Errors
    /// [`Error::Cache`], [`Error::Store`], [`Error::NoSuchSlot`] (the slot vanished).
    pub(super) async fn announce_booking(
        &self,
        slot_id: i64,
        booking_id: i64,
        booked_by: Option<&str>,
    ) -> Result<(), Error> {
        let Some(cache) = &self.cache else {
            return Ok(());
        };
        let slot = self.located(slot_id).await?;
        let event = event_data(&slot_info(&slot), &[("booking_id", booking_id.into())]);
        match booked_by {
            Some(owner) => cache.booked(slot_id, owner, &event).await?,
            None => cache.append_event(EventKind::Freed, &event).await?,
        };
        Ok(())
    }

    /// After garde plan `plan_id` was published: this process's board reloads, and a
    /// `published` event is appended for each of the plan's slots, for the listeners of
    /// `/slots/events` and the other processes' boards. The plan is published whatever
    /// happens here: a failure is logged.
    pub async fn published(&self, plan_id: &str) {
        if let Some(board) = &self.board {
            board.invalidate();
        }
        let Some(cache) = &self.cache else {
            return;
        };
        let slots = match self.store.plan_slots(plan_id).await {
            Ok(slots) => slots,
            Err(e) => {
                tracing::warn!(plan = %plan_id, error = %e, "cannot read the published slots for their events");
                return;
            }
        };
        let data: Vec<String> = slots
            .iter()
            .map(|slot| event_data(&slot_info(slot), &[("plan_id", plan_id.into())]))
            .collect();
        if let Err(e) = cache.append_events(EventKind::Published, &data).await {
            tracing::warn!(plan = %plan_id, error = %e, "cannot append the published events");
        }
    }

    /// After a roster change moved or removed slots `ids` (a withdrawal, a swap, a repair's
    /// moved bookings): this process's board reloads, and one event of `kind` per slot goes
    /// to the other processes' boards (they reload) and to the listeners of `/slots/events`
    /// in the slot's area. `extra` gives each slot's fields of its kind, knowing its active
    /// booking. The change stands whatever happens here: a failure is logged.
    async fn roster_changed(
        &self,
        kind: EventKind,
        ids: &[i64],
        extra: impl Fn(&LocatedSlot, Option<i64>) -> Vec<(&'static str, serde_json::Value)>,
    ) {
        if let Some(board) = &self.board {
            board.invalidate();
        }
        let Some(cache) = &self.cache else {
            return;
        };
        if ids.is_empty() {
            return;
        }
        let slots = match self.store.slots_by_id(ids).await {
            Ok(slots) => slots,
            Err(e) => {
                tracing::warn!(%kind, error = %e, "cannot read the changed slots for their events; boards reload on their period");
                return;
            }
        };
        let data: Vec<String> = slots
            .iter()
            .map(|(slot, booking)| event_data(&slot_info(slot), &extra(slot, *booking)))
            .collect();
        if let Err(e) = cache.append_events(kind, &data).await {
            tracing::warn!(%kind, error = %e, "cannot append the roster's events; boards reload on their period");
        }
    }

    /// After withdrawal `withdrawal` took a doctor off a shift: `withdrawn` for each of its
    /// slots `ids`, with the `booking_id` now flagged when one was booked.
    pub async fn withdrawn(&self, withdrawal: i64, ids: &[i64]) {
        self.roster_changed(EventKind::Withdrawn, ids, |_, booking| {
            let mut extra = vec![("withdrawal_id", withdrawal.into())];
            if let Some(b) = booking {
                extra.push(("booking_id", b.into()));
            }
            extra
        })
        .await;
    }

    /// After offer `offer` moved slots `ids` to another doctor: `swapped` for each, with the
    /// doctor now and the `booking_id` that stands on it.
    pub async fn swapped(&self, offer: i64, ids: &[i64]) {
        self.roster_changed(EventKind::Swapped, ids, |slot, booking| {
            let mut extra = vec![
                ("offer_id", offer.into()),
                ("rpps", slot.slot.rpps.to_string().into()),
            ];
            if let Some(b) = booking {
                extra.push(("booking_id", b.into()));
            }
            extra
        })
        .await;
    }

    /// After a repair's publication moved flagged bookings: `moved` on each new slot, with the
    /// booking and the withdrawn slot it left.
    pub async fn moved(&self, moves: &[BookingMove]) {
        let ids: Vec<i64> = moves.iter().map(|m| m.to_slot).collect();
        self.roster_changed(EventKind::Moved, &ids, |slot, _| {
            moves
                .iter()
                .find(|m| m.to_slot == slot.slot.id)
                .map(|m| {
                    vec![
                        ("booking_id", m.booking_id.into()),
                        ("from_slot_id", m.from_slot.into()),
                    ]
                })
                .unwrap_or_default()
        })
        .await;
    }

    /// After cabinet `id` was changed (name or position): this process's board reloads, and
    /// through a `cabinet_changed` event every other's. The event has no position, so no
    /// listener of `/slots/events` hears it. A failure to append it is logged: the other
    /// boards then show the change after their next periodic load.
    pub async fn cabinet_changed(&self, id: &CabinetId) {
        if let Some(board) = &self.board {
            board.invalidate();
        }
        if let Some(cache) = &self.cache {
            let data = serde_json::json!({ "cabinet_id": id.as_str() }).to_string();
            if let Err(e) = cache.append_event(EventKind::CabinetChanged, &data).await {
                tracing::warn!(error = %e, "cannot announce a changed cabinet; other boards reload on their period");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::Coordinates;
    use crate::store::SlotRecord;

    /// The event data keeps its fields, their order and the Paris offsets: the wire format the
    /// listeners of tests/api/holds.rs and examples/race.rs read.
    #[test]
    fn event_data_describes_the_slot_then_its_kind_fields() {
        let slot = LocatedSlot {
            slot: SlotRecord {
                id: 7,
                cabinet_id: "CAB-1".parse().expect("a cabinet id"),
                rpps: "10000000009".parse().expect("an RPPS"),
                // 2026-03-02T17:00:00Z, winter time in Paris.
                start_at: 1_772_470_800,
                end_at: 1_772_471_700,
            },
            cabinet_name: "Cabinet".to_owned(),
            cabinet_coords: Coordinates::new(48.5, 6.25).expect("in range"),
        };
        assert_eq!(
            event_data(&slot_info(&slot), &[("booking_id", 3.into())]),
            concat!(
                r#"{"booking_id":3,"cabinet_id":"CAB-1","end":"2026-03-02T18:15:00+01:00","#,
                r#""lat":48.5,"lon":6.25,"slot_id":7,"start":"2026-03-02T18:00:00+01:00"}"#
            )
        );
    }
}

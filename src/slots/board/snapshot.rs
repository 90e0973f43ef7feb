//! One load of the board: an in-memory index of the slots by cabinet and start, with their
//! booking state. Pure: no I/O, no locks, no clock; [`super::Board`] shares and refreshes it.

use super::super::search::{DoctorQuery, Found, SlotQuery};
use crate::domain::{CabinetId, Rpps};
use crate::geo::{Coordinates, cost_m, degree_box, haversine_m};
use crate::store::{BoardSlotRow, LocatedSlot, SlotRecord};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// A booking change heard of: a slot booked or freed by booking `booking_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Booked { slot_id: i64, booking_id: i64 },
    Freed { slot_id: i64, booking_id: i64 },
}

#[derive(Clone, Debug)]
struct Slot {
    id: i64,
    start_at: i64,
    end_at: i64,
    /// Index in [`Snapshot::doctors`].
    doctor: u32,
    active: Option<i64>,
    /// The latest booking id heard of for this slot (0: none).
    seen: i64,
}

#[derive(Clone, Debug)]
struct Cabinet {
    id: CabinetId,
    name: String,
    coords: Coordinates,
    /// By start, then id.
    slots: Vec<Slot>,
}

/// One load of the board, with the changes heard since.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Slots starting in `[from, to)` are all here.
    from: i64,
    to: i64,
    cabinets: Vec<Cabinet>,
    doctors: Vec<Rpps>,
    /// Slot id → (cabinet, position).
    index: HashMap<i64, (u32, u32)>,
}

impl Snapshot {
    /// A snapshot of the slots starting in `[from, to)`: `rows` as
    /// [`crate::store::Store::board_slots`] gives them, `cabinets` every cabinet they refer to
    /// (a slot of an unknown cabinet is left out).
    pub fn new(
        from: i64,
        to: i64,
        cabinets: impl IntoIterator<Item = (CabinetId, String, Coordinates)>,
        rows: Vec<BoardSlotRow>,
    ) -> Self {
        let mut cabs: Vec<Cabinet> = cabinets
            .into_iter()
            .map(|(id, name, coords)| Cabinet {
                id,
                name,
                coords,
                slots: Vec::new(),
            })
            .collect();
        let by_id: HashMap<CabinetId, u32> = cabs
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i as u32))
            .collect();
        let mut doctors = Vec::new();
        let mut doctor_index: HashMap<Rpps, u32> = HashMap::new();
        for row in rows {
            let Some(&c) = by_id.get(&row.slot.cabinet_id) else {
                continue;
            };
            let doctor = *doctor_index
                .entry(row.slot.rpps.clone())
                .or_insert_with(|| {
                    doctors.push(row.slot.rpps.clone());
                    (doctors.len() - 1) as u32
                });
            cabs[c as usize].slots.push(Slot {
                id: row.slot.id,
                start_at: row.slot.start_at,
                end_at: row.slot.end_at,
                doctor,
                active: row.active_booking,
                seen: row.last_booking.unwrap_or(0),
            });
        }
        let mut index = HashMap::new();
        for (c, cab) in cabs.iter_mut().enumerate() {
            cab.slots.sort_by_key(|s| (s.start_at, s.id));
            for (p, s) in cab.slots.iter().enumerate() {
                index.insert(s.id, (c as u32, p as u32));
            }
        }
        Self {
            from,
            to,
            cabinets: cabs,
            doctors,
            index,
        }
    }

    /// How many slots it holds.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when it holds no slot.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Applies a change; one about a booking older than the slot's latest known is ignored.
    pub fn apply(&mut self, change: Change) {
        let (slot_id, booking_id, booked) = match change {
            Change::Booked {
                slot_id,
                booking_id,
            } => (slot_id, booking_id, true),
            Change::Freed {
                slot_id,
                booking_id,
            } => (slot_id, booking_id, false),
        };
        let Some(&(c, p)) = self.index.get(&slot_id) else {
            return;
        };
        let slot = &mut self.cabinets[c as usize].slots[p as usize];
        if booking_id > slot.seen {
            slot.seen = booking_id;
            slot.active = booked.then_some(booking_id);
        } else if !booked && slot.active == Some(booking_id) {
            slot.active = None;
        }
    }

    /// The slot with this id, with its cabinet, booked or not.
    pub fn slot(&self, slot_id: i64) -> Option<LocatedSlot> {
        let &(c, p) = self.index.get(&slot_id)?;
        let cab = &self.cabinets[c as usize];
        Some(self.located(cab, &cab.slots[p as usize]))
    }

    /// Whether the slot with this id holds a booking, as far as this snapshot knows; `None`
    /// when it does not hold the slot.
    pub fn is_booked(&self, slot_id: i64) -> Option<bool> {
        let &(c, p) = self.index.get(&slot_id)?;
        Some(self.cabinets[c as usize].slots[p as usize].active.is_some())
    }

    fn located(&self, cab: &Cabinet, s: &Slot) -> LocatedSlot {
        LocatedSlot {
            slot: SlotRecord {
                id: s.id,
                cabinet_id: cab.id.clone(),
                rpps: self.doctors[s.doctor as usize].clone(),
                start_at: s.start_at,
                end_at: s.end_at,
            },
            cabinet_name: cab.name.clone(),
            cabinet_coords: cab.coords,
        }
    }

    /// True when the window of `q` lies within what this snapshot holds.
    pub fn covers(&self, q: &SlotQuery) -> bool {
        self.covers_window(q.from, q.to)
    }

    /// The free slots of `q` (which [`Snapshot::covers`] must hold), as
    /// [`super::super::search_in_database`] gives them: every free slot within the radius
    /// starting no later than the `need`-th, by start and id. Pass the result to
    /// [`super::super::settle`].
    ///
    /// # Complexity
    /// A k-way merge of the slot lists of the cabinets within the circle: O(C + n log C) for
    /// C cabinets and n slots read, which stops once the page is settled.
    pub fn search(&self, q: &SlotQuery) -> Vec<Found> {
        let ((lat_min, lat_max), lon) = degree_box(q.center, q.radius_m);
        // Merge the slot lists of the cabinets within the circle, by (start, id).
        let mut heap = BinaryHeap::new();
        let mut distance = Vec::new();
        for (c, cab) in self.cabinets.iter().enumerate() {
            let (lat, lon_c) = (cab.coords.lat(), cab.coords.lon());
            let in_box = lat >= lat_min
                && lat <= lat_max
                && lon.is_none_or(|(lo, hi)| lon_c >= lo && lon_c <= hi);
            if !in_box || cab.slots.is_empty() {
                continue;
            }
            let d = haversine_m(q.center, cab.coords);
            if d > q.radius_m {
                continue;
            }
            let p = cab.slots.partition_point(|s| s.start_at < q.from);
            if let Some(s) = cab.slots.get(p) {
                heap.push(Reverse((s.start_at, s.id, distance.len(), p)));
            }
            distance.push((c, cost_m(d)));
        }
        let mut found: Vec<Found> = Vec::new();
        while let Some(Reverse((start, _, k, p))) = heap.pop() {
            if start >= q.to {
                break;
            }
            if found.len() >= q.need && start > found[q.need - 1].1.slot.start_at {
                break;
            }
            let (c, d) = distance[k];
            let cab = &self.cabinets[c];
            let s = &cab.slots[p];
            if s.active.is_none() {
                found.push((d, self.located(cab, s)));
            }
            if let Some(next) = cab.slots.get(p + 1) {
                heap.push(Reverse((next.start_at, next.id, k, p + 1)));
            }
        }
        found
    }

    /// The free slots of the doctors of `q` (which [`Snapshot::covers_window`] must hold),
    /// by start and id, as [`crate::store::Store::free_slots_of`] gives them.
    ///
    /// # Complexity
    /// O(C log n) to find the window in each of the C cabinets' lists, then the slots of the
    /// window.
    pub fn search_doctors(&self, q: &DoctorQuery) -> Vec<LocatedSlot> {
        let wanted: Vec<bool> = self.doctors.iter().map(|d| q.doctors.contains(d)).collect();
        if !wanted.contains(&true) {
            return Vec::new();
        }
        let mut found: Vec<(i64, i64, LocatedSlot)> = Vec::new();
        for cab in &self.cabinets {
            let p = cab.slots.partition_point(|s| s.start_at < q.from);
            for s in cab.slots[p..].iter().take_while(|s| s.start_at < q.to) {
                if s.active.is_none() && wanted[s.doctor as usize] {
                    found.push((s.start_at, s.id, self.located(cab, s)));
                }
            }
        }
        found.sort_by_key(|(start, id, _)| (*start, *id));
        found.into_iter().map(|(_, _, f)| f).collect()
    }

    /// True when the window `[from, to)` lies within what this snapshot holds.
    pub fn covers_window(&self, from: i64, to: i64) -> bool {
        self.from <= from && to <= self.to
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::search::settle;
    use super::*;
    use proptest::prelude::*;

    fn rpps(i: u32) -> Rpps {
        Rpps::with_check_digit(&format!("1{i:09}")).expect("ten digits")
    }

    fn cabinet(i: usize) -> CabinetId {
        format!("CAB-{i:03}").parse().expect("a cabinet id")
    }

    /// Cabinets near Nancy, slots on a quarter-hour grid, some booked.
    fn board(
        cabinets: &[(f64, f64)],
        slots: &[(usize, i64, Option<i64>)],
    ) -> (Snapshot, Vec<BoardSlotRow>, Vec<Coordinates>) {
        let coords: Vec<Coordinates> = cabinets
            .iter()
            .map(|&(dlat, dlon)| Coordinates::new(48.69 + dlat, 6.18 + dlon).expect("in range"))
            .collect();
        let rows: Vec<BoardSlotRow> = slots
            .iter()
            .enumerate()
            .map(|(k, &(c, q, booking))| BoardSlotRow {
                slot: SlotRecord {
                    id: 1000 - k as i64,
                    cabinet_id: cabinet(c % cabinets.len()),
                    rpps: rpps(k as u32 % 3),
                    start_at: 900 * q,
                    end_at: 900 * q + 900,
                },
                active_booking: booking,
                last_booking: booking,
            })
            .collect();
        let snap = Snapshot::new(
            -1_000_000,
            1_000_000,
            coords
                .iter()
                .enumerate()
                .map(|(i, &c)| (cabinet(i), format!("Cabinet {i}"), c)),
            rows.clone(),
        );
        (snap, rows, coords)
    }

    /// Every free slot of the query by brute force, settled.
    fn brute(rows: &[BoardSlotRow], coords: &[Coordinates], q: &SlotQuery) -> Vec<(u32, i64, i64)> {
        let mut out: Vec<(u32, i64, i64)> = rows
            .iter()
            .filter(|r| r.active_booking.is_none())
            .filter(|r| q.from <= r.slot.start_at && r.slot.start_at < q.to)
            .filter_map(|r| {
                let c: usize = r.slot.cabinet_id.as_str()[4..].parse().ok()?;
                let d = haversine_m(q.center, coords[c]);
                (d <= q.radius_m).then(|| (cost_m(d), r.slot.start_at, r.slot.id))
            })
            .collect();
        out.sort_by_key(|&(d, start, id)| (start, d, id));
        out.truncate(q.need);
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// The board's settled page equals a brute-force filter and sort of every slot.
        #[test]
        fn search_equals_brute_force(
            cabinets in prop::collection::vec((-0.2f64..0.2, -0.3f64..0.3), 1..12),
            slots in prop::collection::vec((0usize..12, 0i64..40, prop::option::weighted(0.3, 1i64..900)), 0..200),
            center in (-0.2f64..0.2, -0.3f64..0.3),
            radius_km in 0.5f64..40.0,
            window in (0i64..40, 1i64..40),
            need in 1usize..30,
        ) {
            let (snap, rows, coords) = board(&cabinets, &slots);
            let q = SlotQuery {
                from: 900 * window.0,
                to: 900 * (window.0 + window.1),
                center: Coordinates::new(48.69 + center.0, 6.18 + center.1).expect("in range"),
                radius_m: radius_km * 1000.0,
                need,
            };
            let got: Vec<(u32, i64, i64)> = settle(snap.search(&q), need)
                .into_iter()
                .map(|(d, f)| (d, f.slot.start_at, f.slot.id))
                .collect();
            prop_assert_eq!(got, brute(&rows, &coords, &q));
        }
    }

    fn state_of(snap: &Snapshot, slot_id: i64) -> (Option<i64>, i64) {
        let (c, p) = snap.index[&slot_id];
        let s = &snap.cabinets[c as usize].slots[p as usize];
        (s.active, s.seen)
    }

    #[test]
    fn changes_about_older_bookings_are_ignored_whatever_their_order() {
        let (mut snap, _, _) = board(&[(0.0, 0.0)], &[(0, 1, None)]);
        let slot_id = 1000;
        let booked = |booking_id| Change::Booked {
            slot_id,
            booking_id,
        };
        let freed = |booking_id| Change::Freed {
            slot_id,
            booking_id,
        };
        // Booked by 5, cancelled, booked again by 7: heard out of order.
        for change in [booked(7), freed(5), booked(5)] {
            snap.apply(change);
        }
        assert_eq!(state_of(&snap, slot_id), (Some(7), 7));
        // The cancellation heard before the booking it cancels.
        for change in [freed(9), booked(9)] {
            snap.apply(change);
        }
        assert_eq!(state_of(&snap, slot_id), (None, 9));
        // Heard twice (this process's change, then the stream's copy): no effect.
        for change in [booked(11), booked(11)] {
            snap.apply(change);
        }
        assert_eq!(state_of(&snap, slot_id), (Some(11), 11));
        snap.apply(freed(11));
        assert_eq!(state_of(&snap, slot_id), (None, 11));
        // An unknown slot: nothing happens.
        snap.apply(Change::Booked {
            slot_id: 1,
            booking_id: 12,
        });
    }

    #[test]
    fn a_window_outside_the_snapshot_is_not_covered() {
        let (snap, _, coords) = board(&[(0.0, 0.0)], &[]);
        let q = |from, to| SlotQuery {
            from,
            to,
            center: coords[0],
            radius_m: 1000.0,
            need: 1,
        };
        assert!(snap.covers(&q(-1_000_000, 1_000_000)));
        assert!(!snap.covers(&q(-1_000_001, 0)));
        assert!(!snap.covers(&q(0, 1_000_001)));
    }

    /// Two cabinets 1.1 km and about 5.6 km east of the point; equal starts are ordered by
    /// distance, then id; booked slots and slots of a cabinet outside the radius are not shown;
    /// `need` cuts the page after the slots starting with the `need`-th.
    #[test]
    fn a_search_orders_by_start_then_distance_then_id_and_filters() {
        // 0.015° and 0.076° of longitude at 48.69° N: about 1.10 km and 5.59 km.
        let (snap, _, _) = board(
            &[(0.0, 0.015), (0.0, 0.076), (0.5, 0.0)],
            &[
                (1, 2, None),    // id 1000: far, 30 min
                (0, 2, None),    // id 999: near, 30 min
                (0, 1, Some(4)), // id 998: near, 15 min, booked
                (1, 1, None),    // id 997: far, 15 min
                (2, 0, None),    // id 996: 55 km away
                (0, 3, None),    // id 995: near, 45 min
                (1, 2, None),    // id 994: far, 30 min, a lower id than 1000
                (0, 40, None),   // id 993: outside the window
            ],
        );
        let q = SlotQuery {
            from: 0,
            to: 900 * 10,
            center: Coordinates::new(48.69, 6.18).expect("in range"),
            radius_m: 10_000.0,
            need: 10,
        };
        let page: Vec<(i64, u32)> = settle(snap.search(&q), q.need)
            .into_iter()
            .map(|(d, f)| (f.slot.id, d))
            .collect();
        let ids: Vec<i64> = page.iter().map(|&(id, _)| id).collect();
        assert_eq!(ids, [997, 999, 994, 1000, 995]);
        assert!((1050..1150).contains(&page[1].1), "{page:?}");
        assert!((5500..5700).contains(&page[0].1), "{page:?}");
        // Need 2: the page stops after the slots starting with the second one.
        let q2 = SlotQuery { need: 2, ..q };
        let ids: Vec<i64> = settle(snap.search(&q2), 2)
            .into_iter()
            .map(|(_, f)| f.slot.id)
            .collect();
        assert_eq!(ids, [997, 999]);
        // A booked slot is still found by id, with its cabinet.
        let booked = snap.slot(998).expect("held by the snapshot");
        assert_eq!(booked.cabinet_name, "Cabinet 0");
        assert_eq!(snap.is_booked(998), Some(true));
        assert_eq!(snap.is_booked(999), Some(false));
        assert_eq!(snap.is_booked(1), None);
    }

    /// A slot whose cabinet the load did not read is left out.
    #[test]
    fn a_load_leaves_out_slots_of_unknown_cabinets() {
        let rows = vec![BoardSlotRow {
            slot: SlotRecord {
                id: 1,
                cabinet_id: cabinet(7),
                rpps: rpps(1),
                start_at: 0,
                end_at: 900,
            },
            active_booking: None,
            last_booking: None,
        }];
        let snap = Snapshot::new(0, 1, Vec::new(), rows);
        assert!(snap.is_empty());
        assert_eq!(snap.slot(1), None);
    }
}

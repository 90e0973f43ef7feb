//! Searching free slots: the query, the database's answer, and the order of a page.
//!
//! A search asks for the free slots of a window `[from, to)` whose cabinet lies within a circle,
//! by start, then integer distance, then slot id (FORMATS.md §4). [`Slots::search`] asks the
//! board first ([`super::Board::search`]) and reads the database ([`search_in_database`]) when
//! the board cannot answer; both give the same slots.
//!
//! [`Slots::search`]: super::Slots::search

use crate::geo::{Coordinates, cost_m, degree_box, haversine_m};
use crate::store::{self, BoundingBox, LocatedSlot, Store};

/// A search of free slots: the window `[from, to)` in Unix seconds, the circle, and how many
/// slots the page needs (offset + limit + 1, to know whether a next page exists).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlotQuery {
    pub from: i64,
    pub to: i64,
    pub center: Coordinates,
    pub radius_m: f64,
    pub need: usize,
}

/// A search of the free slots of some doctors (the FHIR interface's, by RPPS): the window
/// `[from, to)` in Unix seconds and the doctors; every slot found, by start and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoctorQuery {
    pub from: i64,
    pub to: i64,
    pub doctors: Vec<crate::domain::Rpps>,
}

/// A free slot found, with its integer distance in metres from the search point
/// (FORMATS.md §1).
pub type Found = (u32, LocatedSlot);

/// The free slots of a query with their integer distances, in the order of the results
/// (start, then distance, then id), at most `need` of them.
pub fn settle(mut found: Vec<Found>, need: usize) -> Vec<Found> {
    found.sort_by_key(|(d, f)| (f.slot.start_at, *d, f.slot.id));
    found.truncate(need);
    found
}

/// The free slots of `q` read from the database, by start, in batches (`store::free_slots`,
/// a keyset on start and id), until the page is settled: every slot starting no later than
/// the `need`-th one has been seen, so the cost follows the page, not the window. Eligibility
/// on the unrounded distance, order on the integer metres (FORMATS.md §1). Pass the result to
/// [`settle`].
///
/// # Errors
/// [`store::Error`].
pub async fn search_in_database(store: &Store, q: &SlotQuery) -> Result<Vec<Found>, store::Error> {
    let (lat, lon) = degree_box(q.center, q.radius_m);
    let bbox = BoundingBox { lat, lon };
    let batch = (2 * q.need).clamp(64, 2000);
    let mut found: Vec<Found> = Vec::new();
    let mut after = None;
    loop {
        let rows = store.free_slots(q.from, q.to, bbox, after, batch).await?;
        let exhausted = rows.len() < batch;
        if let Some(last) = rows.last() {
            after = Some((last.slot.start_at, last.slot.id));
        }
        found.extend(rows.into_iter().filter_map(|f| {
            let d = haversine_m(q.center, f.cabinet_coords);
            (d <= q.radius_m).then(|| (cost_m(d), f))
        }));
        let settled = found.len() >= q.need
            && after.is_some_and(|(start, _)| start > found[q.need - 1].1.slot.start_at);
        if exhausted || settled {
            return Ok(found);
        }
    }
}

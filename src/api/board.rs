//! The slot board: this process's copy, in memory, of the slots of the coming weeks and of
//! which ones hold a booking, so that a régulateur's search reads memory instead of the
//! database. Bookings never read it: the database's unique index alone decides them.
//!
//! # What keeps it true
//!
//! * **Loads** read every slot starting from a day ago to [`HORIZON_DAYS`] ahead in one
//!   statement ([`Store::board_slots`]) and the cabinets, at start, every
//!   `--slot-board-seconds`, and whenever the board is stale.
//! * **This process's changes** are applied right after their commit: a booking
//!   ([`Board::booked`]), a cancellation ([`Board::freed`]). A published plan or a changed
//!   cabinet makes the board stale ([`Board::invalidate`]): searches read the database until
//!   the next load, which starts at once.
//! * **Other processes' changes** arrive through the Redis slot stream that every process
//!   appends to (`booked`, `freed`, `published`, and [`CABINET_CHANGED`], which listeners
//!   never hear; see `events.rs`), within milliseconds. Without
//!   Redis (development, one process) the periodic load bounds how late another process's change
//!   shows. An event appended after a crash-interrupted request is lost to the stream; the next
//!   load repairs the board.
//! * **Order does not matter.** A slot keeps the id of its active booking and the latest
//!   booking id it has heard of; an event about an older booking than that is ignored, so two
//!   processes' events arriving crossed, or a change replayed over a fresher load, cannot bring
//!   a stale state back. The changes heard while a load runs are replayed over its result.
//!
//! A search the board cannot answer (not loaded yet, stale, older than three load periods, or a
//! window outside what it holds) reads the database ([`search_in_database`]), which gives the
//! same slots: `tests/api/slots.rs` checks both ways on random searches, on SQLite and
//! PostgreSQL. A slot shown free that another process has just booked gets the booking's 409,
//! as it would from a search made a moment earlier.

use crate::cache::Cache;
use crate::domain::{CabinetId, Rpps};
use crate::geo::{Coordinates, cost_m, degree_box, haversine_m};
use crate::store::{self, BoardSlotRow, BoundingBox, FreeSlot, SlotRecord, Store};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

/// The board holds the slots starting from this long before its load…
pub const LOOKBACK_SECONDS: i64 = 86_400;
/// …to this many days after it (a search window is at most 31 days).
pub const HORIZON_DAYS: i64 = 35;

/// The slot stream's event for a cabinet changed (name or position): boards reload. It carries
/// no position, so `/slots/events` never passes it to a listener.
pub const CABINET_CHANGED: &str = "cabinet_changed";

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

/// The free slots of `q` with their integer distances, in the order of the results (start,
/// then distance, then id), at most `q.need` of them.
pub fn settle(mut found: Vec<(u32, FreeSlot)>, need: usize) -> Vec<(u32, FreeSlot)> {
    found.sort_by_key(|(d, f)| (f.slot.start_at, *d, f.slot.id));
    found.truncate(need);
    found
}

/// The free slots of `q` read from the database, by start, in batches, until the page is
/// settled: every slot starting no later than the `need`-th one has been seen. Eligibility on
/// the unrounded distance, order on the integer metres (FORMATS.md §1). Pass the result to
/// [`settle`].
///
/// # Errors
/// [`store::Error`].
pub async fn search_in_database(
    store: &Store,
    q: &SlotQuery,
) -> Result<Vec<(u32, FreeSlot)>, store::Error> {
    let (lat, lon) = degree_box(q.center, q.radius_m);
    let bbox = BoundingBox { lat, lon };
    let batch = (2 * q.need).clamp(64, 2000);
    let mut found: Vec<(u32, FreeSlot)> = Vec::new();
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
    /// A snapshot of the slots starting in `[from, to)`: `rows` as [`Store::board_slots`]
    /// gives them, `cabinets` every cabinet they refer to (a slot of an unknown cabinet is
    /// left out).
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
    pub fn slot(&self, slot_id: i64) -> Option<FreeSlot> {
        let &(c, p) = self.index.get(&slot_id)?;
        let cab = &self.cabinets[c as usize];
        Some(self.free_slot(cab, &cab.slots[p as usize]))
    }

    fn free_slot(&self, cab: &Cabinet, s: &Slot) -> FreeSlot {
        FreeSlot {
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
        self.from <= q.from && q.to <= self.to
    }

    /// The free slots of `q` (which [`Snapshot::covers`] must hold), as
    /// [`search_in_database`] gives them: every free slot within the radius starting no later
    /// than the `need`-th, by start and id. Pass the result to [`settle`].
    pub fn search(&self, q: &SlotQuery) -> Vec<(u32, FreeSlot)> {
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
        let mut found: Vec<(u32, FreeSlot)> = Vec::new();
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
                found.push((d, self.free_slot(cab, s)));
            }
            if let Some(next) = cab.slots.get(p + 1) {
                heap.push(Reverse((next.start_at, next.id, k, p + 1)));
            }
        }
        found
    }
}

#[derive(Debug, Default)]
struct State {
    snapshot: Option<Snapshot>,
    loaded_at: Option<Instant>,
    /// A change the board cannot apply happened (a publication, a cabinet changed, events
    /// missed): searches read the database until the next load.
    stale: bool,
    /// Counts [`Board::invalidate`]: a load that started before the last one is not fresh.
    invalidations: u64,
    /// The changes heard while a load runs, to replay over its result.
    journal: Option<Vec<Change>>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    period: Duration,
    state: RwLock<State>,
    loading: tokio::sync::Mutex<()>,
    load_requested: AtomicBool,
}

/// The slot board (see the module). Cheap to clone; `None` in [`super::AppState`] when
/// `--slot-board-seconds 0` turns it off.
#[derive(Clone, Debug)]
pub struct Board(Arc<Inner>);

impl Board {
    /// An empty board reading `store`, loaded every `period`. Call [`Board::start`] to load it.
    pub fn new(store: Store, period: Duration) -> Self {
        Self(Arc::new(Inner {
            store,
            period,
            state: RwLock::new(State {
                stale: true,
                ..State::default()
            }),
            loading: tokio::sync::Mutex::new(()),
            load_requested: AtomicBool::new(false),
        }))
    }

    /// Starts its tasks: the periodic load (the first at once) and, with Redis, the reader of
    /// the other processes' changes. Both stop once the board is dropped.
    pub fn start(&self, cache: Option<Cache>) {
        let weak = Arc::downgrade(&self.0);
        match cache {
            // Subscribed first, loaded after: no change falls between the two.
            Some(cache) => {
                tokio::spawn(follow_stream(weak, cache, self.0.period));
            }
            None => {
                tokio::spawn(reload_loop(weak, self.0.period));
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.0.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.0.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The free slots of `q`, or `None` when the board cannot answer (see the module): then
    /// read the database. Pass the result to [`settle`].
    pub fn search(&self, q: &SlotQuery) -> Option<Vec<(u32, FreeSlot)>> {
        let state = self.read();
        let usable = !state.stale
            && state
                .loaded_at
                .is_some_and(|at| at.elapsed() < 3 * self.0.period + Duration::from_secs(5));
        match &state.snapshot {
            Some(s) if usable && s.covers(q) => Some(s.search(q)),
            // A window outside the board: a load would not bring it in.
            Some(_) if usable => None,
            _ => {
                drop(state);
                self.request_load();
                None
            }
        }
    }

    /// The slot with this id and its cabinet, from memory, unless the board is stale or does
    /// not hold it (then read the database).
    pub fn slot(&self, slot_id: i64) -> Option<FreeSlot> {
        let state = self.read();
        if state.stale {
            return None;
        }
        state.snapshot.as_ref()?.slot(slot_id)
    }

    /// A booking of `slot_id` committed in this process.
    pub fn booked(&self, slot_id: i64, booking_id: i64) {
        self.apply(Change::Booked {
            slot_id,
            booking_id,
        });
    }

    /// A cancellation committed in this process.
    pub fn freed(&self, slot_id: i64, booking_id: i64) {
        self.apply(Change::Freed {
            slot_id,
            booking_id,
        });
    }

    /// Applies a change heard of (here or from the slot stream).
    pub fn apply(&self, change: Change) {
        let mut state = self.write();
        if let Some(s) = state.snapshot.as_mut() {
            s.apply(change);
        }
        if let Some(j) = state.journal.as_mut() {
            j.push(change);
        }
    }

    /// Something changed that only a load shows (a plan published, a cabinet created, moved
    /// or deleted, events missed): searches read the database until the next load, which
    /// starts now.
    pub fn invalidate(&self) {
        {
            let mut state = self.write();
            state.stale = true;
            state.invalidations += 1;
        }
        self.request_load();
    }

    /// Starts a load in the background unless one is running or asked for.
    fn request_load(&self) {
        if self.0.load_requested.swap(true, Ordering::AcqRel) {
            return;
        }
        let board = self.clone();
        tokio::spawn(async move {
            match board.load().await {
                Err(e) if !e.is_shutdown() => {
                    tracing::warn!(error = %e, "cannot load the slot board; searches read the database");
                }
                _ => {}
            }
        });
    }

    /// Loads the board now (waiting for a load under way to end first).
    ///
    /// # Errors
    /// [`LoadError`]: the database cannot be read; the board keeps its previous state.
    pub async fn load(&self) -> Result<(), LoadError> {
        let _one_at_a_time = self.0.loading.lock().await;
        self.0.load_requested.store(false, Ordering::Release);
        let started = {
            let mut state = self.write();
            state.journal = Some(Vec::new());
            state.invalidations
        };
        let began = Instant::now();
        let now = chrono::Utc::now().timestamp();
        let (from, to) = (now - LOOKBACK_SECONDS, now + HORIZON_DAYS * 86_400);
        let read = async {
            let cabinets = self.0.store.cabinets().await?;
            let rows = self.0.store.board_slots(from, to).await?;
            Ok::<_, LoadError>((cabinets, rows))
        }
        .await;
        let read = match read {
            Ok((cabinets, rows)) => Self::index(from, to, cabinets, rows).await,
            Err(e) => Err(e),
        };
        let mut state = self.write();
        let journal = state.journal.take().unwrap_or_default();
        let mut snapshot = read?;
        for change in journal {
            snapshot.apply(change);
        }
        tracing::debug!(
            slots = snapshot.len(),
            ms = began.elapsed().as_millis() as u64,
            "slot board loaded"
        );
        state.snapshot = Some(snapshot);
        state.loaded_at = Some(Instant::now());
        state.stale = state.invalidations != started;
        Ok(())
    }
}

impl Board {
    /// Indexes loaded rows into a snapshot: milliseconds for a large board, so off the
    /// request threads.
    async fn index(
        from: i64,
        to: i64,
        cabinets: Vec<store::CabinetRow>,
        rows: Vec<BoardSlotRow>,
    ) -> Result<Snapshot, LoadError> {
        tokio::task::spawn_blocking(move || {
            Snapshot::new(
                from,
                to,
                cabinets.into_iter().map(|c| (c.id, c.name, c.coords)),
                rows,
            )
        })
        .await
        .map_err(LoadError::Indexing)
    }
}

/// Why a load failed; the board keeps its previous state.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("indexing the slot board failed")]
    Indexing(#[source] tokio::task::JoinError),
}

impl LoadError {
    /// The process is stopping (its runtime cancelled the indexing): nothing to report.
    pub fn is_shutdown(&self) -> bool {
        matches!(self, LoadError::Indexing(e) if e.is_cancelled())
    }
}

async fn reload_loop(board: Weak<Inner>, period: Duration) {
    loop {
        let Some(inner) = board.upgrade() else {
            return;
        };
        match Board(inner).load().await {
            Ok(()) => {}
            Err(e) if e.is_shutdown() => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot load the slot board; searches read the database");
            }
        }
        tokio::time::sleep(period).await;
    }
}

/// Applies the other processes' `booked` and `freed` events; a `published` one, or a gap in
/// the stream, makes the board stale. Starts the periodic loads once first subscribed (or
/// once the first subscription failed).
async fn follow_stream(board: Weak<Inner>, cache: Cache, period: Duration) {
    let mut loads_started = false;
    loop {
        let feed = cache.subscribe(None).await;
        let Some(inner) = board.upgrade() else {
            return;
        };
        let b = Board(inner);
        if loads_started {
            // Whatever happened between the lost subscription and this one is in the next load.
            b.invalidate();
        } else {
            tokio::spawn(reload_loop(board.clone(), period));
            loads_started = true;
        }
        let mut feed = match feed {
            Ok(feed) => feed,
            Err(e) => {
                tracing::warn!(error = %e, "cannot follow the slot stream; retrying");
                drop(b);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        drop(b);
        loop {
            let next = tokio::select! {
                next = feed.next() => Some(next),
                () = tokio::time::sleep(period) => None,
            };
            let Some(inner) = board.upgrade() else {
                return;
            };
            let b = Board(inner);
            match next {
                None => {}
                Some(Ok(events)) => {
                    for e in events {
                        match e.kind.as_str() {
                            "booked" | "freed" => match change_of(&e.kind, &e.data) {
                                Some(change) => b.apply(change),
                                None => b.invalidate(),
                            },
                            "published" | CABINET_CHANGED => b.invalidate(),
                            _ => {}
                        }
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "lost the slot stream; the board reloads");
                    b.invalidate();
                    break;
                }
            }
        }
    }
}

/// The change a `booked` or `freed` event's data describes.
fn change_of(kind: &str, data: &str) -> Option<Change> {
    let v: serde_json::Value = serde_json::from_str(data).ok()?;
    let slot_id = v.get("slot_id")?.as_i64()?;
    let booking_id = v.get("booking_id")?.as_i64()?;
    match kind {
        "booked" => Some(Change::Booked {
            slot_id,
            booking_id,
        }),
        "freed" => Some(Change::Freed {
            slot_id,
            booking_id,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn events_data_gives_the_change() {
        assert_eq!(
            change_of("booked", r#"{"slot_id":3,"booking_id":4,"lat":1.0}"#),
            Some(Change::Booked {
                slot_id: 3,
                booking_id: 4
            })
        );
        assert_eq!(
            change_of("freed", r#"{"slot_id":3,"booking_id":4}"#),
            Some(Change::Freed {
                slot_id: 3,
                booking_id: 4
            })
        );
        assert_eq!(change_of("freed", r#"{"slot_id":3}"#), None);
        assert_eq!(change_of("booked", "not json"), None);
    }
}

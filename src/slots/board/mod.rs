//! The slot board: this process's copy, in memory, of the slots of the coming weeks and of
//! which ones hold a booking, so that a régulateur's search reads memory instead of the
//! database. Bookings never read it: the database's unique index alone decides them.
//!
//! * [`snapshot`]: one load, indexed by cabinet and start (pure, no I/O);
//! * this file: the shared [`Board`], its lock, its loads and its staleness;
//! * [`follow`]: the background tasks, periodic loads and the Redis slot stream's reader.
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
//!   appends to (`booked`, `freed`, `published`, and `cabinet_changed`, which listeners
//!   never hear: see [`crate::cache::EventKind`]), within milliseconds. Without Redis
//!   (development, one process) the periodic load bounds how late another process's change
//!   shows; while a configured Redis is down (its circuit open) the board still answers and
//!   reloads every [`follow::OUTAGE_PERIOD`] (one second), so searches keep their usual
//!   latency and another process's booking shows within about a second. An event appended after a crash-interrupted request is lost to the stream; the
//!   next load repairs the board.
//! * **Order does not matter.** A slot keeps the id of its active booking and the latest
//!   booking id it has heard of; an event about an older booking than that is ignored, so two
//!   processes' events arriving crossed, or a change replayed over a fresher load, cannot bring
//!   a stale state back. The changes heard while a load runs are replayed over its result.
//!
//! A search the board cannot answer (not loaded yet, stale, older than three load periods, or a
//! window outside what it holds) reads the database ([`super::search_in_database`]), which
//! gives the same slots: `tests/api/board.rs` checks both ways on random searches, on SQLite
//! and PostgreSQL, and this room's unit tests check the index against brute force. A slot
//! shown free that another process has just booked gets the booking's 409, as it would from a
//! search made a moment earlier.

mod follow;
pub mod snapshot;

pub use snapshot::{Change, Snapshot};

use super::Error;
use super::search::{DoctorQuery, Found, SlotQuery};
use crate::cache::Cache;
use crate::store::{BoardSlotRow, CabinetRow, LocatedSlot, Store};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The board holds the slots starting from this long before its load…
pub const LOOKBACK_SECONDS: i64 = 86_400;
/// …to this many days after it (a search window is at most 31 days).
pub const HORIZON_DAYS: i64 = 35;

/// A loaded board answers searches for this many load periods (plus five seconds) after its
/// load; an older one has missed too many loads to be trusted.
const FRESH_PERIODS: u32 = 3;

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

/// The slot board (see the module). Cheap to clone; the API holds `None` instead when
/// `--slot-board-seconds 0` turns it off.
#[derive(Clone, Debug)]
pub struct Board(Arc<Inner>);

impl Board {
    /// An empty board reading `store`, loaded every `period`. Call [`Board::start`] (in a
    /// service) or [`Board::load`] (in a test) to load it.
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
                tokio::spawn(follow::follow_stream(weak, cache, self.0.period));
            }
            None => {
                tokio::spawn(follow::reload_loop(weak, self.0.period, None));
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.0.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.0.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a board loaded at `loaded_at` may still answer, `now`.
    fn fresh(&self, loaded_at: Option<Instant>, now: Instant) -> bool {
        let limit = FRESH_PERIODS * self.0.period + Duration::from_secs(5);
        loaded_at.is_some_and(|at| now.saturating_duration_since(at) < limit)
    }

    /// The free slots of `q`, or `None` when the board cannot answer (see the module): then
    /// read the database. Pass the result to [`super::settle`].
    pub fn search(&self, q: &SlotQuery) -> Option<Vec<Found>> {
        let state = self.read();
        let usable = !state.stale && self.fresh(state.loaded_at, Instant::now());
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

    /// The free slots of the doctors of `q`, by start and id, or `None` when the board cannot
    /// answer (as [`Board::search`]): then read the database.
    pub fn search_doctors(&self, q: &DoctorQuery) -> Option<Vec<LocatedSlot>> {
        let state = self.read();
        let usable = !state.stale && self.fresh(state.loaded_at, Instant::now());
        match &state.snapshot {
            Some(s) if usable && s.covers_window(q.from, q.to) => Some(s.search_doctors(q)),
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
    pub fn slot(&self, slot_id: i64) -> Option<LocatedSlot> {
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
        self.mark_stale();
        self.request_load();
    }

    fn mark_stale(&self) {
        let mut state = self.write();
        state.stale = true;
        state.invalidations += 1;
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
    /// [`Error::Store`]: the database cannot be read; [`Error::Indexing`]: the indexing task
    /// failed. The board keeps its previous state.
    pub async fn load(&self) -> Result<(), Error> {
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
            let cabinets = self.0.store.cabinets(None).await?;
            let rows = self.0.store.board_slots(from, to).await?;
            Ok::<_, Error>((cabinets, rows))
        }
        .await;
        let read = match read {
            Ok((cabinets, rows)) => Self::index(from, to, cabinets, rows).await,
            Err(e) => Err(e),
        };
        let mut state = self.write();
        let journal = state.journal.take().unwrap_or_default();
        let mut snapshot = match read {
            Ok(snapshot) => snapshot,
            Err(e) => {
                crate::metrics::board_load(false, began.elapsed().as_secs_f64(), None);
                return Err(e);
            }
        };
        for change in journal {
            snapshot.apply(change);
        }
        crate::metrics::board_load(true, began.elapsed().as_secs_f64(), Some(snapshot.len()));
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

    /// Indexes loaded rows into a snapshot: milliseconds for a large board, so off the
    /// request threads.
    async fn index(
        from: i64,
        to: i64,
        cabinets: Vec<CabinetRow>,
        rows: Vec<BoardSlotRow>,
    ) -> Result<Snapshot, Error> {
        tokio::task::spawn_blocking(move || {
            Snapshot::new(
                from,
                to,
                cabinets.into_iter().map(|c| (c.id, c.name, c.coords)),
                rows,
            )
        })
        .await
        .map_err(Error::Indexing)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::domain::PatientId;
    use crate::geo::Coordinates;
    use crate::store::{BookOutcome, NewSlot};
    use sqlx::Executor;

    /// A throwaway SQLite store with one cabinet near Nancy, a published plan and three
    /// slots starting in one, two and three hours; the slot ids by start.
    pub(crate) async fn store_with_slots() -> (tempfile::TempDir, Store, Vec<i64>) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::connect(&url).await.expect("SQLite opens");
        store.migrate().await.expect("migrations apply");
        // Seeded beside the store, as a publication and the token table would be.
        let pool = sqlx::AnyPool::connect(&url)
            .await
            .expect("a second connection");
        for sql in [
            "INSERT INTO tokens (id, role, label, hash, created_at) \
             VALUES ('t1', 'regulateur', '', 'h', 0)",
            "INSERT INTO cabinets (cabinet_id, name, lat, lon, insee, need, updated_at) \
             VALUES ('c1', 'Cabinet 1', 48.69, 6.18, '54395', 1, 0)",
            "INSERT INTO garde_plans (id, period_start, period_end, created_at) \
             VALUES ('g1', '2026-01-01', '2026-01-31', 0)",
        ] {
            pool.execute(sql).await.expect("seed row");
        }
        pool.close().await;
        let now = chrono::Utc::now().timestamp();
        let slots: Vec<NewSlot> = (1..=3)
            .map(|h| NewSlot {
                cabinet_id: "c1".into(),
                rpps: "10000000009".into(),
                start_at: now + 3600 * h,
                end_at: now + 3600 * h + 900,
            })
            .collect();
        store
            .insert_slots("g1", &slots)
            .await
            .expect("slots stored");
        let q = query(now, 10);
        let ids = super::super::settle(
            super::super::search_in_database(&store, &q)
                .await
                .expect("a search"),
            10,
        )
        .into_iter()
        .map(|(_, f)| f.slot.id)
        .collect();
        (dir, store, ids)
    }

    pub(crate) fn query(now: i64, need: usize) -> SlotQuery {
        SlotQuery {
            from: now,
            to: now + 86_400,
            center: Coordinates::new(48.69, 6.18).expect("in range"),
            radius_m: 5_000.0,
            need,
        }
    }

    fn ids(found: Option<Vec<Found>>) -> Option<Vec<i64>> {
        found.map(|f| f.into_iter().map(|(_, s)| s.slot.id).collect())
    }

    #[tokio::test]
    async fn a_board_answers_only_once_loaded_and_follows_its_own_changes() {
        let (_dir, store, slot_ids) = store_with_slots().await;
        assert_eq!(slot_ids.len(), 3);
        let board = Board::new(store.clone(), Duration::from_secs(3600));
        let q = query(chrono::Utc::now().timestamp(), 10);
        // Not loaded: the database answers (and a load is asked for).
        assert_eq!(board.search(&q), None);
        assert_eq!(board.slot(slot_ids[0]), None);
        board.load().await.expect("a load");
        assert_eq!(ids(board.search(&q)), Some(slot_ids.clone()));
        assert_eq!(
            board.slot(slot_ids[1]).map(|s| s.cabinet_name),
            Some("Cabinet 1".to_owned())
        );

        // A booking committed here, then its cancellation.
        board.booked(slot_ids[0], 41);
        assert_eq!(ids(board.search(&q)), Some(slot_ids[1..].to_vec()));
        board.freed(slot_ids[0], 41);
        assert_eq!(ids(board.search(&q)), Some(slot_ids.clone()));

        // A window outside the board: the database answers, the board stays usable.
        let far = SlotQuery {
            from: q.from + (HORIZON_DAYS + 1) * 86_400,
            to: q.from + (HORIZON_DAYS + 2) * 86_400,
            ..q
        };
        assert_eq!(board.search(&far), None);
        assert!(board.search(&q).is_some());
    }

    #[tokio::test]
    async fn a_load_reads_the_bookings_and_replays_over_them() {
        let (_dir, store, slot_ids) = store_with_slots().await;
        let patient: PatientId = "P1".parse().expect("a patient ref");
        let BookOutcome::Booked(b) = store
            .book_slot(slot_ids[1], &patient, "t1", "dep:54")
            .await
            .expect("a booking")
        else {
            panic!("not booked");
        };
        let board = Board::new(store.clone(), Duration::from_secs(3600));
        board.load().await.expect("a load");
        let q = query(chrono::Utc::now().timestamp(), 10);
        assert_eq!(
            ids(board.search(&q)),
            Some(vec![slot_ids[0], slot_ids[2]]),
            "the booked slot is not shown"
        );
        // An older booking's late cancellation changes nothing; this one's frees it.
        board.freed(slot_ids[1], b.id - 1);
        assert_eq!(ids(board.search(&q)).map(|v| v.len()), Some(2));
        board.freed(slot_ids[1], b.id);
        assert_eq!(ids(board.search(&q)), Some(slot_ids.clone()));
        // A reload reads the database again (still booked there): the change heard was a
        // cancellation of the same booking, so the load's fresher row wins over nothing.
        board.load().await.expect("a load");
        assert_eq!(ids(board.search(&q)).map(|v| v.len()), Some(2));
    }

    #[tokio::test]
    async fn a_stale_board_answers_nothing_until_its_next_load() {
        let (_dir, store, slot_ids) = store_with_slots().await;
        let board = Board::new(store.clone(), Duration::from_secs(3600));
        board.load().await.expect("a load");
        let q = query(chrono::Utc::now().timestamp(), 10);
        // Stale without starting a load here, to see the state in between.
        board.mark_stale();
        assert_eq!(board.search(&q), None);
        assert_eq!(board.slot(slot_ids[0]), None);
        board.load().await.expect("a load");
        assert_eq!(ids(board.search(&q)), Some(slot_ids.clone()));
        // A board whose last load is older than three periods does not answer.
        let now = Instant::now();
        assert!(board.fresh(Some(now), now));
        let old = now.checked_sub(Duration::from_secs(3 * 3600 + 6));
        assert!(old.is_none_or(|old| !board.fresh(Some(old), now)));
        assert!(!board.fresh(None, now));
    }
}

//! Consultation slots at run time (FORMATS.md §4): searching the free slots near a point,
//! booking one, cancelling a booking, and telling the other processes and the listeners.
//!
//! This room owns the mechanisms every caller shares (the API today; swaps, repairs and the
//! FHIR interface next), so that none of them re-implements the sequence:
//!
//! * [`board`]: the slot board, this process's in-memory read model of the coming weeks'
//!   slots, kept true by its loads and the Redis slot stream;
//! * [`search`]: the query, the database's answer when the board cannot give it, the order;
//! * [`booking`]: the booking sequence (claim in Redis, store, board, announce) and the
//!   cancellation;
//! * [`events`]: the typed [`EventKind`]s and the events this room appends.
//!
//! It knows neither HTTP nor axum: callers hold a [`Slots`] handle and map [`Error`] to
//! their own answers. No SQL here (`store` owns it); no Redis commands here (`cache` owns
//! them).
//!
//! ```no_run
//! # async fn example(store: cpts::store::Store) -> Result<(), cpts::slots::Error> {
//! use cpts::slots::{SlotQuery, Slots};
//! let room = Slots::new(store, None, None);
//! let q = SlotQuery {
//!     from: 1_772_470_800,
//!     to: 1_772_470_800 + 48 * 3600,
//!     center: cpts::geo::Coordinates::new(48.69, 6.18).expect("in range"),
//!     radius_m: 20_000.0,
//!     need: 51,
//! };
//! for (distance_m, slot) in room.search(&q).await? {
//!     println!("{} at {distance_m} m", slot.slot.id);
//! }
//! # Ok(()) }
//! ```

pub mod board;
pub mod booking;
pub mod events;
pub mod search;

pub use board::{Board, Change, HORIZON_DAYS, LOOKBACK_SECONDS, Snapshot};
pub use events::{EventKind, event_data, slot_info};
pub use search::{DoctorQuery, Found, SlotQuery, search_in_database, settle};

use crate::cache::{self, Cache};
use crate::store::{self, LocatedSlot, Store};

/// Why a slot operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another régulateur holds the slot; it may be free again soon.
    #[error("another régulateur holds this slot")]
    Held,
    /// The slot holds an active booking (the unique index said so).
    #[error("this slot is already booked")]
    Taken,
    /// The slot has ended; it cannot be booked any more.
    #[error("this slot has ended")]
    Ended,
    /// Its doctor was taken off the shift (a garde repair).
    #[error("the doctor of this slot was taken off the shift")]
    Withdrawn,
    #[error("no slot with this id")]
    NoSuchSlot,
    #[error("no booking with this id")]
    NoSuchBooking,
    /// The booking was cancelled before (at `cancelled_at`, Unix seconds); nothing changed.
    #[error("this booking was cancelled before")]
    AlreadyCancelled { cancelled_at: Option<i64> },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// Redis failed.
    #[error(transparent)]
    Cache(#[from] cache::Error),
    /// Indexing a board load failed (or was cancelled by the runtime stopping).
    #[error("indexing the slot board failed")]
    Indexing(#[source] tokio::task::JoinError),
}

impl Error {
    /// The process is stopping (its runtime cancelled a board's indexing): nothing to report.
    pub fn is_shutdown(&self) -> bool {
        matches!(self, Error::Indexing(e) if e.is_cancelled())
    }
}

/// A handle on the slot room: the database (whose actor, if any, is recorded as the author
/// of bookings and cancellations), Redis when configured, this process's board when on.
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct Slots {
    store: Store,
    cache: Option<Cache>,
    board: Option<Board>,
}

impl Slots {
    /// The room over `store`, with Redis (`cache`: holds, events) and the board if any.
    pub fn new(store: Store, cache: Option<Cache>, board: Option<Board>) -> Self {
        Self {
            store,
            cache,
            board,
        }
    }

    /// The free slots of `q`, settled: by start, then integer distance, then id, at most
    /// `q.need`. The board answers when it can, else the database: the same slots. While
    /// Redis is down the board still answers: it reloads every second meanwhile (see
    /// [`board`]), so searches keep their latency.
    ///
    /// # Errors
    /// [`Error::Store`] when the database must answer and does not.
    pub async fn search(&self, q: &SlotQuery) -> Result<Vec<Found>, Error> {
        let found = match self.board.as_ref().and_then(|b| b.search(q)) {
            Some(found) => found,
            None => search_in_database(&self.store, q).await?,
        };
        Ok(settle(found, q.need))
    }

    /// The free slots of the doctors of `q`, by start and id: published, not withdrawn, not
    /// booked. The board answers when it can, else the database: the same slots.
    ///
    /// # Errors
    /// [`Error::Store`] when the database must answer and does not.
    pub async fn search_doctors(&self, q: &DoctorQuery) -> Result<Vec<LocatedSlot>, Error> {
        match self.board.as_ref().and_then(|b| b.search_doctors(q)) {
            Some(found) => Ok(found),
            None => Ok(self.store.free_slots_of(q.from, q.to, &q.doctors).await?),
        }
    }

    /// The holder (a token id) of each slot of `slot_ids`, in order; nobody holds anything
    /// without Redis, or while it is down (a search still answers).
    ///
    /// # Errors
    /// [`Error::Cache`]: Redis answered something unexpected.
    pub async fn holders(&self, slot_ids: &[i64]) -> Result<Vec<Option<String>>, Error> {
        match &self.cache {
            Some(cache) => match cache.holders(slot_ids).await {
                Ok(holders) => Ok(holders),
                Err(e) if e.is_outage() => Ok(vec![None; slot_ids.len()]),
                Err(e) => Err(e.into()),
            },
            None => Ok(vec![None; slot_ids.len()]),
        }
    }
}

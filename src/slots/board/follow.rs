//! The board's background tasks: the periodic load, and the reader of the Redis slot stream
//! that brings the other processes' changes. Both hold the board weakly and stop once it is
//! dropped.

use super::{Board, Change, Inner};
use crate::cache::{Cache, EventKind};
use std::sync::Weak;
use std::time::Duration;

/// While Redis is down the board hears nothing of the other processes: it reloads this often
/// (or every `period` if shorter), so that what they booked shows within about a second, as a
/// search made a moment earlier would (booking such a slot still gets 409).
pub const OUTAGE_PERIOD: Duration = Duration::from_secs(1);

/// Loads the board every `period` (every [`OUTAGE_PERIOD`] while `cache` is down), the first
/// time at once.
pub(super) async fn reload_loop(board: Weak<Inner>, period: Duration, cache: Option<Cache>) {
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
        // Checked in steps, so an outage that begins during a long period shortens it.
        let mut waited = Duration::ZERO;
        while waited < period {
            let step = OUTAGE_PERIOD.min(period - waited);
            tokio::time::sleep(step).await;
            waited += step;
            if cache.as_ref().is_some_and(Cache::is_down) {
                break;
            }
        }
    }
}

/// Applies the other processes' `booked` and `freed` events; a `published` or
/// `cabinet_changed` one, or a gap in the stream, makes the board stale. Starts the periodic
/// loads once first subscribed (or once the first subscription failed).
pub(super) async fn follow_stream(board: Weak<Inner>, cache: Cache, period: Duration) {
    tokio::spawn(reload_on_recovery(board.clone(), cache.clone()));
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
            tokio::spawn(reload_loop(board.clone(), period, Some(cache.clone())));
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
                        let Some(kind) = e.kind else { continue };
                        match reaction(kind, &e.data) {
                            Reaction::Apply(change) => b.apply(change),
                            Reaction::Reload => b.invalidate(),
                            Reaction::None => {}
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

/// Reloads the board each time Redis comes back after an outage: the other processes'
/// bookings of the outage were never announced, and only a load shows them.
async fn reload_on_recovery(board: Weak<Inner>, cache: Cache) {
    let mut recoveries = cache.recoveries();
    while recoveries.changed().await.is_ok() {
        let Some(inner) = board.upgrade() else {
            return;
        };
        tracing::info!("Redis is back: the slot board reloads");
        Board(inner).invalidate();
    }
}

/// What an event of the slot stream does to the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reaction {
    Apply(Change),
    /// A change only a load shows (or an event it cannot read).
    Reload,
    /// Holds change no booking.
    None,
}

fn reaction(kind: EventKind, data: &str) -> Reaction {
    match kind {
        EventKind::Booked | EventKind::Freed => {
            change_of(kind, data).map_or(Reaction::Reload, Reaction::Apply)
        }
        // Slots leave the board, change doctor, or a booking changes slot: a load says all.
        EventKind::Published
        | EventKind::CabinetChanged
        | EventKind::Withdrawn
        | EventKind::Moved
        | EventKind::Swapped => Reaction::Reload,
        EventKind::Held | EventKind::Released | EventKind::Proposal => Reaction::None,
    }
}

/// The change a `booked` or `freed` event's data describes.
fn change_of(kind: EventKind, data: &str) -> Option<Change> {
    let v: serde_json::Value = serde_json::from_str(data).ok()?;
    let slot_id = v.get("slot_id")?.as_i64()?;
    let booking_id = v.get("booking_id")?.as_i64()?;
    match kind {
        EventKind::Booked => Some(Change::Booked {
            slot_id,
            booking_id,
        }),
        EventKind::Freed => Some(Change::Freed {
            slot_id,
            booking_id,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_data_gives_the_change() {
        assert_eq!(
            change_of(
                EventKind::Booked,
                r#"{"slot_id":3,"booking_id":4,"lat":1.0}"#
            ),
            Some(Change::Booked {
                slot_id: 3,
                booking_id: 4
            })
        );
        assert_eq!(
            change_of(EventKind::Freed, r#"{"slot_id":3,"booking_id":4}"#),
            Some(Change::Freed {
                slot_id: 3,
                booking_id: 4
            })
        );
        assert_eq!(change_of(EventKind::Freed, r#"{"slot_id":3}"#), None);
        assert_eq!(change_of(EventKind::Booked, "not json"), None);
    }

    #[test]
    fn each_kind_of_event_applies_reloads_or_is_ignored() {
        let data = r#"{"slot_id":3,"booking_id":4}"#;
        assert!(matches!(
            reaction(EventKind::Booked, data),
            Reaction::Apply(Change::Booked { .. })
        ));
        assert!(matches!(
            reaction(EventKind::Freed, data),
            Reaction::Apply(Change::Freed { .. })
        ));
        // A booking event the board cannot read: only a load can say what it changed.
        assert_eq!(reaction(EventKind::Booked, "{}"), Reaction::Reload);
        assert_eq!(reaction(EventKind::Published, data), Reaction::Reload);
        assert_eq!(reaction(EventKind::CabinetChanged, "{}"), Reaction::Reload);
        for kind in [EventKind::Withdrawn, EventKind::Moved, EventKind::Swapped] {
            assert_eq!(reaction(kind, data), Reaction::Reload, "{kind}");
        }
        assert_eq!(reaction(EventKind::Held, data), Reaction::None);
        assert_eq!(reaction(EventKind::Released, data), Reaction::None);
    }
}

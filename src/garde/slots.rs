//! Consultation slots of a roster (FORMATS.md §4): each doctor on a filled shift offers
//! consecutive slots of the cabinet's `slot_minutes`, from the start of the shift to its end.
//!
//! A slot is identified by (cabinet, doctor, start instant). Booking (one booking per slot, a
//! cancelled booking frees it) belongs to the store and the API; this room only enumerates.

use super::calendar;
use super::instance::{Cabinet, Instance};
use super::schedule::Roster;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate};

/// One consultation slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    /// Index in [`Instance::cabinets`].
    pub cabinet: u32,
    /// Index in [`Instance::doctors`].
    pub doctor: u32,
}

/// Every slot of `roster`, in roster order (date, cabinet, doctor), then by start.
///
/// 8 slots per weekday shift and 16 per Saturday shift at the default 15 minutes. A shift
/// never spans a DST change (02:00–03:00), so instants and wall-clock times advance together
/// and each slot keeps the offset of its shift.
///
/// # Complexity
/// O(slots).
pub fn slots(inst: &Instance, roster: &Roster) -> Vec<Slot> {
    let mut out = Vec::new();
    for a in &roster.assignments {
        let cab = &inst.cabinets[a.cabinet as usize];
        out.extend(shift_slots(cab, a.date).map(|(start, end)| Slot {
            start,
            end,
            cabinet: a.cabinet,
            doctor: a.doctor,
        }));
    }
    out
}

/// The `(start, end)` of each slot a doctor on `cabinet`'s shift of `date` offers, in order;
/// none when the cabinet has no shift that day (a checked roster never asks). For callers that
/// hold a roster as rows (the service's publication) rather than as a [`Roster`].
pub fn shift_slots(
    cabinet: &Cabinet,
    date: NaiveDate,
) -> impl Iterator<Item = (DateTime<FixedOffset>, DateTime<FixedOffset>)> + use<> {
    let kind = calendar::shift_kind(date, cabinet.alsace_moselle());
    let len = cabinet.slot_minutes.max(1);
    let (count, start) = match kind {
        Some(kind) => (
            kind.minutes() / len,
            Some(calendar::shift_instants(date, kind).0),
        ),
        None => (0, None),
    };
    (0..count).filter_map(move |i| {
        let s = start? + Duration::minutes(i64::from(i * len));
        Some((s, s + Duration::minutes(i64::from(len))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MaxKm, Rpps};
    use crate::garde::instance::{Cabinet, GardeDoctor, Period};
    use crate::garde::schedule::Assignment;
    use crate::geo::Coordinates;

    fn inst(slot_minutes: u32) -> Instance {
        Instance {
            cabinets: vec![Cabinet {
                id: "C".parse().unwrap(),
                name: String::new(),
                coords: Coordinates::new(49.1, 6.2).unwrap(),
                insee: "57463".parse().unwrap(),
                need: 1,
                slot_minutes,
            }],
            doctors: vec![GardeDoctor {
                rpps: Rpps::with_check_digit("1000000000").unwrap(),
                name: String::new(),
                coords: Coordinates::new(49.1, 6.2).unwrap(),
                insee: "57463".parse().unwrap(),
                max_shifts: 5,
                max_km: MaxKm::new(5.0).unwrap(),
            }],
            windows: vec![Vec::new()],
            period: Period::new("2026-10-01".parse().unwrap(), "2026-10-31".parse().unwrap())
                .unwrap(),
            extensions: Default::default(),
        }
    }

    fn on(date: &str) -> Assignment {
        Assignment {
            date: date.parse().unwrap(),
            cabinet: 0,
            doctor: 0,
            metres: 0,
        }
    }

    #[test]
    fn eight_slots_on_weekdays_and_sixteen_on_saturdays() {
        // Saturday 24 October 2026 (the day before the DST change) and Monday 26 (after).
        let roster = Roster::new(vec![on("2026-10-24"), on("2026-10-26")]);
        let s = slots(&inst(15), &roster);
        assert_eq!(s.len(), 16 + 8);
        assert_eq!(s[0].start.to_rfc3339(), "2026-10-24T09:00:00+02:00");
        assert_eq!(s[15].end.to_rfc3339(), "2026-10-24T13:00:00+02:00");
        assert_eq!(s[16].start.to_rfc3339(), "2026-10-26T18:00:00+01:00");
        assert_eq!(s[23].end.to_rfc3339(), "2026-10-26T20:00:00+01:00");
    }

    #[test]
    fn slot_length_comes_from_the_cabinet() {
        let roster = Roster::new(vec![on("2026-10-26")]);
        assert_eq!(slots(&inst(20), &roster).len(), 6);
        assert_eq!(slots(&inst(120), &roster).len(), 1);
    }
}

//! A garde instance (FORMATS.md §3) as typed values, its shifts, and who may take each one.
//!
//! The CSV reader ([`crate::import::garde`]) and the garde plan job behind the HTTP API
//! (`jobs::garde_plan`, from the stored cabinets, doctors and availability) both build an
//! [`Instance`]; every solver, oracle and report starts from it. No I/O here.

use super::calendar::{self, ShiftKind};
use crate::domain::{CabinetId, InseeCode, MaxKm, Rpps};
use crate::geo::{Coordinates, cost_m, haversine_m};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};

/// Consultation length when `slot_minutes` is absent (FORMATS.md §3).
pub const DEFAULT_SLOT_MINUTES: u32 = 15;

/// Most doctors a cabinet asks for per shift (`need` is 1 to this).
pub const MAX_NEED: u32 = 1000;

/// Why a consultation length is refused (FORMATS.md §3: it divides the shift lengths, 120
/// and 240 minutes; 120 dividing by it is enough).
///
/// # Errors
/// A message for the CSV line or the API's pointer.
pub fn check_slot_minutes(minutes: u32) -> Result<u32, &'static str> {
    if (1..=120).contains(&minutes) && 120 % minutes == 0 {
        Ok(minutes)
    } else {
        Err("must divide the shift lengths (120 and 240 minutes)")
    }
}

/// A cabinet de garde.
#[derive(Clone, Debug, PartialEq)]
pub struct Cabinet {
    pub id: CabinetId,
    /// Display only.
    pub name: String,
    pub coords: Coordinates,
    pub insee: InseeCode,
    /// Doctors per shift, ≥ 1.
    pub need: u32,
    /// Consultation length; divides every shift length (120 and 240 minutes).
    pub slot_minutes: u32,
}

impl Cabinet {
    /// Alsace-Moselle keeps two more public holidays (FORMATS.md §3).
    pub fn alsace_moselle(&self) -> bool {
        self.insee.departement().is_alsace_moselle()
    }
}

/// A GP who volunteers for garde shifts.
#[derive(Clone, Debug, PartialEq)]
pub struct GardeDoctor {
    pub rpps: Rpps,
    /// Display only.
    pub name: String,
    pub coords: Coordinates,
    pub insee: InseeCode,
    /// Shifts over the whole period, at most.
    pub max_shifts: u32,
    /// Farthest cabinet the doctor will go to.
    pub max_km: MaxKm,
}

/// A declared availability: the doctor can take any shift lying entirely inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    /// True when `[start, end]` lies inside this window (FORMATS.md §3; touching windows are
    /// not merged, so a shift across two windows is not covered).
    pub fn covers(&self, start: DateTime<FixedOffset>, end: DateTime<FixedOffset>) -> bool {
        self.start <= start && end <= self.end
    }
}

/// The dates of the roster, both inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    start: NaiveDate,
    end: NaiveDate,
}

/// Why two dates are not a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("the end date is before the start date")]
    Inverted,
    #[error("dates must lie in 2000–2099, where the holiday rules of this engine apply")]
    OutOfRange,
}

impl Period {
    /// # Errors
    /// When `end < start`, or a date lies outside 2000–2099.
    pub fn new(start: NaiveDate, end: NaiveDate) -> Result<Self, PeriodError> {
        if !(2000..=2099).contains(&start.year()) || !(2000..=2099).contains(&end.year()) {
            return Err(PeriodError::OutOfRange);
        }
        if end < start {
            return Err(PeriodError::Inverted);
        }
        Ok(Self { start, end })
    }

    pub fn start(&self) -> NaiveDate {
        self.start
    }

    pub fn end(&self) -> NaiveDate {
        self.end
    }

    /// Every date of the period, in order.
    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let end = self.end;
        self.start.iter_days().take_while(move |d| *d <= end)
    }
}

/// Cabinets, doctors, their availability windows and the period (FORMATS.md §3).
#[derive(Clone, Debug)]
pub struct Instance {
    pub cabinets: Vec<Cabinet>,
    pub doctors: Vec<GardeDoctor>,
    /// Per doctor (same index as `doctors`), its windows; the reader sorts them by start and
    /// refuses overlaps, the solver copes with either.
    pub windows: Vec<Vec<Window>>,
    pub period: Period,
}

/// One shift: a cabinet on a date (FORMATS.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shift {
    /// Index in [`Instance::cabinets`].
    pub cabinet: usize,
    pub date: NaiveDate,
    /// Index of `date` in [`Eligibility::dates`].
    pub day: usize,
    pub kind: ShiftKind,
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
}

/// A doctor who may take a position on a shift, and at what cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Index in [`Instance::doctors`].
    pub doctor: u32,
    /// Integer metres doctor → cabinet (FORMATS.md §1).
    pub metres: u32,
}

/// The shifts of an instance and, for each, its candidates: doctors available for the whole
/// shift and within their `max_km` (FORMATS.md §3).
#[derive(Clone, Debug)]
pub struct Eligibility {
    /// Dates with at least one shift, in order.
    pub dates: Vec<NaiveDate>,
    /// Every shift, ordered by (date, cabinet index).
    pub shifts: Vec<Shift>,
    /// Per shift, its candidates by doctor index.
    pub candidates: Vec<Vec<Candidate>>,
    /// Per doctor, per day of `dates`: available for that day's shift hours (whatever the
    /// distance).
    available: Vec<Vec<bool>>,
    /// Per doctor, per cabinet: the cost in metres when within `max_km`.
    in_range: Vec<Vec<Option<u32>>>,
}

impl Eligibility {
    /// Enumerates the shifts of `inst` and who may take them.
    ///
    /// # Complexity
    /// O(dates · cabinets) for the calendar, O(doctors · (windows + dates)) for availability
    /// (one merge per doctor), O(doctors · cabinets) haversines, and O(shifts · doctors in
    /// range) for the candidate lists.
    pub fn new(inst: &Instance) -> Self {
        // Shift hours depend on the date only; holidays decide which cabinets have one.
        let mut dates = Vec::new();
        let mut kinds = Vec::new();
        let mut shifts = Vec::new();
        for date in inst.period.dates() {
            let mut kind_of_day = None;
            for (c, cab) in inst.cabinets.iter().enumerate() {
                if let Some(kind) = calendar::shift_kind(date, cab.alsace_moselle()) {
                    let (start, end) = calendar::shift_instants(date, kind);
                    kind_of_day = Some(kind);
                    shifts.push(Shift {
                        cabinet: c,
                        date,
                        day: dates.len(),
                        kind,
                        start,
                        end,
                    });
                }
            }
            if let Some(k) = kind_of_day {
                dates.push(date);
                kinds.push(k);
            }
        }
        let day_times: Vec<_> = dates
            .iter()
            .zip(&kinds)
            .map(|(&d, &k)| calendar::shift_instants(d, k))
            .collect();
        let available: Vec<Vec<bool>> = inst
            .windows
            .iter()
            .map(|ws| {
                if ws.is_sorted_by_key(|w| w.start) {
                    covered_days(ws, &day_times)
                } else {
                    // Readers sort; an instance built elsewhere may not.
                    let mut sorted = ws.clone();
                    sorted.sort_unstable();
                    covered_days(&sorted, &day_times)
                }
            })
            .collect();
        let in_range: Vec<Vec<Option<u32>>> = inst
            .doctors
            .iter()
            .map(|d| {
                inst.cabinets
                    .iter()
                    .map(|c| {
                        let m = haversine_m(d.coords, c.coords);
                        (m <= d.max_km.metres()).then(|| cost_m(m))
                    })
                    .collect()
            })
            .collect();
        let near: Vec<Vec<(u32, u32)>> = (0..inst.cabinets.len())
            .map(|c| {
                (0..inst.doctors.len())
                    .filter(|&d| inst.doctors[d].max_shifts > 0)
                    .filter_map(|d| in_range[d][c].map(|m| (d as u32, m)))
                    .collect()
            })
            .collect();
        let candidates = shifts
            .iter()
            .map(|s| {
                near[s.cabinet]
                    .iter()
                    .filter(|(d, _)| available[*d as usize][s.day])
                    .map(|&(doctor, metres)| Candidate { doctor, metres })
                    .collect()
            })
            .collect();
        Self {
            dates,
            shifts,
            candidates,
            available,
            in_range,
        }
    }

    /// True when doctor `d` is available for the whole shift of day `day`.
    pub fn is_available(&self, d: usize, day: usize) -> bool {
        self.available[d][day]
    }

    /// The cost in metres from doctor `d` to cabinet `c`, when within the doctor's `max_km`.
    pub fn in_range(&self, d: usize, c: usize) -> Option<u32> {
        self.in_range[d][c]
    }
}

/// For each day's shift `(start, end)` (in increasing order), whether one window covers it.
/// A window with the largest end among those starting no later than the shift covers it iff
/// any does, so one merge pass suffices, overlapping windows or not.
fn covered_days(
    windows: &[Window],
    days: &[(DateTime<FixedOffset>, DateTime<FixedOffset>)],
) -> Vec<bool> {
    let mut out = Vec::with_capacity(days.len());
    let mut i = 0;
    let mut max_end: Option<DateTime<Utc>> = None;
    for (start, end) in days {
        while i < windows.len() && windows[i].start <= *start {
            max_end = max_end.max(Some(windows[i].end));
            i += 1;
        }
        out.push(max_end.is_some_and(|e| e >= *end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn day(s: &str) -> (DateTime<FixedOffset>, DateTime<FixedOffset>) {
        let d: NaiveDate = s.parse().unwrap();
        calendar::shift_instants(d, ShiftKind::Weekday)
    }

    #[test]
    fn a_shift_is_covered_only_by_one_window_holding_all_of_it() {
        let days = [day("2026-03-02"), day("2026-03-03"), day("2026-03-04")];
        // Monday: exactly 18:00–20:00 (+01:00). Tuesday: two touching windows, not merged.
        // Wednesday: starts at 18:01.
        let ws = [
            Window {
                start: at("2026-03-02T17:00:00Z"),
                end: at("2026-03-02T19:00:00Z"),
            },
            Window {
                start: at("2026-03-03T16:00:00Z"),
                end: at("2026-03-03T18:00:00Z"),
            },
            Window {
                start: at("2026-03-03T18:00:00Z"),
                end: at("2026-03-03T20:00:00Z"),
            },
            Window {
                start: at("2026-03-04T17:01:00Z"),
                end: at("2026-03-04T23:00:00Z"),
            },
        ];
        assert_eq!(covered_days(&ws, &days), [true, false, false]);
    }

    #[test]
    fn a_long_window_covers_every_day_inside_it() {
        let days = [day("2026-03-02"), day("2026-03-03"), day("2026-03-04")];
        let ws = [Window {
            start: at("2026-03-02T00:00:00Z"),
            end: at("2026-03-04T19:00:00Z"),
        }];
        assert_eq!(covered_days(&ws, &days), [true, true, true]);
    }

    #[test]
    fn periods_are_ordered_and_within_the_century() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert!(Period::new(d("2026-01-01"), d("2026-01-01")).is_ok());
        assert_eq!(
            Period::new(d("2026-01-02"), d("2026-01-01")),
            Err(PeriodError::Inverted)
        );
        assert_eq!(
            Period::new(d("1999-12-31"), d("2026-01-01")),
            Err(PeriodError::OutOfRange)
        );
        assert_eq!(
            Period::new(d("2026-01-01"), d("2026-01-31"))
                .unwrap()
                .dates()
                .count(),
            31
        );
    }
}
